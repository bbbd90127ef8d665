// Range checks of the guest-memory API: every access is whole-range, overflow-safe, one region.
#include "memory/guest_memory.hpp"

#include <gtest/gtest.h>
#include <stdio.h>
#include <unistd.h>

#include <array>

using moat::memory::GuestAddress;
using moat::memory::GuestMemory;

namespace {

GuestMemory two_regions()
{
    // [0, 64 KiB) and [1 MiB, 1 MiB + 8 KiB) with a hole between.
    std::array specs{GuestMemory::RegionSpec{GuestAddress(0), 0x10000},
                     GuestMemory::RegionSpec{GuestAddress(0x100000), 0x2000}};
    auto m = GuestMemory::create(specs);
    EXPECT_TRUE(m.has_value());
    return std::move(m).value();
}

}  // namespace

TEST(GuestMemory, RoundTripsObjects)
{
    auto m = two_regions();
    ASSERT_TRUE(m.write_obj<std::uint64_t>(GuestAddress(0x100), 0x1122334455667788).has_value());
    auto v = m.read_obj<std::uint64_t>(GuestAddress(0x100));
    ASSERT_TRUE(v.has_value());
    EXPECT_EQ(*v, 0x1122334455667788u);
    ASSERT_TRUE(m.write_obj<std::uint32_t>(GuestAddress(0x101ffc), 7).has_value());
    EXPECT_EQ(*m.read_obj<std::uint32_t>(GuestAddress(0x101ffc)), 7u);
}

TEST(GuestMemory, RejectsRangesLeavingARegion)
{
    auto m = two_regions();
    EXPECT_FALSE(m.read_obj<std::uint32_t>(GuestAddress(0xfffe)).has_value());   // straddles end
    EXPECT_FALSE(m.read_obj<std::uint8_t>(GuestAddress(0x10000)).has_value());   // in the hole
    EXPECT_FALSE(m.read_obj<std::uint8_t>(GuestAddress(0x102000)).has_value());  // past the end
    EXPECT_FALSE(m.slice(GuestAddress(0xf000), 0x2000).has_value());
    EXPECT_TRUE(m.slice(GuestAddress(0xf000), 0x1000).has_value());
    EXPECT_TRUE(m.slice(GuestAddress(0x10000), 0).has_value() == false);
}

TEST(GuestMemory, RejectsOverflowingRanges)
{
    auto m = two_regions();
    EXPECT_FALSE(m.slice(GuestAddress(0x100), UINT64_MAX).has_value());
    EXPECT_FALSE(m.slice(GuestAddress(UINT64_MAX), 2).has_value());
    EXPECT_FALSE(m.slice(GuestAddress(UINT64_MAX - 0x100), 0x200).has_value());
    EXPECT_FALSE(GuestAddress(UINT64_MAX).checked_add(1).has_value());
    EXPECT_EQ(GuestAddress(1).checked_add(2)->raw(), 3u);
}

TEST(GuestMemory, RejectsBadLayouts)
{
    std::array unaligned{GuestMemory::RegionSpec{GuestAddress(0x10), 0x1000}};
    EXPECT_FALSE(GuestMemory::create(unaligned).has_value());
    std::array empty{GuestMemory::RegionSpec{GuestAddress(0), 0}};
    EXPECT_FALSE(GuestMemory::create(empty).has_value());
    std::array overlap{GuestMemory::RegionSpec{GuestAddress(0), 0x2000},
                       GuestMemory::RegionSpec{GuestAddress(0x1000), 0x2000}};
    EXPECT_FALSE(GuestMemory::create(overlap).has_value());
}

TEST(GuestMemory, SliceBoundsAreChecked)
{
    auto m = two_regions();
    auto s = m.slice(GuestAddress(0x1000), 16);
    ASSERT_TRUE(s.has_value());
    std::array<std::byte, 8> buf{};
    EXPECT_TRUE(s->read(8, buf).has_value());
    EXPECT_FALSE(s->read(9, buf).has_value());
    EXPECT_FALSE(s->write(SIZE_MAX, buf).has_value());
    EXPECT_EQ(s->as_iovec().iov_len, 16u);
}

TEST(GuestMemory, RingIndicesNeedAlignment)
{
    auto m = two_regions();
    ASSERT_TRUE(m.store_u16(GuestAddress(0x200), 0xbeef, std::memory_order_release).has_value());
    EXPECT_EQ(*m.load_u16(GuestAddress(0x200), std::memory_order_acquire), 0xbeef);
    EXPECT_FALSE(m.load_u16(GuestAddress(0x201), std::memory_order_acquire).has_value());
    EXPECT_FALSE(m.load_u16(GuestAddress(0xffff), std::memory_order_acquire).has_value());
}

TEST(GuestMemory, ReadsFilesInPlaceAndRefusesOverflow)
{
    auto m = two_regions();
    FILE* f = tmpfile();
    ASSERT_NE(f, nullptr);
    ASSERT_EQ(fwrite("abcdef", 1, 6, f), 6u);
    fflush(f);
    ASSERT_TRUE(m.read_from_file(fileno(f), 1, GuestAddress(0x100000), 4).has_value());
    EXPECT_EQ(*m.read_obj<std::uint32_t>(GuestAddress(0x100000)), 0x65646362u);  // "bcde"
    EXPECT_FALSE(m.read_from_file(fileno(f), 0, GuestAddress(0x101ffe), 6).has_value());
    EXPECT_FALSE(m.read_from_file(fileno(f), 0, GuestAddress(0x100000), 16).has_value());  // short file
    fclose(f);
}

TEST(GuestMemory, LargeRegionsAreHugePageAligned)
{
    std::array specs{GuestMemory::RegionSpec{GuestAddress(0), 6u << 20}};
    auto m = GuestMemory::create(specs);
    ASSERT_TRUE(m.has_value());
    auto regions = m->kvm_regions();
    ASSERT_EQ(regions.size(), 1u);
    EXPECT_EQ(regions[0].userspace_addr % (2u << 20), 0u);  // THP-friendly host placement
    EXPECT_EQ(regions[0].size, 6u << 20);
    ASSERT_TRUE(m->write_obj<std::uint64_t>(GuestAddress((6u << 20) - 8), 42).has_value());
    EXPECT_EQ(*m->read_obj<std::uint64_t>(GuestAddress((6u << 20) - 8)), 42u);
}
