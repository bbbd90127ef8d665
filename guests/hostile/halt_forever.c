/* halt_forever: every vCPU disables interrupts and halts, for good: the boot CPU starts the
 * second vCPU (INIT-SIPI-SIPI), which says it runs and halts; then the boot CPU halts too. With
 * the in-kernel local APIC, hlt never leaves KVM (src/vmm/vcpu.cpp: a KVM_EXIT_HLT would end the
 * VM): each vCPU thread sleeps in the kernel. The host must not spin for it, and moat must still
 * stop the VM on request. Sources: Intel SDM Vol. 2A "HLT", Vol. 3A §9.4 (MP start); the
 * class of denial-of-service through a guest that never yields (a busy-polling halt). Expected:
 * the VM is still there after `wait` seconds, uses almost no CPU (vm.exit's cpu_ms), and ends
 * when stopped. */
#define PF_SMP
#include "platform.h"

static volatile uint32_t ap_running;

void pf_ap_main(void)
{
	rt_load_idt();
	__atomic_store_n(&ap_running, 1, __ATOMIC_SEQ_CST);
	rt_halt();
}

void guest_main(uint64_t zero_page)
{
	(void)zero_page;
	rt_print("moat hostile suite: halt_forever\n");
	bool sent = pf_start_ap();
	uint64_t start = rdtsc();
	while (!__atomic_load_n(&ap_running, __ATOMIC_SEQ_CST) && rdtsc() - start < (1ull << 34))
		cpu_relax();
	if (!rt_check(sent && ap_running, "the second vCPU runs"))
		rt_halt();
	rt_print("VERDICT: PASS both vCPUs halt with interrupts off, from here on\n");
	rt_halt();
}
