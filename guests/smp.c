/* smp: the boot CPU starts every other vCPU and counts them.
 *
 * How many vCPUs to expect: the ACPI MADT (ACPI 6.5 §5.2.12) lists one enabled Processor Local
 * APIC (or x2APIC) entry per vCPU, so the guest needs no command line and checks the VMM's
 * tables at the same time. The RSDP comes from boot_params.acpi_rsdp_addr in the zero page; if
 * that is 0 the guest searches 0xe0000..0xfffff (§5.2.5.1). The BSP sends INIT-SIPI-SIPI to each
 * listed APIC id but its own (xAPIC ICR), each AP increments a shared counter with a locked
 * instruction and halts, and the BSP waits a bounded time for the counter. */
#include "runtime.h"

#define LAPIC_ID 0x020
#define LAPIC_SVR 0x0f0
#define LAPIC_ICR_LOW 0x300
#define LAPIC_ICR_HIGH 0x310
#define SVR_APIC_ENABLE 0x100
#define ICR_DELIVERY_PENDING (1u << 12)
#define ICR_INIT 0x500
#define ICR_STARTUP 0x600
#define ICR_LEVEL_ASSERT (1u << 14)
#define ICR_TRIGGER_LEVEL (1u << 15)
#define MSR_APIC_BASE 0x1b
#define APIC_BASE_BSP (1u << 8)
#define APIC_BASE_ENABLE (1u << 11)

#define MADT_LOCAL_APIC 0   /* §5.2.12.2 */
#define MADT_LOCAL_X2APIC 9 /* §5.2.12.12 */
#define MADT_ENABLED 1

#define MAX_CPUS 64

extern const char smp_trampoline_start[], smp_trampoline_end[], smp_trampoline_cr3[];
extern const char smp_trampoline_base[], smp_max_aps[]; /* absolute symbols */

void ap_main(void);

static uint32_t ap_count;  /* incremented by each AP with a locked add */
static uint64_t ap_seen;   /* bit n: the AP with APIC id n ran */
static uint32_t apic_ids[MAX_CPUS];

static uint32_t lapic_read(uint32_t reg)
{
	return mmio_read32(LAPIC_BASE + reg);
}

static void lapic_write(uint32_t reg, uint32_t value)
{
	mmio_write32(LAPIC_BASE + reg, value);
}

static uint32_t load32(uint64_t addr)
{
	uint32_t v;
	memcpy(&v, (const void *)(uintptr_t)addr, sizeof(v));
	return v;
}

static uint64_t load64(uint64_t addr)
{
	uint64_t v;
	memcpy(&v, (const void *)(uintptr_t)addr, sizeof(v));
	return v;
}

static bool checksum_ok(uint64_t addr, uint32_t len)
{
	uint8_t sum = 0;
	for (uint32_t i = 0; i < len; i++)
		sum = (uint8_t)(sum + *(const uint8_t *)(uintptr_t)(addr + i));
	return sum == 0;
}

/* §5.2.5.3: "RSD PTR ", checksum over the first 20 bytes (and over all of it from rev 2). */
static bool rsdp_valid(uint64_t addr)
{
	if (memcmp((const void *)(uintptr_t)addr, "RSD PTR ", 8) != 0 || !checksum_ok(addr, 20))
		return false;
	uint8_t revision = *(const uint8_t *)(uintptr_t)(addr + 15);
	return revision < 2 || checksum_ok(addr, load32(addr + 20));
}

static uint64_t find_rsdp(uint64_t zero_page)
{
	uint64_t addr = load64(zero_page + ZERO_PAGE_ACPI_RSDP_ADDR);
	rt_print("zero page acpi_rsdp_addr ");
	rt_print_hex(addr);
	rt_putc('\n');
	if (addr)
		return rsdp_valid(addr) ? addr : 0;
	for (addr = 0xe0000; addr < 0x100000; addr += 16)
		if (rsdp_valid(addr))
			return addr;
	return 0;
}

/* Walks the XSDT (or the RSDT before ACPI 2.0) for the MADT. */
static uint64_t find_madt(uint64_t rsdp)
{
	uint8_t revision = *(const uint8_t *)(uintptr_t)(rsdp + 15);
	uint64_t xsdt = revision >= 2 ? load64(rsdp + 24) : 0;
	uint64_t root = xsdt ? xsdt : load32(rsdp + 16);
	uint32_t entry_size = xsdt ? 8 : 4;
	if (root == 0 || root >= (4ull << 30))
		return 0;
	uint32_t len = load32(root + 4);
	if (len < 36 || len > 0x10000 || !checksum_ok(root, len))
		return 0;
	for (uint32_t off = 36; off + entry_size <= len; off += entry_size) {
		uint64_t table = entry_size == 8 ? load64(root + off) : load32(root + off);
		if (table && table < (4ull << 30) &&
		    memcmp((const void *)(uintptr_t)table, "APIC", 4) == 0)
			return table;
	}
	return 0;
}

/* Collects the APIC ids of the enabled processors; returns how many there are (0: bad MADT). */
static uint32_t read_madt(uint64_t madt)
{
	uint32_t len = load32(madt + 4);
	if (len < 44 || len > 0x10000 || !checksum_ok(madt, len)) {
		rt_fail("MADT length or checksum");
		return 0;
	}
	uint32_t count = 0;
	for (uint32_t off = 44; off + 2 <= len;) { /* §5.2.12: entries follow a 44-byte header */
		uint8_t type = *(const uint8_t *)(uintptr_t)(madt + off);
		uint8_t entry_len = *(const uint8_t *)(uintptr_t)(madt + off + 1);
		if (entry_len < 2 || off + entry_len > len) {
			rt_fail("MADT entry length");
			return 0;
		}
		uint32_t id = 0, flags = 0;
		bool cpu = false;
		if (type == MADT_LOCAL_APIC && entry_len >= 8) {
			id = *(const uint8_t *)(uintptr_t)(madt + off + 3);
			flags = load32(madt + off + 4);
			cpu = true;
		} else if (type == MADT_LOCAL_X2APIC && entry_len >= 16) {
			id = load32(madt + off + 4);
			flags = load32(madt + off + 8);
			cpu = true;
		}
		if (cpu && (flags & MADT_ENABLED) && count < MAX_CPUS)
			apic_ids[count++] = id;
		off += entry_len;
	}
	return count;
}

