/* The one-way pump (src/pump/pump.cpp, class Pump): whatever the high side does, what the low
   side observes depends only on its own actions, the schedule, and how full the pump's buffer
   is when the pump reads (the NRL pump's bounded channel); checked by models/run-spin, kept in
   step with the C++ by models/check-drift (tags as in virtio_status.pml).

   Self-composition: two copies of the pump (copy 0 and copy 1) run in lockstep, one round being
   one Pump::step. The low side's actions (open a connection, write, close) and the schedule's
   decisions (a flow's read is due; the rate cap allows a read or not) are chosen once and given
   to both; each copy's high side chooses on its own (answer yes, refuse, read, stall, close, a
   full high link). A round where the two copies read the low side with the buffer full in one
   and not in the other leaves the assumption and ends the run. After each round the low side's
   observations must be equal: whether each connection was accepted or refused, how much of what
   it wrote the pump has taken (when it can write), and whether the pump closed its stream; and
   so must the count of places under k_max_flows that the next accept would see, whatever the
   limit. A flow whose low stream the pump closed is gone once full_timeout has passed since.
   Time is an input too, shared: in a round the clock moves on by a tick or not.

   Units: one unit is one read's worth (Schedule::k_chunk); the buffer holds B units. So the
   buffer-full bit stands for what the low side can learn at a read in the C++:
   min(room, k_chunk). The schedule's delays are taken as given; how the high side moves them
   (Schedule::average_rate, by design) is not modelled here. BROKEN=n: the bugs at the end. */

#ifndef BROKEN
#define BROKEN 0
#endif

/* enum src/pump/pump.hpp State WaitHigh Open Discard */
#define WaitHigh 1
#define Open 2
#define Discard 3
#define NONE 0    /* not opened yet */
#define OPENING 4 /* the low side's link record waits on the low link */
#define GONE 5    /* refused, or finished and erased from m_flows */
#define alive(x) (c[x].st == WaitHigh || c[x].st == Open || c[x].st == Discard)

#define K_MAX_FLOWS 64 /* = src/pump/pump.hpp k_max_flows */
/* Connections the low side opens, and m_flows' limit. One connection by default (the count the
   next accept would see is checked, not the accept); FLOW_LIMIT: two, and a limit of one, so
   that the second connection's accept depends on the first's flow (models/README.md). */
#ifdef FLOW_LIMIT
#define NCONN 2
#define MAXF 1
#else
#define NCONN 1
#define MAXF K_MAX_FLOWS
#endif
#define B 3 /* Limits::buffer, in units */
#define P 3 /* the low side's socket, in units */
#define T 2 /* Limits::full_timeout: in reads that found the buffer full after the first; in ticks after the low stream's close */

#define ACCEPTED 1
#define REFUSED 2
/* The high side's choice for a flow, each round. */
#define H_STALL 0   /* reads nothing: its socket stays full */
#define H_YES 1     /* answers k_link_accepted (in Open: as H_STALL) */
#define H_TAKE 2    /* reads one unit */
#define H_CLOSE 3   /* refuses (another byte) or closes */

typedef Conn {
	byte st;      /* Flow::state, or NONE / OPENING / GONE */
	byte age;     /* ticks since the pump closed the low stream (done); drop_at is past at T + 1 */
	byte buf;     /* Flow::buf */
	byte stuck;    /* reads that found the buffer full since the first (Flow::full_since) */
	bit readable; /* Flow::low_readable */
	bit high;     /* Flow::high is open */
	byte pend;    /* the low side's bytes in its socket, not yet read by the pump */
	bit eof;      /* the low side closed its end */
	bit done;     /* the pump closed the low stream (Flow::low reset): observed by the low side */
	byte ack;     /* what the low side got: ACCEPTED, REFUSED, or 0 not yet */
	byte rd;      /* this round: 0 no read_low, 1 read_low with room, 2 read_low with none */
};
Conn c[2 * NCONN]; /* c[cp * NCONN + k]: connection k in copy cp */
byte flows[2];     /* m_flows.size() */

