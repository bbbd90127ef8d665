// decide(): one test per row of DESIGN.md's act table with the manifest's labels, then the
// laws over every act and every pair of labels of a small lattice.
#include "policy/decide.hpp"

#include <gtest/gtest.h>

#include <cstring>

#include "policy/test_lattices.hpp"

using namespace moat::policy;
using namespace moat::policy::testing;

namespace {

constexpr Act k_all_acts[] = {Act::ReadVolume,      Act::WriteVolume,   Act::ReadWriteVolume, Act::ChannelOneWay,
                              Act::ChannelBothWays, Act::NetworkAttach, Act::NetworkUplink};

constexpr Decision allowed(Rule r) { return {Verdict::Allow, r}; }
constexpr Decision denied(Rule r) { return {Verdict::Deny, r}; }

struct Labels {
    Lattice l = design_lattice();
    Label base = parse_label(l, "public", "trusted").value();              // base volume
    Label web = parse_label(l, "public", "untrusted").value();             // web VM
    Label analyst = parse_label(l, "secret:finance", "untrusted").value(); // analyst VM and volume
    Label hr = parse_label(l, "secret:hr", "untrusted").value();
    Label internal = parse_label(l, "internal", "untrusted").value();
    Label trusted_secret = parse_label(l, "secret:finance", "trusted").value();
};

}  // namespace

// Row 1: VM reads volume; needs volume -> VM; read-only attach.
TEST(DecideTable, ReadVolume)
{
    const Labels x;
    EXPECT_EQ(decide(Act::ReadVolume, x.analyst, x.base), allowed(Rule::ReadDown));
    EXPECT_EQ(decide(Act::ReadVolume, x.web, x.base), allowed(Rule::ReadDown));
    EXPECT_EQ(decide(Act::ReadVolume, x.analyst, x.analyst), allowed(Rule::ReadDown));
    EXPECT_EQ(decide(Act::ReadVolume, x.web, x.analyst), denied(Rule::NoReadUp));
    EXPECT_EQ(decide(Act::ReadVolume, x.internal, x.analyst), denied(Rule::NoReadUp));
    EXPECT_EQ(decide(Act::ReadVolume, x.hr, x.analyst), denied(Rule::NoReadUp));  // incomparable
    // A trusted VM may not read untrusted data (Biba).
    EXPECT_EQ(decide(Act::ReadVolume, x.trusted_secret, x.analyst), denied(Rule::NoReadDown));
}

// Row 2: VM writes volume; write-up alone is refused.
TEST(DecideTable, WriteVolumeIsNeverBlind)
{
    const Labels x;
    ASSERT_TRUE(may_flow(x.web, x.analyst));
    EXPECT_EQ(decide(Act::WriteVolume, x.web, x.analyst), denied(Rule::NoBlindWrite));
    EXPECT_EQ(decide(Act::WriteVolume, x.analyst, x.analyst), denied(Rule::NoBlindWrite));
    EXPECT_EQ(decide(Act::WriteVolume, x.analyst, x.web), denied(Rule::NoBlindWrite));
}

// Row 3: read-write attach needs equal labels.
TEST(DecideTable, ReadWriteVolume)
{
    const Labels x;
    EXPECT_EQ(decide(Act::ReadWriteVolume, x.analyst, x.analyst), allowed(Rule::ReadWriteEqualLabels));
    EXPECT_EQ(decide(Act::ReadWriteVolume, x.analyst, x.base), denied(Rule::ReadWriteLabelsDiffer));
    EXPECT_EQ(decide(Act::ReadWriteVolume, x.web, x.base), denied(Rule::ReadWriteLabelsDiffer));
    EXPECT_EQ(decide(Act::ReadWriteVolume, x.trusted_secret, x.analyst), denied(Rule::ReadWriteLabelsDiffer));
}

// Row 4: channel A -> B one-way, only as a pump.
TEST(DecideTable, ChannelOneWay)
{
    const Labels x;
    EXPECT_EQ(decide(Act::ChannelOneWay, x.web, x.analyst), allowed(Rule::PumpOneWay));  // the manifest's pump
    EXPECT_EQ(decide(Act::ChannelOneWay, x.web, x.web), allowed(Rule::PumpOneWay));
    EXPECT_EQ(decide(Act::ChannelOneWay, x.analyst, x.web), denied(Rule::NoWriteDown));
    EXPECT_EQ(decide(Act::ChannelOneWay, x.analyst, x.hr), denied(Rule::NoWriteDown));
    EXPECT_EQ(decide(Act::ChannelOneWay, x.web, x.base), denied(Rule::NoWriteUp));
    EXPECT_EQ(decide(Act::ChannelOneWay, x.analyst, x.trusted_secret), denied(Rule::NoWriteUp));
}

// Row 5: channel both ways needs equal labels.
TEST(DecideTable, ChannelBothWays)
{
    const Labels x;
    EXPECT_EQ(decide(Act::ChannelBothWays, x.analyst, x.analyst), allowed(Rule::BothWaysEqualLabels));
    EXPECT_EQ(decide(Act::ChannelBothWays, x.web, x.analyst), denied(Rule::BothWaysLabelsDiffer));
    EXPECT_EQ(decide(Act::ChannelBothWays, x.analyst, x.web), denied(Rule::BothWaysLabelsDiffer));
}

