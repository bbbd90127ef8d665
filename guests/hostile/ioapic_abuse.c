/* ioapic_abuse: the IOAPIC's indirect registers at every index: IOREGSEL 0..0xff read through
 * IOWIN (the redirection table ends at 0x3f), garbage written to the ID register, to every
 * redirection entry (every delivery mode, vector 0, level and remote IRR bits) while masked,
 * to the read-only version and arbitration registers and past the table, the EOI register
 * (offset 0x40) with every vector, and 8-byte and unaligned accesses. KVM emulates the IOAPIC
 * in the kernel (moat creates it: src/vmm/builder.cpp platform); moat's own interrupts (the
 * serial port's GSI 4, the virtio devices' GSI 5 on) pass through it. Source: Intel 82093AA
 * IOAPIC datasheet §3.2; CVE-2013-1798 (KVM: ioapic_read_indirect read past the redirection
 * table with a guest-chosen IOREGSEL). Expected: indices past the table read all ones, the
 * version register says 24 entries, a masked entry reads back what was written (its writable
 * bits), and, with every entry masked again, serial and virtio still work. */
#include "platform.h"

#define IOAPIC 0xfec00000ull
#define IOREGSEL 0x00
#define IOWIN 0x10
#define IOAPIC_EOI 0x40

static uint32_t io_read(uint32_t index)
{
	mmio_write32(IOAPIC + IOREGSEL, index);
	return mmio_read32(IOAPIC + IOWIN);
}

static void io_write(uint32_t index, uint32_t v)
{
	mmio_write32(IOAPIC + IOREGSEL, index);
	mmio_write32(IOAPIC + IOWIN, v);
}

void guest_main(uint64_t zero_page)
{
	rt_print("moat hostile suite: ioapic_abuse\n");
	uint32_t version = io_read(1), id = io_read(0), past = 0;
	for (uint32_t i = 0; i < 0x100; i++) {
		uint32_t v = io_read(i);
		if (i >= 0x40 && v != 0xffffffff)
			past++;
	}
	for (uint32_t i = 0x100; i < 0x10000; i += 0x1111) /* IOREGSEL holds 8 bits */
		(void)io_read(i);
	io_write(0, 0xffffffff), io_write(1, 0xffffffff), io_write(2, 0xffffffff);
	for (uint32_t i = 0x40; i < 0x100; i++)
		io_write(i, 0xdeadbeef);
	for (uint32_t mode = 0; mode < 8; mode++) /* every delivery mode, masked, vector 0 */
		for (uint32_t pin = 0; pin < 24; pin++) {
			io_write(0x10 + 2 * pin + 1, 0xff000000);
			io_write(0x10 + 2 * pin, 1u << 16 | 1u << 15 | 1u << 14 | mode << 8);
		}
	for (uint32_t v = 0; v < 0x100; v++)
		mmio_write32(IOAPIC + IOAPIC_EOI, v);
	*(volatile uint64_t *)(IOAPIC + IOWIN) = ~0ull; /* 8 bytes */
	(void)*(volatile uint64_t *)(IOAPIC + IOREGSEL);
	(void)*(volatile uint32_t *)(IOAPIC + 0x12); /* unaligned */
	io_write(0x10 + 2 * 7, 1u << 16 | 0x37);   /* pin 7: masked, fixed, vector 0x37 */
	io_write(0x10 + 2 * 7 + 1, 0x01000000);
	uint32_t lo = io_read(0x10 + 2 * 7), hi = io_read(0x10 + 2 * 7 + 1);
	for (uint32_t pin = 0; pin < 24; pin++) /* every entry masked, as after reset */
		io_write(0x10 + 2 * pin, 1u << 16), io_write(0x10 + 2 * pin + 1, 0);
	io_write(0, id);
	hx_note("IOAPIC version register", version);
	hx_note("indices past the table not all ones", past);
	hx_note("pin 7 low after writing 0x10037", lo);
	bool ok = rt_check(((version >> 16) & 0xff) == 23, "the version register says 24 entries");
	ok = rt_check(past == 0, "indices past the redirection table read all ones") && ok;
	ok = rt_check((lo & 0x100ff) == 0x10037 && hi >> 24 == 1, "a masked entry reads back what was written") && ok;
	ok = pf_serial_ok() && ok;
	ok = pf_virtio_ok(zero_page) && ok;
	hx_verdict(ok, "IOAPIC register abuse: bounded indices, consistent entries, the VM runs on");
}
