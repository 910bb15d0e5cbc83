/* The Serf half of the core: member status (alive, leaving, left, failed),
 * Lamport clocks, join/leave intents, push/pull user state, reaping.
 * (Spec: gossip-wire.md §6.4-6.6.) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gossip/swim_internal.h"

void serf__witness(uint64_t *clock, uint64_t v)
{
	if (v >= *clock)
		*clock = v + 1;
}

/* Intents about members we do not know yet are kept (newest per node) and
 * applied when the member appears. */
static void remember_intent(struct swim *s, const char *node, uint64_t ltime, bool leave)
{
	for (size_t i = 0; i < s->nintents; i++) {
		struct recent_intent *r = &s->intents[i];
		if (strcmp(r->node, node) == 0) {
			if (ltime > r->ltime) {
				r->ltime = ltime;
				r->leave = leave;
			}
			return;
		}
	}
	if (s->nintents == s->capintents) {
		size_t cap = s->capintents ? s->capintents * 2 : 16;
		if (cap > 4096)
			return; /* bounded: MaxQueueDepth-like limit */
		struct recent_intent *n = realloc(s->intents, cap * sizeof(*n));
		if (!n)
			return;
		s->intents = n;
		s->capintents = cap;
	}
	struct recent_intent *r = &s->intents[s->nintents++];
	snprintf(r->node, sizeof(r->node), "%s", node);
	r->ltime = ltime;
	r->leave = leave;
}

static bool take_intent(struct swim *s, const char *node, struct recent_intent *out)
{
	for (size_t i = 0; i < s->nintents; i++) {
		if (strcmp(s->intents[i].node, node) == 0) {
			*out = s->intents[i];
			s->intents[i] = s->intents[--s->nintents];
			return true;
		}
	}
	return false;
}

void serf__rebroadcast(struct swim *s, const uint8_t *serf_msg, size_t len)
{
	uint8_t buf[GW_UDP_BUDGET];
	int n = gw_encode_user(serf_msg, len, buf, sizeof(buf));
	if (n > 0)
		swim__queue_bcast(s, "", buf, (size_t)n, false);
}

void serf__broadcast_join(struct swim *s)
{
	struct gw_serf_join j = { .ltime = s->clock };
	snprintf(j.node, sizeof(j.node), "%s", s->m[0]->name);
	serf__witness(&s->clock, j.ltime);
	s->m[0]->status_ltime = j.ltime;
	uint8_t buf[GW_NAME_MAX + 64];
	int n = gw_encode_serf_join(&j, buf, sizeof(buf));
	if (n > 0)
		serf__rebroadcast(s, buf, (size_t)n);
}

void serf__broadcast_leave(struct swim *s)
{
	struct gw_serf_leave l = { .ltime = s->clock, .prune = false };
	snprintf(l.node, sizeof(l.node), "%s", s->m[0]->name);
	s->clock++;
	s->m[0]->status = SWIM_LEAVING;
	s->m[0]->status_ltime = l.ltime;
	uint8_t payload[GW_NAME_MAX + 64], buf[GW_NAME_MAX + 80];
	int n = gw_encode_serf_leave(&l, payload, sizeof(payload));
	if (n <= 0)
		return;
	int k = gw_encode_user(payload, (size_t)n, buf, sizeof(buf));
	if (k > 0)
		swim__queue_bcast(s, "", buf, (size_t)k, true);
}

/* ---- memberlist events ---- */

void serf__on_ml_join(struct swim *s, uint64_t now, struct member *m)
{
	enum swim_status old = m->status;
	m->status = SWIM_ALIVE;
	struct recent_intent ri;
	if (take_intent(s, m->name, &ri) && ri.ltime > m->status_ltime) {
		m->status_ltime = ri.ltime;
		if (ri.leave)
			m->status = SWIM_LEAVING;
	}
	m->status_change = now;
	if (old != SWIM_ALIVE || m->status == SWIM_ALIVE)
		swim__event(s, SWIM_EVENT_JOIN, m);
}

void serf__on_ml_leave(struct swim *s, uint64_t now, struct member *m)
{
	if (m == s->m[0])
		return;
	if (m->status == SWIM_LEAVING || m->state == ML_LEFT) {
		m->status = SWIM_LEFT;
		m->status_change = now;
		swim__event(s, SWIM_EVENT_LEAVE, m);
	} else if (m->status == SWIM_ALIVE) {
		m->status = SWIM_FAILED;
		m->status_change = now;
		swim__event(s, SWIM_EVENT_FAILED, m);
	}
}

void serf__on_ml_update(struct swim *s, uint64_t now, struct member *m)
{
	swim__event(s, SWIM_EVENT_UPDATE, m);
}

/* ---- Serf messages ---- */

