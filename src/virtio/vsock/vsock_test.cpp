// virtio-vsock: header checks, the CONNECT line, and the device against a fake guest with host
// sockets at the far end (socketpairs and an abstract-namespace listener; no KVM).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "protocol/vsock_link.hpp"
#include "virtio/testing/fake_guest.hpp"
#include "virtio/testing/recording_watcher.hpp"
#include "virtio/vsock/host_line.hpp"
#include "virtio/vsock/packet.hpp"
#include "virtio/vsock/vsock_device.hpp"

using namespace moat::virtio;
using namespace moat::virtio::vsock;
using moat::base::UniqueFd;
using moat::memory::GuestAddress;
using moat::virtio::testing::FakeGuest;
using moat::virtio::testing::RecordingWatcher;

namespace {

constexpr std::uint64_t k_cid = 7;
constexpr std::uint32_t k_rx_len = 44 + 4096;

Header from_guest(std::uint16_t op, std::uint32_t src_port, std::uint32_t dst_port, std::uint64_t dst = 2,
                  std::uint64_t src = k_cid)
{
    return Header{.src_cid = src, .dst_cid = dst, .src_port = src_port, .dst_port = dst_port, .len = 0,
                  .type = VIRTIO_VSOCK_TYPE_STREAM, .op = op, .flags = 0, .buf_alloc = 1 << 20, .fwd_cnt = 0};
}

// --- packet.hpp and host_line.hpp ------------------------------------------------------------

TEST(VsockPacket, EncodeDecodeRoundTripAndLayout)
{
    Header h = from_guest(VIRTIO_VSOCK_OP_RW, 1000, 52);
    h.len = 5;
    h.flags = 3;
    h.fwd_cnt = 0x01020304;
    const VsockHdr raw = encode(h);
    const auto* b = reinterpret_cast<const std::uint8_t*>(&raw);
    EXPECT_EQ(b[0], 7);         // src_cid at 0
    EXPECT_EQ(b[8], 2);         // dst_cid at 8
    EXPECT_EQ(b[20], 52);       // dst_port at 20
    EXPECT_EQ(b[30], 5);        // op at 30
    EXPECT_EQ(b[40], 0x04);     // fwd_cnt at 40, little-endian
    const Header d = decode(raw);
    EXPECT_EQ(d.src_port, 1000u);
    EXPECT_EQ(d.len, 5u);
    EXPECT_EQ(d.fwd_cnt, 0x01020304u);
}

TEST(VsockPacket, ChecksEveryField)
{
    auto verdict = [](Header h, std::uint64_t payload = 0) { return check_from_guest(h, k_cid, payload).verdict; };
    EXPECT_EQ(verdict(from_guest(VIRTIO_VSOCK_OP_REQUEST, 1, 2)), Verdict::Accept);
    Header h = from_guest(VIRTIO_VSOCK_OP_REQUEST, 1, 2);
    h.src_cid = 8;
    EXPECT_EQ(verdict(h), Verdict::Drop) << "forged source";
    EXPECT_EQ(verdict(from_guest(VIRTIO_VSOCK_OP_REQUEST, 1, 2, k_cid)), Verdict::Drop) << "to itself";
    EXPECT_EQ(verdict(from_guest(VIRTIO_VSOCK_OP_REQUEST, 1, 2, 1)), Verdict::Drop) << "reserved CID";
    EXPECT_EQ(verdict(from_guest(VIRTIO_VSOCK_OP_REQUEST, 1, 2, 1ull << 32)), Verdict::Drop) << "upper bits";
    EXPECT_EQ(verdict(from_guest(VIRTIO_VSOCK_OP_REQUEST, 1, 2, 3)), Verdict::Accept) << "another guest";
    h = from_guest(VIRTIO_VSOCK_OP_REQUEST, 1, 2);
    h.type = 2;
    EXPECT_EQ(verdict(h), Verdict::Reset) << "seqpacket";
    EXPECT_EQ(verdict(from_guest(0, 1, 2)), Verdict::Reset);
    EXPECT_EQ(verdict(from_guest(8, 1, 2)), Verdict::Reset);
    h = from_guest(VIRTIO_VSOCK_OP_RW, 1, 2);
    EXPECT_EQ(verdict(h, 100), Verdict::Drop) << "RW without bytes";
    h.len = 100;
    EXPECT_EQ(verdict(h, 100), Verdict::Accept);
    EXPECT_EQ(verdict(h, 99), Verdict::Reset) << "len past the chain";
    h.len = k_max_payload + 1;
    EXPECT_EQ(verdict(h, 1 << 20), Verdict::Reset) << "over 64 KiB";
    h = from_guest(VIRTIO_VSOCK_OP_SHUTDOWN, 1, 2);
    h.len = 1;
    EXPECT_EQ(verdict(h, 1), Verdict::Reset) << "payload on a control packet";
    h = from_guest(VIRTIO_VSOCK_OP_RST, 1, 2);
    h.type = 9;
    EXPECT_EQ(verdict(h), Verdict::Accept) << "an RST is never answered, whatever its type";
    h.len = 4;
    EXPECT_EQ(verdict(h, 4), Verdict::Drop);
}

TEST(VsockHostLine, ParsesConnectLines)
{
    EXPECT_EQ(parse_connect_line("CONNECT 52").value(), 52u);
    EXPECT_EQ(parse_connect_line("CONNECT 4294967295").value(), 0xffffffffu);
    for (const char* bad : {"", "CONNECT", "CONNECT ", "CONNECT 4294967296", "CONNECT 12345678901", "connect 5",
                            "CONNECT -1", "CONNECT 5 ", "CONNECT  5", "CONNECT 0x10", "OK 5"})
        EXPECT_FALSE(parse_connect_line(bad).has_value()) << "'" << bad << "'";
    EXPECT_EQ(ok_line(1073741824), "OK 1073741824\n");
}

// --- the device --------------------------------------------------------------------------------

class CountingNotifier final : public DriverNotifier {
public:
    void notify_used() override { ++used; }
    void notify_config_change() override {}
    void device_needs_reset() override { ++needs_reset; }
    void guest_fault() override { ++faults; }
    bool poll_later(std::uint32_t, std::chrono::microseconds) override { return false; }
    int used = 0;
    int needs_reset = 0;
    int faults = 0;
};

struct Packet {
    Header h;
    std::string payload;
};

std::pair<UniqueFd, UniqueFd> stream_pair()
{
    int fds[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
    return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

std::string read_all(int fd)
{
    std::string out;
    char buf[65536];
    for (;;) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n <= 0) return out;
        out.append(buf, static_cast<std::size_t>(n));
    }
}

// True when the peer of `fd` closed (read returns 0 rather than EAGAIN).
bool peer_closed(int fd)
{
    char c;
    return ::recv(fd, &c, 1, MSG_DONTWAIT | MSG_PEEK) == 0;
}

// A vsock device on three FakeGuest queues in one memory; the test plays the driver.
class Harness {
public:
    explicit Harness(VsockDevice::Connector connector = {}, UniqueFd listener = {}, std::uint64_t cid = k_cid,
                     std::vector<VsockDevice::Link> links = {})
        : rx(64, 8 << 20), tx(rx.mem(), 0x3000, 64), ev(rx.mem(), 0x6000, 64)
    {
        auto d = VsockDevice::create(cid, std::move(listener), watcher, std::move(connector), std::move(links));
        EXPECT_TRUE(d.has_value());
        dev = std::move(d).value();
        dev->set_refused_hook([this](std::uint64_t to, std::uint32_t port) { refused.push_back({to, port}); });
        const std::uint64_t f = feature_bit(VIRTIO_F_VERSION_1);
        std::vector<std::optional<Queue>> qs;
        for (FakeGuest* g : {&rx, &tx, &ev}) qs.push_back(std::move(Queue::create(rx.mem(), g->config(), 256, f)).value());
        EXPECT_TRUE(dev->activate(ActivateContext{rx.mem(), f, std::move(qs), notifier}).has_value());
        give_rx(32);
    }

