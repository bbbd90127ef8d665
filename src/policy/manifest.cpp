// Manifest parsing: TOML text to a validated Manifest, every error naming the key and line
// (toml++ and the Parser: manifest_parser.hpp; the [[channel]] tables: manifest_channels.cpp).
#include "policy/manifest.hpp"

#include "base/size.hpp"
#include "policy/manifest_parser.hpp"
#include "protocol/limits.hpp"

namespace moat::policy::manifest_detail {

Result<Lattice> Parser::lattice(const toml::node& n)
{
    const toml::table* t = MOAT_TRY(table(n, "lattice"));
    const toml::node* levels = nullptr;
    const toml::node* categories = nullptr;
    const toml::node* integrity = nullptr;
    for (const auto& [k, v] : in_text_order(*t)) {
        if (k->str() == "levels") levels = v;
        else if (k->str() == "categories") categories = v;
        else if (k->str() == "integrity") integrity = v;
        else return unknown_key(*k, "lattice", "levels, categories, integrity");
    }
    if (!levels) return error(line_of(n), "lattice.levels", "missing (the secrecy levels, low to high)");
    if (!integrity) return error(line_of(n), "lattice.integrity", "missing (the integrity levels, low to high)");

    // Each list is checked alone first, so that an error names the list and entry it is in.
    // Categories are optional: a system may use levels only.
    struct List {
        const char* key;
        const toml::node* node;
        std::vector<std::string> names;
    };
    std::array<List, 3> lists{{{"lattice.levels", levels, {}},
                               {"lattice.categories", categories, {}},
                               {"lattice.integrity", integrity, {}}}};
    for (std::size_t li = 0; li < lists.size(); ++li) {
        List& l = lists[li];
        const bool is_categories = li == 1;
        if (!l.node) continue;
        l.names = MOAT_TRY(name_list(*l.node, l.key));
        if (l.names.empty() && !is_categories)
            return error(line_of(*l.node), l.key, "empty list (declare at least one level, low to high)");
        const std::size_t limit = is_categories ? k_max_categories : k_max_levels;
        if (l.names.size() > limit)
            return error(line_of(*l.node), l.key,
                         std::to_string(l.names.size()) + " entries, more than the " + std::to_string(limit) + " allowed");
        auto check = Lattice::create(li == 0 ? l.names : std::vector<std::string>{"l"},
                                     is_categories ? l.names : std::vector<std::string>{},
                                     li == 2 ? l.names : std::vector<std::string>{"i"});
        if (check) continue;
        const std::string& bad = check.error().context;
        // Sizes were checked above, so `bad` is an entry; a repeated one is named at its second
        // occurrence.
        const auto* a = l.node->as_array();
        std::size_t first = l.names.size();
        std::size_t at = l.names.size();
        for (std::size_t i = 0; i < l.names.size(); ++i) {
            if (l.names[i] != bad) continue;
            if (first == l.names.size()) first = i;
            else if (at == l.names.size()) at = i;
        }
        if (at == l.names.size()) at = first;
        if (at == l.names.size()) return error(line_of(*l.node), l.key, check.error().what);
        return error(line_of(*a->get(at)), indexed(l.key, at), quoted(bad) + ": " + check.error().what);
    }
    auto lat = Lattice::create(std::move(lists[0].names), std::move(lists[1].names), std::move(lists[2].names));
    if (!lat) return error(line_of(n), "lattice", std::string(lat.error().what) + " " + quoted(lat.error().context));
    return std::move(*lat);
}

Result<VolumeSpec> Parser::volume(const Lattice& lat, std::string_view name, const toml::key& k, const toml::node& n)
{
    const std::string key = dotted("volume", name);
    if (!valid_name(name))
        return error(line_of(k), key, "bad volume name (use 1 to 32 of a-z 0-9 _ -, a-z or 0-9 first)");
    const toml::table* t = MOAT_TRY(table(n, key));

    VolumeSpec v;
    v.name = std::string(name);
    v.line = line_of(n);
    const toml::node* secrecy = nullptr;
    const toml::node* integrity = nullptr;
    bool has_path = false;
    for (const auto& [kk, vv] : in_text_order(*t)) {
        const std::string sub = dotted(key, kk->str());
        if (kk->str() == "path") {
            v.path = MOAT_TRY(path(*vv, sub));
            has_path = true;
        } else if (kk->str() == "label") {
            secrecy = vv;
        } else if (kk->str() == "integrity") {
            integrity = vv;
        } else {
            return unknown_key(*kk, key, "path, label, integrity");
        }
    }
    if (!has_path) return error(v.line, key + ".path", "missing (the volume's image file)");
    if (!secrecy) return error(v.line, key + ".label", "missing (the volume's secrecy, e.g. \"public\")");
    if (!integrity) return error(v.line, key + ".integrity", "missing (the volume's integrity, e.g. \"trusted\")");
    v.label.secrecy = MOAT_TRY(part(lat, Dimension::Secrecy, *secrecy, key + ".label"));
    v.label.integrity = MOAT_TRY(part(lat, Dimension::Integrity, *integrity, key + ".integrity"));
    v.label_line = line_of(*secrecy);
    return v;
}

Result<std::vector<DiskRef>> Parser::disks(const Manifest& m, const toml::node& n, std::string_view key)
{
    const auto* a = n.as_array();
    if (!a) return wrong_type(n, key, "an array of tables like { volume = \"base\", mode = \"ro\" }");
    std::vector<DiskRef> out;
    for (std::size_t i = 0; i < a->size(); ++i) {
        const toml::node& e = *a->get(i);
        const std::string ekey = indexed(key, i);
        const toml::table* t = MOAT_TRY(table(e, ekey));
        DiskRef d;
        d.line = line_of(e);
        const toml::node* volume = nullptr;
        for (const auto& [kk, vv] : in_text_order(*t)) {
            if (kk->str() == "volume") {
                volume = vv;
            } else if (kk->str() == "mode") {
                const std::string sub = dotted(ekey, "mode");
                const std::string mode = MOAT_TRY(string(*vv, sub));
                const auto access = parse_disk_access(mode);
                if (!access) return error(line_of(*vv), sub, "bad mode " + quoted(mode) + " (use \"ro\" or \"rw\")");
                d.mode = *access;
            } else {
                return unknown_key(*kk, ekey, "volume, mode");
            }
        }
        const std::string vkey = dotted(ekey, "volume");
        if (!volume) return error(d.line, vkey, "missing (the name of a [volume.NAME])");
        d.volume = MOAT_TRY(string(*volume, vkey));
        const auto it = std::find_if(m.volumes.begin(), m.volumes.end(),
                                     [&](const VolumeSpec& v) { return v.name == d.volume; });
        if (it == m.volumes.end()) return error(line_of(*volume), vkey, "no volume named " + quoted(d.volume));
        d.index = static_cast<std::size_t>(it - m.volumes.begin());
        for (std::size_t j = 0; j < out.size(); ++j) {
            if (out[j].index == d.index)
                return error(line_of(*volume), vkey,
                             "volume " + quoted(d.volume) + " is already attached as " + indexed(key, j));
        }
        out.push_back(std::move(d));
    }
    return out;
}

// [jail]: how the VM processes are jailed; only the base of their ids so far.
Result<void> Parser::jail(Manifest& m, const toml::node& n)
{
    for (const auto& [kk, vv] : in_text_order(*MOAT_TRY(table(n, "jail")))) {
        if (kk->str() != "uid_base") return unknown_key(*kk, "jail", "uid_base");
        const std::int64_t hi = (std::int64_t{1} << 31) - protocol::k_uid_span;  // check_uid_base
        m.uid_base = static_cast<std::uint32_t>(MOAT_TRY(integer(*vv, "jail.uid_base", 65536, hi)));
    }
    return {};
}

Result<Restart> Parser::restart(const toml::node& n, const std::string& key)
{
    const std::string r = MOAT_TRY(string(n, key));
    if (r == "never") return Restart::Never;
    if (r == "on-failure") return Restart::OnFailure;
    return error(line_of(n), key, "bad restart policy " + quoted(r) + " (use \"never\" or \"on-failure\")");
}

constexpr const char* k_vm_keys =
    "label, integrity, kernel, initrd, cmdline, memory, cpus, disks, networks, restart, max_restarts, cid, console_max";

Result<VmSpec> Parser::vm(const Manifest& m, std::string_view name, const toml::key& k, const toml::node& n)
{
    const std::string key = dotted("vm", name);
    if (!valid_name(name))
        return error(line_of(k), key, "bad VM name (use 1 to 32 of a-z 0-9 _ -, a-z or 0-9 first)");
    const toml::table* t = MOAT_TRY(table(n, key));

    VmSpec vm;
    vm.name = std::string(name);
    vm.line = line_of(n);
    const toml::node* secrecy = nullptr;
    const toml::node* integrity = nullptr;
    bool has_kernel = false;
    for (const auto& [kk, vv] : in_text_order(*t)) {
        const std::string_view kname = kk->str();
        const std::string sub = dotted(key, kname);
        if (kname == "label") {
            secrecy = vv;
        } else if (kname == "integrity") {
            integrity = vv;
        } else if (kname == "kernel") {
            vm.kernel = MOAT_TRY(path(*vv, sub));
            has_kernel = true;
        } else if (kname == "initrd") {
            vm.initrd = MOAT_TRY(path(*vv, sub));
        } else if (kname == "cmdline") {
            vm.cmdline = MOAT_TRY(c_string(*vv, sub));
            vm.cmdline_line = line_of(*vv);
        } else if (kname == "memory") {
            vm.memory = MOAT_TRY(memory(*vv, sub));
            vm.memory_line = line_of(*vv);
        } else if (kname == "cpus") {
            vm.cpus = static_cast<std::uint32_t>(MOAT_TRY(integer(*vv, sub, 1, protocol::k_max_vcpus)));
            vm.cpus_line = line_of(*vv);
        } else if (kname == "disks") {
            vm.disks = MOAT_TRY(disks(m, *vv, sub));
        } else if (kname == "restart") {
            vm.restart = MOAT_TRY(restart(*vv, sub));
            vm.restart_line = line_of(*vv);
        } else if (kname == "max_restarts") {
            vm.max_restarts = static_cast<std::uint32_t>(MOAT_TRY(integer(*vv, sub, 0, k_max_max_restarts)));
        } else if (kname == "networks") {
            vm.networks = MOAT_TRY(vm_networks(m, *vv, sub));
        } else if (kname == "console_max") {
            vm.console_max = MOAT_TRY(console_budget(*vv, sub));
        } else if (kname == "cid") {
            vm.cid = static_cast<std::uint64_t>(MOAT_TRY(integer(*vv, sub, 3, 0xfffffffe)));
            vm.cid_line = line_of(*vv);
        } else {
            return unknown_key(*kk, key, k_vm_keys);
        }
    }
    if (!secrecy) return error(vm.line, key + ".label", "missing (the VM's secrecy, e.g. \"public\")");
    if (!integrity) return error(vm.line, key + ".integrity", "missing (the VM's integrity, e.g. \"untrusted\")");
    if (!has_kernel) return error(vm.line, key + ".kernel", "missing (the guest kernel image)");
    vm.label.secrecy = MOAT_TRY(part(m.lattice, Dimension::Secrecy, *secrecy, key + ".label"));
    vm.label.integrity = MOAT_TRY(part(m.lattice, Dimension::Integrity, *integrity, key + ".integrity"));
    vm.label_line = line_of(*secrecy);
    return vm;
}

Result<Manifest> Parser::parse(std::string_view text)
{
    // The source name given to toml++ is unused: messages are built here.
    toml::parse_result doc = toml::parse(text);
    if (!doc) {
        std::string detail = "invalid TOML: ";
        append_escaped(detail, doc.error().description());
        // There is no key to name yet; the line is what toml++ reports.
        std::string msg = m_source;
        msg += ':';
        msg += std::to_string(doc.error().source().begin.line);
        msg += ": ";
        msg += detail;
        return fail_with(Errc::InvalidInput, std::move(msg));
    }
    const toml::table& root = doc.table();

    // Top level: known keys only, checked in text order before anything else.
    const toml::node* lattice_node = nullptr;
    const toml::node* volumes_node = nullptr;
    const toml::node* vms_node = nullptr;
    const toml::node* jail_node = nullptr;
    const toml::node* channels_node = nullptr;
    const toml::node* networks_node = nullptr;
    for (const auto& [k, v] : in_text_order(root)) {
        if (m_objects_only && k->str() != "lattice" && k->str() != "volume")
            return unknown_key(*k, "", "lattice, volume");
        if (k->str() == "lattice") lattice_node = v;
        else if (k->str() == "jail") jail_node = v;
        else if (k->str() == "volume") volumes_node = v;
        else if (k->str() == "vm") vms_node = v;
        else if (k->str() == "channel") channels_node = v;
        else if (k->str() == "network") networks_node = v;
        else return unknown_key(*k, "", "lattice, volume, network, vm, channel, jail");
    }
    if (!lattice_node) return error(0, "lattice", "missing table [lattice]");

    Manifest m{MOAT_TRY(lattice(*lattice_node)), {}, {}, {}, {}, m_source};
    if (jail_node) MOAT_TRY(jail(m, *jail_node));

    if (volumes_node) {
        const toml::table* t = MOAT_TRY(table(*volumes_node, "volume"));
        for (const auto& [k, v] : in_text_order(*t)) m.volumes.push_back(MOAT_TRY(volume(m.lattice, k->str(), *k, *v)));
    }
    if (networks_node) {
        const toml::table* t = MOAT_TRY(table(*networks_node, "network"));
        for (const auto& [k, v] : in_text_order(*t)) m.networks.push_back(MOAT_TRY(network(m, k->str(), *k, *v)));
    }
    if (m_objects_only) return m;
    if (!vms_node) return error(0, "vm", "no VMs declared (add a [vm.NAME] table)");
    MOAT_TRY(vms(m, *vms_node));
    MOAT_TRY(cids(m));
    MOAT_TRY(addresses(m));
    if (channels_node) m.channels = MOAT_TRY(channels(m, *channels_node));
    return m;
}

// The [vm.NAME] tables, in text order; names unique across VMs, volumes and networks.
Result<void> Parser::vms(Manifest& m, const toml::node& vms_node)
{
    const toml::table* t = MOAT_TRY(table(vms_node, "vm"));
    for (const auto& [k, v] : in_text_order(*t)) {
        VmSpec spec = MOAT_TRY(vm(m, k->str(), *k, *v));
        // One namespace for VMs and volumes: audit records and messages say "web", and a name
        // must not mean a VM in one line and a volume in the next.
        if (const VolumeSpec* same = m.find_volume(spec.name))
            return error(line_of(*k), dotted("vm", spec.name),
                         "name " + quoted(spec.name) + " is already used by a volume (line " +
                             std::to_string(same->line) + "); VM and volume names must differ");
        if (const NetworkSpec* same = m.find_network(spec.name))
            return error(line_of(*k), dotted("vm", spec.name),
                         "name " + quoted(spec.name) + " is already used by a network (line " +
                             std::to_string(same->line) + "); VM and network names must differ");
        m.vms.push_back(std::move(spec));
    }
    if (m.vms.empty()) return error(line_of(vms_node), "vm", "no VMs declared (add a [vm.NAME] table)");
    return {};
}

}  // namespace moat::policy::manifest_detail

namespace moat::policy {

Result<Manifest> parse_manifest(std::string_view text, std::string_view source_name, std::string_view base_dir)
{
    return manifest_detail::Parser(source_name, base_dir).parse(text);
}

Result<Manifest> parse_objects(std::string_view text, std::string_view source_name, std::string_view base_dir)
{
    return manifest_detail::Parser(source_name, base_dir, true).parse(text);
}

}  // namespace moat::policy
