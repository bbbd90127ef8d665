// The event thread: one epoll loop over every event source of the VM, one handler each —
// queue notifications and device poll timers, console input (the terminal or an attached
// client), the monitor's socket and the report timer, the stop signals, a container's start
// descriptor, and the stop request any thread may make. Machine::run is this loop between starting and joining the
// vCPU threads.
#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <string>

#include "jail/jail.hpp"
#include "vmm/machine_state.hpp"

namespace moat::vmm {

void Machine::State::request_stop(VmExit e)
{
    {
        std::lock_guard g(exit_lock);
        if (!exit) exit = std::move(e);
    }
    stopping.store(true, std::memory_order_release);
    std::uint64_t one = 1;
    [[maybe_unused]] auto r = ::write(stop_fd.get(), &one, sizeof one);
}

namespace {

using State = Machine::State;

}  // namespace

// epoll tags: the kind in the high half, an index in the low half (for Notify and Poll, the
// device in its upper 16 bits and the queue in the lower; for Host, the device in its upper 8
// bits and the device's token in the lower 24; for Console, 1 for a client).
enum class Tag : std::uint32_t { Stop = 1, Signal, Console, Notify, Monitor, ReportTimer, Poll, Host, Start };
static std::uint64_t tag(Tag t, std::uint32_t index = 0)
{
    return (std::uint64_t{static_cast<std::uint32_t>(t)} << 32) | index;
}

bool DeviceWatcher::watch(int fd, std::uint32_t token)
{
    epoll_event e{};
    e.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    e.data.u64 = tag(Tag::Host, (m_device << 24) | (token & 0xffffff));
    return ::epoll_ctl(m_epoll, EPOLL_CTL_ADD, fd, &e) == 0 ||
           (errno == EEXIST && ::epoll_ctl(m_epoll, EPOLL_CTL_MOD, fd, &e) == 0);
}

void DeviceWatcher::unwatch(int fd) { ::epoll_ctl(m_epoll, EPOLL_CTL_DEL, fd, nullptr); }

namespace {

class EventLoop final {
public:
    explicit EventLoop(State& s) : m_s(s) {}
    ~EventLoop()
    {
        if (m_masked) pthread_sigmask(SIG_SETMASK, &m_old_mask, nullptr);
    }
    EventLoop(const EventLoop&) = delete;
    EventLoop& operator=(const EventLoop&) = delete;

    // Blocks the stop signals (the vCPU threads started next inherit the mask; the signals
    // arrive through a signalfd) and watches every source. An unwatched notification or poll
    // timer would leave the guest's requests unserved for good, so any failure is fatal.
    Result<void> setup();
    void run();

private:
    bool watch(int fd, std::uint64_t t);
    void unwatch(int fd) { ::epoll_ctl(m_s.epoll.get(), EPOLL_CTL_DEL, fd, nullptr); }
    void dispatch(Tag kind, std::uint32_t index);
    void on_notify(std::uint32_t index);
    void on_poll(std::uint32_t index);
    void on_console(bool client);
    void on_monitor();
    void on_report_timer();
    void on_signal();
    void on_start();
    // A container's terminal size, to its guest (when its stdin is a terminal that has one).
    void tell_window_size();
    void watch_console_input();
    // A line for a container's guest, on its control port.
    void tell_guest(const std::string& line);
    // Console input to the UART, watching for Ctrl-A x when interactive (an attached client
    // handles its own escape). Returns false when the user asked to quit.
    bool feed_console(std::span<const std::uint8_t> bytes, bool escapes);
    void flush_console();

