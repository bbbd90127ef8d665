/* legacy_ports: the PC's legacy port space, as a guest kernel probing for hardware (or for a
 * hole in the VMM's emulation) would touch it: the 8259 PICs (ICW sequences and garbage), the
 * 8254 PIT (every channel and mode, odd counts), CMOS/RTC (every index), PCI configuration
 * mechanism #1 (0xcf8/0xcfc, every width), the VMware backdoor (port 0x5658, "VMXh"), the
 * floppy, DMA, game and reset ports (0x92, 0xcf9), port 0xffff, 16/32-bit accesses to byte
 * registers (the i8042's 0xfe reset and the ACPI S5 value among them). Sources: the class of
 * CVE-2015-3456 (VENOM, QEMU's floppy controller) and CVE-2016-9603/-4037 (legacy device
 * models); VMware's backdoor as VM detection (Ferrie, "Attacks on virtual machine emulators").
 * moat emulates none of these but COM1, the i8042 and the ACPI sleep register (KVM the
 * PIC/PIT): unassigned ports read as all ones and drop writes (src/vmm/vcpu.cpp on_io); a wider
 * access to a byte register is ignored. Expected: PIC and PIT answer like the real parts,
 * everything else all ones, no reset or power off, serial and virtio still work. */
#include "platform.h"

static uint64_t wrong; /* reads that were not all ones where they must be */

static void expect_ones(uint32_t v, uint32_t ones, const char *what)
{
	if (v != ones)
		wrong++, hx_note(what, v);
}

static bool pic(void)
{
	static const uint8_t garbage[] = { 0xff, 0x00, 0x13, 0x1f, 0xe7, 0x60, 0x0b, 0x0a, 0x48, 0x68 };
	for (unsigned i = 0; i < sizeof(garbage); i++)
		for (uint16_t p = 0; p < 2; p++) {
			outb((uint16_t)(0x20 + p), garbage[i]);
			outb((uint16_t)(0xa0 + p), garbage[(i + 3) % sizeof(garbage)]);
			(void)inb((uint16_t)(0x20 + p)), (void)inb((uint16_t)(0xa0 + p));
		}
	outb(0x4d0, 0xff); /* ELCR: every line level-triggered */
	outb(0x4d1, 0xff);
	/* ICW1..ICW4 as Linux's init_8259A, then OCW1 masks that must read back. */
	static const uint8_t icw[2][4] = { { 0x11, 0x20, 0x04, 0x01 }, { 0x11, 0x28, 0x02, 0x01 } };
	for (int c = 0; c < 2; c++) {
		uint16_t p = c ? 0xa0 : 0x20;
		for (int i = 0; i < 4; i++)
			outb((uint16_t)(p + (i ? 1 : 0)), icw[c][i]);
	}
	outb(0x21, 0xa5);
	outb(0xa1, 0x5a);
	return rt_check(inb(0x21) == 0xa5 && inb(0xa1) == 0x5a, "the PICs take ICW1-4 after garbage; IMR reads back");
}

static bool pit(void)
{
	static const uint16_t counts[] = { 0, 1, 2, 3, 0xffff, 0x1234 };
	for (uint8_t ch = 0; ch < 3; ch++)
		for (uint8_t mode = 0; mode < 8; mode++)
			for (unsigned c = 0; c < sizeof(counts) / 2; c++) {
				outb(0x43, (uint8_t)(ch << 6 | 0x30 | mode << 1)); /* lobyte/hibyte */
				outb((uint16_t)(0x40 + ch), (uint8_t)counts[c]);
				outb((uint16_t)(0x40 + ch), (uint8_t)(counts[c] >> 8));
				outb(0x43, 0xc0 | (uint8_t)(2 << ch)); /* read-back: count and status */
				(void)inb((uint16_t)(0x40 + ch)), (void)inb((uint16_t)(0x40 + ch));
				outb(0x43, (uint8_t)(ch << 6 | 0x10 | mode << 1)); /* lobyte only */
				outb((uint16_t)(0x40 + ch), (uint8_t)c);
			}
	outb(0x61, 0x03); /* channel 2 gate on, as Linux's PIT calibration */
	outb(0x43, 0x34); /* channel 0, mode 2, count 0xffff: the counter must move */
	outb(0x40, 0xff);
	outb(0x40, 0xff);
	uint16_t t[2];
	for (int i = 0; i < 2; i++, rt_spin(200000)) {
		outb(0x43, 0x00); /* latch channel 0 */
		t[i] = inb(0x40);
		t[i] = (uint16_t)(t[i] | inb(0x40) << 8);
	}
	outb(0x43, 0x30), outb(0x40, 0xff), outb(0x40, 0xff); /* channel 0 back to mode 0, one shot */
	hx_note("PIT channel 0 latched", t[0]);
	hx_note("PIT channel 0 later", t[1]);
	return rt_check(t[0] != t[1], "the PIT counts after every channel and mode was programmed");
}

