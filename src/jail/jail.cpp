// Entering the jail (jail.hpp), step by step.
#include "jail/jail.hpp"

#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <vector>

#include "base/unique_fd.hpp"
#include "jail/cgroup.hpp"
#include "jail/seccomp.hpp"

namespace moat::jail {

namespace {

// The signals a VM process stops on (its event loop reads them from a signalfd; a container's
// passes them to its guest) and SIGCHLD,
// blocked before the fork so that none is lost: PID 1 of a namespace drops a signal from
// outside that it neither handles nor blocks, and the reaper waits for them with sigwaitinfo.
sigset_t waited_signals()
{
    sigset_t s;
    sigemptyset(&s);
    for (int sig : k_passed_signals) sigaddset(&s, sig);
    sigaddset(&s, SIGCHLD);
    return s;
}

Result<void> write_proc(const char* path, const std::string& value)
{
    base::UniqueFd fd(::open(path, O_WRONLY | O_CLOEXEC));
    if (!fd.valid() || ::write(fd.get(), value.data(), value.size()) != static_cast<ssize_t>(value.size()))
        return fail_errno_in(path);
    return {};
}

// Mount, PID, IPC, UTS and network namespaces; without root, a user namespace first, in which
// the caller's own uid and gid are all there is.
Result<void> namespaces(const Jailed& j)
{
    int flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET;
    if (j.user_namespace) flags |= CLONE_NEWUSER;
    if (::unshare(flags) != 0) {
        if (!j.user_namespace || (errno != EPERM && errno != ENOSPC)) return fail_errno("unshare");
        return fail_with(Errc::Unsupported, std::string("unshare: ") + std::strerror(errno) +
                                                " (this host does not let users make user namespaces: run as root)");
    }
    if (!j.user_namespace) return {};
    MOAT_TRY(write_proc("/proc/self/setgroups", "deny"));
    MOAT_TRY(write_proc("/proc/self/uid_map", std::to_string(j.uid) + " " + std::to_string(j.uid) + " 1"));
    return write_proc("/proc/self/gid_map", std::to_string(j.gid) + " " + std::to_string(j.gid) + " 1");
}

// An empty, read-only tmpfs becomes `/`; the host's tree is detached (pivot_root(2)'s
// "pivot_root(".", ".")" idiom: the old root ends up on top of the new one, and goes).
Result<void> empty_root()
{
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return fail_errno("mount: / private");
    if (::mount("moat-jail", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,nr_inodes=2,mode=0") != 0)
        return fail_errno("mount: a tmpfs on /tmp");
    if (::chdir("/tmp") != 0) return fail_errno("chdir: /tmp");
    if (::syscall(SYS_pivot_root, ".", ".") != 0) return fail_errno("pivot_root");
    if (::umount2(".", MNT_DETACH) != 0) return fail_errno("umount2: the host's root");
    if (::chdir("/") != 0) return fail_errno("chdir: /");
    const unsigned long ro = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC;
    if (::mount(nullptr, "/", nullptr, ro, nullptr) != 0) return fail_errno("mount: / read-only");
    return {};
}

Result<void> drop_privileges(const Jailed& j)
{
    if (!j.user_namespace) {
        if (::setgroups(0, nullptr) != 0) return fail_errno("setgroups");
        if (::setresgid(j.gid, j.gid, j.gid) != 0) return fail_errno("setresgid");
    }
    for (int cap = 0; cap < 64; ++cap) {
        if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) return fail_errno("PR_CAPBSET_DROP");
    }
    if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0) return fail_errno("PR_CAP_AMBIENT");
    if (!j.user_namespace && ::setresuid(j.uid, j.uid, j.uid) != 0) return fail_errno("setresuid");
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct none[_LINUX_CAPABILITY_U32S_3]{};
    if (::syscall(SYS_capset, &header, none) != 0) return fail_errno("capset");
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return fail_errno("PR_SET_NO_NEW_PRIVS");
    if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) return fail_errno("PR_SET_DUMPABLE");
    const rlimit zero{0, 0};
    if (::setrlimit(RLIMIT_CORE, &zero) != 0) return fail_errno("setrlimit: RLIMIT_CORE");
    return {};
}

void say(const char* text) { [[maybe_unused]] auto r = ::write(STDERR_FILENO, text, std::char_traits<char>::length(text)); }

// Ends as `status` says the child ended: the same exit code, or the same signal. A child killed
// could not give its terminal back its mode: `terminal` is that mode, when stdin is one.
[[noreturn]] void end_like(int status, pid_t self, bool standalone, const std::optional<termios>& terminal)
{
    if (WIFEXITED(status)) ::_exit(WEXITSTATUS(status));
    const int sig = WTERMSIG(status);
    if (terminal) ::tcsetattr(STDIN_FILENO, TCSANOW, &*terminal);
    if (standalone && sig == SIGSYS) say("moat: killed: seccomp violation\n");
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, sig);
    ::sigprocmask(SIG_UNBLOCK, &one, nullptr);
    ::kill(self, sig);
    ::_exit(128 + sig);
}

// The reaper: holds nothing of the VM (stderr, a terminal on stdin, its end of the pipe the
// child watches), is jailed as the child is, passes stop signals on and ends as the child ends.
[[noreturn]] void reap(pid_t child, const Jailed& j, int alive, bool standalone, const std::optional<termios>& terminal)
{
    const pid_t self = ::getpid();
    if (!terminal) ::close(STDIN_FILENO);
    ::close(STDOUT_FILENO);
    if (::dup2(alive, 3) != 3) ::_exit(1);
    ::close_range(4, ~0u, 0);
    auto filter = compile(Role::Reaper, {self, child, -1});
    if (!drop_privileges(j) || !filter || !install(*filter)) {
        say("moat: the VM process's reaper could not be jailed\n");
        ::kill(child, SIGKILL);
        ::_exit(1);
    }
    const sigset_t waited = waited_signals();
    for (;;) {
        siginfo_t si;
        const int sig = ::sigwaitinfo(&waited, &si);
        if (sig == SIGCHLD) {
            int status = 0;
            if (::waitpid(child, &status, WNOHANG) == child) end_like(status, self, standalone, terminal);
        } else if (sig > 0) {
            ::kill(child, sig);
        }
    }
}

