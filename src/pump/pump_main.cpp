// `moat-pump`: the pump of one one-way channel, started by the monitor of a system with the
// pump's end of the low VM's link on fd 3 and of the high VM's link on fd 4 (pump.hpp). It jails
// itself as a VM process does (src/jail/), with a filter of its own, and runs until the monitor
// stops it (SIGTERM) or the low link is gone.
//
//   moat-pump NAME PORT RATE UID_BASE     (RATE in bytes per second, 0 for no cap)
#include <signal.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <string_view>

#include "jail/jail.hpp"
#include "protocol/exit_status.hpp"
#include "protocol/limits.hpp"
#include "pump/pump.hpp"

namespace {

using namespace moat;

bool number(std::string_view s, std::uint64_t& out)
{
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && p == s.data() + s.size();
}

int run(int argc, char** argv)
{
    std::uint64_t port = 0, rate = 0, uid_base = 0;
    if (argc != 5 || !number(argv[2], port) || port >= 0xffffffff || !number(argv[3], rate) ||
        !number(argv[4], uid_base) || !protocol::check_uid_base(uid_base)) {
        std::fprintf(stderr, "moat-pump: started by a system's monitor: moat-pump NAME PORT RATE UID_BASE\n");
        return protocol::k_exit_usage;
    }
    std::uint64_t seed = 0;
    if (::getrandom(&seed, sizeof seed, 0) != sizeof seed) return protocol::k_exit_vm_failed;
    auto pump = pump::Pump::create(base::UniqueFd(3), base::UniqueFd(4), static_cast<std::uint32_t>(port), rate, seed);
    if (!pump) {
        std::fprintf(stderr, "moat: %s: %s\n", argv[1], describe(pump.error()).c_str());
        return protocol::k_exit_vm_failed;
    }
    jail::Plan plan{argv[1], static_cast<std::uint32_t>(uid_base), 16ull << 20, 1, false, -1, false, {3}, true};
    auto jailed = jail::enter(plan);
    if (!jailed) {
        std::fprintf(stderr, "moat: %s: jail: %s\n", argv[1], describe(jailed.error()).c_str());
        return protocol::k_exit_vm_failed;
    }
    // jail::enter blocked the stop signals: they arrive here through a signalfd.
    sigset_t stop;
    sigemptyset(&stop);
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&stop, sig);
    base::UniqueFd sig(::signalfd(-1, &stop, SFD_CLOEXEC | SFD_NONBLOCK));
    auto sealed = sig.valid() ? jail::seal_limits(static_cast<int>(2 * pump::Pump::k_max_flows + 4))
                              : Result<void>(fail_errno("signalfd"));
    if (sealed) sealed = jail::install(jailed->vmm_filter);
    if (!sealed) {
        std::fprintf(stderr, "moat: %s: jail: %s\n", argv[1], describe(sealed.error()).c_str());
        return protocol::k_exit_vm_failed;
    }
    for (;;) {
        signalfd_siginfo si;
        if (::read(sig.get(), &si, sizeof si) == sizeof si) return 0;
        if (!(*pump)->step(std::chrono::milliseconds(100))) return 0;
    }
}

}  // namespace

int main(int argc, char** argv)
{
    const int status = run(argc, argv);
    std::fflush(nullptr);
    ::_exit(status);
}
