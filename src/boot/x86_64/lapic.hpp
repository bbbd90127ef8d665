// The local APIC's initial wiring: LINT0 as ExtINT and LINT1 as NMI, the wiring of a PC
// (Intel SDM Vol. 3A 10.5.1 "Local Vector Table"; MP Spec 1.4 §5.1 "virtual wire mode").
#pragma once

#include <linux/kvm.h>

#include <cstdint>

namespace moat::boot {

// Register offsets in the APIC page (kvm_lapic_state::regs) and LVT delivery modes.
inline constexpr std::uint32_t k_lapic_lvt_lint0 = 0x350;
inline constexpr std::uint32_t k_lapic_lvt_lint1 = 0x360;
inline constexpr std::uint32_t k_lvt_delivery_mode_shift = 8;
inline constexpr std::uint32_t k_lvt_delivery_mode_mask = 0x7u << k_lvt_delivery_mode_shift;
inline constexpr std::uint32_t k_lvt_mode_nmi = 0x4;
inline constexpr std::uint32_t k_lvt_mode_extint = 0x7;

// Sets LINT0's delivery mode to ExtINT and LINT1's to NMI in a state read with KVM_GET_LAPIC,
// leaving every other bit as KVM had it.
void wire_lint_pins(kvm_lapic_state& lapic);

}  // namespace moat::boot
