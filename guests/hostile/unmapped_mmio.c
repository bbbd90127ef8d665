/* unmapped_mmio: reads and writes of every width (1, 2, 4, 8 bytes, aligned, unaligned and
 * across a page) and `rep movs` across guest-physical space that no device and no RAM covers:
 * just past the 16 virtio-mmio windows (0xd0010000), a free window among them, 0xd0100000,
 * 0xe0000000, the HPET's page (0xfed00000, not emulated), past the IOAPIC's registers
 * (0xfec00100, 0xfec01000), past the end of RAM and just below the MMIO gap. KVM hands each
 * access to moat as an MMIO exit; moat reads unassigned space as all ones and drops writes
 * (src/vmm/vcpu.cpp on_mmio, src/devices/bus.cpp). Sources: virtio 1.2 §4.2.2 (the window
 * layout), the PC's "open bus" convention (all ones), the class of CVE-2020-13754 (QEMU's
 * unchecked MMIO access sizes). Expected: every read all ones, before and after writes; a
 * copy out of MMIO fills RAM with all ones; the VM runs on. */
#include "platform.h"

static uint64_t wrong;

static void check(uint64_t got, uint64_t ones, uint64_t addr, int width)
{
	if (got == ones)
		return;
	wrong++;
	rt_print("width ");
	rt_print_dec((uint64_t)width);
	rt_print(" at ");
	rt_print_hex(addr);
	rt_print(" read ");
	rt_print_hex(got);
	rt_putc('\n');
}

static void probe(uint64_t a)
{
	check(*(volatile uint8_t *)a, 0xff, a, 1);
	check(*(volatile uint16_t *)a, 0xffff, a, 2);
	check(*(volatile uint32_t *)a, 0xffffffff, a, 4);
	check(*(volatile uint64_t *)a, ~0ull, a, 8);
	*(volatile uint8_t *)a = 0x12;
	*(volatile uint16_t *)(a + 2) = 0x3456;
	*(volatile uint32_t *)(a + 4) = 0x789abcde;
	*(volatile uint64_t *)(a + 8) = 0x0123456789abcdefull;
	check(*(volatile uint64_t *)a, ~0ull, a, 8);
	check(*(volatile uint64_t *)(a + 8), ~0ull, a + 8, 8);
	check(*(volatile uint32_t *)(a + 1), 0xffffffff, a + 1, 4); /* unaligned */
	check(*(volatile uint16_t *)(a + 0xfff), 0xffff, a + 0xfff, 2); /* across a page */
	check(*(volatile uint64_t *)(a + 0xffc), ~0ull, a + 0xffc, 8);
	*(volatile uint64_t *)(a + 0xffd) = ~0ull;
}

static uint64_t buffer[512];

/* rep movsq of a page into MMIO and back out of it. */
static void copies(uint64_t a)
{
	uint64_t n = 512;
	const void *from = buffer;
	void *to = (void *)(uintptr_t)a;
	memset(buffer, 0x5a, sizeof(buffer));
	__asm__ volatile("rep movsq" : "+S"(from), "+D"(to), "+c"(n) : : "memory");
	memset(buffer, 0, sizeof(buffer));
	n = 512, from = (const void *)(uintptr_t)a, to = buffer;
	__asm__ volatile("rep movsq" : "+S"(from), "+D"(to), "+c"(n) : : "memory");
	uint64_t bad = pf_count_not((const uint8_t *)buffer, sizeof(buffer), 0xff);
	if (bad) {
		wrong++;
		rt_print("rep movsq out of ");
		rt_print_hex(a);
		rt_print(": bytes not all ones: ");
		rt_print_dec(bad);
		rt_putc('\n');
	}
	n = 4096, from = buffer, to = (void *)(uintptr_t)(a + 1); /* byte by byte, unaligned */
	__asm__ volatile("rep movsb" : "+S"(from), "+D"(to), "+c"(n) : : "memory");
}

void guest_main(uint64_t zero_page)
{
	rt_print("moat hostile suite: unmapped_mmio\n");
	struct hdev devs[16];
	int n = hx_devices(zero_page, devs, 16);
	uint64_t ram_end = hx_ram_end(zero_page);
	hx_note("virtio devices", (uint64_t)n);
	if (n < 2 || n > 14 || ram_end < (16u << 20))
		hx_verdict(false, "the DSDT or the e820 map is not as expected");
	const uint64_t addrs[] = {
		0xd0000000ull + 0x1000ull * (uint64_t)n, /* the first free window of the 16 */
		0xd0010000ull, 0xd0100000ull, 0xe0000000ull, 0xfed00000ull, 0xfec01000ull,
		ram_end, ram_end + 0x200000, 0xbfffe000ull,
	};
	for (unsigned i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
		probe(addrs[i]);
		copies(addrs[i]);
	}
	/* Past the IOAPIC's 256 bytes of registers, in its page: reads only (KVM owns the rest). */
	check(*(volatile uint32_t *)0xfec00100ull, 0xffffffff, 0xfec00100ull, 4);
	check(*(volatile uint64_t *)0xfec00800ull, ~0ull, 0xfec00800ull, 8);
	hx_note("unassigned MMIO reads not all ones", wrong);
	bool ok = rt_check(wrong == 0, "unassigned MMIO reads all ones at every width, writes are dropped");
	ok = pf_serial_ok() && ok;
	ok = pf_virtio_ok(zero_page) && ok;
	hx_verdict(ok, "unassigned MMIO: all ones, writes dropped, the VM runs on");
}
