/* The virtio-mmio transport's device status state machine, as src/virtio/mmio.cpp implements it
   (class MmioTransport), driven by a hostile driver and a failing device; checked exhaustively
   by models/run-spin, and kept in step with the C++ by models/check-drift.

   Each step of the driver or of the event thread is one C++ call made under the transport's
   locks (write_status takes m_io and m_regs, the other register writes m_regs, notify/poll/
   host_ready m_io), so each is one atomic step here and their interleavings are those of the
   C++. The driver may write any status value, any feature word through any selector, any queue
   register of any queue (or of a missing one) and QueueReady with any value, acknowledge any
   interrupt and notify any queue, at any time; the device may fail its activation, reject a
   queue's layout, and ask for a reset at any time.

   Drift tags (read by models/check-drift):
     #define NAME VALUE  / * = FILE [CPPNAME] * /   the C++ constant has this value
     #define NAME EXPR   / * in FILE FUNCTION * /    EXPR appears in FUNCTION's body
     / * models FILE FUNCTION FINGERPRINT * /        FUNCTION is unchanged since the model was
                                                     checked against it
     / * every PREFIX in FILE * /                     every C++ constant PREFIX... is #defined here
   BROKEN=n (spin -DBROKEN=n) plants bug n of the list at the end; run-spin expects each to fail. */

#ifndef BROKEN
#define BROKEN 0
#endif

/* ---- Constants ---------------------------------------------------------------------------- */

/* every VIRTIO_CONFIG_S_ in src/virtio/spec.hpp */
#define VIRTIO_CONFIG_S_ACKNOWLEDGE 1 /* = src/virtio/spec.hpp */
#define VIRTIO_CONFIG_S_DRIVER 2 /* = src/virtio/spec.hpp */
#define VIRTIO_CONFIG_S_DRIVER_OK 4 /* = src/virtio/spec.hpp */
#define VIRTIO_CONFIG_S_FEATURES_OK 8 /* = src/virtio/spec.hpp */
#define VIRTIO_CONFIG_S_NEEDS_RESET 64 /* = src/virtio/spec.hpp */
#define VIRTIO_CONFIG_S_FAILED 128 /* = src/virtio/spec.hpp */
#define VIRTIO_MMIO_INT_VRING 1 /* = src/virtio/spec.hpp */
#define VIRTIO_MMIO_INT_CONFIG 2 /* = src/virtio/spec.hpp */

#define k_driver_status_bits (VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_DRIVER_OK | VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_FAILED) /* in src/virtio/mmio.cpp k_driver_status_bits */

/* The 64 feature bits, abstracted to the four classes features_acceptable() tells apart, two in
   each 32-bit word the driver writes through DriverFeaturesSel 0 and 1: an offered low bit, a low
   bit not offered, VIRTIO_F_VERSION_1 (bit 32: the high word's) and a high bit not offered.
   The device offers VERSION_1 always (MOAT_CHECK in MmioTransport's constructor). */
#define SPEC_VIRTIO_F_VERSION_1 32 /* = src/virtio/spec.hpp VIRTIO_F_VERSION_1 */
#define F_LO_OFFERED 1
#define F_LO_OTHER 2
#define VIRTIO_F_VERSION_1 2 /* the model's bit for SPEC_VIRTIO_F_VERSION_1 */
#define F_HI_OTHER 8
#define feature_bit(b) (1 << (b))
#define LO_WORD 3
#define HI_WORD 12
#define offered (F_LO_OFFERED | feature_bit(VIRTIO_F_VERSION_1)) /* m_device->features() */

#define NQ 2  /* queues; QueueSel == NQ stands for every missing queue */
#define QUEUE_READY 0
#define QUEUE_OTHER 1 /* QueueNum, QueueDesc/Driver/Device Low/High: one rule for all */

/* ---- State: MmioTransport's members, plus the device's --------------------------------------- */

byte m_status;                 /* never holds NEEDS_RESET: that is m_needs_reset */
bit m_needs_reset;
bit m_active;
byte m_driver_features;
bit m_driver_features_unknown;
byte m_interrupt_status;
bit q_regs[NQ];    /* QueueRegs num/desc/driver/device: flips when the driver writes another value */
bit q_ready[NQ];   /* QueueRegs::ready */
bit q_queue[NQ];   /* QueueRegs::queue has a value (validated, not yet handed to the device) */
bit dev_queue[NQ]; /* the device holds the queue activate() gave it */
byte activations;  /* Device::activate calls since the last reset (ghost) */

