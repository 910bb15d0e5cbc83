/* The memberlist half of the core: member table, broadcasts with retransmit
 * limits, the alive/suspect/dead state machine with Lifeguard suspicion and
 * refutation, push/pull merging, timers. Probes and message handling are in
 * swim_probe.c. (Spec: gossip-wire.md §4 and §5.) */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gossip/swim_internal.h"

#define DEF(v, d) ((v) ? (v) : (d))

/* ---- small services ---- */

uint64_t swim__rand(struct swim *s)
{
	/* xorshift64*: deterministic for a given seed */
	uint64_t x = s->rng;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	s->rng = x;
	return x * 0x2545F4914F6CDD1DULL;
}

static struct outq_item *push_out(struct swim *s, enum swim_out_kind kind)
{
	if (s->noq == s->capoq) {
		/* compact the consumed head before growing */
		if (s->oq_head > 0) {
			memmove(s->oq, s->oq + s->oq_head, (s->noq - s->oq_head) * sizeof(*s->oq));
			s->noq -= s->oq_head;
			s->oq_head = 0;
		}
		if (s->noq == s->capoq) {
			size_t cap = s->capoq ? s->capoq * 2 : 64;
			struct outq_item *n = realloc(s->oq, cap * sizeof(*n));
			if (!n)
				return NULL;
			s->oq = n;
			s->capoq = cap;
		}
	}
	struct outq_item *o = &s->oq[s->noq++];
	memset(&o->hdr, 0, offsetof(struct swim_out, data));
	o->hdr.kind = kind;
	o->hdr.len = 0;
	o->hdr.crc = false;
	o->hdr.join = false;
	o->hdr.request = 0;
	o->hdr.level = 0;
	o->hdr.text[0] = '\0';
	o->hdr.name[0] = '\0';
	o->data = NULL;
	return o;
}

void swim__log(struct swim *s, int level, const char *fmt, ...)
{
	struct outq_item *o = push_out(s, SWIM_OUT_LOG);
	if (!o)
		return;
	o->hdr.level = level;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(o->hdr.text, sizeof(o->hdr.text), fmt, ap);
	va_end(ap);
}

void swim__event(struct swim *s, enum swim_event ev, const struct member *m)
{
	struct outq_item *o = push_out(s, SWIM_OUT_EVENT);
	if (!o)
		return;
	o->hdr.event = ev;
	snprintf(o->hdr.name, sizeof(o->hdr.name), "%s", m->name);
	o->hdr.ip = m->addr;
	o->hdr.port = m->port;
}

struct swim_out *swim__app_out(struct swim *s, enum swim_out_kind kind, const char *name,
                               const uint8_t *payload, size_t len, uint64_t ltime)
{
	if (len > GW_UDP_MAX)
		return NULL;
	struct outq_item *o = push_out(s, kind);
	if (!o)
		return NULL;
	if (len && !(o->data = malloc(len))) {
		s->noq--;
		return NULL;
	}
	if (len)
		memcpy(o->data, payload, len);
	o->hdr.len = len;
	o->hdr.ltime = ltime;
	snprintf(o->hdr.name, sizeof(o->hdr.name), "%s", name);
	return &o->hdr;
}

void swim__send_packet(struct swim *s, const struct member *to, const struct gw_ip *ip,
                        uint16_t port, const uint8_t *data, size_t len, bool crc)
{
	if (len == 0 || len > GW_UDP_MAX)
		return;
	struct outq_item *o = push_out(s, SWIM_OUT_PACKET);
	if (!o)
		return;
	if (!(o->data = malloc(len))) {
		s->noq--;
		return;
	}
	memcpy(o->data, data, len);
	o->hdr.len = len;
	o->hdr.ip = to ? to->addr : *ip;
	o->hdr.port = to ? to->port : port;
	/* CRC only on packets to a node known to speak protocol 5 */
	o->hdr.crc = crc && to && to->vsn[1] >= 5;
}

bool swim_next_output(struct swim *s, struct swim_out *out)
{
	if (s->oq_head == s->noq) {
		s->oq_head = s->noq = 0;
		return false;
	}
	struct outq_item *o = &s->oq[s->oq_head++];
	memcpy(out, &o->hdr, offsetof(struct swim_out, data));
	out->len = o->hdr.len;
	out->crc = o->hdr.crc;
	out->join = o->hdr.join;
	out->request = o->hdr.request;
	out->event = o->hdr.event;
	out->ltime = o->hdr.ltime;
	out->level = o->hdr.level;
	memcpy(out->name, o->hdr.name, sizeof(out->name));
	memcpy(out->text, o->hdr.text, sizeof(out->text));
	if (o->data) {
		memcpy(out->data, o->data, o->hdr.len);
		free(o->data);
		o->data = NULL;
	}
	return true;
}

