// Guest physical memory: the only code that turns guest addresses into host pointers.
//
// Every access names a whole range [addr, addr + len) that must lie inside one region; the
// check is overflow-safe. Values are copied in and out; no host pointer or reference into
// guest memory leaves this module (STYLE.md §5), except as iovecs for readv/writev and as
// the integer addresses KVM needs to map the regions.
#pragma once

#include <sys/uio.h>

#include <atomic>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <type_traits>
#include <vector>

#include "base/mapping.hpp"
#include "base/result.hpp"

namespace moat::memory {

// A guest physical address. No arithmetic operators: offsets go through checked_add.
class GuestAddress final {
public:
    constexpr explicit GuestAddress(std::uint64_t raw) : m_raw(raw) {}
    constexpr std::uint64_t raw() const { return m_raw; }
    constexpr std::optional<GuestAddress> checked_add(std::uint64_t off) const
    {
        std::uint64_t r;
        if (__builtin_add_overflow(m_raw, off, &r)) return std::nullopt;
        return GuestAddress(r);
    }
    friend constexpr bool operator==(GuestAddress a, GuestAddress b) { return a.m_raw == b.m_raw; }
    friend constexpr bool operator<(GuestAddress a, GuestAddress b) { return a.m_raw < b.m_raw; }
    friend constexpr bool operator<=(GuestAddress a, GuestAddress b) { return a.m_raw <= b.m_raw; }
    friend constexpr bool operator>(GuestAddress a, GuestAddress b) { return a.m_raw > b.m_raw; }
    friend constexpr bool operator>=(GuestAddress a, GuestAddress b) { return a.m_raw >= b.m_raw; }

private:
    std::uint64_t m_raw;
};

// Types that may be copied to and from guest memory: plain bytes with no padding.
template <typename T>
concept GuestPod = std::is_trivially_copyable_v<T> && std::has_unique_object_representations_v<T>;

// A checked window [addr, addr + len) into one region. Only copies and iovecs come out.
class GuestSlice final {
public:
    std::size_t size() const { return m_len; }
    // Copies `dst.size()` bytes from offset `off` of the slice.
    Result<void> read(std::size_t off, std::span<std::byte> dst) const;
    Result<void> write(std::size_t off, std::span<const std::byte> src) const;
    // The slice as one iovec for readv/writev on a host file.
    iovec as_iovec() const;

private:
    friend class GuestMemory;
    GuestSlice(std::byte* base, std::size_t len) : m_base(base), m_len(len) {}
    std::byte* m_base;
    std::size_t m_len;
};

// What KVM needs to map one region (KVM_SET_USER_MEMORY_REGION).
struct KvmRegion {
    std::uint32_t slot;
    std::uint64_t guest_phys_addr;
    std::uint64_t size;
    std::uint64_t userspace_addr;
};

class GuestMemory final {
public:
    struct RegionSpec {
        GuestAddress start;
        std::uint64_t size;
    };

    // Reserves anonymous memory for each region (MAP_NORESERVE, never pre-touched). Regions
    // must be page-aligned, non-empty and must not overlap.
    static Result<GuestMemory> create(std::span<const RegionSpec> regions);

    GuestMemory(GuestMemory&&) = default;
    GuestMemory& operator=(GuestMemory&&) = default;
    GuestMemory(const GuestMemory&) = delete;
    GuestMemory& operator=(const GuestMemory&) = delete;

    Result<GuestSlice> slice(GuestAddress addr, std::uint64_t len) const;
    Result<void> read(GuestAddress addr, std::span<std::byte> dst) const;
    Result<void> write(GuestAddress addr, std::span<const std::byte> src) const;
    // True if the whole range lies inside one region.
    bool contains(GuestAddress addr, std::uint64_t len) const;

    template <GuestPod T>
    Result<T> read_obj(GuestAddress addr) const
    {
        T v;
        MOAT_TRY(read(addr, std::as_writable_bytes(std::span(&v, 1))));
        return v;
    }
    template <GuestPod T>
    Result<void> write_obj(GuestAddress addr, const T& v) const
    {
        return write(addr, std::as_bytes(std::span(&v, 1)));
    }

    // 16-bit ring indices shared with the guest: one atomic access with the given order.
    // The address must be 2-byte aligned (checked).
    Result<std::uint16_t> load_u16(GuestAddress addr, std::memory_order order) const;
    Result<void> store_u16(GuestAddress addr, std::uint16_t value, std::memory_order order) const;

    // Reads `len` bytes of `fd` at `offset` straight into guest memory.
    Result<void> read_from_file(int fd, std::uint64_t offset, GuestAddress addr, std::uint64_t len) const;

    // Total bytes across regions, and the end of the highest region.
    std::uint64_t total_size() const;
    std::vector<KvmRegion> kvm_regions() const;

private:
    struct Region {
        GuestAddress start;
        std::uint64_t size;
        base::Mapping map;
    };
    explicit GuestMemory(std::vector<Region> r) : m_regions(std::move(r)) {}
    // Host pointer for [addr, addr + len), or nullptr when the range leaves every region.
    std::byte* host_range(GuestAddress addr, std::uint64_t len) const;

    std::vector<Region> m_regions;
};

}  // namespace moat::memory
