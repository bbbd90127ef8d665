#include "pump/schedule.hpp"

#include <algorithm>
#include <cmath>

namespace moat::pump {

void Schedule::high_took(std::uint64_t bytes, Clock::duration waited)
{
    m_takes[m_count % k_window] = {waited, bytes};
    ++m_count;
}

double Schedule::average_rate(Clock::duration waiting_now) const
{
    const std::size_t n = std::min(m_count, k_window);
    std::uint64_t bytes = 0;
    Clock::duration waited = waiting_now;
    for (std::size_t i = 0; i < n; ++i) {
        bytes += m_takes[(m_count - n + i) % k_window].bytes;
        waited += m_takes[(m_count - n + i) % k_window].waited;
    }
    const double seconds = std::chrono::duration<double>(waited).count();
    if (seconds < 0.001) return k_initial_rate;
    return std::clamp(static_cast<double>(bytes) / seconds, 1.0, k_initial_rate);
}

Clock::duration Schedule::next_delay(Clock::duration waiting_now)
{
    const double mean = static_cast<double>(k_chunk) / average_rate(waiting_now);
    std::exponential_distribution<double> exp(1.0 / mean);
    const double s = std::min({exp(m_rng), 4 * mean, std::chrono::duration<double>(k_max_delay).count()});
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}

std::uint64_t Schedule::allowance(Clock::time_point now, std::uint64_t room)
{
    std::uint64_t n = std::min(k_chunk, room);
    if (m_cap == 0) return n;
    const double burst = std::max(static_cast<double>(m_cap) / 10, static_cast<double>(k_chunk));
    if (!m_started) {
        m_started = true;
        m_tokens = static_cast<double>(k_chunk);
    } else {
        m_tokens = std::min(burst, m_tokens + static_cast<double>(m_cap) * std::chrono::duration<double>(now - m_refilled).count());
    }
    m_refilled = now;
    return std::min<std::uint64_t>(n, static_cast<std::uint64_t>(std::max(m_tokens, 0.0)));
}

void Schedule::took_from_low(std::uint64_t bytes)
{
    if (m_cap != 0) m_tokens -= static_cast<double>(bytes);
}

}  // namespace moat::pump
