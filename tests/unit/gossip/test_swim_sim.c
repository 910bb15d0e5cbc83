/* Seeded simulation of N swim cores on a simulated network (loss, delay,
 * crashes, partitions). Packets go through the real codec (seal, open,
 * decode), push/pulls through the real push/pull encoding. Invariants:
 * everyone converges to the true membership; a crashed node is marked failed
 * by all within the Lifeguard bound; at 5 % loss nobody alive is declared
 * failed; a partition heals.
 *
 * SWIM_SIM_SEEDS=N runs N seeds per scenario (CI runs a few hundred runs in
 * all; `make sim` runs thousands). SWIM_SIM_VERBOSE=1 prints the figures. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gossip/swim.h"

#define MAXN 256
#define STEP_MS 10

struct pkt {
	uint64_t at;
	int from, to;
	size_t len;
	uint8_t *data;
};

struct sim {
	int n;
	struct swim *node[MAXN];
	bool crashed[MAXN];
	int side[MAXN];          /* partition side; packets cross only when equal */
	unsigned loss_pct;
	uint64_t now, rng;
	struct pkt *q;
	size_t nq, capq;
	struct swim_out out;     /* scratch: large */
	uint8_t scratch[GW_UDP_MAX * 2];
	uint8_t sealed[GW_UDP_MAX];
	int declared_failed_alive; /* an alive node reported failed (loss test) */
	/* queries: what reached the asker (outside the cluster), what each node
	 * handed its application, and the last such query of node 3 */
	struct gw_serf_query_response answers[512];
	size_t nanswers;
	int app_queries[MAXN];
	struct swim_out *n3_query;
	uint64_t got_acks, got_answers;   /* who answered node 5's own query */
};

#define ASKER 249   /* 10.0.0.250: not a node, the address queries give */

static uint64_t rnd(struct sim *s)
{
	uint64_t x = s->rng;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	s->rng = x;
	return x * 0x2545F4914F6CDD1DULL;
}

static int node_of(const struct gw_ip *ip)
{
	uint32_t v4;
	if (!gw_ip_v4(ip, &v4))
		return -1;
	int i = (int)(v4 & 0xff) - 1;
	return i >= 0 && i < MAXN ? i : -1;
}

static bool reachable(const struct sim *s, int a, int b)
{
	return !s->crashed[a] && !s->crashed[b] && s->side[a] == s->side[b];
}

static void enqueue(struct sim *s, int from, int to, const uint8_t *data, size_t len)
{
	if (to < 0 || to >= s->n || !reachable(s, from, to))
		return;
	if (s->loss_pct && rnd(s) % 100 < s->loss_pct)
		return;
	if (s->nq == s->capq) {
		s->capq = s->capq ? s->capq * 2 : 256;
		s->q = realloc(s->q, s->capq * sizeof(*s->q));
	}
	struct pkt *p = &s->q[s->nq++];
	p->at = s->now + 1 + rnd(s) % 20; /* 1-20 ms */
	p->from = from;
	p->to = to;
	p->len = len;
	p->data = malloc(len);
	memcpy(p->data, data, len);
}

struct deliver_ctx {
	struct sim *s;
	int to, from;
};

static int on_leaf(void *ud, enum gw_type type, const uint8_t *body, size_t len)
{
	struct deliver_ctx *c = ud;
	struct gw_ip ip;
	gw_ip_from_v4(&ip, 0x0a000001u + (uint32_t)c->from);
	swim_on_message(c->s->node[c->to], c->s->now, &ip, 7946, type, body, len);
	return 0;
}

