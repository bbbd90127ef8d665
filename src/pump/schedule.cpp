#include "pump/schedule.hpp"

#include <algorithm>
#include <cmath>

namespace moat::pump {

void Schedule::high_took(std::uint64_t bytes, Clock::time_point now)
{
    m_takes[m_count % k_window] = {now, bytes};
    ++m_count;
}

double Schedule::average_rate(Clock::time_point now, bool waiting) const
{
    const std::size_t n = std::min(m_count, k_window);
    if (n < 2) return k_initial_rate;
    const Take& first = m_takes[(m_count - n) % k_window];
    const Take& last = m_takes[(m_count - 1) % k_window];
    std::uint64_t bytes = 0;
    for (std::size_t i = 1; i < n; ++i) bytes += m_takes[(m_count - n + i) % k_window].bytes;
    const Clock::time_point end = waiting ? std::max(now, last.at) : last.at;
    const double seconds = std::chrono::duration<double>(end - first.at).count();
    if (seconds <= 0) return k_initial_rate;
    return std::max(static_cast<double>(bytes) / seconds, 1.0);
}

Clock::duration Schedule::next_delay(Clock::time_point now, bool waiting)
{
    const double mean = static_cast<double>(k_chunk) / average_rate(now, waiting);
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
