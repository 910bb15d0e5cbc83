/*
 * raft — roles, elections (pre-vote, stickiness, check-quorum, transfer),
 * timers, the output queue and the public API. Replication, commit, snapshots
 * and reads live in raft_log.c. See raft.h for the contract.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "raft/raft_internal.h"

const char *raft_strerror(int err)
{
	switch (err < 0 ? -err : err) {
	case 0: return "ok";
	case RAFT_ENOMEM: return "out of memory";
	case RAFT_ENOTLEADER: return "node is not the leader";
	case RAFT_ETRANSFER: return "leadership transfer in progress";
	case RAFT_ECONFPENDING: return "configuration changed since the last commit";
	case RAFT_ENOTFOUND: return "server not found in the configuration";
	case RAFT_EEXISTS: return "bootstrap only works on new clusters";
	case RAFT_EINVAL: return "invalid argument";
	case RAFT_ETOOMANY: return "too many servers in the configuration";
	case RAFT_ESHUTDOWN: return "removed from the configuration";
	default: return "unknown error";
	}
}

const char *raft_role_name(enum raft_role role)
{
	switch (role) {
	case RAFT_FOLLOWER: return "Follower";
	case RAFT_PRECANDIDATE:
	case RAFT_CANDIDATE: return "Candidate";
	case RAFT_LEADER: return "Leader";
	}
	return "Unknown";
}

int raft_conf_find(const struct raft_configuration *conf, const char *id)
{
	for (unsigned i = 0; i < conf->n; i++)
		if (strcmp(conf->s[i].id, id) == 0)
			return (int)i;
	return -1;
}

/* ---- configuration bytes: version 1, count, then per server voter, id, addr ---- */

size_t raft_conf_encode(const struct raft_configuration *conf, uint8_t *buf, size_t cap)
{
	size_t need = 2;
	for (unsigned i = 0; i < conf->n; i++)
		need += 3 + strlen(conf->s[i].id) + strlen(conf->s[i].addr);
	if (need > cap)
		return need;
	size_t o = 0;
	buf[o++] = 1;
	buf[o++] = (uint8_t)conf->n;
	for (unsigned i = 0; i < conf->n; i++) {
		size_t il = strlen(conf->s[i].id), al = strlen(conf->s[i].addr);
		buf[o++] = conf->s[i].voter ? 1 : 0;
		buf[o++] = (uint8_t)il;
		memcpy(buf + o, conf->s[i].id, il);
		o += il;
		buf[o++] = (uint8_t)al;
		memcpy(buf + o, conf->s[i].addr, al);
		o += al;
	}
	return o;
}

static int get_str(const uint8_t *buf, size_t len, size_t *o, char *dst, size_t cap)
{
	if (*o >= len)
		return -RAFT_EINVAL;
	size_t n = buf[(*o)++];
	if (n == 0 || n >= cap || len - *o < n || memchr(buf + *o, 0, n))
		return -RAFT_EINVAL;
	memcpy(dst, buf + *o, n);
	dst[n] = 0;
	*o += n;
	return 0;
}

int raft_conf_decode(const uint8_t *buf, size_t len, struct raft_configuration *conf)
{
	size_t o = 2;
	if (len < 2 || buf[0] != 1 || buf[1] > RAFT_MAX_SERVERS)
		return -RAFT_EINVAL;
	struct raft_configuration c = { .n = buf[1] };
	for (unsigned i = 0; i < c.n; i++) {
		if (o >= len || buf[o] > 1)
			return -RAFT_EINVAL;
		c.s[i].voter = buf[o++] == 1;
		if (get_str(buf, len, &o, c.s[i].id, RAFT_ID_MAX) ||
		    get_str(buf, len, &o, c.s[i].addr, RAFT_ADDR_MAX))
			return -RAFT_EINVAL;
		for (unsigned j = 0; j < i; j++)
			if (strcmp(c.s[j].id, c.s[i].id) == 0)
				return -RAFT_EINVAL;
	}
	if (o != len)
		return -RAFT_EINVAL;
	*conf = c;
	return 0;
}

/* hashicorp's rendering: [{Suffrage:Voter ID:x Address:y} ...] */
void raft_conf_to_string(const struct raft_configuration *c, char *buf, size_t cap)
{
	size_t o = 0;
	o += (size_t)snprintf(buf + o, cap - o, "[");
	for (unsigned i = 0; i < c->n && o < cap; i++)
		o += (size_t)snprintf(buf + o, cap - o, "%s{Suffrage:%s ID:%s Address:%s}",
		                      i ? " " : "", c->s[i].voter ? "Voter" : "Nonvoter",
		                      c->s[i].id, c->s[i].addr);
	if (o < cap)
		snprintf(buf + o, cap - o, "]");
}

/* ---- outputs ---- */

