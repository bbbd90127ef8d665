// virtio-net device: the queues, the tap, and the frames between them (virtio 1.2 §5.1.6).
#include "virtio/net/net_device.hpp"

#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/log.hpp"
#include "protocol/tap.hpp"

namespace moat::virtio::net {

namespace {

constexpr std::uint64_t k_hdr = sizeof(NetHdr);
static_assert(k_hdr == protocol::k_tap_header_size, "the tap's header is the device's");
// What the device copies out of a transmitted frame before checking it: the header and the
// Ethernet header, whose source address is checked.
constexpr std::uint64_t k_tx_head = k_hdr + k_eth_header;

constexpr bool has(std::uint64_t features, unsigned bit) { return (features & feature_bit(bit)) != 0; }

}  // namespace

Result<std::unique_ptr<NetDevice>> NetDevice::create(base::UniqueFd tap, const Mac& mac, HostWatcher& watcher,
                                                     OffloadSetter set_offloads)
{
    if (!tap.valid()) return fail(Errc::InvalidInput, "virtio-net: no tap descriptor");
    if (base::check_mac(mac)) return fail(Errc::InvalidInput, "virtio-net: the MAC address must be unicast and not zero");
    std::unique_ptr<NetDevice> d(new NetDevice(std::move(tap), mac, std::move(set_offloads)));
    if (!watcher.watch(d->m_tap.get(), k_tap_token)) return fail_errno("virtio-net: watching the tap");
    return d;
}

NetDevice::NetDevice(base::UniqueFd tap, const Mac& mac, OffloadSetter set_offloads)
    : m_tap(std::move(tap)), m_mac(mac), m_set_offloads(std::move(set_offloads))
{
    std::copy(mac.begin(), mac.end(), m_config.mac);
    m_buf.resize(k_hdr + k_max_frame + 1);  // the extra byte tells a frame too long to take
}

NetDevice::~NetDevice()
{
    const Counters& c = m_counters;
    MOAT_LOG(Info,
             "virtio-net %s: sent %llu frames (%llu dropped, %llu with another source MAC), received %llu (%llu "
             "dropped, %llu copied through the device's buffer)",
             base::format_mac(m_mac).c_str(), static_cast<unsigned long long>(c.tx_frames),
             static_cast<unsigned long long>(c.tx_dropped), static_cast<unsigned long long>(c.tx_spoofed),
             static_cast<unsigned long long>(c.rx_frames), static_cast<unsigned long long>(c.rx_dropped),
             static_cast<unsigned long long>(c.rx_bounced));
}

std::uint64_t NetDevice::features() const
{
    std::uint64_t f = feature_bit(VIRTIO_F_VERSION_1) | feature_bit(VIRTIO_RING_F_EVENT_IDX) |
                      feature_bit(VIRTIO_RING_F_INDIRECT_DESC) | feature_bit(VIRTIO_NET_F_MAC) |
                      feature_bit(VIRTIO_NET_F_MRG_RXBUF);
    // Offloads need a tap that takes them; without a setter the device does none.
    if (m_set_offloads)
        f |= feature_bit(VIRTIO_NET_F_CSUM) | feature_bit(VIRTIO_NET_F_HOST_TSO4) |
             feature_bit(VIRTIO_NET_F_HOST_TSO6) | feature_bit(VIRTIO_NET_F_GUEST_CSUM) |
             feature_bit(VIRTIO_NET_F_GUEST_TSO4) | feature_bit(VIRTIO_NET_F_GUEST_TSO6);
    return f;
}

void NetDevice::read_config(std::uint64_t offset, std::span<std::byte> data) const
{
    std::fill(data.begin(), data.end(), std::byte{0});
    if (offset >= sizeof m_config) return;
    const std::size_t n = std::min<std::size_t>(data.size(), sizeof m_config - offset);
    std::memcpy(data.data(), reinterpret_cast<const std::byte*>(&m_config) + offset, n);
}

// The MAC is the monitor's: a driver's write to it (legacy drivers set it so) changes nothing.
void NetDevice::write_config(std::uint64_t, std::span<const std::byte>) {}

Result<void> NetDevice::activate(ActivateContext ctx)
{
    if (ctx.queues.size() != 2 || !ctx.queues[k_rx_queue] || !ctx.queues[k_tx_queue])
        return fail(Errc::GuestFault, "virtio-net: receive and transmit queues must be ready");
    if (m_set_offloads) MOAT_TRY(m_set_offloads(ctx.features));
    m_mem = &ctx.mem;
    m_notifier = &ctx.notifier;
    m_features = ctx.features;
    m_rxq = std::move(ctx.queues[k_rx_queue]);
    m_txq = std::move(ctx.queues[k_tx_queue]);
    m_tap_readable = true;
    return {};
}

void NetDevice::reset()
{
    // Where the rings stood, for a stalled transfer's post-mortem (moat run -v).
    if (m_rxq && m_txq)
        MOAT_LOG(Info, "virtio-net %s: reset; receive ring: %s; transmit ring: %s; %llu interrupts",
                 base::format_mac(m_mac).c_str(), m_rxq->describe().c_str(), m_txq->describe().c_str(),
                 static_cast<unsigned long long>(m_counters.interrupts));
    // Frames the tap hands over from now on need nothing of a driver; a frame held is lost.
    if (m_set_offloads && m_rxq) (void)m_set_offloads(0);
    m_frame_len = 0;
    m_held.clear();
    m_rxq.reset();
    m_txq.reset();
    m_mem = nullptr;
    m_notifier = nullptr;
    m_features = 0;
}

void NetDevice::process_queue(std::uint32_t index)
{
    if (!m_mem) return;
    if (index == k_tx_queue) serve_tx();
    else if (index == k_rx_queue) serve_rx();
    finish();
}

void NetDevice::host_ready(std::uint32_t token)
{
    if (token != k_tap_token) return;
    m_tap_readable = true;
    if (!m_mem) return;
    serve_rx();
    finish();
}

void NetDevice::finish()
{
    if (!m_mem) return;
    const bool rx = m_rx_used && m_rxq->needs_notification();
    const bool tx = m_tx_used && m_txq->needs_notification();
    if (rx || tx) {
        m_notifier->notify_used();
        ++m_counters.interrupts;
    }
    m_rx_used = m_tx_used = false;
}

void NetDevice::queue_fault()
{
    m_notifier->device_needs_reset();
    m_mem = nullptr;  // nothing more until the driver resets the device
}

// --- transmit ------------------------------------------------------------------------------

// One round; then, with frames perhaps left, the rest in a later turn of the event loop (or at
// once, for a transport without a timer).
void NetDevice::serve_tx()
{
    while (serve_tx_round() && !m_notifier->poll_later(k_tx_queue, std::chrono::microseconds(0))) {
    }
}

bool NetDevice::serve_tx_round()
{
    for (unsigned n = 0; n < k_frames_per_round; ++n) {
        auto chain = m_txq->pop();
        if (!chain) {
            MOAT_LOG_RATELIMITED(Warn, "virtio-net: transmit queue: %s", chain.error().what);
            queue_fault();
            return false;
        }
        if (!*chain) return false;  // empty, and the driver will notify the next frame
        const std::uint16_t head = (*chain)->head_index();
        auto b = collect(**chain, false, k_max_descs);
        if (b) {
            transmit(*b);
        } else {
            ++m_counters.tx_dropped;
            MOAT_LOG_RATELIMITED(Warn, "virtio-net: transmit buffer dropped: %s", b.error().what);
            m_notifier->guest_fault();
        }
        if (!m_txq->add_used(head, 0)) {
            queue_fault();
            return false;
        }
        m_tx_used = true;
    }
    return true;
}

void NetDevice::transmit(const ChainBuffers& b)
{
    std::array<std::byte, k_tx_head> head;
    if (b.total < k_tx_head || !copy_from_chain(*m_mem, b, 0, head)) {
        ++m_counters.tx_dropped;
        MOAT_LOG_RATELIMITED(Warn, "virtio-net: transmit buffer shorter than its headers, or outside guest memory");
        m_notifier->guest_fault();
        return;
    }
    NetHdr raw;
    std::memcpy(&raw, head.data(), k_hdr);
    const Header h = decode(raw);
    if (const Check c = check_tx(h, m_features, b.total - k_hdr); !c.ok) {
        ++m_counters.tx_dropped;
        MOAT_LOG_RATELIMITED(Warn, "virtio-net: transmitted frame dropped: %.*s", static_cast<int>(c.why.size()),
                             c.why.data());
        m_notifier->guest_fault();
        return;
    }
    const auto eth = std::span(reinterpret_cast<const std::uint8_t*>(head.data() + k_hdr), k_eth_header);
    if (!source_is(eth, m_mac)) {
        ++m_counters.tx_spoofed;
        MOAT_LOG_RATELIMITED(Warn, "virtio-net: a frame from another source MAC address was dropped (%llu so far)",
                             static_cast<unsigned long long>(m_counters.tx_spoofed));
        m_notifier->guest_fault();
        return;
    }
    raw = encode(for_tap(h));
    std::memcpy(head.data(), &raw, k_hdr);
    auto rest = chain_iovecs(*m_mem, b, k_tx_head, b.total - k_tx_head);
    if (!rest) {
        ++m_counters.tx_dropped;
        MOAT_LOG_RATELIMITED(Warn, "virtio-net: transmit buffer outside guest memory: %s", rest.error().what);
        m_notifier->guest_fault();
        return;
    }
    // The headers from the device's copy, the payload from guest memory: what the guest changes
    // now reaches at most the payload, as on a real wire.
    rest->insert(rest->begin(), iovec{head.data(), head.size()});
    const ssize_t n = ::writev(m_tap.get(), rest->data(), static_cast<int>(rest->size()));
    if (n < 0) {
        ++m_counters.tx_dropped;  // the tap is down, or its queue full: a wire loses frames too
        MOAT_LOG_RATELIMITED(Debug, "virtio-net: the tap refused a frame: %s", std::strerror(errno));
        return;
    }
    ++m_counters.tx_frames;
}

// --- receive -------------------------------------------------------------------------------

void NetDevice::serve_rx()
{
    while (serve_rx_round() && !m_notifier->poll_later(k_rx_queue, std::chrono::microseconds(0))) {
    }
}

bool NetDevice::serve_rx_round()
{
    for (unsigned n = 0; n < k_frames_per_round; ++n) {
        if (m_frame_len == 0) {
            const std::uint64_t room = hold_rx();
            if (!m_mem || m_held.empty()) return false;  // no buffers: frames wait in the host's kernel
            if (room >= k_rx_room) {
                const Direct d = receive_direct();
                if (d == Direct::Frame) continue;
                if (d == Direct::TapEmpty) return false;
            }
            if (!read_tap()) return false;
        }
        if (!deliver()) return false;  // the guest has no room: the frame waits for its next buffers
        if (!m_mem) return false;
    }
    return true;
}

// Takes receive buffers until they hold the largest frame the tap can send (one buffer without
// MRG_RXBUF, where a frame takes one buffer whatever its size), or the ring has no more; returns
// the room held.
std::uint64_t NetDevice::hold_rx()
{
    const bool merge = has(m_features, VIRTIO_NET_F_MRG_RXBUF);
    std::uint64_t room = 0;
    for (const ChainBuffers& b : m_held) room += b.total;
    while (room < k_rx_room && (merge || m_held.empty()) && take_rx()) room += m_held.back().total;
    return room;
}

// Reads one frame from the tap straight into the buffers held, which hold the largest frame: the
// header into the device's own copy (checked and completed there, then written to the first
// buffer), the rest into guest memory. One copy of the frame (the host kernel's) instead of two.
// Fallback when a held buffer lies outside guest memory: the bounce path drops what it must.
NetDevice::Direct NetDevice::receive_direct()
{
    m_iov.clear();
    NetHdr raw{};
    m_iov.push_back(iovec{&raw, k_hdr});
    std::uint64_t want = k_rx_room - k_hdr;  // the frame and the one byte that tells it too long
    for (std::size_t i = 0; i < m_held.size() && want > 0; ++i) {
        const std::uint64_t skip = i == 0 ? k_hdr : 0;
        const std::uint64_t n = std::min(m_held[i].total - skip, want);
        auto iov = chain_iovecs(*m_mem, m_held[i], skip, n);
        if (!iov) return Direct::Fallback;
        m_iov.insert(m_iov.end(), iov->begin(), iov->end());
        want -= n;
    }
    while (m_tap_readable) {
        const ssize_t n = ::readv(m_tap.get(), m_iov.data(), static_cast<int>(m_iov.size()));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            tap_drained(n);
            return Direct::TapEmpty;
        }
        if (static_cast<std::uint64_t>(n) == k_rx_room || static_cast<std::uint64_t>(n) < k_tx_head) {
            ++m_counters.rx_dropped;  // longer than any frame, or a runt: the buffers stay held
            continue;
        }
        complete(raw, static_cast<std::uint64_t>(n));
        return Direct::Frame;
    }
    return Direct::TapEmpty;
}