    void give_rx(int n, std::uint32_t len = k_rx_len)
    {
        for (int i = 0; i < n; ++i) {
            const std::uint64_t addr = next_rx_addr();
            const FakeGuest::Buf b{addr, len, true};
            const std::uint16_t head = rx.add_chain(std::span(&b, 1));
            rx_addr[head] = addr;
            rx.publish(head);
        }
    }

    // Puts one packet on the transmit queue (header and payload in two descriptors).
    void send(Header h, const std::string& payload = {}, bool notify = true)
    {
        if (h.op == VIRTIO_VSOCK_OP_RW && h.len == 0) h.len = static_cast<std::uint32_t>(payload.size());
        const VsockHdr raw = encode(h);
        tx_addr = tx_addr + 0x20000 > 0x7c0000 ? 0x600000 : tx_addr + 0x20000;
        rx.write(GuestAddress(tx_addr), std::as_bytes(std::span(&raw, 1)));
        std::vector<FakeGuest::Buf> bufs{{tx_addr, 44, false}};
        if (!payload.empty()) {
            rx.write(GuestAddress(tx_addr + 0x100), std::as_bytes(std::span(payload.data(), payload.size())));
            bufs.push_back({tx_addr + 0x100, static_cast<std::uint32_t>(payload.size()), false});
        }
        tx.publish(tx.add_chain(bufs));
        if (notify) dev->process_queue(k_tx_queue);
    }

