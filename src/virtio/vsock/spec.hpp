// virtio-vsock constants and guest ABI structures (virtio 1.2 §5.10).
#pragma once

#include <cstdint>
#include <type_traits>

#include "base/le.hpp"

namespace moat::virtio::vsock {

inline constexpr std::uint32_t VIRTIO_ID_VSOCK = 19;  // §5

// Queues, §5.10.2.
inline constexpr std::uint32_t k_rx_queue = 0;
inline constexpr std::uint32_t k_tx_queue = 1;
inline constexpr std::uint32_t k_event_queue = 2;

// Well-known context IDs (§5.10.4): 0-2 are reserved; 2 is the host.
inline constexpr std::uint64_t VMADDR_CID_HOST = 2;
inline constexpr std::uint64_t k_first_guest_cid = 3;
// The upper 32 bits of a CID are reserved and zero (§5.10.4).
inline constexpr std::uint64_t k_max_cid = 0xffffffff;

// Socket types and operations, §5.10.6.
inline constexpr std::uint16_t VIRTIO_VSOCK_TYPE_STREAM = 1;

inline constexpr std::uint16_t VIRTIO_VSOCK_OP_INVALID = 0;
inline constexpr std::uint16_t VIRTIO_VSOCK_OP_REQUEST = 1;
inline constexpr std::uint16_t VIRTIO_VSOCK_OP_RESPONSE = 2;
inline constexpr std::uint16_t VIRTIO_VSOCK_OP_RST = 3;
inline constexpr std::uint16_t VIRTIO_VSOCK_OP_SHUTDOWN = 4;
inline constexpr std::uint16_t VIRTIO_VSOCK_OP_RW = 5;
inline constexpr std::uint16_t VIRTIO_VSOCK_OP_CREDIT_UPDATE = 6;
inline constexpr std::uint16_t VIRTIO_VSOCK_OP_CREDIT_REQUEST = 7;

// SHUTDOWN flags, §5.10.6.5.
inline constexpr std::uint32_t VIRTIO_VSOCK_SHUTDOWN_RCV = 1;
inline constexpr std::uint32_t VIRTIO_VSOCK_SHUTDOWN_SEND = 2;

// struct virtio_vsock_hdr, §5.10.6: packed, 44 bytes, so the fields are byte arrays (ULe).
struct VsockHdr {
    ULe<std::uint64_t> src_cid;    // 0
    ULe<std::uint64_t> dst_cid;    // 8
    ULe<std::uint32_t> src_port;   // 16
    ULe<std::uint32_t> dst_port;   // 20
    ULe<std::uint32_t> len;        // 24: payload bytes after the header
    ULe<std::uint16_t> type;       // 28
    ULe<std::uint16_t> op;         // 30
    ULe<std::uint32_t> flags;      // 32
    ULe<std::uint32_t> buf_alloc;  // 36: the sender's receive buffer for this connection
    ULe<std::uint32_t> fwd_cnt;    // 40: bytes the sender has taken out of that buffer
};
static_assert(sizeof(VsockHdr) == 44 && std::is_standard_layout_v<VsockHdr> && alignof(VsockHdr) == 1);

// struct virtio_vsock_config, §5.10.4.
struct VsockConfig {
    ULe<std::uint64_t> guest_cid;
};
static_assert(sizeof(VsockConfig) == 8);

}  // namespace moat::virtio::vsock
