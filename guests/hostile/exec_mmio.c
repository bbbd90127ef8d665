/* exec_mmio: the guest jumps into guest-physical space with no RAM behind it (0xe0000000, in
 * the MMIO gap, mapped executable by the guest's own page tables). The fetch is a nested page
 * fault on an address that is no memslot: KVM would have to emulate an instruction it cannot
 * even read, gives up and returns KVM_EXIT_INTERNAL_ERROR (KVM_INTERNAL_ERROR_EMULATION) to
 * moat, which ends the VM and says why (src/vmm/vcpu.cpp on_exit, vm_exit.cpp exit_report).
 * Source: Linux Documentation/virt/kvm/api.rst (KVM_EXIT_INTERNAL_ERROR); the class of VMMs
 * that loop, crash or take the whole host process down on an exit they did not plan for.
 * Expected: this VM ends with "KVM could not run the guest", moat and the sentinel run on. */
#include "hostile.h"

void guest_main(uint64_t zero_page)
{
	(void)zero_page;
	rt_print("moat hostile suite: exec_mmio\n");
	rt_print("jumping to 0xe0000000, where no RAM is: the VM must end here\n");
	void (*nowhere)(void) = (void (*)(void))0xe0000000ull;
	nowhere();
	rt_fail("still running after executing unassigned MMIO");
	rt_poweroff();
}
