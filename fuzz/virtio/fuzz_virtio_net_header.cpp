// Fuzzes the virtio-net transmit header checks against their contract: whatever check_tx()
// accepts has a frame of a sane length, offloads only of negotiated kinds, a checksum field and
// a header length inside the frame; for_tap() passes on no flag but NEEDS_CSUM; decode and encode
// are each other's inverse. Input: the 12-byte header, a byte of offload features, a u32 frame
// length, then frame bytes for the source-address check.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "fuzz_common.hpp"
#include "virtio/net/header.hpp"
#include "virtio/spec.hpp"

using namespace moat::virtio::net;

namespace {

void check(bool ok)
{
    if (!ok) __builtin_trap();
}

constexpr bool has(std::uint64_t f, unsigned b) { return (f & moat::virtio::feature_bit(b)) != 0; }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    moat::fuzz::Input in(data, size);
    NetHdr raw{};
    for (std::size_t i = 0; i < sizeof raw; ++i) reinterpret_cast<std::uint8_t*>(&raw)[i] = in.take<std::uint8_t>();
    const auto fbits = in.take<std::uint8_t>();
    std::uint64_t features = 0;
    const unsigned offered[] = {VIRTIO_NET_F_CSUM, VIRTIO_NET_F_HOST_TSO4, VIRTIO_NET_F_HOST_TSO6, VIRTIO_NET_F_HOST_ECN,
                                VIRTIO_NET_F_HOST_UFO};
    for (unsigned i = 0; i < 5; ++i)
        if (fbits & (1u << i)) features |= moat::virtio::feature_bit(offered[i]);
    const std::uint64_t frame_len = in.take<std::uint32_t>() % (k_max_frame + 64);

    const Header h = decode(raw);
    const NetHdr back = encode(h);
    check(std::memcmp(&back, &raw, sizeof raw) == 0);

    const Check c = check_tx(h, features, frame_len);
    check(c.ok == c.why.empty());
    if (c.ok) {
        check(frame_len >= k_eth_header && frame_len <= k_max_frame);
        if (h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
            check(has(features, VIRTIO_NET_F_CSUM) && std::uint64_t{h.csum_start} + h.csum_offset + 2 <= frame_len);
        const std::uint8_t kind = h.gso_type & 0x7f;
        if (kind != VIRTIO_NET_HDR_GSO_NONE) {
            check((kind == VIRTIO_NET_HDR_GSO_TCPV4 && has(features, VIRTIO_NET_F_HOST_TSO4)) ||
                  (kind == VIRTIO_NET_HDR_GSO_TCPV6 && has(features, VIRTIO_NET_F_HOST_TSO6)) ||
                  (kind == VIRTIO_NET_HDR_GSO_UDP && has(features, VIRTIO_NET_F_HOST_UFO)));
            check((h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && h.gso_size > 0 && h.hdr_len <= frame_len);
        }
        if (h.gso_type & VIRTIO_NET_HDR_GSO_ECN) check(kind != VIRTIO_NET_HDR_GSO_NONE && has(features, VIRTIO_NET_F_HOST_ECN));
        const Header t = for_tap(h);
        check((t.flags & ~VIRTIO_NET_HDR_F_NEEDS_CSUM) == 0 && t.num_buffers == 0);
    }
    const auto rest = in.rest();
    const Mac mac{0x52, 0x54, 0, 0x12, 0x34, 0x56};
    const bool same = rest.size() >= 12 && std::memcmp(rest.data() + 6, mac.data(), 6) == 0;
    check(source_is({reinterpret_cast<const std::uint8_t*>(rest.data()), rest.size()}, mac) == same);
    return 0;
}
