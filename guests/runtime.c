/* The test guests' runtime: serial output, page tables, exception reporting, VM exit paths. */
#include "runtime.h"

#define UART_THR 0 /* 16550: transmit holding register */
#define UART_LSR 5 /* line status register */
#define UART_LSR_THRE 0x20

#define PTE_PRESENT 0x001ull
#define PTE_WRITE 0x002ull
#define PTE_PWT 0x008ull
#define PTE_PCD 0x010ull
#define PTE_LARGE 0x080ull /* a 2 MiB page in a page directory */

/* In .data, not .bss: start.S fills it before it clears .bss. */
struct entry_state rt_entry __attribute__((section(".data")));

/* Identity map of 0..4 GiB with 2 MiB pages. The VMM's own tables map only the first GiB, and
 * the devices (virtio-mmio at 0xd0000000, IOAPIC, LAPIC) live in the fourth, mapped uncached. */
static uint64_t pml4[512] __attribute__((aligned(4096)));
static uint64_t pdpt[512] __attribute__((aligned(4096)));
static uint64_t pd[4][512] __attribute__((aligned(4096)));

/* Intel SDM Vol. 3A §6.14.1: a 64-bit interrupt gate. */
struct idt_gate {
	uint16_t offset_low;  /* offset 0 */
	uint16_t selector;    /* offset 2 */
	uint8_t ist;          /* offset 4 */
	uint8_t type_attr;    /* offset 5: 0x8e = present, DPL 0, interrupt gate */
	uint16_t offset_mid;  /* offset 6 */
	uint32_t offset_high; /* offset 8 */
	uint32_t reserved;    /* offset 12 */
};
_Static_assert(sizeof(struct idt_gate) == 16, "IDT gate is 16 bytes");

struct __attribute__((packed)) descriptor_pointer {
	uint16_t limit; /* offset 0 */
	uint64_t base;  /* offset 2 */
};

static struct idt_gate idt[32] __attribute__((aligned(16)));
extern const uint64_t rt_exception_stubs[32]; /* start.S */

/* The frame start.S builds before it calls rt_exception. */
struct exception_frame {
	uint64_t vector; /* offset 0 */
	uint64_t error;  /* offset 8 */
	uint64_t rip;    /* offset 16 */
	uint64_t cs;     /* offset 24 */
	uint64_t rflags; /* offset 32 */
};

void rt_main(uint64_t zero_page);
void rt_exception(struct exception_frame *frame);

/* rep stos/movs rather than loops: the compiler may turn a byte loop back into a call to memset. */
void *memset(void *dst, int c, size_t n)
{
	void *d = dst;
	__asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
	return dst;
}

void *memcpy(void *dst, const void *src, size_t n)
{
	void *d = dst;
	__asm__ volatile("rep movsb" : "+D"(d), "+S"(src), "+c"(n) : : "memory");
	return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;
	for (size_t i = 0; i < n; i++)
		if (x[i] != y[i])
			return x[i] < y[i] ? -1 : 1;
	return 0;
}

void rt_putc(char c)
{
	/* Bounded: a UART that never reports THRE must not hang the guest. */
	for (int i = 0; i < 100000 && !(inb(COM1_PORT + UART_LSR) & UART_LSR_THRE); i++)
		cpu_relax();
	outb(COM1_PORT + UART_THR, (uint8_t)c);
}

void rt_print(const char *s)
{
	while (*s)
		rt_putc(*s++);
}

void rt_print_hex(uint64_t value)
{
	char buf[16];
	int n = 0;
	do {
		buf[n++] = "0123456789abcdef"[value & 0xf];
		value >>= 4;
	} while (value);
	rt_print("0x");
	while (n)
		rt_putc(buf[--n]);
}

void rt_print_dec(uint64_t value)
{
	char buf[20];
	int n = 0;
	do {
		buf[n++] = (char)('0' + value % 10);
		value /= 10;
	} while (value);
	while (n)
		rt_putc(buf[--n]);
}

void rt_pass(const char *what)
{
	rt_print("PASS: ");
	rt_print(what);
	rt_putc('\n');
}

