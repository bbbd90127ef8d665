/* queue_size_bad: QueueNum values the split ring does not allow: 0, 3 (not a power of two),
 * QueueNumMax + 1, twice QueueNumMax (a power of two above it), 0x10000 (0 if truncated to 16
 * bits) and 0xffffffff, each after a reset. QueueReady must stay 0 (moat also sets
 * DEVICE_NEEDS_RESET); sizes 1 and QueueNumMax are accepted; the disk works after a reset.
 * virtio 1.2 §2.7 ("Queue Size ... a power of 2"), §4.2.2 (QueueNum <= QueueNumMax). */
#include "hostile.h"

static bool try_size(uint64_t base, struct hq *q, uint32_t num, bool want_ready)
{
	if (!hx_negotiate(base, BIT(F_VERSION_1)))
		return false;
	bool ready = hx_queue_raw(base, 0, num, HX_ADDR(q->desc), HX_ADDR(q->avail), HX_ADDR(q->used));
	rt_print("QueueNum ");
	rt_print_dec(num);
	rt_print(ready ? ": ready" : ": not ready");
	rt_print(hx_needs_reset(base) ? ", DEVICE_NEEDS_RESET" : "");
	rt_print(ready == want_ready ? "\n" : " - FAIL: not as expected\n");
	return ready == want_ready;
}

void guest_main(uint64_t zero_page)
{
	uint64_t base = hx_find(zero_page, VIRTIO_ID_BLOCK);
	if (!base || !hx_negotiate(base, BIT(F_VERSION_1)))
		hx_verdict(false, "no disk");
	hx_w(base, VM_QUEUE_SEL, 0);
	uint32_t max = hx_r(base, VM_QUEUE_NUM_MAX);
	hx_note("QueueNumMax", max);
	if (max == 0 || max > HQ_MAX)
		hx_verdict(false, "QueueNumMax is 0 or larger than the runtime's rings");
	struct hq q;
	hx_queue_static(&q, 0, HQ_MAX);
	bool ok = try_size(base, &q, 0, false);
	ok = try_size(base, &q, 3, false) && ok;
	ok = try_size(base, &q, max + 1, false) && ok;
	ok = try_size(base, &q, max * 2, false) && ok;
	ok = try_size(base, &q, 0x10000, false) && ok;
	ok = try_size(base, &q, 0xffffffff, false) && ok;
	ok = try_size(base, &q, 1, true) && ok;
	ok = try_size(base, &q, max, true) && ok;
	hx_verdict(ok && hx_blk_recovers(zero_page), "queue sizes of 0, not a power of two or above the maximum are refused");
}
