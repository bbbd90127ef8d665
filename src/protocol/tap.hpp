// The tap a virtio-net device works on, opened by whoever launches the VM (`moat run`, the
// monitor) and passed in the launch: frames either way start with a 12-byte virtio-net header
// (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, TUNSETVNETHDRSZ 12), no offloads until the VM process's
// device sets those its driver negotiated (virtio/net/tap.hpp).
#pragma once

#include <string_view>

#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace moat::protocol {

inline constexpr int k_tap_header_size = 12;

// Attaches to tap `name` (base::check_ifname): an existing one the caller owns (no privilege
// needed), or a new one, which needs CAP_NET_ADMIN and lasts until its last descriptor is
// closed. Non-blocking and close-on-exec. Errors name the interface and say what to do.
Result<base::UniqueFd> open_tap(std::string_view name);

}  // namespace moat::protocol
