// Manifest parsing: the DESIGN.md example and the demo system to the right model, defaults,
// path resolution, and every error naming the right key and line.
#include "policy/manifest.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "policy/test_lattices.hpp"

using namespace moat;
using namespace moat::policy;
using namespace moat::policy::testing;

namespace {

// DESIGN.md "Manifest".
constexpr std::string_view k_design_example = R"(
[lattice]
levels     = ["public", "internal", "secret"]        # low → high
categories = ["finance", "hr"]
integrity  = ["untrusted", "trusted"]               # low → high

[volume.base]
path      = "images/base.img"
label     = "public"
integrity = "trusted"

[vm.web]
label     = "public"
integrity = "untrusted"
kernel    = "guest/vmlinuz"
initrd    = "guest/initrd.img"
memory    = "256M"
cpus      = 1
disks     = [{ volume = "base", mode = "ro" }]

[vm.analyst]
label     = "secret:finance"
integrity = "untrusted"
kernel    = "guest/vmlinuz"
memory    = "512M"
disks     = [{ volume = "base", mode = "ro" }]

[[channel]]
from = "web"
to   = "analyst"
kind = "pump"
port = 5000
)";

// Lines 1-4: a lattice; line 5: a volume table. Tests append a VM from line 9 on.
constexpr std::string_view k_prefix = R"([lattice]
levels = ["public", "internal", "secret"]
categories = ["finance", "hr"]
integrity = ["untrusted", "trusted"]
[volume.base]
path = "base.img"
label = "public"
integrity = "trusted"
)";

// A minimal valid VM starting on line 9.
constexpr std::string_view k_vm = R"([vm.web]
label = "public"
integrity = "untrusted"
kernel = "vmlinuz"
)";

Result<Manifest> parse(std::string_view text, std::string* message = nullptr)
{
    auto r = parse_manifest(text, "demo.toml", "/sys/demo");
    if (message && !r) *message = describe(r.error());
    return r;
}

// Parses text that must fail; returns the message.
std::string error_of(const std::string& text, Errc code = Errc::InvalidInput)
{
    std::string message;
    auto r = parse(text, &message);
    EXPECT_FALSE(r.has_value()) << text;
    if (r.has_value()) return "(parsed)";
    EXPECT_EQ(r.error().code, code) << text;
    return message;
}

std::string with_vm(std::string_view extra) { return std::string(k_prefix) + std::string(k_vm) + std::string(extra); }

}  // namespace

TEST(Manifest, DesignExample)
{
    std::string message;
    auto r = parse(k_design_example, &message);
    ASSERT_TRUE(r.has_value()) << message;
    const Manifest& m = *r;
    const Lattice l = design_lattice();

    EXPECT_EQ(m.source, "demo.toml");
    ASSERT_EQ(m.lattice.levels(Dimension::Secrecy).size(), 3u);
    EXPECT_EQ(m.lattice.levels(Dimension::Secrecy)[2], "secret");
    ASSERT_EQ(m.lattice.categories().size(), 2u);
    EXPECT_EQ(m.lattice.categories()[1], "hr");
    EXPECT_EQ(m.lattice.levels(Dimension::Integrity)[1], "trusted");

    ASSERT_EQ(m.volumes.size(), 1u);
    const VolumeSpec& base = m.volumes[0];
    EXPECT_EQ(base.name, "base");
    EXPECT_EQ(base.path.path, "/sys/demo/images/base.img");
    EXPECT_EQ(base.path.written, "images/base.img");
    EXPECT_EQ(base.path.line, 8u);
    EXPECT_EQ(base.line, 7u);
    EXPECT_EQ(base.label_line, 9u);
    EXPECT_EQ(base.label, parse_label(l, "public", "trusted").value());

    ASSERT_EQ(m.vms.size(), 2u);  // manifest order, not key order
    const VmSpec& web = m.vms[0];
    EXPECT_EQ(web.name, "web");
    EXPECT_EQ(web.line, 12u);
    EXPECT_EQ(web.label, parse_label(l, "public", "untrusted").value());
    EXPECT_EQ(web.label_line, 13u);
    EXPECT_EQ(web.kernel.path, "/sys/demo/guest/vmlinuz");
    EXPECT_EQ(web.kernel.written, "guest/vmlinuz");
    EXPECT_EQ(web.kernel.line, 15u);
    ASSERT_TRUE(web.initrd.has_value());
    EXPECT_EQ(web.initrd->path, "/sys/demo/guest/initrd.img");
    EXPECT_EQ(web.initrd->line, 16u);
    EXPECT_FALSE(web.cmdline.has_value());
    EXPECT_EQ(web.memory, 256u << 20);
    EXPECT_EQ(web.memory_line, 17u);
    EXPECT_EQ(web.cpus, 1u);
    EXPECT_EQ(web.cpus_line, 18u);
    ASSERT_EQ(web.disks.size(), 1u);
    EXPECT_EQ(web.disks[0].volume, "base");
    EXPECT_EQ(web.disks[0].index, 0u);
    EXPECT_EQ(web.disks[0].mode, DiskAccess::ReadOnly);
    EXPECT_EQ(web.disks[0].line, 19u);
    EXPECT_EQ(web.restart, Restart::Never);
    EXPECT_EQ(web.max_restarts, k_default_max_restarts);

    const VmSpec& analyst = m.vms[1];
    EXPECT_EQ(analyst.name, "analyst");
    EXPECT_EQ(analyst.line, 21u);
    EXPECT_EQ(analyst.label, parse_label(l, "secret:finance", "untrusted").value());
    EXPECT_FALSE(analyst.initrd.has_value());
    EXPECT_EQ(analyst.memory, 512u << 20);
    EXPECT_EQ(analyst.cpus_line, 0u);  // default
    ASSERT_EQ(analyst.disks.size(), 1u);
    EXPECT_EQ(analyst.disks[0].index, 0u);

    EXPECT_EQ(m.find_vm("analyst"), &m.vms[1]);
    EXPECT_EQ(m.find_vm("base"), nullptr);
    EXPECT_EQ(m.find_volume("base"), &m.volumes[0]);
    EXPECT_EQ(m.where(web.kernel.line, "vm.web.kernel"), "demo.toml:15: vm.web.kernel");
    EXPECT_EQ(m.where(0, "vm"), "demo.toml: vm");
}