struct qout *raft_q_push(struct raft *r, enum raft_out_kind kind)
{
	if (r->q_head > 0 && r->q_head == r->q_len)
		r->q_head = r->q_len = 0;
	if (r->q_len == r->q_cap) {
		size_t cap = r->q_cap ? r->q_cap * 2 : 32;
		struct qout *q = realloc(r->q, cap * sizeof(*q));
		if (!q) {
			r->oom = true;
			return NULL;
		}
		r->q = q;
		r->q_cap = cap;
	}
	struct qout *o = &r->q[r->q_len++];
	memset(o, 0, sizeof(*o));
	o->out.kind = kind;
	return o;
}

void raft_logf(struct raft *r, int level, const char *msg, ...)
{
	struct qout *o = raft_q_push(r, RAFT_OUT_LOG);
	if (!o)
		return;
	o->log.level = level;
	snprintf(o->log.msg, sizeof(o->log.msg), "%s", msg);
	va_list ap;
	va_start(ap, msg);
	const char *k;
	while ((k = va_arg(ap, const char *)) != NULL) {
		const char *v = va_arg(ap, const char *);
		if (o->log.nkv == RAFT_LOG_KV)
			continue;
		snprintf(o->log.key[o->log.nkv], sizeof(o->log.key[0]), "%s", k);
		snprintf(o->log.val[o->log.nkv], sizeof(o->log.val[0]), "%s", v ? v : "");
		o->log.nkv++;
	}
	va_end(ap);
}

bool raft_next_output(struct raft *r, struct raft_out *out)
{
	if (r->q_head == r->q_len)
		return false;
	struct qout *o = &r->q[r->q_head++];
	*out = o->out;
	switch (o->out.kind) {
	case RAFT_OUT_HARD_STATE:
		out->vote = o->vote;
		break;
	case RAFT_OUT_APPEND: {
		struct raft_entry *e = raft_ent(r, o->ent_first);
		uint64_t last = r->first + r->n_ents - 1;
		out->entries = e;
		out->n_entries = e ? (size_t)(last - o->ent_first + 1 < o->ent_n
		                                  ? last - o->ent_first + 1 : o->ent_n) : 0;
		break;
	}
	case RAFT_OUT_SEND:
		out->addr = o->addr;
		if (o->out.msg.type == RAFT_MSG_APPEND && o->ent_n) {
			struct raft_entry *e = raft_ent(r, o->ent_first);
			uint64_t last = r->first + r->n_ents - 1;
			out->msg.entries = e;
			out->msg.n_entries = e ? (size_t)(last - o->ent_first + 1 < o->ent_n
			                                      ? last - o->ent_first + 1 : o->ent_n) : 0;
		}
		if (o->out.msg.type == RAFT_MSG_SNAPSHOT)
			out->msg.snap_conf = &r->snap_conf;
		break;
	case RAFT_OUT_INSTALL_SNAPSHOT:
		out->msg.snap_conf = &r->snap_conf;
		break;
	case RAFT_OUT_APPLY:
		out->entry = raft_ent(r, o->ent_first);
		break;
	case RAFT_OUT_STATE:
		out->leader_id = o->leader_id;
		out->leader_addr = o->leader_addr;
		break;
	case RAFT_OUT_LOG:
		out->log = &o->log;
		break;
	default:
		break;
	}
	return true;
}

/* One STATE output per call when role, term or leader changed. */
static void flush_state(struct raft *r)
{
	if (r->st_role == r->role && r->st_term == r->term &&
	    strcmp(r->st_leader, r->leader_id) == 0)
		return;
	r->st_role = r->role;
	r->st_term = r->term;
	snprintf(r->st_leader, sizeof(r->st_leader), "%s", r->leader_id);
	struct qout *o = raft_q_push(r, RAFT_OUT_STATE);
	if (!o)
		return;
	o->out.role = r->role;
	o->out.term = r->term;
	snprintf(o->leader_id, sizeof(o->leader_id), "%s", r->leader_id);
	snprintf(o->leader_addr, sizeof(o->leader_addr), "%s", r->leader_addr);
}

void raft_persist_hard_state(struct raft *r)
{
	struct qout *o = raft_q_push(r, RAFT_OUT_HARD_STATE);
	if (!o)
		return;
	o->out.term = r->term;
	snprintf(o->vote, sizeof(o->vote), "%s", r->vote);
}

void raft_send(struct raft *r, struct raft_msg *m, const char *addr)
{
	struct qout *o = raft_q_push(r, RAFT_OUT_SEND);
	if (!o)
		return;
	snprintf(m->from, sizeof(m->from), "%s", r->opt.id);
	snprintf(m->from_addr, sizeof(m->from_addr), "%s", r->opt.addr);
	if (!m->term)
		m->term = r->term;
	o->out.msg = *m;
	o->out.msg.entries = NULL;
	snprintf(o->addr, sizeof(o->addr), "%s", addr);
	if (m->type == RAFT_MSG_APPEND && m->n_entries) {
		o->ent_first = m->prev_index + 1;
		o->ent_n = m->n_entries;
	}
}

