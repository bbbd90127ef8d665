// The allow-lists and their filters: their size against Firecracker's, the calls no role may
// make, and filters that really kill (each in a child process, which the filter then binds).
#include "jail/seccomp.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

namespace moat::jail {
namespace {

constexpr Role k_roles[] = {Role::Vmm, Role::Vcpu, Role::Reaper, Role::Connector, Role::Pump};

bool allows(Role r, int nr)
{
    const auto calls = allowed_calls(r);
    return std::any_of(calls.begin(), calls.end(), [nr](const AllowedCall& c) { return c.nr == nr; });
}

// Firecracker's filters (resources/seccomp/x86_64-unknown-linux-musl.json, v1.x): about 27
// system calls for its vCPU threads and about 50 for its VMM thread.
TEST(SeccompLists, FewerCallsThanFirecrackerPerRole)
{
    const std::size_t vmm = allowed_calls(Role::Vmm).size();
    const std::size_t vcpu = allowed_calls(Role::Vcpu).size();
    std::printf("seccomp allow-lists: VMM thread %zu calls (Firecracker about 50), vCPU threads %zu (about 27), "
                "reaper %zu, vsock connector %zu\n",
                vmm, vcpu, allowed_calls(Role::Reaper).size(), allowed_calls(Role::Connector).size());
    for (Role r : k_roles) {
        std::printf("  %s:", to_string(r));
        for (const auto& c : allowed_calls(r)) std::printf(" %s", c.name);
        std::printf("\n");
    }
    EXPECT_LT(vmm, 50u);
    EXPECT_LT(vcpu, 27u);
}

TEST(SeccompLists, EveryCallHasAReason)
{
    for (Role r : k_roles)
        for (const auto& c : allowed_calls(r)) EXPECT_GT(std::string(c.why).size(), 8u) << to_string(r) << ": " << c.name;
}

TEST(SeccompLists, NoRoleOpensExecsForksTracesMountsOrLoadsBpf)
{
    const int forbidden[] = {SCMP_SYS(open), SCMP_SYS(openat), SCMP_SYS(openat2), SCMP_SYS(creat),
                             SCMP_SYS(open_by_handle_at), SCMP_SYS(socket), SCMP_SYS(socketpair), SCMP_SYS(connect),
                             SCMP_SYS(bind), SCMP_SYS(execve), SCMP_SYS(execveat), SCMP_SYS(fork), SCMP_SYS(vfork),
                             SCMP_SYS(clone), SCMP_SYS(clone3), SCMP_SYS(ptrace), SCMP_SYS(mount), SCMP_SYS(umount2),
                             SCMP_SYS(pivot_root), SCMP_SYS(chroot), SCMP_SYS(bpf), SCMP_SYS(process_vm_readv),
                             SCMP_SYS(process_vm_writev), SCMP_SYS(setns), SCMP_SYS(unshare), SCMP_SYS(setuid),
                             SCMP_SYS(setresuid), SCMP_SYS(capset), SCMP_SYS(prctl), SCMP_SYS(seccomp),
                             SCMP_SYS(mprotect), SCMP_SYS(rt_sigaction), SCMP_SYS(tkill), SCMP_SYS(pidfd_open),
                             SCMP_SYS(pidfd_send_signal), SCMP_SYS(memfd_create), SCMP_SYS(userfaultfd),
                             SCMP_SYS(perf_event_open), SCMP_SYS(keyctl), SCMP_SYS(add_key), SCMP_SYS(init_module)};
    for (Role r : k_roles)
        for (int nr : forbidden) {
            // The vsock connector, outside the jail, makes Unix sockets and connects them (its
            // filter pins socket's domain to AF_UNIX: AllowedCallsRunAndForbiddenOnesKill).
            if (r == Role::Connector && (nr == SCMP_SYS(socket) || nr == SCMP_SYS(connect))) continue;
            // A VM with channels makes a Unix socketpair per connection across one (pinned to
            // AF_UNIX and to VMs with a vsock device: VsockCallsOnlyWithAVsockDevice).
            if ((r == Role::Vmm || r == Role::Pump) && nr == SCMP_SYS(socketpair)) continue;
            EXPECT_FALSE(allows(r, nr)) << to_string(r) << " allows system call " << nr;
        }
    // kill only in the reaper (to its child and itself, see below); tgkill only in the VMM thread.
    EXPECT_FALSE(allows(Role::Vmm, SCMP_SYS(kill)));
    EXPECT_FALSE(allows(Role::Vcpu, SCMP_SYS(kill)));
    EXPECT_FALSE(allows(Role::Vcpu, SCMP_SYS(tgkill)));
}

// Runs `body` in a child with `role`'s filter installed (as for a process whose pid is the
// child's, whose monitor socket is fd 3 and whose vsock connector's is fd 4); returns its wait
// status.
int run_filtered(Role role, const std::function<int()>& body, pid_t target_child = 0, bool vsock = false,
                 std::vector<int> taps = {})
{
    const pid_t pid = ::fork();
    if (pid == 0) {
        auto f = compile(role, {::getpid(), target_child, 3, vsock, 4, {4, 5}, std::move(taps)});
        if (!f || ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || !install(*f)) ::_exit(100);
        const int code = body();
        // A vCPU thread may only end itself (exit); the others end the process (exit_group).
        ::syscall(role == Role::Vcpu ? SYS_exit : SYS_exit_group, code);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    return status;
}

bool killed_by_seccomp(int status) { return WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS; }
int exit_code(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status); }

TEST(SeccompFilters, CompileForEveryRole)
{
    for (Role r : k_roles) {
        auto f = compile(r, {1, 2, 3});
        ASSERT_TRUE(f.has_value()) << to_string(r) << ": " << describe(f.error());
        EXPECT_GT(f->program.size(), allowed_calls(r).size());
    }
}

TEST(SeccompFilters, AllowedCallsRunAndForbiddenOnesKill)
{
    // write is allowed in every role but the reaper's only to stderr.
    EXPECT_EQ(exit_code(run_filtered(Role::Vcpu, [] { return ::write(STDERR_FILENO, "", 0) == 0 ? 7 : 8; })), 7);
    for (Role r : k_roles) {
        EXPECT_TRUE(killed_by_seccomp(run_filtered(r, [] { return ::socket(AF_INET, SOCK_STREAM, 0) >= 0 ? 9 : 10; })))
            << to_string(r);
        EXPECT_TRUE(killed_by_seccomp(run_filtered(r, [] { return static_cast<int>(::syscall(SYS_openat, AT_FDCWD, "/etc/passwd", 0)); })))
            << to_string(r);
        EXPECT_TRUE(killed_by_seccomp(run_filtered(r, [] { return static_cast<int>(::syscall(SYS_getuid)); })))
            << to_string(r);
    }
}

TEST(SeccompFilters, ArgumentsArePinned)
{
    // ioctl: KVM_RUN is let through (and fails on a descriptor that is no vCPU); TCGETS is not
    // a vCPU thread's; an unlisted request kills the VMM thread too, and tcsetattr (TCSETS,
    // then TCGETS) passes it.
    EXPECT_EQ(exit_code(run_filtered(Role::Vcpu, [] { return ::ioctl(STDERR_FILENO, KVM_RUN, 0) < 0 ? 11 : 12; })), 11);
    EXPECT_TRUE(killed_by_seccomp(run_filtered(Role::Vcpu, [] { return ::ioctl(STDIN_FILENO, TCGETS, nullptr); })));
    EXPECT_TRUE(killed_by_seccomp(run_filtered(Role::Vmm, [] { return ::ioctl(STDIN_FILENO, FIONREAD, nullptr); })));
    const int master = ::posix_openpt(O_RDWR | O_NOCTTY);
    ASSERT_GE(master, 0);
    ASSERT_EQ(::grantpt(master), 0);
    ASSERT_EQ(::unlockpt(master), 0);
    const int terminal = ::open(::ptsname(master), O_RDWR | O_NOCTTY);
    termios mode{};
    ASSERT_EQ(::tcgetattr(terminal, &mode), 0);
    for (Role r : {Role::Vmm, Role::Reaper}) {
        EXPECT_EQ(exit_code(run_filtered(r, [=] { return ::tcsetattr(terminal, TCSANOW, &mode) == 0 ? 19 : 20; })), 19)
            << to_string(r);
    }
    // A container's terminal size: the VMM thread reads it, nobody sets it.
    auto get_size = [=] {
        winsize ws{};
        return ::ioctl(terminal, TIOCGWINSZ, &ws) == 0 ? 21 : 22;
    };
    EXPECT_EQ(exit_code(run_filtered(Role::Vmm, get_size)), 21);
    for (Role r : {Role::Vcpu, Role::Reaper})
        EXPECT_TRUE(killed_by_seccomp(run_filtered(r, get_size))) << to_string(r);
    EXPECT_TRUE(killed_by_seccomp(run_filtered(Role::Vmm, [=] {
        winsize ws{};
        return ::ioctl(terminal, TIOCSWINSZ, &ws);
    })));
    ::close(terminal);
    ::close(master);
    // mmap without PROT_EXEC is malloc's; with it, a kill.
    EXPECT_EQ(exit_code(run_filtered(Role::Vmm, [] {
                  void* p = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                  return p == MAP_FAILED ? 14 : 13;
              })),
              13);
    EXPECT_TRUE(killed_by_seccomp(run_filtered(Role::Vmm, [] {
        void* p = ::mmap(nullptr, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        return p == MAP_FAILED ? 14 : 13;
    })));
    // tgkill to its own process only; sendto only on the monitor's socket (fd 3).
    const pid_t parent = ::getpid();
    EXPECT_TRUE(killed_by_seccomp(run_filtered(Role::Vmm, [parent] {
        return static_cast<int>(::syscall(SYS_tgkill, parent, parent, 0));
    })));
    EXPECT_TRUE(killed_by_seccomp(run_filtered(Role::Vmm, [] { return static_cast<int>(::send(4, "x", 1, 0)); })));
    EXPECT_EQ(exit_code(run_filtered(Role::Vmm, [] { return ::send(3, "x", 1, 0) < 0 ? 15 : 16; })), 15);
    // The reaper may signal its own child and itself, nobody else.
    EXPECT_TRUE(killed_by_seccomp(run_filtered(Role::Reaper, [parent] { return ::kill(parent, 0); }, 12345)));
    EXPECT_EQ(exit_code(run_filtered(Role::Reaper, [] { return ::kill(12345, 0) < 0 ? 17 : 18; }, 12345)), 17);
#if !defined(__SANITIZE_ADDRESS__)  // sanitizer builds let the runtime write anywhere (seccomp.cpp)
    EXPECT_TRUE(killed_by_seccomp(run_filtered(Role::Reaper, [] { return static_cast<int>(::write(1, "", 0)); })));
#endif
}

TEST(SeccompFilters, VsockCallsOnlyWithAVsockDevice)
{
    auto accept = [] { return ::accept4(6, nullptr, nullptr, 0) < 0 ? 21 : 22; };
    EXPECT_TRUE(killed_by_seccomp(run_filtered(Role::Vmm, accept)));
    EXPECT_EQ(exit_code(run_filtered(Role::Vmm, accept, 0, true)), 21);  // EBADF, not a kill
    auto close5 = [] { return ::close(5) < 0 ? 23 : 24; };
#if !defined(__SANITIZE_ADDRESS__)  // sanitizer builds let the runtime close anything (seccomp.cpp)
    EXPECT_TRUE(killed_by_seccomp(run_filtered(Role::Vcpu, close5)));
#endif
    EXPECT_EQ(exit_code(run_filtered(Role::Vcpu, close5, 0, true)), 23);
    // recvmsg on the monitor's socket (fd 3) and those listed (the connector's, links: 4, 5).
    auto recv_on = [](int fd) {
        return [fd] {
            msghdr m{};
            return ::recvmsg(fd, &m, MSG_DONTWAIT) < 0 ? 25 : 26;
        };
    };
    EXPECT_EQ(exit_code(run_filtered(Role::Vmm, recv_on(4), 0, true)), 25);
    EXPECT_EQ(exit_code(run_filtered(Role::Vmm, recv_on(3), 0, true)), 25);
    EXPECT_EQ(exit_code(run_filtered(Role::Vmm, recv_on(5), 0, true)), 25);
    EXPECT_TRUE(killed_by_seccomp(run_filtered(Role::Vmm, recv_on(6), 0, true)));
    auto pair = [](int domain) {
        return [domain] {
            int sv[2];
            return ::socketpair(domain, SOCK_STREAM, 0, sv) == 0 ? 29 : 30;
        };
    };
    EXPECT_EQ(exit_code(run_filtered(Role::Vmm, pair(AF_UNIX), 0, true)), 29);
    EXPECT_TRUE(killed_by_seccomp(run_filtered(Role::Vmm, pair(AF_UNIX))));
    EXPECT_TRUE(killed_by_seccomp(run_filtered(Role::Vmm, pair(AF_INET), 0, true)));
    // The connector: Unix sockets only, and requests only on its socket.
    EXPECT_EQ(exit_code(run_filtered(Role::Connector, [] { return ::socket(AF_UNIX, SOCK_STREAM, 0) >= 0 ? 27 : 28; })), 27);
    EXPECT_TRUE(killed_by_seccomp(run_filtered(Role::Connector, [] { return ::socket(AF_VSOCK, SOCK_STREAM, 0); })));
    EXPECT_EQ(exit_code(run_filtered(Role::Connector, recv_on(4))), 25);
    EXPECT_TRUE(killed_by_seccomp(run_filtered(Role::Connector, recv_on(3))));
}

// A VM's taps (here fds 7 and 8, not open: EBADF means the filter let the call through): frames
// read from them, offloads set on them, and neither on any other descriptor.
TEST(SeccompFilters, TapCallsOnlyOnTheVmsTaps)
{
    auto readv_on = [](int fd) {
        return [fd] {
            char c;
            iovec v{&c, 1};
            return ::readv(fd, &v, 1) < 0 && errno == EBADF ? 31 : 32;
        };
    };
    EXPECT_EQ(exit_code(run_filtered(Role::Vmm, readv_on(7), 0, false, {7, 8})), 31);
    EXPECT_EQ(exit_code(run_filtered(Role::Vmm, readv_on(8), 0, false, {7, 8})), 31);
    EXPECT_TRUE(killed_by_seccomp(run_filtered(Role::Vmm, readv_on(9), 0, false, {7, 8})));
    EXPECT_TRUE(killed_by_seccomp(run_filtered(Role::Vmm, readv_on(7))));
    EXPECT_EQ(exit_code(run_filtered(Role::Vmm, readv_on(9), 0, true)), 31) << "a vsock device reads its sockets";
    auto offload_on = [](int fd, unsigned long request) {
        return [fd, request] { return ::ioctl(fd, request, 0) < 0 && errno == EBADF ? 33 : 34; };
    };
    EXPECT_EQ(exit_code(run_filtered(Role::Vcpu, offload_on(7, TUNSETOFFLOAD), 0, false, {7})), 33);
    EXPECT_TRUE(killed_by_seccomp(run_filtered(Role::Vcpu, offload_on(9, TUNSETOFFLOAD), 0, false, {7})));
    EXPECT_TRUE(killed_by_seccomp(run_filtered(Role::Vcpu, offload_on(7, TUNSETIFF), 0, false, {7})));
    // The event thread resets a device the guest left in use as the VM ends (~MmioTransport).
    EXPECT_EQ(exit_code(run_filtered(Role::Vmm, offload_on(7, TUNSETOFFLOAD), 0, false, {7})), 33);
    EXPECT_TRUE(killed_by_seccomp(run_filtered(Role::Vmm, offload_on(9, TUNSETOFFLOAD), 0, false, {7})));
    EXPECT_TRUE(killed_by_seccomp(run_filtered(Role::Vmm, offload_on(7, TUNSETIFF), 0, false, {7})));
}

}  // namespace
}  // namespace moat::jail
