/* QEMU sanity builds only (target guests-qemu): a PVH entry point that recreates the state moat
 * hands a test guest, so each guest can be cross-checked under QEMU without moat. QEMU enters
 * here in 32-bit protected mode with paging off and ebx = struct hvm_start_info (Xen PVH ABI).
 * Builds: zero page at 0x7000 (only acpi_rsdp_addr set), GDT at 0x500 (code 0x10, data 0x18),
 * page tables at 0x9000..0xbfff identity-mapping 1 GiB with 2 MiB pages, rsp 0x8ff0, rsi 0x7000. */

#define XEN_ELFNOTE_PHYS32_ENTRY 18

	.section .note.Xen, "a", @note
	.balign 4
	.long 4                       /* namesz */
	.long 8                       /* descsz */
	.long XEN_ELFNOTE_PHYS32_ENTRY
	.asciz "Xen"
	.quad pvh_start
	.balign 4

	.text
	.code32
pvh_start:
	cli
	cld
	mov 32(%ebx), %ebp            /* hvm_start_info.rsdp_paddr (low half) */

	mov $0x7000, %edi             /* zero page */
	mov $1024, %ecx
	xor %eax, %eax
	rep stosl
	mov %ebp, 0x7070              /* boot_params.acpi_rsdp_addr */

	mov $0x500, %edi              /* GDT: null, null, 0x10 code64, 0x18 data */
	mov $8, %ecx
	rep stosl
	movl $0x0000ffff, 0x510
	movl $0x00af9a00, 0x514
	movl $0x0000ffff, 0x518
	movl $0x00cf9200, 0x51c
	lgdt pvh_gdtr

	mov $0x9000, %edi             /* PML4, PDPT, PD */
	mov $3072, %ecx
	rep stosl
	movl $0xa003, 0x9000
	movl $0xb003, 0xa000
	xor %ecx, %ecx
1:	mov %ecx, %eax
	shl $21, %eax
	or $0x83, %eax                /* present, writable, 2 MiB */
	mov %eax, 0xb000(,%ecx,8)
	inc %ecx
	cmp $512, %ecx
	jne 1b

	mov %cr4, %eax
	or $0x20, %eax                /* PAE */
	mov %eax, %cr4
	mov $0x9000, %eax
	mov %eax, %cr3
	mov $0xc0000080, %ecx         /* EFER.LME */
	rdmsr
	or $0x100, %eax
	wrmsr
	mov %cr0, %eax
	or $0x80000001, %eax          /* PG, PE */
	mov %eax, %cr0
	ljmp $0x10, $pvh_long

	.code64
pvh_long:
	mov $0x18, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	mov $0x8ff0, %esp
	mov $0x7000, %esi
	jmp _start

	.section .rodata
	.balign 8
pvh_gdtr:
	.word 0x1f
	.long 0x500

	.section .note.GNU-stack, "", @progbits