TEST(Manifest, DemoFileParses)
{
    std::ifstream f(MOAT_EXAMPLES_DIR "/demo.toml");
    ASSERT_TRUE(f) << MOAT_EXAMPLES_DIR "/demo.toml";
    std::stringstream text;
    text << f.rdbuf();
    auto r = parse_manifest(text.str(), "examples/demo.toml", "examples");
    ASSERT_TRUE(r.has_value()) << describe(r.error());
    const Lattice l = design_lattice();
    ASSERT_EQ(r->volumes.size(), 2u);
    EXPECT_EQ(r->volumes[1].name, "analyst-data");
    EXPECT_EQ(r->volumes[1].path.path, "examples/images/analyst.img");
    EXPECT_EQ(r->volumes[1].label, parse_label(l, "secret:finance", "untrusted").value());
    ASSERT_EQ(r->vms.size(), 2u);
    EXPECT_EQ(r->vms[0].name, "web");
    EXPECT_EQ(r->vms[1].name, "analyst");
    EXPECT_EQ(r->vms[1].kernel.path, "examples/guest/vmlinuz");
    EXPECT_EQ(r->vms[1].initrd->path, "examples/guest/initrd.img");
    EXPECT_EQ(r->vms[1].cmdline, "console=ttyS0 reboot=k panic=1 pci=off quiet moat_action=demo");
    ASSERT_EQ(r->vms[1].disks.size(), 2u);
    EXPECT_EQ(r->vms[1].disks[1].index, 1u);
    EXPECT_EQ(r->vms[1].disks[1].mode, DiskAccess::ReadWrite);
}

TEST(Manifest, AllVmKeys)
{
    auto r = parse(with_vm(R"(initrd = "/abs/initrd.img"
cmdline = "console=ttyS0 quiet"
memory = "1G"
cpus = 255
restart = "on-failure"
max_restarts = 0
disks = [{ volume = "base" }]
console_max = "64K"
)"));
    ASSERT_TRUE(r.has_value());
    const VmSpec& vm = r->vms[0];
    EXPECT_EQ(vm.initrd->path, "/abs/initrd.img");  // absolute paths stay as written
    EXPECT_EQ(vm.cmdline, "console=ttyS0 quiet");
    EXPECT_EQ(vm.cmdline_line, 14u);
    EXPECT_EQ(vm.memory, 1ull << 30);
    EXPECT_EQ(vm.cpus, 255u);
    EXPECT_EQ(vm.restart, Restart::OnFailure);
    EXPECT_EQ(vm.restart_line, 17u);
    EXPECT_EQ(vm.max_restarts, 0u);
    EXPECT_EQ(vm.console_max, 64u << 10);
    ASSERT_EQ(vm.disks.size(), 1u);
    EXPECT_EQ(vm.disks[0].mode, DiskAccess::ReadOnly);  // default mode
    EXPECT_EQ(to_string(vm.disks[0].mode), std::string("ro"));
    EXPECT_EQ(to_string(vm.restart), std::string("on-failure"));
}

TEST(Manifest, Defaults)
{
    auto r = parse(with_vm(""));
    ASSERT_TRUE(r.has_value());
    const VmSpec& vm = r->vms[0];
    EXPECT_EQ(vm.memory, k_default_vm_memory);
    EXPECT_EQ(vm.cpus, 1u);
    EXPECT_FALSE(vm.initrd.has_value());
    EXPECT_FALSE(vm.cmdline.has_value());
    EXPECT_TRUE(vm.disks.empty());
    EXPECT_EQ(vm.restart, Restart::Never);
    EXPECT_EQ(vm.max_restarts, 3u);
    EXPECT_EQ(vm.console_max, 8u << 20);
}

TEST(ManifestError, ConsoleBudget)
{
    EXPECT_EQ(error_of(with_vm("console_max = \"lots\"\n")).substr(0, 45), "demo.toml:13: vm.web.console_max: bad size 'l");
    EXPECT_EQ(error_of(with_vm("console_max = \"2T\"\n")),
              "demo.toml:13: vm.web.console_max: '2T' is above the maximum of 1T (\"0\" for no budget)");
    EXPECT_EQ(error_of(with_vm("console_max = 5\n")).substr(0, 34), "demo.toml:13: vm.web.console_max: ");
    auto r = parse(with_vm("console_max = \"0\"\n"));
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->vms[0].console_max, 0u);  // no budget, by the policy's choice
}