/* Scratch for one step: the C++ locals and the state before the step. Hidden: not part of the
   state vector, and only ever used inside one d_step. */
hidden byte old, status, i;
hidden short next, added;
hidden byte o_status, o_features;
hidden byte o_needs_reset, o_active, o_unknown, o_regs[NQ], o_ready[NQ];

/* ---- The specification: virtio 1.2 §2.1, §2.4, §3.1.1, §4.2.2, written apart from the C++ ---- */

#define ACK VIRTIO_CONFIG_S_ACKNOWLEDGE
#define DRV VIRTIO_CONFIG_S_DRIVER
#define FOK VIRTIO_CONFIG_S_FEATURES_OK
#define DOK VIRTIO_CONFIG_S_DRIVER_OK
#define FAIL VIRTIO_CONFIG_S_FAILED
/* §3.1.1: ACKNOWLEDGE, then DRIVER, then FEATURES_OK, then DRIVER_OK; FAILED at any point. */
#define spec_ordered(s) (((s & DRV) == 0 || (s & ACK) != 0) && ((s & FOK) == 0 || (s & DRV) != 0) && ((s & DOK) == 0 || (s & FOK) != 0))
#define spec_known(s) ((s & ~(ACK | DRV | FOK | DOK | FAIL)) == 0)
/* §2.2, §6.1: a subset of the offered features that includes VIRTIO_F_VERSION_1 (modern only). */
#define spec_features_ok (!m_driver_features_unknown && (m_driver_features & (F_LO_OTHER | F_HI_OTHER)) == 0 && (m_driver_features & feature_bit(VIRTIO_F_VERSION_1)) != 0)
/* §3.1.1 step 7: queues are set up after FEATURES_OK and before DRIVER_OK; not after FAILED. */
#define spec_setup(s) ((s & FOK) != 0 && (s & DOK) == 0 && (s & FAIL) == 0)
/* §2.1.2: no buffers consumed before DRIVER_OK; features accepted; not while NEEDS_RESET. The
   C++ keeps processing after the driver sets FAILED (models/README.md): -DSTRICT_FAILED checks
   the stricter rule and finds that path. */
#ifdef STRICT_FAILED
#define spec_may_process ((m_status & DOK) != 0 && (m_status & FOK) != 0 && spec_features_ok && !m_needs_reset && (m_status & FAIL) == 0)
#define failed_freezes_features (m_driver_features == o_features && m_driver_features_unknown == o_unknown)
#else
#define spec_may_process ((m_status & DOK) != 0 && (m_status & FOK) != 0 && spec_features_ok && !m_needs_reset)
#define failed_freezes_features 1
#endif

/* ---- The C++ -------------------------------------------------------------------------------- */

inline raise(cause) { m_interrupt_status = m_interrupt_status | cause }

/* models src/virtio/mmio.cpp MmioTransport::reset_locked 0df450866a16 */
inline reset_locked()
{
	/* m_device->reset(): the device drops its queues and stops. */
	i = 0; do :: i < NQ -> dev_queue[i] = 0; i++ :: else -> break od;
	activations = 0;
	m_active = 0;
#if BROKEN != 7
	m_driver_features = 0;
#endif
	m_driver_features_unknown = 0;
	i = 0; do :: i < NQ -> q_regs[i] = 0; q_ready[i] = 0; q_queue[i] = 0; i++ :: else -> break od;
	m_status = 0;
	m_needs_reset = 0;
	m_interrupt_status = 0
}

/* models src/virtio/mmio.cpp MmioTransport::activate_locked 1a436a90e817
   `fails`: the device's activate() returned an error. */
inline activate_locked(fails)
{
	i = 0; do :: i < NQ -> dev_queue[i] = q_queue[i]; q_queue[i] = 0; i++ :: else -> break od;
	activations++;
	if
	:: fails -> i = 0; do :: i < NQ -> dev_queue[i] = 0; i++ :: else -> break od; /* m_device->reset() */
		m_needs_reset = 1; raise(VIRTIO_MMIO_INT_CONFIG)
	:: else -> m_active = 1
	fi
}

