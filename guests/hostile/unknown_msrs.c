/* unknown_msrs: rdmsr/wrmsr of unknown, reserved and sensitive MSRs: made-up indices, the
 * Hyper-V and KVM paravirtual ranges, AMD's performance counters, EFER with reserved bits or
 * LME cleared under paging, SPEC_CTRL's reserved bits, non-canonical bases, a bad PAT, x2APIC
 * registers in xAPIC mode, the APIC base moved, switched to x2APIC and back the wrong way, the
 * TSC rewritten. KVM serves MSRs in the kernel (moat asks for no MSR exits to user space: a
 * KVM_EXIT_X86_RDMSR would end the VM, src/vmm/vcpu.cpp): each access works or raises #GP.
 * Sources: Intel SDM Vol. 4 (MSRs) and Vol. 3A §10.12.5 (x2APIC state transitions); AMD APM
 * Vol. 2 (EFER); the class of CVE-2012-1601 and CVE-2021-29657 (KVM MSR and nested-state
 * handling). Expected: every access that must fault raises #GP (counted); EFER and the APIC
 * base end as they began; the TSC goes back when written; serial and virtio still work. */
#include "platform.h"

#define MSR_EFER 0xc0000080u
#define MSR_APIC_BASE 0x1bu
#define EFER_LME (1ull << 8)
#define APIC_EXTD (1ull << 10)
#define APIC_EN (1ull << 11)
#define MUST_FAULT 1
#define MAY_FAULT 0

static uint64_t probes, faults, missed;

/* One access; whether it raised #GP. `must` faults that did not are counted in `missed`. */
static bool try_msr(uint32_t msr, bool write, uint64_t value, int must)
{
	uint64_t before = rt_caught();
	rt_catch(13, 2); /* rdmsr and wrmsr are two bytes */
	if (write)
		wrmsr(msr, value);
	else
		(void)rdmsr(msr);
	bool gp = rt_caught() != before;
	probes++;
	faults += gp;
	if (must && !gp) {
		missed++;
		rt_print(write ? "no #GP on wrmsr " : "no #GP on rdmsr ");
		rt_print_hex(msr);
		rt_putc('\n');
	}
	return gp;
}