static void on_join_intent(struct swim *s, uint64_t now, const struct gw_serf_join *j,
                           const uint8_t *raw, size_t len, bool rebroadcast)
{
	serf__witness(&s->clock, j->ltime);
	struct member *m = swim__find(s, j->node);
	if (!m || m->status == SWIM_NONE) {
		remember_intent(s, j->node, j->ltime, false);
		return;
	}
	if (j->ltime <= m->status_ltime)
		return;
	m->status_ltime = j->ltime;
	if (m->status == SWIM_LEAVING)
		m->status = SWIM_ALIVE;
	if (rebroadcast && raw)
		serf__rebroadcast(s, raw, len);
}

static void on_leave_intent(struct swim *s, uint64_t now, const struct gw_serf_leave *l,
                            const uint8_t *raw, size_t len, bool rebroadcast)
{
	serf__witness(&s->clock, l->ltime);
	struct member *m = swim__find(s, l->node);
	if (!m || m->status == SWIM_NONE) {
		remember_intent(s, l->node, l->ltime, true);
		return;
	}
	if (l->ltime <= m->status_ltime)
		return;
	if (m == s->m[0] && s->leave_phase == 0) {
		/* someone says we are leaving: we are not */
		serf__broadcast_join(s);
		return;
	}
	m->status_ltime = l->ltime;
	switch (m->status) {
	case SWIM_ALIVE:
		m->status = SWIM_LEAVING;
		m->status_change = now;
		break;
	case SWIM_FAILED:
		m->status = SWIM_LEFT;
		m->status_change = now;
		swim__event(s, SWIM_EVENT_LEAVE, m);
		break;
	default:
		break;
	}
	if (l->prune && m != s->m[0] && (m->status == SWIM_LEFT || m->status == SWIM_FAILED)) {
		swim__event(s, SWIM_EVENT_REAP, m);
		swim__remove(s, m);
	}
	if (rebroadcast && raw)
		serf__rebroadcast(s, raw, len);
}

/* FNV-1a over name and payload: what tells events of one Lamport time apart. */
static uint64_t event_hash(const char *name, const uint8_t *p, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (const char *c = name; *c; c++)
		h = (h ^ (uint8_t)*c) * 1099511628211ull;
	h = (h ^ 0xff) * 1099511628211ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h;
}

/* serf's eventBuffer and queryBuffer: what was seen at each Lamport time. */
bool swim__seen_first(struct swim_seen *ring, unsigned n, uint64_t clock, uint64_t ltime,
                      uint64_t key)
{
	if (clock > n && ltime < clock - n)
		return false;   /* too old to tell apart from one already seen: serf drops it */
	struct swim_seen *slot = &ring[ltime % n];
	if (slot->ltime != ltime) {
		slot->ltime = ltime;
		slot->n = 0;
	}
	for (unsigned i = 0; i < slot->n; i++)
		if (slot->key[i] == key)
			return false;
	if (slot->n < sizeof(slot->key) / sizeof(slot->key[0]))
		slot->key[slot->n++] = key;
	return true;
}

/* serf's handleUserEvent: true (and remembered) when the event is new. */
static bool event_new(struct swim *s, const struct gw_serf_user_event *ev)
{
	return swim__seen_first(s->seen_events, SWIM_EVENT_BUFFER, s->event_clock, ev->ltime,
	                        event_hash(ev->name, ev->payload, ev->payload_len));
}

static void on_user_event(struct swim *s, const struct gw_serf_user_event *ev, const uint8_t *raw,
                          size_t len)
{
	bool fresh = event_new(s, ev);
	serf__witness(&s->event_clock, ev->ltime);
	if (!fresh)
		return;
	swim__app_out(s, SWIM_OUT_USER_EVENT, ev->name, ev->payload, ev->payload_len, ev->ltime);
	serf__rebroadcast(s, raw, len);
}

int swim_user_event(struct swim *s, const char *name, const uint8_t *payload, size_t len)
{
	size_t nl = strlen(name);
	if (nl + len > SWIM_USER_EVENT_MAX || nl >= GW_NAME_MAX || len > GW_PAYLOAD_MAX)
		return -E2BIG;
	struct gw_serf_user_event ev = { .ltime = s->event_clock, .payload_len = len, .cc = false };
	memcpy(ev.name, name, nl + 1);
	if (len)
		memcpy(ev.payload, payload, len);
	uint8_t buf[GW_UDP_BUDGET];   /* the serf message, its type byte first */
	int n = gw_encode_serf_user_event(&ev, buf, sizeof(buf));
	if (n < 0)
		return -E2BIG;
	on_user_event(s, &ev, buf, (size_t)n);
	return 0;
}

