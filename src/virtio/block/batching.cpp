// virtio-blk's batching decisions (see batching.hpp).
#include "virtio/block/batching.hpp"

#include <algorithm>

namespace moat::virtio::block {

void Batcher::reset()
{
    m_batching = false;  // a poll still due finds nothing to do
    m_since_probe = 0;
    m_last_notified = {};
    m_gap = m_p.probe_window;
}

bool Batcher::should_probe(bool may_batch)
{
    if (!may_batch || m_p.probe_every == 0) return false;
    note_notification();
    if (m_since_probe < m_p.probe_every) return false;
    m_window = m_p.window;  // one new request during the probe is enough to try a full window
    return true;
}

void Batcher::note_notification()
{
    using std::chrono::microseconds;
    const auto now = m_p.now();
    if (m_last_notified != std::chrono::steady_clock::time_point{}) {
        // A gap longer than probe_window (an idle driver) counts as probe_window, so one pause
        // does not leave the average long for many notifications after it.
        const auto gap =
            std::clamp(std::chrono::duration_cast<microseconds>(now - m_last_notified), microseconds(0), m_p.probe_window);
        m_gap = (3 * m_gap + gap) / 4;
    }
    m_last_notified = now;
}

std::chrono::microseconds Batcher::probe_hold() const
{
    return std::clamp(m_gap * m_p.probe_gaps, std::min(m_p.min_window, m_p.probe_window), m_p.probe_window);
}

void Batcher::window_opened(std::uint16_t already_pending, std::uint16_t needs_new)
{
    m_batching = true;
    m_window_base = already_pending;
    m_window_needs = needs_new;
    m_since_probe = 0;
}

std::optional<std::chrono::microseconds> Batcher::after_window(std::uint32_t served)
{
    // Entries published during the window mean the driver kept submitting while we held its
    // requests: keep batching. Too few means it waited for us: stop, as the window only cost
    // time. (served >= m_window_base: nothing else pops the ring while we batch.)
    const std::uint32_t fresh = served > m_window_base ? served - m_window_base : 0;
    if (fresh >= m_window_needs) {
        if (fresh >= m_p.plenty) m_window = std::max(m_p.min_window, m_window / 2);
        return m_window;
    }
    if (m_window < m_p.window) {
        // Too few in a window that was shortened: the driver still submits, only slower than the
        // window had become. Lengthen it again; only a full-length window that brings too few
        // ends batching.
        m_window = std::min(m_p.window, m_window * 2);
        return m_window;
    }
    return std::nullopt;
}

}  // namespace moat::virtio::block
