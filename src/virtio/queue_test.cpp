// Split virtqueue: setup validation, chain limits (every hostile case), used ring, EVENT_IDX.
#include "virtio/queue.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "virtio/testing/fake_guest.hpp"

using moat::Errc;
using moat::memory::GuestAddress;
using moat::virtio::Descriptor;
using moat::virtio::DescriptorChain;
using moat::virtio::feature_bit;
using moat::virtio::Queue;
using moat::virtio::QueueConfig;
using moat::virtio::VIRTIO_RING_F_EVENT_IDX;
using moat::virtio::VIRTIO_RING_F_INDIRECT_DESC;
using moat::virtio::VIRTQ_AVAIL_F_NO_INTERRUPT;
using moat::virtio::VIRTQ_DESC_F_INDIRECT;
using moat::virtio::VIRTQ_DESC_F_NEXT;
using moat::virtio::VIRTQ_DESC_F_WRITE;
using moat::virtio::testing::FakeGuest;

namespace {

constexpr std::uint64_t k_indirect = FakeGuest::k_data.raw() + 0x8000;
constexpr std::uint64_t k_all = feature_bit(VIRTIO_RING_F_EVENT_IDX) | feature_bit(VIRTIO_RING_F_INDIRECT_DESC);

Queue make_queue(const FakeGuest& g, std::uint64_t features = k_all)
{
    auto q = Queue::create(g.mem(), g.config(), 256, features);
    EXPECT_TRUE(q.has_value());
    return std::move(q).value();
}

DescriptorChain pop_chain(Queue& q)
{
    auto c = q.pop();
    EXPECT_TRUE(c.has_value());
    EXPECT_TRUE(c->has_value());
    return std::move(**c);
}

// Walks a chain to its end or first error; returns the descriptors and whether it faulted.
struct Walk {
    std::vector<Descriptor> descs;
    bool faulted = false;
};

Walk walk(DescriptorChain& c)
{
    Walk w;
    for (int i = 0; i < 100000; ++i) {
        auto d = c.next();
        if (!d) {
            EXPECT_EQ(d.error().code, Errc::GuestFault);
            w.faulted = true;
            return w;
        }
        if (!*d) return w;
        w.descs.push_back(**d);
    }
    ADD_FAILURE() << "chain walk did not terminate";
    return w;
}

bool create_fails(const FakeGuest& g, QueueConfig cfg, std::uint16_t max = 256)
{
    auto q = Queue::create(g.mem(), cfg, max, 0);
    return !q.has_value() && q.error().code == Errc::GuestFault;
}

}  // namespace

TEST(QueueSetup, AcceptsAValidLayout)
{
    FakeGuest g(16);
    EXPECT_TRUE(Queue::create(g.mem(), g.config(), 16, 0).has_value());
}

TEST(QueueSetup, RejectsBadSizes)
{
    FakeGuest g(16);
    auto cfg = g.config();
    cfg.size = 0;
    EXPECT_TRUE(create_fails(g, cfg));
    cfg.size = 3;  // not a power of two
    EXPECT_TRUE(create_fails(g, cfg));
    cfg.size = 24;
    EXPECT_TRUE(create_fails(g, cfg));
    cfg.size = 32;  // above the device maximum
    EXPECT_TRUE(create_fails(g, cfg, 16));
    cfg.size = 65536;  // above the split-ring limit, not truncated to 0
    EXPECT_TRUE(create_fails(g, cfg, 0xffff));
    cfg.size = 0x10010;  // would truncate to 16
    EXPECT_TRUE(create_fails(g, cfg, 0xffff));
}

TEST(QueueSetup, RejectsMisalignedRings)
{
    FakeGuest g(16);
    auto cfg = g.config();
    cfg.desc_table = GuestAddress(0x1008);  // desc needs 16
    EXPECT_TRUE(create_fails(g, cfg));
    cfg = g.config();
    cfg.avail_ring = GuestAddress(0x2001);  // avail needs 2
    EXPECT_TRUE(create_fails(g, cfg));
    cfg = g.config();
    cfg.used_ring = GuestAddress(0x3002);  // used needs 4
    EXPECT_TRUE(create_fails(g, cfg));
}

