/* The hostile guests' shared runtime (hostile.h). */
#include "hostile.h"

#define ZP_ACPI_RSDP 0x070  /* struct boot_params (Linux zero-page.rst) */
#define ZP_E820_COUNT 0x1e8
#define ZP_E820_TABLE 0x2d0
#define E820_RAM 1

/* ACPI 6.5 §5.2.5.3 (RSDP), §5.2.8 (XSDT), §5.2.9 (FADT: X_DSDT at 140, DSDT at 40). */
static uint32_t le32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t le64(const uint8_t *p) { return le32(p) | (uint64_t)le32(p + 4) << 32; }

static const uint8_t *find_dsdt(uint64_t zero_page)
{
	const uint8_t *rsdp = (const uint8_t *)(uintptr_t)le64((const uint8_t *)(uintptr_t)(zero_page + ZP_ACPI_RSDP));
	if (!rsdp || memcmp(rsdp, "RSD PTR ", 8) != 0)
		return 0;
	const uint8_t *xsdt = (const uint8_t *)(uintptr_t)le64(rsdp + 24);
	if (!xsdt || memcmp(xsdt, "XSDT", 4) != 0)
		return 0;
	uint32_t entries = (le32(xsdt + 4) - 36) / 8;
	for (uint32_t i = 0; i < entries; i++) {
		const uint8_t *t = (const uint8_t *)(uintptr_t)le64(xsdt + 36 + 8 * i);
		if (memcmp(t, "FACP", 4) != 0)
			continue;
		uint64_t dsdt = le32(t + 4) >= 148 ? le64(t + 140) : 0;
		return (const uint8_t *)(uintptr_t)(dsdt ? dsdt : le32(t + 40));
	}
	return 0;
}

/* No AML interpreter: each "LNRO0005" string is followed, within its device, by a _CRS whose
 * Memory32Fixed descriptor (ACPI §6.4.3.4: 0x86, length 9, info, base, size) gives the window. */
int hx_devices(uint64_t zero_page, struct hdev *out, int max)
{
	const uint8_t *dsdt = find_dsdt(zero_page);
	if (!dsdt || memcmp(dsdt, "DSDT", 4) != 0) {
		rt_print("no DSDT found through the zero page's RSDP\n");
		return 0;
	}
	uint32_t len = le32(dsdt + 4);
	int n = 0;
	for (uint32_t i = 36; i + 8 <= len && n < max; i++) {
		if (memcmp(dsdt + i, "LNRO0005", 8) != 0)
			continue;
		for (uint32_t j = i + 8; j + 12 <= len && j < i + 128; j++) {
			if (dsdt[j] == 0x86 && dsdt[j + 1] == 9 && dsdt[j + 2] == 0) {
				out[n].base = le32(dsdt + j + 4);
				out[n].id = hx_r(out[n].base, VM_DEVICE_ID);
				n++;
				break;
			}
		}
	}
	return n;
}

uint64_t hx_find(uint64_t zero_page, uint32_t id)
{
	struct hdev devs[16];
	int n = hx_devices(zero_page, devs, 16);
	for (int i = 0; i < n; i++)
		if (devs[i].id == id && hx_r(devs[i].base, VM_MAGIC) == VIRTIO_MAGIC_VALUE)
			return devs[i].base;
	rt_print("no virtio device with id ");
	rt_print_dec(id);
	rt_print(" among ");
	rt_print_dec((uint64_t)n);
	rt_print(" in the DSDT\n");
	return 0;
}

uint64_t hx_ram_end(uint64_t zero_page)
{
	const uint8_t *zp = (const uint8_t *)(uintptr_t)zero_page;
	uint64_t end = 0;
	for (uint32_t i = 0; i < zp[ZP_E820_COUNT]; i++) {
		const uint8_t *e = zp + ZP_E820_TABLE + 20 * i; /* addr, size, type: packed */
		uint64_t top = le64(e) + le64(e + 8);
		if (le32(e + 16) == E820_RAM && top <= 0xc0000000ull && top > end)
			end = top;
	}
	return end;
}

