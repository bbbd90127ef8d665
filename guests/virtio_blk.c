/* virtio_blk: drives the first virtio-mmio device (a virtio-blk disk) by polling. Checks the
 * transport registers, negotiates VIRTIO_F_VERSION_1 only, reads sector 0 (the pattern
 * run-guest wrote), writes sector 1 (or expects IOERR on a read-only disk), flushes, asks for
 * the device id, and probes unassigned MMIO and port space. virtio 1.2 §4.2 and §5.2. */
#include "runtime.h"

#ifndef VIRTIO_MMIO_BASE
#define VIRTIO_MMIO_BASE 0xd0000000ull /* device 0 in moat; the QEMU sanity build overrides */
#endif
#define UNASSIGNED_MMIO 0xd0100000ull /* beyond the 16 virtio-mmio windows */
#define UNASSIGNED_PORT 0x0300

/* virtio 1.2 §4.2.2: MMIO device register layout. */
enum {
	REG_MAGIC = 0x000,
	REG_VERSION = 0x004,
	REG_DEVICE_ID = 0x008,
	REG_DEVICE_FEATURES = 0x010,
	REG_DEVICE_FEATURES_SEL = 0x014,
	REG_DRIVER_FEATURES = 0x020,
	REG_DRIVER_FEATURES_SEL = 0x024,
	REG_QUEUE_SEL = 0x030,
	REG_QUEUE_NUM_MAX = 0x034,
	REG_QUEUE_NUM = 0x038,
	REG_QUEUE_READY = 0x044,
	REG_QUEUE_NOTIFY = 0x050,
	REG_INTERRUPT_STATUS = 0x060,
	REG_INTERRUPT_ACK = 0x064,
	REG_STATUS = 0x070,
	REG_QUEUE_DESC_LOW = 0x080,
	REG_QUEUE_DESC_HIGH = 0x084,
	REG_QUEUE_DRIVER_LOW = 0x090,
	REG_QUEUE_DRIVER_HIGH = 0x094,
	REG_QUEUE_DEVICE_LOW = 0x0a0,
	REG_QUEUE_DEVICE_HIGH = 0x0a4,
	REG_CONFIG_GENERATION = 0x0fc,
	REG_CONFIG = 0x100,
};

#define VIRTIO_MAGIC 0x74726976 /* "virt" */
#define VIRTIO_ID_BLOCK 2

/* virtio 1.2 §2.1: device status bits. */
#define STATUS_ACKNOWLEDGE 1
#define STATUS_DRIVER 2
#define STATUS_DRIVER_OK 4
#define STATUS_FEATURES_OK 8
#define STATUS_NEEDS_RESET 64
#define STATUS_FAILED 128

#define VIRTIO_BLK_F_RO 5        /* §5.2.3 */
#define VIRTIO_F_VERSION_1 32    /* §6 */

/* §5.2.6: request types and status values. */
#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_T_GET_ID 8
#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_S_IOERR 1
#define VIRTIO_BLK_ID_BYTES 20
#define SECTOR_SIZE 512

#define QUEUE_SIZE 8
#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2

/* §2.7.5 */
struct virtq_desc {
	uint64_t addr;  /* offset 0 */
	uint32_t len;   /* offset 8 */
	uint16_t flags; /* offset 12 */
	uint16_t next;  /* offset 14 */
};
_Static_assert(sizeof(struct virtq_desc) == 16, "virtq_desc");

/* §2.7.6 */
struct virtq_avail {
	uint16_t flags;             /* offset 0 */
	uint16_t idx;               /* offset 2 */
	uint16_t ring[QUEUE_SIZE];  /* offset 4 */
	uint16_t used_event;        /* offset 4 + 2 * QUEUE_SIZE */
};
_Static_assert(sizeof(struct virtq_avail) == 6 + 2 * QUEUE_SIZE, "virtq_avail");

/* §2.7.8 */
struct virtq_used_elem {
	uint32_t id;  /* offset 0 */
	uint32_t len; /* offset 4 */
};
struct virtq_used {
	uint16_t flags;                          /* offset 0 */
	uint16_t idx;                            /* offset 2 */
	struct virtq_used_elem ring[QUEUE_SIZE]; /* offset 4 */
	uint16_t avail_event;                    /* offset 4 + 8 * QUEUE_SIZE */
};
_Static_assert(sizeof(struct virtq_used) == 8 + 8 * QUEUE_SIZE, "virtq_used");

