// virtio-net device (virtio 1.2 §5.1) on a tap descriptor: one receive and one transmit queue,
// the MAC address the monitor fixed, mergeable receive buffers, and checksum and TCP
// segmentation offloads passed through to the tap.
//
// The tap is opened by whoever launches the VM (tap.hpp: IFF_TAP | IFF_NO_PI | IFF_VNET_HDR with
// a 12-byte header, non-blocking), so every frame either way starts with a NetHdr.
//
// Transmit: the guest's NetHdr and Ethernet header are copied out once, checked (header.hpp:
// offloads negotiated, fields inside the frame; the source MAC is the device's), and the tap gets
// the header rebuilt from what was checked, the copied Ethernet header, and the rest of the frame
// straight from guest memory (writev). A frame that fails is dropped and counted.
// Receive: the device takes the guest's receive buffers (several with VIRTIO_NET_F_MRG_RXBUF)
// until they hold the largest frame, and the tap is read straight into them, its header into the
// device's copy, completed there and written to the first buffer; the buffers the frame did not
// fill wait for the next. When the guest has fewer buffers than that, the tap is read into one
// frame-sized buffer of the device's and the frame copied into the guest's buffers, waiting there
// for more when they are too few. With no buffer at all the tap is not read: frames queue in the
// host's kernel, which drops them when the tap's queue is full. So a guest that stops reading
// costs at most one buffer.
// Each way, at most k_frames_per_round frames per event, then the device asks to be polled
// again: a flood in either direction leaves the event thread to the other devices in between.
// Threading: see device.hpp; the config space is constant.
#pragma once

#include <sys/types.h>
#include <sys/uio.h>

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "base/unique_fd.hpp"
#include "virtio/chain_io.hpp"
#include "virtio/device.hpp"
#include "virtio/net/header.hpp"

namespace moat::virtio::net {

class NetDevice final : public Device {
public:
    static constexpr std::uint16_t k_queue_size = 256;
    static constexpr unsigned k_frames_per_round = 64;
    static constexpr std::uint32_t k_tap_token = 0;
    static constexpr std::size_t k_max_descs = 64;  // Linux uses at most MAX_SKB_FRAGS + 2
    // Room for the largest frame a tap sends, and one byte more to tell a longer one.
    static constexpr std::uint64_t k_rx_room = sizeof(NetHdr) + k_max_frame + 1;

    // Tells the tap which offloads the driver takes, from the negotiated features (tap.hpp's
    // set_offloads; a test's stand-in). Called at activate() and, with 0, at reset().
    using OffloadSetter = std::function<Result<void>(std::uint64_t features)>;

    // `tap` is watched through `watcher` (its descriptor's close ends the watch). `mac` must be a
    // unicast address.
    static Result<std::unique_ptr<NetDevice>> create(base::UniqueFd tap, const Mac& mac, HostWatcher& watcher,
                                                     OffloadSetter set_offloads);
    ~NetDevice() override;  // logs the counters (info level: `moat run -v`)

    std::uint32_t device_id() const override { return VIRTIO_ID_NET; }
    std::uint64_t features() const override;
    std::span<const std::uint16_t> queue_max_sizes() const override { return m_queue_max; }
    void read_config(std::uint64_t offset, std::span<std::byte> data) const override;
    void write_config(std::uint64_t offset, std::span<const std::byte> data) override;
    Result<void> activate(ActivateContext ctx) override;
    void process_queue(std::uint32_t index) override;
    void poll_queue(std::uint32_t index) override { process_queue(index); }
    void host_ready(std::uint32_t token) override;
    void reset() override;

    struct Counters {
        std::uint64_t tx_frames = 0;   // handed to the tap
        std::uint64_t tx_dropped = 0;  // malformed, or refused by the tap
        std::uint64_t tx_spoofed = 0;  // another source MAC (not in tx_dropped)
        std::uint64_t rx_frames = 0;   // given to the guest
        std::uint64_t rx_dropped = 0;  // no buffer the frame fits, or bad buffers
        std::uint64_t rx_bounced = 0;  // frames copied through the device's buffer (fewer buffers than a frame's largest)
        std::uint64_t interrupts = 0;  // used-buffer notifications sent
    };
    const Counters& counters() const { return m_counters; }

private:
    NetDevice(base::UniqueFd tap, const Mac& mac, OffloadSetter set_offloads);

    void serve_tx();
    bool serve_tx_round();  // true when the round's budget ran out first
    void transmit(const ChainBuffers& b);
    void serve_rx();
    bool serve_rx_round();
    enum class Direct { Frame, TapEmpty, Fallback };
    std::uint64_t hold_rx();
    Direct receive_direct();
    void complete(NetHdr raw, std::uint64_t len);
    void use_held(std::size_t count, std::uint64_t len, std::span<const std::byte> frame);
    bool read_tap();  // a frame into m_buf; false when the tap has none
    void tap_drained(ssize_t n);
    bool deliver();   // the frame in m_buf into the guest; false when its buffers ran out first
    bool take_rx();   // one more receive buffer into m_held; false when the ring is empty
    std::size_t buffers_for(std::uint64_t len) const;
    NetHdr for_guest(const NetHdr& raw, std::size_t count) const;
    void give_back(const ChainBuffers& b, std::uint32_t len);
    void finish();    // interrupts owed
    void queue_fault();

    base::UniqueFd m_tap;
    Mac m_mac;
    NetConfig m_config{};
    std::array<std::uint16_t, 2> m_queue_max{k_queue_size, k_queue_size};
    OffloadSetter m_set_offloads;
    Counters m_counters;

    // Set by activate(), cleared by reset(); serialised by the transport's I/O lock.
    const memory::GuestMemory* m_mem = nullptr;
    DriverNotifier* m_notifier = nullptr;
    std::uint64_t m_features = 0;
    std::optional<Queue> m_rxq, m_txq;
    bool m_tap_readable = true;        // read until EAGAIN before trusting edges again
    std::vector<std::byte> m_buf;      // NetHdr + one frame from the tap: k_hdr + k_max_frame + 1
    std::size_t m_frame_len = 0;       // of the frame in m_buf; 0 for none
    std::vector<ChainBuffers> m_held;  // receive buffers taken, not yet used
    std::vector<iovec> m_iov;          // receive_direct()'s, kept to spare an allocation a frame
    bool m_rx_used = false;
    bool m_tx_used = false;
};

}  // namespace moat::virtio::net
