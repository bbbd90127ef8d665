// Bus: sorted ranges, binary search.
#include "devices/bus.hpp"

#include <algorithm>

namespace moat::devices {

Result<void> Bus::insert(std::uint64_t base, std::uint64_t len, BusDevice& device)
{
    std::uint64_t end;
    if (len == 0 || __builtin_add_overflow(base, len, &end)) return fail(Errc::InvalidInput, "bus range");
    for (const auto& r : m_ranges)
        if (base < r.base + r.len && r.base < end) return fail(Errc::InvalidInput, "overlapping bus ranges");
    m_ranges.push_back(Range{base, len, &device});
    std::sort(m_ranges.begin(), m_ranges.end(), [](const Range& a, const Range& b) { return a.base < b.base; });
    return {};
}

const Bus::Range* Bus::find(std::uint64_t addr, std::uint64_t len) const
{
    auto it = std::upper_bound(m_ranges.begin(), m_ranges.end(), addr,
                               [](std::uint64_t a, const Range& r) { return a < r.base; });
    if (it == m_ranges.begin()) return nullptr;
    const Range& r = *std::prev(it);
    std::uint64_t off = addr - r.base;
    if (off >= r.len || len > r.len - off) return nullptr;
    return &r;
}

bool Bus::read(std::uint64_t addr, std::span<std::byte> data) const
{
    const Range* r = find(addr, data.size());
    if (!r) return false;
    r->device->read(addr - r->base, data);
    return true;
}

bool Bus::write(std::uint64_t addr, std::span<const std::byte> data) const
{
    const Range* r = find(addr, data.size());
    if (!r) return false;
    r->device->write(addr - r->base, data);
    return true;
}

}  // namespace moat::devices