TEST(QueueSetup, RejectsRingsOutsideGuestMemory)
{
    FakeGuest g(16, 0x100000);
    auto cfg = g.config();
    cfg.desc_table = GuestAddress(0x100000 - 0x80);  // 16 * 16 bytes straddle the end
    EXPECT_TRUE(create_fails(g, cfg));
    cfg = g.config();
    cfg.avail_ring = GuestAddress(0x200000);
    EXPECT_TRUE(create_fails(g, cfg));
    cfg = g.config();
    cfg.used_ring = GuestAddress(0x100000 - 132);  // 6 + 8*16 = 134 bytes: 2 past the end
    EXPECT_TRUE(create_fails(g, cfg));
    cfg = g.config();
    cfg.used_ring = GuestAddress(0xfffffffffffffff0);  // address + length overflows
    EXPECT_TRUE(create_fails(g, cfg));
}

TEST(Queue, WalksAChainAndReturnsItUsed)
{
    FakeGuest g(16);
    auto q = make_queue(g);
    const FakeGuest::Buf bufs[] = {{0x10000, 16, false}, {0x11000, 512, true}, {0x12000, 1, true}};
    const auto head = g.add_chain(bufs);
    g.publish(head);

    auto c = pop_chain(q);
    EXPECT_EQ(c.head_index(), head);
    auto w = walk(c);
    ASSERT_FALSE(w.faulted);
    ASSERT_EQ(w.descs.size(), 3u);
    EXPECT_EQ(w.descs[0].addr.raw(), 0x10000u);
    EXPECT_FALSE(w.descs[0].is_write_only());
    EXPECT_EQ(w.descs[1].len, 512u);
    EXPECT_TRUE(w.descs[2].is_write_only());
    EXPECT_EQ(c.total_len(), 529u);

    auto empty = q.pop();
    ASSERT_TRUE(empty.has_value());
    EXPECT_FALSE(empty->has_value());

    ASSERT_TRUE(q.add_used(head, 513).has_value());
    EXPECT_EQ(g.used_idx(), 1);
    EXPECT_EQ(g.used_elem(0).id.get(), head);
    EXPECT_EQ(g.used_elem(0).len.get(), 513u);
}

TEST(Queue, IndicesWrapAround)
{
    FakeGuest g(4);
    auto q = make_queue(g, 0);
    const FakeGuest::Buf buf[] = {{0x10000, 8, false}};
    for (int i = 0; i < 70000; ++i) {  // past 2^16
        g.publish(g.add_chain(buf));
        auto c = pop_chain(q);
        ASSERT_TRUE(q.add_used(c.head_index(), 0).has_value());
    }
    EXPECT_EQ(g.used_idx(), static_cast<std::uint16_t>(70000));
}

TEST(QueueHostile, DescriptorLoopIsBoundedByQueueSize)
{
    FakeGuest g(8);
    auto q = make_queue(g);
    g.set_desc(0, 0x10000, 8, VIRTQ_DESC_F_NEXT, 1);
    g.set_desc(1, 0x10000, 8, VIRTQ_DESC_F_NEXT, 0);  // 0 -> 1 -> 0 -> ...
    g.publish(0);
    auto c = pop_chain(q);
    auto w = walk(c);
    EXPECT_TRUE(w.faulted);
    EXPECT_EQ(w.descs.size(), 8u);  // exactly queue-size hops before the fault
    EXPECT_FALSE(c.next().has_value());  // a failed chain stays failed
}

TEST(QueueHostile, SelfLoop)
{
    FakeGuest g(4);
    auto q = make_queue(g);
    g.set_desc(2, 0x10000, 8, VIRTQ_DESC_F_NEXT, 2);
    g.publish(2);
    auto c = pop_chain(q);
    EXPECT_TRUE(walk(c).faulted);
}