/* A push/pull from a to b, through the real encoding, as the glue does it. */
static void push_pull(struct sim *s, int a, const struct swim_out *o)
{
	int b = node_of(&o->ip);
	struct gw_push_pull mine, theirs, reply, decoded;
	static uint8_t us_a[65536], us_b[65536], buf[1 << 20];
	if (b < 0 || b >= s->n || !reachable(s, a, b) ||
	    (s->loss_pct && rnd(s) % 100 < s->loss_pct)) {
		swim_push_pull_done(s->node[a], s->now, o->request, NULL);
		return;
	}
	assert_int_equal(swim_local_state(s->node[a], o->join, &mine, us_a, sizeof(us_a)), 0);
	int n = gw_encode_push_pull(&mine, buf, sizeof(buf));
	swim_push_pull_release(&mine);
	assert_true(n > 0);
	size_t used;
	assert_int_equal(gw_decode_push_pull(buf + 1, (size_t)n - 1, &theirs, &used), 0);
	int rc = swim_on_push_pull(s->node[b], s->now, &theirs, &reply, us_b, sizeof(us_b));
	gw_push_pull_free(&theirs);
	if (rc) {
		swim_push_pull_release(&reply);
		swim_push_pull_done(s->node[a], s->now, o->request, NULL);
		return;
	}
	n = gw_encode_push_pull(&reply, buf, sizeof(buf));
	swim_push_pull_release(&reply);
	assert_true(n > 0);
	assert_int_equal(gw_decode_push_pull(buf + 1, (size_t)n - 1, &decoded, &used), 0);
	swim_push_pull_done(s->node[a], s->now, o->request, &decoded);
	gw_push_pull_free(&decoded);
}

static int asker_leaf(void *ud, enum gw_type type, const uint8_t *body, size_t len)
{
	struct sim *s = ud;
	if (type == GW_USER && len > 1 && body[0] == GW_SERF_QUERY_RESPONSE &&
	    s->nanswers < sizeof(s->answers) / sizeof(s->answers[0]))
		assert_int_equal(gw_decode_serf_query_response(body + 1, len - 1,
		                                               &s->answers[s->nanswers++]), 0);
	return 0;
}

static void drain(struct sim *s, int i)
{
	while (swim_next_output(s->node[i], &s->out)) {
		const struct swim_out *o = &s->out;
		if (s->crashed[i])
			continue;
		if (o->kind == SWIM_OUT_QUERY_RESPONSE && i == 5 && o->name[0] == 'n') {
			if (o->ack)
				s->got_acks |= 1ull << atoi(o->name + 1);
			else
				s->got_answers |= 1ull << atoi(o->name + 1);
		} else if (o->kind == SWIM_OUT_QUERY) {
			s->app_queries[i]++;
			if (i == 3 && s->n3_query)
				*s->n3_query = *o;
		} else if (o->kind == SWIM_OUT_PACKET && node_of(&o->ip) == ASKER) {
			uint8_t copy[GW_UDP_BUDGET * 2];
			assert_true(o->len <= sizeof(copy));
			memcpy(copy, o->data, o->len);
			assert_int_equal(gw_packet_open(NULL, copy, o->len, s->scratch, sizeof(s->scratch),
			                                asker_leaf, s), 0);
		} else if (o->kind == SWIM_OUT_PACKET) {
			int n = gw_packet_seal(NULL, o->crc, o->data, o->len, s->sealed,
			                       sizeof(s->sealed));
			assert_true(n > 0);
			enqueue(s, i, node_of(&o->ip), s->sealed, (size_t)n);
		} else if (o->kind == SWIM_OUT_PUSH_PULL) {
			push_pull(s, i, o);
		}
	}
}

static void step(struct sim *s)
{
	s->now += STEP_MS;
	for (size_t k = 0; k < s->nq;) {
		struct pkt *p = &s->q[k];
		if (p->at > s->now) {
			k++;
			continue;
		}
		struct pkt cur = *p;
		s->q[k] = s->q[--s->nq];
		if (reachable(s, cur.from, cur.to)) {
			struct deliver_ctx c = { s, cur.to, cur.from };
			gw_packet_open(NULL, cur.data, cur.len, s->scratch, sizeof(s->scratch), on_leaf, &c);
			drain(s, cur.to);
		}
		free(cur.data);
	}
	for (int i = 0; i < s->n; i++) {
		if (s->crashed[i])
			continue;
		if (swim_next_deadline(s->node[i]) <= s->now)
			swim_tick(s->node[i], s->now);
		drain(s, i);
	}
}