/* §5.2.6: the device-readable header of every request. */
struct virtio_blk_req_header {
	uint32_t type;     /* offset 0 */
	uint32_t reserved; /* offset 4 */
	uint64_t sector;   /* offset 8 */
};
_Static_assert(sizeof(struct virtio_blk_req_header) == 16, "virtio_blk_req header");

/* The queue and the request buffers, in the guest's own memory. Alignment per §2.7. */
static struct virtq_desc desc[QUEUE_SIZE] __attribute__((aligned(16)));
static struct virtq_avail avail __attribute__((aligned(2)));
static struct virtq_used used __attribute__((aligned(4)));
static struct virtio_blk_req_header header;
static uint8_t buffer[SECTOR_SIZE] __attribute__((aligned(16)));
static uint8_t request_status;
static uint16_t last_used_idx;

#define STATUS_NO_COMPLETION 0x100 /* not a virtio status: no (valid) completion arrived */

static uint32_t reg_read(uint32_t offset)
{
	return mmio_read32(VIRTIO_MMIO_BASE + offset);
}

static void reg_write(uint32_t offset, uint32_t value)
{
	mmio_write32(VIRTIO_MMIO_BASE + offset, value);
}

static void write_address(uint32_t low_offset, const volatile void *p)
{
	uint64_t addr = (uint64_t)(uintptr_t)p;
	reg_write(low_offset, (uint32_t)addr);
	reg_write(low_offset + 4, (uint32_t)(addr >> 32));
}

/* Submits one request as a chain header -> [data] -> status and polls the used ring for it.
 * Returns the status byte, or STATUS_NO_COMPLETION; stores the used element's len in *used_len. */
static unsigned submit(uint32_t type, uint64_t sector, void *data, uint32_t len,
		       bool device_writes, uint32_t *used_len)
{
	header = (struct virtio_blk_req_header){ .type = type, .sector = sector };
	uint16_t n = 0;
	desc[n] = (struct virtq_desc){ (uint64_t)(uintptr_t)&header, sizeof(header),
				       VIRTQ_DESC_F_NEXT, (uint16_t)(n + 1) };
	n++;
	if (len) {
		desc[n] = (struct virtq_desc){ (uint64_t)(uintptr_t)data, len,
					       (uint16_t)(VIRTQ_DESC_F_NEXT |
							  (device_writes ? VIRTQ_DESC_F_WRITE : 0)),
					       (uint16_t)(n + 1) };
		n++;
	}
	desc[n] = (struct virtq_desc){ (uint64_t)(uintptr_t)&request_status, 1,
				       VIRTQ_DESC_F_WRITE, 0 };
	request_status = 0xff;

	uint16_t idx = avail.idx;
	avail.ring[idx % QUEUE_SIZE] = 0; /* the chain's head */
	barrier(); /* §2.7.13.3.1: descriptors and ring entry before the idx update */
	*(volatile uint16_t *)&avail.idx = (uint16_t)(idx + 1);
	barrier(); /* §2.7.13.4: idx update before the notification */
	reg_write(REG_QUEUE_NOTIFY, 0);

	uint64_t start = rdtsc();
	while (*(volatile uint16_t *)&used.idx == last_used_idx) {
		if (rdtsc() - start > (1ull << 34)) /* several seconds at any plausible TSC rate */
			return STATUS_NO_COMPLETION;
		cpu_relax();
	}
	barrier(); /* read the used element only after seeing the idx move */
	struct virtq_used_elem elem = used.ring[last_used_idx % QUEUE_SIZE];
	last_used_idx++;
	*used_len = elem.len;
	reg_write(REG_INTERRUPT_ACK, reg_read(REG_INTERRUPT_STATUS));
	if (elem.id != 0) {
		rt_print("used element names descriptor ");
		rt_print_dec(elem.id);
		rt_print(", expected 0\n");
		return STATUS_NO_COMPLETION;
	}
	return *(volatile uint8_t *)&request_status;
}

static void print_result(const char *what, unsigned status, uint32_t used_len)
{
	rt_print(what);
	if (status == STATUS_NO_COMPLETION) {
		rt_print(": no valid completion\n");
		return;
	}
	rt_print(": status ");
	rt_print_dec(status);
	rt_print(", used len ");
	rt_print_dec(used_len);
	rt_putc('\n');
}

