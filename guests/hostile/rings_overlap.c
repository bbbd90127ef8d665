/* rings_overlap: queues whose used ring the driver laid over its other rings: over the avail
 * ring (same address), over the descriptor table, and 6 bytes below the avail ring so that the
 * first used element's len lands on avail idx (a device that trusted idx afterwards would see
 * hundreds of new entries). Each layout passes the per-ring checks. The device must still end
 * every notification (answer, or DEVICE_NEEDS_RESET), write nothing outside the rings and the
 * request's buffers, and work after a reset. virtio 1.2 §2.7 (each part its own area),
 * §2.7.13.3.1; the class of CVE-2019-14835 (vhost: a ring layout that turns the device's own
 * writes against it). */
#include "hostile.h"

static uint8_t area[3][4096] __attribute__((aligned(4096))); /* guard, rings, guard */
static struct {
	uint8_t buf[SECTOR];
	uint8_t guard[64];
} data __attribute__((aligned(16)));
static struct blk_hdr hdr;
static volatile uint8_t status;

static bool guards_intact(void)
{
	uint32_t bad = 0;
	for (int i = 0; i < 4096; i++)
		bad += (area[0][i] != 0xcc) + (area[2][i] != 0xcc);
	for (int i = 0; i < 64; i++)
		bad += data.guard[i] != 0xcc;
	if (bad)
		hx_note("FAIL: bytes changed outside the rings", bad);
	return bad == 0;
}

/* Rings at the given offsets into area[1]; one read request; what came of it. */
static bool layout(uint64_t zero_page, uint32_t desc, uint32_t avail, uint32_t used, const char *what)
{
	uint64_t base = hx_find(zero_page, VIRTIO_ID_BLOCK);
	memset(area, 0xcc, sizeof(area));
	memset(area[1], 0, sizeof(area[1]));
	memset(data.guard, 0xcc, sizeof(data.guard));
	struct hq q = { 8, (struct vq_desc *)(area[1] + desc), (volatile uint16_t *)(area[1] + avail),
			(volatile uint16_t *)(area[1] + used), 0 };
	if (!base || !hx_negotiate(base, BIT(F_VERSION_1)) || !hx_queue_setup(base, 0, &q) || !hx_driver_ok(base)) {
		rt_print(what);
		rt_print(": FAIL: the layout was refused\n");
		return false;
	}
	/* The used ring is garbled by design: wait for the status byte instead. */
	hdr = (struct blk_hdr){ BLK_T_IN, 0, 0 };
	status = HX_NO_STATUS;
	hx_desc(&q, 0, HX_ADDR(&hdr), sizeof(hdr), VQ_F_NEXT, 1);
	hx_desc(&q, 1, HX_ADDR(data.buf), SECTOR, VQ_F_NEXT | VQ_F_WRITE, 2);
	hx_desc(&q, 2, HX_ADDR(&status), 1, VQ_F_WRITE, 0);
	hx_publish(base, 0, &q, 0);
	for (uint64_t i = 0; i < 8 * HX_WAIT && status == HX_NO_STATUS; i++) {
		if (i % 65536 == 65535 && hx_needs_reset(base))
			break;
		cpu_relax();
	}
	int st = status;
	bool stopped = hx_needs_reset(base);
	rt_print(what);
	rt_print(": status ");
	rt_print_dec((uint64_t)st);
	rt_print(stopped ? ", DEVICE_NEEDS_RESET\n" : "\n");
	/* It must have ended: answered, or stopped; and a reset must not hang. */
	bool ended = (st == BLK_S_OK && memcmp(data.buf, "MOATDISK", 8) == 0) || stopped;
	hx_w(base, VM_STATUS, 0);
	return ended && hx_status(base) == 0 && guards_intact();
}

void guest_main(uint64_t zero_page)
{
	bool ok = layout(zero_page, 0, 1024, 1024, "used ring on the avail ring");
	ok = layout(zero_page, 0, 1024, 0, "used ring on the descriptor table") && ok;
	ok = layout(zero_page, 0, 1024 + 6 + 4, 1024 + 4, "used element 0's len on avail idx") && ok;
	hx_verdict(ok && hx_blk_recovers(zero_page), "overlapping rings end each notification and stay inside them");
}
