/* desc_last_byte: the opposite edge. A read into the last 512 bytes of RAM, ending exactly at
 * its last byte, is valid and must work; one byte further must not (the buffer straddles the
 * end of RAM). An off-by-one in either direction is a bug. virtio 1.2 §2.7.5. */
#include "hostile.h"

void guest_main(uint64_t zero_page)
{
	uint64_t end = hx_ram_end(zero_page);
	hx_note("end of RAM", end);
	struct hq q;
	uint64_t base = hx_blk_open(zero_page, &q, 8, 0);
	if (!base || end < (1u << 20))
		hx_verdict(false, "no disk, or no RAM map");
	uint8_t *last = (uint8_t *)(uintptr_t)(end - SECTOR);
	memset(last, 0, SECTOR);
	int st = hx_blk_request(base, &q, BLK_T_IN, 0, last, SECTOR, true);
	bool fits = st == BLK_S_OK && memcmp(last, "MOATDISK", 8) == 0;
	rt_print(fits ? "a buffer ending at the last byte of RAM works\n" : "FAIL: the last bytes of RAM were refused\n");
	st = hx_blk_request(base, &q, BLK_T_IN, 0, last + 1, SECTOR, true);
	rt_print("straddling the end of RAM: ");
	bool refused = hx_blk_refused(base, st);
	hx_verdict(fits && refused && hx_blk_recovers(zero_page),
		   "the last byte of RAM is usable, one past it is refused");
}
