// The command line's value parsers: accepted forms and every rejection.
#include "cli/options.hpp"

#include <gtest/gtest.h>

using namespace moat::cli;

TEST(ParseSize, AcceptsUnits)
{
    EXPECT_EQ(*parse_size("4096"), 4096u);
    EXPECT_EQ(*parse_size("512K"), 512u << 10);
    EXPECT_EQ(*parse_size("256M"), 256u << 20);
    EXPECT_EQ(*parse_size("256m"), 256u << 20);
    EXPECT_EQ(*parse_size("2G"), 2ull << 30);
    EXPECT_EQ(*parse_size("2GiB"), 2ull << 30);
    EXPECT_EQ(*parse_size("1T"), 1ull << 40);
    EXPECT_EQ(*parse_size("100B"), 100u);
}

TEST(ParseSize, RejectsGarbage)
{
    for (const char* bad : {"", "M", "-1", "12Q", "1.5G", "256MM", "0x100", " 1M", "1M ", "99999999999999999999",
                            "17179869184G", "1Bx"})
        EXPECT_FALSE(parse_size(bad).has_value()) << bad;
}

TEST(ParseDisk, ModesAndErrors)
{
    auto d = parse_disk("data.img");
    ASSERT_TRUE(d.has_value());
    EXPECT_EQ(d->path, "data.img");
    EXPECT_FALSE(d->read_only);
    EXPECT_TRUE(parse_disk("base.img,ro")->read_only);
    EXPECT_FALSE(parse_disk("a,b.img,rw")->read_only);
    EXPECT_EQ(parse_disk("a,b.img,rw")->path, "a,b.img");
    EXPECT_FALSE(parse_disk("base.img,xx").has_value());
    EXPECT_FALSE(parse_disk(",ro").has_value());
    EXPECT_FALSE(parse_disk("").has_value());
}
