// The Linux x86 real-mode setup header of a bzImage, and its validation.
// Documentation/arch/x86/boot.rst, "The Real-Mode Kernel Header" (protocol 2.06 .. 2.15).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>

#include "base/result.hpp"
#include "base/le.hpp"

namespace moat::boot {

// boot.rst "The Real-Mode Kernel Header". Offsets in comments are from the start of the file
// (and of the zero page, which embeds this header at 0x1f1).
struct SetupHeader {
    std::uint8_t setup_sects;            // 0x1f1
    ULe16 root_flags;                    // 0x1f2
    ULe32 syssize;                       // 0x1f4 (2.04+: 32 bits)
    ULe16 ram_size;                      // 0x1f8 obsolete
    ULe16 vid_mode;                      // 0x1fa
    ULe16 root_dev;                      // 0x1fc
    ULe16 boot_flag;                     // 0x1fe 0xAA55
    ULe16 jump;                          // 0x200 short jump: 0xEB, rel8
    ULe32 header;                        // 0x202 "HdrS"
    ULe16 version;                       // 0x206
    ULe32 realmode_swtch;                // 0x208
    ULe16 start_sys_seg;                 // 0x20c obsolete
    ULe16 kernel_version;                // 0x20e
    std::uint8_t type_of_loader;         // 0x210
    std::uint8_t loadflags;              // 0x211
    ULe16 setup_move_size;               // 0x212
    ULe32 code32_start;                  // 0x214
    ULe32 ramdisk_image;                 // 0x218
    ULe32 ramdisk_size;                  // 0x21c
    ULe32 bootsect_kludge;               // 0x220 obsolete
    ULe16 heap_end_ptr;                  // 0x224
    std::uint8_t ext_loader_ver;         // 0x226
    std::uint8_t ext_loader_type;        // 0x227
    ULe32 cmd_line_ptr;                  // 0x228
    ULe32 initrd_addr_max;               // 0x22c
    ULe32 kernel_alignment;              // 0x230
    std::uint8_t relocatable_kernel;     // 0x234
    std::uint8_t min_alignment;          // 0x235
    ULe16 xloadflags;                    // 0x236 (2.12+)
    ULe32 cmdline_size;                  // 0x238
    ULe32 hardware_subarch;              // 0x23c
    ULe64 hardware_subarch_data;         // 0x240
    ULe32 payload_offset;                // 0x248
    ULe32 payload_length;                // 0x24c
    ULe64 setup_data;                    // 0x250
    ULe64 pref_address;                  // 0x258
    ULe32 init_size;                     // 0x260 (2.10+)
    ULe32 handover_offset;               // 0x264
    ULe32 kernel_info_offset;            // 0x268 (2.15+)
};                                       // 0x26c
static_assert(sizeof(SetupHeader) == 0x26c - 0x1f1 && std::is_standard_layout_v<SetupHeader>);
static_assert(std::has_unique_object_representations_v<SetupHeader>);
static_assert(offsetof(SetupHeader, boot_flag) == 0x1fe - 0x1f1);
static_assert(offsetof(SetupHeader, header) == 0x202 - 0x1f1);
static_assert(offsetof(SetupHeader, loadflags) == 0x211 - 0x1f1);
static_assert(offsetof(SetupHeader, cmd_line_ptr) == 0x228 - 0x1f1);
static_assert(offsetof(SetupHeader, xloadflags) == 0x236 - 0x1f1);
static_assert(offsetof(SetupHeader, pref_address) == 0x258 - 0x1f1);
static_assert(offsetof(SetupHeader, init_size) == 0x260 - 0x1f1);

// Where the setup header sits in the image and in the zero page.
inline constexpr std::size_t k_setup_header_offset = 0x1f1;
inline constexpr std::size_t k_setup_header_end = k_setup_header_offset + sizeof(SetupHeader);
inline constexpr std::uint16_t k_boot_flag = 0xaa55;
inline constexpr std::uint32_t k_hdrs_magic = 0x53726448;  // "HdrS" little-endian
inline constexpr std::uint16_t k_min_protocol = 0x206;
// boot.rst: a setup_sects of 0 means 4; each sector is 512 bytes, plus the boot sector.
inline constexpr std::uint32_t k_default_setup_sects = 4;
inline constexpr std::uint64_t k_sector_size = 512;
// boot.rst "64-bit BOOT PROTOCOL": the 64-bit entry is 0x200 into the protected-mode kernel.
inline constexpr std::uint64_t k_entry_64_offset = 0x200;

// loadflags bits (boot.rst, field "loadflags").
inline constexpr std::uint8_t k_loaded_high = 0x01;
inline constexpr std::uint8_t k_keep_segments = 0x40;
inline constexpr std::uint8_t k_can_use_heap = 0x80;
// xloadflags bits (boot.rst, field "xloadflags").
inline constexpr std::uint16_t k_xlf_kernel_64 = 0x01;
inline constexpr std::uint16_t k_xlf_can_be_loaded_above_4g = 0x02;

// The size of the real-mode part (boot sector + setup), from a validated header.
std::uint64_t setup_size(const SetupHeader& h);

// Parses and validates the setup header. `head` is the first (up to 64 KiB) bytes of the image
// and `file_size` the whole image's size. Pure. Bytes past the header end the image declares
// (0x202 + the jump's rel8) are zeroed, since older protocols put code there.
// Errors: InvalidInput for truncated or malformed images, Unsupported for protocols older
// than 2.06 and images that do not load high.
Result<SetupHeader> parse_bzimage(std::span<const std::byte> head, std::uint64_t file_size);

// True if the image has the 64-bit entry (protocol 2.12+, XLF_KERNEL_64); older images are
// entered through the 32-bit boot protocol instead.
bool has_64bit_entry(const SetupHeader& h);

}  // namespace moat::boot
