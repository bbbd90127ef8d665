// parse_size: every accepted form, the exact limits of overflow, and every rejection.
#include "base/size.hpp"

#include <gtest/gtest.h>

#include <cstdint>

using moat::Errc;
using moat::parse_size;

TEST(ParseSize, AcceptsUnits)
{
    EXPECT_EQ(*parse_size("0"), 0u);
    EXPECT_EQ(*parse_size("4096"), 4096u);
    EXPECT_EQ(*parse_size("512K"), 512u << 10);
    EXPECT_EQ(*parse_size("512k"), 512u << 10);
    EXPECT_EQ(*parse_size("256M"), 256u << 20);
    EXPECT_EQ(*parse_size("256m"), 256u << 20);
    EXPECT_EQ(*parse_size("256MB"), 256u << 20);
    EXPECT_EQ(*parse_size("2G"), 2ull << 30);
    EXPECT_EQ(*parse_size("2GiB"), 2ull << 30);
    EXPECT_EQ(*parse_size("2gib"), 2ull << 30);
    EXPECT_EQ(*parse_size("1T"), 1ull << 40);
    EXPECT_EQ(*parse_size("100B"), 100u);
    EXPECT_EQ(*parse_size("100b"), 100u);
    EXPECT_EQ(*parse_size("007M"), 7u << 20);
}

TEST(ParseSize, OverflowLimits)
{
    EXPECT_EQ(*parse_size("18446744073709551615"), UINT64_MAX);
    EXPECT_FALSE(parse_size("18446744073709551616").has_value());  // 2^64
    EXPECT_EQ(*parse_size("16777215T"), 16777215ull << 40);         // 2^24 - 1 T fits
    EXPECT_FALSE(parse_size("16777216T").has_value());              // 2^64
    EXPECT_EQ(*parse_size("17179869183G"), 17179869183ull << 30);
    EXPECT_FALSE(parse_size("17179869184G").has_value());
    EXPECT_FALSE(parse_size("99999999999999999999").has_value());
}

TEST(ParseSize, RejectsGarbage)
{
    for (const char* bad : {"", "M", "B", "-1", "+1", "12Q", "1.5G", "256MM", "0x100", " 1M", "1M ", "1Bx", "1BB",
                            "1KiBB", "1Ki", "1KBi", "1 M", "1e6"}) {
        auto r = parse_size(bad);
        ASSERT_FALSE(r.has_value()) << bad;
        EXPECT_EQ(r.error().code, Errc::InvalidInput) << bad;
        EXPECT_NE(std::string_view(r.error().what), "") << bad;
    }
}