TEST(Manifest, ArrayOfTablesDisksAndNoCategories)
{
    auto r = parse(R"([lattice]
levels = ["low"]
integrity = ["low"]
[volume.a]
path = "a.img"
label = "low"
integrity = "low"
[volume.b]
path = "b.img"
label = "low"
integrity = "low"
[vm.x]
label = "low"
integrity = "low"
kernel = "k"
[[vm.x.disks]]
volume = "b"
mode = "rw"
[[vm.x.disks]]
volume = "a"
)");
    ASSERT_TRUE(r.has_value());
    EXPECT_TRUE(r->lattice.categories().empty());
    ASSERT_EQ(r->vms[0].disks.size(), 2u);
    EXPECT_EQ(r->vms[0].disks[0].index, 1u);
    EXPECT_EQ(r->vms[0].disks[0].mode, DiskAccess::ReadWrite);
    EXPECT_EQ(r->vms[0].disks[1].index, 0u);
}

TEST(Manifest, ManifestOrderNotKeyOrder)
{
    auto r = parse(std::string(k_prefix) + R"([volume.alpha]
path = "a.img"
label = "public"
integrity = "trusted"
[vm.zeta]
label = "public"
integrity = "untrusted"
kernel = "k"
[vm.alpha2]
label = "public"
integrity = "untrusted"
kernel = "k"
)");
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->volumes[0].name, "base");
    EXPECT_EQ(r->volumes[1].name, "alpha");
    EXPECT_EQ(r->vms[0].name, "zeta");
    EXPECT_EQ(r->vms[1].name, "alpha2");
}

TEST(Manifest, PathResolution)
{
    EXPECT_EQ(join_path("/sys/demo", "a.img"), "/sys/demo/a.img");
    EXPECT_EQ(join_path("/sys/demo/", "a.img"), "/sys/demo/a.img");
    EXPECT_EQ(join_path("/sys/demo", "../a.img"), "/sys/demo/../a.img");  // lexical: no folding
    EXPECT_EQ(join_path("/sys/demo", "/abs/a.img"), "/abs/a.img");
    EXPECT_EQ(join_path("", "a.img"), "a.img");
    EXPECT_EQ(join_path("rel", "a.img"), "rel/a.img");
    EXPECT_EQ(join_path("/", "a.img"), "/a.img");

    auto rel = parse_manifest(with_vm(""), "m.toml", "");
    ASSERT_TRUE(rel.has_value());
    EXPECT_EQ(rel->volumes[0].path.path, "base.img");
    EXPECT_EQ(rel->vms[0].kernel.path, "vmlinuz");
}

TEST(ManifestError, TomlSyntax)
{
    const std::string unclosed = error_of("[lattice]\nlevels = [\"a\"\n");
    EXPECT_EQ(unclosed.rfind("demo.toml:2: invalid TOML: ", 0), 0u) << unclosed;  // toml++ names the array's line
    EXPECT_GT(unclosed.size(), 27u) << unclosed;  // toml++'s description follows
    const std::string m = error_of(std::string(k_prefix) + "[vm.web\n");
    EXPECT_EQ(m.rfind("demo.toml:9: invalid TOML: ", 0), 0u) << m;
    // TOML itself rejects a repeated table, hence duplicate VM or volume names.
    const std::string dup = error_of(with_vm("[vm.web]\n"));
    EXPECT_EQ(dup.rfind("demo.toml:13: invalid TOML: ", 0), 0u) << dup;
    const std::string dupkey = error_of(with_vm("cpus = 1\ncpus = 2\n"));
    EXPECT_EQ(dupkey.rfind("demo.toml:14: invalid TOML: ", 0), 0u) << dupkey;
    // Non-ASCII where TOML expects whitespace used to reach toml++'s __builtin_unreachable
    // (upstream issues #190, #295); now a plain syntax error.
    const std::string latin = error_of("[lattice]\nlevels \xc3\xaa= [\"a\"]\n");
    EXPECT_EQ(latin.rfind("demo.toml:2: invalid TOML: ", 0), 0u) << latin;
    const std::string combining = error_of("\xcc\xaa");
    EXPECT_EQ(combining.rfind("demo.toml:1: invalid TOML: ", 0), 0u) << combining;
    const std::string ideographic = error_of("a = 1\xe3\x81\x82\n");
    EXPECT_EQ(ideographic.rfind("demo.toml:1: invalid TOML: ", 0), 0u) << ideographic;
    auto section = parse_manifest("s = \"\"\"\\\n\xc2\xa7\"\"\"\n", "demo.toml", "");
    EXPECT_FALSE(section.has_value());  // parses as TOML, then `s` is an unknown key
    // Control bytes in toml++'s description are escaped.
    const std::string ctl = error_of("a = \"\x1b[31m\"\n");
    EXPECT_EQ(ctl.find('\x1b'), std::string::npos) << ctl;
}

TEST(ManifestError, TheErrorCarriesItsMessage)
{
    auto r = parse_manifest("garbage", "x.toml", "");
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, Errc::InvalidInput);
    EXPECT_TRUE(r.error().context.starts_with("x.toml:1: ")) << r.error().context;
    EXPECT_EQ(describe(r.error()), r.error().context);  // nothing added to the parser's line
}

