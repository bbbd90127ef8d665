/* net_never_reads: a driver that transmits as fast as it can and never reads: it posts four
 * receive buffers once and never again, then fills the transmit ring with broadcast frames
 * (1514 bytes each), tens of thousands, for the bridge to absorb. Sources: virtio 1.2 §5.1.6
 * (nothing obliges a driver to post receive buffers), the class of flooding a shared bridge
 * and of VMMs that buffer frames for a guest that does not take them (CVE-2015-7504/7512-style
 * unbounded receive paths). moat sends each frame to its tap at once (a full tap queue drops
 * it, counted) and keeps frames for the guest only in the host kernel's tap queue, never in
 * the VM process (src/virtio/net/net_device.cpp). Expected: every chain comes back, at most
 * the four buffers are ever used, no reset; the VM process's memory stays bounded (the
 * runner's RSS bound) and the sentinel runs on. */
#include "platform.h"

#define FRAMES 30000u
#define PAYLOAD 1500u

static struct pnet n;
static uint8_t frames[PN_TX][12 + 14 + PAYLOAD] __attribute__((aligned(64)));
static uint8_t rxbuf[4][2048] __attribute__((aligned(64)));

void guest_main(uint64_t zero_page)
{
	rt_print("moat hostile suite: net_never_reads\n");
	if (!pn_open(zero_page, &n, 0))
		hx_verdict(false, "no network device to attack");
	for (uint16_t i = 0; i < 4; i++) {
		n.rx.desc[i] = (struct vq_desc){ (uint64_t)(uintptr_t)rxbuf[i], sizeof(rxbuf[i]), VQ_F_WRITE, 0 };
		hx_publish(n.base, 0, &n.rx, i);
	}
	for (uint16_t i = 0; i < PN_TX; i++)
		pn_frame(frames[i], n.mac, PAYLOAD);
	const uint32_t len = sizeof(frames[0]);
	struct vq_used_elem e;
	bool zero = true;
	while (n.tx_sent < FRAMES) {
		while (hx_wait_used(&n.tx, 0, &e))
			n.tx_used++, zero = zero && e.len == 0;
		if (n.tx_sent - n.tx_used == PN_TX) {
			if (!hx_wait_used(&n.tx, HX_WAIT, &e))
				break;
			n.tx_used++, zero = zero && e.len == 0;
		}
		uint16_t slot = (uint16_t)(n.tx_sent % PN_TX);
		pn_send(&n, slot, frames[slot], &len, 1, 0);
	}
	bool all = pn_tx_reap(&n, HX_WAIT) && zero;
	hx_note("frames sent", n.tx_sent);
	hx_note("frames returned", n.tx_used);
	hx_note("receive buffers used", n.rx.used[1]);
	bool ok = rt_check(n.tx_sent == FRAMES && all, "every frame's chain came back with length 0");
	ok = rt_check(n.rx.used[1] <= 4, "no more receive buffers used than were posted") && ok;
	ok = rt_check(!hx_needs_reset(n.base), "the device did not ask for a reset") && ok;
	ok = pf_serial_ok() && ok;
	hx_verdict(ok, "a transmit flood that never reads is absorbed; memory bounded, no reset");
}
