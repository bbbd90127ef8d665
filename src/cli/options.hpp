// Parsing of the `moat` command line's values: sizes, disk, vsock and network specifications.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/disk_access.hpp"
#include "base/net_address.hpp"
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

struct NetSpec {
    std::string tap;  // an existing tap interface (base::check_ifname)
    base::Mac mac{};  // given, or default_mac(tap)
};
// "tap=NAME" or "tap=NAME,mac=MAC".
Result<NetSpec> parse_net(std::string_view text);
// The MAC of an interface on tap `name` when none is given: locally administered, the same for
// the same name on every run.
base::Mac default_mac(std::string_view tap);

}  // namespace moat::cli
