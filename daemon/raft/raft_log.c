/*
 * raft_log — the in-memory log and everything that moves it: replication
 * (probe / pipelined replicate / snapshot per follower), the follower's
 * consistency check with conflict back-off, commit by majority, apply,
 * compaction after snapshots, InstallSnapshot, and ReadIndex confirmation.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "raft/raft_internal.h"

/* ---- the log ---- */

struct raft_entry *raft_ent(const struct raft *r, uint64_t index)
{
	if (index < r->first || index >= r->first + r->n_ents)
		return NULL;
	return &r->ents[index - r->first];
}

bool raft_term_known(const struct raft *r, uint64_t index, uint64_t *term)
{
	if (index == 0) {
		*term = 0;
		return true;
	}
	if (index == r->snap_index) {
		*term = r->snap_term;
		return true;
	}
	struct raft_entry *e = raft_ent(r, index);
	if (!e)
		return false;
	*term = e->term;
	return true;
}

int raft_log_append(struct raft *r, uint64_t term, enum raft_entry_type type, const uint8_t *data,
                    size_t len)
{
	if (r->n_ents == r->cap_ents) {
		size_t cap = r->cap_ents ? r->cap_ents * 2 : 64;
		struct raft_entry *e = realloc(r->ents, cap * sizeof(*e));
		if (!e)
			return -RAFT_ENOMEM;
		r->ents = e;
		r->cap_ents = cap;
	}
	uint8_t *copy = NULL;
	if (len) {
		copy = malloc(len);
		if (!copy)
			return -RAFT_ENOMEM;
		memcpy(copy, data, len);
	}
	uint64_t index = r->first + r->n_ents;
	r->ents[r->n_ents++] = (struct raft_entry){ .index = index, .term = term, .type = type,
		                                    .data = copy, .len = len };
	if (r->started) {
		struct qout *o = raft_q_push(r, RAFT_OUT_APPEND);
		if (o) {
			o->ent_first = index;
			o->ent_n = 1;
			/* merge with the previous APPEND output when contiguous */
			if (r->q_len >= 2) {
				struct qout *p = &r->q[r->q_len - 2];
				if (r->q_len - 2 >= r->q_head && p->out.kind == RAFT_OUT_APPEND &&
				    p->ent_first + p->ent_n == index) {
					p->ent_n++;
					r->q_len--;
				}
			}
		}
	}
	if (type == RAFT_ENTRY_CONFIG)
		raft_conf_refresh(r);
	return 0;
}

static void free_ents(struct raft *r, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++)
		free((void *)r->ents[i].data);
}

/* Removes entries at index and after (never committed ones). */
void raft_log_truncate(struct raft *r, uint64_t index)
{
	if (index < r->first || index >= r->first + r->n_ents)
		return;
	size_t keep = (size_t)(index - r->first);
	free_ents(r, keep, r->n_ents);
	r->n_ents = keep;
	struct qout *o = raft_q_push(r, RAFT_OUT_TRUNCATE);
	if (o)
		o->out.index = index;
	raft_conf_refresh(r);
}

/* Drops the whole log; the next entry will have index new_first. */
void raft_log_clear(struct raft *r, uint64_t new_first)
{
	free_ents(r, 0, r->n_ents);
	r->n_ents = 0;
	r->first = new_first;
}

/* Drops entries below index (compaction). */
static void log_compact(struct raft *r, uint64_t index)
{
	if (index <= r->first)
		return;
	size_t drop = (size_t)(index - r->first);
	if (drop > r->n_ents)
		drop = r->n_ents;
	free_ents(r, 0, drop);
	memmove(r->ents, r->ents + drop, (r->n_ents - drop) * sizeof(r->ents[0]));
	r->n_ents -= drop;
	r->first += drop;
}

/* The latest configuration is the last CONFIG entry in the log, else the
 * snapshot's. */
void raft_conf_refresh(struct raft *r)
{
	for (size_t i = r->n_ents; i-- > 0;) {
		const struct raft_entry *e = &r->ents[i];
		if (e->type != RAFT_ENTRY_CONFIG)
			continue;
		if (e->index <= r->snap_index)
			break;
		if (raft_conf_decode(e->data, e->len, &r->conf) == 0) {
			r->conf_index = e->index;
			return;
		}
	}
	r->conf = r->snap_conf;
	r->conf_index = r->snap_index;
	/* a config entry below the snapshot but still in the trailing log is
	 * the one the snapshot recorded */
	for (size_t i = r->n_ents; i-- > 0;) {
		const struct raft_entry *e = &r->ents[i];
		if (e->type == RAFT_ENTRY_CONFIG && e->index <= r->snap_index) {
			r->conf_index = e->index;
			break;
		}
	}
}

