// Labelled containers: annotations, and volumes decided and recorded as a system's VMs are.
#include "oci/labels.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/xattr.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "monitor/audit_verify.hpp"
#include "monitor/testing/xattr_temp_dir.hpp"

namespace moat::oci {
namespace {

class OciLabels : public ::testing::Test {
protected:
    void SetUp() override
    {
        ASSERT_NO_FATAL_FAILURE(tmp.create("oci-labels"));
        bundle = tmp.dir();
        std::filesystem::create_directories(bundle + "/rootfs");
        volume("logs.img", "public", "untrusted");
        volume("stale.img", "secret", "untrusted");  // the policy says public
        std::ofstream(tmp.path("policy.toml")) << R"([lattice]
levels = ["public", "secret"]
integrity = ["untrusted", "trusted"]
[volume.logs]
path = "logs.img"
label = "public"
integrity = "untrusted"
[volume.stale]
path = "stale.img"
label = "public"
integrity = "untrusted"
)";
        settings.policy = tmp.path("policy.toml");
        settings.audit = tmp.path("audit.log");
        auto p = load_policy(settings);
        ASSERT_TRUE(p) << describe(p.error());
        objects = std::move(*p);
    }

    void volume(const char* name, const char* label, const char* integrity)
    {
        const std::string path = tmp.path(name);
        std::ofstream(path) << std::string(4096, '\0');
        ASSERT_EQ(::setxattr(path.c_str(), "user.moat.label", label, std::strlen(label), 0), 0);
        ASSERT_EQ(::setxattr(path.c_str(), "user.moat.integrity", integrity, std::strlen(integrity), 0), 0);
    }

    // A container labelled by annotations with `label`, binding `vol` at /data (ro or rw).
    Spec container(const std::string& label, const char* vol, bool read_only)
    {
        Spec s;
        s.oci_version = "1.0.2";
        s.root_path = "rootfs";
        s.process = Process{};
        s.process->args = {"true"};
        s.process->cwd = "/";
        if (!label.empty()) s.annotations[k_label_annotation] = label;
        std::vector<std::string> options = {"rbind"};
        if (read_only) options.push_back("ro");
        s.mounts.push_back({"/data", "bind", tmp.path(vol), options});
        return s;
    }

    // Admits the container; the error's text, or "" when admitted (the admission kept in `held`).
    std::string admit_error(const std::string& id, const Spec& s)
    {
        auto plan = plan_bundle(s, bundle, volume_paths(objects));
        if (!plan) return "plan: " + describe(plan.error());
        auto label = container_label(objects, s);
        if (!label) return "label: " + describe(label.error());
        auto a = admit(*objects, settings.audit, id, *label, s, *plan);
        if (!a) return describe(a.error());
        held.push_back(std::move(*a));
        return "";
    }

    std::string audit_text()
    {
        std::stringstream ss;
        ss << std::ifstream(settings.audit).rdbuf();
        return ss.str();
    }

