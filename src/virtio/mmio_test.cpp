// virtio-mmio transport: registers, widths, status state machine, feature negotiation, queues.
#include "virtio/mmio.hpp"

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "virtio/testing/fake_guest.hpp"

using namespace moat::virtio;
using moat::Result;
using moat::virtio::testing::FakeGuest;

namespace {

constexpr std::uint64_t k_feature_x = feature_bit(3);  // a device-specific bit the device offers

class CountingIrq final : public InterruptLine {
public:
    void trigger() override { count.fetch_add(1, std::memory_order_relaxed); }
    std::atomic<int> count{0};
};

// A device that records what the transport does to it.
class RecordingDevice final : public Device {
public:
    struct Log {
        int activations = 0;
        int resets = 0;
        std::vector<std::uint32_t> processed;
        std::vector<std::uint32_t> polled;
        std::uint64_t features = 0;
        std::vector<bool> queues_present;
        std::vector<std::uint16_t> queue_sizes;
        DriverNotifier* notifier = nullptr;
        bool fail_activate = false;
    };
    explicit RecordingDevice(Log& log) : m_log(log) {}

    std::uint32_t device_id() const override { return 42; }
    std::uint64_t features() const override
    {
        return feature_bit(VIRTIO_F_VERSION_1) | feature_bit(VIRTIO_RING_F_EVENT_IDX) | k_feature_x;
    }
    std::span<const std::uint16_t> queue_max_sizes() const override { return m_max; }
    void read_config(std::uint64_t offset, std::span<std::byte> data) const override
    {
        for (std::size_t i = 0; i < data.size(); ++i)
            if (offset + i < 8) data[i] = std::byte(0xa0 + offset + i);
    }
    void write_config(std::uint64_t offset, std::span<const std::byte> data) override
    {
        last_config_write = offset + data.size();
    }
    Result<void> activate(ActivateContext ctx) override
    {
        ++m_log.activations;
        m_log.features = ctx.features;
        m_log.notifier = &ctx.notifier;
        m_log.queues_present.clear();
        m_log.queue_sizes.clear();
        for (auto& q : ctx.queues) {
            m_log.queues_present.push_back(q.has_value());
            m_log.queue_sizes.push_back(q ? q->size() : 0);
        }
        if (m_log.fail_activate) return moat::fail(moat::Errc::Io, "test activation failure");
        return {};
    }
    void process_queue(std::uint32_t index) override { m_log.processed.push_back(index); }
    void poll_queue(std::uint32_t index) override { m_log.polled.push_back(index); }
    void reset() override
    {
        ++m_log.resets;
        m_log.notifier = nullptr;
    }
    std::uint64_t last_config_write = 0;

private:
    Log& m_log;
    std::array<std::uint16_t, 2> m_max{16, 8};
};

struct Rig {
    FakeGuest guest{16};
    CountingIrq irq;
    RecordingDevice::Log log;
    MmioTransport t{guest.mem(), std::make_unique<RecordingDevice>(log), irq};