static struct sim *sim_new(int n, uint64_t seed, unsigned loss)
{
	struct sim *s = calloc(1, sizeof(*s));
	s->n = n;
	s->rng = seed * 2654435761u + 1;
	s->loss_pct = loss;
	s->now = 1000;
	for (int i = 0; i < n; i++) {
		struct swim_config c;
		memset(&c, 0, sizeof(c));
		snprintf(c.name, sizeof(c.name), "n%d", i);
		gw_ip_from_v4(&c.addr, 0x0a000001u + (uint32_t)i);
		c.port = 7946;
		struct gw_tag tag = { "role", "node" };
		int m = gw_encode_tags(&tag, 1, c.meta, sizeof(c.meta));
		assert_true(m > 0);
		c.meta_len = (size_t)m;
		memcpy(c.vsn, (uint8_t[]){ 1, 5, 2, 2, 5, 4 }, 6);
		c.seed = seed * 1000 + (uint64_t)i + 1;
		s->node[i] = swim_new(&c, s->now);
		assert_non_null(s->node[i]);
	}
	/* everyone joins node 0, as retry_join would */
	struct gw_ip ip0;
	gw_ip_from_v4(&ip0, 0x0a000001u);
	for (int i = 1; i < n; i++) {
		swim_join(s->node[i], s->now, &ip0, 7946);
		drain(s, i);
	}
	return s;
}

static void sim_free(struct sim *s)
{
	for (int i = 0; i < s->n; i++)
		swim_free(s->node[i]);
	for (size_t k = 0; k < s->nq; k++)
		free(s->q[k].data);
	free(s->q);
	free(s);
}

struct view {
	const char *name;
	enum swim_status status;
	bool found;
};

static void find_cb(void *ud, const struct swim_member_info *m)
{
	struct view *v = ud;
	if (strcmp(m->name, v->name) == 0) {
		v->found = true;
		v->status = m->status;
	}
}

static enum swim_status seen_as(const struct sim *s, int observer, int subject)
{
	char name[16];
	snprintf(name, sizeof(name), "n%d", subject);
	struct view v = { name, SWIM_NONE, false };
	swim_members(s->node[observer], find_cb, &v);
	return v.found ? v.status : SWIM_NONE;
}

/* Every live node sees every live node alive (and, if want_failed >= 0, that
 * one failed or left). */
static bool converged(const struct sim *s, int want_failed)
{
	for (int i = 0; i < s->n; i++) {
		if (s->crashed[i])
			continue;
		for (int j = 0; j < s->n; j++) {
			enum swim_status st = seen_as(s, i, j);
			if (j == want_failed) {
				if (st != SWIM_FAILED && st != SWIM_LEFT)
					return false;
			} else if (!s->crashed[j] && st != SWIM_ALIVE) {
				return false;
			}
		}
	}
	return true;
}

static uint64_t run_until(struct sim *s, uint64_t max_ms, int want_failed)
{
	uint64_t start = s->now;
	while (s->now - start < max_ms) {
		step(s);
		if (converged(s, want_failed))
			return s->now - start;
	}
	return UINT64_MAX;
}

static int seeds(int dflt)
{
	const char *e = getenv("SWIM_SIM_SEEDS");
	return e && atoi(e) > 0 ? atoi(e) : dflt;
}

