// A stand-in for `moat-vmm` that plays a VM process whose device model was broken: started as
// `moat-vmm victim` (a system's VM named victim), or with MOAT_TEST_VICTIM=1 in its
// environment (`moat run`), it receives its launch as moat-vmm does, jails itself through the
// same code (jail::enter, seal_limits, the VMM thread's filter), puts an interactive terminal
// into raw mode as moat-vmm does, and then does what an attacker would, open a host file,
// which the filter answers by killing the process. Otherwise it execs the real moat-vmm,
// installed beside it as moat-vmm.real, with the same arguments and descriptors.
// tests/system/system-test (case seccomp-kill) puts it where the monitor looks for moat-vmm, to
// see the monitor report and audit the kill and the system go on; tests/jail/terminal, to see
// `moat run`'s terminal get its mode back.
#include <fcntl.h>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include <string>

#include "jail/jail.hpp"
#include "jail/seccomp.hpp"
#include "protocol/launch_receive.hpp"
#include "protocol/programs.hpp"

using namespace moat;

int main(int argc, char** argv)
{
    const char* env = std::getenv("MOAT_TEST_VICTIM");
    const bool victim = (argc == 2 && std::strcmp(argv[1], "victim") == 0) || (env && std::strcmp(env, "1") == 0);
    if (!victim) {
        const std::string real = protocol::program_path("moat-vmm.real");
        ::execv(real.c_str(), argv);
        std::perror(real.c_str());
        return 127;
    }
    auto launch = protocol::receive_launch(protocol::k_launch_fd);
    if (!launch) return 2;
    jail::Plan plan;
    plan.name = launch->vm.name;
    plan.uid_base = launch->vm.uid_base;
    plan.memory = launch->vm.memory;
    plan.cpus = launch->vm.cpus;
    plan.standalone = launch->vm.supervision == protocol::Supervision::Standalone;
    auto jailed = jail::enter(plan);
    if (!jailed || !jail::seal_limits(4)) return 1;
    termios raw{};
    if (::tcgetattr(STDIN_FILENO, &raw) == 0) {
        ::cfmakeraw(&raw);
        ::tcsetattr(STDIN_FILENO, TCSANOW, &raw);
    }
    auto filter = jail::compile(jail::Role::Vmm, {::getpid(), 0, protocol::k_launch_fd});
    if (!filter || !jail::install(*filter)) return 1;
    std::fprintf(stderr, "victim: jailed; opening /etc/shadow\n");
    const long fd = ::syscall(SYS_openat, AT_FDCWD, "/etc/shadow", O_RDONLY);
    std::fprintf(stderr, "victim: openat returned %ld: the filter did not stop it\n", fd);
    return 0;
}
