// The initial x86-64 vCPU state for the Linux 64-bit boot protocol: identity page tables, a
// flat GDT, and the register, FPU and MSR values a vCPU starts with.
// Documentation/arch/x86/boot.rst "64-bit BOOT PROTOCOL"; Intel SDM Vol. 3A §3.4.5, §4.5, §9.8.5.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <utility>
#include <vector>

#include "base/result.hpp"
#include "memory/guest_memory.hpp"

namespace moat::boot {

// Selectors the boot protocol requires: __BOOT_CS and __BOOT_DS.
inline constexpr std::uint16_t k_boot_cs = 0x10;
inline constexpr std::uint16_t k_boot_ds = 0x18;
// TR must hold a busy TSS for VM entry (SDM Vol. 3C §27.3.1.2). Only its cached state is ever
// used: layout puts the IDT at GDT + 0x20, so the 16-byte long-mode TSS descriptor cannot be
// written there without overlapping it. The selector lies past the GDT limit, so a guest
// reloading it from this GDT faults instead of reading half a descriptor.
inline constexpr std::uint16_t k_boot_tr = 0x20;

// GDT descriptors (SDM Vol. 3A §3.4.5), encoded from access byte + flags nibble, base, limit.
constexpr std::uint64_t gdt_entry(std::uint16_t flags, std::uint32_t base, std::uint32_t limit)
{
    return ((std::uint64_t{base} & 0xff000000) << 32) | ((std::uint64_t{flags} & 0xf0ff) << 40) |
           ((std::uint64_t{limit} & 0xf0000) << 32) | ((std::uint64_t{base} & 0x00ffffff) << 16) |
           (std::uint64_t{limit} & 0xffff);
}
// Flat 4 GiB segments: G=1, limit 0xfffff. Code: L=1, execute/read, accessed. Data: D/B=1,
// read/write, accessed.
inline constexpr std::uint64_t k_gdt_code64 = gdt_entry(0xa09b, 0, 0xfffff);
inline constexpr std::uint64_t k_gdt_data = gdt_entry(0xc093, 0, 0xfffff);
// 64-bit busy TSS (type 11), 104 bytes at 0: the cached TR state only (see k_boot_tr).
inline constexpr std::uint64_t k_gdt_tss = gdt_entry(0x008b, 0, 0x67);
// The GDT written at layout::k_gdt: null, null, __BOOT_CS, __BOOT_DS.
inline constexpr std::uint64_t k_gdt_table[] = {0, 0, k_gdt_code64, k_gdt_data};
static_assert(sizeof(k_gdt_table) == k_boot_tr);

// The segment register state a descriptor loads (what the CPU caches on a selector load).
kvm_segment segment_from_descriptor(std::uint64_t descriptor, std::uint16_t selector);

// Page-table entry bits (SDM Vol. 3A §4.5).
inline constexpr std::uint64_t k_pte_present = 1u << 0;
inline constexpr std::uint64_t k_pte_writable = 1u << 1;
inline constexpr std::uint64_t k_pte_large = 1u << 7;

// Control-register and EFER bits (SDM Vol. 3A §2.5, §2.2.1).
inline constexpr std::uint64_t k_cr0_pe = 1u << 0;
inline constexpr std::uint64_t k_cr0_et = 1u << 4;
inline constexpr std::uint64_t k_cr0_ne = 1u << 5;
inline constexpr std::uint64_t k_cr0_pg = 1u << 31;
inline constexpr std::uint64_t k_cr4_pae = 1u << 5;
inline constexpr std::uint64_t k_efer_lme = 1u << 8;
inline constexpr std::uint64_t k_efer_lma = 1u << 10;

// Writes PML4 -> PDPT -> PD at layout::k_pml4/k_pdpt/k_pd identity-mapping [0, 1 GiB) with
// 2 MiB pages, the GDT at layout::k_gdt and an empty IDT at layout::k_idt.
Result<void> write_long_mode_tables(const memory::GuestMemory& mem);

// Sets segments (from the GDT's descriptors), GDTR/IDTR, CR0 = PE|ET|NE|PG, CR3 = PML4,
// CR4 = PAE and EFER = LME|LMA. Every other field of `s` (apic_base, interrupt_bitmap, ldt,
// cr2, cr8) is left as it was, so the caller passes what KVM_GET_SREGS returned.
void setup_long_mode_sregs(kvm_sregs& s);

// 32-bit boot protocol: flat 4 GiB code (selector 0x10) and data (0x18) segments, GDTR/IDTR
// as for long mode, CR0 = PE|ET, paging off, EFER = 0. Other fields are left as they were.
void setup_protected_mode_sregs(kvm_sregs& s);

// rip = entry, rsi = zero page, rsp = rbp = boot stack, rflags = 0x2 (bit 1 is reserved-one).
kvm_regs boot_regs(std::uint64_t entry);

// The FPU after FNINIT (fcw 0x37f) with the reset MXCSR 0x1f80 (SDM Vol. 1 §8.1.5, §10.2.3).
kvm_fpu boot_fpu();

// MSR indices (SDM Vol. 4 §2.1).
inline constexpr std::uint32_t k_msr_ia32_tsc = 0x10;
inline constexpr std::uint32_t k_msr_ia32_sysenter_cs = 0x174;
inline constexpr std::uint32_t k_msr_ia32_sysenter_esp = 0x175;
inline constexpr std::uint32_t k_msr_ia32_sysenter_eip = 0x176;
inline constexpr std::uint32_t k_msr_ia32_misc_enable = 0x1a0;
inline constexpr std::uint32_t k_msr_star = 0xc0000081;
inline constexpr std::uint32_t k_msr_lstar = 0xc0000082;
inline constexpr std::uint32_t k_msr_cstar = 0xc0000083;
inline constexpr std::uint32_t k_msr_syscall_mask = 0xc0000084;
inline constexpr std::uint32_t k_msr_kernel_gs_base = 0xc0000102;
inline constexpr std::uint64_t k_misc_enable_fast_string = 1u << 0;

// (index, value) pairs for KVM_SET_MSRS: the syscall/sysenter MSRs and TSC zeroed,
// IA32_MISC_ENABLE with fast strings on.
std::vector<std::pair<std::uint32_t, std::uint64_t>> boot_msrs();

}  // namespace moat::boot
