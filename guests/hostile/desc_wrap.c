/* desc_wrap: descriptors whose addr + len wraps past 2^64: a device-writable data buffer at
 * 0xfffffffffffff000 of 0x2000 bytes (a check of the start alone, or an unchecked sum, would
 * land in low RAM), one ending exactly at 2^64, the request header and the status byte at the
 * top of the address space. Each must be refused with low RAM untouched. virtio 1.2 §2.7.5;
 * STYLE.md §5 (every access checks all of [addr, addr+len)); the class of kvmtool's
 * guest_flat_to_host, which checked only the start. */
#include "hostile.h"

static struct blk_hdr hdr;
static uint8_t buf[SECTOR] __attribute__((aligned(16)));
static volatile uint8_t status;

/* Page 0 (from 0x100, not a null pointer): what a wrapped buffer would overwrite. */
#define LOW 0x100
static uint8_t low_copy[0x1000 - LOW];

static bool low_ram_intact(void)
{
	if (memcmp(low_copy, (const void *)(uintptr_t)LOW, sizeof(low_copy)) == 0)
		return true;
	rt_print("FAIL: page 0 changed\n");
	return false;
}

static bool data_refused(uint64_t base, struct hq *q, uint64_t addr, uint32_t len)
{
	rt_print("data buffer ");
	rt_print_hex(addr);
	rt_print(" + ");
	rt_print_hex(len);
	rt_print(": ");
	int st = hx_blk_request(base, q, BLK_T_IN, 0, (void *)(uintptr_t)addr, len, true);
	return hx_blk_refused(base, st) && low_ram_intact();
}

/* header -> data (buf) -> status, with the header or the status descriptor at `hdr_at`/`st_at`. */
static bool chain_refused(uint64_t base, struct hq *q, uint64_t hdr_at, uint64_t st_at, const char *what)
{
	hdr = (struct blk_hdr){ BLK_T_IN, 0, 0 };
	memset(buf, 0, sizeof(buf));
	hx_desc(q, 0, hdr_at, sizeof(hdr), VQ_F_NEXT, 1);
	hx_desc(q, 1, HX_ADDR(buf), SECTOR, VQ_F_NEXT | VQ_F_WRITE, 2);
	hx_desc(q, 2, st_at, 1, VQ_F_WRITE, 0);
	rt_print(what);
	int st = hx_blk_submit(base, q, 0, &status);
	bool ok = hx_blk_refused(base, st) && low_ram_intact();
	if (memcmp(buf, "MOATDISK", 8) == 0) {
		rt_print("FAIL: the request was served\n");
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
	memcpy(low_copy, (const void *)(uintptr_t)LOW, sizeof(low_copy));
	bool ok = data_refused(base, &q, 0xfffffffffffff000ull, 0x2000);
	ok = data_refused(base, &q, 0xfffffffffffffe00ull, SECTOR) && ok; /* ends at 2^64 exactly */
	ok = data_refused(base, &q, 0xffffffffffffffffull, SECTOR) && ok;
	ok = chain_refused(base, &q, 0xfffffffffffffff8ull, HX_ADDR(&status), "header across 2^64: ") && ok;
	ok = chain_refused(base, &q, HX_ADDR(&hdr), 0xffffffffffffffffull, "status byte at 2^64 - 1: ") && ok;
	ok = hx_blk_reads(base, &q) && ok;
	hx_verdict(ok && hx_blk_recovers(zero_page), "buffers that wrap past 2^64 are refused");
}