void serf__on_user(struct swim *s, uint64_t now, const uint8_t *body, size_t len)
{
	if (len < 1)
		return;
	union {
		struct gw_serf_join j;
		struct gw_serf_leave l;
		struct gw_serf_user_event ev;
	} u;
	switch (body[0]) {
	case GW_SERF_JOIN:
		if (gw_decode_serf_join(body + 1, len - 1, &u.j) == 0)
			on_join_intent(s, now, &u.j, body, len, true);
		break;
	case GW_SERF_LEAVE:
		if (gw_decode_serf_leave(body + 1, len - 1, &u.l) == 0)
			on_leave_intent(s, now, &u.l, body, len, true);
		break;
	case GW_SERF_USER_EVENT:
		if (gw_decode_serf_user_event(body + 1, len - 1, &u.ev) == 0)
			on_user_event(s, &u.ev, body, len);
		break;
	case GW_SERF_QUERY:
		serf__on_query(s, now, body, len);
		break;
	case GW_SERF_RELAY:
		serf__on_relay(s, body, len);
		break;
	case GW_SERF_QUERY_RESPONSE:
		serf__on_query_response(s, now, body, len);
		break;
	default:
		break;
	}
}

int serf__local_state(struct swim *s, uint8_t *buf, size_t cap)
{
	struct gw_serf_push_pull pp;
	memset(&pp, 0, sizeof(pp));
	pp.ltime = s->clock;
	pp.event_ltime = s->event_clock;
	pp.query_ltime = s->query_clock;
	pp.status = calloc(s->nm ? s->nm : 1, sizeof(*pp.status));
	pp.left = calloc(s->nm ? s->nm : 1, sizeof(*pp.left));
	int n = -1;
	if (pp.status && pp.left) {
		for (size_t i = 0; i < s->nm; i++) {
			const struct member *m = s->m[i];
			if (m->status == SWIM_NONE)
				continue;
			snprintf(pp.status[pp.nstatus].node, GW_NAME_MAX, "%s", m->name);
			pp.status[pp.nstatus++].ltime = m->status_ltime;
			if (m->status == SWIM_LEFT)
				snprintf(pp.left[pp.nleft++], GW_NAME_MAX, "%s", m->name);
		}
		n = gw_encode_serf_push_pull(&pp, buf, cap);
	}
	free(pp.status);
	free(pp.left);
	return n;
}

void serf__merge_state(struct swim *s, uint64_t now, const uint8_t *buf, size_t len)
{
	if (len < 1 || buf[0] != GW_SERF_PUSH_PULL)
		return;
	struct gw_serf_push_pull pp;
	if (gw_decode_serf_push_pull(buf + 1, len - 1, &pp))
		return;
	if (pp.ltime > 0)
		serf__witness(&s->clock, pp.ltime - 1);
	if (pp.event_ltime > 0)
		serf__witness(&s->event_clock, pp.event_ltime - 1);
	if (pp.query_ltime > 0)
		serf__witness(&s->query_clock, pp.query_ltime - 1);
	for (size_t i = 0; i < pp.nleft; i++) {
		struct gw_serf_leave l = { .ltime = 0, .prune = false };
		snprintf(l.node, sizeof(l.node), "%s", pp.left[i]);
		for (size_t k = 0; k < pp.nstatus; k++)
			if (strcmp(pp.status[k].node, pp.left[i]) == 0)
				l.ltime = pp.status[k].ltime + 1;
		on_leave_intent(s, now, &l, NULL, 0, false);
	}
	for (size_t k = 0; k < pp.nstatus; k++) {
		bool left = false;
		for (size_t i = 0; i < pp.nleft && !left; i++)
			left = strcmp(pp.status[k].node, pp.left[i]) == 0;
		if (left)
			continue;
		struct gw_serf_join j = { .ltime = pp.status[k].ltime };
		snprintf(j.node, sizeof(j.node), "%s", pp.status[k].node);
		on_join_intent(s, now, &j, NULL, 0, false);
	}
	gw_serf_push_pull_free(&pp);
}

/* Failed and left members are forgotten after their timeouts. */
void serf__reap(struct swim *s, uint64_t now)
{
	for (size_t i = 1; i < s->nm;) {
		struct member *m = s->m[i];
		uint64_t age = now - m->status_change;
		bool reap = (m->status == SWIM_LEFT && age >= s->cfg.reap_left_ms) ||
		            (m->status == SWIM_FAILED && age >= s->cfg.reap_failed_ms);
		if (!reap) {
			i++;
			continue;
		}
		swim__event(s, SWIM_EVENT_REAP, m);
		swim__remove(s, m);
	}
}

/* Serf's reconnect loop: now and then, try to rejoin a failed member, so that
 * the two sides of a healed partition find each other again. */
void serf__reconnect(struct swim *s, uint64_t now)
{
	size_t failed = 0, alive = 0;
	for (size_t i = 1; i < s->nm; i++) {
		failed += s->m[i]->status == SWIM_FAILED;
		alive += s->m[i]->status == SWIM_ALIVE;
	}
	if (failed == 0)
		return;
	/* probability failed/alive, as Serf does */
	if (alive > failed && swim__rand(s) % alive >= failed)
		return;
	size_t pick = (size_t)(swim__rand(s) % failed);
	for (size_t i = 1; i < s->nm; i++) {
		if (s->m[i]->status != SWIM_FAILED)
			continue;
		if (pick-- == 0) {
			swim__request_push_pull(s, s->m[i], true);
			return;
		}
	}
}
