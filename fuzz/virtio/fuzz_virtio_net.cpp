// Fuzzes the virtio-net device over sequences of events: frames the guest transmits (any 12-byte
// header, the device's or another source MAC, lengths around 64 KiB, split over descriptors or an
// indirect table), receive buffers of any shape, raw descriptors, indirect table entries and ring
// words, frames the host's kernel hands the tap (any header, up to ~70000 bytes), host_ready,
// process_queue and poll_queue in any order, and reset with re-activation under other features
// and queue sizes. The tap is a SOCK_SEQPACKET socketpair, as in net_device_test.cpp.
// Checks the contract after every step: every frame on the host's end of the tap is 12 + 14 to
// 12 + k_max_frame bytes from the device's MAC, with a header check_tx() accepts, only NEEDS_CSUM
// and num_buffers 0; no used length beyond the chain's length (transmit: 0); counters only grow,
// tx_frames is what the tap got; an inactive or broken device touches nothing; a driver that asks
// for interrupts gets one; the tap is not drained beyond one frame the guest has no room for, and
// the heap does not grow with the input. While the transmit ring holds only what transmit() put
// there, the tap gets exactly the frames a model of the device's checks passes, byte for byte, in
// order (but those the full tap refused). While the guest offers only well-formed receive buffers,
// each received frame is parsed back and must be a frame the host sent, its header rewritten
// (flags, num_buffers = the buffers it really took, each but the last filled).
#include <linux/sockios.h>
#include <sanitizer/allocator_interface.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "fuzz_common.hpp"
#include "virtio/net/net_device.hpp"
#include "virtio/testing/fake_guest.hpp"
#include "virtio/testing/recording_watcher.hpp"

using namespace moat;
using namespace moat::virtio;
using namespace moat::virtio::net;
using memory::GuestAddress;
using testing::FakeGuest;

namespace {

constexpr Mac k_mac{0x02, 0x6d, 0, 0, 0, 1};
constexpr std::uint64_t k_hdr = sizeof(NetHdr);
constexpr std::uint64_t k_max_msg = k_hdr + k_max_frame;  // the most the device reads or writes at once
constexpr std::uint32_t k_max_host_frame = 70000;

// Guest memory: region A [0, 2 MiB), a hole, region B [3 MiB, 3 MiB + 64 KiB).
constexpr std::uint64_t k_a_end = 0x200000;
constexpr std::uint64_t k_b_start = 0x300000;
constexpr std::uint64_t k_b_size = 0x10000;
// Region A: the receive rings at FakeGuest's layout (0x1000 up), the transmit rings 0x3000 above,
// indirect tables in [k_tables, k_fence), then data. No descriptor the harness writes lets the
// device write below k_fence (see place()), so what the checks read there is the harness's own.
constexpr std::uint64_t k_rings = 0x1000;
constexpr std::uint64_t k_tx_ring_base = 0x3000;
constexpr std::uint64_t k_tables = 0x7000;
constexpr std::uint64_t k_rx_tables = 0x7000;   // one 4-entry table per receive slot
constexpr std::uint64_t k_tx_tables = 0xb800;   // 8 tables of 8 entries, in turn
constexpr std::uint64_t k_raw_tables = 0xc000;  // 1024 entries the input writes
constexpr std::uint64_t k_fence = 0x10000;
constexpr std::uint64_t k_tx_frame = 0x10000;   // the frame a structured transmit sends
constexpr std::uint64_t k_spare = 0x22000;
// Receive slots: 256 of 4 KiB, then 9 of 72 KiB (room for k_max_msg).
constexpr std::uint64_t k_small_slots = 0x40000;
constexpr std::uint32_t k_n_small = 256;
constexpr std::uint64_t k_small_size = 0x1000;
constexpr std::uint64_t k_big_slots = 0x140000;
constexpr std::uint32_t k_n_big = 9;
constexpr std::uint64_t k_big_size = 0x12000;
static_assert(k_rx_tables + 0x40 * (k_n_small + k_n_big) <= k_tx_tables && k_tx_tables + 8 * 0x80 <= k_raw_tables);
static_assert(k_big_slots + k_n_big * k_big_size <= k_a_end && k_tx_frame + k_max_msg + 64 <= k_spare);

constexpr std::uint64_t k_heap_growth = 4 << 20;  // what one run may allocate beyond its setup
constexpr int k_max_steps = 128;

void check(bool ok, const char* what)
{
    if (!ok) {
        std::fprintf(stderr, "fuzz_virtio_net: contract broken: %s\n", what);
        std::abort();
    }
}

class Notifier final : public DriverNotifier {
public:
    void notify_used() override { ++used; }
    void notify_config_change() override {}
    void device_needs_reset() override { ++needs_reset; }
    void guest_fault() override {}
    bool poll_later(std::uint32_t q, std::chrono::microseconds) override
    {
        check(q == k_rx_queue || q == k_tx_queue, "poll_later for a queue the device does not have");
        polls.at(q) = true;
        return timer;
    }
    std::uint64_t used = 0;
    std::uint64_t needs_reset = 0;
    bool timer = false;
    std::array<bool, 2> polls{};
};

// A frame the host wrote on its end of the tap: the header as written, then `len` bytes that
// frame_byte() gives.
struct HostFrame {
    std::array<std::uint8_t, k_hdr> hdr;
    std::uint32_t len;
    std::uint8_t seed;
};

std::uint8_t frame_byte(std::uint8_t seed, std::uint32_t i)
{
    if (i < 6) return seed;                                          // destination
    if (i < 12) return i == 11 ? seed : static_cast<std::uint8_t>(k_mac[i - 6] ^ (i == 6 ? 0x10 : 0));  // a peer
    if (i == 12) return 0x08;
    return static_cast<std::uint8_t>(seed + i * 13 + (i >> 9));
}

struct Setup {
    std::uint64_t features;
    std::uint16_t rx_size;
    std::uint16_t tx_size;
    bool no_rx;
    bool no_tx;
};

// Feature bits the input picks from (those the device does not offer are masked out).
constexpr std::array<unsigned, 15> k_feature_choice{
    VIRTIO_RING_F_EVENT_IDX, VIRTIO_RING_F_INDIRECT_DESC, VIRTIO_NET_F_MAC,        VIRTIO_NET_F_MRG_RXBUF,
    VIRTIO_NET_F_CSUM,       VIRTIO_NET_F_HOST_TSO4,      VIRTIO_NET_F_HOST_TSO6,  VIRTIO_NET_F_GUEST_CSUM,
    VIRTIO_NET_F_GUEST_TSO4, VIRTIO_NET_F_GUEST_TSO6,     VIRTIO_NET_F_HOST_ECN,   VIRTIO_NET_F_HOST_UFO,
    VIRTIO_NET_F_GUEST_ECN,  VIRTIO_NET_F_GUEST_UFO,      VIRTIO_NET_F_STATUS};

Setup read_setup(fuzz::Input& in, std::uint64_t offered)
{
    const auto mask = in.take<std::uint16_t>();
    const auto sizes = in.take<std::uint8_t>();
    std::uint64_t f = feature_bit(VIRTIO_F_VERSION_1);
    for (std::size_t i = 0; i < k_feature_choice.size(); ++i)
        if (mask & (1u << i)) f |= feature_bit(k_feature_choice[i]);
    return Setup{f & offered, static_cast<std::uint16_t>(1u << ((sizes & 0xf) % 9)),
                 static_cast<std::uint16_t>(1u << ((sizes >> 4) % 9)), (mask & 0x8000) != 0 && (sizes & 0x10) != 0,
                 (mask & 0x8000) != 0 && (sizes & 0x01) != 0};
}

// A receive buffer the harness offered while the ring was well-formed.
struct RxBuf {
    std::vector<std::pair<std::uint64_t, std::uint32_t>> pieces;  // in chain order
    std::vector<std::uint16_t> descs;
    std::uint32_t slot;
    std::uint64_t total;
    bool usable;  // the device takes it: at least a header, and indirect only when negotiated
};

class Run final {
public:
    explicit Run(fuzz::Input& in)
    {
        const auto flags = in.take<std::uint8_t>();
        std::array specs{memory::GuestMemory::RegionSpec{GuestAddress(0), k_a_end},
                         memory::GuestMemory::RegionSpec{GuestAddress(k_b_start), k_b_size}};
        auto m = memory::GuestMemory::create(specs);
        check(m.has_value(), "guest memory");
        m_mem.emplace(std::move(m).value());
        int fds[2];
        check(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) == 0, "socketpair");
        m_host = base::UniqueFd(fds[1]);
        m_tap = fds[0];
        NetDevice::OffloadSetter setter;
        if (flags & 1) {
            m_has_setter = true;
            setter = [this](std::uint64_t f) -> Result<void> {
                m_offloads = f;
                if (m_setter_fails && f != 0) return fail(Errc::Io, "the tap refuses the offloads");
                return {};
            };
        }
        m_setter_fails = (flags & 2) != 0;
        m_notifier.timer = (flags & 4) != 0;
        auto d = NetDevice::create(base::UniqueFd(fds[0]), k_mac, m_watcher, std::move(setter));
        check(d.has_value(), "NetDevice::create");
        m_dev = std::move(d).value();
        check(m_watcher.tokens.size() == 1 && m_watcher.tokens.begin()->first == m_tap, "the device watches its tap");

