// The networks the policy allowed, made on the host: one bridge per network, one tap per VM
// interface, each VM process given only its own taps. What is made is written to
// STATE/networks before it is made, so the next `moat up` of the same state directory removes
// what a monitor killed before its end left behind.
//
// A bridge forwards nothing to other interfaces of the host (IPv4 forwarding off on it) and
// carries no IPv6; without a `host` address the host does not answer on it at all (no address,
// ARP answered for none, strict reverse-path filtering). With `uplink`, the bridge is the
// outside world's too (the policy allows that only for the lowest label).
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>

#include "base/net_address.hpp"
#include "monitor/system_internal.hpp"
#include "protocol/tap.hpp"

namespace moat::monitor {

namespace {

constexpr const char* k_record = "networks";

// "mb" or "mt" and eight hex digits from the state directory and the names: 10 bytes, under
// the kernel's 15, and the same on every start of the same system.
std::string ifname(const char* prefix, const std::string& state, std::string_view a, std::string_view b = {})
{
    char buf[16];
    std::snprintf(buf, sizeof buf, "%s%08x", prefix, base::name_hash(b, base::name_hash("/", base::name_hash(a, base::name_hash(state + "\n")))));
    return buf;
}

// Writes `value` to a kernel knob under /proc/sys or /sys.
Result<void> write_knob(const std::string& path, const char* value)
{
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
    const std::size_t n = std::strlen(value);
    if (!fd.valid() || ::write(fd.get(), value, n) != static_cast<ssize_t>(n)) return fail_errno_in(path);
    return {};
}

// /proc/sys/net/<family>/conf/<ifname>/<key> = value.
Result<void> sysctl(const std::string& family, const std::string& name, const char* key, const char* value)
{
    return write_knob("/proc/sys/net/" + family + "/conf/" + name + "/" + key, value);
}

// /sys/class/net/<bridge>/bridge/<key> = value.
Result<void> bridge_option(const std::string& bridge, const char* key, const char* value)
{
    return write_knob("/sys/class/net/" + bridge + "/bridge/" + key, value);
}

std::string gateway_word(const policy::NetworkSpec& net) { return net.host ? base::format_ipv4(*net.host) : ""; }

}  // namespace

// Writes "bridge|tap NAME" to the record before the interface exists.
Result<void> System::record_interface(const char* kind, const std::string& name)
{
    UniqueFd fd(::openat(m_state.get(), k_record, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    const std::string line = std::string(kind) + " " + name + "\n";
    if (!fd.valid() || ::write(fd.get(), line.data(), line.size()) != static_cast<ssize_t>(line.size()) ||
        ::fdatasync(fd.get()) != 0)
        return fail_errno_in("'" + m_options.state_dir + "/" + k_record + "'");
    return {};
}

// What the record names and still exists: removed, and audited.
Result<void> System::remove_leftovers()
{
    UniqueFd fd(::openat(m_state.get(), k_record, O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd.valid()) return {};
    std::string text;
    char buf[4096];
    for (ssize_t n; (n = ::read(fd.get(), buf, sizeof buf)) > 0 && text.size() < (1u << 20);) text.append(buf, static_cast<std::size_t>(n));
    for (std::size_t at = 0; at < text.size();) {
        const std::size_t nl = std::min(text.find('\n', at), text.size());
        const std::string line = text.substr(at, nl - at);
        at = nl + 1;
        const auto sp = line.find(' ');
        const std::string name = sp == std::string::npos ? "" : line.substr(sp + 1);
        if (base::check_ifname(name) || !Rtnl::exists(name)) continue;
        if (auto r = m_rtnl->remove(name); !r && r.error().code != Errc::NotFound) return fail(r.error());
        if (!audit("network.leftover", {{"interface", std::string_view(name)}, {"result", "removed"}}))
            return fail(Errc::Io, "the audit log failed");
    }
    if (::unlinkat(m_state.get(), k_record, 0) != 0) return fail_errno_in("'" + m_options.state_dir + "/" + k_record + "'");
    return {};
}

Result<void> System::open_bridge(const policy::NetworkSpec& net, const std::string& bridge)
{
    MOAT_TRY(record_interface("bridge", bridge));
    if (auto r = m_rtnl->add_bridge(bridge); !r) return fail(r.error().in("network " + net.name));
    m_bridges_made.push_back(bridge);
    if (!audit("network.bridge", {{"network", std::string_view(net.name)},
                                  {"bridge", std::string_view(bridge)},
                                  {"label", std::string_view(policy::format_label(m_manifest.lattice, net.label))},
                                  {"host", std::string_view(net.host ? base::format_ipv4(*net.host) : "")},
                                  {"uplink", std::string_view(net.uplink.value_or(""))}}))
        return fail(Errc::Io, "the audit log failed");
    MOAT_TRY(sysctl("ipv6", bridge, "disable_ipv6", "1"));
    MOAT_TRY(sysctl("ipv4", bridge, "forwarding", "0"));
    MOAT_TRY(sysctl("ipv4", bridge, "rp_filter", "1"));
    MOAT_TRY(sysctl("ipv4", bridge, "arp_ignore", net.host ? "1" : "8"));
    // A snooping bridge joins the multicast router discovery group and reports it (IGMP) to
    // every port: the host would speak on a network it has no address on.
    MOAT_TRY(bridge_option(bridge, "multicast_snooping", "0"));
    if (net.host) MOAT_TRY(m_rtnl->add_ipv4(bridge, *net.host, net.subnet.prefix));
    MOAT_TRY(m_rtnl->set_up(bridge));
    if (net.uplink) {
        if (auto r = m_rtnl->set_master(*net.uplink, bridge); !r) return fail(r.error().in(m_manifest.where(net.uplink_line, "network." + net.name + ".uplink")));
        MOAT_TRY(m_rtnl->set_up(*net.uplink));
    }
    return {};
}

Result<void> System::open_networks()
{
    if (m_manifest.networks.empty()) return {};
    if (::geteuid() != 0)
        return fail_with(Errc::InvalidInput, "this system has networks, and making their bridges and taps needs root "
                                             "(run moat up as root, or remove the [network] tables)");
    m_rtnl.emplace(MOAT_TRY(Rtnl::open()));
    MOAT_TRY(remove_leftovers());
    std::vector<std::string> bridges;
    for (const auto& net : m_manifest.networks) {
        bridges.push_back(ifname("mb", m_options.state_dir, net.name));
        MOAT_TRY(open_bridge(net, bridges.back()));
    }
    for (Vm& v : m_vms) {
        for (std::size_t i = 0; i < v.spec->networks.size(); ++i) {
            const policy::NetRef& r = v.spec->networks[i];
            const std::string tap = ifname("mt", m_options.state_dir, v.spec->name, r.network);
            MOAT_TRY(record_interface("tap", tap));
            // A tap this monitor makes lasts until its last descriptor closes: this monitor's and
            // the VM process's.
            auto fd = protocol::open_tap(tap);
            if (!fd) return fail(fd.error().in("vm " + v.spec->name + ", network " + r.network));
            MOAT_TRY(m_rtnl->set_master(tap, bridges[r.index]));
            // A port's own IPv6 would send duplicate address detection and MLD reports from its
            // link-local address into the network: off, like the bridge's.
            MOAT_TRY(sysctl("ipv6", tap, "disable_ipv6", "1"));
            MOAT_TRY(m_rtnl->set_up(tap));
            if (!audit("network.tap", {{"vm", std::string_view(v.spec->name)},
                                       {"network", std::string_view(r.network)},
                                       {"tap", std::string_view(tap)},
                                       {"mac", std::string_view(base::format_mac(r.mac))},
                                       {"address", std::string_view(base::format_ipv4(r.address))}}))
                return fail(Errc::Io, "the audit log failed");
            v.taps.push_back(std::move(*fd));
            // The kernel's ip= form, applied by the guest (guests/linux/README.md).
            const auto& net = m_manifest.networks[r.index];
            v.ip_words += " ip=" + base::format_ipv4(r.address) + "::" + gateway_word(net) + ":" +
                          base::format_ipv4(net.subnet.mask()) + "::eth" + std::to_string(i) + ":off";
        }
    }
    return {};
}

// After the last VM process: the taps go with their last descriptors, the bridges (and with
// them their uplinks' membership) are removed, each audited.
void System::close_networks()
{
    for (Vm& v : m_vms) v.taps.clear();
    for (const std::string& bridge : m_bridges_made) {
        auto r = m_rtnl->remove(bridge);
        if (!r) report("network bridge '" + bridge + "' could not be removed: " + describe(r.error()));
        if (!m_audit_failed)
            (void)m_audit->append("network.removed",
                                  {{"bridge", std::string_view(bridge)}, {"result", r ? "removed" : "failed"}});
    }
    if (!m_bridges_made.empty()) ::unlinkat(m_state.get(), k_record, 0);
    m_bridges_made.clear();
}

}  // namespace moat::monitor
