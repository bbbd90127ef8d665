// The VM process's link to its monitor (protocol/report.hpp): refused writes to read-only
// disks and refused vsock connections go up, counted and at most once a second, console bytes
// dropped past the budget at most once a minute; console clients come down.
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

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

constexpr std::int64_t k_minute_ms = 60'000;

std::int64_t monotonic_ms()
{
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return std::int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1'000'000;
}

void Machine::State::arm_report(int seconds)
{
    // Armed for longer (a minute's back-off), a report due sooner moves the expiry up.
    int armed = report_armed.load(std::memory_order_acquire);
    do {
        if (armed != 0 && armed <= seconds) return;
    } while (!report_armed.compare_exchange_weak(armed, seconds, std::memory_order_acq_rel));
    itimerspec in{};
    in.it_value.tv_sec = seconds;
    if (::timerfd_settime(report_timer.get(), 0, &in, nullptr) != 0) report_armed.store(0, std::memory_order_release);
}

// Whether a report held back to once a minute (the last sent at `sent_ms`, -1 for never) may
// go now; if not, the timer is armed for when it may.
bool Machine::State::minute_due(std::int64_t& sent_ms, bool last)
{
    const std::int64_t now = monotonic_ms();
    const std::int64_t wait = sent_ms < 0 ? 0 : sent_ms + k_minute_ms - now;
    if (!last && wait > 0) {
        arm_report(static_cast<int>(wait / 1000 + 1));
        return false;
    }
    sent_ms = now;
    return true;
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

void Machine::State::send_reports(bool last)
{
    report_armed.store(0, std::memory_order_release);
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
    console_dropped += console->take_dropped();
    if (console_dropped != 0 && minute_due(console_reported_ms, last)) {
        send_report(monitor, {static_cast<std::uint32_t>(protocol::ReportKind::ConsoleDropped), 0, console_dropped, 0});
        console_dropped = 0;
    }
    bool faults = false;
    for (std::size_t i = 0; i < virtio.size(); ++i) {
        device_faults[i] += virtio[i].transport->take_faults();
        faults = faults || device_faults[i] != 0;
    }
    if (!faults || !minute_due(faults_reported_ms, last)) return;
    for (std::size_t i = 0; i < virtio.size(); ++i) {
        if (device_faults[i] == 0) continue;
        send_report(monitor, {static_cast<std::uint32_t>(protocol::ReportKind::DeviceFault), virtio[i].transport->device_id(),
                              device_faults[i], i});
        device_faults[i] = 0;
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