uint64_t hx_device_features(uint64_t base)
{
	hx_w(base, VM_DEVICE_FEATURES_SEL, 0);
	uint64_t low = hx_r(base, VM_DEVICE_FEATURES);
	hx_w(base, VM_DEVICE_FEATURES_SEL, 1);
	return low | (uint64_t)hx_r(base, VM_DEVICE_FEATURES) << 32;
}

void hx_write_features(uint64_t base, uint64_t features)
{
	hx_w(base, VM_DRIVER_FEATURES_SEL, 0);
	hx_w(base, VM_DRIVER_FEATURES, (uint32_t)features);
	hx_w(base, VM_DRIVER_FEATURES_SEL, 1);
	hx_w(base, VM_DRIVER_FEATURES, (uint32_t)(features >> 32));
}

bool hx_negotiate(uint64_t base, uint64_t features)
{
	hx_w(base, VM_STATUS, 0);
	hx_w(base, VM_STATUS, ST_ACKNOWLEDGE);
	hx_w(base, VM_STATUS, ST_ACKNOWLEDGE | ST_DRIVER);
	hx_write_features(base, features);
	hx_w(base, VM_STATUS, ST_ACKNOWLEDGE | ST_DRIVER | ST_FEATURES_OK);
	return hx_status(base) & ST_FEATURES_OK;
}

/* Static rings for queue indices 0..3, aligned as §2.7 asks (desc 16, avail 2, used 4). */
static struct vq_desc ring_desc[4][HQ_MAX] __attribute__((aligned(4096)));
static uint16_t ring_avail[4][HQ_MAX + 3] __attribute__((aligned(4096)));
static uint16_t ring_used[4][2 + 4 * HQ_MAX + 1] __attribute__((aligned(4096)));

void hx_queue_static(struct hq *q, uint32_t index, uint16_t size)
{
	memset(ring_desc[index & 3], 0, sizeof(ring_desc[0]));
	memset(ring_avail[index & 3], 0, sizeof(ring_avail[0]));
	memset(ring_used[index & 3], 0, sizeof(ring_used[0]));
	*q = (struct hq){ size, ring_desc[index & 3], ring_avail[index & 3], ring_used[index & 3], 0 };
}

static void write_address(uint64_t base, uint32_t low, uint64_t addr)
{
	hx_w(base, low, (uint32_t)addr);
	hx_w(base, low + 4, (uint32_t)(addr >> 32));
}

bool hx_queue_setup(uint64_t base, uint32_t index, struct hq *q)
{
	hx_w(base, VM_QUEUE_SEL, index);
	hx_w(base, VM_QUEUE_NUM, q->size);
	write_address(base, VM_QUEUE_DESC_LOW, (uint64_t)(uintptr_t)q->desc);
	write_address(base, VM_QUEUE_DRIVER_LOW, (uint64_t)(uintptr_t)q->avail);
	write_address(base, VM_QUEUE_DEVICE_LOW, (uint64_t)(uintptr_t)q->used);
	hx_w(base, VM_QUEUE_READY, 1);
	return hx_r(base, VM_QUEUE_READY) == 1;
}

bool hx_queue_raw(uint64_t base, uint32_t index, uint32_t num, uint64_t desc, uint64_t driver, uint64_t device)
{
	hx_w(base, VM_QUEUE_SEL, index);
	hx_w(base, VM_QUEUE_NUM, num);
	write_address(base, VM_QUEUE_DESC_LOW, desc);
	write_address(base, VM_QUEUE_DRIVER_LOW, driver);
	write_address(base, VM_QUEUE_DEVICE_LOW, device);
	hx_w(base, VM_QUEUE_READY, 1);
	return hx_r(base, VM_QUEUE_READY) == 1;
}

bool hx_driver_ok(uint64_t base)
{
	hx_w(base, VM_STATUS, hx_status(base) | ST_DRIVER_OK);
	uint32_t s = hx_status(base);
	return (s & ST_DRIVER_OK) && !(s & (ST_NEEDS_RESET | ST_FAILED));
}