    State& m_s;
    base::UniqueFd m_sig;
    sigset_t m_old_mask{};
    bool m_masked = false;
    std::vector<std::uint8_t> m_pending;  // console bytes the UART could not take yet
    bool m_control_pending = false;       // a container's control lines, likewise
    bool m_console_file = false;          // console input that epoll cannot watch, not at its end
    bool m_escape = false;
};

Result<void> EventLoop::setup()
{
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    // The signals the jail's reaper passes on. A container's go to its guest instead.
    for (int sig : jail::k_passed_signals) sigaddset(&stop_signals, sig);
    // A container's terminal (-t) changed size: its guest is told.
    if (m_s.container) sigaddset(&stop_signals, SIGWINCH);
    pthread_sigmask(SIG_BLOCK, &stop_signals, &m_old_mask);
    m_masked = true;
    m_sig = base::UniqueFd(::signalfd(-1, &stop_signals, SFD_CLOEXEC | SFD_NONBLOCK));
    if (!m_sig.valid() || !watch(m_s.stop_fd.get(), tag(Tag::Stop)) ||
        !watch(m_sig.get(), tag(Tag::Signal)))
        return fail_errno("event loop setup");
    for (std::uint32_t d = 0; d < m_s.virtio.size(); ++d) {
        for (std::uint32_t q = 0; q < m_s.virtio[d].notify.size(); ++q)
            if (!watch(m_s.virtio[d].notify[q].get(), tag(Tag::Notify, (d << 16) | q))) return fail_errno("event loop setup");
        for (std::uint32_t q = 0; q < m_s.virtio[d].poll.size(); ++q)
            if (!watch(m_s.virtio[d].poll[q].get(), tag(Tag::Poll, (d << 16) | q))) return fail_errno("event loop setup");
    }
    // A container's workload reads its stdin once started, not its guest's boot.
    if (!m_s.container) watch_console_input();
    if (m_s.container && !watch(m_s.container->start_fd(), tag(Tag::Start))) return fail_errno("event loop setup");
    if (m_s.monitor >= 0) {
        watch(m_s.monitor, tag(Tag::Monitor));
        watch(m_s.report_timer.get(), tag(Tag::ReportTimer));
    }
    return {};
}

bool EventLoop::watch(int fd, std::uint64_t t)
{
    epoll_event e{};
    e.events = EPOLLIN;
    e.data.u64 = t;
    return ::epoll_ctl(m_s.epoll.get(), EPOLL_CTL_ADD, fd, &e) == 0;
}

void EventLoop::run()
{
    std::array<epoll_event, 16> events;
    while (!m_s.stop_requested()) {
        // Input the UART could not take yet is retried every millisecond (a FIFO's worth each
        // time: about 250 KB/s), control lines the guest has not read every few.
        if (m_console_file && m_pending.empty()) on_console(false);
        const bool input = !m_pending.empty() || m_console_file;
        const int wait_ms = input ? 1 : (m_control_pending ? 5 : -1);
        const int n = ::epoll_wait(m_s.epoll.get(), events.data(), static_cast<int>(events.size()), wait_ms);
        if (n < 0 && errno != EINTR) {
            m_s.request_stop({ExitReason::HostError, 0, std::string("epoll_wait: ") + std::strerror(errno)});
            return;
        }
        if (!m_pending.empty()) flush_console();
        if (m_control_pending) m_control_pending = m_s.container->flush(*m_s.control_port);
        for (int i = 0; i < n; ++i) {
            const std::uint64_t t = events[static_cast<std::size_t>(i)].data.u64;
            dispatch(static_cast<Tag>(t >> 32), static_cast<std::uint32_t>(t));
        }
    }
}

void EventLoop::dispatch(Tag kind, std::uint32_t index)
{
    switch (kind) {
    case Tag::Notify: on_notify(index); break;
    case Tag::Poll: on_poll(index); break;
    case Tag::Host: m_s.virtio[index >> 24].transport->host_ready(index & 0xffffff); break;
    case Tag::Console: on_console(index == 1); break;
    case Tag::Monitor: on_monitor(); break;
    case Tag::ReportTimer: on_report_timer(); break;
    case Tag::Signal: on_signal(); break;
    case Tag::Start: on_start(); break;
    case Tag::Stop: break;  // the loop's condition sees it
    }
}

void EventLoop::on_notify(std::uint32_t index)
{
    auto& slot = m_s.virtio[index >> 16];
    std::uint64_t count;
    if (::read(slot.notify[index & 0xffff].get(), &count, sizeof count) == sizeof count)
        slot.transport->notify(index & 0xffff);
}

void EventLoop::on_poll(std::uint32_t index)
{
    auto& slot = m_s.virtio[index >> 16];
    std::uint64_t expiries;
    // EAGAIN: the device re-armed the timer since it fired; the new expiry will come.
    if (::read(slot.poll[index & 0xffff].get(), &expiries, sizeof expiries) == sizeof expiries)
        slot.transport->poll(index & 0xffff);
}

void EventLoop::on_console(bool client)
{
    if (!m_pending.empty()) return;  // back-pressure: the UART is full
    const int fd = client ? m_s.console_client.get() : m_s.console_in;
    std::array<std::uint8_t, 256> buf;
    const ssize_t got = ::read(fd, buf.data(), buf.size());
    if (got < 0 && (errno == EINTR || errno == EAGAIN)) return;
    if (got <= 0) {
        unwatch(fd);  // EOF: no more input
        if (!client) m_console_file = false;
        if (!client && m_s.container) tell_guest("eof");
        if (client) {
            m_s.console->detach();
            m_s.console_client.reset();
        }
        return;
    }
    if (!feed_console(std::span(buf.data(), static_cast<std::size_t>(got)), !client && m_s.console_escape))
        m_s.request_stop({ExitReason::UserQuit, 0, {}});
}

bool EventLoop::feed_console(std::span<const std::uint8_t> bytes, bool escapes)
{
    for (std::uint8_t c : bytes) {
        if (escapes && m_escape) {
            m_escape = false;
            if (c == 'x' || c == 'X') return false;
            if (c != 0x01) continue;  // Ctrl-A Ctrl-A sends one Ctrl-A
        } else if (escapes && c == 0x01) {
            m_escape = true;
            continue;
        }
        m_pending.push_back(c);
    }
    flush_console();
    return true;
}

void EventLoop::flush_console()
{
    const std::size_t n = m_s.serial->enqueue_input(m_pending);
    m_pending.erase(m_pending.begin(), m_pending.begin() + static_cast<std::ptrdiff_t>(n));
}

void EventLoop::on_monitor()
{
    MonitorMessage m = receive_from_monitor(m_s.monitor);
    if (m.gone) {
        unwatch(m_s.monitor);  // the monitor went away; the VM runs on
        m_s.monitor = -1;
        return;
    }
    if (!m.console_client.valid()) return;
    base::UniqueFd out(::fcntl(m.console_client.get(), F_DUPFD_CLOEXEC, 0));
    if (!out.valid()) return;
    if (m_s.console_client.valid()) unwatch(m_s.console_client.get());
    m_s.console_client = std::move(m.console_client);
    m_s.console->attach(std::move(out));
    if (!watch(m_s.console_client.get(), tag(Tag::Console, 1))) m_s.console_client.reset();
}

void EventLoop::on_report_timer()
{
    std::uint64_t ticks;
    if (::read(m_s.report_timer.get(), &ticks, sizeof ticks) == sizeof ticks) m_s.send_reports();
}

void EventLoop::on_signal()
{
    signalfd_siginfo si{};
    if (::read(m_sig.get(), &si, sizeof si) != sizeof si) return;
    if (m_s.container && si.ssi_signo == SIGWINCH) tell_window_size();
    else if (m_s.container) tell_guest("signal " + std::to_string(si.ssi_signo));
    else m_s.request_stop({ExitReason::Signal, static_cast<int>(si.ssi_signo), {}});
}

void EventLoop::on_start()
{
    const auto start = m_s.container->take_start();
    if (start == ContainerLink::Start::Nothing) return;
    unwatch(m_s.container->start_fd());
    if (start != ContainerLink::Start::Go) return;
    tell_window_size();  // first: the workload may ask for it at once
    tell_guest("start");
    watch_console_input();
}

void EventLoop::tell_window_size()
{
    winsize ws{};
    if (m_s.console_in >= 0 && ::ioctl(m_s.console_in, TIOCGWINSZ, &ws) == 0 && ws.ws_row != 0 && ws.ws_col != 0)
        tell_guest("winsize " + std::to_string(ws.ws_row) + " " + std::to_string(ws.ws_col));
}

void EventLoop::watch_console_input()
{
    // A regular file or /dev/null cannot be watched (EPERM): it is always ready, and is read
    // whenever the UART has room, until its end.
    if (m_s.console_in >= 0 && !watch(m_s.console_in, tag(Tag::Console)) && errno == EPERM) m_console_file = true;
}

void EventLoop::tell_guest(const std::string& line)
{
    m_s.container->say(line);
    m_control_pending = m_s.container->flush(*m_s.control_port);
}

}  // namespace

VmExit Machine::run()
{
    State& s = *m_state;
    EventLoop loop(s);  // declared first: the signal mask is restored after the threads are joined
    if (auto r = loop.setup(); !r) return {ExitReason::HostError, 0, describe(r.error())};
    const auto threads = start_vcpus(s);
    if (s.vmm_filter) {
        // Spare descriptors (builder.cpp): a console client and its duplicate, twice while one
        // replaces another, and the host sockets of a vsock device.
        auto sealed = jail::seal_limits(s.spare_fds);
        if (sealed) sealed = jail::install(*s.vmm_filter);
        if (!sealed) s.request_stop({ExitReason::HostError, 0, "jail: " + describe(sealed.error())});
    }
    loop.run();
    stop_vcpus(s, threads);
    for (int fd : s.writable_disks) ::fdatasync(fd);
    s.send_reports(true);  // what still waits for the timer
    s.console->flush();
    std::lock_guard g(s.exit_lock);
    VmExit end = *s.exit;
    if (s.container) end.container_status = s.container->status();
    return end;
}

}  // namespace moat::vmm
