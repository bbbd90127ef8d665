#include "pump/pump.hpp"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>

#include "protocol/vsock_link.hpp"

namespace moat::pump {

namespace {

constexpr std::uint64_t k_low_link_tag = 0;

bool nonblocking(int fd)
{
    const int fl = ::fcntl(fd, F_GETFL);
    return fl >= 0 && ::fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0;
}

// One send without SIGPIPE or waiting (sendmsg: the one sending call the pump's filter allows).
ssize_t send_some(int fd, const void* p, std::size_t n)
{
    iovec v{const_cast<void*>(p), n};
    msghdr m{};
    m.msg_iov = &v;
    m.msg_iovlen = 1;
    return ::sendmsg(fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
}

}  // namespace

Result<std::unique_ptr<Pump>> Pump::create(base::UniqueFd low_link, base::UniqueFd high_link, std::uint32_t port,
                                           std::uint64_t rate, std::uint64_t seed, Limits limits)
{
    if (!nonblocking(low_link.get()) || !nonblocking(high_link.get())) return fail_errno("pump: links");
    std::unique_ptr<Pump> p(new Pump(std::move(low_link), std::move(high_link), port, rate, seed, limits));
    if (!p->m_ep.valid()) return fail_errno("pump: epoll_create1");
    epoll_event e{};
    e.events = EPOLLIN | EPOLLET;
    e.data.u64 = k_low_link_tag;
    if (::epoll_ctl(p->m_ep.get(), EPOLL_CTL_ADD, p->m_low_link.get(), &e) != 0) return fail_errno("pump: epoll_ctl");
    return p;
}

Pump::Pump(base::UniqueFd low_link, base::UniqueFd high_link, std::uint32_t port, std::uint64_t rate, std::uint64_t seed,
           Limits limits)
    : m_low_link(std::move(low_link)), m_high_link(std::move(high_link)), m_ep(::epoll_create1(EPOLL_CLOEXEC)),
      m_port(port), m_rate(rate), m_seed(seed), m_limits(limits)
{
}

void Pump::watch(int fd, std::uint64_t tag)
{
    epoll_event e{};
    e.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    e.data.u64 = tag;
    ::epoll_ctl(m_ep.get(), EPOLL_CTL_ADD, fd, &e);
}

// A low-side connection is accepted at once, before the high side is even asked: the answer
// may not depend on the high side. A malformed record, or one for another port, is dropped; so
// is one beyond k_max_flows, counted as Pump::expire explains.
void Pump::accept_low()
{
    for (;;) {
        auto r = protocol::receive_link_open(m_low_link.get());
        if (r && !*r) return;
        if (!r && r.error().code == Errc::InvalidInput) {
            ++m_stats.refused_records;
            continue;
        }
        if (!r) {
            ::epoll_ctl(m_ep.get(), EPOLL_CTL_DEL, m_low_link.get(), nullptr);
            m_low_link_open = false;
            return;
        }
        const protocol::LinkOpen open = (*r)->open;
        base::UniqueFd low = std::move((*r)->stream);
        expire(Clock::now());
        const auto low_open = std::count_if(m_flows.begin(), m_flows.end(), [](const auto& f) { return !f->low_done(); });
        if (open.dst_port != m_port || static_cast<std::size_t>(low_open) + m_held.size() >= k_max_flows ||
            !nonblocking(low.get())) {
            ++m_stats.refused_records;
            continue;  // closing the stream refuses the connection
        }
        const std::uint8_t yes = protocol::k_link_accepted;
        if (send_some(low.get(), &yes, 1) != 1) continue;
        auto f = std::make_unique<Flow>(m_rate, m_seed + m_stats.connections);
        ++m_stats.connections;
        f->low = std::move(low);
        int sv[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0) {
            base::UniqueFd theirs(sv[1]);
            f->high = base::UniqueFd(sv[0]);
            if (!protocol::send_link_open(m_high_link.get(), open, theirs.get())) f->high.reset();
        }
        if (!f->high.valid()) f->state = Flow::State::Discard;
        const auto tag = reinterpret_cast<std::uintptr_t>(f.get());
        watch(f->low.get(), tag);
        if (f->high.valid()) watch(f->high.get(), tag | 1);
        m_flows.push_back(std::move(f));
    }
}

// The high side: its one-byte answer, then only bytes to drop and its end.
void Pump::on_high(Flow& f)
{
    std::array<char, 16384> tmp;
    while (f.high.valid()) {
        const std::size_t want = f.state == Flow::State::WaitHigh ? 1 : tmp.size();
        const ssize_t n = ::read(f.high.get(), tmp.data(), want);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return;
        if (n <= 0 || (f.state == Flow::State::WaitHigh && static_cast<std::uint8_t>(tmp[0]) != protocol::k_link_accepted)) {
            discard(f);  // refused, gone or closed: the low side's bytes have nowhere to go
            return;
        }
        if (f.state == Flow::State::WaitHigh) f.state = Flow::State::Open;
    }
}

void Pump::discard(Flow& f)
{
    f.state = Flow::State::Discard;
    f.high.reset();
    f.blocked_since = {};  // nobody to wait for: the schedule goes on at the past average
    m_stats.dropped += f.buf.size();
    f.buf.clear();
}

void Pump::read_low(Flow& f, Clock::time_point now)
{
    const std::size_t room = f.state == Flow::State::Discard ? m_limits.buffer : m_limits.buffer - std::min(f.buf.size(), m_limits.buffer);
    if (room == 0) {
        if (f.full_since == Clock::time_point{}) f.full_since = now;
        if (now - f.full_since >= m_limits.full_timeout) discard(f);  // the high side stopped reading
        return;
    }
    f.full_since = {};
    const std::uint64_t n = f.schedule.allowance(now, room);
    if (n == 0) {
        f.next_read = now + std::chrono::milliseconds(5);  // the rate cap's bucket refills
        return;
    }
    std::array<char, Schedule::k_chunk> tmp;
    const ssize_t got = ::read(f.low.get(), tmp.data(), static_cast<std::size_t>(n));
    if (got < 0 && (errno == EAGAIN || errno == EINTR)) {
        f.low_readable = errno == EINTR;
        return;
    }
    if (got <= 0) {
        // Closed now, whatever the high side has read: it tells the low side nothing. The flow
        // has full_timeout left, and holds its place for as long (Pump::expire).
        f.low.reset();
        f.drop_at = now + m_limits.full_timeout;
        m_held.push_back(f.drop_at);
        return;
    }
    f.schedule.took_from_low(static_cast<std::uint64_t>(got));
    if (f.state == Flow::State::Discard) m_stats.dropped += static_cast<std::uint64_t>(got);
    else f.buf.insert(f.buf.end(), tmp.begin(), tmp.begin() + got);
    const auto waiting = f.blocked_since == Clock::time_point{} ? Clock::duration::zero() : now - f.blocked_since;
    f.next_read = now + f.schedule.next_delay(waiting);
}

void Pump::write_high(Flow& f, Clock::time_point now)
{
    if (f.state != Flow::State::Open) return;
    std::array<char, 65536> tmp;
    while (!f.buf.empty()) {
        const std::size_t n = std::min(tmp.size(), f.buf.size());
        std::copy_n(f.buf.begin(), n, tmp.begin());
        const ssize_t sent = send_some(f.high.get(), tmp.data(), n);
        if (sent < 0 && errno == EINTR) continue;
        if (sent < 0 && errno == EAGAIN) {
            if (f.blocked_since == Clock::time_point{}) f.blocked_since = now;
            return;
        }
        if (sent <= 0) {
            discard(f);
            return;
        }
        f.buf.erase(f.buf.begin(), f.buf.begin() + sent);
        m_stats.delivered += static_cast<std::uint64_t>(sent);
        const auto waited = f.blocked_since == Clock::time_point{} ? Clock::duration::zero() : now - f.blocked_since;
        f.blocked_since = {};
        f.schedule.high_took(static_cast<std::uint64_t>(sent), waited);
    }
    if (f.low_done()) ::shutdown(f.high.get(), SHUT_WR);
}

bool Pump::finished(const Flow& f) const
{
    return f.low_done() && (f.state == Flow::State::Discard || (f.state == Flow::State::Open && f.buf.empty()));
}

// The bound on a flow whose low stream the pump has closed. Without it such a flow would live
// until the high side had answered and read its buffer (or refused, or closed), counting against
// k_max_flows all the while: a high side that never answered would keep up to k_max_flows flows
// for good, and so decide, with no bound in time, whether the low side's next connection is
// accepted (a channel from high to low that the schedule does not blur, and a way to stop the
// channel). So such a flow ends at drop_at, full_timeout after the pump closed the low stream,
// whatever the high side does; and its place is freed at drop_at, not when it finished, even
// when the high side read everything at once. The count an accept sees is then the low side's
// open connections and those the pump closed in the last full_timeout: the low side's doing and
// the schedule's (the pump closes a low stream at a read the schedule times, one that found room
// in the buffer: the bit the design admits), never the high side's. Freeing a place when its
// flow finished, with the bound ending only the laggards, would still let the high side choose,
// within full_timeout, when each place frees, and a low side probing with connections would read
// those times. Called before every accept, with its own time, so that the count does not depend
// on when a step happens to run either (a high side's event can make one run).
void Pump::expire(Clock::time_point now)
{
    for (auto& f : m_flows)
        if (f->low_done() && !finished(*f) && now >= f->drop_at) discard(*f);  // finished, so erased in step
    while (!m_held.empty() && m_held.front() <= now) m_held.pop_front();
}

// When a flow has work to do that no event announces: its next read of the low side; with its
// buffer full, the end of full_timeout (room comes only from the high side's taking, an event,
// not from waiting: a read then would find none); once the low side closed, drop_at.
Clock::time_point Pump::wake_at(const Flow& f) const
{
    if (f.low_done()) return finished(f) ? Clock::time_point::max() : f.drop_at;
    if (!f.low_readable) return Clock::time_point::max();
    if (f.full_since != Clock::time_point{} && f.state != Flow::State::Discard && f.buf.size() >= m_limits.buffer)
        return f.full_since + m_limits.full_timeout;
    return f.next_read;
}

bool Pump::step(std::chrono::milliseconds max_wait)
{
    Clock::time_point now = Clock::now();
    Clock::duration wait = max_wait;
    for (const auto& f : m_flows)
        if (const auto at = wake_at(*f); at < now + wait) wait = std::max(Clock::duration::zero(), at - now);
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(wait).count();
    const timespec ts{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
    std::array<epoll_event, 32> events;
    const int n = ::epoll_pwait2(m_ep.get(), events.data(), static_cast<int>(events.size()), &ts, nullptr);
    for (int i = 0; i < n; ++i) {
        const std::uint64_t tag = events[static_cast<std::size_t>(i)].data.u64;
        if (tag == k_low_link_tag) {
            accept_low();
            continue;
        }
        // Flows are erased only below, after every event of this round.
        auto* f = reinterpret_cast<Flow*>(static_cast<std::uintptr_t>(tag & ~std::uint64_t{1}));
        if (tag & 1) on_high(*f);
        else f->low_readable = true;
    }
    now = Clock::now();
    expire(now);
    for (auto& f : m_flows) {
        if (!f->low_done() && f->low_readable && now >= f->next_read) read_low(*f, now);
        write_high(*f, now);
    }
    std::erase_if(m_flows, [this](const auto& f) { return finished(*f); });
    return m_low_link_open || !m_flows.empty();
}

}  // namespace moat::pump