struct member *swim__find(const struct swim *s, const char *name)
{
	for (size_t i = 0; i < s->nm; i++)
		if (strcmp(s->m[i]->name, name) == 0)
			return s->m[i];
	return NULL;
}

static size_t index_of(const struct swim *s, const struct member *m)
{
	for (size_t i = 0; i < s->nm; i++)
		if (s->m[i] == m)
			return i;
	return (size_t)-1;
}

static struct member *add_member(struct swim *s, const char *name)
{
	if (s->nm == s->capm) {
		size_t cap = s->capm ? s->capm * 2 : 16;
		struct member **n = realloc(s->m, cap * sizeof(*n));
		size_t *o = realloc(s->order, cap * sizeof(*o));
		if (n)
			s->m = n;
		if (o)
			s->order = o;
		if (!n || !o)
			return NULL;
		s->capm = cap;
	}
	struct member *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	snprintf(m->name, sizeof(m->name), "%s", name);
	m->state = ML_DEAD; /* memberlist: unknown nodes start dead at incarnation 0 */
	m->status = SWIM_NONE;
	s->m[s->nm] = m;
	/* insert at a random position of the probe order */
	size_t pos = s->norder ? (size_t)(swim__rand(s) % (s->norder + 1)) : 0;
	memmove(&s->order[pos + 1], &s->order[pos], (s->norder - pos) * sizeof(size_t));
	s->order[pos] = s->nm;
	s->norder++;
	s->nm++;
	return m;
}

/* ---- broadcasts ---- */

static unsigned retransmit_limit(const struct swim *s)
{
	double n = (double)s->nm;
	return s->cfg.retransmit_mult * (unsigned)ceil(log10(n + 1));
}

void swim__queue_bcast(struct swim *s, const char *key, const uint8_t *data, size_t len,
                       bool leave)
{
	if (key && key[0]) {
		for (size_t i = 0; i < s->nbq; i++) {
			if (strcmp(s->bq[i].key, key) == 0) {
				free(s->bq[i].data);
				s->bq[i] = s->bq[--s->nbq];
				break;
			}
		}
	}
	if (s->nbq == s->capbq) {
		size_t cap = s->capbq ? s->capbq * 2 : 32;
		struct bcast *n = realloc(s->bq, cap * sizeof(*n));
		if (!n)
			return;
		s->bq = n;
		s->capbq = cap;
	}
	struct bcast *b = &s->bq[s->nbq];
	if (!(b->data = malloc(len)))
		return;
	memcpy(b->data, data, len);
	b->len = len;
	b->transmits = 0;
	b->leave = leave;
	snprintf(b->key, sizeof(b->key), "%s", key ? key : "");
	s->nbq++;
}

static int bcast_cmp(const void *a, const void *b)
{
	const struct bcast *x = a, *y = b;
	if (x->transmits != y->transmits)
		return x->transmits < y->transmits ? -1 : 1;
	return x->len > y->len ? -1 : x->len < y->len ? 1 : 0;
}

/* Builds a packet into buf: `lead` (when not NULL) followed by pending
 * broadcasts that fit the UDP budget; a compound when there is more than one
 * part. Returns its length (0 when there is nothing to send). Each broadcast
 * used counts as a transmission. */
size_t swim__build_packet(struct swim *s, const uint8_t *lead, size_t lead_len, uint8_t *buf,
                           size_t cap)
{
	const uint8_t *parts[GW_COMPOUND_MAX_PARTS];
	size_t lens[GW_COMPOUND_MAX_PARTS], n = 0;
	size_t budget = s->cfg.udp_budget - 2, used = 0; /* 2: compound header */
	if (lead) {
		parts[n] = lead;
		lens[n++] = lead_len;
		used = lead_len + 2;
	}
	if (s->nbq > 0 && used < budget) {
		qsort(s->bq, s->nbq, sizeof(*s->bq), bcast_cmp);
		for (size_t i = 0; i < s->nbq && n < GW_COMPOUND_MAX_PARTS; i++) {
			struct bcast *b = &s->bq[i];
			if (used + b->len + 2 > budget)
				continue;
			parts[n] = b->data;
			lens[n++] = b->len;
			used += b->len + 2;
			b->transmits++;
		}
	}
	size_t len = 0;
	if (n == 1) {
		memcpy(buf, parts[0], lens[0]);
		len = lens[0];
	} else if (n > 1) {
		int rc = gw_compound(parts, lens, n, buf, cap);
		len = rc > 0 ? (size_t)rc : 0;
	}
	/* drop what has been sent often enough (after copying it into buf) */
	unsigned limit = retransmit_limit(s);
	for (size_t i = 0; i < s->nbq;) {
		if (s->bq[i].transmits >= limit) {
			free(s->bq[i].data);
			s->bq[i] = s->bq[--s->nbq];
		} else {
			i++;
		}
	}
	return len;
}

