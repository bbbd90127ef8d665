/* race_rewrite: with two vCPUs, the second rewrites a live request without pause - the data
 * descriptor's addr (good, 64 GiB, across 2^64), len (512, 4096, 0xffffffff) and flags, and the
 * header's type (IN, OUT, unknown) and sector (0, the last, 2^63) - while the first submits it
 * again and again. A device that reads a field twice (check, then use) can be made to use a value
 * it never checked. Every answer must be one a single snapshot allows (OK with 512 or 4096 bytes,
 * IOERR, UNSUPP, or the chain back unanswered), never DEVICE_NEEDS_RESET, nothing written outside
 * the data page, the ro image unchanged (hostile-test). virtio 1.2 §2.7.4; the TOCTOU class of
 * CVE-2016-5403 (QEMU virtqueue_pop) and of double fetches (Xu et al., "Precise and Scalable
 * Detection of Double-Fetch Bugs in OS Kernels", S&P 2018). */
#include "hostile.h"

#define ROUNDS 3000
static struct hq q;
static struct blk_hdr hdr;
static volatile uint8_t status;
static uint8_t area[3][4096] __attribute__((aligned(4096))); /* guard, data, guard */
static volatile bool stop, done;
static volatile uint64_t rewrites;

static void rewriter(void)
{
	/* Each field valid about half the time or more, so that some snapshots are whole requests. */
	static const uint64_t addrs[] = { 0, 0, 0x1000000000ull, 0xfffffffffffff000ull };
	static const uint32_t lens[] = { SECTOR, 4096, SECTOR, 0xffffffffu };
	static const uint32_t types[] = { BLK_T_IN, BLK_T_IN, BLK_T_OUT, 0x7fffffff };
	const uint64_t sectors[] = { 0, 2047, 0, 1ull << 63 };
	uint64_t x = 0x9e3779b97f4a7c15ull;
	while (!stop) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		uint32_t r = (uint32_t)(x >> 33);
		q.desc[1].addr = addrs[r % 4] ? addrs[r % 4] : HX_ADDR(area[1]);
		q.desc[1].len = lens[(r / 4) % 4];
		q.desc[1].flags = (r & (3u << 20)) ? VQ_F_NEXT | VQ_F_WRITE : VQ_F_NEXT;
		hdr.type = types[(r / 16) % 4];
		hdr.sector = sectors[(r / 64) % 4];
		rewrites++;
		__asm__ volatile("" ::: "memory"); /* each store happens, in the loop */
	}
	done = true;
}

void guest_main(uint64_t zero_page)
{
	uint64_t base = hx_blk_open(zero_page, &q, 8, 0);
	if (!base)
		hx_verdict(false, "no disk");
	memset(area, 0xcc, sizeof(area));
	hdr = (struct blk_hdr){ BLK_T_IN, 0, 0 };
	hx_desc(&q, 0, HX_ADDR(&hdr), sizeof(hdr), VQ_F_NEXT, 1);
	hx_desc(&q, 1, HX_ADDR(area[1]), SECTOR, VQ_F_NEXT | VQ_F_WRITE, 2);
	hx_desc(&q, 2, HX_ADDR(&status), 1, VQ_F_WRITE, 0);
	if (!hx_start_ap(rewriter))
		hx_verdict(false, "the second vCPU did not start");
	uint32_t n[5] = { 0 }; /* OK, IOERR, UNSUPP, unanswered, anything else */
	bool ok = true;
	for (int i = 0; i < ROUNDS && ok; i++) {
		int st = hx_blk_submit(base, &q, 0, &status);
		uint32_t len = hx_blk_used_len;
		if (st == BLK_S_OK && (len == SECTOR + 1 || len == 4096 + 1))
			n[0]++;
		else if ((st == BLK_S_IOERR || st == BLK_S_UNSUPP) && len == 1)
			n[st]++;
		else if (st == HX_NO_STATUS && len == 0)
			n[3]++;
		else {
			n[4]++;
			rt_print("FAIL: round ");
			rt_print_dec((uint64_t)i);
			rt_print(": status ");
			rt_print_dec((uint64_t)(st < 0 ? 999 : st));
			rt_print(", used length ");
			rt_print_dec(len);
			rt_putc('\n');
			ok = false;
		}
	}
	stop = true;
	while (!done)
		cpu_relax();
	hx_note("rewrites by the second vCPU", rewrites);
	hx_note("answered OK", n[0]);
	hx_note("answered IOERR", n[1]);
	hx_note("answered UNSUPP", n[2]);
	hx_note("came back unanswered", n[3]);
	uint32_t spoiled = 0;
	for (int g = 0; g < 3; g += 2)
		for (int i = 0; i < 4096; i++)
			spoiled += area[g][i] != 0xcc;
	hx_note("guard bytes changed", spoiled);
	bool mixed = n[0] && (n[1] + n[2] + n[3]) && rewrites > ROUNDS;
	rt_print(mixed ? "the rewrites raced the device\n" : "FAIL: no race happened (one kind of answer only)\n");
	ok = ok && mixed && spoiled == 0 && !hx_needs_reset(base);
	hx_desc(&q, 1, HX_ADDR(area[1]), SECTOR, VQ_F_NEXT | VQ_F_WRITE, 2);
	ok = hx_blk_reads(base, &q) && ok;
	hx_verdict(ok && hx_blk_recovers(zero_page), "a request rewritten while the device reads it gets a consistent answer");
}
