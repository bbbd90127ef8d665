/* net_spoof_mac: frames whose source MAC is not the one in the device's config space: the
 * other VM's kind of address (02:6d:...), broadcast, zero, multicast, the own address with one
 * bit flipped, the own address cut across two descriptors (valid), and the MAC itself
 * rewritten through the config space first (legacy drivers set it so). Sources: virtio 1.2
 * §5.1.4 (the mac field is the device's), the class of ARP/MAC spoofing between tenants on a
 * shared bridge (and QEMU's missing source check, which needs ebtables). moat fixes the MAC in
 * the monitor, ignores config writes, and drops and counts a frame from another source
 * (src/virtio/net/net_device.cpp transmit, a rate-limited warning) as a guest fault, audited
 * (vm.device_fault); the guest sees only that the config MAC stayed and every chain came back.
 * Expected: that, and no reset; the audit log counts the dropped frames. */
#include "platform.h"

static struct pnet n;
static uint8_t buf[4][256] __attribute__((aligned(64)));

static void send_from(const uint8_t src[6], int split)
{
	uint16_t slot = (uint16_t)(n.tx_sent % 64 * 2);
	uint8_t *at = buf[n.tx_sent % 4];
	pn_frame(at, src, 60);
	uint32_t lens[2] = { split ? 12 + 9 : 12 + 14 + 60, 5 + 60 };
	pn_send(&n, slot, at, lens, split ? 2 : 1, 0);
}

void guest_main(uint64_t zero_page)
{
	rt_print("moat hostile suite: net_spoof_mac\n");
	if (!pn_open(zero_page, &n, 0))
		hx_verdict(false, "no network device to attack");
	uint8_t mac[6], now[6];
	memcpy(mac, n.mac, 6);
	rt_print("the device's MAC: ");
	for (int i = 0; i < 6; i++)
		rt_print_hex(mac[i]), rt_putc(i < 5 ? ':' : '\n');
	for (int i = 0; i < 6; i++) /* a legacy driver's MAC change, byte by byte and wide */
		*(volatile uint8_t *)(uintptr_t)(n.base + VM_CONFIG + (uint64_t)i) = (uint8_t)(0x10 + i);
	hx_w(n.base, VM_CONFIG, 0x33221102);
	pn_mac(n.base, now);
	bool ok = rt_check(memcmp(now, mac, 6) == 0, "the config space's MAC cannot be rewritten");

	const uint8_t other[6] = { 0x02, 0x6d, 0x00, 0x00, 0x00, 0x01 }, bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff },
		      zero[6] = { 0 }, mcast[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 };
	uint8_t flipped[6];
	memcpy(flipped, mac, 6);
	flipped[5] ^= 1;
	const uint8_t *spoofs[] = { other, bcast, zero, mcast, flipped };
	bool back = true;
	for (int round = 0; round < 200; round++) {
		send_from(spoofs[round % 5], 0);
		if (round % 50 == 0)
			send_from(mac, 1); /* the own MAC, cut across two descriptors: sent */
		back = pn_tx_reap(&n, HX_WAIT) && back;
	}
	hx_note("frames sent", n.tx_sent);
	ok = rt_check(back, "every chain came back with length 0") && ok;
	ok = rt_check(!hx_needs_reset(n.base), "the device did not ask for a reset") && ok;
	pn_mac(n.base, now);
	ok = rt_check(memcmp(now, mac, 6) == 0, "the MAC is still the monitor's") && ok;
	hx_verdict(ok, "frames from another source MAC are dropped; the MAC stays the monitor's");
}
