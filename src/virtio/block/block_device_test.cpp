// virtio-blk device: I/O round trips against a temp file, read-only rule, flush, GET_ID,
// capacity, error statuses, interrupts, and a full bring-up through the MMIO transport.
#include "virtio/block/block_device.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include "virtio/mmio.hpp"
#include "virtio/testing/fake_guest.hpp"

using namespace moat::virtio;
using namespace moat::virtio::block;
using moat::DiskAccess;
using moat::base::UniqueFd;
using moat::memory::GuestAddress;
using moat::virtio::testing::FakeGuest;

namespace {

constexpr std::uint64_t k_hdr = 0x20000;
constexpr std::uint64_t k_buf = 0x30000;
constexpr std::uint64_t k_status = 0x40000;
constexpr std::uint64_t k_ring_features =
    feature_bit(VIRTIO_F_VERSION_1) | feature_bit(VIRTIO_RING_F_EVENT_IDX) | feature_bit(VIRTIO_RING_F_INDIRECT_DESC);

class TempFile final {
public:
    explicit TempFile(std::size_t size)
    {
        char path[] = "/tmp/moat-blk-XXXXXX";
        m_fd = UniqueFd(::mkostemp(path, O_CLOEXEC));
        EXPECT_TRUE(m_fd.valid());
        m_path = path;
        std::vector<unsigned char> bytes(size);
        for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<unsigned char>(i * 7 + i / 512);
        EXPECT_EQ(::pwrite(m_fd.get(), bytes.data(), size, 0), static_cast<ssize_t>(size));
    }
    ~TempFile() { ::unlink(m_path.c_str()); }
    UniqueFd open(int flags) const { return UniqueFd(::open(m_path.c_str(), flags | O_CLOEXEC)); }
    std::vector<std::byte> contents() const
    {
        std::vector<std::byte> out(static_cast<std::size_t>(::lseek(m_fd.get(), 0, SEEK_END)));
        EXPECT_EQ(::pread(m_fd.get(), out.data(), out.size(), 0), static_cast<ssize_t>(out.size()));
        return out;
    }
    int fd() const { return m_fd.get(); }

private:
    UniqueFd m_fd;
    std::string m_path;
};

class CountingNotifier final : public DriverNotifier {
public:
    void notify_used() override { ++used; }
    void notify_config_change() override { ++config; }
    void device_needs_reset() override { ++needs_reset; }
    void guest_fault() override { ++faults; }
    bool poll_later(std::uint32_t queue, std::chrono::microseconds delay) override
    {
        polls.push_back({queue, delay});
        return polls_work;
    }
    struct Poll {
        std::uint32_t queue;
        std::chrono::microseconds delay;
    };
    std::vector<Poll> polls;
    bool polls_work = true;
    int used = 0;
    int config = 0;
    int needs_reset = 0;
    int faults = 0;
};

std::vector<std::byte> pattern(std::size_t n, unsigned seed)
{
    std::vector<std::byte> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>((i * 13 + seed) & 0xff);
    return v;
}

// A block device activated on a FakeGuest queue, driven request by request.
struct Rig {
    TempFile file;
    FakeGuest g{64};
    CountingNotifier notifier;
    std::unique_ptr<BlockDevice> dev;

    explicit Rig(DiskAccess access, std::size_t size = 64 * 512, std::uint64_t features = k_ring_features,
                 ReadOnlyWrites read_only = ReadOnlyWrites::Announced, Batching batching = {})
        : file(size)
    {
        auto d = BlockDevice::create(file.open(access == DiskAccess::ReadOnly ? O_RDONLY : O_RDWR), access, "moat-disk-1",
                                     read_only, batching);
        EXPECT_TRUE(d.has_value());
        dev = std::move(d).value();
        std::vector<std::optional<Queue>> queues;
        queues.push_back(std::move(Queue::create(g.mem(), g.config(), 256, features)).value());
        EXPECT_TRUE(dev->activate(ActivateContext{g.mem(), features, std::move(queues), notifier}).has_value());
    }

    // Publishes one flush request without notifying.
    void publish_flush()
    {
        const VirtioBlkOutHdr h{moat::Le32::from(VIRTIO_BLK_T_FLUSH), moat::Le32::from(0), moat::Le64::from(0)};
        EXPECT_TRUE(g.mem().write_obj(GuestAddress(k_hdr), h).has_value());
        g.publish(g.add_chain(std::vector<FakeGuest::Buf>{{k_hdr, 16, false}, {k_status, 1, true}}));
    }

