/* chain_over_4g: chains whose lengths add up past 2^32, which the used ring's 32-bit len cannot
 * hold and a 32-bit sum would wrap: three descriptors of 0xffffffff bytes over the same RAM, two
 * of 2^31, and a 256-entry chain of 254 data descriptors of 17 MiB each, all over the same 17 MiB
 * of RAM (each one valid alone). Each must come back unserved with that RAM untouched. virtio
 * 1.2 §2.7.5, §2.7.8 (used len); STYLE.md §6 (total length <= 2^32, checked add); the class of
 * CVE-2018-16847-style length-sum overflows. */
#include "hostile.h"

#define QSIZE 256
#define AREA 0x800000ull    /* 8 MiB: RAM the guest does not otherwise use */
#define BIG (17u << 20)     /* 254 x 17 MiB > 4 GiB */
static struct blk_hdr hdr;
static volatile uint8_t status;

static bool area_intact(void)
{
	const uint8_t *a = (const uint8_t *)(uintptr_t)AREA;
	for (uint32_t i = 0; i < BIG; i += 4096)
		if (a[i] != 0x5a || a[i + 8] != 0x5a) {
			rt_print("FAIL: the RAM under the descriptors changed\n");
			return false;
		}
	return true;
}

/* header -> `n` data descriptors of `len` bytes at AREA -> status */
/* `want`: the status the device must answer (HX_NO_STATUS: the chain comes back unanswered). */
static bool sum_refused(uint64_t base, struct hq *q, uint16_t n, uint32_t len, int want, const char *what)
{
	hdr = (struct blk_hdr){ BLK_T_IN, 0, 0 };
	hx_desc(q, 0, HX_ADDR(&hdr), sizeof(hdr), VQ_F_NEXT, 1);
	for (uint16_t i = 1; i <= n; i++)
		hx_desc(q, i, AREA, len, VQ_F_NEXT | VQ_F_WRITE, (uint16_t)(i + 1));
	hx_desc(q, (uint16_t)(n + 1), HX_ADDR(&status), 1, VQ_F_WRITE, 0);
	rt_print(what);
	int st = hx_blk_submit(base, q, 0, &status);
	return hx_blk_refused(base, st) && (st == want || hx_needs_reset(base)) && area_intact();
}

void guest_main(uint64_t zero_page)
{
	struct hq q;
	uint64_t base = hx_blk_open(zero_page, &q, QSIZE, 0);
	if (!base || hx_ram_end(zero_page) < AREA + BIG)
		hx_verdict(false, "no disk, or too little RAM");
	memset((void *)(uintptr_t)AREA, 0x5a, BIG);
	bool ok = sum_refused(base, &q, 3, 0xffffffffu, HX_NO_STATUS, "3 x 0xffffffff bytes: ");
	ok = sum_refused(base, &q, 2, 0x80000000u, HX_NO_STATUS, "2 x 2^31 bytes: ") && ok;
	ok = sum_refused(base, &q, QSIZE - 2, BIG, HX_NO_STATUS, "254 x 17 MiB over the same RAM: ") && ok;
	/* The same chain with 16 MiB descriptors stays under 2^32: walked, then answered IOERR as it
	 * does not fit the 1 MiB disk; so the sum, not the count, decided above. */
	ok = sum_refused(base, &q, QSIZE - 2, 16u << 20, BLK_S_IOERR, "254 x 16 MiB (under 2^32, past the disk): ") && ok;
	if (!hx_needs_reset(base))
		ok = hx_blk_reads(base, &q) && ok;
	hx_verdict(ok && hx_blk_recovers(zero_page), "chains longer than 2^32 bytes are refused, RAM untouched");
}
