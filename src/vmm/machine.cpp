// Builds one VM from descriptors and runs it: vCPU threads dispatch port and MMIO exits to
// the buses; the calling thread runs the event loop (console input, queue notifications
// through ioeventfd, stop requests, SIGINT/SIGTERM).
#include "vmm/machine.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <optional>

#include "base/log.hpp"
#include "boot/acpi/tables.hpp"
#include "boot/boot_params.hpp"
#include "boot/kernel.hpp"
#include "boot/memory_map.hpp"
#include "boot/x86_64/cpuid.hpp"
#include "boot/x86_64/layout.hpp"
#include "boot/x86_64/long_mode.hpp"
#include "devices/bus.hpp"
#include "devices/i8042.hpp"
#include "devices/serial.hpp"
#include "kvm/kvm.hpp"
#include "memory/guest_memory.hpp"
#include "protocol/fdpass.hpp"
#include "protocol/report.hpp"
#include "virtio/block/block_device.hpp"
#include "virtio/mmio.hpp"
#include "vmm/console.hpp"

namespace moat::vmm {

namespace layout = boot::layout;

const char* to_string(ExitReason r)
{
    switch (r) {
    case ExitReason::PowerOff: return "power off";
    case ExitReason::Reset: return "reset";
    case ExitReason::TripleFault: return "triple fault";
    case ExitReason::InternalError: return "KVM internal error";
    case ExitReason::Signal: return "signal";
    case ExitReason::UserQuit: return "quit from the console";
    case ExitReason::HostError: return "host error";
    }
    return "?";
}

namespace {

// The signal that kicks a vCPU thread out of KVM_RUN. Its handler does nothing: the point is
// the EINTR.
int kick_signal() { return SIGRTMIN; }
void on_kick(int) {}

// An edge-triggered interrupt: a write to an eventfd that KVM turned into an irqfd.
class IrqFd final : public virtio::InterruptLine {
public:
    static Result<std::unique_ptr<IrqFd>> create(kvm::Vm& vm, std::uint32_t gsi)
    {
        base::UniqueFd fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
        if (!fd.valid()) return fail_errno("eventfd");
        MOAT_TRY(vm.add_irqfd(fd.get(), gsi));
        return std::unique_ptr<IrqFd>(new IrqFd(std::move(fd)));
    }
    void trigger() override
    {
        std::uint64_t one = 1;
        // EAGAIN means the counter is saturated: the interrupt is pending anyway.
        [[maybe_unused]] auto r = ::write(m_fd.get(), &one, sizeof one);
    }

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

// epoll tags: the kind in the high half, an index in the low half.
enum class Tag : std::uint32_t { Stop = 1, Signal, Console, Notify, Monitor, ReportTimer, Poll };
std::uint64_t tag(Tag t, std::uint32_t index = 0)
{
    return (std::uint64_t{static_cast<std::uint32_t>(t)} << 32) | index;
}

}  // namespace

struct VirtioSlot {
    std::unique_ptr<IrqFd> irq;
    std::unique_ptr<virtio::MmioTransport> transport;
    std::unique_ptr<TransportWindow> window;
    std::vector<base::UniqueFd> notify;  // one ioeventfd per queue
    std::vector<base::UniqueFd> poll;    // one timerfd per queue: polls the device asked for
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
    std::vector<VirtioSlot> virtio;
    std::vector<int> writable_disks;  // not owned: flushed once more when the VM ends
    int console_in = -1;
    bool console_escape = false;
    std::unique_ptr<ConsoleOutput> console;
    base::UniqueFd console_client;  // input side of an attached console client
    int monitor = -1;
    // Refused writes per disk not yet reported; the event thread only. A report goes out at
    // most once per k_report_interval, so a guest hammering a read-only disk costs the monitor
    // one audit record per burst.
    std::vector<std::uint64_t> denied_writes;
    base::UniqueFd report_timer;
    bool report_armed = false;
    base::UniqueFd stop_fd;
    std::atomic<bool> stopping{false};
    std::mutex exit_lock;
    std::optional<VmExit> exit;  // guarded by exit_lock; the first reason wins

    State(kvm::Kvm k, kvm::Vm v, memory::GuestMemory m) : kvm(std::move(k)), vm(std::move(v)), mem(std::move(m)) {}

