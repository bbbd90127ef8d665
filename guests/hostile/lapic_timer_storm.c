/* lapic_timer_storm: the local APIC timer armed as fast as it goes, for good: periodic, divide
 * by 1, initial count 1, unmasked, with interrupts off, so that every expiry finds the last one
 * still pending; then the vCPU halts. KVM emulates the timer with a host hrtimer and clamps a
 * periodic timer's period (kvm's min_timer_period_us), so the host pays a bounded rate of
 * expiries; moat is not involved (the in-kernel LAPIC, src/vmm/builder.cpp setup_vcpu). Source:
 * Intel SDM Vol. 3A §11.5.4 (APIC timer); the class of guest-driven host timer storms (e.g.
 * CVE-2014-3690-era KVM timer DoS reports and the min_timer_period_us clamp added for them).
 * Expected: the registers read back what was written, the VM still runs after `wait` seconds
 * with its CPU time bounded (vm.exit's cpu_ms, noted in the suite's report), and it stops on
 * request. */
#include "platform.h"

#define LAPIC_SVR 0x0f0
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_TIMER_INIT 0x380
#define LAPIC_TIMER_CUR 0x390
#define LAPIC_TIMER_DIV 0x3e0

static uint32_t lapic(uint32_t reg) { return mmio_read32(LAPIC_BASE + reg); }
static void lapic_set(uint32_t reg, uint32_t v) { mmio_write32(LAPIC_BASE + reg, v); }

void guest_main(uint64_t zero_page)
{
	(void)zero_page;
	rt_print("moat hostile suite: lapic_timer_storm\n");
	lapic_set(LAPIC_SVR, lapic(LAPIC_SVR) | 0x1ff);
	lapic_set(LAPIC_TIMER_DIV, 0xb);           /* divide by 1 */
	lapic_set(LAPIC_LVT_TIMER, 1u << 17 | 0xef); /* periodic, unmasked, vector 0xef */
	lapic_set(LAPIC_TIMER_INIT, 1);
	uint32_t lvt = lapic(LAPIC_LVT_TIMER), init = lapic(LAPIC_TIMER_INIT), div = lapic(LAPIC_TIMER_DIV);
	uint32_t irr = lapic(0x200 + 0xe0 / 32 * 0x10); /* IRR bits 0xe0..0xff */
	for (int i = 0; i < 1000 && !(irr & 1u << (0xef - 0xe0)); i++, rt_spin(1000))
		irr = lapic(0x200 + 0xe0 / 32 * 0x10);
	hx_note("LVT timer", lvt);
	hx_note("initial count", init);
	hx_note("current count", lapic(LAPIC_TIMER_CUR));
	bool ok = rt_check(lvt == (1u << 17 | 0xef) && init == 1 && (div & 0xb) == 0xb,
			   "the timer is armed periodic, count 1, divide by 1");
	ok = rt_check(irr & 1u << (0xef - 0xe0), "its interrupt is pending (interrupts stay off)") && ok;
	if (ok)
		rt_print("VERDICT: PASS the timer runs as fast as KVM lets it, from here on; the vCPU halts\n");
	rt_halt();
}
