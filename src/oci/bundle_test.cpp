// A bundle's root and mounts sorted for a VM, on real files in a temporary bundle.
#include "oci/bundle.hpp"

#include <gtest/gtest.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

namespace moat::oci {
namespace {

class OciBundle : public ::testing::Test {
protected:
    void SetUp() override
    {
        char dir[] = "/tmp/oci-bundle-XXXXXX";
        ASSERT_NE(::mkdtemp(dir), nullptr);
        bundle = dir;
        std::filesystem::create_directories(bundle + "/rootfs/bin");
        std::filesystem::create_directories(bundle + "/data");
        std::ofstream(bundle + "/hosts") << "127.0.0.1 localhost\n";
        std::ofstream big(bundle + "/big");
        big << std::string(k_max_copied_file + 1, 'x');
    }
    void TearDown() override { std::filesystem::remove_all(bundle); }

    Spec spec_with(std::vector<Mount> mounts, const std::string& root = "rootfs")
    {
        Spec s;
        s.oci_version = "1.0.2";
        s.root_path = root;
        s.process = Process{};
        s.process->args = {"true"};
        s.process->cwd = "/";
        s.mounts = std::move(mounts);
        return s;
    }
    std::string error_of(const Spec& s)
    {
        auto p = plan_bundle(s, bundle);
        return p ? "(planned)" : describe(p.error());
    }

    std::string bundle;
};

TEST_F(OciBundle, SortsWhatAVmCanHave)
{
    const Spec s = spec_with({
        {"/proc", "proc", "proc", {"nosuid"}},
        {"/dev/pts", "devpts", "devpts", {"newinstance"}},
        {"/etc/hosts", "bind", bundle + "/hosts", {"rbind", "rprivate"}},  // rw: a copy
        {"/data", "", bundle + "/data", {"rbind", "ro"}},
    });
    auto p = plan_bundle(s, bundle);
    ASSERT_TRUE(p) << describe(p.error());
    EXPECT_EQ(p->rootfs, bundle + "/rootfs");
    ASSERT_EQ(p->guest_mounts.size(), 2u);
    EXPECT_EQ(p->guest_mounts[1].destination, "/dev/pts");
    ASSERT_EQ(p->files.size(), 1u);
    EXPECT_EQ(p->files[0].source, bundle + "/hosts");
    EXPECT_EQ(p->files[0].destination, "/etc/hosts");
    ASSERT_EQ(p->dirs.size(), 1u);
    EXPECT_EQ(p->dirs[0].destination, "/data");
}

TEST_F(OciBundle, AnAbsoluteRootIsTakenAsItIs)
{
    auto p = plan_bundle(spec_with({}, bundle + "/rootfs"), "/elsewhere");
    ASSERT_TRUE(p);
    EXPECT_EQ(p->rootfs, bundle + "/rootfs");
}

TEST_F(OciBundle, RefusesWhatAVmCannotHave)
{
    EXPECT_EQ(error_of(spec_with({{"/data", "bind", bundle + "/data", {"rbind"}}})),
              "mounts[0] (/data): a read-write bind of a directory needs a file system shared with the host, which "
              "a moat VM does not have: bind it read-only (':ro'), or use a volume");
    EXPECT_EQ(error_of(spec_with({{"/proc", "proc", "proc", {}}, {"/big", "bind", bundle + "/big", {"bind", "ro"}}})),
              "mounts[1] (/big): a bound file is copied into the VM, and '" + bundle + "/big' is over 1 MiB");
    EXPECT_EQ(error_of(spec_with({{"/x", "bind", bundle + "/nosuch", {"bind"}}})),
              "mounts[0] (/x): source '" + bundle + "/nosuch': No such file or directory");
    EXPECT_EQ(error_of(spec_with({{"/x", "bind", "relative", {"bind"}}})),
              "mounts[0] (/x): a bind needs an absolute source");
    EXPECT_EQ(error_of(spec_with({{"/dev/null", "bind", "/dev/null", {"bind"}}})),
              "mounts[0] (/dev/null): '/dev/null' is neither a regular file nor a directory");
    EXPECT_EQ(error_of(spec_with({{"/mnt", "nfs", "server:/x", {}}})),
              "mounts[0] (/mnt): a file system of type 'nfs' cannot be given to a VM (moat-oci takes binds and "
              "proc, sysfs, devpts, tmpfs, mqueue, cgroup)");
    EXPECT_EQ(error_of(spec_with({}, "nosuch")), "root.path '" + bundle + "/nosuch': No such file or directory");
    EXPECT_EQ(error_of(spec_with({}, "hosts")), "root.path '" + bundle + "/hosts': not a directory");
    Spec none = spec_with({});
    none.process.reset();
    EXPECT_EQ(error_of(none), "process: missing (create needs the process to run)");
}

// podman binds an empty tmpfs of its own at /dev/shm, read-write: the guest makes its own.
TEST_F(OciBundle, AnEmptyTmpfsAtDevShmBecomesTheGuestsOwn)
{
    struct statfs fs {};
    ASSERT_EQ(::statfs("/dev/shm", &fs), 0) << "the host's /dev/shm: " << std::strerror(errno);
    ASSERT_EQ(fs.f_type, static_cast<decltype(fs.f_type)>(TMPFS_MAGIC)) << "this test needs /dev/shm to be a tmpfs";
    char dir[] = "/dev/shm/oci-shm-XXXXXX";
    ASSERT_NE(::mkdtemp(dir), nullptr);
    ::chmod(dir, 01777);
    const Mount shm{"/dev/shm", "bind", dir, {"bind", "rprivate", "nosuid", "noexec", "nodev"}};
    auto p = plan_bundle(spec_with({shm}), bundle);
    ASSERT_TRUE(p) << describe(p.error());
    ASSERT_EQ(p->guest_mounts.size(), 1u);
    const Mount& m = p->guest_mounts[0];
    EXPECT_EQ(m.type, "tmpfs");
    EXPECT_EQ(m.destination, "/dev/shm");
    EXPECT_EQ(m.options, (std::vector<std::string>{
                             "size=" + std::to_string(static_cast<std::uint64_t>(fs.f_blocks) * static_cast<std::uint64_t>(fs.f_bsize)),
                             "mode=1777", "nosuid", "noexec", "nodev"}));
    EXPECT_TRUE(p->dirs.empty());

    // Not empty: its content would be lost, so it is refused like any read-write directory.
    std::ofstream(std::string(dir) + "/x") << "x";
    EXPECT_NE(error_of(spec_with({shm})).find("a read-write bind of a directory"), std::string::npos);
    std::filesystem::remove_all(dir);
    // An empty directory that is not a tmpfs, or a tmpfs elsewhere, is refused too.
    EXPECT_NE(error_of(spec_with({{"/dev/shm", "bind", bundle + "/data", {"bind"}}})).find("read-write bind"),
              std::string::npos);
    char other[] = "/dev/shm/oci-shm-XXXXXX";
    ASSERT_NE(::mkdtemp(other), nullptr);
    EXPECT_NE(error_of(spec_with({{"/data", "bind", other, {"bind"}}})).find("read-write bind"), std::string::npos);
    std::filesystem::remove_all(other);
}

}  // namespace
}  // namespace moat::oci
