// Loading kernels and initrds into guest memory: placement, bss, and every refusal.
#include "boot/kernel.hpp"

#include <gtest/gtest.h>

#include <array>

#include "boot/memory_map.hpp"
#include "boot/test_images.hpp"
#include "boot/x86_64/layout.hpp"

using namespace moat;
using namespace moat::boot;
using moat::boot::test_images::BzImageSpec;
using moat::boot::test_images::ElfSpec;
using moat::boot::test_images::make_bzimage;
using moat::boot::test_images::make_elf;
using moat::boot::test_images::memfile;
using moat::memory::GuestAddress;
using moat::memory::GuestMemory;

namespace {

constexpr std::uint64_t k_mib = 1024 * 1024;

GuestMemory guest(std::uint64_t bytes)
{
    auto specs = ram_regions(bytes);
    auto m = GuestMemory::create(specs);
    EXPECT_TRUE(m.has_value());
    return std::move(m).value();
}

std::uint8_t byte_at(const GuestMemory& m, std::uint64_t addr)
{
    auto v = m.read_obj<std::uint8_t>(GuestAddress(addr));
    EXPECT_TRUE(v.has_value());
    return v.has_value() ? *v : 0;
}

std::vector<std::byte> bytes_of(std::size_t n, std::uint8_t v) { return std::vector<std::byte>(n, std::byte{v}); }

}  // namespace

TEST(LoadKernel, RejectsEmptyFile)
{
    auto m = guest(64 * k_mib);
    auto fd = memfile({});
    auto r = load_kernel(m, fd.get());
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, Errc::InvalidInput);
    EXPECT_STREQ(r.error().what, "kernel image is empty");
}

TEST(LoadKernel, RejectsUnknownFormat)
{
    auto m = guest(64 * k_mib);
    auto fd = memfile(bytes_of(8192, 0x90));
    auto r = load_kernel(m, fd.get());
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, Errc::InvalidInput);
}

TEST(LoadKernel, LoadsBzImageAtOneMib)
{
    auto m = guest(64 * k_mib);
    auto img = make_bzimage({.payload = 0x5000, .init_size = 0x400000});
    auto fd = memfile(img);
    auto r = load_kernel(m, fd.get());
    ASSERT_TRUE(r.has_value()) << r.error().what;
    EXPECT_EQ(r->format, KernelFormat::BzImage);
    EXPECT_EQ(r->entry, 0x100200u);
    EXPECT_EQ(r->end, 0x100000u + 0x400000u);
    ASSERT_TRUE(r->header.has_value());
    EXPECT_EQ(r->header->init_size.get(), 0x400000u);
    for (std::uint64_t i : {0ull, 1ull, 0x200ull, 0x4fffull})
        EXPECT_EQ(byte_at(m, 0x100000 + i), test_images::payload_byte(i)) << i;
    EXPECT_EQ(byte_at(m, 0x105000), 0);
}

TEST(LoadKernel, BzImageWithout64BitEntryStartsIn32BitMode)
{
    auto m = guest(64 * k_mib);
    auto r = load_kernel(m, memfile(make_bzimage({.version = 0x20a})).get());
    ASSERT_TRUE(r.has_value()) << r.error().what;
    EXPECT_EQ(r->mode, EntryMode::Protected32);
    EXPECT_EQ(r->entry, 0x100000u);  // boot.rst: the start of the protected-mode kernel
    auto r64 = load_kernel(m, memfile(make_bzimage({})).get());
    ASSERT_TRUE(r64.has_value());
    EXPECT_EQ(r64->mode, EntryMode::Long64);
}

TEST(LoadKernel, BzImageEndCoversPayloadLargerThanInitSize)
{
    auto m = guest(64 * k_mib);
    auto fd = memfile(make_bzimage({.payload = 0x20000, .init_size = 0x1000}));
    auto r = load_kernel(m, fd.get());
    ASSERT_TRUE(r.has_value()) << r.error().what;
    EXPECT_EQ(r->end, 0x100000u + 0x20000u);
}

TEST(LoadKernel, RejectsBzImageWhoseInitSizeExceedsRam)
{
    auto m = guest(8 * k_mib);
    auto fd = memfile(make_bzimage({.init_size = 8 * k_mib}));
    auto r = load_kernel(m, fd.get());
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, Errc::NoSpace);
}

