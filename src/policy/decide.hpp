// The reference monitor's decision function: one pure verdict per sharing act
// (DESIGN.md "Security policy", the act table; STYLE.md §8).
#pragma once

#include <cstdint>

#include "policy/label.hpp"

namespace moat::policy {

// The acts the monitor mediates, taken where sharing is set up.
enum class Act : std::uint8_t {
    ReadVolume,       // VM attaches a volume read-only
    WriteVolume,      // VM writes a volume without reading it (always refused)
    ReadWriteVolume,  // VM attaches a volume read-write
    ChannelOneWay,    // channel carrying data from A to B only
    ChannelBothWays,  // channel carrying data both ways between A and B
    NetworkAttach,    // VM joins a network
    NetworkUplink,    // a network joins the outside world (a host interface on its bridge)
};

enum class Verdict : std::uint8_t { Allow, Deny };

// Every grant and every denial names the rule that produced it.
enum class Rule : std::uint8_t {
    // Grants.
    ReadDown,              // ReadVolume: volume -> VM may flow
    ReadWriteEqualLabels,  // ReadWriteVolume: labels equal
    PumpOneWay,            // ChannelOneWay: A -> B may flow; carried only by a pump
    BothWaysEqualLabels,   // ChannelBothWays: labels equal
    NetworkEqualLabels,    // NetworkAttach: labels equal
    UplinkLowest,          // NetworkUplink: the network has the lowest label, the outside world's
    // Denials.
    NoReadUp,                // ReadVolume: VM's secrecy does not dominate the volume's
    NoReadDown,              // ReadVolume: volume's integrity does not dominate the VM's
    NoBlindWrite,            // WriteVolume: never granted
    ReadWriteLabelsDiffer,   // ReadWriteVolume: labels differ
    NoWriteDown,             // ChannelOneWay: B's secrecy does not dominate A's
    NoWriteUp,               // ChannelOneWay: A's integrity does not dominate B's
    BothWaysLabelsDiffer,    // ChannelBothWays: labels differ
    NetworkLabelsDiffer,     // NetworkAttach: labels differ
    UplinkNotLowest,         // NetworkUplink: the network's label is above the lowest
    UnknownAct,              // default deny: an Act value outside the enum
};

struct Decision {
    Verdict verdict;
    Rule rule;

    bool operator==(const Decision&) const = default;
};

// Pure and total. `subject` is the VM (or the channel's source A, or for an uplink the network);
// `object` is the volume (or the channel's destination B, or the network's label, or for an
// uplink the outside world's: the lowest label, Label{}). Default deny: nothing is granted that
// may_flow forbids in the direction(s) the act needs.
Decision decide(Act act, const Label& subject, const Label& object);

// One line explaining the rule, for refusals and the audit log. Never null.
const char* to_string(Rule rule);
const char* to_string(Act act);
const char* to_string(Verdict verdict);

}  // namespace moat::policy
