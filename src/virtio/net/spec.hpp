// virtio-net constants and guest ABI structures (virtio 1.2 §5.1).
#pragma once

#include <cstdint>
#include <type_traits>

#include "base/le.hpp"

namespace moat::virtio::net {

inline constexpr std::uint32_t VIRTIO_ID_NET = 1;  // §5

// Queues, §5.1.2: one pair.
inline constexpr std::uint32_t k_rx_queue = 0;
inline constexpr std::uint32_t k_tx_queue = 1;

// Feature bits, §5.1.3 (those the device may offer).
inline constexpr unsigned VIRTIO_NET_F_CSUM = 0;         // the device takes partly checksummed frames
inline constexpr unsigned VIRTIO_NET_F_GUEST_CSUM = 1;   // the driver takes them
inline constexpr unsigned VIRTIO_NET_F_MAC = 5;          // the device gives the MAC address
inline constexpr unsigned VIRTIO_NET_F_GUEST_TSO4 = 7;
inline constexpr unsigned VIRTIO_NET_F_GUEST_TSO6 = 8;
inline constexpr unsigned VIRTIO_NET_F_GUEST_ECN = 9;
inline constexpr unsigned VIRTIO_NET_F_GUEST_UFO = 10;
inline constexpr unsigned VIRTIO_NET_F_HOST_TSO4 = 11;   // the device segments TCP over IPv4
inline constexpr unsigned VIRTIO_NET_F_HOST_TSO6 = 12;
inline constexpr unsigned VIRTIO_NET_F_HOST_ECN = 13;
inline constexpr unsigned VIRTIO_NET_F_HOST_UFO = 14;
inline constexpr unsigned VIRTIO_NET_F_MRG_RXBUF = 15;   // a received frame may span buffers
inline constexpr unsigned VIRTIO_NET_F_STATUS = 16;

// struct virtio_net_hdr's flags and gso_type, §5.1.6.
inline constexpr std::uint8_t VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;
inline constexpr std::uint8_t VIRTIO_NET_HDR_F_DATA_VALID = 2;  // device to driver only
inline constexpr std::uint8_t VIRTIO_NET_HDR_F_RSC_INFO = 4;    // device to driver only

inline constexpr std::uint8_t VIRTIO_NET_HDR_GSO_NONE = 0;
inline constexpr std::uint8_t VIRTIO_NET_HDR_GSO_TCPV4 = 1;
inline constexpr std::uint8_t VIRTIO_NET_HDR_GSO_UDP = 3;
inline constexpr std::uint8_t VIRTIO_NET_HDR_GSO_TCPV6 = 4;
inline constexpr std::uint8_t VIRTIO_NET_HDR_GSO_UDP_L4 = 5;
inline constexpr std::uint8_t VIRTIO_NET_HDR_GSO_ECN = 0x80;

inline constexpr std::uint16_t VIRTIO_NET_S_LINK_UP = 1;

// struct virtio_net_hdr as every VIRTIO_F_VERSION_1 device has it (§5.1.6): 12 bytes,
// num_buffers always present. The same layout is the tap's IFF_VNET_HDR header once
// TUNSETVNETHDRSZ is 12.
struct NetHdr {
    std::uint8_t flags;               // 0
    std::uint8_t gso_type;            // 1
    ULe<std::uint16_t> hdr_len;       // 2: Ethernet + IP + transport headers (a hint)
    ULe<std::uint16_t> gso_size;      // 4: the segment size (MSS)
    ULe<std::uint16_t> csum_start;    // 6: where checksumming starts
    ULe<std::uint16_t> csum_offset;   // 8: where after csum_start the checksum goes
    ULe<std::uint16_t> num_buffers;   // 10: receive buffers a frame took (MRG_RXBUF); 0 on transmit
};
static_assert(sizeof(NetHdr) == 12 && std::is_standard_layout_v<NetHdr> && alignof(NetHdr) == 1);

// struct virtio_net_config, §5.1.4, as far as the features above use it.
struct NetConfig {
    std::uint8_t mac[6];
    ULe<std::uint16_t> status;
};
static_assert(sizeof(NetConfig) == 8);

// Ethernet framing.
inline constexpr std::uint32_t k_eth_header = 14;   // destination, source, EtherType
inline constexpr std::uint32_t k_eth_source = 6;    // offset of the source address
// The largest frame either way: a 64 KiB GSO packet with an Ethernet and a VLAN header.
inline constexpr std::uint32_t k_max_frame = 65535 + k_eth_header + 4;

}  // namespace moat::virtio::net
