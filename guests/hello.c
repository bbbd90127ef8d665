/* hello: the smallest guest. Checks the boot state the VMM promised, prints PASS: serial, and
 * ends the VM with an ACPI S5 poweroff, or, built with HELLO_RESET, with an i8042 reset. */
#include "runtime.h"

#define EXPECTED_CS 0x10
#define EXPECTED_DS 0x18
#define EXPECTED_ZERO_PAGE 0x7000
#define EXPECTED_RSP 0x8ff0
#define RFLAGS_IF (1ull << 9)
#define MSR_EFER 0xc0000080
#define EFER_LMA (1ull << 10)

static void print_field(const char *name, uint64_t value)
{
	rt_print(name);
	rt_print_hex(value);
}

void guest_main(uint64_t zero_page)
{
	(void)zero_page;
#ifdef HELLO_RESET
	rt_print("moat test guest: hello_reset\n");
#else
	rt_print("moat test guest: hello\n");
#endif
	rt_pass("serial");

	print_field("entry state: cs ", rt_entry.cs);
	print_field(" ds ", rt_entry.ds);
	print_field(" ss ", rt_entry.ss);
	print_field(" rsi ", rt_entry.rsi);
	print_field(" rsp ", rt_entry.rsp);
	print_field(" rflags ", rt_entry.rflags);
	rt_putc('\n');
	rt_check(rt_entry.cs == EXPECTED_CS && rt_entry.ds == EXPECTED_DS &&
			 rt_entry.ss == EXPECTED_DS,
		 "selectors: code 0x10, data 0x18");
	rt_check(rt_entry.rsi == EXPECTED_ZERO_PAGE, "rsi points at the zero page (0x7000)");
	rt_check(rt_entry.rsp == EXPECTED_RSP, "rsp is 0x8ff0");
	rt_check(!(rt_entry.rflags & RFLAGS_IF), "interrupts off at entry");
	rt_check(rdmsr(MSR_EFER) & EFER_LMA, "long mode active");

#ifdef HELLO_RESET
	rt_reset();
#else
	rt_poweroff();
#endif
}
