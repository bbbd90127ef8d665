// ELF64 validation: a good executable and every rejection.
#include "boot/elf.hpp"

#include <gtest/gtest.h>

#include <cstring>

#include "boot/test_images.hpp"

using namespace moat;
using namespace moat::boot;
using moat::boot::test_images::ElfSpec;
using moat::boot::test_images::make_elf;

namespace {

ElfSpec good()
{
    ElfSpec s;
    s.segments = {{PT_LOAD, 0x1000, 0x800, 0x2000, 0x200000}, {PT_NOTE, 0x100, 0x10, 0x10, 0},
                  {PT_LOAD, 0x2000, 0x1000, 0x1000, 0x400000}};
    return s;
}

Result<ElfImage> parse(const std::vector<std::byte>& img) { return parse_elf(img, img.size()); }

void expect_error(const Result<ElfImage>& r, Errc code, const char* what)
{
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, code);
    EXPECT_STREQ(r.error().what, what);
}

}  // namespace

TEST(Elf, ParsesLoadSegmentsOnly)
{
    auto r = parse(make_elf(good()));
    ASSERT_TRUE(r.has_value()) << r.error().what;
    EXPECT_EQ(r->entry, 0x200000u);
    ASSERT_EQ(r->segments.size(), 2u);
    EXPECT_EQ(r->segments[0].file_offset, 0x1000u);
    EXPECT_EQ(r->segments[0].file_size, 0x800u);
    EXPECT_EQ(r->segments[0].mem_size, 0x2000u);
    EXPECT_EQ(r->segments[0].paddr, 0x200000u);
    EXPECT_EQ(r->segments[1].paddr, 0x400000u);
}

TEST(Elf, RejectsBadMagicAndTruncation)
{
    auto img = make_elf(good());
    auto bad = img;
    bad[1] = std::byte{'X'};
    expect_error(parse(bad), Errc::InvalidInput, "not an ELF file (bad magic)");
    std::vector<std::byte> short_img(img.begin(), img.begin() + 40);
    expect_error(parse(short_img), Errc::InvalidInput, "ELF header truncated");
    expect_error(parse_elf(img, 10), Errc::InvalidInput, "ELF head larger than the file");
}

TEST(Elf, Rejects32Bit)
{
    auto s = good();
    s.elf_class = ELFCLASS32;
    expect_error(parse(make_elf(s)), Errc::Unsupported, "ELF is not 64-bit (ELFCLASS64)");
}

TEST(Elf, RejectsBigEndian)
{
    auto s = good();
    s.data = ELFDATA2MSB;
    expect_error(parse(make_elf(s)), Errc::Unsupported, "ELF is not little-endian");
}

TEST(Elf, RejectsWrongMachine)
{
    auto s = good();
    s.machine = EM_AARCH64;
    expect_error(parse(make_elf(s)), Errc::Unsupported, "ELF machine is not x86-64");
}

TEST(Elf, RejectsNonExecutable)
{
    auto s = good();
    s.type = ET_DYN;
    expect_error(parse(make_elf(s)), Errc::Unsupported, "ELF is not an executable (ET_EXEC)");
}

TEST(Elf, RejectsBadPhentsize)
{
    auto img = make_elf(good());
    std::uint16_t v = 32;
    std::memcpy(&img[offsetof(Elf64_Ehdr, e_phentsize)], &v, 2);
    expect_error(parse(img), Errc::InvalidInput, "ELF e_phentsize is not 56");
}

TEST(Elf, RejectsProgramHeadersOutsideHead)
{
    auto img = make_elf(good());
    // phoff + 3 * 56 past the part of the file given as head.
    expect_error(parse_elf(std::span(img).first(64 + 100), img.size()), Errc::InvalidInput,
                 "ELF program headers outside the file head");
    std::uint64_t off = UINT64_MAX - 10;
    std::memcpy(&img[offsetof(Elf64_Ehdr, e_phoff)], &off, 8);
    expect_error(parse(img), Errc::InvalidInput, "ELF program headers outside the file head");
}

TEST(Elf, RejectsSegmentOutsideFile)
{
    auto s = good();
    s.segments[2].offset = 0x2800;  // 0x2800 + 0x1000 > 0x3000
    expect_error(parse(make_elf(s)), Errc::InvalidInput, "ELF segment outside the file");
}

TEST(Elf, RejectsFileszAboveMemsz)
{
    auto s = good();
    s.segments[0].memsz = 0x400;
    expect_error(parse(make_elf(s)), Errc::InvalidInput, "ELF segment filesz exceeds memsz");
}

TEST(Elf, RejectsOverflowingOffsetsAndAddresses)
{
    auto s = good();
    s.segments[0].offset = UINT64_MAX - 0x10;
    expect_error(parse(make_elf(s)), Errc::InvalidInput, "ELF segment file range overflows");
    s = good();
    s.segments[0].paddr = UINT64_MAX - 0x1000;
    expect_error(parse(make_elf(s)), Errc::InvalidInput, "ELF segment address range overflows");
}

TEST(Elf, RejectsNoLoadableSegment)
{
    auto s = good();
    s.segments = {{PT_NOTE, 0x100, 0x10, 0x10, 0}};
    expect_error(parse(make_elf(s)), Errc::InvalidInput, "ELF has no loadable (PT_LOAD) segment");
}
