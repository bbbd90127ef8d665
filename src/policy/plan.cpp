// plan() and describe(): the monitor's pre-start decisions and their one-line explanations.
#include "policy/plan.hpp"

#include <algorithm>

namespace moat::policy {

namespace {

// What the act asks for, as it reads in a sentence: "vm web <phrase> volume base".
const char* act_phrase(Act act)
{
    switch (act) {
    case Act::ReadVolume: return "read-only";
    case Act::WriteVolume: return "write-only";
    case Act::ReadWriteVolume: return "read-write";
    case Act::ChannelOneWay: return "one-way channel to";
    case Act::ChannelBothWays: return "two-way channel with";
    case Act::NetworkAttach: return "joins";
    case Act::NetworkUplink: return "joins the outside world through";
    }
    return "unknown act on";
}

// The verdict's reason in a few words; the rule's full text follows in brackets.
const char* summary(Rule rule)
{
    switch (rule) {
    case Rule::ReadDown: return "the volume may flow to the VM";
    case Rule::ReadWriteEqualLabels: return "labels equal";
    case Rule::PumpOneWay: return "the source may flow to the destination";
    case Rule::BothWaysEqualLabels: return "labels equal";
    case Rule::NetworkEqualLabels: return "labels equal";
    case Rule::UplinkLowest: return "the lowest label";
    case Rule::NoReadUp: return "read up in secrecy";
    case Rule::NoReadDown: return "read down in integrity";
    case Rule::NoBlindWrite: return "blind write";
    case Rule::ReadWriteLabelsDiffer: return "labels differ";
    case Rule::NoWriteDown: return "write down in secrecy";
    case Rule::NoWriteUp: return "write up in integrity";
    case Rule::BothWaysLabelsDiffer: return "labels differ";
    case Rule::NetworkLabelsDiffer: return "labels differ";
    case Rule::UplinkNotLowest: return "not the lowest label";
    case Rule::UnknownAct: return "unknown act";
    }
    return "unknown rule";
}

}  // namespace

std::vector<PlannedDecision> plan(const Manifest& m)
{
    std::vector<PlannedDecision> out;
    for (const VmSpec& vm : m.vms) {
        for (const DiskRef& disk : vm.disks) {
            MOAT_CHECK(disk.index < m.volumes.size());
            const VolumeSpec& volume = m.volumes[disk.index];
            const Act act = disk.mode == DiskAccess::ReadWrite ? Act::ReadWriteVolume : Act::ReadVolume;
            out.push_back(PlannedDecision{vm.name, "volume " + volume.name, act, vm.label, volume.label,
                                          decide(act, vm.label, volume.label), disk.line});
        }
        for (const NetRef& r : vm.networks) {
            MOAT_CHECK(r.index < m.networks.size());
            const NetworkSpec& net = m.networks[r.index];
            out.push_back(PlannedDecision{vm.name, "network " + net.name, Act::NetworkAttach, vm.label, net.label,
                                          decide(Act::NetworkAttach, vm.label, net.label), r.line});
        }
    }
    for (const ChannelSpec& c : m.channels) {
        MOAT_CHECK(c.from_index < m.vms.size() && c.to_index < m.vms.size());
        const Label& from = m.vms[c.from_index].label;
        const Label& to = m.vms[c.to_index].label;
        const Act act = c.kind == ChannelKind::Pump ? Act::ChannelOneWay : Act::ChannelBothWays;
        out.push_back(PlannedDecision{c.from, "vm " + c.to + " port " + std::to_string(c.port), act, from, to,
                                      decide(act, from, to), c.line});
    }
    for (const NetworkSpec& net : m.networks) {
        if (!net.uplink) continue;
        out.push_back(PlannedDecision{net.name, "uplink " + *net.uplink, Act::NetworkUplink, net.label, Label{},
                                      decide(Act::NetworkUplink, net.label, Label{}), net.uplink_line, "network"});
    }
    return out;
}

bool any_denied(const std::vector<PlannedDecision>& decisions)
{
    return std::any_of(decisions.begin(), decisions.end(),
                       [](const PlannedDecision& d) { return d.decision.verdict == Verdict::Deny; });
}

std::string describe(const Manifest& m, const PlannedDecision& d)
{
    // The object's kind is the first word of d.object ("volume base" -> "volume").
    const std::string kind = d.object.substr(0, d.object.find(' '));
    std::string out = to_string(d.decision.verdict);
    const std::string subject = d.subject_kind;
    const std::string object_kind = d.act == Act::NetworkUplink ? "outside world" : kind;
    out += ": " + subject + " " + d.vm + " " + act_phrase(d.act) + " " + d.object + ": " + summary(d.decision.rule);
    out += " (" + subject + " " + format_label(m.lattice, d.subject) + " vs " + object_kind + " " +
           format_label(m.lattice, d.object_label);
    out += ") [rule ";
    out += rule_name(d.decision.rule);
    out += ": ";
    out += to_string(d.decision.rule);
    out += "]";
    return out;
}

const char* rule_name(Rule rule)
{
    switch (rule) {
    case Rule::ReadDown: return "ReadDown";
    case Rule::ReadWriteEqualLabels: return "ReadWriteEqualLabels";
    case Rule::PumpOneWay: return "PumpOneWay";
    case Rule::BothWaysEqualLabels: return "BothWaysEqualLabels";
    case Rule::NetworkEqualLabels: return "NetworkEqualLabels";
    case Rule::UplinkLowest: return "UplinkLowest";
    case Rule::NoReadUp: return "NoReadUp";
    case Rule::NoReadDown: return "NoReadDown";
    case Rule::NoBlindWrite: return "NoBlindWrite";
    case Rule::ReadWriteLabelsDiffer: return "ReadWriteLabelsDiffer";
    case Rule::NoWriteDown: return "NoWriteDown";
    case Rule::NoWriteUp: return "NoWriteUp";
    case Rule::BothWaysLabelsDiffer: return "BothWaysLabelsDiffer";
    case Rule::NetworkLabelsDiffer: return "NetworkLabelsDiffer";
    case Rule::UplinkNotLowest: return "UplinkNotLowest";
    case Rule::UnknownAct: return "UnknownAct";
    }
    return "UnknownRule";
}

}  // namespace moat::policy
