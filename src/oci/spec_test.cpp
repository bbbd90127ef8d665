// config.json: what is taken, what is mapped, what is ignored, and every way it is refused.
#include "oci/spec.hpp"

#include <gtest/gtest.h>

#include <string>

namespace moat::oci {
namespace {

// A config as podman 4.3 writes one (trimmed), with `extra` spliced into its top level.
std::string config(const std::string& process = R"({"terminal": false, "user": {"uid": 0, "gid": 0},
    "args": ["echo", "hello"], "env": ["PATH=/usr/bin:/bin", "TERM=xterm"], "cwd": "/"})",
                   const std::string& extra = "")
{
    return R"({"ociVersion": "1.0.2-dev", "root": {"path": "/var/lib/containers/merged"},)" +
           std::string(R"("process": )") + process + (extra.empty() ? "" : ", " + extra) + "}";
}

std::string error_of(const std::string& json)
{
    auto s = parse_spec(json);
    if (s) return "(parsed)";
    EXPECT_EQ(s.error().code, Errc::InvalidInput);
    return s.error().context;
}

TEST(OciSpec, TakesAPodmanConfig)
{
    const std::string process = R"({"terminal": true, "consoleSize": {"height": 24, "width": 80},
        "user": {"uid": 1000, "gid": 1000, "umask": 18, "additionalGids": [10, 20]},
        "args": ["sh", "-c", "exit 3"], "env": ["PATH=/bin", "A=b=c"], "cwd": "/work",
        "capabilities": {"bounding": ["CAP_CHOWN"], "effective": ["CAP_CHOWN"], "permitted": ["CAP_CHOWN"]},
        "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1048576, "soft": 1024},
                    {"type": "RLIMIT_NPROC", "hard": 18446744073709551615, "soft": 4096}],
        "noNewPrivileges": true, "apparmorProfile": "containers-default-0.50.1"})";
    const std::string extra = R"("hostname": "c1", "annotations": {"moat.label": "secret", "io.podman.x": "1"},
        "mounts": [{"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid"]},
                   {"destination": "/data", "type": "bind", "source": "/srv/data", "options": ["rbind", "ro"]}],
        "linux": {"resources": {"memory": {"limit": 536870912}, "cpu": {"quota": 150000, "period": 100000},
                                "pids": {"limit": 2048}},
                  "namespaces": [{"type": "pid"}, {"type": "network", "path": "/proc/1/ns/net"}],
                  "seccomp": {"defaultAction": "SCMP_ACT_ERRNO"}, "maskedPaths": ["/proc/kcore"]})";
    auto s = parse_spec(config(process, extra));
    ASSERT_TRUE(s) << s.error().context;
    EXPECT_EQ(s->root_path, "/var/lib/containers/merged");
    ASSERT_TRUE(s->process);
    const Process& p = *s->process;
    EXPECT_TRUE(p.terminal);
    EXPECT_EQ(p.console_height, 24u);
    EXPECT_EQ(p.args, (std::vector<std::string>{"sh", "-c", "exit 3"}));
    EXPECT_EQ(p.env[1], "A=b=c");
    EXPECT_EQ(p.cwd, "/work");
    EXPECT_EQ(p.user.uid, 1000u);
    EXPECT_EQ(p.user.umask, 022u);
    EXPECT_EQ(p.user.additional_gids, (std::vector<std::uint32_t>{10, 20}));
    ASSERT_EQ(p.rlimits.size(), 2u);
    EXPECT_EQ(p.rlimits[1].hard, UINT64_MAX);
    ASSERT_TRUE(p.capabilities);
    EXPECT_EQ(p.capabilities->bounding, (std::vector<std::string>{"CAP_CHOWN"}));
    EXPECT_TRUE(p.capabilities->ambient.empty());
    EXPECT_TRUE(p.no_new_privileges);
    EXPECT_EQ(s->hostname, "c1");
    EXPECT_EQ(s->annotations.at("moat.label"), "secret");
    ASSERT_EQ(s->mounts.size(), 2u);
    EXPECT_FALSE(s->mounts[0].is_bind());
    EXPECT_TRUE(s->mounts[1].is_bind());
    EXPECT_TRUE(s->mounts[1].is_read_only());
    EXPECT_EQ(s->memory_limit, 536870912);
    const Size z = guest_size(*s, 256u << 20, 128u << 20, 8);
    EXPECT_EQ(z.memory, 536870912u);
    EXPECT_EQ(z.vcpus, 2u);  // 1.5 CPUs of quota: two vCPUs
    EXPECT_EQ(s->ignored, (std::vector<std::string>{"process.apparmorProfile", "linux.maskedPaths",
                                                    "linux.namespaces", "linux.seccomp", "linux.resources.pids"}));
}