TEST(ManifestError, UnknownKeys)
{
    EXPECT_EQ(error_of(std::string(k_prefix) + "colour = \"red\"\n"),
              "demo.toml:9: volume.base.colour: unknown key (expected one of: path, label, integrity)");
    EXPECT_EQ(error_of(with_vm("memroy = \"1G\"\n")),
              "demo.toml:13: vm.web.memroy: unknown key (expected one of: label, integrity, kernel, initrd, cmdline, "
              "memory, cpus, disks, networks, restart, max_restarts, cid, console_max)");
    EXPECT_EQ(error_of(with_vm("disks = [{ volume = \"base\", mod = \"ro\" }]\n")),
              "demo.toml:13: vm.web.disks[0].mod: unknown key (expected one of: volume, mode)");
    EXPECT_EQ(error_of("networks = 1\n" + std::string(k_prefix)),
              "demo.toml:1: networks: unknown key (expected one of: lattice, volume, network, vm, channel, jail)");
    EXPECT_EQ(error_of("[lattice]\nlevels = [\"a\"]\nintegrity = [\"b\"]\norder = 1\n"),
              "demo.toml:4: lattice.order: unknown key (expected one of: levels, categories, integrity)");
    EXPECT_EQ(error_of(with_vm("[vm.web.extra]\n")),
              "demo.toml:13: vm.web.extra: unknown key (expected one of: label, integrity, kernel, initrd, cmdline, "
              "memory, cpus, disks, networks, restart, max_restarts, cid, console_max)");
    // A key that needs quoting is shown quoted.
    EXPECT_EQ(error_of(with_vm("\"a b\" = 1\n")).substr(0, 28), "demo.toml:13: vm.web.\"a b\": ");
}

TEST(Manifest, JailUidBase)
{
    auto defaulted = parse_manifest(with_vm(""), "demo.toml", "");
    ASSERT_TRUE(defaulted.has_value());
    EXPECT_EQ(defaulted->uid_base, protocol::k_default_uid_base);
    auto set = parse_manifest("[jail]\nuid_base = 100000\n" + with_vm(""), "demo.toml", "");
    ASSERT_TRUE(set.has_value()) << describe(set.error());
    EXPECT_EQ(set->uid_base, 100000u);
}

TEST(ManifestError, JailUidBase)
{
    EXPECT_EQ(error_of("[jail]\nuid_base = 1000\n" + with_vm("")).rfind("demo.toml:2: jail.uid_base: ", 0), 0u);
    // The last base whose ids all stay below 2^31, and one more.
    EXPECT_TRUE(parse_manifest("[jail]\nuid_base = 2143289344\n" + with_vm(""), "demo.toml", "").has_value());
    EXPECT_EQ(error_of("[jail]\nuid_base = 2143289345\n" + with_vm("")).rfind("demo.toml:2: jail.uid_base: ", 0), 0u);
    EXPECT_EQ(error_of("[jail]\nuid_base = \"x\"\n" + with_vm("")).rfind("demo.toml:2: jail.uid_base: ", 0), 0u);
    EXPECT_EQ(error_of("[jail]\nuid = 100000\n" + with_vm("")),
              "demo.toml:2: jail.uid: unknown key (expected one of: uid_base)");
    EXPECT_EQ(error_of("jail = 1\n" + with_vm("")).rfind("demo.toml:1: jail: ", 0), 0u);
}

// A second VM (lines 13-16) and a volume named "base" for channels to join, refuse or confuse.
std::string with_two_vms(std::string_view extra)
{
    return with_vm("[vm.cache]\nlabel = \"public\"\nintegrity = \"untrusted\"\nkernel = \"vmlinuz\"\n" + std::string(extra));
}

TEST(Manifest, ChannelsAndCids)
{
    std::string message;
    auto r = parse(with_two_vms("cid = 3\n[[channel]]\nfrom = \"web\"\nto = \"cache\"\nport = 6379\n"
                                "[[channel]]\nfrom = \"cache\"\nto = \"web\"\nport = 5000\nkind = \"pump\"\nrate = \"1MiB/s\"\n"),
                   &message);
    ASSERT_TRUE(r.has_value()) << message;
    ASSERT_EQ(r->channels.size(), 2u);
    const ChannelSpec& a = r->channels[0];
    EXPECT_EQ(a.from, "web");
    EXPECT_EQ(a.to, "cache");
    EXPECT_EQ(a.from_index, 0u);
    EXPECT_EQ(a.to_index, 1u);
    EXPECT_EQ(a.port, 6379u);
    EXPECT_EQ(a.kind, ChannelKind::BothWays);
    EXPECT_EQ(a.rate, 0u);
    EXPECT_EQ(a.line, 18u);
    EXPECT_EQ(r->channels[1].kind, ChannelKind::Pump);
    EXPECT_EQ(r->channels[1].rate, 1u << 20);
    // cache wrote CID 3; web, before it in the manifest, gets the next free one.
    EXPECT_EQ(r->vms[1].cid, 3u);
    EXPECT_EQ(r->vms[1].cid_line, 17u);
    EXPECT_EQ(r->vms[0].cid, 4u);
    EXPECT_EQ(r->vms[0].cid_line, 0u);
    auto plain = parse(with_two_vms(""));
    ASSERT_TRUE(plain.has_value());
    EXPECT_EQ(plain->vms[0].cid, 3u);
    EXPECT_EQ(plain->vms[1].cid, 4u);
    EXPECT_TRUE(plain->channels.empty());
}

