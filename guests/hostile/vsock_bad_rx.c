/* vsock_bad_rx: receive buffers the device cannot use, in the order it takes them: a
 * device-readable one, one shorter than a header, one outside RAM, one straddling the end of
 * RAM, a zero-length one, then a header split over two descriptors and a plain one; four RSTs
 * are owed (REQUESTs without a channel). Source: virtio 1.2 §5.10.6.1 ("the driver SHOULD make
 * the receive virtqueue entries ... large enough"), §2.7.4 (device-writable buffers); the class
 * of CVE-2019-14835 (vhost guest-controlled buffer lengths). moat returns an unusable buffer
 * empty, and a buffer it cannot write into whole returns empty and loses its packet
 * (src/virtio/vsock/vsock_device.cpp take_rx, put_rx); guest memory is checked over the whole
 * range before any byte is written. Expected: the seven used elements in order, the first five
 * with length 0, the last two RSTs of 44 bytes (for the third and fourth REQUESTs), RAM's part
 * of the straddling buffer untouched, no reset. */
#include "platform.h"

static struct pvs v;
static uint8_t bad[5][64] __attribute__((aligned(64)));

void guest_main(uint64_t zero_page)
{
	rt_print("moat hostile suite: vsock_bad_rx\n");
	if (!pv_open(zero_page, &v, 0))
		hx_verdict(false, "no vsock device to attack");
	uint64_t edge = hx_ram_end(zero_page) - 20;
	memset((void *)(uintptr_t)edge, 0xaa, 20);
	const struct vq_desc d[] = {
		{ (uint64_t)(uintptr_t)bad[0], 64, 0, 0 },           /* device-readable */
		{ (uint64_t)(uintptr_t)bad[1], 20, VQ_F_WRITE, 0 },  /* shorter than a header */
		{ 0x1000000000ull, 64, VQ_F_WRITE, 0 },              /* outside RAM */
		{ edge, 64, VQ_F_WRITE, 0 },                         /* across the end of RAM */
		{ (uint64_t)(uintptr_t)bad[2], 0, VQ_F_WRITE, 0 },   /* zero length */
		{ (uint64_t)(uintptr_t)bad[3], 10, VQ_F_WRITE | VQ_F_NEXT, 6 }, /* split: 10 + 54 */
		{ (uint64_t)(uintptr_t)bad[3] + 10, 54, VQ_F_WRITE, 0 },
		{ (uint64_t)(uintptr_t)bad[4], 64, VQ_F_WRITE, 0 },
	};
	for (uint16_t i = 0; i < 8; i++)
		v.rx.desc[i] = d[i];
	static const uint16_t heads[] = { 0, 1, 2, 3, 4, 5, 7 };
	for (int i = 0; i < 7; i++)
		hx_publish(v.base, 0, &v.rx, heads[i]);
	for (uint32_t i = 0; i < 4; i++) {
		struct vs_hdr h = pv_hdr(&v, VS_CID_HOST, 6000 + i, 80, VS_OP_REQUEST);
		pv_send(&v, &h);
	}
	bool ok = rt_check(pv_tx_reap(&v, HX_WAIT), "the four REQUESTs came back");
	static const uint32_t want_len[] = { 0, 0, 0, 0, 0, 44, 44 };
	bool order = true;
	for (int i = 0; i < 7; i++) {
		struct vq_used_elem e;
		bool got = hx_wait_used(&v.rx, HX_WAIT, &e);
		hx_note("used receive buffer", got ? e.id : 999);
		hx_note("  its length", got ? e.len : 999);
		order = order && got && e.id == heads[i] && e.len == want_len[i];
	}
	ok = rt_check(order, "unusable buffers came back empty, in order; the last two hold RSTs") && ok;
	struct vs_hdr a, b;
	memcpy(&a, bad[3], sizeof(a));
	memcpy(&b, bad[4], sizeof(b));
	ok = rt_check(a.op == VS_OP_RST && a.dst_port == 6002 && b.op == VS_OP_RST && b.dst_port == 6003,
		      "the RSTs for the first two REQUESTs were lost with their buffers") && ok;
	ok = rt_check(pf_count_not((const uint8_t *)(uintptr_t)edge, 20, 0xaa) == 0,
		      "RAM's part of the straddling buffer is untouched") && ok;
	ok = rt_check(!hx_needs_reset(v.base), "the device did not ask for a reset") && ok;
	hx_verdict(ok, "unusable receive buffers come back empty; nothing written outside a whole buffer");
}
