/* The hostile guests' shared runtime, on top of guests/runtime.h: finds moat's virtio-mmio
 * devices through the ACPI tables (as Linux does), sets up queues by the virtio 1.2 rules (so
 * that each case can then break exactly one), and ends every case with one verdict line.
 *
 * A case is one file, guests/hostile/NAME.c, whose guest_main() mounts one attack, checks what
 * the guest can see of the device's answer (an error status, DEVICE_NEEDS_RESET, a register that
 * did not change) and calls hx_verdict(). What the guest cannot see (moat still running, the VM
 * process's memory and CPU, the disk images, the audit log, the sentinel VM beside it) is
 * checked from outside by tests/hostile/hostile-test. docs/pentest.md lists the cases. */
#ifndef MOAT_GUESTS_HOSTILE_H
#define MOAT_GUESTS_HOSTILE_H

#include "../runtime.h"

/* virtio 1.2 §4.2.2: MMIO device registers. */
enum {
	VM_MAGIC = 0x000,
	VM_VERSION = 0x004,
	VM_DEVICE_ID = 0x008,
	VM_DEVICE_FEATURES = 0x010,
	VM_DEVICE_FEATURES_SEL = 0x014,
	VM_DRIVER_FEATURES = 0x020,
	VM_DRIVER_FEATURES_SEL = 0x024,
	VM_QUEUE_SEL = 0x030,
	VM_QUEUE_NUM_MAX = 0x034,
	VM_QUEUE_NUM = 0x038,
	VM_QUEUE_READY = 0x044,
	VM_QUEUE_NOTIFY = 0x050,
	VM_INTERRUPT_STATUS = 0x060,
	VM_INTERRUPT_ACK = 0x064,
	VM_STATUS = 0x070,
	VM_QUEUE_DESC_LOW = 0x080,
	VM_QUEUE_DESC_HIGH = 0x084,
	VM_QUEUE_DRIVER_LOW = 0x090,
	VM_QUEUE_DRIVER_HIGH = 0x094,
	VM_QUEUE_DEVICE_LOW = 0x0a0,
	VM_QUEUE_DEVICE_HIGH = 0x0a4,
	VM_CONFIG_GENERATION = 0x0fc,
	VM_CONFIG = 0x100,
};
#define VIRTIO_MAGIC_VALUE 0x74726976 /* "virt" */
#define VIRTIO_WINDOW 0x1000          /* each device's MMIO window in moat */

#define VIRTIO_ID_NET 1
#define VIRTIO_ID_BLOCK 2
#define VIRTIO_ID_VSOCK 19

/* §2.1 */
#define ST_ACKNOWLEDGE 1u
#define ST_DRIVER 2u
#define ST_DRIVER_OK 4u
#define ST_FEATURES_OK 8u
#define ST_NEEDS_RESET 64u
#define ST_FAILED 128u

/* §6 and §2.7 */
#define F_INDIRECT_DESC 28
#define F_EVENT_IDX 29
#define F_VERSION_1 32
#define BIT(n) (1ull << (n))

#define VQ_F_NEXT 1
#define VQ_F_WRITE 2
#define VQ_F_INDIRECT 4

/* §5.2.6 */
#define BLK_T_IN 0
#define BLK_T_OUT 1
#define BLK_T_FLUSH 4
#define BLK_T_GET_ID 8
#define BLK_S_OK 0
#define BLK_S_IOERR 1
#define BLK_S_UNSUPP 2
#define SECTOR 512

struct vq_desc {
	uint64_t addr;  /* offset 0 */
	uint32_t len;   /* offset 8 */
	uint16_t flags; /* offset 12 */
	uint16_t next;  /* offset 14 */
};
struct vq_used_elem {
	uint32_t id;  /* offset 0 */
	uint32_t len; /* offset 4 */
};

/* A split virtqueue as the driver sees it: where its three parts are, and how far the driver
 * has read the used ring. The avail ring is flags, idx, ring[size], used_event (§2.7.6); the
 * used ring flags, idx, ring[size], avail_event (§2.7.8). */
struct hq {
	uint16_t size;
	struct vq_desc *desc;
	volatile uint16_t *avail; /* [0] flags, [1] idx, [2..] ring */
	volatile uint16_t *used;  /* [0] flags, [1] idx, then the elements */
	uint16_t last_used;
};
#define HQ_MAX 256

/* One device found in the DSDT: its MMIO window and its device id register. */
struct hdev {
	uint64_t base;
	uint32_t id;
};

/* Every virtio-mmio device the ACPI tables describe (_HID "LNRO0005", the window from its
 * Memory32Fixed resource), at most `max`; returns how many. */
int hx_devices(uint64_t zero_page, struct hdev *out, int max);
/* The first device with this id, or 0 (and a line saying so). */
uint64_t hx_find(uint64_t zero_page, uint32_t id);
/* The end of RAM below the 32-bit MMIO gap, from the zero page's e820 map. */
uint64_t hx_ram_end(uint64_t zero_page);

