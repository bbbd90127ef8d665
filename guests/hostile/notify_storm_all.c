/* notify_storm_all: QueueNotify on every virtio device (disk, vsock, network) for every queue
 * index it has and some it has not (4 to 7, 0xffff, 0xffffffff), 200000 writes in a tight loop
 * (400000 took 80 s of the lab's nested CPU), with every device live. A matching index is an
 * ioeventfd inside KVM that wakes moat's event thread; any other is an MMIO exit the transport
 * drops (src/vmm/builder.cpp notifications, src/virtio/mmio.cpp). Sources: virtio 1.2 §4.2.2
 * (QueueNotify), §2.9 (notifications); the class of notification storms that pin a VMM's I/O
 * thread (e.g. CVE-2016-5403, QEMU virtqueue_pop on a guest-driven loop). Expected: CPU
 * bounded (the runner), the sentinel runs on, and afterwards each device still serves a
 * request without a reset: a disk read, a vsock REQUEST answered with RST, a frame sent. */
#include "platform.h"

#define WRITES 200000u

static struct pvs v;
static struct pnet n;
static uint8_t sector[SECTOR] __attribute__((aligned(16)));
static uint8_t frame[12 + 14 + 60];

void guest_main(uint64_t zero_page)
{
	rt_print("moat hostile suite: notify_storm_all\n");
	struct hq bq;
	uint64_t blk = hx_blk_open(zero_page, &bq, 8, 0);
	if (!blk || !pv_open(zero_page, &v, VS_RX) || !pn_open(zero_page, &n, 0))
		hx_verdict(false, "not every device could be set up");
	struct hdev devs[16];
	int count = hx_devices(zero_page, devs, 16);
	hx_note("devices", (uint64_t)count);
	static const uint32_t indices[] = { 0, 1, 2, 3, 4, 7, 0xffff, 0xffffffff };
	for (uint32_t i = 0; i < WRITES; i++)
		hx_w(devs[i % (uint32_t)count].base, VM_QUEUE_NOTIFY, indices[(i / (uint32_t)count) % 8]);
	hx_note("QueueNotify writes", WRITES);

	bool ok = rt_check(!hx_needs_reset(blk) && !hx_needs_reset(v.base) && !hx_needs_reset(n.base),
			   "no device asks for a reset");
	memset(sector, 0, sizeof(sector));
	ok = rt_check(hx_blk_request(blk, &bq, BLK_T_IN, 0, sector, SECTOR, true) == BLK_S_OK &&
			      memcmp(sector, "MOATDISK", 8) == 0,
		      "the disk reads sector 0") && ok;
	struct vs_hdr h = pv_hdr(&v, VS_CID_HOST, 4242, 4242, VS_OP_REQUEST), r;
	pv_send(&v, &h);
	ok = rt_check(pv_recv(&v, HX_WAIT, &r) && r.op == VS_OP_RST && r.dst_port == 4242,
		      "vsock answers a REQUEST with RST") && ok;
	pn_frame(frame, n.mac, 60);
	const uint32_t len = sizeof(frame);
	pn_send(&n, 0, frame, &len, 1, 0);
	ok = rt_check(pn_tx_reap(&n, HX_WAIT), "the network device takes a frame") && ok;
	ok = pf_serial_ok() && ok;
	hx_verdict(ok, "a notification storm on every queue leaves every device working");
}
