/* serial_abuse: the 16550 driven as no driver would: a divisor latch of 0 (CVE-2016-8669: QEMU's
 * serial_update_parameters divided by it), every LCR, FCR, MCR and IER value, every register
 * read with the divisor latch on and off, 16/32-bit accesses, the receive FIFO overrun in
 * loopback, the loopback's modem lines, and IER's THRE bit toggled 20000 times, each toggle a
 * rising interrupt edge (an irqfd write) nobody takes (interrupts stay off). Source: the
 * PC16550D datasheet; CVE-2016-8669 and the class of FIFO and interrupt-state bugs in emulated
 * UARTs. moat's 16550 (src/devices/serial.cpp) keeps the divisor without dividing, caps its
 * FIFO at 256 bytes, pulses its line on each rising edge. Expected: the divisor reads back 0,
 * the loopback maps DTR/RTS/OUT1/OUT2 to DSR/CTS/RI/DCD, the FIFO stops at its cap, IIR reports
 * and clears THRE, and the port prints again once set back to 8N1. */
#include "platform.h"

#define REG(r) ((uint16_t)(COM1_PORT + (r)))

void guest_main(uint64_t zero_page)
{
	(void)zero_page;
	rt_print("moat hostile suite: serial_abuse\n");
	/* From here until the port is set back, nothing is printed: it would not reach the console. */
	outb(REG(3), 0x80); /* DLAB */
	outb(REG(0), 0), outb(REG(1), 0);
	uint8_t dll = inb(REG(0)), dlm = inb(REG(1));
	outb(REG(0), 0x41); /* data with DLAB on: the divisor, not a byte sent */
	outb(REG(0), 0);
	for (uint32_t v = 0; v < 256; v++) { /* every LCR (DLAB too), FCR and MCR value, reading all */
		outb(REG(3), (uint8_t)v), outb(REG(2), (uint8_t)v), outb(REG(4), (uint8_t)(v & 0xef));
		for (uint16_t r = 0; r < 8; r++)
			(void)inb(REG(r));
		outw(REG(v & 7), (uint16_t)(v * 0x101)), (void)inl(REG(v & 3));
	}
	outb(REG(3), 0x03), outb(REG(1), 0);
	bool mapping = true;
	for (uint8_t m = 0; m < 16; m++) { /* loopback: DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD */
		outb(REG(4), (uint8_t)(0x10 | m));
		uint8_t want = (uint8_t)((m & 1) << 5 | (m & 2) << 3 | (m & 4) << 4 | (m & 8) << 4);
		mapping = mapping && (inb(REG(6)) & 0xf0) == want;
	}
	outb(REG(4), 0x10), outb(REG(2), 0x02);
	for (int i = 0; i < 1000; i++)
		outb(REG(0), (uint8_t)i);
	uint32_t kept = 0;
	while ((inb(REG(5)) & 1) && kept < 5000)
		(void)inb(REG(0)), kept++;
	outb(REG(4), 0);
	outb(REG(1), 0x02); /* IER THRE on, with THR empty: IIR says THRE, once */
	uint8_t iir1 = inb(REG(2)), iir2 = inb(REG(2));
	for (int i = 0; i < 20000; i++)
		outb(REG(1), 0x02), outb(REG(1), 0x00);
	outb(REG(3), 0x03), outb(REG(4), 0x00), outb(REG(1), 0x00), outb(REG(2), 0x07);

	rt_print("the port is set back to 8N1; what it did meanwhile:\n");
	hx_note("divisor latch low after writing 0", dll);
	hx_note("divisor latch high after writing 0", dlm);
	hx_note("bytes the loopback FIFO kept of 1000", kept);
	hx_note("IIR with THRE enabled", iir1);
	hx_note("IIR read again", iir2);
	bool ok = rt_check(dll == 0 && dlm == 0, "a divisor of 0 is kept, nothing divides by it");
	ok = rt_check(mapping, "loopback maps the modem outputs to the inputs") && ok;
	ok = rt_check(kept >= 16 && kept <= 256, "the receive FIFO stops at its cap") && ok;
	ok = rt_check((iir1 & 0x0f) == 0x02 && (iir2 & 0x0f) == 0x01, "IIR reports THRE once, then nothing") && ok;
	ok = pf_serial_ok() && ok;
	hx_verdict(ok, "16550 register abuse: state kept sane, the console works again");
}