void NetDevice::tap_drained(ssize_t n)
{
    if (n == 0) MOAT_LOG_RATELIMITED(Warn, "virtio-net: the tap is gone");
    else if (errno != EAGAIN) MOAT_LOG_RATELIMITED(Warn, "virtio-net: reading the tap: %s", std::strerror(errno));
    m_tap_readable = false;  // the next edge says when there is more
}

bool NetDevice::read_tap()
{
    while (m_tap_readable) {
        const ssize_t n = ::read(m_tap.get(), m_buf.data(), m_buf.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            tap_drained(n);
            return false;
        }
        if (static_cast<std::size_t>(n) == m_buf.size()) {
            ++m_counters.rx_dropped;  // longer than any frame: cut short by the read, so dropped
            continue;
        }
        if (static_cast<std::uint64_t>(n) >= k_tx_head) {
            m_frame_len = static_cast<std::size_t>(n);
            ++m_counters.rx_bounced;
            return true;
        }
        ++m_counters.rx_dropped;  // a runt: nothing a guest could use
    }
    return false;
}

bool NetDevice::take_rx()
{
    for (;;) {
        auto chain = m_rxq->pop();
        if (!chain) {
            MOAT_LOG_RATELIMITED(Warn, "virtio-net: receive queue: %s", chain.error().what);
            queue_fault();
            return false;
        }
        if (!*chain) return false;
        const std::uint16_t head = (*chain)->head_index();
        auto b = collect(**chain, true, k_max_descs);
        // Every buffer holds at least a header (§5.1.6.3.1); one that cannot goes back empty.
        if (b && b->total >= k_hdr) {
            m_held.push_back(std::move(*b));
            return true;
        }
        ++m_counters.rx_dropped;
        MOAT_LOG_RATELIMITED(Warn, "virtio-net: receive buffer unusable, returned empty");
        m_notifier->guest_fault();
        give_back(ChainBuffers{head, {}, 0}, 0);
        if (!m_mem) return false;
    }
}