/* This round's choices: the low side's and the schedule's (shared), the high side's (per copy);
   cleared at the end of the round. */
byte la, lk, h[2 * NCONN], due[NCONN], k, x;
bit lf[2]; /* the high link refuses the link record (send_link_open fails) */
bit tick;  /* the clock moves on */
hidden byte room; /* read_low's local */
hidden byte j, y, n; /* expire's and places' locals */
#define L_NONE 0
#define L_OPEN 1
#define L_WRITE 2
#define L_CLOSE 3
#define D_NO 0      /* not due, or the low side not readable: no read_low */
#define D_CAPPED 1  /* read_low, but the rate cap allows nothing now */
#define D_READ 2    /* read_low, and one unit allowed */

/* drop_at (the pump closed the low stream full_timeout ago, T + 1 ticks in the model) is past. */
#define expired(x) (c[x].age > T)
/* The place of connection x under k_max_flows: its low side open in m_flows, or an entry of
   m_held (the pump closed its low stream, drop_at not past), the flow finished or not. */
#if BROKEN == 5
#define holds_place(x) (alive(x)) /* freed when the flow finished: m_flows.size() */
#else
#define holds_place(x) ((alive(x) && !c[x].done) || (c[x].done && !expired(x)))
#endif

/* ---- The C++ -------------------------------------------------------------------------------- */

/* models src/pump/pump.cpp Pump::finished 327656260f2c */
#define finished(x) (c[x].done && (c[x].st == Discard || (c[x].st == Open && c[x].buf == 0)))

/* models src/pump/pump.cpp Pump::discard c3a8a852d85c */
inline discard(x)
{
	c[x].st = Discard;
	c[x].high = 0;
#if BROKEN == 1
	c[x].done = 1; /* closes the low stream too */
#endif
	c[x].buf = 0
}

/* models src/pump/pump.cpp Pump::expire fc708fc9afbb
   Every flow whose low stream the pump closed full_timeout ago ends, whatever the high side did
   (discard: finished, so erased). m_held's entries past drop_at go: places() counts from the
   connections' own state. */
inline expire(cp)
{
	j = 0;
	do
	:: j < NCONN -> y = cp * NCONN + j;
#if BROKEN != 6
		if :: alive(y) && c[y].done && !finished(y) && expired(y) -> discard(y) :: else -> skip fi;
#endif
		j++
	:: else -> break
	od
}

/* The places taken under k_max_flows, into n: accept_low's count (its low side open in m_flows,
   and m_held's size). */
inline places(cp)
{
	n = 0;
	j = 0;
	do :: j < NCONN -> n = n + holds_place(cp * NCONN + j); j++ :: else -> break od
}

/* models src/pump/pump.cpp Pump::accept_low 43da5397dd67
   A connection is accepted (one byte) before the high side is asked; then the link record goes
   to the high side (or fails: Discard). */
inline accept_low(cp, x)
{
	expire(cp);
	places(cp);
	if
	:: n >= MAXF -> c[x].st = GONE; c[x].ack = REFUSED /* closing the stream refuses */
	:: else ->
#if BROKEN != 2
		c[x].ack = ACCEPTED;
#endif
		flows[cp]++;
		c[x].readable = 1;
		if
		:: lf[cp] -> c[x].st = Discard
		:: else -> c[x].st = WaitHigh; c[x].high = 1
		fi
	fi
}

/* models src/pump/pump.cpp Pump::on_high d3d98d6dc5c5 */
inline on_high(x)
{
	if
	:: c[x].high && h[x] == H_CLOSE -> discard(x) /* refused, gone or closed */
	:: c[x].high && c[x].st == WaitHigh && h[x] == H_YES -> c[x].st = Open;
#if BROKEN == 2
		c[x].ack = ACCEPTED; /* the answer waits for the high side */
#endif
	:: else -> skip /* no high stream, nothing to read (EAGAIN), or bytes to drop */
	fi
}

