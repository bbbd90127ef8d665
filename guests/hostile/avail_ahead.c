/* avail_ahead: the driver moves the avail ring's idx far ahead of what it published: +1000 on a
 * queue of 8, +9 (one past the size), and 0xffff (one behind, as if it ran backwards). A device
 * that trusted idx would serve up to 65535 stale ring slots per notification and walk garbage
 * heads. It must stop instead: DEVICE_NEEDS_RESET (with a configuration-change interrupt, as the
 * driver is past DRIVER_OK), nothing put in the used ring, notifications ignored until a reset;
 * and exactly `size` ahead (eight entries naming one good chain) is still served. virtio 1.2
 * §2.7.6, §2.7.13.3 ("idx ... MUST NOT ... more than the queue size" entries in flight), §2.1.2. */
#include "hostile.h"

static uint8_t buf[SECTOR] __attribute__((aligned(16)));

static bool wait_needs_reset(uint64_t base)
{
	for (uint64_t i = 0; i < HX_WAIT && !hx_needs_reset(base); i++)
		cpu_relax();
	return hx_needs_reset(base);
}

static bool stops(uint64_t zero_page, uint16_t ahead)
{
	struct hq q;
	uint64_t base = hx_blk_open(zero_page, &q, 8, 0);
	if (!base)
		return false;
	hx_desc(&q, 0, HX_ADDR(buf), SECTOR, VQ_F_WRITE, 0); /* something to find, in case */
	for (uint16_t i = 0; i < 8; i++)
		q.avail[2 + i] = 0;
	barrier();
	q.avail[1] = ahead;
	barrier();
	hx_w(base, VM_QUEUE_NOTIFY, 0);
	bool stopped = wait_needs_reset(base);
	/* The device sets DEVICE_NEEDS_RESET first and then raises the interrupt (so that a driver
	 * woken by it finds the bit): a guest polling the status may read ISR in between. */
	uint32_t isr = 0;
	for (uint64_t i = 0; i < HX_WAIT && !((isr = hx_r(base, VM_INTERRUPT_STATUS)) & 2); i++)
		cpu_relax();
	hx_w(base, VM_QUEUE_NOTIFY, 0);
	rt_spin(100000);
	rt_print("avail idx ");
	rt_print_dec(ahead);
	rt_print(" on a queue of 8: ");
	rt_print(stopped ? "DEVICE_NEEDS_RESET" : "FAIL: no DEVICE_NEEDS_RESET");
	rt_print(", interrupt status ");
	rt_print_hex(isr);
	rt_print(", used idx ");
	rt_print_dec(q.used[1]);
	rt_putc('\n');
	return stopped && (isr & 2) && q.used[1] == 0;
}

void guest_main(uint64_t zero_page)
{
	bool ok = stops(zero_page, 1000);
	ok = stops(zero_page, 9) && ok;
	ok = stops(zero_page, 0xffff) && ok;
	/* Exactly the queue size ahead: eight entries for one chain, all served. */
	struct hq q;
	uint64_t base = hx_blk_open(zero_page, &q, 8, 0);
	if (!base)
		hx_verdict(false, "no disk");
	static struct blk_hdr hdr = { BLK_T_IN, 0, 0 };
	static volatile uint8_t status;
	hx_desc(&q, 0, HX_ADDR(&hdr), sizeof(hdr), VQ_F_NEXT, 1);
	hx_desc(&q, 1, HX_ADDR(buf), SECTOR, VQ_F_NEXT | VQ_F_WRITE, 2);
	hx_desc(&q, 2, HX_ADDR(&status), 1, VQ_F_WRITE, 0);
	for (uint16_t i = 0; i < 8; i++)
		q.avail[2 + i] = 0;
	barrier();
	q.avail[1] = 8;
	barrier();
	hx_w(base, VM_QUEUE_NOTIFY, 0);
	for (uint64_t i = 0; i < HX_WAIT && q.used[1] != 8; i++)
		cpu_relax();
	hx_note("exactly 8 ahead: used idx", q.used[1]);
	bool full = q.used[1] == 8 && !hx_needs_reset(base) && status == BLK_S_OK;
	hx_verdict(ok && full && hx_blk_recovers(zero_page), "avail idx more than the queue size ahead stops the queue");
}
