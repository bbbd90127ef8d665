#include "virtio/net/tap.hpp"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "virtio/net/address.hpp"
#include "virtio/net/spec.hpp"
#include "virtio/spec.hpp"

namespace moat::virtio::net {

Result<base::UniqueFd> open_tap(std::string_view name)
{
    const std::string n(name);
    if (const char* why = check_ifname(name)) return fail_with(Errc::InvalidInput, "tap '" + n + "': " + why);
    base::UniqueFd fd(::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC));
    if (!fd.valid()) {
        const int err = errno;
        return fail_with(Errc::InvalidInput, std::string("/dev/net/tun: ") + std::strerror(err) +
                                            (err == ENOENT ? " (load the tun module: modprobe tun)" : ""));
    }
    ifreq ifr{};
    std::memcpy(ifr.ifr_name, n.data(), n.size());
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
    if (::ioctl(fd.get(), TUNSETIFF, &ifr) != 0) {
        const int err = errno;
        std::string msg = "tap '" + n + "': " + std::strerror(err);
        if (err == EPERM)
            msg += " (create it for your user first: ip tuntap add dev " + n + " mode tap user $USER; or run as root)";
        else if (err == EINVAL || err == EBUSY)
            msg += " (it exists but is not a tap, or is in use)";
        return fail_with(Errc::InvalidInput, std::move(msg));
    }
    int size = static_cast<int>(sizeof(NetHdr));
    if (::ioctl(fd.get(), TUNSETVNETHDRSZ, &size) != 0) return fail_errno_in("tap '" + n + "': TUNSETVNETHDRSZ");
    if (::ioctl(fd.get(), TUNSETOFFLOAD, 0u) != 0) return fail_errno_in("tap '" + n + "': TUNSETOFFLOAD");
    return fd;
}

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