TEST(ManifestError, Channels)
{
    auto ch = [](std::string_view body) { return with_two_vms("[[channel]]\n" + std::string(body)); };
    EXPECT_EQ(error_of(ch("from = \"web\"\nto = \"cache\"\n")), "demo.toml:17: channel[0].port: missing (the vsock port the destination listens on)");
    EXPECT_EQ(error_of(ch("to = \"cache\"\nport = 1\n")), "demo.toml:17: channel[0].from: missing (the VM that connects)");
    EXPECT_EQ(error_of(ch("from = \"web\"\nport = 1\n")), "demo.toml:17: channel[0].to: missing (the VM that listens)");
    EXPECT_EQ(error_of(ch("from = \"web\"\nto = \"web\"\nport = 1\n")), "demo.toml:19: channel[0].to: a channel joins two different VMs");
    EXPECT_EQ(error_of(ch("from = \"web\"\nto = \"db\"\nport = 1\n")), "demo.toml:19: channel[0].to: no VM named 'db'");
    EXPECT_EQ(error_of(ch("from = \"base\"\nto = \"web\"\nport = 1\n")),
              "demo.toml:18: channel[0].from: 'base' is a volume; a channel joins two VMs");
    EXPECT_EQ(error_of(ch("from = \"web\"\nto = \"cache\"\nport = 4294967295\n")),
              "demo.toml:20: channel[0].port: 4294967295 is out of range (0 to 4294967294)");
    EXPECT_EQ(error_of(ch("from = \"web\"\nto = \"cache\"\nport = 1\nkind = \"one-way\"\n")),
              "demo.toml:21: channel[0].kind: bad kind 'one-way' (use \"both-ways\" or \"pump\")");
    EXPECT_EQ(error_of(ch("from = \"web\"\nto = \"cache\"\nport = 1\nrate = \"1M/s\"\n")),
              "demo.toml:21: channel[0].rate: only a pump has a rate (kind = \"pump\")");
    for (const char* bad : {"1M", "0/s", "fast/s", "/s"})
        EXPECT_EQ(error_of(ch("from = \"web\"\nto = \"cache\"\nport = 1\nkind = \"pump\"\nrate = \"" + std::string(bad) + "\"\n")),
                  "demo.toml:22: channel[0].rate: bad rate '" + std::string(bad) + "' (bytes per second, e.g. \"1MiB/s\")");
    EXPECT_EQ(error_of(ch("from = \"web\"\nto = \"cache\"\nport = 1\nspeed = 1\n")),
              "demo.toml:21: channel[0].speed: unknown key (expected one of: from, to, port, kind, rate)");
    EXPECT_EQ(error_of(ch("from = \"web\"\nto = \"cache\"\nport = 1\n[[channel]]\nfrom = \"web\"\nto = \"cache\"\nport = 1\nkind = \"pump\"\n")),
              "demo.toml:21: channel[1]: a channel from web to cache port 1 is already declared (line 17)");
    EXPECT_EQ(error_of("channel = 1\n" + with_two_vms("")), "demo.toml:1: channel: expected tables ([[channel]]), found an integer");
    // CIDs: in range, and each once.
    EXPECT_EQ(error_of(with_vm("cid = 2\n")), "demo.toml:13: vm.web.cid: 2 is out of range (3 to 4294967294)");
    EXPECT_EQ(error_of(with_two_vms("cid = 7\n").insert(std::string(k_prefix).size() + std::string(k_vm).size(), "cid = 7\n")),
              "demo.toml:18: vm.cache.cid: 7 is already vm web's (line 13)");
}

TEST(ManifestError, WrongTypes)
{
    EXPECT_EQ(error_of(with_vm("cpus = \"2\"\n")), "demo.toml:13: vm.web.cpus: expected an integer, found a string");
    EXPECT_EQ(error_of(with_vm("memory = 268435456\n")),
              "demo.toml:13: vm.web.memory: expected a string, found an integer");
    EXPECT_EQ(error_of(with_vm("initrd = [\"a\"]\n")), "demo.toml:13: vm.web.initrd: expected a string, found an array");
    EXPECT_EQ(error_of(with_vm("disks = { volume = \"base\" }\n")),
              "demo.toml:13: vm.web.disks: expected an array of tables like { volume = \"base\", mode = \"ro\" }, "
              "found a table");
    EXPECT_EQ(error_of(with_vm("disks = [\"base\"]\n")),
              "demo.toml:13: vm.web.disks[0]: expected a table, found a string");
    EXPECT_EQ(error_of(with_vm("disks = [{ volume = 1 }]\n")),
              "demo.toml:13: vm.web.disks[0].volume: expected a string, found an integer");
    EXPECT_EQ(error_of(with_vm("disks = [{ volume = \"base\", mode = true }]\n")),
              "demo.toml:13: vm.web.disks[0].mode: expected a string, found a boolean");
    EXPECT_EQ(error_of(with_vm("restart = 1.5\n")), "demo.toml:13: vm.web.restart: expected a string, found a float");
    EXPECT_EQ(error_of(with_vm("max_restarts = \"3\"\n")),
              "demo.toml:13: vm.web.max_restarts: expected an integer, found a string");
    EXPECT_EQ(error_of(std::string(k_prefix) + "[vm]\nweb = 1\n"), "demo.toml:10: vm.web: expected a table, found an integer");
    EXPECT_EQ(error_of("vm = 1\n" + std::string(k_prefix)), "demo.toml:1: vm: expected a table, found an integer");
    EXPECT_EQ(error_of("volume = [1]\n[lattice]\nlevels = [\"public\"]\nintegrity = [\"untrusted\"]\n" + std::string(k_vm)),
              "demo.toml:1: volume: expected a table, found an array");
    EXPECT_EQ(error_of("lattice = \"x\"\n"), "demo.toml:1: lattice: expected a table, found a string");
    EXPECT_EQ(error_of("[lattice]\nlevels = \"public\"\nintegrity = [\"t\"]\n"),
              "demo.toml:2: lattice.levels: expected an array of strings, found a string");
    EXPECT_EQ(error_of("[lattice]\nlevels = [\"a\",\n 2]\nintegrity = [\"t\"]\n"),
              "demo.toml:3: lattice.levels[1]: expected a string, found an integer");
    EXPECT_EQ(error_of(std::string(k_prefix) + "[vm.web]\nlabel = 3\nintegrity = \"untrusted\"\nkernel = \"k\"\n"),
              "demo.toml:10: vm.web.label: expected a string, found an integer");
}

