// CPUID filtering on synthetic KVM_GET_SUPPORTED_CPUID lists.
#include "boot/x86_64/cpuid.hpp"

#include <gtest/gtest.h>

#include <algorithm>

using namespace moat::boot;

namespace {

kvm_cpuid_entry2 leaf(std::uint32_t fn, std::uint32_t idx, std::uint32_t a, std::uint32_t b, std::uint32_t c,
                      std::uint32_t d)
{
    kvm_cpuid_entry2 e{};
    e.function = fn;
    e.index = idx;
    e.eax = a;
    e.ebx = b;
    e.ecx = c;
    e.edx = d;
    return e;
}

// A host with 2 threads per core, as KVM reports it before filtering.
std::vector<kvm_cpuid_entry2> intel()
{
    return {
        leaf(0, 0, 0x1f, 0x756e6547, 0x6c65746e, 0x49656e69),
        leaf(1, 0, 0x906ea, 0x07100800 | 0x12, 0x7ffafbff, 0xbfebfbff & ~(1u << 28)),
        leaf(4, 0, 0x1c004121, 0x01c0003f, 0x3f, 0),   // L1d, shared by 2
        leaf(4, 1, 0x1c004122, 0x01c0003f, 0x3f, 0),   // L1i
        leaf(4, 2, 0x1c004143, 0x01c0003f, 0x3ff, 0),  // L2
        leaf(4, 3, 0x1c03c163, 0x03c0003f, 0x2fff, 6), // L3, shared by 16
        leaf(4, 4, 0, 0, 0, 0),
        leaf(0xb, 0, 1, 2, 0x100, 7),
        leaf(0xb, 1, 4, 12, 0x201, 7),
        leaf(0x1f, 0, 1, 2, 0x100, 7),
        leaf(0x1f, 1, 4, 12, 0x201, 7),
        leaf(0x1f, 2, 0, 0, 2, 7),
        leaf(0x40000000, 0, 0x40000001, 0x4b4d564b, 0x564b4d56, 0x4d),
        leaf(0x40000001, 0, 0x1234, 0, 0, 0),
    };
}

std::vector<kvm_cpuid_entry2> amd()
{
    return {
        leaf(0, 0, 0x10, 0x68747541, 0x444d4163, 0x69746e65),
        leaf(1, 0, 0x830f10, 0x00100800, 0x7ed8320b, 0x178bfbff),
        leaf(0x80000001, 0, 0, 0, 0x75c237ff, 0x2fd3fbff),
        leaf(0x80000008, 0, 0x3030, 0x1007, 0x0000700f, 0),
        leaf(0x8000001e, 0, 5, 0x0102, 0x0301, 0),
    };
}

const kvm_cpuid_entry2* find(const std::vector<kvm_cpuid_entry2>& v, std::uint32_t fn, std::uint32_t idx = 0)
{
    auto it = std::find_if(v.begin(), v.end(), [&](const auto& e) { return e.function == fn && e.index == idx; });
    return it == v.end() ? nullptr : &*it;
}

std::size_t count(const std::vector<kvm_cpuid_entry2>& v, std::uint32_t fn)
{
    return static_cast<std::size_t>(std::count_if(v.begin(), v.end(), [&](const auto& e) { return e.function == fn; }));
}

}  // namespace

TEST(Cpuid, Leaf1CarriesApicIdCountAndHypervisorBit)
{
    auto v = intel();
    filter_cpuid(v, 3, 4);
    const auto* l1 = find(v, 1);
    ASSERT_NE(l1, nullptr);
    EXPECT_EQ(l1->ebx >> 24, 3u);           // initial APIC id
    EXPECT_EQ((l1->ebx >> 16) & 0xff, 4u);  // logical processors
    EXPECT_EQ((l1->ebx >> 8) & 0xff, 8u);   // CLFLUSH 64 bytes
    EXPECT_EQ(l1->ebx & 0xff, 0x12u);       // brand index kept
    EXPECT_TRUE(l1->ecx & (1u << 31));
    EXPECT_TRUE(l1->edx & (1u << 28));
    EXPECT_EQ(l1->eax, 0x906eau);
}

TEST(Cpuid, NoHardwareVirtualizationForTheGuest)
{
    for (auto v : {intel(), amd()}) {
        for (auto& e : v) {
            if (e.function == 1) e.ecx |= k_cpuid_leaf1_ecx_vmx;
            if (e.function == 0x80000001) e.ecx |= k_cpuid_ext1_ecx_svm | k_cpuid_ext1_ecx_cmp_legacy;
        }
        filter_cpuid(v, 0, 2);
        EXPECT_FALSE(find(v, 1)->ecx & k_cpuid_leaf1_ecx_vmx);
        if (const auto* e = find(v, 0x80000001)) {
            EXPECT_FALSE(e->ecx & k_cpuid_ext1_ecx_svm);
        }
    }
}

