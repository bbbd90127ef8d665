// The sizes of VM that moat builds: checked where a VM is described (`moat run`, `moat policy
// check`, the monitor's start) and again when a launch message is sent or received, always
// by these functions.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/result.hpp"

namespace moat::protocol {

inline constexpr std::uint64_t k_min_vm_memory = 16ull << 20;  // below this no useful guest fits
inline constexpr std::uint64_t k_max_vm_memory = 1ull << 40;   // 1T: a sanity bound, not host RAM
inline constexpr std::uint32_t k_max_vcpus = 255;              // xAPIC ids 0..254 (255 broadcasts)
// What a VM process in a system writes of its guest's console to the terminal and its log file
// (README, "Console output"); past it, bytes are dropped and counted (vmm/console.hpp).
inline constexpr std::uint64_t k_console_budget = 8ull << 20;
inline constexpr std::uint64_t k_max_console_budget = 1ull << 40;
// Network interfaces (virtio-net devices) of one VM.
inline constexpr std::size_t k_max_launch_nets = 8;

// Errc::OutOfRange with "below the minimum of 16M" or "above the maximum of 1T"; the caller
// names the input.
Result<void> check_memory(std::uint64_t bytes);
// Errc::OutOfRange with "a VM needs at least one vCPU" or "above moat's limit of 255 (8-bit
// APIC ids)".
Result<void> check_cpus(std::uint64_t cpus);

// Errc::OutOfRange, "more than this host's 24032M of RAM", when a VM of `bytes` could never
// fit on this host (sysconf(_SC_PHYS_PAGES)).
Result<void> check_host_memory(std::uint64_t bytes);

// A jailed VM process runs as uid and gid base + its pid (src/jail/jail.hpp). The default base
// is unused on hosts that follow systemd's assignments (0x70000000-0x7fffffff is left free).
inline constexpr std::uint32_t k_default_uid_base = 0x70000000;
// Pids stay below PID_MAX_LIMIT (2^22), so a base covers this many ids.
inline constexpr std::uint32_t k_uid_span = std::uint32_t{1} << 22;
// Errc::OutOfRange unless every id of the span lies above the ordinary users' and systemd's
// dynamic ranges (65536 and up) and below 2^31 (tools that read ids as signed get them wrong).
Result<void> check_uid_base(std::uint64_t base);

// A guest's vsock context ID (virtio 1.2 §5.10.4): 3 and up (0-2 are reserved, 2 is the host),
// below 2^32 - 1 (VMADDR_CID_ANY). Errc::OutOfRange otherwise.
Result<void> check_cid(std::uint64_t cid);

// Guest RAM is mapped in whole pages: a size rounded up to 4 KiB (a checked size cannot wrap).
constexpr std::uint64_t round_memory(std::uint64_t bytes) { return (bytes + 0xfff) & ~std::uint64_t{0xfff}; }

}  // namespace moat::protocol
