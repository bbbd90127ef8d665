#include "virtio/net/tap.hpp"

#include <linux/if_tun.h>
#include <sys/ioctl.h>

#include "virtio/net/spec.hpp"
#include "virtio/spec.hpp"

namespace moat::virtio::net {

unsigned tap_offloads(std::uint64_t features)
{
    const auto has = [features](unsigned bit) { return (features & feature_bit(bit)) != 0; };
    if (!has(VIRTIO_NET_F_GUEST_CSUM)) return 0;  // segments come with partial checksums only
    unsigned f = TUN_F_CSUM;
    if (has(VIRTIO_NET_F_GUEST_TSO4)) f |= TUN_F_TSO4;
    if (has(VIRTIO_NET_F_GUEST_TSO6)) f |= TUN_F_TSO6;
    return f;
}

Result<void> set_offloads(int fd, std::uint64_t features)
{
    if (::ioctl(fd, TUNSETOFFLOAD, tap_offloads(features)) != 0) return fail_errno("tap: TUNSETOFFLOAD");
    return {};
}

}  // namespace moat::virtio::net
