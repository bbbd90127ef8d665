// Split virtqueue: setup validation, chain walking and the used ring (virtio 1.2 §2.7).
#include "virtio/queue.hpp"

#include <atomic>
#include <bit>

namespace moat::virtio {

using memory::GuestAddress;

namespace {

// Largest total length of one chain (STYLE.md §6): the used ring's len is 32 bits.
constexpr std::uint64_t k_max_chain_len = std::uint64_t{1} << 32;

bool aligned(GuestAddress a, std::uint64_t align) { return a.raw() % align == 0; }

}  // namespace

// ---------------------------------------------------------------------------------------------
// DescriptorChain

DescriptorChain::DescriptorChain(const memory::GuestMemory& mem, GuestAddress table, std::uint16_t queue_size,
                                 std::uint16_t head, bool indirect_allowed)
    : m_mem(&mem), m_table(table), m_table_len(queue_size), m_next(head), m_head(head),
      m_indirect_allowed(indirect_allowed)
{
}

Result<std::optional<Descriptor>> DescriptorChain::fault(const char* what)
{
    m_failed = true;
    return fail(Errc::GuestFault, what);
}

Result<std::optional<Descriptor>> DescriptorChain::next()
{
    if (m_failed) return fail(Errc::GuestFault, "descriptor chain already failed");
    if (m_done) return std::optional<Descriptor>{};

    // Two rounds at most: an indirect descriptor switches to its table once (§2.7.5.3).
    for (int round = 0; round < 2; ++round) {
        // Hops are bounded by the current table's size (queue size, or the indirect table's
        // entry count), so a loop of `next` links ends here (§2.7.5.3.1).
        if (m_hops >= m_table_len) return fault("descriptor chain loops or is longer than its table");
        // m_next < m_table_len <= 2^28, so the product cannot overflow 64 bits.
        auto at = m_table.checked_add(std::uint64_t{m_next} * sizeof(VirtqDesc));
        if (!at) return fault("descriptor address overflows");
        // The one copy of this descriptor: every field below comes from `raw`, never re-read.
        auto copied = m_mem->read_obj<VirtqDesc>(*at);
        if (!copied) return fault("descriptor outside guest memory");
        const VirtqDesc raw = *copied;
        ++m_hops;
        const std::uint16_t flags = raw.flags.get();

        if (flags & VIRTQ_DESC_F_INDIRECT) {
            if (!m_indirect_allowed) return fault("indirect descriptor without VIRTIO_RING_F_INDIRECT_DESC");
            // §2.7.5.3.1: no indirect descriptor inside an indirect table, and not with NEXT.
            if (m_in_indirect) return fault("nested indirect descriptor");
            if (flags & VIRTQ_DESC_F_NEXT) return fault("indirect descriptor with VIRTQ_DESC_F_NEXT");
            const std::uint32_t len = raw.len.get();
            if (len == 0 || len % sizeof(VirtqDesc) != 0)
                return fault("indirect table length is zero or not a multiple of 16");
            const GuestAddress table(raw.addr.get());
            if (!m_mem->contains(table, len)) return fault("indirect table outside guest memory");
            m_table = table;
            m_table_len = len / static_cast<std::uint32_t>(sizeof(VirtqDesc));
            m_next = 0;
            m_hops = 0;
            m_in_indirect = true;
            continue;
        }

        // Checked add: a u32 added to a total already <= 2^32 cannot overflow 64 bits.
        const std::uint64_t total = m_total_len + raw.len.get();
        if (total > k_max_chain_len) return fault("descriptor chain total length exceeds 2^32");
        m_total_len = total;

        if (flags & VIRTQ_DESC_F_NEXT) {
            const std::uint16_t next = raw.next.get();
            if (next >= m_table_len) return fault("descriptor next index out of range");
            m_next = next;
        } else {
            m_done = true;
        }
        return std::optional<Descriptor>(
            Descriptor{GuestAddress(raw.addr.get()), raw.len.get(), static_cast<std::uint16_t>(flags & VIRTQ_DESC_F_WRITE)});
    }
    // The second round always either returns a descriptor or faults on nested indirection.
    MOAT_CHECK(false);
    return fail(Errc::GuestFault, "unreachable");
}

// ---------------------------------------------------------------------------------------------
// Queue

Queue::Queue(const memory::GuestMemory& mem, const QueueConfig& cfg, std::uint16_t size, std::uint64_t features)
    : m_mem(&mem), m_desc(cfg.desc_table), m_avail(cfg.avail_ring), m_used(cfg.used_ring), m_size(size),
      m_event_idx((features & feature_bit(VIRTIO_RING_F_EVENT_IDX)) != 0),
      m_indirect((features & feature_bit(VIRTIO_RING_F_INDIRECT_DESC)) != 0)
{
}

Result<Queue> Queue::create(const memory::GuestMemory& mem, const QueueConfig& cfg, std::uint16_t max_size,
                            std::uint64_t features)
{
    // §2.7: "Queue Size ... a power of 2", at most 32768, and at most what the device offers.
    if (cfg.size == 0 || cfg.size > max_size || cfg.size > k_max_queue_size || !std::has_single_bit(cfg.size))
        return fail(Errc::GuestFault, "queue size zero, above the maximum or not a power of two");
    const auto size = static_cast<std::uint16_t>(cfg.size);
    // §2.7 "Virtqueue Part Alignment".
    if (!aligned(cfg.desc_table, k_desc_align) || !aligned(cfg.avail_ring, k_avail_align) ||
        !aligned(cfg.used_ring, k_used_align))
        return fail(Errc::GuestFault, "virtqueue ring misaligned");
    // §2.7 "Virtqueue Part Size": 16*size, 6 + 2*size (with used_event), 6 + 8*size (with
    // avail_event). The event fields are included even without EVENT_IDX: they are part of the
    // layout the driver allocated.
    const std::uint64_t desc_len = std::uint64_t{size} * sizeof(VirtqDesc);
    const std::uint64_t avail_len = 6 + k_avail_elem_size * size;
    const std::uint64_t used_len = 6 + k_used_elem_size * size;
    if (!mem.contains(cfg.desc_table, desc_len) || !mem.contains(cfg.avail_ring, avail_len) ||
        !mem.contains(cfg.used_ring, used_len))
        return fail(Errc::GuestFault, "virtqueue ring outside guest memory");
    return Queue(mem, cfg, size, features);
}

GuestAddress Queue::avail_at(std::uint64_t off) const
{
    auto a = m_avail.checked_add(off);
    MOAT_CHECK(a.has_value());  // off lies inside the ring validated by create()
    return *a;
}

GuestAddress Queue::used_at(std::uint64_t off) const
{
    auto a = m_used.checked_add(off);
    MOAT_CHECK(a.has_value());  // as in avail_at
    return *a;
}

Result<std::uint16_t> Queue::pending() const
{
    // §2.7.13.3: the driver writes the ring entry, then a write barrier, then idx. Acquire
    // pairs with that barrier so the entries counted here, and the descriptors they name, are
    // visible to a pop() that follows.
    const std::uint16_t avail_idx =
        MOAT_TRY(m_mem->load_u16(avail_at(k_ring_idx_offset), std::memory_order_acquire));
    const auto pending = static_cast<std::uint16_t>(avail_idx - m_next_avail);
    if (pending > m_size) return fail(Errc::GuestFault, "available index ran more than the queue size ahead");
    return pending;
}

Result<std::optional<DescriptorChain>> Queue::pop(OnEmpty on_empty)
{
    // Two rounds at most: the second only re-checks after publishing avail_event.
    for (int round = 0; round < 2; ++round) {
        if (MOAT_TRY(pending()) != 0) {
            const std::uint64_t slot = m_next_avail % m_size;
            // Ordered after idx by the acquire above; read once.
            const std::uint16_t head = MOAT_TRY(
                m_mem->load_u16(avail_at(k_ring_array_offset + k_avail_elem_size * slot), std::memory_order_relaxed));
            ++m_next_avail;
            if (head >= m_size) return fail(Errc::GuestFault, "available ring head index out of range");
            return std::optional<DescriptorChain>(DescriptorChain(*m_mem, m_desc, m_size, head, m_indirect));
        }
        if (!m_event_idx || on_empty == OnEmpty::StayQuiet || round == 1) break;
        // §2.7.10: ask the driver to notify once it publishes entry m_next_avail. Release keeps
        // our earlier ring reads before the store.
        MOAT_TRY(m_mem->store_u16(used_at(k_ring_array_offset + k_used_elem_size * m_size), m_next_avail,
                                  std::memory_order_release));
        // §2.7.10 / §2.7.13.4: store avail_event, then load avail idx. Store->load ordering needs
        // a full fence, or a driver that read the old avail_event skips its notify while we miss
        // its new entry.
        std::atomic_thread_fence(std::memory_order_seq_cst);
    }
    return std::optional<DescriptorChain>{};
}

Result<void> Queue::add_used(std::uint16_t head, std::uint32_t len)
{
    MOAT_CHECK(head < m_size);  // heads come from pop(), which range-checks them
    const std::uint64_t slot = m_next_used % m_size;
    const VirtqUsedElem elem{Le32::from(head), Le32::from(len)};
    MOAT_TRY(m_mem->write_obj(used_at(k_ring_array_offset + k_used_elem_size * slot), elem));
    ++m_next_used;
    // §2.7.8 / §2.7.13: publish the used element before the used idx (release).
    MOAT_TRY(m_mem->store_u16(used_at(k_ring_idx_offset), m_next_used, std::memory_order_release));
    return {};
}

bool Queue::needs_notification()
{
    // §2.7.7.2 / §2.7.10: the used idx store must be visible before we read the driver's
    // suppression field (store->load), otherwise we may skip an interrupt the driver waits for.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    const std::uint16_t old_used = m_signalled_used;
    const std::uint16_t new_used = m_next_used;
    m_signalled_used = new_used;
    if (old_used == new_used) return false;
    if (!m_event_idx) {
        auto flags = m_mem->load_u16(avail_at(k_ring_flags_offset), std::memory_order_relaxed);
        return !flags || (*flags & VIRTQ_AVAIL_F_NO_INTERRUPT) == 0;
    }
    auto used_event = m_mem->load_u16(avail_at(k_ring_array_offset + k_avail_elem_size * m_size),
                                      std::memory_order_relaxed);
    if (!used_event) return true;  // cannot happen after create(); interrupting is always safe
    // vring_need_event (§2.7.10): interrupt if used_event lies in [old_used, new_used).
    return static_cast<std::uint16_t>(new_used - *used_event - 1) < static_cast<std::uint16_t>(new_used - old_used);
}

std::string Queue::describe() const
{
    auto field = [](Result<std::uint16_t> v) { return v ? std::to_string(*v) : std::string("?"); };
    std::string s = "avail " + field(m_mem->load_u16(avail_at(k_ring_idx_offset), std::memory_order_acquire)) +
                    ", taken " + std::to_string(m_next_avail) + ", used " + std::to_string(m_next_used);
    if (m_event_idx) {
        s += ", used_event " +
             field(m_mem->load_u16(avail_at(k_ring_array_offset + k_avail_elem_size * m_size), std::memory_order_relaxed));
        s += ", avail_event " +
             field(m_mem->load_u16(used_at(k_ring_array_offset + k_used_elem_size * m_size), std::memory_order_relaxed));
    }
    return s;
}

}  // namespace moat::virtio
