/* Seeded simulation of 3, 5 and 7 Raft cores on a simulated network with
 * message loss, duplication, reordering (random delays), partitions, crashes
 * and restarts — some of them losing the batch that was not yet durable —,
 * snapshots with log compaction, fast-failover hints (peer_lost when a crashed
 * node's connections close), leadership transfers and membership changes
 * (non-voters added, promoted, voters removed).
 *
 * Checked after every event: election safety (one leader per term), state
 * machine safety (every node applies the same command at an index and ends up
 * with the same state after it), leader completeness (a new leader holds every
 * entry known committed), and read safety (a ReadIndex answer covers every
 * write acknowledged before the read). Periodically: log matching. At the end,
 * once faults stop: a leader within a bounded simulated time, a fresh write
 * commits and is applied everywhere, and every acknowledged write is present.
 *
 * RAFT_SIM_SEEDS=N runs N seeds per cluster size (CI: a few hundred each;
 * `make sim` runs thousands). RAFT_SIM_SEED=S runs only seed S and
 * RAFT_SIM_TRACE=1 prints every event of it: a failing seed is replayable. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "raft/raft.h"
#include "raft/wire.h"

#define MAXN 7
#define FAULT_MS 12000
#define LIVENESS_MS 15000
#define MAXIDX 200000

struct dent {
	uint64_t term;
	enum raft_entry_type type;
	uint8_t *data;
	size_t len;
};

struct fsm {
	uint64_t applied, hash, count;
};

struct disk {
	uint64_t term;
	char vote[RAFT_ID_MAX];
	struct dent *log;        /* log[i] has index first + i */
	size_t n, cap;
	uint64_t first;
	bool has_snap;
	uint64_t snap_index, snap_term;
	struct raft_configuration snap_conf;
	struct fsm snap_fsm;
};

struct node {
	struct raft *r;
	bool up;
	char id[RAFT_ID_MAX], addr[RAFT_ADDR_MAX];
	struct disk disk;
	struct fsm fsm;
	int side;
	unsigned boots;
};

struct flight {
	uint64_t at;
	int to, from;
	uint8_t *frame;          /* the message as raft/wire encoded it */
	size_t len;
};

struct pending {
	uint64_t index, term, cmd;
	int node;
	unsigned boot;
};

struct sim {
	int n;
	uint64_t seed, rng, now;
	bool trace;
	struct node node[MAXN];
	struct flight *q;
	size_t nq, capq;
	unsigned loss_pct, dup_pct, delay_max;
	/* global records */
	char *leader_of_term;    /* [term * RAFT_ID_MAX] */
	uint64_t max_term;
	uint64_t *applied_cmd;   /* index -> 1 + hash of the entry applied there */
	uint64_t *state_after;   /* index -> fsm hash after applying it */
	uint64_t *committed;     /* index -> term of an entry known committed */
	uint64_t max_committed;
	struct pending *pend;
	size_t npend, cappend;
	uint64_t *acked_index;   /* cmd -> index where it committed (0: not acked) */
	uint64_t *acked_term;    /* cmd -> term it committed in */
	bool faults;
	uint64_t next_cmd;
	uint64_t max_acked_index;
	uint64_t reads_ok;
	uint64_t read_floor[64]; /* req -> max acked index when the read was asked */
	uint64_t acked;
	bool membership;
	unsigned lost_batches, transfers, conf_changes, snapshots;
};

static struct sim S;

static uint64_t rnd(void)
{
	uint64_t x = S.rng;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	S.rng = x;
	return x * 0x2545F4914F6CDD1DULL;
}

static uint64_t rnd_below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

static void trace(const char *fmt, ...)
{
	if (!S.trace)
		return;
	va_list ap;
	va_start(ap, fmt);
	printf("[%6llu] ", (unsigned long long)S.now);
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
}

static void fail_seed(const char *what)
{
	print_error("raft sim: seed %llu (n=%d) failed at t=%llu ms: %s\n"
	            "  replay: RAFT_SIM_SEED=%llu RAFT_SIM_N=%d RAFT_SIM_TRACE=1 %s\n",
	            (unsigned long long)S.seed, S.n, (unsigned long long)S.now, what,
	            (unsigned long long)S.seed, S.n, "tests/unit_raft_sim");
	fail();
}

