/* notify_flood: QueueNotify written as fast as the vCPU can: 50000 times for the live queue with
 * an empty ring, 10000 times for a queue index the device lacks (0xffff: each an exit to the VM
 * process), then, after a garbage avail idx put the device in DEVICE_NEEDS_RESET, 50000 more (a
 * million took 250 s in the nested lab). The VM process must absorb them without growing or
 * starving the others (hostile-test: CPU, RSS, the sentinel's rounds, rate-limited logs); no used
 * element may come from the empty ring, the device must still serve a request after the first
 * two floods, and work again after a reset. virtio 1.2 §4.2.3.3 (notifications), §2.7.10 (why
 * they are suppressed: each costs the host an exit); a guest starving its VMM's event thread. */
#include "hostile.h"

#define FLOOD 50000u /* ~0.25 ms each in the nested lab: 110000 take ~30 s */

static void flood(uint64_t base, uint32_t index, uint32_t n, const char *what)
{
	uint64_t t0 = rdtsc();
	for (uint32_t i = 0; i < n; i++)
		hx_w(base, VM_QUEUE_NOTIFY, index);
	uint64_t t = rdtsc() - t0;
	rt_print(what);
	rt_print(": ");
	rt_print_dec(n);
	rt_print(" notifications, TSC cycles per notification ");
	rt_print_dec(t / n);
	rt_putc('\n');
}

void guest_main(uint64_t zero_page)
{
	struct hq q;
	uint64_t base = hx_blk_open(zero_page, &q, 8, 0);
	if (!base)
		hx_verdict(false, "no disk");
	flood(base, 0, FLOOD, "queue 0, empty ring");
	bool quiet = q.used[1] == 0 && !hx_needs_reset(base);
	flood(base, 0xffff, FLOOD / 5, "queue 0xffff (missing)");
	quiet = quiet && q.used[1] == 0 && !hx_needs_reset(base);
	rt_print(quiet ? "nothing came back from the empty ring\n" : "FAIL: the flood changed the queue\n");
	bool works = hx_blk_reads(base, &q);
	q.avail[1] = (uint16_t)(q.avail[1] + 1000); /* garbage: NEEDS_RESET */
	barrier();
	hx_w(base, VM_QUEUE_NOTIFY, 0);
	for (uint64_t i = 0; i < HX_WAIT && !hx_needs_reset(base); i++)
		cpu_relax();
	bool stopped = hx_needs_reset(base);
	rt_print(stopped ? "garbage avail idx: DEVICE_NEEDS_RESET\n" : "FAIL: no DEVICE_NEEDS_RESET\n");
	uint16_t used = q.used[1];
	flood(base, 0, FLOOD, "queue 0 in DEVICE_NEEDS_RESET");
	stopped = stopped && q.used[1] == used;
	hx_verdict(quiet && works && stopped && hx_blk_recovers(zero_page),
		   "notification floods are absorbed; the disk works after");
}