    // Any thread: records why the VM ends (first caller wins) and wakes the event loop.
    void request_stop(VmExit e)
    {
        {
            std::lock_guard g(exit_lock);
            if (!exit) exit = std::move(e);
        }
        stopping.store(true, std::memory_order_release);
        std::uint64_t one = 1;
        [[maybe_unused]] auto r = ::write(stop_fd.get(), &one, sizeof one);
    }

    void note_denied_write(std::size_t disk)
    {
        if (monitor < 0) return;
        ++denied_writes[disk];
        if (report_armed) return;
        itimerspec in{};
        in.it_value.tv_sec = 1;
        if (::timerfd_settime(report_timer.get(), 0, &in, nullptr) == 0) report_armed = true;
    }

    void send_reports()
    {
        report_armed = false;
        for (std::size_t d = 0; d < denied_writes.size(); ++d) {
            if (denied_writes[d] == 0 || monitor < 0) continue;
            const protocol::Report r{static_cast<std::uint32_t>(protocol::ReportKind::DeniedWrite), static_cast<std::uint32_t>(d),
                           denied_writes[d]};
            ssize_t n;
            do {
                n = ::send(monitor, &r, sizeof r, MSG_NOSIGNAL);
            } while (n < 0 && errno == EINTR);
            if (n != static_cast<ssize_t>(sizeof r))
                MOAT_LOG_RATELIMITED(Warn, "report to the monitor failed: %s", std::strerror(errno));
            denied_writes[d] = 0;
        }
    }
};

namespace {

Result<void> setup_vcpu(Machine::State& s, kvm::Vcpu& v, const std::vector<kvm_cpuid_entry2>& supported,
                        const boot::LoadedKernel& kernel)
{
    auto cpuid = supported;
    boot::filter_cpuid(cpuid, v.id(), static_cast<std::uint32_t>(s.vcpus.size()));
    MOAT_TRY(v.set_cpuid(cpuid));
    MOAT_TRY(v.set_msrs(boot::boot_msrs()));
    MOAT_TRY(v.set_fpu(boot::boot_fpu()));

    // Local APIC: LINT0 as ExtINT and LINT1 as NMI, the wiring of a PC (Intel SDM 10.5.1).
    auto lapic = MOAT_TRY(v.get_lapic());
    auto set_lvt = [&](std::size_t reg, std::uint32_t mode) {
        std::uint32_t val;
        std::memcpy(&val, &lapic.regs[reg], sizeof val);
        val = (val & ~0x700u) | (mode << 8);
        std::memcpy(&lapic.regs[reg], &val, sizeof val);
    };
    set_lvt(0x350, 0x7);  // LVT LINT0: ExtINT
    set_lvt(0x360, 0x4);  // LVT LINT1: NMI
    MOAT_TRY(v.set_lapic(lapic));

    if (v.id() != 0) return {};  // application processors wait for INIT/SIPI in the kernel
    auto sregs = MOAT_TRY(v.get_sregs());
    if (kernel.mode == boot::EntryMode::Protected32) boot::setup_protected_mode_sregs(sregs);
    else boot::setup_long_mode_sregs(sregs);
    MOAT_TRY(v.set_sregs(sregs));
    MOAT_TRY(v.set_regs(boot::boot_regs(kernel.entry)));
    return {};
}

Result<void> add_virtio_block(Machine::State& s, DiskConfig& d)
{
    auto index = static_cast<std::uint32_t>(s.virtio.size());
    if (index >= layout::k_virtio_max_devices) return fail(Errc::InvalidInput, "too many disks");
    const std::uint64_t base = layout::k_virtio_mmio_base + index * layout::k_virtio_mmio_size;
    if (d.access == DiskAccess::ReadWrite) s.writable_disks.push_back(d.file.get());

    auto device = MOAT_TRY(virtio::block::BlockDevice::create(
        std::move(d.file),
        d.access, d.id, d.read_only));
    // Disk numbers in reports follow the configuration's order, which is the monitor's.
    const std::size_t disk = s.denied_writes.size();
    s.denied_writes.push_back(0);
    Machine::State* st = &s;
    device->set_denied_write_hook([st, disk] { st->note_denied_write(disk); });
    VirtioSlot slot;
    slot.irq = MOAT_TRY(IrqFd::create(s.vm, layout::k_virtio_irq_base + index));
    slot.transport = std::make_unique<virtio::MmioTransport>(s.mem, std::move(device), *slot.irq);
    slot.window = std::make_unique<TransportWindow>(*slot.transport);
    MOAT_TRY(s.mmio.insert(base, layout::k_virtio_mmio_size, *slot.window));

    // virtio 1.2 §4.2.2: QueueNotify at offset 0x50 carries the queue index; one ioeventfd per
    // queue keeps notifications off the vCPU threads.
    for (std::uint32_t q = 0; q < slot.transport->queue_count(); ++q) {
        base::UniqueFd fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
        if (!fd.valid()) return fail_errno("eventfd");
        MOAT_TRY(s.vm.add_ioeventfd(fd.get(), base + 0x50, 4, false, q));
        slot.notify.push_back(std::move(fd));
    }
    // Should a notification still arrive as an MMIO exit (a width KVM did not match), hand it
    // to the event thread through the same eventfd.
    std::vector<int> fds;
    for (const auto& f : slot.notify) fds.push_back(f.get());
    slot.transport->set_notify_forwarder([fds = std::move(fds)](std::uint32_t q) {
        if (q >= fds.size()) return;
        std::uint64_t one = 1;
        [[maybe_unused]] auto r = ::write(fds[q], &one, sizeof one);
    });
    // Polls the device asks for (virtio::DriverNotifier::poll_later) arrive as timerfd expiries
    // on the event thread, beside the notifications.
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
    s.virtio.push_back(std::move(slot));
    return {};
}

}  // namespace

Result<Machine> Machine::build(VmConfig config, std::string* failed_input)
{
    auto blame = [failed_input](std::string what) {
        if (failed_input) *failed_input = std::move(what);
    };
    blame("");
    auto kvm = MOAT_TRY(kvm::Kvm::from_fd(std::move(config.kvm)));
    if (config.vcpus == 0 || config.vcpus > kvm.max_vcpus()) return fail(Errc::InvalidInput, "vCPU count");
    auto vm = MOAT_TRY(kvm.create_vm());
    auto regions = boot::ram_regions(config.mem_bytes);
    blame("memory");
    auto mem = MOAT_TRY(memory::GuestMemory::create(regions));
    blame("");
    auto s = std::make_unique<State>(std::move(kvm), std::move(vm), std::move(mem));
    s->console_in = config.console_in;
    s->console_escape = config.console_escape;
    s->console = std::make_unique<ConsoleOutput>(config.console_out, config.console_log, config.console_prefix);
    s->monitor = config.monitor;
    if (s->monitor >= 0) {  // reports go to a monitor only; a VM run alone keeps none
        s->report_timer = base::UniqueFd(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
        if (!s->report_timer.valid()) return fail_errno("timerfd_create");
    }
    s->stop_fd = base::UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!s->stop_fd.valid()) return fail_errno("eventfd");

    // Platform: KVM's private pages (Intel), in-kernel interrupt controllers and PIT.
    MOAT_TRY(s->vm.set_identity_map_addr(layout::k_kvm_identity_map));
    MOAT_TRY(s->vm.set_tss_addr(layout::k_kvm_tss));
    MOAT_TRY(s->vm.create_irqchip());
    MOAT_TRY(s->vm.create_pit());
    MOAT_TRY(s->vm.map_memory(s->mem));

    // Guest software: kernel, initrd, command line and zero page, page tables.
    blame("kernel");
    auto kernel = MOAT_TRY(boot::load_kernel(s->mem, config.kernel.get()));
    std::optional<boot::InitrdPlacement> initrd;
    if (config.initrd.valid()) {
        blame("initrd");
        const std::uint64_t low_end = boot::low_ram_end(config.mem_bytes);
        initrd = MOAT_TRY(boot::load_initrd(s->mem, config.initrd.get(), kernel, low_end));
    }
    blame("");
    config.kernel.reset();
    config.initrd.reset();

    // Devices. Callbacks hold a pointer to the heap-allocated State, which outlives them.
    State* st = s.get();
    s->serial_irq = MOAT_TRY(IrqFd::create(s->vm, layout::k_com1_irq));
    s->serial = std::make_unique<devices::Serial>([st](std::uint8_t c) { st->console->put(c); },
                                                  [st] { st->serial_irq->trigger(); });
    s->i8042 = std::make_unique<devices::I8042>([st] { st->request_stop({ExitReason::Reset, 0, {}}); });
    s->sleep = std::make_unique<devices::AcpiSleep>(layout::k_s5_sleep_type,
                                                    [st] { st->request_stop({ExitReason::PowerOff, 0, {}}); });
    MOAT_TRY(s->pio.insert(layout::k_com1, 8, *s->serial));
    MOAT_TRY(s->pio.insert(layout::k_i8042_data, layout::k_i8042_command - layout::k_i8042_data + 1, *s->i8042));
    MOAT_TRY(s->pio.insert(layout::k_acpi_sleep_control, 2, *s->sleep));
    for (std::size_t i = 0; i < config.disks.size(); ++i) {
        blame("disk " + std::to_string(i));
        MOAT_TRY(add_virtio_block(*s, config.disks[i]));
    }
    blame("");

    // ACPI describes the CPUs, interrupt controllers and virtio-mmio devices.
    boot::acpi::Config acpi{config.vcpus, {}};
    for (std::uint32_t i = 0; i < s->virtio.size(); ++i)
        acpi.virtio.push_back({layout::k_virtio_mmio_base + i * layout::k_virtio_mmio_size,
                               static_cast<std::uint32_t>(layout::k_virtio_mmio_size), layout::k_virtio_irq_base + i});
    auto tables = MOAT_TRY(boot::acpi::build_tables(acpi, layout::k_acpi_start, layout::k_acpi_end));
    MOAT_TRY(s->mem.write(memory::GuestAddress(layout::k_acpi_start), tables.bytes));
    blame("kernel");  // the command line must fit the kernel's limit
    MOAT_TRY(boot::write_boot_params(s->mem, kernel, config.cmdline, initrd, config.mem_bytes, tables.rsdp_addr));
    blame("");
    MOAT_TRY(boot::write_long_mode_tables(s->mem));

    // vCPUs.
    for (std::uint32_t i = 0; i < config.vcpus; ++i) s->vcpus.push_back(MOAT_TRY(s->vm.create_vcpu(i)));
    auto supported = MOAT_TRY(s->kvm.supported_cpuid());
    for (auto& v : s->vcpus) MOAT_TRY(setup_vcpu(*s, v, supported, kernel));

    return Machine(std::move(s));
}

Machine::Machine(std::unique_ptr<State> s) : m_state(std::move(s)) {}
Machine::Machine(Machine&&) noexcept = default;
Machine& Machine::operator=(Machine&&) noexcept = default;
Machine::~Machine() = default;

namespace {

std::string register_dump(const kvm::Vcpu& v)
{
    char buf[512];
    auto regs = v.get_regs();
    auto sregs = v.get_sregs();
    if (!regs || !sregs) return "registers unavailable";
    const auto& r = *regs;
    const auto& sr = *sregs;
    std::snprintf(buf, sizeof buf,
                  "vcpu %u: rip=0x%llx rsp=0x%llx rflags=0x%llx rax=0x%llx rbx=0x%llx rcx=0x%llx "
                  "rdx=0x%llx cr0=0x%llx cr3=0x%llx cr4=0x%llx efer=0x%llx cs=0x%x",
                  v.id(), r.rip, r.rsp, r.rflags, r.rax, r.rbx, r.rcx, r.rdx, sr.cr0, sr.cr3, sr.cr4, sr.efer,
                  sr.cs.selector);
    return buf;
}

void handle_io(Machine::State& s, kvm::Vcpu& v)
{
    const auto& io = v.run_state().io;
    auto data = v.io_data();
    const std::size_t size = io.size;
    if (size == 0 || data.size() != size * io.count) return;
    for (std::size_t off = 0; off < data.size(); off += size) {
        auto chunk = data.subspan(off, size);
        if (io.direction == KVM_EXIT_IO_IN) {
            if (!s.pio.read(io.port, chunk)) {
                for (auto& b : chunk) b = std::byte{0xff};
                MOAT_LOG_RATELIMITED(Debug, "read from unassigned port 0x%x", io.port);
            }
        } else if (!s.pio.write(io.port, chunk) && io.port != 0x80) {  // 0x80: POST/delay port
            MOAT_LOG_RATELIMITED(Debug, "write to unassigned port 0x%x dropped", io.port);
        }
    }
}

void handle_mmio(Machine::State& s, kvm::Vcpu& v)
{
    const auto& m = v.run_state().mmio;
    auto data = v.mmio_data();
    if (m.is_write) {
        if (!s.mmio.write(m.phys_addr, data))
            MOAT_LOG_RATELIMITED(Debug, "write to unassigned MMIO 0x%" PRIx64 " dropped",
                                 static_cast<std::uint64_t>(m.phys_addr));
    } else if (!s.mmio.read(m.phys_addr, data)) {
        for (auto& b : data) b = std::byte{0xff};
        MOAT_LOG_RATELIMITED(Debug, "read from unassigned MMIO 0x%" PRIx64,
                             static_cast<std::uint64_t>(m.phys_addr));
    }
}

void vcpu_loop(Machine::State& s, kvm::Vcpu& v)
{
    while (!s.stopping.load(std::memory_order_acquire)) {
        if (auto r = v.run(); !r) {
            s.request_stop({ExitReason::HostError, 0, std::string("KVM_RUN: ") + std::strerror(r.error().sys_errno)});
            return;
        }
        const kvm_run& run = v.run_state();
        switch (run.exit_reason) {
        case KVM_EXIT_IO: handle_io(s, v); break;
        case KVM_EXIT_MMIO: handle_mmio(s, v); break;
        case KVM_EXIT_INTR: break;
        case KVM_EXIT_SHUTDOWN:
            s.request_stop({ExitReason::TripleFault, 0, register_dump(v)});
            return;
        case KVM_EXIT_SYSTEM_EVENT:
            s.request_stop({run.system_event.type == KVM_SYSTEM_EVENT_RESET ? ExitReason::Reset : ExitReason::PowerOff,
                            0, {}});
            return;
        case KVM_EXIT_HLT:
            // With the in-kernel LAPIC, hlt does not exit; seeing one means the platform is off.
            s.request_stop({ExitReason::InternalError, 0, "unexpected hlt exit; " + register_dump(v)});
            return;
        case KVM_EXIT_INTERNAL_ERROR: {
            char what[64];
            std::snprintf(what, sizeof what, "suberror %u; ", run.internal.suberror);
            s.request_stop({ExitReason::InternalError, 0, what + register_dump(v)});
            return;
        }
        case KVM_EXIT_FAIL_ENTRY: {
            char what[96];
            std::snprintf(what, sizeof what, "entry failed, hardware reason 0x%llx; ",
                          static_cast<unsigned long long>(run.fail_entry.hardware_entry_failure_reason));
            s.request_stop({ExitReason::InternalError, 0, what + register_dump(v)});
            return;
        }
        default: {
            char what[48];
            std::snprintf(what, sizeof what, "unhandled exit reason %u; ", run.exit_reason);
            s.request_stop({ExitReason::InternalError, 0, what + register_dump(v)});
            return;
        }
        }
    }
}

// Console input: forwards bytes to the UART, watching for Ctrl-A x when interactive. Bytes
// the UART cannot take yet wait in `pending`.
struct ConsoleInput {
    std::vector<std::uint8_t> pending;
    bool escape = false;
    bool open = true;