        NetConfig c;
        m_dev->read_config(0, std::as_writable_bytes(std::span(&c, 1)));
        check(std::memcmp(c.mac, k_mac.data(), 6) == 0, "config space MAC");

        m_io.resize(k_hdr + k_max_host_frame + 64);
        m_got.reserve(k_max_msg + 64);
        m_zero.resize(k_fence - k_rings);
        m_table_copy.resize(256 * sizeof(VirtqDesc));
        m_tx_table_copy.resize(256 * sizeof(VirtqDesc));
        m_model.resize(k_max_msg + 64);
        m_area_copy.resize(k_fence - k_tables);
        m_rx_free.reserve(256);
        m_expect.reserve(256);
        activate(read_setup(in, m_dev->features()));
        m_heap_base = __sanitizer_get_current_allocated_bytes();
    }

    // One step of the input, then the checks. A step is an op byte, whose low nibble says what
    // and whose high nibble `v` how, and the op's bytes.
    void step(fuzz::Input& in)
    {
        const auto op = in.take<std::uint8_t>();
        const auto v = static_cast<unsigned>(op >> 4);
        begin_step();
        switch (op & 0xf) {
        case 0:
        case 1:
        case 12: transmit(in, v); break;
        case 2: raw_chain(in, v, k_tx_queue); break;
        case 3:
        case 4:
        case 13: offer_rx(in, v); break;
        case 5: raw_chain(in, v, k_rx_queue); break;
        case 6:
        case 7:
        case 14: host_frame(in); break;
        case 8:
        case 15: kick(in, v); break;
        case 9: ring_word(in, v); break;
        case 10: raw_indirect(in); break;
        default: control(in, v); break;
        }
        end_step();
    }

private:
    enum class State : std::uint8_t { Active, Inactive, Broken };

    // --- driving the device --------------------------------------------------------------------

    void process(std::uint32_t q)
    {
        refresh_bounds();
        m_dev->process_queue(q);
    }
    void poll(std::uint32_t q)
    {
        refresh_bounds();
        m_dev->poll_queue(q);
    }
    void ready(std::uint32_t token)
    {
        refresh_bounds();
        m_dev->host_ready(token);
    }

    void activate(const Setup& s)
    {
        // A driver initialises its rings before DRIVER_OK; the tables go with them.
        check(m_mem->write(GuestAddress(k_rings), m_zero).has_value(), "zeroing the rings");
        m_rx.reset();
        m_tx.reset();
        m_rx.emplace(*m_mem, 0, s.rx_size);
        m_tx.emplace(*m_mem, k_tx_ring_base, s.tx_size);
        std::vector<std::optional<Queue>> qs(2);
        if (!s.no_rx) qs[k_rx_queue].emplace(Queue::create(*m_mem, m_rx->config(), 256, s.features).value());
        if (!s.no_tx) qs[k_tx_queue].emplace(Queue::create(*m_mem, m_tx->config(), 256, s.features).value());
        check((s.features & ~m_dev->features()) == 0, "the harness negotiates only what is offered");
        const bool ok = m_dev->activate(ActivateContext{*m_mem, s.features, std::move(qs), m_notifier}).has_value();
        check(ok == (!s.no_rx && !s.no_tx && !(m_has_setter && m_setter_fails)),
              "activate() succeeds exactly when it should");
        if (ok && m_has_setter) check(m_offloads == s.features, "the tap is told the negotiated features");
        m_state = ok ? State::Active : State::Inactive;
        m_step_activated = true;
        m_features = s.features;
        m_needs_reset_base = m_notifier.needs_reset;
        m_rx_seen = m_tx_seen = 0;
        m_rx_clean = true;
        m_tx_clean = true;
        m_rx_out.clear();
        m_rx_free.clear();
        for (std::uint32_t i = s.rx_size; i-- > 0;) m_rx_free.push_back(static_cast<std::uint16_t>(i));
        m_small_busy.fill(false);
        m_big_busy.fill(false);
        m_pending_n = m_pending_left = 0;
        m_got.clear();
        m_rx_parsed = 0;
        m_rx_frames_base = m_dev->counters().rx_frames;
        m_max_len.fill(0);
        m_dirty = true;
        m_avail_flags = {0, 0};
    }

