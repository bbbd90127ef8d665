// Kernel and initrd loading into guest memory (boot.rst "Loading The Rest of The Kernel").
#include "boot/kernel.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <vector>

#include "base/log.hpp"
#include "boot/elf.hpp"
#include "boot/x86_64/layout.hpp"

namespace moat::boot {

namespace {

constexpr std::uint64_t k_page = 4096;
constexpr std::uint64_t k_4g = 0x100000000;

Result<std::uint64_t> file_size_of(int fd)
{
    struct stat st {};
    if (::fstat(fd, &st) != 0) return fail_errno("fstat");
    if (st.st_size < 0) return fail(Errc::InvalidInput, "negative file size");
    return static_cast<std::uint64_t>(st.st_size);
}

Result<std::vector<std::byte>> read_head(int fd, std::uint64_t file_size)
{
    std::vector<std::byte> buf(static_cast<std::size_t>(std::min<std::uint64_t>(file_size, k_kernel_head_size)));
    std::size_t done = 0;
    while (done < buf.size()) {
        ssize_t n = ::pread(fd, std::span(buf).subspan(done).data(), buf.size() - done, static_cast<off_t>(done));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail_errno("read kernel image header");
        if (n == 0) return fail(Errc::InvalidInput, "kernel image shorter than its size");
        done += static_cast<std::size_t>(n);
    }
    return buf;
}

// Zeroes [addr, addr + len) of guest memory, which the caller has range-checked.
Result<void> zero_guest(const memory::GuestMemory& mem, std::uint64_t addr, std::uint64_t len)
{
    static constexpr std::array<std::byte, 4096> k_zeros{};
    auto slice = MOAT_TRY(mem.slice(memory::GuestAddress(addr), len));
    for (std::size_t off = 0; off < slice.size(); off += k_zeros.size()) {
        std::size_t n = std::min(k_zeros.size(), slice.size() - off);
        MOAT_TRY(slice.write(off, std::span(k_zeros).first(n)));
    }
    return {};
}

Result<LoadedKernel> load_bzimage(const memory::GuestMemory& mem, int fd, std::span<const std::byte> head,
                                  std::uint64_t file_size)
{
    SetupHeader h = MOAT_TRY(parse_bzimage(head, file_size));
    std::uint64_t setup = setup_size(h);
    std::uint64_t payload = file_size - setup;  // parse_bzimage: file_size > setup
    std::uint64_t need = std::max<std::uint64_t>(h.init_size.get(), payload);
    if (!mem.contains(memory::GuestAddress(layout::k_high_memory), need))
        return fail(Errc::NoSpace, "guest memory too small for the kernel (1 MiB + init_size)");
    MOAT_TRY(mem.read_from_file(fd, setup, memory::GuestAddress(layout::k_high_memory), payload));
    // Kernels older than protocol 2.12 (or built without the 64-bit entry) start at the
    // protected-mode kernel's first byte in 32-bit protected mode, paging off.
    if (!has_64bit_entry(h))
        return LoadedKernel{KernelFormat::BzImage, layout::k_high_memory, layout::k_high_memory + need, h,
                            EntryMode::Protected32};
    return LoadedKernel{KernelFormat::BzImage, layout::k_high_memory + k_entry_64_offset,
                        layout::k_high_memory + need, h, EntryMode::Long64};
}

Result<LoadedKernel> load_elf(const memory::GuestMemory& mem, int fd, std::span<const std::byte> head,
                              std::uint64_t file_size)
{
    ElfImage img = MOAT_TRY(parse_elf(head, file_size));
    // Check every segment before writing any, so a rejected image leaves memory untouched.
    std::uint64_t end = 0;
    for (const auto& s : img.segments) {
        if (s.paddr < layout::k_high_memory)
            return fail(Errc::OutOfRange, "ELF segment below 1 MiB would overwrite the boot structures");
        if (!mem.contains(memory::GuestAddress(s.paddr), s.mem_size))
            return fail(Errc::OutOfRange, "ELF segment outside guest RAM");
        end = std::max(end, s.paddr + s.mem_size);  // parse_elf: does not wrap
    }
    if (!mem.contains(memory::GuestAddress(img.entry), 1))
        return fail(Errc::OutOfRange, "ELF entry point outside guest RAM");
    for (const auto& s : img.segments) {
        if (s.file_size > 0) MOAT_TRY(mem.read_from_file(fd, s.file_offset, memory::GuestAddress(s.paddr), s.file_size));
        if (s.mem_size > s.file_size)
            MOAT_TRY(zero_guest(mem, s.paddr + s.file_size, s.mem_size - s.file_size));
    }
    return LoadedKernel{KernelFormat::Elf, img.entry, end, std::nullopt};
}

// boot.rst: the "HdrS" magic at 0x202 marks a bzImage.
bool has_hdrs(std::span<const std::byte> head)
{
    constexpr std::size_t at = 0x202;
    if (head.size() < at + 4) return false;
    return std::memcmp(head.subspan(at, 4).data(), "HdrS", 4) == 0;
}

}  // namespace

Result<LoadedKernel> load_kernel(const memory::GuestMemory& mem, int fd)
{
    std::uint64_t size = MOAT_TRY(file_size_of(fd));
    if (size == 0) return fail(Errc::InvalidInput, "kernel image is empty");
    std::vector<std::byte> head = MOAT_TRY(read_head(fd, size));
    if (is_elf(head)) return load_elf(mem, fd, head, size);
    if (has_hdrs(head)) return load_bzimage(mem, fd, head, size);
    return fail(Errc::InvalidInput, "kernel image is neither a bzImage (no HdrS) nor an ELF file");
}

Result<InitrdPlacement> load_initrd(const memory::GuestMemory& mem, int fd, const LoadedKernel& k,
                                    std::uint64_t ram_end_below_4g)
{
    std::uint64_t size = MOAT_TRY(file_size_of(fd));
    if (size == 0) return fail(Errc::InvalidInput, "initrd is empty");

    // boot.rst: initrd_addr_max is the highest address the initrd may occupy (inclusive).
    std::uint64_t limit = std::min(ram_end_below_4g, k_4g);
    if (k.header) limit = std::min(limit, std::uint64_t{k.header->initrd_addr_max.get()} + 1);
    if (size > limit) return fail(Errc::NoSpace, "initrd too large for guest memory");
    std::uint64_t addr = (limit - size) & ~(k_page - 1);
    if (addr < k.end || addr < layout::k_high_memory) {
        MOAT_LOG(Error, "initrd of %llu bytes does not fit between the kernel end %#llx and %#llx",
                 static_cast<unsigned long long>(size), static_cast<unsigned long long>(k.end),
                 static_cast<unsigned long long>(limit));
        return fail(Errc::NoSpace, "initrd too large for guest memory");
    }
    MOAT_TRY(mem.read_from_file(fd, 0, memory::GuestAddress(addr), size));
    return InitrdPlacement{addr, size};
}

}  // namespace moat::boot