    // Submits one request and returns (status byte, used len).
    std::pair<std::uint8_t, std::uint32_t> submit(std::uint32_t type, std::uint64_t sector,
                                                  std::vector<FakeGuest::Buf> data)
    {
        const VirtioBlkOutHdr h{moat::Le32::from(type), moat::Le32::from(0), moat::Le64::from(sector)};
        EXPECT_TRUE(g.mem().write_obj(GuestAddress(k_hdr), h).has_value());
        EXPECT_TRUE(g.mem().write_obj<std::uint8_t>(GuestAddress(k_status), 0xee).has_value());
        std::vector<FakeGuest::Buf> bufs{{k_hdr, 16, false}};
        bufs.insert(bufs.end(), data.begin(), data.end());
        bufs.push_back({k_status, 1, true});
        const auto before = g.used_idx();
        g.publish(g.add_chain(bufs));
        dev->process_queue(0);
        EXPECT_EQ(g.used_idx(), static_cast<std::uint16_t>(before + 1));
        const auto elem = g.used_elem(before);
        return {*g.mem().read_obj<std::uint8_t>(GuestAddress(k_status)), elem.len.get()};
    }
};

}  // namespace

TEST(BlockDevice, CapacityFeaturesAndConfig)
{
    TempFile f(1000 * 512 + 100);  // a partial sector rounds down
    auto d = BlockDevice::create(f.open(O_RDWR), DiskAccess::ReadWrite, "disk");
    ASSERT_TRUE(d.has_value());
    EXPECT_EQ((*d)->capacity_sectors(), 1000u);
    EXPECT_EQ((*d)->device_id(), 2u);
    const auto features = (*d)->features();
    EXPECT_NE(features & feature_bit(VIRTIO_F_VERSION_1), 0u);
    EXPECT_NE(features & feature_bit(VIRTIO_BLK_F_FLUSH), 0u);
    EXPECT_NE(features & feature_bit(VIRTIO_BLK_F_SEG_MAX), 0u);
    EXPECT_NE(features & feature_bit(VIRTIO_RING_F_EVENT_IDX), 0u);
    EXPECT_EQ(features & feature_bit(VIRTIO_BLK_F_RO), 0u);
    ASSERT_EQ((*d)->queue_max_sizes().size(), 1u);

    std::array<std::byte, 8> cap{};
    (*d)->read_config(0, cap);
    std::uint64_t c;
    std::memcpy(&c, cap.data(), 8);
    EXPECT_EQ(c, 1000u);
    std::array<std::byte, 4> seg{};
    (*d)->read_config(12, seg);
    std::uint32_t s;
    std::memcpy(&s, seg.data(), 4);
    EXPECT_EQ(s, BlockDevice::k_seg_max);
    std::array<std::byte, 4> beyond{std::byte{1}, std::byte{1}, std::byte{1}, std::byte{1}};
    (*d)->read_config(70, beyond);  // straddles the end: tail reads zero
    EXPECT_EQ(beyond[3], std::byte{0});
    (*d)->read_config(0xffffffffffffff00, beyond);
    EXPECT_EQ(beyond[0], std::byte{0});

    auto ro = BlockDevice::create(f.open(O_RDONLY), DiskAccess::ReadOnly, "disk");
    ASSERT_TRUE(ro.has_value());
    EXPECT_NE((*ro)->features() & feature_bit(VIRTIO_BLK_F_RO), 0u);
    // Unannounced: the driver is not told, the device still refuses (next test's rig).
    auto quiet = BlockDevice::create(f.open(O_RDONLY), DiskAccess::ReadOnly, "disk", ReadOnlyWrites::Reported);
    ASSERT_TRUE(quiet.has_value());
    EXPECT_EQ((*quiet)->features() & feature_bit(VIRTIO_BLK_F_RO), 0u);
}

TEST(BlockDevice, CreateRejectsBadInput)
{
    TempFile f(4096);
    EXPECT_FALSE(BlockDevice::create(f.open(O_RDONLY), DiskAccess::ReadWrite, "x").has_value());
    EXPECT_FALSE(BlockDevice::create(f.open(O_RDWR), DiskAccess::ReadWrite, std::string(21, 'a')).has_value());
    EXPECT_TRUE(BlockDevice::create(f.open(O_RDWR), DiskAccess::ReadWrite, std::string(20, 'a')).has_value());
    EXPECT_FALSE(BlockDevice::create(UniqueFd(), DiskAccess::ReadOnly, "x").has_value());
    EXPECT_FALSE(BlockDevice::create(UniqueFd(::open("/dev/null", O_RDONLY | O_CLOEXEC)), DiskAccess::ReadOnly, "x")
                     .has_value());  // a character device
}