TEST(QueueHostile, NextOutOfRange)
{
    FakeGuest g(8);
    auto q = make_queue(g);
    g.set_desc(0, 0x10000, 8, VIRTQ_DESC_F_NEXT, 8);  // next == size
    g.publish(0);
    auto c = pop_chain(q);
    auto w = walk(c);
    EXPECT_TRUE(w.faulted);
    EXPECT_TRUE(w.descs.empty());  // the bad link is caught before the descriptor is yielded
    g.set_desc(1, 0x10000, 8, VIRTQ_DESC_F_NEXT, 0xffff);
    g.publish(1);
    auto c2 = pop_chain(q);
    EXPECT_TRUE(walk(c2).faulted);
}

TEST(QueueHostile, TotalLengthOverflow)
{
    FakeGuest g(8);
    auto q = make_queue(g);
    // 2^31 + 2^31 = 2^32 is the limit and passes.
    g.set_desc(0, 0x10000, 0x80000000, VIRTQ_DESC_F_NEXT, 1);
    g.set_desc(1, 0x10000, 0x80000000, 0);
    g.publish(0);
    auto ok = pop_chain(q);
    EXPECT_FALSE(walk(ok).faulted);
    EXPECT_EQ(ok.total_len(), std::uint64_t{1} << 32);
    // One byte more fails.
    g.set_desc(2, 0x10000, 0xffffffff, VIRTQ_DESC_F_NEXT, 3);
    g.set_desc(3, 0x10000, 2, 0);
    g.publish(2);
    auto bad = pop_chain(q);
    EXPECT_TRUE(walk(bad).faulted);
}

TEST(QueueHostile, HeadIndexOutOfRange)
{
    FakeGuest g(8);
    auto q = make_queue(g);
    g.publish(8);
    auto c = q.pop();
    ASSERT_FALSE(c.has_value());
    EXPECT_EQ(c.error().code, Errc::GuestFault);
}

TEST(QueueHostile, AvailIndexRunningAhead)
{
    FakeGuest g(8);
    auto q = make_queue(g);
    g.set_avail_idx(9);  // 9 entries in an 8-entry ring
    auto c = q.pop();
    ASSERT_FALSE(c.has_value());
    EXPECT_EQ(c.error().code, Errc::GuestFault);
    g.set_avail_idx(0xffff);  // "behind" is also far ahead modulo 2^16
    EXPECT_FALSE(q.pop().has_value());
    g.set_avail_idx(8);  // exactly a full ring is fine
    EXPECT_TRUE(q.pop().has_value());
}

TEST(QueueHostile, DescriptorOutsideMemoryDoesNotMatter_BufferAddressIsOnlyCopied)
{
    // The walker yields addresses; checking buffers is the device's job (GuestMemory::slice).
    FakeGuest g(4);
    auto q = make_queue(g);
    g.set_desc(0, 0xfffffffffffff000, 0x2000, 0);
    g.publish(0);
    auto c = pop_chain(q);
    auto w = walk(c);
    ASSERT_FALSE(w.faulted);
    EXPECT_FALSE(g.mem().slice(w.descs[0].addr, w.descs[0].len).has_value());
}

TEST(QueueIndirect, WalksAnIndirectTable)
{
    FakeGuest g(4);
    auto q = make_queue(g);
    g.set_desc_in(GuestAddress(k_indirect), 0, 0x10000, 16, VIRTQ_DESC_F_NEXT, 2);
    g.set_desc_in(GuestAddress(k_indirect), 2, 0x11000, 1, VIRTQ_DESC_F_WRITE);
    g.set_desc(1, k_indirect, 3 * 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_WRITE);  // WRITE ignored
    g.publish(1);
    auto c = pop_chain(q);
    auto w = walk(c);
    ASSERT_FALSE(w.faulted);
    ASSERT_EQ(w.descs.size(), 2u);
    EXPECT_EQ(w.descs[0].addr.raw(), 0x10000u);
    EXPECT_FALSE(w.descs[0].is_write_only());
    EXPECT_TRUE(w.descs[1].is_write_only());
    EXPECT_EQ(c.head_index(), 1);
}

