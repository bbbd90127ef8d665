/* kvm_check: proves a /dev/kvm works. Creates a VM with one vCPU in real mode that writes
 * one byte to port 0x3f8 and halts, and checks the exits KVM reports: KVM_EXIT_IO with the
 * byte, then KVM_EXIT_HLT. Static, so it runs in the test lab as well as on the host. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

static int fail(const char *what)
{
	printf("FAIL: %s: %s\n", what, errno ? strerror(errno) : "unexpected");
	return 1;
}

int main(void)
{
	/* mov $0x3f8,%dx; mov $'K',%al; out %al,(%dx); hlt */
	static const uint8_t code[] = { 0xba, 0xf8, 0x03, 0xb0, 0x4b, 0xee, 0xf4 };
	const size_t mem_size = 0x10000;

	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		return fail("open /dev/kvm");
	if (ioctl(kvm, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
		return fail("KVM_GET_API_VERSION");
	int vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0)
		return fail("KVM_CREATE_VM");

	uint8_t *mem = mmap(NULL, mem_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return fail("mmap guest memory");
	memcpy(mem + 0x1000, code, sizeof(code));
	struct kvm_userspace_memory_region region = {
		.slot = 0, .guest_phys_addr = 0, .memory_size = mem_size, .userspace_addr = (uint64_t)mem,
	};
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		return fail("KVM_SET_USER_MEMORY_REGION");

	int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (vcpu < 0)
		return fail("KVM_CREATE_VCPU");
	int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (run_size < (int)sizeof(struct kvm_run))
		return fail("KVM_GET_VCPU_MMAP_SIZE");
	struct kvm_run *run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED)
		return fail("mmap kvm_run");

	struct kvm_sregs sregs;
	if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0)
		return fail("KVM_GET_SREGS");
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0)
		return fail("KVM_SET_SREGS");
	struct kvm_regs regs = { .rip = 0x1000, .rflags = 0x2 };
	if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0)
		return fail("KVM_SET_REGS");

	if (ioctl(vcpu, KVM_RUN, 0) < 0)
		return fail("KVM_RUN (1)");
	if (run->exit_reason != KVM_EXIT_IO || run->io.direction != KVM_EXIT_IO_OUT ||
	    run->io.port != 0x3f8 || run->io.size != 1 || run->io.count != 1) {
		printf("FAIL: first exit: reason %u, expected KVM_EXIT_IO out to 0x3f8\n", run->exit_reason);
		return 1;
	}
	uint8_t byte = ((uint8_t *)run)[run->io.data_offset];
	if (byte != 'K') {
		printf("FAIL: port write carried 0x%02x, expected 'K'\n", byte);
		return 1;
	}
	if (ioctl(vcpu, KVM_RUN, 0) < 0)
		return fail("KVM_RUN (2)");
	if (run->exit_reason != KVM_EXIT_HLT) {
		printf("FAIL: second exit: reason %u, expected KVM_EXIT_HLT\n", run->exit_reason);
		return 1;
	}
	if (ioctl(vcpu, KVM_GET_REGS, &regs) < 0)
		return fail("KVM_GET_REGS");
	if (regs.rip != 0x1000 + sizeof(code)) {
		printf("FAIL: rip 0x%llx after hlt, expected 0x%zx\n", (unsigned long long)regs.rip, 0x1000 + sizeof(code));
		return 1;
	}
	printf("PASS: KVM_EXIT_IO (out 0x3f8 'K'), KVM_EXIT_HLT at rip 0x%llx\n", (unsigned long long)regs.rip);
	return 0;
}
