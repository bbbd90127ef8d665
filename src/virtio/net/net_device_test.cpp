// virtio-net: addresses, offload flags, and the device against a fake guest with a
// SOCK_SEQPACKET socketpair standing in for the tap (frames keep their boundaries, each starts
// with the 12-byte header, as on a tap with IFF_VNET_HDR; no KVM, no tun module).
#include <gtest/gtest.h>
#include <linux/if_tun.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "base/net_address.hpp"
#include "protocol/tap.hpp"
#include "virtio/net/net_device.hpp"
#include "virtio/net/tap.hpp"
#include "virtio/testing/fake_guest.hpp"
#include "virtio/testing/recording_watcher.hpp"

using namespace moat::virtio;
using namespace moat::virtio::net;
using moat::base::UniqueFd;
using namespace moat::base;
using moat::memory::GuestAddress;
using moat::virtio::testing::FakeGuest;
using moat::virtio::testing::RecordingWatcher;

namespace {

constexpr Mac k_mac{0x02, 0x6d, 0, 0, 0, 1};
constexpr Mac k_peer{0x02, 0x6d, 0, 0, 0, 2};
constexpr std::uint64_t k_hdr = sizeof(NetHdr);

// --- address.hpp and tap.hpp -------------------------------------------------------------------

TEST(NetAddress, ParsesAndFormatsMacs)
{
    EXPECT_EQ(parse_mac("52:54:00:12:34:56"), (Mac{0x52, 0x54, 0, 0x12, 0x34, 0x56}));
    EXPECT_EQ(parse_mac("02:AB:cd:00:00:ff"), (Mac{2, 0xab, 0xcd, 0, 0, 0xff}));
    for (const char* bad : {"", "52:54:00:12:34", "52:54:00:12:34:56:", "52-54-00-12-34-56", "5:54:00:12:34:566",
                            "52:54:00:12:34:5g", " 52:54:00:12:34:56"})
        EXPECT_FALSE(parse_mac(bad).has_value()) << "'" << bad << "'";
    EXPECT_EQ(format_mac(Mac{0x52, 0x54, 0, 0x12, 0x34, 0xab}), "52:54:00:12:34:ab");
    EXPECT_EQ(check_mac(k_mac), nullptr);
    EXPECT_NE(check_mac(Mac{1, 0, 0, 0, 0, 1}), nullptr) << "multicast";
    EXPECT_NE(check_mac(Mac{}), nullptr) << "zero";
    EXPECT_EQ(local_mac(0x01020304), (Mac{0x02, 0x6d, 1, 2, 3, 4}));
    EXPECT_EQ(check_mac(local_mac(0xffffffff)), nullptr);
}

TEST(NetAddress, ChecksInterfaceNames)
{
    for (const char* good : {"tap0", "moat-dmz.1", "a", "abcdefghijklmno"}) EXPECT_EQ(check_ifname(good), nullptr) << good;
    for (const char* bad : {"", "abcdefghijklmnop", ".", "..", "tap/0", "tap 0", "tap:0", "t\n"})
        EXPECT_NE(check_ifname(bad), nullptr) << "'" << bad << "'";
}

TEST(NetAddress, ParsesIpv4AddressesAndSubnets)
{
    EXPECT_EQ(parse_ipv4("10.77.0.1"), 0x0a4d0001u);
    EXPECT_EQ(parse_ipv4("255.255.255.255"), 0xffffffffu);
    EXPECT_EQ(parse_ipv4("0.0.0.0"), 0u);
    for (const char* bad : {"", "10.77.0", "10.77.0.1.", "10.77.0.256", "10.077.0.1", "10.77.0.-1", "10.77..1", " 10.0.0.1",
                            "10.0.0.1 ", "1000.0.0.1", "a.b.c.d"})
        EXPECT_FALSE(parse_ipv4(bad).has_value()) << "'" << bad << "'";
    EXPECT_EQ(format_ipv4(0x0a4d0001u), "10.77.0.1");
    Ipv4Net n;
    ASSERT_EQ(parse_ipv4_net("10.77.0.0/24", n), nullptr);
    EXPECT_EQ(n.base, 0x0a4d0000u);
    EXPECT_EQ(n.prefix, 24u);
    EXPECT_EQ(n.mask(), 0xffffff00u);
    EXPECT_EQ(n.broadcast(), 0x0a4d00ffu);
    EXPECT_TRUE(n.holds_host(0x0a4d0001u));
    EXPECT_FALSE(n.holds_host(0x0a4d0000u)) << "the network's address";
    EXPECT_FALSE(n.holds_host(0x0a4d00ffu)) << "broadcast";
    EXPECT_FALSE(n.holds_host(0x0a4e0001u)) << "another network";
    for (const char* bad : {"10.77.0.0", "10.77.0.1/24", "10.77.0.0/33", "10.77.0.0/", "10.77.0.0/024", "10.77.0/24",
                            "10.77.0.0/2x"})
        EXPECT_NE(parse_ipv4_net(bad, n), nullptr) << bad;
    ASSERT_EQ(parse_ipv4_net("0.0.0.0/0", n), nullptr);
    EXPECT_EQ(n.mask(), 0u);
}

TEST(NetTap, OffloadsFollowTheGuestFeatures)
{
    EXPECT_EQ(tap_offloads(0), 0u);
    EXPECT_EQ(tap_offloads(feature_bit(VIRTIO_NET_F_GUEST_TSO4)), 0u) << "segments need partial checksums";
    EXPECT_EQ(tap_offloads(feature_bit(VIRTIO_NET_F_GUEST_CSUM)), unsigned{TUN_F_CSUM});
    EXPECT_EQ(tap_offloads(feature_bit(VIRTIO_NET_F_GUEST_CSUM) | feature_bit(VIRTIO_NET_F_GUEST_TSO4) |
                           feature_bit(VIRTIO_NET_F_GUEST_TSO6) | feature_bit(VIRTIO_NET_F_HOST_TSO4)),
              unsigned{TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6});
}

TEST(NetTap, BadNamesAreRefusedBeforeAnyDevice)
{
    auto r = moat::protocol::open_tap("tap/0");
    ASSERT_FALSE(r.has_value());
    EXPECT_NE(moat::describe(r.error()).find("tap 'tap/0'"), std::string::npos) << moat::describe(r.error());
}

// --- the device --------------------------------------------------------------------------------

class Notifier final : public DriverNotifier {
public:
    void notify_used() override { ++used; }
    void notify_config_change() override {}
    void device_needs_reset() override { ++needs_reset; }
    void guest_fault() override { ++faults; }
    bool poll_later(std::uint32_t q, std::chrono::microseconds) override
    {
        polls.push_back(q);
        return timer;
    }
    int used = 0;
    int needs_reset = 0;
    int faults = 0;
    bool timer = true;
    std::vector<std::uint32_t> polls;
};

std::string frame_from(const Mac& src, std::size_t len, char fill = 'x')
{
    std::string f(len, fill);
    std::memset(f.data(), 0xff, 6);                // to everyone
    std::memcpy(f.data() + 6, src.data(), 6);
    f[12] = 0x08;                                  // IPv4, as far as anyone looks
    f[13] = 0;
    for (std::size_t i = 14; i < len; ++i) f[i] = static_cast<char>('a' + i % 23);
    return f;
}

std::string header_bytes(const Header& h)
{
    const NetHdr raw = encode(h);
    return std::string(reinterpret_cast<const char*>(&raw), sizeof raw);
}

// A device on two FakeGuest queues in one memory, its tap a socketpair whose other end is
// `host`; the test plays the driver and the host's kernel.
class Rig {
public:
    explicit Rig(std::uint64_t features = feature_bit(VIRTIO_F_VERSION_1) | feature_bit(VIRTIO_NET_F_MRG_RXBUF),
                 bool offloads = true, std::uint16_t rx_size = 256)
        : rx(rx_size, 8 << 20), tx(rx.mem(), 0x3000, 256)
    {
        int fds[2];
        EXPECT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
        host = UniqueFd(fds[1]);
        NetDevice::OffloadSetter setter;
        if (offloads) setter = [this](std::uint64_t f) -> moat::Result<void> {
            offload_calls.push_back(f);
            return {};
        };
        auto d = NetDevice::create(UniqueFd(fds[0]), k_mac, watcher, std::move(setter));
        EXPECT_TRUE(d.has_value());
        dev = std::move(d).value();
        EXPECT_EQ(features & ~dev->features(), 0u) << "the test negotiates only what is offered";
        std::vector<std::optional<Queue>> qs;
        for (FakeGuest* g : {&rx, &tx}) qs.push_back(std::move(Queue::create(rx.mem(), g->config(), 256, features)).value());
        EXPECT_TRUE(dev->activate(ActivateContext{rx.mem(), features, std::move(qs), notifier}).has_value());
    }