#define CHECK(cond, ...)                                        \
	do {                                                    \
		if (!(cond)) {                                  \
			char _b[512];                           \
			snprintf(_b, sizeof(_b), __VA_ARGS__);  \
			fail_seed(_b);                          \
		}                                               \
	} while (0)

static int idx_of(const char *id)
{
	for (int i = 0; i < S.n; i++)
		if (strcmp(S.node[i].id, id) == 0)
			return i;
	return -1;
}

static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
	return h * 0xff51afd7ed558ccdULL;
}

static uint64_t entry_hash(uint64_t term, enum raft_entry_type type, const uint8_t *d, size_t len)
{
	uint64_t h = mix(term, (uint64_t)type);
	for (size_t i = 0; i < len; i++)
		h = mix(h, d[i]);
	return h | 1;
}

/* ---- disk ---- */

static void disk_truncate(struct disk *d, uint64_t index)
{
	if (index < d->first) {
		index = d->first;
	}
	while (d->n > 0 && d->first + d->n - 1 >= index) {
		d->n--;
		free(d->log[d->n].data);
	}
}

static void disk_append(struct disk *d, const struct raft_entry *e)
{
	if (d->n == 0)
		d->first = e->index;
	disk_truncate(d, e->index);
	assert_int_equal(d->first + d->n, e->index);
	if (d->n == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 64;
		d->log = realloc(d->log, d->cap * sizeof(*d->log));
		assert_non_null(d->log);
	}
	struct dent *x = &d->log[d->n++];
	x->term = e->term;
	x->type = e->type;
	x->len = e->len;
	x->data = e->len ? malloc(e->len) : NULL;
	if (e->len)
		memcpy(x->data, e->data, e->len);
}

static void disk_delete_prefix(struct disk *d, uint64_t index)
{
	while (d->n > 0 && d->first < index) {
		free(d->log[0].data);
		memmove(d->log, d->log + 1, (d->n - 1) * sizeof(*d->log));
		d->n--;
		d->first++;
	}
	if (d->n == 0)
		d->first = index;
}

static void disk_free(struct disk *d)
{
	disk_truncate(d, 0);
	free(d->log);
	memset(d, 0, sizeof(*d));
}

/* ---- network ---- */

static void net_push(int from, int to, const uint8_t *frame, size_t len, uint64_t delay)
{
	if (S.nq == S.capq) {
		S.capq = S.capq ? S.capq * 2 : 256;
		S.q = realloc(S.q, S.capq * sizeof(*S.q));
		assert_non_null(S.q);
	}
	struct flight *f = &S.q[S.nq++];
	f->at = S.now + delay;
	f->to = to;
	f->from = from;
	f->frame = malloc(len);
	assert_non_null(f->frame);
	memcpy(f->frame, frame, len);
	f->len = len;
}

static void flight_free(struct flight *f)
{
	free(f->frame);
}

/* Messages go through the real codec: what the core sends must encode, and
 * decode back into what the receiver acts on. */
static void send_msg(int from, const struct raft_out *o)
{
	int to = idx_of(o->msg.to);
	assert_true(to >= 0);
	struct raft_msg m = o->msg;
	struct node *src = &S.node[from];
	uint8_t snap[24];
	if (m.type == RAFT_MSG_SNAPSHOT) {
		/* the caller attaches its latest snapshot, the one the core named */
		CHECK(src->disk.has_snap && src->disk.snap_index == m.snap_index,
		      "SNAPSHOT for %llu but disk has %llu", (unsigned long long)m.snap_index,
		      (unsigned long long)src->disk.snap_index);
		memcpy(snap, &src->disk.snap_fsm, sizeof(snap));
		m.data = snap;
		m.len = sizeof(snap);
	}
	uint8_t *frame;
	size_t len;
	int rc = raft_wire_encode_msg(&m, &frame, &len);
	CHECK(rc == 0, "%s sent a message the codec refuses (type %d): %d", src->id, (int)m.type, rc);
	if (S.node[from].side == S.node[to].side && rnd_below(100) >= S.loss_pct) {
		int copies = rnd_below(100) < S.dup_pct ? 2 : 1;
		for (int c = 0; c < copies; c++)
			net_push(from, to, frame, len, 1 + rnd_below(S.delay_max + 1));
	}
	free(frame);
}

