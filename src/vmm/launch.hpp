// The first message a VM process receives from the monitor over their socketpair
// (SOCK_SEQPACKET, with SCM_RIGHTS): what to build, as "key value" lines. Its descriptors come
// in this order: /dev/kvm, kernel, initrd (if `initrd`), one per disk, console output, console
// log. The monitor encodes it; the VM process decodes it, outside the trusted monitor (it
// trusts the monitor, but still checks what it relies on). report.hpp is the other direction.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace moat::vmm {

struct VmLaunch {
    std::string name;
    std::string cmdline;
    std::uint64_t memory = 0;
    std::uint32_t cpus = 1;
    bool initrd = false;
    std::vector<bool> disk_writable;
};

std::string encode_launch(const VmLaunch& l);
Result<VmLaunch> decode_launch(std::string_view text);

}  // namespace moat::vmm
