// When the pump takes the low side's bytes (after the NRL Pump of Kang, Moskowitz and Lee, 1996):
// never as the high side reads, but at random times whose mean follows a moving average of the
// high side's service rate, so that the low side's view of its own progress carries the high
// side's behaviour only smoothed and blurred; and never faster than the channel's rate cap.
// The service rate is what the high side takes per unit of time the pump had to wait for it
// (its socket full): a high side that keeps up costs no waiting, and the low side then goes as
// fast as the pump and the cap allow; the rate is not the pump's own supply, which would feed
// back on itself.
// Pure: time is passed in; the randomness comes from a seeded generator. Not thread-safe.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <random>

namespace moat::pump {

using Clock = std::chrono::steady_clock;

class Schedule final {
public:
    static constexpr std::uint64_t k_chunk = 16 * 1024;             // bytes per low-side read at most
    static constexpr double k_initial_rate = 256.0 * 1024 * 1024;  // bytes/s before the high side has read
    static constexpr auto k_max_delay = std::chrono::milliseconds(500);  // a bound on every wait
    static constexpr std::size_t k_window = 16;                     // high-side reads in the average

    // `rate_cap` in bytes per second, 0 for none.
    Schedule(std::uint64_t rate_cap, std::uint64_t seed) : m_cap(rate_cap), m_rng(seed) {}

    // The high side took `bytes` after the pump had waited `waited` for it to have room.
    void high_took(std::uint64_t bytes, Clock::duration waited);
    // The high side's service rate in bytes per second over its last k_window takes, counting
    // `waiting_now`, the wait still going on (a stalled reader's rate falls as it stalls);
    // k_initial_rate while the pump has hardly waited (under a millisecond in all).
    double average_rate(Clock::duration waiting_now) const;
    // The wait before the next low-side read: exponential, of mean k_chunk / average rate,
    // capped at four times the mean and at k_max_delay.
    Clock::duration next_delay(Clock::duration waiting_now);
    // How many bytes the next low-side read may take now: k_chunk, `room` and the rate cap's
    // tokens at most.
    std::uint64_t allowance(Clock::time_point now, std::uint64_t room);
    // The low side's read of `bytes` happened: they leave the rate cap's bucket.
    void took_from_low(std::uint64_t bytes);

private:
    struct Take {
        Clock::duration waited;
        std::uint64_t bytes;
    };
    std::uint64_t m_cap;
    std::mt19937_64 m_rng;
    std::array<Take, k_window> m_takes{};
    std::size_t m_count = 0;  // takes recorded, all time
    double m_tokens = 0;
    Clock::time_point m_refilled{};
    bool m_started = false;
};

}  // namespace moat::pump
