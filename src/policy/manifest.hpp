// The system manifest: the lattice, labelled volumes and labelled VMs of one system, parsed from
// TOML (DESIGN.md "Manifest"; issue 5, acceptance 1). Pure: no I/O, no file system access.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/disk_access.hpp"
#include "base/net_address.hpp"
#include "base/result.hpp"
#include "policy/label.hpp"
#include "policy/lattice.hpp"
#include "protocol/limits.hpp"
#include "protocol/limits.hpp"

namespace moat::policy {

// A VM's memory and vCPUs are checked against protocol/limits.hpp, as for `moat run`.
inline constexpr std::uint64_t k_default_vm_memory = 256ull << 20;
inline constexpr std::uint32_t k_default_max_restarts = 3;
inline constexpr std::uint32_t k_max_max_restarts = 100;
inline constexpr std::size_t k_max_name_length = 32;

// Line numbers are 1-based lines of the manifest text; 0 means "not written" (a default was
// used), and messages then fall back to the enclosing table's line.

// A path from the manifest: `path` is joined to the manifest's directory (absolute paths are
// kept), `written` is the text as the user wrote it, for messages.
struct PathRef {
    std::string path;
    std::string written;
    std::uint32_t line = 0;
};

struct VolumeSpec {
    std::string name;  // [a-z0-9][a-z0-9_-]{0,31}
    PathRef path;
    Label label;
    std::uint32_t line = 0;        // the [volume.NAME] table
    std::uint32_t label_line = 0;  // the `label` key
};

struct DiskRef {
    std::string volume;     // a volume's name
    std::size_t index = 0;  // into Manifest::volumes; always valid
    DiskAccess mode = DiskAccess::ReadOnly;
    std::uint32_t line = 0;  // the disks entry
};

// A [network.NAME] table: a labelled network the monitor makes (a bridge on the host), which the
// VMs that list it join (DESIGN.md "Security policy": joining is reading and writing it).
struct NetworkSpec {
    std::string name;  // as a volume's; names are unique across volumes, networks and VMs
    Label label;
    base::Ipv4Net subnet;  // prefix 8 to 30; each member VM gets an address in it
    std::optional<std::uint32_t> host;   // the host's own address on it, if any (subnet.holds_host)
    std::optional<std::string> uplink;   // a host interface enslaved to the bridge (the outside world)
    std::uint32_t line = 0;  // the [network.NAME] table
    std::uint32_t label_line = 0;
    std::uint32_t subnet_line = 0;
    std::uint32_t host_line = 0;
    std::uint32_t uplink_line = 0;
};

// One entry of a VM's `networks`: the network, and what the VM gets on it.
struct NetRef {
    std::string network;    // a network's name
    std::size_t index = 0;  // into Manifest::networks; always valid
    std::uint32_t line = 0;  // the networks entry
    // Assigned by the parser: the next free address of the subnet in manifest order (past the
    // host's), and a locally administered MAC from the VM's and the network's names, unique in
    // the system.
    std::uint32_t address = 0;
    base::Mac mac{};
};

enum class Restart : std::uint8_t { Never, OnFailure };

// How a channel carries data (DESIGN.md "Security policy"): both ways between equal labels, or
// one way, low to high, through a pump.
enum class ChannelKind : std::uint8_t { BothWays, Pump };

// A [[channel]] table: `from` may connect to port `port` of `to` over vsock.
struct ChannelSpec {
    std::string from, to;   // VM names
    std::size_t from_index = 0, to_index = 0;  // into Manifest::vms; always valid, never equal
    std::uint32_t port = 0;  // below 2^32 - 1 (VMADDR_PORT_ANY)
    ChannelKind kind = ChannelKind::BothWays;
    std::uint64_t rate = 0;  // pump only: bytes per second at most, 0 for no cap
    std::uint32_t line = 0;  // the [[channel]] table
};

struct VmSpec {
    std::string name;  // [a-z0-9][a-z0-9_-]{0,31}; becomes state/<name>.log
    Label label;
    PathRef kernel;
    std::optional<PathRef> initrd;
    std::optional<std::string> cmdline;  // absent: the VMM's default command line
    std::uint64_t memory = k_default_vm_memory;  // bytes, protocol::check_memory
    std::uint32_t cpus = 1;                   // protocol::check_cpus
    std::vector<DiskRef> disks;               // in manifest order; no volume twice
    std::vector<NetRef> networks;             // in manifest order; no network twice; eth0, eth1...
    Restart restart = Restart::Never;
    std::uint32_t max_restarts = k_default_max_restarts;  // 0..k_max_max_restarts
    // The VM's vsock context ID: `cid` as written, or assigned in manifest order from 3,
    // skipping those written (protocol::check_cid); unique in the system.
    std::uint64_t cid = 0;
    // What its console may write to the terminal and state/<name>.log per VM process, 0 for
    // no bound (README, "Console output").
    std::uint64_t console_max = protocol::k_console_budget;