void NetDevice::give_back(const ChainBuffers& b, std::uint32_t len)
{
    if (!m_rxq->add_used(b.head, len)) {
        queue_fault();
        return;
    }
    m_rx_used = true;
}

// Copies the frame into the buffers held, taking more until it fits: one buffer without
// MRG_RXBUF (a frame larger than the buffer is dropped and the buffer kept for the next), as
// many as it needs with it (a frame larger than a whole ring of buffers is dropped likewise).
bool NetDevice::deliver()
{
    const bool merge = has(m_features, VIRTIO_NET_F_MRG_RXBUF);
    const std::uint64_t need = m_frame_len;
    const auto frame = std::span(m_buf).first(m_frame_len);
    std::uint64_t room = 0;
    for (const ChainBuffers& b : m_held) room += b.total;
    while (room < need) {
        if ((!m_held.empty() && !merge) || m_held.size() == m_rxq->size()) {
            ++m_counters.rx_dropped;
            MOAT_LOG_RATELIMITED(Warn, "virtio-net: a %llu-byte frame does not fit the receive buffers: dropped",
                                 static_cast<unsigned long long>(need - k_hdr));
            m_frame_len = 0;
            return true;
        }
        if (!take_rx()) return false;
        room += m_held.back().total;
    }

    // The buffers this frame takes: after a frame too large for all of them was dropped, more
    // may be held than it needs, and those wait for the next.
    const std::size_t count = buffers_for(need);
    NetHdr raw;
    std::memcpy(&raw, frame.data(), k_hdr);
    raw = for_guest(raw, count);
    std::memcpy(frame.data(), &raw, k_hdr);

    use_held(count, need, frame);
    ++m_counters.rx_frames;
    m_frame_len = 0;
    return true;
}

