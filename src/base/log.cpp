// Logging implementation: one formatted line per call, written with a single write(2).
#include "base/log.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <ctime>

namespace moat::log {

namespace {
std::atomic<Level> g_level{Level::Warn};
const char* const k_names[] = {"error", "warn", "info", "debug"};
}  // namespace

void set_level(Level level) { g_level.store(level, std::memory_order_relaxed); }

bool enabled(Level level)
{
    return static_cast<int>(level) <= static_cast<int>(g_level.load(std::memory_order_relaxed));
}

void write(Level level, const char* fmt, ...)
{
    char buf[512];
    int n = std::snprintf(buf, sizeof buf, "moat: %s: ", k_names[static_cast<int>(level)]);
    va_list ap;
    va_start(ap, fmt);
    int m = std::vsnprintf(buf + n, sizeof buf - static_cast<std::size_t>(n) - 1, fmt, ap);
    va_end(ap);
    std::size_t len = static_cast<std::size_t>(n) +
                      std::min(static_cast<std::size_t>(m < 0 ? 0 : m), sizeof buf - static_cast<std::size_t>(n) - 2);
    buf[len++] = '\n';
    [[maybe_unused]] auto r = ::write(STDERR_FILENO, buf, len);
}

bool RateLimit::allow()
{
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    auto now = static_cast<std::uint64_t>(ts.tv_sec);
    std::uint64_t w = m_window.load(std::memory_order_relaxed);
    if (w != now && m_window.compare_exchange_strong(w, now, std::memory_order_relaxed))
        m_count.store(0, std::memory_order_relaxed);
    return m_count.fetch_add(1, std::memory_order_relaxed) < m_burst;
}

}  // namespace moat::log
