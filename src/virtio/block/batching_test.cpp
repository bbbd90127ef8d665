// virtio-blk's batching decisions, driven directly with a fake clock.
#include "virtio/block/batching.hpp"

#include <gtest/gtest.h>

namespace moat::virtio::block {
namespace {

using std::chrono::microseconds;

std::chrono::steady_clock::time_point g_now{};
std::chrono::steady_clock::time_point fake_now() { return g_now; }

Batching params()
{
    Batching b;
    b.probe_every = 4;
    b.probe_window = microseconds(500);
    b.window = microseconds(2000);
    b.min_new = 4;
    b.plenty = 16;
    b.min_window = microseconds(50);
    b.probe_gaps = 2;
    b.now = &fake_now;
    return b;
}

TEST(Batcher, NeverProbesWhenOffOrWithoutEventIdx)
{
    Batching off = params();
    off.probe_every = 0;
    Batcher none(off);
    none.served_at_once(1000);
    EXPECT_FALSE(none.should_probe(true));
    Batcher no_idx(params());
    no_idx.served_at_once(1000);
    EXPECT_FALSE(no_idx.should_probe(false));
}

TEST(Batcher, ProbesAfterProbeEveryRequestsWithAHoldThatFollowsThePace)
{
    Batcher b(params());
    g_now = {};
    g_now += microseconds(1000);
    EXPECT_FALSE(b.should_probe(true));  // nothing served yet
    b.served_at_once(3);
    g_now += microseconds(40);
    EXPECT_FALSE(b.should_probe(true));  // 3 < 4
    b.served_at_once(1);
    g_now += microseconds(40);
    EXPECT_TRUE(b.should_probe(true));
    // Gaps of 40 us pull the average down from 500: (3*500+40)/4 = 385, then (3*385+40)/4 = 298;
    // the hold is twice that, within [50, 500].
    EXPECT_EQ(b.probe_hold(), microseconds(500));
    for (int i = 0; i < 20; ++i) {
        g_now += microseconds(40);
        b.should_probe(true);
    }
    EXPECT_LT(b.probe_hold(), microseconds(100));
    EXPECT_GE(b.probe_hold(), microseconds(50));
}

TEST(Batcher, WindowsShortenUnderPlentyGrowBackAndEndWhenAFullOneBringsTooFew)
{
    Batcher b(params());
    b.served_at_once(4);
    ASSERT_TRUE(b.should_probe(true));
    b.window_opened(2, 1);  // a probe: two requests already in the ring, one new one is enough
    EXPECT_TRUE(b.batching());
    EXPECT_EQ(b.after_window(3), microseconds(2000));  // one new: a full window
    b.window_opened(0, b.min_new());
    EXPECT_EQ(b.after_window(16), microseconds(1000));  // plenty: half as long
    b.window_opened(0, b.min_new());
    EXPECT_EQ(b.after_window(2), microseconds(2000));  // too few in a shortened one: longer again
    b.window_opened(0, b.min_new());
    EXPECT_EQ(b.after_window(2), std::nullopt);  // too few in a full one: back to notifications
    b.stop();
    EXPECT_FALSE(b.batching());
}

TEST(Batcher, WindowsNeverShortenBelowTheMinimum)
{
    Batcher b(params());
    b.served_at_once(4);
    ASSERT_TRUE(b.should_probe(true));
    b.window_opened(0, 1);
    for (int i = 0; i < 10; ++i) {
        auto next = b.after_window(100);
        ASSERT_TRUE(next.has_value());
        EXPECT_GE(*next, microseconds(50));
        b.window_opened(0, b.min_new());
    }
    EXPECT_EQ(b.after_window(100), microseconds(50));
}

TEST(Batcher, ResetForgetsThePace)
{
    Batcher b(params());
    g_now = {};
    for (int i = 0; i < 20; ++i) {
        g_now += microseconds(10);
        b.should_probe(true);
    }
    EXPECT_LT(b.probe_hold(), microseconds(500));
    b.reset();
    EXPECT_FALSE(b.batching());
    EXPECT_EQ(b.probe_hold(), microseconds(500));
}

}  // namespace
}  // namespace moat::virtio::block
