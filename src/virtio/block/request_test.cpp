// virtio-blk request parsing: framing, directions, range checks and every malformed chain.
#include "virtio/block/request.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "virtio/block/spec.hpp"
#include "virtio/testing/fake_guest.hpp"

using namespace moat::virtio;
using namespace moat::virtio::block;
using moat::Errc;
using moat::Result;
using moat::memory::GuestAddress;
using moat::virtio::testing::FakeGuest;

namespace {

constexpr std::uint64_t k_hdr = 0x20000;
constexpr std::uint64_t k_buf = 0x30000;
constexpr std::uint64_t k_status = 0x40000;
constexpr Request::Limits k_limits{100, 8};  // 100 sectors, 8 data buffers

struct Parser {
    FakeGuest g{64};
    Queue q = std::move(Queue::create(g.mem(), g.config(), 64, feature_bit(VIRTIO_RING_F_INDIRECT_DESC))).value();

    void header(std::uint32_t type, std::uint64_t sector)
    {
        const VirtioBlkOutHdr h{moat::Le32::from(type), moat::Le32::from(0), moat::Le64::from(sector)};
        EXPECT_TRUE(g.mem().write_obj(GuestAddress(k_hdr), h).has_value());
    }
    Result<Request> parse(std::vector<FakeGuest::Buf> bufs, Request::Limits limits = k_limits)
    {
        g.publish(g.add_chain(bufs));
        return parse_published(limits);
    }
    Result<Request> parse_published(Request::Limits limits = k_limits)
    {
        auto c = q.pop();
        EXPECT_TRUE(c.has_value() && c->has_value());
        return Request::parse(g.mem(), **c, limits);
    }
};

FakeGuest::Buf hdr_buf() { return {k_hdr, 16, false}; }
FakeGuest::Buf status_buf() { return {k_status, 1, true}; }

bool malformed(const Result<Request>& r) { return !r.has_value() && r.error().code == Errc::GuestFault; }

}  // namespace

TEST(BlockRequest, ParsesRead)
{
    Parser p;
    p.header(VIRTIO_BLK_T_IN, 7);
    auto r = p.parse({hdr_buf(), {k_buf, 512, true}, {k_buf + 0x1000, 1024, true}, status_buf()});
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->type, RequestType::In);
    EXPECT_FALSE(r->rejected.has_value());
    EXPECT_EQ(r->sector, 7u);
    EXPECT_EQ(r->data_len, 1536u);
    ASSERT_EQ(r->data.size(), 2u);
    EXPECT_EQ(r->data[1].addr.raw(), k_buf + 0x1000);
    EXPECT_EQ(r->status.raw(), k_status);
}

TEST(BlockRequest, ParsesWriteFlushAndGetId)
{
    Parser p;
    p.header(VIRTIO_BLK_T_OUT, 99);  // the last sector
    auto w = p.parse({hdr_buf(), {k_buf, 512, false}, status_buf()});
    ASSERT_TRUE(w.has_value());
    EXPECT_EQ(w->type, RequestType::Out);
    EXPECT_FALSE(w->rejected.has_value());

    p.header(VIRTIO_BLK_T_FLUSH, 12345);  // sector ignored
    auto f = p.parse({hdr_buf(), status_buf()});
    ASSERT_TRUE(f.has_value());
    EXPECT_EQ(f->type, RequestType::Flush);
    EXPECT_FALSE(f->rejected.has_value());

    p.header(VIRTIO_BLK_T_GET_ID, 0);
    auto id = p.parse({hdr_buf(), {k_buf, 20, true}, status_buf()});
    ASSERT_TRUE(id.has_value());
    EXPECT_EQ(id->type, RequestType::GetId);
    EXPECT_FALSE(id->rejected.has_value());
    EXPECT_EQ(id->data_len, 20u);
}

TEST(BlockRequest, UnknownTypeIsUnsupported)
{
    Parser p;
    for (std::uint32_t t : {2u, 3u, 11u, 13u, 0xffffffffu}) {
        p.header(t, 0);
        auto r = p.parse({hdr_buf(), {k_buf, 512, true}, status_buf()});
        ASSERT_TRUE(r.has_value());
        EXPECT_EQ(r->type, RequestType::Unsupported);
        EXPECT_EQ(r->rejected, VIRTIO_BLK_S_UNSUPP);
        EXPECT_EQ(r->raw_type, t);
        EXPECT_TRUE(r->data.empty());
    }
}

TEST(BlockRequest, RangeChecksAnswerIoErr)
{
    Parser p;
    struct Case {
        std::uint32_t type;
        std::uint64_t sector;
        std::uint32_t len;
    };
    const Case cases[] = {
        {VIRTIO_BLK_T_IN, 0, 511},                  // not whole sectors
        {VIRTIO_BLK_T_OUT, 0, 513},
        {VIRTIO_BLK_T_IN, 100, 512},                // starts at capacity
        {VIRTIO_BLK_T_IN, 99, 1024},                // ends past capacity
        {VIRTIO_BLK_T_OUT, 0xffffffffffffffff, 512},  // sector + count overflows
        {VIRTIO_BLK_T_IN, 0xfffffffffffffffe, 1024},
    };
    for (const auto& tc : cases) {
        p.header(tc.type, tc.sector);
        auto r = p.parse({hdr_buf(), {k_buf, tc.len, tc.type == VIRTIO_BLK_T_IN}, status_buf()});
        ASSERT_TRUE(r.has_value());
        EXPECT_EQ(r->rejected, VIRTIO_BLK_S_IOERR) << tc.sector << " " << tc.len;
        EXPECT_TRUE(r->data.empty());
    }
    p.header(VIRTIO_BLK_T_IN, 98);  // [98, 100) fits exactly
    auto ok = p.parse({hdr_buf(), {k_buf, 1024, true}, status_buf()});
    ASSERT_TRUE(ok.has_value());
    EXPECT_FALSE(ok->rejected.has_value());
}

