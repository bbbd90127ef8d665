// A freestanding ELF64 x86-64 executable (or a vmlinux): validation of its loadable segments.
// System V ABI gABI "ELF Header" / "Program Header", AMD64 psABI §4.1.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "base/result.hpp"

namespace moat::boot {

struct Segment {
    std::uint64_t file_offset;
    std::uint64_t file_size;
    std::uint64_t mem_size;   // >= file_size; the tail is zeroed (bss)
    std::uint64_t paddr;      // p_paddr: where it goes in guest-physical memory
};

struct ElfImage {
    std::uint64_t entry;      // e_entry, a guest-physical address
    std::vector<Segment> segments;  // PT_LOAD only, in file order
};

// Parses the ELF header and program headers. `head` is the first (up to 64 KiB) bytes of the
// file and must contain the program header table; `file_size` is the whole file's size. Pure.
// Every segment lies inside the file, has filesz <= memsz and an address range that does not
// wrap. Errors: InvalidInput for malformed files, Unsupported for a well-formed ELF that is
// not a little-endian 64-bit x86-64 ET_EXEC.
Result<ElfImage> parse_elf(std::span<const std::byte> head, std::uint64_t file_size);

// True if `head` starts with the ELF magic.
bool is_elf(std::span<const std::byte> head);

}  // namespace moat::boot
