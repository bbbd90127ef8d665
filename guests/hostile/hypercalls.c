/* hypercalls: KVM hypercalls with bad arguments and unknown numbers: vmmcall (AMD) or vmcall
 * (Intel), and the other vendor's instruction, which KVM emulates and patches in place. KVM
 * serves them in the kernel; moat enables no hypercall exits (a KVM_EXIT_HYPERCALL would end the
 * VM: src/vmm/vcpu.cpp, "unhandled exit reason"). Calls: an unknown number, 64-bit numbers,
 * the removed MMU_OP and FEATURES, KICK_CPU and SCHED_YIELD to APIC id 0xffffffff, SEND_IPI with
 * a full bitmap at the top of the APIC id space, CLOCK_PAIRING to an address past RAM and with
 * a bad clock type, MAP_GPA_RANGE (confidential-VM page conversion) over all of RAM. Sources:
 * Linux Documentation/virt/kvm/x86/hypercalls.rst; the class of the kvm_pv_send_ipi bounds
 * bug fixed in Linux 5.0 and CVE-2018-10853 (hypercalls' privilege checks). Expected: unknown
 * numbers return -KVM_ENOSYS (-1000), MAP_GPA_RANGE is not served, nothing faults or ends the
 * VM, serial and virtio still work. */
#include "platform.h"

#define KVM_ENOSYS 1000

static bool amd;
static uint8_t pairing[64] __attribute__((aligned(64))); /* struct kvm_clock_pairing */

static int64_t hypercall(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3, bool other)
{
	uint64_t r = nr;
	if (amd != other) /* vmmcall */
		__asm__ volatile(".byte 0x0f, 0x01, 0xd9" : "+a"(r) : "b"(a0), "c"(a1), "d"(a2), "S"(a3) : "memory");
	else /* vmcall */
		__asm__ volatile(".byte 0x0f, 0x01, 0xc1" : "+a"(r) : "b"(a0), "c"(a1), "d"(a2), "S"(a3) : "memory");
	return (int64_t)r;
}

void guest_main(uint64_t zero_page)
{
	rt_print("moat hostile suite: hypercalls\n");
	uint32_t r[4];
	pf_cpuid(0, 0, r);
	amd = r[1] == 0x68747541 || r[1] == 0x6f677948; /* "Auth", "Hygo" */
	rt_print(amd ? "AMD: vmmcall\n" : "Intel: vmcall\n");
	bool ok = true;
	static const uint64_t unknown[] = { 0xdeadbeef, 2, 3, 4, 0x7fffffff, 0xffffffff00000001ull, 0x8000000000000000ull };
	for (unsigned i = 0; i < sizeof(unknown) / 8; i++) {
		int64_t ret = hypercall(unknown[i], 1, 2, 3, 4, false);
		if (ret != -KVM_ENOSYS)
			ok = false, hx_note("an unknown hypercall returned (negated)", (uint64_t)-ret);
	}
	rt_check(ok, "unknown hypercalls return -KVM_ENOSYS");
	uint64_t ram_end = hx_ram_end(zero_page);
	hx_note("VAPIC_POLL_IRQ", (uint64_t)hypercall(1, 0, 0, 0, 0, false));
	hx_note("KICK_CPU to 0xffffffff", (uint64_t)hypercall(5, 0, 0xffffffff, 0, 0, false));
	hx_note("CLOCK_PAIRING past RAM", (uint64_t)hypercall(9, ram_end + 0x1000, 0, 0, 0, false));
	hx_note("CLOCK_PAIRING, bad type", (uint64_t)hypercall(9, (uint64_t)(uintptr_t)pairing, 0xffffffff, 0, 0, false));
	hx_note("SEND_IPI at the top", (uint64_t)hypercall(10, ~0ull, ~0ull, 0xffffff80, 0x4040, false));
	hx_note("SEND_IPI, min 2^32-1", (uint64_t)hypercall(10, ~0ull, ~0ull, 0xffffffff, 0x40ff, false));
	hx_note("SCHED_YIELD to 0xffffffff", (uint64_t)hypercall(11, 0xffffffff, 0, 0, 0, false));
	int64_t map = hypercall(12, 0, ram_end >> 12, 0x10, 0, false); /* MAP_GPA_RANGE, encrypted */
	hx_note("MAP_GPA_RANGE over RAM (negated)", (uint64_t)-map);
	ok = rt_check(map < 0, "MAP_GPA_RANGE is not served") && ok;
	uint64_t before = rt_caught();
	rt_catch(6, 3); /* should KVM not emulate the other vendor's instruction: #UD, skipped */
	int64_t patched = hypercall(0xdeadbeef, 0, 0, 0, 0, true);
	bool ud = rt_caught() != before;
	hx_note(ud ? "the other vendor's instruction raised #UD" : "the other vendor's instruction returned (negated)",
		ud ? 1 : (uint64_t)-patched);
	ok = pf_serial_ok() && ok;
	ok = pf_virtio_ok(zero_page) && ok;
	hx_verdict(ok, "hypercalls with bad arguments and unknown numbers are refused by KVM; the VM runs on");
}
