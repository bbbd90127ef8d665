// Building a VM from descriptors: the platform (KVM's in-kernel interrupt controllers and PIT),
// the guest's software (kernel, initrd, command line, zero page, page tables), the devices,
// the firmware tables (ACPI), and the vCPUs in their boot state.
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "boot/acpi/tables.hpp"
#include "boot/boot_params.hpp"
#include "boot/kernel.hpp"
#include "boot/memory_map.hpp"
#include "boot/x86_64/cpuid.hpp"
#include "boot/x86_64/lapic.hpp"
#include "boot/x86_64/layout.hpp"
#include "boot/x86_64/long_mode.hpp"
#include "protocol/limits.hpp"
#include "virtio/block/block_device.hpp"
#include "virtio/mmio.hpp"
#include "virtio/net/net_device.hpp"
#include "virtio/net/tap.hpp"
#include "virtio/vsock/vsock_device.hpp"
#include "protocol/host_connect.hpp"
#include "base/log.hpp"
#include "vmm/machine_state.hpp"

namespace moat::vmm {

namespace layout = boot::layout;

static_assert(protocol::k_max_vcpus <= boot::k_max_vcpus, "the protocol admits no VM the boot tables cannot describe");

Result<std::unique_ptr<IrqFd>> IrqFd::create(kvm::Vm& vm, std::uint32_t gsi)
{
    base::UniqueFd fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!fd.valid()) return fail_errno("eventfd");
    MOAT_TRY(vm.add_irqfd(fd.get(), gsi));
    return std::unique_ptr<IrqFd>(new IrqFd(std::move(fd)));
}

void IrqFd::trigger()
{
    std::uint64_t one = 1;
    // EAGAIN means the counter is saturated: the interrupt is pending anyway.
    [[maybe_unused]] auto r = ::write(m_fd.get(), &one, sizeof one);
}

