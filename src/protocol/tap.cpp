#include "protocol/tap.hpp"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "base/net_address.hpp"

namespace moat::protocol {

Result<base::UniqueFd> open_tap(std::string_view name)
{
    const std::string n(name);
    if (const char* why = base::check_ifname(name)) return fail_with(Errc::InvalidInput, "tap '" + n + "': " + why);
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
    int size = k_tap_header_size;
    if (::ioctl(fd.get(), TUNSETVNETHDRSZ, &size) != 0) return fail_errno_in("tap '" + n + "': TUNSETVNETHDRSZ");
    if (::ioctl(fd.get(), TUNSETOFFLOAD, 0u) != 0) return fail_errno_in("tap '" + n + "': TUNSETOFFLOAD");
    return fd;
}

}  // namespace moat::protocol
