// The guest's RAM layout: the regions backing guest memory and the e820 map that reports them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "base/le.hpp"
#include "memory/guest_memory.hpp"

namespace moat::boot {

// struct boot_e820_entry, arch/x86/include/uapi/asm/bootparam.h (packed, 20 bytes).
struct E820Entry {
    ULe64 addr;  // 0x00
    ULe64 size;  // 0x08
    ULe32 type;  // 0x10
};
static_assert(sizeof(E820Entry) == 20 && std::is_standard_layout_v<E820Entry>);
static_assert(offsetof(E820Entry, size) == 8 && offsetof(E820Entry, type) == 16);

// e820 types (ACPI 6.5 §15.1, "Address Range Types").
inline constexpr std::uint32_t k_e820_ram = 1;
inline constexpr std::uint32_t k_e820_reserved = 2;

// RAM regions for `mem_bytes` of guest RAM: [0, min(mem, MMIO gap start)), then the rest at
// [4 GiB, 4 GiB + rest). `mem_bytes` must be page-aligned for GuestMemory::create.
std::vector<memory::GuestMemory::RegionSpec> ram_regions(std::uint64_t mem_bytes);

// The end of RAM below 4 GiB: min(mem_bytes, MMIO gap start).
std::uint64_t low_ram_end(std::uint64_t mem_bytes);

// The e820 map for ram_regions(mem_bytes): RAM [0, EBDA), reserved [EBDA, 1 MiB) (the ACPI
// tables live there), RAM [1 MiB, low end), and RAM above 4 GiB when memory exceeds the gap.
std::vector<E820Entry> e820_map(std::uint64_t mem_bytes);

}  // namespace moat::boot