TEST(BlockDevice, WriteThenReadRoundTrip)
{
    Rig r(DiskAccess::ReadWrite);
    // Three uneven segments: 512 + 1024 + 512 bytes to sectors 5..8.
    const auto data = pattern(2048, 3);
    r.g.write(GuestAddress(k_buf), std::span(data).first(512));
    r.g.write(GuestAddress(k_buf + 0x1000), std::span(data).subspan(512, 1024));
    r.g.write(GuestAddress(k_buf + 0x2000), std::span(data).subspan(1536));
    auto [st, len] = r.submit(VIRTIO_BLK_T_OUT, 5,
                              {{k_buf, 512, false}, {k_buf + 0x1000, 1024, false}, {k_buf + 0x2000, 512, false}});
    EXPECT_EQ(st, VIRTIO_BLK_S_OK);
    EXPECT_EQ(len, 1u);
    const auto disk = r.file.contents();
    EXPECT_TRUE(std::equal(data.begin(), data.end(), disk.begin() + 5 * 512));

    auto [st2, len2] = r.submit(VIRTIO_BLK_T_IN, 5, {{0x60000, 1536, true}, {0x70000, 512, true}});
    EXPECT_EQ(st2, VIRTIO_BLK_S_OK);
    EXPECT_EQ(len2, 2049u);
    EXPECT_EQ(r.g.read(GuestAddress(0x60000), 1536), std::vector<std::byte>(data.begin(), data.begin() + 1536));
    EXPECT_EQ(r.g.read(GuestAddress(0x70000), 512), std::vector<std::byte>(data.begin() + 1536, data.end()));
}

TEST(BlockDevice, ReadOnlyDiskRefusesWritesAndKeepsTheFile)
{
    Rig r(DiskAccess::ReadOnly);
    int denied = 0;
    r.dev->set_denied_write_hook([&denied] { ++denied; });
    const auto before = r.file.contents();
    r.g.write(GuestAddress(k_buf), pattern(512, 9));
    auto [st, len] = r.submit(VIRTIO_BLK_T_OUT, 0, {{k_buf, 512, false}});
    EXPECT_EQ(st, VIRTIO_BLK_S_IOERR);
    EXPECT_EQ(len, 1u);
    EXPECT_EQ(r.file.contents(), before);
    EXPECT_EQ(denied, 1);  // reported, so the VMM can audit it
    // Reads and flushes still work.
    auto [st2, len2] = r.submit(VIRTIO_BLK_T_IN, 1, {{k_buf, 512, true}});
    EXPECT_EQ(st2, VIRTIO_BLK_S_OK);
    EXPECT_EQ(r.g.read(GuestAddress(k_buf), 512), std::vector<std::byte>(before.begin() + 512, before.begin() + 1024));
    EXPECT_EQ(r.submit(VIRTIO_BLK_T_FLUSH, 0, {}).first, VIRTIO_BLK_S_OK);
    EXPECT_EQ(r.file.contents(), before);
    EXPECT_EQ(denied, 1);  // reads and flushes are not denials
}

TEST(BlockDevice, FlushGetIdAndUnsupported)
{
    Rig r(DiskAccess::ReadWrite);
    auto [fst, flen] = r.submit(VIRTIO_BLK_T_FLUSH, 0, {});
    EXPECT_EQ(fst, VIRTIO_BLK_S_OK);
    EXPECT_EQ(flen, 1u);

    r.g.write(GuestAddress(k_buf), pattern(32, 1));
    auto [ist, ilen] = r.submit(VIRTIO_BLK_T_GET_ID, 0, {{k_buf, 32, true}});
    EXPECT_EQ(ist, VIRTIO_BLK_S_OK);
    EXPECT_EQ(ilen, 21u);
    std::vector<std::byte> want(20);
    std::memcpy(want.data(), "moat-disk-1", 11);
    EXPECT_EQ(r.g.read(GuestAddress(k_buf), 20), want);
    EXPECT_EQ(r.g.read(GuestAddress(k_buf + 20), 1)[0], pattern(32, 1)[20]);  // untouched

    // The id split over two short buffers.
    auto [ist2, ilen2] = r.submit(VIRTIO_BLK_T_GET_ID, 0, {{0x60000, 4, true}, {0x61000, 4, true}});
    EXPECT_EQ(ist2, VIRTIO_BLK_S_OK);
    EXPECT_EQ(ilen2, 9u);
    EXPECT_EQ(r.g.read(GuestAddress(0x61000), 4), std::vector<std::byte>(want.begin() + 4, want.begin() + 8));

    EXPECT_EQ(r.submit(13, 0, {}).first, VIRTIO_BLK_S_UNSUPP);
    EXPECT_EQ(r.submit(VIRTIO_BLK_T_IN, 64, {{k_buf, 512, true}}).first, VIRTIO_BLK_S_IOERR);  // past the end
    EXPECT_EQ(r.submit(VIRTIO_BLK_T_IN, 0, {{k_buf, 100, true}}).first, VIRTIO_BLK_S_IOERR);   // partial sector
}