static inline uint32_t hx_r(uint64_t base, uint32_t off) { return mmio_read32(base + off); }
static inline void hx_w(uint64_t base, uint32_t off, uint32_t v) { mmio_write32(base + off, v); }
static inline uint32_t hx_status(uint64_t base) { return hx_r(base, VM_STATUS); }
static inline bool hx_needs_reset(uint64_t base) { return hx_status(base) & ST_NEEDS_RESET; }

uint64_t hx_device_features(uint64_t base);
void hx_write_features(uint64_t base, uint64_t features);
/* Reset, ACKNOWLEDGE, DRIVER, `features`, FEATURES_OK: whether the device kept FEATURES_OK. */
bool hx_negotiate(uint64_t base, uint64_t features);
/* The queue's parts in the runtime's own static rings (one set per queue index below 4). */
void hx_queue_static(struct hq *q, uint32_t index, uint16_t size);
/* QueueSel, QueueNum and the three addresses, then QueueReady = 1: whether it reads back 1. */
bool hx_queue_setup(uint64_t base, uint32_t index, struct hq *q);
/* As hx_queue_setup, with the size and ring addresses given as raw register values. */
bool hx_queue_raw(uint64_t base, uint32_t index, uint32_t num, uint64_t desc, uint64_t driver, uint64_t device);
/* Sets DRIVER_OK: whether it is set and DEVICE_NEEDS_RESET is not. */
bool hx_driver_ok(uint64_t base);

/* Puts chain `head` in the avail ring, moves idx on (§2.7.13 barriers) and notifies `index`. */
void hx_publish(uint64_t base, uint32_t index, struct hq *q, uint16_t head);
/* Waits about `spins` pauses for a used element; true with it in *e. */
bool hx_wait_used(struct hq *q, uint64_t spins, struct vq_used_elem *e);
#define HX_WAIT 2000000ull /* ample for any moat device in the lab */

/* virtio-blk: finds the disk, negotiates VERSION_1 (plus `extra` features), sets up queue 0 of
 * `size` entries and sets DRIVER_OK. Prints what fails; returns the base or 0. */
uint64_t hx_blk_open(uint64_t zero_page, struct hq *q, uint16_t size, uint64_t extra);
/* One request as header -> [data] -> status, polled. Returns the status byte (0xff when the
 * device wrote none), or -1 when no used element came (the device may have stopped: see
 * hx_needs_reset); hx_blk_used_len is the used element's length. */
int hx_blk_request(uint64_t base, struct hq *q, uint32_t type, uint64_t sector, void *data, uint32_t len,
		   bool device_writes);
extern uint32_t hx_blk_used_len;
#define HX_NO_STATUS 0xff
/* What moat does with a request it must not serve: it fails it (IOERR), or returns the chain
 * with nothing written (used length 0, status untouched), or stops the device (NEEDS_RESET).
 * Whether the last request (status `st`) ended one of these ways; prints which. */
bool hx_blk_refused(uint64_t base, int st);
/* After an attack: resets the disk, sets it up again and reads sector 0 (run-guest's and
 * hostile-test's "MOATDISK" pattern). Whether the device works again. */
bool hx_blk_recovers(uint64_t zero_page);

/* For cases that build their own chains: the request header (§5.2.6) and one descriptor. */
struct blk_hdr {
	uint32_t type;     /* offset 0 */
	uint32_t reserved; /* offset 4 */
	uint64_t sector;   /* offset 8 */
};
static inline void hx_desc(struct hq *q, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	q->desc[i] = (struct vq_desc){ addr, len, flags, next };
}
#define HX_ADDR(p) ((uint64_t)(uintptr_t)(p))
/* Publishes chain `head`, which the case wrote into q->desc, on queue 0 and waits as
 * hx_blk_request does. `status` (may be 0) is the byte the chain's status descriptor names: set
 * to HX_NO_STATUS first, and returned (HX_NO_STATUS when 0); -1 when no used element came
 * (it waits up to 8 x HX_WAIT, less once DEVICE_NEEDS_RESET is set). hx_blk_used_len as there. */
int hx_blk_submit(uint64_t base, struct hq *q, uint16_t head, volatile uint8_t *status);
/* A plain read of sector 0 on an open queue, no reset: whether it answers OK with "MOATDISK". */
bool hx_blk_reads(uint64_t base, struct hq *q);

/* Starts the VM's second vCPU (INIT-SIPI-SIPI to all but this one, xAPIC) on `fn`, with a
 * stack of its own: the way guests/smp.c does it, the trampoline at 0x1000. One AP only (any
 * further one halts). Whether it checked in within a bounded wait. */
bool hx_start_ap(void (*fn)(void));

/* Prints "VERDICT: PASS what" or "VERDICT: FAIL what", then powers the VM off. */
__attribute__((noreturn)) void hx_verdict(bool ok, const char *what);
/* Prints "NAME: value" (decimal) on its own line. */
void hx_note(const char *name, uint64_t value);

#endif
