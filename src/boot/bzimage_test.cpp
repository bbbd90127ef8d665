// bzImage setup-header validation: a good header and every rejection.
#include "boot/bzimage.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <fcntl.h>

#include "boot/kernel.hpp"
#include "boot/memory_map.hpp"
#include "boot/test_images.hpp"

using namespace moat;
using namespace moat::boot;
using moat::boot::test_images::BzImageSpec;
using moat::boot::test_images::make_bzimage;

namespace {

Result<SetupHeader> parse(const std::vector<std::byte>& img)
{
    return parse_bzimage(std::span(img).first(std::min<std::size_t>(img.size(), 64 * 1024)), img.size());
}

void expect_error(const Result<SetupHeader>& r, Errc code, const char* what)
{
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, code);
    EXPECT_STREQ(r.error().what, what);
}

void put_u16(std::vector<std::byte>& img, std::size_t at, std::uint16_t v) { std::memcpy(&img[at], &v, 2); }
void put_u32(std::vector<std::byte>& img, std::size_t at, std::uint32_t v) { std::memcpy(&img[at], &v, 4); }

}  // namespace

TEST(BzImage, ParsesAGoodHeader)
{
    auto img = make_bzimage();
    auto r = parse(img);
    ASSERT_TRUE(r.has_value()) << r.error().what;
    EXPECT_EQ(r->setup_sects, 4);
    EXPECT_EQ(r->version.get(), 0x20f);
    EXPECT_EQ(r->boot_flag.get(), 0xaa55);
    EXPECT_EQ(r->header.get(), 0x53726448u);
    EXPECT_EQ(r->init_size.get(), 0x10000u);
    EXPECT_EQ(r->kernel_alignment.get(), 0x200000u);
    EXPECT_EQ(r->cmdline_size.get(), 2047u);
    EXPECT_EQ(r->pref_address.get(), 0x1000000u);
    EXPECT_EQ(setup_size(*r), 5u * 512);
}

TEST(BzImage, HeaderFieldsSitAtBootRstOffsets)
{
    auto img = make_bzimage();
    EXPECT_EQ(std::to_integer<int>(img[0x1fe]), 0x55);
    EXPECT_EQ(std::to_integer<int>(img[0x1ff]), 0xaa);
    EXPECT_EQ(std::memcmp(&img[0x202], "HdrS", 4), 0);
    EXPECT_EQ(std::to_integer<int>(img[0x206]), 0x0f);
    EXPECT_EQ(std::to_integer<int>(img[0x211]), k_loaded_high);
    EXPECT_EQ(std::to_integer<int>(img[0x236]), k_xlf_kernel_64 | k_xlf_can_be_loaded_above_4g);
}

TEST(BzImage, RejectsTooShort)
{
    auto img = make_bzimage();
    img.resize(0x26b);
    expect_error(parse(img), Errc::InvalidInput, "bzImage too short for a setup header");
    expect_error(parse_bzimage({}, 0), Errc::InvalidInput, "bzImage too short for a setup header");
}

TEST(BzImage, RejectsHeadLargerThanFile)
{
    auto img = make_bzimage();
    expect_error(parse_bzimage(img, 0x100), Errc::InvalidInput, "bzImage head larger than the file");
}

TEST(BzImage, RejectsBadBootFlag)
{
    auto img = make_bzimage();
    put_u16(img, 0x1fe, 0x55aa);
    expect_error(parse(img), Errc::InvalidInput, "bzImage boot_flag is not 0xAA55");
}

TEST(BzImage, RejectsMissingMagic)
{
    auto img = make_bzimage();
    put_u32(img, 0x202, 0x53726449);
    expect_error(parse(img), Errc::InvalidInput, "bzImage has no HdrS signature");
}

TEST(BzImage, RejectsProtocol205)
{
    auto img = make_bzimage({.version = 0x205});
    expect_error(parse(img), Errc::Unsupported, "bzImage boot protocol older than 2.06");
}

TEST(BzImage, AcceptsProtocolWithoutXloadflagsFor32BitEntry)
{
    // 2.06 .. 2.11 have no xloadflags: accepted, entered through the 32-bit protocol.
    auto img = make_bzimage({.version = 0x20b});
    auto h = parse(img);
    ASSERT_TRUE(h.has_value());
    EXPECT_FALSE(has_64bit_entry(*h));
}

TEST(BzImage, NoKernel64MeansThe32BitEntry)
{
    auto img = make_bzimage({.xloadflags = k_xlf_can_be_loaded_above_4g});
    auto h = parse(img);
    ASSERT_TRUE(h.has_value());
    EXPECT_FALSE(has_64bit_entry(*h));
    EXPECT_TRUE(has_64bit_entry(*parse(make_bzimage({}))));
}

TEST(BzImage, RejectsNotLoadedHigh)
{
    auto img = make_bzimage({.loadflags = 0});
    expect_error(parse(img), Errc::Unsupported, "kernel does not load high (LOADED_HIGH clear; zImage)");
}