static void test_converge(void **state)
{
	for (int seed = 1; seed <= seeds(100); seed++) {
		/* 200 nodes every 25th seed: slower to simulate, so rarer */
		int n = seed % 25 == 0 ? 200 : seed % 2 ? 10 : 30;
		struct sim *s = sim_new(n, (uint64_t)seed, 0);
		/* gossip usually does it in about a second; a node that missed a
		 * broadcast catches up at the next push/pull (30 s), as with serf */
		uint64_t t = run_until(s, 40000, -1);
		if (t == UINT64_MAX)
			fail_msg("seed %d: %d nodes did not converge in 40 s", seed, n);
		if (getenv("SWIM_SIM_VERBOSE"))
			print_message("seed %d: %d nodes converged in %llu ms\n", seed, n,
			              (unsigned long long)t);
		sim_free(s);
	}
}

/* A crashed node: suspected after a failed probe, dead after the suspicion
 * timeout (4-24 s for small clusters), seen by everyone through gossip. */
static void test_crash_detected(void **state)
{
	for (int seed = 1; seed <= seeds(100); seed++) {
		struct sim *s = sim_new(10, (uint64_t)seed + 100, 0);
		assert_true(run_until(s, 40000, -1) != UINT64_MAX);
		int victim = 1 + seed % 9;
		s->crashed[victim] = true;
		uint64_t t = run_until(s, 40000, victim);
		if (t == UINT64_MAX)
			fail_msg("seed %d: crash of n%d not seen by all within 40 s", seed, victim);
		if (getenv("SWIM_SIM_VERBOSE"))
			print_message("seed %d: crash of n%d seen failed by all after %llu ms\n", seed,
			              victim, (unsigned long long)t);
		sim_free(s);
	}
}

static void test_loss_no_false_failures(void **state)
{
	for (int seed = 1; seed <= seeds(20); seed++) {
		struct sim *s = sim_new(10, (uint64_t)seed + 200, 0);
		assert_true(run_until(s, 40000, -1) != UINT64_MAX);
		s->loss_pct = 5;
		for (uint64_t t = 0; t < 60000; t += STEP_MS) {
			step(s);
			for (int i = 0; i < s->n; i++)
				for (int j = 0; j < s->n; j++)
					if (seen_as(s, i, j) == SWIM_FAILED)
						fail_msg("seed %d: n%d declared n%d failed at 5%% loss", seed, i, j);
		}
		sim_free(s);
	}
}

static void test_partition_heals(void **state)
{
	for (int seed = 1; seed <= seeds(40); seed++) {
		struct sim *s = sim_new(10, (uint64_t)seed + 300, 0);
		assert_true(run_until(s, 40000, -1) != UINT64_MAX);
		for (int i = 5; i < 10; i++)
			s->side[i] = 1;
		for (uint64_t t = 0; t < 40000; t += STEP_MS)
			step(s);
		assert_int_equal(seen_as(s, 0, 7), SWIM_FAILED);
		assert_int_equal(seen_as(s, 7, 0), SWIM_FAILED);
		for (int i = 5; i < 10; i++)
			s->side[i] = 0;
		/* Serf's reconnect (every 30 s) and push/pull bring both halves back */
		uint64_t t = run_until(s, 120000, -1);
		if (t == UINT64_MAX)
			fail_msg("seed %d: partition did not heal within 120 s", seed);
		if (getenv("SWIM_SIM_VERBOSE"))
			print_message("seed %d: partition healed after %llu ms\n", seed,
			              (unsigned long long)t);
		sim_free(s);
	}
}

static void test_leave_seen_as_left(void **state)
{
	struct sim *s = sim_new(5, 400, 0);
	assert_true(run_until(s, 40000, -1) != UINT64_MAX);
	swim_leave(s->node[3], s->now);
	drain(s, 3);
	for (int k = 0; k < 300 && !swim_leave_broadcast_done(s->node[3]); k++)
		step(s);
	s->crashed[3] = true;
	uint64_t t = run_until(s, 5000, 3);
	assert_true(t != UINT64_MAX);
	for (int i = 0; i < 5; i++)
		if (i != 3)
			assert_int_equal(seen_as(s, i, 3), SWIM_LEFT);
	sim_free(s);
}

