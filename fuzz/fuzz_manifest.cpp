// libFuzzer target: parse_manifest over arbitrary text, then plan() and describe() on every
// manifest it accepts; parse_objects (moat-oci's policy file) on the same text. Checks the
// invariants the monitor relies on.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "policy/manifest.hpp"
#include "policy/plan.hpp"
#include "protocol/limits.hpp"

namespace {

using namespace moat::policy;
using moat::DiskAccess;
namespace protocol = moat::protocol;

bool valid_name(std::string_view n)
{
    if (n.empty() || n.size() > k_max_name_length) return false;
    for (std::size_t i = 0; i < n.size(); ++i) {
        const char c = n[i];
        const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (i > 0 && (c == '_' || c == '-'));
        if (!ok) return false;
    }
    return true;
}

void check_path(const PathRef& p)
{
    MOAT_CHECK(!p.written.empty());
    MOAT_CHECK(p.path.find('\0') == std::string::npos);
    MOAT_CHECK(p.path.ends_with(p.written));
    MOAT_CHECK(p.line != 0);
}

void check(const Manifest& m)
{
    std::size_t disks = 0;
    for (std::size_t i = 0; i < m.volumes.size(); ++i) {
        const VolumeSpec& v = m.volumes[i];
        MOAT_CHECK(valid_name(v.name));
        MOAT_CHECK(within(m.lattice, v.label));
        check_path(v.path);
        for (std::size_t j = 0; j < i; ++j) MOAT_CHECK(m.volumes[j].name != v.name);
    }
    MOAT_CHECK(!m.vms.empty());
    for (std::size_t i = 0; i < m.vms.size(); ++i) {
        const VmSpec& vm = m.vms[i];
        MOAT_CHECK(valid_name(vm.name));
        MOAT_CHECK(m.find_volume(vm.name) == nullptr);
        for (std::size_t j = 0; j < i; ++j) MOAT_CHECK(m.vms[j].name != vm.name);
        MOAT_CHECK(within(m.lattice, vm.label));
        check_path(vm.kernel);
        if (vm.initrd) check_path(*vm.initrd);
        if (vm.cmdline) MOAT_CHECK(vm.cmdline->find('\0') == std::string::npos);
        MOAT_CHECK(protocol::check_memory(vm.memory));
        MOAT_CHECK(protocol::check_cpus(vm.cpus));
        MOAT_CHECK(vm.max_restarts <= k_max_max_restarts);
        for (std::size_t d = 0; d < vm.disks.size(); ++d) {
            const DiskRef& disk = vm.disks[d];
            MOAT_CHECK(disk.index < m.volumes.size());
            MOAT_CHECK(m.volumes[disk.index].name == disk.volume);
            for (std::size_t e = 0; e < d; ++e) MOAT_CHECK(vm.disks[e].index != disk.index);
        }
        disks += vm.disks.size();
        for (std::size_t n = 0; n < vm.networks.size(); ++n) {
            const NetRef& r = vm.networks[n];
            MOAT_CHECK(r.index < m.networks.size() && m.networks[r.index].name == r.network);
            MOAT_CHECK(m.networks[r.index].subnet.holds_host(r.address));
            MOAT_CHECK(!m.networks[r.index].host || *m.networks[r.index].host != r.address);
            MOAT_CHECK(moat::base::check_mac(r.mac) == nullptr);
            for (std::size_t e = 0; e < n; ++e) MOAT_CHECK(vm.networks[e].index != r.index);
            for (std::size_t j = 0; j < i; ++j)
                for (const NetRef& o : m.vms[j].networks) MOAT_CHECK(o.mac != r.mac && (o.index != r.index || o.address != r.address));
        }
        disks += vm.networks.size();
    }
    std::size_t uplinks = 0;
    for (const NetworkSpec& net : m.networks) {
        MOAT_CHECK(valid_name(net.name) && m.find_volume(net.name) == nullptr && m.find_vm(net.name) == nullptr);
        MOAT_CHECK(within(m.lattice, net.label));
        MOAT_CHECK(net.subnet.prefix >= 8 && net.subnet.prefix <= 30 && (net.subnet.base & ~net.subnet.mask()) == 0);
        MOAT_CHECK(!net.host || net.subnet.holds_host(*net.host));
        MOAT_CHECK(!net.uplink || moat::base::check_ifname(*net.uplink) == nullptr);
        uplinks += net.uplink ? 1 : 0;
    }

    // One decision per disk and network of each VM, in order, each matching decide() and
    // describable; then one per channel and per uplink.
    const auto p = plan(m);
    MOAT_CHECK(p.size() == disks + m.channels.size() + uplinks);
    std::size_t k = 0;
    for (const VmSpec& vm : m.vms) {
        for (const DiskRef& disk : vm.disks) {
            const PlannedDecision& d = p[k++];
            MOAT_CHECK(d.vm == vm.name);
            MOAT_CHECK(d.object == "volume " + disk.volume);
            MOAT_CHECK(d.act == (disk.mode == DiskAccess::ReadWrite ? Act::ReadWriteVolume : Act::ReadVolume));
            MOAT_CHECK(d.decision == decide(d.act, vm.label, m.volumes[disk.index].label));
            // Nothing granted that the flow rule forbids.
            if (d.decision.verdict == Verdict::Allow) {
                MOAT_CHECK(may_flow(d.object_label, d.subject));
                if (d.act == Act::ReadWriteVolume) MOAT_CHECK(d.subject == d.object_label);
            }
            const std::string line = describe(m, d);
            MOAT_CHECK(line.starts_with(to_string(d.decision.verdict)));
        }
        for (const NetRef& r : vm.networks) {
            const PlannedDecision& d = p[k++];
            MOAT_CHECK(d.vm == vm.name && d.object == "network " + r.network && d.act == Act::NetworkAttach);
            MOAT_CHECK(d.decision == decide(Act::NetworkAttach, vm.label, m.networks[r.index].label));
            if (d.decision.verdict == Verdict::Allow) MOAT_CHECK(d.subject == d.object_label);
            MOAT_CHECK(describe(m, d).starts_with(to_string(d.decision.verdict)));
        }
    }
    k += m.channels.size();
    for (const NetworkSpec& net : m.networks) {
        if (!net.uplink) continue;
        const PlannedDecision& d = p[k++];
        MOAT_CHECK(d.act == Act::NetworkUplink && d.vm == net.name);
        // Only the lowest label joins the outside world.
        MOAT_CHECK((d.decision.verdict == Verdict::Allow) == (net.label == Label{}));
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    auto m = parse_manifest(text, "fuzz.toml", "/base");
    if (m.has_value()) {
        check(*m);
    } else {
        // Every failure explains itself, starting with the source name, on one line.
        const std::string message = describe(m.error());
        MOAT_CHECK(message.starts_with("fuzz.toml"));
        MOAT_CHECK(message.find('\n') == std::string::npos);
    }
    // The same text as moat-oci's policy file: a lattice and volumes, nothing else.
    auto o = parse_objects(text, "fuzz.toml", "/base");
    if (o.has_value()) {
        MOAT_CHECK(o->vms.empty() && o->networks.empty() && o->channels.empty());
        for (const VolumeSpec& v : o->volumes) MOAT_CHECK(within(o->lattice, v.label));
    } else {
        const std::string message = describe(o.error());
        MOAT_CHECK(message.starts_with("fuzz.toml"));
        MOAT_CHECK(message.find('\n') == std::string::npos);
    }
    return 0;
}
