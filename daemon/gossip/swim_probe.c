/* The network-facing half of the memberlist core: probes and indirect probes
 * (§4.2), gossip rounds (§4.4), and the handling of incoming UDP messages,
 * including the "port unreachable" fast path. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gossip/swim_internal.h"

/* ---- probing (§4.2) ---- */

static uint32_t probe_interval(const struct swim *s)
{
	return s->cfg.probe_interval_ms * (uint32_t)(s->awareness + 1);
}

static void fill_source(const struct swim *s, struct gw_ip *addr, char *node, uint16_t *port)
{
	*addr = s->m[0]->addr;
	snprintf(node, GW_NAME_MAX, "%s", s->m[0]->name);
	*port = s->m[0]->port;
}

static void send_ping(struct swim *s, uint64_t now, struct member *t, uint32_t seq)
{
	struct gw_ping p;
	memset(&p, 0, sizeof(p));
	p.seq = seq;
	snprintf(p.node, sizeof(p.node), "%s", t->name);
	fill_source(s, &p.source_addr, p.source_node, &p.source_port);
	uint8_t ping[GW_NAME_MAX * 2 + 64], buf[GW_UDP_BUDGET * 2];
	int n = gw_encode_ping(&p, ping, sizeof(ping));
	if (n <= 0)
		return;
	if (t->state != ML_SUSPECT) {
		size_t len = swim__build_packet(s, ping, (size_t)n, buf, sizeof(buf));
		swim__send_packet(s, t, NULL, 0, buf, len, false);
		return;
	}
	/* probing a suspect: tell it, so it can refute */
	struct gw_suspect sm = { .incarnation = t->incarnation };
	snprintf(sm.node, sizeof(sm.node), "%s", t->name);
	snprintf(sm.from, sizeof(sm.from), "%s", s->m[0]->name);
	uint8_t sus[GW_NAME_MAX * 2 + 64];
	int k = gw_encode_suspect(&sm, sus, sizeof(sus));
	const uint8_t *parts[2] = { ping, sus };
	size_t lens[2] = { (size_t)n, k > 0 ? (size_t)k : 0 };
	int c = gw_compound(parts, lens, k > 0 ? 2 : 1, buf, sizeof(buf));
	if (c > 0)
		swim__send_packet(s, t, NULL, 0, buf, (size_t)c, true);
}

static struct member *next_probe_target(struct swim *s, uint64_t now)
{
	for (size_t tries = 0; tries < s->norder + 1; tries++) {
		if (s->probe_pos >= s->norder) {
			s->probe_pos = 0;
			/* reshuffle on wrap-around (Fisher-Yates) */
			for (size_t i = s->norder; i > 1; i--) {
				size_t j = (size_t)(swim__rand(s) % i);
				size_t t = s->order[i - 1];
				s->order[i - 1] = s->order[j];
				s->order[j] = t;
			}
		}
		struct member *m = s->m[s->order[s->probe_pos++]];
		if (m == s->m[0] || m->state == ML_DEAD || m->state == ML_LEFT)
			continue;
		return m;
	}
	return NULL;
}

static void start_probe(struct swim *s, uint64_t now)
{
	struct member *t = next_probe_target(s, now);
	if (!t)
		return;
	struct probe *p = &s->probe;
	memset(p, 0, sizeof(*p));
	p->active = true;
	snprintf(p->target, sizeof(p->target), "%s", t->name);
	p->seq = ++s->seq;
	p->sent = now;
	p->timeout_at = now + s->cfg.probe_timeout_ms;
	p->deadline = now + probe_interval(s);
	send_ping(s, now, t, p->seq);
}

static void indirect_probe(struct swim *s, uint64_t now, struct member *t)
{
	struct probe *p = &s->probe;
	p->indirect_sent = true;
	size_t cand[64], nc = 0;
	for (size_t i = 1; i < s->nm && nc < 64; i++)
		if (s->m[i] != t && s->m[i]->state == ML_ALIVE)
			cand[nc++] = i;
	for (unsigned k = 0; k < s->cfg.indirect_checks && nc > 0; k++) {
		size_t j = (size_t)(swim__rand(s) % nc);
		struct member *via = s->m[cand[j]];
		cand[j] = cand[--nc];
		struct gw_indirect_ping ip;
		memset(&ip, 0, sizeof(ip));
		ip.seq = p->seq;
		ip.target = t->addr;
		ip.port = t->port;
		snprintf(ip.node, sizeof(ip.node), "%s", t->name);
		ip.nack = via->vsn[1] >= 4;
		fill_source(s, &ip.source_addr, ip.source_node, &ip.source_port);
		p->nacks_expected += ip.nack;
		uint8_t buf[GW_NAME_MAX * 2 + 128];
		int n = gw_encode_indirect_ping(&ip, buf, sizeof(buf));
		if (n > 0)
			swim__send_packet(s, via, NULL, 0, buf, (size_t)n, false);
	}
}