/* ---- Serf queries ---- */

/* Node `at` receives a query from the asker (as if gossiped to it). */
static void ask(struct sim *s, int at, const char *name, const uint8_t *payload, size_t plen,
                uint32_t flags, uint8_t relay, const uint8_t *filter, size_t flen)
{
	static struct gw_serf_query q;
	memset(&q, 0, sizeof(q));
	q.ltime = 5;
	q.id = 0xabcd0000u + (uint32_t)s->nanswers + (uint32_t)rnd(s) % 1000;
	gw_ip_from_v4(&q.addr, 0x0a000001u + ASKER);
	q.port = 7946;
	snprintf(q.source_node, sizeof(q.source_node), "asker");
	snprintf(q.name, sizeof(q.name), "%s", name);
	if (plen)
		memcpy(q.payload, payload, plen);
	q.payload_len = plen;
	q.flags = flags;
	q.relay_factor = relay;
	q.timeout_ns = 3200000000;
	if (flen) {
		memcpy(q.filters, filter, flen);
		q.n_filters = 1;
		q.filter_off[1] = (uint16_t)flen;
	}
	uint8_t buf[GW_UDP_BUDGET];
	int n = gw_encode_serf_query(&q, buf, sizeof(buf));
	assert_true(n > 0);
	struct gw_ip from;
	gw_ip_from_v4(&from, 0x0a000001u + ASKER);
	swim_on_message(s->node[at], s->now, &from, 7946, GW_USER, buf, (size_t)n);
	drain(s, at);
}

static void run_ms(struct sim *s, uint64_t ms)
{
	for (uint64_t t = 0; t < ms; t += STEP_MS)
		step(s);
}

/* Distinct responders among the answers of one kind (acks or responses);
 * sets bit i for node ni. */
static uint64_t responders(const struct sim *s, bool acks)
{
	uint64_t set = 0;
	for (size_t k = 0; k < s->nanswers; k++) {
		const struct gw_serf_query_response *r = &s->answers[k];
		if (((r->flags & GW_QUERY_ACK) != 0) == acks && r->from[0] == 'n')
			set |= 1ull << atoi(r->from + 1);
	}
	return set;
}

static void clear(struct sim *s)
{
	s->nanswers = 0;
	memset(s->app_queries, 0, sizeof(s->app_queries));
}

/* A query asked at one node reaches every node through gossip; each acks
 * once, straight to the asker, and hands it to its application once. */
static void test_query_reaches_all(void **state)
{
	for (int seed = 1; seed <= seeds(20) / 4 + 1; seed++) {
		struct sim *s = sim_new(12, (uint64_t)seed + 500, 0);
		assert_true(run_until(s, 40000, -1) != UINT64_MAX);
		ask(s, 0, "deploy", (const uint8_t *)"v2", 2, GW_QUERY_ACK, 0, NULL, 0);
		run_ms(s, 3000);
		assert_int_equal(responders(s, true), (1u << 12) - 1);
		assert_int_equal(s->nanswers, 12);   /* one ack each: duplicates are not answered */
		for (int i = 0; i < 12; i++)
			assert_int_equal(s->app_queries[i], 1);
		sim_free(s);
	}
}

/* Node and tag filters: only matching nodes ack, but every node passes the
 * query on (the filtered ones are reached through the others). */
