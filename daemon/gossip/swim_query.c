/* Serf queries in the core (spec: gossip-wire.md §6.3, §6.8): dedup by
 * (Lamport time, id), re-gossip, node and tag filters, acks and responses
 * sent straight to the asker (and through relay_factor other members), the
 * internal _serf_ping and _serf_conflict, relaying other nodes' responses,
 * and asking queries of our own. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "gossip/swim_internal.h"

#define INTERNAL_PREFIX "_serf_"

/* serf's queryBuffer: true (and remembered) the first time (ltime, id) comes */
static bool query_new(struct swim *s, uint64_t ltime, uint32_t id)
{
	return swim__seen_first(s->seen_queries, SWIM_QUERY_BUFFER, s->query_clock, ltime, id);
}

/* A tag filter: the local tag's value ("" when the tag is absent) must match
 * the expression; one that does not compile matches nothing, as in serf. */
static bool tag_matches(const struct swim *s, const char *tag, const char *expr)
{
	struct gw_tag tags[32];
	const struct member *me = s->m[0];
	int n = gw_decode_tags(me->meta, me->meta_len, tags, 32);
	const char *v = n > 0 ? gw_tag_find(tags, (size_t)n, tag) : NULL;
	return gw_regex_search(expr, v ? v : "");
}

/* serf's shouldProcessQuery: every filter must pass; an unknown or
 * malformed one fails. */
static bool filters_pass(const struct swim *s, const struct gw_serf_query *q)
{
	char tag[GW_NAME_MAX], expr[GW_PAYLOAD_MAX];
	for (size_t i = 0; i < q->n_filters; i++) {
		const uint8_t *f = q->filters + q->filter_off[i];
		size_t len = (size_t)(q->filter_off[i + 1] - q->filter_off[i]);
		if (len < 1)
			return false;
		if (f[0] == GW_FILTER_NODE) {
			if (gw_serf_filter_node(f, len, s->m[0]->name) != 1)
				return false;
		} else if (f[0] == GW_FILTER_TAG) {
			if (gw_serf_filter_tag(f, len, tag, sizeof(tag), expr, sizeof(expr)) ||
			    !tag_matches(s, tag, expr))
				return false;
		} else {
			return false;
		}
	}
	return true;
}

/* Sends a response ([5] in a user message) to the asker, and the same
 * wrapped in a relay header through up to relay other alive members that
 * speak protocol 5 (serf's relayResponse). */
static int send_response(struct swim *s, const struct gw_ip *ip, uint16_t port, uint8_t relay,
                         const char *asker, const struct gw_serf_query_response *r)
{
	uint8_t inner[GW_PAYLOAD_MAX + GW_NAME_MAX + 64], pkt[GW_UDP_BUDGET + GW_NAME_MAX * 2];
	int n = gw_encode_serf_query_response(r, inner, sizeof(inner));
	if (n < 0)
		return -E2BIG;
	if (r->payload_len && (size_t)n > SWIM_QUERY_RESPONSE_MAX)
		return -E2BIG;
	int k = gw_encode_user(inner, (size_t)n, pkt, sizeof(pkt));
	if (k <= 0)
		return -E2BIG;
	swim__send_packet(s, NULL, ip, port, pkt, (size_t)k, false);
	if (relay == 0)
		return 0;
	size_t cand[64], nc = 0;
	for (size_t i = 1; i < s->nm && nc < 64; i++)
		if (s->m[i]->status == SWIM_ALIVE && s->m[i]->vsn[1] >= 5)
			cand[nc++] = i;
	struct gw_serf_relay h = { .ip = *ip, .port = port };
	snprintf(h.dest_name, sizeof(h.dest_name), "%s", asker);
	uint8_t wrapped[sizeof(inner) + GW_NAME_MAX + 64];
	int w = gw_encode_serf_relay(&h, inner, (size_t)n, wrapped, sizeof(wrapped));
	if (w <= 0 || (k = gw_encode_user(wrapped, (size_t)w, pkt, sizeof(pkt))) <= 0)
		return 0;
	for (unsigned sent = 0; sent < relay && nc > 0; sent++) {
		size_t pick = (size_t)(swim__rand(s) % nc);
		swim__send_packet(s, s->m[cand[pick]], NULL, 0, pkt, (size_t)k, false);
		cand[pick] = cand[--nc];
	}
	return 0;
}

