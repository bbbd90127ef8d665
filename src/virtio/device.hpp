// The virtio device interface a transport drives (virtio 1.2 §2, §3), and the interrupt line.
//
// Threading contract (the transport enforces it; see mmio.hpp for the locks):
//  - device_id(), features(), queue_max_sizes() are constant after construction; any thread.
//  - read_config()/write_config() run on vCPU threads under the transport's register lock,
//    possibly while process_queue() runs on the event thread. A device whose config space changes
//    at run time synchronises it itself; a constant config space needs nothing.
//  - activate(), process_queue(), poll_queue(), host_ready() and reset() are serialised by the
//    transport's I/O lock. process_queue() runs on the event thread (or inline on a vCPU thread
//    when no notify forwarder is installed), poll_queue() and host_ready() on the event thread;
//    activate() and reset() run on the vCPU thread that wrote Status.
//    activate() must not block; reset() may wait for in-flight I/O.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "base/result.hpp"
#include "memory/guest_memory.hpp"
#include "virtio/queue.hpp"

namespace moat::virtio {

// The guest interrupt a transport raises. The VMM implements it with an irqfd (edge
// triggered). trigger() must be callable from any thread and must not block.
class InterruptLine {
public:
    virtual ~InterruptLine() = default;
    virtual void trigger() = 0;
};

// Host descriptors a device waits on besides its queues (vsock's sockets). The VMM's event loop
// implements it; a device calls it at construction and then from host_ready() or
// process_queue() on the event thread. Watching is edge-triggered, for input and output: the
// device reads and writes until EAGAIN and remembers what it could not finish.
class HostWatcher {
public:
    virtual ~HostWatcher() = default;
    // `token` (below 2^24) comes back in Device::host_ready(). False if the fd cannot be watched.
    virtual bool watch(int fd, std::uint32_t token) = 0;
    // close() unwatches too; this is for a descriptor that stays open.
    virtual void unwatch(int fd) = 0;
};

// What an active device uses to reach the driver; implemented by the transport. Callable from
// the thread running process_queue() (and any thread the device owns), but never from inside
// activate() or reset().
class DriverNotifier {
public:
    virtual ~DriverNotifier() = default;
    // Used buffers are available: sets InterruptStatus bit 0 and triggers the line (§2.7.7).
    virtual void notify_used() = 0;
    // The config space changed: bumps ConfigGeneration, sets InterruptStatus bit 1 (§2.5.1).
    virtual void notify_config_change() = 0;
    // Guest fault the device cannot recover from: sets DEVICE_NEEDS_RESET (§2.1.2) and stops
    // further queue processing until the driver resets the device.
    virtual void device_needs_reset() = 0;
    // The guest broke the device's rules and the device coped (a malformed request dropped or
    // failed, a buffer outside guest memory): counted, and reported to the monitor's audit log.
    virtual void guest_fault() = 0;
    // Asks for one poll_queue(queue) call on the event thread about `delay` from now, whether or
    // not the driver notifies; a later request replaces an earlier one that has not fired. A
    // poll may come early or, after a reset, for nothing: the device must tolerate both.
    // Returns false when no poll will come (the transport has no timer, or arming it failed):
    // the device must then rely on the driver's notifications.
    virtual bool poll_later(std::uint32_t queue, std::chrono::microseconds delay) = 0;
};

// What the transport hands over when the driver sets DRIVER_OK.
struct ActivateContext {
    const memory::GuestMemory& mem;  // outlives the device
    std::uint64_t features;          // negotiated: a subset of Device::features()
    // One entry per queue_max_sizes() entry; std::nullopt for a queue the driver left unready.
    // The device owns the queues until reset().
    std::vector<std::optional<Queue>> queues;
    DriverNotifier& notifier;  // outlives the device
};

class Device {
public:
    virtual ~Device() = default;

    // virtio 1.2 §5 device ID (2 = block).
    virtual std::uint32_t device_id() const = 0;
    // Offered feature bits; must include VIRTIO_F_VERSION_1 (modern only).
    virtual std::uint64_t features() const = 0;
    // Maximum size of each queue; the span's length is the number of queues.
    virtual std::span<const std::uint16_t> queue_max_sizes() const = 0;

    // Device-specific config space (§2.5). Bytes outside the config space read as zero and
    // writes there are ignored.
    virtual void read_config(std::uint64_t offset, std::span<std::byte> data) const = 0;
    virtual void write_config(std::uint64_t offset, std::span<const std::byte> data) = 0;

    // DRIVER_OK: start using the queues. An error makes the transport set NEEDS_RESET.
    virtual Result<void> activate(ActivateContext ctx) = 0;
    // The driver notified queue `index` (any index: the device ignores ones it does not have).
    virtual void process_queue(std::uint32_t index) = 0;
    // A poll the device asked for with DriverNotifier::poll_later() is due (or a stale one).
    virtual void poll_queue(std::uint32_t index) = 0;
    // A host descriptor the device watches (HostWatcher) became ready. Only while active: an
    // inactive device must look at its descriptors again once activated.
    virtual void host_ready(std::uint32_t token) { (void)token; }
    // Back to the state before activate(): drop queues, forget negotiated features (§2.4).
    virtual void reset() = 0;
};

}  // namespace moat::virtio