    void give_rx(int n, std::uint32_t len = 1526)
    {
        for (int i = 0; i < n; ++i) {
            rx_next = rx_next + 0x11000 > 0x700000 ? 0x100000 : rx_next + 0x11000;
            const FakeGuest::Buf b{rx_next, len, true};
            const std::uint16_t head = rx.add_chain(std::span(&b, 1));
            rx_addr[head] = rx_next;
            rx.publish(head);
        }
        dev->process_queue(k_rx_queue);
    }

    // One frame on the transmit queue: the header in one descriptor, the frame in another.
    void send(const Header& h, const std::string& frame, bool notify = true)
    {
        tx_next = tx_next + 0x11000 > 0x7f0000 ? 0x700000 : tx_next + 0x11000;
        const std::string hb = header_bytes(h);
        rx.write(GuestAddress(tx_next), std::as_bytes(std::span(hb.data(), hb.size())));
        rx.write(GuestAddress(tx_next + 0x100), std::as_bytes(std::span(frame.data(), frame.size())));
        const FakeGuest::Buf bufs[] = {{tx_next, static_cast<std::uint32_t>(k_hdr), false},
                                       {tx_next + 0x100, static_cast<std::uint32_t>(frame.size()), false}};
        tx.publish(tx.add_chain(bufs));
        if (notify) dev->process_queue(k_tx_queue);
    }

