/* smp_storm: both vCPUs hammer the same virtio-mmio device at once: status values in and out
 * of order (reset, ACKNOWLEDGE, DRIVER, FEATURES_OK, FAILED, NEEDS_RESET, all ones), feature
 * selectors and features, QueueSel, QueueNum, QueueReady = 0, InterruptACK and QueueNotify,
 * while reading status and registers back. Two vCPU threads enter the transport together
 * (src/virtio/mmio.cpp: m_io, then m_regs); a lock taken out of order, or state changed
 * without it, shows as a deadlock (the VM hangs: no verdict) or a crash. Sources: virtio 1.2
 * §3.1.1 (the initialization order) and §2.1; the class of CVE-2020-25085 and CVE-2021-3929
 * (device state raced by concurrent guest accesses). Expected: both vCPUs finish, the device
 * resets and reads the disk again. */
#define PF_SMP
#include "platform.h"

#define ROUNDS 20000u

static volatile uint64_t blk;
static volatile uint32_t ap_running, ap_done;

static void hammer(uint64_t base, uint32_t seed)
{
	static const uint32_t status[] = { 0, 1, 3, 0xb, 0xf, 0x80, 0xffffffff, 0x40, 0x7, 0x4 };
	for (uint32_t i = 0; i < ROUNDS; i++) {
		if (!seed && i % 4000 == 0)
			hx_note("boot vCPU round", i); /* where a failing run stopped */
		uint32_t x = i * 2654435761u + seed;
		hx_w(base, VM_STATUS, status[x % 10]);
		hx_w(base, VM_DRIVER_FEATURES_SEL, x >> 31);
		hx_w(base, VM_DRIVER_FEATURES, x >> 31 ? 1 : 0); /* VERSION_1, or nothing */
		hx_w(base, VM_QUEUE_SEL, x & 4 ? 0xffffffff : x & 3);
		hx_w(base, VM_QUEUE_NUM, x & 0x3ff);
		hx_w(base, VM_QUEUE_READY, 0);
		hx_w(base, x & 8 ? VM_INTERRUPT_ACK : VM_QUEUE_NOTIFY, x & 16 ? 0xffffffff : 0);
		(void)hx_status(base), (void)hx_r(base, VM_QUEUE_NUM_MAX);
	}
}

void pf_ap_main(void)
{
	rt_load_idt();
	ap_running = 1;
	while (!blk)
		cpu_relax();
	hammer(blk, 0x5bd1e995u);
	__atomic_store_n(&ap_done, 1, __ATOMIC_SEQ_CST);
	rt_halt();
}

void guest_main(uint64_t zero_page)
{
	rt_print("moat hostile suite: smp_storm\n");
	uint64_t base = hx_find(zero_page, VIRTIO_ID_BLOCK);
	if (!base)
		hx_verdict(false, "no disk");
	bool sent = pf_start_ap();
	uint64_t start = rdtsc();
	while (!ap_running && rdtsc() - start < (1ull << 34))
		cpu_relax();
	if (!rt_check(sent && ap_running, "the second vCPU runs"))
		hx_verdict(false, "no second vCPU to race with");
	blk = base;
	hammer(base, 0);
	rt_print("the boot vCPU finished its rounds\n");
	start = rdtsc();
	while (!__atomic_load_n(&ap_done, __ATOMIC_SEQ_CST) && rdtsc() - start < (1ull << 38))
		cpu_relax();
	rt_print(ap_done ? "the second vCPU finished its rounds\n" : "the second vCPU did not finish\n");
	hx_note("status after the storm", hx_status(base));
	bool ok = rt_check(ap_done, "both vCPUs finished their rounds");
	ok = hx_blk_recovers(zero_page) && ok;
	ok = pf_serial_ok() && ok;
	hx_verdict(ok, "two vCPUs racing on one device's registers: no deadlock, the device recovers");
}