TEST(BlockRequest, WrongDirectionsAnswerIoErr)
{
    Parser p;
    p.header(VIRTIO_BLK_T_IN, 0);  // IN into a device-readable buffer
    auto in = p.parse({hdr_buf(), {k_buf, 512, false}, status_buf()});
    ASSERT_TRUE(in.has_value());
    EXPECT_EQ(in->rejected, VIRTIO_BLK_S_IOERR);
    p.header(VIRTIO_BLK_T_OUT, 0);  // OUT from a device-writable buffer
    auto out = p.parse({hdr_buf(), {k_buf, 512, true}, status_buf()});
    ASSERT_TRUE(out.has_value());
    EXPECT_EQ(out->rejected, VIRTIO_BLK_S_IOERR);
    p.header(VIRTIO_BLK_T_FLUSH, 0);  // FLUSH carries no data
    auto fl = p.parse({hdr_buf(), {k_buf, 512, false}, status_buf()});
    ASSERT_TRUE(fl.has_value());
    EXPECT_EQ(fl->rejected, VIRTIO_BLK_S_IOERR);
}

TEST(BlockRequest, MalformedHeaders)
{
    Parser p;
    p.header(VIRTIO_BLK_T_IN, 0);
    EXPECT_TRUE(malformed(p.parse({{k_hdr, 16, true}, status_buf()})));    // header device-writable
    EXPECT_TRUE(malformed(p.parse({{k_hdr, 8, false}, status_buf()})));    // too short
    EXPECT_TRUE(malformed(p.parse({{k_hdr, 32, false}, status_buf()})));   // header + data mixed
    EXPECT_TRUE(malformed(p.parse({{0xfffffff8, 16, false}, status_buf()})));  // outside memory
    EXPECT_TRUE(malformed(p.parse({{0xfffffffffffffff8, 16, false}, status_buf()})));  // overflows
}

TEST(BlockRequest, MalformedStatus)
{
    Parser p;
    p.header(VIRTIO_BLK_T_IN, 0);
    EXPECT_TRUE(malformed(p.parse({hdr_buf()})));                                 // no status
    EXPECT_TRUE(malformed(p.parse({hdr_buf(), {k_status, 1, false}})));          // readable
    EXPECT_TRUE(malformed(p.parse({hdr_buf(), {k_status, 0, true}})));           // empty
    EXPECT_TRUE(malformed(p.parse({hdr_buf(), {0x7000000000, 1, true}})));       // outside memory
    // A status descriptor longer than one byte is fine: the status is its first byte.
    auto r = p.parse({hdr_buf(), {k_status, 64, true}});
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status.raw(), k_status);
}

TEST(BlockRequest, DataOutsideMemoryOrTooManySegments)
{
    Parser p;
    p.header(VIRTIO_BLK_T_IN, 0);
    EXPECT_TRUE(malformed(p.parse({hdr_buf(), {0x100000 - 256, 512, true}, status_buf()})));
    std::vector<FakeGuest::Buf> many{hdr_buf()};
    for (int i = 0; i < 9; ++i) many.push_back({k_buf, 512, true});  // seg_max is 8
    many.push_back(status_buf());
    EXPECT_TRUE(malformed(p.parse(many)));
    many.erase(many.begin() + 1);  // exactly 8
    auto ok = p.parse(many);
    ASSERT_TRUE(ok.has_value());
    EXPECT_EQ(ok->data.size(), 8u);
}

TEST(BlockRequest, ChainFaultsPropagate)
{
    Parser p;
    p.header(VIRTIO_BLK_T_IN, 0);
    p.g.set_desc(0, k_hdr, 16, VIRTQ_DESC_F_NEXT, 1);
    p.g.set_desc(1, k_buf, 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 0);  // loop
    p.g.publish(0);
    EXPECT_TRUE(malformed(p.parse_published()));
    auto empty_chain_ok = p.q.pop();
    ASSERT_TRUE(empty_chain_ok.has_value());
    EXPECT_FALSE(empty_chain_ok->has_value());
}

TEST(BlockRequest, IndirectChain)
{
    Parser p;
    p.header(VIRTIO_BLK_T_OUT, 1);
    const GuestAddress table(0x50000);
    p.g.set_desc_in(table, 0, k_hdr, 16, VIRTQ_DESC_F_NEXT, 1);
    p.g.set_desc_in(table, 1, k_buf, 512, VIRTQ_DESC_F_NEXT, 2);
    p.g.set_desc_in(table, 2, k_status, 1, VIRTQ_DESC_F_WRITE);
    p.g.set_desc(5, table.raw(), 48, VIRTQ_DESC_F_INDIRECT);
    p.g.publish(5);
    auto r = p.parse_published();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->type, RequestType::Out);
    EXPECT_EQ(r->data_len, 512u);
}

TEST(BlockRequest, HeaderIsReadOnce)
{
    Parser p;
    p.header(VIRTIO_BLK_T_IN, 3);
    auto r = p.parse({hdr_buf(), {k_buf, 512, true}, status_buf()});
    ASSERT_TRUE(r.has_value());
    p.header(VIRTIO_BLK_T_OUT, 0xffffffffffffffff);  // the guest rewrites it afterwards
    EXPECT_EQ(r->type, RequestType::In);
    EXPECT_EQ(r->sector, 3u);
}
