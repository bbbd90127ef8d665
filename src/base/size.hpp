// Human-written byte sizes ("256M"), shared by the command line and the system manifest.
#pragma once

#include <cstdint>
#include <string_view>

#include "base/result.hpp"

namespace moat {

// Parses "4096", "512K", "256M", "2G" or "1T": a decimal number and an optional binary unit
// (K = 2^10 ... T = 2^40, either case), optionally followed by "B" or "iB" ("2GiB"); a bare
// "B" suffix means bytes ("100B"). No sign, spaces, fractions or hex. Fails with
// Errc::InvalidInput on any other text and when the value does not fit in 64 bits.
// Pure; thread-safe.
Result<std::uint64_t> parse_size(std::string_view text);

}  // namespace moat