/* ---- encoding our own messages ---- */

static void local_alive(const struct swim *s, struct gw_alive *a)
{
	const struct member *me = s->m[0];
	memset(a, 0, sizeof(*a));
	a->incarnation = me->incarnation;
	snprintf(a->node, sizeof(a->node), "%s", me->name);
	a->addr = me->addr;
	a->port = me->port;
	memcpy(a->meta, me->meta, me->meta_len);
	a->meta_len = me->meta_len;
	memcpy(a->vsn, me->vsn, 6);
	a->has_vsn = true;
}

static void broadcast_alive(struct swim *s, const struct gw_alive *a)
{
	uint8_t buf[GW_META_MAX + 2 * GW_NAME_MAX + 128];
	int n = gw_encode_alive(a, buf, sizeof(buf));
	if (n > 0)
		swim__queue_bcast(s, a->node, buf, (size_t)n, false);
}

static void broadcast_suspect(struct swim *s, enum gw_type type, const struct gw_suspect *m,
                              bool leave)
{
	uint8_t buf[2 * GW_NAME_MAX + 64];
	int n = type == GW_DEAD ? gw_encode_dead(m, buf, sizeof(buf))
	                        : gw_encode_suspect(m, buf, sizeof(buf));
	if (n > 0)
		swim__queue_bcast(s, m->node, buf, (size_t)n, leave);
}

/* §5.4: a higher incarnation than the accusation, gossiped. */
static void refute(struct swim *s, uint32_t accused)
{
	struct member *me = s->m[0];
	uint32_t inc = me->incarnation + 1;
	if (accused >= inc)
		inc = accused + 1;
	me->incarnation = inc;
	struct gw_alive a;
	local_alive(s, &a);
	broadcast_alive(s, &a);
	if (s->awareness < (int)s->cfg.awareness_max - 1)
		s->awareness++;
}

/* ---- membership state machine (§5.2, §5.3) ---- */

static bool vsn_ok(const uint8_t *v)
{
	return v[0] != 0 && v[1] != 0 && v[0] <= v[1];
}

/* Consul's lanMergeDelegate.NotifyMerge for one member: its reason to
 * refuse it in why, or false. */
static bool vetoed(const struct swim *s, const char *name, const uint8_t *meta, size_t len,
                   char *why, size_t cap)
{
	struct gw_tag mine[24], theirs[24];
	if (!s->cfg.veto_consul || strcmp(name, s->m[0]->name) == 0)
		return false;
	int nm = gw_decode_tags(s->cfg.meta, s->cfg.meta_len, mine, 24);
	int nt = gw_decode_tags(meta, len, theirs, 24);
	if (nm < 0 || nt < 0)
		return false;
	const char *my_id = gw_tag_find(mine, (size_t)nm, "id");
	const char *my_dc = gw_tag_find(mine, (size_t)nm, "dc");
	const char *id = gw_tag_find(theirs, (size_t)nt, "id");
	const char *dc = gw_tag_find(theirs, (size_t)nt, "dc");
	const char *role = gw_tag_find(theirs, (size_t)nt, "role");
	if (id && my_id && id[0] && strcmp(id, my_id) == 0) {
		snprintf(why, cap, "Member '%s' has conflicting node ID '%s' with this agent's ID", name,
		         id);
		return true;
	}
	if (role && (strcmp(role, "consul") == 0 || strcmp(role, "node") == 0) && dc && my_dc &&
	    strcmp(dc, my_dc) != 0) {
		snprintf(why, cap, "Member '%s' part of wrong datacenter '%s'", name, dc);
		return true;
	}
	return false;
}