    // Packets the device put on the receive queue since the last call; re-supplies the buffers.
    std::vector<Packet> received()
    {
        std::vector<Packet> out;
        while (rx_seen != rx.used_idx()) {
            const VirtqUsedElem e = rx.used_elem(rx_seen++);
            const std::uint64_t addr = rx_addr.at(static_cast<std::uint16_t>(e.id.get()));
            EXPECT_GE(e.len.get(), 44u);
            VsockHdr raw;
            const auto bytes = rx.read(GuestAddress(addr), 44);
            std::memcpy(&raw, bytes.data(), 44);
            Packet p{decode(raw), {}};
            EXPECT_EQ(e.len.get(), 44 + p.h.len);
            const auto data = rx.read(GuestAddress(addr + 44), p.h.len);
            p.payload.assign(reinterpret_cast<const char*>(data.data()), data.size());
            out.push_back(p);
        }
        if (!out.empty()) give_rx(static_cast<int>(out.size()));
        return out;
    }

    void host_ready(int fd) { dev->host_ready(watcher.tokens.at(fd)); }

    FakeGuest rx, tx, ev;
    RecordingWatcher watcher;
    CountingNotifier notifier;
    std::unique_ptr<VsockDevice> dev;
    std::vector<std::pair<std::uint64_t, std::uint32_t>> refused;

private:
    std::uint64_t next_rx_addr()
    {
        rx_next = rx_next >= 0x5f0000 ? 0x100000 : rx_next + 0x2000;
        return rx_next;
    }
    std::map<std::uint16_t, std::uint64_t> rx_addr;
    std::uint16_t rx_seen = 0;
    std::uint64_t rx_next = 0x100000;
    std::uint64_t tx_addr = 0x600000;
};

// A connector handing out socketpairs for (2, 1234) and keeping the host ends.
struct HostSide {
    VsockDevice::Connector connector()
    {
        return [this](std::uint64_t cid, std::uint32_t port) {
            if (cid != 2 || port != 1234) return UniqueFd();
            auto [dev_end, host_end] = stream_pair();
            ends.push_back(std::move(host_end));
            device_ends.push_back(dev_end.get());
            return std::move(dev_end);
        };
    }
    std::vector<UniqueFd> ends;
    std::vector<int> device_ends;
};

TEST(VsockDevice, ConfigFeaturesAndActivation)
{
    RecordingWatcher w;
    EXPECT_FALSE(VsockDevice::create(2, {}, w, {}).has_value());
    EXPECT_FALSE(VsockDevice::create(1ull << 32, {}, w, {}).has_value());
    auto d = std::move(VsockDevice::create(k_cid, {}, w, {})).value();
    EXPECT_EQ(d->device_id(), 19u);
    EXPECT_EQ(d->queue_max_sizes().size(), 3u);
    std::array<std::byte, 12> cfg;
    d->read_config(0, cfg);
    EXPECT_EQ(cfg[0], std::byte{7});
    for (std::size_t i = 1; i < cfg.size(); ++i) EXPECT_EQ(cfg[i], std::byte{0});
    FakeGuest g;
    CountingNotifier n;
    std::vector<std::optional<Queue>> qs(3);
    EXPECT_FALSE(d->activate(ActivateContext{g.mem(), feature_bit(VIRTIO_F_VERSION_1), std::move(qs), n}).has_value());
}

TEST(VsockDevice, GuestConnectsToTheHostAndBytesFlowBothWays)
{
    HostSide host;
    Harness t(host.connector());
    t.send(from_guest(VIRTIO_VSOCK_OP_REQUEST, 5000, 1234));
    auto got = t.received();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].h.op, VIRTIO_VSOCK_OP_RESPONSE);
    EXPECT_EQ(got[0].h.src_cid, 2u);
    EXPECT_EQ(got[0].h.dst_cid, k_cid);
    EXPECT_EQ(got[0].h.src_port, 1234u);
    EXPECT_EQ(got[0].h.dst_port, 5000u);
    EXPECT_EQ(got[0].h.buf_alloc, k_buf_alloc);
    ASSERT_EQ(host.ends.size(), 1u);

    t.send(from_guest(VIRTIO_VSOCK_OP_RW, 5000, 1234), "hello");
    EXPECT_EQ(read_all(host.ends[0].get()), "hello");

    ASSERT_EQ(::write(host.ends[0].get(), "world", 5), 5);
    t.host_ready(host.device_ends[0]);
    got = t.received();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].h.op, VIRTIO_VSOCK_OP_RW);
    EXPECT_EQ(got[0].payload, "world");
    EXPECT_GT(t.notifier.used, 0);
    EXPECT_EQ(t.dev->dropped(), 0u);
}

