// The records moat-init reads: every setting in its place, NUL bytes refused, the files copied.
#include "oci/guest_config.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace moat::oci {
namespace {

// The records split at their NULs.
std::vector<std::string> fields(const std::string& config)
{
    std::vector<std::string> out;
    std::string cur;
    for (char c : config) {
        if (c == '\0') {
            out.push_back(cur);
            cur.clear();
        } else {
            cur.push_back(c);
        }
    }
    EXPECT_TRUE(cur.empty()) << "every field ends with a NUL";
    return out;
}

Spec sample()
{
    auto s = parse_spec(R"({"ociVersion": "1.0.2", "root": {"path": "rootfs", "readonly": true}, "hostname": "c1",
        "process": {"terminal": true, "user": {"uid": 1000, "gid": 100, "umask": 18, "additionalGids": [10]},
                    "args": ["sh", "-c", "echo a b"], "env": ["PATH=/bin", "X=1=2"], "cwd": "/w",
                    "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 4096}],
                    "capabilities": {"bounding": ["CAP_CHOWN"], "effective": []},
                    "noNewPrivileges": true}})");
    EXPECT_TRUE(s);
    return *s;
}

TEST(OciGuestConfig, EveryRecordInItsPlace)
{
    Plan plan;
    plan.guest_mounts.push_back({"/proc", "proc", "proc", {"nosuid", "noexec"}});
    plan.files.push_back({"/host/hosts", "/etc/hosts"});
    plan.dirs.push_back({"/host/data", "/data"});
    plan.dirs.push_back({"/host/more", "/srv/more"});
    plan.volumes.push_back({0, "/logs", false, 4});
    plan.volumes.push_back({1, "/base", true, 5});
    auto c = encode_guest_config(sample(), plan);
    ASSERT_TRUE(c) << describe(c.error());
    const std::vector<std::string> want = {
        "arg", "sh", "arg", "-c", "arg", "echo a b", "env", "PATH=/bin", "env", "X=1=2", "cwd", "/w",
        "uid", "1000", "gid", "100", "group", "10", "umask", "18", "rlimit", "RLIMIT_NOFILE", "1024", "4096",
        "terminal", "1", "nnp", "1", "caps", "1", "cap", "bounding", "CAP_CHOWN",
        "hostname", "c1", "readonly", "1",
        "mount", "proc", "proc", "/proc", "nosuid,noexec",
        "bind", "/dev/vdb", "/data", "bind", "/dev/vdc", "/srv/more",
        "volume", "/dev/vdd", "/logs", "rw", "volume", "/dev/vde", "/base", "ro",
        "file", "/moat/files/0", "/etc/hosts"};
    EXPECT_EQ(fields(*c), want);

    // The disks run out at vdy.
    plan.dirs.assign(k_max_bound_dirs - 1, {"/host/data", "/data"});
    auto many = encode_guest_config(sample(), plan);
    ASSERT_FALSE(many);
    EXPECT_NE(describe(many.error()).find("more than 24"), std::string::npos) << describe(many.error());
}

TEST(OciGuestConfig, RefusesNulBytes)
{
    Spec s = sample();
    s.process->args[1] = std::string("a\0b", 3);
    auto c = encode_guest_config(s, Plan{});
    ASSERT_FALSE(c);
    EXPECT_EQ(describe(c.error()), "process.args[1]: holds a NUL byte");
    s = sample();
    s.process->env[0] = std::string("A=\0", 3);
    EXPECT_EQ(describe(encode_guest_config(s, Plan{}).error()), "process.env[0]: holds a NUL byte");
    s = sample();
    s.process.reset();
    EXPECT_FALSE(encode_guest_config(s, Plan{}));
}

TEST(OciGuestConfig, TheArchiveCarriesTheFiles)
{
    char dir[] = "/tmp/oci-gc-XXXXXX";
    ASSERT_NE(::mkdtemp(dir), nullptr);
    const std::string d = dir;
    std::ofstream(d + "/hosts") << "10.0.0.1 db\n";
    Plan plan;
    plan.files.push_back({d + "/hosts", "/etc/hosts"});
    auto a = guest_archive(sample(), plan);
    ASSERT_TRUE(a) << describe(a.error());
    std::ofstream(d + "/a.cpio", std::ios::binary) << *a;
    ASSERT_EQ(std::system(("cd " + d + " && cpio --quiet -id < a.cpio").c_str()), 0);
    std::ifstream f(d + "/moat/files/0");
    std::string line;
    std::getline(f, line);
    EXPECT_EQ(line, "10.0.0.1 db");
    EXPECT_TRUE(std::filesystem::exists(d + "/moat/config"));
    plan.files.push_back({d + "/gone", "/etc/resolv.conf"});
    auto missing = guest_archive(sample(), plan);
    ASSERT_FALSE(missing);
    EXPECT_NE(describe(missing.error()).find(d + "/gone"), std::string::npos);
    std::filesystem::remove_all(d);
}

}  // namespace
}  // namespace moat::oci
