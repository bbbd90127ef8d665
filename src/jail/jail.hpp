// The jail of a VM process (`moat-vmm`). It is entered after the launch message and its
// descriptors have arrived and before the VM is built, so that nothing of the guest runs or is
// parsed outside it:
//
//   1. a cgroup of its own (cgroup.hpp), where cgroup v2 is there to give one;
//   2. new mount, PID, IPC, UTS and network namespaces (and a user namespace when not root);
//   3. pivot_root into an empty, read-only tmpfs: no /proc, no /dev, no path to a host file;
//   4. fork: the child is PID 1 of the new PID namespace and goes on to be the VM; the parent
//      becomes its reaper (it passes stop signals on and ends as the child ends, so whoever
//      started the VM process sees one process) and never returns from enter();
//   5. in the child, a new cgroup namespace rooted at its cgroup;
//   6. in both, drop_privileges: a uid and gid of their own (base + the VM process's pid, so
//      that two VMs never share one), no supplementary groups, every capability set empty,
//      PR_SET_NO_NEW_PRIVS, not dumpable, RLIMIT_CORE 0.
//
// Then the VM is built, and seal() finishes the job once its threads exist: RLIMIT_NPROC 0,
// RLIMIT_NOFILE just above the descriptors it holds, and the seccomp filters (seccomp.hpp).
#pragma once

#include <signal.h>

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "jail/seccomp.hpp"

namespace moat::jail {

// The signals the reaper passes on to the VM process, which stops on them (a container's VM
// passes them to its guest instead).
inline constexpr int k_passed_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};

struct Plan {
    std::string name;              // the VM's name, or "" (`moat run`): names its cgroup
    std::uint32_t uid_base = 0;    // protocol::check_uid_base
    std::uint64_t memory = 0;      // guest memory in bytes: memory.max is this plus an overhead
    std::uint32_t cpus = 1;        // pids.max is this plus three (jail.cpp)
    bool standalone = false;       // the reaper says why the VM process died, and so does
                                   // a missing cgroup (a monitor says that once per system)
    int monitor = -1;              // the socket to the monitor (the VMM thread's filter), or -1
    bool vsock = false;            // the VM has a vsock device: its calls are allowed
    std::vector<int> receive;      // sockets it receives descriptors on (FilterTarget::receive)
    bool pump = false;             // a channel's pump (src/pump/): Jailed::vmm_filter is the pump's
    std::vector<int> taps{};       // its virtio-net devices' taps (FilterTarget::taps)
};

struct Jailed {
    uid_t uid = 0;
    gid_t gid = 0;
    bool user_namespace = false;  // not started as root: ids are the caller's own
    bool cgroup = false;          // the VM's cgroup limits apply
    std::string no_cgroup;        // why not, when they do not
    bool cgroup_failed = false;   // cgroup v2 was there, but making this VM's cgroup failed
    // The VM process's filters, compiled before the fork (its pid in its namespace is 1), so
    // that libseccomp never runs in it: installed by its threads once the VM is built.
    Filter vmm_filter;   // the pump's filter for a pump
    Filter vcpu_filter;  // empty for a pump
};

// Jails the calling process, which must be single-threaded. Returns in the VM process (PID 1
// of its namespace); in the calling process, which becomes the reaper, it never returns.
Result<Jailed> enter(const Plan& plan);

// The last limits, once every thread and descriptor of the VM exists: RLIMIT_NPROC 0 (no new
// process or thread) and RLIMIT_NOFILE at the highest descriptor held plus `spare_fds`.
Result<void> seal_limits(int spare_fds);

}  // namespace moat::jail
