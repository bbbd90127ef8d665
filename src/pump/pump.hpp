// The pump of a one-way channel (DESIGN.md "Security policy"; issue 14): between the low VM's
// process and the high VM's, bytes go low -> high only.
//
// The low side's connections arrive on the low link (protocol/vsock_link.hpp). Each is accepted
// at once, whatever the high side will do, and the pump opens one of its own to the high VM
// across the high link. It then reads the low side's bytes into a bounded buffer of its own, not
// as the high side reads them but on the randomised schedule of schedule.hpp; that is the only
// credit the low side gets beyond its own device's buffer and the socket's. It writes the
// buffer to the high side as fast as that side takes it, and reads and drops whatever the high
// side sends: nothing of the high side reaches the low side. The low side's stream is closed as
// soon as the low side finishes, not when the high side has read it. A buffer that stays full
// for k_full_timeout (the high side stopped reading) ends the high side's connection, and the
// low side's bytes are then read on the same schedule and dropped: the low side is throttled for
// a bounded time, never blocked for good. A flow whose low stream the pump has closed has
// k_full_timeout left to deliver its buffer; then the high side's connection is ended. Its place
// among the k_max_flows is held for exactly that time, even when the flow finished sooner, so
// whether the low side's next connection is accepted depends on the low side and the schedule
// alone: its open connections and those the pump closed in the last k_full_timeout (pump.cpp,
// Pump::expire). So a low side that keeps opening and closing connections gets k_max_flows of
// them per k_full_timeout.
//
// One thread, one epoll set; everything the low or high process sends is bytes on a stream or a
// link record the pump checks and never interprets further.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "base/result.hpp"
#include "base/unique_fd.hpp"
#include "pump/schedule.hpp"

namespace moat::pump {

struct Stats {
    std::uint64_t connections = 0;  // accepted from the low side
    std::uint64_t delivered = 0;    // bytes written to the high side
    std::uint64_t dropped = 0;      // bytes read from the low side and dropped (no high side)
    std::uint64_t refused_records = 0;  // malformed link records
};

class Pump final {
public:
    static constexpr std::size_t k_buffer = 1024 * 1024;  // per connection
    static constexpr std::size_t k_max_flows = 64;
    static constexpr auto k_full_timeout = std::chrono::seconds(10);

    // `low_link` and `high_link` are the pump's ends of the two links (made non-blocking here).
    // `port` is the channel's: the only one the low side may ask for. `rate` in bytes/s, 0 for none.
    // `limits` are k_buffer and k_full_timeout but in tests.
    struct Limits {
        std::size_t buffer = k_buffer;
        Clock::duration full_timeout = k_full_timeout;
    };
    static Result<std::unique_ptr<Pump>> create(base::UniqueFd low_link, base::UniqueFd high_link, std::uint32_t port,
                                                std::uint64_t rate, std::uint64_t seed, Limits limits);
    static Result<std::unique_ptr<Pump>> create(base::UniqueFd low_link, base::UniqueFd high_link, std::uint32_t port,
                                                std::uint64_t rate, std::uint64_t seed)
    {
        return create(std::move(low_link), std::move(high_link), port, rate, seed, Limits{});
    }

    // Waits up to `max_wait` for something to do and does it. False once the low link is gone
    // (the low VM and the monitor closed it) and no connection is left.
    bool step(std::chrono::milliseconds max_wait);
    const Stats& stats() const { return m_stats; }
    std::size_t flows() const { return m_flows.size(); }
    int epoll_fd() const { return m_ep.get(); }  // for a caller that waits on signals too

private:
    struct Flow {
        base::UniqueFd low, high;
        enum class State : std::uint8_t { WaitHigh, Open, Discard } state = State::WaitHigh;
        std::deque<char> buf;
        Schedule schedule;
        Clock::time_point next_read{};
        Clock::time_point full_since{};
        Clock::time_point blocked_since{};  // the high side's socket is full since, or zero
        Clock::time_point drop_at{};        // the low side closed: the flow ends by then at the latest
        bool low_readable = true;
        explicit Flow(std::uint64_t rate, std::uint64_t seed) : schedule(rate, seed) {}
        bool low_done() const { return !low.valid(); }  // the low side finished: its stream is closed
    };

    Pump(base::UniqueFd low_link, base::UniqueFd high_link, std::uint32_t port, std::uint64_t rate, std::uint64_t seed,
         Limits limits);
    void accept_low();
    void on_high(Flow& f);
    void read_low(Flow& f, Clock::time_point now);
    void write_high(Flow& f, Clock::time_point now);
    void discard(Flow& f);
    bool finished(const Flow& f) const;
    void expire(Clock::time_point now);
    Clock::time_point wake_at(const Flow& f) const;
    void watch(int fd, std::uint64_t tag);

    base::UniqueFd m_low_link, m_high_link, m_ep;
    std::uint32_t m_port;
    std::uint64_t m_rate;
    std::uint64_t m_seed;
    Limits m_limits;
    bool m_low_link_open = true;
    std::vector<std::unique_ptr<Flow>> m_flows;
    // One entry per flow whose low stream the pump closed: its drop_at, when its place among the
    // k_max_flows is free again, finished or not (oldest first).
    std::deque<Clock::time_point> m_held;
    Stats m_stats;
};

}  // namespace moat::pump
