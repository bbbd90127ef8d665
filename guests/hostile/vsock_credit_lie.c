/* vsock_credit_lie: credit lies and no receive buffers. The guest claims a 4 GiB receive
 * buffer with a forward count past it (a negative window) in REQUEST, CREDIT_UPDATE and
 * CREDIT_REQUEST, sends RW packets whose length its chain does not hold, and posts no receive
 * buffer at all, so every answer the device owes (an RST each: no channel, no connection) has
 * nowhere to go. Source: virtio 1.2 §5.10.6.3 (credit: buf_alloc, fwd_cnt, "the driver MUST
 * NOT ..."), the class of CVE-2021-26708 (vsock credit handling) and of device-side queues
 * that grow with a peer that never reads. moat keeps at most 256 owed control packets
 * (src/virtio/vsock/vsock_device.hpp k_max_control) and stops taking transmit chains until
 * the guest takes them. Expected: the device stops short of taking every packet (no unbounded
 * queue: the runner's RSS bound), answers every one once buffers come, never asks for a reset. */
#include "platform.h"

#define FIRST 400 /* more than the device may owe */

static struct pvs v;

static struct vs_hdr lie(uint32_t i)
{
	static const uint16_t ops[] = { VS_OP_REQUEST, VS_OP_CREDIT_UPDATE, VS_OP_CREDIT_REQUEST, VS_OP_RW };
	struct vs_hdr h = pv_hdr(&v, VS_CID_HOST, 3000 + i, 7000 + i % 7, ops[i % 4]);
	h.buf_alloc = 0xffffffff;
	h.fwd_cnt = 0x7fffffff + i; /* past the buffer: a negative window */
	if (h.op == VS_OP_RW)
		h.len = 1; /* a byte the chain does not hold */
	return h;
}

/* Sends without waiting; false when all VS_TX descriptors are held by the device. */
static bool try_send(uint32_t i)
{
	struct vq_used_elem e;
	while (hx_wait_used(&v.tx, 0, &e))
		v.tx_used++;
	if (v.tx_sent - v.tx_used == VS_TX)
		return false;
	struct vs_hdr h = lie(i);
	return pv_send(&v, &h);
}

void guest_main(uint64_t zero_page)
{
	rt_print("moat hostile suite: vsock_credit_lie\n");
	if (!pv_open(zero_page, &v, 0))
		hx_verdict(false, "no vsock device to attack");
	uint32_t sent = 0;
	while (sent < FIRST && try_send(sent))
		sent++;
	rt_spin(HX_WAIT);
	pv_tx_reap(&v, 100000);
	hx_note("packets sent with no receive buffer", sent);
	hx_note("packets the device took", v.tx_used);
	bool ok = rt_check(v.tx_used < FIRST && v.tx_used >= 64,
			   "with no receive buffer the device stops taking packets (bounded)");
	ok = rt_check(!hx_needs_reset(v.base), "the device did not ask for a reset") && ok;

	for (uint16_t i = 0; i < VS_RX; i++)
		pv_post_rx(&v, i);
	uint32_t rst = 0, other = 0, idle = 0;
	struct vs_hdr r;
	while (idle < 3) {
		if (sent < FIRST && try_send(sent))
			sent++;
		if (pv_recv(&v, sent < FIRST ? 1000 : HX_WAIT, &r)) {
			idle = 0;
			if (r.op == VS_OP_RST && r.dst_port >= 3000 && r.dst_port < 3000 + FIRST)
				rst++;
			else
				other++;
		} else if (sent == FIRST) {
			idle++;
		}
	}
	pv_tx_reap(&v, HX_WAIT);
	hx_note("packets sent", sent);
	hx_note("RST received", rst);
	hx_note("other packets received", other);
	ok = rt_check(sent == FIRST && v.tx_used == FIRST && rst == FIRST && other == 0,
		      "once buffers come, every packet is taken and answered with one RST") && ok;
	ok = rt_check(!hx_needs_reset(v.base), "the device did not ask for a reset") && ok;
	hx_verdict(ok, "credit lies without receive buffers: bounded, answered, no reset");
}
