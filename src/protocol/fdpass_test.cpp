// Descriptor passing: round trips through a socketpair, limits, truncation without leaks, EOF
// and peer credentials.
#include "protocol/fdpass.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string_view>

using namespace moat;
using namespace moat::protocol;
using moat::base::UniqueFd;

namespace {

struct Pair {
    UniqueFd a;
    UniqueFd b;
};

Pair seqpacket_pair()
{
    int sv[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0) << std::strerror(errno);
    return Pair{UniqueFd(sv[0]), UniqueFd(sv[1])};
}

std::span<const std::byte> bytes(std::string_view s)
{
    return std::as_bytes(std::span<const char>(s.data(), s.size()));
}

std::string text(const std::vector<std::byte>& v)
{
    std::string s;
    for (std::byte b : v) s += static_cast<char>(b);
    return s;
}

// Open descriptors of this process, to prove refused messages leak none.
int open_fd_count()
{
    DIR* d = ::opendir("/proc/self/fd");
    if (d == nullptr) return -1;
    int n = 0;
    while (::readdir(d) != nullptr) ++n;
    ::closedir(d);
    return n;
}

// Sends `count` copies of `fd` with a raw sendmsg, bypassing send_message's limit.
void raw_send(int sock, std::string_view payload, int fd, std::size_t count)
{
    std::vector<int> fds(count, fd);
    std::vector<unsigned char> control(CMSG_SPACE(sizeof(int) * count));
    iovec iov{const_cast<char*>(payload.data()), payload.size()};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * count);
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * count);
    ASSERT_EQ(::sendmsg(sock, &msg, MSG_NOSIGNAL), static_cast<ssize_t>(payload.size())) << std::strerror(errno);
}

}  // namespace

TEST(FdPass, SendsPayloadAndThreeUsableDescriptors)
{
    Pair s = seqpacket_pair();
    std::FILE* tmp = std::tmpfile();
    ASSERT_NE(tmp, nullptr);
    const int file = ::fileno(tmp);
    int p[2];
    ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
    UniqueFd pipe_r(p[0]);
    UniqueFd pipe_w(p[1]);

    const std::array<int, 3> sent{file, pipe_r.get(), pipe_w.get()};
    ASSERT_TRUE(send_message(s.a.get(), bytes("volumes: 3"), sent).has_value());
    auto got = recv_message(s.b.get(), 4096);
    ASSERT_TRUE(got.has_value()) << got.error().what;
    EXPECT_EQ(text(got->payload), "volumes: 3");
    ASSERT_EQ(got->fds.size(), 3u);
    for (const UniqueFd& fd : got->fds) {
        EXPECT_TRUE(fd.valid());
        EXPECT_NE(::fcntl(fd.get(), F_GETFD) & FD_CLOEXEC, 0) << "received descriptor lacks O_CLOEXEC";
        for (int original : sent) EXPECT_NE(fd.get(), original);
    }

    // The received file descriptor reaches the same open file: write through it, read back.
    ASSERT_EQ(::pwrite(got->fds[0].get(), "disk", 4, 0), 4);
    char buf[8] = {};
    ASSERT_EQ(::pread(file, buf, sizeof(buf), 0), 4);
    EXPECT_EQ(std::string_view(buf, 4), "disk");

    // The received pipe ends form the same pipe.
    ASSERT_EQ(::write(got->fds[2].get(), "ping", 4), 4);
    char pb[4] = {};
    ASSERT_EQ(::read(got->fds[1].get(), pb, sizeof(pb)), 4);
    EXPECT_EQ(std::string_view(pb, 4), "ping");
    std::fclose(tmp);
}

TEST(FdPass, PayloadWithoutDescriptorsAndLimitsExactly)
{
    Pair s = seqpacket_pair();
    ASSERT_TRUE(send_message(s.a.get(), bytes("hello"), {}).has_value());
    auto got = recv_message(s.b.get(), 5);  // exactly fits
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(text(got->payload), "hello");
    EXPECT_TRUE(got->fds.empty());

    // The largest message: k_max_message_payload bytes and k_max_message_fds descriptors.
    std::vector<std::byte> big(k_max_message_payload, std::byte{0x5a});
    std::vector<int> fds(k_max_message_fds, STDERR_FILENO);
    int sndbuf = 1 << 20;
    ASSERT_EQ(::setsockopt(s.a.get(), SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)), 0);
    auto sent = send_message(s.a.get(), big, fds);
    ASSERT_TRUE(sent.has_value()) << sent.error().what << ": " << std::strerror(sent.error().sys_errno);
    auto all = recv_message(s.b.get(), k_max_message_payload);
    ASSERT_TRUE(all.has_value()) << all.error().what;
    EXPECT_EQ(all->payload, big);
    EXPECT_EQ(all->fds.size(), k_max_message_fds);
}

