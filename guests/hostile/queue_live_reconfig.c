/* queue_live_reconfig: after DRIVER_OK, the driver rewrites the live queue: QueueNum 4, the
 * three ring addresses moved to a second set of rings (with a request of its own waiting there),
 * QueueReady 0, and new driver features. The device must ignore all of it (the configuration is
 * frozen once the device is live: moat offers no VIRTIO_F_RING_RESET): QueueReady reads 1, the
 * original rings go on working, the second set is never touched. virtio 1.2 §4.2.2
 * (QueueNum/QueueDesc* "MUST NOT" change while QueueReady), §3.1.1, §2.6.1 (queue reset). */
#include "hostile.h"

static struct blk_hdr hdr2;
static uint8_t buf2[SECTOR] __attribute__((aligned(16)));
static volatile uint8_t status2;

static void write_address(uint64_t base, uint32_t low, uint64_t addr)
{
	hx_w(base, low, (uint32_t)addr);
	hx_w(base, low + 4, (uint32_t)(addr >> 32));
}

void guest_main(uint64_t zero_page)
{
	struct hq q, q2;
	uint64_t base = hx_blk_open(zero_page, &q, 8, 0);
	if (!base)
		hx_verdict(false, "no disk");
	hx_queue_static(&q2, 1, 8);
	hdr2 = (struct blk_hdr){ BLK_T_IN, 0, 0 };
	hx_desc(&q2, 0, HX_ADDR(&hdr2), sizeof(hdr2), VQ_F_NEXT, 1);
	hx_desc(&q2, 1, HX_ADDR(buf2), SECTOR, VQ_F_NEXT | VQ_F_WRITE, 2);
	hx_desc(&q2, 2, HX_ADDR(&status2), 1, VQ_F_WRITE, 0);
	status2 = HX_NO_STATUS;
	q2.avail[2] = 0;
	q2.avail[1] = 1;
	barrier();

	uint32_t status = hx_status(base);
	hx_w(base, VM_QUEUE_SEL, 0);
	hx_w(base, VM_QUEUE_NUM, 4);
	write_address(base, VM_QUEUE_DESC_LOW, HX_ADDR(q2.desc));
	write_address(base, VM_QUEUE_DRIVER_LOW, HX_ADDR(q2.avail));
	write_address(base, VM_QUEUE_DEVICE_LOW, HX_ADDR(q2.used));
	hx_w(base, VM_QUEUE_READY, 0);
	hx_write_features(base, BIT(F_VERSION_1) | BIT(F_INDIRECT_DESC) | BIT(F_EVENT_IDX));
	hx_w(base, VM_QUEUE_READY, 1);
	hx_w(base, VM_QUEUE_NOTIFY, 0);

	bool ready = hx_r(base, VM_QUEUE_READY) == 1;
	bool same = hx_status(base) == status;
	rt_print(ready ? "QueueReady still reads 1\n" : "FAIL: QueueReady reads 0\n");
	rt_print(same ? "Status unchanged\n" : "FAIL: Status changed\n");
	bool works = hx_blk_reads(base, &q);
	rt_spin(200000);
	bool untouched = q2.used[1] == 0 && status2 == HX_NO_STATUS && memcmp(buf2, "MOATDISK", 8) != 0;
	rt_print(untouched ? "the second set of rings was never used\n" : "FAIL: the device used the new rings\n");
	/* The same with the old queue asked to be 4 entries: a request in slot 5 still comes back. */
	for (int i = 0; i < 6; i++)
		works = hx_blk_reads(base, &q) && works;
	hx_verdict(ready && same && works && untouched && hx_blk_recovers(zero_page),
		   "a live queue's configuration cannot be changed");
}