/* models src/virtio/mmio.cpp MmioTransport::features_acceptable 7b8f830d42e1 */
#define features_acceptable() (!m_driver_features_unknown && (m_driver_features & ~offered) == 0 && (m_driver_features & feature_bit(VIRTIO_F_VERSION_1)) != 0) /* in src/virtio/mmio.cpp MmioTransport::features_acceptable */

/* models src/virtio/mmio.cpp MmioTransport::write_status 921c1519bf3f */
#define driver_bits(v) (v & ~VIRTIO_CONFIG_S_NEEDS_RESET) /* in src/virtio/mmio.cpp MmioTransport::write_status */
#define unknown_bits ((next & ~k_driver_status_bits) != 0) /* in src/virtio/mmio.cpp MmioTransport::write_status */
#if BROKEN == 1
#define clears_bits 0
#else
#define clears_bits ((next & old) != old) /* in src/virtio/mmio.cpp MmioTransport::write_status */
#endif
#if BROKEN == 2
#define misordered ((next & VIRTIO_CONFIG_S_FEATURES_OK) && !(next & VIRTIO_CONFIG_S_DRIVER))
#else
#define misordered (((next & VIRTIO_CONFIG_S_DRIVER) && !(next & VIRTIO_CONFIG_S_ACKNOWLEDGE)) || ((next & VIRTIO_CONFIG_S_FEATURES_OK) && !(next & VIRTIO_CONFIG_S_DRIVER)) || ((next & VIRTIO_CONFIG_S_DRIVER_OK) && !(next & VIRTIO_CONFIG_S_FEATURES_OK))) /* in src/virtio/mmio.cpp MmioTransport::write_status */
#endif
#if BROKEN == 8
#define after_failed 0
#else
#define after_failed ((old & VIRTIO_CONFIG_S_FAILED) && next != old) /* in src/virtio/mmio.cpp MmioTransport::write_status */
#endif
#define rejected (unknown_bits || clears_bits || misordered || after_failed) /* in src/virtio/mmio.cpp MmioTransport::write_status */
#if BROKEN == 3
#define refuses_features 0
#else
#define refuses_features ((added & VIRTIO_CONFIG_S_FEATURES_OK) && !features_acceptable()) /* in src/virtio/mmio.cpp MmioTransport::write_status */
#endif
#define refused_bits (VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK) /* in src/virtio/mmio.cpp MmioTransport::write_status */
#define activates ((next & ~old) & VIRTIO_CONFIG_S_DRIVER_OK) /* in src/virtio/mmio.cpp MmioTransport::write_status */
inline write_status(v, fails)
{
	if
	:: v == 0 -> reset_locked()
	:: else ->
		old = m_status;
		next = driver_bits(v);
		if
		:: rejected -> skip /* logged and ignored */
		:: else ->
			added = next & ~old;
			if
			:: refuses_features -> next = next & ~refused_bits
			:: else -> skip
			fi;
			m_status = next;
			if
			:: activates -> activate_locked(fails)
			:: else -> skip
			fi
		fi
	fi
}

/* models src/virtio/mmio.cpp MmioTransport::write_register e8f0eab0f3ee
   The DriverFeatures case; DriverFeaturesSel is chosen with the write (sel 2 stands for every
   selector above 1). The selectors and QueueSel only steer the next write, so the driver's
   free choice of them at each write covers every value they could hold. */
#define outside_negotiation ((status & VIRTIO_CONFIG_S_DRIVER) == 0 || (status & VIRTIO_CONFIG_S_FEATURES_OK) != 0) /* in src/virtio/mmio.cpp MmioTransport::write_register */
inline write_driver_features(sel, word)
{
	status = m_status;
	if
	:: outside_negotiation -> skip
	:: else ->
		if
		:: sel == 0 -> m_driver_features = (m_driver_features & HI_WORD) | word
		:: sel == 1 -> m_driver_features = (m_driver_features & LO_WORD) | (word << 2)
		:: sel > 1 && word != 0 -> m_driver_features_unknown = 1
		:: else -> skip
		fi
	fi
}

/* The InterruptACK case of MmioTransport::write_register. */
inline interrupt_ack(v) { m_interrupt_status = m_interrupt_status & ~v }

/* models src/virtio/mmio.cpp MmioTransport::write_queue_register ff5a55c7bb5f
   `q` == NQ: QueueSel names no queue. `v` for QueueReady: 0, 1, or 2 for any other value.
   `valid`: Queue::create accepts the layout (the values themselves are not modelled). */
