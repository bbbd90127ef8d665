// FakeGuest: the driver half of a split virtqueue, for tests and fuzzers.
#include "virtio/testing/fake_guest.hpp"

#include <array>

namespace moat::virtio::testing {

using memory::GuestAddress;
using memory::GuestMemory;

namespace {

GuestMemory make_memory(std::uint64_t size)
{
    std::array specs{GuestMemory::RegionSpec{GuestAddress(0), size}};
    auto m = GuestMemory::create(specs);
    MOAT_CHECK(m.has_value());
    return std::move(m).value();
}

GuestAddress at(GuestAddress base, std::uint64_t off)
{
    auto a = base.checked_add(off);
    MOAT_CHECK(a.has_value());
    return *a;
}

}  // namespace

FakeGuest::FakeGuest(std::uint16_t queue_size, std::uint64_t mem_size)
    : m_own(make_memory(mem_size)), m_mem(&*m_own), m_size(queue_size)
{
    MOAT_CHECK(queue_size >= 1 && queue_size <= 256);
}

FakeGuest::FakeGuest(const GuestMemory& shared, std::uint64_t ring_base, std::uint16_t queue_size)
    : m_mem(&shared), m_desc(at(k_desc, ring_base)), m_avail(at(k_avail, ring_base)), m_used(at(k_used, ring_base)),
      m_size(queue_size)
{
    MOAT_CHECK(queue_size >= 1 && queue_size <= 256);
}

QueueConfig FakeGuest::config() const { return QueueConfig{m_size, m_desc, m_avail, m_used}; }

void FakeGuest::set_desc(std::uint16_t index, std::uint64_t addr, std::uint32_t len, std::uint16_t flags,
                         std::uint16_t next)
{
    set_desc_in(m_desc, index, addr, len, flags, next);
}

void FakeGuest::set_desc_in(GuestAddress table, std::uint32_t index, std::uint64_t addr, std::uint32_t len,
                            std::uint16_t flags, std::uint16_t next)
{
    const VirtqDesc d{Le64::from(addr), Le32::from(len), Le16::from(flags), Le16::from(next)};
    MOAT_CHECK(m_mem->write_obj(at(table, std::uint64_t{index} * sizeof(VirtqDesc)), d).has_value());
}

std::uint16_t FakeGuest::add_chain(std::span<const Buf> bufs)
{
    MOAT_CHECK(!bufs.empty() && bufs.size() <= m_size);
    const std::uint16_t head = m_next_free;
    for (std::size_t i = 0; i < bufs.size(); ++i) {
        const std::uint16_t idx = m_next_free;
        m_next_free = static_cast<std::uint16_t>((m_next_free + 1) % m_size);
        const bool last = i + 1 == bufs.size();
        std::uint16_t flags = bufs[i].device_writable ? VIRTQ_DESC_F_WRITE : 0;
        if (!last) flags = static_cast<std::uint16_t>(flags | VIRTQ_DESC_F_NEXT);
        set_desc(idx, bufs[i].addr, bufs[i].len, flags, last ? 0 : m_next_free);
    }
    return head;
}

void FakeGuest::publish(std::uint16_t head)
{
    const std::uint16_t idx = avail_idx();
    MOAT_CHECK(m_mem->store_u16(at(m_avail, 4 + 2 * std::uint64_t{static_cast<std::uint16_t>(idx % m_size)}), head,
                               std::memory_order_relaxed)
                   .has_value());
    MOAT_CHECK(m_mem->store_u16(at(m_avail, 2), static_cast<std::uint16_t>(idx + 1), std::memory_order_release)
                   .has_value());
}

void FakeGuest::set_avail_idx(std::uint16_t idx)
{
    MOAT_CHECK(m_mem->store_u16(at(m_avail, 2), idx, std::memory_order_release).has_value());
}

std::uint16_t FakeGuest::avail_idx() const
{
    auto v = m_mem->load_u16(at(m_avail, 2), std::memory_order_relaxed);
    MOAT_CHECK(v.has_value());
    return *v;
}

void FakeGuest::set_avail_flags(std::uint16_t flags)
{
    MOAT_CHECK(m_mem->store_u16(m_avail, flags, std::memory_order_release).has_value());
}

void FakeGuest::set_used_event(std::uint16_t v)
{
    MOAT_CHECK(m_mem->store_u16(at(m_avail, 4 + 2 * std::uint64_t{m_size}), v, std::memory_order_release).has_value());
}

std::uint16_t FakeGuest::avail_event() const
{
    auto v = m_mem->load_u16(at(m_used, 4 + 8 * std::uint64_t{m_size}), std::memory_order_acquire);
    MOAT_CHECK(v.has_value());
    return *v;
}

std::uint16_t FakeGuest::used_idx() const
{
    auto v = m_mem->load_u16(at(m_used, 2), std::memory_order_acquire);
    MOAT_CHECK(v.has_value());
    return *v;
}

VirtqUsedElem FakeGuest::used_elem(std::uint16_t slot) const
{
    auto v = m_mem->read_obj<VirtqUsedElem>(at(m_used, 4 + 8 * std::uint64_t{static_cast<std::uint16_t>(slot % m_size)}));
    MOAT_CHECK(v.has_value());
    return *v;
}

void FakeGuest::write(GuestAddress addr, std::span<const std::byte> bytes)
{
    MOAT_CHECK(m_mem->write(addr, bytes).has_value());
}

std::vector<std::byte> FakeGuest::read(GuestAddress addr, std::size_t len) const
{
    std::vector<std::byte> out(len);
    MOAT_CHECK(m_mem->read(addr, out).has_value());
    return out;
}

}  // namespace moat::virtio::testing
