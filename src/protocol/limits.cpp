// The sizes of VM that moat builds (see limits.hpp).
#include "protocol/limits.hpp"

#include <unistd.h>

#include <string>

namespace moat::protocol {

Result<void> check_memory(std::uint64_t bytes)
{
    if (bytes < k_min_vm_memory) return fail(Errc::OutOfRange, "below the minimum of 16M");
    if (bytes > k_max_vm_memory) return fail(Errc::OutOfRange, "above the maximum of 1T");
    return {};
}

Result<void> check_cpus(std::uint64_t cpus)
{
    if (cpus == 0) return fail(Errc::OutOfRange, "a VM needs at least one vCPU");
    if (cpus > k_max_vcpus) return fail(Errc::OutOfRange, "above moat's limit of 255 (8-bit APIC ids)");
    return {};
}

Result<void> check_uid_base(std::uint64_t base)
{
    if (base < 65536 || base + k_uid_span > (std::uint64_t{1} << 31))
        return fail(Errc::OutOfRange, "the ids base .. base+4194303 must lie within 65536 .. 2147483647");
    return {};
}

Result<void> check_cid(std::uint64_t cid)
{
    if (cid < 3 || cid >= 0xffffffff) return fail(Errc::OutOfRange, "a vsock CID must be 3 to 4294967294");
    return {};
}

Result<void> check_host_memory(std::uint64_t bytes)
{
    const std::uint64_t host =
        static_cast<std::uint64_t>(::sysconf(_SC_PHYS_PAGES)) * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
    if (bytes <= host) return {};
    return fail_with(Errc::OutOfRange, "more than this host's " + std::to_string(host >> 20) + "M of RAM");
}

}  // namespace moat::protocol