    monitor::testing::XattrTempDir tmp;
    std::string bundle;
    Settings settings;
    std::optional<policy::Manifest> objects;
    std::vector<Admission> held;
};

TEST_F(OciLabels, ContainerLabelFromAnnotations)
{
    auto lowest = container_label(objects, container("", "logs.img", true));
    ASSERT_TRUE(lowest);
    EXPECT_EQ(policy::format_label(objects->lattice, *lowest), "public/untrusted");
    Spec s = container("secret", "logs.img", true);
    s.annotations[k_integrity_annotation] = "trusted";
    auto both = container_label(objects, s);
    ASSERT_TRUE(both);
    EXPECT_EQ(policy::format_label(objects->lattice, *both), "secret/trusted");

    auto bad = container_label(objects, container("top-secret", "logs.img", true));
    ASSERT_FALSE(bad);
    EXPECT_NE(describe(bad.error()).find("annotations: moat.label 'top-secret'"), std::string::npos)
        << describe(bad.error());
    // Without a policy there is no lattice to read a label in: refused, not ignored.
    auto none = container_label(std::nullopt, container("secret", "logs.img", true));
    ASSERT_FALSE(none);
    EXPECT_EQ(describe(none.error()), "annotations: moat.label needs a policy, and oci.toml names none (key: policy)");
    EXPECT_TRUE(container_label(std::nullopt, container("", "logs.img", true)));
}

TEST_F(OciLabels, ASecretContainerCannotWriteAPublicVolume)
{
    const std::string e = admit_error("c1", container("secret", "logs.img", false));
    EXPECT_NE(e.find("mounts[0] (/data): deny: container c1 read-write volume logs"), std::string::npos) << e;
    EXPECT_NE(e.find("secret/untrusted"), std::string::npos) << e;
    EXPECT_NE(e.find("ReadWriteLabelsDiffer"), std::string::npos) << e;
    const std::string log = audit_text();
    EXPECT_NE(log.find(R"("event":"container.create","container":"c1","label":"secret/untrusted")"), std::string::npos) << log;
    EXPECT_NE(log.find(R"("decision":"deny","rule":"ReadWriteLabelsDiffer")"), std::string::npos) << log;
    EXPECT_TRUE(monitor::verify_audit(log).ok);
}

TEST_F(OciLabels, ReadDownAndEqualLabelsAreAllowed)
{
    EXPECT_EQ(admit_error("reader", container("secret", "logs.img", true)), "");
    ASSERT_EQ(held.size(), 1u);
    ASSERT_EQ(held[0].volumes.size(), 1u);
    EXPECT_TRUE(held[0].volumes[0].valid());
    EXPECT_EQ(::fcntl(held[0].volumes[0].get(), F_GETFL) & O_ACCMODE, O_RDONLY);  // attached read-only
    // A reader holds it: no writer while it runs.
    const std::string busy = admit_error("writer", container("public", "logs.img", false));
    EXPECT_NE(busy.find("volume logs is in use by another VM"), std::string::npos) << busy;
    held.clear();
    EXPECT_EQ(admit_error("writer", container("public", "logs.img", false)), "");
    EXPECT_EQ(::fcntl(held[0].volumes[0].get(), F_GETFL) & O_ACCMODE, O_RDWR);  // attached read-write
    const std::string log = audit_text();
    EXPECT_NE(log.find(R"("decision":"allow","rule":"ReadDown")"), std::string::npos) << log;
    EXPECT_NE(log.find(R"("decision":"allow","rule":"ReadWriteEqualLabels")"), std::string::npos) << log;
    const auto report = monitor::verify_audit(log);
    EXPECT_TRUE(report.ok) << report.why;
    EXPECT_EQ(report.records, 9u);  // create, label, decision: three times (one refused by the lock)
}

TEST_F(OciLabels, AStoredLabelThatDiffersIsRefused)
{
    const std::string e = admit_error("c2", container("", "stale.img", true));
    EXPECT_NE(e.find("volume stale ('" + tmp.path("stale.img") + "') is stored as 'secret/untrusted'"), std::string::npos) << e;
    EXPECT_NE(audit_text().find(R"("result":"differs")"), std::string::npos);
}

TEST_F(OciLabels, AnUndeclaredVolumeIsNeitherCopiedNorAttached)
{
    volume("other.img", "public", "untrusted");
    const std::string e = admit_error("c3", container("", "other.img", true));
    EXPECT_EQ(e, "plan: mounts[0] (/data): '" + tmp.path("other.img") +
                     "' is a moat volume that the policy does not declare (oci.toml: policy)");
}

TEST_F(OciLabels, PolicyAndAuditGoTogether)
{
    auto only = parse_settings("policy = \"/etc/moat/p.toml\"\n", "oci.toml", Settings{});
    ASSERT_FALSE(only);
    EXPECT_EQ(describe(only.error()), "oci.toml: policy and audit go together (every decision is recorded)");
    auto bad = load_policy([&] {
        Settings s = settings;
        std::ofstream(tmp.path("bad.toml")) << "[lattice]\nlevels = [\"a\"]\nintegrity = [\"b\"]\n[vm.x]\n";
        s.policy = tmp.path("bad.toml");
        return s;
    }());
    ASSERT_FALSE(bad);
    EXPECT_NE(describe(bad.error()).find("bad.toml:4: vm: unknown key (expected one of: lattice, volume)"), std::string::npos)
        << describe(bad.error());
}

}  // namespace
}  // namespace moat::oci
