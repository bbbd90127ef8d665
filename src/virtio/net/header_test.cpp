#include "virtio/net/header.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "virtio/spec.hpp"

using namespace moat::virtio;
using namespace moat::virtio::net;

namespace {

constexpr std::uint64_t k_offloads = feature_bit(VIRTIO_NET_F_CSUM) | feature_bit(VIRTIO_NET_F_HOST_TSO4) |
                                     feature_bit(VIRTIO_NET_F_HOST_TSO6) | feature_bit(VIRTIO_NET_F_HOST_ECN) |
                                     feature_bit(VIRTIO_NET_F_HOST_UFO);

// A TCPv4 segment's header as Linux sends it: Ethernet 14, IPv4 20, TCP 20 (checksum at 16).
Header tso4()
{
    return Header{.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .gso_type = VIRTIO_NET_HDR_GSO_TCPV4, .hdr_len = 54,
                  .gso_size = 1448, .csum_start = 34, .csum_offset = 16, .num_buffers = 0};
}

}  // namespace

TEST(NetHeader, LayoutAndRoundTrip)
{
    const std::uint8_t bytes[12] = {1, 0x81, 54, 0, 0xa8, 5, 34, 0, 16, 0, 2, 0};
    NetHdr raw;
    std::memcpy(&raw, bytes, sizeof raw);
    const Header h = decode(raw);
    EXPECT_EQ(h.flags, 1);
    EXPECT_EQ(h.gso_type, 0x81);
    EXPECT_EQ(h.hdr_len, 54);
    EXPECT_EQ(h.gso_size, 1448);
    EXPECT_EQ(h.csum_start, 34);
    EXPECT_EQ(h.csum_offset, 16);
    EXPECT_EQ(h.num_buffers, 2);
    const NetHdr back = encode(h);
    EXPECT_EQ(std::memcmp(&back, bytes, sizeof bytes), 0);
}

TEST(NetHeader, PlainFramesNeedOnlyALength)
{
    EXPECT_TRUE(check_tx({}, 0, 14).ok);
    EXPECT_TRUE(check_tx({}, 0, 1514).ok);
    EXPECT_TRUE(check_tx({}, 0, k_max_frame).ok);
    EXPECT_EQ(check_tx({}, 0, 13).why, "frame shorter than an Ethernet header");
    EXPECT_EQ(check_tx({}, 0, 0).why, "frame shorter than an Ethernet header");
    EXPECT_EQ(check_tx({}, k_offloads, k_max_frame + 1).why, "frame over 64 KiB");
}

TEST(NetHeader, PartialChecksumNeedsTheFeatureAndAFieldInsideTheFrame)
{
    Header h{.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 34, .csum_offset = 16};
    EXPECT_TRUE(check_tx(h, feature_bit(VIRTIO_NET_F_CSUM), 54).ok);  // the field's two bytes end at 52
    EXPECT_TRUE(check_tx(h, feature_bit(VIRTIO_NET_F_CSUM), 52).ok);
    EXPECT_EQ(check_tx(h, feature_bit(VIRTIO_NET_F_CSUM), 51).why, "checksum field beyond the frame");
    EXPECT_EQ(check_tx(h, 0, 54).why, "checksum offload not negotiated");
    h.csum_start = 0xffff;
    h.csum_offset = 0xffff;  // no 16-bit wrap-around lets this through
    EXPECT_EQ(check_tx(h, k_offloads, k_max_frame).why, "checksum field beyond the frame");
}

TEST(NetHeader, SegmentationOnlyOfANegotiatedKind)
{
    EXPECT_TRUE(check_tx(tso4(), k_offloads, 65000).ok);
    EXPECT_EQ(check_tx(tso4(), k_offloads & ~feature_bit(VIRTIO_NET_F_HOST_TSO4), 65000).why,
              "TCPv4 segmentation not negotiated");
    Header h = tso4();
    h.gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
    h.csum_start = 54;
    EXPECT_TRUE(check_tx(h, k_offloads, 65000).ok);
    EXPECT_EQ(check_tx(h, k_offloads & ~feature_bit(VIRTIO_NET_F_HOST_TSO6), 65000).why,
              "TCPv6 segmentation not negotiated");
    h.gso_type = VIRTIO_NET_HDR_GSO_UDP;
    EXPECT_TRUE(check_tx(h, k_offloads, 65000).ok);
    EXPECT_EQ(check_tx(h, k_offloads & ~feature_bit(VIRTIO_NET_F_HOST_UFO), 65000).why,
              "UDP fragmentation not negotiated");
    for (int kind : {2, 5, 6, 0x7f}) {
        h.gso_type = static_cast<std::uint8_t>(kind);
        EXPECT_EQ(check_tx(h, k_offloads, 65000).why, "unknown segmentation type") << kind;
    }
}

TEST(NetHeader, TheEcnBitNeedsSegmentationAndItsFeature)
{
    Header h = tso4();
    h.gso_type = static_cast<std::uint8_t>(VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN);
    EXPECT_TRUE(check_tx(h, k_offloads, 65000).ok);
    EXPECT_EQ(check_tx(h, k_offloads & ~feature_bit(VIRTIO_NET_F_HOST_ECN), 65000).why,
              "ECN segmentation not negotiated");
    Header plain{.gso_type = VIRTIO_NET_HDR_GSO_ECN};
    EXPECT_EQ(check_tx(plain, k_offloads, 100).why, "ECN bit without segmentation");
}

TEST(NetHeader, SegmentationNeedsChecksumSizeAndHeaderLength)
{
    Header h = tso4();
    h.flags = 0;
    EXPECT_EQ(check_tx(h, k_offloads, 65000).why, "segmentation without a partial checksum");
    h = tso4();
    h.gso_size = 0;
    EXPECT_EQ(check_tx(h, k_offloads, 65000).why, "segmentation without a segment size");
    h = tso4();
    h.hdr_len = 60;
    EXPECT_TRUE(check_tx(h, k_offloads, 60).ok);
    EXPECT_EQ(check_tx(h, k_offloads, 59).why, "header length beyond the frame");
}

TEST(NetHeader, TheTapGetsOnlyWhatWasChecked)
{
    Header h = tso4();
    h.flags |= VIRTIO_NET_HDR_F_DATA_VALID | VIRTIO_NET_HDR_F_RSC_INFO | 0x80;
    h.num_buffers = 7;
    EXPECT_TRUE(check_tx(h, k_offloads, 65000).ok) << "unknown flag bits are ignored (§5.1.6.2.2)";
    const Header t = for_tap(h);
    EXPECT_EQ(t.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
    EXPECT_EQ(t.num_buffers, 0);
    EXPECT_EQ(t.gso_type, h.gso_type);
    EXPECT_EQ(t.csum_start, h.csum_start);
}

TEST(NetHeader, SourceAddress)
{
    const Mac mac{0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
    std::vector<std::uint8_t> frame(60, 0);
    std::copy(mac.begin(), mac.end(), frame.begin() + 6);
    EXPECT_TRUE(source_is(frame, mac));
    frame[11] ^= 1;
    EXPECT_FALSE(source_is(frame, mac));
    frame[11] ^= 1;
    std::copy(mac.begin(), mac.end(), frame.begin());  // as destination only
    frame[6] = 0xff;
    EXPECT_FALSE(source_is(frame, mac));
    EXPECT_FALSE(source_is(std::span(frame).first(11), mac)) << "too short to hold a source address";
    EXPECT_FALSE(source_is({}, mac));
}
