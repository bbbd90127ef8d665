// CPUID topology and feature adjustments per vCPU (SDM Vol. 2A "CPUID"; APM Vol. 3 App. E).
#include "boot/x86_64/cpuid.hpp"

#include <algorithm>

#include "base/check.hpp"

namespace moat::boot {

namespace {

enum class Vendor : std::uint8_t { Intel, Amd, Other };

Vendor vendor_of(const std::vector<kvm_cpuid_entry2>& entries)
{
    for (const auto& e : entries) {
        if (e.function != 0) continue;
        // "GenuineIntel", "AuthenticAMD", "HygonGenuine" in EBX, EDX, ECX order.
        if (e.ebx == 0x756e6547 && e.edx == 0x49656e69 && e.ecx == 0x6c65746e) return Vendor::Intel;
        if (e.ebx == 0x68747541 && e.edx == 0x69746e65 && e.ecx == 0x444d4163) return Vendor::Amd;
        if (e.ebx == 0x6f677948 && e.edx == 0x6e65476e && e.ecx == 0x656e6975) return Vendor::Amd;
        return Vendor::Other;
    }
    return Vendor::Other;
}

// The number of APIC-id bits needed to number n cores: ceil(log2(n)).
std::uint32_t id_bits(std::uint32_t n)
{
    std::uint32_t bits = 0;
    while ((1u << bits) < n) ++bits;
    return bits;
}

std::uint32_t with_field(std::uint32_t reg, unsigned shift, std::uint32_t mask, std::uint32_t value)
{
    return (reg & ~(mask << shift)) | ((value & mask) << shift);
}

void filter_leaf1(kvm_cpuid_entry2& e, std::uint32_t index, std::uint32_t count)
{
    // EBX[7:0] brand index kept; [15:8] CLFLUSH line size in 8-byte units; [23:16] max
    // addressable logical processor ids in the package; [31:24] initial APIC id.
    e.ebx = with_field(e.ebx, 8, 0xff, 64 / 8);
    e.ebx = with_field(e.ebx, 16, 0xff, count);
    e.ebx = with_field(e.ebx, 24, 0xff, index);
    e.ecx |= k_cpuid_leaf1_ecx_hypervisor;
    e.ecx &= ~k_cpuid_leaf1_ecx_vmx;
    // HTT says EBX[23:16] is valid; Linux reads siblings from it only when set.
    if (count > 1)
        e.edx |= k_cpuid_leaf1_edx_htt;
    else
        e.edx &= ~k_cpuid_leaf1_edx_htt;
}

// SDM "Deterministic Cache Parameters Leaf": EAX[31:26] cores per package - 1, EAX[25:14]
// logical processors sharing this cache - 1.
void filter_leaf4(kvm_cpuid_entry2& e, std::uint32_t count)
{
    if ((e.eax & 0x1f) == 0) return;  // no more caches
    std::uint32_t level = (e.eax >> 5) & 0x7;
    e.eax = with_field(e.eax, 26, 0x3f, std::min<std::uint32_t>(count, 64) - 1);
    e.eax = with_field(e.eax, 14, 0xfff, level >= 3 ? count - 1 : 0);
}

// SDM "Extended Topology Enumeration Leaf" (0xB, and V2 0x1F with the same first levels).
void rewrite_topology(std::vector<kvm_cpuid_entry2>& entries, std::uint32_t leaf, std::uint32_t index,
                      std::uint32_t count)
{
    auto first = std::find_if(entries.begin(), entries.end(),
                              [leaf](const kvm_cpuid_entry2& e) { return e.function == leaf; });
    if (first == entries.end()) return;
    auto pos = static_cast<std::ptrdiff_t>(first - entries.begin());
    std::erase_if(entries, [leaf](const kvm_cpuid_entry2& e) { return e.function == leaf; });

    auto level = [&](std::uint32_t sub, std::uint32_t shift, std::uint32_t cpus, std::uint32_t type) {
        kvm_cpuid_entry2 e{};
        e.function = leaf;
        e.index = sub;
        e.flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
        e.eax = shift;              // bits to shift the x2APIC id right to reach the next level
        e.ebx = cpus;               // logical processors at this level
        e.ecx = sub | (type << 8);  // level number, level type
        e.edx = index;              // x2APIC id
        return e;
    };
    const kvm_cpuid_entry2 levels[] = {
        level(0, 0, 1, k_topology_level_smt),
        level(1, id_bits(count), count, k_topology_level_core),
        level(2, 0, 0, 0),  // type 0: no further levels
    };
    entries.insert(entries.begin() + pos, std::begin(levels), std::end(levels));
}

}  // namespace

void filter_cpuid(std::vector<kvm_cpuid_entry2>& entries, std::uint32_t vcpu_index, std::uint32_t vcpu_count)
{
    MOAT_CHECK(vcpu_count >= 1 && vcpu_count <= k_max_vcpus && vcpu_index < vcpu_count);
    const Vendor vendor = vendor_of(entries);
    const bool amd = vendor == Vendor::Amd;
    for (auto& e : entries) {
        switch (e.function) {
        case 0x1:
            filter_leaf1(e, vcpu_index, vcpu_count);
            break;
        case 0x4:
            if (vendor == Vendor::Intel) filter_leaf4(e, vcpu_count);
            break;
        case 0x80000001:
            e.ecx &= ~k_cpuid_ext1_ecx_svm;
            // APM: CmpLegacy set with HTT means the logical processors are cores, not threads.
            if (amd) {
                if (vcpu_count > 1)
                    e.ecx |= k_cpuid_ext1_ecx_cmp_legacy;
                else
                    e.ecx &= ~k_cpuid_ext1_ecx_cmp_legacy;
            }
            break;
        case 0x80000008:
            // APM: ECX[7:0] NC = cores - 1, ECX[15:12] ApicIdSize = core-id bits of the APIC id.
            if (amd) {
                e.ecx = with_field(e.ecx, 0, 0xff, vcpu_count - 1);
                e.ecx = with_field(e.ecx, 12, 0xf, id_bits(vcpu_count));
            }
            break;
        case 0x8000001e:
            // APM: EAX extended APIC id; EBX[7:0] core id, [15:8] threads per core - 1;
            // ECX[7:0] node id, [10:8] nodes per processor - 1.
            if (amd) {
                e.eax = vcpu_index;
                e.ebx = with_field(e.ebx, 0, 0xffff, vcpu_index & 0xff);
                e.ecx = with_field(e.ecx, 0, 0x7ff, 0);
            }
            break;
        default:
            break;
        }
    }
    rewrite_topology(entries, 0xb, vcpu_index, vcpu_count);
    rewrite_topology(entries, 0x1f, vcpu_index, vcpu_count);
}

}  // namespace moat::boot
