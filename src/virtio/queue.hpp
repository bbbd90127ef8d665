// Split virtqueue (virtio 1.2 §2.7): validated ring setup, descriptor chain walking, used ring.
//
// Everything read from the guest is copied once into a value (STYLE.md §6): a DescriptorChain
// yields Descriptor values, never references into guest memory. Ring indices are the only
// shared words read in place, through GuestMemory::load_u16/store_u16 with explicit orders.
//
// Thread safety: a Queue and the DescriptorChains it hands out are used by one thread at a time
// (the device's event thread). The guest may write ring memory concurrently; every value is
// re-validated after it is copied.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "base/result.hpp"
#include "memory/guest_memory.hpp"
#include "virtio/spec.hpp"

namespace moat::virtio {

// One descriptor, copied out of guest memory (§2.7.5). Indirect descriptors are resolved by the
// chain and never appear here.
struct Descriptor {
    memory::GuestAddress addr;
    std::uint32_t len;
    std::uint16_t flags;  // VIRTQ_DESC_F_WRITE is the only flag left meaningful to devices

    bool is_write_only() const { return (flags & VIRTQ_DESC_F_WRITE) != 0; }
};

// A walk over one descriptor chain. Limits (STYLE.md §6): at most `queue size` hops in the
// descriptor table, every `next` below the table size, total length at most 2^32, at most one
// level of indirection (§2.7.5.3) with a non-empty table whose length is a multiple of 16 and
// which lies in guest memory, and at most `entries` hops inside that table. Breaking any rule is
// a guest fault: next() returns Errc::GuestFault and the chain stays failed.
class DescriptorChain final {
public:
    // Head index as published in the available ring; what add_used() takes back.
    std::uint16_t head_index() const { return m_head; }

    // The next descriptor (copied once), std::nullopt after the last, or a GuestFault error.
    Result<std::optional<Descriptor>> next();

    // Sum of the lengths yielded so far (at most 2^32).
    std::uint64_t total_len() const { return m_total_len; }

private:
    friend class Queue;
    DescriptorChain(const memory::GuestMemory& mem, memory::GuestAddress table, std::uint16_t queue_size,
                    std::uint16_t head, bool indirect_allowed);
    Result<std::optional<Descriptor>> fault(const char* what);

    const memory::GuestMemory* m_mem;  // not owned; outlives every queue
    memory::GuestAddress m_table;      // current descriptor table (main or indirect)
    std::uint32_t m_table_len;         // entries in the current table
    std::uint32_t m_next;              // index of the next entry to read
    std::uint32_t m_hops = 0;          // entries read from the current table
    std::uint64_t m_total_len = 0;
    std::uint16_t m_head;
    bool m_indirect_allowed;
    bool m_in_indirect = false;
    bool m_done = false;
    bool m_failed = false;
};

// The ring addresses and size as the driver programmed them through the transport. `size` is
// kept as written (32 bits) so an oversized value is rejected rather than truncated.
struct QueueConfig {
    std::uint32_t size = 0;
    memory::GuestAddress desc_table{0};
    memory::GuestAddress avail_ring{0};  // "driver area"
    memory::GuestAddress used_ring{0};   // "device area"
};

class Queue final {
public:
    // Validates a configuration once, when the driver sets QueueReady (§2.7, §4.2.3.2): size a
    // power of two in 1..max_size, ring alignment (desc 16, avail 2, used 4) and every ring range
    // inside guest memory. `features` are the negotiated feature bits (EVENT_IDX, INDIRECT_DESC).
    // `mem` must outlive the queue. Fails with Errc::GuestFault.
    static Result<Queue> create(const memory::GuestMemory& mem, const QueueConfig& cfg, std::uint16_t max_size,
                                std::uint64_t features);

    std::uint16_t size() const { return m_size; }
    bool event_idx() const { return m_event_idx; }
    // The free-running index of the next available entry the device will consume.
    std::uint16_t next_avail() const { return m_next_avail; }
    std::uint16_t next_used() const { return m_next_used; }

    // What pop() does when it finds the ring empty (EVENT_IDX only; without it the driver always
    // notifies and pop() writes nothing).
    enum class OnEmpty : std::uint8_t {
        // Publish avail_event = next_avail and re-check, so the driver's next entry notifies us
        // and none published meanwhile is missed (§2.7.10).
        ArmNotification,
        // Leave avail_event where it is: the driver's entries past it do not notify us. The
        // caller must come back to the ring by itself (a timer), or arm later.
        StayQuiet,
    };

    // The next available chain, or std::nullopt when the ring is empty (see OnEmpty).
    // A GuestFault error (avail idx more than `size` ahead, head index out of range) means the
    // queue can no longer be trusted: the device should set NEEDS_RESET.
    Result<std::optional<DescriptorChain>> pop(OnEmpty on_empty = OnEmpty::ArmNotification);

    // How many entries the driver has published that pop() has not taken yet. Reads avail idx
    // once; a GuestFault error as in pop() when it ran more than `size` ahead.
    Result<std::uint16_t> pending() const;

    // Returns chain `head` to the driver with `len` bytes written (§2.7.8).
    Result<void> add_used(std::uint16_t head, std::uint32_t len);

    // After add_used(): whether the driver asked to be interrupted for the entries added since the
    // last call (VIRTQ_AVAIL_F_NO_INTERRUPT, or used_event with EVENT_IDX, §2.7.7.2 / §2.7.10).
    bool needs_notification();

    // Where device and driver stand, for a log line when a device stops: the driver's avail idx
    // and used_event, the device's next_avail, next_used and avail_event (EVENT_IDX: the two
    // event fields; "?" for a field it cannot read).
    std::string describe() const;

private:
    Queue(const memory::GuestMemory& mem, const QueueConfig& cfg, std::uint16_t size, std::uint64_t features);
    memory::GuestAddress avail_at(std::uint64_t off) const;
    memory::GuestAddress used_at(std::uint64_t off) const;

    const memory::GuestMemory* m_mem;  // not owned; outlives the queue
    memory::GuestAddress m_desc;
    memory::GuestAddress m_avail;
    memory::GuestAddress m_used;
    std::uint16_t m_size;
    bool m_event_idx;
    bool m_indirect;
    std::uint16_t m_next_avail = 0;
    std::uint16_t m_next_used = 0;
    std::uint16_t m_signalled_used = 0;  // next_used at the last needs_notification()
};

}  // namespace moat::virtio