/* ---- checks ---- */

static void check_leader_completeness(int i)
{
	struct raft *r = S.node[i].r;
	uint64_t first = raft_first_index(r), snap = raft_snapshot_index(r);
	for (uint64_t k = 1; k <= S.max_committed; k++) {
		if (!S.committed[k] || k <= snap || k < first)
			continue;
		CHECK(raft_term_at(r, k) == S.committed[k],
		      "leader completeness: leader %s lacks committed entry %llu (term %llu, has %llu)",
		      S.node[i].id, (unsigned long long)k, (unsigned long long)S.committed[k],
		      (unsigned long long)raft_term_at(r, k));
	}
}

static void check_log_matching(void)
{
	/* if two logs hold an entry with the same index and term, they hold the
	 * same entries up to it: compare from the highest common match down */
	for (int a = 0; a < S.n; a++) {
		for (int b = a + 1; b < S.n; b++) {
			struct raft *x = S.node[a].r, *y = S.node[b].r;
			if (!x || !y)
				continue;
			uint64_t lo = raft_first_index(x) > raft_first_index(y) ? raft_first_index(x)
			                                                        : raft_first_index(y);
			uint64_t hi = raft_last_index(x) < raft_last_index(y) ? raft_last_index(x)
			                                                      : raft_last_index(y);
			bool matched = false;
			for (uint64_t k = hi; k >= lo && k > 0; k--) {
				uint64_t tx = raft_term_at(x, k), ty = raft_term_at(y, k);
				if (tx && tx == ty)
					matched = true;
				if (matched)
					CHECK(tx == ty, "log matching: %s and %s differ at %llu below a match",
					      S.node[a].id, S.node[b].id, (unsigned long long)k);
			}
		}
	}
}

/* ---- driving one node ---- */

static void apply_entry(int i, const struct raft_entry *e)
{
	struct node *nd = &S.node[i];
	CHECK(e->index == nd->fsm.applied + 1, "%s applied %llu after %llu", nd->id,
	      (unsigned long long)e->index, (unsigned long long)nd->fsm.applied);
	CHECK(e->index < MAXIDX, "index beyond the simulation's table");
	uint64_t h = entry_hash(e->term, e->type, e->data, e->len);
	if (!S.applied_cmd[e->index])
		S.applied_cmd[e->index] = h;
	CHECK(S.applied_cmd[e->index] == h, "state machine safety: %s applied a different entry at %llu",
	      nd->id, (unsigned long long)e->index);
	if (e->type == RAFT_ENTRY_COMMAND) {
		nd->fsm.hash = mix(nd->fsm.hash, h);
		nd->fsm.count++;
	}
	nd->fsm.applied = e->index;
	if (!S.state_after[e->index])
		S.state_after[e->index] = nd->fsm.hash | 1;
	CHECK(S.state_after[e->index] == (nd->fsm.hash | 1), "state diverged at %llu on %s",
	      (unsigned long long)e->index, nd->id);
	if (!S.committed[e->index]) {
		S.committed[e->index] = e->term;
		if (e->index > S.max_committed)
			S.max_committed = e->index;
	}
	/* acknowledge client writes the leader proposed */
	for (size_t p = 0; p < S.npend; p++) {
		struct pending *pd = &S.pend[p];
		if (pd->node != i || pd->boot != nd->boots || pd->index != e->index)
			continue;
		if (pd->term == e->term) {
			S.acked_index[pd->cmd] = e->index;
			S.acked_term[pd->cmd] = e->term;
			S.acked++;
			if (e->index > S.max_acked_index)
				S.max_acked_index = e->index;
		}
		S.pend[p] = S.pend[--S.npend];
		p--;
	}
}

static void crash(int i);

/* Drains the core's outputs; with lose=true the node crashes before the batch
 * is durable: nothing of it is written, sent or applied. */