    // What the host's side of the tap received, one string per frame (header included).
    std::vector<std::string> on_tap()
    {
        std::vector<std::string> out;
        std::vector<char> buf(70000);
        for (ssize_t n; (n = ::read(host.get(), buf.data(), buf.size())) > 0;) out.emplace_back(buf.data(), n);
        return out;
    }

    // The host's kernel hands the device a frame.
    void from_host(const Header& h, const std::string& frame, bool ready = true)
    {
        const std::string b = header_bytes(h) + frame;
        EXPECT_EQ(::write(host.get(), b.data(), b.size()), static_cast<ssize_t>(b.size()));
        if (ready) dev->host_ready(NetDevice::k_tap_token);
    }

    struct Received {
        Header h;
        std::string frame;  // the bytes after the header, across num_buffers buffers
    };
    // Frames the device put on the receive queue since the last call.
    std::vector<Received> received()
    {
        std::vector<Received> out;
        while (rx_seen != rx.used_idx()) {
            const VirtqUsedElem e = rx.used_elem(rx_seen++);
            const std::uint64_t addr = rx_addr.at(static_cast<std::uint16_t>(e.id.get()));
            const auto bytes = rx.read(GuestAddress(addr), e.len.get());
            if (bytes.size() < k_hdr) {
                out.push_back({Header{}, "<short>"});
                continue;
            }
            NetHdr raw;
            std::memcpy(&raw, bytes.data(), k_hdr);
            Received r{decode(raw), std::string(reinterpret_cast<const char*>(bytes.data()) + k_hdr, bytes.size() - k_hdr)};
            for (int more = r.h.num_buffers - 1; more > 0 && rx_seen != rx.used_idx(); --more) {
                const VirtqUsedElem m = rx.used_elem(rx_seen++);
                const auto mb = rx.read(GuestAddress(rx_addr.at(static_cast<std::uint16_t>(m.id.get()))), m.len.get());
                r.frame.append(reinterpret_cast<const char*>(mb.data()), mb.size());
            }
            out.push_back(std::move(r));
        }
        return out;
    }