/* _serf_conflict: who we think owns the name in the payload (nil when we do
 * not know it); not answered when the name is ours. */
static void answer_conflict(struct swim *s, uint64_t now, const struct gw_serf_query *q,
                            uint64_t deadline)
{
	char name[GW_NAME_MAX];
	if (q->payload_len >= sizeof(name))
		return;
	memcpy(name, q->payload, q->payload_len);
	name[q->payload_len] = '\0';
	if (strcmp(name, s->m[0]->name) == 0)
		return;
	swim__log(s, 0, "serf: Got conflict resolution query for '%s'", name);
	const struct member *m = swim__find(s, name);
	struct gw_serf_member w;
	if (m) {
		w = (struct gw_serf_member){ .name = m->name, .addr = m->addr, .port = m->port,
			                     .meta = m->meta, .meta_len = m->meta_len,
			                     .status = (int)m->status };
		memcpy(w.vsn, m->vsn, 6);
	}
	uint8_t buf[GW_PAYLOAD_MAX];
	int n = gw_encode_serf_conflict_response(m ? &w : NULL, buf, sizeof(buf));
	struct swim_out ref = { .kind = SWIM_OUT_QUERY, .ip = q->addr, .port = q->port,
		                .query_id = q->id, .relay_factor = q->relay_factor,
		                .ltime = q->ltime, .deadline = deadline };
	snprintf(ref.text, sizeof(ref.text), "%s", q->source_node);
	if (n > 0 && swim_query_respond(s, now, &ref, buf, (size_t)n))
		swim__log(s, 3, "serf: failed to respond to conflict query: too late or too large");
}

void serf__on_query(struct swim *s, uint64_t now, const uint8_t *raw, size_t len)
{
	struct gw_serf_query q;
	if (gw_decode_serf_query(raw + 1, len - 1, &q))
		return;
	serf__witness(&s->query_clock, q.ltime);
	if (!query_new(s, q.ltime, q.id))
		return;
	if (!(q.flags & GW_QUERY_NO_BROADCAST))
		serf__rebroadcast(s, raw, len);
	if (!filters_pass(s, &q))
		return;
	if (q.flags & GW_QUERY_ACK) {
		struct gw_serf_query_response ack = { .ltime = q.ltime, .id = q.id,
			                              .flags = GW_QUERY_ACK };
		snprintf(ack.from, sizeof(ack.from), "%s", s->m[0]->name);
		send_response(s, &q.addr, q.port, q.relay_factor, q.source_node, &ack);
	}
	uint64_t deadline = now + (q.timeout_ns > 0 ? (uint64_t)q.timeout_ns / 1000000u : 0);
	if (strcmp(q.name, INTERNAL_PREFIX "ping") == 0)
		return;
	if (strcmp(q.name, INTERNAL_PREFIX "conflict") == 0) {
		answer_conflict(s, now, &q, deadline);
		return;
	}
	struct swim_out *o = swim__app_out(s, SWIM_OUT_QUERY, q.name, q.payload, q.payload_len,
	                                   q.ltime);
	if (!o)
		return;
	o->ip = q.addr;
	o->port = q.port;
	o->query_id = q.id;
	o->relay_factor = q.relay_factor;
	o->deadline = deadline;
	/* the asker's name rides in text (relays address it) */
	snprintf(o->text, sizeof(o->text), "%s", q.source_node);
}

int swim_query_respond(struct swim *s, uint64_t now, const struct swim_out *q,
                       const uint8_t *payload, size_t len)
{
	if (now > q->deadline)
		return -ETIMEDOUT;
	if (len > SWIM_QUERY_RESPONSE_MAX)
		return -E2BIG;
	struct gw_serf_query_response r = { .ltime = q->ltime, .id = q->query_id,
		                            .payload_len = len };
	snprintf(r.from, sizeof(r.from), "%s", s->m[0]->name);
	if (len)
		memcpy(r.payload, payload, len);
	return send_response(s, &q->ip, q->port, q->relay_factor, q->text, &r);
}