TEST(BzImage, RejectsTruncatedProtectedModePart)
{
    auto img = make_bzimage({.payload = 0x3000});
    img.resize(img.size() - 0x100);
    expect_error(parse(img), Errc::InvalidInput, "bzImage protected-mode part truncated (shorter than syssize)");
    // Nothing at all after the setup sectors.
    img.resize(5 * 512);
    expect_error(parse(img), Errc::InvalidInput, "bzImage has no protected-mode part");
}

TEST(BzImage, AcceptsSyssizeRoundedUpToAParagraph)
{
    // build.c rounds syssize up: a payload of 0x3001 bytes declares 0x3010.
    auto img = make_bzimage({.payload = 0x3001});
    EXPECT_TRUE(parse(img).has_value());
}

TEST(BzImage, SetupSectsZeroMeansFour)
{
    auto img = make_bzimage({.setup_sects = 0});
    ASSERT_EQ(img.size(), 5u * 512 + 0x3000);
    auto r = parse(img);
    ASSERT_TRUE(r.has_value()) << r.error().what;
    EXPECT_EQ(setup_size(*r), 5u * 512);
    // Had it meant zero sectors, a file of exactly one sector plus the payload would be enough.
    std::vector<std::byte> shorter(img.begin(), img.begin() + 512 + 0x3000);
    EXPECT_FALSE(parse(shorter).has_value());
}

TEST(BzImage, RejectsInsaneAlignmentAndInitSize)
{
    expect_error(parse(make_bzimage({.kernel_alignment = 0x300000})), Errc::InvalidInput,
                 "bzImage kernel_alignment is not a sane power of two");
    expect_error(parse(make_bzimage({.kernel_alignment = 0})), Errc::InvalidInput,
                 "bzImage kernel_alignment is not a sane power of two");
    expect_error(parse(make_bzimage({.kernel_alignment = 0x80000000})), Errc::InvalidInput,
                 "bzImage kernel_alignment is not a sane power of two");
    expect_error(parse(make_bzimage({.init_size = 0})), Errc::InvalidInput, "bzImage init_size is zero");
    expect_error(parse(make_bzimage({.init_size = 0xfff00001})), Errc::InvalidInput,
                 "bzImage init_size does not fit below the MMIO gap");
}

TEST(BzImage, ZeroesBytesPastTheDeclaredHeaderEnd)
{
    auto img = make_bzimage();
    // A header ending at 0x264 (jump rel8 0x62): handover_offset and later are code, not header.
    put_u16(img, 0x200, static_cast<std::uint16_t>(0xeb | (0x62 << 8)));
    put_u32(img, 0x264, 0xdeadbeef);
    put_u32(img, 0x268, 0xdeadbeef);
    auto r = parse(img);
    ASSERT_TRUE(r.has_value()) << r.error().what;
    EXPECT_EQ(r->handover_offset.get(), 0u);
    EXPECT_EQ(r->kernel_info_offset.get(), 0u);
    EXPECT_EQ(r->init_size.get(), 0x10000u);

    put_u16(img, 0x200, static_cast<std::uint16_t>(0xeb | (0x20 << 8)));
    expect_error(parse(img), Errc::InvalidInput, "bzImage setup header shorter than protocol 2.06 requires");
}

TEST(BzImage, ParsesARealDebianKernelIfPresent)
{
    std::filesystem::path dir(MOAT_DEBIAN_KERNEL_DIR);
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec)) GTEST_SKIP() << "no Debian kernel at " << dir;
    std::filesystem::path kernel;
    for (const auto& d : std::filesystem::directory_iterator(dir, ec))
        if (std::filesystem::exists(d.path() / "vmlinuz", ec)) kernel = d.path() / "vmlinuz";
    if (kernel.empty()) GTEST_SKIP() << "no vmlinuz under " << dir;

    std::ifstream f(kernel, std::ios::binary);
    std::vector<char> head(64 * 1024);
    f.read(head.data(), static_cast<std::streamsize>(head.size()));
    head.resize(static_cast<std::size_t>(f.gcount()));
    auto r = parse_bzimage(std::as_bytes(std::span(head)), std::filesystem::file_size(kernel));
    ASSERT_TRUE(r.has_value()) << r.error().what;
    EXPECT_GE(r->version.get(), 0x20c);
    EXPECT_TRUE(r->xloadflags.get() & k_xlf_kernel_64);
    EXPECT_GT(r->init_size.get(), 0u);

    // And it loads: payload at 1 MiB, 64-bit entry at +0x200.
    auto specs = ram_regions(256 * 1024 * 1024);
    auto mem = memory::GuestMemory::create(specs);
    ASSERT_TRUE(mem.has_value());
    base::UniqueFd fd(::open(kernel.c_str(), O_RDONLY | O_CLOEXEC));
    ASSERT_TRUE(fd.valid());
    auto k = load_kernel(*mem, fd.get());
    ASSERT_TRUE(k.has_value()) << k.error().what;
    EXPECT_EQ(k->format, KernelFormat::BzImage);
    EXPECT_EQ(k->entry, 0x100200u);
    EXPECT_EQ(k->end, 0x100000u + std::max<std::uint64_t>(r->init_size.get(), std::filesystem::file_size(kernel) - setup_size(*r)));
}