    FakeGuest rx, tx;
    RecordingWatcher watcher;
    Notifier notifier;
    UniqueFd host;
    std::unique_ptr<NetDevice> dev;
    std::vector<std::uint64_t> offload_calls;

private:
    std::map<std::uint16_t, std::uint64_t> rx_addr;
    std::uint16_t rx_seen = 0;
    std::uint64_t rx_next = 0x100000;
    std::uint64_t tx_next = 0x700000;
};

TEST(NetDevice, OffersTheMacAndOffloadsOnlyWithATapThatTakesThem)
{
    Rig r;
    NetConfig c;
    r.dev->read_config(0, std::as_writable_bytes(std::span(&c, 1)));
    EXPECT_EQ(std::memcmp(c.mac, k_mac.data(), 6), 0);
    const std::byte junk[6] = {std::byte{1}, std::byte{2}, std::byte{3}, std::byte{4}, std::byte{5}, std::byte{6}};
    r.dev->write_config(0, junk);
    r.dev->read_config(0, std::as_writable_bytes(std::span(&c, 1)));
    EXPECT_EQ(std::memcmp(c.mac, k_mac.data(), 6), 0) << "the driver cannot change the MAC";
    std::byte past[4];
    r.dev->read_config(sizeof(NetConfig), past);
    EXPECT_EQ(past[0], std::byte{0});

    const std::uint64_t f = r.dev->features();
    EXPECT_TRUE(f & feature_bit(VIRTIO_NET_F_MAC));
    EXPECT_TRUE(f & feature_bit(VIRTIO_NET_F_MRG_RXBUF));
    EXPECT_TRUE(f & feature_bit(VIRTIO_NET_F_HOST_TSO4));
    EXPECT_TRUE(f & feature_bit(VIRTIO_NET_F_GUEST_TSO4));
    Rig plain(feature_bit(VIRTIO_F_VERSION_1), false);
    EXPECT_FALSE(plain.dev->features() & feature_bit(VIRTIO_NET_F_CSUM));
    EXPECT_FALSE(plain.dev->features() & feature_bit(VIRTIO_NET_F_GUEST_CSUM));
}

TEST(NetDevice, TellsTheTapTheNegotiatedOffloadsAndTakesThemBackAtReset)
{
    const std::uint64_t f = feature_bit(VIRTIO_F_VERSION_1) | feature_bit(VIRTIO_NET_F_GUEST_CSUM);
    Rig r(f);
    ASSERT_EQ(r.offload_calls.size(), 1u);
    EXPECT_EQ(r.offload_calls[0], f);
    r.dev->reset();
    ASSERT_EQ(r.offload_calls.size(), 2u);
    EXPECT_EQ(r.offload_calls[1], 0u);
}

TEST(NetDevice, TransmitsAFrameWithTheHeaderItChecked)
{
    const std::uint64_t f = feature_bit(VIRTIO_F_VERSION_1) | feature_bit(VIRTIO_NET_F_CSUM);
    Rig r(f);
    const std::string frame = frame_from(k_mac, 600);
    Header h;
    h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID;  // the second is not the driver's
    h.csum_start = 34;
    h.csum_offset = 16;
    h.num_buffers = 7;
    r.send(h, frame);
    const auto got = r.on_tap();
    ASSERT_EQ(got.size(), 1u);
    Header want;
    want.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    want.csum_start = 34;
    want.csum_offset = 16;
    EXPECT_EQ(got[0], header_bytes(want) + frame);
    EXPECT_EQ(r.tx.used_idx(), 1);
    EXPECT_EQ(r.tx.used_elem(0).len.get(), 0u);
    EXPECT_EQ(r.dev->counters().tx_frames, 1u);
    EXPECT_GE(r.notifier.used, 1);
}

TEST(NetDevice, DropsFramesWithAnotherSourceMacAndCountsThem)
{
    Rig r;
    r.send(Header{}, frame_from(k_peer, 100));
    r.send(Header{}, frame_from(k_mac, 100));
    const auto got = r.on_tap();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].substr(k_hdr), frame_from(k_mac, 100));
    EXPECT_EQ(r.dev->counters().tx_spoofed, 1u);
    EXPECT_EQ(r.notifier.faults, 1);
    EXPECT_EQ(r.tx.used_idx(), 2) << "the spoofed frame's buffer is returned";
}

