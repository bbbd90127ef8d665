// moat-oci's commands on containers that exist: state, kill, delete, ps. Each works on the state
// directory ROOT/ID (runc's --root; /run/moat-oci by default) and prints nothing but its result;
// errors come back for the command line to report.
#pragma once

#include <chrono>
#include <string>

#include "base/result.hpp"
#include "oci/state.hpp"

namespace moat::oci {

inline constexpr const char* k_default_root = "/run/moat-oci";

struct Store {
    std::string root;

    std::string dir(const std::string& id) const { return root + "/" + id; }
    std::string state_file(const std::string& id) const { return dir(id) + "/state.json"; }
    // The container's stored state; Errc::NotFound ("container 'ID' does not exist") without one.
    Result<State> load(const std::string& id) const;
    Result<void> save(const State& s) const;
};

// runtime-spec's state document of container `id`.
Result<std::string> state_command(const Store& store, const std::string& id);

// Sends `signal` to the container's process; refused unless it is created or running.
Result<void> kill_command(const Store& store, const std::string& id, int signal);

// Removes the container's state. A created or running container is refused unless `force`,
// which kills its process (SIGKILL) and waits up to `wait` for it to go. With `force`, a
// container that does not exist is no error (containerd deletes twice).
Result<void> delete_command(const Store& store, const std::string& id, bool force,
                            std::chrono::milliseconds wait = std::chrono::seconds(10));

// The container's processes as `ps --format json` prints them: a JSON array of host pids (the
// VM process while it lives), or a table with a PID header.
Result<std::string> ps_command(const Store& store, const std::string& id, bool json);

// `features` (runtime-spec features.md): the versions moat-oci takes, and its annotations.
std::string features_document();

}  // namespace moat::oci