    // Returns false when the user asked to quit. An attached client handles its own escape.
    bool feed(Machine::State& s, std::span<const std::uint8_t> bytes, bool escapes)
    {
        for (std::uint8_t c : bytes) {
            if (escapes && escape) {
                escape = false;
                if (c == 'x' || c == 'X') return false;
                if (c != 0x01) continue;  // Ctrl-A Ctrl-A sends one Ctrl-A
            } else if (escapes && c == 0x01) {
                escape = true;
                continue;
            }
            pending.push_back(c);
        }
        flush(s);
        return true;
    }
    void flush(Machine::State& s)
    {
        std::size_t n = s.serial->enqueue_input(pending);
        pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(n));
    }
};

// A message from the monitor: a console client to attach (one descriptor). Anything else is
// dropped; the monitor is trusted, so a bad message is a bug to log, not an attack.
template <typename Watch, typename Unwatch>
void attach_from_monitor(Machine::State& s, Watch watch, Unwatch unwatch)
{
    auto msg = protocol::recv_message(s.monitor, sizeof(protocol::Report));
    if (msg && msg->payload.empty()) {
        unwatch(s.monitor);  // the monitor went away; the VM runs on
        s.monitor = -1;
        return;
    }
    protocol::Report r{};
    if (msg && msg->payload.size() == sizeof r) std::memcpy(&r, msg->payload.data(), sizeof r);
    if (!msg || msg->payload.size() != sizeof r ||
        r.kind != static_cast<std::uint32_t>(protocol::ReportKind::AttachConsole) || msg->fds.size() != 1) {
        MOAT_LOG_RATELIMITED(Warn, "unexpected message from the monitor dropped");
        return;
    }
    base::UniqueFd fd = std::move(msg->fds[0]);
    base::UniqueFd out(::fcntl(fd.get(), F_DUPFD_CLOEXEC, 0));
    if (!out.valid()) return;
    if (s.console_client.valid()) unwatch(s.console_client.get());
    s.console_client = std::move(fd);
    s.console->attach(std::move(out));
    if (!watch(s.console_client.get())) s.console_client.reset();
}

}  // namespace

VmExit Machine::run()
{
    State& s = *m_state;

    // SIGINT and SIGTERM arrive through a signalfd; vCPU threads inherit the blocked mask.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGHUP);
    sigset_t old_mask;
    pthread_sigmask(SIG_BLOCK, &stop_signals, &old_mask);
    base::UniqueFd sig_fd(::signalfd(-1, &stop_signals, SFD_CLOEXEC | SFD_NONBLOCK));
    struct sigaction kick {};
    kick.sa_handler = on_kick;  // no SA_RESTART: KVM_RUN must return EINTR
    sigemptyset(&kick.sa_mask);
    ::sigaction(kick_signal(), &kick, nullptr);

    base::UniqueFd ep(::epoll_create1(EPOLL_CLOEXEC));
    auto watch = [&](int fd, std::uint64_t t) {
        epoll_event e{};
        e.events = EPOLLIN;
        e.data.u64 = t;
        return ::epoll_ctl(ep.get(), EPOLL_CTL_ADD, fd, &e) == 0;
    };
    bool watched = ep.valid() && sig_fd.valid() && watch(s.stop_fd.get(), tag(Tag::Stop)) &&
                   watch(sig_fd.get(), tag(Tag::Signal));
    // An unwatched notification or poll timer would leave the guest's requests unserved for good.
    for (std::uint32_t d = 0; d < s.virtio.size(); ++d) {
        for (std::uint32_t q = 0; q < s.virtio[d].notify.size(); ++q)
            watched = watched && watch(s.virtio[d].notify[q].get(), tag(Tag::Notify, (d << 16) | q));
        for (std::uint32_t q = 0; q < s.virtio[d].poll.size(); ++q)
            watched = watched && watch(s.virtio[d].poll[q].get(), tag(Tag::Poll, (d << 16) | q));
    }
    if (!watched) {
        pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
        return {ExitReason::HostError, 0, std::string("event loop setup: ") + std::strerror(errno)};
    }
    ConsoleInput console;
    console.open = s.console_in >= 0 && watch(s.console_in, tag(Tag::Console));
    if (s.monitor >= 0) {
        watch(s.monitor, tag(Tag::Monitor));
        watch(s.report_timer.get(), tag(Tag::ReportTimer));
    }

    // vCPU threads get a 256 KiB stack: too small to hold a 2 MiB huge page, which a default
    // 8 MiB stack acquires on first touch where transparent huge pages are "always".
    struct VcpuArg {
        State* s;
        kvm::Vcpu* v;
    };
    std::vector<VcpuArg> args;
    for (auto& v : s.vcpus) args.push_back({&s, &v});
    std::vector<pthread_t> threads;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, std::size_t{256} << 10);
    for (auto& a : args) {
        pthread_t t;
        auto body = [](void* p) -> void* {
            auto* arg = static_cast<VcpuArg*>(p);
            vcpu_loop(*arg->s, *arg->v);
            return nullptr;
        };
        if (pthread_create(&t, &attr, body, &a) != 0) {
            s.request_stop({ExitReason::HostError, 0, "cannot start a vCPU thread"});
            break;
        }
        threads.push_back(t);
    }
    pthread_attr_destroy(&attr);

