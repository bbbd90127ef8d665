// `moat-oci kill ID SIGNAL`: podman and containerd give numbers ("15"), runtime-tools and people
// give names ("TERM", "SIGKILL", any case), as runc takes them.
#pragma once

#include <string_view>

#include "base/result.hpp"

namespace moat::oci {

// 1..64, or one of the 31 standard names with or without "SIG"; errors name the input.
Result<int> parse_signal(std::string_view s);

}  // namespace moat::oci
