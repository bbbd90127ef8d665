// SCM_RIGHTS descriptor passing: receiving (see fdpass.hpp). The VM process receives its launch
// and console clients this way; the monitor never receives descriptors, and does not link this.
#include "protocol/fdpass.hpp"

#include <sys/socket.h>
#include <sys/uio.h>

#include <array>
#include <cerrno>
#include <cstring>

namespace moat::protocol {

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

}  // namespace moat::protocol
