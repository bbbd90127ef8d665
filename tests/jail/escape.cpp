// jail_escape: a VM process's jail, entered through the same code (jail::enter, seal_limits
// and the VMM thread's seccomp filter), tries what a compromised VM process would: every act
// must fail or kill it. Each act runs twice in a fresh jailed process: once with the jail's
// other layers only (namespaces, empty root, ids, capabilities, limits), once with the seccomp
// filter as well, so that both layers are shown to hold on their own.
//
// Run as root it jails as `moat run` does as root; as another user, in a user namespace.
// Exit status 0 when every act was refused, 1 when one succeeded, 2 on a set-up failure.
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <string>
#include <vector>

#include "jail/jail.hpp"
#include "jail/seccomp.hpp"
#include "protocol/limits.hpp"

namespace {

using namespace moat;

struct World {
    std::string volume_path;  // a file the VM was given read-only
    int volume_fd = -1;       // its descriptor, O_RDONLY, as the monitor passes it
    pid_t monitor = 0;        // this program, playing the monitor
    pid_t neighbour = 0;      // another process, playing another VM
};

struct Act {
    const char* what;
    std::function<int(const World&)> attempt;  // 0: it worked; otherwise the errno
};

int result(long r) { return r >= 0 ? 0 : errno; }

const std::vector<Act>& acts()
{
    static const std::vector<Act> list = {
        {"open a host file (/etc/passwd)", [](const World&) { return result(::open("/etc/passwd", O_RDONLY)); }},
        {"re-open the read-only volume read-write by its path",
         [](const World& w) { return result(::open(w.volume_path.c_str(), O_RDWR)); }},
        {"re-open the read-only volume read-write through /proc/self/fd",
         [](const World& w) { return result(::open(("/proc/self/fd/" + std::to_string(w.volume_fd)).c_str(), O_RDWR)); }},
        {"write through the read-only volume's descriptor",
         [](const World& w) { return result(::write(w.volume_fd, "x", 1)); }},
        {"create a socket and connect to the host (127.0.0.1:22)",
         [](const World&) {
             const int s = ::socket(AF_INET, SOCK_STREAM, 0);
             if (s < 0) return errno;
             sockaddr_in a{};
             a.sin_family = AF_INET;
             a.sin_port = htons(22);
             a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
             return result(::connect(s, reinterpret_cast<const sockaddr*>(&a), sizeof a));
         }},
        {"exec a program (/bin/sh)",
         [](const World&) {
             char* const argv[] = {const_cast<char*>("sh"), nullptr};
             return result(::execve("/bin/sh", argv, nullptr));
         }},
        {"fork a process",
         [](const World&) {
             const pid_t p = ::fork();
             if (p == 0) ::_exit(0);
             return result(p);
         }},
        {"ptrace the monitor", [](const World& w) { return result(::ptrace(PTRACE_ATTACH, w.monitor, nullptr, nullptr)); }},
        {"mount a file system", [](const World&) { return result(::mount("none", "/", "tmpfs", 0, nullptr)); }},
        {"signal another process (SIGKILL to the monitor)", [](const World& w) { return result(::kill(w.monitor, SIGKILL)); }},
        {"read another VM's memory (process_vm_readv)",
         [](const World& w) {
             char buf[8];
             iovec local{buf, sizeof buf}, remote{reinterpret_cast<void*>(0x400000), sizeof buf};
             return result(::process_vm_readv(w.neighbour, &local, 1, &remote, 1, 0));
         }},
        {"read another VM's memory (/proc/PID/mem)",
         [](const World& w) { return result(::open(("/proc/" + std::to_string(w.neighbour) + "/mem").c_str(), O_RDONLY)); }},
        {"become root again (setuid 0)", [](const World&) { return result(::setuid(0)); }},
        {"load a BPF program", [](const World&) { return result(::syscall(SYS_bpf, 5 /* BPF_PROG_LOAD */, nullptr, 0)); }},
    };
    return list;
}

constexpr int k_act_worked = 200;  // the jailed process's exit code when an act succeeded
constexpr int k_setup_failed = 201;

// In a fresh process: jail, optionally the filter, the act; returns the wait status.
int attempt(const Act& act, const World& w, bool filter)
{
    const pid_t pid = ::fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        jail::Plan plan;
        plan.name = "escape";
        plan.uid_base = protocol::k_default_uid_base;
        plan.memory = 16 << 20;
        auto j = jail::enter(plan);  // from here on, this is the jailed process (PID 1)
        if (!j || !jail::seal_limits(4)) ::_exit(k_setup_failed);
        if (filter) {
            auto f = jail::compile(jail::Role::Vmm, {::getpid(), 0, -1});
            if (!f || !jail::install(*f)) ::_exit(k_setup_failed);
        }
        const int err = act.attempt(w);
        ::_exit(err == 0 ? k_act_worked : (err & 0x7f) ? (err & 0x7f) : 1);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    return status;
}

// "refused (ENOENT)", "killed by seccomp", or what went wrong.
std::string outcome(int status, bool& ok)
{
    ok = false;
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS) return ok = true, "killed by seccomp";
    if (WIFSIGNALED(status)) return std::string("killed by ") + strsignal(WTERMSIG(status));
    if (!WIFEXITED(status)) return "ended oddly";
    const int code = WEXITSTATUS(status);
    if (code == k_act_worked) return "SUCCEEDED: the jail does not hold";
    if (code == k_setup_failed) return "the jail could not be set up";
    return ok = true, std::string("refused (") + strerrorname_np(code) + ")";
}

}  // namespace

int main()
{
    char dir[] = "/tmp/jail-escape.XXXXXX";
    if (!::mkdtemp(dir)) return perror("mkdtemp"), 2;
    World w;
    w.volume_path = std::string(dir) + "/volume.img";
    const int create = ::open(w.volume_path.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    if (create < 0 || ::ftruncate(create, 1 << 20) != 0) return perror("volume"), 2;
    ::close(create);
    w.volume_fd = ::open(w.volume_path.c_str(), O_RDONLY);  // inherited, as a launch's disk is
    w.monitor = ::getpid();
    w.neighbour = ::fork();
    if (w.neighbour == 0) {
        ::pause();
        ::_exit(0);
    }
    std::printf("jail_escape: as %s; every act in a new jailed process, first without, then with its seccomp filter\n",
                ::geteuid() == 0 ? "root (own uid, cgroup where there is one)" : "a user (user namespace)");
    int failures = 0;
    for (const Act& act : acts()) {
        bool ok_layers = false, ok_full = false;
        const std::string layers = outcome(attempt(act, w, false), ok_layers);
        const std::string full = outcome(attempt(act, w, true), ok_full);
        std::printf("%-62s  jail without filter: %-22s  with filter: %s\n", act.what, layers.c_str(), full.c_str());
        failures += !ok_full;
        // The filter alone must not be what holds where the other layers are meant to.
        failures += !ok_layers;
    }
    ::kill(w.neighbour, SIGKILL);
    ::waitpid(w.neighbour, nullptr, 0);
    ::unlink(w.volume_path.c_str());
    ::rmdir(dir);
    std::printf("jail_escape: %s\n", failures == 0 ? "every act refused" : "FAILED");
    return failures == 0 ? 0 : 1;
}
