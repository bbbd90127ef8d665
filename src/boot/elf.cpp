// ELF64 header and program header validation (gABI "ELF Header", "Program Header").
#include "boot/elf.hpp"

#include <elf.h>

#include <cstring>

namespace moat::boot {

namespace {

template <typename T>
T copy_out(std::span<const std::byte> bytes)
{
    T v;
    std::memcpy(&v, bytes.data(), sizeof(T));
    return v;
}

}  // namespace

bool is_elf(std::span<const std::byte> head)
{
    return head.size() >= SELFMAG && std::memcmp(head.data(), ELFMAG, SELFMAG) == 0;
}

Result<ElfImage> parse_elf(std::span<const std::byte> head, std::uint64_t file_size)
{
    if (head.size() > file_size) return fail(Errc::InvalidInput, "ELF head larger than the file");
    if (!is_elf(head)) return fail(Errc::InvalidInput, "not an ELF file (bad magic)");
    if (head.size() < sizeof(Elf64_Ehdr)) return fail(Errc::InvalidInput, "ELF header truncated");
    auto eh = copy_out<Elf64_Ehdr>(head);

    if (eh.e_ident[EI_CLASS] != ELFCLASS64) return fail(Errc::Unsupported, "ELF is not 64-bit (ELFCLASS64)");
    if (eh.e_ident[EI_DATA] != ELFDATA2LSB) return fail(Errc::Unsupported, "ELF is not little-endian");
    if (eh.e_ident[EI_VERSION] != EV_CURRENT || eh.e_version != EV_CURRENT)
        return fail(Errc::InvalidInput, "ELF version is not EV_CURRENT");
    if (eh.e_machine != EM_X86_64) return fail(Errc::Unsupported, "ELF machine is not x86-64");
    if (eh.e_type != ET_EXEC) return fail(Errc::Unsupported, "ELF is not an executable (ET_EXEC)");
    if (eh.e_phentsize != sizeof(Elf64_Phdr)) return fail(Errc::InvalidInput, "ELF e_phentsize is not 56");

    // The table must lie inside `head`: phnum <= 0xffff and phentsize is 56, so no overflow in
    // the product; the sum is checked.
    std::uint64_t table = std::uint64_t{eh.e_phnum} * sizeof(Elf64_Phdr);
    std::uint64_t table_end;
    if (__builtin_add_overflow(eh.e_phoff, table, &table_end) || table_end > head.size())
        return fail(Errc::InvalidInput, "ELF program headers outside the file head");

    ElfImage img{eh.e_entry, {}};
    for (std::size_t i = 0; i < eh.e_phnum; ++i) {
        auto ph = copy_out<Elf64_Phdr>(
            head.subspan(static_cast<std::size_t>(eh.e_phoff) + i * sizeof(Elf64_Phdr), sizeof(Elf64_Phdr)));
        if (ph.p_type != PT_LOAD) continue;
        std::uint64_t file_end;
        if (__builtin_add_overflow(ph.p_offset, ph.p_filesz, &file_end))
            return fail(Errc::InvalidInput, "ELF segment file range overflows");
        if (file_end > file_size) return fail(Errc::InvalidInput, "ELF segment outside the file");
        if (ph.p_filesz > ph.p_memsz) return fail(Errc::InvalidInput, "ELF segment filesz exceeds memsz");
        std::uint64_t mem_end;
        if (__builtin_add_overflow(ph.p_paddr, ph.p_memsz, &mem_end))
            return fail(Errc::InvalidInput, "ELF segment address range overflows");
        if (ph.p_memsz == 0) continue;
        img.segments.push_back(Segment{ph.p_offset, ph.p_filesz, ph.p_memsz, ph.p_paddr});
    }
    if (img.segments.empty()) return fail(Errc::InvalidInput, "ELF has no loadable (PT_LOAD) segment");
    return img;
}

}  // namespace moat::boot