/* The configuration in effect at index (for a snapshot taken there). */
static void conf_at(const struct raft *r, uint64_t index, struct raft_configuration *c)
{
	*c = r->snap_conf;
	for (size_t i = 0; i < r->n_ents && r->ents[i].index <= index; i++)
		if (r->ents[i].type == RAFT_ENTRY_CONFIG && r->ents[i].index > r->snap_index)
			raft_conf_decode(r->ents[i].data, r->ents[i].len, c);
}

/* ---- leader: progress and replication ---- */

struct progress *raft_prog(struct raft *r, const char *id)
{
	for (unsigned i = 0; i < r->n_prog; i++)
		if (strcmp(r->prog[i].id, id) == 0)
			return &r->prog[i];
	return NULL;
}

static void prog_reset(struct raft *r, struct progress *p)
{
	p->state = PROG_PROBE;
	p->next = raft_last_index(r) + 1;
	p->match = 0;
	p->inflight = 0;
	p->last_contact = NEVER;
	p->recent_active = false;
	p->acked_seq = 0;
	p->snap_sent = 0;
	p->probe_sent = 0;
	p->commit_sent = 0;
}

/* Rebuilds the progress table from the configuration, keeping what is known
 * about servers that stay. */
void raft_progress_sync(struct raft *r)
{
	struct progress old[RAFT_MAX_SERVERS];
	unsigned n_old = r->n_prog;
	memcpy(old, r->prog, sizeof(old));
	r->n_prog = 0;
	for (unsigned i = 0; i < r->conf.n; i++) {
		const struct raft_server *s = &r->conf.s[i];
		if (strcmp(s->id, r->opt.id) == 0)
			continue;
		struct progress *p = &r->prog[r->n_prog++];
		bool found = false;
		for (unsigned j = 0; j < n_old; j++) {
			if (strcmp(old[j].id, s->id) == 0) {
				*p = old[j];
				found = true;
				break;
			}
		}
		if (!found) {
			memset(p, 0, sizeof(*p));
			memcpy(p->id, s->id, sizeof(p->id));
			prog_reset(r, p);
		}
		memcpy(p->addr, s->addr, sizeof(p->addr));
		p->voter = s->voter;
	}
}

void raft_leader_init(struct raft *r, uint64_t now)
{
	r->n_prog = 0;
	raft_progress_sync(r);
	for (unsigned i = 0; i < r->n_prog; i++) {
		prog_reset(r, &r->prog[i]);
		/* treat everyone as active for the first check-quorum round */
		r->prog[i].recent_active = true;
	}
	(void)now;
}

static void send_snapshot(struct raft *r, uint64_t now, struct progress *p)
{
	struct raft_msg m = { .type = RAFT_MSG_SNAPSHOT, .snap_index = r->snap_index,
		              .snap_term = r->snap_term };
	snprintf(m.to, sizeof(m.to), "%s", p->id);
	p->state = PROG_SNAPSHOT;
	p->snap_sent = now;
	p->inflight = 0;
	raft_send(r, &m, p->addr);
}

/* Sends entries from p->next (or a heartbeat carrying the commit index and
 * the read sequence). */
