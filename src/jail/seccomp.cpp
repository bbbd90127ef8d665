// The allow-lists. Each entry is one system call with the arguments it is pinned to and why the
// role needs it; anything else kills the process. Not allowed in any role: open*, socket and
// connect (but in the vsock connector, which runs outside the jail), socketpair (but Unix ones
// in a VM with channels), execve, fork/clone, ptrace, mount, bpf, kill of another process, mprotect/mmap with
// PROT_EXEC, ioctl outside the listed requests.
#include "jail/seccomp.hpp"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <span>

#include "base/unique_fd.hpp"

namespace moat::jail {

namespace {

// What an entry pins its arguments to.
enum class Only : std::uint8_t {
    Any,
    Self,          // arg0 is this process (kill, tgkill)
    Child,         // arg0 is the reaper's child (kill)
    Monitor,       // arg0 is the socket to the monitor
    Stderr,        // arg0 is fd 2
    NoExec,        // arg2 (prot) has no PROT_EXEC
    DontNeed,      // arg2 (advice) is MADV_DONTNEED
    VcpuIoctls,    // arg1 is KVM_RUN, KVM_GET_REGS or KVM_GET_SREGS
    TermIoctls,    // arg1 is TCSETS or TCGETS (glibc's tcsetattr reads the mode back)
    WinSize,       // arg1 is TIOCGWINSZ
    ConsoleFcntl,  // arg1 is F_GETFL, F_SETFL or F_DUPFD_CLOEXEC
    Vsock,         // only in a VM with a vsock device, any arguments
    VsockUnix,     // only in a VM with a vsock device, arg0 (domain) AF_UNIX
    Connector,     // arg0 is the connector's socket to the VM process
    Receive,       // arg0 is one of FilterTarget::receive
    Tap,           // arg0 is one of FilterTarget::taps
    TapOffload,    // arg0 is one of FilterTarget::taps, arg1 TUNSETOFFLOAD
    Unix,          // arg0 (domain) is AF_UNIX
};

struct Entry {
    int nr;
    const char* name;
    Only only;
    const char* why;
};

#define MOAT_CALL(name, only, why) Entry{SCMP_SYS(name), #name, Only::only, why}

// The event thread, from the moment the vCPUs start until the process exits. Each list runs
// hottest first: its order is the order the filter tests the calls in (compile()).
const Entry k_vmm[] = {
    MOAT_CALL(epoll_wait, Any, "the event loop waits for its sources"),
    MOAT_CALL(read, Any, "eventfds, timerfds, the signalfd, console input"),
    MOAT_CALL(write, Any, "console output, interrupts through irqfds, log lines"),
    MOAT_CALL(writev, Any, "console output behind its prefix"),
    MOAT_CALL(readv, Vsock, "vsock payloads from host sockets straight into guest buffers"),
    MOAT_CALL(readv, Tap, "virtio-net: frames from the VM's taps straight into guest buffers"),
    MOAT_CALL(sendmsg, Vsock, "vsock payloads to host sockets (no SIGPIPE); requests to the connector"),
    MOAT_CALL(pread64, Any, "virtio-blk reads"),
    MOAT_CALL(preadv, Any, "virtio-blk reads into several buffers"),
    MOAT_CALL(pwrite64, Any, "virtio-blk writes"),
    MOAT_CALL(pwritev, Any, "virtio-blk writes from several buffers"),
    MOAT_CALL(fdatasync, Any, "virtio-blk flushes, and writable disks at the end"),
    MOAT_CALL(timerfd_settime, Any, "virtio-blk's batching polls and the report timer"),
    MOAT_CALL(epoll_ctl, Any, "console clients come and go"),
    MOAT_CALL(sendto, Monitor, "reports to the monitor"),
    MOAT_CALL(recvmsg, Monitor, "console clients the monitor hands over"),
    MOAT_CALL(recvmsg, Receive, "host sockets from the vsock connector, connections over channels"),
    MOAT_CALL(accept4, Vsock, "host programs connecting to the vsock listener"),
    MOAT_CALL(shutdown, Vsock, "a guest's vsock SHUTDOWN half-closes its host socket"),
    MOAT_CALL(socketpair, VsockUnix, "a guest's connection across a channel is a Unix stream socketpair"),
    MOAT_CALL(fcntl, ConsoleFcntl, "a console client: its output descriptor, O_NONBLOCK"),
    MOAT_CALL(close, Any, "a console client leaves; descriptors at the end"),
    MOAT_CALL(futex, Any, "locks shared with the vCPU threads; joining them"),
    MOAT_CALL(getpid, Any, "pthread_kill names the process before tgkill"),
    MOAT_CALL(tgkill, Self, "kicks a vCPU thread out of KVM_RUN"),
    MOAT_CALL(rt_sigprocmask, Any, "the signal mask restored at the end"),
    MOAT_CALL(ioctl, TermIoctls, "the terminal back to its own mode at the end"),
    MOAT_CALL(ioctl, WinSize, "a container's terminal size, for its guest"),
    MOAT_CALL(ioctl, TapOffload, "virtio-net: a device still in use at the end is reset, its tap's offloads off"),
    MOAT_CALL(brk, Any, "malloc grows the heap"),
    MOAT_CALL(mmap, NoExec, "malloc of large blocks"),
    MOAT_CALL(munmap, Any, "free of large blocks; guest memory at the end"),
    MOAT_CALL(madvise, DontNeed, "free returns memory"),
    MOAT_CALL(clock_gettime, Any, "time where the vDSO does not answer"),
    MOAT_CALL(exit_group, Any, "the process ends"),
};

// A vCPU thread, from before its first KVM_RUN to its end.
const Entry k_vcpu[] = {
    MOAT_CALL(ioctl, VcpuIoctls, "KVM_RUN; registers for the report of a crashed guest"),
    MOAT_CALL(write, Any, "ioeventfd forwarding, irqfds, serial output, log lines"),
    MOAT_CALL(writev, Any, "serial output behind its prefix"),
    MOAT_CALL(timerfd_settime, Any, "arms the report timer once the console's budget is spent"),
    MOAT_CALL(futex, Any, "the stop request's lock, the console's lock"),
    MOAT_CALL(rt_sigreturn, Any, "returning from the kick signal's handler"),
    MOAT_CALL(brk, Any, "malloc in device code run on this thread"),
    MOAT_CALL(mmap, NoExec, "malloc of large blocks"),
    MOAT_CALL(munmap, Any, "free of large blocks"),
    MOAT_CALL(madvise, DontNeed, "glibc releases the thread's stack as it ends"),
    MOAT_CALL(rt_sigprocmask, Any, "glibc blocks signals as the thread ends"),
    MOAT_CALL(clock_gettime, Any, "time where the vDSO does not answer"),
    MOAT_CALL(close, Vsock, "a vsock device the driver resets closes its host sockets"),
    MOAT_CALL(ioctl, TapOffload, "virtio-net: the tap's offloads follow what the driver negotiated"),
    MOAT_CALL(exit, Any, "the thread ends"),
};

// The reaper: waits, passes stop signals on, ends as its child ended.
const Entry k_reaper[] = {
    MOAT_CALL(rt_sigtimedwait, Any, "waits for a stop signal or its child's end"),
    MOAT_CALL(wait4, Any, "collects its child's status"),
    MOAT_CALL(kill, Child, "passes a stop signal on to the VM process"),
    MOAT_CALL(kill, Self, "ends by the signal that ended its child"),
    MOAT_CALL(rt_sigprocmask, Any, "unblocks that signal first"),
    MOAT_CALL(write, Stderr, "says why the VM process ended, when nobody else will"),
    MOAT_CALL(ioctl, TermIoctls, "gives a terminal its mode back after the VM process was killed"),
    MOAT_CALL(exit_group, Any, "the process ends"),
};

// The vsock connector (protocol/host_connect.hpp): outside the jail, with the host's file
// system, it connects to PATH_<port> for the VM process and removes PATH when the VM ends.
const Entry k_connector[] = {
    MOAT_CALL(recvmsg, Connector, "a request from the VM process"),
    MOAT_CALL(socket, Unix, "a Unix stream socket per request"),
    MOAT_CALL(connect, Any, "to PATH_<port>"),
    MOAT_CALL(sendmsg, Connector, "the answer, with the connected socket"),
    MOAT_CALL(close, Any, "its copy of each socket once it is sent"),
    MOAT_CALL(newfstatat, Any, "PATH is still the listener it made"),
    MOAT_CALL(unlink, Any, "... and removes it when the VM ends"),
    MOAT_CALL(exit_group, Any, "the process ends"),
};

// The pump: its event loop, the links and streams it moves bytes between, its stop signal.
const Entry k_pump[] = {
    MOAT_CALL(epoll_pwait2, Any, "the event loop waits for its sources and its next scheduled read"),
    MOAT_CALL(read, Any, "the low side's bytes, the high side's answer and bytes to drop, the stop signal"),
    MOAT_CALL(sendmsg, Any, "bytes to the high side, the low side's one-byte answer, records on the high link"),
    MOAT_CALL(recvmsg, Receive, "connections from the low side's link"),
    MOAT_CALL(socketpair, Unix, "a stream of its own to the high side per connection"),
    MOAT_CALL(epoll_ctl, Any, "connections come and go"),
    MOAT_CALL(fcntl, ConsoleFcntl, "a connection's stream made non-blocking"),
    MOAT_CALL(shutdown, Any, "the high side hears the end of a connection"),
    MOAT_CALL(close, Any, "connections end"),
    MOAT_CALL(brk, Any, "malloc grows the heap"),
    MOAT_CALL(mmap, NoExec, "malloc of large blocks"),
    MOAT_CALL(munmap, Any, "free of large blocks"),
    MOAT_CALL(madvise, DontNeed, "free returns memory"),
    MOAT_CALL(clock_gettime, Any, "time where the vDSO does not answer"),
    MOAT_CALL(exit_group, Any, "the process ends"),
};

#if MOAT_SANITIZER_RUNTIME
// Sanitizer builds only (`make asan`, the fuzz build): what the AddressSanitizer and
// UndefinedBehaviorSanitizer runtimes call on a jailed thread's behalf, added to every role.
// Never part of a release build's filters, nor counted by allowed_calls().
const Entry k_sanitizer_runtime[] = {
    MOAT_CALL(pipe2, Any, "UBSan's vptr check tests that memory is readable through a pipe"),
    MOAT_CALL(close, Any, "... and closes the pipe"),
    MOAT_CALL(write, Any, "... and writes the memory into it"),
    MOAT_CALL(sigaltstack, Any, "ASan removes a thread's signal stack as the thread ends"),
    MOAT_CALL(gettid, Any, "the runtimes name the thread they act for"),
    MOAT_CALL(sched_yield, Any, "the runtimes' spin locks"),
    MOAT_CALL(madvise, Any, "ASan's allocator gives the pages of freed large blocks back"),
};
#endif

#undef MOAT_CALL

std::span<const Entry> entries(Role r)
{
    switch (r) {
    case Role::Vmm: return k_vmm;
    case Role::Vcpu: return k_vcpu;
    case Role::Reaper: return k_reaper;
    case Role::Connector: return k_connector;
    case Role::Pump: return k_pump;
    }
    return {};
}

using Ctx = std::unique_ptr<void, void (*)(scmp_filter_ctx)>;

int add(scmp_filter_ctx ctx, int nr, std::initializer_list<scmp_arg_cmp> args)
{
    return seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, static_cast<unsigned>(args.size()), args.begin());
}

// One rule per value of the second argument (an ioctl request, an fcntl command).
int add_each_arg1(scmp_filter_ctx ctx, int nr, std::initializer_list<unsigned long> values)
{
    for (const unsigned long v : values)
        if (int r = add(ctx, nr, {SCMP_A1(SCMP_CMP_EQ, v)}); r != 0) return r;
    return 0;
}

int add_entry(scmp_filter_ctx ctx, const Entry& e, const FilterTarget& t)
{
    const auto self = static_cast<scmp_datum_t>(t.self);
    switch (e.only) {
    case Only::Any: return add(ctx, e.nr, {});
    case Only::Self: return add(ctx, e.nr, {SCMP_A0(SCMP_CMP_EQ, self)});
    case Only::Child: return add(ctx, e.nr, {SCMP_A0(SCMP_CMP_EQ, static_cast<scmp_datum_t>(t.child))});
    case Only::Monitor:
        // No monitor: the call stays forbidden.
        return t.monitor < 0 ? 0 : add(ctx, e.nr, {SCMP_A0(SCMP_CMP_EQ, static_cast<scmp_datum_t>(t.monitor))});
    case Only::Stderr: return add(ctx, e.nr, {SCMP_A0(SCMP_CMP_EQ, STDERR_FILENO)});
    case Only::NoExec: return add(ctx, e.nr, {SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0)});
    case Only::DontNeed: return add(ctx, e.nr, {SCMP_A2(SCMP_CMP_EQ, MADV_DONTNEED)});
    case Only::VcpuIoctls: return add_each_arg1(ctx, e.nr, {KVM_RUN, KVM_GET_REGS, KVM_GET_SREGS});
    case Only::TermIoctls: return add_each_arg1(ctx, e.nr, {TCSETS, TCGETS});
    case Only::WinSize: return add_each_arg1(ctx, e.nr, {TIOCGWINSZ});
    case Only::ConsoleFcntl: return add_each_arg1(ctx, e.nr, {F_GETFL, F_SETFL, F_DUPFD_CLOEXEC});
    case Only::Vsock: return t.vsock ? add(ctx, e.nr, {}) : 0;
    case Only::VsockUnix: return t.vsock ? add(ctx, e.nr, {SCMP_A0(SCMP_CMP_EQ, AF_UNIX)}) : 0;
    case Only::Connector:
        return t.connector < 0 ? 0 : add(ctx, e.nr, {SCMP_A0(SCMP_CMP_EQ, static_cast<scmp_datum_t>(t.connector))});
    case Only::Unix: return add(ctx, e.nr, {SCMP_A0(SCMP_CMP_EQ, AF_UNIX)});
    case Only::Receive:
        for (int fd : t.receive)
            if (int r = add(ctx, e.nr, {SCMP_A0(SCMP_CMP_EQ, static_cast<scmp_datum_t>(fd))}); r != 0) return r;
        return 0;
    case Only::Tap:
        for (int fd : t.taps)
            if (int r = add(ctx, e.nr, {SCMP_A0(SCMP_CMP_EQ, static_cast<scmp_datum_t>(fd))}); r != 0) return r;
        return 0;
    case Only::TapOffload:
        for (int fd : t.taps)
            if (int r = add(ctx, e.nr, {SCMP_A0(SCMP_CMP_EQ, static_cast<scmp_datum_t>(fd)),
                                        SCMP_A1(SCMP_CMP_EQ, static_cast<scmp_datum_t>(TUNSETOFFLOAD))});
                r != 0)
                return r;
        return 0;
    }
    return -EINVAL;
}

}  // namespace