TEST(VsockDevice, ConnectionWithoutAPathIsRefusedAndReported)
{
    HostSide host;
    Harness t(host.connector());
    t.send(from_guest(VIRTIO_VSOCK_OP_REQUEST, 5000, 99));
    t.send(from_guest(VIRTIO_VSOCK_OP_REQUEST, 5001, 1234, 3));  // another guest: no channel
    auto got = t.received();
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].h.op, VIRTIO_VSOCK_OP_RST);
    EXPECT_EQ(got[0].h.src_port, 99u);
    EXPECT_EQ(got[0].h.dst_port, 5000u);
    EXPECT_EQ(got[1].h.op, VIRTIO_VSOCK_OP_RST);
    EXPECT_EQ(got[1].h.src_cid, 3u);
    ASSERT_EQ(t.refused.size(), 2u);
    EXPECT_EQ(t.refused[0], (std::pair<std::uint64_t, std::uint32_t>{2, 99}));
    EXPECT_EQ(t.refused[1], (std::pair<std::uint64_t, std::uint32_t>{3, 1234}));
    EXPECT_EQ(t.dev->connections(), 0u);
}

TEST(VsockDevice, MalformedPacketsAreDroppedOrReset)
{
    Harness t;
    Header forged = from_guest(VIRTIO_VSOCK_OP_REQUEST, 1, 2);
    forged.src_cid = 9;
    t.send(forged);
    t.send(from_guest(VIRTIO_VSOCK_OP_RST, 1, 2));          // nothing to reset: no answer
    t.send(from_guest(VIRTIO_VSOCK_OP_RW, 1, 2), "x");     // no such connection
    t.send(from_guest(42, 1, 3));                          // unknown op
    Header lying = from_guest(VIRTIO_VSOCK_OP_RW, 1, 4);
    lying.len = 1000;                                      // only 1 byte follows
    t.send(lying, "y");
    auto got = t.received();
    ASSERT_EQ(got.size(), 3u);
    for (const auto& p : got) EXPECT_EQ(p.h.op, VIRTIO_VSOCK_OP_RST);
    EXPECT_EQ(got[0].h.src_port, 2u);
    EXPECT_EQ(got[1].h.src_port, 3u);
    EXPECT_EQ(got[2].h.src_port, 4u);
    EXPECT_EQ(t.dev->dropped(), 3u);  // forged, unknown op, lying len
    // A header split over descriptors is read whole; a buffer shorter than a header is dropped.
    const std::uint64_t a = 0x700000;
    const VsockHdr raw = encode(from_guest(VIRTIO_VSOCK_OP_REQUEST, 1, 5));
    t.rx.write(GuestAddress(a), std::as_bytes(std::span(&raw, 1)));
    const FakeGuest::Buf split[] = {{a, 10, false}, {a + 10, 34, false}};
    t.tx.publish(t.tx.add_chain(split));
    const FakeGuest::Buf short_one{a, 43, false};
    t.tx.publish(t.tx.add_chain(std::span(&short_one, 1)));
    const FakeGuest::Buf wrong_way{a, 44, true};
    t.tx.publish(t.tx.add_chain(std::span(&wrong_way, 1)));
    t.dev->process_queue(k_tx_queue);
    got = t.received();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].h.op, VIRTIO_VSOCK_OP_RST);
    EXPECT_EQ(got[0].h.src_port, 5u);
    EXPECT_EQ(t.dev->dropped(), 5u);
    EXPECT_EQ(t.notifier.faults, 5);  // each one counted for the monitor's audit log
    EXPECT_EQ(t.notifier.needs_reset, 0);
}

