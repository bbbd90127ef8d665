/* reset_race: with two vCPUs, the second resets the disk and sets it up again without pause
 * (Status 0, features, queue, DRIVER_OK, the rings zeroed) while the first keeps publishing a
 * read request and notifying, so that resets land while the device walks the ring, reads the
 * disk and writes the used ring. The device must serialise reset against that I/O (no use of a
 * queue or buffer a reset dropped: a crash or a hang of the VM process, which hostile-test sees),
 * never write outside the request's buffers, and work normally once the resets stop. virtio 1.2
 * §2.4 (device reset), §4.2.2 (Status); the use-after-free class of device state torn down
 * under in-flight I/O (as QEMU's AHCI NCQ state, CVE-2016-1568). */
#include "hostile.h"

#define ROUNDS 4000
static uint64_t base;
static struct hq q;
static struct blk_hdr hdr;
static volatile uint8_t status;
static uint8_t area[3][4096] __attribute__((aligned(4096))); /* guard, data, guard */
static volatile bool stop, done;
static volatile uint64_t resets, ready;

static void resetter(void)
{
	while (!stop) {
		hx_w(base, VM_STATUS, 0);
		q.avail[1] = 0;
		q.used[1] = 0;
		if (hx_negotiate(base, BIT(F_VERSION_1)) &&
		    hx_queue_raw(base, 0, q.size, HX_ADDR(q.desc), HX_ADDR(q.avail), HX_ADDR(q.used)) &&
		    hx_driver_ok(base))
			ready++;
		resets++;
		rt_spin(resets % 64);
	}
	done = true;
}

void guest_main(uint64_t zero_page)
{
	base = hx_blk_open(zero_page, &q, 8, 0);
	if (!base)
		hx_verdict(false, "no disk");
	memset(area, 0xcc, sizeof(area));
	hdr = (struct blk_hdr){ BLK_T_IN, 0, 0 };
	hx_desc(&q, 0, HX_ADDR(&hdr), sizeof(hdr), VQ_F_NEXT, 1);
	hx_desc(&q, 1, HX_ADDR(area[1]), SECTOR, VQ_F_NEXT | VQ_F_WRITE, 2);
	hx_desc(&q, 2, HX_ADDR(&status), 1, VQ_F_WRITE, 0);
	for (int i = 0; i < 8; i++)
		q.avail[2 + i] = 0;
	if (!hx_start_ap(resetter))
		hx_verdict(false, "the second vCPU did not start");
	uint64_t served = 0, needs_reset = 0;
	uint16_t seen = 0;
	for (int i = 0; i < ROUNDS; i++) {
		uint16_t used = q.used[1];
		if (used != seen)
			served++;
		seen = used;
		needs_reset += hx_needs_reset(base);
		q.avail[1] = (uint16_t)(q.avail[1] + 1);
		barrier();
		hx_w(base, VM_QUEUE_NOTIFY, 0);
		rt_spin(i % 128);
	}
	stop = true;
	while (!done)
		cpu_relax();
	hx_note("resets by the second vCPU", resets);
	hx_note("of which the disk came back ready", ready);
	hx_note("rounds in which the used idx moved", served);
	hx_note("rounds that saw DEVICE_NEEDS_RESET", needs_reset);
	uint32_t spoiled = 0;
	for (int g = 0; g < 3; g += 2)
		for (int i = 0; i < 4096; i++)
			spoiled += area[g][i] != 0xcc;
	for (int i = SECTOR; i < 4096; i++)
		spoiled += area[1][i] != 0xcc;
	hx_note("bytes changed outside the request's buffer", spoiled);
	bool raced = served > 0 && resets > 100 && ready > 0;
	rt_print(raced ? "resets raced served requests\n" : "FAIL: no race happened\n");
	bool data = memcmp(area[1], "MOATDISK", 8) == 0;
	rt_print(data ? "the buffer holds sector 0\n" : "FAIL: the buffer does not hold sector 0\n");
	hx_verdict(raced && data && spoiled == 0 && hx_blk_recovers(zero_page),
		   "resets racing the device's I/O are serialised; the disk works after");
}