TEST(NetDevice, DropsMalformedTransmitBuffers)
{
    Rig r;  // no CSUM negotiated
    Header csum;
    csum.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    csum.csum_start = 14;
    r.send(csum, frame_from(k_mac, 100));  // an offload the driver did not negotiate
    Header gso;
    gso.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
    gso.gso_size = 1000;
    r.send(gso, frame_from(k_mac, 100));
    r.send(Header{}, frame_from(k_mac, 10));  // shorter than an Ethernet header
    // A frame in a device-writable buffer.
    const FakeGuest::Buf w{0x7f0000, 200, true};
    r.tx.publish(r.tx.add_chain(std::span(&w, 1)));
    // A frame over 64 KiB in three descriptors.
    const FakeGuest::Buf big[] = {{0x600000, 12, false}, {0x600100, 65535, false}, {0x600100, 100, false}};
    r.tx.publish(r.tx.add_chain(big));
    r.dev->process_queue(k_tx_queue);
    EXPECT_TRUE(r.on_tap().empty());
    EXPECT_EQ(r.dev->counters().tx_dropped, 5u);
    EXPECT_EQ(r.tx.used_idx(), 5);
    EXPECT_EQ(r.notifier.needs_reset, 0) << "a bad frame is the guest's loss, not the device's fault";
}

TEST(NetDevice, ReceivesIntoOneBufferWithoutMergeable)
{
    Rig r(feature_bit(VIRTIO_F_VERSION_1) | feature_bit(VIRTIO_NET_F_GUEST_CSUM));
    r.give_rx(4);
    Header h;
    h.flags = VIRTIO_NET_HDR_F_DATA_VALID | 0x80;  // an unknown bit from the host is not passed on
    h.num_buffers = 9;
    const std::string frame = frame_from(k_peer, 1514);
    r.from_host(h, frame);
    const auto got = r.received();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].frame, frame);
    EXPECT_EQ(got[0].h.flags, VIRTIO_NET_HDR_F_DATA_VALID);
    EXPECT_EQ(got[0].h.num_buffers, 1);
    EXPECT_EQ(r.dev->counters().rx_frames, 1u);
}

TEST(NetDevice, NoChecksumFlagsForADriverWithoutGuestCsum)
{
    Rig r(feature_bit(VIRTIO_F_VERSION_1));
    r.give_rx(1);
    Header h;
    h.flags = VIRTIO_NET_HDR_F_DATA_VALID;
    r.from_host(h, frame_from(k_peer, 100));
    const auto got = r.received();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].h.flags, 0) << "virtio 1.2 5.1.6.4.1: zero without VIRTIO_NET_F_GUEST_CSUM";
}

// Found by fuzz_virtio_net: after a frame larger than every buffer held was dropped, the next
// frame said it took all of them.
TEST(NetDevice, AFrameCountsOnlyTheBuffersItTakes)
{
    Rig r(feature_bit(VIRTIO_F_VERSION_1) | feature_bit(VIRTIO_NET_F_MRG_RXBUF), true, 2);
    r.give_rx(2, 1536);
    r.from_host(Header{}, frame_from(k_peer, 5000));  // over the whole ring: dropped, both buffers kept
    r.from_host(Header{}, frame_from(k_peer, 100));
    auto got = r.received();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].h.num_buffers, 1);
    EXPECT_EQ(got[0].frame, frame_from(k_peer, 100));
    EXPECT_EQ(r.rx.used_idx(), 1) << "the second buffer waits for the next frame";
    r.from_host(Header{}, frame_from(k_peer, 200));
    got = r.received();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].frame, frame_from(k_peer, 200));
    EXPECT_EQ(r.dev->counters().rx_dropped, 1u);
}

