// The pumps of a system's one-way channels (src/pump/): started before the VMs, each a process
// of its own with the two link ends on fds 3 and 4; audited when they start and end; stopped
// after the last VM.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "monitor/system_internal.hpp"

namespace moat::monitor {

Result<void> System::start_pumps()
{
    const pid_t monitor = ::getpid();
    for (auto& p : m_pumps) {
        const policy::ChannelSpec& c = *p.spec;
        const std::string name = "pump-" + c.from + "-" + c.to + "-" + std::to_string(c.port);
        const std::string port = std::to_string(c.port), rate = std::to_string(c.rate);
        const std::string uid_base = std::to_string(m_manifest.uid_base);
        const int low = p.low.get(), high = p.high.get(), null = m_null.get();
        const pid_t pid = ::fork();
        if (pid < 0) return fail(Error::from_errno("fork").in(name));
        if (pid == 0) {
            // Async-signal-safe calls only: stdin /dev/null, the links on 3 and 4, nothing else.
            ::prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (::getppid() != monitor) ::_exit(127);
            ::setpgid(0, 0);
            const int low3 = ::fcntl(low, F_DUPFD, 10), high4 = ::fcntl(high, F_DUPFD, 10);
            if (low3 < 0 || high4 < 0 || ::dup2(null, 0) < 0 || ::dup2(low3, 3) != 3 || ::dup2(high4, 4) != 4) ::_exit(127);
            ::close_range(5, ~0u, 0);
            sigset_t none;
            sigemptyset(&none);
            ::sigprocmask(SIG_SETMASK, &none, nullptr);
            const char* argv[] = {"moat-pump", name.c_str(), port.c_str(), rate.c_str(), uid_base.c_str(), nullptr};
            ::execv(m_options.pump_exe.c_str(), const_cast<char* const*>(argv));
            ::_exit(127);
        }
        p.pid = pid;
        if (!audit("pump.start", {{"from", std::string_view(c.from)},
                                  {"to", std::string_view(c.to)},
                                  {"port", std::int64_t{c.port}},
                                  {"rate", static_cast<std::int64_t>(c.rate)},
                                  {"pid", std::int64_t{pid}}}))
            return fail(Errc::Io, "the audit log failed");
    }
    return {};
}

bool System::on_pump_exit(pid_t pid, int status)
{
    for (auto& p : m_pumps) {
        if (p.pid != pid) continue;
        p.pid = -1;
        const Ending end = WIFEXITED(status) && WEXITSTATUS(status) == 0 ? Ending{"stopped", true} : describe_status(status);
        const policy::ChannelSpec& c = *p.spec;
        audit("pump.exit", {{"from", std::string_view(c.from)},
                            {"to", std::string_view(c.to)},
                            {"port", std::int64_t{c.port}},
                            {"reason", std::string_view(end.reason)}});
        if (!m_down) report("pump " + c.from + " -> " + c.to + " port " + std::to_string(c.port) + " ended: " + end.reason);
        return true;
    }
    return false;
}

// After the last VM: SIGTERM, and SIGKILL for a pump that has not ended within a second.
void System::stop_pumps()
{
    for (auto& p : m_pumps)
        if (p.pid > 0) ::kill(p.pid, SIGTERM);
    for (int tries = 0; tries < 100; ++tries) {
        bool live = false;
        for (auto& p : m_pumps) {
            if (p.pid <= 0) continue;
            int status = 0;
            if (::waitpid(p.pid, &status, WNOHANG) == p.pid) on_pump_exit(p.pid, status);
            else live = true;
        }
        if (!live) return;
        if (tries == 99) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    for (auto& p : m_pumps)
        if (p.pid > 0) ::kill(p.pid, SIGKILL);
    for (auto& p : m_pumps) {
        int status = 0;
        if (p.pid > 0 && ::waitpid(p.pid, &status, 0) == p.pid) on_pump_exit(p.pid, status);
    }
}

}  // namespace moat::monitor
