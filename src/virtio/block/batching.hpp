// virtio-blk's batching under load: when the device serves the ring from a timer instead of on
// each notification. The decisions only; the device (block_device.hpp) serves, arms and asks for
// the polls they call for.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

namespace moat::virtio::block {

// When and how the device batches. Serving each request within the notification that brought
// it costs the driver one notification and (usually) one interrupt per request, each a VM exit;
// when the driver's vCPU is the bottleneck (many requests in flight), that is what limits it.
//
// Probe: after `probe_every` requests served at once, the device leaves the next notified request
// in the ring for a short hold. If the driver published more meanwhile, it had other requests to
// give and did not wait idle: the device batches. The hold follows the driver's pace: `probe_gaps`
// times the running average gap between its notifications (each gap counted as at most
// `probe_window`), within [min_window, probe_window]. A driver with many requests in flight
// notifies often and publishes the next within a gap or two; one with a single request in flight
// notifies once per round trip and pays about `probe_gaps` round trips per `probe_every`
// requests, on a fast host as in the nested lab.
//
// Batching: the device serves the ring every `window` without notifications, one interrupt per
// window. A window that brings `plenty` or more new requests means the driver outpaces it (a
// fixed window caps throughput at what one window collects): the next is half as long, down to
// `min_window`. A shortened window that brings fewer than `min_new` makes the next twice as long
// again, up to `window`; a full-length one that brings fewer (the driver waits for us, or has
// too few requests in flight for a window to pay) ends batching. So windows start long enough for
// a slow driver (the nested lab, where one VM exit costs ~70 us), shorten for a fast one, and
// settle where a window brings between `min_new` and `plenty`. Measured in the nested lab
// (bench/README.md): fixed windows of 0.5 and 1 ms often brought too few and fell back, 2 ms
// held; and with windows that ended batching instead of growing back, depth 32 lost most of its
// gain.
//
// Needs EVENT_IDX (to stop notifications without writing the ring's flags) and a transport that
// can poll (DriverNotifier::poll_later).
struct Batching {
    using Clock = std::chrono::steady_clock::time_point (*)();

    std::uint32_t probe_every = 64;  // 0: never batch
    std::chrono::microseconds probe_window{500};
    std::chrono::microseconds window{2000};
    std::uint16_t min_new = 4;
    std::uint16_t plenty = 16;
    std::chrono::microseconds min_window{50};
    std::uint16_t probe_gaps = 2;
    Clock now = &std::chrono::steady_clock::now;  // tests drive their own
};

// The state machine of Batching: the device tells it what happened and does what it answers.
// Serialised like the queue (the transport's I/O lock).
class Batcher final {
public:
    explicit Batcher(const Batching& p) : m_p(p), m_gap(p.probe_window) {}

    bool batching() const { return m_batching; }
    // Back to the start (device reset): not batching, no pace known.
    void reset();

    // A notification came while not batching. True when the device should probe: hold the
    // ring's requests for probe_hold() (open_window with the pending count and 1 new needed).
    // `may_batch`: EVENT_IDX negotiated (batching is off anyway when probe_every is 0).
    bool should_probe(bool may_batch);
    std::chrono::microseconds probe_hold() const;

    // A poll was scheduled: batching, with `already_pending` requests in the ring that the
    // window does not count as new; it goes on after the window if `needs_new` new ones came.
    void window_opened(std::uint16_t already_pending, std::uint16_t needs_new);
    // No poll could be scheduled for a probe: try again after as many requests.
    void probe_failed() { m_since_probe = 0; }
    // Requests served at once on a notification.
    void served_at_once(std::uint32_t n) { m_since_probe += n; }

    // The poll of a window came and `served` requests were served from the ring: the next
    // window's length, or nothing (back to notifications; call stop()).
    std::optional<std::chrono::microseconds> after_window(std::uint32_t served);
    void stop() { m_batching = false; }

    // The window that comes after a successful probe and after a window: new requests it needs.
    std::uint16_t min_new() const { return m_p.min_new; }

private:
    void note_notification();

    Batching m_p;
    bool m_batching = false;  // invariant while true: a poll is due (the driver does not notify)
    std::uint32_t m_since_probe = 0;   // requests served at once since the last probe
    std::uint16_t m_window_base = 0;   // requests in the ring when the current window opened
    std::uint16_t m_window_needs = 0;  // new requests the current window must bring
    std::chrono::microseconds m_window{0};  // the length of the next full window
    // The driver's pace: when it last notified, and the running average gap between notifications.
    std::chrono::steady_clock::time_point m_last_notified{};
    std::chrono::microseconds m_gap;
};

}  // namespace moat::virtio::block
