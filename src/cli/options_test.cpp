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

TEST(ParseVsock, PathAndCid)
{
    auto v = parse_vsock("/run/v.sock");
    ASSERT_TRUE(v.has_value());
    EXPECT_EQ(v->path, "/run/v.sock");
    EXPECT_EQ(v->cid, 3u);
    v = parse_vsock("v.sock,cid=42");
    ASSERT_TRUE(v.has_value());
    EXPECT_EQ(v->path, "v.sock");
    EXPECT_EQ(v->cid, 42u);
    EXPECT_EQ(parse_vsock("a,b,cid=4294967294")->path, "a,b");
    for (const char* bad : {"", ",cid=5", "v.sock,cid=", "v.sock,cid=x", "v.sock,cid=5x", "v.sock,ro", "v.sock,cid=-3",
                            "v.sock,cid=99999999999999999999"})
        EXPECT_FALSE(parse_vsock(bad).has_value()) << bad;
    EXPECT_EQ(parse_vsock("v.sock,cid=2").error().code, moat::Errc::OutOfRange);
    EXPECT_EQ(parse_vsock("v.sock,cid=4294967295").error().code, moat::Errc::OutOfRange);
}
