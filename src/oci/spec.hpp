// An OCI bundle's config.json (runtime-spec 1.x), reduced to what a VM runtime honours or maps.
// The fields moat-oci ignores are named in `ignored`, so that it can say which; anything it
// cannot honour safely (a read-write bind of a directory) is refused later, by the runtime.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace moat::oci {

struct Rlimit {
    std::string type;  // "RLIMIT_NOFILE", ...
    std::uint64_t soft = 0;
    std::uint64_t hard = 0;
};

struct User {
    std::uint32_t uid = 0;
    std::uint32_t gid = 0;
    std::optional<std::uint32_t> umask;
    std::vector<std::uint32_t> additional_gids;
};

// The capability sets, each a list of names as the spec writes them ("CAP_NET_BIND_SERVICE").
struct Capabilities {
    std::vector<std::string> bounding, effective, inheritable, permitted, ambient;
};

struct Process {
    bool terminal = false;
    std::optional<std::uint32_t> console_height, console_width;
    std::vector<std::string> args;  // never empty
    std::vector<std::string> env;   // each "NAME=VALUE"
    std::string cwd;                // absolute
    User user;
    std::vector<Rlimit> rlimits;
    std::optional<Capabilities> capabilities;
    bool no_new_privileges = false;
};

struct Mount {
    std::string destination;  // absolute
    std::string type;         // may be empty (a bind)
    std::string source;
    std::vector<std::string> options;

    bool is_bind() const;
    bool is_read_only() const;  // "ro" among the options
};

struct Spec {
    std::string oci_version;
    std::string root_path;  // as written: relative to the bundle, or absolute
    bool root_readonly = false;
    std::optional<Process> process;  // required by create
    std::string hostname;
    std::vector<Mount> mounts;
    std::map<std::string, std::string> annotations;
    // linux.resources: memory.limit in bytes; cpu quota and period in microseconds.
    std::optional<std::int64_t> memory_limit;
    std::optional<std::int64_t> cpu_quota;
    std::optional<std::uint64_t> cpu_period;
    // Fields present that a VM runtime does not apply, as paths ("linux.seccomp").
    std::vector<std::string> ignored;
};

// The largest config.json read: real ones are a few KiB.
inline constexpr std::size_t k_max_config_bytes = 1 << 20;

// Parses config.json. Errors are Errc::InvalidInput with the field named in the context
// ("process.args: must be a non-empty array of strings").
Result<Spec> parse_spec(std::string_view json);

// The guest's size from linux.resources: memory in bytes (the limit, at least `min_memory`;
// `default_memory` without one) and vCPUs (quota / period rounded up, 1..max_vcpus; 1 without).
struct Size {
    std::uint64_t memory;
    std::uint32_t vcpus;
};
Size guest_size(const Spec& s, std::uint64_t default_memory, std::uint64_t min_memory, std::uint32_t max_vcpus);

}  // namespace moat::oci
