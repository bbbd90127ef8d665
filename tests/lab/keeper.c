/* lab-keeper: keeps the lab kernel's KVM static keys from ever flipping back.
 *
 * KVM turns some static keys on when the first VM (or vCPU of a kind) appears and off when the
 * last one goes: preempt notifiers (any VM), "a vCPU without an in-kernel local APIC", "a local
 * APIC disabled in hardware" and "... in software". Each flip rewrites kernel text on a live
 * machine: an int3 over the site, IPIs to the other CPUs, the new bytes, the int3 removed. Under
 * the lab's emulated CPU this has left a CPU re-executing the stale int3 forever (the int3
 * handler finds it already gone, backs up and returns to the same translated code, interrupts
 * off), and the whole lab stalled. The lab's /init starts this program before the command: it
 * holds one VM of each kind, never run, so every count stays above zero and the text of the
 * running kernel is not patched again. It returns once they exist (status 0) and leaves a
 * child holding them. Static, built by tests/lab/lab into the base image.
 */
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <unistd.h>

static int xioctl(int fd, unsigned long req, unsigned long arg, const char *what)
{
	int r = ioctl(fd, req, arg);
	if (r < 0)
		perror(what);
	return r;
}

int main(void)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		perror("lab-keeper: /dev/kvm");
		return 1;
	}
	/* A VM with the in-kernel irqchip: vCPU 0's local APIC stays software-disabled (its guest
	 * never runs to enable it); vCPU 1's is disabled in hardware as well (APIC base MSR 0). */
	int vm = xioctl(kvm, KVM_CREATE_VM, 0, "lab-keeper: KVM_CREATE_VM");
	if (vm < 0 || xioctl(vm, KVM_CREATE_IRQCHIP, 0, "lab-keeper: KVM_CREATE_IRQCHIP") < 0)
		return 1;
	if (xioctl(vm, KVM_CREATE_VCPU, 0, "lab-keeper: KVM_CREATE_VCPU") < 0)
		return 1;
	int off = xioctl(vm, KVM_CREATE_VCPU, 1, "lab-keeper: KVM_CREATE_VCPU");
	struct {
		struct kvm_msrs head;
		struct kvm_msr_entry entry;
	} base = { .head = { .nmsrs = 1 }, .entry = { .index = 0x1b /* IA32_APIC_BASE */, .data = 0 } };
	if (off < 0 || xioctl(off, KVM_SET_MSRS, (unsigned long)&base, "lab-keeper: KVM_SET_MSRS") != 1)
		return 1;
	/* A VM without it: a vCPU with no in-kernel local APIC. */
	int bare = xioctl(kvm, KVM_CREATE_VM, 0, "lab-keeper: KVM_CREATE_VM");
	if (bare < 0 || xioctl(bare, KVM_CREATE_VCPU, 0, "lab-keeper: KVM_CREATE_VCPU") < 0)
		return 1;
	/* Ready: the parent tells /init so, the child holds the VMs until the lab powers off. */
	pid_t child = fork();
	if (child < 0) {
		perror("lab-keeper: fork");
		return 1;
	}
	if (child > 0)
		return 0;
	for (;;)
		pause();
}