TEST(FdPass, SendRefusesEmptyOversizedAndTooManyDescriptors)
{
    Pair s = seqpacket_pair();
    auto empty = send_message(s.a.get(), {}, {});
    ASSERT_FALSE(empty.has_value());
    EXPECT_EQ(empty.error().code, Errc::InvalidInput);

    std::vector<std::byte> big(k_max_message_payload + 1);
    auto large = send_message(s.a.get(), big, {});
    ASSERT_FALSE(large.has_value());
    EXPECT_EQ(large.error().code, Errc::OutOfRange);

    std::vector<int> fds(k_max_message_fds + 1, STDERR_FILENO);
    auto many = send_message(s.a.get(), bytes("x"), fds);
    ASSERT_FALSE(many.has_value());
    EXPECT_EQ(many.error().code, Errc::OutOfRange);

    // Nothing was sent by any refused call.
    ASSERT_EQ(::fcntl(s.b.get(), F_SETFL, O_NONBLOCK), 0);
    auto none = recv_message(s.b.get(), 16);
    ASSERT_FALSE(none.has_value());
    EXPECT_EQ(none.error().sys_errno, EAGAIN);

    const std::array<int, 1> bad{-1};
    auto badfd = send_message(s.a.get(), bytes("x"), bad);
    ASSERT_FALSE(badfd.has_value());
    EXPECT_EQ(badfd.error().sys_errno, EBADF);
}

TEST(FdPass, RecvRefusesBufferSizeOutOfRange)
{
    Pair s = seqpacket_pair();
    EXPECT_EQ(recv_message(s.b.get(), 0).error().code, Errc::OutOfRange);
    EXPECT_EQ(recv_message(s.b.get(), k_max_message_payload + 1).error().code, Errc::OutOfRange);
}

TEST(FdPass, TruncatedPayloadIsRefusedAndItsDescriptorsClosed)
{
    Pair s = seqpacket_pair();
    const std::array<int, 2> fds{STDIN_FILENO, STDERR_FILENO};
    ASSERT_TRUE(send_message(s.a.get(), bytes("0123456789abcdef"), fds).has_value());
    const int before = open_fd_count();
    auto got = recv_message(s.b.get(), 10);
    ASSERT_FALSE(got.has_value());
    EXPECT_EQ(got.error().code, Errc::InvalidInput);
    EXPECT_STREQ(got.error().what, "message payload was truncated");
    EXPECT_EQ(open_fd_count(), before) << "descriptors of a refused message leaked";

    // The record was consumed whole (SOCK_SEQPACKET): the next message arrives intact.
    ASSERT_TRUE(send_message(s.a.get(), bytes("next"), {}).has_value());
    auto next = recv_message(s.b.get(), 10);
    ASSERT_TRUE(next.has_value());
    EXPECT_EQ(text(next->payload), "next");
}

TEST(FdPass, TooManyIncomingDescriptorsAreRefusedWithoutLeaks)
{
    Pair s = seqpacket_pair();
    raw_send(s.a.get(), "flood", STDERR_FILENO, k_max_message_fds + 8);
    const int before = open_fd_count();
    auto got = recv_message(s.b.get(), 64);
    ASSERT_FALSE(got.has_value());
    EXPECT_EQ(got.error().code, Errc::InvalidInput);
    EXPECT_STREQ(got.error().what, "message descriptors were truncated");
    EXPECT_EQ(open_fd_count(), before) << "descriptors of a refused message leaked";
}

TEST(FdPass, ZeroLengthRecordWithDescriptorsIsRefused)
{
    Pair s = seqpacket_pair();
    raw_send(s.a.get(), "", STDERR_FILENO, 2);
    const int before = open_fd_count();
    auto got = recv_message(s.b.get(), 64);
    ASSERT_FALSE(got.has_value());
    EXPECT_EQ(got.error().code, Errc::InvalidInput);
    EXPECT_EQ(open_fd_count(), before);
}

TEST(FdPass, ForeignAncillaryDataIsRefused)
{
    // With SO_PASSCRED the kernel attaches SCM_CREDENTIALS, which this protocol never carries.
    Pair s = seqpacket_pair();
    int on = 1;
    ASSERT_EQ(::setsockopt(s.b.get(), SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)), 0);
    ASSERT_TRUE(send_message(s.a.get(), bytes("x"), {}).has_value());
    auto got = recv_message(s.b.get(), 64);
    ASSERT_FALSE(got.has_value());
    EXPECT_EQ(got.error().code, Errc::InvalidInput);
}

TEST(FdPass, EofIsAnEmptyMessage)
{
    Pair s = seqpacket_pair();
    ASSERT_TRUE(send_message(s.a.get(), bytes("last"), {}).has_value());
    s.a.reset();
    auto last = recv_message(s.b.get(), 64);
    ASSERT_TRUE(last.has_value());
    EXPECT_EQ(text(last->payload), "last");
    for (int i = 0; i < 2; ++i) {  // EOF stays EOF
        auto eof = recv_message(s.b.get(), 64);
        ASSERT_TRUE(eof.has_value());
        EXPECT_TRUE(eof->payload.empty());
        EXPECT_TRUE(eof->fds.empty());
    }
}

TEST(FdPass, SendToClosedPeerIsEpipeNotSignal)
{
    Pair s = seqpacket_pair();
    s.b.reset();
    auto r = send_message(s.a.get(), bytes("anyone?"), {});
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, Errc::Io);
    EXPECT_EQ(r.error().sys_errno, EPIPE);
}

TEST(FdPass, PeerCredentialsAreOurs)
{
    Pair s = seqpacket_pair();
    auto cred = peer_credentials(s.b.get());
    ASSERT_TRUE(cred.has_value());
    EXPECT_EQ(cred->pid, ::getpid());
    EXPECT_EQ(cred->uid, ::getuid());
    EXPECT_EQ(cred->gid, ::getgid());

    int p[2];
    ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
    UniqueFd r(p[0]);
    UniqueFd w(p[1]);
    auto not_socket = peer_credentials(r.get());
    ASSERT_FALSE(not_socket.has_value());
    EXPECT_EQ(not_socket.error().sys_errno, ENOTSOCK);
}
