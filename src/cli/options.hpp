// Parsing of the `moat` command line's values: sizes and disk specifications.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "base/size.hpp"

namespace moat::cli {

inline constexpr std::uint64_t k_min_mem = 16ull << 20;  // below this no useful guest fits

// "4096", "512K", "256M", "2G", "1T": the shared parser in base/size.hpp.
using moat::parse_size;

struct DiskSpec {
    std::string path;
    bool read_only = false;
};
// "PATH", "PATH,ro" or "PATH,rw".
Result<DiskSpec> parse_disk(std::string_view text);

}  // namespace moat::cli
