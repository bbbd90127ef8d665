/* Helpers for the platform family of hostile cases (tests/hostile/cases-platform): wider port
 * and MMIO accesses, MSRs and CPUID, checks that the serial port and a virtio device still
 * answer, a polled virtio-vsock driver (virtio 1.2 §5.10), a virtio-net one (§5.1) and the
 * start of a second vCPU. Header-only: each .c file here is a guest of its own. */
#ifndef MOAT_GUESTS_HOSTILE_PLATFORM_H
#define MOAT_GUESTS_HOSTILE_PLATFORM_H

#include "hostile.h"

static inline void outw(uint16_t port, uint16_t v) { __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }
static inline uint16_t inw(uint16_t port)
{
	uint16_t v;
	__asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}
static inline uint32_t inl(uint16_t port)
{
	uint32_t v;
	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline void wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}

/* r[0..3] = eax, ebx, ecx, edx of CPUID(leaf, sub). */
static inline void pf_cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	__asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}

/* The 16550's scratch register keeps what is written, and LSR says the transmitter is empty:
 * the serial port still answers. */
static inline bool pf_serial_ok(void)
{
	outb(COM1_PORT + 7, 0x5a);
	bool scr = inb(COM1_PORT + 7) == 0x5a;
	outb(COM1_PORT + 7, 0xa5);
	scr = scr && inb(COM1_PORT + 7) == 0xa5;
	return rt_check(scr && (inb(COM1_PORT + 5) & 0x60) == 0x60, "the serial port still answers");
}

/* The disk's virtio-mmio registers still read as a virtio 1.x block device. */
static inline bool pf_virtio_ok(uint64_t zero_page)
{
	uint64_t base = hx_find(zero_page, VIRTIO_ID_BLOCK);
	return rt_check(base && hx_r(base, VM_MAGIC) == VIRTIO_MAGIC_VALUE && hx_r(base, VM_VERSION) == 2 &&
				hx_r(base, VM_DEVICE_ID) == VIRTIO_ID_BLOCK,
			"the disk's virtio registers still answer");
}

/* How many of the n bytes at p differ from v. */
static inline uint64_t pf_count_not(const volatile uint8_t *p, uint64_t n, uint8_t v)
{
	uint64_t bad = 0;
	for (uint64_t i = 0; i < n; i++)
		bad += p[i] != v;
	return bad;
}

/* --- virtio-vsock, polled (§5.10): rx queue 0, tx queue 1, event queue 2 ------------------- */
#define VS_TYPE_STREAM 1
#define VS_OP_REQUEST 1
#define VS_OP_RESPONSE 2
#define VS_OP_RST 3
#define VS_OP_RW 5
#define VS_OP_CREDIT_UPDATE 6
#define VS_OP_CREDIT_REQUEST 7
#define VS_CID_HOST 2
#define VS_RX 64     /* receive buffers, one descriptor each */
#define VS_RX_LEN 64 /* a header and a little room */
#define VS_TX 256

/* §5.10.6: struct virtio_vsock_hdr, packed, 44 bytes. */
struct vs_hdr {
	uint64_t src_cid;   /* offset 0 */
	uint64_t dst_cid;   /* offset 8 */
	uint32_t src_port;  /* offset 16 */
	uint32_t dst_port;  /* offset 20 */
	uint32_t len;       /* offset 24 */
	uint16_t type;      /* offset 28 */
	uint16_t op;        /* offset 30 */
	uint32_t flags;     /* offset 32 */
	uint32_t buf_alloc; /* offset 36 */
	uint32_t fwd_cnt;   /* offset 40 */
} __attribute__((packed));
_Static_assert(sizeof(struct vs_hdr) == 44, "virtio_vsock_hdr is 44 bytes");

/* A queue's three parts in one caller's block (size <= 256): the descriptor table, the avail
 * ring and the used ring a page apart each (§2.7: alignments 16, 2 and 4). */
#define PF_RING_BYTES (3 * 4096)
static inline void pf_queue(struct hq *q, uint8_t *mem, uint16_t size)
{
	memset(mem, 0, PF_RING_BYTES);
	*q = (struct hq){ size, (struct vq_desc *)mem, (volatile uint16_t *)(mem + 4096),
			  (volatile uint16_t *)(mem + 8192), 0 };
}

