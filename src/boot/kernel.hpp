// Puts a kernel (bzImage or ELF) and an initrd into guest memory.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "base/result.hpp"
#include "boot/bzimage.hpp"
#include "memory/guest_memory.hpp"

namespace moat::boot {

enum class KernelFormat : std::uint8_t { BzImage, Elf };

// How the boot vCPU enters the kernel (boot.rst "32-bit BOOT PROTOCOL" / "64-bit BOOT PROTOCOL").
enum class EntryMode { Long64, Protected32 };

struct LoadedKernel {
    KernelFormat format;
    std::uint64_t entry;  // guest-physical entry point
    std::uint64_t end;    // first byte above everything the kernel may use (incl. init_size)
    std::optional<SetupHeader> header;  // bzImage only: the validated setup header
    EntryMode mode = EntryMode::Long64;
};

// How much of the image is read to detect and parse the format.
inline constexpr std::size_t k_kernel_head_size = 64 * 1024;

// Loads the kernel in `fd` (read with pread; the offset is not used). The format is detected
// by magic. bzImage: the protected-mode part goes to layout::k_high_memory, the entry is the
// 64-bit one at +0x200, and 1 MiB + max(init_size, payload) must be RAM (else NoSpace).
// ELF: each PT_LOAD goes to its p_paddr, which must be RAM at or above 1 MiB (below are the
// boot structures); bss is zeroed; the entry is e_entry and must be RAM.
// Errors: InvalidInput "kernel image is empty" for an empty file, and as in parse_bzimage /
// parse_elf; Io for host read failures.
Result<LoadedKernel> load_kernel(const memory::GuestMemory& mem, int fd);

// Checks the kernel in `fd` as load_kernel would for guest RAM made of `ram` (ram_regions), from
// the image's headers alone: nothing is copied and no guest memory exists yet. The same result
// and errors as load_kernel, but for host read failures while copying.
Result<LoadedKernel> check_kernel(std::span<const memory::GuestMemory::RegionSpec> ram, int fd);

struct InitrdPlacement {
    std::uint64_t addr;
    std::uint64_t size;
};

// Loads the initrd in `fd` at the highest page-aligned address such that it ends below
// min(initrd_addr_max + 1 (bzImage) or 4 GiB, ram_end_below_4g) and starts at or above k.end.
// Errors: NoSpace "initrd too large for guest memory"; InvalidInput for an empty file.
Result<InitrdPlacement> load_initrd(const memory::GuestMemory& mem, int fd, const LoadedKernel& k,
                                    std::uint64_t ram_end_below_4g);

// Where load_initrd puts an initrd of `size` bytes: its checks and errors, without copying.
Result<InitrdPlacement> place_initrd(std::uint64_t size, const LoadedKernel& k, std::uint64_t ram_end_below_4g);

}  // namespace moat::boot