    // --- transmit ------------------------------------------------------------------------------

    // A frame in the transmit area: header from the input, then shaped; sent 1 + (v & 7) * 9
    // times, then notified unless v & 8.
    void transmit(fuzz::Input& in, unsigned v)
    {
        const auto hb = in.take<std::array<std::uint8_t, k_hdr>>();
        const auto shape = in.take<std::uint8_t>();
        const auto len_raw = in.take<std::uint16_t>();
        const auto split = in.take<std::uint8_t>();
        NetHdr raw;
        std::memcpy(&raw, hb.data(), k_hdr);
        Header h = decode(raw);
        std::uint32_t len = len_raw;  // after the header
        switch (shape >> 6) {
        case 0: len = len_raw % 1600; break;
        case 1: break;
        case 2: len = 65535 + len_raw % 40; break;  // around k_max_frame
        default: len = len_raw % 40; break;         // around an Ethernet header
        }
        if (shape & 2) h = Header{};
        if (shape & 4) {  // offloads that mostly hold together
            h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
            h.csum_start = static_cast<std::uint16_t>(14 + hb[6] % 40);
            h.csum_offset = static_cast<std::uint16_t>(hb[8] % 20);
            h.gso_type &= 0x85;
            h.gso_size = static_cast<std::uint16_t>(hb[4] ? 1448 : 0);
            h.hdr_len = static_cast<std::uint16_t>(54 + hb[2] % 16);
        }
        raw = encode(h);
        std::memcpy(m_io.data(), &raw, k_hdr);
        for (std::uint32_t i = 0; i < len; ++i) m_io[k_hdr + i] = frame_byte(hb[11], i);
        if (len >= 12 && (shape & 1)) std::copy(k_mac.begin(), k_mac.end(), m_io.begin() + k_hdr + k_eth_source);
        const std::uint64_t total = k_hdr + len;
        check(m_mem->write(GuestAddress(k_tx_frame), std::as_bytes(std::span(m_io).first(total))).has_value(),
              "tx frame");

        // Pieces: with split & 0x20 a first one of split % 32 bytes (inside the headers), then the
        // rest in 1 + (split >> 6) parts.
        std::vector<FakeGuest::Buf> bufs;
        const unsigned parts = 1 + (split >> 6);
        std::uint64_t at = 0;
        if (split & 0x20) {
            const std::uint64_t first = std::min<std::uint64_t>(split % 32, total);
            bufs.push_back({k_tx_frame, static_cast<std::uint32_t>(first), false});
            at = first;
        }
        for (unsigned i = 0; i < parts; ++i) {
            const std::uint64_t n = i + 1 == parts ? total - at : (total - at) / (parts - i);
            bufs.push_back({k_tx_frame + at, static_cast<std::uint32_t>(n), false});
            at += n;
        }
        if (shape & 8) bufs[bufs.size() / 2].addr = k_a_end - 8;  // a piece that leaves guest memory
        if (shape & 16) bufs.back().device_writable = true;       // the wrong direction
        const unsigned count = 1 + (v & 7) * 9;
        const bool indirect = (shape & 32) != 0;
        for (unsigned c = 0; c < count; ++c) {
            std::uint16_t head;
            if (indirect) {
                const std::uint64_t table = k_tx_tables + 0x80 * (m_tx_table++ % 8);
                for (std::size_t i = 0; i < bufs.size(); ++i) {
                    const bool last = i + 1 == bufs.size();
                    m_tx->set_desc_in(GuestAddress(table), static_cast<std::uint32_t>(i), bufs[i].addr, bufs[i].len,
                                      static_cast<std::uint16_t>((bufs[i].device_writable ? VIRTQ_DESC_F_WRITE : 0) |
                                                                 (last ? 0 : VIRTQ_DESC_F_NEXT)),
                                      static_cast<std::uint16_t>(last ? 0 : i + 1));
                }
                const FakeGuest::Buf t{table, static_cast<std::uint32_t>(bufs.size() * sizeof(VirtqDesc)), false};
                head = m_tx->add_chain(std::span(&t, 1));
                m_tx->set_desc(head, t.addr, t.len, VIRTQ_DESC_F_INDIRECT);
                m_dirty = true;
            } else {
                if (bufs.size() > m_tx->queue_size()) return;
                head = m_tx->add_chain(bufs);
            }
            m_tx->publish(head);
        }
        if (!(v & 8)) process(k_tx_queue);
    }

    // --- raw descriptors -----------------------------------------------------------------------

    // A descriptor from the input: anywhere in or out of guest memory, any length and flags.
    VirtqDesc raw_desc(fuzz::Input& in, std::uint16_t size)
    {
        const auto sel = in.take<std::uint8_t>();
        const auto off = in.take<std::uint16_t>();
        const auto len_raw = in.take<std::uint32_t>();
        const auto fl = in.take<std::uint8_t>();
        const auto next = in.take<std::uint8_t>();
        std::uint64_t addr = 0;
        switch (sel & 7) {
        case 0: addr = k_tx_frame + off; break;
        case 1: addr = k_spare + off; break;
        case 2: addr = k_small_slots + std::uint64_t{off} * 16; break;
        case 3: addr = k_a_end - off; break;  // across the end of region A
        case 4: addr = k_a_end + off; break;  // the hole
        case 5: addr = k_b_start + off; break;
        case 6: addr = k_b_start + k_b_size - off; break;
        default: addr = in.take<std::uint64_t>(); break;
        }
        std::uint32_t len = len_raw;
        switch ((sel >> 3) & 3) {
        case 0: len = len_raw & 0xff; break;
        case 1: len = len_raw & 0xffff; break;
        case 2: len = 0x10000 + (len_raw & 0xffff); break;
        default: break;
        }
        auto flags = static_cast<std::uint16_t>(fl & 7);
        if (fl & 8) flags = static_cast<std::uint16_t>(flags | 0x8000);  // a flag bit the spec does not define
        if (sel & 0x80) flags = static_cast<std::uint16_t>(flags | VIRTQ_DESC_F_INDIRECT);
        if ((flags & VIRTQ_DESC_F_INDIRECT) && (sel & 0x40)) {  // a table the input wrote
            addr = k_raw_tables + std::uint64_t{off} % 1024 * sizeof(VirtqDesc);
            len = static_cast<std::uint32_t>(sizeof(VirtqDesc) * (1 + len_raw % 16));
        }
        place(addr, len, flags);
        const std::uint16_t nx = (fl & 0x10) ? next : static_cast<std::uint16_t>(next % size);
        return VirtqDesc{Le64::from(addr), Le32::from(len), Le16::from(flags), Le16::from(nx)};
    }

