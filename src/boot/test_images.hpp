// Test-only builders for synthetic bzImage and ELF images, and memfd-backed files.
#pragma once

#include <elf.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "base/unique_fd.hpp"
#include "boot/bzimage.hpp"

namespace moat::boot::test_images {

struct BzImageSpec {
    std::uint8_t setup_sects = 4;
    std::uint16_t version = 0x20f;
    std::uint8_t loadflags = k_loaded_high;
    std::uint16_t xloadflags = k_xlf_kernel_64 | k_xlf_can_be_loaded_above_4g;
    std::uint32_t payload = 0x3000;  // protected-mode bytes
    std::uint32_t init_size = 0x10000;
    std::uint32_t kernel_alignment = 0x200000;
    std::uint32_t initrd_addr_max = 0x7fffffff;
    std::uint32_t cmdline_size = 2047;
};

inline SetupHeader make_header(const BzImageSpec& s)
{
    SetupHeader h{};
    h.setup_sects = s.setup_sects;
    h.syssize.set((s.payload + 15) / 16);
    h.boot_flag.set(k_boot_flag);
    h.jump.set(static_cast<std::uint16_t>(0xeb | ((0x26c - 0x202) << 8)));
    h.header.set(k_hdrs_magic);
    h.version.set(s.version);
    h.loadflags = s.loadflags;
    h.code32_start.set(0x100000);
    h.initrd_addr_max.set(s.initrd_addr_max);
    h.kernel_alignment.set(s.kernel_alignment);
    h.relocatable_kernel = 1;
    h.xloadflags.set(s.xloadflags);
    h.cmdline_size.set(s.cmdline_size);
    h.pref_address.set(0x1000000);
    h.init_size.set(s.init_size);
    return h;
}

// The whole image: boot sector + setup sectors (header at 0x1f1), then the payload, whose
// byte i is (i * 7 + 3) & 0xff so tests can check where it landed.
inline std::vector<std::byte> make_bzimage(const BzImageSpec& s = {})
{
    std::uint64_t sects = s.setup_sects == 0 ? 4 : s.setup_sects;
    std::uint64_t setup = (sects + 1) * 512;
    std::vector<std::byte> img(setup + s.payload, std::byte{0});
    SetupHeader h = make_header(s);
    std::memcpy(&img[k_setup_header_offset], &h, sizeof h);
    for (std::uint32_t i = 0; i < s.payload; ++i) img[setup + i] = static_cast<std::byte>((i * 7 + 3) & 0xff);
    return img;
}

inline std::uint8_t payload_byte(std::uint64_t i) { return static_cast<std::uint8_t>((i * 7 + 3) & 0xff); }

struct ElfSegmentSpec {
    std::uint32_t type = PT_LOAD;
    std::uint64_t offset;
    std::uint64_t filesz;
    std::uint64_t memsz;
    std::uint64_t paddr;
};

struct ElfSpec {
    unsigned char elf_class = ELFCLASS64;
    unsigned char data = ELFDATA2LSB;
    std::uint16_t machine = EM_X86_64;
    std::uint16_t type = ET_EXEC;
    std::uint64_t entry = 0x200000;
    std::vector<ElfSegmentSpec> segments;
    std::uint64_t file_size = 0x3000;  // bytes after the headers are 0xcc
};

inline std::vector<std::byte> make_elf(const ElfSpec& s)
{
    std::vector<std::byte> img(s.file_size, std::byte{0xcc});
    Elf64_Ehdr eh{};
    std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
    eh.e_ident[EI_CLASS] = s.elf_class;
    eh.e_ident[EI_DATA] = s.data;
    eh.e_ident[EI_VERSION] = EV_CURRENT;
    eh.e_type = s.type;
    eh.e_machine = s.machine;
    eh.e_version = EV_CURRENT;
    eh.e_entry = s.entry;
    eh.e_phoff = sizeof(Elf64_Ehdr);
    eh.e_ehsize = sizeof(Elf64_Ehdr);
    eh.e_phentsize = sizeof(Elf64_Phdr);
    eh.e_phnum = static_cast<std::uint16_t>(s.segments.size());
    std::memcpy(img.data(), &eh, sizeof eh);
    for (std::size_t i = 0; i < s.segments.size(); ++i) {
        const auto& g = s.segments[i];
        Elf64_Phdr ph{};
        ph.p_type = g.type;
        ph.p_flags = PF_R | PF_X;
        ph.p_offset = g.offset;
        ph.p_vaddr = g.paddr;
        ph.p_paddr = g.paddr;
        ph.p_filesz = g.filesz;
        ph.p_memsz = g.memsz;
        ph.p_align = 0x1000;
        std::memcpy(&img[sizeof eh + i * sizeof ph], &ph, sizeof ph);
    }
    return img;
}

// An anonymous in-memory file holding `bytes`.
inline base::UniqueFd memfile(std::span<const std::byte> bytes)
{
    base::UniqueFd fd(::memfd_create("moat-boot-test", MFD_CLOEXEC));
    if (!fd.valid()) return fd;
    std::size_t done = 0;
    while (done < bytes.size()) {
        ssize_t n = ::write(fd.get(), bytes.subspan(done).data(), bytes.size() - done);
        if (n <= 0) return base::UniqueFd();
        done += static_cast<std::size_t>(n);
    }
    return fd;
}

}  // namespace moat::boot::test_images