TEST(BlockDevice, HostIoErrorIsIoErr)
{
    Rig r(DiskAccess::ReadWrite);
    ASSERT_EQ(::ftruncate(r.file.fd(), 512), 0);  // the disk shrinks under the device
    auto [st, len] = r.submit(VIRTIO_BLK_T_IN, 10, {{k_buf, 512, true}});
    EXPECT_EQ(st, VIRTIO_BLK_S_IOERR);
    EXPECT_EQ(len, 1u);
}

TEST(BlockDevice, MalformedRequestIsReturnedUnanswered)
{
    Rig r(DiskAccess::ReadWrite);
    EXPECT_TRUE(r.g.mem().write_obj<std::uint8_t>(GuestAddress(k_status), 0xee).has_value());
    r.g.publish(r.g.add_chain(std::vector<FakeGuest::Buf>{{k_hdr, 8, false}, {k_status, 1, true}}));
    r.dev->process_queue(0);
    EXPECT_EQ(r.g.used_idx(), 1);
    EXPECT_EQ(r.g.used_elem(0).len.get(), 0u);
    EXPECT_EQ(*r.g.mem().read_obj<std::uint8_t>(GuestAddress(k_status)), 0xee);
    EXPECT_EQ(r.notifier.needs_reset, 0);
    EXPECT_EQ(r.notifier.faults, 1);  // counted for the monitor's audit log
    // The queue keeps working.
    EXPECT_EQ(r.submit(VIRTIO_BLK_T_FLUSH, 0, {}).first, VIRTIO_BLK_S_OK);
}

TEST(BlockDevice, QueueFaultAsksForReset)
{
    Rig r(DiskAccess::ReadWrite);
    r.g.set_avail_idx(1000);
    r.dev->process_queue(0);
    EXPECT_EQ(r.notifier.needs_reset, 1);
    EXPECT_EQ(r.g.used_idx(), 0);
}

TEST(BlockDevice, UnannouncedReadOnlyDiskStillRefusesWrites)
{
    Rig r(DiskAccess::ReadOnly, 64 * 512, k_ring_features, ReadOnlyWrites::Reported);
    int denied = 0;
    r.dev->set_denied_write_hook([&denied] { ++denied; });
    const auto before = r.file.contents();
    r.g.write(GuestAddress(k_buf), pattern(1024, 3));
    EXPECT_EQ(r.submit(VIRTIO_BLK_T_OUT, 0, {{k_buf, 1024, false}}).first, VIRTIO_BLK_S_IOERR);
    EXPECT_EQ(r.submit(VIRTIO_BLK_T_OUT, 4, {{k_buf, 512, false}}).first, VIRTIO_BLK_S_IOERR);
    EXPECT_EQ(r.file.contents(), before);
    EXPECT_EQ(denied, 2);
}

TEST(BlockDevice, InterruptsHonourEventIdx)
{
    Rig r(DiskAccess::ReadWrite);
    r.g.set_used_event(0);
    r.submit(VIRTIO_BLK_T_FLUSH, 0, {});  // used 0 -> 1 crosses used_event 0
    EXPECT_EQ(r.notifier.used, 1);
    r.g.set_used_event(10);
    r.submit(VIRTIO_BLK_T_FLUSH, 0, {});
    EXPECT_EQ(r.notifier.used, 1);  // suppressed
    // Several requests in one notify: one interrupt at most.
    r.g.set_used_event(2);
    const auto h = r.g.add_chain(std::vector<FakeGuest::Buf>{{k_hdr, 16, false}, {k_status, 1, true}});
    r.g.publish(h);
    r.g.publish(h);
    r.dev->process_queue(0);
    EXPECT_EQ(r.notifier.used, 2);
    EXPECT_EQ(r.g.avail_event(), 4);  // asked to be notified at the next entry
    r.dev->process_queue(3);          // not a queue of ours: ignored
    r.dev->reset();
    r.dev->process_queue(0);  // after reset: nothing
    EXPECT_EQ(r.notifier.used, 2);
}

TEST(BlockDevice, NoEventIdxInterruptsEveryBatch)
{
    Rig r(DiskAccess::ReadWrite, 64 * 512, feature_bit(VIRTIO_F_VERSION_1));
    r.submit(VIRTIO_BLK_T_FLUSH, 0, {});
    r.submit(VIRTIO_BLK_T_FLUSH, 0, {});
    EXPECT_EQ(r.notifier.used, 2);
}