// Also from the fuzzer: a tap descriptor at its end (a read of 0) stops the reading instead of
// spinning, and a frame longer than any a tap sends is dropped, not cut short.
TEST(NetDevice, ATapAtItsEndOrAnOverlongFrameIsNoFrame)
{
    Rig r;
    r.give_rx(4);
    const std::string huge = header_bytes(Header{}) + frame_from(k_peer, k_max_frame + 1);
    ASSERT_EQ(::write(r.host.get(), huge.data(), huge.size()), static_cast<ssize_t>(huge.size()));
    r.from_host(Header{}, frame_from(k_peer, 100));
    auto got = r.received();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].frame, frame_from(k_peer, 100));
    EXPECT_EQ(r.dev->counters().rx_dropped, 1u);
    r.host.reset();  // the device's end now reads 0
    r.dev->host_ready(NetDevice::k_tap_token);
    EXPECT_TRUE(r.received().empty());
}

TEST(NetDevice, SpreadsALargeFrameOverMergeableBuffers)
{
    Rig r;
    r.give_rx(8, 1536);
    const std::string frame = frame_from(k_peer, 5000);
    r.from_host(Header{}, frame);
    r.from_host(Header{}, frame_from(k_peer, 60));
    const auto got = r.received();
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].h.num_buffers, 4) << "12 + 5000 bytes in 1536-byte buffers";
    EXPECT_EQ(got[0].frame, frame);
    EXPECT_EQ(got[1].h.num_buffers, 1);
    EXPECT_EQ(got[1].frame, frame_from(k_peer, 60));
}

TEST(NetDevice, AFrameWaitsForBuffersAndTheTapIsNotDrainedMeanwhile)
{
    Rig r;
    for (int i = 0; i < 5; ++i) r.from_host(Header{}, frame_from(k_peer, 100 + i));
    EXPECT_TRUE(r.received().empty());
    // Without a buffer the device reads nothing: every frame still waits in the host's kernel.
    ASSERT_EQ(r.watcher.tokens.size(), 1u);
    const int tap = r.watcher.tokens.begin()->first;
    char c;
    EXPECT_EQ(::recv(tap, &c, 1, MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT), static_cast<ssize_t>(k_hdr + 100));
    r.give_rx(2);
    auto got = r.received();
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].frame, frame_from(k_peer, 100)) << "in order";
    EXPECT_EQ(got[1].frame, frame_from(k_peer, 101));
    // Too few buffers to read straight into: each frame went through the device's buffer, and
    // with both buffers used the third was not read.
    EXPECT_EQ(::recv(tap, &c, 1, MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT), static_cast<ssize_t>(k_hdr + 102));
    r.give_rx(8);
    got = r.received();
    ASSERT_EQ(got.size(), 3u);
    EXPECT_EQ(got[2].frame, frame_from(k_peer, 104));
    EXPECT_EQ(r.dev->counters().rx_dropped, 0u);
    EXPECT_EQ(r.dev->counters().rx_bounced, 5u);
}

// With buffers for the largest frame held, the tap is read straight into them; the buffers a
// frame does not fill wait for the next.
TEST(NetDevice, ReadsStraightIntoMergeableBuffersThatHoldTheLargestFrame)
{
    Rig r;
    r.give_rx(40, 4096);
    Header h;
    h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM | 0x80;
    h.csum_start = 34;
    h.csum_offset = 16;
    h.num_buffers = 77;  // the tap leaves it unwritten: whatever is there is replaced
    const std::string small = frame_from(k_peer, 60), mid = frame_from(k_peer, 5000),
                      large = frame_from(k_peer, k_max_frame);
    r.from_host(h, small);
    EXPECT_EQ(r.rx.used_idx(), 1) << "one buffer used, the others held";
    r.from_host(Header{}, mid);
    r.from_host(Header{}, large);
    const auto got = r.received();
    ASSERT_EQ(got.size(), 3u);
    EXPECT_EQ(got[0].frame, small);
    EXPECT_EQ(got[0].h.num_buffers, 1);
    EXPECT_EQ(got[0].h.flags, 0) << "virtio 1.2 5.1.6.4.1: zero without VIRTIO_NET_F_GUEST_CSUM";
    EXPECT_EQ(got[1].frame, mid);
    EXPECT_EQ(got[1].h.num_buffers, 2);
    EXPECT_EQ(got[2].frame, large);
    EXPECT_EQ(got[2].h.num_buffers, 17) << "12 + 65553 bytes in 4096-byte buffers";
    EXPECT_EQ(r.dev->counters().rx_frames, 3u);
    EXPECT_EQ(r.dev->counters().rx_bounced, 0u);
    EXPECT_EQ(r.dev->counters().rx_dropped, 0u);
}