void guest_main(uint64_t zero_page)
{
	rt_print("moat hostile suite: unknown_msrs\n");
	const uint64_t efer = rdmsr(MSR_EFER), apic = rdmsr(MSR_APIC_BASE);
	static const uint32_t unknown[] = { 0xdeadbeef, 0xffffffff, 0x00001234, 0x0badc0de, 0x80000000, 0xc0020000 };
	for (unsigned i = 0; i < sizeof(unknown) / 4; i++) {
		try_msr(unknown[i], false, 0, MUST_FAULT);
		try_msr(unknown[i], true, 0x1122334455667788ull, MUST_FAULT);
	}
	static const uint32_t maybe[] = { 0x40000000, 0x40000001, 0x40000010, 0x400000ff, 0x4b564d00, 0x4b564d02,
					  0x4b564d03, 0x4b564d04, 0x4b564dff, 0xc0010000, 0xc0010003, 0xc0010004,
					  0xc0010007, 0xc0010200, 0xc0010015, 0xc0011020, 0x00000048, 0x00000049,
					  0x0000003a, 0x0000008b, 0x00000079, 0x000001d9, 0x000006e0, 0x00000277 };
	for (unsigned i = 0; i < sizeof(maybe) / 4; i++)
		try_msr(maybe[i], false, 0, MAY_FAULT);
	try_msr(0x40000000, true, 0x8000000000000000ull, MAY_FAULT); /* Hyper-V guest OS id */
	try_msr(0x4b564d01, true, 0xfec01001ull, MAY_FAULT);         /* kvmclock into MMIO */
	try_msr(0x4b564d01, true, 0, MAY_FAULT);
	try_msr(0x4b564d02, true, 0xffffffffffffffffull, MAY_FAULT); /* async PF, every bit */
	for (uint32_t m = 0xc0010000; m < 0xc0010008; m++)
		try_msr(m, true, m < 0xc0010004 ? 0 : 0x123456, MAY_FAULT);
	try_msr(0x79, true, 0xdead0000, MAY_FAULT);       /* microcode update trigger */
	try_msr(0x6e0, true, 0, MAY_FAULT);               /* TSC deadline, disarmed */
	try_msr(0xc0010015, true, 0xffffffffull, MAY_FAULT); /* HWCR */

	try_msr(MSR_EFER, true, efer | 1ull << 63, MUST_FAULT);       /* reserved bit */
	try_msr(MSR_EFER, true, efer & ~EFER_LME, MUST_FAULT);        /* LME off under paging */
	try_msr(MSR_EFER, true, efer, MAY_FAULT);                     /* itself: fine */
	try_msr(0x48, true, 1ull << 63, MUST_FAULT);                  /* SPEC_CTRL reserved */
	/* Non-canonical FS base and LSTAR: #GP on hardware, but SVM passes these MSRs through to the
	 * CPU, and the lab's emulated one (QEMU TCG) takes them. Not KVM's or moat's to check. */
	try_msr(0xc0000100, true, 0x8000000000000000ull, MAY_FAULT);
	try_msr(0xc0000082, true, 0x0000800000000000ull, MAY_FAULT);
	wrmsr(0xc0000100, 0);
	wrmsr(0xc0000082, 0);
	try_msr(0x277, true, 0x0007040600070402ull, MUST_FAULT);      /* PAT: type 2 is reserved */
	try_msr(0x1d9, true, 1ull << 63, MAY_FAULT); /* DEBUGCTL reserved (ignored without LBR virtualization) */
	try_msr(0x802, false, 0, MUST_FAULT);                         /* x2APIC id in xAPIC mode */
	try_msr(0x808, true, 0, MUST_FAULT);                          /* x2APIC TPR in xAPIC mode */
	try_msr(MSR_APIC_BASE, true, apic | 1ull << 63, MUST_FAULT);  /* reserved */

	/* The APIC base: moved, into x2APIC, back to xAPIC directly (invalid), off, on again. */
	try_msr(MSR_APIC_BASE, true, (apic & 0xfff) | 0xfe000000ull, MAY_FAULT);
	hx_note("APIC base after a move", rdmsr(MSR_APIC_BASE));
	hx_note("LAPIC version at the old base", mmio_read32(LAPIC_BASE + 0x30));
	try_msr(MSR_APIC_BASE, true, apic, MAY_FAULT);
	try_msr(MSR_APIC_BASE, true, apic | APIC_EXTD, MAY_FAULT);
	try_msr(MSR_APIC_BASE, true, apic, MUST_FAULT); /* x2APIC -> xAPIC directly (SDM §10.12.5) */
	try_msr(MSR_APIC_BASE, true, apic & ~(APIC_EN | APIC_EXTD), MAY_FAULT);
	try_msr(MSR_APIC_BASE, true, apic, MAY_FAULT);

	uint64_t tsc = rdtsc();
	try_msr(0x10, true, 0x1000, MAY_FAULT);
	uint64_t tsc_after = rdtsc();

	hx_note("MSR accesses", probes);
	hx_note("raised #GP", faults);
	bool ok = rt_check(missed == 0, "every access that must fault raised #GP");
	ok = rt_check(rdmsr(MSR_EFER) == efer, "EFER is unchanged") && ok;
	ok = rt_check(rdmsr(MSR_APIC_BASE) == apic && (mmio_read32(LAPIC_BASE + 0x30) & 0xff) != 0xff,
		      "the APIC base is back, its registers answer") && ok;
	ok = rt_check(tsc_after < tsc, "the TSC went back when written") && ok;
	ok = pf_serial_ok() && ok;
	ok = pf_virtio_ok(zero_page) && ok;
	hx_verdict(ok, "unknown and sensitive MSRs work or raise #GP; the VM runs on");
}
