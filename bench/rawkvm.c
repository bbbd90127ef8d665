/* rawkvm: the physical limit for exit round trips on this host. The smallest VMM that runs a
 * freestanding ELF guest (guests/bench_exits.elf) as moat does -- PT_LOAD segments in place,
 * long mode, 64 MiB of RAM -- with a bare KVM_RUN loop: COM1 writes go to stdout, reads return
 * all ones, a write to port 0x600 ends it. Timed by bench/timeit like moat. */
#include <elf.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	static uint8_t file[1 << 20];
	int fd = argc > 1 ? open(argv[1], O_RDONLY) : -1, kvm = open("/dev/kvm", O_RDWR), vm = ioctl(kvm, KVM_CREATE_VM, 0);
	ssize_t n = fd >= 0 ? read(fd, file, sizeof file) : -1;
	uint8_t *mem = mmap(NULL, 64 << 20, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	struct kvm_userspace_memory_region region = { .memory_size = 64 << 20, .userspace_addr = (uint64_t)mem };
	if (n < (ssize_t)sizeof(Elf64_Ehdr) || vm < 0 || ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0) { fprintf(stderr, "usage: rawkvm GUEST.elf (needs /dev/kvm)\n"); return 2; }
	Elf64_Ehdr *eh = (Elf64_Ehdr *)file;
	for (int i = 0; i < eh->e_phnum; i++) {
		Elf64_Phdr *ph = (Elf64_Phdr *)(file + eh->e_phoff + (uint64_t)i * eh->e_phentsize);
		if (ph->p_type == PT_LOAD) memcpy(mem + ph->p_paddr, file + ph->p_offset, ph->p_filesz);
	}
	uint64_t *pt = (uint64_t *)(mem + 0x9000), gdt[4] = { 0, 0, 0x00af9b000000ffff, 0x00cf93000000ffff };
	pt[0] = 0xa003; pt[512] = 0xb003;  /* PML4 -> PDPT -> PD: 1 GiB identity-mapped, 2 MiB pages */
	for (uint64_t i = 0; i < 512; i++) pt[1024 + i] = (i << 21) | 0x83;
	memcpy(mem + 0x500, gdt, sizeof gdt);
	int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	struct kvm_run *run = mmap(NULL, (size_t)ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0), PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	struct kvm_sregs s; ioctl(vcpu, KVM_GET_SREGS, &s);
	struct kvm_segment cs = { .limit = 0xffffffff, .selector = 0x10, .type = 11, .present = 1, .s = 1, .l = 1, .g = 1 };
	struct kvm_segment ds = { .limit = 0xffffffff, .selector = 0x18, .type = 3, .present = 1, .s = 1, .db = 1, .g = 1 };
	s.cs = cs; s.ds = s.es = s.fs = s.gs = s.ss = ds; s.gdt.base = 0x500; s.gdt.limit = 31;
	s.cr0 = 0x80000011; s.cr3 = 0x9000; s.cr4 = 0x20; s.efer = 0x500;
	struct kvm_regs regs = { .rip = eh->e_entry, .rsi = 0x7000, .rsp = 0x8ff0, .rflags = 2 };
	if (ioctl(vcpu, KVM_SET_SREGS, &s) < 0 || ioctl(vcpu, KVM_SET_REGS, &regs) < 0) { perror("rawkvm: vcpu"); return 1; }
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (;;) {
		if (ioctl(vcpu, KVM_RUN, 0) < 0) { perror("rawkvm: KVM_RUN"); return 1; }
		uint8_t *data = (uint8_t *)run + run->io.data_offset;
		if (run->exit_reason == KVM_EXIT_IO && run->io.direction == KVM_EXIT_IO_OUT) {
			if (run->io.port == 0x3f8) putchar(*data);
			if (run->io.port == 0x600) return 0;
		} else if (run->exit_reason == KVM_EXIT_IO) memset(data, 0xff, run->io.size);
		else if (run->exit_reason == KVM_EXIT_MMIO) { if (!run->mmio.is_write) memset(run->mmio.data, 0xff, 8); }
		else { fprintf(stderr, "rawkvm: exit reason %u\n", run->exit_reason); return 1; }
	}
}