TEST(NetDevice, ReadsStraightIntoOneLargeBufferWithoutMergeable)
{
    Rig r(feature_bit(VIRTIO_F_VERSION_1) | feature_bit(VIRTIO_NET_F_GUEST_CSUM));
    r.give_rx(2, 0x11000);
    Header h;
    h.flags = VIRTIO_NET_HDR_F_DATA_VALID | 0x80;
    const std::string frame = frame_from(k_peer, 30000);
    r.from_host(h, frame);
    r.from_host(Header{}, frame_from(k_peer, 70));
    const auto got = r.received();
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].frame, frame);
    EXPECT_EQ(got[0].h.flags, VIRTIO_NET_HDR_F_DATA_VALID);
    EXPECT_EQ(got[0].h.num_buffers, 1);
    EXPECT_EQ(got[1].frame, frame_from(k_peer, 70));
    EXPECT_EQ(r.dev->counters().rx_bounced, 0u);
}

// A frame longer than any, or a runt, read straight into the buffers is dropped and the buffers
// stay held: the guest sees neither.
TEST(NetDevice, AnOverlongFrameOrARuntReadIntoTheBuffersLeavesThemHeld)
{
    Rig r;
    r.give_rx(20, 4096);
    const std::string huge = header_bytes(Header{}) + frame_from(k_peer, k_max_frame + 1);
    ASSERT_EQ(::write(r.host.get(), huge.data(), huge.size()), static_cast<ssize_t>(huge.size()));
    const std::string runt = header_bytes(Header{}) + "short";
    ASSERT_EQ(::write(r.host.get(), runt.data(), runt.size()), static_cast<ssize_t>(runt.size()));
    r.from_host(Header{}, frame_from(k_peer, 100));
    const auto got = r.received();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].frame, frame_from(k_peer, 100));
    EXPECT_EQ(r.rx.used_elem(0).id.get(), 0u) << "the first buffer, which the dropped frames filled first";
    EXPECT_EQ(r.dev->counters().rx_dropped, 2u);
    EXPECT_EQ(r.dev->counters().rx_bounced, 0u);
}

// A held buffer outside guest memory: the frame goes the copying way, which returns that buffer
// empty, and the next frames still arrive.
TEST(NetDevice, ABufferOutsideGuestMemoryFallsBackToCopying)
{
    Rig r;
    r.give_rx(1, 4096);
    const FakeGuest::Buf outside{0x7ffff000, 4096, true};
    r.rx.publish(r.rx.add_chain(std::span(&outside, 1)));
    r.give_rx(20, 4096);
    r.from_host(Header{}, frame_from(k_peer, 6000));
    EXPECT_EQ(r.dev->counters().rx_bounced, 1u);
    EXPECT_EQ(r.rx.used_idx(), 2);
    EXPECT_EQ(r.rx.used_elem(0).len.get(), 4096u);
    EXPECT_EQ(r.rx.used_elem(1).len.get(), 0u) << "the buffer outside, returned empty";
    EXPECT_EQ(r.dev->counters().rx_dropped, 1u);
    r.dev->process_queue(k_rx_queue);
    r.from_host(Header{}, frame_from(k_peer, 80));
    EXPECT_EQ(r.rx.used_idx(), 3);
    EXPECT_EQ(r.rx.used_elem(2).len.get(), k_hdr + 80);
    EXPECT_EQ(r.dev->counters().rx_bounced, 1u) << "straight again once the bad buffer is gone";
}

TEST(NetDevice, DropsAFrameTooLargeForTheBufferAndKeepsTheBuffer)
{
    Rig r(feature_bit(VIRTIO_F_VERSION_1));
    r.give_rx(1, 1526);
    r.from_host(Header{}, frame_from(k_peer, 3000));
    r.from_host(Header{}, frame_from(k_peer, 80));
    const auto got = r.received();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].frame, frame_from(k_peer, 80));
    EXPECT_EQ(r.dev->counters().rx_dropped, 1u);
}

