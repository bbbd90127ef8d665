/* status_order: the device status machine driven out of order: DRIVER before ACKNOWLEDGE,
 * DRIVER_OK before FEATURES_OK, FEATURES_OK with features the device did not offer (bit 63, bit
 * 0 if not offered, a word past the 64 bits, no VERSION_1), unknown status bits, a driver feature
 * written after FEATURES_OK (INDIRECT_DESC, then used), status bits cleared without a reset, and
 * anything after FAILED. Each must be ignored or refused as the spec says; only a reset (0)
 * starts over, and the disk then works. virtio 1.2 §2.1, §2.2.1 ("The device SHOULD NOT accept a
 * feature it did not offer"), §3.1.1, §2.4. */
#include "hostile.h"

#define AD (ST_ACKNOWLEDGE | ST_DRIVER)
static uint64_t base;
static bool ok = true;

static void expect(uint32_t want, const char *what)
{
	uint32_t s = hx_status(base) & ~ST_NEEDS_RESET;
	rt_print(what);
	rt_print(": status ");
	rt_print_hex(s);
	rt_print(s == want ? "\n" : " - FAIL: expected other\n");
	ok = ok && s == want;
}

static void features_refused(uint64_t features, uint32_t sel2, const char *what)
{
	hx_w(base, VM_STATUS, 0);
	hx_w(base, VM_STATUS, ST_ACKNOWLEDGE);
	hx_w(base, VM_STATUS, AD);
	hx_write_features(base, features);
	if (sel2) {
		hx_w(base, VM_DRIVER_FEATURES_SEL, 2);
		hx_w(base, VM_DRIVER_FEATURES, sel2);
	}
	hx_w(base, VM_STATUS, AD | ST_FEATURES_OK | ST_DRIVER_OK);
	expect(AD, what);
}

static struct blk_hdr hdr;
static uint8_t buf[SECTOR] __attribute__((aligned(16)));
static volatile uint8_t status;
static struct vq_desc table[3] __attribute__((aligned(16)));

void guest_main(uint64_t zero_page)
{
	base = hx_find(zero_page, VIRTIO_ID_BLOCK);
	if (!base)
		hx_verdict(false, "no disk");
	uint64_t offered = hx_device_features(base);
	hx_w(base, VM_STATUS, 0);
	hx_w(base, VM_STATUS, ST_DRIVER);
	expect(0, "DRIVER without ACKNOWLEDGE");
	hx_w(base, VM_STATUS, ST_ACKNOWLEDGE);
	hx_w(base, VM_STATUS, AD);
	hx_write_features(base, BIT(F_VERSION_1));
	hx_w(base, VM_STATUS, AD | ST_DRIVER_OK);
	expect(AD, "DRIVER_OK before FEATURES_OK");
	hx_w(base, VM_STATUS, AD | 0x10);
	expect(AD, "unknown status bit 0x10");
	hx_w(base, VM_STATUS, AD | 0x20);
	expect(AD, "unknown status bit 0x20");
	features_refused(BIT(F_VERSION_1) | BIT(63), 0, "feature bit 63");
	if (!(offered & 1))
		features_refused(BIT(F_VERSION_1) | 1, 0, "feature bit 0 (not offered)");
	features_refused(BIT(F_VERSION_1), 1, "a feature in word 2 (bits 64..95)");
	features_refused(0, 0, "no VERSION_1");

	/* A feature written after FEATURES_OK must not count: INDIRECT_DESC, then an indirect request. */
	struct hq q;
	if (!hx_negotiate(base, BIT(F_VERSION_1)))
		hx_verdict(false, "plain VERSION_1 refused");
	hx_write_features(base, BIT(F_VERSION_1) | BIT(F_INDIRECT_DESC));
	hx_queue_static(&q, 0, 8);
	if (!hx_queue_setup(base, 0, &q) || !hx_driver_ok(base))
		hx_verdict(false, "queue setup failed");
	uint32_t live = hx_status(base);
	hdr = (struct blk_hdr){ BLK_T_IN, 0, 0 };
	table[0] = (struct vq_desc){ HX_ADDR(&hdr), sizeof(hdr), VQ_F_NEXT, 1 };
	table[1] = (struct vq_desc){ HX_ADDR(buf), SECTOR, VQ_F_NEXT | VQ_F_WRITE, 2 };
	table[2] = (struct vq_desc){ HX_ADDR(&status), 1, VQ_F_WRITE, 0 };
	hx_desc(&q, 0, HX_ADDR(table), sizeof(table), VQ_F_INDIRECT, 0);
	rt_print("indirect request after a late INDIRECT_DESC write: ");
	int st = hx_blk_submit(base, &q, 0, &status);
	ok = hx_blk_refused(base, st) && memcmp(buf, "MOATDISK", 8) != 0 && ok;

	hx_w(base, VM_STATUS, ST_ACKNOWLEDGE);
	expect(live, "bits cleared without a reset");
	hx_w(base, VM_STATUS, live & ~ST_DRIVER_OK);
	expect(live, "DRIVER_OK cleared without a reset");
	hx_w(base, VM_STATUS, live | ST_FAILED);
	expect(live | ST_FAILED, "status bit 0x80 (failed) set");
	hx_w(base, VM_STATUS, live);
	expect(live | ST_FAILED, "bit 0x80 cleared without a reset");
	hx_w(base, VM_STATUS, AD);
	expect(live | ST_FAILED, "back to DRIVER after bit 0x80");
	hx_w(base, VM_STATUS, 0);
	expect(0, "reset");
	hx_verdict(ok && hx_blk_recovers(zero_page), "out-of-order status writes are ignored; only a reset starts over");
}
