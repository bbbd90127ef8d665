/* vsock_bad_header: malformed virtio-vsock packets on the transmit queue: a payload length
 * beyond the chain or over 64 KiB, a header split over two and three descriptors, unknown
 * socket types and operations, a spoofed source CID, reserved and 64-bit destination CIDs, the
 * host and the other VM as destinations without a channel, a zero-length chain, a header one
 * byte short, a device-writable buffer, an RST with a payload, a control packet with one, a
 * chain of 65 descriptors and a descriptor loop. Source: virtio 1.2 §5.10.6 (the header,
 * "the driver MUST NOT ..." rules) and §2.7.5.3.1 (chains); the class of CVE-2021-26708 and
 * CVE-2018-14625 (vsock transport bugs). moat (src/virtio/vsock/packet.cpp check_from_guest,
 * vsock_device.cpp handle_tx) drops what is not the guest's own or cannot be parsed, answers a
 * packet it understands but refuses with RST, and answers a REQUEST without a channel with RST
 * and a count in the audit (vm.refused_connection). Expected: every chain comes back, an RST
 * for exactly the packets listed below and none for the others, the device never asks for a
 * reset. */
#include "platform.h"

static uint8_t bytes[32][128] __attribute__((aligned(64))); /* one packet's header and payload */
static struct pvs v;

/* Publishes packet k as a chain of n descriptors at indices 4k.. (or `first`), over bytes[k]. */
static void send_chain(uint16_t first, const uint32_t *lens, int n, uint16_t flags, int k)
{
	uint64_t at = (uint64_t)(uintptr_t)bytes[k];
	for (int i = 0; i < n; i++) {
		uint16_t f = (uint16_t)(flags | (i + 1 < n ? VQ_F_NEXT : 0));
		v.tx.desc[first + i] = (struct vq_desc){ at, lens[i], f, (uint16_t)(first + i + 1) };
		at += lens[i];
	}
	hx_publish(v.base, 1, &v.tx, first);
	v.tx_sent++;
}

static void packet(int k, struct vs_hdr h, const uint32_t *lens, int n, uint16_t flags)
{
	h.src_port = 1000 + (uint32_t)k;
	memcpy(bytes[k], &h, sizeof(h));
	send_chain((uint16_t)(4 * k), lens, n, flags, k);
}

void guest_main(uint64_t zero_page)
{
	rt_print("moat hostile suite: vsock_bad_header\n");
	if (!pv_open(zero_page, &v, VS_RX))
		hx_verdict(false, "no vsock device to attack");
	const uint64_t other = v.cid == 3 ? 4 : 3;
	const uint32_t whole[] = { 44 }, payload[] = { 44, 16 }, split[] = { 20, 24 }, split3[] = { 1, 1, 42 },
		       empty[] = { 0 }, short_hdr[] = { 43 }, rst_payload[] = { 44, 5 };
	struct vs_hdr req = pv_hdr(&v, VS_CID_HOST, 0, 5000, VS_OP_REQUEST), h;
	uint32_t want = 0; /* bit k: packet k must be answered with RST */

	h = req, h.op = VS_OP_RW, h.len = 1000;
	packet(0, h, payload, 2, 0), want |= 1u << 0; /* len beyond the chain */
	h = req, h.op = VS_OP_RW, h.len = 0x10000000;
	packet(1, h, payload, 2, 0), want |= 1u << 1; /* len over 64 KiB */
	packet(2, req, split, 2, 0), want |= 1u << 2; /* split header: valid, refused */
	h = req, h.type = 2;
	packet(3, h, whole, 1, 0), want |= 1u << 3; /* SEQPACKET */
	h = req, h.type = 0x7777;
	packet(4, h, whole, 1, 0), want |= 1u << 4;
	h = req, h.op = 99;
	packet(5, h, whole, 1, 0), want |= 1u << 5;
	h = req, h.op = 0;
	packet(6, h, whole, 1, 0), want |= 1u << 6; /* OP_INVALID */
	h = req, h.src_cid = 0x1234;
	packet(7, h, whole, 1, 0); /* spoofed source: dropped */
	h = req, h.src_cid = VS_CID_HOST;
	packet(8, h, whole, 1, 0);
	h = req, h.dst_cid = v.cid;
	packet(9, h, whole, 1, 0); /* to itself */
	h = req, h.dst_cid = 1;
	packet(10, h, whole, 1, 0); /* reserved CID */
	h = req, h.dst_cid = 1ull << 32 | VS_CID_HOST;
	packet(11, h, whole, 1, 0); /* reserved upper bits */
	h = req, h.dst_cid = other;
	packet(12, h, whole, 1, 0), want |= 1u << 12; /* the other VM, no channel: refused */
	packet(13, req, empty, 1, 0); /* zero-length chain */
	packet(14, req, short_hdr, 1, 0); /* one byte short of a header */
	packet(15, req, whole, 1, VQ_F_WRITE); /* device-writable */
	h = req, h.op = VS_OP_RST, h.len = 5;
	packet(16, h, rst_payload, 2, 0); /* RST with a payload: dropped, never answered */
	h = req, h.op = VS_OP_CREDIT_REQUEST, h.len = 8;
	packet(17, h, payload, 2, 0), want |= 1u << 17; /* a control packet with a payload */
	packet(18, req, whole, 1, 0), want |= 1u << 18; /* valid, no channel: refused */
	packet(19, req, split3, 3, 0), want |= 1u << 19;
	/* 20: 65 descriptors of one byte (moat takes at most 64); 21: a loop of two. */
	h = req, h.src_port = 1020;
	memcpy(bytes[20], &h, sizeof(h));
	uint32_t ones[65];
	for (int i = 0; i < 65; i++)
		ones[i] = i < 44 ? 1 : 0;
	send_chain(128, ones, 65, 0, 20);
	h.src_port = 1021;
	memcpy(bytes[21], &h, sizeof(h));
	v.tx.desc[84] = (struct vq_desc){ (uint64_t)(uintptr_t)bytes[21], 22, VQ_F_NEXT, 85 };
	v.tx.desc[85] = (struct vq_desc){ (uint64_t)(uintptr_t)bytes[21] + 22, 22, VQ_F_NEXT, 84 };
	hx_publish(v.base, 1, &v.tx, 84);
	v.tx_sent++;

	bool ok = rt_check(pv_tx_reap(&v, HX_WAIT), "every transmit chain came back");
	uint32_t got = 0, stray = 0;
	struct vs_hdr r;
	while (pv_recv(&v, HX_WAIT, &r)) {
		uint32_t k = r.dst_port - 1000;
		if (r.op == VS_OP_RST && r.dst_cid == v.cid && r.len == 0 && k < 32)
			got |= 1u << k;
		else
			stray++;
	}
	hx_note("RST for packets (bit mask)", got);
	hx_note("expected (bit mask)", want);
	hx_note("other packets received", stray);
	ok = rt_check(got == want && stray == 0, "RST for exactly the packets it understood and refused") && ok;
	ok = rt_check(!hx_needs_reset(v.base), "the device did not ask for a reset") && ok;
	req.src_port = 2000;
	pv_send(&v, &req); /* the device still answers */
	ok = rt_check(pv_recv(&v, HX_WAIT, &r) && r.op == VS_OP_RST && r.dst_port == req.src_port,
		      "a valid REQUEST afterwards is still answered with RST") && ok;
	hx_verdict(ok, "malformed vsock packets are dropped or reset; the device works on");
}