static void drain(int i, bool lose)
{
	struct node *nd = &S.node[i];
	struct raft_out o;
	if (lose) {
		while (raft_next_output(nd->r, &o)) {
		}
		S.lost_batches++;
		trace("%s crashes before its batch is durable", nd->id);
		crash(i);
		return;
	}
	/* the order the contract asks for: persist, then send, then apply */
	struct raft_out *outs = NULL;
	size_t n = 0, cap = 0;
	while (raft_next_output(nd->r, &o)) {
		if (n == cap) {
			cap = cap ? cap * 2 : 32;
			outs = realloc(outs, cap * sizeof(*outs));
			assert_non_null(outs);
		}
		outs[n++] = o;
	}
	for (size_t k = 0; k < n; k++) {
		struct raft_out *x = &outs[k];
		switch (x->kind) {
		case RAFT_OUT_HARD_STATE:
			CHECK(x->term >= nd->disk.term, "term went backwards on %s", nd->id);
			nd->disk.term = x->term;
			snprintf(nd->disk.vote, sizeof(nd->disk.vote), "%s", x->vote);
			break;
		case RAFT_OUT_TRUNCATE:
			CHECK(x->index > nd->fsm.applied, "%s truncates applied entry %llu", nd->id,
			      (unsigned long long)x->index);
			disk_truncate(&nd->disk, x->index);
			break;
		case RAFT_OUT_APPEND:
			for (size_t e = 0; e < x->n_entries; e++)
				disk_append(&nd->disk, &x->entries[e]);
			break;
		case RAFT_OUT_INSTALL_SNAPSHOT:
			nd->disk.has_snap = true;
			nd->disk.snap_index = x->msg.snap_index;
			nd->disk.snap_term = x->msg.snap_term;
			nd->disk.snap_conf = *x->msg.snap_conf;
			assert_int_equal(x->msg.len, sizeof(struct fsm));
			memcpy(&nd->disk.snap_fsm, x->msg.data, sizeof(struct fsm));
			disk_truncate(&nd->disk, 0);
			nd->disk.first = x->msg.snap_index + 1;
			CHECK(nd->disk.snap_fsm.applied == x->msg.snap_index, "snapshot fsm mismatch");
			CHECK(!S.state_after[x->msg.snap_index] ||
			      S.state_after[x->msg.snap_index] == (nd->disk.snap_fsm.hash | 1),
			      "installed snapshot state differs");
			nd->fsm = nd->disk.snap_fsm;
			break;
		default:
			break;
		}
	}
	for (size_t k = 0; k < n; k++) {
		struct raft_out *x = &outs[k];
		switch (x->kind) {
		case RAFT_OUT_SEND:
			send_msg(i, x);
			break;
		case RAFT_OUT_APPLY:
			apply_entry(i, x->entry);
			break;
		case RAFT_OUT_READ:
			if (x->ok) {
				CHECK(x->index >= S.read_floor[x->req % 64],
				      "read index %llu below a write acknowledged before the read (%llu)",
				      (unsigned long long)x->index,
				      (unsigned long long)S.read_floor[x->req % 64]);
				S.reads_ok++;
			}
			break;
		case RAFT_OUT_STATE:
			trace("%s: %s term %llu leader %s", nd->id, raft_role_name(x->role),
			      (unsigned long long)x->term, x->leader_id);
			if (x->role == RAFT_LEADER) {
				CHECK(x->term < 100000, "term runaway");
				char *slot = &S.leader_of_term[x->term * RAFT_ID_MAX];
				CHECK(!slot[0] || strcmp(slot, nd->id) == 0,
				      "election safety: %s and %s both leaders of term %llu", slot, nd->id,
				      (unsigned long long)x->term);
				snprintf(slot, RAFT_ID_MAX, "%s", nd->id);
				check_leader_completeness(i);
			}
			break;
		case RAFT_OUT_LOG:
			if (S.trace) {
				printf("[%6llu] %s: %s", (unsigned long long)S.now, nd->id, x->log->msg);
				for (unsigned k2 = 0; k2 < x->log->nkv; k2++)
					printf(" %s=%s", x->log->key[k2], x->log->val[k2]);
				printf("\n");
			}
			break;
		default:
			break;
		}
		if (!nd->up)
			break;
	}
	free(outs);
	/* snapshot + compaction every 40 applied entries */
	if (nd->up && nd->fsm.applied >= raft_snapshot_index(nd->r) + 40) {
		uint64_t idx = nd->fsm.applied;
		uint64_t t = raft_term_at(nd->r, idx);
		if (t && raft_snapshot_done(nd->r, idx) == 0) {
			nd->disk.has_snap = true;
			nd->disk.snap_index = idx;
			nd->disk.snap_term = t;
			nd->disk.snap_fsm = nd->fsm;
			nd->disk.snap_conf = *raft_snapshot_configuration(nd->r);
			disk_delete_prefix(&nd->disk, raft_first_index(nd->r));
			S.snapshots++;
		}
		struct raft_out o2;
		while (raft_next_output(nd->r, &o2)) {
		}
	}
}