    // Keeps every descriptor the device may write through above k_fence, and every indirect table
    // inside guest memory within [k_tables, k_fence).
    void place(std::uint64_t& addr, std::uint32_t& len, std::uint16_t flags) const
    {
        if (flags & VIRTQ_DESC_F_INDIRECT) {
            if (!m_mem->contains(GuestAddress(addr), len) || (addr >= k_tables && addr + len <= k_fence)) return;
            addr = k_raw_tables + (addr & 0x3ff0);
            len = static_cast<std::uint32_t>(std::min<std::uint64_t>(len, k_fence - addr));
            return;
        }
        const std::uint64_t end = addr > UINT64_MAX - len ? UINT64_MAX : addr + len;
        if (addr < k_fence && end > k_rings) addr = k_fence + (addr & 0xffff);
    }

    // 1 to 6 descriptors the input shapes, at indices it picks; published if v & 1, notified if
    // v & 2.
    void raw_chain(fuzz::Input& in, unsigned v, std::uint32_t q)
    {
        FakeGuest& g = q == k_rx_queue ? *m_rx : *m_tx;
        const unsigned n = 1 + in.take<std::uint8_t>() % 6;
        std::uint16_t head = 0;
        for (unsigned i = 0; i < n; ++i) {
            const auto idx = static_cast<std::uint16_t>(in.take<std::uint8_t>() % g.queue_size());
            const VirtqDesc d = raw_desc(in, g.queue_size());
            g.set_desc(idx, d.addr.get(), d.len.get(), d.flags.get(), d.next.get());
            if (i == 0) head = idx;
        }
        if (q == k_rx_queue) unclean_rx();
        else m_tx_clean = false;
        if (v & 1) g.publish(head);
        if (v & 2) process(q);
    }

    void raw_indirect(fuzz::Input& in)
    {
        const auto idx = static_cast<std::uint32_t>(in.take<std::uint16_t>() % 1024);
        const VirtqDesc d = raw_desc(in, 256);
        m_rx->set_desc_in(GuestAddress(k_raw_tables), idx, d.addr.get(), d.len.get(), d.flags.get(), d.next.get());
        m_dirty = true;
    }

    // Ring words written as a careless or hostile driver would: queue v & 1, the word v >> 1.
    void ring_word(fuzz::Input& in, unsigned which)
    {
        const std::uint32_t q = which & 1;
        FakeGuest& g = q == k_rx_queue ? *m_rx : *m_tx;
        const auto v = in.take<std::uint16_t>();
        const auto notify = in.take<std::uint8_t>();
        switch (which >> 1) {
        case 0: g.set_avail_idx(static_cast<std::uint16_t>(g.avail_idx() + static_cast<std::int8_t>(v & 0xff))); break;
        case 1: g.set_avail_idx(v); break;
        case 2: {  // one ring entry, perhaps a head out of range
            const std::uint64_t slot = (v & 0xff) % g.queue_size();
            const auto head = static_cast<std::uint16_t>((v >> 8) % (g.queue_size() + 2u));
            g.write(GuestAddress(FakeGuest::k_avail.raw() + (q == k_tx_queue ? k_tx_ring_base : 0) + 4 + 2 * slot),
                    std::as_bytes(std::span(&head, 1)));
            break;
        }
        case 3: g.publish(static_cast<std::uint16_t>(v % g.queue_size())); break;
        case 4:
            m_avail_flags.at(q) = static_cast<std::uint16_t>(v & 0x8001);
            g.set_avail_flags(m_avail_flags.at(q));
            return;
        case 5: g.set_used_event(v); return;
        default: {  // the config space: a driver cannot change the MAC
            std::array<std::byte, 8> junk{};
            std::memcpy(junk.data(), &v, 2);
            std::memcpy(junk.data() + 2, &v, 2);
            m_dev->write_config(v & 7, std::span(junk).first(1 + (v >> 13)));
            NetConfig c;
            m_dev->read_config(0, std::as_writable_bytes(std::span(&c, 1)));
            check(std::memcmp(c.mac, k_mac.data(), 6) == 0, "the driver changed the MAC");
            return;
        }
        }
        if (q == k_rx_queue) unclean_rx();
        else m_tx_clean = false;
        if (notify & 1) process(q);
    }

    // --- receive -------------------------------------------------------------------------------

    // `count` receive buffers of one shape, published, then usually a notify.
    void offer_rx(fuzz::Input& in, unsigned v)
    {
        const auto len_raw = in.take<std::uint16_t>();
        const auto shape = in.take<std::uint8_t>();
        const auto split = in.take<std::uint8_t>();
        std::uint64_t total = len_raw;
        switch ((shape >> 4) & 3) {
        case 0: total = 1 + len_raw % 2048; break;
        case 1: total = len_raw % 4096; break;  // 0 to 11: too short for a header
        case 2: break;
        default: total = k_max_msg - 2048 + len_raw % 4096; break;  // around the largest frame
        }
        const unsigned pieces = 1 + (shape & 3);
        const bool indirect = (shape & 4) != 0;
        static constexpr std::array<unsigned, 4> k_counts{1, 3, 16, 64};
        const unsigned count = k_counts.at(shape >> 6);
        for (unsigned i = 0; i < count; ++i)
            if (!add_rx(total, pieces, indirect, split)) break;
        if (!(shape & 8)) process((v & 1) ? k_rx_queue + 2 : k_rx_queue);  // sometimes a queue it lacks
    }

