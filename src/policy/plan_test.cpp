// plan() and describe() on the issue's demo system: order, acts, verdicts, rules and the text
// a security evaluator reads.
#include "policy/plan.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

using namespace moat;
using namespace moat::policy;

namespace {

// The issue's demo system plus the two refused requests of acceptance 10: analyst read-write
// on base, and web reading the analyst's volume.
constexpr std::string_view k_system = R"([lattice]
levels     = ["public", "internal", "secret"]
categories = ["finance", "hr"]
integrity  = ["untrusted", "trusted"]

[volume.base]
path      = "images/base.img"
label     = "public"
integrity = "trusted"

[volume.analyst-data]
path      = "images/analyst.img"
label     = "secret:finance"
integrity = "untrusted"

[vm.web]
label     = "public"
integrity = "untrusted"
kernel    = "vmlinuz"
disks     = [{ volume = "base", mode = "ro" }, { volume = "analyst-data", mode = "ro" }]

[vm.analyst]
label     = "secret:finance"
integrity = "untrusted"
kernel    = "vmlinuz"
disks     = [{ volume = "base", mode = "ro" },
             { volume = "analyst-data", mode = "rw" },
             { volume = "hr-data", mode = "ro" }]

[vm.auditor]
label     = "secret:finance"
integrity = "untrusted"
kernel    = "vmlinuz"
disks     = [{ volume = "base", mode = "rw" }]

[volume.hr-data]
path      = "images/hr.img"
label     = "internal:hr"
integrity = "trusted"
)";

Manifest parsed(std::string_view text)
{
    auto r = parse_manifest(text, "system.toml", "");
    EXPECT_TRUE(r.has_value()) << (r ? "" : describe(r.error()));
    return std::move(r).value();
}

}  // namespace

TEST(Plan, DemoSystemOrderAndVerdicts)
{
    const Manifest m = parsed(k_system);
    const auto p = plan(m);
    ASSERT_EQ(p.size(), 6u);

    const auto web = m.vms[0].label;
    const auto analyst = m.vms[1].label;
    const auto base = m.volumes[0].label;
    const auto data = m.volumes[1].label;

    // web public/untrusted reads base public/trusted: allowed.
    EXPECT_EQ(p[0].vm, "web");
    EXPECT_EQ(p[0].object, "volume base");
    EXPECT_EQ(p[0].act, Act::ReadVolume);
    EXPECT_EQ(p[0].subject, web);
    EXPECT_EQ(p[0].object_label, base);
    EXPECT_EQ(p[0].decision, (Decision{Verdict::Allow, Rule::ReadDown}));
    EXPECT_EQ(p[0].line, 20u);

    // web reads the analyst's secret volume: denied (no read up).
    EXPECT_EQ(p[1].vm, "web");
    EXPECT_EQ(p[1].object, "volume analyst-data");
    EXPECT_EQ(p[1].act, Act::ReadVolume);
    EXPECT_EQ(p[1].object_label, data);
    EXPECT_EQ(p[1].decision, (Decision{Verdict::Deny, Rule::NoReadUp}));

    // analyst secret:finance/untrusted reads base ro: allowed.
    EXPECT_EQ(p[2].vm, "analyst");
    EXPECT_EQ(p[2].object, "volume base");
    EXPECT_EQ(p[2].subject, analyst);
    EXPECT_EQ(p[2].decision, (Decision{Verdict::Allow, Rule::ReadDown}));
    EXPECT_EQ(p[2].line, 26u);

    // analyst rw on its own volume, equal labels: allowed.
    EXPECT_EQ(p[3].object, "volume analyst-data");
    EXPECT_EQ(p[3].act, Act::ReadWriteVolume);
    EXPECT_EQ(p[3].decision, (Decision{Verdict::Allow, Rule::ReadWriteEqualLabels}));
    EXPECT_EQ(p[3].line, 27u);  // the entry on its own line

    // analyst reads internal:hr: its categories do not include hr (no read up).
    EXPECT_EQ(p[4].object, "volume hr-data");
    EXPECT_EQ(p[4].decision, (Decision{Verdict::Deny, Rule::NoReadUp}));

    // rw on base: denied.
    EXPECT_EQ(p[5].vm, "auditor");
    EXPECT_EQ(p[5].act, Act::ReadWriteVolume);
    EXPECT_EQ(p[5].decision, (Decision{Verdict::Deny, Rule::ReadWriteLabelsDiffer}));

    EXPECT_TRUE(any_denied(p));
}

