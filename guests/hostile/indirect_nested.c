/* indirect_nested: with VIRTIO_RING_F_INDIRECT_DESC negotiated, indirect tables that break its
 * rules: an indirect descriptor inside an indirect table (nesting), INDIRECT together with NEXT,
 * a table of 0 bytes and one of 40 (not a multiple of 16), a table outside RAM, a loop inside
 * the table and a `next` past its end. Each must come back unserved; a well-formed table must
 * work before and after. virtio 1.2 §2.7.5.3.1 ("The driver MUST NOT set the
 * VIRTQ_DESC_F_INDIRECT flag within an indirect descriptor", nor INDIRECT with NEXT); QEMU
 * virtqueue_pop's "Nested indirect descriptor" and "Looped descriptor" checks. If the device
 * does not offer the feature, asking for it must be refused instead. */
#include "hostile.h"

static struct blk_hdr hdr;
static uint8_t buf[SECTOR] __attribute__((aligned(16)));
static volatile uint8_t status;
static struct vq_desc table[4] __attribute__((aligned(16)));
static struct vq_desc inner[3] __attribute__((aligned(16)));

/* A well-formed 3-entry table: header, data, status. */
static void fill(struct vq_desc *t)
{
	t[0] = (struct vq_desc){ HX_ADDR(&hdr), sizeof(hdr), VQ_F_NEXT, 1 };
	t[1] = (struct vq_desc){ HX_ADDR(buf), SECTOR, VQ_F_NEXT | VQ_F_WRITE, 2 };
	t[2] = (struct vq_desc){ HX_ADDR(&status), 1, VQ_F_WRITE, 0 };
}

static int submit(uint64_t base, struct hq *q, uint64_t at, uint32_t len, uint16_t flags)
{
	hdr = (struct blk_hdr){ BLK_T_IN, 0, 0 };
	memset(buf, 0, sizeof(buf));
	hx_desc(q, 0, at, len, flags, 1);
	hx_desc(q, 1, HX_ADDR(&status), 1, VQ_F_WRITE, 0); /* what INDIRECT | NEXT would lead to */
	return hx_blk_submit(base, q, 0, &status);
}

static bool refused(uint64_t base, struct hq *q, uint64_t at, uint32_t len, uint16_t flags, const char *what)
{
	rt_print(what);
	int st = submit(base, q, at, len, flags);
	bool ok = hx_blk_refused(base, st) && st != BLK_S_OK;
	if (memcmp(buf, "MOATDISK", 8) == 0) {
		rt_print("FAIL: the request was served\n");
		ok = false;
	}
	fill(table);
	return ok;
}

static bool works(uint64_t base, struct hq *q)
{
	fill(table);
	int st = submit(base, q, HX_ADDR(table), 3 * sizeof(struct vq_desc), VQ_F_INDIRECT);
	bool ok = st == BLK_S_OK && memcmp(buf, "MOATDISK", 8) == 0;
	rt_print(ok ? "a well-formed indirect table works\n" : "FAIL: a well-formed indirect table fails\n");
	return ok;
}

void guest_main(uint64_t zero_page)
{
	struct hq q;
	uint64_t disk = hx_find(zero_page, VIRTIO_ID_BLOCK);
	if (disk && !(hx_device_features(disk) & BIT(F_INDIRECT_DESC))) {
		bool no = !hx_negotiate(disk, BIT(F_VERSION_1) | BIT(F_INDIRECT_DESC));
		hx_verdict(no && hx_blk_recovers(zero_page), "INDIRECT_DESC is not offered; asking for it is refused");
	}
	uint64_t base = hx_blk_open(zero_page, &q, 8, BIT(F_INDIRECT_DESC));
	if (!base)
		hx_verdict(false, "no disk, or INDIRECT_DESC refused");
	bool ok = works(base, &q);
	uint32_t three = 3 * sizeof(struct vq_desc);
	/* The data entry is itself an indirect table (a good one). */
	fill(inner);
	fill(table);
	table[1] = (struct vq_desc){ HX_ADDR(inner), three, VQ_F_INDIRECT, 0 };
	ok = refused(base, &q, HX_ADDR(table), three, VQ_F_INDIRECT, "nested indirect table: ") && ok;
	ok = refused(base, &q, HX_ADDR(table), three, VQ_F_INDIRECT | VQ_F_NEXT, "INDIRECT with NEXT: ") && ok;
	ok = refused(base, &q, HX_ADDR(table), 0, VQ_F_INDIRECT, "table of 0 bytes: ") && ok;
	ok = refused(base, &q, HX_ADDR(table), 40, VQ_F_INDIRECT, "table of 40 bytes: ") && ok;
	ok = refused(base, &q, 0x1000000000ull, three, VQ_F_INDIRECT, "table at 64 GiB: ") && ok;
	ok = refused(base, &q, 0xfffffffffffffff0ull, three, VQ_F_INDIRECT, "table across 2^64: ") && ok;
	table[1].next = 1; /* data -> data */
	ok = refused(base, &q, HX_ADDR(table), three, VQ_F_INDIRECT, "loop inside the table: ") && ok;
	table[1].next = 3; /* past the 3 entries given; table[3] is bait */
	table[3] = (struct vq_desc){ HX_ADDR(&status), 1, VQ_F_WRITE, 0 };
	ok = refused(base, &q, HX_ADDR(table), three, VQ_F_INDIRECT, "next past the table: ") && ok;
	if (!hx_needs_reset(base))
		ok = works(base, &q) && ok;
	hx_verdict(ok && hx_blk_recovers(zero_page), "broken indirect tables are refused; good ones work");
}
