/* ro_disk_abuse: every way to ask a read-only disk for something other than a read: writes
 * (also empty, also with device-writable data), a flush (with and without data), types moat
 * does not offer (discard 11, write-zeroes 13, secure erase 14, lifetime 10, SCSI 2 and 3,
 * 0x7fffffff, 0xffffffff), and reads past the capacity (at it, straddling it, at 2^55 where the
 * byte offset overflows, at 2^63 and 2^64 - 1) or of part of a sector. Writes fail with IOERR
 * (and are audited: vm.denied_write), unknown types with UNSUPP, bad ranges with IOERR, with
 * nothing read into the buffer; a flush answers OK (nothing to flush) or IOERR; the last sector
 * and GET_ID still work; the image stays byte-identical (hostile-test). virtio 1.2 §5.2.6.2 (a
 * read-only device fails writes with IOERR and writes nothing; unsupported types: UNSUPP),
 * §5.2.5; moat's read-only volumes (vm.denied_write). */
#include "hostile.h"

static uint8_t buf[2 * SECTOR] __attribute__((aligned(16)));
static uint64_t base;
static struct hq q;
static bool ok = true;

static int req(uint32_t type, uint64_t sector, uint32_t len, bool device_writes, uint8_t fill)
{
	memset(buf, fill, sizeof(buf));
	return hx_blk_request(base, &q, type, sector, len ? buf : 0, len, device_writes);
}

static void expect(int st, int want, int or_want, const char *what, uint64_t n)
{
	bool good = st == want || st == or_want;
	rt_print(what);
	rt_print_hex(n);
	rt_print(": status ");
	rt_print_dec((uint64_t)(st < 0 ? 999 : st));
	rt_print(good ? "\n" : " - FAIL: not as expected\n");
	ok = ok && good;
}

/* A refused read must leave the buffer as it was (0x5a). */
static void read_refused(uint64_t sector, uint32_t len)
{
	int st = req(BLK_T_IN, sector, len, true, 0x5a);
	expect(st, BLK_S_IOERR, BLK_S_IOERR, "refused read at sector ", sector);
	if (buf[0] != 0x5a || buf[SECTOR] != 0x5a || (st == BLK_S_IOERR && hx_blk_used_len != 1)) {
		rt_print("FAIL: something was read into the buffer\n");
		ok = false;
	}
}

void guest_main(uint64_t zero_page)
{
	static const uint32_t unknown[] = { 10, 11, 13, 14, 2, 3, 0x7fffffff, 0xffffffff };
	base = hx_blk_open(zero_page, &q, 8, 0);
	if (!base)
		hx_verdict(false, "no disk");
	uint64_t cap = hx_r(base, VM_CONFIG) | (uint64_t)hx_r(base, VM_CONFIG + 4) << 32;
	hx_note("capacity (sectors)", cap);
	expect(req(BLK_T_OUT, 0, SECTOR, false, 'W'), BLK_S_IOERR, BLK_S_IOERR, "write at sector ", 0);
	expect(req(BLK_T_OUT, 1, 2 * SECTOR, false, 'W'), BLK_S_IOERR, BLK_S_IOERR, "write of 2 sectors at ", 1);
	expect(req(BLK_T_OUT, 0, 0, false, 'W'), BLK_S_IOERR, BLK_S_IOERR, "empty write at ", 0);
	expect(req(BLK_T_OUT, 0, SECTOR, true, 'W'), BLK_S_IOERR, BLK_S_IOERR, "write, data device-writable, at ", 0);
	expect(req(BLK_T_OUT, cap, SECTOR, false, 'W'), BLK_S_IOERR, BLK_S_IOERR, "write past the end at ", cap);
	expect(req(BLK_T_FLUSH, 0, 0, false, 0), BLK_S_OK, BLK_S_IOERR, "flush, type ", BLK_T_FLUSH);
	expect(req(BLK_T_FLUSH, 0, SECTOR, false, 'W'), BLK_S_IOERR, BLK_S_UNSUPP, "flush with data, type ", BLK_T_FLUSH);
	for (uint32_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++)
		expect(req(unknown[i], 0, SECTOR, false, 'W'), BLK_S_UNSUPP, BLK_S_UNSUPP, "request type ", unknown[i]);
	read_refused(cap, SECTOR);
	read_refused(cap - 1, 2 * SECTOR);
	read_refused(1ull << 55, SECTOR);
	read_refused(1ull << 63, SECTOR);
	read_refused(~0ull, SECTOR);
	read_refused(0, 100);
	expect(req(BLK_T_IN, cap - 1, SECTOR, true, 0x5a), BLK_S_OK, BLK_S_OK, "read of the last sector, ", cap - 1);
	expect(req(BLK_T_GET_ID, 0, 20, true, 0), BLK_S_OK, BLK_S_OK, "GET_ID, type ", BLK_T_GET_ID);
	ok = hx_blk_reads(base, &q) && ok;
	hx_verdict(ok && hx_blk_recovers(zero_page), "writes, unknown types and reads out of range are refused");
}