struct pvs {
	uint8_t ring[3][PF_RING_BYTES] __attribute__((aligned(4096)));
	uint8_t rxbuf[VS_RX][VS_RX_LEN] __attribute__((aligned(64)));
	struct vs_hdr txhdr[VS_TX]; /* one header slot per transmit descriptor */
	uint64_t base, cid;
	struct hq rx, tx, ev;
	uint64_t tx_sent, tx_used; /* chains published and returned on the transmit queue */
};

static inline void pv_post_rx(struct pvs *v, uint16_t i)
{
	v->rx.desc[i] = (struct vq_desc){ (uint64_t)(uintptr_t)v->rxbuf[i], VS_RX_LEN, VQ_F_WRITE, 0 };
	hx_publish(v->base, 0, &v->rx, i);
}

/* Finds the vsock device, negotiates VERSION_1, sets up the three queues and DRIVER_OK; posts
 * `rx_posted` receive buffers. Prints what fails. */
static inline bool pv_open(uint64_t zero_page, struct pvs *v, uint16_t rx_posted)
{
	v->tx_sent = v->tx_used = 0;
	v->base = hx_find(zero_page, VIRTIO_ID_VSOCK);
	if (!v->base || !hx_negotiate(v->base, BIT(F_VERSION_1)))
		return rt_check(false, "vsock device found and VERSION_1 accepted");
	v->cid = hx_r(v->base, VM_CONFIG) | (uint64_t)hx_r(v->base, VM_CONFIG + 4) << 32;
	pf_queue(&v->rx, v->ring[0], VS_RX);
	pf_queue(&v->tx, v->ring[1], VS_TX);
	pf_queue(&v->ev, v->ring[2], 8);
	bool ok = hx_queue_setup(v->base, 0, &v->rx) && hx_queue_setup(v->base, 1, &v->tx) &&
		  hx_queue_setup(v->base, 2, &v->ev) && hx_driver_ok(v->base);
	for (uint16_t i = 0; ok && i < rx_posted; i++)
		pv_post_rx(v, i);
	hx_note("vsock guest CID", v->cid);
	return rt_check(ok && v->cid >= 3, "vsock queues set up, DRIVER_OK");
}

static inline struct vs_hdr pv_hdr(const struct pvs *v, uint64_t dst_cid, uint32_t src_port, uint32_t dst_port,
				   uint16_t op)
{
	return (struct vs_hdr){ .src_cid = v->cid, .dst_cid = dst_cid, .src_port = src_port, .dst_port = dst_port,
				.type = VS_TYPE_STREAM, .op = op, .buf_alloc = 65536 };
}

/* Collects returned transmit chains; true when all sent came back within `spins`. */
static inline bool pv_tx_reap(struct pvs *v, uint64_t spins)
{
	struct vq_used_elem e;
	while (v->tx_used < v->tx_sent && hx_wait_used(&v->tx, spins, &e))
		v->tx_used++;
	return v->tx_used == v->tx_sent;
}

/* Transmits one header-only packet (waits for a free slot first). Returns false when the device
 * holds every descriptor and returns none. */
static inline bool pv_send(struct pvs *v, const struct vs_hdr *h)
{
	if (v->tx_sent - v->tx_used == VS_TX) {
		struct vq_used_elem e;
		if (!hx_wait_used(&v->tx, HX_WAIT, &e))
			return false;
		v->tx_used++;
	}
	uint16_t slot = (uint16_t)(v->tx_sent % VS_TX);
	v->txhdr[slot] = *h;
	v->tx.desc[slot] = (struct vq_desc){ (uint64_t)(uintptr_t)&v->txhdr[slot], sizeof(*h), 0, 0 };
	hx_publish(v->base, 1, &v->tx, slot);
	v->tx_sent++;
	return true;
}

/* Takes the next received packet's header (waits `spins`), and posts its buffer again. */
static inline bool pv_recv(struct pvs *v, uint64_t spins, struct vs_hdr *out)
{
	struct vq_used_elem e;
	if (!hx_wait_used(&v->rx, spins, &e) || e.id >= VS_RX)
		return false;
	memcpy(out, v->rxbuf[e.id], sizeof(*out));
	pv_post_rx(v, (uint16_t)e.id);
	return true;
}

