// The system calls a jailed VM process may make, one allow-list per thread role, as seccomp-bpf
// filters whose default action kills the whole process (SECCOMP_RET_KILL_PROCESS). The lists
// and their reasons are in seccomp.cpp; libseccomp compiles them to BPF once, before any thread
// runs guest-controlled code, and each thread installs its role's program with one system call.
#pragma once

#include <linux/filter.h>
#include <sys/types.h>

#include <cstdint>
#include <vector>

#include "base/result.hpp"

namespace moat::jail {

enum class Role : std::uint8_t {
    Vmm,     // the event thread: virtio queues, console, reports to the monitor
    Vcpu,    // a vCPU thread: KVM_RUN and the port/MMIO exits it serves
    Reaper,  // the process that waits for the VM process in its PID namespace (jail.hpp)
    Connector,  // `moat run --vsock`'s connector, outside the jail (protocol/host_connect.hpp)
    Pump,       // a one-way channel's pump (src/pump/)
};

const char* to_string(Role r);

// What a filter pins arguments to: values of the process it is built for.
struct FilterTarget {
    pid_t self = 0;     // this process (tgkill only to its own threads, kill only to itself)
    pid_t child = 0;    // Reaper: the VM process it waits for
    int monitor = -1;   // Vmm: the socket to the monitor, or -1 when there is none
    bool vsock = false;  // Vmm, Vcpu: the VM has a vsock device (its calls are allowed only then)
    int connector = -1;  // Connector: its socket to the VM process
    // Vmm: the sockets besides the monitor's it receives descriptors on (its vsock connector's,
    // its channels' incoming links).
    std::vector<int> receive{};
    // Vmm, Vcpu: the VM's taps (virtio-net): read into guest buffers, their offloads set as a
    // driver negotiates them.
    std::vector<int> taps{};
};

// One allowed system call of a role, for tests and for `moat-vmm`'s debug output.
struct AllowedCall {
    int nr;
    const char* name;
    const char* why;
};

// The distinct system calls a role allows (a call allowed with several argument patterns
// appears once).
std::vector<AllowedCall> allowed_calls(Role r);

// A compiled filter: BPF instructions ready for seccomp(SECCOMP_SET_MODE_FILTER).
struct Filter {
    std::vector<sock_filter> program;
};

Result<Filter> compile(Role r, const FilterTarget& t);

// Installs `f` on the calling thread (and so on the threads it starts later). Needs
// PR_SET_NO_NEW_PRIVS (jail::drop_privileges sets it). Allocates nothing.
Result<void> install(const Filter& f);

}  // namespace moat::jail