TEST(LoadKernel, LoadsElfSegmentsAndZeroesBss)
{
    auto m = guest(64 * k_mib);
    // Dirty the bss range first: loading must zero it, not rely on fresh memory.
    ASSERT_TRUE(m.write(GuestAddress(0x200800), bytes_of(0x1800, 0xee)).has_value());
    ElfSpec s;
    s.entry = 0x200010;
    s.segments = {{PT_LOAD, 0x1000, 0x800, 0x2000, 0x200000}, {PT_LOAD, 0x2000, 0x1000, 0x1000, 0x400000}};
    auto img = make_elf(s);
    img[0x1000] = std::byte{0x11};
    img[0x17ff] = std::byte{0x22};
    img[0x2fff] = std::byte{0x33};
    auto fd = memfile(img);
    auto r = load_kernel(m, fd.get());
    ASSERT_TRUE(r.has_value()) << r.error().what;
    EXPECT_EQ(r->format, KernelFormat::Elf);
    EXPECT_EQ(r->entry, 0x200010u);
    EXPECT_EQ(r->end, 0x401000u);
    EXPECT_FALSE(r->header.has_value());
    EXPECT_EQ(byte_at(m, 0x200000), 0x11);
    EXPECT_EQ(byte_at(m, 0x2007ff), 0x22);
    EXPECT_EQ(byte_at(m, 0x200001), 0xcc);
    for (std::uint64_t a : {0x200800ull, 0x201000ull, 0x201fffull}) EXPECT_EQ(byte_at(m, a), 0) << std::hex << a;
    EXPECT_EQ(byte_at(m, 0x400fff), 0x33);
}

TEST(LoadKernel, RejectsElfSegmentOutsideRam)
{
    auto m = guest(16 * k_mib);
    ElfSpec s;
    s.segments = {{PT_LOAD, 0x1000, 0x800, 0x2000, 16 * k_mib - 0x1000}};
    auto fd = memfile(make_elf(s));
    auto r = load_kernel(m, fd.get());
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, Errc::OutOfRange);
    EXPECT_STREQ(r.error().what, "ELF segment outside guest RAM");

    // Inside the MMIO gap of a 5 GiB guest.
    auto big = guest(5 * 1024 * k_mib);
    s.segments = {{PT_LOAD, 0x1000, 0x800, 0x800, 0xd0000000}};
    auto fd2 = memfile(make_elf(s));
    auto r2 = load_kernel(big, fd2.get());
    ASSERT_FALSE(r2.has_value());
    EXPECT_STREQ(r2.error().what, "ELF segment outside guest RAM");
}

TEST(LoadKernel, RejectsElfOverwritingBootStructures)
{
    auto m = guest(16 * k_mib);
    ElfSpec s;
    s.entry = 0x7000;
    s.segments = {{PT_LOAD, 0x1000, 0x800, 0x800, layout::k_zero_page}};
    auto fd = memfile(make_elf(s));
    auto r = load_kernel(m, fd.get());
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, Errc::OutOfRange);
    EXPECT_STREQ(r.error().what, "ELF segment below 1 MiB would overwrite the boot structures");
}

TEST(LoadKernel, RejectsElfEntryOutsideRam)
{
    auto m = guest(16 * k_mib);
    ElfSpec s;
    s.entry = 0xffffffff81000000;
    s.segments = {{PT_LOAD, 0x1000, 0x800, 0x800, 0x200000}};
    auto fd = memfile(make_elf(s));
    auto r = load_kernel(m, fd.get());
    ASSERT_FALSE(r.has_value());
    EXPECT_STREQ(r.error().what, "ELF entry point outside guest RAM");
}

namespace {

LoadedKernel bz_kernel(std::uint64_t end, std::uint32_t initrd_addr_max)
{
    return LoadedKernel{KernelFormat::BzImage, 0x100200, end,
                        test_images::make_header({.initrd_addr_max = initrd_addr_max})};
}

}  // namespace

TEST(LoadInitrd, PlacesAtTopOfLowRam)
{
    auto m = guest(64 * k_mib);
    auto fd = memfile(bytes_of(0x1234, 0x5a));
    auto r = load_initrd(m, fd.get(), bz_kernel(0x500000, 0x7fffffff), 64 * k_mib);
    ASSERT_TRUE(r.has_value()) << r.error().what;
    EXPECT_EQ(r->size, 0x1234u);
    EXPECT_EQ(r->addr, (64 * k_mib - 0x1234) & ~0xfffull);
    EXPECT_EQ(r->addr % 4096, 0u);
    EXPECT_EQ(byte_at(m, r->addr), 0x5a);
    EXPECT_EQ(byte_at(m, r->addr + 0x1233), 0x5a);
}

