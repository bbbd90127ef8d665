/* bench_exits: the exit round-trip benchmark. Three phases of 200,000 exits each -- port
 * writes and port reads to an unassigned port, MMIO reads of an unassigned address -- each
 * between two "bench:" lines that the timing harness stamps. bench/rawkvm.c runs the same
 * loops under a bare KVM_RUN loop. */
#include "runtime.h"

#ifndef EXITS
#define EXITS 200000u  /* the lab builds bench_exits_20k with 20,000: nested TCG exits are slow */
#endif
#define BENCH_PORT 0x510            /* nothing there (layout.hpp) */
#define BENCH_MMIO 0xd0100000ull    /* past the virtio-mmio windows: unassigned */

void guest_main(uint64_t zero_page)
{
	(void)zero_page;
	rt_print("bench: pio-out start\n");
	for (uint32_t i = 0; i < EXITS; i++)
		outb(BENCH_PORT, (uint8_t)i);
	rt_print("bench: pio-out end\n");
	rt_print("bench: pio-in start\n");
	for (uint32_t i = 0; i < EXITS; i++)
		(void)inb(BENCH_PORT);
	rt_print("bench: pio-in end\n");
	rt_print("bench: mmio-read start\n");
	for (uint32_t i = 0; i < EXITS; i++)
		(void)mmio_read32(BENCH_MMIO);
	rt_print("bench: mmio-read end\n");
	rt_poweroff();
}
