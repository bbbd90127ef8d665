// FakeGuest: plays the driver side of one split virtqueue in heap-backed guest memory, for tests
// and fuzzers only (no KVM needed; STYLE.md §10, after vm-virtio's mock.rs).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "memory/guest_memory.hpp"
#include "virtio/queue.hpp"
#include "virtio/spec.hpp"

namespace moat::virtio::testing {

class FakeGuest final {
public:
    // Fixed layout inside one region starting at guest address 0.
    static constexpr memory::GuestAddress k_desc{0x1000};   // up to 256 descriptors
    static constexpr memory::GuestAddress k_avail{0x2000};
    static constexpr memory::GuestAddress k_used{0x3000};
    static constexpr memory::GuestAddress k_data{0x10000};  // free for buffers and indirect tables

    // Aborts (MOAT_CHECK) if the memory cannot be created: test setup, not a product path.
    explicit FakeGuest(std::uint16_t queue_size = 16, std::uint64_t mem_size = 0x100000);
    // A second (third...) queue in memory another FakeGuest owns: the same layout moved up by
    // `ring_base` (a multiple of 0x1000, below k_data - 0x3000 or above the buffers in use).
    FakeGuest(const memory::GuestMemory& shared, std::uint64_t ring_base, std::uint16_t queue_size);
    FakeGuest(const FakeGuest&) = delete;
    FakeGuest& operator=(const FakeGuest&) = delete;

    const memory::GuestMemory& mem() const { return *m_mem; }
    std::uint16_t queue_size() const { return m_size; }
    // The QueueConfig a driver would program for this layout.
    QueueConfig config() const;

    // One descriptor in the main table, or in any table at `table`.
    void set_desc(std::uint16_t index, std::uint64_t addr, std::uint32_t len, std::uint16_t flags,
                  std::uint16_t next = 0);
    void set_desc_in(memory::GuestAddress table, std::uint32_t index, std::uint64_t addr, std::uint32_t len,
                     std::uint16_t flags, std::uint16_t next = 0);

    struct Buf {
        std::uint64_t addr;
        std::uint32_t len;
        bool device_writable;
    };
    // Writes `bufs` as a NEXT-linked chain in consecutive free descriptor slots (wrapping) and
    // returns its head. Does not publish it.
    std::uint16_t add_chain(std::span<const Buf> bufs);
    // Appends `head` to the available ring and bumps idx with release order, like a driver.
    void publish(std::uint16_t head);

    void set_avail_idx(std::uint16_t idx);
    std::uint16_t avail_idx() const;
    void set_avail_flags(std::uint16_t flags);
    void set_used_event(std::uint16_t v);
    std::uint16_t avail_event() const;
    std::uint16_t used_idx() const;
    VirtqUsedElem used_elem(std::uint16_t slot) const;

    void write(memory::GuestAddress addr, std::span<const std::byte> bytes);
    std::vector<std::byte> read(memory::GuestAddress addr, std::size_t len) const;

private:
    std::optional<memory::GuestMemory> m_own;
    const memory::GuestMemory* m_mem;
    memory::GuestAddress m_desc = k_desc;
    memory::GuestAddress m_avail = k_avail;
    memory::GuestAddress m_used = k_used;
    std::uint16_t m_size;
    std::uint16_t m_next_free = 0;
};

}  // namespace moat::virtio::testing
