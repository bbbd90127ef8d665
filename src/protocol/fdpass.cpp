// SCM_RIGHTS descriptor passing over SOCK_SEQPACKET Unix sockets (unix(7), cmsg(3)): sending,
// and the peer's credentials. fdpass_receive.cpp receives (the monitor never does).
#include "protocol/fdpass.hpp"

#include <sys/socket.h>
#include <sys/uio.h>

#include <array>
#include <cerrno>
#include <cstring>

namespace moat::protocol {

Result<void> send_message(int sock, std::span<const std::byte> payload, std::span<const int> fds)
{
    if (payload.empty()) return fail(Errc::InvalidInput, "message payload is empty");
    if (payload.size() > k_max_message_payload) return fail(Errc::OutOfRange, "message payload is too large");
    if (fds.size() > k_max_message_fds) return fail(Errc::OutOfRange, "message carries too many descriptors");

    // SAFETY: sendmsg only reads through iov_base; iovec has no const variant.
    iovec iov{const_cast<std::byte*>(payload.data()), payload.size()};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    ControlBuffer control{};
    if (!fds.empty()) {
        msg.msg_control = control.bytes.data();
        msg.msg_controllen = CMSG_SPACE(fds.size_bytes());
        cmsghdr* c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(fds.size_bytes());
        std::memcpy(CMSG_DATA(c), fds.data(), fds.size_bytes());
    }

    ssize_t n = 0;
    do {
        // MSG_NOSIGNAL: a peer that died is an EPIPE to report, not a SIGPIPE to die of.
        n = ::sendmsg(sock, &msg, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return fail_errno("send a message");
    // SOCK_SEQPACKET sends a record whole or not at all; anything else is a stream socket.
    if (static_cast<std::size_t>(n) != payload.size())
        return fail(Errc::Io, "message was sent only in part", EMSGSIZE);
    return {};
}

Result<PeerCred> peer_credentials(int sock)
{
    ucred cred{};
    socklen_t len = sizeof(cred);
    if (::getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return fail_errno("read peer credentials");
    if (len != sizeof(cred)) return fail(Errc::Io, "peer credentials have an unexpected size");
    return PeerCred{cred.pid, cred.uid, cred.gid};
}

}  // namespace moat::protocol