static void boot(int i)
{
	struct node *nd = &S.node[i];
	struct raft_options opt = { .seed = S.seed * 131 + (uint64_t)i * 7 + nd->boots,
		                    .trailing_logs = 10, .max_append_entries = 8 };
	snprintf(opt.id, sizeof(opt.id), "%s", nd->id);
	snprintf(opt.addr, sizeof(opt.addr), "%s", nd->addr);
	nd->r = raft_new(&opt);
	assert_non_null(nd->r);
	assert_int_equal(raft_restore_hard_state(nd->r, nd->disk.term, nd->disk.vote), 0);
	memset(&nd->fsm, 0, sizeof(nd->fsm));
	if (nd->disk.has_snap) {
		assert_int_equal(raft_restore_snapshot(nd->r, nd->disk.snap_index, nd->disk.snap_term,
		                                       &nd->disk.snap_conf), 0);
		nd->fsm = nd->disk.snap_fsm;
	}
	for (size_t k = 0; k < nd->disk.n; k++) {
		struct raft_entry e = { .index = nd->disk.first + k, .term = nd->disk.log[k].term,
			                .type = nd->disk.log[k].type, .data = nd->disk.log[k].data,
			                .len = nd->disk.log[k].len };
		assert_int_equal(raft_restore_entry(nd->r, &e), 0);
	}
	nd->up = true;
	nd->boots++;
	raft_start(nd->r, S.now);
	drain(i, false);
}

static void crash(int i)
{
	struct node *nd = &S.node[i];
	raft_free(nd->r);
	nd->r = NULL;
	nd->up = false;
	/* its TCP connections close: peers on the same side get the hint */
	for (int j = 0; j < S.n; j++) {
		if (j == i || !S.node[j].up || S.node[j].side != nd->side)
			continue;
		raft_peer_lost(S.node[j].r, S.now, nd->id);
		drain(j, false);
	}
}

/* ---- client and operator actions ---- */

static int find_leader(void)
{
	int best = -1;
	for (int i = 0; i < S.n; i++)
		if (S.node[i].up && raft_role(S.node[i].r) == RAFT_LEADER &&
		    (best < 0 || raft_term(S.node[i].r) > raft_term(S.node[best].r)))
			best = i;
	return best;
}

static void client_write(void)
{
	int l = find_leader();
	if (l < 0)
		return;
	if (S.next_cmd >= (1u << 20))
		return;
	uint64_t cmd = S.next_cmd++;
	uint8_t data[8];
	memcpy(data, &cmd, 8);
	uint64_t index, term;
	if (raft_propose(S.node[l].r, S.now, data, 8, &index, &term) == 0) {
		if (S.npend == S.cappend) {
			S.cappend = S.cappend ? S.cappend * 2 : 64;
			S.pend = realloc(S.pend, S.cappend * sizeof(*S.pend));
		}
		S.pend[S.npend++] = (struct pending){ index, term, cmd, l, S.node[l].boots };
	}
	drain(l, false);
}

static void client_read(void)
{
	int l = find_leader();
	if (l < 0)
		return;
	static uint64_t req;
	req++;
	S.read_floor[req % 64] = S.max_acked_index;
	raft_read_index(S.node[l].r, S.now, req);
	drain(l, false);
}

