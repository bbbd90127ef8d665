#include "protocol/vsock_link.hpp"

#include <array>
#include <cerrno>

#include "protocol/fdpass.hpp"

namespace moat::protocol {

namespace {
constexpr std::uint32_t k_magic = 0x6b6e696c;  // "link"

void put32(std::byte* p, std::uint32_t v)
{
    for (int i = 0; i < 4; ++i) p[i] = static_cast<std::byte>(v >> (8 * i));
}
std::uint32_t get32(const std::byte* p)
{
    std::uint32_t v = 0;
    for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<std::uint32_t>(p[i]);
    return v;
}
}  // namespace

std::array<std::byte, k_link_record_size> encode_link_open(const LinkOpen& o)
{
    std::array<std::byte, k_link_record_size> b{};
    put32(b.data(), k_magic);
    put32(b.data() + 4, o.src_port);
    put32(b.data() + 8, o.dst_port);
    return b;
}

std::optional<LinkOpen> decode_link_open(std::span<const std::byte> bytes)
{
    if (bytes.size() != k_link_record_size || get32(bytes.data()) != k_magic) return std::nullopt;
    return LinkOpen{get32(bytes.data() + 4), get32(bytes.data() + 8)};
}

Result<void> send_link_open(int link, const LinkOpen& o, int stream)
{
    const auto bytes = encode_link_open(o);
    const int fds[] = {stream};
    return send_message(link, bytes, fds);
}

Result<std::optional<LinkReceived>> receive_link_open(int link)
{
    auto msg = recv_message(link, k_link_record_size);
    if (!msg && (msg.error().sys_errno == EAGAIN || msg.error().sys_errno == EWOULDBLOCK)) return std::optional<LinkReceived>();
    if (!msg) return fail(msg.error());
    if (msg->payload.empty()) return fail(Errc::NotFound, "vsock link: the peer closed it");
    auto open = decode_link_open(msg->payload);
    if (!open || msg->fds.size() != 1) return fail(Errc::InvalidInput, "vsock link: malformed record");
    return std::optional<LinkReceived>(LinkReceived{*open, std::move(msg->fds[0])});
}

}  // namespace moat::protocol
