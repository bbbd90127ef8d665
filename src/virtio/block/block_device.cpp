// virtio-blk device: request execution with preadv/pwritev, flush and GET_ID (virtio 1.2 §5.2).
#include "virtio/block/block_device.hpp"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <vector>

#include "base/log.hpp"

namespace moat::virtio::block {

using memory::GuestAddress;
using memory::GuestMemory;

namespace {

enum class Direction : std::uint8_t { FileToGuest, GuestToFile };

Result<std::uint64_t> file_size(int fd)
{
    struct stat st{};
    if (::fstat(fd, &st) != 0) return fail_errno("virtio-blk: fstat disk");
    if (S_ISREG(st.st_mode)) return static_cast<std::uint64_t>(st.st_size);
    if (S_ISBLK(st.st_mode)) {
        std::uint64_t size = 0;
        if (::ioctl(fd, BLKGETSIZE64, &size) != 0) return fail_errno("virtio-blk: BLKGETSIZE64");
        return size;
    }
    return fail(Errc::Unsupported, "virtio-blk: disk is neither a regular file nor a block device");
}

// Moves all of `segs` between guest memory and the file at `offset`, retrying short transfers
// and EINTR. Each round rebuilds the iovecs from where the last one stopped, so no host pointer
// arithmetic happens outside src/memory.
Result<void> transfer(Direction dir, const GuestMemory& mem, int fd, std::span<const Segment> segs,
                      std::uint64_t offset)
{
    std::size_t seg = 0;     // first segment not fully done
    std::uint64_t skip = 0;  // bytes of segs[seg] already done
    std::vector<iovec> iov;
    while (seg < segs.size()) {
        iov.clear();
        for (std::size_t j = seg; j < segs.size() && iov.size() < IOV_MAX; ++j) {
            const std::uint64_t off = j == seg ? skip : 0;
            const std::uint64_t len = segs[j].len - off;
            if (len == 0) continue;
            auto start = segs[j].addr.checked_add(off);
            if (!start) return fail(Errc::OutOfRange, "virtio-blk: buffer address overflows");
            auto slice = MOAT_TRY(mem.slice(*start, len));
            iov.push_back(slice.as_iovec());
        }
        if (iov.empty()) break;  // only empty segments remain
        const auto count = static_cast<int>(iov.size());
        const auto pos = static_cast<off_t>(offset);
        const ssize_t n = dir == Direction::FileToGuest ? ::preadv(fd, iov.data(), count, pos)
                                                        : ::pwritev(fd, iov.data(), count, pos);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail_errno(dir == Direction::FileToGuest ? "virtio-blk: preadv" : "virtio-blk: pwritev");
        if (n == 0) return fail(Errc::Io, "virtio-blk: disk ended early");
        auto done = static_cast<std::uint64_t>(n);
        offset += done;
        // Advance (seg, skip) past `done` bytes; done <= the bytes the iovecs covered.
        while (done > 0 && seg < segs.size()) {
            const std::uint64_t left = segs[seg].len - skip;
            if (done < left) {
                skip += done;
                done = 0;
            } else {
                done -= left;
                ++seg;
                skip = 0;
            }
        }
    }
    return {};
}

Result<void> sync_file(int fd)
{
    for (;;) {
        if (::fdatasync(fd) == 0) return {};
        if (errno != EINTR) return fail_errno("virtio-blk: fdatasync");
    }
}

}  // namespace

Result<std::unique_ptr<BlockDevice>> BlockDevice::create(base::UniqueFd file, DiskAccess access, std::string id,
                                                         ReadOnlyWrites read_only, Batching batching)
{
    if (!file.valid()) return fail(Errc::InvalidInput, "virtio-blk: no disk file");
    if (id.size() > VIRTIO_BLK_ID_BYTES) return fail(Errc::InvalidInput, "virtio-blk: id longer than 20 bytes");
    const int fl = ::fcntl(file.get(), F_GETFL);
    if (fl < 0) return fail_errno("virtio-blk: fcntl(F_GETFL)");
    if (access == DiskAccess::ReadWrite && (fl & O_ACCMODE) != O_RDWR)
        return fail(Errc::InvalidInput, "virtio-blk: read-write disk not opened O_RDWR");
    const std::uint64_t size = MOAT_TRY(file_size(file.get()));
    std::array<std::byte, VIRTIO_BLK_ID_BYTES> id_bytes{};
    std::memcpy(id_bytes.data(), id.data(), id.size());
    return std::unique_ptr<BlockDevice>(new BlockDevice(std::move(file), access, id_bytes, size / k_sector_size, read_only, batching));
}

BlockDevice::BlockDevice(base::UniqueFd file, DiskAccess access, std::array<std::byte, VIRTIO_BLK_ID_BYTES> id,
                         std::uint64_t capacity, ReadOnlyWrites read_only, Batching batching)
    : m_file(std::move(file)), m_access(access), m_id(id), m_capacity(capacity), m_batcher(batching)
{
    m_features = feature_bit(VIRTIO_F_VERSION_1) | feature_bit(VIRTIO_RING_F_EVENT_IDX) |
                 feature_bit(VIRTIO_RING_F_INDIRECT_DESC) | feature_bit(VIRTIO_BLK_F_SEG_MAX) |
                 feature_bit(VIRTIO_BLK_F_FLUSH);
    if (access == DiskAccess::ReadOnly && read_only == ReadOnlyWrites::Announced) m_features |= feature_bit(VIRTIO_BLK_F_RO);
    m_config.capacity.set(capacity);
    m_config.seg_max.set(k_seg_max);
}

void BlockDevice::read_config(std::uint64_t offset, std::span<std::byte> data) const
{
    const auto bytes = std::as_bytes(std::span(&m_config, 1));
    std::fill(data.begin(), data.end(), std::byte{0});
    if (offset >= bytes.size()) return;
    const std::size_t n = std::min(data.size(), bytes.size() - static_cast<std::size_t>(offset));
    std::copy_n(bytes.begin() + static_cast<std::ptrdiff_t>(offset), n, data.begin());
}

void BlockDevice::write_config(std::uint64_t, std::span<const std::byte>)
{
    // Every field we expose is read-only (no VIRTIO_BLK_F_CONFIG_WCE).
    MOAT_LOG_RATELIMITED(Warn, "virtio-blk: config space write ignored");
}

Result<void> BlockDevice::activate(ActivateContext ctx)
{
    m_mem = &ctx.mem;
    m_notifier = &ctx.notifier;
    if (!ctx.queues.empty()) m_queue = std::move(ctx.queues[0]);
    return {};
}

void BlockDevice::reset()
{
    m_queue.reset();
    m_mem = nullptr;
    m_notifier = nullptr;
    m_batcher.reset();
}

void BlockDevice::process_queue(std::uint32_t index)
{
    if (index != 0 || !m_queue || !m_mem) return;
    // A notification while batching (a driver that ignores avail_event, or one that ran a whole
    // index wrap ahead): the poll that is due serves it.
    if (m_batcher.batching()) return;
    if (m_batcher.should_probe(m_queue->event_idx())) {
        // Probe (see Batching): leave what is in the ring for one short hold.
        auto pending = m_queue->pending();
        if (!pending) {
            MOAT_LOG_RATELIMITED(Warn, "virtio-blk: queue fault: %s", pending.error().what);
            m_notifier->device_needs_reset();
            return;
        }
        if (open_window(m_batcher.probe_hold(), *pending, 1)) return;
        m_batcher.probe_failed();
    }
    if (auto served = serve(Queue::OnEmpty::ArmNotification)) m_batcher.served_at_once(*served);
}

void BlockDevice::poll_queue(std::uint32_t index)
{
    // Only the poll Batching asked for has work; a stale one (after a reset or an early return
    // to notifications) finds the device not batching and must not serve without arming.
    if (index != 0 || !m_queue || !m_mem || !m_batcher.batching()) return;
    const auto served = serve(Queue::OnEmpty::StayQuiet);
    if (!served) {
        m_batcher.stop();
        return;
    }
    if (auto next = m_batcher.after_window(*served); next && open_window(*next, 0, m_batcher.min_new())) return;
    // Back to notifications: arm avail_event and re-check the ring (pop() does both), so an entry
    // published after the drain above is served now or notifies us.
    m_batcher.stop();
    if (auto more = serve(Queue::OnEmpty::ArmNotification)) m_batcher.served_at_once(*more);
}

bool BlockDevice::open_window(std::chrono::microseconds delay, std::uint16_t already_pending, std::uint16_t needs_new)
{
    if (!m_notifier->poll_later(0, delay)) return false;
    m_batcher.window_opened(already_pending, needs_new);
    return true;
}

std::optional<std::uint32_t> BlockDevice::serve(Queue::OnEmpty on_empty)
{
    Queue& q = *m_queue;
    const bool batching = on_empty == Queue::OnEmpty::StayQuiet;
    std::uint32_t served = 0;
    // Ends when the ring is empty or the queue faults; each round consumes one published entry.
    for (;;) {
        auto popped = q.pop(on_empty);
        if (!popped) {
            MOAT_LOG_RATELIMITED(Warn, "virtio-blk: queue fault: %s", popped.error().what);
            m_notifier->device_needs_reset();
            return std::nullopt;
        }
        if (!*popped) break;
        DescriptorChain chain = std::move(**popped);
        const std::uint16_t head = chain.head_index();
        std::uint32_t used_len = 0;
        auto req = Request::parse(*m_mem, chain, Request::Limits{m_capacity, k_seg_max});
        if (req) {
            used_len = execute(*req);
        } else {
            MOAT_LOG_RATELIMITED(Warn, "virtio-blk: malformed request dropped: %s", req.error().what);
            m_notifier->guest_fault();
        }
        if (auto r = q.add_used(head, used_len); !r) {
            MOAT_LOG_RATELIMITED(Warn, "virtio-blk: used ring write failed: %s", r.error().what);
            m_notifier->device_needs_reset();
            return std::nullopt;
        }
        ++served;
        // Served at once, completions are published one by one, and the driver asked (EVENT_IDX)
        // whether it wants to hear about each: with many requests in flight it can reap and
        // resubmit while the rest are served, instead of waiting for the whole batch. Batching,
        // the point is one interrupt per window: asked once, after the drain.
        if (!batching && q.needs_notification()) m_notifier->notify_used();
    }
    if (batching && q.needs_notification()) m_notifier->notify_used();
    return served;
}

std::uint8_t BlockDevice::get_id(const Request& req, std::uint32_t& written)
{
    std::span<const std::byte> left(m_id);
    for (const auto& s : req.data) {
        if (left.empty()) break;
        const std::size_t n = std::min<std::size_t>(s.len, left.size());
        if (!m_mem->write(s.addr, left.first(n))) return VIRTIO_BLK_S_IOERR;
        left = left.subspan(n);
        written += static_cast<std::uint32_t>(n);
    }
    return VIRTIO_BLK_S_OK;
}

std::uint32_t BlockDevice::execute(const Request& req)
{
    std::uint8_t status = VIRTIO_BLK_S_OK;
    std::uint32_t written = 0;  // bytes written into device-writable data buffers
    if (req.rejected) {
        status = *req.rejected;
    } else {
        switch (req.type) {
        case RequestType::In: {
            auto r = transfer(Direction::FileToGuest, *m_mem, m_file.get(), req.data, req.sector * k_sector_size);
            if (r) {
                written = static_cast<std::uint32_t>(req.data_len);
            } else {
                MOAT_LOG_RATELIMITED(Warn, "virtio-blk: read failed: %s (errno %d)", r.error().what,
                                     r.error().sys_errno);
                status = VIRTIO_BLK_S_IOERR;
            }
            break;
        }
        case RequestType::Out: {
            // §5.2.6.2: a read-only device fails writes; the file is never touched.
            if (m_access == DiskAccess::ReadOnly) {
                status = VIRTIO_BLK_S_IOERR;
                if (m_denied_write) m_denied_write();
                break;
            }
            auto r = transfer(Direction::GuestToFile, *m_mem, m_file.get(), req.data, req.sector * k_sector_size);
            if (!r) {
                MOAT_LOG_RATELIMITED(Warn, "virtio-blk: write failed: %s (errno %d)", r.error().what,
                                     r.error().sys_errno);
                status = VIRTIO_BLK_S_IOERR;
            }
            break;
        }
        case RequestType::Flush:
            // §5.2.6.2: completed writes must be durable before the flush completes. A
            // read-only disk has nothing to flush.
            if (m_access == DiskAccess::ReadWrite) {
                if (auto r = sync_file(m_file.get()); !r) {
                    MOAT_LOG_RATELIMITED(Warn, "virtio-blk: flush failed (errno %d)", r.error().sys_errno);
                    status = VIRTIO_BLK_S_IOERR;
                }
            }
            break;
        case RequestType::GetId: status = get_id(req, written); break;
        case RequestType::Unsupported: status = VIRTIO_BLK_S_UNSUPP; break;
        }
    }
    if (!m_mem->write_obj<std::uint8_t>(req.status, status)) {
        // parse() checked the byte lies in guest memory, which does not change at run time.
        MOAT_LOG_RATELIMITED(Warn, "virtio-blk: status byte write failed");
    }
    return written + 1;  // the status byte
}

}  // namespace moat::virtio::block