void swim__on_alive(struct swim *s, uint64_t now, const struct gw_alive *a, bool bootstrap)
{
	if (!a->node[0])
		return;
	struct member *me = s->m[0];
	bool about_me = strcmp(a->node, me->name) == 0;
	if (about_me && s->leaving)
		return;
	if (a->has_vsn && !vsn_ok(a->vsn))
		return;
	char why[sizeof(s->merge_error)];
	if (vetoed(s, a->node, a->meta, a->meta_len, why, sizeof(why))) {
		swim__log(s, 2, "memberlist: Ignoring an alive message for '%s': %s", a->node, why);
		return;
	}
	struct member *m = swim__find(s, a->node);
	if (!m) {
		if (!(m = add_member(s, a->node)))
			return;
		m->addr = a->addr;
		m->port = a->port;
	}
	bool addr_changed = m->addr.len != a->addr.len ||
	                    memcmp(m->addr.b, a->addr.b, a->addr.len) != 0 || m->port != a->port;
	if (addr_changed && !about_me) {
		bool reclaim = m->state == ML_LEFT || (m->state == ML_DEAD && m->incarnation == 0);
		if (!reclaim) {
			char mine[24] = "?", theirs[24] = "?";
			uint32_t v4;
			if (gw_ip_v4(&m->addr, &v4))
				snprintf(mine, sizeof(mine), "%u.%u.%u.%u", v4 >> 24, (v4 >> 16) & 255,
				         (v4 >> 8) & 255, v4 & 255);
			if (gw_ip_v4(&a->addr, &v4))
				snprintf(theirs, sizeof(theirs), "%u.%u.%u.%u", v4 >> 24, (v4 >> 16) & 255,
				         (v4 >> 8) & 255, v4 & 255);
			swim__log(s, 3, "memberlist: Conflicting address for %s. Mine: %s:%u Theirs: %s:%u",
			          a->node, mine, m->port, theirs, a->port);
			return;
		}
	}
	if (!about_me && a->incarnation <= m->incarnation && !addr_changed)
		return;
	if (about_me && a->incarnation < m->incarnation)
		return;
	m->suspect = false;
	if (about_me && !bootstrap) {
		if (a->incarnation == me->incarnation && a->meta_len == me->meta_len &&
		    memcmp(a->meta, me->meta, a->meta_len) == 0 &&
		    (!a->has_vsn || memcmp(a->vsn, me->vsn, 6) == 0))
			return;
		refute(s, a->incarnation);
		swim__log(s, 2, "memberlist: Refuting an alive message for '%s' (%u:%u:%u): meta or "
		                "version differs", a->node, a->incarnation, me->incarnation, 0);
		return;
	}
	broadcast_alive(s, a);
	enum ml_state old = m->state;
	bool meta_changed = m->meta_len != a->meta_len || memcmp(m->meta, a->meta, a->meta_len);
	m->incarnation = a->incarnation;
	m->addr = a->addr;
	m->port = a->port;
	memcpy(m->meta, a->meta, a->meta_len);
	m->meta_len = a->meta_len;
	if (a->has_vsn)
		memcpy(m->vsn, a->vsn, 6);
	if (old != ML_ALIVE) {
		m->state = ML_ALIVE;
		m->state_change = now;
	}
	if (old == ML_DEAD || old == ML_LEFT)
		serf__on_ml_join(s, now, m);
	else if (meta_changed)
		serf__on_ml_update(s, now, m);
}

static uint32_t name_hash(const char *s)
{
	uint32_t h = 2166136261u;
	while (*s)
		h = (h ^ (uint8_t)*s++) * 16777619u;
	return h;
}

/* Lifeguard: the timeout after c confirmations (§4.3). */
static uint64_t suspicion_timeout(const struct member *m)
{
	if (m->suspect_k == 0 || m->suspect_n == 0)
		return m->suspect_k ? m->suspect_max : m->suspect_min;
	double frac = log((double)m->suspect_n + 1) / log((double)m->suspect_k + 1);
	double t = (double)m->suspect_max - frac * (double)(m->suspect_max - m->suspect_min);
	uint64_t ms = (uint64_t)floor(t);
	return ms < m->suspect_min ? m->suspect_min : ms;
}

static void start_suspicion(struct swim *s, uint64_t now, struct member *m, const char *from)
{
	double n = (double)s->nm;
	double nodescale = fmax(1.0, log10(fmax(1.0, n)));
	uint64_t min = (uint64_t)floor(s->cfg.suspicion_mult * nodescale * s->cfg.probe_interval_ms);
	unsigned k = s->cfg.suspicion_mult >= 2 ? s->cfg.suspicion_mult - 2 : 0;
	if (s->nm < 2 + (size_t)k)
		k = 0;
	m->suspect = true;
	m->suspect_start = now;
	m->suspect_min = min;
	m->suspect_max = (uint64_t)s->cfg.suspicion_max_mult * min;
	m->suspect_k = k;
	m->suspect_n = 0;
	m->confirmers[0] = name_hash(from);
}

