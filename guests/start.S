/* Entry point of every moat test guest, and the exception stubs the runtime's IDT points at. */

#define STACK_SIZE 0x4000

	.section .text.start, "ax"
	.code64
	.globl _start
_start:
	/* Record the entry state first: hello checks it against the VMM's boot contract. The
	 * VMM's stack (rsp = 0x8ff0) is not touched. */
	mov %rsp, rt_entry + 0(%rip)
	mov %rsi, rt_entry + 8(%rip)
	mov %cs, %eax
	mov %rax, rt_entry + 24(%rip)
	mov %ds, %eax
	mov %rax, rt_entry + 32(%rip)
	mov %ss, %eax
	mov %rax, rt_entry + 40(%rip)
	lea boot_stack_top(%rip), %rsp
	pushfq
	popq rt_entry + 16(%rip)
	cli
	cld

	/* Clear .bss, except rt_entry, which lives in .data for this reason. The ELF loader should
	 * have zeroed it (p_memsz > p_filesz); the guest does not rely on it. */
	lea __bss_start(%rip), %rdi
	lea __bss_end(%rip), %rcx
	sub %rdi, %rcx
	xor %eax, %eax
	rep stosb

	mov rt_entry + 8(%rip), %rdi /* zero page */
	xor %ebp, %ebp
	call rt_main
1:	cli
	hlt
	jmp 1b

/* One stub per exception vector: push a zero error code where the CPU pushes none, push the
 * vector, save the registers a C call may change, and hand a struct exception_frame to
 * rt_exception. It returns only for a fault the guest said it expects (rt_catch), with the
 * frame's rip moved past the faulting instruction: then the registers come back and iretq
 * resumes there. */
	.macro exception_stub vec
exception_stub_\vec:
	.if (\vec == 8) || (\vec == 10) || (\vec == 11) || (\vec == 12) || (\vec == 13) || (\vec == 14) || (\vec == 17) || (\vec == 21) || (\vec == 29) || (\vec == 30)
	.else
	pushq $0
	.endif
	pushq $\vec
	jmp exception_common
	.endm

	.text
	.irp vec, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	exception_stub \vec
	.endr

exception_common:
	push %rax
	push %rcx
	push %rdx
	push %rsi
	push %rdi
	push %r8
	push %r9
	push %r10
	push %r11
	push %rbp
	lea 80(%rsp), %rdi	/* the frame: vector, error code, then what the CPU pushed */
	mov %rsp, %rbp
	and $-16, %rsp
	call rt_exception
	mov %rbp, %rsp
	pop %rbp
	pop %r11
	pop %r10
	pop %r9
	pop %r8
	pop %rdi
	pop %rsi
	pop %rdx
	pop %rcx
	pop %rax
	add $16, %rsp		/* the vector and the error code */
	iretq

	.section .rodata
	.balign 8
	.globl rt_exception_stubs
rt_exception_stubs:
	.irp vec, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.quad exception_stub_\vec
	.endr

	.section .bss
	.balign 16
boot_stack:
	.skip STACK_SIZE
boot_stack_top:

	.section .note.GNU-stack, "", @progbits
