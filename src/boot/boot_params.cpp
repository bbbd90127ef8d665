// Filling in the zero page and the command line (boot.rst "Details of Header Fields",
// "64-bit BOOT PROTOCOL"; zero-page.rst).
#include "boot/boot_params.hpp"

#include <algorithm>
#include <vector>

#include "base/log.hpp"
#include "boot/x86_64/layout.hpp"

namespace moat::boot {

namespace {

// A vmlinux carries no header; Firecracker-style loaders report CONFIG_PHYSICAL_ALIGN's default.
constexpr std::uint32_t k_elf_kernel_alignment = 0x1000000;

}  // namespace

std::uint64_t max_cmdline_len(const LoadedKernel& k)
{
    // The buffer at k_cmdline holds k_cmdline_max bytes including the NUL.
    std::uint64_t room = layout::k_cmdline_max - 1;
    if (k.header) return std::min<std::uint64_t>(k.header->cmdline_size.get(), room);
    return room;
}

BootParams make_boot_params(const LoadedKernel& k, std::optional<InitrdPlacement> initrd, std::uint64_t mem_bytes,
                            std::uint64_t rsdp_addr)
{
    BootParams bp{};
    SetupHeader& h = bp.hdr;
    if (k.header) {
        h = *k.header;
    } else {
        h.boot_flag.set(k_boot_flag);
        h.header.set(k_hdrs_magic);
        h.kernel_alignment.set(k_elf_kernel_alignment);
        h.cmdline_size.set(static_cast<std::uint32_t>(max_cmdline_len(k)));
    }
    h.type_of_loader = k_type_of_loader_undefined;
    // boot.rst: CAN_USE_HEAP tells the setup code heap_end_ptr is valid.
    h.loadflags = static_cast<std::uint8_t>(h.loadflags | k_can_use_heap);
    h.heap_end_ptr.set(k_heap_end_ptr);
    static_assert(layout::k_cmdline + layout::k_cmdline_max <= 0xffffffff);
    h.cmd_line_ptr.set(static_cast<std::uint32_t>(layout::k_cmdline));
    if (initrd) {
        // load_initrd places the initrd below 4 GiB, so the 32-bit fields suffice and the
        // ext_ramdisk_* high halves stay zero.
        h.ramdisk_image.set(static_cast<std::uint32_t>(initrd->addr));
        h.ramdisk_size.set(static_cast<std::uint32_t>(initrd->size));
    } else {
        h.ramdisk_image.set(0);
        h.ramdisk_size.set(0);
    }

    std::vector<E820Entry> map = e820_map(mem_bytes);
    MOAT_CHECK(map.size() <= k_e820_max_entries_zeropage);
    std::copy(map.begin(), map.end(), std::begin(bp.e820_table));
    bp.e820_entries = static_cast<std::uint8_t>(map.size());
    bp.acpi_rsdp_addr.set(rsdp_addr);
    return bp;
}

Result<void> check_cmdline(const LoadedKernel& k, std::string_view cmdline)
{
    std::uint64_t limit = max_cmdline_len(k);
    if (cmdline.size() > limit) {
        MOAT_LOG(Error, "command line is %zu bytes; the kernel accepts at most %llu (cmdline_size)",
                 cmdline.size(), static_cast<unsigned long long>(limit));
        return fail(Errc::InvalidInput, "command line longer than the kernel's cmdline_size");
    }
    if (cmdline.find('\0') != std::string_view::npos)
        return fail(Errc::InvalidInput, "command line contains a NUL byte");
    return {};
}

Result<void> write_boot_params(const memory::GuestMemory& mem, const LoadedKernel& k, std::string_view cmdline,
                               std::optional<InitrdPlacement> initrd, std::uint64_t mem_bytes,
                               std::uint64_t rsdp_addr)
{
    MOAT_TRY(check_cmdline(k, cmdline));
    if (initrd && (initrd->addr > 0xffffffff || initrd->size > 0xffffffff - initrd->addr))
        return fail(Errc::OutOfRange, "initrd must lie below 4 GiB");

    std::vector<std::byte> buf(cmdline.size() + 1, std::byte{0});
    std::transform(cmdline.begin(), cmdline.end(), buf.begin(),
                   [](char c) { return static_cast<std::byte>(c); });
    MOAT_TRY(mem.write(memory::GuestAddress(layout::k_cmdline), buf));

    BootParams bp = make_boot_params(k, initrd, mem_bytes, rsdp_addr);
    return mem.write_obj(memory::GuestAddress(layout::k_zero_page), bp);
}

}  // namespace moat::boot
