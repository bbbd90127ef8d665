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
#include "virtio/block/batching.hpp"
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
    BlockDevice(base::UniqueFd file, DiskAccess access, std::array<std::byte, VIRTIO_BLK_ID_BYTES> id,
                std::uint64_t capacity, ReadOnlyWrites read_only, Batching batching);
    // Serves every request in the ring. Returns how many, or std::nullopt after a queue fault
    // (the device then needs a reset).
    std::optional<std::uint32_t> serve(Queue::OnEmpty on_empty);
    // Asks for a poll after `delay` and, if one will come, tells the Batcher that a window opened.
    bool open_window(std::chrono::microseconds delay, std::uint16_t already_pending, std::uint16_t needs_new);
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

    // Set by activate(), cleared by reset(); serialised by the transport's I/O lock.
    const memory::GuestMemory* m_mem = nullptr;
    DriverNotifier* m_notifier = nullptr;
    std::optional<Queue> m_queue;
    Batcher m_batcher;  // serialised like the queue
};

}  // namespace moat::virtio::block