TEST(Plan, Describe)
{
    const Manifest m = parsed(k_system);
    const auto p = plan(m);
    ASSERT_EQ(p.size(), 6u);
    EXPECT_EQ(describe(m, p[0]),
              "allow: vm web read-only volume base: the volume may flow to the VM (vm public/untrusted vs volume "
              "public/trusted) [rule ReadDown: read-only attach: the volume's label may flow to the VM]");
    EXPECT_EQ(describe(m, p[1]),
              "deny: vm web read-only volume analyst-data: read up in secrecy (vm public/untrusted vs volume "
              "secret:finance/untrusted) [rule NoReadUp: no read up: the VM's secrecy does not dominate the volume's]");
    EXPECT_EQ(describe(m, p[3]),
              "allow: vm analyst read-write volume analyst-data: labels equal (vm secret:finance/untrusted vs volume "
              "secret:finance/untrusted) [rule ReadWriteEqualLabels: read-write attach: the VM and the volume have "
              "equal labels]");
    EXPECT_EQ(describe(m, p[5]),
              "deny: vm auditor read-write volume base: labels differ (vm secret:finance/untrusted vs volume "
              "public/trusted) [rule ReadWriteLabelsDiffer: read-write attach needs equal labels, and the VM's and "
              "the volume's differ]");
}

TEST(Plan, NoReadDownInIntegrity)
{
    const Manifest m = parsed(R"([lattice]
levels = ["public"]
integrity = ["untrusted", "trusted"]
[volume.scratch]
path = "s.img"
label = "public"
integrity = "untrusted"
[vm.builder]
label = "public"
integrity = "trusted"
kernel = "k"
disks = [{ volume = "scratch" }]
)");
    const auto p = plan(m);
    ASSERT_EQ(p.size(), 1u);
    EXPECT_EQ(p[0].decision, (Decision{Verdict::Deny, Rule::NoReadDown}));
    EXPECT_EQ(describe(m, p[0]),
              "deny: vm builder read-only volume scratch: read down in integrity (vm public/trusted vs volume "
              "public/untrusted) [rule NoReadDown: no read down: the volume's integrity does not dominate the VM's]");
}

TEST(Plan, EmptyWithoutDisks)
{
    const Manifest m = parsed(R"([lattice]
levels = ["public"]
integrity = ["untrusted"]
[vm.a]
label = "public"
integrity = "untrusted"
kernel = "k"
)");
    EXPECT_TRUE(plan(m).empty());
    EXPECT_FALSE(any_denied(plan(m)));
}

TEST(Plan, RuleNamesAreDistinct)
{
    for (int a = 0; a <= static_cast<int>(Rule::UnknownAct); ++a)
        for (int b = 0; b < a; ++b)
            EXPECT_STRNE(rule_name(static_cast<Rule>(a)), rule_name(static_cast<Rule>(b)));
    EXPECT_STREQ(rule_name(static_cast<Rule>(200)), "UnknownRule");
}

// examples/demo.toml is the system `make demo` starts: it must plan with no denial.
TEST(Plan, DemoFileHasNoDenial)
{
    std::ifstream f(MOAT_EXAMPLES_DIR "/demo.toml");
    ASSERT_TRUE(f);
    std::stringstream text;
    text << f.rdbuf();
    const Manifest m = parsed(text.str());
    const auto p = plan(m);
    ASSERT_EQ(p.size(), 3u);
    for (const auto& d : p) EXPECT_EQ(d.decision.verdict, Verdict::Allow) << describe(m, d);
    EXPECT_FALSE(any_denied(p));
    EXPECT_EQ(p[0].vm, "web");
    EXPECT_EQ(p[0].act, Act::ReadVolume);
    EXPECT_EQ(p[1].vm, "analyst");
    EXPECT_EQ(p[1].act, Act::ReadVolume);
    EXPECT_EQ(p[2].object, "volume analyst-data");
    EXPECT_EQ(p[2].act, Act::ReadWriteVolume);
}

// Acceptance 10's refused manifest: the analyst asking for read-write on the base volume.
TEST(Plan, AnalystReadWriteOnBaseIsDenied)
{
    std::ifstream f(MOAT_EXAMPLES_DIR "/demo.toml");
    ASSERT_TRUE(f);
    std::stringstream text;
    text << f.rdbuf();
    std::string s = text.str();
    const std::string ro_base = R"(disks     = [{ volume = "base", mode = "ro" }, { volume = "analyst-data")";
    const auto at = s.find(ro_base);
    ASSERT_NE(at, std::string::npos);
    s.replace(at, ro_base.size(), R"(disks     = [{ volume = "base", mode = "rw" }, { volume = "analyst-data")");
    const Manifest m = parsed(s);
    const auto p = plan(m);
    ASSERT_EQ(p.size(), 3u);
    EXPECT_EQ(p[0].decision.verdict, Verdict::Allow);  // web still reads base
    EXPECT_EQ(p[1].vm, "analyst");
    EXPECT_EQ(p[1].object, "volume base");
    EXPECT_EQ(p[1].act, Act::ReadWriteVolume);
    EXPECT_EQ(p[1].decision, (Decision{Verdict::Deny, Rule::ReadWriteLabelsDiffer}));
    EXPECT_EQ(describe(m, p[1]),
              "deny: vm analyst read-write volume base: labels differ (vm secret:finance/untrusted vs volume "
              "public/trusted) [rule ReadWriteLabelsDiffer: read-write attach needs equal labels, and the VM's and "
              "the volume's differ]");
    EXPECT_EQ(p[2].decision.verdict, Verdict::Allow);
    EXPECT_TRUE(any_denied(p));
}

