// virtio-net packet headers as values (virtio 1.2 §5.1.6): decoded once from the guest's bytes,
// checked against the features the guest negotiated, and rebuilt for the tap so that only what
// was checked reaches the host's kernel.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

#include "base/net_address.hpp"
#include "virtio/net/spec.hpp"

namespace moat::virtio::net {

using base::Mac;

struct Header {
    std::uint8_t flags = 0;
    std::uint8_t gso_type = VIRTIO_NET_HDR_GSO_NONE;
    std::uint16_t hdr_len = 0;
    std::uint16_t gso_size = 0;
    std::uint16_t csum_start = 0;
    std::uint16_t csum_offset = 0;
    std::uint16_t num_buffers = 0;
};

Header decode(const NetHdr& raw);
NetHdr encode(const Header& h);

struct Check {
    bool ok;
    std::string_view why;  // when not ok: what was wrong, for the log
};

// Checks the header of a frame the guest transmits, `frame_len` bytes after the header, under
// the negotiated `features`: a frame of at least an Ethernet header and at most k_max_frame; a
// partial checksum only with VIRTIO_NET_F_CSUM and its field inside the frame; segmentation only
// of a kind negotiated (HOST_TSO4, HOST_TSO6, HOST_UFO, the ECN bit with HOST_ECN), with a
// partial checksum, a segment size and a header length inside the frame (§5.1.6.2.1). Flag bits
// the device does not take from a driver are ignored, as §5.1.6.2.2 asks: see for_tap().
Check check_tx(const Header& h, std::uint64_t features, std::uint64_t frame_len);

// The header handed to the tap for a frame check_tx() accepted: only NEEDS_CSUM of the flags,
// and num_buffers zero.
Header for_tap(const Header& h);

// Whether a frame (its first bytes at least) carries `mac` as its source address.
bool source_is(std::span<const std::uint8_t> frame, const Mac& mac);

}  // namespace moat::virtio::net
