// The VM process's link to its monitor (protocol/report.hpp): refused writes to read-only
// disks and refused vsock connections go up, counted and at most once a second; console
// clients come down.
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/log.hpp"
#include "protocol/fdpass.hpp"
#include "protocol/report.hpp"
#include "vmm/machine_state.hpp"

namespace moat::vmm {

namespace {

void send_report(int monitor, const protocol::Report& r)
{
    ssize_t n;
    do {
        n = ::send(monitor, &r, sizeof r, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n != static_cast<ssize_t>(sizeof r)) MOAT_LOG_RATELIMITED(Warn, "report to the monitor failed: %s", std::strerror(errno));
}

}  // namespace

void Machine::State::arm_report()
{
    if (report_armed) return;
    itimerspec in{};
    in.it_value.tv_sec = 1;
    if (::timerfd_settime(report_timer.get(), 0, &in, nullptr) == 0) report_armed = true;
}

void Machine::State::note_denied_write(std::size_t disk)
{
    if (monitor < 0) return;
    ++denied_writes[disk];
    arm_report();
}

void Machine::State::note_refused_connection(std::uint64_t cid, std::uint32_t port)
{
    if (monitor < 0) return;
    ++refused_connections;
    last_refused = {cid, port};
    arm_report();
}

void Machine::State::send_reports()
{
    report_armed = false;
    if (monitor < 0) return;
    for (std::size_t d = 0; d < denied_writes.size(); ++d) {
        if (denied_writes[d] == 0) continue;
        send_report(monitor, {static_cast<std::uint32_t>(protocol::ReportKind::DeniedWrite), static_cast<std::uint32_t>(d),
                              denied_writes[d], 0});
        denied_writes[d] = 0;
    }
    if (refused_connections != 0) {
        send_report(monitor, {static_cast<std::uint32_t>(protocol::ReportKind::RefusedConnection), last_refused.second,
                              refused_connections, last_refused.first});
        refused_connections = 0;
    }
}

MonitorMessage receive_from_monitor(int monitor)
{
    MonitorMessage m;
    auto msg = protocol::recv_message(monitor, sizeof(protocol::Report));
    if (msg && msg->payload.empty()) {
        m.gone = true;
        return m;
    }
    protocol::Report r{};
    if (msg && msg->payload.size() == sizeof r) std::memcpy(&r, msg->payload.data(), sizeof r);
    if (!msg || msg->payload.size() != sizeof r ||
        r.kind != static_cast<std::uint32_t>(protocol::ReportKind::AttachConsole) || msg->fds.size() != 1) {
        MOAT_LOG_RATELIMITED(Warn, "unexpected message from the monitor dropped");
        return m;
    }
    m.console_client = std::move(msg->fds[0]);
    return m;
}

}  // namespace moat::vmm
