// Bus dispatch, the 16550 register model and interrupt edges, i8042 reset and probe replies,
// and the ACPI sleep register.
#include <gtest/gtest.h>

#include <array>
#include <string>
#include <vector>

#include "devices/bus.hpp"
#include "devices/i8042.hpp"
#include "devices/serial.hpp"

using namespace moat::devices;

namespace {

struct Recorder final : BusDevice {
    std::vector<std::uint64_t> reads, writes;
    void read(std::uint64_t off, std::span<std::byte> d) override
    {
        reads.push_back(off);
        for (auto& b : d) b = std::byte{0x5a};
    }
    void write(std::uint64_t off, std::span<const std::byte>) override { writes.push_back(off); }
};

std::uint8_t rd(BusDevice& d, std::uint64_t off)
{
    std::array<std::byte, 1> b{};
    d.read(off, b);
    return static_cast<std::uint8_t>(b[0]);
}

void wr(BusDevice& d, std::uint64_t off, std::uint8_t v)
{
    std::array<std::byte, 1> b{static_cast<std::byte>(v)};
    d.write(off, b);
}

}  // namespace

TEST(Bus, DispatchesWholeAccessesOnly)
{
    Bus bus;
    Recorder a, b;
    ASSERT_TRUE(bus.insert(0x3f8, 8, a).has_value());
    ASSERT_TRUE(bus.insert(0x60, 5, b).has_value());
    EXPECT_FALSE(bus.insert(0x3fc, 8, b).has_value());  // overlap
    EXPECT_FALSE(bus.insert(0x1000, 0, b).has_value());  // empty
    EXPECT_FALSE(bus.insert(UINT64_MAX - 1, 4, b).has_value());  // overflow

    std::array<std::byte, 1> one{};
    std::array<std::byte, 4> four{};
    EXPECT_TRUE(bus.read(0x3fd, one));
    EXPECT_EQ(a.reads.back(), 5u);
    EXPECT_TRUE(bus.write(0x64, one));
    EXPECT_EQ(b.writes.back(), 4u);
    EXPECT_FALSE(bus.read(0x3fe, four));  // straddles the end of the window
    EXPECT_FALSE(bus.read(0x400, one));   // unassigned
    EXPECT_FALSE(bus.read(0x0, one));
}

TEST(Serial, TransmitsAndRaisesThreInterrupt)
{
    std::string out;
    int irqs = 0;
    Serial s([&](std::uint8_t c) { out.push_back(static_cast<char>(c)); }, [&] { ++irqs; });
    EXPECT_EQ(rd(s, 2) & 0x0f, 0x01);  // no interrupt pending
    wr(s, 1, 0x02);                    // IER: THRE
    EXPECT_EQ(irqs, 1);                // enabling THRE with THR empty fires at once
    EXPECT_EQ(rd(s, 2) & 0x0f, 0x02);  // IIR reports THRE ...
    EXPECT_EQ(rd(s, 2) & 0x0f, 0x01);  // ... and reading it cleared the source
    wr(s, 0, 'h');
    wr(s, 0, 'i');
    EXPECT_EQ(out, "hi");
    EXPECT_EQ(irqs, 2);  // one new edge: the source stayed pending between the two writes
    EXPECT_EQ(rd(s, 5) & 0x60, 0x60);  // LSR: THR empty, transmitter empty
}

TEST(Serial, ReceivesInputWithInterrupt)
{
    int irqs = 0;
    Serial s([](std::uint8_t) {}, [&] { ++irqs; });
    wr(s, 1, 0x01);  // IER: RDA
    const std::array<std::uint8_t, 2> in{'o', 'k'};
    EXPECT_EQ(s.enqueue_input(in), 2u);
    EXPECT_EQ(irqs, 1);
    EXPECT_EQ(rd(s, 5) & 0x01, 0x01);  // data ready
    EXPECT_EQ(rd(s, 2) & 0x0f, 0x04);
    EXPECT_EQ(rd(s, 0), 'o');
    EXPECT_EQ(rd(s, 0), 'k');
    EXPECT_EQ(rd(s, 5) & 0x01, 0x00);
    EXPECT_EQ(rd(s, 2) & 0x0f, 0x01);
}

TEST(Serial, BoundsInputAndKeepsDivisorLatch)
{
    Serial s([](std::uint8_t) {}, [] {});
    std::vector<std::uint8_t> flood(1000, 'x');
    EXPECT_EQ(s.enqueue_input(flood), Serial::k_rx_capacity);
    EXPECT_FALSE(s.wants_input());
    wr(s, 3, 0x80);  // DLAB
    wr(s, 0, 0x01);
    wr(s, 1, 0x00);
    EXPECT_EQ(rd(s, 0), 0x01);
    wr(s, 3, 0x03);
    EXPECT_EQ(rd(s, 0), 'x');  // back to the receive buffer
    std::array<std::byte, 4> wide{};
    s.read(0, wide);  // 16550 registers are bytes: wider reads float high
    EXPECT_EQ(wide[0], std::byte{0xff});
}

TEST(Serial, LoopbackEchoesTransmit)
{
    std::string out;
    Serial s([&](std::uint8_t c) { out.push_back(static_cast<char>(c)); }, [] {});
    wr(s, 4, 0x10);  // MCR loop
    wr(s, 0, 'z');
    EXPECT_TRUE(out.empty());
    EXPECT_EQ(rd(s, 0), 'z');
}

TEST(I8042, ResetsOnPulseAndAnswersProbe)
{
    int resets = 0;
    I8042 k([&] { ++resets; });
    wr(k, 4, 0xaa);
    EXPECT_EQ(rd(k, 4) & 0x01, 0x01);
    EXPECT_EQ(rd(k, 0), 0x55);
    EXPECT_EQ(rd(k, 4) & 0x01, 0x00);
    wr(k, 4, 0x20);
    std::uint8_t ctr = rd(k, 0);
    wr(k, 4, 0x60);
    wr(k, 0, static_cast<std::uint8_t>(ctr | 0x10));
    wr(k, 4, 0x20);
    EXPECT_EQ(rd(k, 0), ctr | 0x10);
    EXPECT_EQ(resets, 0);
    wr(k, 4, 0xfe);
    EXPECT_EQ(resets, 1);
    wr(k, 4, 0xd1);
    wr(k, 0, 0x00);  // output port with the reset line low
    EXPECT_EQ(resets, 2);
}

TEST(AcpiSleep, PowersOffOnlyForS5WithSleepEnable)
{
    int offs = 0;
    AcpiSleep a(5, [&] { ++offs; });
    wr(a, 0, 5 << 2);  // type without SLP_EN
    wr(a, 0, (3 << 2) | 0x20);  // another sleep type
    EXPECT_EQ(offs, 0);
    wr(a, 0, (5 << 2) | 0x20);
    EXPECT_EQ(offs, 1);
    EXPECT_EQ(rd(a, 1), 0);
}
