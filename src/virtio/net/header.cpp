#include "virtio/net/header.hpp"

#include <algorithm>

#include "virtio/spec.hpp"

namespace moat::virtio::net {

namespace {

constexpr bool has(std::uint64_t features, unsigned bit) { return (features & feature_bit(bit)) != 0; }

Check segmentation(const Header& h, std::uint64_t features, std::uint64_t frame_len)
{
    const std::uint8_t kind = h.gso_type & static_cast<std::uint8_t>(~VIRTIO_NET_HDR_GSO_ECN);
    const bool ecn = (h.gso_type & VIRTIO_NET_HDR_GSO_ECN) != 0;
    if (kind == VIRTIO_NET_HDR_GSO_NONE)
        return ecn ? Check{false, "ECN bit without segmentation"} : Check{true, {}};
    if (kind == VIRTIO_NET_HDR_GSO_TCPV4 && !has(features, VIRTIO_NET_F_HOST_TSO4))
        return {false, "TCPv4 segmentation not negotiated"};
    if (kind == VIRTIO_NET_HDR_GSO_TCPV6 && !has(features, VIRTIO_NET_F_HOST_TSO6))
        return {false, "TCPv6 segmentation not negotiated"};
    if (kind == VIRTIO_NET_HDR_GSO_UDP && !has(features, VIRTIO_NET_F_HOST_UFO))
        return {false, "UDP fragmentation not negotiated"};
    if (kind != VIRTIO_NET_HDR_GSO_TCPV4 && kind != VIRTIO_NET_HDR_GSO_TCPV6 && kind != VIRTIO_NET_HDR_GSO_UDP)
        return {false, "unknown segmentation type"};
    if (ecn && !has(features, VIRTIO_NET_F_HOST_ECN)) return {false, "ECN segmentation not negotiated"};
    if (!(h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)) return {false, "segmentation without a partial checksum"};
    if (h.gso_size == 0) return {false, "segmentation without a segment size"};
    if (h.hdr_len > frame_len) return {false, "header length beyond the frame"};
    return {true, {}};
}

}  // namespace

Header decode(const NetHdr& raw)
{
    return Header{
        .flags = raw.flags,
        .gso_type = raw.gso_type,
        .hdr_len = raw.hdr_len.get(),
        .gso_size = raw.gso_size.get(),
        .csum_start = raw.csum_start.get(),
        .csum_offset = raw.csum_offset.get(),
        .num_buffers = raw.num_buffers.get(),
    };
}

NetHdr encode(const Header& h)
{
    NetHdr raw{};
    raw.flags = h.flags;
    raw.gso_type = h.gso_type;
    raw.hdr_len.set(h.hdr_len);
    raw.gso_size.set(h.gso_size);
    raw.csum_start.set(h.csum_start);
    raw.csum_offset.set(h.csum_offset);
    raw.num_buffers.set(h.num_buffers);
    return raw;
}

Check check_tx(const Header& h, std::uint64_t features, std::uint64_t frame_len)
{
    if (frame_len < k_eth_header) return {false, "frame shorter than an Ethernet header"};
    if (frame_len > k_max_frame) return {false, "frame over 64 KiB"};
    if (h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
        if (!has(features, VIRTIO_NET_F_CSUM)) return {false, "checksum offload not negotiated"};
        // The checksum's two bytes lie inside the frame (16-bit fields: no overflow in 64 bits).
        if (std::uint64_t{h.csum_start} + h.csum_offset + 2 > frame_len) return {false, "checksum field beyond the frame"};
    }
    return segmentation(h, features, frame_len);
}

Header for_tap(const Header& h)
{
    Header t = h;
    t.flags = h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM;
    t.num_buffers = 0;
    return t;
}

bool source_is(std::span<const std::uint8_t> frame, const Mac& mac)
{
    return frame.size() >= k_eth_source + mac.size() &&
           std::equal(mac.begin(), mac.end(), frame.begin() + k_eth_source);
}

}  // namespace moat::virtio::net
