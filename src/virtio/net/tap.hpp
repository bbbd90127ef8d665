// The host side of a virtio-net device: a tap interface, opened for frames with a 12-byte
// virtio-net header (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, TUNSETVNETHDRSZ), and its offloads.
#pragma once

#include <cstdint>
#include <string_view>

#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace moat::virtio::net {

// Attaches to tap `name` (check_ifname): an existing one the caller owns (no privilege needed),
// or a new one, which needs CAP_NET_ADMIN and lasts until its last descriptor is closed.
// Non-blocking and close-on-exec. Errors name the interface and say what to do.
Result<base::UniqueFd> open_tap(std::string_view name);

// The TUNSETOFFLOAD flags for the negotiated `features`: which frames the tap may hand the
// device (partly checksummed with GUEST_CSUM, TCP segments with GUEST_TSO4/6 on top of it).
unsigned tap_offloads(std::uint64_t features);

// Sets them on `fd` (an ioctl the VM process's filter allows on its taps only).
Result<void> set_offloads(int fd, std::uint64_t features);

}  // namespace moat::virtio::net
