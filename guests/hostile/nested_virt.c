/* nested_virt: a guest that tries to become a hypervisor itself. It reads CPUID for VMX (leaf 1
 * ECX bit 5) and SVM (leaf 0x80000001 ECX bit 2); on AMD it sets EFER.SVME, points VM_HSAVE_PA
 * at a page and executes VMRUN, VMLOAD and VMSAVE on a zeroed VMCB. Each step that works
 * reaches KVM's nested-virtualization emulation (arch/x86/kvm/svm/nested.c, vmx/nested.c),
 * one of KVM's largest and most bug-prone surfaces: CVE-2021-29657 (nSVM double fetch, a guest
 * escape), CVE-2021-3653 and CVE-2021-3656 (nSVM int_ctl and virt_ext not checked), CVE-2023-30456
 * (nVMX CR0/CR4 checks). KVM_GET_SUPPORTED_CPUID offers VMX or SVM whenever the host's kvm
 * module has nested=1 (its default); moat clears both from the guest's CPUID
 * (src/boot/x86_64/cpuid.cpp filter_cpuid, since this case found them there), and KVM then
 * refuses EFER.SVME. Expected: neither bit, EFER.SVME refused with #GP. */
#include "platform.h"

#define MSR_EFER 0xc0000080u
#define EFER_SVME (1ull << 12)
#define MSR_VM_HSAVE_PA 0xc0010117u

static uint8_t vmcb[4096] __attribute__((aligned(4096)));
static uint8_t hsave[4096] __attribute__((aligned(4096)));

void guest_main(uint64_t zero_page)
{
	rt_print("moat hostile suite: nested_virt\n");
	uint32_t r[4];
	pf_cpuid(1, 0, r);
	bool vmx = r[2] & (1u << 5);
	pf_cpuid(0x80000001, 0, r);
	bool svm = r[2] & (1u << 2);
	hx_note("CPUID VMX", vmx);
	hx_note("CPUID SVM", svm);
	uint64_t efer = rdmsr(MSR_EFER), before = rt_caught();
	rt_catch(13, 2);
	wrmsr(MSR_EFER, efer | EFER_SVME);
	bool svme = rt_caught() == before && (rdmsr(MSR_EFER) & EFER_SVME);
	hx_note("EFER.SVME accepted", svme);
	if (svme) {
		wrmsr(MSR_VM_HSAVE_PA, (uint64_t)(uintptr_t)hsave);
		memset(vmcb, 0, sizeof(vmcb));
		uint64_t a = (uint64_t)(uintptr_t)vmcb;
		__asm__ volatile(".byte 0x0f, 0x01, 0xda" : : "a"(a) : "memory"); /* vmload */
		__asm__ volatile(".byte 0x0f, 0x01, 0xdb" : : "a"(a) : "memory"); /* vmsave */
		memset(vmcb, 0, sizeof(vmcb));
		__asm__ volatile(".byte 0x0f, 0x01, 0xd8" /* vmrun: a zeroed VMCB fails its checks */
				 : "+a"(a)
				 :
				 : "rbx", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "memory");
		uint64_t exit_code;
		memcpy(&exit_code, vmcb + 0x70, 8); /* VMCB control area: EXITCODE */
		hx_note("VMRUN of a zeroed VMCB: exit code (2^64-1 is VMEXIT_INVALID)", exit_code);
		rt_print(exit_code == ~0ull ? "KVM's nested SVM checked the VMCB and refused it\n"
					    : "KVM's nested SVM answered otherwise\n");
		wrmsr(MSR_EFER, efer);
	}
	bool ok = rt_check(!vmx && !svm, "the guest does not see VMX or SVM");
	ok = rt_check(!svme, "EFER.SVME is refused: no nested virtualization") && ok;
	ok = pf_serial_ok() && ok;
	ok = pf_virtio_ok(zero_page) && ok;
	hx_verdict(ok, "nested virtualization is out of the guest's reach");
}
