// Mapping constructors.
#include "base/mapping.hpp"

#include <cstdint>

namespace moat::base {

Result<Mapping> Mapping::anonymous(std::size_t size)
{
    // Large regions are aligned to 2 MiB and marked for transparent huge pages: a guest then
    // takes one nested-paging fault per 2 MiB it touches instead of one per 4 KiB. Nothing is
    // touched here; pages still arrive only when the guest uses them.
    constexpr std::size_t k_huge = std::size_t{2} << 20;
    const bool huge = size >= k_huge && size % k_huge == 0;
    const std::size_t reserve = huge ? size + k_huge : size;
    void* p = ::mmap(nullptr, reserve, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return fail_errno("mmap guest memory");
    if (!huge) return Mapping(p, size);
    const auto start = reinterpret_cast<std::uintptr_t>(p);
    const std::uintptr_t aligned = (start + k_huge - 1) & ~(k_huge - 1);
    // SAFETY: [start, start + reserve) is ours; the head and tail around the aligned window go back.
    if (aligned > start) ::munmap(p, aligned - start);
    if (const std::uintptr_t tail = start + reserve - (aligned + size); tail > 0)
        ::munmap(reinterpret_cast<void*>(aligned + size), tail);
    void* a = reinterpret_cast<void*>(aligned);
    ::madvise(a, size, MADV_HUGEPAGE);  // advisory: without THP the mapping works as before
    return Mapping(a, size);
}

Result<Mapping> Mapping::shared(int fd, std::size_t size, int prot)
{
    void* p = ::mmap(nullptr, size, prot, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) return fail_errno("mmap");
    return Mapping(p, size);
}

}  // namespace moat::base