    std::uint32_t rd(std::uint64_t off)
    {
        std::array<std::byte, 4> b{};
        t.read(off, b);
        std::uint32_t v;
        std::memcpy(&v, b.data(), 4);
        return v;
    }
    void wr(std::uint64_t off, std::uint32_t v)
    {
        std::array<std::byte, 4> b{};
        std::memcpy(b.data(), &v, 4);
        t.write(off, b);
    }
    void negotiate(std::uint64_t features)
    {
        wr(mmio::Status, VIRTIO_CONFIG_S_ACKNOWLEDGE);
        wr(mmio::Status, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
        wr(mmio::DriverFeaturesSel, 0);
        wr(mmio::DriverFeatures, static_cast<std::uint32_t>(features));
        wr(mmio::DriverFeaturesSel, 1);
        wr(mmio::DriverFeatures, static_cast<std::uint32_t>(features >> 32));
        wr(mmio::Status, rd(mmio::Status) | VIRTIO_CONFIG_S_FEATURES_OK);
    }
    void setup_queue(std::uint32_t sel, std::uint32_t size)
    {
        const auto cfg = guest.config();
        wr(mmio::QueueSel, sel);
        wr(mmio::QueueNum, size);
        wr(mmio::QueueDescLow, static_cast<std::uint32_t>(cfg.desc_table.raw()));
        wr(mmio::QueueDescHigh, 0);
        wr(mmio::QueueDriverLow, static_cast<std::uint32_t>(cfg.avail_ring.raw()));
        wr(mmio::QueueDriverHigh, 0);
        wr(mmio::QueueDeviceLow, static_cast<std::uint32_t>(cfg.used_ring.raw()));
        wr(mmio::QueueDeviceHigh, 0);
        wr(mmio::QueueReady, 1);
    }
    void bring_up()
    {
        negotiate(feature_bit(VIRTIO_F_VERSION_1) | feature_bit(VIRTIO_RING_F_EVENT_IDX));
        setup_queue(0, 16);
        wr(mmio::Status, rd(mmio::Status) | VIRTIO_CONFIG_S_DRIVER_OK);
    }
};

constexpr std::uint32_t k_negotiated =
    VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK;

}  // namespace

TEST(Mmio, IdentificationRegisters)
{
    Rig r;
    EXPECT_EQ(r.rd(mmio::MagicValue), 0x74726976u);
    EXPECT_EQ(r.rd(mmio::Version), 2u);
    EXPECT_EQ(r.rd(mmio::DeviceID), 42u);
    EXPECT_EQ(r.rd(mmio::VendorID), mmio::k_vendor);
    EXPECT_EQ(r.t.queue_count(), 2u);
    EXPECT_EQ(r.rd(mmio::SHMLenLow), 0xffffffffu);  // no shared memory regions
}

TEST(Mmio, DeviceFeaturesBySelector)
{
    Rig r;
    r.wr(mmio::DeviceFeaturesSel, 0);
    EXPECT_EQ(r.rd(mmio::DeviceFeatures), (1u << VIRTIO_RING_F_EVENT_IDX) | (1u << 3));
    r.wr(mmio::DeviceFeaturesSel, 1);
    EXPECT_EQ(r.rd(mmio::DeviceFeatures), 1u);  // VERSION_1 is bit 32
    r.wr(mmio::DeviceFeaturesSel, 7);
    EXPECT_EQ(r.rd(mmio::DeviceFeatures), 0u);
}

TEST(Mmio, WrongWidthOrUnalignedRegisterAccessIsIgnored)
{
    Rig r;
    std::array<std::byte, 2> two{std::byte{0xff}, std::byte{0xff}};
    r.t.read(mmio::MagicValue, two);
    EXPECT_EQ(two[0], std::byte{0});
    std::array<std::byte, 4> four{};
    std::memset(four.data(), 0xff, 4);
    r.t.read(mmio::MagicValue + 2, four);  // unaligned
    EXPECT_EQ(four, (std::array<std::byte, 4>{}));
    std::array<std::byte, 8> eight{};
    r.t.read(mmio::MagicValue, eight);
    EXPECT_EQ(eight, (std::array<std::byte, 8>{}));
    std::array<std::byte, 1> one{std::byte{VIRTIO_CONFIG_S_ACKNOWLEDGE}};
    r.t.write(mmio::Status, one);  // 1-byte status write: ignored
    EXPECT_EQ(r.rd(mmio::Status), 0u);
    std::array<std::byte, 4> ack{std::byte{1}, std::byte{0}, std::byte{0}, std::byte{0}};
    r.t.write(mmio::Status + 1, ack);  // unaligned
    EXPECT_EQ(r.rd(mmio::Status), 0u);
}

TEST(Mmio, ConfigSpaceAnyWidth)
{
    Rig r;
    std::array<std::byte, 1> b1{};
    r.t.read(mmio::Config + 3, b1);
    EXPECT_EQ(b1[0], std::byte{0xa3});
    std::array<std::byte, 2> b2{};
    r.t.read(mmio::Config + 6, b2);  // runs past the device's 8 bytes: tail reads zero
    EXPECT_EQ(b2[0], std::byte{0xa6});
    std::array<std::byte, 8> b8{};
    r.t.read(mmio::Config + 0, b8);
    EXPECT_EQ(b8[7], std::byte{0xa7});
    EXPECT_EQ(r.rd(mmio::ConfigGeneration), 0u);
}

TEST(MmioStatus, FullBringUpActivatesTheDevice)
{
    Rig r;
    r.bring_up();
    EXPECT_EQ(r.rd(mmio::Status), k_negotiated | VIRTIO_CONFIG_S_DRIVER_OK);
    ASSERT_EQ(r.log.activations, 1);
    EXPECT_EQ(r.log.features, feature_bit(VIRTIO_F_VERSION_1) | feature_bit(VIRTIO_RING_F_EVENT_IDX));
    ASSERT_EQ(r.log.queues_present.size(), 2u);
    EXPECT_TRUE(r.log.queues_present[0]);
    EXPECT_FALSE(r.log.queues_present[1]);  // never set up
    EXPECT_EQ(r.log.queue_sizes[0], 16);
    r.wr(mmio::QueueSel, 0);
    EXPECT_EQ(r.rd(mmio::QueueReady), 1u);
    EXPECT_FALSE(r.t.needs_reset());
}

TEST(MmioStatus, InvalidTransitionsAreIgnored)
{
    Rig r;
    r.wr(mmio::Status, VIRTIO_CONFIG_S_DRIVER);  // DRIVER without ACKNOWLEDGE
    EXPECT_EQ(r.rd(mmio::Status), 0u);
    r.wr(mmio::Status, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER_OK);  // skips steps
    EXPECT_EQ(r.rd(mmio::Status), 0u);
    r.wr(mmio::Status, 0x10);  // unknown bit
    EXPECT_EQ(r.rd(mmio::Status), 0u);
    r.wr(mmio::Status, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
    EXPECT_EQ(r.rd(mmio::Status), VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
    r.wr(mmio::Status, VIRTIO_CONFIG_S_ACKNOWLEDGE);  // clearing a bit without reset
    EXPECT_EQ(r.rd(mmio::Status), VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
    r.wr(mmio::Status, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_DRIVER_OK);
    EXPECT_EQ(r.rd(mmio::Status), VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
    EXPECT_EQ(r.log.activations, 0);
    // FAILED is accepted, and afterwards only a reset is.
    r.wr(mmio::Status, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FAILED);
    EXPECT_EQ(r.rd(mmio::Status), VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FAILED);
    r.wr(mmio::Status, r.rd(mmio::Status) | VIRTIO_CONFIG_S_FEATURES_OK);
    EXPECT_EQ(r.rd(mmio::Status) & VIRTIO_CONFIG_S_FEATURES_OK, 0u);
    r.wr(mmio::Status, 0);
    EXPECT_EQ(r.rd(mmio::Status), 0u);
}

TEST(MmioStatus, ResetClearsEverything)
{
    Rig r;
    r.bring_up();
    r.log.notifier->notify_used();
    r.wr(mmio::Status, 0);
    EXPECT_EQ(r.log.resets, 1);
    EXPECT_EQ(r.rd(mmio::Status), 0u);
    EXPECT_EQ(r.rd(mmio::InterruptStatus), 0u);
    r.wr(mmio::QueueSel, 0);
    EXPECT_EQ(r.rd(mmio::QueueReady), 0u);
    r.t.notify(0);  // not active any more
    EXPECT_TRUE(r.log.processed.empty());
    // A second bring-up works and hands over a fresh queue.
    r.bring_up();
    EXPECT_EQ(r.log.activations, 2);
    EXPECT_TRUE(r.log.queues_present[0]);
}

TEST(MmioFeatures, FeaturesOkNeedsASubsetWithVersion1)
{
    {
        Rig r;  // a bit the device never offered
        r.negotiate(feature_bit(VIRTIO_F_VERSION_1) | feature_bit(5));
        EXPECT_EQ(r.rd(mmio::Status) & VIRTIO_CONFIG_S_FEATURES_OK, 0u);
    }
    {
        Rig r;  // legacy driver: no VERSION_1
        r.negotiate(k_feature_x);
        EXPECT_EQ(r.rd(mmio::Status) & VIRTIO_CONFIG_S_FEATURES_OK, 0u);
    }
    {
        Rig r;  // bits in a selector above 1
        r.wr(mmio::Status, VIRTIO_CONFIG_S_ACKNOWLEDGE);
        r.wr(mmio::Status, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
        r.wr(mmio::DriverFeaturesSel, 2);
        r.wr(mmio::DriverFeatures, 1);
        r.wr(mmio::DriverFeaturesSel, 1);
        r.wr(mmio::DriverFeatures, 1);
        r.wr(mmio::Status, r.rd(mmio::Status) | VIRTIO_CONFIG_S_FEATURES_OK);
        EXPECT_EQ(r.rd(mmio::Status) & VIRTIO_CONFIG_S_FEATURES_OK, 0u);
    }
    {
        Rig r;
        r.negotiate(feature_bit(VIRTIO_F_VERSION_1) | k_feature_x);
        EXPECT_EQ(r.rd(mmio::Status), k_negotiated);
        // Features are frozen after FEATURES_OK.
        r.wr(mmio::DriverFeaturesSel, 0);
        r.wr(mmio::DriverFeatures, 0);
        r.wr(mmio::Status, r.rd(mmio::Status) | VIRTIO_CONFIG_S_DRIVER_OK);
        EXPECT_EQ(r.log.features, feature_bit(VIRTIO_F_VERSION_1) | k_feature_x);
    }
}

TEST(MmioFeatures, DriverFeaturesBeforeDriverBitAreIgnored)
{
    Rig r;
    r.wr(mmio::DriverFeaturesSel, 1);
    r.wr(mmio::DriverFeatures, 1);  // VERSION_1, but too early
    r.wr(mmio::Status, VIRTIO_CONFIG_S_ACKNOWLEDGE);
    r.wr(mmio::Status, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
    r.wr(mmio::Status, r.rd(mmio::Status) | VIRTIO_CONFIG_S_FEATURES_OK);
    EXPECT_EQ(r.rd(mmio::Status) & VIRTIO_CONFIG_S_FEATURES_OK, 0u);
}

TEST(MmioQueues, QueueSelBounds)
{
    Rig r;
    r.wr(mmio::QueueSel, 1);
    EXPECT_EQ(r.rd(mmio::QueueNumMax), 8u);
    r.wr(mmio::QueueSel, 2);
    EXPECT_EQ(r.rd(mmio::QueueNumMax), 0u);
    r.wr(mmio::QueueSel, 0xffffffff);
    EXPECT_EQ(r.rd(mmio::QueueNumMax), 0u);
    r.negotiate(feature_bit(VIRTIO_F_VERSION_1));
    r.setup_queue(7, 8);  // no such queue: ignored
    EXPECT_EQ(r.rd(mmio::QueueReady), 0u);
    EXPECT_FALSE(r.t.needs_reset());
}

TEST(MmioQueues, QueueRegistersOnlyDuringSetup)
{
    Rig r;
    r.setup_queue(0, 16);  // before FEATURES_OK: ignored
    EXPECT_EQ(r.rd(mmio::QueueReady), 0u);
    r.negotiate(feature_bit(VIRTIO_F_VERSION_1));
    r.setup_queue(0, 16);
    EXPECT_EQ(r.rd(mmio::QueueReady), 1u);
    r.wr(mmio::QueueNum, 4);  // ready: ignored
    r.wr(mmio::QueueDescLow, 0x8000);
    r.wr(mmio::Status, r.rd(mmio::Status) | VIRTIO_CONFIG_S_DRIVER_OK);
    ASSERT_EQ(r.log.activations, 1);
    EXPECT_EQ(r.log.queue_sizes[0], 16);
    r.wr(mmio::QueueReady, 0);  // after DRIVER_OK: frozen
    EXPECT_EQ(r.rd(mmio::QueueReady), 1u);
}

TEST(MmioQueues, QueueReadyZeroUnreadiesBeforeDriverOk)
{
    Rig r;
    r.negotiate(feature_bit(VIRTIO_F_VERSION_1));
    r.setup_queue(0, 16);
    r.wr(mmio::QueueReady, 0);
    EXPECT_EQ(r.rd(mmio::QueueReady), 0u);
    r.wr(mmio::QueueNum, 8);
    r.wr(mmio::QueueReady, 1);
    r.wr(mmio::Status, r.rd(mmio::Status) | VIRTIO_CONFIG_S_DRIVER_OK);
    EXPECT_EQ(r.log.queue_sizes[0], 8);
}

TEST(MmioQueues, InvalidQueueSetsNeedsReset)
{
    for (std::uint32_t size : {3u, 0u, 32u, 0x10010u}) {
        Rig r;
        r.negotiate(feature_bit(VIRTIO_F_VERSION_1));
        r.setup_queue(0, size);
        EXPECT_EQ(r.rd(mmio::QueueReady), 0u) << size;
        EXPECT_TRUE(r.t.needs_reset());
        EXPECT_NE(r.rd(mmio::Status) & VIRTIO_CONFIG_S_NEEDS_RESET, 0u);
        r.wr(mmio::Status, 0);
        EXPECT_FALSE(r.t.needs_reset());
    }
    Rig r;  // ring outside guest memory
    r.negotiate(feature_bit(VIRTIO_F_VERSION_1));
    r.setup_queue(0, 16);
    r.wr(mmio::QueueReady, 0);
    r.wr(mmio::QueueDescHigh, 1);  // 4 GiB up: no RAM there
    r.wr(mmio::QueueReady, 1);
    EXPECT_EQ(r.rd(mmio::QueueReady), 0u);
    EXPECT_TRUE(r.t.needs_reset());
}

TEST(MmioNotify, InlineForwardedAndEventThread)
{
    Rig r;
    r.t.notify(0);  // before activation: ignored
    r.wr(mmio::QueueNotify, 0);
    EXPECT_TRUE(r.log.processed.empty());
    r.bring_up();
    r.wr(mmio::QueueNotify, 0);  // no forwarder: processed inline
    r.t.notify(1);
    r.t.notify(9);  // no such queue
    EXPECT_EQ(r.log.processed, (std::vector<std::uint32_t>{0, 1}));
    std::vector<std::uint32_t> forwarded;
    r.t.set_notify_forwarder([&](std::uint32_t q) { forwarded.push_back(q); });
    r.wr(mmio::QueueNotify, 1);
    EXPECT_EQ(forwarded, (std::vector<std::uint32_t>{1}));
    EXPECT_EQ(r.log.processed.size(), 2u);
}

TEST(MmioPoll, PollsReachAnActiveDeviceOnly)
{
    Rig r;
    r.t.poll(0);  // before activation: ignored
    EXPECT_TRUE(r.log.polled.empty());
    r.bring_up();
    ASSERT_NE(r.log.notifier, nullptr);
    // No timer installed: the device is told no poll will come.
    EXPECT_FALSE(r.log.notifier->poll_later(0, std::chrono::microseconds(100)));
    r.t.poll(0);
    r.t.poll(1);
    r.t.poll(9);  // no such queue
    EXPECT_EQ(r.log.polled, (std::vector<std::uint32_t>{0, 1}));
    r.log.notifier->device_needs_reset();
    r.t.poll(0);  // a device that needs a reset is not polled
    EXPECT_EQ(r.log.polled.size(), 2u);
    r.wr(mmio::Status, 0);
    r.t.poll(0);  // nor a reset one (a timer armed before the reset may still fire)
    EXPECT_EQ(r.log.polled.size(), 2u);
}

TEST(MmioPoll, PollLaterUsesTheInstalledTimer)
{
    Rig r;
    std::vector<std::pair<std::uint32_t, std::chrono::microseconds>> armed;
    bool works = true;
    r.t.set_poll_timer([&](std::uint32_t q, std::chrono::microseconds d) {
        armed.emplace_back(q, d);
        return works;
    });
    r.bring_up();
    EXPECT_TRUE(r.log.notifier->poll_later(1, std::chrono::microseconds(250)));
    works = false;  // arming failed: the device must not count on a poll
    EXPECT_FALSE(r.log.notifier->poll_later(0, std::chrono::microseconds(7)));
    ASSERT_EQ(armed.size(), 2u);
    EXPECT_EQ(armed[0], std::make_pair(std::uint32_t{1}, std::chrono::microseconds(250)));
    EXPECT_EQ(armed[1], std::make_pair(std::uint32_t{0}, std::chrono::microseconds(7)));
}

TEST(MmioInterrupts, UsedAndConfigInterruptsAndAck)
{
    Rig r;
    r.bring_up();
    ASSERT_NE(r.log.notifier, nullptr);
    r.log.notifier->notify_used();
    EXPECT_EQ(r.irq.count.load(), 1);
    EXPECT_EQ(r.rd(mmio::InterruptStatus), VIRTIO_MMIO_INT_VRING);
    r.log.notifier->notify_config_change();
    EXPECT_EQ(r.rd(mmio::InterruptStatus), VIRTIO_MMIO_INT_VRING | VIRTIO_MMIO_INT_CONFIG);
    EXPECT_EQ(r.rd(mmio::ConfigGeneration), 1u);
    r.wr(mmio::InterruptACK, VIRTIO_MMIO_INT_VRING);
    EXPECT_EQ(r.rd(mmio::InterruptStatus), VIRTIO_MMIO_INT_CONFIG);
    r.wr(mmio::InterruptACK, VIRTIO_MMIO_INT_CONFIG);
    EXPECT_EQ(r.rd(mmio::InterruptStatus), 0u);
}

TEST(MmioInterrupts, DeviceNeedsResetStopsProcessing)
{
    Rig r;
    r.bring_up();
    r.log.notifier->device_needs_reset();
    EXPECT_TRUE(r.t.needs_reset());
    EXPECT_NE(r.rd(mmio::Status) & VIRTIO_CONFIG_S_NEEDS_RESET, 0u);
    EXPECT_NE(r.rd(mmio::InterruptStatus) & VIRTIO_MMIO_INT_CONFIG, 0u);
    r.t.notify(0);
    EXPECT_TRUE(r.log.processed.empty());
    // The driver echoing NEEDS_RESET back in a status write is not an invalid transition.
    r.wr(mmio::Status, r.rd(mmio::Status) | VIRTIO_CONFIG_S_FAILED);
    EXPECT_NE(r.rd(mmio::Status) & VIRTIO_CONFIG_S_FAILED, 0u);
    r.wr(mmio::Status, 0);
    EXPECT_FALSE(r.t.needs_reset());
}

TEST(MmioInterrupts, ActivationFailureSetsNeedsReset)
{
    Rig r;
    r.log.fail_activate = true;
    r.bring_up();
    EXPECT_TRUE(r.t.needs_reset());
    r.t.notify(0);
    EXPECT_TRUE(r.log.processed.empty());
}

TEST(MmioThreads, VcpuReadsWhileTheEventThreadNotifies)
{
    Rig r;
    r.bring_up();
    std::atomic<bool> done{false};
    std::thread event([&] {
        for (int i = 0; i < 5000; ++i) {
            r.t.notify(0);
            r.log.notifier->notify_used();
        }
        done.store(true, std::memory_order_release);
    });
    while (!done.load(std::memory_order_acquire)) {
        EXPECT_EQ(r.rd(mmio::MagicValue), mmio::k_magic);
        r.wr(mmio::InterruptACK, r.rd(mmio::InterruptStatus));
    }
    event.join();
    EXPECT_EQ(r.log.processed.size(), 5000u);
    EXPECT_EQ(r.irq.count.load(), 5000);
}