void rt_fail(const char *what)
{
	rt_print("FAIL: ");
	rt_print(what);
	rt_putc('\n');
}

bool rt_check(bool ok, const char *what)
{
	if (ok)
		rt_pass(what);
	else
		rt_fail(what);
	return ok;
}

void rt_spin(uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		cpu_relax();
}

void rt_halt(void)
{
	for (;;)
		__asm__ volatile("cli; hlt");
}

void rt_poweroff(void)
{
	rt_print("ending the VM: ACPI S5 poweroff\n");
	outb(ACPI_SLEEP_CONTROL_PORT, (ACPI_S5_SLEEP_TYPE << 2) | ACPI_SLP_EN);
	rt_spin(1000000);
	rt_fail("still running after the S5 poweroff");
	rt_halt();
}

void rt_reset(void)
{
	rt_print("ending the VM: i8042 reset\n");
	outb(I8042_COMMAND_PORT, I8042_CMD_RESET);
	rt_spin(1000000);
	rt_fail("still running after the i8042 reset");
	rt_halt();
}

static void setup_page_tables(void)
{
	for (uint64_t g = 0; g < 4; g++) {
		uint64_t flags = PTE_PRESENT | PTE_WRITE | PTE_LARGE;
		if (g == 3)
			flags |= PTE_PCD | PTE_PWT; /* MMIO: uncached */
		for (uint64_t i = 0; i < 512; i++)
			pd[g][i] = (g << 30 | i << 21) | flags;
		pdpt[g] = (uint64_t)(uintptr_t)pd[g] | PTE_PRESENT | PTE_WRITE;
	}
	pml4[0] = (uint64_t)(uintptr_t)pdpt | PTE_PRESENT | PTE_WRITE;
	__asm__ volatile("mov %0, %%cr3" : : "r"((uint64_t)(uintptr_t)pml4) : "memory");
}

void rt_load_idt(void)
{
	struct descriptor_pointer idtr = { sizeof(idt) - 1, (uint64_t)(uintptr_t)idt };
	__asm__ volatile("lidt %0" : : "m"(idtr));
}

static void setup_idt(void)
{
	uint16_t cs;
	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	for (int v = 0; v < 32; v++) {
		uint64_t handler = rt_exception_stubs[v];
		idt[v] = (struct idt_gate){
			.offset_low = (uint16_t)handler,
			.selector = cs,
			.type_attr = 0x8e,
			.offset_mid = (uint16_t)(handler >> 16),
			.offset_high = (uint32_t)(handler >> 32),
		};
	}
	rt_load_idt();
}

/* The fault a guest said it expects next (rt_catch), and how many were caught. */
static volatile int catch_vector = -1;
static volatile uint64_t catch_skip;
static volatile uint64_t caught;

void rt_catch(int vector, uint64_t insn_len)
{
	catch_skip = insn_len;
	catch_vector = vector;
	barrier();
}

uint64_t rt_caught(void)
{
	catch_vector = -1;
	barrier();
	return caught;
}

/* An unexpected exception is a test failure, reported instead of becoming a triple fault; an
 * expected one is counted and skipped (start.S resumes after it). */
void rt_exception(struct exception_frame *frame)
{
	if (catch_vector >= 0 && frame->vector == (uint64_t)catch_vector) {
		frame->rip += catch_skip;
		caught = caught + 1;
		return;
	}
	rt_print("FAIL: exception ");
	rt_print_dec(frame->vector);
	rt_print(" error ");
	rt_print_hex(frame->error);
	rt_print(" rip ");
	rt_print_hex(frame->rip);
	if (frame->vector == 14) {
		uint64_t cr2;
		__asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
		rt_print(" cr2 ");
		rt_print_hex(cr2);
	}
	rt_putc('\n');
	rt_poweroff();
}

/* Called by start.S on the boot CPU with the zero-page address the VMM passed in rsi. */
void rt_main(uint64_t zero_page)
{
	setup_page_tables();
	setup_idt();
	guest_main(zero_page);
	rt_fail("guest_main returned without ending the VM");
	rt_poweroff();
}