    bool add_rx(std::uint64_t total, unsigned pieces, bool indirect, std::uint8_t split)
    {
        FakeGuest& g = *m_rx;
        const bool big = total > k_small_size;
        std::uint32_t slot;
        if (m_rx_clean) {
            const std::span<bool> busy = big ? std::span<bool>(m_big_busy) : std::span<bool>(m_small_busy);
            const auto it = std::find(busy.begin(), busy.end(), false);
            if (it == busy.end()) return false;
            slot = static_cast<std::uint32_t>(it - busy.begin());
            *it = true;
        } else {
            slot = m_rx_slot++ % (big ? k_n_big : k_n_small);
        }
        const std::uint64_t base = big ? k_big_slots + slot * k_big_size : k_small_slots + slot * k_small_size;
        if (big) slot += k_n_small;

        const bool takes_indirect = (m_features & feature_bit(VIRTIO_RING_F_INDIRECT_DESC)) != 0;
        RxBuf b{{}, {}, slot, total, total >= k_hdr && (!indirect || takes_indirect)};
        // Pieces in chain order, laid out in memory in reverse, so that a piece written at
        // another's place shows.
        std::uint64_t left = total;
        std::vector<std::uint32_t> lens;
        for (unsigned i = 0; i < pieces; ++i) {
            std::uint64_t n = left / (pieces - i);
            if (i + 1 == pieces) n = left;
            else if (i == 0 && (split & 0x80)) n = std::min<std::uint64_t>(split & 0x1f, left);  // a short first
            lens.push_back(static_cast<std::uint32_t>(n));
            left -= n;
        }
        std::uint64_t at = base + total;
        for (std::uint32_t n : lens) {
            at -= n;
            b.pieces.emplace_back(at, n);
        }

        const unsigned ndesc = indirect ? 1 : pieces;
        if (m_rx_clean && m_rx_free.size() < ndesc) {
            (big ? m_big_busy.at(slot - k_n_small) : m_small_busy.at(slot)) = false;
            return false;
        }
        for (unsigned i = 0; i < ndesc; ++i) {
            if (m_rx_clean) {
                b.descs.push_back(m_rx_free.back());
                m_rx_free.pop_back();
            } else {
                b.descs.push_back(static_cast<std::uint16_t>(m_rx_desc++ % g.queue_size()));
            }
        }
        if (indirect) {
            const std::uint64_t table = k_rx_tables + 0x40 * std::uint64_t{slot};
            for (std::uint32_t i = 0; i < pieces; ++i) {
                const bool last = i + 1 == pieces;
                g.set_desc_in(GuestAddress(table), i, b.pieces[i].first, b.pieces[i].second,
                              static_cast<std::uint16_t>(VIRTQ_DESC_F_WRITE | (last ? 0 : VIRTQ_DESC_F_NEXT)),
                              static_cast<std::uint16_t>(last ? 0 : i + 1));
            }
            const auto table_len = static_cast<std::uint32_t>(pieces * sizeof(VirtqDesc));
            g.set_desc(b.descs[0], table, table_len, VIRTQ_DESC_F_INDIRECT);
        } else {
            for (unsigned i = 0; i < pieces; ++i) {
                const bool last = i + 1 == pieces;
                g.set_desc(b.descs[i], b.pieces[i].first, b.pieces[i].second,
                           static_cast<std::uint16_t>(VIRTQ_DESC_F_WRITE | (last ? 0 : VIRTQ_DESC_F_NEXT)),
                           last ? 0 : b.descs[i + 1]);
            }
        }
        const std::uint16_t head = b.descs[0];
        if (m_rx_clean) m_rx_out.emplace(head, std::move(b));
        g.publish(head);
        m_dirty = true;
        return true;
    }

    // The ring no longer holds only what add_rx() put there: stop parsing what comes back.
    void unclean_rx()
    {
        m_rx_clean = false;
        m_rx_out.clear();
        m_dirty = true;
    }

    // The host's kernel hands the tap `count` copies of a frame.
    void host_frame(fuzz::Input& in)
    {
        HostFrame f{in.take<std::array<std::uint8_t, k_hdr>>(), 0, 0};
        const auto shape = in.take<std::uint8_t>();
        const auto len_raw = in.take<std::uint16_t>();
        f.seed = in.take<std::uint8_t>();
        switch ((shape >> 2) & 3) {
        case 0: f.len = 14 + len_raw % 1600u; break;
        case 1: f.len = len_raw % 26u; break;  // runts and the smallest frames
        case 2: f.len = len_raw; break;
        default: f.len = k_max_frame - 32 + len_raw % 4500u; break;  // past what the device reads
        }
        if (shape & 1) f.hdr.fill(0);
        std::copy(f.hdr.begin(), f.hdr.end(), m_io.begin());
        for (std::uint32_t i = 0; i < f.len; ++i) m_io[k_hdr + i] = frame_byte(f.seed, i);
        static constexpr std::array<unsigned, 4> k_counts{1, 2, 8, 40};
        const unsigned count = k_counts.at(shape >> 6);
        for (unsigned i = 0; i < count; ++i) {
            const ssize_t n = ::send(m_host.get(), m_io.data(), k_hdr + f.len, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n < 0) break;  // the tap's queue is full: the host's kernel drops the frame
            check(static_cast<std::uint64_t>(n) == k_hdr + f.len, "a short write on SOCK_SEQPACKET");
            m_fifo.push_back(f);
            m_unread.push_back(static_cast<std::uint64_t>(n));
            m_host_bytes += static_cast<std::uint64_t>(n);
        }
        if (!(shape & 0x10)) ready((shape & 0x20) ? NetDevice::k_tap_token : f.seed);
    }

    // --- events --------------------------------------------------------------------------------

    void kick(fuzz::Input& in, unsigned v)
    {
        switch (v & 7) {
        case 0: ready(NetDevice::k_tap_token); break;
        case 1: ready(in.take<std::uint32_t>()); break;
        case 2: process(k_rx_queue); break;
        case 3: process(k_tx_queue); break;
        case 4: process(in.take<std::uint8_t>()); break;
        case 5: poll(k_rx_queue); break;
        case 6: poll(k_tx_queue); break;
        default:  // the polls the device asked for, as the event loop's timer would
            for (std::uint32_t q = 0; q < 2; ++q)
                if (std::exchange(m_notifier.polls.at(q), false)) poll(q);
            break;
        }
    }

    void control(fuzz::Input& in, unsigned v)
    {
        switch (v & 3) {
        case 0:
        case 1: {  // reset, then perhaps DRIVER_OK again with other features and queue sizes
            m_dev->reset();
            if (m_state != State::Inactive) {  // it was activated: the tap hears of the reset
                if (m_has_setter) check(m_offloads == 0, "reset takes the offloads back");
                ++m_resets;
            }
            m_state = State::Inactive;
            if (v & 4) activate(read_setup(in, m_dev->features()));
            break;
        }
        case 2: m_notifier.timer = !m_notifier.timer; break;
        default: m_setter_fails = !m_setter_fails; break;
        }
    }

    // --- checks --------------------------------------------------------------------------------