const char* to_string(Role r)
{
    switch (r) {
    case Role::Vmm: return "VMM thread";
    case Role::Vcpu: return "vCPU thread";
    case Role::Reaper: return "reaper";
    case Role::Connector: return "vsock connector";
    case Role::Pump: return "pump";
    }
    return "?";
}

std::vector<AllowedCall> allowed_calls(Role r)
{
    std::vector<AllowedCall> calls;
    for (const Entry& e : entries(r)) {
        const bool seen = std::any_of(calls.begin(), calls.end(), [&](const AllowedCall& c) { return c.nr == e.nr; });
        if (!seen) calls.push_back({e.nr, e.name, e.why});
    }
    return calls;
}

Result<Filter> compile(Role r, const FilterTarget& t)
{
    Ctx ctx(seccomp_init(SCMP_ACT_KILL_PROCESS), seccomp_release);
    if (!ctx) return fail(Errc::Io, "seccomp_init");
    // Another architecture's system call numbers (int 0x80, x32) kill as well.
    if (seccomp_attr_set(ctx.get(), SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS) != 0)
        return fail(Errc::Io, "seccomp_attr_set");
    // The lists run hottest first (KVM_RUN, the event loop's calls): libseccomp tests the calls
    // in priority order, so a vCPU's every exit passes one comparison, not the whole list.
    std::uint8_t priority = 255;
    for (const Entry& e : entries(r)) {
        if (int err = add_entry(ctx.get(), e, t); err != 0) return fail(Errc::Io, "seccomp_rule_add", -err);
        if (int err = seccomp_syscall_priority(ctx.get(), e.nr, priority); err != 0)
            return fail(Errc::Io, "seccomp_syscall_priority", -err);
        if (priority > 1) --priority;
    }
#if MOAT_SANITIZER_RUNTIME
    for (const Entry& e : k_sanitizer_runtime) {
        // A call a role allows with pinned arguments stays pinned only without this rule.
        if (int err = add_entry(ctx.get(), e, t); err != 0) return fail(Errc::Io, "seccomp_rule_add", -err);
    }
#endif
    // libseccomp writes the program to a descriptor: a memfd, read back whole.
    base::UniqueFd mem(::memfd_create("moat-seccomp", MFD_CLOEXEC));
    if (!mem.valid()) return fail_errno("memfd_create");
    if (int err = seccomp_export_bpf(ctx.get(), mem.get()); err != 0) return fail(Errc::Io, "seccomp_export_bpf", -err);
    const off_t size = ::lseek(mem.get(), 0, SEEK_END);
    if (size <= 0 || size % static_cast<off_t>(sizeof(sock_filter)) != 0 || size > (off_t{1} << 20))
        return fail(Errc::Io, "seccomp_export_bpf: unexpected program size");
    Filter f;
    f.program.resize(static_cast<std::size_t>(size) / sizeof(sock_filter));
    if (::pread(mem.get(), f.program.data(), static_cast<std::size_t>(size), 0) != size) return fail_errno("pread");
    return f;
}

Result<void> install(const Filter& f)
{
    if (f.program.empty() || f.program.size() > BPF_MAXINSNS) return fail(Errc::InvalidInput, "seccomp filter size");
    sock_fprog prog{static_cast<unsigned short>(f.program.size()), const_cast<sock_filter*>(f.program.data())};
    if (::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) return fail_errno("seccomp");
    return {};
}

}  // namespace moat::jail
