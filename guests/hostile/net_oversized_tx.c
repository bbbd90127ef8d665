/* net_oversized_tx: transmit chains a NIC could never send: a frame one byte over 65535 + the
 * Ethernet header and FCS, 1 MiB over 16 descriptors, a descriptor of 4 GiB - 1, 64 and 65
 * descriptors of 16 bytes, a runt, a device-writable buffer, a header split over three
 * descriptors, and headers with bogus offloads: NEEDS_CSUM without VIRTIO_NET_F_CSUM, an
 * unknown gso_type, TCPv4 segmentation not negotiated, ECN alone; then, with CSUM and
 * HOST_TSO4 negotiated: no gso_size, segmentation without NEEDS_CSUM, hdr_len past the frame,
 * the checksum field past the frame, and a TCPv4 GSO frame of garbage with gso_size 1 (which
 * passes moat's checks and reaches the host's tap, whose kernel must refuse or segment it).
 * Sources: virtio 1.2 §5.1.6.2 (the driver's rules for the header), the class of
 * CVE-2024-43817/CVE-2023-6176-style virtio_net_hdr_to_skb bugs in the host kernel and of
 * CVE-2021-3748 (QEMU virtio-net). moat (src/virtio/net/header.cpp check_tx, net_device.cpp
 * transmit) drops and counts what it must not send (its counters go to the log at exit).
 * Expected: every chain comes back with length 0, no reset, and a valid frame after all. */
#include "platform.h"

static struct pnet n;
static bool back = true; /* every chain came back with length 0 */
static uint8_t big[(1u << 20) + 4096] __attribute__((aligned(4096)));

static void frame(struct net_hdr h, uint32_t payload, const uint32_t *lens, int count, uint16_t flags)
{
	pn_frame(big, n.mac, payload);
	memcpy(big, &h, sizeof(h));
	pn_send(&n, (uint16_t)(n.tx_sent % 2 ? 128 : 0), big, lens, count, flags);
	back = pn_tx_reap(&n, HX_WAIT) && back; /* one at a time: its descriptors are used again */
}

static void one(struct net_hdr h, uint32_t payload)
{
	uint32_t len = 12 + 14 + payload;
	frame(h, payload, &len, 1, 0);
}

void guest_main(uint64_t zero_page)
{
	rt_print("moat hostile suite: net_oversized_tx\n");
	if (!pn_open(zero_page, &n, 0))
		hx_verdict(false, "no network device to attack");
	const struct net_hdr none = { 0 };
	struct net_hdr h;
	one(none, 65535 + 4 + 1);                  /* one byte over the largest frame */
	uint32_t lens[65];
	for (int i = 0; i < 16; i++)
		lens[i] = 65536;
	frame(none, 1000, lens, 16, 0);            /* 1 MiB */
	lens[0] = 0xffffffff;
	frame(none, 100, lens, 1, 0);              /* 4 GiB - 1 in one descriptor */
	for (int i = 0; i < 65; i++)
		lens[i] = 16;
	frame(none, 64 * 16, lens, 64, 0);         /* 64 descriptors: moat's limit, sent */
	frame(none, 65 * 16, lens, 65, 0);         /* 65: dropped */
	one(none, 0);                              /* header and Ethernet header only: sent */
	lens[0] = 12 + 10;
	frame(none, 0, lens, 1, 0);                /* a runt */
	lens[0] = 12 + 14 + 60;
	frame(none, 60, lens, 1, VQ_F_WRITE);      /* device-writable */
	lens[0] = 5, lens[1] = 5, lens[2] = 2 + 14 + 60;
	frame(none, 60, lens, 3, 0);               /* header over three descriptors: sent */
	h = none, h.flags = NET_HDR_F_NEEDS_CSUM, h.csum_start = 14, h.csum_offset = 16;
	one(h, 60);                                /* CSUM not negotiated */
	h = none, h.gso_type = 0x42;
	one(h, 60);
	h = none, h.gso_type = NET_GSO_TCPV4, h.gso_size = 100;
	one(h, 1400);                              /* TSO4 not negotiated */
	h = none, h.gso_type = NET_GSO_ECN;
	one(h, 60);
	bool ok = rt_check(n.tx_used == n.tx_sent && !hx_needs_reset(n.base),
			   "13 bad and good chains came back, no reset");

	if (!pn_open(zero_page, &n, BIT(NET_F_CSUM) | BIT(NET_F_HOST_TSO4)))
		hx_verdict(false, "the device refused CSUM and HOST_TSO4");
	const struct net_hdr tso = { NET_HDR_F_NEEDS_CSUM, NET_GSO_TCPV4, 54, 1000, 34, 16, 0 };
	h = tso, h.gso_size = 0;
	one(h, 1400);
	h = tso, h.flags = 0;
	one(h, 1400);
	h = tso, h.hdr_len = 0xffff;
	one(h, 1400);
	h = none, h.flags = NET_HDR_F_NEEDS_CSUM, h.csum_start = 0xffff, h.csum_offset = 0xffff;
	one(h, 60);
	h = tso, h.gso_size = 1;
	one(h, 1400);                              /* garbage TCP, 1-byte segments: to the tap */
	one(none, 60);                             /* a valid frame */
	ok = rt_check(n.tx_used == n.tx_sent && !hx_needs_reset(n.base),
		      "offload headers: every chain came back, no reset") && ok;
	ok = rt_check(back, "every used element has length 0 (the device writes nothing)") && ok;
	hx_note("transmit chains returned", n.tx_used);
	hx_verdict(ok, "oversized and malformed frames are dropped; the device works on");
}