/* Someone asked us to pass a response on to the node that asked the query. */
void serf__on_relay(struct swim *s, const uint8_t *raw, size_t len)
{
	struct gw_serf_relay h;
	size_t off;
	uint8_t pkt[GW_UDP_BUDGET + GW_NAME_MAX * 2];
	if (gw_decode_serf_relay(raw + 1, len - 1, &h, &off) || h.ip.len == 0)
		return;
	int k = gw_encode_user(raw + 1 + off, len - 1 - off, pkt, sizeof(pkt));
	if (k > 0) {
		swim__log(s, 0, "serf: Relaying response to node %s", h.dest_name);
		swim__send_packet(s, NULL, &h.ip, h.port, pkt, (size_t)k, false);
	}
}

int64_t swim_query(struct swim *s, uint64_t now, const char *name, const uint8_t *payload,
                   size_t len, uint32_t flags, uint8_t relay, uint32_t timeout_ms)
{
	int slot = -1;
	for (int i = 0; i < SWIM_QUERIES_MAX; i++) {
		if (s->asked[i].open && now > s->asked[i].deadline)
			s->asked[i].open = false;
		if (!s->asked[i].open && slot < 0)
			slot = i;
	}
	if (slot < 0)
		return -EBUSY;
	if (strlen(name) >= GW_NAME_MAX || len > GW_PAYLOAD_MAX)
		return -E2BIG;
	struct gw_serf_query q;
	memset(&q, 0, sizeof(q));
	q.ltime = s->query_clock;
	q.id = (uint32_t)(swim__rand(s) & 0x7fffffff);
	q.addr = s->m[0]->addr;
	q.port = s->m[0]->port;
	snprintf(q.source_node, sizeof(q.source_node), "%s", s->m[0]->name);
	snprintf(q.name, sizeof(q.name), "%s", name);
	if (len)
		memcpy(q.payload, payload, len);
	q.payload_len = len;
	q.flags = flags;
	q.relay_factor = relay;
	q.timeout_ns = (int64_t)timeout_ms * 1000000;
	uint8_t raw[GW_UDP_BUDGET + GW_PAYLOAD_MAX];
	int n = gw_encode_serf_query(&q, raw, sizeof(raw));
	if (n < 0 || n > SWIM_QUERY_SIZE_MAX)
		return -E2BIG;
	s->asked[slot].ltime = q.ltime;
	s->asked[slot].id = q.id;
	s->asked[slot].deadline = now + timeout_ms;
	s->asked[slot].open = true;
	/* as serf: processed here first (acks and answers come back to us like
	 * anyone's), and that also puts it on the gossip queue */
	serf__on_query(s, now, raw, (size_t)n);
	return q.id;
}

void swim_query_close(struct swim *s, uint32_t id)
{
	for (int i = 0; i < SWIM_QUERIES_MAX; i++)
		if (s->asked[i].open && s->asked[i].id == id)
			s->asked[i].open = false;
}

uint32_t swim_query_timeout_ms(const struct swim *s)
{
	size_t alive = swim_count(s, SWIM_ALIVE);
	double mult = ceil(log10((double)alive + 1));
	return (uint32_t)(s->cfg.gossip_interval_ms * 16 * (mult < 1 ? 1 : mult));
}

void serf__on_query_response(struct swim *s, uint64_t now, const uint8_t *raw, size_t len)
{
	struct gw_serf_query_response r;
	if (gw_decode_serf_query_response(raw + 1, len - 1, &r))
		return;
	for (int i = 0; i < SWIM_QUERIES_MAX; i++) {
		if (!s->asked[i].open || s->asked[i].ltime != r.ltime || s->asked[i].id != r.id)
			continue;
		if (now > s->asked[i].deadline) {
			s->asked[i].open = false;
			return;
		}
		struct swim_out *o = swim__app_out(s, SWIM_OUT_QUERY_RESPONSE, r.from, r.payload,
		                                   r.payload_len, r.ltime);
		if (o) {
			o->query_id = r.id;
			o->ack = (r.flags & GW_QUERY_ACK) != 0;
		}
		return;
	}
}