void swim__on_suspect(struct swim *s, uint64_t now, const struct gw_suspect *sm)
{
	struct member *m = swim__find(s, sm->node);
	if (!m || sm->incarnation < m->incarnation)
		return;
	if (m->suspect && m->state == ML_SUSPECT) {
		/* a confirmation from a new accuser shortens the timeout */
		uint32_t h = name_hash(sm->from);
		unsigned seen = m->suspect_n + 1;
		for (unsigned i = 0; i < seen && i < SWIM_CONFIRM_MAX; i++)
			if (m->confirmers[i] == h)
				return;
		if (m->suspect_n >= m->suspect_k)
			return;
		if (seen < SWIM_CONFIRM_MAX)
			m->confirmers[seen] = h;
		m->suspect_n++;
		broadcast_suspect(s, GW_SUSPECT, sm, false);
		return;
	}
	if (m->state != ML_ALIVE)
		return;
	if (m == s->m[0]) {
		refute(s, sm->incarnation);
		swim__log(s, 2, "memberlist: Refuting a suspect message (from: %s)", sm->from);
		return;
	}
	broadcast_suspect(s, GW_SUSPECT, sm, false);
	m->incarnation = sm->incarnation;
	m->state = ML_SUSPECT;
	m->state_change = now;
	start_suspicion(s, now, m, sm->from);
}

void swim__on_dead(struct swim *s, uint64_t now, const struct gw_suspect *dm)
{
	struct member *m = swim__find(s, dm->node);
	if (!m || dm->incarnation < m->incarnation)
		return;
	m->suspect = false;
	if (m->state == ML_DEAD || m->state == ML_LEFT)
		return;
	if (m == s->m[0]) {
		if (!s->leaving) {
			refute(s, dm->incarnation);
			swim__log(s, 2, "memberlist: Refuting a dead message (from: %s)", dm->from);
			return;
		}
		broadcast_suspect(s, GW_DEAD, dm, true);
	} else {
		broadcast_suspect(s, GW_DEAD, dm, false);
	}
	m->incarnation = dm->incarnation;
	m->state = strcmp(dm->from, dm->node) == 0 ? ML_LEFT : ML_DEAD;
	m->state_change = now;
	serf__on_ml_leave(s, now, m);
}

/* ---- push/pull (§2.8, §5.5) ---- */

int swim_local_state(struct swim *s, bool join, struct gw_push_pull *pp, uint8_t *user_state,
                     size_t user_cap)
{
	memset(pp, 0, sizeof(*pp));
	pp->join = join;
	pp->nodes = calloc(s->nm, sizeof(*pp->nodes));
	if (!pp->nodes)
		return -ENOMEM;
	for (size_t i = 0; i < s->nm; i++) {
		const struct member *m = s->m[i];
		struct gw_node_state *n = &pp->nodes[pp->nnodes++];
		snprintf(n->name, sizeof(n->name), "%s", m->name);
		n->addr = m->addr;
		n->port = m->port;
		n->incarnation = m->incarnation;
		memcpy(n->meta, m->meta, m->meta_len);
		n->meta_len = m->meta_len;
		memcpy(n->vsn, m->vsn, 6);
		n->has_vsn = true;
		n->state = (int)m->state;
	}
	int n = serf__local_state(s, user_state, user_cap);
	if (n > 0) {
		pp->user_state = user_state;
		pp->user_state_len = (size_t)n;
	}
	return 0;
}

void swim_push_pull_release(struct gw_push_pull *pp)
{
	free(pp->nodes);
	pp->nodes = NULL;
	pp->nnodes = 0;
}

/* The protocol ranges every alive node supports (§5.6). */
struct vrange {
	unsigned maxpmin, minpmax, maxdmin, mindmax;
};

static void narrow(struct vrange *r, const uint8_t *v)
{
	r->maxpmin = v[0] > r->maxpmin ? v[0] : r->maxpmin;
	r->minpmax = v[1] < r->minpmax ? v[1] : r->minpmax;
	r->maxdmin = v[3] > r->maxdmin ? v[3] : r->maxdmin;
	r->mindmax = v[4] < r->mindmax ? v[4] : r->mindmax;
}

/* §5.6: every node's current versions must fit every alive node's range. */
static int verify_protocol(const struct swim *s, const struct gw_push_pull *r)
{
	struct vrange g = { 0, 255, 0, 255 };
	for (size_t i = 0; i < s->nm; i++)
		if (s->m[i]->state == ML_ALIVE && s->m[i]->vsn[1])
			narrow(&g, s->m[i]->vsn);
	for (size_t i = 0; i < r->nnodes; i++)
		if (r->nodes[i].state == ML_ALIVE && r->nodes[i].has_vsn)
			narrow(&g, r->nodes[i].vsn);
	for (size_t i = 0; i < r->nnodes; i++) {
		const uint8_t *v = r->nodes[i].vsn;
		if (!r->nodes[i].has_vsn)
			continue;
		if (v[2] < g.maxpmin || v[2] > g.minpmax || v[5] < g.maxdmin || v[5] > g.mindmax)
			return -EPROTO;
	}
	return 0;
}