TEST(Plan, ChannelsAfterDisksEachWithItsRule)
{
    std::string text(k_system);
    text += R"(
[[channel]]
from = "analyst"
to   = "auditor"
port = 6379

[[channel]]
from = "web"
to   = "analyst"
port = 5000
kind = "pump"

[[channel]]
from = "analyst"
to   = "web"
port = 5001
kind = "pump"

[[channel]]
from = "web"
to   = "auditor"
port = 7
)";
    const Manifest m = parsed(text);
    const auto p = plan(m);
    ASSERT_EQ(p.size(), 10u);
    auto is = [](const PlannedDecision& d, Act act, Verdict v, Rule r) {
        return d.act == act && d.decision.verdict == v && d.decision.rule == r;
    };
    EXPECT_TRUE(is(p[6], Act::ChannelBothWays, Verdict::Allow, Rule::BothWaysEqualLabels));
    EXPECT_TRUE(is(p[7], Act::ChannelOneWay, Verdict::Allow, Rule::PumpOneWay));
    EXPECT_TRUE(is(p[8], Act::ChannelOneWay, Verdict::Deny, Rule::NoWriteDown));
    EXPECT_TRUE(is(p[9], Act::ChannelBothWays, Verdict::Deny, Rule::BothWaysLabelsDiffer));
    EXPECT_EQ(p[7].vm, "web");
    EXPECT_EQ(p[7].object, "vm analyst port 5000");
    EXPECT_EQ(p[7].line, m.channels[1].line);
    EXPECT_EQ(describe(m, p[6]),
              "allow: vm analyst two-way channel with vm auditor port 6379: labels equal (vm secret:finance/untrusted vs "
              "vm secret:finance/untrusted) [rule BothWaysEqualLabels: two-way channel: both ends have equal labels]");
    EXPECT_TRUE(describe(m, p[8]).starts_with(
        "deny: vm analyst one-way channel to vm web port 5001: write down in secrecy (vm secret:finance/untrusted vs vm "
        "public/untrusted) [rule NoWriteDown: "))
        << describe(m, p[8]);
    EXPECT_TRUE(any_denied(p));
}

TEST(Plan, NetworksAfterEachVmsDisksAndUplinksLast)
{
    std::string text(k_system);
    text += R"(
[network.dmz]
label     = "public"
integrity = "untrusted"
subnet    = "10.77.0.0/24"
uplink    = "eth1"

[network.finance]
label     = "secret:finance"
integrity = "untrusted"
subnet    = "10.78.0.0/24"
uplink    = "eth2"
)";
    // web joins dmz; the analyst joins finance and (denied) dmz.
    text.replace(text.find("disks     = [{ volume = \"base\", mode = \"ro\" }, { volume = \"analyst-data\""), 0,
                 "networks  = [\"dmz\"]\n");
    text.replace(text.find("disks     = [{ volume = \"base\", mode = \"ro\" },\n"), 0,
                 "networks  = [\"finance\", \"dmz\"]\n");
    const Manifest m = parsed(text);
    const auto p = plan(m);
    ASSERT_EQ(p.size(), 11u);
    auto is = [](const PlannedDecision& d, Act act, Verdict v, Rule r) {
        return d.act == act && d.decision.verdict == v && d.decision.rule == r;
    };
    EXPECT_TRUE(is(p[2], Act::NetworkAttach, Verdict::Allow, Rule::NetworkEqualLabels));
    EXPECT_EQ(p[2].vm, "web");
    EXPECT_EQ(p[2].object, "network dmz");
    EXPECT_EQ(p[2].line, m.vms[0].networks[0].line);
    EXPECT_TRUE(is(p[6], Act::NetworkAttach, Verdict::Allow, Rule::NetworkEqualLabels));
    EXPECT_TRUE(is(p[7], Act::NetworkAttach, Verdict::Deny, Rule::NetworkLabelsDiffer));
    EXPECT_EQ(p[7].object, "network dmz");
    EXPECT_TRUE(is(p[9], Act::NetworkUplink, Verdict::Allow, Rule::UplinkLowest));
    EXPECT_TRUE(is(p[10], Act::NetworkUplink, Verdict::Deny, Rule::UplinkNotLowest));
    EXPECT_EQ(describe(m, p[2]),
              "allow: vm web joins network dmz: labels equal (vm public/untrusted vs network public/untrusted) [rule "
              "NetworkEqualLabels: network attach: the VM and the network have equal labels]");
    EXPECT_EQ(describe(m, p[10]),
              "deny: network finance joins the outside world through uplink eth2: not the lowest label (network "
              "secret:finance/untrusted vs outside world public/untrusted) [rule UplinkNotLowest: an uplink joins the "
              "outside world, which has the lowest label, and the network's is above it]");
    EXPECT_EQ(p[10].subject_kind, std::string("network"));
}
