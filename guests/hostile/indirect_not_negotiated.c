/* indirect_not_negotiated: a well-formed request behind a VIRTQ_DESC_F_INDIRECT descriptor, on a
 * queue whose driver did not negotiate VIRTIO_RING_F_INDIRECT_DESC. The device must not follow
 * the table: the chain comes back unserved. The same request once the feature is negotiated must
 * work (so it is the negotiation that decides). If the device does not offer the feature,
 * asking for it must be refused at FEATURES_OK instead. virtio 1.2 §2.7.5.3.1 ("The driver MUST
 * NOT set the VIRTQ_DESC_F_INDIRECT flag unless the VIRTIO_F_INDIRECT_DESC feature was
 * negotiated"), §3.1.1. */
#include "hostile.h"

static struct blk_hdr hdr;
static uint8_t buf[SECTOR] __attribute__((aligned(16)));
static volatile uint8_t status;
static struct vq_desc table[3] __attribute__((aligned(16)));

static int indirect_read(uint64_t base, struct hq *q)
{
	hdr = (struct blk_hdr){ BLK_T_IN, 0, 0 };
	memset(buf, 0, sizeof(buf));
	table[0] = (struct vq_desc){ HX_ADDR(&hdr), sizeof(hdr), VQ_F_NEXT, 1 };
	table[1] = (struct vq_desc){ HX_ADDR(buf), SECTOR, VQ_F_NEXT | VQ_F_WRITE, 2 };
	table[2] = (struct vq_desc){ HX_ADDR(&status), 1, VQ_F_WRITE, 0 };
	hx_desc(q, 0, HX_ADDR(table), sizeof(table), VQ_F_INDIRECT, 0);
	return hx_blk_submit(base, q, 0, &status);
}

void guest_main(uint64_t zero_page)
{
	uint64_t disk = hx_find(zero_page, VIRTIO_ID_BLOCK);
	if (!disk)
		hx_verdict(false, "no disk");
	uint64_t offered = hx_device_features(disk);
	rt_print("device features ");
	rt_print_hex(offered);
	rt_putc('\n');
	if (!(offered & BIT(F_INDIRECT_DESC))) {
		bool refused = !hx_negotiate(disk, BIT(F_VERSION_1) | BIT(F_INDIRECT_DESC));
		hx_verdict(refused && hx_blk_recovers(zero_page), "INDIRECT_DESC is not offered; asking for it is refused");
	}
	struct hq q;
	uint64_t base = hx_blk_open(zero_page, &q, 8, 0);
	if (!base)
		hx_verdict(false, "no disk");
	rt_print("indirect table without the feature: ");
	int st = indirect_read(base, &q);
	bool ok = hx_blk_refused(base, st) && st != BLK_S_OK;
	if (memcmp(buf, "MOATDISK", 8) == 0) {
		rt_print("FAIL: the device followed the indirect table\n");
		ok = false;
	}
	if (!hx_needs_reset(base))
		ok = hx_blk_reads(base, &q) && ok;
	base = hx_blk_open(zero_page, &q, 8, BIT(F_INDIRECT_DESC));
	if (!base)
		hx_verdict(false, "INDIRECT_DESC offered but not accepted");
	st = indirect_read(base, &q);
	bool works = st == BLK_S_OK && memcmp(buf, "MOATDISK", 8) == 0;
	rt_print(works ? "with the feature negotiated, the same request works\n"
		       : "FAIL: with the feature negotiated, the same request fails\n");
	hx_verdict(ok && works && hx_blk_recovers(zero_page), "INDIRECT without the feature is refused");
}