/* models src/pump/pump.cpp Pump::read_low f8b1b7f4b33e */
inline read_low(x, allow)
{
	room = B - c[x].buf;
	if :: c[x].st == Discard -> room = B :: else -> skip fi;
	if
	:: room == 0 ->
		c[x].rd = 2;
		c[x].stuck++; /* full_since, then the time since */
#if BROKEN != 3
		if
		:: c[x].stuck > T -> discard(x) /* the high side stopped reading */
		:: else -> skip
		fi
#endif
	:: else ->
		c[x].rd = 1;
		c[x].stuck = 0;
		if
		:: allow == D_CAPPED -> skip /* next_read = now + 5 ms */
		:: allow == D_READ && c[x].pend == 0 && !c[x].eof -> c[x].readable = 0 /* EAGAIN */
		:: allow == D_READ && c[x].pend == 0 && c[x].eof -> c[x].done = 1; c[x].age = 0 /* closed now, whatever the high side read; drop_at, m_held */
		:: allow == D_READ && c[x].pend > 0 -> c[x].pend--;
			if :: c[x].st == Discard -> skip :: else -> c[x].buf++ fi
		fi
	fi
}

/* models src/pump/pump.cpp Pump::write_high 872c50b2f794 */
inline write_high(x)
{
	if
	:: c[x].st == Open && c[x].buf > 0 && h[x] == H_TAKE -> c[x].buf-- /* the rest: EAGAIN */
	:: else -> skip
	fi
}

#if BROKEN == 4
#define waits_for_high(x) (c[x].st == Open && c[x].buf > 0 && h[x] != H_TAKE)
#else
#define waits_for_high(x) 0
#endif

/* models src/pump/pump.cpp Pump::step f13b45b1bf6c
   Copy cp's round: the low link's records, the high side's answers, the flows past drop_at
   ended, then each flow's read (when due, the low side readable and its stream open) and write,
   then the finished flows go. When a step runs is not modelled: the pump wakes for drop_at and
   a full buffer's timeout (Pump::wake_at), and accept_low looks at the clock itself. */
inline step(cp)
{
	k = 0;
	do
	:: k < NCONN -> x = cp * NCONN + k;
		if :: c[x].st == OPENING -> accept_low(cp, x) :: else -> skip fi;
		k++
	:: else -> break
	od;
	k = 0;
	do :: k < NCONN -> x = cp * NCONN + k; if :: alive(x) -> on_high(x) :: else -> skip fi; k++ :: else -> break od;
	expire(cp);
	k = 0;
	do
	:: k < NCONN -> x = cp * NCONN + k;
		c[x].rd = 0;
		if
		:: alive(x) ->
			if
			:: !c[x].done && c[x].readable && due[k] != D_NO && !waits_for_high(x) -> read_low(x, due[k])
			:: else -> skip
			fi;
			write_high(x);
			if :: finished(x) -> c[x].st = GONE; c[x].high = 0; flows[cp]-- :: else -> skip fi /* ~Flow */
		:: else -> skip
		fi;
		k++
	:: else -> break
	od
}

/* ---- The low side (shared by both copies) ---------------------------------------------------- */

inline low_acts()
{
	/* The clock: the ticks since each low stream's close (both copies closed it together, or
	   the round left the assumption), up to drop_at. */
	x = 0;
	do
	:: x < 2 * NCONN -> if :: tick && c[x].done && c[x].age <= T -> c[x].age++ :: else -> skip fi; x++
	:: else -> break
	od;
	k = 0;
	do
	:: k < 2 -> x = k * NCONN + lk;
		if
		:: la == L_OPEN -> c[x].st = OPENING
		:: la == L_WRITE && c[x].pend < P -> c[x].pend++; c[x].readable = 1 /* EPOLLIN */
		:: la == L_CLOSE -> c[x].eof = 1; c[x].readable = 1                 /* EPOLLRDHUP */
		:: else -> skip /* nothing, or a write that blocks: its socket is full */
		fi;
		k++
	:: else -> break
	od
}

/* ---- Lockstep ------------------------------------------------------------------------------- */

