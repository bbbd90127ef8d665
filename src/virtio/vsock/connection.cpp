// virtio-vsock device: the host side of its connections — the listening socket and the CONNECT
// line, moving payloads between the guest's buffers and host sockets, shutdown and close.
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/log.hpp"
#include "protocol/vsock_link.hpp"
#include "virtio/vsock/host_line.hpp"
#include "virtio/vsock/vsock_device.hpp"

namespace moat::virtio::vsock {

namespace {
constexpr std::uint64_t k_hdr = sizeof(VsockHdr);
}  // namespace

ssize_t send_iov(int fd, iovec* iov, std::size_t count)
{
    msghdr m{};
    m.msg_iov = iov;
    m.msg_iovlen = count;
    return ::sendmsg(fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
}

Connection* VsockDevice::find(const Key& k)
{
    auto it = m_conns.find(k);
    return it == m_conns.end() ? nullptr : it->second.get();
}

Connection* VsockDevice::add(base::UniqueFd fd, Connection::State state, const Key& k)
{
    auto slot = std::find(m_slots.begin(), m_slots.end(), nullptr);
    if (slot == m_slots.end() || m_conns.contains(k)) return nullptr;
    const auto token = static_cast<std::uint32_t>(slot - m_slots.begin());
    if (!m_watcher.watch(fd.get(), token)) return nullptr;
    auto c = std::make_unique<Connection>();
    c->fd = std::move(fd);
    c->token = token;
    c->state = state;
    c->peer_cid = k.peer_cid;
    c->guest_port = k.guest_port;
    c->host_port = k.peer_port;
    *slot = c.get();
    return m_conns.emplace(k, std::move(c)).first->second.get();
}

void VsockDevice::close(Connection& c, bool rst)
{
    if (rst) {
        Header h = header_for(c, VIRTIO_VSOCK_OP_RST);
        h.buf_alloc = h.fwd_cnt = 0;
        m_control.push_back(h);
    }
    m_slots[c.token] = nullptr;
    m_conns.erase(Key{c.peer_cid, c.guest_port, c.host_port});  // closes the socket
}

std::uint32_t VsockDevice::free_host_port()
{
    for (;;) {
        const std::uint32_t p = m_next_port;
        m_next_port = m_next_port == 0xffffffff ? k_first_host_port : m_next_port + 1;
        const bool used = std::any_of(m_conns.begin(), m_conns.end(),
                                      [&](const auto& e) { return e.first.peer_cid == VMADDR_CID_HOST && e.first.peer_port == p; });
        if (!used) return p;  // at most k_max_connections are in use: this ends
    }
}

void VsockDevice::accept_all()
{
    while (m_listener.valid()) {
        base::UniqueFd fd(::accept4(m_listener.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
        if (!fd.valid()) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (errno != EAGAIN) MOAT_LOG_RATELIMITED(Warn, "virtio-vsock: accept: %s", std::strerror(errno));
            m_listener_ready = false;  // the next connection brings an edge
            return;
        }
        Connection* c = add(std::move(fd), Connection::State::ConnectLine, Key{VMADDR_CID_HOST, 0, free_host_port()});
        if (!c) {
            MOAT_LOG_RATELIMITED(Warn, "virtio-vsock: host connection refused: %zu connections open", m_conns.size());
            continue;
        }
        on_connect_line(*c);
    }
}

// Reads the CONNECT line a byte at a time (it is short, and what follows it is the
// connection's payload, which must stay in the socket), then offers the connection to the guest.
void VsockDevice::on_connect_line(Connection& c)
{
    for (;;) {
        char ch;
        const ssize_t n = ::read(c.fd.get(), &ch, 1);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return;  // the rest of the line comes with the next edge
        if (n != 1) {
            close(c, false);
            return;
        }
        if (ch == '\n') break;
        c.line.push_back(ch);
        if (c.line.size() >= k_max_connect_line) {
            MOAT_LOG_RATELIMITED(Warn, "virtio-vsock: host connection closed: CONNECT line too long");
            close(c, false);
            return;
        }
    }
    auto port = parse_connect_line(c.line);
    if (!port) {
        MOAT_LOG_RATELIMITED(Warn, "virtio-vsock: host connection closed: %s", port.error().what);
        close(c, false);
        return;
    }
    auto node = m_conns.extract(Key{c.peer_cid, c.guest_port, c.host_port});
    node.key().guest_port = *port;
    if (m_conns.contains(node.key())) {  // cannot happen: the host port is fresh
        m_slots[c.token] = nullptr;
        return;
    }
    c.guest_port = *port;
    c.line.clear();
    c.ack = ok_line(c.host_port);
    c.state = Connection::State::Requesting;
    c.request_owed = true;
    m_conns.insert(std::move(node));
}

void VsockDevice::open_from_guest(const Header& h)
{
    for (const Link& link : m_links)
        if (link.outgoing && link.peer_cid == h.dst_cid && link.port == h.dst_port) {
            if (!open_through_link(link, h)) reply_rst(h);  // a channel, but no room on it now
            return;
        }
    base::UniqueFd fd;
    if (m_conns.size() < k_max_connections && m_connector) fd = m_connector(h.dst_cid, h.dst_port);
    Connection* c = fd.valid() ? add(std::move(fd), Connection::State::Established, Key{h.dst_cid, h.src_port, h.dst_port})
                               : nullptr;
    if (!c) {
        if (m_refused) m_refused(h.dst_cid, h.dst_port);
        reply_rst(h);
        return;
    }
    c->peer_buf_alloc = h.buf_alloc;
    c->peer_fwd_cnt = h.fwd_cnt;
    c->response_owed = true;
}

// The guest's connection across a channel: a stream socketpair, one end sent over the link.
bool VsockDevice::open_through_link(const Link& link, const Header& h)
{
    if (m_conns.size() >= k_max_connections || find(Key{h.dst_cid, h.src_port, h.dst_port})) return false;
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) {
        MOAT_LOG_RATELIMITED(Warn, "virtio-vsock: socketpair: %s", std::strerror(errno));
        return false;
    }
    base::UniqueFd mine(sv[0]), theirs(sv[1]);
    if (auto sent = protocol::send_link_open(link.fd.get(), {h.src_port, h.dst_port}, theirs.get()); !sent) {
        MOAT_LOG_RATELIMITED(Warn, "virtio-vsock: channel to CID %llu port %u: %s",
                             static_cast<unsigned long long>(h.dst_cid), h.dst_port, describe(sent.error()).c_str());
        return false;
    }
    Connection* c = add(std::move(mine), Connection::State::Confirming, Key{h.dst_cid, h.src_port, h.dst_port});
    if (!c) return false;
    c->peer_buf_alloc = h.buf_alloc;
    c->peer_fwd_cnt = h.fwd_cnt;
    return true;
}

// The other side's one-byte answer: its guest accepted (RESPONSE to ours), or refused (RST).
void VsockDevice::on_confirm(Connection& c)
{
    std::uint8_t b = 0;
    const ssize_t n = ::read(c.fd.get(), &b, 1);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n != 1 || b != protocol::k_link_accepted) {
        MOAT_LOG(Debug, "virtio-vsock: CID %llu port %u refused the guest's connection",
                 static_cast<unsigned long long>(c.peer_cid), c.host_port);
        close(c, true);
        return;
    }
    c.state = Connection::State::Established;
    c.response_owed = true;
}

// Connections the peer's guest opened across an incoming link, offered to this guest.
void VsockDevice::accept_link(std::size_t index)
{
    Link& link = m_links[index];
    while (m_conns.size() < k_max_connections) {
        auto r = protocol::receive_link_open(link.fd.get());
        if (r && !*r) return;  // none waiting
        if (!r) {
            MOAT_LOG_RATELIMITED(Warn, "virtio-vsock: channel from CID %llu: %s",
                                 static_cast<unsigned long long>(link.peer_cid), r.error().what);
            if (r.error().code == Errc::InvalidInput) continue;
            m_watcher.unwatch(link.fd.get());  // the peer is gone for good
            return;
        }
        const protocol::LinkOpen o = (*r)->open;
        if (o.dst_port != link.port) {  // the channel is to this port only: a lying peer process
            ++m_dropped;
            MOAT_LOG_RATELIMITED(Warn, "virtio-vsock: channel from CID %llu asked for port %u, not %u",
                                 static_cast<unsigned long long>(link.peer_cid), o.dst_port, link.port);
            continue;
        }
        Connection* c = add(std::move((*r)->stream), Connection::State::Requesting, Key{link.peer_cid, o.dst_port, o.src_port});
        if (!c) {  // closing the stream tells the peer: refused
            MOAT_LOG_RATELIMITED(Warn, "virtio-vsock: channel from CID %llu: connection refused (%zu open)",
                                 static_cast<unsigned long long>(link.peer_cid), m_conns.size());
            continue;
        }
        c->ack = std::string(1, static_cast<char>(protocol::k_link_accepted));
        c->request_owed = true;
    }
}

// Host -> guest: one RW packet read straight from the socket into the held rx buffer.
bool VsockDevice::send_data(Connection& c)
{
    const std::uint64_t room = std::min<std::uint64_t>({m_rx->total - k_hdr, c.peer_credit(), k_max_payload});
    if (room == 0) return false;
    auto iov = chain_iovecs(*m_mem, *m_rx, k_hdr, room);
    if (!iov) {
        ++m_dropped;
        MOAT_LOG_RATELIMITED(Warn, "virtio-vsock: receive buffer outside guest memory");
        put_rx(Header{}, 0);  // returned empty
        return false;
    }
    const ssize_t n = ::readv(c.fd.get(), iov->data(), static_cast<int>(iov->size()));
    if (n > 0) {
        Header h = header_for(c, VIRTIO_VSOCK_OP_RW);
        h.len = static_cast<std::uint32_t>(n);
        c.tx_cnt += h.len;
        put_rx(h, h.len);
        return true;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        c.host_readable = errno == EINTR;
        return false;
    }
    if (n == 0) {
        c.host_eof = true;  // told to the guest by send_one
        return false;
    }
    close(c, true);
    return true;
}

// Guest -> host: straight from the guest's buffers when nothing waits, else behind what waits.
void VsockDevice::receive(Connection& c, const Header& h, const ChainBuffers& b)
{
    if (c.state != Connection::State::Established || c.guest_shut_send) {
        close(c, true);
        return;
    }
    if (c.unwritten() + h.len > k_buf_alloc) {
        ++m_dropped;
        MOAT_LOG_RATELIMITED(Warn, "virtio-vsock: guest port %u sent beyond its credit: connection reset", c.guest_port);
        close(c, true);
        return;
    }
    std::uint64_t done = 0;
    if (c.unwritten() == 0) {
        auto iov = chain_iovecs(*m_mem, b, k_hdr, h.len);
        const ssize_t n = iov ? send_iov(c.fd.get(), iov->data(), iov->size()) : -1;
        if (!iov || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            close(c, true);
            return;
        }
        done = n > 0 ? static_cast<std::uint64_t>(n) : 0;
        c.fwd_cnt += static_cast<std::uint32_t>(done);
    }
    if (done < h.len) {
        if (c.pending_off == c.pending.size()) {
            c.pending.clear();
            c.pending_off = 0;
        }
        const std::size_t old = c.pending.size();
        c.pending.resize(old + (h.len - done));
        if (!copy_from_chain(*m_mem, b, k_hdr + done, std::span(c.pending).subspan(old))) {
            close(c, true);
            return;
        }
    }
}

void VsockDevice::flush(Connection& c)
{
    while (c.unwritten() > 0) {
        iovec v{c.pending.data() + c.pending_off, c.unwritten()};
        const ssize_t n = send_iov(c.fd.get(), &v, 1);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return;  // the next edge brings room
        if (n <= 0) {
            close(c, true);
            return;
        }
        c.pending_off += static_cast<std::size_t>(n);
        c.fwd_cnt += static_cast<std::uint32_t>(n);
    }
    c.pending.clear();
    c.pending.shrink_to_fit();
    c.pending_off = 0;
    settle(c);
}

void VsockDevice::shutdown_from_guest(Connection& c, std::uint32_t flags)
{
    if (flags & VIRTIO_VSOCK_SHUTDOWN_RCV) c.guest_shut_rcv = true;
    if (flags & VIRTIO_VSOCK_SHUTDOWN_SEND) c.guest_shut_send = true;
    flush(c);
}

// Half-closes the host socket once the guest will send nothing more and all it sent is out, and
// ends the connection (RST, which the guest's close waits for) once neither side will send.
void VsockDevice::settle(Connection& c)
{
    if (!c.guest_shut_send || c.unwritten() > 0) return;
    if (!c.host_write_shut) {
        ::shutdown(c.fd.get(), SHUT_WR);
        c.host_write_shut = true;
    }
    if (c.host_eof || c.guest_shut_rcv) close(c, true);
}

}  // namespace moat::virtio::vsock