// Batching (block_device.hpp): small numbers so a test reaches every state in a few requests.
// Its clock advances by `step` at every reading: by default the driver notifies every 1 ms, slower
// than probe_window, so probes hold for all of probe_window.
namespace {
struct FakeClock {
    static inline std::chrono::steady_clock::time_point now{};
    static inline std::chrono::microseconds step{1000};
    static std::chrono::steady_clock::time_point read() { return now += step; }
};
// Sets the driver's pace for one test.
struct Pace {
    explicit Pace(std::chrono::microseconds step) { FakeClock::step = step; }
    ~Pace() { FakeClock::step = std::chrono::microseconds(1000); }
    Pace(const Pace&) = delete;
    Pace& operator=(const Pace&) = delete;
};
constexpr Batching k_quick{2, std::chrono::microseconds(500), std::chrono::microseconds(2000), 2, 16,
                           std::chrono::microseconds(50), 2, &FakeClock::read};

// With probe_every 2: two requests served at once, then a probe that finds one new request, so
// the device batches with a full window due.
void enter_batching(Rig& r)
{
    r.submit(VIRTIO_BLK_T_FLUSH, 0, {});
    r.submit(VIRTIO_BLK_T_FLUSH, 0, {});
    r.publish_flush();
    r.dev->process_queue(0);  // the probe
    r.publish_flush();
    r.dev->poll_queue(0);
}
}  // namespace

TEST(BlockDeviceBatching, ProbeFindsMoreRequestsThenBatchesUntilTheyStop)
{
    Rig r(DiskAccess::ReadWrite, 64 * 512, k_ring_features, ReadOnlyWrites::Announced, k_quick);
    r.submit(VIRTIO_BLK_T_FLUSH, 0, {});
    r.submit(VIRTIO_BLK_T_FLUSH, 0, {});
    EXPECT_TRUE(r.notifier.polls.empty());  // served at once until probe_every requests
    EXPECT_EQ(r.g.avail_event(), 2);
    // The next notified request is the probe: left in the ring for probe_window.
    r.g.set_used_event(2);
    r.publish_flush();
    r.dev->process_queue(0);
    EXPECT_EQ(r.g.used_idx(), 2);
    ASSERT_EQ(r.notifier.polls.size(), 1u);
    EXPECT_EQ(r.notifier.polls[0].queue, 0u);
    EXPECT_EQ(r.notifier.polls[0].delay, std::chrono::microseconds(500));
    // The driver publishes more meanwhile; its notifications (if any) change nothing.
    r.publish_flush();
    r.dev->process_queue(0);
    EXPECT_EQ(r.g.used_idx(), 2);
    const int irqs = r.notifier.used;
    r.dev->poll_queue(0);  // end of the probe: both served, one interrupt, a full window next
    EXPECT_EQ(r.g.used_idx(), 4);
    EXPECT_EQ(r.notifier.used, irqs + 1);
    ASSERT_EQ(r.notifier.polls.size(), 2u);
    EXPECT_EQ(r.notifier.polls[1].delay, std::chrono::microseconds(2000));
    EXPECT_EQ(r.g.avail_event(), 2);  // not re-armed: the driver's entries do not notify
    // A window that brings min_new (2) requests keeps batching; interrupts follow used_event.
    r.g.set_used_event(4);
    r.publish_flush();
    r.publish_flush();
    r.publish_flush();
    r.dev->poll_queue(0);
    EXPECT_EQ(r.g.used_idx(), 7);
    EXPECT_EQ(r.notifier.used, irqs + 2);  // one for three
    EXPECT_EQ(r.notifier.polls.size(), 3u);
    // One request is too few: batching stops, and notifications are armed again.
    r.publish_flush();
    r.dev->poll_queue(0);
    EXPECT_EQ(r.g.used_idx(), 8);
    EXPECT_EQ(r.notifier.polls.size(), 3u);
    EXPECT_EQ(r.g.avail_event(), 8);
    // Served at once again; a stale poll now does nothing.
    r.submit(VIRTIO_BLK_T_FLUSH, 0, {});
    r.publish_flush();
    r.dev->poll_queue(0);
    EXPECT_EQ(r.g.used_idx(), 9);
    EXPECT_EQ(r.notifier.needs_reset, 0);
}

TEST(BlockDeviceBatching, WindowsShortenWhileEachBringsPlenty)
{
    // plenty = 3, min_window = 400 us.
    const Batching b{2, std::chrono::microseconds(500), std::chrono::microseconds(2000), 2, 3,
                     std::chrono::microseconds(400), 2, &FakeClock::read};
    Rig r(DiskAccess::ReadWrite, 64 * 512, k_ring_features, ReadOnlyWrites::Announced, b);
    enter_batching(r);
    ASSERT_EQ(r.notifier.polls.size(), 2u);
    EXPECT_EQ(r.notifier.polls.back().delay, std::chrono::microseconds(2000));
    // Each window that brings plenty halves the next, down to min_window.
    const std::chrono::microseconds expect[] = {std::chrono::microseconds(1000), std::chrono::microseconds(500),
                                                std::chrono::microseconds(400), std::chrono::microseconds(400)};
    for (auto want : expect) {
        for (int i = 0; i < 3; ++i) r.publish_flush();
        const auto polls = r.notifier.polls.size();
        r.dev->poll_queue(0);
        ASSERT_EQ(r.notifier.polls.size(), polls + 1);
        EXPECT_EQ(r.notifier.polls.back().delay, want);
    }
    // Enough to go on (min_new) but not plenty: the length stays.
    r.publish_flush();
    r.publish_flush();
    r.dev->poll_queue(0);
    EXPECT_EQ(r.notifier.polls.back().delay, std::chrono::microseconds(400));
    EXPECT_EQ(r.g.used_idx(), 2u + 2u + 12u + 2u);
    EXPECT_EQ(r.notifier.needs_reset, 0);
}