TEST(Cpuid, SingleVcpuHasNoHtt)
{
    auto v = intel();
    v[1].edx |= 1u << 28;
    filter_cpuid(v, 0, 1);
    const auto* l1 = find(v, 1);
    EXPECT_FALSE(l1->edx & (1u << 28));
    EXPECT_EQ((l1->ebx >> 16) & 0xff, 1u);
    EXPECT_EQ(l1->ebx >> 24, 0u);
}

TEST(Cpuid, ExtendedTopologyIsOneThreadPerCore)
{
    for (std::uint32_t leaf_no : {0xbu, 0x1fu}) {
        auto v = intel();
        filter_cpuid(v, 5, 6);
        ASSERT_EQ(count(v, leaf_no), 3u) << leaf_no;
        const auto* smt = find(v, leaf_no, 0);
        const auto* core = find(v, leaf_no, 1);
        const auto* end = find(v, leaf_no, 2);
        ASSERT_TRUE(smt && core && end);
        EXPECT_EQ(smt->eax, 0u);
        EXPECT_EQ(smt->ebx, 1u);
        EXPECT_EQ(smt->ecx, 0x100u);
        EXPECT_EQ(smt->edx, 5u);
        EXPECT_EQ(smt->flags, KVM_CPUID_FLAG_SIGNIFCANT_INDEX);
        EXPECT_EQ(core->eax, 3u);  // 6 cores need 3 APIC-id bits
        EXPECT_EQ(core->ebx, 6u);
        EXPECT_EQ(core->ecx, 0x201u);
        EXPECT_EQ(core->edx, 5u);
        EXPECT_EQ(end->ebx, 0u);
        EXPECT_EQ((end->ecx >> 8) & 0xff, 0u);
        EXPECT_EQ(end->ecx & 0xff, 2u);
        EXPECT_EQ(end->edx, 5u);
    }
}

TEST(Cpuid, TopologyLeavesAreNotInventedWhenAbsent)
{
    auto v = amd();
    filter_cpuid(v, 0, 2);
    EXPECT_EQ(count(v, 0xb), 0u);
    EXPECT_EQ(count(v, 0x1f), 0u);
}

TEST(Cpuid, IntelLeaf4CoresPerPackage)
{
    auto v = intel();
    filter_cpuid(v, 0, 4);
    for (std::uint32_t i = 0; i < 4; ++i) {
        const auto* c = find(v, 4, i);
        ASSERT_NE(c, nullptr);
        EXPECT_EQ(c->eax >> 26, 3u) << i;
        std::uint32_t sharing = (c->eax >> 14) & 0xfff;
        EXPECT_EQ(sharing, i == 3 ? 3u : 0u) << i;
        EXPECT_EQ(c->eax & 0x3fff, (i == 3 ? 0x1c03c163u : intel()[2 + i].eax) & 0x3fff);
    }
    EXPECT_EQ(find(v, 4, 4)->eax, 0u);  // the terminator stays empty
}

TEST(Cpuid, AmdCoreCountAndExtendedApicIds)
{
    auto v = amd();
    filter_cpuid(v, 2, 3);
    const auto* l8 = find(v, 0x80000008);
    EXPECT_EQ(l8->ecx & 0xff, 2u);          // NC = cores - 1
    EXPECT_EQ((l8->ecx >> 12) & 0xf, 2u);   // ApicIdSize
    EXPECT_EQ(l8->ecx >> 16, 0u);
    const auto* l1e = find(v, 0x8000001e);
    EXPECT_EQ(l1e->eax, 2u);
    EXPECT_EQ(l1e->ebx & 0xff, 2u);
    EXPECT_EQ((l1e->ebx >> 8) & 0xff, 0u);  // one thread per core
    EXPECT_EQ(l1e->ecx & 0x7ff, 0u);
    EXPECT_TRUE(find(v, 0x80000001)->ecx & 2);  // CmpLegacy with HTT
    EXPECT_TRUE(find(v, 1)->edx & (1u << 28));
    EXPECT_EQ(find(v, 1)->ebx >> 24, 2u);
}

TEST(Cpuid, HypervisorLeavesUntouched)
{
    auto v = intel();
    auto before = *find(v, 0x40000001);
    filter_cpuid(v, 1, 2);
    const auto* after = find(v, 0x40000001);
    ASSERT_NE(after, nullptr);
    EXPECT_EQ(after->eax, before.eax);
    EXPECT_EQ(find(v, 0x40000000)->ebx, 0x4b4d564bu);
}

TEST(Cpuid, EveryVcpuGetsItsOwnApicId)
{
    for (std::uint32_t i = 0; i < 8; ++i) {
        auto v = intel();
        filter_cpuid(v, i, 8);
        EXPECT_EQ(find(v, 1)->ebx >> 24, i);
        EXPECT_EQ(find(v, 0xb, 0)->edx, i);
        EXPECT_EQ(find(v, 0xb, 1)->eax, 3u);
    }
}