static void test_query_filters(void **state)
{
	struct sim *s = sim_new(10, 600, 0);
	assert_true(run_until(s, 40000, -1) != UINT64_MAX);
	uint8_t f[256];
	const char *names[] = { "n3", "n7" };
	int n = gw_serf_make_node_filter(names, 2, f, sizeof(f));
	assert_true(n > 0);
	ask(s, 0, "only", NULL, 0, GW_QUERY_ACK, 0, f, (size_t)n);
	run_ms(s, 3000);
	assert_int_equal(responders(s, true), (1u << 3) | (1u << 7));
	assert_int_equal(s->app_queries[0], 0);
	assert_int_equal(s->app_queries[3], 1);

	clear(s);
	n = gw_serf_make_tag_filter("role", "^no", f, sizeof(f));   /* role=node everywhere */
	ask(s, 4, "tagged", NULL, 0, GW_QUERY_ACK, 0, f, (size_t)n);
	run_ms(s, 3000);
	assert_int_equal(responders(s, true), (1u << 10) - 1);

	clear(s);
	n = gw_serf_make_tag_filter("role", "^consul$", f, sizeof(f));
	ask(s, 4, "servers", NULL, 0, GW_QUERY_ACK, 0, f, (size_t)n);
	n = gw_serf_make_tag_filter("dc", "x", f, sizeof(f));   /* absent tag: "" */
	ask(s, 5, "dc", NULL, 0, GW_QUERY_ACK, 0, f, (size_t)n);
	n = gw_serf_make_tag_filter("role", "(", f, sizeof(f)); /* does not compile */
	ask(s, 6, "bad", NULL, 0, GW_QUERY_ACK, 0, f, (size_t)n);
	/* seconds of regcomp in glibc: refused, never compiled */
	n = gw_serf_make_tag_filter("role", "((n{1,100}){1,100}){1,100}", f, sizeof(f));
	ask(s, 7, "costly", NULL, 0, GW_QUERY_ACK, 0, f, (size_t)n);
	run_ms(s, 3000);
	assert_int_equal(s->nanswers, 0);

	/* NoBroadcast: only the node that got it answers */
	clear(s);
	ask(s, 2, "direct", NULL, 0, GW_QUERY_ACK | GW_QUERY_NO_BROADCAST, 0, NULL, 0);
	run_ms(s, 3000);
	assert_int_equal(responders(s, true), 1u << 2);
	sim_free(s);
}

/* The application's answer (node 3) reaches the asker before the deadline,
 * is refused after it; relay_factor sends extra copies through others. */
static void test_query_respond_and_relay(void **state)
{
	struct sim *s = sim_new(8, 700, 0);
	assert_true(run_until(s, 40000, -1) != UINT64_MAX);
	static struct swim_out q3;
	s->n3_query = &q3;
	ask(s, 0, "version", NULL, 0, 0, 2, NULL, 0);
	run_ms(s, 1000);
	assert_int_equal(s->app_queries[3], 1);
	assert_string_equal(q3.name, "version");
	assert_int_equal(swim_query_respond(s->node[3], s->now, &q3, (const uint8_t *)"1.2", 3), 0);
	drain(s, 3);
	run_ms(s, 500);
	assert_int_equal(responders(s, false), 1u << 3);
	/* the direct copy and two relayed through other members */
	assert_int_equal(s->nanswers, 3);
	assert_memory_equal(s->answers[0].payload, "1.2", 3);
	uint8_t big[SWIM_QUERY_RESPONSE_MAX + 1] = { 0 };
	assert_int_equal(swim_query_respond(s->node[3], s->now, &q3, big, sizeof(big)), -E2BIG);
	assert_int_equal(swim_query_respond(s->node[3], q3.deadline + 1, &q3, big, 1), -ETIMEDOUT);
	sim_free(s);
}

/* A node asks a query of its own: every node (itself included) acks, and
 * the application answers of the others come back to it; once closed, late
 * answers are not passed on. */
