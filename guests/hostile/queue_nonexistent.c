/* queue_nonexistent: virtio-blk has one queue; the driver selects queues 1, 7 and 0xffffffff,
 * reads their QueueNumMax (must be 0) and QueueReady (0), programs them with garbage rings and
 * sets QueueReady (must stay 0, and must not leak into queue 0, set up afterwards), then, live,
 * notifies queue indices 1, 7, 0xffff and 0x10000. None of it may disturb the device: no
 * DEVICE_NEEDS_RESET, and the disk serves requests on. virtio 1.2 §4.2.2 (QueueNumMax "0x0 if
 * the queue is not available"), §4.2.3.3 (notifications carry a queue index). */
#include "hostile.h"

static const uint32_t absent[] = { 1, 7, 0xffffffffu };

void guest_main(uint64_t zero_page)
{
	uint64_t base = hx_find(zero_page, VIRTIO_ID_BLOCK);
	if (!base || !hx_negotiate(base, BIT(F_VERSION_1)))
		hx_verdict(false, "no disk");
	bool ok = true;
	for (uint32_t i = 0; i < sizeof(absent) / sizeof(absent[0]); i++) {
		hx_w(base, VM_QUEUE_SEL, absent[i]);
		uint32_t max = hx_r(base, VM_QUEUE_NUM_MAX), ready = hx_r(base, VM_QUEUE_READY);
		bool set = hx_queue_raw(base, absent[i], 8, 0x1000000008ull, 0xc0000001ull, 0xffffffffffffffffull);
		rt_print("queue ");
		rt_print_hex(absent[i]);
		rt_print(": QueueNumMax ");
		rt_print_dec(max);
		rt_print(", QueueReady ");
		rt_print_dec(ready);
		rt_print(set ? ", FAIL: ready after setup\n" : ", stays not ready\n");
		ok = ok && max == 0 && ready == 0 && !set && !hx_needs_reset(base);
	}
	struct hq q;
	hx_queue_static(&q, 0, 8);
	bool q0 = hx_queue_setup(base, 0, &q) && hx_driver_ok(base);
	rt_print(q0 ? "queue 0 set up afterwards is ready\n" : "FAIL: queue 0 refused after the others\n");
	static const uint32_t notes[] = { 1, 7, 0xffff, 0x10000 };
	for (uint32_t i = 0; i < sizeof(notes) / sizeof(notes[0]); i++)
		for (int n = 0; n < 100; n++)
			hx_w(base, VM_QUEUE_NOTIFY, notes[i]);
	rt_spin(100000);
	bool calm = !hx_needs_reset(base) && q.used[1] == 0;
	rt_print(calm ? "notifications of missing queues ignored\n" : "FAIL: the device reacted to them\n");
	ok = q0 && calm && hx_blk_reads(base, &q) && ok;
	hx_verdict(ok && hx_blk_recovers(zero_page), "queues the device does not have cannot be set up or notified");
}
