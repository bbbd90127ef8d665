// virtio-mmio transport, version 2 register layout (virtio 1.2 §4.2.2), modern devices only.
//
// Threading and locks:
//  - read()/write() come from any vCPU thread. notify() and queue processing run on the one
//    event thread. set_notify_forwarder() is called once during setup, before any vCPU runs.
//  - m_io serialises the device's activate()/process_queue()/reset() and guards m_active. It is
//    held by the event thread while the device does I/O, and by a vCPU only for a Status write
//    (activation, which does no I/O, and reset, which may wait for in-flight I/O: the one place
//    a vCPU waits for the disk) or an inline QueueNotify when no forwarder is installed.
//  - m_regs guards the register file (selectors, features, queue configuration, status writes)
//    and config-space access; it is held only briefly and never across device I/O.
//  - Lock order: m_io before m_regs. Nothing takes m_io while holding m_regs.
//  - InterruptStatus, ConfigGeneration, Status (for reading) and NEEDS_RESET are atomics so the
//    event thread can raise them without m_regs.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

#include "memory/guest_memory.hpp"
#include "virtio/device.hpp"
#include "virtio/queue.hpp"

namespace moat::virtio {

// Register offsets, virtio 1.2 §4.2.2 (names verbatim from the spec's table).
namespace mmio {
inline constexpr std::uint64_t MagicValue = 0x000;
inline constexpr std::uint64_t Version = 0x004;
inline constexpr std::uint64_t DeviceID = 0x008;
inline constexpr std::uint64_t VendorID = 0x00c;
inline constexpr std::uint64_t DeviceFeatures = 0x010;
inline constexpr std::uint64_t DeviceFeaturesSel = 0x014;
inline constexpr std::uint64_t DriverFeatures = 0x020;
inline constexpr std::uint64_t DriverFeaturesSel = 0x024;
inline constexpr std::uint64_t QueueSel = 0x030;
inline constexpr std::uint64_t QueueNumMax = 0x034;
inline constexpr std::uint64_t QueueNum = 0x038;
inline constexpr std::uint64_t QueueReady = 0x044;
inline constexpr std::uint64_t QueueNotify = 0x050;
inline constexpr std::uint64_t InterruptStatus = 0x060;
inline constexpr std::uint64_t InterruptACK = 0x064;
inline constexpr std::uint64_t Status = 0x070;
inline constexpr std::uint64_t QueueDescLow = 0x080;
inline constexpr std::uint64_t QueueDescHigh = 0x084;
inline constexpr std::uint64_t QueueDriverLow = 0x090;
inline constexpr std::uint64_t QueueDriverHigh = 0x094;
inline constexpr std::uint64_t QueueDeviceLow = 0x0a0;
inline constexpr std::uint64_t QueueDeviceHigh = 0x0a4;
inline constexpr std::uint64_t SHMSel = 0x0ac;
inline constexpr std::uint64_t SHMLenLow = 0x0b0;
inline constexpr std::uint64_t SHMLenHigh = 0x0b4;
inline constexpr std::uint64_t SHMBaseLow = 0x0b8;
inline constexpr std::uint64_t SHMBaseHigh = 0x0bc;
inline constexpr std::uint64_t QueueReset = 0x0c0;
inline constexpr std::uint64_t ConfigGeneration = 0x0fc;
inline constexpr std::uint64_t Config = 0x100;

inline constexpr std::uint32_t k_magic = 0x74726976;  // "virt"
inline constexpr std::uint32_t k_version = 2;          // modern register layout
inline constexpr std::uint32_t k_vendor = 0x74616f6d;  // "moat"
// Size of one device's MMIO window (registers plus up to 256 bytes of config space).
inline constexpr std::uint64_t k_window_size = 0x200;
}  // namespace mmio

class MmioTransport final {
public:
    // `mem` and `irq` must outlive the transport. The transport owns the device.
    MmioTransport(const memory::GuestMemory& mem, std::unique_ptr<Device> device, InterruptLine& irq);
    ~MmioTransport();
    MmioTransport(const MmioTransport&) = delete;
    MmioTransport& operator=(const MmioTransport&) = delete;

    // vCPU threads. `offset` is relative to the window base. Registers below 0x100 are 32 bits
    // wide and 4-byte aligned; any other access is ignored (reads return zeros) and logged with a
    // rate limit. Config space (0x100 and up) takes any width.
    void read(std::uint64_t offset, std::span<std::byte> data);
    void write(std::uint64_t offset, std::span<const std::byte> data);

