// The zero page: layout, e820 map, command line and initrd fields.
#include "boot/boot_params.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "boot/test_images.hpp"
#include "boot/x86_64/layout.hpp"

using namespace moat;
using namespace moat::boot;
using moat::memory::GuestAddress;
using moat::memory::GuestMemory;

namespace {

constexpr std::uint64_t k_mib = 1024 * 1024;
constexpr std::uint64_t k_gib = 1024 * k_mib;

GuestMemory guest(std::uint64_t bytes)
{
    auto specs = ram_regions(bytes);
    auto m = GuestMemory::create(specs);
    EXPECT_TRUE(m.has_value());
    return std::move(m).value();
}

LoadedKernel bz_kernel()
{
    return LoadedKernel{KernelFormat::BzImage, 0x100200, 0x500000, test_images::make_header({.cmdline_size = 255})};
}

struct Range {
    std::uint64_t addr, size;
    std::uint32_t type;
};

void expect_map(const std::vector<E820Entry>& got, const std::vector<Range>& want)
{
    ASSERT_EQ(got.size(), want.size());
    for (std::size_t i = 0; i < want.size(); ++i) {
        EXPECT_EQ(got[i].addr.get(), want[i].addr) << i;
        EXPECT_EQ(got[i].size.get(), want[i].size) << i;
        EXPECT_EQ(got[i].type.get(), want[i].type) << i;
    }
}

BootParams read_zero_page(const GuestMemory& m)
{
    auto bp = m.read_obj<BootParams>(GuestAddress(layout::k_zero_page));
    EXPECT_TRUE(bp.has_value());
    return *bp;
}

}  // namespace

TEST(MemoryMap, E820For64Mib)
{
    expect_map(e820_map(64 * k_mib), {{0, 0x9fc00, k_e820_ram},
                                      {0x9fc00, 0x100000 - 0x9fc00, k_e820_reserved},
                                      {0x100000, 64 * k_mib - 0x100000, k_e820_ram}});
}

TEST(MemoryMap, E820ForExactlyThreeGib)
{
    // 3 GiB fills RAM up to the MMIO gap exactly; nothing goes above 4 GiB.
    expect_map(e820_map(3 * k_gib), {{0, 0x9fc00, k_e820_ram},
                                     {0x9fc00, 0x100000 - 0x9fc00, k_e820_reserved},
                                     {0x100000, 3 * k_gib - 0x100000, k_e820_ram}});
}

TEST(MemoryMap, E820ForFiveGib)
{
    expect_map(e820_map(5 * k_gib), {{0, 0x9fc00, k_e820_ram},
                                     {0x9fc00, 0x100000 - 0x9fc00, k_e820_reserved},
                                     {0x100000, 0xc0000000 - 0x100000, k_e820_ram},
                                     {0x100000000, 2 * k_gib, k_e820_ram}});
}

TEST(MemoryMap, RamRegionsSkipTheMmioGap)
{
    auto small = ram_regions(64 * k_mib);
    ASSERT_EQ(small.size(), 1u);
    EXPECT_EQ(small[0].start.raw(), 0u);
    EXPECT_EQ(small[0].size, 64 * k_mib);

    auto big = ram_regions(5 * k_gib);
    ASSERT_EQ(big.size(), 2u);
    EXPECT_EQ(big[0].start.raw(), 0u);
    EXPECT_EQ(big[0].size, 3 * k_gib);
    EXPECT_EQ(big[1].start.raw(), 4 * k_gib);
    EXPECT_EQ(big[1].size, 2 * k_gib);
    EXPECT_EQ(low_ram_end(5 * k_gib), 3 * k_gib);
}

