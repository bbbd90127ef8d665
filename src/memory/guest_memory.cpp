// Guest memory: region lookup and the checked copy paths.
#include "memory/guest_memory.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace moat::memory {

namespace {
constexpr std::uint64_t k_page = 4096;
}

Result<void> GuestSlice::read(std::size_t off, std::span<std::byte> dst) const
{
    if (off > m_len || dst.size() > m_len - off) return fail(Errc::OutOfRange, "guest slice read");
    if (!dst.empty()) std::memcpy(dst.data(), m_base + off, dst.size());
    return {};
}

Result<void> GuestSlice::write(std::size_t off, std::span<const std::byte> src) const
{
    if (off > m_len || src.size() > m_len - off) return fail(Errc::OutOfRange, "guest slice write");
    if (!src.empty()) std::memcpy(m_base + off, src.data(), src.size());
    return {};
}

iovec GuestSlice::as_iovec() const { return iovec{m_base, m_len}; }

Result<GuestMemory> GuestMemory::create(std::span<const RegionSpec> specs)
{
    std::vector<Region> regions;
    for (const auto& s : specs) {
        if (s.size == 0 || s.start.raw() % k_page || s.size % k_page || !s.start.checked_add(s.size))
            return fail(Errc::InvalidInput, "guest memory region layout");
        for (const auto& r : regions) {
            bool apart = s.start.raw() + s.size <= r.start.raw() || r.start.raw() + r.size <= s.start.raw();
            if (!apart) return fail(Errc::InvalidInput, "overlapping guest memory regions");
        }
        auto map = MOAT_TRY(base::Mapping::anonymous(s.size));
        regions.push_back(Region{s.start, s.size, std::move(map)});
    }
    std::sort(regions.begin(), regions.end(),
              [](const Region& a, const Region& b) { return a.start < b.start; });
    return GuestMemory(std::move(regions));
}

std::byte* GuestMemory::host_range(GuestAddress addr, std::uint64_t len) const
{
    for (const auto& r : m_regions) {
        if (addr < r.start) continue;
        std::uint64_t off = addr.raw() - r.start.raw();
        if (off >= r.size) continue;
        // Whole range inside this region: off < size, so size - off does not underflow.
        if (len > r.size - off) return nullptr;
        // SAFETY: off + len <= r.size, so the range lies inside the live mapping.
        return static_cast<std::byte*>(r.map.addr()) + off;
    }
    return nullptr;
}

bool GuestMemory::contains(GuestAddress addr, std::uint64_t len) const
{
    return host_range(addr, len) != nullptr;
}

Result<GuestSlice> GuestMemory::slice(GuestAddress addr, std::uint64_t len) const
{
    std::byte* p = host_range(addr, len);
    if (!p) return fail(Errc::OutOfRange, "guest address range outside guest memory");
    return GuestSlice(p, static_cast<std::size_t>(len));
}

Result<void> GuestMemory::read(GuestAddress addr, std::span<std::byte> dst) const
{
    std::byte* p = host_range(addr, dst.size());
    if (!p) return fail(Errc::OutOfRange, "guest memory read outside guest memory");
    if (!dst.empty()) std::memcpy(dst.data(), p, dst.size());  // an empty span may have no data()
    return {};
}

Result<void> GuestMemory::write(GuestAddress addr, std::span<const std::byte> src) const
{
    std::byte* p = host_range(addr, src.size());
    if (!p) return fail(Errc::OutOfRange, "guest memory write outside guest memory");
    if (!src.empty()) std::memcpy(p, src.data(), src.size());
    return {};
}

Result<std::uint16_t> GuestMemory::load_u16(GuestAddress addr, std::memory_order order) const
{
    std::byte* p = host_range(addr, 2);
    if (!p || addr.raw() % 2) return fail(Errc::OutOfRange, "unaligned or out-of-range ring index");
    // SAFETY: p is 2-byte aligned (regions are page-aligned) and inside guest memory.
    std::atomic_ref<std::uint16_t> ref(*reinterpret_cast<std::uint16_t*>(p));
    return ref.load(order);
}

Result<void> GuestMemory::store_u16(GuestAddress addr, std::uint16_t value, std::memory_order order) const
{
    std::byte* p = host_range(addr, 2);
    if (!p || addr.raw() % 2) return fail(Errc::OutOfRange, "unaligned or out-of-range ring index");
    // SAFETY: as in load_u16.
    std::atomic_ref<std::uint16_t> ref(*reinterpret_cast<std::uint16_t*>(p));
    ref.store(value, order);
    return {};
}

Result<void> GuestMemory::read_from_file(int fd, std::uint64_t offset, GuestAddress addr,
                                         std::uint64_t len) const
{
    std::byte* p = host_range(addr, len);
    if (!p) return fail(Errc::NoSpace, "file does not fit in guest memory");
    std::uint64_t done = 0;
    while (done < len) {
        ssize_t n = ::pread(fd, p + done, len - done, static_cast<off_t>(offset + done));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail_errno("read file into guest memory");
        if (n == 0) return fail(Errc::InvalidInput, "file shorter than expected");
        done += static_cast<std::uint64_t>(n);
    }
    return {};
}

std::uint64_t GuestMemory::total_size() const
{
    std::uint64_t t = 0;
    for (const auto& r : m_regions) t += r.size;
    return t;
}

std::vector<KvmRegion> GuestMemory::kvm_regions() const
{
    std::vector<KvmRegion> out;
    std::uint32_t slot = 0;
    for (const auto& r : m_regions)
        out.push_back(KvmRegion{slot++, r.start.raw(), r.size, reinterpret_cast<std::uint64_t>(r.map.addr())});
    return out;
}

}  // namespace moat::memory
