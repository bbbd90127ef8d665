/* bad_queue_layout: at QueueReady, rings the device cannot use: a descriptor table at 64 GiB and
 * across 2^64, misaligned descriptor, avail and used rings, a used ring on the disk's own MMIO
 * window and at the start of the 32-bit MMIO gap, an avail ring crossing the end of RAM. Each
 * time QueueReady must stay 0 (moat also sets DEVICE_NEEDS_RESET), and a reset must bring the
 * disk back. virtio 1.2 §2.7 (alignment table), §4.2.3.2; the class of CVE-2019-14835-style
 * trust in guest ring addresses (vhost). */
#include "hostile.h"

static bool refused(uint64_t base, struct hq *q, uint64_t desc, uint64_t avail, uint64_t used, const char *what)
{
	if (!hx_negotiate(base, BIT(F_VERSION_1)))
		return false;
	bool ready = hx_queue_raw(base, 0, q->size, desc, avail, used);
	rt_print(what);
	rt_print(ready ? ": FAIL: QueueReady reads 1" : ": QueueReady stays 0");
	rt_print(hx_needs_reset(base) ? ", DEVICE_NEEDS_RESET\n" : "\n");
	return !ready;
}

void guest_main(uint64_t zero_page)
{
	uint64_t base = hx_find(zero_page, VIRTIO_ID_BLOCK);
	uint64_t end = hx_ram_end(zero_page);
	if (!base || !end)
		hx_verdict(false, "no disk, or no RAM map");
	struct hq q;
	hx_queue_static(&q, 0, 8);
	uint64_t d = HX_ADDR(q.desc), a = HX_ADDR(q.avail), u = HX_ADDR(q.used);
	bool good = hx_negotiate(base, BIT(F_VERSION_1)) && hx_queue_raw(base, 0, 8, d, a, u);
	rt_print(good ? "the good layout is accepted\n" : "FAIL: the good layout is refused\n");
	bool ok = refused(base, &q, 0x1000000000ull, a, u, "descriptors at 64 GiB");
	ok = refused(base, &q, 0xffffffffffffff80ull, a, u, "descriptors across 2^64") && ok;
	ok = refused(base, &q, d + 8, a, u, "descriptors 8-byte aligned") && ok;
	ok = refused(base, &q, d, a + 1, u, "avail ring at an odd address") && ok;
	ok = refused(base, &q, d, a, u + 2, "used ring 2-byte aligned") && ok;
	ok = refused(base, &q, d, a, base, "used ring on the disk's registers") && ok;
	ok = refused(base, &q, d, a, 0xc0000000ull, "used ring at the MMIO gap") && ok;
	ok = refused(base, &q, d, end - 8, u, "avail ring across the end of RAM") && ok;
	ok = refused(base, &q, end - 64, a, u, "descriptors across the end of RAM") && ok;
	hx_verdict(good && ok && hx_blk_recovers(zero_page), "rings outside RAM or misaligned are refused at QueueReady");
}
