// A cgroup (v2) per VM process: /sys/fs/cgroup/moat/NAME with memory.max (guest memory plus a
// stated overhead), pids.max (its threads) and cpu.weight. Where cgroup v2 is not mounted there,
// or does not offer the memory, pids and cpu controllers, VMs run without: whoever starts them
// says so once (a monitor for its system, `moat-vmm` for `moat run`).
#pragma once

#include <cstdint>
#include <string>

#include "base/result.hpp"
#include "base/unique_fd.hpp"
#include "jail/cgroup_check.hpp"

namespace moat::jail {

// What a VM process holds beyond guest memory: its own pages (about 1 MiB measured, see
// bench/README.md) and the kernel's for KVM (page tables, vCPU state), with room to spare.
// Sanitizer builds (`make asan`) hold far more: AddressSanitizer's shadow of what is touched and
// its quarantine of freed blocks (256 MiB by default) count too.
#if MOAT_SANITIZER_RUNTIME
inline constexpr std::uint64_t k_memory_overhead = std::uint64_t{1024} << 20;
#else
inline constexpr std::uint64_t k_memory_overhead = std::uint64_t{64} << 20;
#endif

struct CgroupLimits {
    std::uint64_t memory_max = 0;
    std::uint32_t pids_max = 0;
    std::uint32_t cpu_weight = 100;  // cgroup v2's default: every VM the same share
};

// Creates the cgroup LEAF under k_cgroup_root/moat with `limits` (removing the empty ones VMs
// before it left) and returns its cgroup.procs, open for writing: the VM process writes "0" to
// it to move in.
Result<base::UniqueFd> create_cgroup(const std::string& leaf, const CgroupLimits& limits);

}  // namespace moat::jail
