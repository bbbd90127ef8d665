// One vsock stream between the guest and a host socket: who it joins, the credit each way
// (virtio 1.2 §5.10.6.3), and the guest's bytes the host socket has not taken yet.
#pragma once

#include <sys/types.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "base/unique_fd.hpp"

namespace moat::virtio::vsock {

// Sends on a host socket without blocking and without SIGPIPE (a host program that went away is
// an error return, not a dead VMM): sendmsg, the one call the jail allows for it.
ssize_t send_iov(int fd, iovec* iov, std::size_t count);

// What the device offers the guest per connection (its buf_alloc): Linux's default too.
inline constexpr std::uint32_t k_buf_alloc = 256 * 1024;

struct Connection {
    enum class State : std::uint8_t {
        ConnectLine,  // a host program connected to the listener; its CONNECT line is not whole yet
        Requesting,   // REQUEST sent to the guest, waiting for RESPONSE or RST
        Confirming,   // the guest's REQUEST went across a channel: waiting for the other side's yes
        Established,
    };

    base::UniqueFd fd;  // the host side: a non-blocking stream socket
    std::uint32_t token = 0;  // its HostWatcher token: the device's slot
    State state = State::Established;
    std::uint64_t peer_cid = 0;      // who the guest talks to: the host (2) for a host socket
    std::uint32_t guest_port = 0;
    std::uint32_t host_port = 0;    // the port on the peer's side
    std::string line;  // ConnectLine: the bytes of the CONNECT line read so far
    std::string ack;   // Requesting: what the far side gets when the guest accepts

    // The guest's receive side, from the last header it sent on this connection.
    std::uint32_t peer_buf_alloc = 0;
    std::uint32_t peer_fwd_cnt = 0;
    std::uint32_t tx_cnt = 0;  // payload bytes sent to the guest (wraps, as the counters do)

    // Our receive side: the guest's bytes not written to the host yet, never over k_buf_alloc.
    std::vector<std::byte> pending;
    std::size_t pending_off = 0;      // pending[pending_off..] is still to be written
    std::uint32_t fwd_cnt = 0;        // payload bytes written to the host
    std::uint32_t fwd_cnt_told = 0;   // fwd_cnt as the guest last heard it

    bool host_readable = true;   // no EAGAIN since the last edge
    bool host_eof = false;       // the host stopped sending
    bool eof_told = false;       // ... and the guest got SHUTDOWN(SEND) for it
    bool guest_shut_send = false;
    bool guest_shut_rcv = false;
    bool host_write_shut = false;  // shutdown(SHUT_WR) done after the guest's SHUTDOWN(SEND)
    bool response_owed = false;    // the guest's REQUEST was accepted: RESPONSE to send
    bool request_owed = false;     // a host program's CONNECT: REQUEST to send
    bool credit_owed = false;      // the guest asked (CREDIT_REQUEST): CREDIT_UPDATE to send

    std::size_t unwritten() const { return pending.size() - pending_off; }
    // Bytes the guest can still take: its buffer less what is in flight, 0 if it lies.
    std::uint32_t peer_credit() const
    {
        const std::uint32_t in_flight = tx_cnt - peer_fwd_cnt;
        return in_flight > peer_buf_alloc ? 0 : peer_buf_alloc - in_flight;
    }
    // Whether the guest should hear fwd_cnt now: it would otherwise think its credit low.
    bool credit_update_due() const { return fwd_cnt - fwd_cnt_told >= k_buf_alloc / 4; }
};

}  // namespace moat::virtio::vsock
