// The reference monitor at run time: takes every decision of a system before anything starts,
// opens what was granted, starts one VM process per VM with only those descriptors, supervises
// them, serves the control socket and writes the audit log (DESIGN.md "Process model").
#pragma once

#include <string>
#include <vector>

#include "policy/manifest.hpp"

namespace moat::monitor {

struct SystemOptions {
    std::string state_dir;    // created if missing (mode 0700)
    std::string vmm_exe;      // the VM processes' program (moat-vmm)
    std::string pump_exe;     // the pumps' program (moat-pump)
    std::string default_cmdline;
    bool jail = true;  // false: `--no-jail`, for debugging only (warned and audited)
};

// Exit statuses of `moat up`.
inline constexpr int k_system_ok = 0;       // every VM ended by itself or on request
inline constexpr int k_system_vm_failed = 1;  // some VM failed (after its restarts)
inline constexpr int k_system_refused = 2;  // a denial, a bad file or label: nothing started

// Runs the system to its end and returns its exit status. Messages go to stderr, consoles to
// stdout with a "name | " prefix.
int run_system(const policy::Manifest& m, const SystemOptions& o);

// Where the control socket of a state directory is, and where the last system started by this
// user points to its state directory (for commands run without --state).
std::string control_socket_path(const std::string& state_dir);
std::string current_system_link();

}  // namespace moat::monitor