TEST(VsockDevice, HostProgramConnectsThroughTheListener)
{
    UniqueFd listener(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    const std::string name = "moat-vsock-test-" + std::to_string(::getpid());
    std::memcpy(sa.sun_path + 1, name.data(), name.size());
    const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
    ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&sa), len), 0);
    ASSERT_EQ(::listen(listener.get(), 8), 0);
    const int lfd = listener.get();
    Harness t({}, std::move(listener));
    EXPECT_EQ(t.watcher.tokens.at(lfd), VsockDevice::k_listener_token);

    auto connect = [&] {
        UniqueFd c(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        EXPECT_EQ(::connect(c.get(), reinterpret_cast<sockaddr*>(&sa), len), 0);
        return c;
    };
    UniqueFd good = connect();
    const std::string first = "CONNECT 52\nearly bytes";
    ASSERT_EQ(::write(good.get(), first.data(), first.size()), static_cast<ssize_t>(first.size()));
    UniqueFd bad = connect();
    ASSERT_EQ(::write(bad.get(), "CONNECT x\n", 10), 10);
    t.dev->host_ready(VsockDevice::k_listener_token);
    auto got = t.received();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].h.op, VIRTIO_VSOCK_OP_REQUEST);
    EXPECT_EQ(got[0].h.dst_port, 52u);
    EXPECT_GE(got[0].h.src_port, 0x40000000u);
    EXPECT_TRUE(peer_closed(bad.get())) << "a bad CONNECT line closes the connection";

    const std::uint32_t host_port = got[0].h.src_port;
    t.send(from_guest(VIRTIO_VSOCK_OP_RESPONSE, 52, host_port));
    got = t.received();
    ASSERT_EQ(got.size(), 1u) << "the bytes behind the line follow the RESPONSE";
    EXPECT_EQ(got[0].payload, "early bytes");
    char ok[64] = {};
    ASSERT_GT(::read(good.get(), ok, sizeof ok - 1), 0);
    EXPECT_EQ(std::string(ok), "OK " + std::to_string(host_port) + "\n");

    // The guest refuses the next one: the host program sees its connection closed.
    UniqueFd refused = connect();
    ASSERT_EQ(::write(refused.get(), "CONNECT 53\n", 11), 11);
    t.dev->host_ready(VsockDevice::k_listener_token);
    got = t.received();
    ASSERT_EQ(got.size(), 1u);
    t.send(from_guest(VIRTIO_VSOCK_OP_RST, 53, got[0].h.src_port));
    EXPECT_TRUE(peer_closed(refused.get()));
}

TEST(VsockDevice, HostBytesWaitForTheGuestsCredit)
{
    HostSide host;
    Harness t(host.connector());
    Header req = from_guest(VIRTIO_VSOCK_OP_REQUEST, 5000, 1234);
    req.buf_alloc = 100;
    t.send(req);
    ASSERT_EQ(t.received().size(), 1u);
    const std::string data(1000, 'z');
    ASSERT_EQ(::write(host.ends[0].get(), data.data(), data.size()), 1000);
    t.host_ready(host.device_ends[0]);
    auto got = t.received();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].payload.size(), 100u) << "no more than the guest's buffer";
    t.dev->process_queue(k_rx_queue);
    EXPECT_TRUE(t.received().empty());
    Header credit = from_guest(VIRTIO_VSOCK_OP_CREDIT_UPDATE, 5000, 1234);
    credit.buf_alloc = 100;
    credit.fwd_cnt = 100;
    t.send(credit);
    got = t.received();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].payload.size(), 100u);
    // A guest that claims to have read more than it was sent gets nothing more for the lie.
    credit.fwd_cnt = 5000;
    t.send(credit);
    EXPECT_TRUE(t.received().empty());
}