static void probe_failed(struct swim *s, uint64_t now, struct member *t)
{
	struct probe *p = &s->probe;
	int delta = p->nacks_expected ? (int)(p->nacks_expected - p->nacks) : 1;
	s->awareness += delta;
	if (s->awareness > (int)s->cfg.awareness_max - 1)
		s->awareness = (int)s->cfg.awareness_max - 1;
	if (s->awareness < 0)
		s->awareness = 0;
	swim__log(s, 1, "memberlist: Suspect %s has failed, no acks received", t->name);
	struct gw_suspect sm = { .incarnation = t->incarnation };
	snprintf(sm.node, sizeof(sm.node), "%s", t->name);
	snprintf(sm.from, sizeof(sm.from), "%s", s->m[0]->name);
	swim__on_suspect(s, now, &sm);
}

void swim__run_probe(struct swim *s, uint64_t now)
{
	struct probe *p = &s->probe;
	if (p->active && !p->acked) {
		struct member *t = swim__find(s, p->target);
		if (!t || t->state == ML_DEAD || t->state == ML_LEFT) {
			p->active = false;
		} else if (now >= p->deadline) {
			p->active = false;
			probe_failed(s, now, t);
		} else if (now >= p->timeout_at && !p->indirect_sent) {
			indirect_probe(s, now, t);
		}
	}
	if (now >= s->next_probe) {
		if (p->active && !p->acked) {
			struct member *t = swim__find(s, p->target);
			p->active = false;
			if (t && t->state != ML_DEAD && t->state != ML_LEFT)
				probe_failed(s, now, t);
		}
		start_probe(s, now);
		s->next_probe = now + probe_interval(s);
	}
}

/* ---- gossip (§4.4) ---- */

void swim__run_gossip(struct swim *s, uint64_t now)
{
	size_t cand[256], nc = 0;
	for (size_t i = 1; i < s->nm && nc < 256; i++) {
		const struct member *m = s->m[i];
		if (m->state == ML_ALIVE || m->state == ML_SUSPECT ||
		    (m->state == ML_DEAD && now - m->state_change < s->cfg.gossip_to_dead_ms))
			cand[nc++] = i;
	}
	uint8_t buf[GW_UDP_BUDGET * 2];
	for (unsigned k = 0; k < s->cfg.gossip_nodes && nc > 0; k++) {
		size_t j = (size_t)(swim__rand(s) % nc);
		struct member *to = s->m[cand[j]];
		cand[j] = cand[--nc];
		size_t len = swim__build_packet(s, NULL, 0, buf, sizeof(buf));
		if (len == 0)
			break;
		swim__send_packet(s, to, NULL, 0, buf, len, true);
	}
}

/* ---- incoming UDP messages ---- */

static void reply_ack(struct swim *s, const struct gw_ip *ip, uint16_t port, uint32_t seq)
{
	struct gw_ack ack;
	memset(&ack, 0, sizeof(ack));
	ack.seq = seq;
	uint8_t msg[64], buf[GW_UDP_BUDGET * 2];
	int n = gw_encode_ack(&ack, msg, sizeof(msg));
	if (n <= 0)
		return;
	/* piggyback gossip on the ack, as memberlist's sendMsg does */
	size_t len = swim__build_packet(s, msg, (size_t)n, buf, sizeof(buf));
	swim__send_packet(s, NULL, ip, port, buf, len, false);
}

static void on_ack(struct swim *s, uint64_t now, uint32_t seq)
{
	struct probe *p = &s->probe;
	if (p->active && seq == p->seq && !p->acked) {
		p->acked = true;
		p->active = false;
		if (s->awareness > 0)
			s->awareness--;
		return;
	}
	for (size_t i = 0; i < s->nrelays; i++) {
		struct relay *r = &s->relays[i];
		if (r->seq != seq)
			continue;
		reply_ack(s, &r->ip, r->port, r->their_seq);
		s->relays[i] = s->relays[--s->nrelays];
		return;
	}
}

