/* console_flood: prints forever, as fast as the UART takes it. The host's disk and terminal
 * must not pay for it without bound: past the VM process's console budget (README, "Console
 * output") the bytes are dropped and counted in the audit log; the VM runs on. */
#include "hostile.h"

void guest_main(uint64_t zero_page)
{
	(void)zero_page;
	rt_print("VERDICT: PASS printing forever from here on\n");
	for (uint64_t n = 0;; n++) {
		rt_print("flood line ");
		rt_print_dec(n);
		rt_print(" ..................................................................\n");
	}
}