TEST(VsockDevice, GuestBytesBeyondItsCreditResetTheConnection)
{
    HostSide host;
    Harness t(host.connector());
    t.send(from_guest(VIRTIO_VSOCK_OP_REQUEST, 5000, 1234));
    ASSERT_EQ(t.received().size(), 1u);
    int small = 4096;
    ASSERT_EQ(::setsockopt(host.device_ends[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
    ASSERT_EQ(::setsockopt(host.ends[0].get(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small), 0);
    const std::string chunk(k_max_payload, 'q');
    std::uint64_t sent = 0;
    bool reset = false;
    while (!reset && sent < 4 * std::uint64_t{k_buf_alloc}) {
        t.send(from_guest(VIRTIO_VSOCK_OP_RW, 5000, 1234), chunk);
        sent += chunk.size();
        for (const auto& p : t.received()) reset = reset || p.h.op == VIRTIO_VSOCK_OP_RST;
    }
    EXPECT_TRUE(reset);
    EXPECT_GT(sent, std::uint64_t{k_buf_alloc}) << "within its credit the guest was never reset";
    read_all(host.ends[0].get());  // what got through before the reset
    EXPECT_TRUE(peer_closed(host.ends[0].get())) << "the host socket is closed with the connection";
    EXPECT_EQ(t.dev->connections(), 0u);
}

TEST(VsockDevice, WrittenBytesComeBackAsCredit)
{
    HostSide host;
    Harness t(host.connector());
    t.send(from_guest(VIRTIO_VSOCK_OP_REQUEST, 5000, 1234));
    ASSERT_EQ(t.received().size(), 1u);
    t.send(from_guest(VIRTIO_VSOCK_OP_RW, 5000, 1234), std::string(k_max_payload, 'c'));
    auto got = t.received();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].h.op, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
    EXPECT_EQ(got[0].h.fwd_cnt, k_max_payload);
    t.send(from_guest(VIRTIO_VSOCK_OP_CREDIT_REQUEST, 5000, 1234));
    got = t.received();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].h.op, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
}

TEST(VsockDevice, ShutdownBothWays)
{
    HostSide host;
    Harness t(host.connector());
    t.send(from_guest(VIRTIO_VSOCK_OP_REQUEST, 5000, 1234));
    t.send(from_guest(VIRTIO_VSOCK_OP_REQUEST, 5001, 1234));
    ASSERT_EQ(t.received().size(), 2u);
    // The host half-closes the first: the guest hears SHUTDOWN(SEND); then the guest closes.
    ASSERT_EQ(::write(host.ends[0].get(), "bye", 3), 3);
    ::shutdown(host.ends[0].get(), SHUT_WR);
    t.host_ready(host.device_ends[0]);
    auto got = t.received();
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].payload, "bye");
    EXPECT_EQ(got[1].h.op, VIRTIO_VSOCK_OP_SHUTDOWN);
    EXPECT_EQ(got[1].h.flags, VIRTIO_VSOCK_SHUTDOWN_SEND);
    Header shut = from_guest(VIRTIO_VSOCK_OP_SHUTDOWN, 5000, 1234);
    shut.flags = VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND;
    t.send(shut);
    got = t.received();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].h.op, VIRTIO_VSOCK_OP_RST) << "the guest's close completes with RST";
    EXPECT_TRUE(peer_closed(host.ends[0].get()));
    // The guest closes the second first: its bytes reach the host, then EOF.
    t.send(from_guest(VIRTIO_VSOCK_OP_RW, 5001, 1234), "last");
    shut.src_port = 5001;
    t.send(shut);
    got = t.received();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].h.op, VIRTIO_VSOCK_OP_RST);
    EXPECT_EQ(read_all(host.ends[1].get()), "last");
    EXPECT_TRUE(peer_closed(host.ends[1].get()));
    EXPECT_EQ(t.dev->connections(), 0u);
    // The guest's RST ends a connection without an answer.
    t.send(from_guest(VIRTIO_VSOCK_OP_REQUEST, 5002, 1234));
    ASSERT_EQ(t.received().size(), 1u);
    t.send(from_guest(VIRTIO_VSOCK_OP_RST, 5002, 1234));
    EXPECT_TRUE(t.received().empty());
    EXPECT_TRUE(peer_closed(host.ends[2].get()));
}

