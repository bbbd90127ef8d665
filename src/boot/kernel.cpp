// Kernel and initrd loading into guest memory (boot.rst "Loading The Rest of The Kernel").
#include "boot/kernel.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <vector>

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

// Where a kernel goes and what is copied there: decided from the image's headers alone.
struct KernelPlan {
    LoadedKernel kernel;
    std::vector<Segment> copies;  // file ranges to their guest addresses; mem_size > file_size: zeroed
};

// The guest RAM a kernel is checked against: guest memory itself (loading), or the regions it
// will have (checking before any memory exists). Both answer alike.
class Ram final {
public:
    explicit Ram(const memory::GuestMemory& mem) : m_mem(&mem) {}
    explicit Ram(std::span<const memory::GuestMemory::RegionSpec> regions) : m_regions(regions) {}

    // True if [addr, addr + len) lies inside one region (as GuestMemory::contains).
    bool contains(std::uint64_t addr, std::uint64_t len) const
    {
        if (m_mem) return m_mem->contains(memory::GuestAddress(addr), len);
        for (const auto& r : m_regions) {
            if (addr < r.start.raw() || addr - r.start.raw() >= r.size) continue;
            return len <= r.size - (addr - r.start.raw());
        }
        return false;
    }

private:
    const memory::GuestMemory* m_mem = nullptr;
    std::span<const memory::GuestMemory::RegionSpec> m_regions;
};

Result<KernelPlan> plan_bzimage(const Ram& ram, std::span<const std::byte> head, std::uint64_t file_size)
{
    SetupHeader h = MOAT_TRY(parse_bzimage(head, file_size));
    std::uint64_t setup = setup_size(h);
    std::uint64_t payload = file_size - setup;  // parse_bzimage: file_size > setup
    std::uint64_t need = std::max<std::uint64_t>(h.init_size.get(), payload);
    if (!ram.contains(layout::k_high_memory, need))
        return fail(Errc::NoSpace, "guest memory too small for the kernel (1 MiB + init_size)");
    std::vector<Segment> copies{{setup, payload, payload, layout::k_high_memory}};
    // Kernels older than protocol 2.12 (or built without the 64-bit entry) start at the
    // protected-mode kernel's first byte in 32-bit protected mode, paging off.
    if (!has_64bit_entry(h))
        return KernelPlan{{KernelFormat::BzImage, layout::k_high_memory, layout::k_high_memory + need, h,
                           EntryMode::Protected32},
                          std::move(copies)};
    return KernelPlan{{KernelFormat::BzImage, layout::k_high_memory + k_entry_64_offset,
                       layout::k_high_memory + need, h, EntryMode::Long64},
                      std::move(copies)};
}

Result<KernelPlan> plan_elf(const Ram& ram, std::span<const std::byte> head, std::uint64_t file_size)
{
    ElfImage img = MOAT_TRY(parse_elf(head, file_size));
    // Every segment is checked before any is written, so a rejected image leaves memory untouched.
    std::uint64_t end = 0;
    for (const auto& s : img.segments) {
        if (s.paddr < layout::k_high_memory)
            return fail(Errc::OutOfRange, "ELF segment below 1 MiB would overwrite the boot structures");
        if (!ram.contains(s.paddr, s.mem_size)) return fail(Errc::OutOfRange, "ELF segment outside guest RAM");
        end = std::max(end, s.paddr + s.mem_size);  // parse_elf: does not wrap
    }
    if (!ram.contains(img.entry, 1)) return fail(Errc::OutOfRange, "ELF entry point outside guest RAM");
    return KernelPlan{{KernelFormat::Elf, img.entry, end, std::nullopt}, std::move(img.segments)};
}

// boot.rst: the "HdrS" magic at 0x202 marks a bzImage.
bool has_hdrs(std::span<const std::byte> head)
{
    constexpr std::size_t at = 0x202;
    if (head.size() < at + 4) return false;
    return std::memcmp(head.subspan(at, 4).data(), "HdrS", 4) == 0;
}

Result<KernelPlan> plan_kernel(const Ram& ram, int fd)
{
    std::uint64_t size = MOAT_TRY(file_size_of(fd));
    if (size == 0) return fail(Errc::InvalidInput, "kernel image is empty");
    std::vector<std::byte> head = MOAT_TRY(read_head(fd, size));
    if (is_elf(head)) return plan_elf(ram, head, size);
    if (has_hdrs(head)) return plan_bzimage(ram, head, size);
    return fail(Errc::InvalidInput, "kernel image is neither a bzImage (no HdrS) nor an ELF file");
}

}  // namespace

Result<LoadedKernel> load_kernel(const memory::GuestMemory& mem, int fd)
{
    KernelPlan plan = MOAT_TRY(plan_kernel(Ram(mem), fd));
    for (const auto& c : plan.copies) {
        if (c.file_size > 0) MOAT_TRY(mem.read_from_file(fd, c.file_offset, memory::GuestAddress(c.paddr), c.file_size));
        if (c.mem_size > c.file_size) MOAT_TRY(zero_guest(mem, c.paddr + c.file_size, c.mem_size - c.file_size));
    }
    return plan.kernel;
}

Result<LoadedKernel> check_kernel(std::span<const memory::GuestMemory::RegionSpec> ram, int fd)
{
    KernelPlan plan = MOAT_TRY(plan_kernel(Ram(ram), fd));
    return plan.kernel;
}

Result<InitrdPlacement> place_initrd(std::uint64_t size, const LoadedKernel& k, std::uint64_t ram_end_below_4g)
{
    if (size == 0) return fail(Errc::InvalidInput, "initrd is empty");
    // boot.rst: initrd_addr_max is the highest address the initrd may occupy (inclusive).
    std::uint64_t limit = std::min(ram_end_below_4g, k_4g);
    if (k.header) limit = std::min(limit, std::uint64_t{k.header->initrd_addr_max.get()} + 1);
    if (size > limit) return fail(Errc::NoSpace, "initrd too large for guest memory");
    std::uint64_t addr = (limit - size) & ~(k_page - 1);
    if (addr < k.end || addr < layout::k_high_memory) return fail(Errc::NoSpace, "initrd too large for guest memory");
    return InitrdPlacement{addr, size};
}

Result<InitrdPlacement> load_initrd(const memory::GuestMemory& mem, int fd, const LoadedKernel& k,
                                    std::uint64_t ram_end_below_4g)
{
    std::uint64_t size = MOAT_TRY(file_size_of(fd));
    InitrdPlacement p = MOAT_TRY(place_initrd(size, k, ram_end_below_4g));
    MOAT_TRY(mem.read_from_file(fd, 0, memory::GuestAddress(p.addr), p.size));
    return p;
}

}  // namespace moat::boot