static void membership_step(void)
{
	int l = find_leader();
	if (l < 0)
		return;
	struct raft *r = S.node[l].r;
	const struct raft_configuration *c = raft_configuration(r);
	unsigned voters = 0;
	for (unsigned k = 0; k < c->n; k++)
		voters += c->s[k].voter;
	int pick = (int)rnd_below((uint64_t)S.n);
	int pos = raft_conf_find(c, S.node[pick].id);
	uint64_t idx;
	int rc = -1;
	if (pos < 0) {
		rc = raft_add_server(r, S.now, S.node[pick].id, S.node[pick].addr, false, &idx);
	} else if (!c->s[pos].voter) {
		uint64_t match = 0;
		if (raft_progress(r, S.node[pick].id, &match, NULL, S.now) &&
		    match + 5 >= raft_last_index(r))
			rc = raft_add_server(r, S.now, S.node[pick].id, S.node[pick].addr, true, &idx);
	} else if (voters > 2 && pick != l) {
		rc = raft_remove_server(r, S.now, S.node[pick].id, &idx);
	}
	trace("membership step: leader %s pick %s pos %d rc %d", S.node[l].id, S.node[pick].id, pos, rc);
	if (rc == 0) {
		S.conf_changes++;
		trace("conf change on leader %s: %s", S.node[l].id, S.node[pick].id);
	}
	drain(l, false);
}

static void fault_step(void)
{
	int i = (int)rnd_below((uint64_t)S.n);
	switch (rnd_below(9)) {
	case 0:
	case 1:
		if (S.node[i].up) {
			trace("crash %s", S.node[i].id);
			crash(i);
		} else {
			trace("restart %s", S.node[i].id);
			boot(i);
		}
		break;
	case 2:
		for (int k = 0; k < S.n; k++)
			S.node[k].side = (int)rnd_below(2);
		trace("partition");
		break;
	case 3:
		for (int k = 0; k < S.n; k++)
			S.node[k].side = 0;
		trace("heal");
		break;
	case 4:
		S.loss_pct = (unsigned)rnd_below(25);
		S.dup_pct = (unsigned)rnd_below(10);
		S.delay_max = (unsigned)(1 + rnd_below(40));
		trace("network: loss %u%% dup %u%% delay <= %u ms", S.loss_pct, S.dup_pct, S.delay_max);
		break;
	case 5: {
		/* a crash that loses the batch not yet durable */
		int l = find_leader();
		uint8_t data[8] = { 0xee };
		if (l >= 0 && raft_propose(S.node[l].r, S.now, data, 8, NULL, NULL) == 0)
			drain(l, true);
		break;
	}
	case 6: {
		int l = find_leader();
		if (l >= 0 && raft_transfer_leadership(S.node[l].r, S.now, NULL) == 0) {
			S.transfers++;
			trace("transfer from %s", S.node[l].id);
		}
		if (l >= 0)
			drain(l, false);
		break;
	}
	default:
		if (S.membership)
			membership_step();
		break;
	}
}

/* ---- the event loop ---- */

static void deliver_due(void)
{
	for (size_t k = 0; k < S.nq;) {
		struct flight *f = &S.q[k];
		if (f->at > S.now) {
			k++;
			continue;
		}
		struct flight x = *f;
		S.q[k] = S.q[--S.nq];
		struct node *nd = &S.node[x.to];
		if (nd->up && S.node[x.from].side == nd->side) {
			const uint8_t *payload;
			size_t plen, used;
			char err[256];
			struct raft_wire_msg wm;
			CHECK(raft_wire_frame(x.frame, x.len, RAFT_WIRE_FRAME_MAX, &payload, &plen, &used,
			                      err, sizeof(err)) == 1 && used == x.len, "bad frame");
			CHECK(raft_wire_decode_msg(payload, plen, &wm, err, sizeof(err)) == 0,
			      "our own frame does not decode: %s", err);
			raft_step(nd->r, S.now, &wm.msg);
			raft_wire_msg_release(&wm);
			/* now and then the receiver dies before its batch is durable */
			drain(x.to, S.faults && rnd_below(1000) < 2);
		}
		flight_free(&x);
	}
}