TEST(OciSpec, SizeWithoutLimitsIsTheDefault)
{
    auto s = parse_spec(config());
    ASSERT_TRUE(s);
    const Size z = guest_size(*s, 256u << 20, 128u << 20, 8);
    EXPECT_EQ(z.memory, 256u << 20);
    EXPECT_EQ(z.vcpus, 1u);
    s = parse_spec(config(R"({"user": {"uid": 0, "gid": 0}, "args": ["true"], "cwd": "/"})",
                          R"("linux": {"resources": {"memory": {"limit": 1048576}, "cpu": {"quota": -1, "period": 100000}}})"));
    ASSERT_TRUE(s) << s.error().context;
    const Size small = guest_size(*s, 256u << 20, 128u << 20, 8);
    EXPECT_EQ(small.memory, 128u << 20) << "a limit below what a guest needs is raised to the minimum";
    EXPECT_EQ(small.vcpus, 1u) << "quota -1 is no limit";
    s = parse_spec(config(R"({"user": {"uid": 0, "gid": 0}, "args": ["true"], "cwd": "/"})",
                          R"("linux": {"resources": {"cpu": {"quota": 6400000, "period": 100000}}})"));
    ASSERT_TRUE(s);
    EXPECT_EQ(guest_size(*s, 256u << 20, 128u << 20, 8).vcpus, 8u) << "at most max_vcpus";
}

TEST(OciSpec, ProcessIsOptionalUntilCreate)
{
    auto s = parse_spec(R"({"ociVersion": "1.1.0", "root": {"path": "rootfs", "readonly": true}})");
    ASSERT_TRUE(s);
    EXPECT_FALSE(s->process);
    EXPECT_TRUE(s->root_readonly);
}

TEST(OciSpec, RefusesMalformedDocuments)
{
    EXPECT_EQ(error_of("{"), "config.json: not valid JSON");
    EXPECT_EQ(error_of("[]"), "config.json: must be a JSON object");
    EXPECT_EQ(error_of(R"({"root": {"path": "r"}})"), "ociVersion: missing");
    EXPECT_EQ(error_of(R"({"ociVersion": 1, "root": {"path": "r"}})"), "ociVersion: must be a string");
    EXPECT_EQ(error_of(R"({"ociVersion": "0.9", "root": {"path": "r"}})"), "ociVersion: '0.9' is not a 1.x version");
    EXPECT_EQ(error_of(R"({"ociVersion": "1.0.0"})"), "root: missing");
    EXPECT_EQ(error_of(R"({"ociVersion": "1.0.0", "root": "r"})"), "root: must be an object");
    EXPECT_EQ(error_of(R"({"ociVersion": "1.0.0", "root": {"path": ""}})"), "root.path: must not be empty");
    EXPECT_EQ(error_of(R"({"ociVersion": "1.0.0", "root": {"path": "r", "readonly": "yes"}})"),
              "root.readonly: must be true or false");
    EXPECT_EQ(error_of(std::string(k_max_config_bytes + 1, ' ')), "config.json: larger than 1 MiB");
}

TEST(OciSpec, RefusesBadProcesses)
{
    const std::string user = R"("user": {"uid": 0, "gid": 0})";
    auto proc = [&](const std::string& body) { return error_of(config("{" + body + "}")); };
    EXPECT_EQ(proc(user + R"(, "args": [], "cwd": "/")"), "process.args: must be a non-empty array of strings");
    EXPECT_EQ(proc(user + R"(, "args": [""], "cwd": "/")"), "process.args: must be a non-empty array of strings");
    EXPECT_EQ(proc(user + R"(, "args": ["a", 1], "cwd": "/")"), "process.args: must be an array of strings");
    EXPECT_EQ(proc(user + R"(, "args": ["a"])"), "process.cwd: missing");
    EXPECT_EQ(proc(user + R"(, "args": ["a"], "cwd": "work")"), "process.cwd: must be an absolute path");
    EXPECT_EQ(proc(user + R"(, "args": ["a"], "cwd": "/", "env": ["NOEQUALS"])"), "process.env: 'NOEQUALS' is not NAME=VALUE");
    EXPECT_EQ(proc(user + R"(, "args": ["a"], "cwd": "/", "env": ["=x"])"), "process.env: '=x' is not NAME=VALUE");
    EXPECT_EQ(proc(R"("args": ["a"], "cwd": "/")"), "process.user: missing");
    EXPECT_EQ(proc(R"("user": {"gid": 0}, "args": ["a"], "cwd": "/")"), "process.user.uid: missing");
    EXPECT_EQ(proc(R"("user": {"uid": -1, "gid": 0}, "args": ["a"], "cwd": "/")"),
              "process.user.uid: must be an integer from 0 to 4294967295");
    EXPECT_EQ(proc(R"("user": {"uid": 4294967296, "gid": 0}, "args": ["a"], "cwd": "/")"),
              "process.user.uid: must be an integer from 0 to 4294967295");
    EXPECT_EQ(proc(R"("user": {"uid": 0, "gid": 0, "umask": 512}, "args": ["a"], "cwd": "/")"),
              "process.user.umask: must be an integer from 0 to 511");
    EXPECT_EQ(proc(R"("user": {"uid": 0, "gid": 0, "additionalGids": [-3]}, "args": ["a"], "cwd": "/")"),
              "process.user.additionalGids: must be an array of group ids");
    EXPECT_EQ(proc(R"("user": {"uid": 0, "gid": 0, "username": "root"}, "args": ["a"], "cwd": "/")"),
              "process.user.username: is for Windows; give uid and gid");
    EXPECT_EQ(proc(user + R"(, "args": ["a"], "cwd": "/", "terminal": 1)"), "process.terminal: must be true or false");
    EXPECT_EQ(proc(user + R"(, "args": ["a"], "cwd": "/", "consoleSize": {"height": 24})"),
              "process.consoleSize: needs height and width");
}

