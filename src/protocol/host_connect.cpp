#include "protocol/host_connect.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "protocol/fdpass.hpp"

namespace moat::protocol {

Result<std::string> port_path(const std::string& path, std::uint32_t port)
{
    std::string p = path + "_" + std::to_string(port);
    if (p.size() >= sizeof(sockaddr_un{}.sun_path)) return fail(Errc::OutOfRange, "vsock: socket path too long");
    return p;
}

Result<base::UniqueFd> connect_through(int connector, std::uint32_t port)
{
    const std::array<std::byte, 4> req{std::byte(port), std::byte(port >> 8), std::byte(port >> 16), std::byte(port >> 24)};
    MOAT_TRY(send_message(connector, req, {}));
    auto answer = MOAT_TRY(recv_message(connector, 1));
    if (answer.payload.empty()) return fail(Errc::Io, "vsock: the connector is gone");
    const auto status = static_cast<int>(answer.payload[0]);
    if (status == 0 && answer.fds.size() == 1) return std::move(answer.fds[0]);
    return fail(Errc::NotFound, "vsock: no host listener", status);
}

namespace {

// The connect itself: non-blocking, so a listener whose backlog is full is refused, not waited for.
int connect_port(const std::string& path, std::uint32_t port, base::UniqueFd& out)
{
    auto p = port_path(path, port);
    if (!p) return ENAMETOOLONG;
    base::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd.valid()) return errno;
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::memcpy(sa.sun_path, p->data(), p->size());
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0) return errno;
    out = std::move(fd);
    return 0;
}

}  // namespace

void serve_connects(int sock, const std::string& path)
{
    for (;;) {
        auto req = recv_message(sock, 4);
        if (!req || req->payload.empty()) return;  // the VM process ended
        if (req->payload.size() != 4 || !req->fds.empty()) continue;  // not a request: no answer
        std::uint32_t port = 0;
        for (int i = 3; i >= 0; --i) port = (port << 8) | static_cast<std::uint32_t>(req->payload[static_cast<std::size_t>(i)]);
        base::UniqueFd fd;
        const int err = connect_port(path, port, fd);
        const std::array<std::byte, 1> status{std::byte(err > 255 ? 255 : err)};
        const int fds[] = {fd.get()};
        if (!send_message(sock, status, err == 0 ? std::span<const int>(fds) : std::span<const int>())) return;
    }
}

}  // namespace moat::protocol