void hx_publish(uint64_t base, uint32_t index, struct hq *q, uint16_t head)
{
	uint16_t idx = q->avail[1];
	q->avail[2 + idx % q->size] = head;
	barrier(); /* §2.7.13.3.1: the ring entry before the idx */
	q->avail[1] = (uint16_t)(idx + 1);
	barrier(); /* §2.7.13.4: the idx before the notification */
	hx_w(base, VM_QUEUE_NOTIFY, index);
}

bool hx_wait_used(struct hq *q, uint64_t spins, struct vq_used_elem *e)
{
	for (uint64_t i = 0; q->used[1] == q->last_used; i++) {
		if (i >= spins)
			return false;
		cpu_relax();
	}
	barrier();
	const volatile uint32_t *elems = (const volatile uint32_t *)(q->used + 2);
	uint16_t slot = q->last_used % q->size;
	e->id = elems[2 * slot];
	e->len = elems[2 * slot + 1];
	q->last_used++;
	return true;
}

uint64_t hx_blk_open(uint64_t zero_page, struct hq *q, uint16_t size, uint64_t extra)
{
	uint64_t base = hx_find(zero_page, VIRTIO_ID_BLOCK);
	if (!base)
		return 0;
	if (!hx_negotiate(base, BIT(F_VERSION_1) | extra)) {
		rt_print("virtio-blk refused the features\n");
		return 0;
	}
	hx_queue_static(q, 0, size);
	if (!hx_queue_setup(base, 0, q) || !hx_driver_ok(base)) {
		rt_print("virtio-blk queue 0 or DRIVER_OK failed\n");
		return 0;
	}
	return base;
}

static struct {
	uint32_t type, reserved;
	uint64_t sector;
} blk_header;
static volatile uint8_t blk_status;
uint32_t hx_blk_used_len;

int hx_blk_request(uint64_t base, struct hq *q, uint32_t type, uint64_t sector, void *data, uint32_t len,
		   bool device_writes)
{
	blk_header.type = type;
	blk_header.reserved = 0;
	blk_header.sector = sector;
	blk_status = HX_NO_STATUS;
	hx_blk_used_len = 0;
	uint16_t n = 0;
	q->desc[n] = (struct vq_desc){ (uint64_t)(uintptr_t)&blk_header, sizeof(blk_header), VQ_F_NEXT, 1 };
	n++;
	if (len) {
		q->desc[n] = (struct vq_desc){ (uint64_t)(uintptr_t)data, len,
					       (uint16_t)(VQ_F_NEXT | (device_writes ? VQ_F_WRITE : 0)), 2 };
		n++;
	}
	q->desc[n] = (struct vq_desc){ (uint64_t)(uintptr_t)&blk_status, 1, VQ_F_WRITE, 0 };
	hx_publish(base, 0, q, 0);
	struct vq_used_elem e;
	if (!hx_wait_used(q, HX_WAIT, &e))
		return -1;
	hx_blk_used_len = e.len;
	hx_w(base, VM_INTERRUPT_ACK, hx_r(base, VM_INTERRUPT_STATUS));
	return blk_status;
}

bool hx_blk_refused(uint64_t base, int st)
{
	const char *how = 0;
	if (hx_needs_reset(base))
		how = "the device asks for a reset (DEVICE_NEEDS_RESET)";
	else if (st == BLK_S_IOERR)
		how = "the request failed with IOERR";
	else if (st == HX_NO_STATUS && hx_blk_used_len == 0)
		how = "the chain came back with nothing written";
	rt_print("refused: ");
	rt_print(how ? how : "no");
	rt_print(" (status ");
	rt_print_dec((uint64_t)(st < 0 ? 999 : st));
	rt_print(", used length ");
	rt_print_dec(hx_blk_used_len);
	rt_print(")\n");
	return how != 0;
}

