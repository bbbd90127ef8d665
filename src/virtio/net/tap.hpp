// A virtio-net device's tap offloads (the tap itself is opened by whoever launches the VM:
// protocol/tap.hpp).
#pragma once

#include <cstdint>

#include "base/result.hpp"

namespace moat::virtio::net {

// The TUNSETOFFLOAD flags for the negotiated `features`: which frames the tap may hand the
// device (partly checksummed with GUEST_CSUM, TCP segments with GUEST_TSO4/6 on top of it).
unsigned tap_offloads(std::uint64_t features);

// Sets them on `fd` (an ioctl the VM process's filter allows on its taps only).
Result<void> set_offloads(int fd, std::uint64_t features);

}  // namespace moat::virtio::net