TEST(LoadInitrd, StaysBelowInitrdAddrMax)
{
    auto m = guest(64 * k_mib);
    auto fd = memfile(bytes_of(0x2000, 1));
    // initrd_addr_max is inclusive: the initrd may end exactly at 32 MiB.
    auto r = load_initrd(m, fd.get(), bz_kernel(0x500000, 32 * k_mib - 1), 64 * k_mib);
    ASSERT_TRUE(r.has_value()) << r.error().what;
    EXPECT_EQ(r->addr, 32 * k_mib - 0x2000);
    EXPECT_LE(r->addr + r->size - 1, 32 * k_mib - 1);
}

TEST(LoadInitrd, StaysBelowTheMmioGapForLargeGuests)
{
    auto m = guest(5 * 1024 * k_mib);
    auto fd = memfile(bytes_of(0x1000, 2));
    LoadedKernel k{KernelFormat::Elf, 0x200000, 0x300000, std::nullopt};
    auto r = load_initrd(m, fd.get(), k, low_ram_end(5 * 1024 * k_mib));
    ASSERT_TRUE(r.has_value()) << r.error().what;
    EXPECT_EQ(r->addr, layout::k_mmio_gap_start - 0x1000);
}

TEST(LoadInitrd, RejectsTooLarge)
{
    auto m = guest(16 * k_mib);
    auto fd = memfile(bytes_of(17 * k_mib, 3));
    auto r = load_initrd(m, fd.get(), bz_kernel(0x500000, 0x7fffffff), 16 * k_mib);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, Errc::NoSpace);
    EXPECT_STREQ(r.error().what, "initrd too large for guest memory");
}

TEST(LoadInitrd, RejectsOverlappingTheKernel)
{
    auto m = guest(16 * k_mib);
    // Fits in RAM, but not above a kernel whose init_size reaches 12 MiB.
    auto fd = memfile(bytes_of(5 * k_mib, 4));
    auto r = load_initrd(m, fd.get(), bz_kernel(12 * k_mib, 0x7fffffff), 16 * k_mib);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, Errc::NoSpace);
    EXPECT_STREQ(r.error().what, "initrd too large for guest memory");
    // Just fits: 4 MiB above a kernel ending at 12 MiB.
    auto fd2 = memfile(bytes_of(4 * k_mib, 4));
    auto r2 = load_initrd(m, fd2.get(), bz_kernel(12 * k_mib, 0x7fffffff), 16 * k_mib);
    ASSERT_TRUE(r2.has_value()) << r2.error().what;
    EXPECT_EQ(r2->addr, 12 * k_mib);
}

TEST(LoadInitrd, RejectsEmpty)
{
    auto m = guest(16 * k_mib);
    auto fd = memfile({});
    auto r = load_initrd(m, fd.get(), bz_kernel(0x500000, 0x7fffffff), 16 * k_mib);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, Errc::InvalidInput);
}

