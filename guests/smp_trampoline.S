/* The smp guest's AP start-up path. smp.c copies smp_trampoline_start..smp_trampoline_end to
 * SMP_TRAMPOLINE_BASE (below 1 MiB, page aligned: the SIPI vector is its page number) and stores
 * its page-table root in smp_trampoline_cr3. An AP woken by INIT-SIPI-SIPI starts there in real
 * mode (CS = base >> 4, IP = 0), enters protected mode, then long mode with the BSP's page tables,
 * and jumps to ap_entry in the image at 1 MiB. Intel SDM Vol. 3A §9.4 (MP initialization) and
 * §9.8.5 (initializing IA-32e mode). */

#define SMP_TRAMPOLINE_BASE 0x1000 /* free in moat's layout: between the IDT (0x520) and the
                                      zero page (0x7000) */
#define SMP_MAX_APS 15
#define AP_STACK_SIZE 0x1000

/* Addresses inside the copy: the code runs at SMP_TRAMPOLINE_BASE, not where it was linked. */
#define COPIED(label) (SMP_TRAMPOLINE_BASE + (label) - smp_trampoline_start)

	.globl smp_trampoline_base, smp_max_aps
	.set smp_trampoline_base, SMP_TRAMPOLINE_BASE
	.set smp_max_aps, SMP_MAX_APS

	.text
	.code16
	.globl smp_trampoline_start
smp_trampoline_start:
	cli
	cld
	mov %cs, %ax
	mov %ax, %ds
	lgdtl tramp_gdtr - smp_trampoline_start
	mov %cr0, %eax
	or $1, %eax                  /* CR0.PE */
	mov %eax, %cr0
	ljmpl $0x08, $COPIED(tramp_protected)

	.code32
tramp_protected:
	mov $0x18, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov %cr4, %eax
	or $0x20, %eax               /* CR4.PAE */
	mov %eax, %cr4
	mov COPIED(smp_trampoline_cr3), %eax
	mov %eax, %cr3
	mov $0xc0000080, %ecx        /* IA32_EFER */
	rdmsr
	or $0x100, %eax              /* EFER.LME */
	wrmsr
	mov %cr0, %eax
	or $0x80000000, %eax         /* CR0.PG: long mode becomes active */
	mov %eax, %cr0
	ljmp $0x10, $COPIED(tramp_long)

	.code64
tramp_long:
	mov $ap_entry, %eax          /* the image lies below 4 GiB */
	jmp *%rax

	.balign 8
tramp_gdt:                           /* selectors as the VMM's GDT: code 0x10, data 0x18 */
	.quad 0
	.quad 0x00cf9a000000ffff     /* 0x08: 32-bit code */
	.quad 0x00af9a000000ffff     /* 0x10: 64-bit code */
	.quad 0x00cf92000000ffff     /* 0x18: data */
tramp_gdtr:
	.word tramp_gdtr - tramp_gdt - 1
	.long COPIED(tramp_gdt)
	.globl smp_trampoline_cr3
smp_trampoline_cr3:
	.long 0
	.globl smp_trampoline_end
smp_trampoline_end:

/* In long mode, linked at its real address: take a stack, run ap_main, halt. */
ap_entry:
	mov $1, %eax
	lock xadd %eax, ap_stack_next(%rip)
	cmp $SMP_MAX_APS, %eax
	jae 1f
	inc %eax
	shl $12, %rax                /* AP_STACK_SIZE */
	lea ap_stacks(%rip), %rsp
	add %rax, %rsp
	call ap_main
1:	cli
	hlt
	jmp 1b

	.bss
	.balign 16
ap_stacks:
	.skip SMP_MAX_APS * AP_STACK_SIZE
ap_stack_next:
	.long 0

	.section .note.GNU-stack, "", @progbits
