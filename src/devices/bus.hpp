// The I/O buses: an address-range map from port-I/O or MMIO addresses to devices.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "base/result.hpp"

namespace moat::devices {

// A device register window. Called from vCPU threads; each device serialises itself.
class BusDevice {
public:
    virtual ~BusDevice() = default;
    // `offset` is relative to the window's base; data.size() is 1, 2, 4 or 8.
    virtual void read(std::uint64_t offset, std::span<std::byte> data) = 0;
    virtual void write(std::uint64_t offset, std::span<const std::byte> data) = 0;
};

// Non-overlapping ranges, fixed once the VM is built; lookups are lock-free reads.
class Bus final {
public:
    // Fails if [base, base + len) is empty, overflows or overlaps a range already present.
    Result<void> insert(std::uint64_t base, std::uint64_t len, BusDevice& device);
    // Dispatches to the device covering the whole access; false if none does (unassigned).
    bool read(std::uint64_t addr, std::span<std::byte> data) const;
    bool write(std::uint64_t addr, std::span<const std::byte> data) const;

private:
    struct Range {
        std::uint64_t base;
        std::uint64_t len;
        BusDevice* device;  // not owned: devices outlive the bus's users (the vCPU threads)
    };
    const Range* find(std::uint64_t addr, std::uint64_t len) const;
    std::vector<Range> m_ranges;  // sorted by base
};

}  // namespace moat::devices