void raft_send_append(struct raft *r, uint64_t now, struct progress *p, bool heartbeat)
{
	uint64_t last = raft_last_index(r), hb = r->opt.heartbeat_interval_ms;
	if (p->state == PROG_SNAPSHOT) {
		/* resend a snapshot that got no answer within two election timeouts */
		if (now - p->snap_sent >= 2ULL * r->opt.election_timeout_ms)
			send_snapshot(r, now, p);
		return;
	}
	/* pipelined AppendEntries that never got answers (lost on the way):
	 * fall back to probing from what is known to match */
	if (p->state == PROG_REPLICATE && p->inflight &&
	    now - p->probe_sent >= r->opt.election_timeout_ms) {
		p->state = PROG_PROBE;
		p->next = p->match + 1;
		p->inflight = 0;
		p->probe_sent = 0;
	}
	bool entries;
	if (p->state == PROG_PROBE)
		entries = !(p->inflight && now - p->probe_sent < hb);
	else
		entries = p->next <= last && p->inflight < r->opt.max_inflight;
	struct raft_msg m = { .type = RAFT_MSG_APPEND, .seq = r->seq };
	snprintf(m.to, sizeof(m.to), "%s", p->id);
	if (!entries) {
		if (!heartbeat)
			return;
		/* heartbeat: anchored at what the follower is known to have */
		uint64_t t;
		if (!raft_term_known(r, p->match, &t)) {
			send_snapshot(r, now, p);
			return;
		}
		m.prev_index = p->match;
		m.prev_term = t;
		m.commit = r->commit < p->match ? r->commit : p->match;
		if (m.commit > p->commit_sent)
			p->commit_sent = m.commit;
		raft_send(r, &m, p->addr);
		return;
	}
	do {
		uint64_t prev = p->next - 1, t;
		if ((p->next < r->first && p->next <= last) || !raft_term_known(r, prev, &t)) {
			send_snapshot(r, now, p);
			return;
		}
		uint64_t n = last - prev;
		if (n > r->opt.max_append_entries)
			n = r->opt.max_append_entries;
		m.prev_index = prev;
		m.prev_term = t;
		m.n_entries = (size_t)n;
		m.commit = r->commit;
		if (m.commit > p->commit_sent)   /* the follower takes min(commit, its last new entry) */
			p->commit_sent = m.commit < prev + n ? m.commit : prev + n;
		raft_send(r, &m, p->addr);
		if (p->state == PROG_PROBE) {
			p->probe_sent = now;
			p->inflight = 1;
			return;
		}
		if (p->inflight == 0)
			p->probe_sent = now;  /* REPLICATE: when the oldest unanswered one left */
		p->next += n;
		p->inflight++;
	} while (p->next <= last && p->inflight < r->opt.max_inflight);
}

void raft_broadcast(struct raft *r, uint64_t now, bool heartbeat)
{
	for (unsigned i = 0; i < r->n_prog; i++)
		raft_send_append(r, now, &r->prog[i], heartbeat);
}

static int cmp_u64_desc(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? 1 : x > y ? -1 : 0;
}

void raft_maybe_commit(struct raft *r, uint64_t now)
{
	uint64_t m[RAFT_MAX_SERVERS];
	unsigned n = 0;
	if (raft_is_voter(r, r->opt.id))
		m[n++] = raft_last_index(r);
	for (unsigned i = 0; i < r->n_prog; i++)
		if (r->prog[i].voter)
			m[n++] = r->prog[i].match;
	unsigned q = raft_quorum(r);
	if (n < q)
		return;
	qsort(m, n, sizeof(m[0]), cmp_u64_desc);
	uint64_t idx = m[q - 1], t;
	/* only entries of the current term commit by counting (§5.4.2) */
	if (idx <= r->commit || !raft_term_known(r, idx, &t) || t != r->term)
		return;
	r->commit = idx;
	raft_apply_committed(r, now);
	raft_reads_check(r);
	/* followers learn the new commit index now, not with the next
	 * heartbeat: what they serve (stale reads, blocking queries parked on
	 * them) moves within a round trip of the commit (etcd's bcastAppend) */
	for (unsigned i = 0; i < r->n_prog; i++)
		raft_tell_commit(r, now, &r->prog[i]);
}

void raft_tell_commit(struct raft *r, uint64_t now, struct progress *p)
{
	uint64_t known = r->commit < p->match ? r->commit : p->match;
	if (known > p->commit_sent)
		raft_send_append(r, now, p, true);
}

void raft_apply_committed(struct raft *r, uint64_t now)
{
	while (r->applied < r->commit) {
		uint64_t i = r->applied + 1;
		struct raft_entry *e = raft_ent(r, i);
		if (!e)
			break;
		struct qout *o = raft_q_push(r, RAFT_OUT_APPLY);
		if (!o)
			break;
		o->ent_first = i;
		r->applied = i;
	}
	/* a leader that removed itself hands over once that is committed */
	if (r->role == RAFT_LEADER && r->conf_index <= r->commit &&
	    !raft_is_voter(r, r->opt.id)) {
		raft_logf(r, 1, "removed ourself, transitioning to follower", NULL);
		raft_become_follower(r, now, r->term, NULL, NULL);
	}
}

/* ---- follower ---- */

static void reply_append(struct raft *r, const struct raft_msg *m, bool ok, uint64_t index)
{
	struct raft_msg resp = { .type = RAFT_MSG_APPEND_RESP, .success = ok, .index = index,
		                 .seq = m->seq, .prev_index = m->prev_index };
	snprintf(resp.to, sizeof(resp.to), "%s", m->from);
	raft_send(r, &resp, m->from_addr);
}