/* --- virtio-net, polled (§5.1): rx queue 0, tx queue 1 --------------------------------------- */
#define NET_F_CSUM 0
#define NET_F_MAC 5
#define NET_F_HOST_TSO4 11
#define NET_HDR_F_NEEDS_CSUM 1
#define NET_GSO_TCPV4 1
#define NET_GSO_ECN 0x80
#define PN_RX 16
#define PN_TX 256

/* §5.1.6: struct virtio_net_hdr, with num_buffers (VERSION_1): 12 bytes. */
struct net_hdr {
	uint8_t flags;        /* offset 0 */
	uint8_t gso_type;     /* offset 1 */
	uint16_t hdr_len;     /* offset 2 */
	uint16_t gso_size;    /* offset 4 */
	uint16_t csum_start;  /* offset 6 */
	uint16_t csum_offset; /* offset 8 */
	uint16_t num_buffers; /* offset 10 */
};
_Static_assert(sizeof(struct net_hdr) == 12, "virtio_net_hdr is 12 bytes");

struct pnet {
	uint8_t ring[2][PF_RING_BYTES] __attribute__((aligned(4096)));
	uint64_t base;
	uint8_t mac[6];
	struct hq rx, tx;
	uint64_t tx_sent, tx_used;
};

static inline void pn_mac(uint64_t base, uint8_t mac[6])
{
	for (int i = 0; i < 6; i++)
		mac[i] = *(volatile uint8_t *)(uintptr_t)(base + VM_CONFIG + (uint64_t)i);
}

/* Finds the network device, negotiates VERSION_1, MAC and `extra`, sets up both queues (no
 * receive buffer posted) and DRIVER_OK. Prints what fails. */
static inline bool pn_open(uint64_t zero_page, struct pnet *n, uint64_t extra)
{
	n->tx_sent = n->tx_used = 0;
	n->base = hx_find(zero_page, VIRTIO_ID_NET);
	if (!n->base || !hx_negotiate(n->base, BIT(F_VERSION_1) | BIT(NET_F_MAC) | extra))
		return rt_check(false, "network device found and its features accepted");
	pn_mac(n->base, n->mac);
	pf_queue(&n->rx, n->ring[0], PN_RX);
	pf_queue(&n->tx, n->ring[1], PN_TX);
	return rt_check(hx_queue_setup(n->base, 0, &n->rx) && hx_queue_setup(n->base, 1, &n->tx) &&
				hx_driver_ok(n->base),
			"network queues set up, DRIVER_OK");
}

/* Publishes a transmit chain of `count` descriptors at indices first.., each `lens[i]` bytes
 * of `from` in turn, all with `flags`. */
static inline void pn_send(struct pnet *n, uint16_t first, const uint8_t *from, const uint32_t *lens, int count,
			   uint16_t flags)
{
	for (int i = 0; i < count; i++) {
		uint16_t f = (uint16_t)(flags | (i + 1 < count ? VQ_F_NEXT : 0));
		n->tx.desc[first + i] = (struct vq_desc){ (uint64_t)(uintptr_t)from, lens[i], f, (uint16_t)(first + i + 1) };
		from += lens[i];
	}
	hx_publish(n->base, 1, &n->tx, first);
	n->tx_sent++;
}

/* Collects returned transmit chains; true when all came back (each with length 0) in time. */
static inline bool pn_tx_reap(struct pnet *n, uint64_t spins)
{
	struct vq_used_elem e;
	bool zero = true;
	while (n->tx_used < n->tx_sent && hx_wait_used(&n->tx, spins, &e))
		n->tx_used++, zero = zero && e.len == 0;
	return n->tx_used == n->tx_sent && zero;
}

/* A broadcast Ethernet frame from `src` (EtherType 0x88b5, local experimental) after a zeroed
 * virtio-net header: hdr + 14 + payload bytes at `at`. */
static inline void pn_frame(uint8_t *at, const uint8_t src[6], uint32_t payload)
{
	memset(at, 0, sizeof(struct net_hdr));
	memset(at + 12, 0xff, 6);
	memcpy(at + 18, src, 6);
	at[24] = 0x88, at[25] = 0xb5;
	for (uint32_t i = 0; i < payload; i++)
		at[26 + i] = (uint8_t)i;
}

/* --- a second vCPU (APIC id 1), as guests/smp.c starts one ---------------------------------- */
#ifdef PF_SMP
/* The case defines this; the AP runs it in long mode on its own stack, with the runtime's IDT. */
void pf_ap_main(void);