TEST(BootParams, RawOffsetsMatchZeroPageRst)
{
    LoadedKernel k = bz_kernel();
    BootParams bp = make_boot_params(k, InitrdPlacement{0x3000000, 0x12345}, 64 * k_mib, 0xe0000);
    std::array<std::uint8_t, 4096> raw;
    std::memcpy(raw.data(), &bp, raw.size());
    auto u32 = [&](std::size_t at) {
        std::uint32_t v;
        std::memcpy(&v, &raw[at], 4);
        return v;
    };
    auto u64 = [&](std::size_t at) {
        std::uint64_t v;
        std::memcpy(&v, &raw[at], 8);
        return v;
    };
    EXPECT_EQ(u64(0x070), 0xe0000u);               // acpi_rsdp_addr
    EXPECT_EQ(raw[0x1e8], 3);                      // e820_entries
    EXPECT_EQ(raw[0x1f1], 4);                      // hdr.setup_sects
    EXPECT_EQ(u32(0x202), 0x53726448u);            // hdr.header
    EXPECT_EQ(raw[0x210], 0xff);                   // type_of_loader
    EXPECT_EQ(raw[0x211], k_loaded_high | k_can_use_heap);  // loadflags
    EXPECT_EQ(u32(0x218), 0x3000000u);             // ramdisk_image
    EXPECT_EQ(u32(0x21c), 0x12345u);               // ramdisk_size
    EXPECT_EQ(raw[0x224] | raw[0x225] << 8, 0xfe00);  // heap_end_ptr
    EXPECT_EQ(u32(0x228), 0x20000u);               // cmd_line_ptr
    EXPECT_EQ(u64(0x2d0), 0u);                     // e820_table[0].addr
    EXPECT_EQ(u64(0x2d8), 0x9fc00u);               // e820_table[0].size
    EXPECT_EQ(u32(0x2e0), 1u);                     // e820_table[0].type
    EXPECT_EQ(u64(0x2d0 + 2 * 20), 0x100000u);     // e820_table[2].addr
    EXPECT_EQ(u32(0x2d0 + 1 * 20 + 16), 2u);       // e820_table[1].type
    EXPECT_EQ(u64(0x2d0 + 3 * 20), 0u);            // nothing past the third entry
}

TEST(BootParams, WritesZeroPageAndCmdline)
{
    auto m = guest(64 * k_mib);
    LoadedKernel k = bz_kernel();
    ASSERT_TRUE(write_boot_params(m, k, "console=ttyS0 quiet", InitrdPlacement{0x3c00000, 0x1000}, 64 * k_mib,
                                  0xe0000)
                    .has_value());
    BootParams bp = read_zero_page(m);
    EXPECT_EQ(bp.hdr.boot_flag.get(), 0xaa55);
    EXPECT_EQ(bp.hdr.version.get(), 0x20f);
    EXPECT_EQ(bp.hdr.init_size.get(), k.header->init_size.get());
    EXPECT_EQ(bp.hdr.cmd_line_ptr.get(), layout::k_cmdline);
    EXPECT_EQ(bp.hdr.ramdisk_image.get(), 0x3c00000u);
    EXPECT_EQ(bp.hdr.ramdisk_size.get(), 0x1000u);
    EXPECT_EQ(bp.hdr.heap_end_ptr.get(), 0xfe00);
    EXPECT_EQ(bp.hdr.type_of_loader, 0xff);
    EXPECT_TRUE(bp.hdr.loadflags & k_can_use_heap);
    EXPECT_EQ(bp.e820_entries, 3);
    EXPECT_EQ(bp.e820_table[2].size.get(), 63 * k_mib);
    EXPECT_EQ(bp.acpi_rsdp_addr.get(), 0xe0000u);

    std::array<char, 21> got{};
    ASSERT_TRUE(m.read(GuestAddress(layout::k_cmdline), std::as_writable_bytes(std::span(got))).has_value());
    EXPECT_STREQ(got.data(), "console=ttyS0 quiet");
    EXPECT_EQ(got[19], '\0');
}