static void run_until(uint64_t end, bool faults, bool clients)
{
	S.faults = faults;
	uint64_t next_fault = S.now + 200, next_write = S.now + 10, next_read = S.now + 37;
	uint64_t next_member = S.membership && faults ? S.now + 300 : end;
	while (S.now < end) {
		deliver_due();
		for (int i = 0; i < S.n; i++) {
			if (S.node[i].up && raft_next_deadline(S.node[i].r) <= S.now) {
				raft_tick(S.node[i].r, S.now);
				drain(i, false);
			}
		}
		if (faults && S.now >= next_fault) {
			fault_step();
			next_fault = S.now + 50 + rnd_below(400);
		}
		if (S.now >= next_member) {
			membership_step();
			next_member = S.now + 100 + rnd_below(300);
		}
		if (!clients)
			next_write = next_read = end;
		if (S.now >= next_write) {
			client_write();
			next_write = S.now + 5 + rnd_below(30);
		}
		if (S.now >= next_read) {
			client_read();
			next_read = S.now + 20 + rnd_below(80);
		}
		/* jump to the next event */
		uint64_t t = end;
		for (size_t k = 0; k < S.nq; k++)
			if (S.q[k].at < t)
				t = S.q[k].at;
		for (int i = 0; i < S.n; i++)
			if (S.node[i].up && raft_next_deadline(S.node[i].r) < t)
				t = raft_next_deadline(S.node[i].r);
		if (faults && next_fault < t)
			t = next_fault;
		if (next_write < t)
			t = next_write;
		if (next_member < t)
			t = next_member;
		if (next_read < t)
			t = next_read;
		S.now = t > S.now ? t : S.now + 1;
		static unsigned steps;
		if (++steps % 64 == 0)
			check_log_matching();
	}
}

static bool all_applied(uint64_t index, int *who)
{
	int l = find_leader();
	if (l < 0)
		return false;
	const struct raft_configuration *c = raft_configuration(S.node[l].r);
	for (unsigned k = 0; k < c->n; k++) {
		int i = idx_of(c->s[k].id);
		if (!S.node[i].up || S.node[i].fsm.applied < index) {
			*who = i;
			uint64_t match = 0, lc = 0;
			raft_progress(S.node[l].r, S.node[i].id, &match, &lc, S.now);
			print_error("  %s: up %d applied %llu commit %llu last %llu first %llu snap %llu; "
			            "leader %s match %llu contact %llu ms ago, commit %llu last %llu\n",
			            S.node[i].id, S.node[i].up, (unsigned long long)S.node[i].fsm.applied,
			            S.node[i].r ? (unsigned long long)raft_commit_index(S.node[i].r) : 0ULL,
			            S.node[i].r ? (unsigned long long)raft_last_index(S.node[i].r) : 0ULL,
			            S.node[i].r ? (unsigned long long)raft_first_index(S.node[i].r) : 0ULL,
			            S.node[i].r ? (unsigned long long)raft_snapshot_index(S.node[i].r) : 0ULL,
			            S.node[l].id, (unsigned long long)match, (unsigned long long)lc,
			            (unsigned long long)raft_commit_index(S.node[l].r),
			            (unsigned long long)raft_last_index(S.node[l].r));
			return false;
		}
	}
	return true;
}