    // Raises m_max_len[head] to the length of the chain at `head` as the rings are now, for
    // every head: a used length is checked against the largest its chain had while published.
    void refresh_bounds()
    {
        if (!m_dirty) return;
        m_dirty = false;
        const std::uint16_t size = m_rx->queue_size();
        const std::span<std::byte> table = std::span(m_table_copy).first(size * sizeof(VirtqDesc));
        check(m_mem->read(FakeGuest::k_desc, table).has_value(), "desc");
        check(m_mem->read(GuestAddress(k_tables), m_area_copy).has_value(), "tables");
        for (std::uint16_t h = 0; h < size; ++h) {
            std::uint64_t total = 0;
            (void)walk(table, size, h, total, nullptr);
            m_max_len.at(h) = std::max(m_max_len.at(h), total);
        }
    }

    // Walks the chain at `head` in `table` (a copy of a descriptor table of `size` entries) as
    // DescriptorChain does (queue.cpp), indirect tables from m_area_copy. Returns false where the
    // device's walk fails; `total` is the length up to there, `descs` what was yielded.
    bool walk(std::span<const std::byte> table, std::uint16_t size, std::uint16_t head, std::uint64_t& total,
              std::vector<VirtqDesc>* descs) const
    {
        const bool indirect_ok = (m_features & feature_bit(VIRTIO_RING_F_INDIRECT_DESC)) != 0;
        std::uint32_t table_len = size, next = head, hops = 0;
        bool in_indirect = false;
        total = 0;
        for (;;) {
            if (hops >= table_len) return false;
            VirtqDesc d;
            std::memcpy(&d, table.data() + std::size_t{next} * sizeof d, sizeof d);
            ++hops;
            const std::uint16_t flags = d.flags.get();
            if (flags & VIRTQ_DESC_F_INDIRECT) {
                const std::uint64_t addr = d.addr.get();
                const std::uint32_t len = d.len.get();
                if (!indirect_ok || in_indirect || (flags & VIRTQ_DESC_F_NEXT)) return false;
                if (len == 0 || len % sizeof d) return false;
                if (!m_mem->contains(GuestAddress(addr), len)) return false;
                check(addr >= k_tables && addr + len <= k_fence, "an indirect table outside the table area");
                table = std::span<const std::byte>(m_area_copy).subspan(addr - k_tables, len);
                table_len = static_cast<std::uint32_t>(len / sizeof d);
                next = 0;
                hops = 0;
                in_indirect = true;
                continue;
            }
            total += d.len.get();
            if (total > (std::uint64_t{1} << 32)) return false;
            if (descs) descs->push_back(d);
            if (!(flags & VIRTQ_DESC_F_NEXT)) return true;
            if (d.next.get() >= table_len) return false;
            next = d.next.get();
        }
    }

    // Bytes [off, off + out.size()) of a chain's buffers, as copy_from_chain reads them.
    bool chain_bytes(const std::vector<VirtqDesc>& descs, std::uint64_t off, std::span<std::uint8_t> out) const
    {
        std::uint64_t done = 0;
        for (const VirtqDesc& d : descs) {
            if (done == out.size()) break;
            if (off >= d.len.get()) {
                off -= d.len.get();
                continue;
            }
            const std::uint64_t n = std::min<std::uint64_t>(d.len.get() - off, out.size() - done);
            auto at = GuestAddress(d.addr.get()).checked_add(off);
            if (!at || !m_mem->read(*at, std::as_writable_bytes(out.subspan(done, n)))) return false;
            done += n;
            off = 0;
        }
        return done == out.size();
    }

    // What the tap must get for the transmit chain at `head`, by the contract of transmit(): the
    // frame's descriptors, or nothing when the device must drop it.
    std::optional<std::vector<VirtqDesc>> tx_model(std::uint16_t head) const
    {
        std::vector<VirtqDesc> descs;
        std::uint64_t total = 0;
        const std::uint16_t size = m_tx->queue_size();
        if (!walk(std::span(m_tx_table_copy).first(size * sizeof(VirtqDesc)), size, head, total, &descs)) return {};
        if (descs.size() > NetDevice::k_max_descs) return {};
        for (const VirtqDesc& d : descs)
            if (d.flags.get() & VIRTQ_DESC_F_WRITE) return {};
        std::array<std::uint8_t, k_hdr + k_eth_header> head_bytes;
        if (total < head_bytes.size() || !chain_bytes(descs, 0, head_bytes)) return {};
        NetHdr raw;
        std::memcpy(&raw, head_bytes.data(), k_hdr);
        if (!check_tx(decode(raw), m_features, total - k_hdr).ok) return {};
        if (!std::equal(k_mac.begin(), k_mac.end(), head_bytes.data() + k_hdr + k_eth_source)) return {};
        // The rest is handed to writev straight from guest memory: every piece of it must be there.
        std::uint64_t off = head_bytes.size();
        for (const VirtqDesc& d : descs) {
            const std::uint64_t len = d.len.get();
            if (off >= len) {
                off -= len;
                continue;
            }
            const auto at = GuestAddress(d.addr.get()).checked_add(off);
            if (!at || !m_mem->contains(*at, len - off)) return {};
            off = 0;
        }
        return descs;
    }

    // Whether `frame` (from the tap) is the chain `descs` with the header rebuilt by for_tap().
    bool same_frame(std::span<const std::uint8_t> frame, const std::vector<VirtqDesc>& descs)
    {
        std::uint64_t total = 0;
        for (const VirtqDesc& d : descs) total += d.len.get();
        if (frame.size() != total) return false;
        std::span<std::uint8_t> want(m_model.data(), total);
        check(chain_bytes(descs, 0, want), "the modelled frame");
        NetHdr raw;
        std::memcpy(&raw, want.data(), k_hdr);
        raw = encode(for_tap(decode(raw)));
        std::memcpy(want.data(), &raw, k_hdr);
        return std::equal(frame.begin(), frame.end(), want.begin());
    }

    struct Snapshot {
        NetDevice::Counters c;
        std::uint16_t rx_used, tx_used;
        std::uint64_t notified;
        std::uint64_t needs_reset;
        State state;
    };

    Snapshot snapshot() const
    {
        return Snapshot{m_dev->counters(), m_rx->used_idx(), m_tx->used_idx(), m_notifier.used, m_notifier.needs_reset,
                        m_state};
    }

    void begin_step()
    {
        m_before = snapshot();
        m_step_activated = false;
    }

