// The local APIC's initial wiring.
#include "boot/x86_64/lapic.hpp"

#include <gtest/gtest.h>

#include <cstring>

namespace moat::boot {
namespace {

std::uint32_t reg(const kvm_lapic_state& s, std::uint32_t off)
{
    std::uint32_t v;
    std::memcpy(&v, &s.regs[off], sizeof v);
    return v;
}

TEST(Lapic, WiresLint0AsExtIntAndLint1AsNmiKeepingOtherBits)
{
    kvm_lapic_state s;
    std::memset(&s, 0xa5, sizeof s);  // every other bit must survive
    const std::uint32_t before0 = reg(s, k_lapic_lvt_lint0), before1 = reg(s, k_lapic_lvt_lint1);
    wire_lint_pins(s);
    EXPECT_EQ(reg(s, k_lapic_lvt_lint0), (before0 & ~0x700u) | 0x700u);  // ExtINT: 111b
    EXPECT_EQ(reg(s, k_lapic_lvt_lint1), (before1 & ~0x700u) | 0x400u);  // NMI: 100b
    kvm_lapic_state untouched;
    std::memset(&untouched, 0xa5, sizeof untouched);
    EXPECT_EQ(std::memcmp(s.regs, untouched.regs, k_lapic_lvt_lint0), 0);
    EXPECT_EQ(reg(s, 0x370), reg(untouched, 0x370));  // LVT Error, next to them
}

}  // namespace
}  // namespace moat::boot