TEST(ManifestError, Labels)
{
    std::string vm_label = std::string(k_prefix) + "[vm.web]\nlabel = \"secret:legal\"\nintegrity = \"untrusted\"\nkernel = \"k\"\n";
    EXPECT_EQ(error_of(vm_label),
              "demo.toml:10: vm.web.label: 'secret:legal': label names an unknown category 'legal' (declared in "
              "lattice.categories)");
    std::string vm_level = std::string(k_prefix) + "[vm.web]\nlabel = \"topsecret\"\nintegrity = \"untrusted\"\nkernel = \"k\"\n";
    EXPECT_EQ(error_of(vm_level),
              "demo.toml:10: vm.web.label: 'topsecret': label names an unknown level (declared in lattice.levels)");
    std::string vm_integ = std::string(k_prefix) + "[vm.web]\nlabel = \"public\"\nintegrity = \"public\"\nkernel = \"k\"\n";
    EXPECT_EQ(error_of(vm_integ),
              "demo.toml:11: vm.web.integrity: 'public': label names an unknown level (declared in lattice.integrity)");
    std::string vm_empty = std::string(k_prefix) + "[vm.web]\nlabel = \"secret:\"\nintegrity = \"untrusted\"\nkernel = \"k\"\n";
    EXPECT_EQ(error_of(vm_empty), "demo.toml:10: vm.web.label: 'secret:': label has an empty category");
    std::string vm_repeat =
        std::string(k_prefix) + "[vm.web]\nlabel = \"secret:hr,hr\"\nintegrity = \"untrusted\"\nkernel = \"k\"\n";
    EXPECT_EQ(error_of(vm_repeat), "demo.toml:10: vm.web.label: 'secret:hr,hr': label repeats a category 'hr'");
    std::string vol = "[lattice]\nlevels = [\"public\"]\nintegrity = [\"trusted\"]\n[volume.base]\npath = \"b\"\n"
                      "label = \"public\"\nintegrity = \"trusted:hr\"\n";
    EXPECT_EQ(error_of(vol),
              "demo.toml:7: volume.base.integrity: 'trusted:hr': label names an unknown category 'hr' (declared in "
              "lattice.categories)");
    std::string vol_type = "[lattice]\nlevels = [\"public\"]\nintegrity = [\"trusted\"]\n[volume.base]\npath = \"b\"\n"
                           "label = [\"public\"]\nintegrity = \"trusted\"\n";
    EXPECT_EQ(error_of(vol_type), "demo.toml:6: volume.base.label: expected a string, found an array");
}

TEST(ManifestError, MissingKeys)
{
    EXPECT_EQ(error_of(std::string(k_prefix) + "[vm.web]\nintegrity = \"untrusted\"\nkernel = \"k\"\n"),
              "demo.toml:9: vm.web.label: missing (the VM's secrecy, e.g. \"public\")");
    EXPECT_EQ(error_of(std::string(k_prefix) + "[vm.web]\nlabel = \"public\"\nkernel = \"k\"\n"),
              "demo.toml:9: vm.web.integrity: missing (the VM's integrity, e.g. \"untrusted\")");
    EXPECT_EQ(error_of(std::string(k_prefix) + "[vm.web]\nlabel = \"public\"\nintegrity = \"untrusted\"\n"),
              "demo.toml:9: vm.web.kernel: missing (the guest kernel image)");
    EXPECT_EQ(error_of(with_vm("disks = [{ mode = \"ro\" }]\n")),
              "demo.toml:13: vm.web.disks[0].volume: missing (the name of a [volume.NAME])");
    const std::string lat = "[lattice]\nlevels = [\"public\"]\nintegrity = [\"trusted\"]\n";
    EXPECT_EQ(error_of(lat + "[volume.v]\nlabel = \"public\"\nintegrity = \"trusted\"\n" + std::string(k_vm)),
              "demo.toml:4: volume.v.path: missing (the volume's image file)");
    EXPECT_EQ(error_of(lat + "[volume.v]\npath = \"p\"\nintegrity = \"trusted\"\n" + std::string(k_vm)),
              "demo.toml:4: volume.v.label: missing (the volume's secrecy, e.g. \"public\")");
    EXPECT_EQ(error_of(lat + "[volume.v]\npath = \"p\"\nlabel = \"public\"\n" + std::string(k_vm)),
              "demo.toml:4: volume.v.integrity: missing (the volume's integrity, e.g. \"trusted\")");
    EXPECT_EQ(error_of(std::string(k_vm)), "demo.toml: lattice: missing table [lattice]");
    EXPECT_EQ(error_of(std::string(k_prefix)), "demo.toml: vm: no VMs declared (add a [vm.NAME] table)");
    EXPECT_EQ(error_of(std::string(k_prefix) + "[vm]\n"), "demo.toml:9: vm: no VMs declared (add a [vm.NAME] table)");
    EXPECT_EQ(error_of("[lattice]\nintegrity = [\"t\"]\n" + std::string(k_vm)),
              "demo.toml:1: lattice.levels: missing (the secrecy levels, low to high)");
    EXPECT_EQ(error_of("[lattice]\nlevels = [\"t\"]\n" + std::string(k_vm)),
              "demo.toml:1: lattice.integrity: missing (the integrity levels, low to high)");
}