TEST(NetDevice, EachDirectionYieldsAfterARound)
{
    Rig r;
    for (int i = 0; i < 100; ++i) r.send(Header{}, frame_from(k_mac, 60), false);
    r.dev->process_queue(k_tx_queue);
    EXPECT_EQ(r.on_tap().size(), NetDevice::k_frames_per_round);
    ASSERT_EQ(r.notifier.polls.size(), 1u);
    EXPECT_EQ(r.notifier.polls[0], k_tx_queue);
    r.dev->poll_queue(k_tx_queue);
    EXPECT_EQ(r.on_tap().size(), 100 - NetDevice::k_frames_per_round);

    r.give_rx(100, 200);
    r.notifier.polls.clear();
    for (int i = 0; i < 100; ++i) r.from_host(Header{}, frame_from(k_peer, 60), false);
    r.dev->host_ready(NetDevice::k_tap_token);
    EXPECT_EQ(r.received().size(), NetDevice::k_frames_per_round);
    ASSERT_EQ(r.notifier.polls.size(), 1u);
    EXPECT_EQ(r.notifier.polls[0], k_rx_queue);
    r.dev->poll_queue(k_rx_queue);
    EXPECT_EQ(r.received().size(), 100 - NetDevice::k_frames_per_round);
}

TEST(NetDevice, WithoutATimerARoundRunsToTheEnd)
{
    Rig r;
    r.notifier.timer = false;
    for (int i = 0; i < 100; ++i) r.send(Header{}, frame_from(k_mac, 60), false);
    r.dev->process_queue(k_tx_queue);
    EXPECT_EQ(r.on_tap().size(), 100u);
}

TEST(NetDevice, UnusableReceiveBuffersAreReturnedEmpty)
{
    Rig r;
    const FakeGuest::Buf tiny{0x100000, 8, true};  // shorter than a header
    r.rx.publish(r.rx.add_chain(std::span(&tiny, 1)));
    const FakeGuest::Buf readable{0x100100, 2000, false};
    r.rx.publish(r.rx.add_chain(std::span(&readable, 1)));
    r.give_rx(1);
    r.from_host(Header{}, frame_from(k_peer, 100));
    EXPECT_EQ(r.rx.used_idx(), 3);
    EXPECT_EQ(r.rx.used_elem(0).len.get(), 0u);
    EXPECT_EQ(r.rx.used_elem(1).len.get(), 0u);
    EXPECT_EQ(r.rx.used_elem(2).len.get(), k_hdr + 100);
    EXPECT_EQ(r.dev->counters().rx_dropped, 2u);
}

TEST(NetDevice, ABrokenRingNeedsAReset)
{
    Rig r;
    r.rx.set_avail_idx(300);  // more than the ring holds ahead
    r.from_host(Header{}, frame_from(k_peer, 100));
    EXPECT_EQ(r.notifier.needs_reset, 1);
    r.tx.set_avail_idx(300);
    r.dev->process_queue(k_tx_queue);
    EXPECT_EQ(r.notifier.needs_reset, 1) << "nothing more until the reset";
    r.dev->reset();
}

TEST(NetDevice, RefusesABadMacAndMissingQueues)
{
    RecordingWatcher w;
    int fds[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds), 0);
    UniqueFd keep(fds[1]);
    EXPECT_FALSE(NetDevice::create(UniqueFd(fds[0]), Mac{1, 0, 0, 0, 0, 1}, w, {}).has_value());
    EXPECT_FALSE(NetDevice::create(UniqueFd(), k_mac, w, {}).has_value());
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds), 0);
    UniqueFd keep2(fds[1]);
    auto d = NetDevice::create(UniqueFd(fds[0]), k_mac, w, {});
    ASSERT_TRUE(d.has_value());
    FakeGuest g;
    Notifier n;
    std::vector<std::optional<Queue>> qs(2);
    EXPECT_FALSE((*d)->activate(ActivateContext{g.mem(), feature_bit(VIRTIO_F_VERSION_1), std::move(qs), n}).has_value());
}

}  // namespace