int hx_blk_submit(uint64_t base, struct hq *q, uint16_t head, volatile uint8_t *status)
{
	if (status)
		*status = HX_NO_STATUS;
	hx_blk_used_len = 0;
	hx_publish(base, 0, q, head);
	/* Longer than hx_blk_request under a loaded lab, but not once the device has stopped. */
	struct vq_used_elem e;
	bool came = false;
	for (int i = 0; i < 16 && !(came = hx_wait_used(q, HX_WAIT / 2, &e)); i++)
		if (hx_needs_reset(base))
			break;
	if (!came)
		return -1;
	hx_blk_used_len = e.len;
	hx_w(base, VM_INTERRUPT_ACK, hx_r(base, VM_INTERRUPT_STATUS));
	return status ? *status : HX_NO_STATUS;
}

static uint8_t reads_buffer[SECTOR] __attribute__((aligned(16)));

bool hx_blk_reads(uint64_t base, struct hq *q)
{
	memset(reads_buffer, 0, sizeof(reads_buffer));
	int st = hx_blk_request(base, q, BLK_T_IN, 0, reads_buffer, SECTOR, true);
	bool ok = st == BLK_S_OK && memcmp(reads_buffer, "MOATDISK", 8) == 0;
	rt_print(ok ? "the disk still reads, no reset needed\n" : "the disk no longer reads without a reset\n");
	return ok;
}

static uint8_t recover_buffer[SECTOR] __attribute__((aligned(16)));

bool hx_blk_recovers(uint64_t zero_page)
{
	struct hq q;
	uint64_t base = hx_blk_open(zero_page, &q, 8, 0);
	if (!base)
		return false;
	memset(recover_buffer, 0, sizeof(recover_buffer));
	int st = hx_blk_request(base, &q, BLK_T_IN, 0, recover_buffer, SECTOR, true);
	bool ok = st == BLK_S_OK && memcmp(recover_buffer, "MOATDISK", 8) == 0;
	rt_print(ok ? "the disk works again after a reset\n" : "the disk does not work after a reset\n");
	return ok;
}

/* The AP start-up path, as guests/smp_trampoline.S (Intel SDM Vol. 3A §9.4, §9.8.5): copied to
 * AP_TRAMPOLINE (the SIPI vector is its page), real mode -> protected mode -> long mode with the
 * BSP's page tables (hx_tramp_cr3), then hx_ap_entry in the image. Here as top-level asm, since
 * every hostile guest is one C file. */
#define AP_TRAMPOLINE 0x1000
#define AP_STACK 16384
#define STR(x) #x
#define XSTR(x) STR(x)
#define COPIED(label) "(" XSTR(AP_TRAMPOLINE) " + " #label " - hx_tramp_start)"
__asm__(".pushsection .text\n"
	".code16\n"
	"hx_tramp_start:\n"
	"cli\n"
	"cld\n"
	"mov %cs, %ax\n"
	"mov %ax, %ds\n"
	"lgdtl hx_tramp_gdtr - hx_tramp_start\n"
	"mov %cr0, %eax\n"
	"or $1, %eax\n"
	"mov %eax, %cr0\n"
	"ljmpl $0x08, $" COPIED(hx_tramp_32) "\n"
	".code32\n"
	"hx_tramp_32:\n"
	"mov $0x18, %ax\n"
	"mov %ax, %ds\n"
	"mov %ax, %es\n"
	"mov %ax, %ss\n"
	"mov %cr4, %eax\n"
	"or $0x20, %eax\n"
	"mov %eax, %cr4\n"
	"mov " COPIED(hx_tramp_cr3) ", %eax\n"
	"mov %eax, %cr3\n"
	"mov $0xc0000080, %ecx\n"
	"rdmsr\n"
	"or $0x100, %eax\n"
	"wrmsr\n"
	"mov %cr0, %eax\n"
	"or $0x80000000, %eax\n"
	"mov %eax, %cr0\n"
	"ljmp $0x10, $" COPIED(hx_tramp_64) "\n"
	".code64\n"
	"hx_tramp_64:\n"
	"mov $hx_ap_entry, %eax\n"
	"jmp *%rax\n"
	".balign 8\n"
	"hx_tramp_gdt:\n"
	".quad 0\n"
	".quad 0x00cf9a000000ffff\n"
	".quad 0x00af9a000000ffff\n"
	".quad 0x00cf92000000ffff\n"
	"hx_tramp_gdtr:\n"
	".word hx_tramp_gdtr - hx_tramp_gdt - 1\n"
	".long " COPIED(hx_tramp_gdt) "\n"
	"hx_tramp_cr3:\n"
	".long 0\n"
	"hx_tramp_end:\n"
	"hx_ap_entry:\n"
	"mov $1, %eax\n"
	"lock xadd %eax, hx_ap_started(%rip)\n"
	"test %eax, %eax\n"
	"jnz 1f\n"
	"lea hx_ap_stack + " XSTR(AP_STACK) "(%rip), %rsp\n"
	"call hx_ap_main\n"
	"1: cli\n"
	"hlt\n"
	"jmp 1b\n"
	".popsection\n");