TEST(OciSpec, RefusesBadLimitsAndCapabilities)
{
    auto with = [](const std::string& more) {
        return error_of(config(R"({"user": {"uid": 0, "gid": 0}, "args": ["a"], "cwd": "/", )" + more + "}"));
    };
    EXPECT_EQ(with(R"("rlimits": {})"), "process.rlimits: must be an array");
    EXPECT_EQ(with(R"("rlimits": [{"type": "NOFILE", "soft": 1, "hard": 1}])"),
              "process.rlimits[0].type: must name an RLIMIT_ resource");
    EXPECT_EQ(with(R"("rlimits": [{"type": "RLIMIT_NOFILE", "soft": -1, "hard": 1}])"),
              "process.rlimits[0].soft: must be an unsigned integer");
    EXPECT_EQ(with(R"("rlimits": [{"type": "RLIMIT_NOFILE", "soft": 1}])"),
              "process.rlimits[0].hard: must be an unsigned integer");
    EXPECT_EQ(with(R"("rlimits": [{"type": "RLIMIT_NOFILE", "soft": 2, "hard": 1}])"),
              "process.rlimits[0]: soft limit above the hard one");
    EXPECT_EQ(with(R"("rlimits": [{"type": "RLIMIT_NOFILE", "soft": 1, "hard": 1},
                                  {"type": "RLIMIT_NOFILE", "soft": 1, "hard": 1}])"),
              "process.rlimits[1].type: RLIMIT_NOFILE given twice");
    EXPECT_EQ(with(R"("capabilities": [])"), "process.capabilities: must be an object");
    EXPECT_EQ(with(R"("capabilities": {"bounding": ["chown"]})"), "process.capabilities: 'chown' is not a CAP_ name");
    EXPECT_EQ(with(R"("noNewPrivileges": "yes")"), "process.noNewPrivileges: must be true or false");
}

TEST(OciSpec, RefusesBadMountsAnnotationsAndResources)
{
    auto top = [](const std::string& extra) {
        return error_of(config(R"({"user": {"uid": 0, "gid": 0}, "args": ["a"], "cwd": "/"})", extra));
    };
    EXPECT_EQ(top(R"("mounts": {})"), "mounts: must be an array");
    EXPECT_EQ(top(R"("mounts": [{"type": "proc"}])"), "mounts[0].destination: missing");
    EXPECT_EQ(top(R"("mounts": [{"destination": "proc"}])"), "mounts[0].destination: must be an absolute path");
    EXPECT_EQ(top(R"("mounts": [{"destination": "/x", "options": "ro"}])"), "mounts[0].options: must be an array of strings");
    EXPECT_EQ(top(R"("annotations": {"a": 1})"), "annotations.a: must be a string");
    EXPECT_EQ(top(R"("linux": {"resources": {"memory": {"limit": "1G"}}})"),
              "linux.resources.memory.limit: must be an integer from -1 to 9223372036854775807");
    EXPECT_EQ(top(R"("linux": {"resources": {"cpu": {"period": -5}}})"),
              "linux.resources.cpu.period: must be an integer from 0 to 9223372036854775807");
    EXPECT_EQ(top(R"("linux": {"resources": []})"), "linux.resources: must be an object");
}

}  // namespace
}  // namespace moat::oci
