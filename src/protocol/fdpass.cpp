// SCM_RIGHTS descriptor passing over SOCK_SEQPACKET Unix sockets (unix(7), cmsg(3)).
#include "protocol/fdpass.hpp"

#include <sys/socket.h>
#include <sys/uio.h>

#include <array>
#include <cerrno>
#include <cstring>

namespace moat::protocol {

namespace {

constexpr std::size_t k_control_space = CMSG_SPACE(sizeof(int) * k_max_message_fds);

// Room for one SCM_RIGHTS header carrying k_max_message_fds descriptors, aligned for cmsghdr
// (cmsg(3)). A receiver sized this way gets MSG_CTRUNC, never more descriptors, from a sender
// that attaches too many; the kernel closes the ones that did not fit.
union ControlBuffer {
    cmsghdr header;
    std::array<unsigned char, k_control_space> bytes;
};

}  // namespace

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

Result<Received> recv_message(int sock, std::size_t max_payload)
{
    if (max_payload == 0 || max_payload > k_max_message_payload)
        return fail(Errc::OutOfRange, "message buffer size is out of range");

    Received r;
    r.payload.resize(max_payload);
    iovec iov{r.payload.data(), r.payload.size()};
    ControlBuffer control{};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.bytes.data();
    msg.msg_controllen = control.bytes.size();

    ssize_t n = 0;
    do {
        n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return fail_errno("receive a message");

    // Own every descriptor that arrived before judging the message, so each error path below
    // closes them (a refused message must not leak descriptors into this process).
    bool foreign = false;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || c->cmsg_len < CMSG_LEN(0)) {
            foreign = true;
            continue;
        }
        const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        std::array<int, k_max_message_fds> fds{};
        // The control buffer holds at most k_max_message_fds descriptors in all.
        MOAT_CHECK(r.fds.size() + count <= fds.size());
        std::memcpy(fds.data(), CMSG_DATA(c), count * sizeof(int));
        for (std::size_t i = 0; i < count; ++i) r.fds.emplace_back(fds[i]);
    }

    if (msg.msg_flags & MSG_TRUNC) return fail(Errc::InvalidInput, "message payload was truncated");
    if (msg.msg_flags & MSG_CTRUNC) return fail(Errc::InvalidInput, "message descriptors were truncated");
    if (foreign) return fail(Errc::InvalidInput, "message carries unexpected ancillary data");
    if (n == 0 && !r.fds.empty()) return fail(Errc::InvalidInput, "empty message carries descriptors");
    r.payload.resize(static_cast<std::size_t>(n));
    return r;
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