extern const char hx_tramp_start[], hx_tramp_end[], hx_tramp_cr3[];
__attribute__((used)) static uint8_t hx_ap_stack[AP_STACK] __attribute__((aligned(16)));
__attribute__((used)) static uint32_t hx_ap_started;
static void (*volatile ap_fn)(void);
static volatile uint32_t ap_running;

__attribute__((used)) void hx_ap_main(void);
void hx_ap_main(void)
{
	rt_load_idt();
	ap_running = 1;
	ap_fn();
	rt_halt();
}

#define LAPIC_SVR 0x0f0
#define LAPIC_ICR_LOW 0x300
#define ICR_PENDING (1u << 12)
#define ICR_ALL_BUT_SELF (3u << 18)

static void ipi(uint32_t command)
{
	mmio_write32(LAPIC_BASE + LAPIC_ICR_LOW, command | ICR_ALL_BUT_SELF);
	for (int i = 0; i < 1000000 && (mmio_read32(LAPIC_BASE + LAPIC_ICR_LOW) & ICR_PENDING); i++)
		cpu_relax();
}

bool hx_start_ap(void (*fn)(void))
{
	ap_fn = fn;
	mmio_write32(LAPIC_BASE + LAPIC_SVR, mmio_read32(LAPIC_BASE + LAPIC_SVR) | 0x1ff);
	memcpy((void *)(uintptr_t)AP_TRAMPOLINE, hx_tramp_start, (size_t)(hx_tramp_end - hx_tramp_start));
	uint64_t cr3;
	__asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
	uint32_t cr3_low = (uint32_t)cr3;
	memcpy((void *)(uintptr_t)(AP_TRAMPOLINE + (hx_tramp_cr3 - hx_tramp_start)), &cr3_low, sizeof(cr3_low));
	barrier();
	ipi(0x500 | (1u << 14) | (1u << 15)); /* INIT, level, assert */
	ipi(0x500 | (1u << 15));              /* INIT, level, de-assert */
	rt_spin(100000);
	for (int i = 0; i < 2; i++) {
		ipi(0x600 | (AP_TRAMPOLINE >> 12)); /* STARTUP */
		rt_spin(10000);
	}
	uint64_t start = rdtsc();
	while (!ap_running && rdtsc() - start < (1ull << 34))
		cpu_relax();
	rt_print(ap_running ? "the second vCPU runs\n" : "the second vCPU did not start\n");
	return ap_running;
}

void hx_note(const char *name, uint64_t value)
{
	rt_print(name);
	rt_print(": ");
	rt_print_dec(value);
	rt_putc('\n');
}

void hx_verdict(bool ok, const char *what)
{
	rt_print(ok ? "VERDICT: PASS " : "VERDICT: FAIL ");
	rt_print(what);
	rt_putc('\n');
	rt_poweroff();
}