TEST(ManifestError, Lattice)
{
    EXPECT_EQ(error_of("[lattice]\nlevels = []\nintegrity = [\"t\"]\n"),
              "demo.toml:2: lattice.levels: empty list (declare at least one level, low to high)");
    EXPECT_EQ(error_of("[lattice]\nlevels = [\"a\"]\nintegrity = []\n"),
              "demo.toml:3: lattice.integrity: empty list (declare at least one level, low to high)");
    EXPECT_EQ(error_of("[lattice]\nlevels = [\"a\", \"b\", \"a\"]\nintegrity = [\"t\"]\n"),
              "demo.toml:2: lattice.levels[2]: 'a': duplicate name in lattice list");
    EXPECT_EQ(error_of("[lattice]\nlevels = [\"a\"]\ncategories = [\"x\",\n\"y z\"]\nintegrity = [\"t\"]\n"),
              "demo.toml:4: lattice.categories[1]: 'y z': lattice name is empty or contains ':' ',' '/' or whitespace");
    EXPECT_EQ(error_of("[lattice]\nlevels = [\"a\"]\nintegrity = [\"t\", \"\"]\n"),
              "demo.toml:3: lattice.integrity[1]: '': lattice name is empty or contains ':' ',' '/' or whitespace");
    EXPECT_EQ(error_of("[lattice]\nlevels = [\"a:b\"]\nintegrity = [\"t\"]\n"),
              "demo.toml:2: lattice.levels[0]: 'a:b': lattice name is empty or contains ':' ',' '/' or whitespace");
    std::string many = "[lattice]\nlevels = [\"a\"]\nintegrity = [\"t\"]\ncategories = [";
    for (int i = 0; i < 65; ++i) many += "\"c" + std::to_string(i) + "\",";
    many += "]\n";
    EXPECT_EQ(error_of(many), "demo.toml:4: lattice.categories: 65 entries, more than the 64 allowed");
    std::string levels = "[lattice]\nintegrity = [\"t\"]\nlevels = [\"levels\"";
    for (int i = 0; i < 256; ++i) levels += ",\"l" + std::to_string(i) + "\"";
    levels += "]\n";
    EXPECT_EQ(error_of(levels), "demo.toml:3: lattice.levels: 257 entries, more than the 256 allowed");
    // The same name in two lists is fine (they are separate namespaces).
    auto r = parse("[lattice]\nlevels = [\"low\"]\ncategories = [\"low\"]\nintegrity = [\"low\"]\n"
                   "[vm.a]\nlabel = \"low:low\"\nintegrity = \"low\"\nkernel = \"k\"\n");
    EXPECT_TRUE(r.has_value());
}

TEST(ManifestError, Names)
{
    const std::string lat = "[lattice]\nlevels = [\"public\"]\nintegrity = [\"t\"]\n";
    const std::string body = "label = \"public\"\nintegrity = \"t\"\nkernel = \"k\"\n";
    for (const char* bad : {"Web", "-web", "_web", "web.1", "a23456789012345678901234567890123", "w b", "wéb"}) {
        const std::string m = error_of(lat + "[vm.\"" + bad + "\"]\n" + body);
        EXPECT_EQ(m.rfind("demo.toml:4: vm.", 0), 0u) << m;
        EXPECT_NE(m.find(": bad VM name (use 1 to 32 of a-z 0-9 _ -, a-z or 0-9 first)"), std::string::npos) << m;
    }
    EXPECT_EQ(error_of(lat + "[vm.\"\"]\n" + body), "demo.toml:4: vm.\"\": bad VM name (use 1 to 32 of a-z 0-9 _ -, a-z or 0-9 first)");
    for (const char* good : {"web", "0", "a_b-c", "a2345678901234567890123456789012"}) {
        std::string message;
        EXPECT_TRUE(parse(lat + "[vm." + good + "]\n" + body, &message).has_value()) << good << ": " << message;
    }
    EXPECT_EQ(error_of(lat + "[volume.Base]\npath = \"p\"\nlabel = \"public\"\nintegrity = \"t\"\n[vm.a]\n" + body),
              "demo.toml:4: volume.Base: bad volume name (use 1 to 32 of a-z 0-9 _ -, a-z or 0-9 first)");
    // One namespace for VMs and volumes.
    EXPECT_EQ(error_of(std::string(k_prefix) + "[vm.base]\n" + "label = \"public\"\nintegrity = \"untrusted\"\nkernel = \"k\"\n"),
              "demo.toml:9: vm.base: name 'base' is already used by a volume (line 5); VM and volume names must differ");
}

