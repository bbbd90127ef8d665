// Identity page tables, GDT contents and the initial vCPU register state.
#include "boot/x86_64/long_mode.hpp"

#include <gtest/gtest.h>

#include <array>

#include "boot/memory_map.hpp"
#include "boot/x86_64/layout.hpp"

using namespace moat;
using namespace moat::boot;
using moat::memory::GuestAddress;
using moat::memory::GuestMemory;

namespace {

GuestMemory guest()
{
    auto specs = ram_regions(16 * 1024 * 1024);
    auto m = GuestMemory::create(specs);
    EXPECT_TRUE(m.has_value());
    return std::move(m).value();
}

std::uint64_t q(const GuestMemory& m, std::uint64_t addr) { return *m.read_obj<std::uint64_t>(GuestAddress(addr)); }

}  // namespace

TEST(LongMode, PageTablesIdentityMapFirstGib)
{
    auto m = guest();
    ASSERT_TRUE(m.write_obj<std::uint64_t>(GuestAddress(layout::k_pml4 + 8), 0xdead).has_value());
    ASSERT_TRUE(write_long_mode_tables(m).has_value());
    EXPECT_EQ(q(m, layout::k_pml4), 0xa003u);
    EXPECT_EQ(q(m, layout::k_pml4 + 8), 0u);  // stale entries cleared
    EXPECT_EQ(q(m, layout::k_pdpt), 0xb003u);
    EXPECT_EQ(q(m, layout::k_pdpt + 8), 0u);
    EXPECT_EQ(q(m, layout::k_pd), 0x83u);
    EXPECT_EQ(q(m, layout::k_pd + 8), 0x200083u);
    EXPECT_EQ(q(m, layout::k_pd + 511 * 8), 0x3fe00083u);
    // Every 2 MiB page maps to itself.
    for (std::uint64_t i = 0; i < 512; ++i) EXPECT_EQ(q(m, layout::k_pd + i * 8) & ~0xfffull, i << 21);
}

TEST(LongMode, GdtHoldsBootCsAndDs)
{
    auto m = guest();
    ASSERT_TRUE(write_long_mode_tables(m).has_value());
    EXPECT_EQ(q(m, layout::k_gdt), 0u);
    EXPECT_EQ(q(m, layout::k_gdt + 0x08), 0u);
    EXPECT_EQ(q(m, layout::k_gdt + k_boot_cs), 0x00af9b000000ffffu);
    EXPECT_EQ(q(m, layout::k_gdt + k_boot_ds), 0x00cf93000000ffffu);
    EXPECT_EQ(q(m, layout::k_idt), 0u);
}

TEST(LongMode, DescriptorDecoding)
{
    auto cs = segment_from_descriptor(k_gdt_code64, k_boot_cs);
    EXPECT_EQ(cs.base, 0u);
    EXPECT_EQ(cs.limit, 0xffffffffu);
    EXPECT_EQ(cs.selector, 0x10);
    EXPECT_EQ(cs.type, 0xb);
    EXPECT_EQ(cs.present, 1);
    EXPECT_EQ(cs.dpl, 0);
    EXPECT_EQ(cs.s, 1);
    EXPECT_EQ(cs.l, 1);
    EXPECT_EQ(cs.db, 0);
    EXPECT_EQ(cs.g, 1);
    EXPECT_EQ(cs.unusable, 0);

    auto tr = segment_from_descriptor(k_gdt_tss, k_boot_tr);
    EXPECT_EQ(tr.type, 0xb);  // busy 64-bit TSS
    EXPECT_EQ(tr.s, 0);
    EXPECT_EQ(tr.limit, 0x67u);
    EXPECT_EQ(tr.g, 0);

    auto odd = segment_from_descriptor(gdt_entry(0x4093, 0x12345678, 0xabcde), 0x28);
    EXPECT_EQ(odd.base, 0x12345678u);
    EXPECT_EQ(odd.limit, 0xabcdeu);
    EXPECT_EQ(odd.db, 1);
    EXPECT_EQ(segment_from_descriptor(0, 0).unusable, 1);
}

TEST(LongMode, SregsMatchTheGdtAndEnableLongMode)
{
    kvm_sregs s{};
    s.apic_base = 0xfee00900;
    s.cr2 = 0x1234;
    setup_long_mode_sregs(s);
    EXPECT_EQ(s.apic_base, 0xfee00900u);  // untouched
    EXPECT_EQ(s.cr2, 0x1234u);
    EXPECT_EQ(s.cs.selector, k_boot_cs);
    EXPECT_EQ(s.cs.l, 1);
    for (const kvm_segment* seg : {&s.ds, &s.es, &s.fs, &s.gs, &s.ss}) {
        EXPECT_EQ(seg->selector, k_boot_ds);
        EXPECT_EQ(seg->type, 0x3);
        EXPECT_EQ(seg->db, 1);
        EXPECT_EQ(seg->limit, 0xffffffffu);
    }
    EXPECT_EQ(s.tr.selector, k_boot_tr);
    EXPECT_EQ(s.tr.present, 1);
    EXPECT_EQ(s.gdt.base, layout::k_gdt);
    EXPECT_EQ(s.gdt.limit, 31);
    EXPECT_EQ(s.idt.base, layout::k_idt);
    EXPECT_EQ(s.idt.limit, 0);
    EXPECT_EQ(s.cr0, 0x80000031u);
    EXPECT_EQ(s.cr3, layout::k_pml4);
    EXPECT_EQ(s.cr4, 0x20u);
    EXPECT_EQ(s.efer, 0x500u);
}

TEST(LongMode, ProtectedModeSregsFor32BitEntry)
{
    kvm_sregs s{};
    s.apic_base = 0xfee00900;
    setup_protected_mode_sregs(s);
    EXPECT_EQ(s.apic_base, 0xfee00900u);
    EXPECT_EQ(s.cs.selector, k_boot_cs);
    EXPECT_EQ(s.cs.l, 0);
    EXPECT_EQ(s.cs.db, 1);
    EXPECT_EQ(s.cs.limit, 0xffffffffu);
    EXPECT_EQ(s.ds.selector, k_boot_ds);
    EXPECT_EQ(s.cr0, 0x11u);  // PE | ET: paging off
    EXPECT_EQ(s.cr4, 0u);
    EXPECT_EQ(s.efer, 0u);
}

TEST(LongMode, RegsFpuAndMsrs)
{
    kvm_regs r = boot_regs(0x100200);
    EXPECT_EQ(r.rip, 0x100200u);
    EXPECT_EQ(r.rsi, layout::k_zero_page);
    EXPECT_EQ(r.rsp, layout::k_boot_stack);
    EXPECT_EQ(r.rbp, layout::k_boot_stack);
    EXPECT_EQ(r.rflags, 2u);
    EXPECT_EQ(r.rax, 0u);

    kvm_fpu f = boot_fpu();
    EXPECT_EQ(f.fcw, 0x37f);
    EXPECT_EQ(f.mxcsr, 0x1f80u);

    auto msrs = boot_msrs();
    auto find = [&](std::uint32_t idx) -> std::optional<std::uint64_t> {
        for (auto [i, v] : msrs)
            if (i == idx) return v;
        return std::nullopt;
    };
    for (std::uint32_t idx : {0x174u, 0x175u, 0x176u, 0xc0000081u, 0xc0000082u, 0xc0000083u, 0xc0000084u,
                              0xc0000102u, 0x10u})
        EXPECT_EQ(find(idx), std::optional<std::uint64_t>(0)) << std::hex << idx;
    EXPECT_EQ(find(0x1a0), std::optional<std::uint64_t>(1));
}