static void fill_pattern(uint8_t *p, const char *tag, size_t repeats)
{
	for (size_t r = 0; r < repeats; r++) {
		memcpy(p + 16 * r, tag, 8);
		for (uint8_t i = 0; i < 8; i++)
			p[16 * r + 8 + i] = i;
	}
}

static bool init_device(bool *read_only)
{
	bool ok = rt_check(reg_read(REG_MAGIC) == VIRTIO_MAGIC, "virtio-mmio magic");
	ok = rt_check(reg_read(REG_VERSION) == 2, "virtio-mmio version 2") && ok;
	ok = rt_check(reg_read(REG_DEVICE_ID) == VIRTIO_ID_BLOCK, "device id 2 (block)") && ok;
	if (!ok)
		return false;

	/* §3.1.1: reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK, queues, DRIVER_OK. */
	reg_write(REG_STATUS, 0);
	if (!rt_check(reg_read(REG_STATUS) == 0, "device reset"))
		return false;
	reg_write(REG_STATUS, STATUS_ACKNOWLEDGE);
	reg_write(REG_STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER);

	reg_write(REG_DEVICE_FEATURES_SEL, 0);
	uint32_t features_low = reg_read(REG_DEVICE_FEATURES);
	reg_write(REG_DEVICE_FEATURES_SEL, 1);
	uint32_t features_high = reg_read(REG_DEVICE_FEATURES);
	rt_print("device features: ");
	rt_print_hex((uint64_t)features_high << 32 | features_low);
	rt_putc('\n');
	*read_only = features_low & (1u << VIRTIO_BLK_F_RO);
	rt_print(*read_only ? "disk is read-only\n" : "disk is read-write\n");
	if (!rt_check(features_high & (1u << (VIRTIO_F_VERSION_1 - 32)), "device offers VERSION_1"))
		return false;

	reg_write(REG_DRIVER_FEATURES_SEL, 0);
	reg_write(REG_DRIVER_FEATURES, 0);
	reg_write(REG_DRIVER_FEATURES_SEL, 1);
	reg_write(REG_DRIVER_FEATURES, 1u << (VIRTIO_F_VERSION_1 - 32));
	reg_write(REG_STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
	if (!rt_check(reg_read(REG_STATUS) & STATUS_FEATURES_OK, "features accepted (VERSION_1 only)"))
		return false;

	/* §4.2.3.2: queue 0 with 8 entries in our memory. */
	reg_write(REG_QUEUE_SEL, 0);
	if (!rt_check(reg_read(REG_QUEUE_READY) == 0, "queue 0 not ready after reset"))
		return false;
	uint32_t max = reg_read(REG_QUEUE_NUM_MAX);
	rt_print("queue 0 max size ");
	rt_print_dec(max);
	rt_putc('\n');
	if (!rt_check(max >= QUEUE_SIZE, "queue 0 takes 8 entries"))
		return false;
	reg_write(REG_QUEUE_NUM, QUEUE_SIZE);
	write_address(REG_QUEUE_DESC_LOW, desc);
	write_address(REG_QUEUE_DRIVER_LOW, &avail);
	write_address(REG_QUEUE_DEVICE_LOW, &used);
	reg_write(REG_QUEUE_READY, 1);
	if (!rt_check(reg_read(REG_QUEUE_READY) == 1, "queue 0 ready"))
		return false;
	reg_write(REG_STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
	uint32_t status = reg_read(REG_STATUS);
	if (!rt_check(!(status & (STATUS_NEEDS_RESET | STATUS_FAILED)) && (status & STATUS_DRIVER_OK),
		      "driver ok"))
		return false;

	/* §4.2.2.2: config space reads bracketed by the generation counter. */
	uint64_t capacity = 0;
	for (int tries = 0; tries < 4; tries++) {
		uint32_t generation = reg_read(REG_CONFIG_GENERATION);
		capacity = reg_read(REG_CONFIG) | (uint64_t)reg_read(REG_CONFIG + 4) << 32;
		if (generation == reg_read(REG_CONFIG_GENERATION))
			break;
	}
	rt_print("capacity ");
	rt_print_dec(capacity);
	rt_print(" sectors\n");
	return rt_check(capacity >= 2, "capacity covers sectors 0 and 1");
}

static void test_read_sector0(void)
{
	uint32_t len = 0;
	memset(buffer, 0, sizeof(buffer));
	unsigned status = submit(VIRTIO_BLK_T_IN, 0, buffer, SECTOR_SIZE, true, &len);
	print_result("read sector 0", status, len);
	rt_print("sector 0:");
	for (int i = 0; i < 16; i++) {
		rt_putc(' ');
		rt_putc("0123456789abcdef"[buffer[i] >> 4]);
		rt_putc("0123456789abcdef"[buffer[i] & 0xf]);
	}
	rt_putc('\n');
	uint8_t expected[16];
	fill_pattern(expected, "MOATDISK", 1);
	rt_check(status == VIRTIO_BLK_S_OK && len >= SECTOR_SIZE + 1 &&
			 memcmp(buffer, expected, sizeof(expected)) == 0,
		 "read sector 0");
}

static void test_write_sector1(bool read_only)
{
	uint32_t len = 0;
	fill_pattern(buffer, "GUESTWRT", SECTOR_SIZE / 16);
	unsigned status = submit(VIRTIO_BLK_T_OUT, 1, buffer, SECTOR_SIZE, false, &len);
	print_result("write sector 1", status, len);
	if (read_only) {
		/* §5.2.6.2: a device offering VIRTIO_BLK_F_RO fails writes with IOERR. */
		rt_check(status == VIRTIO_BLK_S_IOERR, "read-only write refused");
		return;
	}
	if (!rt_check(status == VIRTIO_BLK_S_OK && len >= 1, "write sector 1"))
		return;
	memset(buffer, 0, sizeof(buffer));
	status = submit(VIRTIO_BLK_T_IN, 1, buffer, SECTOR_SIZE, true, &len);
	print_result("read sector 1", status, len);
	uint8_t expected[SECTOR_SIZE];
	fill_pattern(expected, "GUESTWRT", SECTOR_SIZE / 16);
	rt_check(status == VIRTIO_BLK_S_OK && memcmp(buffer, expected, SECTOR_SIZE) == 0,
		 "sector 1 reads back what was written");
}

static void test_flush(void)
{
	uint32_t len = 0;
	/* §5.2.6.1: sector 0 and no data for a flush. */
	unsigned status = submit(VIRTIO_BLK_T_FLUSH, 0, 0, 0, false, &len);
	print_result("flush", status, len);
	rt_check(status == VIRTIO_BLK_S_OK, "flush");
}

static void test_get_id(void)
{
	uint32_t len = 0;
	memset(buffer, 0, sizeof(buffer));
	unsigned status = submit(VIRTIO_BLK_T_GET_ID, 0, buffer, VIRTIO_BLK_ID_BYTES, true, &len);
	print_result("get id", status, len);
	/* §5.2.6: the id is up to 20 bytes, NUL-terminated only if shorter. */
	rt_print("device id: \"");
	for (int i = 0; i < VIRTIO_BLK_ID_BYTES && buffer[i]; i++)
		rt_putc(buffer[i] >= 0x20 && buffer[i] < 0x7f ? (char)buffer[i] : '?');
	rt_print("\"\n");
	rt_check(status == VIRTIO_BLK_S_OK, "get id");
}

static void test_unassigned(void)
{
	uint32_t before = mmio_read32(UNASSIGNED_MMIO);
	mmio_write32(UNASSIGNED_MMIO, 0x12345678); /* must be dropped */
	uint32_t after = mmio_read32(UNASSIGNED_MMIO);
	rt_print("unassigned mmio ");
	rt_print_hex(UNASSIGNED_MMIO);
	rt_print(": ");
	rt_print_hex(before);
	rt_print(", after a write ");
	rt_print_hex(after);
	rt_putc('\n');
	rt_check(before == 0xffffffff && after == 0xffffffff, "unassigned mmio reads all ones");

	uint8_t value = inb(UNASSIGNED_PORT);
	rt_print("unassigned port ");
	rt_print_hex(UNASSIGNED_PORT);
	rt_print(": ");
	rt_print_hex(value);
	rt_putc('\n');
	rt_check(value == 0xff, "unassigned port reads 0xff");
}

void guest_main(uint64_t zero_page)
{
	(void)zero_page;
	rt_print("moat test guest: virtio_blk at ");
	rt_print_hex(VIRTIO_MMIO_BASE);
	rt_putc('\n');

	bool read_only = false;
	if (init_device(&read_only)) {
		test_read_sector0();
		test_write_sector1(read_only);
		test_flush();
		test_get_id();
		uint32_t status = reg_read(REG_STATUS);
		rt_check(!(status & STATUS_NEEDS_RESET), "device did not ask for a reset");
	}
	test_unassigned();
	rt_poweroff();
}