// pids.max beyond the vCPU threads: the event thread, and the kernel threads KVM attaches to
// its VM's cgroup (kvm-nx-lpage-recovery; seen: the second task of a one-vCPU VM before its
// vCPU thread), with one to spare for kernels that add another.
constexpr std::uint32_t k_pids_beyond_vcpus = 3;

// The cgroup's name: the VM's name (manifest names are [a-z0-9_-]) and the pid, unique.
std::string cgroup_leaf(const std::string& name, pid_t pid)
{
    std::string leaf = name.empty() ? "run" : name;
    for (char& c : leaf)
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) c = '_';
    return leaf + "-" + std::to_string(pid);
}

}  // namespace

Result<Jailed> enter(const Plan& plan)
{
    Jailed j;
    const pid_t pid = ::getpid();
    j.user_namespace = ::geteuid() != 0;
    j.uid = j.user_namespace ? ::geteuid() : plan.uid_base + static_cast<uid_t>(pid);
    j.gid = j.user_namespace ? ::getegid() : plan.uid_base + static_cast<gid_t>(pid);

    base::UniqueFd cgroup_procs;
    j.no_cgroup = j.user_namespace ? "not started as root" : cgroup_missing();
    if (j.no_cgroup.empty()) {
        const CgroupLimits limits{plan.memory + k_memory_overhead, plan.cpus + k_pids_beyond_vcpus, 100};
        auto procs = create_cgroup(cgroup_leaf(plan.name, pid), limits);
        if (procs) cgroup_procs = std::move(*procs);
        else {
            j.no_cgroup = describe(procs.error());
            j.cgroup_failed = true;
        }
    }

    // Default dispositions first: an inherited SIG_IGN for SIGCHLD would reap the child unseen.
    for (int sig : k_passed_signals) ::signal(sig, SIG_DFL);
    ::signal(SIGCHLD, SIG_DFL);
    const FilterTarget vm{1, 0, plan.monitor, plan.vsock, -1, plan.receive, plan.taps};  // PID 1 of its namespace
    j.vmm_filter = MOAT_TRY(compile(plan.pump ? Role::Pump : Role::Vmm, vm));
    if (!plan.pump) j.vcpu_filter = MOAT_TRY(compile(Role::Vcpu, vm));
    const sigset_t waited = waited_signals();
    ::sigprocmask(SIG_BLOCK, &waited, nullptr);
    MOAT_TRY(namespaces(j));
    MOAT_TRY(empty_root());
    int alive[2];
    if (::pipe2(alive, O_CLOEXEC) != 0) return fail_errno("pipe2");
    std::optional<termios> terminal;  // the mode of a terminal the VM may put into raw mode
    if (termios t{}; plan.standalone && ::tcgetattr(STDIN_FILENO, &t) == 0) terminal = t;
    const pid_t child = ::fork();
    if (child < 0) return fail_errno("fork");
    if (child > 0) reap(child, j, alive[1], plan.standalone, terminal);

    ::close(alive[1]);
    if (::getpid() != 1) return fail(Errc::Io, "not PID 1 of the new PID namespace");
    if (cgroup_procs.valid()) {
        if (::write(cgroup_procs.get(), "0", 1) != 1) return fail_errno("cgroup.procs");
        j.cgroup = true;
        cgroup_procs.reset();
    }
    if (::unshare(CLONE_NEWCGROUP) != 0) return fail_errno("unshare: cgroup namespace");
    MOAT_TRY(drop_privileges(j));
    // The reaper's SIGKILL must end this process too (set after the uid change, which clears
    // it); if the reaper is gone already, its end of the pipe is closed.
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) return fail_errno("PR_SET_PDEATHSIG");
    pollfd reaper{alive[0], POLLIN, 0};
    if (::poll(&reaper, 1, 0) != 0) ::_exit(1);
    ::close(alive[0]);
    return j;
}

Result<void> seal_limits(int spare_fds)
{
    // The descriptors held: poll reports POLLNVAL for every number that is not one.
    rlimit files{};
    if (::getrlimit(RLIMIT_NOFILE, &files) != 0) return fail_errno("getrlimit");
    std::vector<pollfd> fds(std::min<rlim_t>(files.rlim_cur, 4096));
    for (std::size_t i = 0; i < fds.size(); ++i) fds[i] = {static_cast<int>(i), 0, 0};
    if (::poll(fds.data(), fds.size(), 0) < 0) return fail_errno("poll");
    int highest = -1;
    for (std::size_t i = 0; i < fds.size(); ++i)
        if (!(fds[i].revents & POLLNVAL)) highest = static_cast<int>(i);
    const rlim_t limit = static_cast<rlim_t>(highest + 1 + spare_fds);
    const rlimit nofile{limit, limit};
    if (::setrlimit(RLIMIT_NOFILE, &nofile) != 0) return fail_errno("setrlimit: RLIMIT_NOFILE");
    const rlimit zero{0, 0};
    if (::setrlimit(RLIMIT_NPROC, &zero) != 0) return fail_errno("setrlimit: RLIMIT_NPROC");
    return {};
}

}  // namespace moat::jail