    void end_step()
    {
        const NetDevice::Counters& c = m_dev->counters();
        const Snapshot& b = m_before;
        check(c.tx_frames >= b.c.tx_frames && c.tx_dropped >= b.c.tx_dropped && c.tx_spoofed >= b.c.tx_spoofed &&
                  c.rx_frames >= b.c.rx_frames && c.rx_dropped >= b.c.rx_dropped,
              "a counter went down");

        // NEEDS_RESET once per activation, and only from an active device.
        if (m_notifier.needs_reset != b.needs_reset) {
            check(m_state == State::Active && b.state == State::Active, "NEEDS_RESET from a device not active");
            check(m_notifier.needs_reset == m_needs_reset_base + 1, "NEEDS_RESET twice");
            m_state = State::Broken;
        }
        const bool same_rings = m_rx->used_idx() == b.rx_used && m_tx->used_idx() == b.tx_used;
        if (b.state != State::Active && m_state == b.state && !m_step_activated) {
            check(same_rings && m_notifier.used == b.notified, "an inactive or broken device used a ring");
            check(std::memcmp(&c, &b.c, sizeof c) == 0, "an inactive or broken device counted");
        }

        // Transmit: while the ring holds only what transmit() put there, the tap gets exactly the
        // frames the model passes, in order, but for those counted as dropped (the tap was full).
        expect_tx();
        m_matched = 0;
        drain_tap();
        check(c.tx_frames == m_tap_frames, "tx_frames is not what reached the tap");
        if (m_tx_clean)
            check(m_expect.size() - m_matched <= c.tx_dropped - b.c.tx_dropped,
                  "a frame the guest sent did not reach the tap");
        check_rx_used();

        // A driver that asks for interrupts (no EVENT_IDX, NO_INTERRUPT clear) gets one when a
        // step used its ring. A device that set NEEDS_RESET interrupts through the config change.
        if (b.state == State::Active && m_state == State::Active && !m_step_activated &&
            !(m_features & feature_bit(VIRTIO_RING_F_EVENT_IDX))) {
            const bool want = (m_rx->used_idx() != b.rx_used && !(m_avail_flags[0] & VIRTQ_AVAIL_F_NO_INTERRUPT)) ||
                              (m_tx->used_idx() != b.tx_used && !(m_avail_flags[1] & VIRTQ_AVAIL_F_NO_INTERRUPT));
            check(!want || m_notifier.used > b.notified, "used buffers without the interrupt the driver asked for");
        }
        if (m_notifier.used > b.notified && !m_step_activated) check(!same_rings, "an interrupt for nothing");

        // The tap is read one frame ahead of the guest's buffers at most: every frame taken is
        // given to the guest, counted as dropped, or lost with the one held at a reset.
        int queued = 0;
        check(::ioctl(m_tap, SIOCINQ, &queued) == 0 && queued >= 0, "SIOCINQ");
        const std::uint64_t consumed = m_host_bytes - static_cast<std::uint64_t>(queued);
        while (!m_unread.empty() && m_consumed_bytes + m_unread.front() <= consumed) {
            m_consumed_bytes += m_unread.front();
            m_unread.pop_front();
            ++m_consumed_frames;
        }
        check(m_consumed_bytes == consumed, "the tap was read in pieces");
        check(m_consumed_frames <= c.rx_frames + c.rx_dropped + 1 + m_resets,
              "the device read more than one frame ahead");
        if (m_rx_clean) check(c.rx_frames - m_rx_frames_base == m_rx_parsed, "rx_frames is not what the guest got");

        check(__sanitizer_get_current_allocated_bytes() <= m_heap_base + k_heap_growth,
              "the heap grows with the input");
    }

    // Every frame on the host's end of the tap: the contract of transmit().
    void drain_tap()
    {
        for (;;) {
            const ssize_t n = ::recv(m_host.get(), m_io.data(), m_io.size(), MSG_DONTWAIT | MSG_TRUNC);
            if (n < 0) {
                check(errno == EAGAIN || errno == EWOULDBLOCK, "reading the host's end of the tap");
                return;
            }
            ++m_tap_frames;
            const auto len = static_cast<std::uint64_t>(n);
            check(len >= k_hdr + k_eth_header, "a frame on the tap shorter than the headers");
            check(len <= k_max_msg, "a frame on the tap longer than k_max_frame");
            NetHdr raw;
            std::memcpy(&raw, m_io.data(), k_hdr);
            const Header h = decode(raw);
            check((h.flags & ~VIRTIO_NET_HDR_F_NEEDS_CSUM) == 0, "a tap header flag other than NEEDS_CSUM");
            check(h.num_buffers == 0, "a tap header with num_buffers");
            check(check_tx(h, m_features, len - k_hdr).ok, "a tap header check_tx() refuses");
            check(std::equal(k_mac.begin(), k_mac.end(), m_io.data() + k_hdr + k_eth_source),
                  "a frame on the tap from another source MAC");
            if (!m_tx_clean) continue;
            const std::span<const std::uint8_t> frame(m_io.data(), len);
            while (m_expect_pos < m_expect.size() && !same_frame(frame, m_expect[m_expect_pos])) ++m_expect_pos;
            check(m_expect_pos < m_expect.size(), "a frame on the tap that is not one the guest sent, in order");
            ++m_expect_pos;
            ++m_matched;
        }
    }

    // The transmit chains returned this step; in m_expect those the tap must get.
    void expect_tx()
    {
        m_expect.clear();
        m_expect_pos = 0;
        if (m_tx_clean) {
            const std::uint16_t size = m_tx->queue_size();
            const std::span<std::byte> table = std::span(m_tx_table_copy).first(size * sizeof(VirtqDesc));
            check(m_mem->read(m_tx->config().desc_table, table).has_value(), "desc");
            check(m_mem->read(GuestAddress(k_tables), m_area_copy).has_value(), "tables");
        }
        for (; m_tx_seen != m_tx->used_idx(); ++m_tx_seen) {
            const VirtqUsedElem e = m_tx->used_elem(m_tx_seen);
            check(e.id.get() < m_tx->queue_size(), "a transmit used id out of range");
            check(e.len.get() == 0, "a transmit buffer returned with a length");
            if (!m_tx_clean) continue;
            if (auto d = tx_model(static_cast<std::uint16_t>(e.id.get()))) m_expect.push_back(std::move(*d));
        }
    }

    void check_rx_used()
    {
        for (; m_rx_seen != m_rx->used_idx(); ++m_rx_seen) {
            const VirtqUsedElem e = m_rx->used_elem(m_rx_seen);
            const std::uint32_t id = e.id.get(), len = e.len.get();
            check(id < m_rx->queue_size(), "a receive used id out of range");
            check(len <= m_max_len.at(id), "a receive used length beyond the chain");
            if (m_rx_clean) parse_rx(static_cast<std::uint16_t>(id), len);
        }
        if (m_rx_clean) check(m_pending_left == 0, "a frame's buffers returned in parts (num_buffers too large)");
    }

