// Logging to stderr, with a rate limiter for anything a guest can trigger.
#pragma once

#include <atomic>
#include <cstdint>

namespace moat::log {

enum class Level : std::uint8_t { Error, Warn, Info, Debug };

void set_level(Level level);
bool enabled(Level level);
void write(Level level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

// Allows `burst` messages per second; guest-triggered paths log through one of these so a
// guest cannot flood the host's log. Thread-safe; lock-free.
class RateLimit final {
public:
    explicit constexpr RateLimit(std::uint32_t burst = 10) : m_burst(burst) {}
    bool allow();

private:
    std::uint32_t m_burst;
    std::atomic<std::uint64_t> m_window{0};
    std::atomic<std::uint32_t> m_count{0};
};

}  // namespace moat::log

#define MOAT_LOG(level, ...)                                                      \
    do {                                                                          \
        if (::moat::log::enabled(::moat::log::Level::level))                      \
            ::moat::log::write(::moat::log::Level::level, __VA_ARGS__);           \
    } while (0)

// Logs at most a few times a second from this call site.
#define MOAT_LOG_RATELIMITED(level, ...)                                          \
    do {                                                                          \
        static ::moat::log::RateLimit _moat_rl;                                   \
        if (::moat::log::enabled(::moat::log::Level::level) && _moat_rl.allow())  \
            ::moat::log::write(::moat::log::Level::level, __VA_ARGS__);           \
    } while (0)