#if BROKEN == 4
#define setup_phase ((status & VIRTIO_CONFIG_S_FEATURES_OK) != 0 && (status & VIRTIO_CONFIG_S_DRIVER_OK) == 0)
#else
#define setup_phase ((status & VIRTIO_CONFIG_S_FEATURES_OK) != 0 && (status & (VIRTIO_CONFIG_S_DRIVER_OK | VIRTIO_CONFIG_S_FAILED)) == 0) /* in src/virtio/mmio.cpp MmioTransport::write_queue_register */
#endif
inline write_queue_register(q, reg, v, valid)
{
	status = m_status;
	if
	:: q >= NQ || !setup_phase -> skip
	:: else ->
		if
		:: reg == QUEUE_READY ->
			if
			:: v == 0 -> q_ready[q] = 0; q_queue[q] = 0
			:: v != 0 && (v != 1 || q_ready[q]) -> skip
			:: v == 1 && !q_ready[q] && !valid -> m_needs_reset = 1
			:: v == 1 && !q_ready[q] && valid -> q_queue[q] = 1; q_ready[q] = 1
			fi
#if BROKEN == 5
		:: else -> q_regs[q] = 1 - q_regs[q]
#else
		:: else ->
			if
			:: q_ready[q] -> skip /* §4.2.2: not while QueueReady is set */
			:: else -> q_regs[q] = 1 - q_regs[q]
			fi
#endif
		fi
	fi
}

/* The device works on queue q (Device::process_queue, poll_queue, host_ready): it uses the
   queue activate() gave it, if any, and may signal used buffers. Here the model checks that
   the transport let it run only when the specification allows. */
inline process_queue(q)
{
	assert(spec_may_process);
	assert(!dev_queue[q] || q_ready[q]); /* §4.2.2.1: no queue access while QueueReady is zero */
	if :: dev_queue[q] -> raise(VIRTIO_MMIO_INT_VRING) :: else -> skip fi
}

/* models src/virtio/mmio.cpp MmioTransport::notify 36949ad75efc */
#if BROKEN == 6
#define notify_ignored (!m_active)
#else
#define notify_ignored (!m_active || m_needs_reset) /* in src/virtio/mmio.cpp MmioTransport::notify */
#endif
/* models src/virtio/mmio.cpp MmioTransport::poll 60884fc9891a */
#define poll_ignored (!m_active || m_needs_reset) /* in src/virtio/mmio.cpp MmioTransport::poll */
/* models src/virtio/mmio.cpp MmioTransport::host_ready a5f0d897b71e */
#define host_ready_ignored (!m_active || m_needs_reset) /* in src/virtio/mmio.cpp MmioTransport::host_ready */
inline notify(q)
{
	if
	:: notify_ignored || q >= NQ -> skip
	:: else -> process_queue(q)
	fi
}
inline poll(q)
{
	if
	:: poll_ignored || q >= NQ -> skip
	:: else -> process_queue(q)
	fi
}
inline host_ready(q)
{
	if
	:: host_ready_ignored -> skip
	:: else -> process_queue(q) /* the device may touch any of its queues */
	fi
}

/* models src/virtio/mmio.cpp MmioTransport::Notifier::device_needs_reset 3942030e1a18 */
#define raises_config (m_status & VIRTIO_CONFIG_S_DRIVER_OK) /* in src/virtio/mmio.cpp MmioTransport::Notifier::device_needs_reset */
inline device_needs_reset()
{
	if
	:: m_needs_reset -> skip
	:: else ->
		m_needs_reset = 1;
#if BROKEN != 9
		if :: raises_config -> raise(VIRTIO_MMIO_INT_CONFIG) :: else -> skip fi
#endif
	fi
}

inline snapshot()
{
	o_status = m_status; o_features = m_driver_features; o_unknown = m_driver_features_unknown;
	o_needs_reset = m_needs_reset; o_active = m_active;
	i = 0; do :: i < NQ -> o_regs[i] = q_regs[i]; o_ready[i] = q_ready[i]; i++ :: else -> break od
}

