// Guest RAM regions and the e820 map describing them.
#include "boot/memory_map.hpp"

#include <algorithm>

#include "boot/x86_64/layout.hpp"

namespace moat::boot {

namespace {

E820Entry entry(std::uint64_t addr, std::uint64_t size, std::uint32_t type)
{
    return E820Entry{ULe64::from(addr), ULe64::from(size), ULe32::from(type)};
}

}  // namespace

std::uint64_t low_ram_end(std::uint64_t mem_bytes) { return std::min(mem_bytes, layout::k_mmio_gap_start); }

std::vector<memory::GuestMemory::RegionSpec> ram_regions(std::uint64_t mem_bytes)
{
    std::vector<memory::GuestMemory::RegionSpec> out;
    std::uint64_t low = low_ram_end(mem_bytes);
    if (low > 0) out.push_back({memory::GuestAddress(0), low});
    if (mem_bytes > low) out.push_back({memory::GuestAddress(layout::k_mmio_gap_end), mem_bytes - low});
    return out;
}

std::vector<E820Entry> e820_map(std::uint64_t mem_bytes)
{
    std::vector<E820Entry> out;
    std::uint64_t low = low_ram_end(mem_bytes);
    out.push_back(entry(0, std::min(low, layout::k_ebda), k_e820_ram));
    out.push_back(entry(layout::k_ebda, layout::k_high_memory - layout::k_ebda, k_e820_reserved));
    if (low > layout::k_high_memory)
        out.push_back(entry(layout::k_high_memory, low - layout::k_high_memory, k_e820_ram));
    if (mem_bytes > low) out.push_back(entry(layout::k_mmio_gap_end, mem_bytes - low, k_e820_ram));
    return out;
}

}  // namespace moat::boot
