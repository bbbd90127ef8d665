/* get_id_abuse: VIRTIO_BLK_T_GET_ID, whose answer is a 20-byte id, asked into buffers that do
 * not fit it: 1 byte, twenty 1-byte buffers, 512 bytes, none at all, a device-readable buffer,
 * and one across the end of RAM. The device must write at most 20 bytes and never past a
 * buffer (guard bytes after each), report in the used length exactly what it wrote, assemble the
 * same id across the small buffers, refuse the readable one (IOERR, untouched) and the one
 * outside RAM (unanswered). virtio 1.2 §5.2.6 (GET_ID: "20 bytes"), §2.7.8.1 (used len: "the
 * number of bytes written"); the class of CVE-2015-5165-style answers copied past a guest
 * buffer's end. */
#include "hostile.h"

static struct blk_hdr hdr;
static volatile uint8_t status;
static uint8_t id[20], b[20][16] __attribute__((aligned(16)));
static bool ok = true;

/* header -> n buffers of len bytes each (b[i], or at `at` when n is 1) with `flags` -> status */
static int get_id(uint64_t base, struct hq *q, uint32_t n, uint64_t at, uint32_t len, uint16_t flags)
{
	hdr = (struct blk_hdr){ BLK_T_GET_ID, 0, 0x123456789ull };
	memset(b, 0x5a, sizeof(b));
	hx_desc(q, 0, HX_ADDR(&hdr), sizeof(hdr), VQ_F_NEXT, 1);
	for (uint32_t i = 0; i < n; i++)
		hx_desc(q, (uint16_t)(1 + i), n == 1 ? at : HX_ADDR(b[i]), len, (uint16_t)(VQ_F_NEXT | flags), (uint16_t)(2 + i));
	hx_desc(q, (uint16_t)(1 + n), HX_ADDR(&status), 1, VQ_F_WRITE, 0);
	return hx_blk_submit(base, q, 0, &status);
}

static void expect(bool good, int st, const char *what)
{
	rt_print(what);
	rt_print(": status ");
	rt_print_dec((uint64_t)(st < 0 ? 999 : st));
	rt_print(", used length ");
	rt_print_dec(hx_blk_used_len);
	rt_print(good ? "\n" : " - FAIL: not as expected\n");
	ok = ok && good;
}

void guest_main(uint64_t zero_page)
{
	struct hq q;
	uint64_t base = hx_blk_open(zero_page, &q, 32, 0);
	uint64_t end = hx_ram_end(zero_page);
	if (!base || !end)
		hx_verdict(false, "no disk, or no RAM map");
	int st = get_id(base, &q, 1, HX_ADDR(b[0]), 20, VQ_F_WRITE);
	memcpy(id, b[0], 20);
	/* b[1][4] is byte 20, just past the answer. */
	expect(st == BLK_S_OK && hx_blk_used_len == 21 && b[1][4] == 0x5a, st, "20 bytes (the reference)");
	st = get_id(base, &q, 1, HX_ADDR(b[0]), 1, VQ_F_WRITE);
	expect(st == BLK_S_OK && hx_blk_used_len == 2 && b[0][0] == id[0] && b[0][1] == 0x5a, st, "1 byte");
	st = get_id(base, &q, 20, 0, 1, VQ_F_WRITE);
	bool same = true;
	for (int i = 0; i < 20; i++)
		same = same && b[i][0] == id[i] && b[i][1] == 0x5a;
	expect(st == BLK_S_OK && hx_blk_used_len == 21 && same, st, "twenty 1-byte buffers");
	static uint8_t big[SECTOR + 16];
	memset(big, 0x5a, sizeof(big));
	st = get_id(base, &q, 1, HX_ADDR(big), SECTOR, VQ_F_WRITE);
	expect(st == BLK_S_OK && hx_blk_used_len == 21 && memcmp(big, id, 20) == 0 && big[20] == 0x5a &&
		       big[SECTOR] == 0x5a, st, "512 bytes");
	st = get_id(base, &q, 0, 0, 0, 0);
	expect(hx_blk_used_len == 1 && (st == BLK_S_OK || st == BLK_S_IOERR || st == BLK_S_UNSUPP), st, "no buffer");
	st = get_id(base, &q, 1, HX_ADDR(b[0]), 20, 0);
	expect(st == BLK_S_IOERR && b[0][0] == 0x5a, st, "a device-readable buffer");
	st = get_id(base, &q, 1, end - 10, 20, VQ_F_WRITE);
	expect(hx_blk_refused(base, st) && st != BLK_S_OK, st, "across the end of RAM");
	ok = hx_blk_reads(base, &q) && ok;
	hx_verdict(ok && hx_blk_recovers(zero_page), "GET_ID writes at most 20 bytes, within the buffers given");
}
