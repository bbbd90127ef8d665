/* net_host_silent: the guest alone on its network (no other VM, no host address, no uplink)
 * posts receive buffers, sends nothing, and listens. Whatever arrives comes from the host
 * itself. src/monitor/networks.cpp and the README ("Networks") say the bridge carries no IPv6
 * and that without a `host` address the host does not answer on it at all: a listener learns
 * nothing of the host. Source: RFC 4862 §5.4 (duplicate address detection) and RFC 3810
 * (MLDv2 reports), which a host's IPv6 stack sends on every interface it brings up; RFC 4286
 * (multicast router discovery, which a snooping Linux bridge joins over IGMP); the
 * class of host information leaks onto tenant networks. Expected: no frame at all within the
 * listening time; each one that comes is printed (source MAC, EtherType, first bytes). */
#include "platform.h"

static struct pnet n;
static uint8_t rxbuf[PN_RX][2048] __attribute__((aligned(64)));

void guest_main(uint64_t zero_page)
{
	rt_print("moat hostile suite: net_host_silent\n");
	if (!pn_open(zero_page, &n, 0))
		hx_verdict(false, "no network device");
	for (uint16_t i = 0; i < PN_RX; i++) {
		n.rx.desc[i] = (struct vq_desc){ (uint64_t)(uintptr_t)rxbuf[i], sizeof(rxbuf[i]), VQ_F_WRITE, 0 };
		hx_publish(n.base, 0, &n.rx, i);
	}
	uint32_t frames = 0;
	struct vq_used_elem e;
	for (int round = 0; round < 20; round++) { /* 20 waits of HX_WAIT pauses: several seconds */
		while (hx_wait_used(&n.rx, HX_WAIT, &e) && e.id < PN_RX) {
			const uint8_t *f = rxbuf[e.id] + sizeof(struct net_hdr);
			frames++;
			rt_print("from ");
			for (int b = 6; b < 12; b++)
				rt_print_hex(f[b]), rt_putc(b < 11 ? ':' : ' ');
			rt_print("EtherType ");
			rt_print_hex((uint64_t)f[12] << 8 | f[13]);
			rt_print(":");
			for (int b = 14; b < 54 && b < (int)e.len - 12; b++)
				rt_putc(' '), rt_print_hex(f[b]);
			rt_putc('\n');
			n.rx.desc[e.id].len = sizeof(rxbuf[0]);
			hx_publish(n.base, 0, &n.rx, (uint16_t)e.id);
		}
	}
	hx_note("frames from the host", frames);
	bool ok = rt_check(frames == 0, "the host sends nothing on a network without a host address");
	ok = rt_check(!hx_needs_reset(n.base), "the device did not ask for a reset") && ok;
	hx_verdict(ok, "a listener on a network learns nothing from the host");
}
