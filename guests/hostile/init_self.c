/* init_self: the second vCPU sends itself an INIT IPI (local APIC ICR, physical destination, its
 * own APIC id) and so parks itself in wait-for-SIPI, where only a STARTUP IPI brings it back:
 * its vCPU thread sits in KVM_RUN for good and no exit reaches moat from it. The boot vCPU
 * checks that it stopped, then halts. moat must still stop the VM on request (src/vmm/vcpu.cpp
 * stop_vcpus: a signal and immediate_exit) and the host must not spin for it. Source: Intel SDM
 * Vol. 3A §10.6.1 (ICR, INIT delivery) and §9.4 (wait-for-SIPI); the class of VMMs whose stop
 * path waits for a vCPU to exit by itself. Expected: the second vCPU's count stops and its line
 * after the IPI never comes; the VM still runs after `wait` seconds with almost no CPU time,
 * and ends when stopped. */
#define PF_SMP
#include "platform.h"

static volatile uint64_t count;
static volatile uint32_t sending, after;

void pf_ap_main(void)
{
	rt_load_idt();
	for (int i = 0; i < 100000; i++)
		count = count + 1;
	sending = 1;
	mmio_write32(LAPIC_BASE + 0x310, 1u << 24);
	mmio_write32(LAPIC_BASE + 0x300, 0x4500); /* INIT, level assert, physical: to itself */
	for (;;)
		after = 1, count = count + 1;
}

void guest_main(uint64_t zero_page)
{
	(void)zero_page;
	rt_print("moat hostile suite: init_self\n");
	bool sent = pf_start_ap();
	uint64_t start = rdtsc();
	while (!sending && rdtsc() - start < (1ull << 34))
		cpu_relax();
	rt_spin(2000000);
	uint64_t a = count;
	rt_spin(2000000);
	uint64_t b = count;
	hx_note("the second vCPU's count after its INIT", a);
	bool ok = rt_check(sent && sending, "the second vCPU ran and sent itself INIT");
	ok = rt_check(a == b && !after, "it stopped at once: parked in wait-for-SIPI") && ok;
	if (ok)
		rt_print("VERDICT: PASS one vCPU parked by INIT, the other halted, from here on\n");
	rt_halt();
}
