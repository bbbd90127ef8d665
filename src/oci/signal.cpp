// Signal names and numbers, as `moat-oci kill` takes them.
#include "oci/signal.hpp"

#include <signal.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <string>

namespace moat::oci {

namespace {

struct Named {
    const char* name;
    int number;
};

// The standard signals, by the names the kernel's headers give them (x86-64).
constexpr Named k_signals[] = {
    {"HUP", SIGHUP},       {"INT", SIGINT},     {"QUIT", SIGQUIT},     {"ILL", SIGILL},     {"TRAP", SIGTRAP},
    {"ABRT", SIGABRT},     {"IOT", SIGIOT},     {"BUS", SIGBUS},       {"FPE", SIGFPE},     {"KILL", SIGKILL},
    {"USR1", SIGUSR1},     {"SEGV", SIGSEGV},   {"USR2", SIGUSR2},     {"PIPE", SIGPIPE},   {"ALRM", SIGALRM},
    {"TERM", SIGTERM},     {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD},   {"CONT", SIGCONT},   {"STOP", SIGSTOP},
    {"TSTP", SIGTSTP},     {"TTIN", SIGTTIN},   {"TTOU", SIGTTOU},     {"URG", SIGURG},     {"XCPU", SIGXCPU},
    {"XFSZ", SIGXFSZ},     {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF},   {"WINCH", SIGWINCH}, {"IO", SIGIO},
    {"POLL", SIGPOLL},     {"PWR", SIGPWR},     {"SYS", SIGSYS},
};

constexpr int k_max_signal = 64;

}  // namespace

Result<int> parse_signal(std::string_view s)
{
    auto refuse = [&] {
        return fail_with(Errc::InvalidInput, "signal '" + std::string(s.substr(0, 32)) +
                                                 "': give a number from 1 to 64 or a name such as TERM or SIGKILL");
    };
    if (s.empty() || s.size() > 32) return refuse();
    if (std::isdigit(static_cast<unsigned char>(s[0]))) {
        int n = 0;
        auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
        if (ec != std::errc() || p != s.data() + s.size() || n < 1 || n > k_max_signal) return refuse();
        return n;
    }
    std::string up(s);
    std::transform(up.begin(), up.end(), up.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    std::string_view name = up;
    if (name.rfind("SIG", 0) == 0) name.remove_prefix(3);
    for (const Named& n : k_signals)
        if (name == n.name) return n.number;
    return refuse();
}

}  // namespace moat::oci
