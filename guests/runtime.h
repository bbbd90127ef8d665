/* The tiny runtime every moat test guest links: port I/O, MMIO, MSRs, serial output with
 * PASS/FAIL lines, and the two ways a guest ends its VM (ACPI S5 poweroff, i8042 reset).
 *
 * Entry contract (what start.S expects from the VMM): 64-bit long mode, flat code selector 0x10
 * and data selector 0x18, interrupts off, rsi = address of the zero page (struct boot_params),
 * rsp = 0x8ff0. The runtime then switches to its own stack, page tables (identity map of 0..4 GiB,
 * the top GiB uncached for MMIO) and exception handlers before it calls guest_main(). */
#ifndef MOAT_GUESTS_RUNTIME_H
#define MOAT_GUESTS_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Devices, as in src/boot/x86_64/layout.hpp. */
#define COM1_PORT 0x3f8
#define I8042_COMMAND_PORT 0x64
#define I8042_CMD_RESET 0xfe
#define ACPI_SLEEP_CONTROL_PORT 0x600
#define ACPI_S5_SLEEP_TYPE 5
#define ACPI_SLP_EN (1u << 5) /* ACPI 6.5 §4.8.3.7: SLP_TYPx in bits 2..4, SLP_EN bit 5 */
#define LAPIC_BASE 0xfee00000ull
#define ZERO_PAGE_ACPI_RSDP_ADDR 0x070 /* struct boot_params, Linux zero-page.rst */

/* What start.S recorded at entry, before it changed anything. */
struct entry_state {
	uint64_t rsp;    /* offset 0 */
	uint64_t rsi;    /* offset 8 */
	uint64_t rflags; /* offset 16 */
	uint64_t cs;     /* offset 24 */
	uint64_t ds;     /* offset 32 */
	uint64_t ss;     /* offset 40 */
};
extern struct entry_state rt_entry;

/* Each guest provides this; it must end the VM itself (rt_poweroff/rt_reset). */
void guest_main(uint64_t zero_page);

static inline void outb(uint16_t port, uint8_t value)
{
	__asm__ volatile("outb %0, %1" : : "a"(value), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t value;
	__asm__ volatile("inb %1, %0" : "=a"(value) : "Nd"(port));
	return value;
}

/* MMIO through volatile pointers: the compiler emits exactly one access of the given width. */
static inline uint32_t mmio_read32(uint64_t addr)
{
	return *(volatile uint32_t *)addr;
}

static inline void mmio_write32(uint64_t addr, uint32_t value)
{
	*(volatile uint32_t *)addr = value;
}

static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((uint64_t)hi << 32) | lo;
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

static inline void cpu_relax(void)
{
	__asm__ volatile("pause" ::: "memory");
}

/* A full fence: orders normal memory against MMIO and keeps the compiler from reordering. */
static inline void barrier(void)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/* Serial output on COM1; every byte waits (bounded) for LSR.THRE. */
void rt_putc(char c);
void rt_print(const char *s);
void rt_print_hex(uint64_t value); /* "0x..." without leading zeros */
void rt_print_dec(uint64_t value);
void rt_pass(const char *what);    /* "PASS: what\n" */
void rt_fail(const char *what);    /* "FAIL: what\n" */
/* Prints PASS or FAIL for `what` and returns `ok`. */
bool rt_check(bool ok, const char *what);

/* Spins for about `n` pause instructions; only a rough delay (no calibrated timer). */
void rt_spin(uint64_t n);

/* Ending the VM. Each prints what it does first; if the VMM ignores the request, prints a FAIL
 * line and halts with interrupts off forever. */
__attribute__((noreturn)) void rt_poweroff(void);
__attribute__((noreturn)) void rt_reset(void);
__attribute__((noreturn)) void rt_halt(void);

/* Expected faults: until rt_caught(), an exception `vector` is counted and the faulting
 * instruction (`insn_len` bytes) skipped instead of ending the test. rt_caught() disarms and
 * returns how many were caught so far. One CPU at a time. */
void rt_catch(int vector, uint64_t insn_len);
uint64_t rt_caught(void);

/* Loads the runtime's IDT on this CPU (the BSP does it at start; APs call it themselves). */
void rt_load_idt(void);

/* gcc may emit calls to these even in freestanding code. */
void *memset(void *dst, int c, size_t n);
void *memcpy(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);

#endif
