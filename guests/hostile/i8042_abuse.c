/* i8042_abuse: every i8042 controller command but the reset pulse, in any order, with data
 * bytes where none are expected, the output port written with every value that keeps the CPU out
 * of reset (bit 0 set), the pulse commands 0xf0-0xfd and 0xff (on a PC those with bit 0 clear
 * pulse the reset line too; moat resets on 0xfe only, Linux's reboot=k), 16/32-bit accesses,
 * and the unassigned registers between 0x60 and 0x64. Source: the IBM PS/2 Hardware Technical
 * Reference (8042 commands); the i8042 is the one legacy device moat emulates beyond COM1
 * (src/devices/i8042.cpp), for the reset it carries. Expected: self-test answers 0x55, the
 * command byte and output port read back what was written, 0xd2 echoes, wide reads are all
 * ones, and the VM is neither reset nor stopped. */
#include "platform.h"

static uint8_t command(uint8_t cmd)
{
	outb(0x64, cmd);
	return inb(0x60);
}

void guest_main(uint64_t zero_page)
{
	rt_print("moat hostile suite: i8042_abuse\n");
	for (uint32_t c = 0; c < 0x100; c++) {
		if (c == 0xfe || c == 0xd1 || c == 0x60 || c == 0xd2)
			continue; /* the reset; and the three that take the next data byte, below */
		(void)command((uint8_t)c);
		outb(0x60, 0x00); /* a byte for a keyboard that is not there */
		(void)inb(0x64), (void)inb(0x60);
	}
	uint8_t test = command(0xaa);
	outb(0x64, 0x60), outb(0x60, 0x47);
	uint8_t ctr = command(0x20);
	outb(0x64, 0xd2), outb(0x60, 0x99);
	uint8_t echo = inb(0x60);
	uint8_t outp = 0;
	bool port_ok = true;
	for (uint32_t v = 1; v < 0x100; v += 2) { /* bit 0 set: the CPU stays out of reset */
		outb(0x64, 0xd1), outb(0x60, (uint8_t)v);
		outp = command(0xd0);
		port_ok = port_ok && outp == v;
	}
	for (uint8_t c = 0xf0; c != 0; c++)
		if (c != 0xfe)
			outb(0x64, c); /* pulse commands other than the reset */
	outl(0x64, 0xfe), outw(0x64, 0xfe), outw(0x63, 0xfe00); /* the reset, but wide: ignored */
	outw(0x60, 0xd1d1), outl(0x60, 0);
	uint32_t wide = inl(0x60);
	uint16_t wide16 = inw(0x64);
	uint8_t gap = inb(0x62);

	hx_note("self-test", test);
	hx_note("command byte", ctr);
	hx_note("0xd2 echo", echo);
	hx_note("32-bit read of 0x60", wide);
	bool ok = rt_check(test == 0x55 && ctr == 0x47 && echo == 0x99, "self-test, command byte and 0xd2 echo");
	ok = rt_check(port_ok, "the output port reads back every value written") && ok;
	ok = rt_check(wide == 0xffffffff && wide16 == 0xffff && gap == 0xff, "wide and unassigned reads are all ones") && ok;
	ok = pf_serial_ok() && ok;
	ok = pf_virtio_ok(zero_page) && ok;
	hx_verdict(ok, "i8042 command abuse: no reset but 0xfe, registers consistent");
}