// A shortened window that brings too few is lengthened again, up to `window`; only a full-length
// one that brings too few ends batching.
TEST(BlockDeviceBatching, ShortWindowsThatBringTooFewGrowBack)
{
    // plenty = 3, min_window = 250 us, min_new = 2.
    const Batching b{2, std::chrono::microseconds(500), std::chrono::microseconds(2000), 2, 3,
                     std::chrono::microseconds(250), 2, &FakeClock::read};
    Rig r(DiskAccess::ReadWrite, 64 * 512, k_ring_features, ReadOnlyWrites::Announced, b);
    enter_batching(r);  // a full window of 2000 us
    for (int i = 0; i < 3; ++i) {  // plenty three times: 1000, 500, 250 us
        for (int j = 0; j < 3; ++j) r.publish_flush();
        r.dev->poll_queue(0);
    }
    EXPECT_EQ(r.notifier.polls.back().delay, std::chrono::microseconds(250));
    // One request per window from now on (min_new is 2): 500, 1000, 2000 us, then the full window
    // ends batching and notifications are armed again.
    const std::chrono::microseconds expect[] = {std::chrono::microseconds(500), std::chrono::microseconds(1000),
                                                std::chrono::microseconds(2000)};
    for (auto want : expect) {
        r.publish_flush();
        const auto polls = r.notifier.polls.size();
        r.dev->poll_queue(0);
        ASSERT_EQ(r.notifier.polls.size(), polls + 1);
        EXPECT_EQ(r.notifier.polls.back().delay, want);
        EXPECT_EQ(r.g.avail_event(), 2);  // still batching: not armed
    }
    r.publish_flush();
    const auto polls = r.notifier.polls.size();
    r.dev->poll_queue(0);
    EXPECT_EQ(r.notifier.polls.size(), polls);
    EXPECT_EQ(r.g.used_idx(), 2u + 2u + 9u + 4u);
    EXPECT_EQ(r.g.avail_event(), r.g.used_idx());
    EXPECT_EQ(r.notifier.needs_reset, 0);
}

TEST(BlockDeviceBatching, ProbeWithoutNewRequestsGoesBackAndArms)
{
    Rig r(DiskAccess::ReadWrite, 64 * 512, k_ring_features, ReadOnlyWrites::Announced, k_quick);
    r.submit(VIRTIO_BLK_T_FLUSH, 0, {});
    r.submit(VIRTIO_BLK_T_FLUSH, 0, {});
    // Two requests notified together (one driver batch): the probe does not count them as new.
    r.publish_flush();
    r.publish_flush();
    r.dev->process_queue(0);
    EXPECT_EQ(r.g.used_idx(), 2);
    r.dev->poll_queue(0);
    EXPECT_EQ(r.g.used_idx(), 4);
    EXPECT_EQ(r.notifier.polls.size(), 1u);  // no window after the probe
    EXPECT_EQ(r.g.avail_event(), 4);         // armed
    // The next probe comes after probe_every more requests served at once.
    r.submit(VIRTIO_BLK_T_FLUSH, 0, {});
    r.submit(VIRTIO_BLK_T_FLUSH, 0, {});
    EXPECT_EQ(r.notifier.polls.size(), 1u);
    r.publish_flush();
    r.dev->process_queue(0);
    EXPECT_EQ(r.notifier.polls.size(), 2u);
}

