// Inside a Machine (machine.hpp): the state its parts share. builder.cpp makes it, vcpu.cpp
// runs the vCPU threads over it, event_loop.cpp serves its devices and stop requests, and
// monitor_link.cpp talks to the monitor. Not for use outside src/vmm/.
#pragma once

#include <pthread.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "base/unique_fd.hpp"
#include "devices/bus.hpp"
#include "devices/i8042.hpp"
#include "devices/serial.hpp"
#include "jail/seccomp.hpp"
#include "kvm/kvm.hpp"
#include "memory/guest_memory.hpp"
#include "virtio/mmio.hpp"
#include "vmm/console.hpp"
#include "vmm/container.hpp"
#include "vmm/machine.hpp"

namespace moat::vmm {

// An edge-triggered interrupt: a write to an eventfd that KVM turned into an irqfd.
class IrqFd final : public virtio::InterruptLine {
public:
    static Result<std::unique_ptr<IrqFd>> create(kvm::Vm& vm, std::uint32_t gsi);
    void trigger() override;

private:
    explicit IrqFd(base::UniqueFd fd) : m_fd(std::move(fd)) {}
    base::UniqueFd m_fd;
};

// Puts a virtio-mmio transport on the MMIO bus.
class TransportWindow final : public devices::BusDevice {
public:
    explicit TransportWindow(virtio::MmioTransport& t) : m_t(t) {}
    void read(std::uint64_t off, std::span<std::byte> d) override { m_t.read(off, d); }
    void write(std::uint64_t off, std::span<const std::byte> d) override { m_t.write(off, d); }

private:
    virtio::MmioTransport& m_t;
};

// Host descriptors a device watches (virtio::HostWatcher), in the event loop's epoll set: tagged
// with the device's index so the event thread can hand each event to its transport.
class DeviceWatcher final : public virtio::HostWatcher {
public:
    DeviceWatcher(int epoll, std::uint32_t device) : m_epoll(epoll), m_device(device) {}
    bool watch(int fd, std::uint32_t token) override;
    void unwatch(int fd) override;

private:
    int m_epoll;
    std::uint32_t m_device;
};

// One virtio-mmio device with its interrupt and the descriptors the event thread watches.
struct VirtioSlot {
    std::unique_ptr<IrqFd> irq;
    std::unique_ptr<virtio::MmioTransport> transport;
    std::unique_ptr<TransportWindow> window;
    std::vector<base::UniqueFd> notify;  // one ioeventfd per queue
    std::vector<base::UniqueFd> poll;    // one timerfd per queue: polls the device asked for
    std::unique_ptr<DeviceWatcher> watcher;  // for a device with host descriptors (vsock)
};

struct Machine::State {
    // Declaration order is destruction order reversed: devices go before the VM and memory.
    kvm::Kvm kvm;
    kvm::Vm vm;
    memory::GuestMemory mem;
    std::vector<kvm::Vcpu> vcpus;
    devices::Bus pio;
    devices::Bus mmio;
    std::unique_ptr<IrqFd> serial_irq;
    std::unique_ptr<devices::Serial> serial;
    std::unique_ptr<devices::I8042> i8042;
    std::unique_ptr<devices::AcpiSleep> sleep;
    // A container's (builder.cpp, container_ports): COM2, COM3, COM4 and their interrupts.
    std::unique_ptr<IrqFd> control_irq, stderr_irq, kernel_irq;
    std::unique_ptr<devices::Serial> control_port, stderr_port, kernel_port;
    std::unique_ptr<ConsoleOutput> stderr_out, kernel_out;
    std::unique_ptr<ContainerLink> container;
    base::UniqueFd epoll;  // the event loop's: devices add their host descriptors to it
    std::vector<VirtioSlot> virtio;
    int spare_fds = 4;     // descriptors the process may still open once sealed (event_loop.cpp)
    base::UniqueFd vsock_connector;
    std::vector<int> writable_disks;  // not owned: flushed once more when the VM ends
    int console_in = -1;
    bool console_escape = false;
    std::unique_ptr<ConsoleOutput> console;
    base::UniqueFd console_client;  // input side of an attached console client
    int monitor = -1;
    // Refused writes per disk not yet reported; the event thread only. A report goes out at
    // most once a second, so a guest hammering a read-only disk costs the monitor one audit
    // record per burst.
    std::vector<std::uint64_t> denied_writes;
    std::uint64_t refused_connections = 0;  // vsock connections without a channel, likewise
    std::pair<std::uint64_t, std::uint32_t> last_refused;  // (CID, port) of the last one
    // Console bytes dropped past the budget: reported at most once a minute (a guest printing
    // forever costs the audit log one record a minute), and when the VM ends.
    std::uint64_t console_dropped = 0;
    std::int64_t console_reported_ms = -1;  // CLOCK_MONOTONIC of the last such report
    // Guest faults per virtio slot (MmioTransport::take_faults), reported likewise.
    std::vector<std::uint64_t> device_faults;
    std::int64_t faults_reported_ms = -1;
    base::UniqueFd report_timer;
    std::atomic<int> report_armed{0};  // seconds it was armed for, 0 when not; vCPU threads arm it too
    base::UniqueFd stop_fd;
    std::atomic<bool> stopping{false};
    std::mutex exit_lock;
    std::optional<VmExit> exit;  // guarded by exit_lock; the first reason wins
    // A jailed VM's seccomp filters (VmConfig): each vCPU thread installs its own before its
    // first KVM_RUN, the event thread its own once they run.
    std::optional<jail::Filter> vcpu_filter;
    std::optional<jail::Filter> vmm_filter;

    State(kvm::Kvm k, kvm::Vm v, memory::GuestMemory m) : kvm(std::move(k)), vm(std::move(v)), mem(std::move(m)) {}

    // Any thread: records why the VM ends (first caller wins) and wakes the event loop.
    void request_stop(VmExit e);
    bool stop_requested() const { return stopping.load(std::memory_order_acquire); }

    // monitor_link.cpp, event thread: counts a refused write to read-only disk `disk` and arms
    // the report timer; sends what was counted (`last`: the VM ends, send everything).
    void note_denied_write(std::size_t disk);
    void note_refused_connection(std::uint64_t cid, std::uint32_t port);
    void send_reports(bool last = false);
    // Any thread: arms the report timer to fire in `seconds`, unless it is armed to fire sooner.
    void arm_report(int seconds = 1);
    bool minute_due(std::int64_t& sent_ms, bool last);  // monitor_link.cpp
};

// vcpu.cpp: starts one thread per vCPU (they inherit the caller's signal mask) and stops and
// joins them. start_vcpus requests a stop itself if a thread cannot be started.
std::vector<pthread_t> start_vcpus(Machine::State& s);
void stop_vcpus(Machine::State& s, const std::vector<pthread_t>& threads);

// monitor_link.cpp: what the monitor sent on its socket. `gone` when it closed its end (the VM
// runs on); otherwise a console client to attach, or nothing (a malformed message, logged and
// dropped: the monitor is trusted, so that is a bug, not an attack).
struct MonitorMessage {
    bool gone = false;
    base::UniqueFd console_client;
};
MonitorMessage receive_from_monitor(int monitor);

}  // namespace moat::vmm
