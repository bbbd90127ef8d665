/* desc_outside_ram: a read request whose data descriptor points 64 GiB up, far beyond the
 * guest's RAM. The device must not touch host memory there: it fails the request or asks for
 * a reset, and works again after one. virtio 1.2 §2.7.5; the class of CVE-2015-3456 (VENOM:
 * a guest-chosen index past a device buffer). */
#include "hostile.h"

void guest_main(uint64_t zero_page)
{
	struct hq q;
	uint64_t base = hx_blk_open(zero_page, &q, 8, 0);
	if (!base)
		hx_verdict(false, "no disk");
	int st = hx_blk_request(base, &q, BLK_T_IN, 0, (void *)(uintptr_t)0x1000000000ull, SECTOR, true);
	bool refused = hx_blk_refused(base, st);
	hx_verdict(refused && hx_blk_recovers(zero_page), "a buffer outside RAM is refused; the disk recovers");
}
