/* event_idx_garbage: with VIRTIO_RING_F_EVENT_IDX negotiated, the driver writes garbage into the
 * field the device reads to decide on interrupts (used_event, a random value before every
 * submission) and flips VIRTQ_AVAIL_F_NO_INTERRUPT, while it keeps 16 requests in flight for 800
 * requests: enough for moat to probe and switch to its batching (served from a timer, not on
 * notifications). The driver notifies exactly when the device's avail_event asks for it (the
 * rule a device relies on to stop notifications). Interrupts may come or not; every request must
 * still complete with the right data: a device that loses a wakeup stalls the queue. virtio 1.2
 * §2.7.10 (used_event / avail_event), §2.7.7.2; the lost-wakeup class of event-index bugs
 * (the store-load ordering Linux's virtqueue_kick_prepare and vring_need_event depend on). */
#include "hostile.h"

#define QSIZE 64
#define DEPTH 16
#define TOTAL 800
static struct blk_hdr hdr[DEPTH];
static volatile uint8_t status[DEPTH];
static uint8_t buf[DEPTH][SECTOR] __attribute__((aligned(16)));

void guest_main(uint64_t zero_page)
{
	struct hq q;
	uint64_t base = hx_blk_open(zero_page, &q, QSIZE, BIT(F_EVENT_IDX));
	if (!base)
		hx_verdict(false, "no disk, or EVENT_IDX refused");
	volatile uint16_t *used_event = &q.avail[2 + QSIZE];
	volatile uint16_t *avail_event = (volatile uint16_t *)((volatile uint8_t *)q.used + 4 + 8 * QSIZE);
	uint64_t x = 0x2545f4914f6cdd1dull, notified = 0;
	uint32_t submitted = 0, done = 0, bad = 0;
	bool in_flight[DEPTH] = { false };
	uint64_t idle = 0;
	while (done < TOTAL && idle < 8 * HX_WAIT) {
		/* Reap. */
		struct vq_used_elem e;
		bool reaped = false;
		while (hx_wait_used(&q, 0, &e)) {
			reaped = true;
			uint32_t slot = e.id / 3;
			if (e.id % 3 || slot >= DEPTH || !in_flight[slot] || status[slot] != BLK_S_OK ||
			    e.len != SECTOR + 1 || memcmp(buf[slot], "MOATDISK", 8) != 0)
				bad++;
			if (slot < DEPTH)
				in_flight[slot] = false;
			done++;
			idle = 0;
		}
		/* Submit into every free slot, then notify as avail_event says. */
		uint16_t old = q.avail[1], now = old;
		for (uint32_t s = 0; s < DEPTH && submitted < TOTAL; s++) {
			if (in_flight[s])
				continue;
			uint16_t h = (uint16_t)(3 * s);
			hdr[s] = (struct blk_hdr){ BLK_T_IN, 0, 0 };
			status[s] = HX_NO_STATUS;
			memset(buf[s], 0, 8);
			hx_desc(&q, h, HX_ADDR(&hdr[s]), sizeof(hdr[s]), VQ_F_NEXT, (uint16_t)(h + 1));
			hx_desc(&q, (uint16_t)(h + 1), HX_ADDR(buf[s]), SECTOR, VQ_F_NEXT | VQ_F_WRITE, (uint16_t)(h + 2));
			hx_desc(&q, (uint16_t)(h + 2), HX_ADDR(&status[s]), 1, VQ_F_WRITE, 0);
			q.avail[2 + now % QSIZE] = h;
			now++;
			in_flight[s] = true;
			submitted++;
		}
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		*used_event = (uint16_t)x;
		q.avail[0] = (uint16_t)((x >> 16) & 1);
		if (now != old) {
			barrier();
			q.avail[1] = now;
			barrier(); /* §2.7.13.4: idx before reading avail_event */
			uint16_t ev = *avail_event;
			if ((uint16_t)(now - ev - 1) < (uint16_t)(now - old)) { /* vring_need_event */
				hx_w(base, VM_QUEUE_NOTIFY, 0);
				notified++;
			}
		}
		if (reaped) /* MMIO only now and then: each access is an exit */
			hx_w(base, VM_INTERRUPT_ACK, hx_r(base, VM_INTERRUPT_STATUS));
		idle++;
		cpu_relax();
	}
	hx_note("requests completed", done);
	hx_note("of which wrong", bad);
	hx_note("notifications sent", notified);
	bool ok = done == TOTAL && bad == 0 && !hx_needs_reset(base);
	rt_print(done == TOTAL ? "every request completed\n" : "FAIL: the queue stalled with requests in flight\n");
	hx_verdict(ok && hx_blk_recovers(zero_page), "garbage used_event and flag flips lose no request");
}