    std::array<epoll_event, 16> events;
    while (!s.stopping.load(std::memory_order_acquire)) {
        // Input the UART could not take yet is retried every few milliseconds.
        int timeout = console.pending.empty() ? -1 : 5;
        int n = ::epoll_wait(ep.get(), events.data(), static_cast<int>(events.size()), timeout);
        if (n < 0 && errno != EINTR) {
            s.request_stop({ExitReason::HostError, 0, std::string("epoll_wait: ") + std::strerror(errno)});
            break;
        }
        if (!console.pending.empty()) console.flush(s);
        for (int i = 0; i < n; ++i) {
            const std::uint64_t t = events[static_cast<std::size_t>(i)].data.u64;
            const auto kind = static_cast<Tag>(t >> 32);
            const auto index = static_cast<std::uint32_t>(t);
            if (kind == Tag::Notify) {
                auto& slot = s.virtio[index >> 16];
                std::uint64_t count;
                if (::read(slot.notify[index & 0xffff].get(), &count, sizeof count) == sizeof count)
                    slot.transport->notify(index & 0xffff);
            } else if (kind == Tag::Poll) {
                auto& slot = s.virtio[index >> 16];
                std::uint64_t expiries;
                // EAGAIN: the device re-armed the timer since it fired; the new expiry will come.
                if (::read(slot.poll[index & 0xffff].get(), &expiries, sizeof expiries) == sizeof expiries)
                    slot.transport->poll(index & 0xffff);
            } else if (kind == Tag::Console) {
                if (!console.pending.empty()) continue;  // back-pressure: the UART is full
                const bool client = index == 1;
                const int fd = client ? s.console_client.get() : s.console_in;
                std::array<std::uint8_t, 256> buf;
                ssize_t got = ::read(fd, buf.data(), buf.size());
                if (got <= 0 && !(got < 0 && (errno == EINTR || errno == EAGAIN))) {
                    ::epoll_ctl(ep.get(), EPOLL_CTL_DEL, fd, nullptr);  // EOF: no more input
                    if (client) {
                        s.console->detach();
                        s.console_client.reset();
                    } else {
                        console.open = false;
                    }
                } else if (got > 0 && !console.feed(s, std::span(buf.data(), static_cast<std::size_t>(got)),
                                                    !client && s.console_escape)) {
                    s.request_stop({ExitReason::UserQuit, 0, {}});
                }
            } else if (kind == Tag::Monitor) {
                attach_from_monitor(s, [&](int fd) { return watch(fd, tag(Tag::Console, 1)); },
                                    [&](int fd) { ::epoll_ctl(ep.get(), EPOLL_CTL_DEL, fd, nullptr); });
            } else if (kind == Tag::ReportTimer) {
                std::uint64_t ticks;
                if (::read(s.report_timer.get(), &ticks, sizeof ticks) == sizeof ticks) s.send_reports();
            } else if (kind == Tag::Signal) {
                signalfd_siginfo si{};
                if (::read(sig_fd.get(), &si, sizeof si) == sizeof si)
                    s.request_stop({ExitReason::Signal, static_cast<int>(si.ssi_signo), {}});
            }
        }
    }

    // Stop every vCPU: immediate_exit covers a thread about to enter KVM_RUN, the signal one
    // already inside it.
    for (std::size_t i = 0; i < threads.size(); ++i) {
        s.vcpus[i].request_immediate_exit();
        pthread_kill(threads[i], kick_signal());
    }
    for (pthread_t t : threads) pthread_join(t, nullptr);
    for (int fd : s.writable_disks) ::fdatasync(fd);
    s.send_reports();  // denials still waiting for the timer
    s.console->flush();
    pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);

    std::lock_guard g(s.exit_lock);
    return *s.exit;
}

}  // namespace moat::vmm