/* The AP's path from real mode at 0x1000 to long mode: guests/smp_trampoline.S in short (Intel
 * SDM Vol. 3A §9.4, §9.8.5). */
__asm__("	.text\n"
	"	.code16\n"
	"pf_tramp_start:\n"
	"	cli\n"
	"	cld\n"
	"	mov %cs, %ax\n"
	"	mov %ax, %ds\n"
	"	lgdtl pf_tramp_gdtr - pf_tramp_start\n"
	"	mov %cr0, %eax\n"
	"	or $1, %eax\n"
	"	mov %eax, %cr0\n"
	"	ljmpl $0x08, $(0x1000 + pf_tramp_32 - pf_tramp_start)\n"
	"	.code32\n"
	"pf_tramp_32:\n"
	"	mov $0x18, %ax\n"
	"	mov %ax, %ds\n"
	"	mov %ax, %es\n"
	"	mov %ax, %ss\n"
	"	mov %cr4, %eax\n"
	"	or $0x20, %eax\n"
	"	mov %eax, %cr4\n"
	"	mov (0x1000 + pf_tramp_cr3 - pf_tramp_start), %eax\n"
	"	mov %eax, %cr3\n"
	"	mov $0xc0000080, %ecx\n"
	"	rdmsr\n"
	"	or $0x100, %eax\n"
	"	wrmsr\n"
	"	mov %cr0, %eax\n"
	"	or $0x80000000, %eax\n"
	"	mov %eax, %cr0\n"
	"	ljmp $0x10, $(0x1000 + pf_tramp_64 - pf_tramp_start)\n"
	"	.code64\n"
	"pf_tramp_64:\n"
	"	mov $pf_ap_entry, %eax\n"
	"	jmp *%rax\n"
	"	.balign 8\n"
	"pf_tramp_gdt:\n"
	"	.quad 0, 0x00cf9a000000ffff, 0x00af9a000000ffff, 0x00cf92000000ffff\n"
	"pf_tramp_gdtr:\n"
	"	.word pf_tramp_gdtr - pf_tramp_gdt - 1\n"
	"	.long 0x1000 + pf_tramp_gdt - pf_tramp_start\n"
	"pf_tramp_cr3:\n"
	"	.long 0\n"
	"pf_tramp_end:\n"
	"pf_ap_entry:\n"
	"	lea pf_ap_stack_top(%rip), %rsp\n"
	"	call pf_ap_main\n"
	"1:	cli\n"
	"	hlt\n"
	"	jmp 1b\n"
	"	.bss\n"
	"	.balign 16\n"
	"	.skip 8192\n"
	"pf_ap_stack_top:\n"
	"	.text\n");
extern const char pf_tramp_start[], pf_tramp_end[], pf_tramp_cr3[];

static inline bool pf_ipi(uint32_t command)
{
	mmio_write32(LAPIC_BASE + 0x310, 1u << 24); /* ICR high: APIC id 1 */
	mmio_write32(LAPIC_BASE + 0x300, command);
	for (int i = 0; i < 1000000; i++)
		if (!(mmio_read32(LAPIC_BASE + 0x300) & (1u << 12))) /* delivery status */
			return true;
	return false;
}

/* Copies the trampoline to 0x1000 and sends INIT, INIT de-assert, STARTUP, STARTUP (SDM
 * §9.4.4.1) to APIC id 1. Whether the IPIs went out; the AP says itself that it runs. */
static inline bool pf_start_ap(void)
{
	memcpy((void *)0x1000, pf_tramp_start, (size_t)(pf_tramp_end - pf_tramp_start));
	uint64_t cr3;
	__asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
	uint32_t cr3_low = (uint32_t)cr3;
	memcpy((void *)(uintptr_t)(0x1000 + (pf_tramp_cr3 - pf_tramp_start)), &cr3_low, sizeof(cr3_low));
	barrier();
	mmio_write32(LAPIC_BASE + 0xf0, mmio_read32(LAPIC_BASE + 0xf0) | 0x1ff); /* SVR: APIC on */
	bool ok = pf_ipi(0xc500) && pf_ipi(0x8500); /* INIT, level assert / de-assert */
	rt_spin(100000);
	for (int i = 0; i < 2; i++) {
		ok = pf_ipi(0x600 | (0x1000 >> 12)) && ok; /* STARTUP, vector = the page */
		rt_spin(10000);
	}
	return ok;
}
#endif

#endif
