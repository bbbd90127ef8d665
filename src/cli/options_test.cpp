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

TEST(ParseNet, TapAndMac)
{
    auto n = parse_net("tap=tap0");
    ASSERT_TRUE(n.has_value());
    EXPECT_EQ(n->tap, "tap0");
    EXPECT_EQ(n->mac, default_mac("tap0"));
    EXPECT_EQ(n->mac[0], 0x02) << "locally administered, unicast";
    EXPECT_NE(default_mac("tap0"), default_mac("tap1"));
    n = parse_net("mac=52:54:00:12:34:56,tap=moat-dmz.1");
    ASSERT_TRUE(n.has_value());
    EXPECT_EQ(n->tap, "moat-dmz.1");
    EXPECT_EQ(n->mac, (moat::base::Mac{0x52, 0x54, 0, 0x12, 0x34, 0x56}));
    for (const char* bad : {"", "tap0", "tap=", "tap=tap0,", "tap=a/b", "tap=abcdefghijklmnop", "tap=t0,tap=t1",
                            "tap=t0,mac=", "tap=t0,mac=52:54:00:12:34", "tap=t0,mac=01:00:5e:00:00:01",
                            "tap=t0,mac=00:00:00:00:00:00", "tap=t0,mac=02:00:00:00:00:01,mac=02:00:00:00:00:02",
                            "mac=02:00:00:00:00:01", "tap=t0,ro"})
        EXPECT_FALSE(parse_net(bad).has_value()) << bad;
}
