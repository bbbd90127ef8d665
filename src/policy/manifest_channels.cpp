// Manifest parsing, the parts that join VMs: vsock CIDs and the [[channel]] tables.
#include "base/size.hpp"
#include "policy/manifest_parser.hpp"

namespace moat::policy::manifest_detail {

Result<void> Parser::cids(Manifest& m)
{
    for (std::size_t i = 0; i < m.vms.size(); ++i) {
        const VmSpec& vm = m.vms[i];
        if (vm.cid_line == 0) continue;
        for (std::size_t j = 0; j < i; ++j)
            if (m.vms[j].cid_line != 0 && m.vms[j].cid == vm.cid)
                return error(vm.cid_line, dotted(dotted("vm", vm.name), "cid"),
                             std::to_string(vm.cid) + " is already vm " + m.vms[j].name + "'s (line " +
                                 std::to_string(m.vms[j].cid_line) + ")");
    }
    std::uint64_t next = 3;
    for (VmSpec& vm : m.vms) {
        if (vm.cid_line != 0) continue;
        auto taken = [&](std::uint64_t c) {
            return std::any_of(m.vms.begin(), m.vms.end(), [&](const VmSpec& o) { return o.cid_line != 0 && o.cid == c; });
        };
        while (taken(next)) ++next;
        vm.cid = next++;
    }
    return {};
}

Result<std::vector<ChannelSpec>> Parser::channels(const Manifest& m, const toml::node& n)
{
    const auto* a = n.as_array();
    if (!a || !a->is_array_of_tables()) return wrong_type(n, "channel", "tables ([[channel]])");
    std::vector<ChannelSpec> out;
    for (std::size_t i = 0; i < a->size(); ++i) {
        const std::string key = indexed("channel", i);
        ChannelSpec c = MOAT_TRY(channel(m, *a->get(i), key));
        for (const ChannelSpec& o : out)
            if (o.from == c.from && o.to == c.to && o.port == c.port)
                return error(c.line, key, "a channel from " + c.from + " to " + c.to + " port " + std::to_string(c.port) +
                                              " is already declared (line " + std::to_string(o.line) + ")");
        out.push_back(std::move(c));
    }
    return out;
}

// A VM's index by the name at `n`; volumes and unknown names are refused.
Result<std::size_t> Parser::channel_end(const Manifest& m, const toml::node& n, const std::string& key)
{
    const std::string name = MOAT_TRY(string(n, key));
    for (std::size_t i = 0; i < m.vms.size(); ++i)
        if (m.vms[i].name == name) return i;
    if (m.find_volume(name)) return error(line_of(n), key, quoted(name) + " is a volume; a channel joins two VMs");
    return error(line_of(n), key, "no VM named " + quoted(name));
}

Result<ChannelSpec> Parser::channel(const Manifest& m, const toml::node& n, const std::string& key)
{
    const toml::table* t = MOAT_TRY(table(n, key));
    ChannelSpec c;
    c.line = line_of(n);
    const toml::node* from = nullptr;
    const toml::node* to = nullptr;
    const toml::node* port = nullptr;
    const toml::node* rate = nullptr;
    for (const auto& [k, v] : in_text_order(*t)) {
        const std::string sub = dotted(key, k->str());
        if (k->str() == "from") from = v;
        else if (k->str() == "to") to = v;
        else if (k->str() == "port") port = v;
        else if (k->str() == "rate") rate = v;
        else if (k->str() == "kind") {
            const std::string kind = MOAT_TRY(string(*v, sub));
            if (kind == "pump") c.kind = ChannelKind::Pump;
            else if (kind != "both-ways") return error(line_of(*v), sub, "bad kind " + quoted(kind) + " (use \"both-ways\" or \"pump\")");
        } else {
            return unknown_key(*k, key, "from, to, port, kind, rate");
        }
    }
    if (!from) return error(c.line, key + ".from", "missing (the VM that connects)");
    if (!to) return error(c.line, key + ".to", "missing (the VM that listens)");
    if (!port) return error(c.line, key + ".port", "missing (the vsock port the destination listens on)");
    c.from_index = MOAT_TRY(channel_end(m, *from, key + ".from"));
    c.to_index = MOAT_TRY(channel_end(m, *to, key + ".to"));
    c.from = m.vms[c.from_index].name;
    c.to = m.vms[c.to_index].name;
    if (c.from_index == c.to_index) return error(line_of(*to), key + ".to", "a channel joins two different VMs");
    c.port = static_cast<std::uint32_t>(MOAT_TRY(integer(*port, key + ".port", 0, 0xfffffffe)));
    if (rate) {
        const std::string text = MOAT_TRY(string(*rate, key + ".rate"));
        if (c.kind != ChannelKind::Pump) return error(line_of(*rate), key + ".rate", "only a pump has a rate (kind = \"pump\")");
        const bool per_second = text.size() > 2 && text.ends_with("/s");
        auto bytes = per_second ? parse_size(std::string_view(text).substr(0, text.size() - 2)) : fail(Errc::InvalidInput, "");
        if (!bytes || *bytes == 0)
            return error(line_of(*rate), key + ".rate", "bad rate " + quoted(text) + " (bytes per second, e.g. \"1MiB/s\")");
        c.rate = *bytes;
    }
    return c;
}

}  // namespace moat::policy::manifest_detail