TEST(BootParams, NoInitrdLeavesRamdiskFieldsZero)
{
    auto m = guest(64 * k_mib);
    auto k = bz_kernel();
    k.header->ramdisk_image.set(0x1234);  // whatever the image carried is not passed on
    ASSERT_TRUE(write_boot_params(m, k, "", std::nullopt, 64 * k_mib, 0).has_value());
    BootParams bp = read_zero_page(m);
    EXPECT_EQ(bp.hdr.ramdisk_image.get(), 0u);
    EXPECT_EQ(bp.hdr.ramdisk_size.get(), 0u);
    EXPECT_EQ(*m.read_obj<std::uint8_t>(GuestAddress(layout::k_cmdline)), 0);
}

TEST(BootParams, E820TableFor5Gib)
{
    auto k = bz_kernel();
    BootParams bp = make_boot_params(k, std::nullopt, 5 * k_gib, 0);
    ASSERT_EQ(bp.e820_entries, 4);
    EXPECT_EQ(bp.e820_table[3].addr.get(), 4 * k_gib);
    EXPECT_EQ(bp.e820_table[3].size.get(), 2 * k_gib);
    EXPECT_EQ(bp.e820_table[3].type.get(), k_e820_ram);
}

TEST(BootParams, RejectsCmdlineLongerThanCmdlineSize)
{
    auto m = guest(64 * k_mib);
    auto k = bz_kernel();  // cmdline_size 255
    EXPECT_TRUE(write_boot_params(m, k, std::string(255, 'a'), std::nullopt, 64 * k_mib, 0).has_value());
    auto r = write_boot_params(m, k, std::string(256, 'a'), std::nullopt, 64 * k_mib, 0);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, Errc::InvalidInput);
    EXPECT_STREQ(r.error().what, "command line longer than the kernel's cmdline_size");
}

TEST(BootParams, RejectsCmdlineWithNul)
{
    auto m = guest(64 * k_mib);
    auto r = write_boot_params(m, bz_kernel(), std::string_view("a\0b", 3), std::nullopt, 64 * k_mib, 0);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, Errc::InvalidInput);
}

TEST(BootParams, CheckCmdlineDecidesAsWriteBootParams)
{
    auto k = bz_kernel();  // cmdline_size 255
    EXPECT_TRUE(check_cmdline(k, std::string(255, 'a')).has_value());
    auto long_line = check_cmdline(k, std::string(256, 'a'));
    ASSERT_FALSE(long_line.has_value());
    EXPECT_STREQ(long_line.error().what, "command line longer than the kernel's cmdline_size");
    auto nul = check_cmdline(k, std::string_view("a\0b", 3));
    ASSERT_FALSE(nul.has_value());
    EXPECT_STREQ(nul.error().what, "command line contains a NUL byte");
}

TEST(BootParams, ElfGuestGetsZeroPageWithoutImageHeader)
{
    auto m = guest(64 * k_mib);
    LoadedKernel k{KernelFormat::Elf, 0x200000, 0x300000, std::nullopt};
    ASSERT_TRUE(write_boot_params(m, k, "hello", std::nullopt, 64 * k_mib, 0xe0000).has_value());
    BootParams bp = read_zero_page(m);
    EXPECT_EQ(bp.hdr.cmd_line_ptr.get(), layout::k_cmdline);
    EXPECT_EQ(bp.hdr.cmdline_size.get(), layout::k_cmdline_max - 1);
    EXPECT_EQ(bp.hdr.setup_sects, 0);
    EXPECT_EQ(bp.hdr.version.get(), 0);
    EXPECT_EQ(bp.hdr.init_size.get(), 0u);
    EXPECT_EQ(bp.e820_entries, 3);
    EXPECT_EQ(bp.acpi_rsdp_addr.get(), 0xe0000u);
    // The ELF limit is the command-line buffer.
    auto r = write_boot_params(m, k, std::string(layout::k_cmdline_max, 'x'), std::nullopt, 64 * k_mib, 0);
    EXPECT_FALSE(r.has_value());
}
