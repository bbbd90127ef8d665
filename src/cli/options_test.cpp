// The command line's value parsers: accepted forms and every rejection.
#include "cli/options.hpp"

#include <gtest/gtest.h>

using namespace moat::cli;

// The size tests live with the parser in src/base/size_test.cpp; this only checks the alias.
TEST(ParseSize, ForwardsToBase)
{
    EXPECT_EQ(*parse_size("256M"), 256u << 20);
    EXPECT_FALSE(parse_size("12Q").has_value());
}

TEST(ParseDisk, ModesAndErrors)
{
    auto d = parse_disk("data.img");
    ASSERT_TRUE(d.has_value());
    EXPECT_EQ(d->path, "data.img");
    EXPECT_EQ(d->access, moat::DiskAccess::ReadWrite);
    EXPECT_EQ(parse_disk("base.img,ro")->access, moat::DiskAccess::ReadOnly);
    EXPECT_EQ(parse_disk("a,b.img,rw")->access, moat::DiskAccess::ReadWrite);
    EXPECT_EQ(parse_disk("a,b.img,rw")->path, "a,b.img");
    EXPECT_FALSE(parse_disk("base.img,xx").has_value());
    EXPECT_FALSE(parse_disk(",ro").has_value());
    EXPECT_FALSE(parse_disk("").has_value());
}
