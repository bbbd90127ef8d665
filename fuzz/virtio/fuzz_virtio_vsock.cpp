// Fuzzes the virtio-vsock device over sequences of events: packets the guest transmits (every
// header field from the input, split over descriptors the input chooses), receive buffers it
// offers, and host programs that connect, write, half-close or go away. A fresh device per input,
// with a connector that answers one port and a listener host programs reach. Checks the device's
// own limits after every step: used lengths within the buffers, at most k_max_connections.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "fuzz_common.hpp"
#include "virtio/testing/fake_guest.hpp"
#include "virtio/testing/recording_watcher.hpp"
#include "virtio/vsock/vsock_device.hpp"

using namespace moat;
using namespace moat::virtio;
using namespace moat::virtio::vsock;

namespace {

class NullNotifier final : public DriverNotifier {
public:
    void notify_used() override {}
    void notify_config_change() override {}
    void device_needs_reset() override {}
    void guest_fault() override {}
    bool poll_later(std::uint32_t, std::chrono::microseconds) override { return false; }
};

sockaddr_un listener_address(socklen_t& len)
{
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    const std::string name = "moat-fuzz-vsock-" + std::to_string(::getpid());
    std::memcpy(sa.sun_path + 1, name.data(), name.size());
    len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
    return sa;
}

base::UniqueFd make_listener()
{
    socklen_t len;
    sockaddr_un sa = listener_address(len);
    base::UniqueFd l(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (::bind(l.get(), reinterpret_cast<sockaddr*>(&sa), len) != 0 || ::listen(l.get(), 64) != 0) __builtin_trap();
    return l;
}

constexpr std::uint64_t k_cid = 5;
constexpr std::uint64_t k_rx_base = 0x40000;   // receive buffers: 32 slots of 0x1000
constexpr std::uint64_t k_tx_base = 0x80000;   // transmit packet bytes

struct Run {
    testing::FakeGuest rx{64, 1 << 20};
    testing::FakeGuest tx{rx.mem(), 0x3000, 64};
    testing::FakeGuest ev{rx.mem(), 0x6000, 64};
    testing::RecordingWatcher watcher;
    NullNotifier notifier;
    std::vector<base::UniqueFd> host;  // host ends: connector sockets and listener clients
    std::unique_ptr<VsockDevice> dev;
    std::map<std::uint16_t, std::uint32_t> rx_len;
    std::uint16_t rx_seen = 0;
    std::uint32_t rx_slot = 0;

    explicit Run(base::UniqueFd listener)
    {
        auto d = VsockDevice::create(k_cid, std::move(listener), watcher, [this](std::uint64_t cid, std::uint32_t port) {
            if (cid != 2 || port % 4 != 0 || host.size() > 300) return base::UniqueFd();
            int fds[2];
            if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) return base::UniqueFd();
            host.emplace_back(fds[1]);
            return base::UniqueFd(fds[0]);
        });
        if (!d) __builtin_trap();
        dev = std::move(d).value();
        const std::uint64_t f = feature_bit(VIRTIO_F_VERSION_1);
        std::vector<std::optional<Queue>> qs;
        for (testing::FakeGuest* g : {&rx, &tx, &ev}) qs.push_back(std::move(Queue::create(rx.mem(), g->config(), 256, f)).value());
        if (!dev->activate(ActivateContext{rx.mem(), f, std::move(qs), notifier})) __builtin_trap();
    }

    void check()
    {
        if (dev->connections() > VsockDevice::k_max_connections) __builtin_trap();
        for (; rx_seen != rx.used_idx(); ++rx_seen) {
            const VirtqUsedElem e = rx.used_elem(rx_seen);
            auto it = rx_len.find(static_cast<std::uint16_t>(e.id.get()));
            if (it == rx_len.end() || e.len.get() > it->second) __builtin_trap();
            rx_len.erase(it);
        }
    }

    void offer_rx(std::uint32_t len)
    {
        if (rx_len.size() >= 32) return;  // a driver never offers more than its ring holds
        const std::uint64_t addr = k_rx_base + 0x1000 * (rx_slot++ % 32);
        const testing::FakeGuest::Buf b{addr, len, true};
        const std::uint16_t head = rx.add_chain(std::span(&b, 1));
        rx_len[head] = len;
        rx.publish(head);
    }

    void transmit(fuzz::Input& in)
    {
        VsockHdr raw;
        const auto hb = in.take<std::array<std::uint8_t, sizeof(VsockHdr)>>();
        std::memcpy(&raw, hb.data(), sizeof raw);
        const auto shape = in.take<std::uint8_t>();
        if (shape & 1) raw.src_cid.set(k_cid);            // mostly well-addressed
        if (shape & 2) raw.dst_cid.set(2);
        if (shape & 4) raw.type.set(VIRTIO_VSOCK_TYPE_STREAM);
        if (shape & 8) raw.op.set(static_cast<std::uint16_t>(raw.op.get() % 8));
        const std::uint32_t payload = in.take<std::uint8_t>() * 64u;
        if (shape & 16) raw.len.set(payload);
        rx.write(memory::GuestAddress(k_tx_base), std::as_bytes(std::span(&raw, 1)));
        const std::uint32_t split = 1 + hb[0] % 43;
        std::vector<testing::FakeGuest::Buf> bufs;
        if (shape & 32) {
            bufs.push_back({k_tx_base, split, false});
            bufs.push_back({k_tx_base + split, 44 - split + payload, (shape & 64) != 0});
        } else {
            bufs.push_back({k_tx_base, 44 + payload, (shape & 64) != 0});
        }
        tx.publish(tx.add_chain(bufs));
        dev->process_queue(k_tx_queue);
    }

    void host_program(fuzz::Input& in, std::uint8_t op)
    {
        if (op == 0) {  // connects through the listener and writes a line the input chooses
            socklen_t len;
            sockaddr_un sa = listener_address(len);
            base::UniqueFd c(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
            if (host.size() > 300 || ::connect(c.get(), reinterpret_cast<sockaddr*>(&sa), len) != 0) return;
            const auto line = in.take<std::array<char, 12>>();
            std::string text = "CONNECT " + std::to_string(line[0] & 0x3f) + "\n";
            if (line[1] & 1) text.assign(line.data(), line.size());
            [[maybe_unused]] auto w = ::send(c.get(), text.data(), text.size(), MSG_NOSIGNAL);
            host.push_back(std::move(c));
            dev->host_ready(VsockDevice::k_listener_token);
            return;
        }
        if (host.empty()) return;
        const std::size_t which = in.take<std::uint8_t>() % host.size();
        const int fd = host[which].get();
        if (op == 1) {  // writes bytes
            static const std::string bytes(8192, 'h');
            [[maybe_unused]] auto w = ::send(fd, bytes.data(), 1 + in.take<std::uint16_t>() % bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        } else if (op == 2) {
            ::shutdown(fd, SHUT_WR);
        } else if (op == 3) {
            host[which].reset();
        } else {  // reads what the guest sent
            char buf[4096];
            while (::read(fd, buf, sizeof buf) > 0) {
            }
        }
        for (const auto& [dfd, token] : watcher.tokens) dev->host_ready(token);
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    static base::UniqueFd listener = make_listener();
    // The device owns the listener it is given: each run gets a duplicate.
    Run run(base::UniqueFd(::dup(listener.get())));
    fuzz::Input in(data, size);
    run.offer_rx(44 + 4096);
    for (int steps = 0; !in.empty() && steps < 64; ++steps) {
        const auto op = in.take<std::uint8_t>();
        switch (op % 6) {
        case 0:
        case 1: run.transmit(in); break;
        case 2: run.offer_rx(op < 128 ? 44 + 4096 : in.take<std::uint8_t>()); run.dev->process_queue(k_rx_queue); break;
        case 3: run.host_program(in, static_cast<std::uint8_t>((op >> 3) % 5)); break;
        case 4: run.dev->process_queue(k_event_queue); break;
        case 5:
            if (op & 0x80) {
                run.dev->reset();
                return 0;
            }
            break;
        }
        run.check();
    }
    // Host programs still waiting in the listener's backlog are accepted by the next run's device
    // and closed with it; the backlog never fills.
    return 0;
}
