/* triple_fault: loads an IDT with limit 0 and executes int3. Vector 3 lies beyond the limit,
 * so delivering it raises #GP; #GP lies beyond the limit too, which raises #DF; #DF cannot be
 * delivered either, and the CPU shuts down (Intel SDM Vol. 3A §7.15, interrupt 8). The VMM
 * must end the VM and exit non-zero with a message containing "triple fault". */
#include "runtime.h"

struct __attribute__((packed)) descriptor_pointer {
	uint16_t limit; /* offset 0 */
	uint64_t base;  /* offset 2 */
};

void guest_main(uint64_t zero_page)
{
	(void)zero_page;
	rt_print("moat test guest: triple_fault\n");
	rt_print("loading an empty IDT and executing int3: the VM must end here\n");
	static const struct descriptor_pointer empty_idt = { 0, 0 };
	__asm__ volatile("lidt %0\n\tint3" : : "m"(empty_idt) : "memory");
	rt_fail("still running after the triple fault");
	rt_poweroff();
}