// The probe's hold is probe_gaps (2) times the driver's recent gap between notifications,
// within [min_window, probe_window]: 2 x 100 us for a driver notifying every 100 us.
TEST(BlockDeviceBatching, ProbeHoldFollowsTheDriversPace)
{
    struct Case {
        std::chrono::microseconds step, min_hold, max_hold;
    };
    const Case cases[] = {
        {std::chrono::microseconds(100), std::chrono::microseconds(200), std::chrono::microseconds(215)},
        {std::chrono::microseconds(1), std::chrono::microseconds(50), std::chrono::microseconds(50)},      // min_window
        {std::chrono::microseconds(20000), std::chrono::microseconds(500), std::chrono::microseconds(500)},  // probe_window
    };
    for (const auto& c : cases) {
        Pace pace(c.step);
        Batching b = k_quick;
        b.probe_every = 32;
        Rig r(DiskAccess::ReadWrite, 64 * 512, k_ring_features, ReadOnlyWrites::Announced, b);
        // The average starts at probe_window and moves a quarter of the way per notification.
        for (int i = 0; i < 32; ++i) r.submit(VIRTIO_BLK_T_FLUSH, 0, {});
        EXPECT_TRUE(r.notifier.polls.empty());
        r.publish_flush();
        r.dev->process_queue(0);
        ASSERT_EQ(r.notifier.polls.size(), 1u) << "step " << c.step.count();
        EXPECT_GE(r.notifier.polls[0].delay, c.min_hold) << "step " << c.step.count();
        EXPECT_LE(r.notifier.polls[0].delay, c.max_hold) << "step " << c.step.count();
        r.dev->poll_queue(0);  // no new request in the hold: served, armed again
        EXPECT_EQ(r.g.used_idx(), 33);
        EXPECT_EQ(r.g.avail_event(), 33);
    }
}

// An idle pause counts as at most probe_window: a fast driver that pauses is soon probed with a
// short hold again.
TEST(BlockDeviceBatching, IdlePauseDoesNotLengthenTheHoldForLong)
{
    Batching b = k_quick;
    b.probe_every = 16;
    Rig r(DiskAccess::ReadWrite, 64 * 512, k_ring_features, ReadOnlyWrites::Announced, b);
    {
        Pace fast(std::chrono::microseconds(1));
        for (int i = 0; i < 9; ++i) r.submit(VIRTIO_BLK_T_FLUSH, 0, {});
    }
    {
        Pace idle(std::chrono::seconds(10));
        r.submit(VIRTIO_BLK_T_FLUSH, 0, {});
    }
    Pace fast(std::chrono::microseconds(1));
    // The pause adds 125 us to the average (10 s would make it seconds); seven notifications on,
    // it is below 25 us and the hold min_window.
    for (int i = 0; i < 6; ++i) r.submit(VIRTIO_BLK_T_FLUSH, 0, {});
    EXPECT_TRUE(r.notifier.polls.empty());
    r.publish_flush();
    r.dev->process_queue(0);
    ASSERT_EQ(r.notifier.polls.size(), 1u);
    EXPECT_EQ(r.notifier.polls[0].delay, std::chrono::microseconds(50));
}

TEST(BlockDeviceBatching, NoPollMeansServingAtOnce)
{
    Rig r(DiskAccess::ReadWrite, 64 * 512, k_ring_features, ReadOnlyWrites::Announced, k_quick);
    r.notifier.polls_work = false;  // the transport has no timer, or arming it failed
    for (int i = 0; i < 6; ++i) r.submit(VIRTIO_BLK_T_FLUSH, 0, {});  // submit() checks each is served
    EXPECT_EQ(r.notifier.polls.size(), 2u);  // asked at each probe, never relied on
    EXPECT_EQ(r.g.avail_event(), 6);
    // A window that cannot be renewed ends batching too.
    r.notifier.polls_work = true;
    r.publish_flush();
    r.dev->process_queue(0);
    r.publish_flush();
    r.notifier.polls_work = false;
    r.dev->poll_queue(0);
    EXPECT_EQ(r.g.used_idx(), 8);
    EXPECT_EQ(r.g.avail_event(), 8);
    r.submit(VIRTIO_BLK_T_FLUSH, 0, {});
}

TEST(BlockDeviceBatching, NeedsEventIdxAndCanBeOff)
{
    Rig plain(DiskAccess::ReadWrite, 64 * 512, feature_bit(VIRTIO_F_VERSION_1), ReadOnlyWrites::Announced, k_quick);
    for (int i = 0; i < 6; ++i) plain.submit(VIRTIO_BLK_T_FLUSH, 0, {});
    EXPECT_TRUE(plain.notifier.polls.empty());
    Batching off = k_quick;
    off.probe_every = 0;
    Rig r(DiskAccess::ReadWrite, 64 * 512, k_ring_features, ReadOnlyWrites::Announced, off);
    for (int i = 0; i < 6; ++i) r.submit(VIRTIO_BLK_T_FLUSH, 0, {});
    EXPECT_TRUE(r.notifier.polls.empty());
}

