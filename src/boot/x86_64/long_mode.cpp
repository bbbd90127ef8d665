// Identity page tables, GDT and initial register state for a 64-bit Linux entry.
#include "boot/x86_64/long_mode.hpp"

#include <array>
#include <cstring>

#include "boot/x86_64/layout.hpp"

namespace moat::boot {

namespace {

constexpr std::size_t k_entries = 512;
constexpr std::uint64_t k_2mib = 2 * 1024 * 1024;
using Table = std::array<std::uint64_t, k_entries>;

Result<void> write_table(const memory::GuestMemory& mem, std::uint64_t addr, const Table& t)
{
    return mem.write(memory::GuestAddress(addr), std::as_bytes(std::span(t)));
}

}  // namespace

kvm_segment segment_from_descriptor(std::uint64_t d, std::uint16_t selector)
{
    kvm_segment s{};
    s.base = ((d >> 16) & 0xffffff) | (((d >> 56) & 0xff) << 24);
    auto raw_limit = static_cast<std::uint32_t>((d & 0xffff) | (((d >> 48) & 0xf) << 16));
    s.g = static_cast<std::uint8_t>((d >> 55) & 1);
    // With G=1 the limit counts 4 KiB units; KVM wants it in bytes.
    s.limit = s.g ? (raw_limit << 12) | 0xfff : raw_limit;
    s.selector = selector;
    s.type = static_cast<std::uint8_t>((d >> 40) & 0xf);
    s.s = static_cast<std::uint8_t>((d >> 44) & 1);
    s.dpl = static_cast<std::uint8_t>((d >> 45) & 3);
    s.present = static_cast<std::uint8_t>((d >> 47) & 1);
    s.avl = static_cast<std::uint8_t>((d >> 52) & 1);
    s.l = static_cast<std::uint8_t>((d >> 53) & 1);
    s.db = static_cast<std::uint8_t>((d >> 54) & 1);
    s.unusable = s.present ? 0 : 1;
    return s;
}

Result<void> write_long_mode_tables(const memory::GuestMemory& mem)
{
    Table pml4{};
    pml4[0] = layout::k_pdpt | k_pte_present | k_pte_writable;
    Table pdpt{};
    pdpt[0] = layout::k_pd | k_pte_present | k_pte_writable;
    Table pd{};
    for (std::size_t i = 0; i < k_entries; ++i) pd[i] = i * k_2mib | k_pte_present | k_pte_writable | k_pte_large;
    MOAT_TRY(write_table(mem, layout::k_pml4, pml4));
    MOAT_TRY(write_table(mem, layout::k_pdpt, pdpt));
    MOAT_TRY(write_table(mem, layout::k_pd, pd));

    static_assert(layout::k_gdt + sizeof(k_gdt_table) <= layout::k_idt, "GDT overlaps the IDT");
    MOAT_TRY(mem.write(memory::GuestAddress(layout::k_gdt), std::as_bytes(std::span(k_gdt_table))));
    // An empty IDT (limit 0): any exception before the kernel loads its own shuts the VM down.
    // Write one zero gate so the byte under IDTR is defined.
    return mem.write_obj<std::uint64_t>(memory::GuestAddress(layout::k_idt), 0);
}

void setup_long_mode_sregs(kvm_sregs& s)
{
    s.cs = segment_from_descriptor(k_gdt_code64, k_boot_cs);
    kvm_segment data = segment_from_descriptor(k_gdt_data, k_boot_ds);
    s.ds = data;
    s.es = data;
    s.fs = data;
    s.gs = data;
    s.ss = data;
    s.tr = segment_from_descriptor(k_gdt_tss, k_boot_tr);

    s.gdt.base = layout::k_gdt;
    s.gdt.limit = static_cast<std::uint16_t>(sizeof(k_gdt_table) - 1);
    s.idt.base = layout::k_idt;
    s.idt.limit = 0;

    s.cr0 = k_cr0_pe | k_cr0_et | k_cr0_ne | k_cr0_pg;
    s.cr3 = layout::k_pml4;
    s.cr4 = k_cr4_pae;
    s.efer = k_efer_lme | k_efer_lma;
}

void setup_protected_mode_sregs(kvm_sregs& s)
{
    setup_long_mode_sregs(s);
    // The same descriptors, seen as 32-bit: the code segment's L bit must be clear outside
    // long mode, and D/B set for 32-bit operands. The kernel loads its own GDT at once.
    s.cs.l = 0;
    s.cs.db = 1;
    s.cr0 = k_cr0_pe | k_cr0_et;
    s.cr3 = 0;
    s.cr4 = 0;
    s.efer = 0;
}

kvm_regs boot_regs(std::uint64_t entry)
{
    kvm_regs r{};
    r.rip = entry;
    r.rsi = layout::k_zero_page;  // boot.rst: %rsi holds the base of struct boot_params
    r.rsp = layout::k_boot_stack;
    r.rbp = layout::k_boot_stack;
    r.rflags = 0x2;
    return r;
}

kvm_fpu boot_fpu()
{
    kvm_fpu f{};
    f.fcw = 0x37f;
    f.mxcsr = 0x1f80;
    return f;
}

std::vector<std::pair<std::uint32_t, std::uint64_t>> boot_msrs()
{
    return {
        {k_msr_ia32_sysenter_cs, 0},
        {k_msr_ia32_sysenter_esp, 0},
        {k_msr_ia32_sysenter_eip, 0},
        {k_msr_star, 0},
        {k_msr_lstar, 0},
        {k_msr_cstar, 0},
        {k_msr_syscall_mask, 0},
        {k_msr_kernel_gs_base, 0},
        {k_msr_ia32_tsc, 0},
        {k_msr_ia32_misc_enable, k_misc_enable_fast_string},
    };
}

}  // namespace moat::boot