namespace {

using State = Machine::State;

// Names the input a failure is about: "kernel", "initrd", "memory", "disk N".
template <typename T>
Result<T> about(Result<T> r, const char* input)
{
    if (r) return r;
    return fail(r.error().in(input));
}

// KVM's private pages (Intel), the in-kernel interrupt controllers and PIT, guest RAM.
Result<void> platform(State& s)
{
    MOAT_TRY(s.vm.set_identity_map_addr(layout::k_kvm_identity_map));
    MOAT_TRY(s.vm.set_tss_addr(layout::k_kvm_tss));
    MOAT_TRY(s.vm.create_irqchip());
    MOAT_TRY(s.vm.create_pit());
    return s.vm.map_memory(s.mem);
}

// The console, the stop eventfd, and the monitor link's report timer.
Result<void> host_side(State& s, const VmConfig& config)
{
    s.console_in = config.console_in;
    s.console_escape = config.console_escape;
    s.monitor = config.monitor;
    State* st = &s;
    s.console = std::make_unique<ConsoleOutput>(config.console_out, config.console_log, config.console_prefix,
                                                config.console_budget, [st] { if (st->monitor >= 0) st->arm_report(); });
    if (s.monitor >= 0) {  // reports go to a monitor only; a VM run alone keeps none
        s.report_timer = base::UniqueFd(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
        if (!s.report_timer.valid()) return fail_errno("timerfd_create");
    }
    s.stop_fd = base::UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!s.stop_fd.valid()) return fail_errno("eventfd");
    s.epoll = base::UniqueFd(::epoll_create1(EPOLL_CLOEXEC));
    if (!s.epoll.valid()) return fail_errno("epoll_create1");
    return {};
}

// One ioeventfd per queue keeps notifications off the vCPU threads (virtio 1.2 §4.2.2:
// QueueNotify carries the queue index). Should one still arrive as an MMIO exit (a width KVM
// did not match), the transport hands it to the event thread through the same eventfd.
Result<void> notifications(State& s, VirtioSlot& slot, std::uint64_t base)
{
    for (std::uint32_t q = 0; q < slot.transport->queue_count(); ++q) {
        base::UniqueFd fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
        if (!fd.valid()) return fail_errno("eventfd");
        MOAT_TRY(s.vm.add_ioeventfd(fd.get(), base + virtio::mmio::QueueNotify, 4, false, q));
        slot.notify.push_back(std::move(fd));
    }
    std::vector<int> fds;
    for (const auto& f : slot.notify) fds.push_back(f.get());
    slot.transport->set_notify_forwarder([fds = std::move(fds)](std::uint32_t q) {
        if (q >= fds.size()) return;
        std::uint64_t one = 1;
        [[maybe_unused]] auto r = ::write(fds[q], &one, sizeof one);
    });
    return {};
}

// Polls the device asks for (virtio::DriverNotifier::poll_later) arrive as timerfd expiries on
// the event thread, beside the notifications.
Result<void> poll_timers(VirtioSlot& slot)
{
    std::vector<int> timers;
    for (std::uint32_t q = 0; q < slot.transport->queue_count(); ++q) {
        base::UniqueFd fd(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
        if (!fd.valid()) return fail_errno("timerfd_create");
        timers.push_back(fd.get());
        slot.poll.push_back(std::move(fd));
    }
    slot.transport->set_poll_timer([timers = std::move(timers)](std::uint32_t q, std::chrono::microseconds delay) {
        if (q >= timers.size()) return false;
        // A zero it_value would disarm the timer: at least 1 us.
        const auto us = std::max<std::chrono::microseconds::rep>(delay.count(), 1);
        itimerspec t{};
        t.it_value.tv_sec = static_cast<time_t>(us / 1000000);
        t.it_value.tv_nsec = static_cast<long>(us % 1000000) * 1000;
        return ::timerfd_settime(timers[q], 0, &t, nullptr) == 0;
    });
    return {};
}

// Puts `slot` (irq and transport made) on the MMIO bus at the next window, with its notifications
// and poll timers.
Result<void> attach(State& s, VirtioSlot slot)
{
    const auto index = static_cast<std::uint32_t>(s.virtio.size());
    const std::uint64_t base = layout::k_virtio_mmio_base + index * layout::k_virtio_mmio_size;
    slot.window = std::make_unique<TransportWindow>(*slot.transport);
    MOAT_TRY(s.mmio.insert(base, layout::k_virtio_mmio_size, *slot.window));
    MOAT_TRY(notifications(s, slot, base));
    MOAT_TRY(poll_timers(slot));
    // Guest faults go to the monitor's audit log (monitor_link.cpp), at most once a minute.
    State* st = &s;
    if (s.monitor >= 0) slot.transport->set_fault_hook([st] { st->arm_report(60); });
    s.virtio.push_back(std::move(slot));
    s.device_faults.push_back(0);
    return {};
}

Result<void> add_virtio_block(State& s, DiskConfig& d)
{
    auto index = static_cast<std::uint32_t>(s.virtio.size());
    if (index >= layout::k_virtio_max_devices) return fail(Errc::InvalidInput, "too many disks");
    if (d.access == DiskAccess::ReadWrite) s.writable_disks.push_back(d.file.get());

    auto device = MOAT_TRY(virtio::block::BlockDevice::create(std::move(d.file), d.access, d.id, d.read_only));
    // Disk numbers in reports follow the configuration's order, which is the monitor's.
    const std::size_t disk = s.denied_writes.size();
    s.denied_writes.push_back(0);
    State* st = &s;
    device->set_denied_write_hook([st, disk] { st->note_denied_write(disk); });
    VirtioSlot slot;
    slot.irq = MOAT_TRY(IrqFd::create(s.vm, layout::k_virtio_irq_base + index));
    slot.transport = std::make_unique<virtio::MmioTransport>(s.mem, std::move(device), *slot.irq);
    return attach(s, std::move(slot));
}

// The vsock device: host programs through the listener, host listeners through the connector.
Result<void> add_virtio_vsock(State& s, VmConfig& config)
{
    auto index = static_cast<std::uint32_t>(s.virtio.size());
    if (index >= layout::k_virtio_max_devices) return fail(Errc::InvalidInput, "too many devices");
    VirtioSlot slot;
    slot.watcher = std::make_unique<DeviceWatcher>(s.epoll.get(), index);
    // Each connection holds a socket, and a guest connection a second one for a moment; a device
    // with no listener, connector or channel has no connection to hold, only refusals.
    if (config.vsock_listener.valid() || config.vsock_connector.valid() || !config.vsock_links.empty())
        s.spare_fds += static_cast<int>(virtio::vsock::VsockDevice::k_max_connections) + 2;
    s.vsock_connector = std::move(config.vsock_connector);
    virtio::vsock::VsockDevice::Connector connect;
    if (s.vsock_connector.valid()) {
        connect = [fd = s.vsock_connector.get()](std::uint64_t cid, std::uint32_t port) {
            if (cid != virtio::vsock::VMADDR_CID_HOST) return base::UniqueFd();
            auto r = protocol::connect_through(fd, port);
            return r ? std::move(*r) : base::UniqueFd();
        };
    }
    auto device = MOAT_TRY(virtio::vsock::VsockDevice::create(config.vsock_cid, std::move(config.vsock_listener),
                                                              *slot.watcher, std::move(connect),
                                                              std::move(config.vsock_links)));
    State* st = &s;
    device->set_refused_hook([st](std::uint64_t cid, std::uint32_t port) {
        MOAT_LOG_RATELIMITED(Info, "vsock: the guest's connection to CID %llu port %u was refused",
                             static_cast<unsigned long long>(cid), port);
        st->note_refused_connection(cid, port);
    });
    slot.irq = MOAT_TRY(IrqFd::create(s.vm, layout::k_virtio_irq_base + index));
    slot.transport = std::make_unique<virtio::MmioTransport>(s.mem, std::move(device), *slot.irq);
    return attach(s, std::move(slot));
}

// A virtio-net device on its tap, which the device watches for frames.
Result<void> add_virtio_net(State& s, VmConfig::Net& n)
{
    auto index = static_cast<std::uint32_t>(s.virtio.size());
    if (index >= layout::k_virtio_max_devices) return fail(Errc::InvalidInput, "too many devices");
    VirtioSlot slot;
    slot.watcher = std::make_unique<DeviceWatcher>(s.epoll.get(), index);
    const int tap = n.tap.get();
    auto device = MOAT_TRY(virtio::net::NetDevice::create(std::move(n.tap), n.mac, *slot.watcher,
                                                          [tap](std::uint64_t features) {
                                                              return virtio::net::set_offloads(tap, features);
                                                          }));
    slot.irq = MOAT_TRY(IrqFd::create(s.vm, layout::k_virtio_irq_base + index));
    slot.transport = std::make_unique<virtio::MmioTransport>(s.mem, std::move(device), *slot.irq);
    return attach(s, std::move(slot));
}

// A container's three more serial ports (vmm/container.hpp): COM2 carries control lines, COM3
// the workload's stderr, COM4 the kernel's console (kept only with -v).
Result<void> container_ports(State& s, VmConfig& config)
{
    State* st = &s;
    s.control_irq = MOAT_TRY(IrqFd::create(s.vm, layout::k_com2_irq));
    s.stderr_irq = MOAT_TRY(IrqFd::create(s.vm, layout::k_com3_irq));
    s.kernel_irq = MOAT_TRY(IrqFd::create(s.vm, layout::k_com4_irq));
    s.container = std::make_unique<ContainerLink>(std::move(config.ready), std::move(config.start),
                                                  [st](const std::string& broken) {
                                                      if (!broken.empty()) MOAT_LOG(Error, "%s", broken.c_str());
                                                      st->request_stop({ExitReason::PowerOff, 0, broken});
                                                  });
    s.stderr_out = std::make_unique<ConsoleOutput>(config.console_err, -1, "");
    s.kernel_out = std::make_unique<ConsoleOutput>(config.kernel_console ? config.console_err : -1, -1, "");
    s.control_port = std::make_unique<devices::Serial>([st](std::uint8_t c) { st->container->on_control_byte(c); },
                                                       [st] { st->control_irq->trigger(); });
    s.stderr_port = std::make_unique<devices::Serial>([st](std::uint8_t c) { st->stderr_out->put(c); },
                                                      [st] { st->stderr_irq->trigger(); });
    s.kernel_port = std::make_unique<devices::Serial>([st](std::uint8_t c) { st->kernel_out->put(c); },
                                                      [st] { st->kernel_irq->trigger(); });
    MOAT_TRY(s.pio.insert(layout::k_com2, 8, *s.control_port));
    MOAT_TRY(s.pio.insert(layout::k_com3, 8, *s.stderr_port));
    return s.pio.insert(layout::k_com4, 8, *s.kernel_port);
}

// The serial port, the i8042 (reset), the ACPI sleep register (power off), one virtio-blk per
// disk, a virtio-vsock if asked for, one virtio-net per tap. Callbacks hold a pointer to the heap-allocated State, which outlives them.
Result<void> devices(State& s, VmConfig& config)
{
    State* st = &s;
    s.serial_irq = MOAT_TRY(IrqFd::create(s.vm, layout::k_com1_irq));
    s.serial = std::make_unique<devices::Serial>([st](std::uint8_t c) { st->console->put(c); },
                                                 [st] { st->serial_irq->trigger(); });
    s.i8042 = std::make_unique<devices::I8042>([st] { st->request_stop({ExitReason::Reset, 0, {}}); });
    s.sleep = std::make_unique<devices::AcpiSleep>(layout::k_s5_sleep_type,
                                                   [st] { st->request_stop({ExitReason::PowerOff, 0, {}}); });
    MOAT_TRY(s.pio.insert(layout::k_com1, 8, *s.serial));
    MOAT_TRY(s.pio.insert(layout::k_i8042_data, layout::k_i8042_command - layout::k_i8042_data + 1, *s.i8042));
    MOAT_TRY(s.pio.insert(layout::k_acpi_sleep_control, 2, *s.sleep));
    if (config.container) MOAT_TRY(container_ports(s, config));
    for (std::size_t i = 0; i < config.disks.size(); ++i) {
        if (auto r = add_virtio_block(s, config.disks[i]); !r) return fail(r.error().in("disk " + std::to_string(i)));
    }
    if (config.vsock_cid != 0) {
        if (auto r = add_virtio_vsock(s, config); !r) return fail(r.error().in("vsock"));
    }
    for (std::size_t i = 0; i < config.nets.size(); ++i) {
        if (auto r = add_virtio_net(s, config.nets[i]); !r) return fail(r.error().in("net " + std::to_string(i)));
    }
    return {};
}

// ACPI (the CPUs, interrupt controllers and virtio-mmio devices), then the zero page that
// points at it and the page tables. The command line must fit the kernel's limit.
Result<void> firmware(State& s, const VmConfig& config, const boot::LoadedKernel& kernel,
                      const std::optional<boot::InitrdPlacement>& initrd)
{
    boot::acpi::Config acpi{config.vcpus, {}};
    if (config.container)
        acpi.uarts = {{layout::k_com2, layout::k_com2_irq}, {layout::k_com3, layout::k_com3_irq},
                      {layout::k_com4, layout::k_com4_irq}};
    for (std::uint32_t i = 0; i < s.virtio.size(); ++i)
        acpi.virtio.push_back({layout::k_virtio_mmio_base + i * layout::k_virtio_mmio_size,
                               static_cast<std::uint32_t>(layout::k_virtio_mmio_size), layout::k_virtio_irq_base + i});
    auto tables = MOAT_TRY(boot::acpi::build_tables(acpi, layout::k_acpi_start, layout::k_acpi_end));
    MOAT_TRY(s.mem.write(memory::GuestAddress(layout::k_acpi_start), tables.bytes));
    MOAT_TRY(about(boot::write_boot_params(s.mem, kernel, config.cmdline, initrd, config.mem_bytes, tables.rsdp_addr),
                   "kernel"));
    return boot::write_long_mode_tables(s.mem);
}

// CPUID, MSRs, FPU and the local APIC's wiring for every vCPU; registers for the boot vCPU
// (application processors wait for INIT/SIPI in the kernel).
Result<void> setup_vcpu(State& s, kvm::Vcpu& v, const std::vector<kvm_cpuid_entry2>& supported,
                        const boot::LoadedKernel& kernel)
{
    auto cpuid = supported;
    boot::filter_cpuid(cpuid, v.id(), static_cast<std::uint32_t>(s.vcpus.size()));
    MOAT_TRY(v.set_cpuid(cpuid));
    MOAT_TRY(v.set_msrs(boot::boot_msrs()));
    MOAT_TRY(v.set_fpu(boot::boot_fpu()));
    auto lapic = MOAT_TRY(v.get_lapic());
    boot::wire_lint_pins(lapic);
    MOAT_TRY(v.set_lapic(lapic));

    if (v.id() != 0) return {};
    auto sregs = MOAT_TRY(v.get_sregs());
    if (kernel.mode == boot::EntryMode::Protected32) boot::setup_protected_mode_sregs(sregs);
    else boot::setup_long_mode_sregs(sregs);
    MOAT_TRY(v.set_sregs(sregs));
    return v.set_regs(boot::boot_regs(kernel.entry));
}

}  // namespace

Result<Machine> Machine::build(VmConfig config)
{
    auto kvm = MOAT_TRY(kvm::Kvm::from_fd(std::move(config.kvm)));
    if (config.vcpus == 0 || config.vcpus > kvm.max_vcpus()) return fail(Errc::InvalidInput, "vCPU count");
    auto vm = MOAT_TRY(kvm.create_vm());
    auto mem = MOAT_TRY(about(memory::GuestMemory::create(boot::ram_regions(config.mem_bytes)), "memory"));
    auto s = std::make_unique<State>(std::move(kvm), std::move(vm), std::move(mem));
    MOAT_TRY(host_side(*s, config));
    MOAT_TRY(platform(*s));

    auto kernel = MOAT_TRY(about(boot::load_kernel(s->mem, config.kernel.get()), "kernel"));
    std::optional<boot::InitrdPlacement> initrd;
    if (config.initrd.valid()) {
        const std::uint64_t low_end = boot::low_ram_end(config.mem_bytes);
        initrd = MOAT_TRY(about(boot::load_initrd(s->mem, config.initrd.get(), kernel, low_end), "initrd"));
    }
    config.kernel.reset();
    config.initrd.reset();

    MOAT_TRY(devices(*s, config));
    MOAT_TRY(firmware(*s, config, kernel, initrd));

    for (std::uint32_t i = 0; i < config.vcpus; ++i) s->vcpus.push_back(MOAT_TRY(s->vm.create_vcpu(i)));
    auto supported = MOAT_TRY(s->kvm.supported_cpuid());
    for (auto& v : s->vcpus) MOAT_TRY(setup_vcpu(*s, v, supported, kernel));
    s->vcpu_filter = std::move(config.vcpu_filter);
    s->vmm_filter = std::move(config.vmm_filter);
    return Machine(std::move(s));
}

Machine::Machine(std::unique_ptr<State> s) : m_state(std::move(s)) {}
Machine::Machine(Machine&&) noexcept = default;
Machine& Machine::operator=(Machine&&) noexcept = default;
Machine::~Machine() = default;

}  // namespace moat::vmm
