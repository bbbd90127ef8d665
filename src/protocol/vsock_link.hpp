// A channel's link (DESIGN.md "Security policy"; issue 14): the SOCK_SEQPACKET socketpair the
// monitor makes for each allowed channel, one end in each VM process it joins (or in the pump
// between them). It carries no bytes of a connection. Each connection is a Unix stream
// socketpair of its own: the connecting side's VM process sends one end across the link with a
// LinkOpen record, and the other side's process answers on the stream itself with one byte,
// k_link_accepted, once its guest accepted (or closes the stream if it refused). From then on the
// bytes flow between the two processes over that stream; the monitor holds the links but is in
// no connection's path.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace moat::protocol {

struct LinkOpen {
    std::uint32_t src_port = 0;  // the connecting guest's port
    std::uint32_t dst_port = 0;  // the port it connects to: the channel's
};

inline constexpr std::size_t k_link_record_size = 12;  // "link" magic, src_port, dst_port (LE)
inline constexpr std::uint8_t k_link_accepted = 1;

// The record's bytes, and back: std::nullopt unless exactly k_link_record_size bytes with the magic.
std::array<std::byte, k_link_record_size> encode_link_open(const LinkOpen& o);
std::optional<LinkOpen> decode_link_open(std::span<const std::byte> bytes);

// Sends `o` with `stream` attached. The link is expected non-blocking: a full link is
// Errc::Io with EAGAIN, and the connection is then refused.
Result<void> send_link_open(int link, const LinkOpen& o, int stream);

struct LinkReceived {
    LinkOpen open;
    base::UniqueFd stream;
};
// The next record on a non-blocking link: std::nullopt when none waits; Errc::NotFound when the
// peer closed its end; Errc::InvalidInput for anything but one well-formed record with one
// descriptor (whatever came is closed).
Result<std::optional<LinkReceived>> receive_link_open(int link);

}  // namespace moat::protocol