static void run_seed(int n, uint64_t seed)
{
	memset(&S, 0, sizeof(S));
	S.n = n;
	S.seed = seed;
	S.rng = seed * 0x9E3779B97F4A7C15ULL + 0x1234567ULL;
	S.trace = getenv("RAFT_SIM_TRACE") != NULL;
	S.membership = seed % 3 == 0;
	S.delay_max = 5;
	S.leader_of_term = calloc(100000, RAFT_ID_MAX);
	S.applied_cmd = calloc(MAXIDX, sizeof(uint64_t));
	S.state_after = calloc(MAXIDX, sizeof(uint64_t));
	S.committed = calloc(MAXIDX, sizeof(uint64_t));
	S.acked_index = calloc(1u << 20, sizeof(uint64_t));
	S.acked_term = calloc(1u << 20, sizeof(uint64_t));
	S.next_cmd = 1;
	/* with membership changes, start with 3 voters and let others join */
	struct raft_configuration conf = { 0 };
	int initial = S.membership ? 3 : n;
	for (int i = 0; i < n; i++) {
		snprintf(S.node[i].id, RAFT_ID_MAX, "node-%d", i);
		snprintf(S.node[i].addr, RAFT_ADDR_MAX, "10.0.0.%d:8300", i + 1);
		if (i < initial) {
			struct raft_server *s = &conf.s[conf.n++];
			snprintf(s->id, sizeof(s->id), "%s", S.node[i].id);
			snprintf(s->addr, sizeof(s->addr), "%s", S.node[i].addr);
			s->voter = true;
		}
	}
	for (int i = 0; i < n; i++) {
		boot(i);
		if (i < initial) {
			assert_int_equal(raft_bootstrap(S.node[i].r, S.now, &conf), 0);
			drain(i, false);
		}
	}
	run_until(FAULT_MS, true, true);

	/* faults stop: heal, restart everyone, clean network */
	for (int i = 0; i < n; i++)
		S.node[i].side = 0;
	S.loss_pct = S.dup_pct = 0;
	S.delay_max = 5;
	for (int i = 0; i < n; i++)
		if (!S.node[i].up)
			boot(i);
	uint64_t healed = S.now;
	run_until(healed + LIVENESS_MS, false, true);
	int l = find_leader();
	CHECK(l >= 0, "liveness: no leader %u ms after the faults stopped", LIVENESS_MS);
	/* a fresh write commits and reaches every member */
	uint64_t before = S.acked;
	client_write();
	run_until(S.now + 2000, false, false);
	CHECK(S.acked > before, "liveness: a write after healing was not acknowledged");
	int who = -1;
	uint64_t target = S.max_acked_index;
	CHECK(all_applied(target, &who), "liveness: %s has not applied %llu",
	      who >= 0 ? S.node[who].id : "?", (unsigned long long)target);
	/* every acknowledged write is in the applied history at its index */
	for (uint64_t c = 1; c < S.next_cmd; c++) {
		uint64_t idx = S.acked_index[c];
		if (!idx)
			continue;
		uint8_t data[8];
		memcpy(data, &c, 8);
		bool found = S.applied_cmd[idx] ==
		             entry_hash(S.acked_term[c], RAFT_ENTRY_COMMAND, data, 8);
		CHECK(found, "acknowledged write %llu lost at index %llu", (unsigned long long)c,
		      (unsigned long long)idx);
	}
	check_log_matching();
	if (getenv("RAFT_SIM_VERBOSE"))
		printf("seed %llu n=%d: acked %llu reads %llu lost-batches %u transfers %u conf %u "
		       "snapshots %u\n", (unsigned long long)seed, n, (unsigned long long)S.acked,
		       (unsigned long long)S.reads_ok, S.lost_batches, S.transfers, S.conf_changes,
		       S.snapshots);
	for (int i = 0; i < n; i++) {
		raft_free(S.node[i].r);
		disk_free(&S.node[i].disk);
	}
	for (size_t k = 0; k < S.nq; k++)
		flight_free(&S.q[k]);
	free(S.q);
	free(S.pend);
	free(S.leader_of_term);
	free(S.applied_cmd);
	free(S.state_after);
	free(S.committed);
	free(S.acked_index);
	free(S.acked_term);
}

static unsigned seeds(void)
{
	const char *s = getenv("RAFT_SIM_SEEDS");
	return s ? (unsigned)strtoul(s, NULL, 10) : 700;
}

static void run_size(int n)
{
	const char *one = getenv("RAFT_SIM_SEED");
	if (one) {
		const char *nn = getenv("RAFT_SIM_N");
		if (!nn || atoi(nn) == n)
			run_seed(n, strtoull(one, NULL, 10));
		return;
	}
	for (unsigned k = 0; k < seeds(); k++)
		run_seed(n, 1000 + k);
}

static void test_three(void **st) { (void)st; run_size(3); }
static void test_five(void **st) { (void)st; run_size(5); }
static void test_seven(void **st) { (void)st; run_size(7); }

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_three),
		cmocka_unit_test(test_five),
		cmocka_unit_test(test_seven),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
