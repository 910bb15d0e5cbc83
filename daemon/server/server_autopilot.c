/* server_autopilot: the leader's view of every Raft server's health
 * (Consul's autopilot ServerHealth / OperatorHealthReply, reference §5.6),
 * computed from the Raft core's per-follower progress, gossip and the
 * replicated autopilot configuration; asked of the leader over server RPC
 * (Operator.AutopilotHealth) when this server is not it.
 *
 * A server is healthy when gossip has it alive, the leader heard from it
 * within LastContactThreshold, its last entry is of the leader's last term,
 * and it trails the leader by at most MaxTrailingLogs entries. StableSince is
 * when the current leader first saw the server's present health value; the
 * leader re-evaluates every second (cluster tick) and on every request. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/server_internal.h"

#define NO_LEADER "No cluster leader"
#define HEALTH_RPC "Operator.AutopilotHealth"
#define EVAL_EVERY_MS 1000
#define RPC_TIMEOUT_MS 5000

/* ---- computing (leader only) ---- */

struct scan {
	const struct raft_configuration *conf;
	struct cc_server_autopilot *h;
};

static void scan_member(void *ud, const struct swim_member_info *m)
{
	struct scan *sc = ud;
	struct gw_tag t[24];
	int nt = gw_decode_tags(m->meta, m->meta_len, t, 24);
	const char *id = nt > 0 ? gw_tag_find(t, (size_t)nt, "id") : NULL;
	int pos = id ? raft_conf_find(sc->conf, id) : -1;
	if (pos < 0)
		return;
	struct cc_server_health *x = &sc->h->s[pos];
	const char *build = gw_tag_find(t, (size_t)nt, "build");
	snprintf(x->name, sizeof(x->name), "%s", m->name);
	snprintf(x->version, sizeof(x->version), "%.*s", build ? (int)strcspn(build, ":") : 0,
	         build ? build : "");
	x->serf = m->status;
}

/* The tracked health of id: when it last changed (or was first seen). */
static int64_t stable_since(struct cc_server *s, const char *id, bool healthy, int64_t now)
{
	int free_slot = -1;
	const struct raft_configuration *conf = raft_configuration(s->raft);
	for (int i = 0; i < RAFT_MAX_SERVERS; i++) {
		struct srv_health_track *t = &s->ap_track[i];
		if (t->id[0] && strcmp(t->id, id) == 0) {
			if (t->healthy != healthy) {
				t->healthy = healthy;
				t->since = now;
			}
			return t->since;
		}
		if (free_slot < 0 && (!t->id[0] || raft_conf_find(conf, t->id) < 0))
			free_slot = i;
	}
	if (free_slot >= 0) {
		struct srv_health_track *t = &s->ap_track[free_slot];
		snprintf(t->id, sizeof(t->id), "%s", id);
		t->healthy = healthy;
		t->since = now;
	}
	return now;
}

static void compute(struct cc_server *s, struct cc_server_autopilot *h)
{
	const struct raft_configuration *conf = raft_configuration(s->raft);
	const struct autopilot_config *ap = &s->fsm->autopilot;
	uint64_t now = server_now(s);
	int64_t wall = (int64_t)time(NULL);
	if (!s->ap_leader_since)
		s->ap_leader_since = now;
	uint64_t term = raft_last_term(s->raft), last = raft_last_index(s->raft);
	memset(h, 0, sizeof(*h));
	h->n = conf->n;
	struct scan sc = { conf, h };
	if (s->lan)
		gossip_members(s->lan, scan_member, &sc);
	unsigned voters = 0, healthy_voters = 0, healthy = 0;
	for (unsigned i = 0; i < conf->n; i++) {
		struct cc_server_health *x = &h->s[i];
		snprintf(x->id, sizeof(x->id), "%s", conf->s[i].id);
		snprintf(x->addr, sizeof(x->addr), "%s", conf->s[i].addr);
		x->voter = conf->s[i].voter;
		x->leader = strcmp(conf->s[i].id, s->node_id) == 0;
		bool contact = true;
		if (x->leader) {
			x->last_term = term;
			x->last_index = last;
		} else {
			uint64_t match = 0, ago = UINT64_MAX;
			raft_progress(s->raft, x->id, &match, &ago, now);
			/* never heard from since this leader took over: at least that long */
			contact = ago != UINT64_MAX;
			x->last_contact_ms = contact ? ago : now - s->ap_leader_since;
			x->last_index = match;
			x->last_term = match ? raft_term_at(s->raft, match) : 0;
		}
		uint64_t threshold_ms = (uint64_t)ap->last_contact_threshold_ns / 1000000u;
		uint64_t trail = ap->max_trailing_logs;
		x->healthy = x->serf == SWIM_ALIVE && contact && x->last_contact_ms <= threshold_ms &&
		             x->last_term == term && (last <= trail || x->last_index >= last - trail);
		x->stable_since = stable_since(s, x->id, x->healthy, wall);
		healthy += x->healthy;
		voters += x->voter;
		healthy_voters += x->voter && x->healthy;
	}
	h->healthy = conf->n > 0 && healthy == conf->n;
	unsigned quorum = voters / 2 + 1;
	h->failure_tolerance = healthy_voters > quorum ? healthy_voters - quorum : 0;
}

