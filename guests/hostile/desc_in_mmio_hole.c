/* desc_in_mmio_hole: read requests whose device-writable buffers lie in the 32-bit MMIO gap
 * (0xc0000000..4 GiB), where there is no RAM: at the gap's start, over the disk's own MMIO
 * window (DMA into the device's registers, 512 bytes and the whole 4 KiB), and a status byte
 * aimed at the Status register. The device must refuse each without touching them: its
 * registers read the same afterwards, and the disk works on and after a reset. virtio 1.2
 * §2.7.5, §4.2.2; the class of CVE-2021-3750 (QEMU: a device's DMA aimed at its own registers). */
#include "hostile.h"

static const uint32_t watched[] = { VM_MAGIC, VM_VERSION, VM_DEVICE_ID, VM_QUEUE_NUM_MAX,
				    VM_QUEUE_READY, VM_STATUS, VM_CONFIG };
#define WATCHED (sizeof(watched) / sizeof(watched[0]))
static struct blk_hdr hdr;
static uint8_t buf[SECTOR] __attribute__((aligned(16)));

static void snapshot(uint64_t base, uint32_t *out)
{
	hx_w(base, VM_QUEUE_SEL, 0);
	for (uint32_t i = 0; i < WATCHED; i++)
		out[i] = hx_r(base, watched[i]);
}

static bool unchanged(uint64_t base, const uint32_t *before)
{
	uint32_t now[WATCHED];
	snapshot(base, now);
	bool same = true;
	for (uint32_t i = 0; i < WATCHED; i++) {
		if (now[i] == before[i])
			continue;
		rt_print("FAIL: register ");
		rt_print_hex(watched[i]);
		rt_print(" changed to ");
		rt_print_hex(now[i]);
		rt_putc('\n');
		same = false;
	}
	return same;
}

static bool refused_into(uint64_t base, struct hq *q, uint64_t addr, uint32_t len, const uint32_t *before)
{
	rt_print("data buffer at ");
	rt_print_hex(addr);
	rt_print(", ");
	rt_print_dec(len);
	rt_print(" bytes: ");
	int st = hx_blk_request(base, q, BLK_T_IN, 0, (void *)(uintptr_t)addr, len, true);
	return hx_blk_refused(base, st) && unchanged(base, before);
}

void guest_main(uint64_t zero_page)
{
	struct hq q;
	uint64_t base = hx_blk_open(zero_page, &q, 8, 0);
	if (!base)
		hx_verdict(false, "no disk");
	uint32_t before[WATCHED];
	snapshot(base, before);
	hx_note("disk window", base);
	hx_note("status before", before[5]);
	bool ok = refused_into(base, &q, 0xc0000000ull, SECTOR, before);
	ok = refused_into(base, &q, base, SECTOR, before) && ok;
	ok = refused_into(base, &q, base, VIRTIO_WINDOW, before) && ok;
	ok = refused_into(base, &q, base + VM_STATUS, 4, before) && ok; /* not whole sectors either */
	/* The status byte written by the device: aimed at the Status register. */
	hdr = (struct blk_hdr){ BLK_T_IN, 0, 0 };
	hx_desc(&q, 0, HX_ADDR(&hdr), sizeof(hdr), VQ_F_NEXT, 1);
	hx_desc(&q, 1, HX_ADDR(buf), SECTOR, VQ_F_NEXT | VQ_F_WRITE, 2);
	hx_desc(&q, 2, base + VM_STATUS, 1, VQ_F_WRITE, 0);
	memset(buf, 0, sizeof(buf));
	rt_print("status byte on the Status register: ");
	int st = hx_blk_submit(base, &q, 0, 0);
	ok = hx_blk_refused(base, st) && unchanged(base, before) && ok;
	if (memcmp(buf, "MOATDISK", 8) == 0) {
		rt_print("FAIL: the request was served although its status byte is not in RAM\n");
		ok = false;
	}
	ok = hx_blk_reads(base, &q) && ok;
	hx_verdict(ok && hx_blk_recovers(zero_page),
		   "buffers in the MMIO gap and on the device's registers are refused, registers unchanged");
}