// Row 6: network attach needs equal labels.
TEST(DecideTable, NetworkAttach)
{
    const Labels x;
    EXPECT_EQ(decide(Act::NetworkAttach, x.web, x.web), allowed(Rule::NetworkEqualLabels));
    EXPECT_EQ(decide(Act::NetworkAttach, x.web, x.base), denied(Rule::NetworkLabelsDiffer));
    EXPECT_EQ(decide(Act::NetworkAttach, x.analyst, x.hr), denied(Rule::NetworkLabelsDiffer));
}

// Row 7: an uplink joins the outside world, whose label is the lowest: only a network with the
// lowest label may have one.
TEST(DecideTable, NetworkUplink)
{
    const Labels x;
    const Label outside{};
    ASSERT_EQ(x.web, outside) << "public/untrusted is the lowest label";
    EXPECT_EQ(decide(Act::NetworkUplink, x.web, outside), allowed(Rule::UplinkLowest));
    EXPECT_EQ(decide(Act::NetworkUplink, x.base, outside), denied(Rule::UplinkNotLowest)) << "trusted is above untrusted";
    EXPECT_EQ(decide(Act::NetworkUplink, x.internal, outside), denied(Rule::UplinkNotLowest));
    EXPECT_EQ(decide(Act::NetworkUplink, x.analyst, outside), denied(Rule::UplinkNotLowest));
    EXPECT_EQ(decide(Act::NetworkUplink, x.base, x.base), denied(Rule::UplinkNotLowest))
        << "the object is the outside world's label, never another";
}

TEST(Decide, UnknownActIsDenied)
{
    const Labels x;
    const Act bogus = static_cast<Act>(200);
    EXPECT_EQ(decide(bogus, x.web, x.web), denied(Rule::UnknownAct));
    EXPECT_STREQ(to_string(bogus), "unknown-act");
}

// The laws, over every act and every ordered pair of the 384 labels of the small lattice.
TEST(DecideLaws, EveryAllowRespectsTheFlowRule)
{
    const auto labels = all_labels(small_lattice());
    for (const Act act : k_all_acts) {
        for (const Label& s : labels) {
            for (const Label& o : labels) {
                const Decision d = decide(act, s, o);
                const bool allow = d.verdict == Verdict::Allow;
                switch (act) {
                case Act::ReadVolume:
                    ASSERT_EQ(allow, may_flow(o, s));
                    ASSERT_EQ(d.rule, allow                                   ? Rule::ReadDown
                                      : !dominates(s.secrecy, o.secrecy)      ? Rule::NoReadUp
                                                                              : Rule::NoReadDown);
                    break;
                case Act::WriteVolume:
                    ASSERT_EQ(d, denied(Rule::NoBlindWrite));
                    break;
                case Act::ReadWriteVolume:
                    ASSERT_EQ(allow, s == o);
                    ASSERT_EQ(allow, may_flow(s, o) && may_flow(o, s));
                    ASSERT_EQ(d.rule, allow ? Rule::ReadWriteEqualLabels : Rule::ReadWriteLabelsDiffer);
                    break;
                case Act::ChannelOneWay:
                    ASSERT_EQ(allow, may_flow(s, o));
                    ASSERT_EQ(d.rule, allow                                   ? Rule::PumpOneWay
                                      : !dominates(o.secrecy, s.secrecy)      ? Rule::NoWriteDown
                                                                              : Rule::NoWriteUp);
                    break;
                case Act::ChannelBothWays:
                    ASSERT_EQ(allow, may_flow(s, o) && may_flow(o, s));
                    ASSERT_EQ(d.rule, allow ? Rule::BothWaysEqualLabels : Rule::BothWaysLabelsDiffer);
                    break;
                case Act::NetworkAttach:
                    ASSERT_EQ(allow, may_flow(s, o) && may_flow(o, s));
                    ASSERT_EQ(d.rule, allow ? Rule::NetworkEqualLabels : Rule::NetworkLabelsDiffer);
                    break;
                case Act::NetworkUplink:
                    ASSERT_EQ(allow, may_flow(s, Label{}) && may_flow(Label{}, s) && o == Label{});
                    ASSERT_EQ(d.rule, allow ? Rule::UplinkLowest : Rule::UplinkNotLowest);
                    break;
                }
                // Grant rules come only with Allow, denial rules only with Deny.
                const bool grant_rule = d.rule == Rule::ReadDown || d.rule == Rule::ReadWriteEqualLabels ||
                                        d.rule == Rule::PumpOneWay || d.rule == Rule::BothWaysEqualLabels ||
                                        d.rule == Rule::NetworkEqualLabels || d.rule == Rule::UplinkLowest;
                ASSERT_EQ(allow, grant_rule);
                // Equal labels share everything except a blind write (and an uplink joins only the
                // outside world, at the bottom).
                if (s == o && act != Act::NetworkUplink) {
                    ASSERT_EQ(allow, act != Act::WriteVolume);
                }
            }
        }
    }
}

TEST(Decide, EveryRuleHasAnExplanation)
{
    for (unsigned r = 0; r <= static_cast<unsigned>(Rule::UnknownAct); ++r) {
        const char* text = to_string(static_cast<Rule>(r));
        ASSERT_NE(text, nullptr);
        EXPECT_GT(std::strlen(text), 10u);
        EXPECT_STRNE(text, "unknown rule");
    }
    for (const Act act : k_all_acts) EXPECT_STRNE(to_string(act), "unknown-act");
    EXPECT_STREQ(to_string(Verdict::Allow), "allow");
    EXPECT_STREQ(to_string(Verdict::Deny), "deny");
    EXPECT_STREQ(to_string(Rule::NoReadUp), "no read up: the VM's secrecy does not dominate the volume's");
}