TEST(BlockDeviceBatching, ResetWhileBatchingLeavesAStalePollHarmless)
{
    Rig r(DiskAccess::ReadWrite, 64 * 512, k_ring_features, ReadOnlyWrites::Announced, k_quick);
    r.submit(VIRTIO_BLK_T_FLUSH, 0, {});
    r.submit(VIRTIO_BLK_T_FLUSH, 0, {});
    r.publish_flush();
    r.dev->process_queue(0);  // probing
    r.dev->reset();
    r.dev->poll_queue(0);  // the timer fires after the reset
    EXPECT_EQ(r.g.used_idx(), 2);
    EXPECT_EQ(r.notifier.needs_reset, 0);
}

TEST(BlockDeviceBatching, QueueFaultsWhileProbingOrBatching)
{
    {
        Rig r(DiskAccess::ReadWrite, 64 * 512, k_ring_features, ReadOnlyWrites::Announced, k_quick);
        r.submit(VIRTIO_BLK_T_FLUSH, 0, {});
        r.submit(VIRTIO_BLK_T_FLUSH, 0, {});
        r.g.set_avail_idx(1000);  // runs ahead: the probe cannot count the ring
        r.dev->process_queue(0);
        EXPECT_EQ(r.notifier.needs_reset, 1);
        EXPECT_TRUE(r.notifier.polls.empty());
    }
    {
        Rig r(DiskAccess::ReadWrite, 64 * 512, k_ring_features, ReadOnlyWrites::Announced, k_quick);
        r.submit(VIRTIO_BLK_T_FLUSH, 0, {});
        r.submit(VIRTIO_BLK_T_FLUSH, 0, {});
        r.publish_flush();
        r.dev->process_queue(0);  // probing
        r.g.set_avail_idx(1000);
        r.dev->poll_queue(0);
        EXPECT_EQ(r.notifier.needs_reset, 1);
        EXPECT_EQ(r.notifier.polls.size(), 1u);  // no further window
        r.dev->poll_queue(0);                    // and a stale poll does nothing
        EXPECT_EQ(r.notifier.needs_reset, 1);
    }
}

namespace {
class CountingIrq final : public InterruptLine {
public:
    void trigger() override { ++count; }
    int count = 0;
};
}  // namespace

TEST(BlockDevice, EndToEndThroughMmio)
{
    TempFile f(16 * 512);
    FakeGuest g(64);
    CountingIrq irq;
    auto d = BlockDevice::create(f.open(O_RDWR), DiskAccess::ReadWrite, "e2e");
    ASSERT_TRUE(d.has_value());
    MmioTransport t(g.mem(), std::move(d).value(), irq);
    auto wr = [&](std::uint64_t off, std::uint32_t v) {
        std::array<std::byte, 4> b{};
        std::memcpy(b.data(), &v, 4);
        t.write(off, b);
    };
    auto rd = [&](std::uint64_t off) {
        std::array<std::byte, 4> b{};
        t.read(off, b);
        std::uint32_t v;
        std::memcpy(&v, b.data(), 4);
        return v;
    };
    EXPECT_EQ(rd(mmio::DeviceID), 2u);
    wr(mmio::Status, 1);
    wr(mmio::Status, 3);
    wr(mmio::DriverFeaturesSel, 1);
    wr(mmio::DriverFeatures, 1);  // VERSION_1
    wr(mmio::Status, 11);
    ASSERT_EQ(rd(mmio::Status), 11u);
    wr(mmio::QueueSel, 0);
    EXPECT_EQ(rd(mmio::QueueNumMax), 256u);
    wr(mmio::QueueNum, 64);
    wr(mmio::QueueDescLow, 0x1000);
    wr(mmio::QueueDriverLow, 0x2000);
    wr(mmio::QueueDeviceLow, 0x3000);
    wr(mmio::QueueReady, 1);
    wr(mmio::Status, 15);
    ASSERT_EQ(rd(mmio::Status), 15u);

    const VirtioBlkOutHdr h{moat::Le32::from(VIRTIO_BLK_T_IN), moat::Le32::from(0), moat::Le64::from(2)};
    ASSERT_TRUE(g.mem().write_obj(GuestAddress(k_hdr), h).has_value());
    g.publish(g.add_chain(std::vector<FakeGuest::Buf>{{k_hdr, 16, false}, {k_buf, 512, true}, {k_status, 1, true}}));
    wr(mmio::QueueNotify, 0);
    EXPECT_EQ(g.used_idx(), 1);
    EXPECT_EQ(irq.count, 1);
    EXPECT_EQ(rd(mmio::InterruptStatus), VIRTIO_MMIO_INT_VRING);
    const auto disk = f.contents();
    EXPECT_EQ(g.read(GuestAddress(k_buf), 512), std::vector<std::byte>(disk.begin() + 1024, disk.begin() + 1536));
    std::array<std::byte, 8> cap{};
    t.read(mmio::Config, cap);
    EXPECT_EQ(cap[0], std::byte{16});
    wr(mmio::Status, 0);
    EXPECT_EQ(rd(mmio::Status), 0u);
}
