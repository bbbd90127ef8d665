/* chain_loop: descriptor chains whose `next` links form a cycle: a data descriptor pointing at
 * itself, a cycle between two data descriptors, and one back to the head. The device must not
 * walk forever (its thread would hang, and the VM with it): it bounds the hops by the queue size
 * and gives the chain back unserved, then serves the next request. virtio 1.2 §2.7.5.2 ("the
 * driver MUST NOT create a descriptor chain longer than the Queue Size"); the class of
 * CVE-2016-7170-style loops (QEMU vmware_vga) and QEMU's virtqueue "Looped descriptor" check. */
#include "hostile.h"

#define QSIZE 256
static struct blk_hdr hdr;
static uint8_t buf[3][SECTOR] __attribute__((aligned(16)));
static volatile uint8_t status;

/* Header at 0 -> 1; the case links the rest. A served request would put "MOATDISK" in buf. */
static bool loop_refused(uint64_t base, struct hq *q, const char *what)
{
	hdr = (struct blk_hdr){ BLK_T_IN, 0, 0 };
	memset(buf, 0, sizeof(buf));
	hx_desc(q, 0, HX_ADDR(&hdr), sizeof(hdr), VQ_F_NEXT, 1);
	rt_print(what);
	uint64_t t0 = rdtsc();
	int st = hx_blk_submit(base, q, 0, &status);
	hx_note("  TSC cycles until the chain came back", rdtsc() - t0);
	bool ok = hx_blk_refused(base, st);
	for (int i = 0; i < 3; i++)
		if (memcmp(buf[i], "MOATDISK", 8) == 0) {
			rt_print("FAIL: a looping chain was served\n");
			ok = false;
		}
	return ok;
}

void guest_main(uint64_t zero_page)
{
	struct hq q;
	uint64_t base = hx_blk_open(zero_page, &q, QSIZE, 0);
	if (!base)
		hx_verdict(false, "no disk");
	/* 1 -> 1 */
	hx_desc(&q, 1, HX_ADDR(buf[0]), SECTOR, VQ_F_NEXT | VQ_F_WRITE, 1);
	bool ok = loop_refused(base, &q, "data descriptor linked to itself: ");
	/* 1 -> 2 -> 1 */
	hx_desc(&q, 1, HX_ADDR(buf[0]), SECTOR, VQ_F_NEXT | VQ_F_WRITE, 2);
	hx_desc(&q, 2, HX_ADDR(buf[1]), SECTOR, VQ_F_NEXT | VQ_F_WRITE, 1);
	ok = loop_refused(base, &q, "two descriptors linked to each other: ") && ok;
	/* 1 -> 0 (the header again) */
	hx_desc(&q, 1, HX_ADDR(buf[0]), SECTOR, VQ_F_NEXT | VQ_F_WRITE, 0);
	ok = loop_refused(base, &q, "back to the head: ") && ok;
	/* The longest legal chain, one hop short of a loop: header, 254 x 8 bytes... not whole
	 * sectors, so refused with IOERR, but walked to its end (the status descriptor). */
	for (uint16_t i = 1; i < QSIZE - 1; i++)
		hx_desc(&q, i, HX_ADDR(buf[2]), 2, VQ_F_NEXT | VQ_F_WRITE, (uint16_t)(i + 1));
	hx_desc(&q, QSIZE - 1, HX_ADDR(&status), 1, VQ_F_WRITE, 0);
	hdr = (struct blk_hdr){ BLK_T_IN, 0, 0 };
	int st = hx_blk_submit(base, &q, 0, &status);
	rt_print("a chain as long as the queue, walked to its end: status ");
	rt_print_dec((uint64_t)(st < 0 ? 999 : st));
	rt_putc('\n');
	ok = st == BLK_S_IOERR && !hx_needs_reset(base) && ok;
	ok = hx_blk_reads(base, &q) && ok;
	hx_verdict(ok && hx_blk_recovers(zero_page), "looping chains come back unserved; the disk goes on");
}