TEST(VsockDevice, ResetClosesEveryHostSocket)
{
    HostSide host;
    Harness t(host.connector());
    t.send(from_guest(VIRTIO_VSOCK_OP_REQUEST, 5000, 1234));
    ASSERT_EQ(t.received().size(), 1u);
    t.dev->reset();
    EXPECT_TRUE(peer_closed(host.ends[0].get()));
    EXPECT_EQ(t.dev->connections(), 0u);
    t.dev->process_queue(k_tx_queue);  // inactive: nothing happens
}

TEST(VsockDevice, UnusableReceiveBuffersAreReturnedEmpty)
{
    HostSide host;
    Harness t(host.connector());
    // Use up the good buffers the harness gave, then offer only too-short ones.
    for (int i = 0; i < 32; ++i) t.send(from_guest(VIRTIO_VSOCK_OP_REQUEST, 6000 + static_cast<std::uint32_t>(i), 99), {}, true);
    const std::uint16_t used_before = t.rx.used_idx();
    EXPECT_EQ(used_before, 32);
    const FakeGuest::Buf tiny{0x7f0000, 20, true};
    t.rx.publish(t.rx.add_chain(std::span(&tiny, 1)));
    t.send(from_guest(VIRTIO_VSOCK_OP_REQUEST, 7000, 99));
    EXPECT_EQ(t.rx.used_idx(), used_before + 1);
    EXPECT_EQ(t.rx.used_elem(used_before).len.get(), 0u);
    EXPECT_EQ(t.notifier.needs_reset, 0);
}

// Two guests joined by a channel: A (CID 7) may connect to port 6379 of B (CID 8).
struct Channel {
    int a_link = -1, b_link = -1;  // before a and b, which set them as they are made
    Harness a, b;
    static std::vector<VsockDevice::Link> link(bool outgoing, std::uint64_t peer, int& fd, UniqueFd end)
    {
        fd = end.get();
        std::vector<VsockDevice::Link> v;
        v.push_back({std::move(end), outgoing, peer, 6379});
        return v;
    }
    static std::pair<UniqueFd, UniqueFd> seqpacket_pair()
    {
        int fds[2];
        EXPECT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds), 0);
        return {UniqueFd(fds[0]), UniqueFd(fds[1])};
    }
    explicit Channel(std::pair<UniqueFd, UniqueFd> ends = seqpacket_pair())
        : a({}, {}, 7, link(true, 8, a_link, std::move(ends.first))), b({}, {}, 8, link(false, 7, b_link, std::move(ends.second)))
    {
    }
    // Delivers what crossed the link and the streams: every watched descriptor is ready.
    void pump()
    {
        for (int round = 0; round < 4; ++round)
            for (Harness* h : {&a, &b}) {
                const auto tokens = h->watcher.tokens;
                for (const auto& [fd, token] : tokens) h->dev->host_ready(token);
            }
    }
};

Header from(std::uint64_t src, std::uint16_t op, std::uint32_t src_port, std::uint64_t dst, std::uint32_t dst_port)
{
    return from_guest(op, src_port, dst_port, dst, src);
}

