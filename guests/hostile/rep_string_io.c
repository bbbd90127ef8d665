/* rep_string_io: string port I/O (`rep insb/insw` of 1 MiB, `rep outsb/outsw` of 32 Ki
 * elements) on an unassigned port, the ACPI sleep port and the serial port (in loopback, so that
 * the console is spared), and with the memory operand straddling the end of RAM or lying far
 * past it. KVM splits `ins` into exits of at most a page of data (kvm_run's I/O page) but exits
 * once per element of `outs` (the reason for the smaller count: 1 MiB took over 60 s), and reaches
 * memory that is not RAM as MMIO, which moat reads as all ones and drops writes to
 * (src/vmm/vcpu.cpp on_io, on_mmio). Sources: Intel SDM Vol. 2B "INS/OUTS" and "REP"; the
 * class of CVE-2010-0306/CVE-2010-0298 (KVM's string I/O emulation) and of VMM bugs trusting
 * kvm_run's io.count * io.size. Expected: all-ones reads, writes dropped, no power off (no
 * byte written to 0x600 is S5|SLP_EN at byte width), the loopback FIFO holds exactly its 256
 * bytes, string I/O past RAM sees all ones, the VM runs on. */
#include "platform.h"

#define MIB (1u << 20)
#define UNASSIGNED_PORT 0x300
#define OUTS (32u << 10) /* elements per rep outs: one exit each */

static uint8_t out[MIB], in[MIB];

static void rep_insb(uint16_t port, void *to, uint64_t n)
{
	__asm__ volatile("rep insb" : "+D"(to), "+c"(n) : "d"(port) : "memory");
}
static void rep_outsb(uint16_t port, const void *from, uint64_t n)
{
	__asm__ volatile("rep outsb" : "+S"(from), "+c"(n) : "d"(port) : "memory");
}
static void rep_insw(uint16_t port, void *to, uint64_t n)
{
	__asm__ volatile("rep insw" : "+D"(to), "+c"(n) : "d"(port) : "memory");
}
static void rep_outsw(uint16_t port, const void *from, uint64_t n)
{
	__asm__ volatile("rep outsw" : "+S"(from), "+c"(n) : "d"(port) : "memory");
}

static bool loopback_fifo(void)
{
	for (uint32_t i = 0; i < MIB; i++)
		out[i] = (uint8_t)(i * 7 + 1);
	memset(in, 0xaa, MIB);
	outb(COM1_PORT + 4, 0x10); /* MCR: loopback; nothing reaches the console now */
	outb(COM1_PORT + 2, 0x02); /* FCR: clear the receive FIFO */
	rep_outsb(COM1_PORT, out, OUTS);
	rep_insb(COM1_PORT, in, MIB);
	outb(COM1_PORT + 4, 0x00);
	outb(COM1_PORT + 2, 0x02);
	bool fifo = memcmp(in, out, 256) == 0;
	uint64_t rest = pf_count_not(in + 256, MIB - 256, 0);
	hx_note("bytes past the FIFO's 256 that read non-zero", rest);
	return rt_check(fifo && rest == 0, "32 KiB out and 1 MiB in through the serial loopback: the FIFO keeps 256 bytes, the rest reads 0");
}

/* The last 8 bytes of RAM and 8 beyond, out through the loopback: RAM, then all ones. */
static bool past_ram_read(uint64_t ram_end)
{
	volatile uint8_t *last = (volatile uint8_t *)(uintptr_t)(ram_end - 8);
	for (int i = 0; i < 8; i++)
		last[i] = (uint8_t)(0x41 + i);
	outb(COM1_PORT + 4, 0x10);
	outb(COM1_PORT + 2, 0x02);
	rep_outsb(COM1_PORT, (const void *)(uintptr_t)(ram_end - 8), 16);
	uint8_t got[16];
	for (int i = 0; i < 16; i++)
		got[i] = inb(COM1_PORT);
	outb(COM1_PORT + 4, 0x00);
	bool ok = true;
	for (int i = 0; i < 16; i++)
		ok = ok && got[i] == (i < 8 ? 0x41 + i : 0xff);
	return rt_check(ok, "rep outsb across the end of RAM: RAM's bytes, then all ones");
}

void guest_main(uint64_t zero_page)
{
	rt_print("moat hostile suite: rep_string_io\n");
	uint64_t ram_end = hx_ram_end(zero_page);
	hx_note("end of RAM", ram_end);
	if (ram_end < 16 * MIB)
		hx_verdict(false, "no RAM end in the e820 map");

	memset(in, 0, MIB);
	rep_insb(UNASSIGNED_PORT, in, MIB);
	bool ok = rt_check(pf_count_not(in, MIB, 0xff) == 0, "rep insb of 1 MiB from an unassigned port: all ones");
	memset(in, 0, MIB);
	rep_insw(UNASSIGNED_PORT, in, MIB / 2);
	ok = rt_check(pf_count_not(in, MIB, 0xff) == 0, "rep insw of 1 MiB from an unassigned port: all ones") && ok;
	rep_outsb(UNASSIGNED_PORT, out, OUTS);
	rep_outsw(UNASSIGNED_PORT, out, OUTS);

	memset(in, 0xaa, MIB);
	rep_insb(ACPI_SLEEP_CONTROL_PORT, in, MIB);
	ok = rt_check(pf_count_not(in, MIB, 0) == 0, "rep insb of 1 MiB from the ACPI sleep port: zeros") && ok;
	static const uint8_t harmless[] = { 0x00, 0x14, 0x20, 0x24, 0x3c, 0x1c }; /* never S5|SLP_EN */
	for (uint32_t i = 0; i < MIB; i++)
		out[i] = harmless[i % sizeof(harmless)];
	rep_outsb(ACPI_SLEEP_CONTROL_PORT, out, OUTS);
	for (uint32_t i = 0; i < MIB; i++)
		out[i] = (ACPI_S5_SLEEP_TYPE << 2) | ACPI_SLP_EN;
	rep_outsw(ACPI_SLEEP_CONTROL_PORT, out, OUTS); /* S5 at word width: ignored */
	rt_print("still running after string writes to the ACPI sleep port\n");

	ok = loopback_fifo() && ok;
	ok = past_ram_read(ram_end) && ok;

	uint8_t *edge = (uint8_t *)(uintptr_t)(ram_end - 2048);
	memset(edge, 0, 2048);
	rep_insb(UNASSIGNED_PORT, edge, 4096); /* half in RAM, half beyond */
	ok = rt_check(pf_count_not(edge, 2048, 0xff) == 0, "rep insb across the end of RAM: RAM's half all ones") && ok;
	rep_outsb(UNASSIGNED_PORT, edge, 4096);
	rep_insw(UNASSIGNED_PORT, (void *)0x80000000ull, 2048); /* wholly past RAM, below the gap */
	rep_outsb(UNASSIGNED_PORT, (const void *)0x80000000ull, 4096);
	rt_print("still running after string I/O past the end of RAM\n");

	ok = pf_serial_ok() && ok;
	ok = pf_virtio_ok(zero_page) && ok;
	hx_verdict(ok, "large string I/O and string I/O across the end of RAM are served and bounded");
}