static void unassigned(void)
{
	for (uint16_t i = 0; i < 0x100; i++) { /* CMOS/RTC: every index, NMI bit both ways */
		outb(0x70, (uint8_t)i);
		expect_ones(inb(0x71), 0xff, "CMOS data");
		outb(0x71, (uint8_t)i);
		expect_ones(inb(0x71), 0xff, "CMOS data after a write");
	}
	for (uint32_t bdf = 0; bdf < 0x10000; bdf += 0x39) { /* PCI mechanism #1 */
		outl(0xcf8, 0x80000000u | bdf << 8 | (bdf & 0xfc));
		expect_ones(inl(0xcfc), 0xffffffff, "PCI config dword");
		for (uint16_t o = 0; o < 4; o++) {
			expect_ones(inb((uint16_t)(0xcfc + o)), 0xff, "PCI config byte");
			if (o < 3)
				expect_ones(inw((uint16_t)(0xcfc + o)), 0xffff, "PCI config word");
		}
		outl(0xcfc, 0xdeadbeef);
	}
	expect_ones(inl(0xcf8), 0xffffffff, "PCI address register");
	static const uint16_t ports[] = { 0x00, 0x08, 0x0f, 0x81, 0x87, 0x8f, 0xc0, 0xd4, 0xde, 0x201, 0x3f0, 0x3f2, 0x3f4,
					  0x3f5, 0x3f7, 0x278, 0x378, 0x1f0, 0x1f7, 0x170, 0x510, 0x511, 0x402, 0xb000, 0xffff };
	for (unsigned i = 0; i < sizeof(ports) / 2; i++) {
		uint16_t p = ports[i];
		for (int v = 0; v < 256; v += 37)
			outb(p, (uint8_t)v);
		outw(p, 0xffff);
		outl(p, 0xdeadbeef);
		expect_ones(inb(p), 0xff, "legacy port byte");
		expect_ones(inw(p), 0xffff, "legacy port word");
		expect_ones(inl(p), 0xffffffff, "legacy port dword");
	}
	outb(0x92, 0x01);   /* PS/2 system control: fast reset on a PC */
	outb(0xcf9, 0x0e);  /* PCI reset control: hard reset on a PC */
	outl(0x64, 0xfe);   /* the i8042's reset pulse, but 32 bits wide: ignored */
	outw(0x63, 0xfe00); /* ... and 16 bits straddling 0x63/0x64 */
	outw(0x600, (ACPI_S5_SLEEP_TYPE << 2) | ACPI_SLP_EN); /* S5 at the wrong width */
	outl(0x5fe, ((ACPI_S5_SLEEP_TYPE << 2) | ACPI_SLP_EN) << 16);
	expect_ones(inl(0x3f9), 0xffffffff, "COM1 dword at an odd port");
	outl(0x3f9, 0xffffffff); /* IER, IIR/FCR, LCR at once: ignored */
	outl(0x3fb, 0x80808080); /* DLAB across LCR: ignored */
	expect_ones(inl(0x3fe), 0xffffffff, "dword across COM1's end");
}

static uint8_t bulk[0x10000];

/* VMware's backdoor: `in` from 0x5658 with eax = "VMXh"; VMware answers with ebx = "VMXh". */
static bool vmware(void)
{
	static const uint32_t commands[] = { 10, 0, 1, 4, 5, 6, 11, 12, 13, 0x14, 0x1e, 0x22, 0x27, 0x2d, 0xffff };
	bool answered = false;
	for (unsigned i = 0; i < sizeof(commands) / 4; i++) {
		uint32_t a = 0x564d5868, b = ~0x564d5868u, c = commands[i], d = 0x5658;
		__asm__ volatile("inl %%dx, %%eax" : "+a"(a), "+b"(b), "+c"(c), "+d"(d));
		if (b == 0x564d5868 || a != 0xffffffff)
			answered = true, hx_note("VMware backdoor answered command", commands[i]);
		void *to = bulk; /* the high-bandwidth port */
		c = commands[i];
		__asm__ volatile("rep insb" : "+c"(c), "+D"(to) : "d"(0x5659), "a"(0x564d5868) : "memory");
	}
	return rt_check(!answered, "the VMware backdoor is not there (all ones)");
}

void guest_main(uint64_t zero_page)
{
	rt_print("moat hostile suite: legacy_ports\n");
	bool ok = pic();
	ok = pit() && ok;
	ok = vmware() && ok;
	unassigned();
	hx_note("unassigned port reads not all ones", wrong);
	ok = rt_check(wrong == 0, "unassigned ports read all ones") && ok;
	ok = pf_serial_ok() && ok;
	ok = pf_virtio_ok(zero_page) && ok;
	hx_verdict(ok, "legacy ports: PIC and PIT work, the rest reads all ones, no reset, no power off");
}
