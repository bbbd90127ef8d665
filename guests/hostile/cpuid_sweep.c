/* cpuid_sweep: CPUID over the basic leaves 0..0x1ff, the hypervisor range 0x40000000..0x40000110,
 * the extended range 0x80000000..0x800001ff, a stride through everything between (and the
 * Transmeta/Centaur/reserved ranges, 0xffffffff), each with subleaves 0..7 and 0xffffffff, as a
 * guest fingerprinting its host would. KVM answers from the table moat set per vCPU
 * (src/boot/x86_64/cpuid.cpp filter_cpuid, from KVM_GET_SUPPORTED_CPUID); a leaf outside it
 * gets KVM's out-of-range answer. Sources: Intel SDM Vol. 2A "CPUID"; AMD APM Vol. 3 App. E;
 * the class of CVE-2019-7222-style information leaks through emulated instructions, and
 * KVM's CPUID signature leaf (Documentation/virt/kvm/x86/cpuid.rst). Expected: no fault, no
 * exit to moat; the hypervisor leaf says "KVMKVMKVM"; leaf 1 has the hypervisor bit and the
 * APIC id moat set; leaf 0xb (when present) the topology moat wrote (one vCPU). */
#include "platform.h"

static uint64_t calls, mix; /* a checksum, so that no call is optimised away */

static void leaf(uint32_t l)
{
	static const uint32_t subs[] = { 0, 1, 2, 3, 4, 5, 6, 7, 0xffffffff };
	for (unsigned s = 0; s < sizeof(subs) / 4; s++) {
		uint32_t r[4];
		pf_cpuid(l, subs[s], r);
		mix = mix * 31 + r[0] + r[1] + r[2] + r[3];
		calls++;
	}
}

void guest_main(uint64_t zero_page)
{
	rt_print("moat hostile suite: cpuid_sweep\n");
	for (uint32_t l = 0; l < 0x200; l++)
		leaf(l);
	for (uint32_t l = 0x40000000; l < 0x40000110; l++)
		leaf(l);
	for (uint32_t l = 0x80000000; l < 0x80000200; l++)
		leaf(l);
	for (uint64_t l = 0x200; l < 0x100000000ull; l += 0x03fff1) /* an odd stride */
		leaf((uint32_t)l);
	static const uint32_t odd[] = { 0x20000000, 0x8fffffff, 0xc0000000, 0xc0000001, 0xc0000004, 0x7fffffff,
					0xffffffff, 0x4fffffff, 0x8ffffffe };
	for (unsigned i = 0; i < sizeof(odd) / 4; i++)
		leaf(odd[i]);
	hx_note("CPUID executions", calls);
	hx_note("checksum of the answers", mix & 0xffffffff);

	uint32_t r[4];
	pf_cpuid(0x40000000, 0, r);
	char sig[13];
	memcpy(sig, &r[1], 4);
	memcpy(sig + 4, &r[2], 4);
	memcpy(sig + 8, &r[3], 4);
	sig[12] = 0;
	rt_print("hypervisor signature: ");
	rt_print(sig);
	rt_putc('\n');
	bool ok = rt_check(memcmp(sig, "KVMKVMKVM\0\0\0", 12) == 0 && r[0] >= 0x40000001,
			   "the hypervisor leaf says KVM's signature");
	pf_cpuid(1, 0, r);
	ok = rt_check((r[2] & (1u << 31)) && (r[1] >> 24) == 0 && ((r[1] >> 16) & 0xff) == 1 &&
			      ((r[1] >> 8) & 0xff) == 8,
		      "leaf 1: hypervisor bit, APIC id 0, one logical CPU, 64-byte CLFLUSH line") && ok;
	pf_cpuid(0, 0, r);
	if (r[0] >= 0xb) {
		uint32_t a[4], b[4], c[4];
		pf_cpuid(0xb, 0, a);
		pf_cpuid(0xb, 1, b);
		pf_cpuid(0xb, 2, c);
		ok = rt_check(a[1] == 1 && ((a[2] >> 8) & 0xff) == 1 && b[1] == 1 && ((b[2] >> 8) & 0xff) == 2 &&
				      ((c[2] >> 8) & 0xff) == 0 && a[3] == 0,
			      "leaf 0xb: one thread, one core, then the end; x2APIC id 0") && ok;
	}
	ok = pf_serial_ok() && ok;
	ok = pf_virtio_ok(zero_page) && ok;
	hx_verdict(ok, "a CPUID sweep faults nothing and sees the table moat set");
}
