// Shared helpers for the virtio fuzz targets: a small guest memory filled from fuzz input, and a
// tiny reader over the input bytes.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "base/unique_fd.hpp"
#include "memory/guest_memory.hpp"

namespace moat::fuzz {

inline constexpr std::uint64_t k_mem_size = 0x10000;

// One 64 KiB region at guest address 0, reused across iterations.
inline const memory::GuestMemory& guest_memory()
{
    static memory::GuestMemory mem = [] {
        std::array specs{memory::GuestMemory::RegionSpec{memory::GuestAddress(0), k_mem_size}};
        auto m = memory::GuestMemory::create(specs);
        if (!m) __builtin_trap();
        return std::move(m).value();
    }();
    return mem;
}

// Guest memory := `bytes` followed by zeros.
inline void fill_memory(std::span<const std::uint8_t> bytes)
{
    static std::array<std::byte, k_mem_size> buf;
    buf.fill(std::byte{0});
    std::memcpy(buf.data(), bytes.data(), std::min<std::size_t>(bytes.size(), buf.size()));
    if (!guest_memory().write(memory::GuestAddress(0), buf)) __builtin_trap();
}

// A 32 KiB disk in memory (64 sectors), shared by iterations.
inline int disk_fd()
{
    static int fd = [] {
        int f = ::memfd_create("moat-fuzz-disk", MFD_CLOEXEC);
        if (f < 0 || ::ftruncate(f, 64 * 512) != 0) __builtin_trap();
        return f;
    }();
    return fd;
}

class Input final {
public:
    Input(const std::uint8_t* data, std::size_t size) : m_data(data, size) {}
    template <typename T>
    T take()
    {
        T v{};
        const std::size_t n = std::min(sizeof(T), m_data.size());
        std::memcpy(&v, m_data.data(), n);
        m_data = m_data.subspan(n);
        return v;
    }
    std::span<const std::uint8_t> rest() const { return m_data; }
    bool empty() const { return m_data.empty(); }

private:
    std::span<const std::uint8_t> m_data;
};

}  // namespace moat::fuzz
