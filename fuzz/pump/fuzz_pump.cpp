// Fuzzes the pump over what its two sides may send it: link records (well-formed, for another
// port, or any bytes, with or without a descriptor), the low side's bytes, the high side's answer
// byte (any byte) and bytes, and either side closing. Checks the pump's one promise on every
// run: a low-side stream receives at most one byte from the pump, the acceptance, and nothing
// the high side wrote. Also the record codec: what decodes encodes to the same bytes.
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <vector>

#include "fuzz_common.hpp"
#include "protocol/fdpass.hpp"
#include "protocol/vsock_link.hpp"
#include "pump/pump.hpp"

using namespace moat;

namespace {

std::pair<base::UniqueFd, base::UniqueFd> pair(int type)
{
    int sv[2];
    if (::socketpair(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) != 0) __builtin_trap();
    return {base::UniqueFd(sv[0]), base::UniqueFd(sv[1])};
}

struct Low {
    base::UniqueFd fd;
    std::size_t got = 0;  // bytes the pump wrote to this stream
};

void drain_low(Low& l)
{
    char buf[256];
    for (;;) {
        const ssize_t n = ::recv(l.fd.get(), buf, sizeof buf, MSG_DONTWAIT);
        if (n <= 0) return;
        if (l.got == 0 && buf[0] != static_cast<char>(protocol::k_link_accepted)) __builtin_trap();
        l.got += static_cast<std::size_t>(n);
        if (l.got > 1) __builtin_trap();  // the high side's bytes reached the low side
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    // The record codec.
    const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), std::min<std::size_t>(size, 16));
    if (auto o = protocol::decode_link_open(bytes)) {
        const auto again = protocol::encode_link_open(*o);
        if (bytes.size() != again.size() || std::memcmp(bytes.data(), again.data(), again.size()) != 0) __builtin_trap();
    }

    auto [low_vm, low_pump] = pair(SOCK_SEQPACKET);
    auto [high_vm, high_pump] = pair(SOCK_SEQPACKET);
    auto p = pump::Pump::create(std::move(low_pump), std::move(high_pump), 5000, 0, 1);
    if (!p) __builtin_trap();
    std::vector<Low> lows;
    std::vector<base::UniqueFd> highs;
    fuzz::Input in(data, size);
    for (int steps = 0; !in.empty() && steps < 48; ++steps) {
        const auto op = in.take<std::uint8_t>();
        const auto arg = in.take<std::uint8_t>();
        switch (op % 7) {
        case 0: {  // the low side connects (to the channel's port, mostly)
            auto [mine, theirs] = pair(SOCK_STREAM);
            const std::uint32_t port = arg & 1 ? 5000 : arg;
            if (protocol::send_link_open(low_vm.get(), {arg, port}, theirs.get())) lows.push_back({std::move(mine), 0});
            break;
        }
        case 1: {  // any bytes on the low link, with a descriptor or without
            std::array<std::byte, 16> raw{};
            for (auto& b : raw) b = static_cast<std::byte>(in.take<std::uint8_t>());
            auto [a, b] = pair(SOCK_STREAM);
            const int fds[] = {b.get()};
            (void)protocol::send_message(low_vm.get(), std::span(raw).first(arg % 17 ? arg % 17 : 1),
                                         arg & 0x80 ? std::span<const int>(fds) : std::span<const int>());
            break;
        }
        case 2:  // the low side writes
            if (!lows.empty()) {
                static const char text[512] = {};
                (void)::send(lows[arg % lows.size()].fd.get(), text, 1 + arg, MSG_NOSIGNAL | MSG_DONTWAIT);
            }
            break;
        case 3:  // the low side closes or half-closes
            if (!lows.empty()) {
                Low& l = lows[arg % lows.size()];
                if (arg & 1) ::shutdown(l.fd.get(), SHUT_WR);
            }
            break;
        case 4: {  // the high side takes a connection off its link
            auto r = protocol::receive_link_open(high_vm.get());
            if (r && *r) highs.push_back(std::move((*r)->stream));
            break;
        }
        case 5:  // the high side answers any byte, or writes, or closes
            if (!highs.empty()) {
                base::UniqueFd& h = highs[arg % highs.size()];
                const char b = static_cast<char>(in.take<std::uint8_t>());
                if (arg & 0x40) h.reset();
                else if (h.valid()) (void)::send(h.get(), &b, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
            }
            break;
        case 6:  // the high side reads
            for (auto& h : highs) {
                char buf[4096];
                while (h.valid() && ::recv(h.get(), buf, sizeof buf, MSG_DONTWAIT) > 0) {
                }
            }
            break;
        }
        (*p)->step(std::chrono::milliseconds(0));
        for (auto& l : lows) drain_low(l);
    }
    return 0;
}
