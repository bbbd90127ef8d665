// The local APIC's initial wiring (see lapic.hpp).
#include "boot/x86_64/lapic.hpp"

#include <cstring>

namespace moat::boot {

namespace {

void set_delivery_mode(kvm_lapic_state& lapic, std::uint32_t reg, std::uint32_t mode)
{
    static_assert(sizeof lapic.regs >= k_lapic_lvt_lint1 + sizeof(std::uint32_t));
    std::uint32_t val;
    std::memcpy(&val, &lapic.regs[reg], sizeof val);
    val = (val & ~k_lvt_delivery_mode_mask) | (mode << k_lvt_delivery_mode_shift);
    std::memcpy(&lapic.regs[reg], &val, sizeof val);
}

}  // namespace

void wire_lint_pins(kvm_lapic_state& lapic)
{
    set_delivery_mode(lapic, k_lapic_lvt_lint0, k_lvt_mode_extint);
    set_delivery_mode(lapic, k_lapic_lvt_lint1, k_lvt_mode_nmi);
}

}  // namespace moat::boot
