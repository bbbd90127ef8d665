/* status_readable: requests whose framing lies about direction: the status byte in a
 * device-readable descriptor (no WRITE flag), a status descriptor of 0 bytes, a header marked
 * device-writable, a header of 15 and 32 bytes, a chain with no status descriptor, and a read
 * whose data buffer is device-readable. The device must not write where the driver did not
 * allow it: the first ones come back unanswered (nothing written, the status byte as it was),
 * the last fails with IOERR, its buffer untouched. virtio 1.2 §2.7.4 ("A device MUST NOT write
 * to a device-readable buffer"), §5.2.6. */
#include "hostile.h"

static struct blk_hdr hdr;
static uint8_t buf[SECTOR] __attribute__((aligned(16)));
static volatile uint8_t status;

/* header (hlen, hflags) -> data (dflags) -> status (slen, sflags); no status when slen is 0xff. */
static bool check(uint64_t base, struct hq *q, uint32_t hlen, uint16_t hflags, uint16_t dflags, uint32_t slen,
		  uint16_t sflags, int want, const char *what)
{
	hdr = (struct blk_hdr){ BLK_T_IN, 0, 0 };
	memset(buf, 0, sizeof(buf));
	hx_desc(q, 0, HX_ADDR(&hdr), hlen, (uint16_t)(hflags | VQ_F_NEXT), 1);
	hx_desc(q, 1, HX_ADDR(buf), SECTOR, (uint16_t)(dflags | (slen != 0xff ? VQ_F_NEXT : 0)), 2);
	hx_desc(q, 2, HX_ADDR(&status), slen, sflags, 0);
	rt_print(what);
	int st = hx_blk_submit(base, q, 0, &status);
	bool ok = hx_blk_refused(base, st) && st == want;
	ok = ok && (want != HX_NO_STATUS || hx_blk_used_len == 0);
	if (memcmp(buf, "MOATDISK", 8) == 0 || buf[0] || buf[SECTOR - 1]) {
		rt_print("FAIL: the data buffer was written\n");
		ok = false;
	}
	if (!ok)
		rt_print("FAIL: not the answer expected\n");
	return ok;
}

void guest_main(uint64_t zero_page)
{
	struct hq q;
	uint64_t base = hx_blk_open(zero_page, &q, 8, 0);
	if (!base)
		hx_verdict(false, "no disk");
	uint16_t w = VQ_F_WRITE;
	bool ok = check(base, &q, 16, 0, w, 1, 0, HX_NO_STATUS, "status byte device-readable: ");
	ok = check(base, &q, 16, 0, w, 0, w, HX_NO_STATUS, "status descriptor of 0 bytes: ") && ok;
	ok = check(base, &q, 16, w, w, 1, w, HX_NO_STATUS, "header device-writable: ") && ok;
	ok = check(base, &q, 15, 0, w, 1, w, HX_NO_STATUS, "header of 15 bytes: ") && ok;
	ok = check(base, &q, 32, 0, w, 1, w, HX_NO_STATUS, "header of 32 bytes: ") && ok;
	ok = check(base, &q, 16, 0, 0, 0xff, 0, HX_NO_STATUS, "no status descriptor, readable data last: ") && ok;
	ok = check(base, &q, 16, 0, 0, 1, w, BLK_S_IOERR, "read into a device-readable buffer: ") && ok;
	ok = hx_blk_reads(base, &q) && ok;
	hx_verdict(ok && hx_blk_recovers(zero_page), "the device writes only where the driver allowed it");
}
