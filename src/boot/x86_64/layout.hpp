// The guest physical address map of a moat x86-64 VM: where boot structures, RAM, devices and
// interrupt controllers live. Everything that places something in the guest reads it here.
#pragma once

#include <cstdint>

namespace moat::boot::layout {

// Boot structures in low memory (below the EBDA).
inline constexpr std::uint64_t k_gdt = 0x500;
inline constexpr std::uint64_t k_idt = 0x520;
inline constexpr std::uint64_t k_zero_page = 0x7000;   // struct boot_params
inline constexpr std::uint64_t k_boot_stack = 0x8ff0;  // initial rsp/rbp
inline constexpr std::uint64_t k_pml4 = 0x9000;
inline constexpr std::uint64_t k_pdpt = 0xa000;
inline constexpr std::uint64_t k_pd = 0xb000;          // 512 x 2 MiB: identity maps 1 GiB
inline constexpr std::uint64_t k_cmdline = 0x20000;
inline constexpr std::uint64_t k_cmdline_max = 0x10000;

// Legacy holes: [EBDA, 1 MiB) is reserved in the e820 map; ACPI tables live inside it.
inline constexpr std::uint64_t k_ebda = 0x9fc00;
inline constexpr std::uint64_t k_acpi_start = 0xe0000;  // RSDP first, then the other tables
inline constexpr std::uint64_t k_acpi_end = 0x100000;
inline constexpr std::uint64_t k_high_memory = 0x100000;  // 1 MiB: protected-mode kernel

// RAM runs from 0 up to the 32-bit MMIO gap; anything beyond continues at 4 GiB.
inline constexpr std::uint64_t k_mmio_gap_start = 0xc0000000;
inline constexpr std::uint64_t k_mmio_gap_end = 0x100000000;

// virtio-mmio devices: one 4 KiB window each, interrupts from GSI 5 upwards.
inline constexpr std::uint64_t k_virtio_mmio_base = 0xd0000000;
inline constexpr std::uint64_t k_virtio_mmio_size = 0x1000;
inline constexpr std::uint32_t k_virtio_irq_base = 5;
inline constexpr std::uint32_t k_virtio_max_devices = 16;  // GSIs 5..20

// Interrupt controllers and KVM's private pages (the latter needed on Intel only).
inline constexpr std::uint64_t k_ioapic = 0xfec00000;
inline constexpr std::uint64_t k_lapic = 0xfee00000;
inline constexpr std::uint64_t k_kvm_identity_map = 0xfffbc000;
inline constexpr std::uint64_t k_kvm_tss = 0xfffbd000;

// Legacy I/O ports.
inline constexpr std::uint16_t k_com1 = 0x3f8;
inline constexpr std::uint32_t k_com1_irq = 4;
// A container's VM only (docs/oci.md): COM2 to COM4 at a PC's ports, each with an interrupt of
// its own (ACPI describes them; nothing is shared): GSI 3, and the IOAPIC's last two inputs.
inline constexpr std::uint16_t k_com2 = 0x2f8;
inline constexpr std::uint32_t k_com2_irq = 3;
inline constexpr std::uint16_t k_com3 = 0x3e8;
inline constexpr std::uint32_t k_com3_irq = 22;
inline constexpr std::uint16_t k_com4 = 0x2e8;
inline constexpr std::uint32_t k_com4_irq = 23;
static_assert(k_virtio_irq_base + k_virtio_max_devices <= k_com3_irq, "a container's UARTs above the virtio GSIs");
inline constexpr std::uint16_t k_i8042_data = 0x60;
inline constexpr std::uint16_t k_i8042_command = 0x64;
// ACPI hardware-reduced sleep registers (FADT SLEEP_CONTROL_REG / SLEEP_STATUS_REG).
inline constexpr std::uint16_t k_acpi_sleep_control = 0x600;
inline constexpr std::uint16_t k_acpi_sleep_status = 0x601;
// The SLP_TYP value _S5 declares; writing it with SLP_EN powers the VM off.
inline constexpr std::uint8_t k_s5_sleep_type = 5;

}  // namespace moat::boot::layout
