/* seg_max_indirect: the disk announces seg_max (the most data descriptors in one request) in
 * its config space; a direct chain cannot exceed it (the queue is 256 entries), but an indirect
 * table can hold any number. A read of seg_max one-sector buffers through an indirect table must
 * work, every buffer filled; one of seg_max + 1 must come back refused with no buffer written;
 * so must one of 4096 buffers, the table 64 KiB. An off-by-one in the bound, or a device that
 * sizes an array from the table, shows here. virtio 1.2 §5.2.4 (seg_max), §5.2.6.1 ("The
 * driver MUST NOT ... more than seg_max"), §2.7.5.3 (indirect tables). */
#include "hostile.h"

#define BIG 4096
#define CONFIG_SEG_MAX 12 /* struct virtio_blk_config */
static struct blk_hdr hdr;
static volatile uint8_t status;
static struct vq_desc table[BIG + 2] __attribute__((aligned(16)));
static uint8_t bufs[256][SECTOR] __attribute__((aligned(16)));

/* header, n data buffers (bufs, cycling past 256), status: what came back, and the fills. */
static int read_into(uint64_t base, struct hq *q, uint32_t n, uint32_t *filled)
{
	hdr = (struct blk_hdr){ BLK_T_IN, 0, 0 };
	memset(bufs, 0x5a, sizeof(bufs));
	table[0] = (struct vq_desc){ HX_ADDR(&hdr), sizeof(hdr), VQ_F_NEXT, 1 };
	for (uint32_t i = 1; i <= n; i++)
		table[i] = (struct vq_desc){ HX_ADDR(bufs[(i - 1) % 256]), SECTOR, VQ_F_NEXT | VQ_F_WRITE, (uint16_t)(i + 1) };
	table[n + 1] = (struct vq_desc){ HX_ADDR(&status), 1, VQ_F_WRITE, 0 };
	hx_desc(q, 0, HX_ADDR(table), (n + 2) * sizeof(struct vq_desc), VQ_F_INDIRECT, 0);
	int st = hx_blk_submit(base, q, 0, &status);
	*filled = 0;
	for (uint32_t i = 0; i < 256; i++)
		*filled += bufs[i][0] != 0x5a || bufs[i][SECTOR - 1] != 0x5a; /* the disk holds no 0x5a */
	rt_print("indirect read into ");
	rt_print_dec(n);
	rt_print(" buffers: status ");
	rt_print_dec((uint64_t)(st < 0 ? 999 : st));
	rt_print(", used length ");
	rt_print_dec(hx_blk_used_len);
	rt_print(", buffers written ");
	rt_print_dec(*filled);
	rt_putc('\n');
	return st;
}

void guest_main(uint64_t zero_page)
{
	struct hq q;
	uint64_t base = hx_blk_open(zero_page, &q, 8, BIT(F_INDIRECT_DESC));
	if (!base)
		hx_verdict(false, "no disk, or INDIRECT_DESC refused");
	uint32_t seg_max = hx_r(base, VM_CONFIG + CONFIG_SEG_MAX);
	hx_note("seg_max", seg_max);
	if (seg_max == 0 || seg_max > 255)
		hx_verdict(false, "seg_max is 0 or larger than this case's buffers");
	uint32_t filled;
	int st = read_into(base, &q, seg_max, &filled);
	bool fits = st == BLK_S_OK && hx_blk_used_len == seg_max * SECTOR + 1 && filled == seg_max;
	st = read_into(base, &q, seg_max + 1, &filled);
	bool over = hx_blk_refused(base, st) && st != BLK_S_OK && filled == 0;
	st = read_into(base, &q, BIG, &filled);
	bool big = hx_blk_refused(base, st) && st != BLK_S_OK && filled == 0;
	if (!hx_needs_reset(base))
		fits = hx_blk_reads(base, &q) && fits;
	hx_verdict(fits && over && big && hx_blk_recovers(zero_page),
		   "seg_max buffers through an indirect table work, one more is refused");
}