TEST(ManifestError, Sizes)
{
    EXPECT_EQ(error_of(with_vm("memory = \"12Q\"\n")),
              "demo.toml:13: vm.web.memory: bad size '12Q': unknown size unit (use K, M, G or T)");
    EXPECT_EQ(error_of(with_vm("memory = \"\"\n")),
              "demo.toml:13: vm.web.memory: bad size '': not a size (use a number with K, M, G or T, e.g. 256M)");
    EXPECT_EQ(error_of(with_vm("memory = \"99999999999T\"\n")),
              "demo.toml:13: vm.web.memory: bad size '99999999999T': size is too large");
    EXPECT_EQ(error_of(with_vm("memory = \"8M\"\n")), "demo.toml:13: vm.web.memory: '8M' is below the minimum of 16M");
    EXPECT_EQ(error_of(with_vm("memory = \"2T\"\n")), "demo.toml:13: vm.web.memory: '2T' is above the maximum of 1T");
    EXPECT_TRUE(parse(with_vm("memory = \"16M\"\n")).has_value());
    EXPECT_TRUE(parse(with_vm("memory = \"1T\"\n")).has_value());
}

TEST(ManifestError, Ranges)
{
    EXPECT_EQ(error_of(with_vm("cpus = 0\n")), "demo.toml:13: vm.web.cpus: 0 is out of range (1 to 255)");
    EXPECT_EQ(error_of(with_vm("cpus = 256\n")), "demo.toml:13: vm.web.cpus: 256 is out of range (1 to 255)");
    EXPECT_EQ(error_of(with_vm("cpus = -1\n")), "demo.toml:13: vm.web.cpus: -1 is out of range (1 to 255)");
    EXPECT_EQ(error_of(with_vm("cpus = 9223372036854775807\n")),
              "demo.toml:13: vm.web.cpus: 9223372036854775807 is out of range (1 to 255)");
    EXPECT_EQ(error_of(with_vm("max_restarts = 101\n")),
              "demo.toml:13: vm.web.max_restarts: 101 is out of range (0 to 100)");
    EXPECT_EQ(error_of(with_vm("max_restarts = -1\n")),
              "demo.toml:13: vm.web.max_restarts: -1 is out of range (0 to 100)");
    EXPECT_EQ(error_of(with_vm("restart = \"always\"\n")),
              "demo.toml:13: vm.web.restart: bad restart policy 'always' (use \"never\" or \"on-failure\")");
}

TEST(ManifestError, Disks)
{
    EXPECT_EQ(error_of(with_vm("disks = [{ volume = \"data\" }]\n")),
              "demo.toml:13: vm.web.disks[0].volume: no volume named 'data'");
    EXPECT_EQ(error_of(with_vm("disks = [{ volume = \"base\" },\n  { volume = \"base\", mode = \"rw\" }]\n")),
              "demo.toml:14: vm.web.disks[1].volume: volume 'base' is already attached as vm.web.disks[0]");
    EXPECT_EQ(error_of(with_vm("disks = [{ volume = \"base\", mode = \"wo\" }]\n")),
              "demo.toml:13: vm.web.disks[0].mode: bad mode 'wo' (use \"ro\" or \"rw\")");
    // A VM may name a volume declared after it.
    auto r = parse(std::string(k_prefix) + std::string(k_vm) + "disks = [{ volume = \"late\" }]\n" +
                   "[volume.late]\npath = \"l\"\nlabel = \"public\"\nintegrity = \"trusted\"\n");
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->vms[0].disks[0].index, 1u);
    // Two VMs may attach the same volume.
    auto two = parse(with_vm("disks = [{ volume = \"base\" }]\n[vm.b]\nlabel = \"public\"\nintegrity = \"untrusted\"\n"
                             "kernel = \"k\"\ndisks = [{ volume = \"base\" }]\n"));
    ASSERT_TRUE(two.has_value());
}

TEST(ManifestError, Paths)
{
    EXPECT_EQ(error_of(std::string(k_prefix) + "[vm.web]\nlabel = \"public\"\nintegrity = \"untrusted\"\nkernel = \"\"\n"),
              "demo.toml:12: vm.web.kernel: empty path");
    EXPECT_EQ(error_of(with_vm("initrd = \"a\\u0000b\"\n")), "demo.toml:13: vm.web.initrd: contains a NUL character");
    EXPECT_EQ(error_of(with_vm("cmdline = \"quiet\\u0000init=/bin/sh\"\n")),
              "demo.toml:13: vm.web.cmdline: contains a NUL character");
    const std::string lat = "[lattice]\nlevels = [\"public\"]\nintegrity = [\"t\"]\n";
    EXPECT_EQ(error_of(lat + "[volume.v]\npath = \"\"\nlabel = \"public\"\nintegrity = \"t\"\n" + std::string(k_vm)),
              "demo.toml:5: volume.v.path: empty path");
}

TEST(ManifestError, MessagesEscapeAndCut)
{
    // A control character in a value never reaches the message raw.
    const std::string m = error_of(with_vm("restart = \"\\u001b[2J\"\n"));
    EXPECT_EQ(m, "demo.toml:13: vm.web.restart: bad restart policy '\\x1b[2J' (use \"never\" or \"on-failure\")");
    const std::string big = error_of(with_vm("restart = \"" + std::string(1000, 'x') + "\"\n"));
    EXPECT_LT(big.size(), 200u);
    EXPECT_NE(big.find("xxx...'"), std::string::npos) << big;
}