static void test_query_asked_here(void **state)
{
	struct sim *s = sim_new(10, 900, 0);
	assert_true(run_until(s, 40000, -1) != UINT64_MAX);
	static struct swim_out q3;
	s->n3_query = &q3;
	assert_int_equal(swim_query_timeout_ms(s->node[5]), 6400);   /* 10 members: x2 */
	int64_t id = swim_query(s->node[5], s->now, "deploy", (const uint8_t *)"x", 1, GW_QUERY_ACK,
	                        0, 3200);
	assert_true(id >= 0);
	drain(s, 5);
	run_ms(s, 1000);
	assert_int_equal(s->got_acks, (1u << 10) - 1);
	assert_int_equal(s->app_queries[3], 1);
	assert_int_equal(swim_query_respond(s->node[3], s->now, &q3, (const uint8_t *)"ok", 2), 0);
	drain(s, 3);
	run_ms(s, 200);
	assert_int_equal(s->got_answers, 1u << 3);
	swim_query_close(s->node[5], (uint32_t)id);
	s->got_answers = 0;
	assert_int_equal(swim_query_respond(s->node[3], s->now, &q3, (const uint8_t *)"ok", 2), 0);
	drain(s, 3);
	run_ms(s, 200);
	assert_int_equal(s->got_answers, 0);
	/* too large for serf's 1024-byte limit */
	uint8_t big[1000] = { 0 };
	assert_int_equal(swim_query(s->node[5], s->now, "big", big, sizeof(big), 0, 0, 1000), -E2BIG);
	sim_free(s);
}

/* _serf_conflict: every other node says who it thinks owns the name; the
 * named node itself stays silent; _serf_ping is acked and not handed on. */
static void test_query_internal(void **state)
{
	struct sim *s = sim_new(6, 800, 0);
	assert_true(run_until(s, 40000, -1) != UINT64_MAX);
	ask(s, 0, "_serf_conflict", (const uint8_t *)"n2", 2, 0, 0, NULL, 0);
	run_ms(s, 3000);
	assert_int_equal(responders(s, false), 0x3fu & ~(1u << 2));
	for (size_t k = 0; k < s->nanswers; k++) {
		const struct gw_serf_query_response *r = &s->answers[k];
		bool present;
		char name[GW_NAME_MAX];
		struct gw_ip addr;
		uint16_t port;
		int status;
		assert_int_equal(r->payload[0], GW_SERF_CONFLICT_RESPONSE);
		assert_int_equal(gw_decode_serf_conflict_response(r->payload + 1, r->payload_len - 1,
		                                                  &present, name, &addr, &port,
		                                                  &status), 0);
		assert_true(present);
		assert_string_equal(name, "n2");
		assert_int_equal(node_of(&addr), 2);
		assert_int_equal(port, 7946);
		assert_int_equal(status, SWIM_ALIVE);
	}
	clear(s);
	ask(s, 1, "_serf_conflict", (const uint8_t *)"nobody", 6, 0, 0, NULL, 0);
	run_ms(s, 3000);
	assert_int_equal(responders(s, false), 0x3f);
	bool present = true;
	char name[GW_NAME_MAX];
	struct gw_ip addr;
	uint16_t port;
	int status;
	assert_int_equal(gw_decode_serf_conflict_response(s->answers[0].payload + 1,
	                                                  s->answers[0].payload_len - 1, &present,
	                                                  name, &addr, &port, &status), 0);
	assert_false(present);
	clear(s);
	ask(s, 1, "_serf_ping", NULL, 0, GW_QUERY_ACK, 0, NULL, 0);
	run_ms(s, 3000);
	assert_int_equal(responders(s, true), 0x3f);
	assert_int_equal(responders(s, false), 0);
	for (int i = 0; i < 6; i++)
		assert_int_equal(s->app_queries[i], 0);
	sim_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_converge),
		cmocka_unit_test(test_crash_detected),
		cmocka_unit_test(test_loss_no_false_failures),
		cmocka_unit_test(test_partition_heals),
		cmocka_unit_test(test_leave_seen_as_left),
		cmocka_unit_test(test_query_reaches_all),
		cmocka_unit_test(test_query_filters),
		cmocka_unit_test(test_query_respond_and_relay),
		cmocka_unit_test(test_query_internal),
		cmocka_unit_test(test_query_asked_here),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
