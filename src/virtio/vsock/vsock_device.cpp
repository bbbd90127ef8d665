// virtio-vsock device: the queues and the guest's packets (virtio 1.2 §5.10.6).
#include "virtio/vsock/vsock_device.hpp"

#include <fcntl.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>

#include "base/log.hpp"
#include "virtio/vsock/host_line.hpp"

namespace moat::virtio::vsock {

namespace {
constexpr std::uint64_t k_hdr = sizeof(VsockHdr);
constexpr std::size_t k_max_descs = 64;  // Linux uses one or two per packet
}  // namespace

Result<std::unique_ptr<VsockDevice>> VsockDevice::create(std::uint64_t guest_cid, base::UniqueFd listener,
                                                         HostWatcher& watcher, Connector connector, std::vector<Link> links)
{
    if (guest_cid < k_first_guest_cid || guest_cid > k_max_cid)
        return fail(Errc::InvalidInput, "virtio-vsock: guest CID must be 3 to 4294967295");
    if (links.size() > k_max_links) return fail(Errc::InvalidInput, "virtio-vsock: too many channels");
    for (const Link& l : links) {
        const int fl = ::fcntl(l.fd.get(), F_GETFL);
        if (fl < 0 || ::fcntl(l.fd.get(), F_SETFL, fl | O_NONBLOCK) != 0) return fail_errno("virtio-vsock: channel link");
    }
    std::unique_ptr<VsockDevice> d(
        new VsockDevice(guest_cid, std::move(listener), watcher, std::move(connector), std::move(links)));
    if (d->m_listener.valid() && !watcher.watch(d->m_listener.get(), k_listener_token))
        return fail_errno("virtio-vsock: watching the listening socket");
    for (std::size_t i = 0; i < d->m_links.size(); ++i)
        if (!d->m_links[i].outgoing && !watcher.watch(d->m_links[i].fd.get(), k_link_token + static_cast<std::uint32_t>(i)))
            return fail_errno("virtio-vsock: watching a channel link");
    return d;
}

VsockDevice::VsockDevice(std::uint64_t guest_cid, base::UniqueFd listener, HostWatcher& watcher, Connector connector,
                         std::vector<Link> links)
    : m_cid(guest_cid), m_listener(std::move(listener)), m_watcher(watcher), m_connector(std::move(connector)),
      m_links(std::move(links))
{
    m_config.guest_cid.set(guest_cid);
}

std::uint64_t VsockDevice::features() const
{
    return feature_bit(VIRTIO_F_VERSION_1) | feature_bit(VIRTIO_RING_F_EVENT_IDX);
}

void VsockDevice::read_config(std::uint64_t offset, std::span<std::byte> data) const
{
    std::fill(data.begin(), data.end(), std::byte{0});
    if (offset >= sizeof m_config) return;
    const std::size_t n = std::min<std::size_t>(data.size(), sizeof m_config - offset);
    std::memcpy(data.data(), reinterpret_cast<const std::byte*>(&m_config) + offset, n);
}

void VsockDevice::write_config(std::uint64_t, std::span<const std::byte>) {}  // read-only (§5.10.4)

Result<void> VsockDevice::activate(ActivateContext ctx)
{
    if (ctx.queues.size() != 3 || !ctx.queues[k_rx_queue] || !ctx.queues[k_tx_queue])
        return fail(Errc::GuestFault, "virtio-vsock: receive and transmit queues must be ready");
    m_mem = &ctx.mem;
    m_notifier = &ctx.notifier;
    m_rxq = std::move(ctx.queues[k_rx_queue]);
    m_txq = std::move(ctx.queues[k_tx_queue]);
    m_listener_ready = true;
    return {};
}

void VsockDevice::reset()
{
    // The host ends of every connection see EOF; nothing is owed to a guest that is gone.
    m_conns.clear();
    m_slots.fill(nullptr);
    m_control.clear();
    m_rx.reset();
    m_rxq.reset();
    m_txq.reset();
    m_mem = nullptr;
    m_notifier = nullptr;
}

void VsockDevice::process_queue(std::uint32_t index)
{
    if (index == k_event_queue) return;  // only for transport events, which moat never sends
    serve(index == k_tx_queue);
}

void VsockDevice::host_ready(std::uint32_t token)
{
    if (token == k_listener_token) {
        m_listener_ready = true;
    } else if (token >= k_link_token && token - k_link_token < m_links.size()) {
        if (m_mem) accept_link(token - k_link_token);
    } else if (token < m_slots.size() && m_slots[token]) {
        Connection& c = *m_slots[token];
        c.host_readable = true;
        if (c.state == Connection::State::Confirming) on_confirm(c);
        if (m_slots[token]) flush(c);
        if (m_slots[token] && c.state == Connection::State::ConnectLine) on_connect_line(c);
    }
    serve(false);
}

// Everything the device can do now: new host connections, the guest's packets, packets for the
// guest. Transmit first when the guest notified it; receive buffers freed by that are filled in
// the same pass, and a transmit queue stalled on owed control packets resumes once they went.
void VsockDevice::serve(bool tx_first)
{
    if (!m_mem) return;
    if (m_listener_ready) accept_all();
    if (tx_first && !serve_tx()) return;
    fill_rx();
    if (!serve_tx()) return;
    fill_rx();
    if (m_rx_used && m_rxq->needs_notification()) m_notifier->notify_used();
    if (m_tx_used && m_txq->needs_notification()) m_notifier->notify_used();
    m_rx_used = m_tx_used = false;
}

void VsockDevice::queue_fault()
{
    m_notifier->device_needs_reset();
    m_mem = nullptr;  // nothing more until the driver resets the device
}

bool VsockDevice::serve_tx()
{
    while (m_mem && m_control.size() < k_max_control) {
        auto chain = m_txq->pop();
        if (!chain) {
            MOAT_LOG_RATELIMITED(Warn, "virtio-vsock: transmit queue: %s", chain.error().what);
            queue_fault();
            return false;
        }
        if (!*chain) break;
        const std::uint16_t head = (*chain)->head_index();
        auto b = collect(**chain, false, k_max_descs);
        if (b) {
            handle_tx(*b);
        } else {
            ++m_dropped;
            MOAT_LOG_RATELIMITED(Warn, "virtio-vsock: transmit buffer dropped: %s", b.error().what);
            m_notifier->guest_fault();
        }
        if (!m_txq->add_used(head, 0)) {
            queue_fault();
            return false;
        }
        m_tx_used = true;
    }
    return m_mem != nullptr;
}

void VsockDevice::handle_tx(const ChainBuffers& b)
{
    VsockHdr raw;
    if (b.total < k_hdr || !copy_from_chain(*m_mem, b, 0, std::as_writable_bytes(std::span(&raw, 1)))) {
        ++m_dropped;
        MOAT_LOG_RATELIMITED(Warn, "virtio-vsock: transmit buffer shorter than a header dropped");
        m_notifier->guest_fault();
        return;
    }
    const Header h = decode(raw);
    const Check c = check_from_guest(h, m_cid, b.total - k_hdr);
    if (c.verdict != Verdict::Accept) {
        ++m_dropped;
        MOAT_LOG_RATELIMITED(Warn, "virtio-vsock: packet op %u from port %u: %.*s", h.op, h.src_port,
                             static_cast<int>(c.why.size()), c.why.data());
        m_notifier->guest_fault();
        if (c.verdict == Verdict::Reset) reply_rst(h);
        return;
    }
    handle_packet(h, b);
}

void VsockDevice::handle_packet(const Header& h, const ChainBuffers& b)
{
    Connection* c = find(Key{h.dst_cid, h.src_port, h.dst_port});
    if (c && c->state == Connection::State::ConnectLine) c = nullptr;  // not offered to the guest yet
    if (c && c->state == Connection::State::Confirming && h.op != VIRTIO_VSOCK_OP_RST) {
        MOAT_LOG_RATELIMITED(Warn, "virtio-vsock: op %u from port %u before its connection was answered: reset", h.op,
                             h.src_port);
        m_notifier->guest_fault();
        close(*c, true);  // nothing but waiting (or giving up) is the guest's before RESPONSE
        return;
    }
    if (!c) {
        if (h.op == VIRTIO_VSOCK_OP_REQUEST) open_from_guest(h);
        else reply_rst(h);
        return;
    }
    c->peer_buf_alloc = h.buf_alloc;
    c->peer_fwd_cnt = h.fwd_cnt;
    switch (h.op) {
    case VIRTIO_VSOCK_OP_RST: close(*c, false); return;
    case VIRTIO_VSOCK_OP_REQUEST: close(*c, true); return;  // one already exists on these ports
    case VIRTIO_VSOCK_OP_RESPONSE: {
        if (c->state != Connection::State::Requesting) {
            close(*c, true);
            return;
        }
        c->state = Connection::State::Established;
        iovec v{c->ack.data(), c->ack.size()};
        // The socket's buffer is empty at this point: the answer fits whole or the far side is gone.
        if (send_iov(c->fd.get(), &v, 1) != static_cast<ssize_t>(c->ack.size())) close(*c, true);
        return;
    }
    case VIRTIO_VSOCK_OP_RW: receive(*c, h, b); return;
    case VIRTIO_VSOCK_OP_SHUTDOWN: shutdown_from_guest(*c, h.flags); return;
    case VIRTIO_VSOCK_OP_CREDIT_REQUEST: c->credit_owed = true; return;
    default: return;  // CREDIT_UPDATE: the credit above is all it says
    }
}

bool VsockDevice::take_rx()
{
    while (!m_rx) {
        auto chain = m_rxq->pop();
        if (!chain) {
            MOAT_LOG_RATELIMITED(Warn, "virtio-vsock: receive queue: %s", chain.error().what);
            queue_fault();
            return false;
        }
        if (!*chain) return false;
        const std::uint16_t head = (*chain)->head_index();
        auto b = collect(**chain, true, k_max_descs);
        if (b && b->total >= k_hdr) {
            m_rx = std::move(*b);
            break;
        }
        ++m_dropped;
        MOAT_LOG_RATELIMITED(Warn, "virtio-vsock: receive buffer unusable, returned empty");
        m_notifier->guest_fault();
        if (!m_rxq->add_used(head, 0)) {
            queue_fault();
            return false;
        }
        m_rx_used = true;
    }
    return true;
}

// Writes the header into the held rx buffer (whose payload bytes are already in place) and
// returns the buffer to the guest.
void VsockDevice::put_rx(const Header& h, std::uint32_t payload)
{
    const VsockHdr raw = encode(h);
    const ChainBuffers b = std::move(*m_rx);
    m_rx.reset();
    std::uint32_t written = static_cast<std::uint32_t>(k_hdr) + payload;
    if (!copy_to_chain(*m_mem, b, 0, std::as_bytes(std::span(&raw, 1)))) {
        ++m_dropped;  // a buffer outside guest memory: returned empty, the packet lost
        written = 0;  // the used length says what was written: nothing
        MOAT_LOG_RATELIMITED(Warn, "virtio-vsock: receive buffer outside guest memory");
        m_notifier->guest_fault();
    }
    if (!m_rxq->add_used(b.head, written)) {
        queue_fault();
        return;
    }
    m_rx_used = true;
}

// Packets for the guest: RSTs owed first, then each connection in turn, one packet each per
// round, until the guest's receive buffers or the work run out.
void VsockDevice::fill_rx()
{
    while (m_mem && !m_control.empty()) {
        if (!take_rx()) return;
        put_rx(m_control.front(), 0);
        m_control.pop_front();
    }
    for (bool progress = true; progress && m_mem;) {
        progress = false;
        for (std::size_t i = 0; i < m_slots.size() && m_mem; ++i) {
            const std::size_t slot = (m_round + i) % m_slots.size();
            Connection* c = m_slots[slot];
            if (!c || !owes(*c)) continue;
            if (!take_rx()) return;
            if (send_one(*c)) progress = true;
        }
        m_round = (m_round + 1) % m_slots.size();
    }
}

bool VsockDevice::owes(const Connection& c) const
{
    if (c.response_owed || c.request_owed || c.credit_owed || (c.host_eof && !c.eof_told)) return true;
    if (c.state != Connection::State::Established) return false;
    return c.credit_update_due() ||
           (c.host_readable && !c.host_eof && !c.guest_shut_rcv && c.peer_credit() > 0);
}

bool VsockDevice::send_one(Connection& c)
{
    if (c.response_owed || c.request_owed) {
        const std::uint16_t op = c.response_owed ? VIRTIO_VSOCK_OP_RESPONSE : VIRTIO_VSOCK_OP_REQUEST;
        c.response_owed = c.request_owed = false;
        put_rx(header_for(c, op), 0);
        return true;
    }
    if (c.state == Connection::State::Established && c.host_readable && !c.host_eof && !c.guest_shut_rcv &&
        c.peer_credit() > 0 && send_data(c))
        return true;
    if (m_slots[c.token] != &c) return true;  // send_data closed it
    if (c.host_eof && !c.eof_told) {
        c.eof_told = true;
        Header h = header_for(c, VIRTIO_VSOCK_OP_SHUTDOWN);
        h.flags = VIRTIO_VSOCK_SHUTDOWN_SEND;
        put_rx(h, 0);
        settle(c);
        return true;
    }
    if (c.credit_owed || c.credit_update_due()) {
        c.credit_owed = false;
        put_rx(header_for(c, VIRTIO_VSOCK_OP_CREDIT_UPDATE), 0);
        return true;
    }
    return false;
}

Header VsockDevice::header_for(Connection& c, std::uint16_t op)
{
    c.fwd_cnt_told = c.fwd_cnt;
    return Header{.src_cid = c.peer_cid, .dst_cid = m_cid, .src_port = c.host_port, .dst_port = c.guest_port,
                  .len = 0, .type = VIRTIO_VSOCK_TYPE_STREAM, .op = op, .flags = 0, .buf_alloc = k_buf_alloc,
                  .fwd_cnt = c.fwd_cnt};
}

void VsockDevice::reply_rst(const Header& to)
{
    if (to.op == VIRTIO_VSOCK_OP_RST) return;
    m_control.push_back(Header{.src_cid = to.dst_cid, .dst_cid = m_cid, .src_port = to.dst_port,
                               .dst_port = to.src_port, .len = 0, .type = VIRTIO_VSOCK_TYPE_STREAM,
                               .op = VIRTIO_VSOCK_OP_RST, .flags = 0, .buf_alloc = 0, .fwd_cnt = 0});
}

}  // namespace moat::virtio::vsock
