// The ACPI tables of a moat x86-64 guest (ACPI 6.5 §5.2): RSDP, XSDT, FADT, MADT and DSDT for
// a hardware-reduced platform with local APICs, one IOAPIC and virtio-mmio devices.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "base/result.hpp"

namespace moat::boot::acpi {

// One virtio-mmio device window, described in the DSDT as a "LNRO0005" device.
struct VirtioMmioSlot {
    std::uint64_t base;  // must lie, with `size`, below 4 GiB (Memory32Fixed)
    std::uint32_t size;
    std::uint32_t gsi;   // IOAPIC input, edge-triggered, active high
};

// A 16550A UART besides COM1, described as a "PNP0501" device (an OCI container's COM2 to COM4).
struct UartSlot {
    std::uint16_t port;  // 8 I/O ports from here
    std::uint32_t gsi;   // IOAPIC input, edge-triggered, active high
};

struct Config {
    std::uint32_t vcpus;                  // 1..255: APIC ids 0..vcpus-1
    std::vector<VirtioMmioSlot> virtio;   // at most 4096; slot n becomes \_SB.Vnnn with _UID n
    std::vector<UartSlot> uarts{};        // at most 3: \_SB.COM2.. with _UID 1..
};

struct Tables {
    std::vector<std::byte> bytes;  // to be copied to guest address `base`; RSDP first
    std::uint64_t rsdp_addr;       // == base; for boot_params.acpi_rsdp_addr
};

// Lays out RSDP, XSDT, FADT, MADT and DSDT contiguously from guest address `base`, each table
// at an 8-byte aligned offset, all pointers absolute guest addresses, every checksum set.
// Errors: InvalidInput if vcpus is 0 or above 255, base is not 16-byte aligned (§5.2.5.1), there
// are more than 4096 virtio slots or a slot reaches above 4 GiB; NoSpace if base + size > limit.
// Pure function of its arguments; thread-safe.
Result<Tables> build_tables(const Config& config, std::uint64_t base, std::uint64_t limit);

}  // namespace moat::boot::acpi
