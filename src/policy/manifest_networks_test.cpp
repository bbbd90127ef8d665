// The manifest's networks: [network.NAME], a VM's `networks`, the addresses and MACs given, and
// every error naming its line and key.
#include <gtest/gtest.h>

#include <string>

#include "policy/manifest.hpp"

using namespace moat;
using namespace moat::policy;

namespace {

// Lines 1-4: a lattice; lines 5-9: a network; a VM from line 10 on.
constexpr std::string_view k_prefix = R"([lattice]
levels = ["public", "secret"]
categories = ["finance"]
integrity = ["untrusted", "trusted"]
[network.dmz]
label = "public"
integrity = "untrusted"
subnet = "10.77.0.0/24"
host = "10.77.0.1"
)";

std::string vm(std::string_view name, std::string_view networks, std::string_view label = "public")
{
    return "[vm." + std::string(name) + "]\nlabel = \"" + std::string(label) +
           "\"\nintegrity = \"untrusted\"\nkernel = \"vmlinuz\"\nnetworks = " + std::string(networks) + "\n";
}

Result<Manifest> parse(const std::string& text) { return parse_manifest(text, "net.toml", "/sys"); }

std::string error_of(const std::string& text)
{
    auto r = parse(text);
    EXPECT_FALSE(r.has_value()) << text;
    if (r.has_value()) return "(parsed)";
    EXPECT_EQ(r.error().code, Errc::InvalidInput);
    return describe(r.error());
}

}  // namespace

TEST(ManifestNetworks, ParsedWithAddressesAndMacs)
{
    const std::string text = std::string(k_prefix) + R"([network.lab]
label = "secret:finance"
integrity = "untrusted"
subnet = "10.78.0.0/29"
)" + vm("web", R"(["dmz"])") + vm("db", R"(["dmz"])") +
                             vm("analyst", R"(["lab"])", "secret:finance");
    auto r = parse(text);
    ASSERT_TRUE(r.has_value()) << describe(r.error());
    const Manifest& m = *r;
    ASSERT_EQ(m.networks.size(), 2u);
    const NetworkSpec& dmz = m.networks[0];
    EXPECT_EQ(dmz.name, "dmz");
    EXPECT_EQ(dmz.subnet.base, 0x0a4d0000u);
    EXPECT_EQ(dmz.subnet.prefix, 24u);
    EXPECT_EQ(dmz.host, 0x0a4d0001u);
    EXPECT_FALSE(dmz.uplink.has_value());
    EXPECT_EQ(dmz.line, 5u);
    EXPECT_FALSE(m.networks[1].host.has_value());
    ASSERT_EQ(m.vms[0].networks.size(), 1u);
    EXPECT_EQ(m.vms[0].networks[0].network, "dmz");
    EXPECT_EQ(m.vms[0].networks[0].address, 0x0a4d0002u) << "past the host's address";
    EXPECT_EQ(m.vms[1].networks[0].address, 0x0a4d0003u);
    EXPECT_EQ(m.vms[2].networks[0].address, 0x0a4e0001u) << "no host: the first address";
    EXPECT_EQ(m.vms[0].networks[0].mac[0], 0x02) << "locally administered";
    EXPECT_NE(m.vms[0].networks[0].mac, m.vms[1].networks[0].mac);
    // The same manifest gives the same addresses and MACs.
    auto again = parse(text);
    ASSERT_TRUE(again.has_value());
    EXPECT_EQ(again->vms[1].networks[0].mac, m.vms[1].networks[0].mac);
    EXPECT_NE(m.find_network("lab"), nullptr);
    EXPECT_EQ(m.find_network("web"), nullptr);
}

TEST(ManifestNetworks, Uplink)
{
    auto r = parse(std::string(k_prefix) + "uplink = \"eth1\"\n" + vm("web", R"(["dmz"])"));
    ASSERT_TRUE(r.has_value()) << describe(r.error());
    EXPECT_EQ(r->networks[0].uplink, "eth1");
    EXPECT_EQ(r->networks[0].uplink_line, 10u);
}

