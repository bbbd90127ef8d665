// virtio-vsock device (virtio 1.2 §5.10), stream sockets, with host sockets at the far end of
// every connection: the guest's packets end here, and the device speaks the stream protocol
// (connection set-up and shutdown, credit-based flow control) to the guest on the host's behalf.
//
// Connections come two ways. A host program connects to the device's listening Unix socket and
// writes "CONNECT <port>\n" (host_line.hpp); the device asks the guest (REQUEST) and, once the
// guest accepts, answers "OK <host port>\n". Or the guest connects to a (CID, port): the device
// asks its Connector for a host socket, and answers RST when there is none — the policy's
// "no channel" — and reports the refusal.
//
// Every header is copied out of guest memory once and checked (packet.hpp); payloads move
// between guest memory and the host socket with readv/writev through the guest-memory API.
// What the guest sends within its credit but the host socket cannot take yet waits in the
// connection (at most k_buf_alloc bytes each, at most k_max_connections connections).
// Threading: see device.hpp; the config space is constant.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <tuple>
#include <vector>

#include "base/unique_fd.hpp"
#include "virtio/chain_io.hpp"
#include "virtio/device.hpp"
#include "virtio/vsock/connection.hpp"
#include "virtio/vsock/packet.hpp"

namespace moat::virtio::vsock {

class VsockDevice final : public Device {
public:
    static constexpr std::uint16_t k_queue_size = 256;
    // At most k_max_connections * k_buf_alloc = 32 MiB of the guest's bytes wait for host sockets.
    static constexpr std::size_t k_max_connections = 128;
    // Control packets owed to the guest before the device stops taking its transmit queue.
    static constexpr std::size_t k_max_control = 256;
    static constexpr std::uint32_t k_listener_token = 0xffffff;

    // A host socket for the guest's connection to (cid, port): a connected, non-blocking stream
    // socket, or an invalid descriptor for "refused".
    using Connector = std::function<base::UniqueFd(std::uint64_t cid, std::uint32_t port)>;

    // A channel's link to another VM's process (protocol/vsock_link.hpp): the guest may connect
    // to (peer_cid, port) through an outgoing one; the peer's guest may connect to this guest's
    // `port` through an incoming one. Nothing else crosses a link.
    struct Link {
        base::UniqueFd fd;  // SOCK_SEQPACKET; made non-blocking by create()
        bool outgoing = true;
        std::uint64_t peer_cid = 0;
        std::uint32_t port = 0;
    };
    static constexpr std::size_t k_max_links = 256;
    static constexpr std::uint32_t k_link_token = 0xfff000;  // + the link's index

    // `guest_cid` >= 3 and below 2^32. `listener` (may be invalid) is a listening Unix stream
    // socket for host programs; the device watches it and the incoming links through `watcher`,
    // which must outlive it. A guest connection goes to the outgoing link for its (CID, port),
    // else to `connector`, else it is refused.
    static Result<std::unique_ptr<VsockDevice>> create(std::uint64_t guest_cid, base::UniqueFd listener,
                                                       HostWatcher& watcher, Connector connector,
                                                       std::vector<Link> links = {});

    std::uint32_t device_id() const override { return VIRTIO_ID_VSOCK; }
    std::uint64_t features() const override;
    std::span<const std::uint16_t> queue_max_sizes() const override { return m_queue_max; }
    void read_config(std::uint64_t offset, std::span<std::byte> data) const override;
    void write_config(std::uint64_t offset, std::span<const std::byte> data) override;
    Result<void> activate(ActivateContext ctx) override;
    void process_queue(std::uint32_t index) override;
    void poll_queue(std::uint32_t index) override { process_queue(index); }
    void host_ready(std::uint32_t token) override;
    void reset() override;

    // Called for each guest connection refused for want of a channel (on the event thread).
    void set_refused_hook(std::function<void(std::uint64_t cid, std::uint32_t port)> hook)
    {
        m_refused = std::move(hook);
    }
    // Packets dropped as malformed since creation.
    std::uint64_t dropped() const { return m_dropped; }
    std::size_t connections() const { return m_conns.size(); }

private:
    VsockDevice(std::uint64_t guest_cid, base::UniqueFd listener, HostWatcher& watcher, Connector connector,
                std::vector<Link> links);

    struct Key {
        std::uint64_t peer_cid;
        std::uint32_t guest_port;
        std::uint32_t peer_port;
        friend bool operator<(const Key& a, const Key& b)
        {
            return std::tie(a.peer_cid, a.guest_port, a.peer_port) < std::tie(b.peer_cid, b.guest_port, b.peer_port);
        }
    };

    // vsock_device.cpp: the queues.
    void serve(bool tx_first);
    bool serve_tx();  // false when the transmit queue faulted
    void handle_tx(const ChainBuffers& b);
    void handle_packet(const Header& h, const ChainBuffers& b);
    void fill_rx();
    bool take_rx();   // holds an rx buffer in m_rx; false when the guest has none
    void put_rx(const Header& h, std::uint32_t payload);
    Header header_for(Connection& c, std::uint16_t op);
    bool owes(const Connection& c) const;
    bool send_one(Connection& c);  // one packet for `c` into the held rx buffer; false if none
    void reply_rst(const Header& to);
    void queue_fault();

    // connection.cpp: the host side.
    void accept_all();
    void on_connect_line(Connection& c);
    bool send_data(Connection& c);  // false when nothing was sent
    void receive(Connection& c, const Header& h, const ChainBuffers& b);
    void flush(Connection& c);
    void shutdown_from_guest(Connection& c, std::uint32_t flags);
    void open_from_guest(const Header& h);
    bool open_through_link(const Link& link, const Header& h);
    void accept_link(std::size_t index);
    void on_confirm(Connection& c);
    void settle(Connection& c);  // ends a connection both sides are done with
    void close(Connection& c, bool rst);
    Connection* find(const Key& k);
    Connection* add(base::UniqueFd fd, Connection::State state, const Key& k);
    std::uint32_t free_host_port();

    const std::uint64_t m_cid;
    VsockConfig m_config{};
    std::array<std::uint16_t, 3> m_queue_max{k_queue_size, k_queue_size, k_queue_size};
    base::UniqueFd m_listener;
    HostWatcher& m_watcher;
    Connector m_connector;
    std::vector<Link> m_links;
    std::function<void(std::uint64_t, std::uint32_t)> m_refused;
    std::uint64_t m_dropped = 0;

    // Set by activate(), cleared by reset(); serialised by the transport's I/O lock.
    const memory::GuestMemory* m_mem = nullptr;
    DriverNotifier* m_notifier = nullptr;
    std::optional<Queue> m_rxq, m_txq;
    std::optional<ChainBuffers> m_rx;   // an rx buffer taken from the ring and not filled yet
    bool m_rx_used = false;             // rx buffers returned since the last notification check
    bool m_tx_used = false;
    bool m_listener_ready = true;       // accept until EAGAIN before trusting edges again
    std::deque<Header> m_control;       // RSTs owed for packets without a connection
    std::map<Key, std::unique_ptr<Connection>> m_conns;
    std::array<Connection*, k_max_connections> m_slots{};  // token -> connection
    std::uint32_t m_next_port = k_first_host_port;
    static constexpr std::uint32_t k_first_host_port = 0x40000000;
    std::size_t m_round = 0;  // where the next data round starts
};

}  // namespace moat::virtio::vsock
