/* register_abuse: the register window accessed the way no driver does: 1-, 2- and 8-byte reads
 * and writes of 32-bit registers (a 1-byte 0 to Status would be a reset if taken), unaligned
 * offsets (0x31), writes to the read-only registers (MagicValue, Version, DeviceID, VendorID,
 * QueueNumMax, InterruptStatus, ConfigGeneration) and to the read-only config space in every
 * width, reads and writes past the config space (to 0xfff) and across the window's end. Nothing
 * may change what the driver reads, reads past the config space must not leak host memory
 * (moat answers zeros), config space reads must agree in every width, and the device works on.
 * virtio 1.2 §4.2.2 (32-bit registers; "The driver MUST NOT write to read-only registers"),
 * §4.2.2.2 (config space widths); the class of CVE-2020-14364-style register-offset bugs. */
#include "hostile.h"

static const uint32_t ro[] = { VM_MAGIC, VM_VERSION, VM_DEVICE_ID, 0x00c, VM_QUEUE_NUM_MAX,
			       VM_QUEUE_READY, VM_STATUS, VM_CONFIG, VM_CONFIG + 4, VM_CONFIG + 12 };
#define RO (sizeof(ro) / sizeof(ro[0]))
#define CONFIG_USED 72 /* struct virtio_blk_config */

static void w8(uint64_t a, uint8_t v) { *(volatile uint8_t *)a = v; }
static void w16(uint64_t a, uint16_t v) { *(volatile uint16_t *)a = v; }
static void w64(uint64_t a, uint64_t v) { *(volatile uint64_t *)a = v; }
static uint8_t r8(uint64_t a) { return *(volatile uint8_t *)a; }
static uint16_t r16(uint64_t a) { return *(volatile uint16_t *)a; }
static uint64_t r64(uint64_t a) { return *(volatile uint64_t *)a; }

static void snapshot(uint64_t base, uint32_t *out)
{
	hx_w(base, VM_QUEUE_SEL, 0);
	for (uint32_t i = 0; i < RO; i++)
		out[i] = hx_r(base, ro[i]);
}

static bool same(uint64_t base, const uint32_t *before, const char *after)
{
	uint32_t now[RO];
	for (uint32_t i = 0; i < RO; i++)
		now[i] = hx_r(base, ro[i]); /* QueueSel as the abuse left it */
	bool ok = true;
	for (uint32_t i = 0; i < RO; i++)
		if (now[i] != before[i]) {
			rt_print("FAIL: after ");
			rt_print(after);
			rt_print(", register ");
			rt_print_hex(ro[i]);
			rt_print(" reads ");
			rt_print_hex(now[i]);
			rt_putc('\n');
			ok = false;
		}
	return ok;
}

void guest_main(uint64_t zero_page)
{
	struct hq q;
	uint64_t b = hx_blk_open(zero_page, &q, 8, 0);
	if (!b)
		hx_verdict(false, "no disk");
	uint32_t before[RO];
	snapshot(b, before);
	rt_print("narrow and wide reads of MagicValue: ");
	rt_print_hex(r8(b));
	rt_putc(' ');
	rt_print_hex(r16(b));
	rt_putc(' ');
	rt_print_hex(r64(b));
	rt_print(", unaligned 0x31: ");
	rt_print_hex(hx_r(b, 0x31));
	rt_print(", 8 bytes across the window's end: ");
	rt_print_hex(r64(b + VIRTIO_WINDOW - 4));
	rt_putc('\n');
	struct hdev devs[16];
	int n = hx_devices(zero_page, devs, 16);
	hx_note("virtio devices in the DSDT", (uint64_t)n);
	for (int i = 0; i < n; i++) {
		rt_print("  device id ");
		rt_print_dec(devs[i].id);
		rt_print(" at ");
		rt_print_hex(devs[i].base);
		rt_putc('\n');
	}
	bool ok = same(b, before, "odd reads");

	for (uint32_t i = 0; i < RO; i++)
		hx_w(b, ro[i], 0xdeadbeef);
	hx_w(b, VM_INTERRUPT_STATUS, 0xffffffff);
	hx_w(b, VM_CONFIG_GENERATION, 0xffffffff);
	ok = same(b, before, "writes to read-only registers") && ok;
	w8(b + VM_STATUS, 0);
	w16(b + VM_STATUS, 0);
	w64(b + VM_STATUS, 0);
	w64(b + VM_QUEUE_READY, 0);
	w8(b + VM_QUEUE_SEL, 5);
	hx_w(b, 0x31, 0xffffffff);
	w64(b + VM_QUEUE_NOTIFY, 0);
	w16(b + VM_QUEUE_NOTIFY + 1, 0);
	ok = same(b, before, "1-, 2-, 8-byte and unaligned writes") && ok;
	for (uint32_t off = 0; off < 8; off++) {
		w8(b + VM_CONFIG + off, 0xff);
		w16(b + VM_CONFIG + off, 0xffff);
	}
	hx_w(b, VM_CONFIG, 0xffffffff);
	w64(b + VM_CONFIG, ~0ull);
	for (uint32_t off = VM_CONFIG + CONFIG_USED; off < VIRTIO_WINDOW; off += 4)
		hx_w(b, off, 0xffffffff);
	w16(b + VIRTIO_WINDOW - 1, 0xffff);
	ok = same(b, before, "config space writes") && ok;

	uint32_t leaks = 0, disagree = 0;
	for (uint32_t off = VM_CONFIG + CONFIG_USED; off < VIRTIO_WINDOW; off += 4)
		leaks += hx_r(b, off) != 0;
	for (uint32_t off = 0; off < CONFIG_USED; off += 4) {
		uint32_t word = hx_r(b, VM_CONFIG + off);
		uint32_t bytes = r8(b + VM_CONFIG + off) | (uint32_t)r8(b + VM_CONFIG + off + 1) << 8 |
				 (uint32_t)r16(b + VM_CONFIG + off + 2) << 16;
		disagree += word != bytes;
	}
	hx_note("words past the config space that read non-zero", leaks);
	hx_note("config words whose 1- and 2-byte reads disagree", disagree);
	hx_note("capacity (sectors)", r64(b + VM_CONFIG));
	ok = ok && leaks == 0 && disagree == 0 && r64(b + VM_CONFIG) == before[7];
	ok = hx_blk_reads(b, &q) && ok;
	hx_verdict(ok && hx_blk_recovers(zero_page), "odd-width, unaligned and read-only register accesses change nothing");
}
