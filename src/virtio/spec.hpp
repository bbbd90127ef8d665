// Virtio 1.2 constants and split-virtqueue ABI structures shared by the transport and devices.
#pragma once

#include <cstdint>
#include <type_traits>

#include "base/le.hpp"

namespace moat::virtio {

// Device status bits, virtio 1.2 §2.1.
inline constexpr std::uint32_t VIRTIO_CONFIG_S_ACKNOWLEDGE = 1;
inline constexpr std::uint32_t VIRTIO_CONFIG_S_DRIVER = 2;
inline constexpr std::uint32_t VIRTIO_CONFIG_S_DRIVER_OK = 4;
inline constexpr std::uint32_t VIRTIO_CONFIG_S_FEATURES_OK = 8;
inline constexpr std::uint32_t VIRTIO_CONFIG_S_NEEDS_RESET = 0x40;
inline constexpr std::uint32_t VIRTIO_CONFIG_S_FAILED = 0x80;

// Reserved feature bits, virtio 1.2 §6. Values are bit numbers.
inline constexpr unsigned VIRTIO_RING_F_INDIRECT_DESC = 28;
inline constexpr unsigned VIRTIO_RING_F_EVENT_IDX = 29;
inline constexpr unsigned VIRTIO_F_VERSION_1 = 32;

constexpr std::uint64_t feature_bit(unsigned bit) { return std::uint64_t{1} << bit; }

// Descriptor flags, virtio 1.2 §2.7.5.
inline constexpr std::uint16_t VIRTQ_DESC_F_NEXT = 1;
inline constexpr std::uint16_t VIRTQ_DESC_F_WRITE = 2;
inline constexpr std::uint16_t VIRTQ_DESC_F_INDIRECT = 4;

// Available ring flags, virtio 1.2 §2.7.6.
inline constexpr std::uint16_t VIRTQ_AVAIL_F_NO_INTERRUPT = 1;

// Interrupt status bits, virtio 1.2 §4.2.2 (InterruptStatus).
inline constexpr std::uint32_t VIRTIO_MMIO_INT_VRING = 1;
inline constexpr std::uint32_t VIRTIO_MMIO_INT_CONFIG = 2;

// The largest queue size the split ring allows, virtio 1.2 §2.7.
inline constexpr std::uint32_t k_max_queue_size = 32768;

// struct virtq_desc, virtio 1.2 §2.7.5.
struct VirtqDesc {
    Le64 addr;   // 0: guest physical address of the buffer
    Le32 len;    // 8: buffer length in bytes
    Le16 flags;  // 12: VIRTQ_DESC_F_*
    Le16 next;   // 14: next descriptor index when VIRTQ_DESC_F_NEXT is set
};
static_assert(sizeof(VirtqDesc) == 16 && std::is_standard_layout_v<VirtqDesc>);

// struct virtq_used_elem, virtio 1.2 §2.7.8.
struct VirtqUsedElem {
    Le32 id;   // 0: head index of the used descriptor chain
    Le32 len;  // 4: bytes written into the chain's device-writable buffers
};
static_assert(sizeof(VirtqUsedElem) == 8 && std::is_standard_layout_v<VirtqUsedElem>);

// Split-ring layout offsets, virtio 1.2 §2.7.6 (virtq_avail) and §2.7.8 (virtq_used).
inline constexpr std::uint64_t k_ring_flags_offset = 0;  // Le16 flags
inline constexpr std::uint64_t k_ring_idx_offset = 2;    // Le16 idx
inline constexpr std::uint64_t k_ring_array_offset = 4;  // ring[] starts here
inline constexpr std::uint64_t k_avail_elem_size = 2;    // Le16 ring entry
inline constexpr std::uint64_t k_used_elem_size = sizeof(VirtqUsedElem);

// Ring alignments, virtio 1.2 §2.7 table "Virtqueue Part Alignment".
inline constexpr std::uint64_t k_desc_align = 16;
inline constexpr std::uint64_t k_avail_align = 2;
inline constexpr std::uint64_t k_used_align = 4;

}  // namespace moat::virtio
