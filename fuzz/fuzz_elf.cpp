// libFuzzer target: parse_elf over arbitrary bytes. The input is the start of the file; its
// last byte stretches the claimed file size so segment bounds checks see both sides.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>

#include "boot/elf.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    auto bytes = std::as_bytes(std::span(data, size));
    auto head = bytes.first(std::min<std::size_t>(size, 64 * 1024));
    std::uint64_t file_size = size;
    if (size > 0) file_size += std::uint64_t{data[size - 1]} * 4096;
    auto r = moat::boot::parse_elf(head, file_size);
    if (r.has_value()) {
        MOAT_CHECK(!r->segments.empty());
        for (const auto& s : r->segments) {
            // Invariants the loader relies on: inside the file, no wrap, bss not negative.
            MOAT_CHECK(s.file_size <= s.mem_size);
            MOAT_CHECK(s.file_offset <= file_size && s.file_size <= file_size - s.file_offset);
            MOAT_CHECK(s.paddr + s.mem_size >= s.paddr);
        }
    }
    return 0;
}
