// The decision plan: every decision the reference monitor takes before a system starts, in a
// stable order, for `moat up` and `moat policy check` (issue 5, acceptance 3). Pure.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "policy/decide.hpp"
#include "policy/manifest.hpp"

namespace moat::policy {

struct PlannedDecision {
    std::string vm;      // the subject VM's name (for an uplink, the network's)
    std::string object;  // what is shared, e.g. "volume base"
    Act act;
    Label subject;       // the VM's label
    Label object_label;  // the object's label
    Decision decision;
    std::uint32_t line = 0;  // where the manifest asks for it (the disks entry)
    const char* subject_kind = "vm";  // "network" for an uplink
};

// VM by VM in manifest order, and within a VM disk by disk in manifest order: a read-only disk
// is Act::ReadVolume, a read-write one Act::ReadWriteVolume; then its networks in order
// (Act::NetworkAttach, object "network NAME"). Then the channels in manifest order, the source
// VM as subject and the destination VM as object: a pump is Act::ChannelOneWay, a two-way
// channel Act::ChannelBothWays. Then each network with an uplink (Act::NetworkUplink, the
// network as subject, object "uplink IFNAME" with the lowest label). Every decision is listed, allowed
// or not; the system may start only if none is denied.
std::vector<PlannedDecision> plan(const Manifest& m);

// True iff any decision in the plan is a denial.
bool any_denied(const std::vector<PlannedDecision>& decisions);

// One line for a person (and the audit log), e.g.
// "deny: vm analyst read-write volume base: labels differ (vm secret:finance/untrusted vs
//  volume public/trusted) [rule ReadWriteLabelsDiffer: read-write attach needs ...]".
// Precondition: d came from plan(m).
std::string describe(const Manifest& m, const PlannedDecision& d);

// The rule's identifier as written in the source, e.g. "ReadWriteLabelsDiffer". Never null.
const char* rule_name(Rule rule);

}  // namespace moat::policy
