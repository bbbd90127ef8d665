/* rw_out_of_range: on a read-write disk, writes the range check must stop: at the capacity,
 * straddling it (2 sectors at capacity - 1, which must not write even the first), at 2^55
 * (where sector * 512 overflows 64 bits), 2^63 and 2^64 - 1 (2 sectors: the end wraps), of part
 * of a sector, empty at capacity + 1; and reads the same. Each fails with IOERR; the image is
 * neither changed nor extended (hostile-test compares it, writes=no); a flush and a read of the
 * last sector still work. virtio 1.2 §5.2.6 (sector * 512 within the capacity), §5.2.6.2; the
 * class of CVE-2014-0143 (QEMU block drivers: unchecked sector offsets and overflows). */
#include "hostile.h"

static uint8_t buf[2 * SECTOR] __attribute__((aligned(16)));
static uint64_t base;
static struct hq q;
static bool ok = true;

static void refused(uint32_t type, uint64_t sector, uint32_t len)
{
	memset(buf, type == BLK_T_OUT ? 'W' : 0x5a, sizeof(buf));
	int st = hx_blk_request(base, &q, type, sector, len ? buf : 0, len, type == BLK_T_IN);
	bool good = st == BLK_S_IOERR && hx_blk_used_len == 1 && (type == BLK_T_OUT || buf[0] == 0x5a);
	rt_print(type == BLK_T_OUT ? "write " : "read ");
	rt_print_dec(len);
	rt_print(" bytes at sector ");
	rt_print_hex(sector);
	rt_print(": status ");
	rt_print_dec((uint64_t)(st < 0 ? 999 : st));
	rt_print(good ? "\n" : " - FAIL: not refused with IOERR, or data moved\n");
	ok = ok && good;
}

void guest_main(uint64_t zero_page)
{
	base = hx_blk_open(zero_page, &q, 8, 0);
	if (!base)
		hx_verdict(false, "no disk");
	uint64_t cap = hx_r(base, VM_CONFIG) | (uint64_t)hx_r(base, VM_CONFIG + 4) << 32;
	hx_note("capacity (sectors)", cap);
	static const uint32_t types[] = { BLK_T_OUT, BLK_T_IN };
	for (int t = 0; t < 2; t++) {
		refused(types[t], cap, SECTOR);
		refused(types[t], cap - 1, 2 * SECTOR);
		refused(types[t], 1ull << 55, SECTOR);
		refused(types[t], 1ull << 63, SECTOR);
		refused(types[t], ~0ull, 2 * SECTOR);
		refused(types[t], 0, 100);
		refused(types[t], cap - 1, SECTOR + 1);
	}
	refused(BLK_T_OUT, cap + 1, 0);
	int st = hx_blk_request(base, &q, BLK_T_FLUSH, 0, 0, 0, false);
	hx_note("flush: status", (uint64_t)(st < 0 ? 999 : st));
	memset(buf, 0x5a, sizeof(buf));
	int last = hx_blk_request(base, &q, BLK_T_IN, cap - 1, buf, SECTOR, true);
	hx_note("read of the last sector: status", (uint64_t)(last < 0 ? 999 : last));
	ok = ok && st == BLK_S_OK && last == BLK_S_OK && buf[0] == 0 && buf[SECTOR - 1] == 0;
	ok = hx_blk_reads(base, &q) && ok;
	hx_verdict(ok && hx_blk_recovers(zero_page), "out-of-range writes and reads fail; the image stays as it was");
}
