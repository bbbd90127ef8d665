// decide(): the act table of DESIGN.md "Security policy", one case per row.
#include "policy/decide.hpp"

namespace moat::policy {

namespace {

constexpr Decision allow(Rule r) { return {Verdict::Allow, r}; }
constexpr Decision deny(Rule r) { return {Verdict::Deny, r}; }

}  // namespace

Decision decide(Act act, const Label& subject, const Label& object)
{
    switch (act) {
    case Act::ReadVolume:
        // Needs volume -> VM: secrecy(VM) dominates secrecy(volume) and
        // integrity(volume) dominates integrity(VM).
        if (!dominates(subject.secrecy, object.secrecy)) return deny(Rule::NoReadUp);
        if (!dominates(object.integrity, subject.integrity)) return deny(Rule::NoReadDown);
        return allow(Rule::ReadDown);
    case Act::WriteVolume:
        // Even where VM -> volume may flow: a write-only attach is a blind write.
        return deny(Rule::NoBlindWrite);
    case Act::ReadWriteVolume:
        // Flow both ways; by antisymmetry of dominance that is exactly label equality.
        return subject == object ? allow(Rule::ReadWriteEqualLabels) : deny(Rule::ReadWriteLabelsDiffer);
    case Act::ChannelOneWay:
        // Needs A -> B: secrecy(B) dominates secrecy(A) and integrity(A) dominates integrity(B).
        if (!dominates(object.secrecy, subject.secrecy)) return deny(Rule::NoWriteDown);
        if (!dominates(subject.integrity, object.integrity)) return deny(Rule::NoWriteUp);
        return allow(Rule::PumpOneWay);
    case Act::ChannelBothWays:
        return subject == object ? allow(Rule::BothWaysEqualLabels) : deny(Rule::BothWaysLabelsDiffer);
    case Act::NetworkAttach:
        return subject == object ? allow(Rule::NetworkEqualLabels) : deny(Rule::NetworkLabelsDiffer);
    case Act::NetworkUplink:
        // The outside world reads and writes the network: the same rule as a VM's attach, with
        // the outside world at the bottom of the lattice.
        return subject == object && object == Label{} ? allow(Rule::UplinkLowest) : deny(Rule::UplinkNotLowest);
    }
    return deny(Rule::UnknownAct);
}

const char* to_string(Rule rule)
{
    switch (rule) {
    case Rule::ReadDown:
        return "read-only attach: the volume's label may flow to the VM";
    case Rule::ReadWriteEqualLabels:
        return "read-write attach: the VM and the volume have equal labels";
    case Rule::PumpOneWay:
        return "one-way channel: the source may flow to the destination, carried only by a pump";
    case Rule::BothWaysEqualLabels:
        return "two-way channel: both ends have equal labels";
    case Rule::NetworkEqualLabels:
        return "network attach: the VM and the network have equal labels";
    case Rule::UplinkLowest:
        return "uplink: the network has the lowest label, the outside world's";
    case Rule::NoReadUp:
        return "no read up: the VM's secrecy does not dominate the volume's";
    case Rule::NoReadDown:
        return "no read down: the volume's integrity does not dominate the VM's";
    case Rule::NoBlindWrite:
        return "no blind writes: a write-only attach is never granted (read-write needs equal labels)";
    case Rule::ReadWriteLabelsDiffer:
        return "read-write attach needs equal labels, and the VM's and the volume's differ";
    case Rule::NoWriteDown:
        return "no write down: the destination's secrecy does not dominate the source's";
    case Rule::NoWriteUp:
        return "no write up: the source's integrity does not dominate the destination's";
    case Rule::BothWaysLabelsDiffer:
        return "a two-way channel needs equal labels, and its ends' differ";
    case Rule::NetworkLabelsDiffer:
        return "network attach needs equal labels, and the VM's and the network's differ";
    case Rule::UplinkNotLowest:
        return "an uplink joins the outside world, which has the lowest label, and the network's is above it";
    case Rule::UnknownAct:
        return "default deny: unknown act";
    }
    return "unknown rule";
}

const char* to_string(Act act)
{
    switch (act) {
    case Act::ReadVolume: return "read-volume";
    case Act::WriteVolume: return "write-volume";
    case Act::ReadWriteVolume: return "read-write-volume";
    case Act::ChannelOneWay: return "channel-one-way";
    case Act::ChannelBothWays: return "channel-both-ways";
    case Act::NetworkAttach: return "network-attach";
    case Act::NetworkUplink: return "network-uplink";
    }
    return "unknown-act";
}

const char* to_string(Verdict verdict)
{
    return verdict == Verdict::Allow ? "allow" : "deny";
}

}  // namespace moat::policy