void server_autopilot_tick(struct cc_server *s)
{
	if (raft_role(s->raft) != RAFT_LEADER) {
		/* a new leader starts its own clocks */
		s->ap_leader_since = 0;
		memset(s->ap_track, 0, sizeof(s->ap_track));
		return;
	}
	uint64_t now = server_now(s);
	if (!s->ap_leader_since)
		s->ap_leader_since = now;
	if (now < s->ap_next_eval)
		return;
	s->ap_next_eval = now + EVAL_EVERY_MS;
	struct cc_server_autopilot *h = malloc(sizeof(*h));
	if (h)
		compute(s, h);
	free(h);
}

/* ---- the RPC answer: u8 healthy, u8 failure tolerance, u8 count, then per
 * server id, name, addr, version (u16 LE length + bytes each), u8 serf
 * status, u8 flags (1 leader, 2 voter, 4 healthy), u64 LE last contact ms,
 * last term, last index, stable since ---- */

struct wr {
	uint8_t *p;
	size_t n, cap;
};

static void put(struct wr *w, const void *src, size_t n)
{
	if (w->n + n <= w->cap)
		memcpy(w->p + w->n, src, n);
	w->n += n;
}

static void put_u64(struct wr *w, uint64_t v)
{
	uint8_t b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	put(w, b, 8);
}

static void put_str(struct wr *w, const char *str)
{
	size_t n = strlen(str);
	uint8_t b[2] = { (uint8_t)n, (uint8_t)(n >> 8) };
	put(w, b, 2);
	put(w, str, n);
}

static size_t encode(const struct cc_server_autopilot *h, uint8_t *buf, size_t cap)
{
	struct wr w = { buf, 0, cap };
	uint8_t head[3] = { h->healthy, (uint8_t)h->failure_tolerance, (uint8_t)h->n };
	put(&w, head, 3);
	for (unsigned i = 0; i < h->n; i++) {
		const struct cc_server_health *x = &h->s[i];
		put_str(&w, x->id);
		put_str(&w, x->name);
		put_str(&w, x->addr);
		put_str(&w, x->version);
		uint8_t b[2] = { (uint8_t)x->serf,
			         (uint8_t)(x->leader | x->voter << 1 | x->healthy << 2) };
		put(&w, b, 2);
		put_u64(&w, x->last_contact_ms);
		put_u64(&w, x->last_term);
		put_u64(&w, x->last_index);
		put_u64(&w, (uint64_t)x->stable_since);
	}
	return w.n;
}

struct rd {
	const uint8_t *p;
	size_t n, off;
	bool bad;
};

static const uint8_t *take(struct rd *r, size_t n)
{
	if (r->bad || r->n - r->off < n) {
		r->bad = true;
		return NULL;
	}
	r->off += n;
	return r->p + r->off - n;
}

static uint64_t get_u64(struct rd *r)
{
	const uint8_t *b = take(r, 8);
	uint64_t v = 0;
	for (int i = 0; b && i < 8; i++)
		v |= (uint64_t)b[i] << (8 * i);
	return v;
}

static void get_str(struct rd *r, char *out, size_t cap)
{
	const uint8_t *b = take(r, 2);
	size_t n = b ? (size_t)(b[0] | b[1] << 8) : 0;
	const uint8_t *p = n < cap ? take(r, n) : NULL;
	if (!p || memchr(p, '\0', n)) {
		r->bad = true;
		out[0] = '\0';
		return;
	}
	memcpy(out, p, n);
	out[n] = '\0';
}

