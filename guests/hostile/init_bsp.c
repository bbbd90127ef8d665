/* init_bsp: the boot vCPU sends itself an INIT IPI. KVM resets it and, being the boot CPU, it
 * runs again at once from the reset vector (CS base 0xffff0000, IP 0xfff0), where a PC has its
 * firmware; a moat VM has none there (no RAM, no device), so the first fetch is one KVM
 * cannot serve: KVM_EXIT_INTERNAL_ERROR, and moat ends the VM and says why (src/vmm/vcpu.cpp
 * on_exit). Source: Intel SDM Vol. 3A §10.6.1 (INIT delivery) and §9.1.4 (the first
 * instruction after reset at 0xfffffff0); the class of VMMs that hang or crash on a guest's
 * self-reset that bypasses their reset device. Expected: the VM ends with "KVM could not run
 * the guest" (not silently as a reset, which only the i8042 and ACPI S5 paths give), moat and
 * the sentinel run on. */
#include "hostile.h"

void guest_main(uint64_t zero_page)
{
	(void)zero_page;
	rt_print("moat hostile suite: init_bsp\n");
	uint32_t id = mmio_read32(LAPIC_BASE + 0x20) >> 24;
	mmio_write32(LAPIC_BASE + 0xf0, mmio_read32(LAPIC_BASE + 0xf0) | 0x1ff); /* SVR: APIC on */
	rt_print("sending INIT to itself: the VM must end here\n");
	mmio_write32(LAPIC_BASE + 0x310, id << 24);
	mmio_write32(LAPIC_BASE + 0x300, 0x4500); /* INIT, level assert, physical */
	rt_spin(10000000);
	rt_fail("still running after an INIT IPI to itself");
	rt_poweroff();
}
