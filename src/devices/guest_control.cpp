// The guest init's control lines, parsed strictly: printable ASCII, one verb per line, each
// verb once and in order (ready before exit, nothing after exit).
#include "devices/guest_control.hpp"

#include <charconv>
#include <string_view>

namespace moat::devices {

namespace {

// runc's statuses for an executable that cannot be run: not found 127, not executable 126.
int error_status(std::string_view code)
{
    if (code == "ENOENT") return 127;
    if (code == "EACCES" || code == "ENOEXEC" || code == "EPERM") return 126;
    return GuestControl::k_status_broken;
}

}  // namespace

Unexpected<Error> GuestControl::broken(const char* why)
{
    m_broken = true;
    m_line.clear();
    return fail(Errc::GuestFault, why);
}

Result<std::optional<GuestControl::Event>> GuestControl::feed(std::uint8_t byte)
{
    if (m_broken) return fail(Errc::GuestFault, "the control channel was broken before");
    if (byte == '\n') return line_done();
    if (byte < 0x20 || byte > 0x7e) return broken("a control line holds a byte that is not printable ASCII");
    if (m_line.size() == k_max_line) return broken("a control line is longer than 160 bytes");
    m_line.push_back(static_cast<char>(byte));
    return std::optional<Event>();
}

Result<std::optional<GuestControl::Event>> GuestControl::line_done()
{
    const std::string line = std::move(m_line);
    m_line.clear();
    if (m_exited) return broken("a control line after exit");
    const std::string_view l = line;
    if (l == "ready") {
        if (m_ready) return broken("ready said twice");
        m_ready = true;
        return std::optional<Event>(Event{Event::Kind::Ready, 0, {}});
    }
    if (l.rfind("exit ", 0) == 0) {
        const std::string_view n = l.substr(5);
        int status = -1;
        auto [p, ec] = std::from_chars(n.data(), n.data() + n.size(), status);
        if (ec != std::errc() || p != n.data() + n.size() || n.empty() || n.size() > 3 || status < 0 || status > 255)
            return broken("exit without a status from 0 to 255");
        m_exited = true;
        return std::optional<Event>(Event{Event::Kind::Exit, status, {}});
    }
    if (l.rfind("error ", 0) == 0) {
        // "error CODE MESSAGE": the workload could not start; it ends the container.
        const std::string_view rest = l.substr(6);
        const auto space = rest.find(' ');
        const std::string_view code = rest.substr(0, space);
        if (code.empty()) return broken("error without a code");
        m_exited = true;
        const std::string message(space == std::string_view::npos ? std::string_view() : rest.substr(space + 1));
        return std::optional<Event>(Event{Event::Kind::Error, error_status(code), message});
    }
    return broken("an unknown control line");
}

}  // namespace moat::devices