static int merge_remote(struct swim *s, uint64_t now, const struct gw_push_pull *r)
{
	if (verify_protocol(s, r)) {
		swim__log(s, 3, "memberlist: Failed push/pull merge: protocol version is incompatible");
		return -EPROTO;
	}
	for (size_t i = 0; i < r->nnodes; i++) {
		char why[sizeof(s->merge_error)];
		if (r->nodes[i].state == ML_ALIVE &&
		    vetoed(s, r->nodes[i].name, r->nodes[i].meta, r->nodes[i].meta_len, why,
		           sizeof(why))) {
			swim__log(s, 3, "memberlist: Failed push/pull merge: %s", why);
			snprintf(s->merge_error, sizeof(s->merge_error), "%s", why);
			return -EPERM;
		}
	}
	for (size_t i = 0; i < r->nnodes; i++) {
		const struct gw_node_state *n = &r->nodes[i];
		if (n->state == ML_ALIVE) {
			struct gw_alive a;
			memset(&a, 0, sizeof(a));
			a.incarnation = n->incarnation;
			snprintf(a.node, sizeof(a.node), "%s", n->name);
			a.addr = n->addr;
			a.port = n->port ? n->port : s->cfg.port;
			memcpy(a.meta, n->meta, n->meta_len);
			a.meta_len = n->meta_len;
			memcpy(a.vsn, n->vsn, 6);
			a.has_vsn = n->has_vsn;
			swim__on_alive(s, now, &a, false);
		} else {
			struct gw_suspect sm = { .incarnation = n->incarnation };
			snprintf(sm.node, sizeof(sm.node), "%s", n->name);
			if (n->state == ML_LEFT) {
				snprintf(sm.from, sizeof(sm.from), "%s", n->name);
				swim__on_dead(s, now, &sm);
			} else {
				snprintf(sm.from, sizeof(sm.from), "%s", s->m[0]->name);
				swim__on_suspect(s, now, &sm);
			}
		}
	}
	if (r->user_state_len)
		serf__merge_state(s, now, r->user_state, r->user_state_len);
	return 0;
}

int swim_on_push_pull(struct swim *s, uint64_t now, const struct gw_push_pull *remote,
                      struct gw_push_pull *reply, uint8_t *user_state, size_t user_cap)
{
	int rc = swim_local_state(s, remote->join, reply, user_state, user_cap);
	if (rc)
		return rc;
	return merge_remote(s, now, remote);
}

uint32_t swim_join(struct swim *s, uint64_t now, const struct gw_ip *ip, uint16_t port)
{
	struct outq_item *o = push_out(s, SWIM_OUT_PUSH_PULL);
	if (!o)
		return 0;
	o->hdr.ip = *ip;
	o->hdr.port = port;
	o->hdr.join = true;
	o->hdr.request = ++s->next_request;
	return o->hdr.request;
}

const char *swim_merge_error(const struct swim *s)
{
	return s->merge_error;
}

int swim_push_pull_done(struct swim *s, uint64_t now, uint32_t request,
                        const struct gw_push_pull *remote)
{
	if (!remote)
		return -ECONNREFUSED;
	int rc = merge_remote(s, now, remote);
	if (rc == 0 && remote->join && !s->joined_once) {
		s->joined_once = true;
		serf__broadcast_join(s);
	}
	return rc;
}

static void run_push_pull(struct swim *s, uint64_t now)
{
	size_t cand[256], nc = 0;
	for (size_t i = 1; i < s->nm && nc < 256; i++)
		if (s->m[i]->state == ML_ALIVE)
			cand[nc++] = i;
	if (nc == 0)
		return;
	swim__request_push_pull(s, s->m[cand[swim__rand(s) % nc]], false);
}

void swim__request_push_pull(struct swim *s, const struct member *to, bool join)
{
	struct outq_item *o = push_out(s, SWIM_OUT_PUSH_PULL);
	if (!o)
		return;
	o->hdr.ip = to->addr;
	o->hdr.port = to->port;
	o->hdr.join = join;
	o->hdr.request = ++s->next_request;
}

static uint64_t push_pull_interval(const struct swim *s)
{
	/* scaled by cluster size above 32 nodes */
	double n = (double)s->nm;
	double mult = n <= 32 ? 1 : ceil(log2(n) - log2(32)) + 1;
	return (uint64_t)(mult * s->cfg.push_pull_interval_ms);
}

/* ---- timers ---- */

static void leave_dead(struct swim *s, uint64_t now);
static bool leave_broadcasts_pending(const struct swim *s);

