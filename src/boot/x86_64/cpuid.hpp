// Per-vCPU CPUID: adjusts what KVM_GET_SUPPORTED_CPUID reports so the guest sees one package
// of `vcpu_count` single-threaded cores with APIC ids 0..N-1 (matching the MADT).
// Intel SDM Vol. 2A "CPUID"; AMD APM Vol. 3 Appendix E.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <vector>

namespace moat::boot {

// xAPIC ids and CPUID.1:EBX[23:16] are 8 bits wide.
inline constexpr std::uint32_t k_max_vcpus = 255;

// Leaf numbers and bits that filter_cpuid touches.
inline constexpr std::uint32_t k_cpuid_leaf1_ecx_hypervisor = 1u << 31;
inline constexpr std::uint32_t k_cpuid_leaf1_edx_htt = 1u << 28;
inline constexpr std::uint32_t k_cpuid_ext1_ecx_cmp_legacy = 1u << 1;
// Hardware virtualization: KVM lets a guest enable VMX or SVM only when its CPUID has them,
// and moat never offers them: a guest does not reach KVM's nested virtualization.
inline constexpr std::uint32_t k_cpuid_leaf1_ecx_vmx = 1u << 5;
inline constexpr std::uint32_t k_cpuid_ext1_ecx_svm = 1u << 2;
inline constexpr std::uint32_t k_topology_level_smt = 1;
inline constexpr std::uint32_t k_topology_level_core = 2;

// Rewrites `entries` (from KVM_GET_SUPPORTED_CPUID) for vCPU `vcpu_index` of `vcpu_count`:
//  - leaf 1: EBX initial APIC id, logical processor count, CLFLUSH line size 64; ECX
//    hypervisor bit set, VMX clear; EDX HTT set iff vcpu_count > 1; 0x80000001 ECX SVM clear;
//  - leaves 0xB and 0x1F (only if present): replaced by SMT (1 thread), Core (vcpu_count
//    logical processors) and an invalid terminating level, EDX the x2APIC id;
//  - Intel leaf 4: cores per package = vcpu_count; L1/L2 per core, L3+ shared by all;
//  - AMD/Hygon: 0x80000001 ECX CmpLegacy = HTT, 0x80000008 ECX NC = vcpu_count - 1 with
//    ApicIdSize, 0x8000001E (if present) per-vCPU ids with one thread per core, node 0.
// Hypervisor leaves (0x40000000..) and everything else are left as KVM reported them.
// Preconditions (checked): 1 <= vcpu_count <= k_max_vcpus, vcpu_index < vcpu_count.
void filter_cpuid(std::vector<kvm_cpuid_entry2>& entries, std::uint32_t vcpu_index, std::uint32_t vcpu_count);

}  // namespace moat::boot