TEST(QueueIndirect, DirectDescriptorsMayPrecedeTheIndirectOne)
{
    FakeGuest g(4);
    auto q = make_queue(g);
    g.set_desc_in(GuestAddress(k_indirect), 0, 0x11000, 4, 0);
    g.set_desc(0, 0x10000, 16, VIRTQ_DESC_F_NEXT, 1);
    g.set_desc(1, k_indirect, 16, VIRTQ_DESC_F_INDIRECT);
    g.publish(0);
    auto c = pop_chain(q);
    auto w = walk(c);
    ASSERT_FALSE(w.faulted);
    EXPECT_EQ(w.descs.size(), 2u);
}

TEST(QueueIndirect, RejectedWithoutTheFeature)
{
    FakeGuest g(4);
    auto q = make_queue(g, feature_bit(VIRTIO_RING_F_EVENT_IDX));
    g.set_desc_in(GuestAddress(k_indirect), 0, 0x10000, 16, 0);
    g.set_desc(0, k_indirect, 16, VIRTQ_DESC_F_INDIRECT);
    g.publish(0);
    auto c = pop_chain(q);
    EXPECT_TRUE(walk(c).faulted);
}

TEST(QueueIndirect, NestedIndirectIsAFault)
{
    FakeGuest g(4);
    auto q = make_queue(g);
    g.set_desc_in(GuestAddress(k_indirect), 0, k_indirect, 16, VIRTQ_DESC_F_INDIRECT);
    g.set_desc(0, k_indirect, 16, VIRTQ_DESC_F_INDIRECT);
    g.publish(0);
    auto c = pop_chain(q);
    EXPECT_TRUE(walk(c).faulted);
}

TEST(QueueIndirect, BadTableLengthsAndPlacement)
{
    struct Case {
        std::uint64_t addr;
        std::uint32_t len;
        std::uint16_t flags;
    };
    const Case cases[] = {
        {k_indirect, 24, VIRTQ_DESC_F_INDIRECT},                     // not a multiple of 16
        {k_indirect, 0, VIRTQ_DESC_F_INDIRECT},                      // empty
        {k_indirect, 17, VIRTQ_DESC_F_INDIRECT},                     // not a multiple of 16
        {0x100000 - 16, 32, VIRTQ_DESC_F_INDIRECT},                  // leaves guest memory
        {0xfffffffffffffff0, 32, VIRTQ_DESC_F_INDIRECT},             // overflows
        {k_indirect, 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT}, // INDIRECT with NEXT
    };
    for (const auto& tc : cases) {
        FakeGuest g(4);
        auto q = make_queue(g);
        g.set_desc_in(GuestAddress(k_indirect), 0, 0x10000, 16, 0);
        g.set_desc(0, tc.addr, tc.len, tc.flags, 1);
        g.set_desc(1, 0x10000, 16, 0);
        g.publish(0);
        auto c = pop_chain(q);
        EXPECT_TRUE(walk(c).faulted) << "len " << tc.len << " flags " << tc.flags;
    }
}

TEST(QueueIndirect, LoopInsideTableIsBoundedByItsEntryCount)
{
    FakeGuest g(4);
    auto q = make_queue(g);
    for (std::uint32_t i = 0; i < 5; ++i)
        g.set_desc_in(GuestAddress(k_indirect), i, 0x10000, 1, VIRTQ_DESC_F_NEXT, static_cast<std::uint16_t>((i + 1) % 5));
    g.set_desc(0, k_indirect, 5 * 16, VIRTQ_DESC_F_INDIRECT);
    g.publish(0);
    auto c = pop_chain(q);
    auto w = walk(c);
    EXPECT_TRUE(w.faulted);
    EXPECT_EQ(w.descs.size(), 5u);

    // next pointing past the table's last entry
    g.set_desc_in(GuestAddress(k_indirect), 0, 0x10000, 1, VIRTQ_DESC_F_NEXT, 5);
    g.publish(0);
    auto c2 = pop_chain(q);
    EXPECT_TRUE(walk(c2).faulted);
}

