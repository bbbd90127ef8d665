// libFuzzer target: parse_bzimage over arbitrary bytes. The input is the start of an image;
// its last byte stretches the claimed file size so truncation checks see both sides.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>

#include "boot/bzimage.hpp"
#include "boot/x86_64/layout.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    auto bytes = std::as_bytes(std::span(data, size));
    auto head = bytes.first(std::min<std::size_t>(size, 64 * 1024));
    std::uint64_t file_size = size;
    if (size > 0) file_size += std::uint64_t{data[size - 1]} * 4096;  // a longer file than the input
    auto r = moat::boot::parse_bzimage(head, file_size);
    if (r.has_value()) {
        // Invariants the loader relies on.
        MOAT_CHECK(r->boot_flag.get() == moat::boot::k_boot_flag);
        MOAT_CHECK(r->header.get() == moat::boot::k_hdrs_magic);
        MOAT_CHECK(r->version.get() >= moat::boot::k_min_protocol);
        MOAT_CHECK(r->loadflags & moat::boot::k_loaded_high);
        // Either entry is fine (64-bit, or 32-bit for kernels without XLF_KERNEL_64), but the
        // 64-bit one is only taken when the protocol has the xloadflags field.
        MOAT_CHECK(!moat::boot::has_64bit_entry(*r) || r->version.get() >= 0x20c);
        MOAT_CHECK(file_size > moat::boot::setup_size(*r));
        MOAT_CHECK(r->init_size.get() != 0);
        MOAT_CHECK(r->init_size.get() <= moat::boot::layout::k_mmio_gap_start);
    }
    return 0;
}