TEST(VsockChannel, GuestsConnectAcrossTheLinkAndTalkBothWays)
{
    Channel c;
    c.a.send(from(7, VIRTIO_VSOCK_OP_REQUEST, 5000, 8, 6379));
    EXPECT_TRUE(c.a.received().empty()) << "no answer before B's guest accepts";
    c.pump();
    auto got = c.b.received();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].h.op, VIRTIO_VSOCK_OP_REQUEST);
    EXPECT_EQ(got[0].h.src_cid, 7u);
    EXPECT_EQ(got[0].h.src_port, 5000u);
    EXPECT_EQ(got[0].h.dst_cid, 8u);
    EXPECT_EQ(got[0].h.dst_port, 6379u);
    c.b.send(from(8, VIRTIO_VSOCK_OP_RESPONSE, 6379, 7, 5000));
    c.pump();
    got = c.a.received();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].h.op, VIRTIO_VSOCK_OP_RESPONSE);
    EXPECT_EQ(got[0].h.src_cid, 8u);
    EXPECT_EQ(got[0].h.src_port, 6379u);

    c.a.send(from(7, VIRTIO_VSOCK_OP_RW, 5000, 8, 6379), "ping");
    c.pump();
    got = c.b.received();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].payload, "ping");
    EXPECT_EQ(got[0].h.src_cid, 7u);
    c.b.send(from(8, VIRTIO_VSOCK_OP_RW, 6379, 7, 5000), "pong");
    c.pump();
    got = c.a.received();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].payload, "pong");

    // A closes: B's guest hears the end, then its close completes with RST.
    Header shut = from(7, VIRTIO_VSOCK_OP_SHUTDOWN, 5000, 8, 6379);
    shut.flags = VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND;
    c.a.send(shut);
    c.pump();
    got = c.b.received();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].h.op, VIRTIO_VSOCK_OP_SHUTDOWN);
}

TEST(VsockChannel, OnlyTheChannelsPortAndOnlyWhenAccepted)
{
    Channel c;
    c.a.send(from(7, VIRTIO_VSOCK_OP_REQUEST, 5000, 8, 22));  // no channel to port 22
    c.a.send(from(7, VIRTIO_VSOCK_OP_REQUEST, 5001, 9, 6379));  // nor to CID 9
    auto got = c.a.received();
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].h.op, VIRTIO_VSOCK_OP_RST);
    EXPECT_EQ(got[1].h.op, VIRTIO_VSOCK_OP_RST);
    ASSERT_EQ(c.a.refused.size(), 2u);
    EXPECT_EQ(c.a.refused[0], (std::pair<std::uint64_t, std::uint32_t>{8, 22}));
    c.pump();
    EXPECT_TRUE(c.b.received().empty());

    // B's guest refuses: A's guest gets RST.
    c.a.send(from(7, VIRTIO_VSOCK_OP_REQUEST, 5002, 8, 6379));
    c.pump();
    got = c.b.received();
    ASSERT_EQ(got.size(), 1u);
    c.b.send(from(8, VIRTIO_VSOCK_OP_RST, 6379, 7, 5002));
    c.pump();
    got = c.a.received();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].h.op, VIRTIO_VSOCK_OP_RST);
    EXPECT_EQ(c.a.dev->connections(), 0u);
    EXPECT_EQ(c.b.dev->connections(), 0u);

    // A process on A's side that lies about the port gets nothing to B's guest; B never
    // connects out over an incoming link.
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    UniqueFd mine(sv[0]), theirs(sv[1]);
    ASSERT_TRUE(moat::protocol::send_link_open(c.a_link, {5003, 22}, theirs.get()).has_value());
    theirs.reset();
    c.pump();
    EXPECT_TRUE(c.b.received().empty());
    EXPECT_TRUE(peer_closed(mine.get()));
    c.b.send(from(8, VIRTIO_VSOCK_OP_REQUEST, 6000, 7, 6379));
    got = c.b.received();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].h.op, VIRTIO_VSOCK_OP_RST);
}

TEST(VsockChannel, APeerThatDiesEndsItsConnections)
{
    Channel c;
    c.a.send(from(7, VIRTIO_VSOCK_OP_REQUEST, 5000, 8, 6379));
    c.pump();
    ASSERT_EQ(c.b.received().size(), 1u);
    c.b.send(from(8, VIRTIO_VSOCK_OP_RESPONSE, 6379, 7, 5000));
    c.pump();
    ASSERT_EQ(c.a.received().size(), 1u);
    c.a.dev->reset();  // A's process ends: its streams close
    c.pump();
    auto got = c.b.received();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].h.op, VIRTIO_VSOCK_OP_SHUTDOWN);
    // B's guest writes on: the stream is gone, so the connection is reset.
    c.b.send(from(8, VIRTIO_VSOCK_OP_RW, 6379, 7, 5000), "anyone?");
    got = c.b.received();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].h.op, VIRTIO_VSOCK_OP_RST);
}

}  // namespace

