// parse_objects: a lattice and labelled volumes without VMs (moat-oci's policy file).
#include <gtest/gtest.h>

#include "policy/manifest.hpp"

namespace moat::policy {
namespace {

constexpr std::string_view k_objects = R"([lattice]
levels = ["public", "secret"]
integrity = ["untrusted", "trusted"]
[volume.logs]
path = "logs.img"
label = "public"
integrity = "untrusted"
)";

TEST(ManifestObjects, LatticeAndVolumesWithoutVms)
{
    auto r = parse_objects(k_objects, "policy.toml", "/etc/moat");
    ASSERT_TRUE(r) << describe(r.error());
    ASSERT_EQ(r->volumes.size(), 1u);
    EXPECT_EQ(r->volumes[0].name, "logs");
    EXPECT_EQ(r->volumes[0].path.path, "/etc/moat/logs.img");
    EXPECT_TRUE(r->vms.empty());
    EXPECT_EQ(r->lattice.levels(Dimension::Secrecy).size(), 2u);
    // A system manifest still needs its VMs.
    auto m = parse_manifest(k_objects, "policy.toml", "/etc/moat");
    ASSERT_FALSE(m);
    EXPECT_EQ(describe(m.error()), "policy.toml: vm: no VMs declared (add a [vm.NAME] table)");
}

TEST(ManifestObjects, OnlyLatticeAndVolumes)
{
    auto vm = parse_objects(std::string(k_objects) + "[vm.web]\nlabel = \"public\"\n", "policy.toml", "");
    ASSERT_FALSE(vm);
    EXPECT_EQ(describe(vm.error()), "policy.toml:8: vm: unknown key (expected one of: lattice, volume)");
    auto none = parse_objects("[volume.logs]\npath = \"x\"\n", "policy.toml", "");
    ASSERT_FALSE(none);
    EXPECT_EQ(describe(none.error()), "policy.toml: lattice: missing table [lattice]");
    auto bad = parse_objects(std::string(k_objects) + "[volume.x]\npath = \"x\"\nlabel = \"top\"\nintegrity = \"untrusted\"\n",
                             "policy.toml", "");
    ASSERT_FALSE(bad);
    EXPECT_NE(describe(bad.error()).find("policy.toml:10: volume.x.label"), std::string::npos) << describe(bad.error());
}

}  // namespace
}  // namespace moat::policy