/* Sends one IPI and waits (bounded) until the local APIC has delivered it. */
static bool send_ipi(uint32_t apic_id, uint32_t command)
{
	lapic_write(LAPIC_ICR_HIGH, apic_id << 24);
	lapic_write(LAPIC_ICR_LOW, command);
	for (int i = 0; i < 1000000; i++) {
		if (!(lapic_read(LAPIC_ICR_LOW) & ICR_DELIVERY_PENDING))
			return true;
		cpu_relax();
	}
	return false;
}

/* SDM Vol. 3A §9.4.4.1: INIT (assert, de-assert), wait, then two STARTUP IPIs. The waits are
 * rough spins; KVM does not need them, hardware would. */
static bool start_ap(uint32_t apic_id, uint32_t vector)
{
	bool ok = send_ipi(apic_id, ICR_INIT | ICR_LEVEL_ASSERT | ICR_TRIGGER_LEVEL);
	ok = send_ipi(apic_id, ICR_INIT | ICR_TRIGGER_LEVEL) && ok;
	rt_spin(100000);
	for (int i = 0; i < 2; i++) {
		ok = send_ipi(apic_id, ICR_STARTUP | vector) && ok;
		rt_spin(10000);
	}
	return ok;
}

void ap_main(void)
{
	rt_load_idt();
	uint32_t id = lapic_read(LAPIC_ID) >> 24;
	if (id < 64)
		__atomic_fetch_or(&ap_seen, 1ull << id, __ATOMIC_SEQ_CST);
	__atomic_fetch_add(&ap_count, 1, __ATOMIC_SEQ_CST); /* a lock-prefixed add */
	rt_halt();
}

void guest_main(uint64_t zero_page)
{
	rt_print("moat test guest: smp\n");

	uint64_t rsdp = find_rsdp(zero_page);
	if (!rt_check(rsdp != 0, "ACPI RSDP found and valid"))
		rt_poweroff();
	uint64_t madt = find_madt(rsdp);
	if (!rt_check(madt != 0, "ACPI MADT found"))
		rt_poweroff();
	uint32_t cpus = read_madt(madt);
	rt_print("MADT lists ");
	rt_print_dec(cpus);
	rt_print(" enabled processors\n");
	if (!rt_check(cpus >= 1, "MADT lists the boot CPU"))
		rt_poweroff();

	uint64_t apic_base = rdmsr(MSR_APIC_BASE);
	rt_check((apic_base & APIC_BASE_BSP) && (apic_base & APIC_BASE_ENABLE) &&
			 (apic_base & ~0xfffull) == LAPIC_BASE,
		 "this is the BSP, xAPIC enabled at 0xfee00000");
	uint32_t self = lapic_read(LAPIC_ID) >> 24;
	lapic_write(LAPIC_SVR, lapic_read(LAPIC_SVR) | SVR_APIC_ENABLE | 0xff);

	uint64_t base = (uint64_t)(uintptr_t)smp_trampoline_base;
	uint64_t size = (uint64_t)(smp_trampoline_end - smp_trampoline_start);
	memcpy((void *)(uintptr_t)base, smp_trampoline_start, size);
	uint64_t cr3;
	__asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
	uint32_t cr3_low = (uint32_t)cr3; /* the runtime's tables lie below 4 GiB */
	memcpy((void *)(uintptr_t)(base + (uint64_t)(smp_trampoline_cr3 - smp_trampoline_start)),
	       &cr3_low, sizeof(cr3_low));
	barrier();

	uint32_t expected = 0;
	uint64_t expected_seen = 0;
	for (uint32_t i = 0; i < cpus; i++) {
		if (apic_ids[i] == self)
			continue;
		if (apic_ids[i] > 0xfe || expected >= (uint32_t)(uintptr_t)smp_max_aps) {
			rt_print("cannot start APIC id ");
			rt_print_dec(apic_ids[i]);
			rt_putc('\n');
			continue;
		}
		rt_print("starting APIC id ");
		rt_print_dec(apic_ids[i]);
		rt_putc('\n');
		if (!start_ap(apic_ids[i], (uint32_t)(base >> 12)))
			rt_fail("IPI not delivered");
		expected++;
		if (apic_ids[i] < 64)
			expected_seen |= 1ull << apic_ids[i];
	}

	uint64_t start = rdtsc();
	while (__atomic_load_n(&ap_count, __ATOMIC_SEQ_CST) < expected &&
	       rdtsc() - start < (1ull << 34))
		cpu_relax();
	uint32_t running = 1 + __atomic_load_n(&ap_count, __ATOMIC_SEQ_CST);
	uint64_t seen = __atomic_load_n(&ap_seen, __ATOMIC_SEQ_CST);
	rt_print("APs checked in (bit per APIC id): ");
	rt_print_hex(seen);
	rt_putc('\n');
	if (running == cpus && seen == expected_seen) {
		rt_print("PASS: ");
		rt_print_dec(running);
		rt_print(" vCPUs running\n");
	} else {
		rt_print("FAIL: ");
		rt_print_dec(running);
		rt_print(" of ");
		rt_print_dec(cpus);
		rt_print(" vCPUs running\n");
	}
	rt_poweroff();
}
