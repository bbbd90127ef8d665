// Manifest parsing, the networks: [network.NAME] tables, a VM's `networks`, and the addresses
// and MAC addresses the monitor gives the VMs on them.
#include "base/check.hpp"
#include "policy/manifest_parser.hpp"

namespace moat::policy::manifest_detail {

Result<NetworkSpec> Parser::network(const Manifest& m, std::string_view name, const toml::key& k, const toml::node& n)
{
    const std::string key = dotted("network", name);
    if (!valid_name(name))
        return error(line_of(k), key, "bad network name (use 1 to 32 of a-z 0-9 _ -, a-z or 0-9 first)");
    if (const VolumeSpec* same = m.find_volume(name))
        return error(line_of(k), key,
                     "name " + quoted(name) + " is already used by a volume (line " + std::to_string(same->line) + ")");
    const toml::table* t = MOAT_TRY(table(n, key));
    NetworkSpec net;
    net.name = std::string(name);
    net.line = line_of(n);
    const toml::node* secrecy = nullptr;
    const toml::node* integrity = nullptr;
    for (const auto& [kk, vv] : in_text_order(*t)) {
        const std::string sub = dotted(key, kk->str());
        if (kk->str() == "label") {
            secrecy = vv;
        } else if (kk->str() == "integrity") {
            integrity = vv;
        } else if (kk->str() == "subnet") {
            const std::string text = MOAT_TRY(string(*vv, sub));
            if (const char* why = base::parse_ipv4_net(text, net.subnet))
                return error(line_of(*vv), sub, "bad subnet " + quoted(text) + ": " + why + " (e.g. \"10.77.0.0/24\")");
            if (net.subnet.prefix < 8 || net.subnet.prefix > 30)
                return error(line_of(*vv), sub, quoted(text) + ": the prefix length must be 8 to 30");
            net.subnet_line = line_of(*vv);
        } else if (kk->str() == "host") {
            const std::string text = MOAT_TRY(string(*vv, sub));
            const auto a = base::parse_ipv4(text);
            if (!a) return error(line_of(*vv), sub, "bad address " + quoted(text) + " (e.g. \"10.77.0.1\")");
            net.host = *a;
            net.host_line = line_of(*vv);
        } else if (kk->str() == "uplink") {
            const std::string text = MOAT_TRY(string(*vv, sub));
            if (const char* why = base::check_ifname(text))
                return error(line_of(*vv), sub, "bad interface name " + quoted(text) + ": " + why);
            net.uplink = text;
            net.uplink_line = line_of(*vv);
        } else {
            return unknown_key(*kk, key, "label, integrity, subnet, host, uplink");
        }
    }
    if (!secrecy) return error(net.line, key + ".label", "missing (the network's secrecy, e.g. \"public\")");
    if (!integrity) return error(net.line, key + ".integrity", "missing (the network's integrity, e.g. \"untrusted\")");
    if (net.subnet_line == 0) return error(net.line, key + ".subnet", "missing (its IPv4 subnet, e.g. \"10.77.0.0/24\")");
    if (net.host && !net.subnet.holds_host(*net.host))
        return error(net.host_line, key + ".host",
                     base::format_ipv4(*net.host) + " is not a host address of " + base::format_ipv4(net.subnet.base) +
                         "/" + std::to_string(net.subnet.prefix));
    MOAT_TRY(network_apart(m, net, key));
    net.label.secrecy = MOAT_TRY(part(m.lattice, Dimension::Secrecy, *secrecy, key + ".label"));
    net.label.integrity = MOAT_TRY(part(m.lattice, Dimension::Integrity, *integrity, key + ".integrity"));
    net.label_line = line_of(*secrecy);
    return net;
}

// No two networks share addresses or an uplink.
Result<void> Parser::network_apart(const Manifest& m, const NetworkSpec& net, const std::string& key)
{
    for (const NetworkSpec& o : m.networks) {
        const std::uint32_t mask = std::min(o.subnet.mask(), net.subnet.mask());
        if ((o.subnet.base & mask) == (net.subnet.base & mask))
            return error(net.subnet_line, key + ".subnet",
                         "overlaps network " + o.name + "'s subnet (line " + std::to_string(o.subnet_line) + ")");
        if (net.uplink && o.uplink == net.uplink)
            return error(net.uplink_line, key + ".uplink",
                         quoted(*net.uplink) + " is already network " + o.name + "'s uplink (line " +
                             std::to_string(o.uplink_line) + ")");
    }
    return {};
}

Result<std::vector<NetRef>> Parser::vm_networks(const Manifest& m, const toml::node& n, std::string_view key)
{
    const auto* a = n.as_array();
    if (!a) return wrong_type(n, key, "an array of network names");
    std::vector<NetRef> out;
    for (std::size_t i = 0; i < a->size(); ++i) {
        const toml::node& e = *a->get(i);
        const std::string ekey = indexed(key, i);
        NetRef r;
        r.network = MOAT_TRY(string(e, ekey));
        r.line = line_of(e);
        const auto it = std::find_if(m.networks.begin(), m.networks.end(),
                                     [&](const NetworkSpec& s) { return s.name == r.network; });
        if (it == m.networks.end()) {
            const char* hint = m.find_volume(r.network) ? " (that is a volume: volumes go in disks)" : "";
            return error(r.line, ekey, "no network named " + quoted(r.network) + hint);
        }
        r.index = static_cast<std::size_t>(it - m.networks.begin());
        for (std::size_t j = 0; j < out.size(); ++j)
            if (out[j].index == r.index)
                return error(r.line, ekey, "network " + quoted(r.network) + " is already joined as " + indexed(key, j));
        if (out.size() == protocol::k_max_launch_nets)
            return error(r.line, ekey, "at most " + std::to_string(protocol::k_max_launch_nets) + " networks per VM");
        out.push_back(std::move(r));
    }
    return out;
}

// Addresses in manifest order from the subnet's first, past the host's; MACs from the names.
Result<void> Parser::addresses(Manifest& m)
{
    std::vector<std::uint32_t> next(m.networks.size());
    for (std::size_t i = 0; i < m.networks.size(); ++i) next[i] = m.networks[i].subnet.base + 1;
    std::vector<base::Mac> macs;
    for (VmSpec& vm : m.vms) {
        for (NetRef& r : vm.networks) {
            const NetworkSpec& net = m.networks[r.index];
            if (net.host && next[r.index] == *net.host) ++next[r.index];
            if (!net.subnet.holds_host(next[r.index]))
                return error(r.line, dotted(dotted("vm", vm.name), "networks"),
                             "network " + net.name + "'s subnet " + base::format_ipv4(net.subnet.base) + "/" +
                                 std::to_string(net.subnet.prefix) + " has no address left for this VM");
            r.address = next[r.index]++;
            // The same on every start of the same manifest.
            std::uint32_t tail = base::name_hash(net.name, base::name_hash("/", base::name_hash(vm.name)));
            while (std::find(macs.begin(), macs.end(), base::local_mac(tail)) != macs.end()) ++tail;
            r.mac = base::local_mac(tail);
            macs.push_back(r.mac);
        }
    }
    return {};
}

}  // namespace moat::policy::manifest_detail