/* After every step; `was_reset`: the step was the driver writing 0 to Status. */
inline check(was_reset)
{
	assert(spec_known(m_status) && spec_ordered(m_status));             /* §2.1, §3.1.1 */
	assert((m_status & FOK) == 0 || spec_features_ok);                  /* §3.1.1 steps 4-6 */
	assert(!m_active || (m_status & (FOK | DOK)) == (FOK | DOK));         /* §2.1.2 */
	assert(was_reset || (o_status & ~m_status) == 0);                   /* §2.1.1: only reset clears */
	assert(activations <= 1);                     /* one activation per initialisation */
	i = 0;
	do
	:: i < NQ ->
		assert(was_reset || (q_regs[i] == o_regs[i] && q_ready[i] == o_ready[i]) || spec_setup(o_status));
		assert(was_reset || q_regs[i] == o_regs[i] || !o_ready[i]); /* §4.2.2.2 */
		assert(!dev_queue[i] || q_ready[i]);
		assert(was_reset || !(o_status & FAIL) || (q_regs[i] == o_regs[i] && q_ready[i] == o_ready[i]));
		i++
	:: else -> break
	od;
	/* After FAILED only a reset changes the status, activation, and (STRICT_FAILED) features. */
	assert(was_reset || !(o_status & FAIL) || (m_status == o_status && m_active == o_active && failed_freezes_features));
	/* §2.1.2: NEEDS_RESET set after DRIVER_OK comes with a configuration change notification. */
	assert(o_needs_reset || !m_needs_reset || !(m_status & DOK) || (m_interrupt_status & VIRTIO_MMIO_INT_CONFIG));
	/* §2.4, §4.2.2.1: reset returns the device to its initial state. */
	assert(!was_reset || (m_status == 0 && !m_needs_reset && !m_active && m_driver_features == 0 &&
		!m_driver_features_unknown && m_interrupt_status == 0 && activations == 0 &&
		q_regs[0] + q_ready[0] + q_queue[0] + dev_queue[0] + q_regs[1] + q_ready[1] + q_queue[1] + dev_queue[1] == 0))
}

/* ---- The actors ------------------------------------------------------------------------------ */

/* A vCPU: MmioTransport::write with any register and value (one vCPU suffices: every write is
   one step under the transport's locks, whichever vCPU makes it). */
active proctype driver()
{
	short v; byte sel, q; bit flag;
	do
	/* Status: bit 8 stands for bits 8-31, which the C++ tests (unknown_bits) as it does 0x10, 0x20. */
	:: atomic { select(v : 0 .. 511); if :: flag = 0 :: flag = 1 fi;
		d_step { snapshot(); write_status(v, flag); check((v == 0)); v = 0; flag = 0 } }
	:: atomic { select(sel : 0 .. 2); select(v : 0 .. 3);
		d_step { snapshot(); write_driver_features(sel, v); check(0); sel = 0; v = 0 } }
	:: atomic { select(q : 0 .. NQ); select(v : 0 .. 2); if :: flag = 0 :: flag = 1 fi;
		d_step { snapshot(); write_queue_register(q, QUEUE_READY, v, flag); check(0); q = 0; v = 0; flag = 0 } }
	:: atomic { select(q : 0 .. NQ);
		d_step { snapshot(); write_queue_register(q, QUEUE_OTHER, 0, 0); check(0); q = 0 } }
	:: atomic { select(v : 1 .. 3); d_step { snapshot(); interrupt_ack(v); check(0); v = 0 } }
	od
}

/* The event thread: QueueNotify (by ioeventfd, or inline from a vCPU), the poll timer, host
   descriptors, and the device asking for a reset (Notifier::device_needs_reset; in the C++ only
   while it runs, here at any time). */
active proctype event_thread()
{
	byte q;
	do
	:: atomic { select(q : 0 .. NQ); d_step { snapshot(); notify(q); check(0); q = 0 } }
	:: atomic { select(q : 0 .. NQ); d_step { snapshot(); poll(q); check(0); q = 0 } }
	:: atomic { select(q : 0 .. NQ - 1); d_step { snapshot(); host_ready(q); check(0); q = 0 } }
	:: d_step { snapshot(); device_needs_reset(); check(0) }
	od
}

/* BROKEN=n plants one bug, each of which the checks above must catch:
   1 write_status lets a write clear bits     2 DRIVER without ACKNOWLEDGE, DRIVER_OK without FEATURES_OK
   3 FEATURES_OK whatever the features          4 queue registers writable after FAILED
   5 a ready queue's registers writable         6 notify ignores NEEDS_RESET
   7 reset keeps the driver's features          8 status writable after FAILED
   9 NEEDS_RESET after DRIVER_OK without a configuration change notification */