static void run_suspicions(struct swim *s, uint64_t now)
{
	for (size_t i = 1; i < s->nm; i++) {
		struct member *m = s->m[i];
		if (!m->suspect || m->state != ML_SUSPECT)
			continue;
		if (now - m->suspect_start < suspicion_timeout(m))
			continue;
		m->suspect = false;
		swim__log(s, 1, "memberlist: Marking %s as failed, suspect timeout reached (%u peer "
		                "confirmations)", m->name, m->suspect_n);
		struct gw_suspect dm = { .incarnation = m->incarnation };
		snprintf(dm.node, sizeof(dm.node), "%s", m->name);
		snprintf(dm.from, sizeof(dm.from), "%s", s->m[0]->name);
		swim__on_dead(s, now, &dm);
	}
}

void swim_tick(struct swim *s, uint64_t now)
{
	if (s->leave_phase == 1 &&
	    (!leave_broadcasts_pending(s) || now >= s->leave_started + 5000))
		leave_dead(s, now);
	swim__run_relays(s, now);
	swim__run_probe(s, now);
	run_suspicions(s, now);
	if (now >= s->next_gossip) {
		swim__run_gossip(s, now);
		s->next_gossip = now + s->cfg.gossip_interval_ms;
	}
	if (now >= s->next_push_pull) {
		run_push_pull(s, now);
		s->next_push_pull = now + push_pull_interval(s);
	}
	if (now >= s->next_reap) {
		serf__reap(s, now);
		s->next_reap = now + 1000;
	}
	if (now >= s->next_reconnect) {
		serf__reconnect(s, now);
		s->next_reconnect = now + s->cfg.reconnect_interval_ms;
	}
}

uint64_t swim_next_deadline(const struct swim *s)
{
	uint64_t d = s->next_probe;
	d = s->next_gossip < d ? s->next_gossip : d;
	d = s->next_push_pull < d ? s->next_push_pull : d;
	d = s->next_reap < d ? s->next_reap : d;
	d = s->next_reconnect < d ? s->next_reconnect : d;
	if (s->leave_phase == 1 && s->leave_started + 5000 < d)
		d = s->leave_started + 5000;
	if (s->probe.active && !s->probe.acked) {
		uint64_t p = s->probe.indirect_sent ? s->probe.deadline : s->probe.timeout_at;
		d = p < d ? p : d;
	}
	for (size_t i = 0; i < s->nrelays; i++)
		d = s->relays[i].deadline < d ? s->relays[i].deadline : d;
	for (size_t i = 1; i < s->nm; i++) {
		const struct member *m = s->m[i];
		if (m->suspect && m->state == ML_SUSPECT) {
			uint64_t t = m->suspect_start + suspicion_timeout(m);
			d = t < d ? t : d;
		}
	}
	return d;
}

/* ---- lifecycle and queries ---- */

struct swim *swim_new(const struct swim_config *cfg, uint64_t now)
{
	struct swim *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->cfg = *cfg;
	struct swim_config *c = &s->cfg;
	c->probe_interval_ms = DEF(c->probe_interval_ms, 1000);
	c->probe_timeout_ms = DEF(c->probe_timeout_ms, 500);
	c->gossip_interval_ms = DEF(c->gossip_interval_ms, 200);
	c->push_pull_interval_ms = DEF(c->push_pull_interval_ms, 30000);
	c->gossip_to_dead_ms = DEF(c->gossip_to_dead_ms, 30000);
	c->reap_left_ms = DEF(c->reap_left_ms, 24u * 3600 * 1000);
	c->reap_failed_ms = DEF(c->reap_failed_ms, 24u * 3600 * 1000);
	c->reconnect_interval_ms = DEF(c->reconnect_interval_ms, 30000);
	c->indirect_checks = DEF(c->indirect_checks, 3);
	c->gossip_nodes = DEF(c->gossip_nodes, 3);
	c->retransmit_mult = DEF(c->retransmit_mult, 4);
	c->suspicion_mult = DEF(c->suspicion_mult, 4);
	c->suspicion_max_mult = DEF(c->suspicion_max_mult, 6);
	c->awareness_max = DEF(c->awareness_max, 8);
	c->udp_budget = DEF(c->udp_budget, GW_UDP_BUDGET);
	s->rng = c->seed ? c->seed : 0x9E3779B97F4A7C15ULL;
	struct member *me = add_member(s, c->name);
	if (!me) {
		swim_free(s);
		return NULL;
	}
	me->addr = c->addr;
	me->port = c->port;
	me->incarnation = 1;
	me->state = ML_ALIVE;
	me->state_change = now;
	memcpy(me->meta, c->meta, c->meta_len);
	me->meta_len = c->meta_len;
	memcpy(me->vsn, c->vsn, 6);
	me->status = SWIM_ALIVE;
	s->clock = s->event_clock = s->query_clock = 1;
	me->status_ltime = 0;
	/* random initial stagger, as memberlist does */
	s->next_probe = now + swim__rand(s) % c->probe_interval_ms;
	s->next_gossip = now + swim__rand(s) % c->gossip_interval_ms;
	s->next_push_pull = now + c->push_pull_interval_ms / 2 +
	                    swim__rand(s) % (c->push_pull_interval_ms / 2 + 1);
	s->next_reap = now + 1000;
	s->next_reconnect = now + c->reconnect_interval_ms;
	return s;
}