    // Event thread: a QueueNotify arrived through an ioeventfd. Ignored unless the device is
    // active and not in NEEDS_RESET.
    void notify(std::uint32_t queue);
    // Event thread: the poll timer of `queue` fired (see set_poll_timer). Ignored as notify().
    void poll(std::uint32_t queue);
    // Event thread: a host descriptor the device watches is ready. Ignored as notify().
    void host_ready(std::uint32_t token);

    std::size_t queue_count() const;
    std::uint32_t device_id() const;

    // Setup only (before vCPUs run). If set, a QueueNotify register write is handed to `f`
    // (which signals the event thread) instead of processing the queue on the vCPU thread.
    void set_notify_forwarder(std::function<void(std::uint32_t)> f);
    // Setup only (before vCPUs run). `f(queue, delay)` arms a one-shot timer that makes the event
    // thread call poll(queue) after `delay` (re-arming replaces the pending expiry) and returns
    // whether it could. Without it, DriverNotifier::poll_later() returns false.
    void set_poll_timer(std::function<bool(std::uint32_t, std::chrono::microseconds)> f);

    // Setup only (before vCPUs run). `f` runs (on any thread, rarely under no lock) each time the
    // driver or the device counts a guest fault: the guest broke a rule of the transport or the
    // device, which ignored, refused or stopped on it.
    void set_fault_hook(std::function<void()> f);
    // Any thread: guest faults counted since the last call.
    std::uint64_t take_faults() { return m_faults.exchange(0, std::memory_order_relaxed); }

    // True once the device set DEVICE_NEEDS_RESET; cleared by a driver reset.
    bool needs_reset() const;
    // The Status register as the driver reads it.
    std::uint32_t status() const;

private:
    class Notifier final : public DriverNotifier {
    public:
        explicit Notifier(MmioTransport& t) : m_t(t) {}
        void notify_used() override;
        void notify_config_change() override;
        void device_needs_reset() override;
        bool poll_later(std::uint32_t queue, std::chrono::microseconds delay) override;
        void guest_fault() override { m_t.guest_fault(); }

    private:
        MmioTransport& m_t;
    };

    // The registers of one queue as the driver programmed them (§4.2.2), plus the validated
    // queue once QueueReady was accepted and until activation hands it to the device.
    struct QueueRegs {
        std::uint32_t num = 0;
        std::uint64_t desc = 0;
        std::uint64_t driver = 0;
        std::uint64_t device = 0;
        bool ready = false;
        std::optional<Queue> queue;
    };

    std::uint32_t read_register(std::uint64_t offset);         // m_regs held
    void write_register(std::uint64_t offset, std::uint32_t v);  // m_regs held
    void write_queue_register(std::uint64_t offset, std::uint32_t v);  // m_regs held
    void write_status(std::uint32_t v);  // takes m_io, then m_regs
    void reset_locked();                 // m_io and m_regs held
    void activate_locked();              // m_io and m_regs held
    bool features_acceptable() const;    // m_regs held
    QueueRegs* selected_queue();         // m_regs held; nullptr when QueueSel is out of range
    void raise(std::uint32_t cause);
    void guest_fault();

    const memory::GuestMemory& m_mem;
    std::unique_ptr<Device> m_device;
    InterruptLine& m_irq;
    std::function<void(std::uint32_t)> m_forwarder;  // set before vCPUs start; then read-only
    std::function<bool(std::uint32_t, std::chrono::microseconds)> m_poll_timer;  // likewise
    std::function<void()> m_fault_hook;                                           // likewise
    Notifier m_notifier{*this};

    std::mutex m_io;        // lock order: first
    bool m_active = false;  // guarded by m_io

    std::mutex m_regs;  // lock order: second
    std::uint32_t m_device_features_sel = 0;
    std::uint32_t m_driver_features_sel = 0;
    std::uint64_t m_driver_features = 0;
    bool m_driver_features_unknown = false;  // the driver wrote bits above 64
    std::uint32_t m_queue_sel = 0;
    std::vector<QueueRegs> m_queues;

    std::atomic<std::uint32_t> m_status{0};  // written under m_regs; read anywhere
    std::atomic<bool> m_needs_reset{false};
    std::atomic<std::uint32_t> m_interrupt_status{0};
    std::atomic<std::uint32_t> m_config_generation{0};
    std::atomic<std::uint64_t> m_faults{0};
};

}  // namespace moat::virtio