// A frame read straight into the held buffers, `len` bytes with its header: the header goes to
// the first buffer, and the buffers it filled to the guest.
void NetDevice::complete(NetHdr raw, std::uint64_t len)
{
    const std::size_t count = buffers_for(len);
    raw = for_guest(raw, count);
    const bool ok = static_cast<bool>(copy_to_chain(*m_mem, m_held[0], 0, std::as_bytes(std::span(&raw, 1))));
    if (!ok) {
        ++m_counters.rx_dropped;  // the header's place is outside guest memory: the buffers go back empty
        MOAT_LOG_RATELIMITED(Warn, "virtio-net: receive buffer outside guest memory");
        m_notifier->guest_fault();
    }
    use_held(count, ok ? len : 0, {});
    if (ok) ++m_counters.rx_frames;
}

// Gives the first `count` held buffers back to the guest, filled in order with `len` bytes:
// copied from `frame` (the device's buffer) when given, else already in place.
void NetDevice::use_held(std::size_t count, std::uint64_t len, std::span<const std::byte> frame)
{
    std::uint64_t off = 0;
    std::size_t used = 0;
    for (; used < count && m_mem; ++used) {
        const ChainBuffers& b = m_held[used];
        const std::uint64_t n = std::min(b.total, len - off);
        std::uint32_t filled = static_cast<std::uint32_t>(n);
        if (!frame.empty() && !copy_to_chain(*m_mem, b, 0, frame.subspan(off, n))) {
            ++m_counters.rx_dropped;  // outside guest memory: the frame is lost, the buffer returned
            filled = 0;
            MOAT_LOG_RATELIMITED(Warn, "virtio-net: receive buffer outside guest memory");
            m_notifier->guest_fault();
        }
        give_back(b, filled);
        off += n;
    }
    m_held.erase(m_held.begin(), m_held.begin() + static_cast<std::ptrdiff_t>(used));
}

// How many of the held buffers `len` bytes fill, in order (they hold at least that much).
std::size_t NetDevice::buffers_for(std::uint64_t len) const
{
    std::size_t count = 0;
    for (std::uint64_t filled = 0; filled < len; ++count) filled += m_held[count].total;
    return count;
}

// The tap's header as the guest gets it: num_buffers is the device's to set (the tap leaves it
// unwritten); the flags only for a driver that takes partial checksums (§5.1.6.4.1: else zero,
// and the tap then sends none).
NetHdr NetDevice::for_guest(const NetHdr& raw, std::size_t count) const
{
    Header h = decode(raw);
    const std::uint8_t kept = VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID;
    h.flags = has(m_features, VIRTIO_NET_F_GUEST_CSUM) ? static_cast<std::uint8_t>(h.flags & kept) : std::uint8_t{0};
    h.num_buffers = static_cast<std::uint16_t>(count);
    return encode(h);
}

}  // namespace moat::virtio::net
