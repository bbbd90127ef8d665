// Parsing of the `moat` command line's values: sizes, disk and vsock specifications.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/disk_access.hpp"
#include "base/result.hpp"
#include "base/size.hpp"

namespace moat::cli {

// "4096", "512K", "256M", "2G", "1T": the shared parser in base/size.hpp.
using moat::parse_size;

struct DiskSpec {
    std::string path;
    DiskAccess access = DiskAccess::ReadWrite;
};
// "PATH", "PATH,ro" or "PATH,rw".
Result<DiskSpec> parse_disk(std::string_view text);

struct VsockSpec {
    std::string path;        // the host programs' Unix socket; PATH_<port> for the guest's
    std::uint64_t cid = 3;   // the guest's context ID
};
// "PATH" or "PATH,cid=N" (N as protocol::check_cid allows).
Result<VsockSpec> parse_vsock(std::string_view text);

}  // namespace moat::cli