static void on_indirect(struct swim *s, uint64_t now, const struct gw_ip *from,
                        uint16_t from_port, const struct gw_indirect_ping *ip)
{
	if (s->nrelays == s->caprelays) {
		size_t cap = s->caprelays ? s->caprelays * 2 : 16;
		if (cap > 1024)
			return; /* bounded: a flood of requests cannot grow memory */
		struct relay *n = realloc(s->relays, cap * sizeof(*n));
		if (!n)
			return;
		s->relays = n;
		s->caprelays = cap;
	}
	struct relay *r = &s->relays[s->nrelays++];
	r->seq = ++s->seq;
	r->their_seq = ip->seq;
	r->ip = ip->source_addr.len ? ip->source_addr : *from;
	r->port = ip->source_port ? ip->source_port : from_port;
	r->nack = ip->nack;
	r->deadline = now + s->cfg.probe_timeout_ms;
	struct gw_ping p;
	memset(&p, 0, sizeof(p));
	p.seq = r->seq;
	snprintf(p.node, sizeof(p.node), "%s", ip->node);
	fill_source(s, &p.source_addr, p.source_node, &p.source_port);
	uint8_t buf[GW_NAME_MAX * 2 + 64];
	int n = gw_encode_ping(&p, buf, sizeof(buf));
	if (n > 0)
		swim__send_packet(s, NULL, &ip->target, ip->port ? ip->port : s->cfg.port, buf, (size_t)n,
		            false);
}

void swim__run_relays(struct swim *s, uint64_t now)
{
	for (size_t i = 0; i < s->nrelays;) {
		struct relay *r = &s->relays[i];
		if (now < r->deadline) {
			i++;
			continue;
		}
		if (r->nack) {
			struct gw_nack nk = { r->their_seq };
			uint8_t buf[32];
			int n = gw_encode_nack(&nk, buf, sizeof(buf));
			if (n > 0)
				swim__send_packet(s, NULL, &r->ip, r->port, buf, (size_t)n, false);
		}
		s->relays[i] = s->relays[--s->nrelays];
	}
}

void swim_on_message(struct swim *s, uint64_t now, const struct gw_ip *from, uint16_t from_port,
                     enum gw_type type, const uint8_t *body, size_t len)
{
	union {
		struct gw_ping ping;
		struct gw_indirect_ping ind;
		struct gw_ack ack;
		struct gw_nack nack;
		struct gw_suspect sus;
		struct gw_alive alive;
	} u;
	switch (type) {
	case GW_PING:
		if (gw_decode_ping(body, len, &u.ping))
			return;
		if (u.ping.node[0] && strcmp(u.ping.node, s->m[0]->name) != 0)
			return;
		if (u.ping.source_addr.len && u.ping.source_port)
			reply_ack(s, &u.ping.source_addr, u.ping.source_port, u.ping.seq);
		else
			reply_ack(s, from, from_port, u.ping.seq);
		break;
	case GW_INDIRECT_PING:
		if (gw_decode_indirect_ping(body, len, &u.ind) == 0)
			on_indirect(s, now, from, from_port, &u.ind);
		break;
	case GW_ACK:
		if (gw_decode_ack(body, len, &u.ack) == 0)
			on_ack(s, now, u.ack.seq);
		break;
	case GW_NACK:
		if (gw_decode_nack(body, len, &u.nack) == 0 && s->probe.active &&
		    u.nack.seq == s->probe.seq)
			s->probe.nacks++;
		break;
	case GW_SUSPECT:
		if (gw_decode_suspect(body, len, &u.sus) == 0)
			swim__on_suspect(s, now, &u.sus);
		break;
	case GW_DEAD:
		if (gw_decode_suspect(body, len, &u.sus) == 0)
			swim__on_dead(s, now, &u.sus);
		break;
	case GW_ALIVE:
		if (gw_decode_alive(body, len, &u.alive) == 0)
			swim__on_alive(s, now, &u.alive, false);
		break;
	case GW_USER:
		serf__on_user(s, now, body, len);
		break;
	default:
		break; /* not valid in a packet: dropped */
	}
}

void swim_on_unreachable(struct swim *s, uint64_t now, const struct gw_ip *ip, uint16_t port)
{
	uint32_t want, have;
	if (!gw_ip_v4(ip, &want))
		return;
	for (size_t i = 1; i < s->nm; i++) {
		struct member *m = s->m[i];
		if (m->port != port || !gw_ip_v4(&m->addr, &have) || have != want)
			continue;
		if (m->state != ML_ALIVE && m->state != ML_SUSPECT)
			return;
		swim__log(s, 1, "memberlist: Marking %s as failed: nothing listens on its gossip port "
		                "any more (the host answered, the process is gone)", m->name);
		struct gw_suspect dm = { .incarnation = m->incarnation };
		snprintf(dm.node, sizeof(dm.node), "%s", m->name);
		snprintf(dm.from, sizeof(dm.from), "%s", s->m[0]->name);
		swim__on_dead(s, now, &dm);
		if (s->probe.active && strcmp(s->probe.target, m->name) == 0)
			s->probe.active = false;
		return;
	}
}

