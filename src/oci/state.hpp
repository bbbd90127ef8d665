// What moat-oci keeps of a container between its commands: ROOT/ID/state.json, written
// atomically, and the runtime-spec state it reports (`moat-oci state`). The container's process
// is the moat VM process; its pid is stored with its start time, so a pid the kernel has since
// given to another process is not mistaken for the container.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.hpp"

namespace moat::oci {

// runtime-spec "State": creating, created, running, stopped.
enum class Status : std::uint8_t { Creating, Created, Running, Stopped };
const char* to_string(Status s);

struct State {
    std::string id;
    std::string bundle;       // absolute
    int pid = 0;              // 0 until the VM process exists
    std::uint64_t pid_start = 0;  // its start time (/proc/PID/stat, field 22)
    std::string created;      // RFC 3339, UTC
    Status status = Status::Creating;
    std::map<std::string, std::string> annotations;
};

// The OCI version moat-oci implements and reports.
inline constexpr const char* k_oci_version = "1.1.0";

// A container id as runc takes it: 1 to 128 of [A-Za-z0-9_+.-], not "." or "..". Errors name it.
Result<void> check_id(std::string_view id);

// The state file's JSON, and back. parse_state() refuses what it did not write.
std::string to_json(const State& s);
Result<State> parse_state(std::string_view json);

// runtime-spec's state document for `moat-oci state`, with `status` as given.
std::string runtime_state(const State& s, Status now);

// The container's status now: a stored created/running container whose process is gone, or
// whose pid now names another process, is stopped.
Status current_status(const State& s);

// The start time of process `pid` (clock ticks since boot), or nothing when it does not exist.
std::optional<std::uint64_t> process_start(pid_t pid);
// The same from the text of /proc/PID/stat (the name in field 2 may hold spaces and parentheses).
std::optional<std::uint64_t> start_from_stat(std::string_view stat);

// Writes `content` to `path` through a temporary file in the same directory, synced, then
// renamed: a reader sees the old file or the whole new one.
Result<void> write_atomic(const std::string& path, std::string_view content, mode_t mode);

// The whole of a file of at most `max` bytes (Errc::NotFound when it does not exist; an error
// naming it when it is larger).
Result<std::string> read_capped(const std::string& path, std::size_t max);

}  // namespace moat::oci
