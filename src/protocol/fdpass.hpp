// Descriptor passing between the monitor and its per-VM processes: SCM_RIGHTS messages over a
// SOCK_SEQPACKET Unix socketpair (unix(7), cmsg(3); DESIGN.md "Process model").
#pragma once

#include <sys/socket.h>
#include <sys/types.h>

#include <array>
#include <cstddef>
#include <span>
#include <vector>

#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace moat::protocol {

inline constexpr std::size_t k_max_message_payload = 64 * 1024;
inline constexpr std::size_t k_max_message_fds = 32;

// Room for one SCM_RIGHTS header carrying k_max_message_fds descriptors, aligned for cmsghdr
// (cmsg(3)). A receiver sized this way gets MSG_CTRUNC, never more descriptors, from a sender
// that attaches too many; the kernel closes the ones that did not fit.
union ControlBuffer {
    cmsghdr header;
    std::array<unsigned char, CMSG_SPACE(sizeof(int) * k_max_message_fds)> bytes;
};

// Sends one message: `payload` (1..k_max_message_payload bytes) plus up to k_max_message_fds
// descriptors, which the receiver gets as duplicates; the caller keeps its own. The socket is
// expected to be SOCK_SEQPACKET (one send is one message). An empty payload is refused
// (Errc::InvalidInput) because a zero-length record is how recv_message recognises EOF; too
// many bytes or fds is Errc::OutOfRange. EINTR is retried; a closed peer is Errc::Io with
// EPIPE (no SIGPIPE is raised). Blocking behaviour follows the socket's. Thread-safe.
Result<void> send_message(int sock, std::span<const std::byte> payload, std::span<const int> fds);

struct Received {
    std::vector<std::byte> payload;   // empty only at EOF
    std::vector<base::UniqueFd> fds;  // O_CLOEXEC, owned by the caller
};

// Receives one message of at most `max_payload` bytes (1..k_max_message_payload, else
// Errc::OutOfRange) and up to k_max_message_fds descriptors, opened close-on-exec.
// EOF (the peer closed, or sent a zero-length record carrying nothing) returns an empty payload
// and no fds. A message whose payload or descriptors did not fit (MSG_TRUNC / MSG_CTRUNC), a
// zero-length record carrying descriptors, and ancillary data other than SCM_RIGHTS are
// refused with Errc::InvalidInput; any descriptors that did arrive are closed first. EINTR is
// retried. Thread-safe.
Result<Received> recv_message(int sock, std::size_t max_payload);

struct PeerCred {
    pid_t pid;
    uid_t uid;
    gid_t gid;
};

// The credentials of the process that connected (or created the socketpair), as recorded by the
// kernel at that moment (SO_PEERCRED, unix(7)); they are not the peer's current ones.
Result<PeerCred> peer_credentials(int sock);

}  // namespace moat::protocol