// check_kernel and place_initrd decide exactly as the loaders do, without guest memory: `moat
// run` relies on them to name a bad kernel or initrd before it opens /dev/kvm.
namespace {

struct KernelCase {
    const char* name;
    std::uint64_t mem;
    std::vector<std::byte> image;
};

std::vector<KernelCase> kernel_cases()
{
    ElfSpec ok;
    ok.entry = 0x200010;
    ok.segments = {{PT_LOAD, 0x1000, 0x800, 0x2000, 0x200000}, {PT_LOAD, 0x2000, 0x1000, 0x1000, 0x400000}};
    ElfSpec outside;
    outside.segments = {{PT_LOAD, 0x1000, 0x800, 0x2000, 16 * k_mib - 0x1000}};
    ElfSpec low;
    low.entry = 0x7000;
    low.segments = {{PT_LOAD, 0x1000, 0x800, 0x800, layout::k_zero_page}};
    ElfSpec entry;
    entry.entry = 0xffffffff81000000;
    entry.segments = {{PT_LOAD, 0x1000, 0x800, 0x800, 0x200000}};
    ElfSpec gap;
    gap.segments = {{PT_LOAD, 0x1000, 0x800, 0x800, 0xd0000000}};
    return {
        {"empty", 64 * k_mib, {}},
        {"unknown format", 64 * k_mib, bytes_of(8192, 0x90)},
        {"bzImage", 64 * k_mib, make_bzimage({.payload = 0x5000, .init_size = 0x400000})},
        {"bzImage 32-bit entry", 64 * k_mib, make_bzimage({.version = 0x020b})},
        {"bzImage init_size beyond RAM", 8 * k_mib, make_bzimage({.init_size = 8 * k_mib})},
        {"bzImage just fits", 8 * k_mib, make_bzimage({.init_size = 7 * k_mib})},
        {"ELF", 64 * k_mib, make_elf(ok)},
        {"ELF segment outside RAM", 16 * k_mib, make_elf(outside)},
        {"ELF segment over the boot structures", 16 * k_mib, make_elf(low)},
        {"ELF entry outside RAM", 16 * k_mib, make_elf(entry)},
        {"ELF segment in the MMIO gap", 5 * 1024 * k_mib, make_elf(gap)},
    };
}

}  // namespace

TEST(CheckKernel, DecidesAsLoadKernelDoes)
{
    for (const auto& c : kernel_cases()) {
        auto m = guest(c.mem);
        auto fd = memfile(c.image);
        auto loaded = load_kernel(m, fd.get());
        auto checked = check_kernel(ram_regions(c.mem), fd.get());
        ASSERT_EQ(checked.has_value(), loaded.has_value()) << c.name;
        if (!loaded) {
            EXPECT_EQ(checked.error().code, loaded.error().code) << c.name;
            EXPECT_STREQ(checked.error().what, loaded.error().what) << c.name;
            continue;
        }
        EXPECT_EQ(checked->format, loaded->format) << c.name;
        EXPECT_EQ(checked->entry, loaded->entry) << c.name;
        EXPECT_EQ(checked->end, loaded->end) << c.name;
        EXPECT_EQ(checked->mode, loaded->mode) << c.name;
        EXPECT_EQ(checked->header.has_value(), loaded->header.has_value()) << c.name;
    }
}

TEST(CheckKernel, NeedsNoGuestMemory)
{
    // Only a region list, with no memory behind it: the image's headers are all that is read.
    auto fd = memfile(make_bzimage({.payload = 0x5000, .init_size = 0x400000}));
    auto r = check_kernel(ram_regions(64 * k_mib), fd.get());
    ASSERT_TRUE(r.has_value()) << r.error().what;
    EXPECT_EQ(r->entry, 0x100200u);
}

TEST(PlaceInitrd, DecidesAsLoadInitrdDoes)
{
    struct Case {
        std::uint64_t size;
        LoadedKernel k;
        std::uint64_t mem;
    };
    const Case cases[] = {
        {0x1234, bz_kernel(0x500000, 0x7fffffff), 64 * k_mib},      // top of low RAM
        {0x2000, bz_kernel(0x500000, 32 * k_mib - 1), 64 * k_mib},  // below initrd_addr_max
        {17 * k_mib, bz_kernel(0x500000, 0x7fffffff), 16 * k_mib},  // larger than RAM
        {5 * k_mib, bz_kernel(12 * k_mib, 0x7fffffff), 16 * k_mib}, // overlaps the kernel
        {4 * k_mib, bz_kernel(12 * k_mib, 0x7fffffff), 16 * k_mib}, // just fits above it
        {0, bz_kernel(0x500000, 0x7fffffff), 16 * k_mib},           // empty
    };
    for (const auto& c : cases) {
        auto m = guest(c.mem);
        auto fd = memfile(bytes_of(c.size, 7));
        auto loaded = load_initrd(m, fd.get(), c.k, low_ram_end(c.mem));
        auto placed = place_initrd(c.size, c.k, low_ram_end(c.mem));
        ASSERT_EQ(placed.has_value(), loaded.has_value()) << c.size;
        if (!loaded) {
            EXPECT_EQ(placed.error().code, loaded.error().code) << c.size;
            EXPECT_STREQ(placed.error().what, loaded.error().what) << c.size;
            continue;
        }
        EXPECT_EQ(placed->addr, loaded->addr) << c.size;
        EXPECT_EQ(placed->size, loaded->size) << c.size;
    }
}
