// The zero page (struct boot_params) and the command line handed to a Linux guest.
// Documentation/arch/x86/zero-page.rst; arch/x86/include/uapi/asm/bootparam.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <type_traits>

#include "base/result.hpp"
#include "boot/bzimage.hpp"
#include "boot/kernel.hpp"
#include "boot/memory_map.hpp"
#include "base/le.hpp"
#include "memory/guest_memory.hpp"

namespace moat::boot {

inline constexpr std::size_t k_e820_max_entries_zeropage = 128;

// zero-page.rst. Structures moat does not fill (screen_info, EDD, EFI, ...) are opaque bytes.
struct BootParams {
    std::uint8_t screen_info[0x40];          // 0x000
    std::uint8_t apm_bios_info[0x14];        // 0x040
    std::uint8_t _pad2[4];                   // 0x054
    ULe64 tboot_addr;                        // 0x058
    std::uint8_t ist_info[0x10];             // 0x060
    ULe64 acpi_rsdp_addr;                    // 0x070
    std::uint8_t _pad3[8];                   // 0x078
    std::uint8_t hd0_info[16];               // 0x080 obsolete
    std::uint8_t hd1_info[16];               // 0x090 obsolete
    std::uint8_t sys_desc_table[0x10];       // 0x0a0 obsolete
    std::uint8_t olpc_ofw_header[0x10];      // 0x0b0
    ULe32 ext_ramdisk_image;                 // 0x0c0
    ULe32 ext_ramdisk_size;                  // 0x0c4
    ULe32 ext_cmd_line_ptr;                  // 0x0c8
    std::uint8_t _pad4[112];                 // 0x0cc
    ULe32 cc_blob_address;                   // 0x13c
    std::uint8_t edid_info[0x80];            // 0x140
    std::uint8_t efi_info[0x20];             // 0x1c0
    ULe32 alt_mem_k;                         // 0x1e0
    ULe32 scratch;                           // 0x1e4
    std::uint8_t e820_entries;               // 0x1e8
    std::uint8_t eddbuf_entries;             // 0x1e9
    std::uint8_t edd_mbr_sig_buf_entries;    // 0x1ea
    std::uint8_t kbd_status;                 // 0x1eb
    std::uint8_t secure_boot;                // 0x1ec
    std::uint8_t _pad5[2];                   // 0x1ed
    std::uint8_t sentinel;                   // 0x1ef
    std::uint8_t _pad6[1];                   // 0x1f0
    SetupHeader hdr;                         // 0x1f1
    std::uint8_t _pad7[0x290 - 0x1f1 - sizeof(SetupHeader)];  // 0x26c
    ULe32 edd_mbr_sig_buffer[16];            // 0x290
    E820Entry e820_table[k_e820_max_entries_zeropage];  // 0x2d0
    std::uint8_t _pad8[48];                  // 0xcd0
    std::uint8_t eddbuf[6 * 82];             // 0xd00
    std::uint8_t _pad9[276];                 // 0xeec
};
static_assert(sizeof(BootParams) == 4096 && std::is_standard_layout_v<BootParams>);
static_assert(std::has_unique_object_representations_v<BootParams>);
static_assert(offsetof(BootParams, acpi_rsdp_addr) == 0x070);
static_assert(offsetof(BootParams, ext_cmd_line_ptr) == 0x0c8);
static_assert(offsetof(BootParams, cc_blob_address) == 0x13c);
static_assert(offsetof(BootParams, alt_mem_k) == 0x1e0);
static_assert(offsetof(BootParams, e820_entries) == 0x1e8);
static_assert(offsetof(BootParams, sentinel) == 0x1ef);
static_assert(offsetof(BootParams, hdr) == 0x1f1);
static_assert(offsetof(BootParams, edd_mbr_sig_buffer) == 0x290);
static_assert(offsetof(BootParams, e820_table) == 0x2d0);
static_assert(offsetof(BootParams, eddbuf) == 0xd00);

// Values moat puts in the header (boot.rst, fields "type_of_loader" and "heap_end_ptr").
inline constexpr std::uint8_t k_type_of_loader_undefined = 0xff;
inline constexpr std::uint16_t k_heap_end_ptr = 0xfe00;

// Builds the zero page for `k` (pure; exposed for tests). bzImage: the image's header with the
// loader's fields filled in. ELF: a minimal synthesized header (boot_flag, HdrS, the loader
// fields, cmd_line_ptr, cmdline_size, ramdisk_*) so a vmlinux entered at its 64-bit entry
// finds its command line and initrd; nothing else of a setup header.
BootParams make_boot_params(const LoadedKernel& k, std::optional<InitrdPlacement> initrd, std::uint64_t mem_bytes,
                            std::uint64_t rsdp_addr);

// The longest command line (without its NUL) the kernel accepts.
std::uint64_t max_cmdline_len(const LoadedKernel& k);

// Errors: InvalidInput "command line longer than the kernel's cmdline_size" (the limit is
// logged), or when the cmdline contains a NUL byte.
Result<void> check_cmdline(const LoadedKernel& k, std::string_view cmdline);

// Writes the NUL-terminated command line at layout::k_cmdline and the zero page at
// layout::k_zero_page. Errors: as check_cmdline; OutOfRange if the boot structures are not RAM.
Result<void> write_boot_params(const memory::GuestMemory& mem, const LoadedKernel& k, std::string_view cmdline,
                               std::optional<InitrdPlacement> initrd, std::uint64_t mem_bytes,
                               std::uint64_t rsdp_addr);

}  // namespace moat::boot
