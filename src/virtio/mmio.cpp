// virtio-mmio transport: register file, status state machine and queue setup (virtio 1.2 §4.2).
#include "virtio/mmio.hpp"

#include <algorithm>
#include <cstring>

#include "base/log.hpp"

namespace moat::virtio {

using memory::GuestAddress;

namespace {

constexpr std::uint32_t k_driver_status_bits = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
                                               VIRTIO_CONFIG_S_DRIVER_OK | VIRTIO_CONFIG_S_FEATURES_OK |
                                               VIRTIO_CONFIG_S_FAILED;

std::uint32_t load_le32(std::span<const std::byte> data)
{
    std::uint32_t v = 0;
    std::memcpy(&v, data.data(), sizeof v);  // little-endian host (base/le.hpp)
    return v;
}

void store_le32(std::span<std::byte> data, std::uint32_t v) { std::memcpy(data.data(), &v, sizeof v); }

bool is_register_access(std::uint64_t offset, std::size_t size) { return size == 4 && offset % 4 == 0; }

std::uint64_t set_low(std::uint64_t old, std::uint32_t v) { return (old & 0xffffffff00000000u) | v; }
std::uint64_t set_high(std::uint64_t old, std::uint32_t v) { return (old & 0xffffffffu) | (std::uint64_t{v} << 32); }

}  // namespace

// ---------------------------------------------------------------------------------------------
// Notifier: called by the device from the thread that runs process_queue().

void MmioTransport::Notifier::notify_used() { m_t.raise(VIRTIO_MMIO_INT_VRING); }

void MmioTransport::Notifier::notify_config_change()
{
    m_t.m_config_generation.fetch_add(1, std::memory_order_release);
    m_t.raise(VIRTIO_MMIO_INT_CONFIG);
}

void MmioTransport::Notifier::device_needs_reset()
{
    if (m_t.m_needs_reset.exchange(true, std::memory_order_acq_rel)) return;
    // §2.1.2: after DRIVER_OK, a device setting DEVICE_NEEDS_RESET sends a config change
    // notification so the driver notices (the bit first, so that the interrupt finds it).
    if (m_t.m_status.load(std::memory_order_acquire) & VIRTIO_CONFIG_S_DRIVER_OK) m_t.raise(VIRTIO_MMIO_INT_CONFIG);
    m_t.guest_fault();
    MOAT_LOG_RATELIMITED(Warn, "virtio-mmio: device %u needs reset after a guest fault", m_t.m_device->device_id());
}

bool MmioTransport::Notifier::poll_later(std::uint32_t queue, std::chrono::microseconds delay)
{
    return m_t.m_poll_timer && m_t.m_poll_timer(queue, delay);
}

void MmioTransport::raise(std::uint32_t cause)
{
    // Release: the used ring / config updates that caused this are visible before the driver
    // reads InterruptStatus; the bit is set before the edge so the handler finds it.
    m_interrupt_status.fetch_or(cause, std::memory_order_release);
    m_irq.trigger();
}

// ---------------------------------------------------------------------------------------------

MmioTransport::MmioTransport(const memory::GuestMemory& mem, std::unique_ptr<Device> device, InterruptLine& irq)
    : m_mem(mem), m_device(std::move(device)), m_irq(irq)
{
    MOAT_CHECK(m_device != nullptr);
    MOAT_CHECK((m_device->features() & feature_bit(VIRTIO_F_VERSION_1)) != 0);
    m_queues.resize(m_device->queue_max_sizes().size());
}

MmioTransport::~MmioTransport()
{
    // Stop the device while the notifier it may hold is still alive.
    std::lock_guard io(m_io);
    std::lock_guard regs(m_regs);
    if (m_active) m_device->reset();
    m_active = false;
}

std::uint32_t MmioTransport::device_id() const { return m_device->device_id(); }

std::size_t MmioTransport::queue_count() const { return m_queues.size(); }

void MmioTransport::set_notify_forwarder(std::function<void(std::uint32_t)> f) { m_forwarder = std::move(f); }

void MmioTransport::set_fault_hook(std::function<void()> f) { m_fault_hook = std::move(f); }

void MmioTransport::guest_fault()
{
    m_faults.fetch_add(1, std::memory_order_relaxed);
    if (m_fault_hook) m_fault_hook();
}

void MmioTransport::set_poll_timer(std::function<bool(std::uint32_t, std::chrono::microseconds)> f)
{
    m_poll_timer = std::move(f);
}

bool MmioTransport::needs_reset() const { return m_needs_reset.load(std::memory_order_acquire); }

std::uint32_t MmioTransport::status() const
{
    std::uint32_t s = m_status.load(std::memory_order_acquire);
    if (m_needs_reset.load(std::memory_order_acquire)) s |= VIRTIO_CONFIG_S_NEEDS_RESET;
    return s;
}

MmioTransport::QueueRegs* MmioTransport::selected_queue()
{
    return m_queue_sel < m_queues.size() ? &m_queues[m_queue_sel] : nullptr;
}

// ---------------------------------------------------------------------------------------------
// Register access

void MmioTransport::read(std::uint64_t offset, std::span<std::byte> data)
{
    std::fill(data.begin(), data.end(), std::byte{0});
    if (offset >= mmio::Config) {
        std::lock_guard regs(m_regs);
        m_device->read_config(offset - mmio::Config, data);
        return;
    }
    if (!is_register_access(offset, data.size())) {
        MOAT_LOG_RATELIMITED(Warn, "virtio-mmio: ignored %zu-byte read at register offset 0x%llx", data.size(),
                             static_cast<unsigned long long>(offset));
        guest_fault();
        return;
    }
    std::lock_guard regs(m_regs);
    store_le32(data, read_register(offset));
}

std::uint32_t MmioTransport::read_register(std::uint64_t offset)
{
    switch (offset) {
    case mmio::MagicValue: return mmio::k_magic;
    case mmio::Version: return mmio::k_version;
    case mmio::DeviceID: return m_device->device_id();
    case mmio::VendorID: return mmio::k_vendor;
    case mmio::DeviceFeatures: {
        const std::uint64_t f = m_device->features();
        if (m_device_features_sel == 0) return static_cast<std::uint32_t>(f);
        if (m_device_features_sel == 1) return static_cast<std::uint32_t>(f >> 32);
        return 0;
    }
    case mmio::QueueNumMax: {
        // §4.2.2: 0 when the selected queue is not available.
        if (m_queue_sel >= m_queues.size()) return 0;
        return m_device->queue_max_sizes()[m_queue_sel];
    }
    case mmio::QueueReady: {
        const QueueRegs* q = selected_queue();
        return q && q->ready ? 1 : 0;
    }
    case mmio::InterruptStatus: return m_interrupt_status.load(std::memory_order_acquire);
    case mmio::Status: return status();
    // No shared memory regions: §4.2.2 says a missing region reads as length -1.
    case mmio::SHMLenLow:
    case mmio::SHMLenHigh:
    case mmio::SHMBaseLow:
    case mmio::SHMBaseHigh: return 0xffffffff;
    case mmio::ConfigGeneration: return m_config_generation.load(std::memory_order_acquire);
    default: return 0;  // write-only or reserved registers
    }
}

void MmioTransport::write(std::uint64_t offset, std::span<const std::byte> data)
{
    if (offset >= mmio::Config) {
        std::lock_guard regs(m_regs);
        m_device->write_config(offset - mmio::Config, data);
        return;
    }
    if (!is_register_access(offset, data.size())) {
        MOAT_LOG_RATELIMITED(Warn, "virtio-mmio: ignored %zu-byte write at register offset 0x%llx", data.size(),
                             static_cast<unsigned long long>(offset));
        guest_fault();
        return;
    }
    const std::uint32_t v = load_le32(data);
    if (offset == mmio::QueueNotify) {
        // No lock held here: processing takes m_io, which must come before m_regs.
        if (m_forwarder)
            m_forwarder(v);
        else
            notify(v);
        return;
    }
    if (offset == mmio::Status) {
        write_status(v);
        return;
    }
    std::lock_guard regs(m_regs);
    write_register(offset, v);
}

void MmioTransport::write_register(std::uint64_t offset, std::uint32_t v)
{
    const std::uint32_t status = m_status.load(std::memory_order_relaxed);
    switch (offset) {
    case mmio::DeviceFeaturesSel: m_device_features_sel = v; return;
    case mmio::DriverFeaturesSel: m_driver_features_sel = v; return;
    case mmio::DriverFeatures:
        // §3.1.1 step 5: features are written after DRIVER and before FEATURES_OK.
        if ((status & VIRTIO_CONFIG_S_DRIVER) == 0 || (status & VIRTIO_CONFIG_S_FEATURES_OK) != 0) {
            MOAT_LOG_RATELIMITED(Warn, "virtio-mmio: DriverFeatures write outside feature negotiation ignored");
            guest_fault();
            return;
        }
        if (m_driver_features_sel == 0)
            m_driver_features = set_low(m_driver_features, v);
        else if (m_driver_features_sel == 1)
            m_driver_features = set_high(m_driver_features, v);
        else if (v != 0)
            m_driver_features_unknown = true;  // bits the device cannot have offered
        return;
    case mmio::QueueSel: m_queue_sel = v; return;
    case mmio::InterruptACK:
        m_interrupt_status.fetch_and(~v, std::memory_order_acq_rel);
        return;
    case mmio::QueueNum:
    case mmio::QueueReady:
    case mmio::QueueDescLow:
    case mmio::QueueDescHigh:
    case mmio::QueueDriverLow:
    case mmio::QueueDriverHigh:
    case mmio::QueueDeviceLow:
    case mmio::QueueDeviceHigh: write_queue_register(offset, v); return;
    case mmio::SHMSel:
    case mmio::QueueReset: return;  // no shared memory, VIRTIO_F_RING_RESET not offered
    default:
        MOAT_LOG_RATELIMITED(Warn, "virtio-mmio: write to read-only or reserved register 0x%llx ignored",
                             static_cast<unsigned long long>(offset));
        guest_fault();
        return;
    }
}

void MmioTransport::write_queue_register(std::uint64_t offset, std::uint32_t v)
{
    const std::uint32_t status = m_status.load(std::memory_order_relaxed);
    QueueRegs* q = selected_queue();
    // §3.1.1 step 7: queues are set up after FEATURES_OK and before DRIVER_OK. Once DRIVER_OK is
    // set the configuration is frozen (we do not offer VIRTIO_F_RING_RESET), so the event thread
    // can use the queues without m_regs.
    const bool setup_phase = (status & VIRTIO_CONFIG_S_FEATURES_OK) != 0 &&
                             (status & (VIRTIO_CONFIG_S_DRIVER_OK | VIRTIO_CONFIG_S_FAILED)) == 0;
    if (!q || !setup_phase) {
        MOAT_LOG_RATELIMITED(Warn, "virtio-mmio: queue register write outside queue setup ignored");
        guest_fault();
        return;
    }
    if (offset == mmio::QueueReady) {
        if (v == 0) {
            q->ready = false;
            q->queue.reset();
            return;
        }
        if (v != 1 || q->ready) return;
        // §2.7: validate once, now.
        const QueueConfig cfg{q->num, GuestAddress(q->desc), GuestAddress(q->driver), GuestAddress(q->device)};
        auto queue = Queue::create(m_mem, cfg, m_device->queue_max_sizes()[m_queue_sel], m_driver_features);
        if (!queue) {
            MOAT_LOG_RATELIMITED(Warn, "virtio-mmio: queue %u rejected: %s", m_queue_sel, queue.error().what);
            guest_fault();
            m_needs_reset.store(true, std::memory_order_release);
            return;
        }
        q->queue.emplace(std::move(*queue));
        q->ready = true;
        return;
    }
    // §4.2.2: the driver must not change a queue's registers while QueueReady is set.
    if (q->ready) {
        MOAT_LOG_RATELIMITED(Warn, "virtio-mmio: write to a ready queue's registers ignored");
        guest_fault();
        return;
    }
    switch (offset) {
    case mmio::QueueNum: q->num = v; return;
    case mmio::QueueDescLow: q->desc = set_low(q->desc, v); return;
    case mmio::QueueDescHigh: q->desc = set_high(q->desc, v); return;
    case mmio::QueueDriverLow: q->driver = set_low(q->driver, v); return;
    case mmio::QueueDriverHigh: q->driver = set_high(q->driver, v); return;
    case mmio::QueueDeviceLow: q->device = set_low(q->device, v); return;
    case mmio::QueueDeviceHigh: q->device = set_high(q->device, v); return;
    default: return;
    }
}

// ---------------------------------------------------------------------------------------------
// Status state machine (§2.1, §3.1.1)

bool MmioTransport::features_acceptable() const
{
    // §2.2.1 / §6.1: a subset of what we offered, including VIRTIO_F_VERSION_1 (modern only).
    const std::uint64_t offered = m_device->features();
    return !m_driver_features_unknown && (m_driver_features & ~offered) == 0 &&
           (m_driver_features & feature_bit(VIRTIO_F_VERSION_1)) != 0;
}

void MmioTransport::write_status(std::uint32_t v)
{
    std::lock_guard io(m_io);
    std::lock_guard regs(m_regs);
    if (v == 0) {
        reset_locked();
        return;
    }
    const std::uint32_t old = m_status.load(std::memory_order_relaxed);
    // DEVICE_NEEDS_RESET is the device's bit; a driver doing read-modify-write echoes it back.
    std::uint32_t next = v & ~VIRTIO_CONFIG_S_NEEDS_RESET;
    const bool unknown_bits = (next & ~k_driver_status_bits) != 0;
    const bool clears_bits = (next & old) != old;  // only a reset (0) clears status bits
    const bool misordered =
        ((next & VIRTIO_CONFIG_S_DRIVER) && !(next & VIRTIO_CONFIG_S_ACKNOWLEDGE)) ||
        ((next & VIRTIO_CONFIG_S_FEATURES_OK) && !(next & VIRTIO_CONFIG_S_DRIVER)) ||
        ((next & VIRTIO_CONFIG_S_DRIVER_OK) && !(next & VIRTIO_CONFIG_S_FEATURES_OK));
    const bool after_failed = (old & VIRTIO_CONFIG_S_FAILED) && next != old;
    if (unknown_bits || clears_bits || misordered || after_failed) {
        MOAT_LOG_RATELIMITED(Warn, "virtio-mmio: invalid status transition 0x%x -> 0x%x ignored", old, v);
        guest_fault();
        return;
    }
    const std::uint32_t added = next & ~old;
    if ((added & VIRTIO_CONFIG_S_FEATURES_OK) && !features_acceptable()) {
        // §3.1.1 step 6: the device refuses by leaving FEATURES_OK clear; DRIVER_OK cannot
        // follow in the same write.
        MOAT_LOG_RATELIMITED(Warn, "virtio-mmio: driver features 0x%llx refused",
                             static_cast<unsigned long long>(m_driver_features));
        guest_fault();
        next &= ~(VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
    }
    m_status.store(next, std::memory_order_release);
    if ((next & ~old) & VIRTIO_CONFIG_S_DRIVER_OK) activate_locked();
}

void MmioTransport::activate_locked()
{
    std::vector<std::optional<Queue>> queues;
    queues.reserve(m_queues.size());
    for (auto& q : m_queues) {
        queues.push_back(std::move(q.queue));
        q.queue.reset();
    }
    auto r = m_device->activate(ActivateContext{m_mem, m_driver_features, std::move(queues), m_notifier});
    if (!r) {
        MOAT_LOG_RATELIMITED(Warn, "virtio-mmio: device %u activation failed: %s", m_device->device_id(),
                             r.error().what);
        m_device->reset();
        m_needs_reset.store(true, std::memory_order_release);
        raise(VIRTIO_MMIO_INT_CONFIG);
        return;
    }
    m_active = true;
}

void MmioTransport::reset_locked()
{
    // §2.4: the device forgets everything the driver set up. With m_io held no queue
    // processing is in flight, so the device can drop its queues safely.
    m_device->reset();
    m_active = false;
    m_device_features_sel = 0;
    m_driver_features_sel = 0;
    m_driver_features = 0;
    m_driver_features_unknown = false;
    m_queue_sel = 0;
    for (auto& q : m_queues) q = QueueRegs{};
    m_status.store(0, std::memory_order_release);
    m_needs_reset.store(false, std::memory_order_release);
    m_interrupt_status.store(0, std::memory_order_release);
}

void MmioTransport::notify(std::uint32_t queue)
{
    std::lock_guard io(m_io);
    if (!m_active || m_needs_reset.load(std::memory_order_acquire)) return;
    if (queue >= m_queues.size()) {
        MOAT_LOG_RATELIMITED(Warn, "virtio-mmio: notify for missing queue %u ignored", queue);
        guest_fault();
        return;
    }
    m_device->process_queue(queue);
}

void MmioTransport::poll(std::uint32_t queue)
{
    std::lock_guard io(m_io);
    // A timer armed before a reset may fire after it, or after the device faulted: nothing to do.
    if (!m_active || m_needs_reset.load(std::memory_order_acquire) || queue >= m_queues.size()) return;
    m_device->poll_queue(queue);
}

void MmioTransport::host_ready(std::uint32_t token)
{
    std::lock_guard io(m_io);
    if (!m_active || m_needs_reset.load(std::memory_order_acquire)) return;
    m_device->host_ready(token);
}

}  // namespace moat::virtio