TEST(QueueHostile, DescriptorMutatedAfterFetchKeepsTheCopiedValue)
{
    FakeGuest g(8);
    auto q = make_queue(g);
    g.set_desc(0, 0x10000, 100, VIRTQ_DESC_F_NEXT, 1);
    g.set_desc(1, 0x11000, 200, 0);
    g.publish(0);
    auto c = pop_chain(q);
    auto d0 = c.next();
    ASSERT_TRUE(d0.has_value() && d0->has_value());
    const Descriptor copy = **d0;
    // The guest rewrites descriptor 0 after the device fetched it: a different next, a huge
    // length, and a loop back to itself.
    g.set_desc(0, 0xdead0000, 0xffffffff, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 0);
    EXPECT_EQ(copy.addr.raw(), 0x10000u);
    EXPECT_EQ(copy.len, 100u);
    EXPECT_FALSE(copy.is_write_only());
    auto d1 = c.next();
    ASSERT_TRUE(d1.has_value() && d1->has_value());
    EXPECT_EQ((*d1)->addr.raw(), 0x11000u);  // followed the copied next, not the new one
    auto end = c.next();
    ASSERT_TRUE(end.has_value());
    EXPECT_FALSE(end->has_value());
    EXPECT_EQ(c.total_len(), 300u);
}

TEST(QueueHostile, RacingWriterCannotBreakTheWalk)
{
    FakeGuest g(8);
    auto q = make_queue(g);
    for (std::uint16_t i = 0; i < 8; ++i) g.set_desc(i, 0x10000, 64, VIRTQ_DESC_F_NEXT, static_cast<std::uint16_t>(i + 1));
    g.set_desc(7, 0x10000, 64, 0);
    std::atomic<bool> stop{false};
    std::thread writer([&] {
        std::uint32_t n = 0;
        while (!stop.load(std::memory_order_relaxed)) {
            ++n;
            const auto i = static_cast<std::uint16_t>(n % 8);
            // Flip between sane links, loops, out-of-range next and indirect flags.
            const std::uint16_t flags = static_cast<std::uint16_t>(n & 7);
            g.set_desc(i, 0x10000 + (n & 0xff) * 16, n * 0x1000193u, flags, static_cast<std::uint16_t>(n % 11));
        }
    });
    int faulted = 0;
    for (int round = 0; round < 20000; ++round) {
        g.publish(0);
        auto c = q.pop();
        ASSERT_TRUE(c.has_value() && c->has_value());
        auto w = walk(**c);
        faulted += w.faulted ? 1 : 0;
        EXPECT_LE(w.descs.size(), 8u + 0x10000u);  // bounded by queue size (+ one indirect table)
        std::uint64_t total = 0;
        for (const auto& d : w.descs) total += d.len;
        EXPECT_LE(total, std::uint64_t{1} << 32);
        ASSERT_TRUE(q.add_used((*c)->head_index(), 0).has_value());
    }
    stop.store(true, std::memory_order_relaxed);
    writer.join();
    SUCCEED() << faulted << " walks faulted";
}

TEST(QueueNotify, NoInterruptFlagWithoutEventIdx)
{
    FakeGuest g(8);
    auto q = make_queue(g, 0);
    EXPECT_FALSE(q.needs_notification());  // nothing used yet
    ASSERT_TRUE(q.add_used(0, 0).has_value());
    EXPECT_TRUE(q.needs_notification());
    EXPECT_FALSE(q.needs_notification());  // nothing new since
    g.set_avail_flags(VIRTQ_AVAIL_F_NO_INTERRUPT);
    ASSERT_TRUE(q.add_used(0, 0).has_value());
    EXPECT_FALSE(q.needs_notification());
}