    std::uint32_t line = 0;  // the [vm.NAME] table
    std::uint32_t label_line = 0;
    std::uint32_t cmdline_line = 0;
    std::uint32_t memory_line = 0;
    std::uint32_t cpus_line = 0;
    std::uint32_t restart_line = 0;
    std::uint32_t cid_line = 0;  // 0: assigned
};

// A parsed, validated system. Volumes and VMs keep manifest order. Names are unique across
// volumes and VMs together, so "web" names one thing in every message and audit record.
// Invariants: every label is within `lattice`; every DiskRef::index < volumes.size() and
// volumes[index].name == volume. A value type; thread-safe to read.
struct Manifest {
    Lattice lattice;
    std::vector<VolumeSpec> volumes;
    std::vector<NetworkSpec> networks;
    std::vector<VmSpec> vms;
    std::vector<ChannelSpec> channels;  // in manifest order
    std::string source;  // the manifest's name for messages, e.g. "demo.toml"
    // [jail] uid_base: each VM process runs as uid and gid uid_base + its pid
    // (protocol::check_uid_base; src/jail/jail.hpp).
    std::uint32_t uid_base = protocol::k_default_uid_base;

    const VolumeSpec* find_volume(std::string_view name) const;
    const VmSpec* find_vm(std::string_view name) const;
    const NetworkSpec* find_network(std::string_view name) const;

    // The prefix for a message about one key: "demo.toml:14: vm.web.kernel" (":14" omitted
    // when line is 0). Callers append ": what went wrong".
    std::string where(std::uint32_t line, std::string_view dotted_key) const;
};

// Parses and validates a manifest. `source_name` is used in messages only; relative paths are
// joined to `base_dir` lexically ("" leaves them relative; no `..` folding, no symlinks
// resolved). On failure returns Errc::InvalidInput (or Errc::Unsupported for a feature not yet
// supported), whose one-line message (describe()) names the source, the
// line, the dotted key, what is wrong and the value. Pure, no I/O; thread-safe. Accepts any
// bytes (the text need not be valid UTF-8; TOML rejects it then).
Result<Manifest> parse_manifest(std::string_view text, std::string_view source_name, std::string_view base_dir);

// The lattice and the labelled volumes alone, in a manifest's syntax ([lattice] and
// [volume.NAME]; any other table is an unknown key): the policy file of moat-oci, whose
// containers take their labels from annotations. The result has no VMs, networks or channels.
Result<Manifest> parse_objects(std::string_view text, std::string_view source_name, std::string_view base_dir);

// "demo.toml:14: vm.web.kernel": where a message about one key points (":14" omitted when line
// is 0). Callers append ": what went wrong".
std::string where(std::string_view source, std::uint32_t line, std::string_view dotted_key);

// Lexical join: `path` if it is absolute or base_dir is empty, else base_dir + "/" + path.
std::string join_path(std::string_view base_dir, std::string_view path);

const char* to_string(Restart restart);  // "never" / "on-failure"
const char* to_string(ChannelKind kind);  // "both-ways" / "pump"

}  // namespace moat::policy