static void heard_from_leader(struct raft *r, uint64_t now, const struct raft_msg *m)
{
	if (r->role != RAFT_FOLLOWER)
		raft_become_follower(r, now, r->term, m->from, m->from_addr);
	snprintf(r->leader_id, sizeof(r->leader_id), "%s", m->from);
	snprintf(r->leader_addr, sizeof(r->leader_addr), "%s", m->from_addr);
	r->last_leader_contact = now;
	raft_reset_election(r, now);
}

void raft_on_append(struct raft *r, uint64_t now, const struct raft_msg *m)
{
	if (r->role == RAFT_LEADER)
		return;  /* two leaders in one term cannot happen; ignore garbage */
	heard_from_leader(r, now, m);
	uint64_t last = raft_last_index(r), t;
	if (m->prev_index > last) {
		reply_append(r, m, false, last);
		return;
	}
	if (m->prev_index >= r->commit && raft_term_known(r, m->prev_index, &t) &&
	    t != m->prev_term) {
		/* back off a whole term at a time */
		uint64_t hint = m->prev_index - 1;
		while (hint > r->commit && raft_term_at(r, hint) == t)
			hint--;
		reply_append(r, m, false, hint);
		return;
	}
	uint64_t end = m->prev_index + m->n_entries;
	for (size_t i = 0; i < m->n_entries; i++) {
		const struct raft_entry *e = &m->entries[i];
		if (e->index <= r->commit || e->index < r->first)
			continue;  /* committed here already: it matches (Log Matching) */
		if (e->index <= raft_last_index(r)) {
			if (raft_term_at(r, e->index) == e->term)
				continue;
			raft_log_truncate(r, e->index);
		}
		if (e->index != raft_last_index(r) + 1)
			break;  /* cannot happen after the checks above; be safe */
		if (raft_log_append(r, e->term, e->type, e->data, e->len))
			return;
	}
	uint64_t c = m->commit < end ? m->commit : end;
	if (c > raft_last_index(r))
		c = raft_last_index(r);
	if (c > r->commit) {
		r->commit = c;
		raft_apply_committed(r, now);
	}
	reply_append(r, m, true, end);
}

void raft_on_snapshot(struct raft *r, uint64_t now, const struct raft_msg *m)
{
	if (r->role == RAFT_LEADER)
		return;
	heard_from_leader(r, now, m);
	struct raft_msg resp = { .type = RAFT_MSG_SNAPSHOT_RESP, .success = true };
	snprintf(resp.to, sizeof(resp.to), "%s", m->from);
	if (m->snap_index <= r->commit) {
		resp.index = r->commit;
	} else if (raft_term_at(r, m->snap_index) == m->snap_term && m->snap_index >= r->first) {
		/* we have that entry: just commit up to it */
		r->commit = m->snap_index;
		raft_apply_committed(r, now);
		resp.index = m->snap_index;
	} else if (!m->snap_conf) {
		resp.success = false;
		resp.index = raft_last_index(r);
	} else {
		raft_log_clear(r, m->snap_index + 1);
		r->snap_index = m->snap_index;
		r->snap_term = m->snap_term;
		r->snap_conf = *m->snap_conf;
		r->commit = r->applied = m->snap_index;
		raft_conf_refresh(r);
		struct qout *o = raft_q_push(r, RAFT_OUT_INSTALL_SNAPSHOT);
		if (o) {
			o->out.msg = *m;
			o->out.index = m->snap_index;
			o->out.term = m->snap_term;
		}
		char idx[24];
		snprintf(idx, sizeof(idx), "%llu", (unsigned long long)m->snap_index);
		raft_logf(r, 1, "Installed remote snapshot", "index", idx, NULL);
		resp.index = m->snap_index;
	}
	raft_send(r, &resp, m->from_addr);
}

/* ---- leader: responses ---- */

static void check_transfer(struct raft *r, struct progress *p)
{
	if (r->transfer_to[0] && strcmp(r->transfer_to, p->id) == 0 &&
	    p->match == raft_last_index(r)) {
		struct raft_msg m = { .type = RAFT_MSG_TIMEOUT_NOW };
		snprintf(m.to, sizeof(m.to), "%s", p->id);
		raft_send(r, &m, p->addr);
	}
}

/* The leader's progress entry for the sender of a response, marked as heard
 * from; NULL when we are not the leader or it is not in the configuration. */
