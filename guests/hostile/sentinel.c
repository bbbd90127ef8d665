/* sentinel: the VM beside each hostile guest. It fills 1 MiB of its memory with a pattern and
 * reads its read-only disk's first 8 sectors once, then checks both again every round and says
 * "sentinel: round N ok" (or FAIL with what differed), forever: hostile-test counts its rounds
 * before and after each attack. */
#include "hostile.h"

#define AREA_BYTES (1u << 20)
#define SECTORS 8

static uint64_t area[AREA_BYTES / 8];
static uint8_t disk_first[SECTORS * SECTOR] __attribute__((aligned(16)));
static uint8_t disk_now[SECTORS * SECTOR] __attribute__((aligned(16)));

static uint64_t next_value(uint64_t *x)
{
	*x ^= *x << 13; /* xorshift64 */
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static struct blk_hdr header;
static volatile uint8_t status;

/* One read, waited for as long as it takes: on a loaded host the sentinel's device may be slow
 * (the hostile VM beside it may be flooding the host), and slow is not harmed. Says so when a
 * read takes more than a few of HX_WAIT's spins, and gives up only after minutes. */
static bool read_sector(uint64_t base, struct hq *q, uint32_t sector, uint8_t *to)
{
	header = (struct blk_hdr){ BLK_T_IN, 0, sector };
	status = HX_NO_STATUS;
	hx_desc(q, 0, HX_ADDR(&header), sizeof(header), VQ_F_NEXT, 1);
	hx_desc(q, 1, HX_ADDR(to), SECTOR, VQ_F_NEXT | VQ_F_WRITE, 2);
	hx_desc(q, 2, HX_ADDR(&status), 1, VQ_F_WRITE, 0);
	hx_publish(base, 0, q, 0);
	struct vq_used_elem e;
	for (int waits = 0; !hx_wait_used(q, HX_WAIT, &e); waits++) {
		if (waits == 4)
			rt_print("sentinel: its disk is slow to answer\n");
		if (waits == 200)
			return false;
	}
	hx_w(base, VM_INTERRUPT_ACK, hx_r(base, VM_INTERRUPT_STATUS));
	return status == BLK_S_OK;
}

static bool read_disk(uint64_t base, struct hq *q, uint8_t *to)
{
	for (uint32_t s = 0; s < SECTORS; s++)
		if (!read_sector(base, q, s, to + s * SECTOR))
			return false;
	return true;
}

void guest_main(uint64_t zero_page)
{
	rt_print("moat hostile suite: sentinel\n");
	struct hq q;
	uint64_t base = hx_blk_open(zero_page, &q, 8, 0);
	if (!base || !read_disk(base, &q, disk_first) || memcmp(disk_first, "SENTINEL", 8) != 0)
		hx_verdict(false, "sentinel: its disk cannot be read, or lacks its pattern");
	uint64_t x = 0x9e3779b97f4a7c15ull;
	for (uint32_t i = 0; i < AREA_BYTES / 8; i++)
		area[i] = next_value(&x);
	for (uint64_t round = 1;; round++) {
		x = 0x9e3779b97f4a7c15ull;
		uint32_t bad = 0;
		for (uint32_t i = 0; i < AREA_BYTES / 8; i++)
			bad += area[i] != next_value(&x);
		if (bad) {
			rt_print("FAIL: sentinel: memory words changed: ");
			rt_print_dec(bad);
			rt_putc('\n');
		}
		if (!read_disk(base, &q, disk_now))
			rt_print("FAIL: sentinel: its disk did not answer for minutes, or failed a read\n");
		else if (memcmp(disk_now, disk_first, sizeof(disk_now)) != 0)
			rt_print("FAIL: sentinel: its disk reads differently\n");
		rt_print("sentinel: round ");
		rt_print_dec(round);
		rt_print(bad ? " bad\n" : " ok\n");
		rt_spin(20000000);
	}
}