    // One used receive buffer while the ring is the harness's: part of a frame, or returned empty.
    void parse_rx(std::uint16_t id, std::uint32_t len)
    {
        const auto it = m_rx_out.find(id);
        check(it != m_rx_out.end(), "a receive buffer returned that was not offered");
        const RxBuf b = std::move(it->second);
        m_rx_out.erase(it);
        for (std::uint16_t d : b.descs) m_rx_free.push_back(d);
        (b.slot >= k_n_small ? m_big_busy.at(b.slot - k_n_small) : m_small_busy.at(b.slot)) = false;
        check(len <= b.total, "a receive used length beyond the buffer");
        if (!b.usable || len == 0) {
            check(!b.usable && len == 0, "an unusable buffer filled, or a usable one returned empty");
            check(m_pending_left == 0, "an empty buffer inside a frame");
            return;
        }
        const std::size_t start = m_got.size();
        m_got.resize(start + len);
        std::uint64_t off = 0;
        for (const auto& [addr, n] : b.pieces) {
            const std::uint64_t k = std::min<std::uint64_t>(n, len - off);
            const auto into = std::as_writable_bytes(std::span(m_got).subspan(start + off, k));
            check(m_mem->read(GuestAddress(addr), into).has_value(), "rx piece");
            off += k;
            if (off == len) break;
        }
        if (m_pending_left == 0) {
            check(len >= k_hdr, "a frame's first buffer without the whole header");
            NetHdr raw;
            std::memcpy(&raw, m_got.data(), k_hdr);
            const Header h = decode(raw);
            check(h.num_buffers >= 1 && h.num_buffers <= m_rx->queue_size(), "num_buffers out of range");
            check(h.num_buffers == 1 || (m_features & feature_bit(VIRTIO_NET_F_MRG_RXBUF)),
                  "num_buffers > 1 without MRG_RXBUF");
            check((h.flags & ~(VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID)) == 0,
                  "a receive header flag passed on");
            check(h.flags == 0 || (m_features & feature_bit(VIRTIO_NET_F_GUEST_CSUM)),
                  "receive header flags for a driver without GUEST_CSUM (5.1.6.4.1)");
            m_pending_n = m_pending_left = h.num_buffers;
        }
        --m_pending_left;
        if (m_pending_left > 0) {
            check(len == b.total, "a frame's buffer not full before its last one (num_buffers too large?)");
            return;
        }
        match_frame();
        m_got.clear();
    }

    // The frame in m_got is the next one the host sent that the device did not drop.
    void match_frame()
    {
        while (!m_fifo.empty()) {
            const HostFrame f = m_fifo.front();
            m_fifo.pop_front();
            const std::uint64_t want = std::min<std::uint64_t>(k_hdr + f.len, k_max_msg);
            if (m_got.size() != want) continue;
            NetHdr raw;
            std::memcpy(&raw, f.hdr.data(), k_hdr);
            Header h = decode(raw);
            h.flags &= VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID;
            if (!(m_features & feature_bit(VIRTIO_NET_F_GUEST_CSUM))) h.flags = 0;
            h.num_buffers = m_pending_n;
            raw = encode(h);
            if (std::memcmp(m_got.data(), &raw, k_hdr) != 0) continue;
            bool same = true;
            for (std::uint64_t i = k_hdr; i < want && same; ++i)
                same = m_got[i] == frame_byte(f.seed, static_cast<std::uint32_t>(i - k_hdr));
            if (!same) continue;
            ++m_rx_parsed;
            return;
        }
        check(false, "a received frame that the host did not send");
    }

    // Guest memory first: the device and the queues refer to it.
    std::optional<memory::GuestMemory> m_mem;
    std::optional<FakeGuest> m_rx, m_tx;
    testing::RecordingWatcher m_watcher;
    Notifier m_notifier;
    base::UniqueFd m_host;
    int m_tap = -1;  // the device's end, for SIOCINQ; owned by the device
    std::unique_ptr<NetDevice> m_dev;

    bool m_has_setter = false;
    bool m_setter_fails = false;
    std::uint64_t m_offloads = 0;
    std::uint64_t m_features = 0;
    State m_state = State::Inactive;
    bool m_step_activated = false;  // this step re-created the rings
    std::uint64_t m_needs_reset_base = 0;
    std::uint64_t m_resets = 0;
    std::array<std::uint16_t, 2> m_avail_flags{};
    Snapshot m_before{};

    // Transmit.
    std::uint64_t m_tap_frames = 0;
    std::uint32_t m_tx_table = 0;
    std::uint16_t m_tx_seen = 0;
    bool m_tx_clean = true;  // the ring holds only what transmit() put there
    std::vector<std::vector<VirtqDesc>> m_expect;  // chains the tap must get, this step
    std::size_t m_expect_pos = 0, m_matched = 0;
    std::vector<std::uint8_t> m_model;  // a modelled frame

    // Receive: chain bounds, and what the harness offered.
    bool m_dirty = true;
    std::array<std::uint64_t, 256> m_max_len{};
    std::vector<std::byte> m_table_copy, m_tx_table_copy, m_area_copy, m_zero;
    std::uint16_t m_rx_seen = 0;
    bool m_rx_clean = true;
    std::map<std::uint16_t, RxBuf> m_rx_out;
    std::vector<std::uint16_t> m_rx_free;
    std::array<bool, k_n_small> m_small_busy{};
    std::array<bool, k_n_big> m_big_busy{};
    std::uint32_t m_rx_slot = 0;
    std::uint32_t m_rx_desc = 0;
    std::vector<std::uint8_t> m_got;  // the frame being parsed back
    std::uint16_t m_pending_n = 0, m_pending_left = 0;
    std::uint64_t m_rx_parsed = 0, m_rx_frames_base = 0;

    // The host's end of the tap.
    std::vector<std::uint8_t> m_io;
    std::deque<HostFrame> m_fifo;         // sent, not yet matched to a received frame
    std::deque<std::uint64_t> m_unread;   // sizes of frames the device has not read yet
    std::uint64_t m_host_bytes = 0, m_consumed_bytes = 0, m_consumed_frames = 0;

    std::size_t m_heap_base = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    fuzz::Input in(data, size);
    Run run(in);
    for (int steps = 0; !in.empty() && steps < k_max_steps; ++steps) run.step(in);
    return 0;
}
