// rtnetlink requests, built and answered one at a time (rtnetlink(7), netlink(7)).
#include "monitor/netlink.hpp"

#include <arpa/inet.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "base/net_address.hpp"

namespace moat::monitor {

// One request: the netlink header, a fixed body (ifinfomsg or ifaddrmsg) and attributes, each
// padded to 4 bytes as NLMSG_ALIGN and RTA_ALIGN ask.
struct Message {
    std::vector<std::byte> buf;

    Message(std::uint16_t type, std::uint16_t flags, const void* body, std::size_t len)
    {
        nlmsghdr h{};
        h.nlmsg_type = type;
        h.nlmsg_flags = static_cast<std::uint16_t>(NLM_F_REQUEST | NLM_F_ACK | flags);
        append(&h, sizeof h);
        append(body, len);
    }
    void append(const void* p, std::size_t n)
    {
        const std::size_t at = buf.size();
        buf.resize(NLMSG_ALIGN(at + n));  // the padding zeroed
        if (n != 0) std::memcpy(buf.data() + at, p, n);
    }
    void attr(std::uint16_t type, const void* data, std::size_t len)
    {
        rtattr a{};
        a.rta_type = type;
        a.rta_len = static_cast<std::uint16_t>(RTA_LENGTH(len));
        append(&a, sizeof a);
        append(data, len);
    }
    void str(std::uint16_t type, std::string_view s)
    {
        const std::string z(s);
        attr(type, z.c_str(), z.size() + 1);
    }
    std::size_t begin_nest(std::uint16_t type)
    {
        const std::size_t at = buf.size();
        attr(type, nullptr, 0);
        return at;
    }
    void end_nest(std::size_t at)
    {
        rtattr a;
        std::memcpy(&a, buf.data() + at, sizeof a);
        a.rta_len = static_cast<std::uint16_t>(buf.size() - at);
        std::memcpy(buf.data() + at, &a, sizeof a);
    }
};

namespace {

ifinfomsg link_body(unsigned index)
{
    ifinfomsg i{};
    i.ifi_family = AF_UNSPEC;
    i.ifi_index = static_cast<int>(index);
    return i;
}

Unexpected<Error> no_interface(std::string_view name)
{
    return fail_with(Errc::NotFound, "interface '" + std::string(name) + "': no such interface");
}

}  // namespace

Result<Rtnl> Rtnl::open()
{
    base::UniqueFd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
    if (!fd.valid()) return fail_errno("rtnetlink socket");
    sockaddr_nl local{};
    local.nl_family = AF_NETLINK;
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) return fail_errno("rtnetlink bind");
    return Rtnl(std::move(fd));
}

bool Rtnl::exists(std::string_view name) { return ::if_nametoindex(std::string(name).c_str()) != 0; }

Result<void> Rtnl::request(Message& m, std::string_view about)
{
    nlmsghdr h;
    std::memcpy(&h, m.buf.data(), sizeof h);
    h.nlmsg_len = static_cast<std::uint32_t>(m.buf.size());
    h.nlmsg_seq = ++m_seq;
    std::memcpy(m.buf.data(), &h, sizeof h);
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    if (::sendto(m_fd.get(), m.buf.data(), m.buf.size(), 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) < 0)
        return fail_errno_in("rtnetlink: " + std::string(about));
    // The answer: an NLMSG_ERROR carrying 0 (done) or -errno, for this request's sequence number.
    std::byte reply[8192];
    for (;;) {
        const ssize_t n = ::recv(m_fd.get(), reply, sizeof reply, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail_errno_in("rtnetlink: " + std::string(about));
        constexpr std::size_t k_hdr = NLMSG_ALIGN(sizeof(nlmsghdr));
        const auto size = static_cast<std::size_t>(n);
        for (std::size_t off = 0; off + k_hdr <= size;) {
            nlmsghdr r;
            std::memcpy(&r, reply + off, sizeof r);
            if (r.nlmsg_len < k_hdr || r.nlmsg_len > size - off) break;
            if (r.nlmsg_seq == m_seq && r.nlmsg_type == NLMSG_ERROR) {
                if (r.nlmsg_len < k_hdr + sizeof(nlmsgerr)) return fail(Errc::Io, "rtnetlink: short answer");
                nlmsgerr e;
                std::memcpy(&e, reply + off + k_hdr, sizeof e);
                if (e.error == 0) return {};
                errno = -e.error;
                return fail_errno_in(std::string(about));
            }
            off += NLMSG_ALIGN(r.nlmsg_len);
        }
    }
}

Result<void> Rtnl::add_bridge(std::string_view name)
{
    const ifinfomsg body = link_body(0);
    Message m(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, &body, sizeof body);
    m.str(IFLA_IFNAME, name);
    const std::size_t info = m.begin_nest(IFLA_LINKINFO);
    m.str(IFLA_INFO_KIND, "bridge");
    m.end_nest(info);
    return request(m, "bridge '" + std::string(name) + "'");
}

Result<void> Rtnl::remove(std::string_view name)
{
    const unsigned index = ::if_nametoindex(std::string(name).c_str());
    if (index == 0) return no_interface(name);
    const ifinfomsg body = link_body(index);
    Message m(RTM_DELLINK, 0, &body, sizeof body);
    return request(m, "removing interface '" + std::string(name) + "'");
}

Result<void> Rtnl::set_master(std::string_view port, std::string_view bridge)
{
    const unsigned index = ::if_nametoindex(std::string(port).c_str());
    if (index == 0) return no_interface(port);
    std::uint32_t master = 0;
    if (!bridge.empty() && (master = ::if_nametoindex(std::string(bridge).c_str())) == 0) return no_interface(bridge);
    const ifinfomsg body = link_body(index);
    Message m(RTM_NEWLINK, 0, &body, sizeof body);
    m.attr(IFLA_MASTER, &master, sizeof master);
    return request(m, "interface '" + std::string(port) + "' to bridge '" + std::string(bridge) + "'");
}

Result<void> Rtnl::set_up(std::string_view name)
{
    const unsigned index = ::if_nametoindex(std::string(name).c_str());
    if (index == 0) return no_interface(name);
    ifinfomsg body = link_body(index);
    body.ifi_flags = IFF_UP;
    body.ifi_change = IFF_UP;
    Message m(RTM_NEWLINK, 0, &body, sizeof body);
    return request(m, "interface '" + std::string(name) + "' up");
}

Result<void> Rtnl::add_ipv4(std::string_view name, std::uint32_t address, std::uint32_t prefix)
{
    const unsigned index = ::if_nametoindex(std::string(name).c_str());
    if (index == 0) return no_interface(name);
    ifaddrmsg body{};
    body.ifa_family = AF_INET;
    body.ifa_prefixlen = static_cast<unsigned char>(prefix);
    body.ifa_scope = RT_SCOPE_UNIVERSE;
    body.ifa_index = index;
    Message m(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, &body, sizeof body);
    const std::uint32_t a = htonl(address);
    const base::Ipv4Net net{0, prefix};
    const std::uint32_t broadcast = htonl(address | ~net.mask());
    m.attr(IFA_LOCAL, &a, sizeof a);
    m.attr(IFA_ADDRESS, &a, sizeof a);
    m.attr(IFA_BROADCAST, &broadcast, sizeof broadcast);
    return request(m, "address on '" + std::string(name) + "'");
}

}  // namespace moat::monitor
