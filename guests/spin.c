/* spin: prints a line, then keeps its vCPU busy forever, so the VMM must stop it from outside
 * (SIGINT/SIGTERM tests). */
#include "runtime.h"

void guest_main(uint64_t zero_page)
{
	(void)zero_page;
	rt_print("moat test guest: spin\nspinning\n");
	for (;;)
		cpu_relax();
}
