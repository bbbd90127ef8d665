// Mapping constructors.
#include "base/mapping.hpp"

namespace moat::base {

Result<Mapping> Mapping::anonymous(std::size_t size)
{
    void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return fail_errno("mmap guest memory");
    return Mapping(p, size);
}

Result<Mapping> Mapping::shared(int fd, std::size_t size, int prot)
{
    void* p = ::mmap(nullptr, size, prot, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) return fail_errno("mmap");
    return Mapping(p, size);
}

}  // namespace moat::base
