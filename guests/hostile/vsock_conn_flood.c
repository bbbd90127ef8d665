/* vsock_conn_flood: thousands of connection requests, each from its own port, to the host and
 * to CIDs that are no VM's or are the other VM's, none with a channel in the manifest. Source:
 * virtio 1.2 §5.10.6.2 (REQUEST, answered by RESPONSE or RST); the class of SYN floods and of
 * VMMs that keep state, log or audit per refused connection (CVE-2019-3900-style host cost
 * driven by a guest). moat answers each with RST and keeps nothing; the VM process counts the
 * refusals and reports them at most once a second (src/vmm/monitor_link.cpp), audited as
 * vm.refused_connection with a count. Expected: one RST per REQUEST, no reset of the device,
 * and the disk still works afterwards. */
#include "platform.h"

#define REQUESTS 6000u

static struct pvs v;

void guest_main(uint64_t zero_page)
{
	rt_print("moat hostile suite: vsock_conn_flood\n");
	if (!pv_open(zero_page, &v, VS_RX))
		hx_verdict(false, "no vsock device to attack");
	const uint64_t cids[] = { VS_CID_HOST, v.cid == 3 ? 4 : 3, 5, 77, 0xfffffffe };
	uint32_t sent = 0, rst = 0, other = 0, idle = 0;
	struct vs_hdr r;
	struct vq_used_elem e;
	while (idle < 3) {
		while (hx_wait_used(&v.tx, 0, &e))
			v.tx_used++;
		if (sent < REQUESTS && v.tx_sent - v.tx_used < VS_TX) {
			struct vs_hdr h = pv_hdr(&v, cids[sent % 5], 20000 + sent, 1 + sent * 13 % 60000, VS_OP_REQUEST);
			pv_send(&v, &h);
			sent++;
		}
		if (pv_recv(&v, sent < REQUESTS ? 0 : HX_WAIT, &r)) {
			idle = 0;
			if (r.op == VS_OP_RST && r.dst_port >= 20000 && r.dst_port < 20000 + REQUESTS)
				rst++;
			else
				other++;
		} else if (sent == REQUESTS) {
			idle++;
		}
	}
	pv_tx_reap(&v, HX_WAIT);
	hx_note("REQUESTs sent", sent);
	hx_note("RST received", rst);
	hx_note("other packets received", other);
	bool ok = rt_check(v.tx_used == REQUESTS && rst == REQUESTS && other == 0, "every REQUEST answered by one RST");
	ok = rt_check(!hx_needs_reset(v.base), "the vsock device did not ask for a reset") && ok;
	ok = hx_blk_recovers(zero_page) && ok;
	ok = pf_serial_ok() && ok;
	hx_verdict(ok, "a flood of connection requests is refused one by one; the VM's devices work");
}