/* 0, or -EINVAL for an answer that is not one. */
static int decode(const uint8_t *buf, size_t len, struct cc_server_autopilot *h)
{
	memset(h, 0, sizeof(*h));
	struct rd r = { buf, buf ? len : 0, 0, false };
	const uint8_t *head = take(&r, 3);
	if (!head || head[0] > 1 || head[2] > RAFT_MAX_SERVERS)
		return -EINVAL;
	h->healthy = head[0];
	h->failure_tolerance = head[1];
	h->n = head[2];
	for (unsigned i = 0; i < h->n && !r.bad; i++) {
		struct cc_server_health *x = &h->s[i];
		get_str(&r, x->id, sizeof(x->id));
		get_str(&r, x->name, sizeof(x->name));
		get_str(&r, x->addr, sizeof(x->addr));
		get_str(&r, x->version, sizeof(x->version));
		const uint8_t *b = take(&r, 2);
		if (!b || b[0] > SWIM_FAILED || b[1] > 7)
			break;
		x->serf = (enum swim_status)b[0];
		x->leader = b[1] & 1;
		x->voter = b[1] & 2;
		x->healthy = b[1] & 4;
		x->last_contact_ms = get_u64(&r);
		x->last_term = get_u64(&r);
		x->last_index = get_u64(&r);
		x->stable_since = (int64_t)get_u64(&r);
	}
	return r.bad || r.off != r.n ? -EINVAL : 0;
}

void server_autopilot_rpc(struct cc_server *s, struct tr_call *call)
{
	if (raft_role(s->raft) != RAFT_LEADER) {
		transport_rpc_reply(call, NO_LEADER, NULL, 0);
		return;
	}
	struct cc_server_autopilot *h = malloc(sizeof(*h));
	size_t n = 0;
	uint8_t *buf = NULL;
	if (h) {
		compute(s, h);
		n = encode(h, NULL, 0);
		buf = malloc(n);
		if (buf)
			encode(h, buf, n);
	}
	transport_rpc_reply(call, buf ? NULL : "out of memory", buf, buf ? n : 0);
	free(buf);
	free(h);
}

/* ---- asking ---- */

struct ask {
	struct cc_server *s;
	cc_server_health_cb done;
	void *ud;
};

static void answer(struct ask *a, const char *err, struct cc_server_autopilot *h)
{
	a->done(a->ud, err, err ? NULL : h);
	free(h);
	free(a);
}

static void on_rpc_done(void *ud, const char *err, const uint8_t *body, size_t len)
{
	struct ask *a = ud;
	struct cc_server_autopilot *h = err ? NULL : malloc(sizeof(*h));
	char e[200];
	const char *fail = NULL;
	if (err && strcmp(err, NO_LEADER) == 0) {
		fail = NO_LEADER;
	} else if (err) {
		snprintf(e, sizeof(e), "rpc error making call: %s", err);
		fail = e;
	} else if (!h) {
		fail = "out of memory";
	} else if (decode(body, len, h)) {
		fail = "rpc error making call: malformed autopilot health answer";
	}
	answer(a, fail, h);
}

static void on_leader_known(void *ud, const char *err)
{
	struct ask *a = ud;
	struct cc_server *s = a->s;
	if (err) {
		answer(a, err, NULL);
		return;
	}
	if (raft_role(s->raft) == RAFT_LEADER) {
		struct cc_server_autopilot *h = malloc(sizeof(*h));
		if (h)
			compute(s, h);
		answer(a, h ? NULL : "out of memory", h);
		return;
	}
	static const uint8_t none[1] = { 0 };
	if (!raft_leader_addr(s->raft)[0] ||
	    transport_rpc(s->tr, raft_leader_addr(s->raft), HEALTH_RPC, none, sizeof(none),
	                  RPC_TIMEOUT_MS, on_rpc_done, a))
		answer(a, NO_LEADER, NULL);
}

void cc_server_autopilot_health(struct cc_server *s, cc_server_health_cb done, void *ud)
{
	struct ask *a = calloc(1, sizeof(*a));
	if (!a) {
		done(ud, "out of memory", NULL);
		return;
	}
	*a = (struct ask){ s, done, ud };
	/* waits for a leader (up to the hold timeout) and for its word that it
	 * still is one, then asks it */
	cc_server_read_barrier(s, CC_READ_DEFAULT, on_leader_known, a);
}

const struct autopilot_config *cc_server_autopilot_config(const struct cc_server *s)
{
	return &s->fsm->autopilot;
}
