/* next_out_of_range: chains whose `next` names a descriptor at or past the queue size (8):
 * next = 8, 255 and 0xffff. Behind index 8 and 255 (inside the driver's own larger table) lies
 * a valid status descriptor, so a device that followed the link would serve the request. It
 * must refuse it instead and go on. virtio 1.2 §2.7.5 ("next" indexes the descriptor table of
 * Queue Size entries); the class of CVE-2015-3456 (VENOM: a guest index past a device array). */
#include "hostile.h"

static struct blk_hdr hdr;
static uint8_t buf[SECTOR] __attribute__((aligned(16)));
static volatile uint8_t status;

static bool next_refused(uint64_t base, struct hq *q, uint16_t next)
{
	hdr = (struct blk_hdr){ BLK_T_IN, 0, 0 };
	memset(buf, 0, sizeof(buf));
	hx_desc(q, 0, HX_ADDR(&hdr), sizeof(hdr), VQ_F_NEXT, 1);
	hx_desc(q, 1, HX_ADDR(buf), SECTOR, VQ_F_NEXT | VQ_F_WRITE, next);
	rt_print("next = ");
	rt_print_dec(next);
	rt_print(": ");
	int st = hx_blk_submit(base, q, 0, &status);
	bool ok = hx_blk_refused(base, st) && st != BLK_S_OK;
	if (memcmp(buf, "MOATDISK", 8) == 0) {
		rt_print("FAIL: the device followed the link\n");
		ok = false;
	}
	return ok;
}

void guest_main(uint64_t zero_page)
{
	struct hq q;
	uint64_t base = hx_blk_open(zero_page, &q, 8, 0);
	if (!base)
		hx_verdict(false, "no disk");
	/* Bait past the queue's end (the runtime's table has HQ_MAX entries). */
	hx_desc(&q, 8, HX_ADDR(&status), 1, VQ_F_WRITE, 0);
	hx_desc(&q, HQ_MAX - 1, HX_ADDR(&status), 1, VQ_F_WRITE, 0);
	bool ok = next_refused(base, &q, 8);
	ok = next_refused(base, &q, HQ_MAX - 1) && ok;
	ok = next_refused(base, &q, 0xffff) && ok;
	/* The head itself out of range, in the avail ring. */
	rt_print("head 8 in the avail ring: ");
	int st = hx_blk_submit(base, &q, 8, &status);
	ok = hx_blk_refused(base, st) && st != BLK_S_OK && ok;
	if (!hx_needs_reset(base))
		ok = hx_blk_reads(base, &q) && ok;
	hx_verdict(ok && hx_blk_recovers(zero_page), "next and head indices past the queue size are refused");
}