/* The two copies read with the buffer full in one and not the other: outside the assumption. */
#define diverged(k) ((c[k].rd == 1 && c[NCONN + k].rd == 2) || (c[k].rd == 2 && c[NCONN + k].rd == 1))
#define same_view(k) (c[k].ack == c[NCONN + k].ack && c[k].pend == c[NCONN + k].pend && c[k].done == c[NCONN + k].done)

active proctype lockstep()
{
	bit out; /* this round left the assumption */
	do
	:: atomic {
		/* The low side: one action on one connection (opened in order, written, closed). */
		select(lk : 0 .. NCONN - 1);
		if
		:: la = L_NONE
		:: c[lk].st == NONE && (lk == 0 || c[lk - 1].st != NONE) -> la = L_OPEN
		:: c[lk].st != NONE && !c[lk].eof -> la = L_WRITE
		:: c[lk].st != NONE && !c[lk].eof -> la = L_CLOSE
		fi;
		/* The schedule, per connection. */
		k = 0;
		do :: k < NCONN -> if :: due[k] = D_NO :: due[k] = D_CAPPED :: due[k] = D_READ fi; k++ :: else -> break od;
		/* Each copy's high side, per flow it holds, and its link. */
		x = 0;
		do
		:: x < 2 * NCONN ->
			if
			:: c[x].high -> if :: h[x] = H_STALL :: h[x] = H_YES :: h[x] = H_TAKE :: h[x] = H_CLOSE fi
			:: else -> skip
			fi;
			x++
		:: else -> break
		od;
		if :: la == L_OPEN -> if :: lf[0] = 0 :: lf[0] = 1 fi; if :: lf[1] = 0 :: lf[1] = 1 fi :: else -> skip fi;
		/* Time. */
		if :: tick = 0 :: tick = 1 fi;
		d_step {
			low_acts(); step(0); step(1);
			out = 0;
			k = 0;
			do
			:: k < NCONN ->
				if :: diverged(k) -> out = 1 :: else -> skip fi;
				k++
			:: else -> break
			od;
			/* m_flows holds the flows that are alive, no more (a check of the model itself). */
			x = 0; la = 0; lk = 0;
			do
			:: x < NCONN -> la = la + alive(x); lk = lk + alive(NCONN + x); x++
			:: else -> break
			od;
			assert(flows[0] == la && flows[1] == lk);
			/* m_flows stays within k_max_flows: every flow holds a place. */
			assert(flows[0] <= MAXF && flows[1] <= MAXF);
			/* The next accept's count is the same in both copies, whatever the limit. */
			places(0); la = n; places(1);
			assert(out || la == n);
			k = 0;
			do
			:: k < NCONN ->
				assert(out || same_view(k));
				/* Throttled for a bounded time: full_timeout, then the bytes are dropped. */
				assert(c[k].stuck <= T + 1 && c[NCONN + k].stuck <= T + 1);
				/* A flow whose low stream the pump closed is gone by drop_at. */
				assert(!(alive(k) && c[k].done && expired(k)) && !(alive(NCONN + k) && c[NCONN + k].done && expired(NCONN + k)));
				k++
			:: else -> break
			od;
			la = 0; lk = 0; lf[0] = 0; lf[1] = 0; tick = 0;
			k = 0; do :: k < NCONN -> due[k] = 0; k++ :: else -> break od;
			x = 0; do :: x < 2 * NCONN -> h[x] = 0; c[x].rd = 0; x++ :: else -> break od
		}
	   };
		if :: out -> break :: else -> skip fi
	od
}

/* BROKEN=n plants one bug, each of which the check must catch:
   1 the high side's close closes the low stream too
   2 the low side's connection is accepted only when the high side answers
   3 a buffer the high side leaves full blocks the low side for good (no full_timeout)
   4 the pump reads the low side only while the high side takes what it has
   5 a flow's place under k_max_flows is freed when the flow finishes, not at drop_at (the high
     side then chooses, within full_timeout, when the low side's next connection is accepted)
   6 no drop_at: a flow whose low stream the pump closed lives until the high side has answered
     and taken its buffer (the high side keeps k_max_flows flows for good) */