static struct progress *responder(struct raft *r, uint64_t now, const struct raft_msg *m)
{
	if (r->role != RAFT_LEADER)
		return NULL;
	struct progress *p = raft_prog(r, m->from);
	if (p) {
		p->last_contact = now;
		p->recent_active = true;
	}
	return p;
}

void raft_on_append_resp(struct raft *r, uint64_t now, const struct raft_msg *m)
{
	struct progress *p = responder(r, now, m);
	if (!p)
		return;
	if (m->seq > p->acked_seq) {
		p->acked_seq = m->seq;
		raft_reads_check(r);
	}
	if (m->success) {
		/* never believe more than we have sent */
		uint64_t idx = m->index > raft_last_index(r) ? raft_last_index(r) : m->index;
		/* only answers to AppendEntries that carried entries count against
		 * the pipeline: heartbeat answers must not hide a lost one */
		if (m->index > m->prev_index) {
			if (p->inflight)
				p->inflight--;
			if (p->state == PROG_REPLICATE)
				p->probe_sent = now;
		}
		if (idx > p->match) {
			p->match = idx;
			if (p->next <= p->match)
				p->next = p->match + 1;
			if (p->state == PROG_PROBE) {
				p->state = PROG_REPLICATE;
				p->inflight = 0;
			}
			raft_maybe_commit(r, now);
			/* a follower slower than the quorum hears of the commit
			 * it now holds at once too */
			raft_tell_commit(r, now, p);
			check_transfer(r, p);
		} else if (p->state == PROG_PROBE) {
			p->inflight = 0;
		}
		if (p->next <= raft_last_index(r))
			raft_send_append(r, now, p, false);
		return;
	}
	/* rejected: stale answers (for a prev below what is known to match)
	 * change nothing */
	if (m->prev_index < p->match || (p->state == PROG_PROBE && m->prev_index + 1 != p->next))
		return;
	uint64_t next = m->index + 1;
	if (next > m->prev_index)
		next = m->prev_index;  /* at least one step back */
	if (next <= p->match)
		next = p->match + 1;
	if (next < 1)
		next = 1;
	p->next = next;
	p->state = PROG_PROBE;
	p->inflight = 0;
	p->probe_sent = 0;
	raft_send_append(r, now, p, false);
}

void raft_on_snapshot_resp(struct raft *r, uint64_t now, const struct raft_msg *m)
{
	struct progress *p = responder(r, now, m);
	if (!p)
		return;
	p->state = PROG_PROBE;
	p->inflight = 0;
	p->probe_sent = 0;
	if (m->success && m->index > p->match)
		p->match = m->index > raft_last_index(r) ? raft_last_index(r) : m->index;
	p->next = p->match + 1;
	raft_maybe_commit(r, now);
	check_transfer(r, p);
	raft_send_append(r, now, p, false);
}

/* ---- snapshots ---- */

int raft_snapshot_done(struct raft *r, uint64_t index)
{
	uint64_t t;
	if (index > r->applied || index <= r->snap_index || !raft_term_known(r, index, &t))
		return -RAFT_EINVAL;
	conf_at(r, index, &r->snap_conf);
	r->snap_index = index;
	r->snap_term = t;
	if (index > r->opt.trailing_logs)
		log_compact(r, index - r->opt.trailing_logs + 1);
	raft_conf_refresh(r);
	return 0;
}

/* ---- reads ---- */

void raft_reads_check(struct raft *r)
{
	if (r->role != RAFT_LEADER || r->n_reads == 0 || r->commit < r->term_start)
		return;
	size_t done = 0;
	for (; done < r->n_reads; done++) {
		struct pending_read *rd = &r->reads[done];
		unsigned acks = raft_is_voter(r, r->opt.id) ? 1 : 0;
		for (unsigned i = 0; i < r->n_prog; i++)
			if (r->prog[i].voter && r->prog[i].acked_seq >= rd->seq)
				acks++;
		if (acks < raft_quorum(r))
			break;
		struct qout *o = raft_q_push(r, RAFT_OUT_READ);
		if (!o)
			break;
		o->out.req = rd->req;
		o->out.index = rd->index > r->term_start ? rd->index : r->term_start;
		o->out.ok = true;
	}
	memmove(r->reads, r->reads + done, (r->n_reads - done) * sizeof(r->reads[0]));
	r->n_reads -= done;
}

void raft_reads_fail(struct raft *r)
{
	for (size_t i = 0; i < r->n_reads; i++) {
		struct qout *o = raft_q_push(r, RAFT_OUT_READ);
		if (o)
			o->out.req = r->reads[i].req;
	}
	r->n_reads = 0;
}
