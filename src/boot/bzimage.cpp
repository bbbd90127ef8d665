// Validation of the bzImage setup header (Documentation/arch/x86/boot.rst).
#include "boot/bzimage.hpp"

#include <algorithm>
#include <cstring>

#include "boot/x86_64/layout.hpp"

namespace moat::boot {

namespace {

// The largest alignment a sane kernel asks for (CONFIG_PHYSICAL_ALIGN is at most 16 MiB).
constexpr std::uint32_t k_max_kernel_alignment = 1u << 30;
// The kernel runs from 1 MiB and must fit below the 32-bit MMIO gap.
constexpr std::uint64_t k_max_init_size = layout::k_mmio_gap_start - layout::k_high_memory;
// build.c rounds syssize up to 16-byte paragraphs; the file may end up to 15 bytes short.
constexpr std::uint64_t k_paragraph = 16;

}  // namespace

std::uint64_t setup_size(const SetupHeader& h)
{
    std::uint64_t sects = h.setup_sects == 0 ? k_default_setup_sects : h.setup_sects;
    return (sects + 1) * k_sector_size;
}

Result<SetupHeader> parse_bzimage(std::span<const std::byte> head, std::uint64_t file_size)
{
    if (head.size() > file_size) return fail(Errc::InvalidInput, "bzImage head larger than the file");
    if (head.size() < k_setup_header_end)
        return fail(Errc::InvalidInput, "bzImage too short for a setup header");

    SetupHeader h;
    std::memcpy(&h, head.subspan(k_setup_header_offset, sizeof(SetupHeader)).data(), sizeof(SetupHeader));

    if (h.boot_flag.get() != k_boot_flag) return fail(Errc::InvalidInput, "bzImage boot_flag is not 0xAA55");
    if (h.header.get() != k_hdrs_magic) return fail(Errc::InvalidInput, "bzImage has no HdrS signature");
    if (h.version.get() < k_min_protocol)
        return fail(Errc::Unsupported, "bzImage boot protocol older than 2.06");

    // boot.rst: the header ends at 0x202 + the byte at 0x201; later fields are not header.
    std::uint64_t declared_end = 0x202 + static_cast<std::uint64_t>(h.jump.get() >> 8);
    if (declared_end < k_setup_header_offset + offsetof(SetupHeader, cmdline_size) + sizeof(h.cmdline_size))
        return fail(Errc::InvalidInput, "bzImage setup header shorter than protocol 2.06 requires");
    if (declared_end < k_setup_header_end) {
        std::size_t keep = static_cast<std::size_t>(declared_end - k_setup_header_offset);
        auto bytes = std::as_writable_bytes(std::span(&h, 1));
        std::fill(bytes.begin() + static_cast<std::ptrdiff_t>(keep), bytes.end(), std::byte{0});
    }

    std::uint64_t setup = setup_size(h);
    if (file_size <= setup) return fail(Errc::InvalidInput, "bzImage has no protected-mode part");
    std::uint64_t payload = file_size - setup;
    std::uint64_t declared = static_cast<std::uint64_t>(h.syssize.get()) * k_paragraph;
    if (declared > payload + (k_paragraph - 1))
        return fail(Errc::InvalidInput, "bzImage protected-mode part truncated (shorter than syssize)");

    if (!(h.loadflags & k_loaded_high))
        return fail(Errc::Unsupported, "kernel does not load high (LOADED_HIGH clear; zImage)");

    std::uint32_t align = h.kernel_alignment.get();
    if (align == 0 || (align & (align - 1)) != 0 || align > k_max_kernel_alignment)
        return fail(Errc::InvalidInput, "bzImage kernel_alignment is not a sane power of two");
    if (h.init_size.get() == 0) return fail(Errc::InvalidInput, "bzImage init_size is zero");
    if (h.init_size.get() > k_max_init_size)
        return fail(Errc::InvalidInput, "bzImage init_size does not fit below the MMIO gap");
    return h;
}

bool has_64bit_entry(const SetupHeader& h)
{
    // xloadflags exists from 2.12; before that the field is padding.
    return h.version.get() >= 0x20c && (h.xloadflags.get() & k_xlf_kernel_64);
}

}  // namespace moat::boot
