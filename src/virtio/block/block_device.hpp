// virtio-blk device (virtio 1.2 §5.2) backed by one host file or block device.
//
// Features: VIRTIO_F_VERSION_1, VIRTIO_BLK_F_SEG_MAX, VIRTIO_BLK_F_FLUSH, VIRTIO_RING_F_EVENT_IDX,
// VIRTIO_RING_F_INDIRECT_DESC, and VIRTIO_BLK_F_RO for read-only disks. One request queue.
// Requests are served synchronously on the thread that calls process_queue() (the event thread).
// Under load the device batches (see Batching): it stops asking for notifications and serves the
// ring on a timer instead, so one interrupt covers several requests and submissions cost the
// driver no notification.
// Threading: see device.hpp; the config space is constant after create().
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "base/disk_access.hpp"
#include "base/result.hpp"
#include "base/unique_fd.hpp"
#include "virtio/block/request.hpp"
#include "virtio/block/spec.hpp"
#include "virtio/device.hpp"

namespace moat::virtio::block {

// What a read-only disk tells the driver.
enum class ReadOnlyWrites : std::uint8_t {
    Announced,  // VIRTIO_BLK_F_RO is offered: the driver knows, and does not write
    Reported,   // not offered: every write the driver tries reaches the device, which refuses
                // it and reports it (set_denied_write_hook) — how a system's monitor audits them
};

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

class BlockDevice final : public Device {
public:
    static constexpr std::uint16_t k_queue_size = 256;
    // §5.2.4 seg_max: data buffers per request, leaving room for header and status.
    static constexpr std::uint32_t k_seg_max = k_queue_size - 2;

    // `file` is a regular file or block device; ReadWrite needs it opened O_RDWR (the VMM opens
    // read-only disks O_RDONLY). Capacity is the size in whole 512-byte sectors (rounded down).
    // `id` is the GET_ID answer, at most 20 bytes (zero-padded). `read_only` says what a
    // read-only disk tells the driver (ignored for ReadWrite).
    static Result<std::unique_ptr<BlockDevice>> create(base::UniqueFd file, DiskAccess access, std::string id,
                                                       ReadOnlyWrites read_only = ReadOnlyWrites::Announced,
                                                       Batching batching = {});

    BlockDevice(const BlockDevice&) = delete;
    BlockDevice& operator=(const BlockDevice&) = delete;

    std::uint32_t device_id() const override { return VIRTIO_ID_BLOCK; }
    std::uint64_t features() const override { return m_features; }
    std::span<const std::uint16_t> queue_max_sizes() const override { return m_queue_max; }
    void read_config(std::uint64_t offset, std::span<std::byte> data) const override;
    void write_config(std::uint64_t offset, std::span<const std::byte> data) override;
    Result<void> activate(ActivateContext ctx) override;
    void process_queue(std::uint32_t index) override;
    void poll_queue(std::uint32_t index) override;
    void reset() override;

    std::uint64_t capacity_sectors() const { return m_capacity; }
    // Called (on the thread serving the queue) for every write refused because the disk is
    // read-only, so the VMM can report it.
    void set_denied_write_hook(std::function<void()> hook) { m_denied_write = std::move(hook); }

private:
    enum class Mode : std::uint8_t { Immediate, Batching };

    BlockDevice(base::UniqueFd file, DiskAccess access, std::array<std::byte, VIRTIO_BLK_ID_BYTES> id,
                std::uint64_t capacity, ReadOnlyWrites read_only, Batching batching);
    // Serves every request in the ring. Returns how many, or std::nullopt after a queue fault
    // (the device then needs a reset).
    std::optional<std::uint32_t> serve(Queue::OnEmpty on_empty);
    // Asks for a poll after `delay` and, if one will come, enters Batching with `already_pending`
    // requests in the ring that the window does not count as new; batching goes on after the
    // window if it brought at least `needs_new` new ones.
    bool open_window(std::chrono::microseconds delay, std::uint16_t already_pending, std::uint16_t needs_new);
    // Counts one notification into the driver's pace (m_gap).
    void note_notification();
    // How long a probe holds the driver's request at its current pace.
    std::chrono::microseconds probe_hold() const;
    // Serves one validated request; writes its status byte and returns the used length.
    std::uint32_t execute(const Request& req);
    std::uint8_t get_id(const Request& req, std::uint32_t& written);

    base::UniqueFd m_file;
    DiskAccess m_access;
    std::array<std::byte, VIRTIO_BLK_ID_BYTES> m_id;
    std::uint64_t m_capacity;
    std::uint64_t m_features;
    VirtioBlkConfig m_config{};
    std::array<std::uint16_t, 1> m_queue_max{k_queue_size};
    std::function<void()> m_denied_write;
    Batching m_batching;

    // Set by activate(), cleared by reset(); serialised by the transport's I/O lock.
    const memory::GuestMemory* m_mem = nullptr;
    DriverNotifier* m_notifier = nullptr;
    std::optional<Queue> m_queue;
    // Batching state; serialised like the queue. In Batching a poll is always due (invariant):
    // the driver does not notify, so that poll is what serves its requests.
    Mode m_mode = Mode::Immediate;
    std::uint32_t m_since_probe = 0;   // requests served at once since the last probe
    std::uint16_t m_window_base = 0;   // requests in the ring when the current window opened
    std::uint16_t m_window_needs = 0;  // new requests the current window must bring
    std::chrono::microseconds m_window{0};  // the length of the next full window
    // The driver's pace: when it last notified, and the running average gap between notifications.
    std::chrono::steady_clock::time_point m_last_notified{};
    std::chrono::microseconds m_gap{0};
};

}  // namespace moat::virtio::block