/* ---- helpers ---- */

uint64_t raft_rand(struct raft *r, uint64_t bound)
{
	/* splitmix64: small, seeded, good enough for timeouts */
	uint64_t z = (r->rng += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	z ^= z >> 31;
	return bound ? z % bound : 0;
}

static unsigned n_voters(const struct raft *r)
{
	unsigned n = 0;
	for (unsigned i = 0; i < r->conf.n; i++)
		n += r->conf.s[i].voter;
	return n;
}

unsigned raft_quorum(const struct raft *r)
{
	return n_voters(r) / 2 + 1;
}

bool raft_is_voter(const struct raft *r, const char *id)
{
	int i = raft_conf_find(&r->conf, id);
	return i >= 0 && r->conf.s[i].voter;
}

static const char *node_str(const struct raft *r, const char *role, char *buf, size_t cap)
{
	snprintf(buf, cap, "Node at %s [%s]", r->opt.addr, role);
	return buf;
}

void raft_reset_election(struct raft *r, uint64_t now)
{
	uint64_t t = r->opt.election_timeout_ms;
	r->election_deadline = now + t + raft_rand(r, t);
}

static bool in_lease(const struct raft *r, uint64_t now)
{
	if (r->role == RAFT_LEADER)
		return true;  /* check-quorum decides when a leader stops being one */
	return r->leader_id[0] && r->last_leader_contact != NEVER &&
	       now - r->last_leader_contact < r->opt.election_timeout_ms;
}

/* This server's place in ID order among the voters of conf, leaving out
 * `except` (a lost leader): who campaigns first when all start together. */
static unsigned conf_rank(const struct raft *r, const struct raft_configuration *conf,
                          const char *except)
{
	unsigned rank = 0;
	for (unsigned i = 0; i < conf->n; i++) {
		const struct raft_server *x = &conf->s[i];
		if (x->voter && (!except || strcmp(x->id, except) != 0) &&
		    strcmp(x->id, r->opt.id) < 0)
			rank++;
	}
	return rank;
}

/* ---- roles ---- */

void raft_become_follower(struct raft *r, uint64_t now, uint64_t term, const char *leader_id,
                          const char *leader_addr)
{
	bool was = r->role != RAFT_FOLLOWER;
	if (term > r->term) {
		r->term = term;
		r->vote[0] = 0;
		raft_persist_hard_state(r);
	}
	if (r->role == RAFT_LEADER)
		raft_reads_fail(r);
	r->role = RAFT_FOLLOWER;
	r->transfer_to[0] = 0;
	snprintf(r->leader_id, sizeof(r->leader_id), "%s", leader_id ? leader_id : "");
	snprintf(r->leader_addr, sizeof(r->leader_addr), "%s", leader_addr ? leader_addr : "");
	if (leader_id && leader_id[0])
		r->last_leader_contact = now;
	raft_reset_election(r, now);
	if (was) {
		char b[128];
		raft_logf(r, 1, "entering follower state", "follower",
		          node_str(r, "Follower", b, sizeof(b)), "leader", r->leader_addr, NULL);
	}
}

static void become_leader(struct raft *r, uint64_t now, unsigned tally)
{
	char b[128], t[16];
	snprintf(t, sizeof(t), "%u", tally);
	raft_logf(r, 1, "election won", "tally", t, NULL);
	r->role = RAFT_LEADER;
	snprintf(r->leader_id, sizeof(r->leader_id), "%s", r->opt.id);
	snprintf(r->leader_addr, sizeof(r->leader_addr), "%s", r->opt.addr);
	r->last_leader_contact = now;
	r->transfer_to[0] = 0;
	raft_logf(r, 1, "entering leader state", "leader", node_str(r, "Leader", b, sizeof(b)),
	          NULL);
	raft_leader_init(r, now);
	for (unsigned i = 0; i < r->n_prog; i++)
		raft_logf(r, 1, "added peer, starting replication", "peer", r->prog[i].id, NULL);
	/* A no-op entry commits everything of earlier terms (§5.4.2) and marks
	 * when reads may be served. */
	if (raft_log_append(r, r->term, RAFT_ENTRY_NOOP, NULL, 0) == 0)
		r->term_start = raft_last_index(r);
	r->heartbeat_deadline = now + r->opt.heartbeat_interval_ms;
	r->quorum_deadline = now + r->opt.election_timeout_ms;
	raft_broadcast(r, now, false);
	raft_maybe_commit(r, now);
}

static void tally(const struct raft *r, unsigned *yes, unsigned *no)
{
	*yes = *no = 0;
	for (unsigned i = 0; i < r->conf.n; i++) {
		if (!r->conf.s[i].voter || !r->answered[i])
			continue;
		if (r->granted[i])
			(*yes)++;
		else
			(*no)++;
	}
}

static void count_vote(struct raft *r, uint64_t now, const char *from, bool granted, bool pre)
{
	int i = raft_conf_find(&r->conf, from);
	if (i < 0 || !r->conf.s[i].voter || r->answered[i])
		return;
	r->answered[i] = true;
	r->granted[i] = granted;
	unsigned yes, no, q = raft_quorum(r);
	tally(r, &yes, &no);
	if (yes >= q) {
		if (pre) {
			char t[24], y[16], n[16], need[16];
			snprintf(t, sizeof(t), "%llu", (unsigned long long)r->term + 1);
			snprintf(y, sizeof(y), "%u", yes);
			snprintf(n, sizeof(n), "%u", no);
			snprintf(need, sizeof(need), "%u", q);
			raft_logf(r, 1, "pre-vote successful, starting election", "term", t, "tally", y,
			          "refused", n, "votesNeeded", need, NULL);
			raft_campaign(r, now, false, false);
		} else {
			become_leader(r, now, yes);
		}
	} else if (no >= q || yes + (n_voters(r) - yes - no) < q) {
		if (pre)
			raft_logf(r, 1, "pre-vote campaign failed, waiting for election timeout", NULL);
		raft_become_follower(r, now, r->term, NULL, NULL);
	}
}

void raft_campaign(struct raft *r, uint64_t now, bool pre, bool transfer)
{
	memset(r->granted, 0, sizeof(r->granted));
	memset(r->answered, 0, sizeof(r->answered));
	r->leader_id[0] = r->leader_addr[0] = 0;
	r->last_leader_contact = NEVER;
	if (pre) {
		r->role = RAFT_PRECANDIDATE;
	} else {
		char b[128], t[24];
		r->role = RAFT_CANDIDATE;
		r->term++;
		snprintf(r->vote, sizeof(r->vote), "%s", r->opt.id);
		raft_persist_hard_state(r);
		snprintf(t, sizeof(t), "%llu", (unsigned long long)r->term);
		raft_logf(r, 1, "entering candidate state", "node",
		          node_str(r, "Candidate", b, sizeof(b)), "term", t, NULL);
	}
	raft_reset_election(r, now);
	uint64_t lt = raft_last_term(r), li = raft_last_index(r);
	for (unsigned i = 0; i < r->conf.n; i++) {
		const struct raft_server *s = &r->conf.s[i];
		if (!s->voter || strcmp(s->id, r->opt.id) == 0)
			continue;
		struct raft_msg m = { .type = RAFT_MSG_VOTE, .term = pre ? r->term + 1 : r->term,
			              .last_index = li, .last_term = lt, .prevote = pre,
			              .transfer = transfer };
		snprintf(m.to, sizeof(m.to), "%s", s->id);
		raft_send(r, &m, s->addr);
	}
	count_vote(r, now, r->opt.id, true, pre);
}

/* Whether this server may start an election at all (hashicorp's checks). */
static bool can_campaign(struct raft *r)
{
	if (r->conf.n == 0) {
		if (!r->warned_no_peers)
			raft_logf(r, 1, "no known peers, aborting election", NULL);
		r->warned_no_peers = true;
		return false;
	}
	if (!raft_is_voter(r, r->opt.id)) {
		if (!r->warned_no_peers)
			raft_logf(r, 2, "not part of stable configuration, aborting election", NULL);
		r->warned_no_peers = true;
		return false;
	}
	r->warned_no_peers = false;
	return true;
}

/* ---- messages ---- */

static void on_vote(struct raft *r, uint64_t now, const struct raft_msg *m)
{
	struct raft_msg resp = { .type = RAFT_MSG_VOTE_RESP, .prevote = m->prevote };
	snprintf(resp.to, sizeof(resp.to), "%s", m->from);
	uint64_t lt = raft_last_term(r), li = raft_last_index(r);
	bool log_ok = m->last_term > lt || (m->last_term == lt && m->last_index >= li);
	bool can;
	if (m->prevote)
		can = m->term > r->term;
	else
		can = m->term == r->term &&
		      (r->vote[0] == 0 ? !r->leader_id[0] : strcmp(r->vote, m->from) == 0);
	resp.granted = can && log_ok && m->term >= r->term;
	resp.term = resp.granted && m->prevote ? m->term : r->term;
	if (resp.granted && !m->prevote) {
		snprintf(r->vote, sizeof(r->vote), "%s", m->from);
		raft_persist_hard_state(r);
		raft_reset_election(r, now);
	}
	raft_send(r, &resp, m->from_addr);
}

static void on_timeout_now(struct raft *r, uint64_t now, const struct raft_msg *m)
{
	if (r->role != RAFT_FOLLOWER || !raft_is_voter(r, r->opt.id))
		return;
	raft_logf(r, 1, "received leadership transfer request, starting election", "from",
	          m->from_addr, NULL);
	raft_campaign(r, now, false, true);
}

void raft_step(struct raft *r, uint64_t now, const struct raft_msg *m)
{
	if (!r->started || strcmp(m->to, r->opt.id) != 0 || strcmp(m->from, r->opt.id) == 0)
		return;
	bool is_leader_msg = m->type == RAFT_MSG_APPEND || m->type == RAFT_MSG_SNAPSHOT ||
	                     m->type == RAFT_MSG_TIMEOUT_NOW;
	if (m->term > r->term) {
		if (m->type == RAFT_MSG_VOTE && !m->transfer && in_lease(r, now)) {
			raft_logf(r, 2, m->prevote ? "rejecting pre-vote request since we have a leader"
			                           : "rejecting vote request since we have a leader",
			          "from", m->from_addr, "leader", r->leader_addr, NULL);
			struct raft_msg resp = { .type = RAFT_MSG_VOTE_RESP, .term = r->term,
				                 .prevote = m->prevote };
			snprintf(resp.to, sizeof(resp.to), "%s", m->from);
			raft_send(r, &resp, m->from_addr);
			goto out;
		}
		bool keep = (m->type == RAFT_MSG_VOTE && m->prevote) ||
		            (m->type == RAFT_MSG_VOTE_RESP && m->prevote && m->granted);
		if (!keep)
			raft_become_follower(r, now, m->term, is_leader_msg ? m->from : NULL,
			                     is_leader_msg ? m->from_addr : NULL);
	} else if (m->term < r->term) {
		if (m->type == RAFT_MSG_APPEND || m->type == RAFT_MSG_SNAPSHOT) {
			/* tell a stale leader about the newer term so it steps down */
			struct raft_msg resp = { .type = m->type == RAFT_MSG_APPEND
				                         ? RAFT_MSG_APPEND_RESP : RAFT_MSG_SNAPSHOT_RESP,
				                 .index = raft_last_index(r) };
			snprintf(resp.to, sizeof(resp.to), "%s", m->from);
			raft_send(r, &resp, m->from_addr);
		} else if (m->type == RAFT_MSG_VOTE) {
			on_vote(r, now, m);
		}
		goto out;
	}

	switch (m->type) {
	case RAFT_MSG_VOTE:
		on_vote(r, now, m);
		break;
	case RAFT_MSG_VOTE_RESP:
		if (m->prevote && r->role == RAFT_PRECANDIDATE && m->term == r->term + 1)
			count_vote(r, now, m->from, m->granted, true);
		else if (m->prevote && r->role == RAFT_PRECANDIDATE && !m->granted)
			count_vote(r, now, m->from, false, true);
		else if (!m->prevote && r->role == RAFT_CANDIDATE && m->term == r->term)
			count_vote(r, now, m->from, m->granted, false);
		break;
	case RAFT_MSG_APPEND:
		raft_on_append(r, now, m);
		break;
	case RAFT_MSG_APPEND_RESP:
		raft_on_append_resp(r, now, m);
		break;
	case RAFT_MSG_SNAPSHOT:
		raft_on_snapshot(r, now, m);
		break;
	case RAFT_MSG_SNAPSHOT_RESP:
		raft_on_snapshot_resp(r, now, m);
		break;
	case RAFT_MSG_TIMEOUT_NOW:
		on_timeout_now(r, now, m);
		break;
	}
out:
	flush_state(r);
}

/* ---- timers ---- */

static void leader_tick(struct raft *r, uint64_t now)
{
	if (now >= r->quorum_deadline) {
		/* check-quorum: a leader that cannot reach a majority steps down */
		unsigned active = raft_is_voter(r, r->opt.id) ? 1 : 0;
		for (unsigned i = 0; i < r->n_prog; i++) {
			if (r->prog[i].voter && r->prog[i].recent_active)
				active++;
			r->prog[i].recent_active = false;
		}
		r->quorum_deadline = now + r->opt.election_timeout_ms;
		if (active < raft_quorum(r)) {
			raft_logf(r, 2, "failed to contact quorum of nodes, stepping down", NULL);
			raft_become_follower(r, now, r->term, NULL, NULL);
			return;
		}
	}
	if (r->transfer_to[0] && now >= r->transfer_deadline) {
		raft_logf(r, 2, "leadership transfer timeout", "target", r->transfer_to, NULL);
		r->transfer_to[0] = 0;
	}
	if (now >= r->heartbeat_deadline) {
		r->heartbeat_deadline = now + r->opt.heartbeat_interval_ms;
		raft_broadcast(r, now, true);
	}
}

void raft_tick(struct raft *r, uint64_t now)
{
	if (!r->started)
		return;
	if (r->role == RAFT_LEADER) {
		leader_tick(r, now);
	} else if (now >= r->election_deadline) {
		if (!can_campaign(r)) {
			raft_reset_election(r, now);
		} else if (r->role == RAFT_CANDIDATE || r->role == RAFT_PRECANDIDATE) {
			raft_logf(r, 2, "Election timeout reached, restarting election", NULL);
			raft_campaign(r, now, !r->opt.disable_prevote, false);
		} else {
			raft_logf(r, 2, "heartbeat timeout reached, starting election", "last-leader",
			          r->leader_addr, NULL);
			raft_campaign(r, now, !r->opt.disable_prevote, false);
		}
	}
	flush_state(r);
}

uint64_t raft_next_deadline(const struct raft *r)
{
	if (!r->started)
		return NEVER;
	if (r->role != RAFT_LEADER)
		return r->election_deadline;
	uint64_t d = r->heartbeat_deadline;
	if (r->quorum_deadline < d)
		d = r->quorum_deadline;
	if (r->transfer_to[0] && r->transfer_deadline < d)
		d = r->transfer_deadline;
	return d;
}

/* ---- lifecycle ---- */

struct raft *raft_new(const struct raft_options *opt)
{
	if (!opt->id[0] || !opt->addr[0])
		return NULL;
	struct raft *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->opt = *opt;
	if (!r->opt.election_timeout_ms)
		r->opt.election_timeout_ms = 300;
	if (!r->opt.heartbeat_interval_ms)
		r->opt.heartbeat_interval_ms = 50;
	if (!r->opt.failover_jitter_ms)
		r->opt.failover_jitter_ms = 40;
	if (!r->opt.max_append_entries)
		r->opt.max_append_entries = 64;
	if (!r->opt.max_inflight)
		r->opt.max_inflight = 8;
	if (!r->opt.trailing_logs)
		r->opt.trailing_logs = 10240;
	r->rng = opt->seed ^ 0x5deece66dULL;
	r->first = 1;
	r->last_leader_contact = NEVER;
	return r;
}

void raft_free(struct raft *r)
{
	if (!r)
		return;
	raft_log_clear(r, 1);
	free(r->ents);
	free(r->reads);
	free(r->q);
	free(r);
}

int raft_restore_hard_state(struct raft *r, uint64_t term, const char *vote)
{
	if (r->started || strlen(vote ? vote : "") >= RAFT_ID_MAX)
		return -RAFT_EINVAL;
	r->term = term;
	snprintf(r->vote, sizeof(r->vote), "%s", vote ? vote : "");
	return 0;
}

int raft_restore_snapshot(struct raft *r, uint64_t index, uint64_t term,
                          const struct raft_configuration *conf)
{
	if (r->started || r->n_ents)
		return -RAFT_EINVAL;
	r->snap_index = index;
	r->snap_term = term;
	r->snap_conf = *conf;
	r->first = index + 1;
	r->commit = r->applied = index;
	return 0;
}

int raft_restore_entry(struct raft *r, const struct raft_entry *e)
{
	if (r->started)
		return -RAFT_EINVAL;
	if (r->n_ents == 0) {
		if (e->index == 0 || e->index > r->snap_index + 1)
			return -RAFT_EINVAL;
		r->first = e->index;
	} else if (e->index != r->first + r->n_ents) {
		return -RAFT_EINVAL;
	}
	return raft_log_append(r, e->term, e->type, e->data, e->len);
}

void raft_start(struct raft *r, uint64_t now)
{
	if (r->started)
		return;
	/* a log that ends before the snapshot, or disagrees with it at its
	 * index (a crash between saving a received snapshot and dropping the
	 * old log), is stale: the snapshot wins */
	struct raft_entry *at = raft_ent(r, r->snap_index);
	if (r->n_ents && (raft_last_index(r) < r->snap_index ||
	                  (r->snap_index && at && at->term != r->snap_term)))
		raft_log_clear(r, r->snap_index + 1);
	raft_conf_refresh(r);
	r->started = true;
	char servers[RAFT_MAX_SERVERS * 150], idx[24];
	raft_conf_to_string(&r->conf, servers, sizeof(servers));
	snprintf(idx, sizeof(idx), "%llu", (unsigned long long)r->conf_index);
	raft_logf(r, 1, "initial configuration", "index", idx, "servers", servers, NULL);
	r->role = RAFT_CANDIDATE;  /* so that the follower transition is logged */
	raft_become_follower(r, now, r->term, NULL, NULL);
	/* the only voter has nobody to wait for */
	if (raft_quorum(r) == 1 && raft_is_voter(r, r->opt.id))
		r->election_deadline = now;
	r->st_role = RAFT_FOLLOWER;
	r->st_term = r->term;
}

int raft_bootstrap(struct raft *r, uint64_t now, const struct raft_configuration *conf)
{
	if (conf->n == 0 || conf->n > RAFT_MAX_SERVERS)
		return -RAFT_EINVAL;
	if (r->term != 0 || raft_last_index(r) != 0 || r->role != RAFT_FOLLOWER)
		return -RAFT_EEXISTS;
	uint8_t buf[RAFT_MAX_SERVERS * 140];
	size_t n = raft_conf_encode(conf, buf, sizeof(buf));
	if (n > sizeof(buf))
		return -RAFT_EINVAL;
	r->term = 1;
	raft_persist_hard_state(r);
	int rc = raft_log_append(r, 1, RAFT_ENTRY_CONFIG, buf, n);
	if (rc)
		return rc;
	raft_conf_refresh(r);
	raft_reset_election(r, now);
	/* Every server bootstraps the same configuration, so the first election
	 * need not wait for a timeout: they campaign in ID order, a jitter apart,
	 * so the votes do not split. (A server that does not bootstrap — it heard
	 * that another one already has peers — leaves its turn to the next one.) */
	r->election_deadline = now + conf_rank(r, conf, NULL) * r->opt.failover_jitter_ms +
	                       raft_rand(r, r->opt.failover_jitter_ms / 4 + 1);
	flush_state(r);
	return 0;
}

int raft_propose(struct raft *r, uint64_t now, const uint8_t *data, size_t len,
                 uint64_t *index, uint64_t *term)
{
	if (r->role != RAFT_LEADER)
		return -RAFT_ENOTLEADER;
	if (r->transfer_to[0])
		return -RAFT_ETRANSFER;
	int rc = raft_log_append(r, r->term, RAFT_ENTRY_COMMAND, data, len);
	if (rc)
		return rc;
	if (index)
		*index = raft_last_index(r);
	if (term)
		*term = r->term;
	raft_broadcast(r, now, false);
	raft_maybe_commit(r, now);
	return 0;
}

static int change_conf(struct raft *r, uint64_t now, const struct raft_configuration *c,
                       uint64_t *index)
{
	uint8_t buf[RAFT_MAX_SERVERS * 140];
	size_t n = raft_conf_encode(c, buf, sizeof(buf));
	if (n > sizeof(buf))
		return -RAFT_EINVAL;
	int rc = raft_log_append(r, r->term, RAFT_ENTRY_CONFIG, buf, n);
	if (rc)
		return rc;
	raft_conf_refresh(r);
	raft_progress_sync(r);
	if (index)
		*index = raft_last_index(r);
	raft_broadcast(r, now, false);
	raft_maybe_commit(r, now);
	return 0;
}

static int conf_change_allowed(const struct raft *r)
{
	if (r->role != RAFT_LEADER)
		return -RAFT_ENOTLEADER;
	if (r->transfer_to[0])
		return -RAFT_ETRANSFER;
	/* one change at a time, and only once this term's no-op is committed */
	if (r->conf_index > r->commit || r->commit < r->term_start)
		return -RAFT_ECONFPENDING;
	return 0;
}

int raft_add_server(struct raft *r, uint64_t now, const char *id, const char *addr, bool voter,
                    uint64_t *index)
{
	int rc = conf_change_allowed(r);
	if (rc)
		return rc;
	if (!id[0] || strlen(id) >= RAFT_ID_MAX || !addr[0] || strlen(addr) >= RAFT_ADDR_MAX)
		return -RAFT_EINVAL;
	struct raft_configuration c = r->conf;
	int i = raft_conf_find(&c, id);
	if (i < 0) {
		if (c.n == RAFT_MAX_SERVERS)
			return -RAFT_ETOOMANY;
		i = (int)c.n++;
		snprintf(c.s[i].id, sizeof(c.s[i].id), "%s", id);
	} else if (strcmp(c.s[i].addr, addr) == 0 && c.s[i].voter == voter) {
		if (index)
			*index = r->conf_index;
		return 0;
	}
	snprintf(c.s[i].addr, sizeof(c.s[i].addr), "%s", addr);
	c.s[i].voter = voter;
	rc = change_conf(r, now, &c, index);
	flush_state(r);
	return rc;
}

int raft_remove_server(struct raft *r, uint64_t now, const char *id, uint64_t *index)
{
	int rc = conf_change_allowed(r);
	if (rc)
		return rc;
	struct raft_configuration c = r->conf;
	int i = raft_conf_find(&c, id);
	if (i < 0)
		return -RAFT_ENOTFOUND;
	memmove(&c.s[i], &c.s[i + 1], (c.n - (unsigned)i - 1) * sizeof(c.s[0]));
	c.n--;
	rc = change_conf(r, now, &c, index);
	flush_state(r);
	return rc;
}

int raft_transfer_leadership(struct raft *r, uint64_t now, const char *target)
{
	if (r->role != RAFT_LEADER)
		return -RAFT_ENOTLEADER;
	if (r->transfer_to[0])
		return -RAFT_ETRANSFER;
	struct progress *best = NULL;
	for (unsigned i = 0; i < r->n_prog; i++) {
		struct progress *p = &r->prog[i];
		if (!p->voter)
			continue;
		if (target ? strcmp(p->id, target) == 0 : (!best || p->match > best->match))
			best = p;
	}
	if (!best)
		return target ? -RAFT_ENOTFOUND : -RAFT_EINVAL;
	snprintf(r->transfer_to, sizeof(r->transfer_to), "%s", best->id);
	r->transfer_deadline = now + r->opt.election_timeout_ms;
	raft_logf(r, 1, "starting leadership transfer", "id", best->id, "address", best->addr,
	          NULL);
	if (best->match == raft_last_index(r)) {
		struct raft_msg m = { .type = RAFT_MSG_TIMEOUT_NOW };
		snprintf(m.to, sizeof(m.to), "%s", best->id);
		raft_send(r, &m, best->addr);
	} else {
		raft_send_append(r, now, best, false);
	}
	return 0;
}

void raft_read_index(struct raft *r, uint64_t now, uint64_t req)
{
	if (r->role != RAFT_LEADER) {
		struct qout *o = raft_q_push(r, RAFT_OUT_READ);
		if (o)
			o->out.req = req;
		return;
	}
	if (r->n_reads == r->cap_reads) {
		size_t cap = r->cap_reads ? r->cap_reads * 2 : 16;
		struct pending_read *p = realloc(r->reads, cap * sizeof(*p));
		if (!p) {
			struct qout *o = raft_q_push(r, RAFT_OUT_READ);
			if (o)
				o->out.req = req;
			return;
		}
		r->reads = p;
		r->cap_reads = cap;
	}
	uint64_t idx = r->commit > r->term_start ? r->commit : r->term_start;
	r->reads[r->n_reads++] = (struct pending_read){ .req = req, .seq = ++r->seq, .index = idx };
	raft_reads_check(r);
	if (r->n_reads)
		raft_broadcast(r, now, true);
}

void raft_peer_lost(struct raft *r, uint64_t now, const char *id)
{
	if (!r->started || r->role == RAFT_LEADER || strcmp(r->leader_id, id) != 0)
		return;
	raft_logf(r, 2, "leader connection closed by its host, campaigning early", "leader",
	          r->leader_addr, NULL);
	/* Every follower sees the close at about the same time. To keep their
	 * elections from splitting the vote, they take turns by ID: the first
	 * voter (leaving out the lost leader) goes at once, the next one a
	 * jitter later, and so on, each with a little randomness. */
	uint64_t j = r->opt.failover_jitter_ms;
	r->leader_id[0] = r->leader_addr[0] = 0;
	r->last_leader_contact = NEVER;
	r->election_deadline = now + conf_rank(r, &r->conf, id) * j + raft_rand(r, j / 4 + 1);
	flush_state(r);
}

/* ---- queries ---- */

enum raft_role raft_role(const struct raft *r) { return r->role; }
uint64_t raft_term(const struct raft *r) { return r->term; }
const char *raft_leader_id(const struct raft *r) { return r->leader_id; }
const char *raft_leader_addr(const struct raft *r) { return r->leader_addr; }
uint64_t raft_commit_index(const struct raft *r) { return r->commit; }
uint64_t raft_applied_index(const struct raft *r) { return r->applied; }
uint64_t raft_first_index(const struct raft *r) { return r->first; }
uint64_t raft_snapshot_index(const struct raft *r) { return r->snap_index; }
const struct raft_configuration *raft_snapshot_configuration(const struct raft *r)
{
	return &r->snap_conf;
}
const struct raft_configuration *raft_configuration(const struct raft *r) { return &r->conf; }
uint64_t raft_configuration_index(const struct raft *r) { return r->conf_index; }

uint64_t raft_last_index(const struct raft *r)
{
	return r->n_ents ? r->first + r->n_ents - 1 : r->snap_index;
}

uint64_t raft_last_term(const struct raft *r)
{
	return r->n_ents ? r->ents[r->n_ents - 1].term : r->snap_term;
}

uint64_t raft_term_at(const struct raft *r, uint64_t index)
{
	uint64_t t = 0;
	raft_term_known(r, index, &t);
	return t;
}

uint64_t raft_last_contact(const struct raft *r, uint64_t now)
{
	if (r->role == RAFT_LEADER)
		return 0;
	if (r->last_leader_contact == NEVER)
		return NEVER;
	return now - r->last_leader_contact;
}

bool raft_progress(const struct raft *r, const char *id, uint64_t *match_index,
                   uint64_t *last_contact_ms_ago, uint64_t now)
{
	if (r->role != RAFT_LEADER)
		return false;
	for (unsigned i = 0; i < r->n_prog; i++) {
		const struct progress *p = &r->prog[i];
		if (strcmp(p->id, id) != 0)
			continue;
		if (match_index)
			*match_index = p->match;
		if (last_contact_ms_ago)
			*last_contact_ms_ago = p->last_contact == NEVER ? NEVER : now - p->last_contact;
		return true;
	}
	return false;
}