TEST(ManifestNetworks, Errors)
{
    const std::string p(k_prefix);
    const std::string web = vm("web", R"(["dmz"])");
    EXPECT_EQ(error_of(p + "mtu = 9000\n" + web),
              "net.toml:10: network.dmz.mtu: unknown key (expected one of: label, integrity, subnet, host, uplink)");
    EXPECT_EQ(error_of(p + "[network.Lab]\n" + web),
              "net.toml:10: network.Lab: bad network name (use 1 to 32 of a-z 0-9 _ -, a-z or 0-9 first)");
    EXPECT_EQ(error_of(p + "[network.x]\nlabel = \"public\"\nintegrity = \"untrusted\"\n" + web),
              "net.toml:10: network.x.subnet: missing (its IPv4 subnet, e.g. \"10.77.0.0/24\")");
    EXPECT_EQ(error_of(p + "[network.x]\nsubnet = \"10.1.0.0/24\"\nintegrity = \"untrusted\"\n" + web),
              "net.toml:10: network.x.label: missing (the network's secrecy, e.g. \"public\")");
    EXPECT_EQ(error_of(p + "[network.x]\nlabel = \"public\"\nintegrity = \"untrusted\"\nsubnet = \"10.1.0.1/24\"\n" + web),
              "net.toml:13: network.x.subnet: bad subnet '10.1.0.1/24': host bits are set (the network's own "
              "address ends in zeros) (e.g. \"10.77.0.0/24\")");
    EXPECT_EQ(error_of(p + "[network.x]\nlabel = \"public\"\nintegrity = \"untrusted\"\nsubnet = \"10.1.0.0/31\"\n" + web),
              "net.toml:13: network.x.subnet: '10.1.0.0/31': the prefix length must be 8 to 30");
    EXPECT_EQ(error_of(p + "[network.x]\nlabel = \"public\"\nintegrity = \"untrusted\"\nsubnet = \"10.77.0.0/16\"\n" + web),
              "net.toml:13: network.x.subnet: overlaps network dmz's subnet (line 8)");
    EXPECT_EQ(error_of(p + "[network.x]\nlabel = \"public\"\nintegrity = \"untrusted\"\nsubnet = \"10.1.0.0/24\"\n"
                           "host = \"10.1.0.255\"\n" + web),
              "net.toml:14: network.x.host: 10.1.0.255 is not a host address of 10.1.0.0/24");
    EXPECT_EQ(error_of(p + "host2 = 1\n" + web).substr(0, 33), "net.toml:10: network.dmz.host2: u");
    EXPECT_EQ(error_of(p + "uplink = \"eth/1\"\n" + web),
              "net.toml:10: network.dmz.uplink: bad interface name 'eth/1': only letters, digits and '-', '_', '.' "
              "may be in it");
    EXPECT_EQ(error_of(p + "[network.x]\nlabel = \"public\"\nintegrity = \"vip\"\nsubnet = \"10.1.0.0/24\"\n" + web),
              "net.toml:12: network.x.integrity: 'vip': label names an unknown level (declared in lattice.integrity)");
    EXPECT_EQ(error_of(p + vm("web", R"(["lan"])")), "net.toml:14: vm.web.networks[0]: no network named 'lan'");
    EXPECT_EQ(error_of(p + vm("web", R"(["dmz", "dmz"])")),
              "net.toml:14: vm.web.networks[1]: network 'dmz' is already joined as vm.web.networks[0]");
    EXPECT_EQ(error_of(p + vm("web", R"("dmz")")),
              "net.toml:14: vm.web.networks: expected an array of network names, found a string");
    EXPECT_EQ(error_of(p + vm("dmz", R"([])")),
              "net.toml:10: vm.dmz: name 'dmz' is already used by a network (line 5); VM and network names must differ");
    // A /30 has two host addresses; the host takes one.
    std::string small = "[lattice]\nlevels = [\"public\"]\nintegrity = [\"untrusted\"]\n[network.tiny]\nlabel = \"public\"\n"
                        "integrity = \"untrusted\"\nsubnet = \"10.9.0.0/30\"\nhost = \"10.9.0.1\"\n";
    EXPECT_TRUE(parse(small + vm("a", R"(["tiny"])")).has_value());
    EXPECT_EQ(error_of(small + vm("a", R"(["tiny"])") + vm("b", R"(["tiny"])")),
              "net.toml:18: vm.b.networks: network tiny's subnet 10.9.0.0/30 has no address left for this VM");
}