void swim_free(struct swim *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nm; i++)
		free(s->m[i]);
	free(s->m);
	free(s->order);
	for (size_t i = 0; i < s->nbq; i++)
		free(s->bq[i].data);
	free(s->bq);
	for (size_t i = s->oq_head; i < s->noq; i++)
		free(s->oq[i].data);
	free(s->oq);
	free(s->relays);
	free(s->intents);
	free(s);
}

/* Serf's order (§5.8): the leave intent first, so that members see "leaving"
 * before memberlist's dead-about-self makes them "left" (a dead without the
 * intent reads as "failed"); the dead follows once the intent has been
 * gossiped enough, or after Serf's BroadcastTimeout (5 s). */
void swim_leave(struct swim *s, uint64_t now)
{
	if (s->leave_phase)
		return;
	serf__broadcast_leave(s);
	s->leave_phase = 1;
	s->leave_started = now;
}

static void leave_dead(struct swim *s, uint64_t now)
{
	s->leave_phase = 2;
	s->leaving = true;
	struct gw_suspect dm = { .incarnation = s->m[0]->incarnation };
	snprintf(dm.node, sizeof(dm.node), "%s", s->m[0]->name);
	snprintf(dm.from, sizeof(dm.from), "%s", s->m[0]->name);
	swim__on_dead(s, now, &dm);
}

static bool leave_broadcasts_pending(const struct swim *s)
{
	for (size_t i = 0; i < s->nbq; i++)
		if (s->bq[i].leave)
			return true;
	return false;
}

bool swim_leave_broadcast_done(const struct swim *s)
{
	return s->leave_phase == 2 && !leave_broadcasts_pending(s);
}

int swim_set_meta(struct swim *s, uint64_t now, const uint8_t *meta, size_t len)
{
	if (len > GW_META_MAX)
		return -EMSGSIZE;
	struct member *me = s->m[0];
	memcpy(me->meta, meta, len);
	me->meta_len = len;
	me->incarnation++;
	struct gw_alive a;
	local_alive(s, &a);
	broadcast_alive(s, &a);
	return 0;
}

int swim_force_leave(struct swim *s, uint64_t now, const char *name)
{
	struct member *m = swim__find(s, name);
	if (!m || m == s->m[0])
		return -ENOENT;
	if (m->status != SWIM_FAILED)
		return 0;
	struct gw_serf_leave lv = { .ltime = s->clock, .prune = false };
	snprintf(lv.node, sizeof(lv.node), "%s", name);
	uint8_t payload[GW_NAME_MAX + 64], msg[GW_NAME_MAX + 80];
	int n = gw_encode_serf_leave(&lv, payload, sizeof(payload));
	if (n > 0) {
		int k = gw_encode_user(payload, (size_t)n, msg, sizeof(msg));
		serf__on_user(s, now, payload, (size_t)n);
		if (k > 0)
			swim__queue_bcast(s, "", msg, (size_t)k, false);
	}
	s->clock++;
	return 0;
}

void swim_members(const struct swim *s, void (*cb)(void *, const struct swim_member_info *),
                  void *ud)
{
	for (size_t i = 0; i < s->nm; i++) {
		const struct member *m = s->m[i];
		if (m->status == SWIM_NONE)
			continue;
		struct swim_member_info info = { m->name, m->addr, m->port, m->status, m->meta,
			                         m->meta_len, m->vsn, m->incarnation };
		cb(ud, &info);
	}
}

size_t swim_count(const struct swim *s, enum swim_status st)
{
	size_t n = 0;
	for (size_t i = 0; i < s->nm; i++)
		n += s->m[i]->status != SWIM_NONE && (st == SWIM_NONE || s->m[i]->status == st);
	return n;
}

int swim_health(const struct swim *s)
{
	return s->awareness;
}

void swim__remove(struct swim *s, struct member *m)
{
	size_t idx = index_of(s, m);
	if (idx == (size_t)-1 || idx == 0)
		return;
	size_t last = s->nm - 1;
	s->m[idx] = s->m[last];
	s->nm--;
	/* fix the probe order: drop idx, renumber last -> idx */
	size_t w = 0;
	for (size_t i = 0; i < s->norder; i++) {
		size_t v = s->order[i];
		if (v == idx)
			continue;
		s->order[w++] = v == last ? idx : v;
	}
	s->norder = w;
	if (s->probe_pos > s->norder)
		s->probe_pos = s->norder;
	free(m);
}