TEST(QueueNotify, UsedEventSuppressesInterrupts)
{
    FakeGuest g(8);
    auto q = make_queue(g);
    g.set_avail_flags(VIRTQ_AVAIL_F_NO_INTERRUPT);  // ignored with EVENT_IDX
    g.set_used_event(0);
    ASSERT_TRUE(q.add_used(0, 0).has_value());  // used idx 0 -> 1 crosses used_event 0
    EXPECT_TRUE(q.needs_notification());
    g.set_used_event(5);
    ASSERT_TRUE(q.add_used(0, 0).has_value());  // 1 -> 2
    EXPECT_FALSE(q.needs_notification());
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(q.add_used(0, 0).has_value());  // 2 -> 5
    EXPECT_FALSE(q.needs_notification());
    ASSERT_TRUE(q.add_used(0, 0).has_value());  // 5 -> 6 crosses 5
    EXPECT_TRUE(q.needs_notification());
    // Several entries in one batch: interrupt if used_event lies anywhere inside it.
    g.set_used_event(7);
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(q.add_used(0, 0).has_value());  // 6 -> 9
    EXPECT_TRUE(q.needs_notification());
}

TEST(QueueNotify, EmptyPopPublishesAvailEvent)
{
    FakeGuest g(8);
    auto q = make_queue(g);
    const FakeGuest::Buf buf[] = {{0x10000, 8, false}};
    g.publish(g.add_chain(buf));
    g.publish(g.add_chain(buf));
    (void)pop_chain(q);
    (void)pop_chain(q);
    auto none = q.pop();
    ASSERT_TRUE(none.has_value());
    EXPECT_FALSE(none->has_value());
    EXPECT_EQ(g.avail_event(), 2);  // "notify me when you publish entry 2"
    EXPECT_EQ(q.next_avail(), 2);
}

TEST(QueueNotify, DescribeSaysWhereBothSidesStand)
{
    FakeGuest g(8);
    auto q = make_queue(g);
    const FakeGuest::Buf buf[] = {{0x10000, 8, false}};
    g.publish(g.add_chain(buf));
    g.publish(g.add_chain(buf));
    g.publish(g.add_chain(buf));
    const auto first = pop_chain(q);
    (void)first;
    ASSERT_TRUE(q.add_used(0, 8).has_value());
    g.set_used_event(4);
    EXPECT_EQ(q.describe(), "avail 3, taken 1, used 1, used_event 4, avail_event 0");
    auto plain = make_queue(g, 0);
    EXPECT_EQ(plain.describe(), "avail 3, taken 0, used 0");  // no event fields without EVENT_IDX
}

TEST(QueueNotify, QuietPopLeavesAvailEventAlone)
{
    FakeGuest g(8);
    auto q = make_queue(g);
    const FakeGuest::Buf buf[] = {{0x10000, 8, false}};
    g.publish(g.add_chain(buf));
    auto first = q.pop(Queue::OnEmpty::StayQuiet);
    ASSERT_TRUE(first.has_value());
    EXPECT_TRUE(first->has_value());
    auto none = q.pop(Queue::OnEmpty::StayQuiet);
    ASSERT_TRUE(none.has_value());
    EXPECT_FALSE(none->has_value());
    EXPECT_EQ(g.avail_event(), 0);  // untouched: the driver's entry 1 will not notify
    none = q.pop();                 // arming later still works
    ASSERT_TRUE(none.has_value());
    EXPECT_FALSE(none->has_value());
    EXPECT_EQ(g.avail_event(), 1);
}

TEST(QueueNotify, PendingCountsWhatPopHasNotTaken)
{
    FakeGuest g(8);
    auto q = make_queue(g);
    EXPECT_EQ(*q.pending(), 0);
    const FakeGuest::Buf buf[] = {{0x10000, 8, false}};
    g.publish(g.add_chain(buf));
    g.publish(g.add_chain(buf));
    EXPECT_EQ(*q.pending(), 2);
    (void)pop_chain(q);
    EXPECT_EQ(*q.pending(), 1);
    EXPECT_EQ(q.next_avail(), 1);  // pending() consumes nothing
}

TEST(QueueHostile, PendingRejectsAnAvailIndexRunningAhead)
{
    FakeGuest g(8);
    auto q = make_queue(g);
    g.set_avail_idx(9);
    auto p = q.pending();
    ASSERT_FALSE(p.has_value());
    EXPECT_EQ(p.error().code, Errc::GuestFault);
}
