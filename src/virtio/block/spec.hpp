// virtio-blk constants and guest ABI structures (virtio 1.2 §5.2).
#pragma once

#include <cstdint>
#include <type_traits>

#include "base/le.hpp"

namespace moat::virtio::block {

inline constexpr std::uint32_t VIRTIO_ID_BLOCK = 2;  // §5

// Feature bits, §5.2.3 (bit numbers).
inline constexpr unsigned VIRTIO_BLK_F_SIZE_MAX = 1;
inline constexpr unsigned VIRTIO_BLK_F_SEG_MAX = 2;
inline constexpr unsigned VIRTIO_BLK_F_RO = 5;
inline constexpr unsigned VIRTIO_BLK_F_FLUSH = 9;

// Request types, §5.2.6.
inline constexpr std::uint32_t VIRTIO_BLK_T_IN = 0;
inline constexpr std::uint32_t VIRTIO_BLK_T_OUT = 1;
inline constexpr std::uint32_t VIRTIO_BLK_T_FLUSH = 4;
inline constexpr std::uint32_t VIRTIO_BLK_T_GET_ID = 8;

// Status values, §5.2.6.
inline constexpr std::uint8_t VIRTIO_BLK_S_OK = 0;
inline constexpr std::uint8_t VIRTIO_BLK_S_IOERR = 1;
inline constexpr std::uint8_t VIRTIO_BLK_S_UNSUPP = 2;

inline constexpr std::uint32_t VIRTIO_BLK_ID_BYTES = 20;  // §5.2.6: GET_ID answer size
inline constexpr std::uint64_t k_sector_size = 512;       // §5.2.6: sectors are 512 bytes

// struct virtio_blk_req header, §5.2.6 (device-readable part before the data).
struct VirtioBlkOutHdr {
    Le32 type;      // 0: VIRTIO_BLK_T_*
    Le32 reserved;  // 4
    Le64 sector;    // 8: offset in 512-byte sectors (IN/OUT)
};
static_assert(sizeof(VirtioBlkOutHdr) == 16 && std::is_standard_layout_v<VirtioBlkOutHdr>);

// struct virtio_blk_config, §5.2.4. Only capacity and seg_max are meaningful for the features
// moat offers; the rest reads as zero.
struct VirtioBlkGeometry {
    Le16 cylinders;    // 0
    std::uint8_t heads;    // 2
    std::uint8_t sectors;  // 3
};
static_assert(sizeof(VirtioBlkGeometry) == 4 && std::is_standard_layout_v<VirtioBlkGeometry>);

struct VirtioBlkConfig {
    Le64 capacity;                          // 0: in 512-byte sectors
    Le32 size_max;                          // 8
    Le32 seg_max;                           // 12
    VirtioBlkGeometry geometry;             // 16
    Le32 blk_size;                          // 20
    std::uint8_t physical_block_exp;        // 24
    std::uint8_t alignment_offset;          // 25
    Le16 min_io_size;                       // 26
    Le32 opt_io_size;                       // 28
    std::uint8_t writeback;                 // 32
    std::uint8_t unused0;                   // 33
    Le16 num_queues;                        // 34
    Le32 max_discard_sectors;               // 36
    Le32 max_discard_seg;                   // 40
    Le32 discard_sector_alignment;          // 44
    Le32 max_write_zeroes_sectors;          // 48
    Le32 max_write_zeroes_seg;              // 52
    std::uint8_t write_zeroes_may_unmap;    // 56
    std::uint8_t unused1[3];                // 57
    Le32 max_secure_erase_sectors;          // 60
    Le32 max_secure_erase_seg;              // 64
    Le32 secure_erase_sector_alignment;     // 68
};
static_assert(sizeof(VirtioBlkConfig) == 72 && std::is_standard_layout_v<VirtioBlkConfig>);

}  // namespace moat::virtio::block
