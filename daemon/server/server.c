/* server: the Raft node on the libuv loop — stored state in and out, the
 * core's outputs applied in the contract's order (persist, send, apply),
 * client requests (writes, reads in three modes, forwarding to the leader,
 * holding while there is no leader) and the server RPC endpoints. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log/log.h"
#include "raft/wire.h"
#include "server/server_internal.h"

#define RPC_HOLD_MS 7000            /* Consul's rpc_hold_timeout */
/* The core keeps its log in memory, so snapshots come by entry count or by
 * bytes applied, whichever first, and fewer entries stay behind than Consul's
 * 10240 (which lives on disk there). */
#define SNAPSHOT_THRESHOLD 8192               /* entries applied since the last snapshot */
#define SNAPSHOT_BYTES (64u * 1024u * 1024u)  /* or command bytes applied since then */
#define TRAILING_LOGS 1024
#define NO_LEADER "No cluster leader"
#define LOST "leadership lost while committing log"

uint64_t server_now(const struct cc_server *s)
{
	return uv_now(s->loop);
}

void server_handle_closed(struct cc_server *s)
{
	if (--s->open_handles == 0) {
		free(s->snap_data);
		free(s->members);
		free(s);
	}
}

static void on_handle_closed(uv_handle_t *h)
{
	server_handle_closed(h->data);
}

/* ---- requests ---- */

struct req *server_req_new(struct cc_server *s, enum req_kind kind)
{
	struct req *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->s = s;
	r->kind = kind;
	r->id = ++s->next_req_id;
	r->next = s->reqs;
	s->reqs = r;
	return r;
}

static void req_unlink(struct req *r)
{
	for (struct req **pp = &r->s->reqs; *pp; pp = &(*pp)->next) {
		if (*pp == r) {
			*pp = r->next;
			return;
		}
	}
}

/* Answers r with its err/result/index and frees it. */
void server_req_answer(struct req *r)
{
	req_unlink(r);
	const char *err = r->err[0] ? r->err : NULL;
	if (r->call) {
		uint8_t body[9];
		body[0] = r->result;
		for (int i = 0; i < 8; i++)
			body[1 + i] = (uint8_t)(r->index >> (56 - 8 * i));
		transport_rpc_reply(r->call, err, body, sizeof(body));
	} else if (r->write_cb) {
		r->write_cb(r->ud, err, r->result, r->index);
	} else if (r->ready_cb) {
		r->ready_cb(r->ud, err);
	} else if (r->done_cb) {
		r->done_cb(r->ud, err);
	}
	free(r->cmd);
	free(r);
}

static void req_fail(struct req *r, const char *err)
{
	snprintf(r->err, sizeof(r->err), "%s", err);
	server_req_answer(r);
}

static void arm_req_timer(struct cc_server *s);

/* Answers on the next loop turn (callers expect callbacks to come later). */
static void req_ready_later(struct req *r)
{
	r->kind = REQ_READY;
	uv_timer_start(&r->s->req_timer, NULL, 0, 0);
	arm_req_timer(r->s);
}

/* A failure found while submitting: answered on the next loop turn, since
 * submit also runs from inside the caller's request (an HTTP handler). */
static void req_fail_later(struct req *r, const char *err)
{
	snprintf(r->err, sizeof(r->err), "%s", err);
	req_ready_later(r);
}

/* A held request is tried again at retry_at (when a leader is known) and
 * fails with No cluster leader at hold_deadline. */
static void hold(struct req *r, uint64_t retry_in)
{
	r->kind = REQ_HOLD;
	r->retry_at = server_now(r->s) + retry_in;
	arm_req_timer(r->s);
}

static void submit(struct req *r);

static void on_remote_done(void *ud, const char *err, const uint8_t *body, size_t len)
{
	struct req *r = ud;
	struct cc_server *s = r->s;
	if (s->stopping) {
		req_fail(r, "rpc error: shutting down");
		return;
	}
	if (err) {
		/* The leader we knew is gone or changed: wait for the next one within
		 * the hold time. A write is retried only when it cannot have been
		 * applied (the leader said it is not the leader); after other errors
		 * it may have been, and a retry could apply it twice. */
		bool retry = (!r->is_write && !r->is_remove) || strcmp(err, NO_LEADER) == 0;
		if (retry && server_now(s) < r->hold_deadline) {
			hold(r, 50);
			return;
		}
		char e[200];
		snprintf(e, sizeof(e), "rpc error making call: %s", err);
		req_fail(r, strcmp(err, NO_LEADER) == 0 ? NO_LEADER : e);
		return;
	}
	uint64_t idx = 0;
	if (len >= 9)
		for (int i = 0; i < 8; i++)
			idx = idx << 8 | body[1 + i];
	if (r->is_write || r->is_remove) {
		r->result = len >= 1 && body[0];
		r->index = idx;
		server_req_answer(r);
		return;
	}
	/* a read index from the leader: wait until we have applied it */
	r->index = idx;
	r->kind = REQ_APPLIED;
	if (s->applied >= idx)
		req_ready_later(r);
}

static void forward(struct req *r)
{
	struct cc_server *s = r->s;
	const char *method = r->is_write ? "KVS.Apply" : r->is_remove ? "Raft.RemovePeer"
	                                                               : "KVS.ReadIndex";
	uint8_t mode = r->mode == CC_READ_CONSISTENT ? 'c' : 'd';
	const uint8_t *body = r->cmd;
	size_t len = r->cmd_len;
	if (!r->is_write && !r->is_remove) {
		body = &mode;
		len = 1;
	}
	uint64_t now = server_now(s);
	/* the leader holds a request for at most rpc_hold_timeout itself */
	uint32_t timeout = RPC_HOLD_MS + 1000;
	r->kind = REQ_REMOTE;
	if (transport_rpc(s->tr, raft_leader_addr(s->raft), method, body, len, timeout,
	                  on_remote_done, r)) {
		/* not sent (connect refused, backing off): try again shortly */
		if (now >= r->hold_deadline)
			req_fail_later(r, NO_LEADER);
		else
			hold(r, 50);
	}
}

/* Runs a request against the current leadership. */
static void submit(struct req *r)
{
	struct cc_server *s = r->s;
	if (raft_role(s->raft) == RAFT_LEADER) {
		if (r->is_write) {
			uint64_t idx, term;
			int rc = raft_propose(s->raft, server_now(s), r->cmd, r->cmd_len, &idx, &term);
			if (rc) {
				req_fail_later(r, rc == -RAFT_ETRANSFER ? "leadership transfer in progress"
				                                        : raft_strerror(rc));
				return;
			}
			r->kind = REQ_COMMIT;
			r->index = idx;
			r->term = term;
			server_drive(s);
		} else if (r->is_remove) {
			struct raft_configuration c = *raft_configuration(s->raft);
			const char *target = (const char *)r->cmd;
			int found = -1;
			for (unsigned i = 0; i < c.n; i++)
				if (strcmp(c.s[i].id, target) == 0 || strcmp(c.s[i].addr, target) == 0)
					found = (int)i;
			if (found < 0) {
				/* Consul's wording */
				char e[RAFT_ADDR_MAX + 64];
				snprintf(e, sizeof(e), "%s \"%s\" was not found in the Raft configuration",
				         strchr(target, ':') ? "address" : "id", target);
				req_fail_later(r, e);
				return;
			}
			uint64_t idx;
			int rc = raft_remove_server(s->raft, server_now(s), c.s[found].id, &idx);
			if (rc) {
				req_fail_later(r, raft_strerror(rc));
				return;
			}
			r->kind = REQ_COMMIT;
			r->index = idx;
			r->term = raft_term(s->raft);
			r->result = true;
			server_drive(s);
		} else if (r->mode == CC_READ_CONSISTENT) {
			r->kind = REQ_READ;
			raft_read_index(s->raft, server_now(s), r->id);
			server_drive(s);
		} else {
			r->index = s->applied;
			req_ready_later(r);
		}
		return;
	}
	if (raft_leader_addr(s->raft)[0]) {
		forward(r);
		return;
	}
	if (server_now(s) >= r->hold_deadline) {
		req_fail_later(r, NO_LEADER);
		return;
	}
	hold(r, 0);
}

static void on_req_timer(uv_timer_t *t)
{
	struct cc_server *s = t->data;
	uint64_t now = server_now(s);
	bool again = true;
	while (again) {
		again = false;
		for (struct req *r = s->reqs; r; r = r->next) {
			if (r->kind == REQ_READY) {
				server_req_answer(r);
				again = true;
				break;
			}
			if (r->kind == REQ_HOLD && r->tried != now &&
			    (now >= r->hold_deadline ||
			     (now >= r->retry_at && raft_leader_addr(s->raft)[0]))) {
				/* at most one try per request per pass: a failing try
				 * must not spin here while the clock stands still */
				r->tried = now;
				submit(r);
				again = true;
				break;
			}
		}
	}
	arm_req_timer(s);
}

static void arm_req_timer(struct cc_server *s)
{
	if (s->stopping)
		return;
	uint64_t now = server_now(s), next = UINT64_MAX;
	for (struct req *r = s->reqs; r; r = r->next) {
		if (r->kind == REQ_READY)
			next = now;
		else if (r->kind == REQ_HOLD && r->hold_deadline < next)
			next = r->hold_deadline;
		if (r->kind == REQ_HOLD && raft_leader_addr(s->raft)[0] && r->retry_at < next)
			next = r->retry_at > now ? r->retry_at : now + 1;
	}
	if (next != UINT64_MAX)
		uv_timer_start(&s->req_timer, on_req_timer, next > now ? next - now : 0, 0);
}

/* A leader appeared, or leadership changed: held requests go now, and a
 * lost leadership fails the writes it had not committed (as Consul does). */
static void on_leadership_change(struct cc_server *s, bool lost)
{
	for (struct req *r = s->reqs; r; r = r->next) {
		if (lost && (r->kind == REQ_COMMIT || r->kind == REQ_READ)) {
			snprintf(r->err, sizeof(r->err), "%s", r->kind == REQ_READ ? NO_LEADER : LOST);
			r->kind = REQ_READY;
		}
	}
	arm_req_timer(s);
}

void cc_server_kv_write(struct cc_server *s, const struct kv_cmd *cmd, cc_server_write_cb done,
                        void *ud)
{
	size_t need = kv_cmd_encode(cmd, NULL, 0);
	uint8_t *buf = malloc(need ? need : 1);
	if (!buf) {
		done(ud, "out of memory", false, 0);
		return;
	}
	kv_cmd_encode(cmd, buf, need);
	cc_server_apply(s, buf, need, done, ud);
}

void cc_server_apply(struct cc_server *s, uint8_t *cmd, size_t len, cc_server_write_cb done,
                     void *ud)
{
	struct req *r = server_req_new(s, REQ_HOLD);
	if (!r) {
		free(cmd);
		done(ud, "out of memory", false, 0);
		return;
	}
	r->cmd = cmd;
	r->cmd_len = len;
	r->is_write = true;
	r->write_cb = done;
	r->ud = ud;
	r->hold_deadline = server_now(s) + RPC_HOLD_MS;
	submit(r);
}

void cc_server_read_barrier(struct cc_server *s, enum cc_read_mode mode, cc_server_ready_cb done,
                            void *ud)
{
	struct req *r = server_req_new(s, REQ_HOLD);
	if (!r) {
		done(ud, "out of memory");
		return;
	}
	r->mode = mode;
	r->ready_cb = done;
	r->ud = ud;
	r->hold_deadline = server_now(s) + RPC_HOLD_MS;
	if (mode == CC_READ_STALE &&
	    (s->had_leader_contact || raft_role(s->raft) == RAFT_LEADER)) {
		req_ready_later(r);
		return;
	}
	submit(r);
}

void cc_server_remove_peer(struct cc_server *s, const char *id, const char *addr,
                           cc_server_done_cb done, void *ud)
{
	struct req *r = server_req_new(s, REQ_HOLD);
	const char *target = id && id[0] ? id : addr;
	if (!r || !(r->cmd = (uint8_t *)strdup(target ? target : ""))) {
		if (r) {
			req_unlink(r);
			free(r);
		}
		if (done)
			done(ud, "out of memory");
		return;
	}
	r->cmd_len = strlen(target) + 1;
	r->is_remove = true;
	r->done_cb = done;
	r->ud = ud;
	r->hold_deadline = server_now(s) + RPC_HOLD_MS;
	submit(r);
}

/* ---- RPC endpoints ---- */

void server_on_rpc(void *ud, struct tr_call *call, const char *method, const uint8_t *body,
                   size_t len)
{
	struct cc_server *s = ud;
	if (strcmp(method, "Status.Peers") == 0) {
		uint8_t buf[RAFT_MAX_SERVERS * 140];
		size_t n = raft_conf_encode(raft_configuration(s->raft), buf, sizeof(buf));
		transport_rpc_reply(call, NULL, buf, n <= sizeof(buf) ? n : 0);
		return;
	}
	if (strcmp(method, "KVS.Forward") == 0 && s->forward) {
		s->forward(s->forward_ud, call, body, len);
		return;
	}
	if (strcmp(method, "Operator.AutopilotHealth") == 0) {
		server_autopilot_rpc(s, call);
		return;
	}
	bool write = strcmp(method, "KVS.Apply") == 0;
	bool remove = strcmp(method, "Raft.RemovePeer") == 0;
	bool read = strcmp(method, "KVS.ReadIndex") == 0;
	if (!write && !remove && !read) {
		char e[128];
		snprintf(e, sizeof(e), "rpc: can't find method %.64s", method);
		transport_rpc_reply(call, e, NULL, 0);
		return;
	}
	if (raft_role(s->raft) != RAFT_LEADER) {
		transport_rpc_reply(call, NO_LEADER, NULL, 0);
		return;
	}
	if ((write && fsm_cmd_check(body, len)) || (read && len != 1) ||
	    (remove && (len == 0 || len > RAFT_ADDR_MAX || body[len - 1] != 0))) {
		transport_rpc_reply(call, "rpc error: malformed request", NULL, 0);
		return;
	}
	struct req *r = server_req_new(s, REQ_HOLD);
	if (!r || !(r->cmd = malloc(len ? len : 1))) {
		if (r) {
			req_unlink(r);
			free(r);
		}
		transport_rpc_reply(call, "out of memory", NULL, 0);
		return;
	}
	memcpy(r->cmd, body, len);
	r->cmd_len = len;
	r->call = call;
	r->is_write = write;
	r->is_remove = remove;
	r->mode = read && body[0] == 'c' ? CC_READ_CONSISTENT : CC_READ_DEFAULT;
	r->hold_deadline = server_now(s);   /* the caller holds, not us */
	submit(r);
}

/* ---- driving the core ---- */

static void log_raft(const struct raft_log *l)
{
	static const enum cc_log_level lv[] = { CC_LOG_DEBUG, CC_LOG_INFO, CC_LOG_WARN,
		                                CC_LOG_ERROR };
	const char *kv[2 * RAFT_LOG_KV + 1] = { 0 };
	for (unsigned i = 0; i < l->nkv; i++) {
		kv[2 * i] = l->key[i];
		kv[2 * i + 1] = l->val[i];
	}
	cc_log(lv[l->level & 3], MOD_RAFT, l->msg, kv[0], kv[1], kv[2], kv[3], kv[4], kv[5], kv[6],
	       kv[7], (const char *)NULL);
}

static void fatal_store(const char *what, const char *err)
{
	/* continuing after a failed fsync could acknowledge lost writes */
	CC_ERROR(MOD_RAFT, what, "error", err);
	_exit(1);
}

static void take_snapshot(struct cc_server *s)
{
	uint64_t idx = s->applied;
	uint8_t *data;
	size_t len;
	if (fsm_snapshot(s->fsm, &data, &len))
		return;
	uint64_t term = raft_term_at(s->raft, idx);
	if (raft_snapshot_done(s->raft, idx)) {
		free(data);
		return;
	}
	char err[256];
	if (store_snapshot_save(s->store, idx, term, raft_snapshot_configuration(s->raft), data, len,
	                        err, sizeof(err)))
		fatal_store("failed to save snapshot", err);
	free(s->snap_data);
	s->snap_data = data;
	s->snap_len = len;
	s->snap_index = idx;
	s->applied_bytes = 0;
	if (store_begin(s->store, err, sizeof(err)) == 0) {
		store_delete_prefix(s->store, raft_first_index(s->raft));
		if (store_commit(s->store, err, sizeof(err)))
			fatal_store("failed to compact the log", err);
	}
	char i[24];
	snprintf(i, sizeof(i), "%llu", (unsigned long long)idx);
	CC_INFO(MOD_RAFT, "snapshot complete up to", "index", i);
}

static void on_state(struct cc_server *s, const struct raft_out *o)
{
	bool was_leader = s->role == RAFT_LEADER, is_leader = o->role == RAFT_LEADER;
	bool leader_changed = strcmp(s->leader_id, o->leader_id) != 0;
	if (o->role != s->role)
		server_metrics_role(s->role, o->role);
	s->role = o->role;
	snprintf(s->leader_id, sizeof(s->leader_id), "%s", o->leader_id);
	if (o->leader_id[0])
		s->had_leader_contact = true;
	if (is_leader && !was_leader) {
		CC_INFO(MOD_SERVER, "cluster leadership acquired");
		cluster_on_leadership(s, true);
	}
	if (was_leader && !is_leader) {
		CC_INFO(MOD_SERVER, "cluster leadership lost");
		cluster_on_leadership(s, false);
	}
	if (leader_changed && o->leader_id[0])
		CC_INFO(MOD_SERVER, "New leader elected", "payload",
		        cc_server_member_name(s, o->leader_id));
	if (leader_changed || was_leader != is_leader)
		on_leadership_change(s, was_leader && !is_leader);
}

static void on_apply(struct cc_server *s, const struct raft_entry *e)
{
	bool result = false;
	char err[160] = "";
	s->applied = e->index;
	s->applied_bytes += e->len;
	if (e->type == RAFT_ENTRY_COMMAND) {
		s->kv_changed = true;
		int rc = fsm_apply(s->fsm, e->index, e->data, e->len, &result, err, sizeof(err));
		if (rc == -ENOMEM)
			fatal_store("out of memory", "applying a committed command");
		if (rc)
			CC_WARN(MOD_SERVER, "skipping a malformed command in the log");
	}
	for (struct req *r = s->reqs; r; r = r->next) {
		if (r->kind == REQ_COMMIT && r->index == e->index) {
			if (r->term != e->term)
				snprintf(r->err, sizeof(r->err), "%s", LOST);
			else if (err[0])
				snprintf(r->err, sizeof(r->err), "%s", err);
			else if (!r->is_remove)
				r->result = result;
			r->kind = REQ_READY;
		} else if (r->kind == REQ_APPLIED && r->index <= e->index) {
			r->kind = REQ_READY;
		}
	}
}

static void on_read(struct cc_server *s, const struct raft_out *o)
{
	for (struct req *r = s->reqs; r; r = r->next) {
		if (r->kind != REQ_READ || r->id != o->req)
			continue;
		if (!o->ok) {
			snprintf(r->err, sizeof(r->err), "%s", NO_LEADER);
			r->kind = REQ_READY;
		} else {
			r->index = o->index;
			r->kind = s->applied >= o->index || r->call ? REQ_READY : REQ_APPLIED;
		}
		return;
	}
}

static void on_timer(uv_timer_t *t)
{
	struct cc_server *s = t->data;
	raft_tick(s->raft, server_now(s));
	server_drive(s);
}

/* What a drained batch does once it is durable, kept in order. */
struct pending_op {
	enum raft_out_kind kind;        /* SEND, APPLY, READ or STATE */
	char addr[RAFT_ADDR_MAX];
	uint8_t *frame;                 /* SEND: encoded; APPLY: entry data */
	size_t len;
	struct raft_entry e;            /* APPLY */
	struct raft_out out;            /* READ, STATE */
	char leader_id[RAFT_ID_MAX], leader_addr[RAFT_ADDR_MAX];
};

static struct pending_op *op_push(struct cc_server *s, enum raft_out_kind kind)
{
	if (s->nops == s->capops) {
		size_t cap = s->capops ? s->capops * 2 : 64;
		struct pending_op *x = realloc(s->ops, cap * sizeof(*x));
		if (!x)
			fatal_store("out of memory", "queueing raft outputs");
		s->ops = x;
		s->capops = cap;
	}
	struct pending_op *op = &s->ops[s->nops++];
	memset(op, 0, sizeof(*op));
	op->kind = kind;
	return op;
}

static void txn_begin(struct cc_server *s)
{
	char err[256];
	if (s->txn_open)
		return;
	if (store_begin(s->store, err, sizeof(err)))
		fatal_store("failed to write the raft log", err);
	s->txn_open = true;
}

/* Makes the batch durable (one fsync for everything drained since the last
 * flush), then sends, applies and answers, in the order the core gave. */
static void flush(struct cc_server *s, bool may_snapshot)
{
	char err[256];
	if (s->txn_open) {
		s->txn_open = false;
		if (store_commit(s->store, err, sizeof(err)))
			fatal_store("failed to write the raft log", err);
	}
	for (size_t i = 0; i < s->nops; i++) {
		struct pending_op *op = &s->ops[i];
		switch (op->kind) {
		case RAFT_OUT_SEND:
			transport_send_frame(s->tr, op->addr, op->frame, op->len);
			op->frame = NULL;
			break;
		case RAFT_OUT_APPLY:
			op->e.data = op->frame;
			on_apply(s, &op->e);
			break;
		case RAFT_OUT_READ:
			on_read(s, &op->out);
			break;
		case RAFT_OUT_STATE:
			op->out.leader_id = op->leader_id;
			op->out.leader_addr = op->leader_addr;
			on_state(s, &op->out);
			break;
		default:
			break;
		}
		free(op->frame);
	}
	s->nops = 0;
	if (may_snapshot &&
	    (s->applied >= raft_snapshot_index(s->raft) + s->snapshot_threshold ||
	     s->applied_bytes >= SNAPSHOT_BYTES))
		take_snapshot(s);
	arm_req_timer(s);
	if (s->kv_changed && s->kv_watch) {
		s->kv_changed = false;
		s->kv_watch(s->kv_watch_ud);
	}
}

static void on_prepare(uv_prepare_t *p)
{
	struct cc_server *s = p->data;
	uv_prepare_stop(p);
	if (!s->stopping)
		flush(s, true);
}

static void install_snapshot(struct cc_server *s, const struct raft_out *x)
{
	char err[256];
	flush(s, false);   /* what came before is applied first */
	if (fsm_restore(s->fsm, x->msg.data, x->msg.len))
		fatal_store("failed to restore a received snapshot", "bad snapshot data");
	if (store_snapshot_save(s->store, x->msg.snap_index, x->msg.snap_term, x->msg.snap_conf,
	                        x->msg.data, x->msg.len, err, sizeof(err)))
		fatal_store("failed to save snapshot", err);
	free(s->snap_data);
	s->snap_data = malloc(x->msg.len ? x->msg.len : 1);
	if (s->snap_data && x->msg.len)
		memcpy(s->snap_data, x->msg.data, x->msg.len);
	s->snap_len = s->snap_data ? x->msg.len : 0;
	s->snap_index = x->msg.snap_index;
	s->applied = x->msg.snap_index;
	s->kv_changed = true;
	for (struct req *r = s->reqs; r; r = r->next)
		if (r->kind == REQ_APPLIED && r->index <= s->applied)
			r->kind = REQ_READY;
	txn_begin(s);
	if (store_truncate(s->store, 1))
		fatal_store("failed to write the raft log", "truncate after a snapshot");
}

/* Drains the core after an input. Durable writes go into the open batch;
 * what must wait for them (sends, applies, answers) is queued and runs from a
 * prepare handle once per loop iteration, so several inputs share one fsync. */
void server_drive(struct cc_server *s)
{
	if (s->in_drive || s->stopping)
		return;
	s->in_drive = true;
	struct raft_out x;
	while (raft_next_output(s->raft, &x)) {
		int rc = 0;
		struct pending_op *op;
		switch (x.kind) {
		case RAFT_OUT_HARD_STATE:
			txn_begin(s);
			rc = store_set_hard_state(s->store, x.term, x.vote);
			break;
		case RAFT_OUT_TRUNCATE:
			txn_begin(s);
			rc = store_truncate(s->store, x.index);
			break;
		case RAFT_OUT_APPEND:
			txn_begin(s);
			rc = store_append(s->store, x.entries, x.n_entries);
			break;
		case RAFT_OUT_INSTALL_SNAPSHOT:
			install_snapshot(s, &x);
			break;
		case RAFT_OUT_SEND: {
			struct raft_msg m = x.msg;
			if (m.type == RAFT_MSG_SNAPSHOT) {
				m.data = s->snap_data;
				m.len = s->snap_len;
			}
			op = op_push(s, RAFT_OUT_SEND);
			snprintf(op->addr, sizeof(op->addr), "%s", x.addr);
			if (raft_wire_encode_msg(&m, &op->frame, &op->len)) {
				/* the core produced what the codec refuses: a bug */
				CC_ERROR(MOD_RAFT, "failed to encode a message, dropped it", "peer",
				         x.addr);
				s->nops--;
			}
			break;
		}
		case RAFT_OUT_APPLY:
			op = op_push(s, RAFT_OUT_APPLY);
			op->e = *x.entry;
			op->frame = malloc(x.entry->len ? x.entry->len : 1);
			if (!op->frame)
				fatal_store("out of memory", "queueing an entry to apply");
			if (x.entry->len)
				memcpy(op->frame, x.entry->data, x.entry->len);
			break;
		case RAFT_OUT_READ:
			op = op_push(s, RAFT_OUT_READ);
			op->out = x;
			break;
		case RAFT_OUT_STATE:
			op = op_push(s, RAFT_OUT_STATE);
			op->out = x;
			snprintf(op->leader_id, sizeof(op->leader_id), "%s", x.leader_id);
			snprintf(op->leader_addr, sizeof(op->leader_addr), "%s", x.leader_addr);
			break;
		case RAFT_OUT_LOG:
			log_raft(x.log);
			break;
		}
		if (rc) {
			char err[128];
			snprintf(err, sizeof(err), "%s", strerror(-rc));
			fatal_store("failed to write the raft log", err);
		}
	}
	if (s->txn_open || s->nops)
		uv_prepare_start(&s->prep, on_prepare);
	uint64_t d = raft_next_deadline(s->raft), now = server_now(s);
	uv_timer_start(&s->timer, on_timer, d > now ? d - now : 0, 0);
	s->in_drive = false;
}

/* ---- transport callbacks ---- */

static void on_raft_msg(void *ud, const struct raft_msg *m)
{
	struct cc_server *s = ud;
	if (s->stopping)
		return;
	if (m->type == RAFT_MSG_SNAPSHOT) {
		/* the core would drop the log for it: check the state machine
		 * bytes first, so a bad snapshot cannot cost us anything */
		struct fsm *probe = fsm_new();
		int rc = probe ? fsm_restore(probe, m->data, m->len) : -ENOMEM;
		fsm_free(probe);
		if (rc) {
			CC_WARN(MOD_RAFT, "ignoring a snapshot whose data does not decode", "from",
			        m->from_addr);
			return;
		}
	}
	raft_step(s->raft, server_now(s), m);
	server_drive(s);
}

static void on_peer_closed(void *ud, const char *id, const char *addr)
{
	struct cc_server *s = ud;
	if (s->stopping)
		return;
	const char *lid = raft_leader_id(s->raft);
	if (!lid[0])
		return;
	if ((id[0] && strcmp(id, lid) == 0) ||
	    (addr[0] && strcmp(addr, raft_leader_addr(s->raft)) == 0)) {
		raft_peer_lost(s->raft, server_now(s), lid);
		server_drive(s);
	}
}

/* ---- start / stop ---- */

struct restore_ctx {
	struct raft *raft;
	int rc;
};

static int restore_entry(void *ud, const struct raft_entry *e)
{
	struct restore_ctx *c = ud;
	c->rc = raft_restore_entry(c->raft, e);
	return c->rc;
}

static int load_state(struct cc_server *s, char *err, size_t errlen)
{
	uint64_t term;
	char vote[RAFT_ID_MAX];
	int rc = store_hard_state(s->store, &term, vote);
	if (rc) {
		snprintf(err, errlen, "reading the raft stable store: %s", strerror(-rc));
		return rc;
	}
	raft_restore_hard_state(s->raft, term, vote);
	struct store_snapshot snap;
	rc = store_snapshot_latest(s->store, &snap, err, errlen);
	uint64_t from = 1;
	if (rc == 0) {
		if (fsm_restore(s->fsm, snap.data, snap.len)) {
			snprintf(err, errlen, "snapshot %llu: the state machine data does not decode",
			         (unsigned long long)snap.index);
			store_snapshot_release(&snap);
			return -EINVAL;
		}
		raft_restore_snapshot(s->raft, snap.index, snap.term, &snap.conf);
		s->snap_data = snap.data;
		s->snap_len = snap.len;
		s->snap_index = snap.index;
		snap.data = NULL;
		store_snapshot_release(&snap);
	} else if (rc != -ENOENT) {
		return rc;
	}
	uint64_t first, last;
	if (store_log_range(s->store, &first, &last) == 0 && first)
		from = first;
	struct restore_ctx ctx = { .raft = s->raft };
	rc = store_log_walk(s->store, from, restore_entry, &ctx, err, errlen);
	if (rc) {
		if (ctx.rc)
			snprintf(err, errlen, "raft log: entries are not contiguous after index %llu",
			         (unsigned long long)raft_last_index(s->raft));
		return rc;
	}
	return 0;
}

int cc_server_start(struct cc_server **out, uv_loop_t *loop, const struct cc_config *cfg,
                    const char *node_id, char *err, size_t errlen)
{
	struct cc_server *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->loop = loop;
	s->cfg = cfg;
	s->expect = cfg->bootstrap_expect;
	snprintf(s->node_id, sizeof(s->node_id), "%s", node_id);
	snprintf(s->addr, sizeof(s->addr), "%s:%d", cfg->advertise_addr, cfg->ports.server);
	int m = cfg->raft_multiplier > 0 ? cfg->raft_multiplier : 5;
	s->election_ms = 100u * (unsigned)m;
	s->snapshot_threshold = cfg->raft_snapshot_threshold > 0
	                                ? (uint64_t)cfg->raft_snapshot_threshold : SNAPSHOT_THRESHOLD;
	struct raft_options opt = { .election_timeout_ms = (uint32_t)s->election_ms,
		                    .heartbeat_interval_ms = (uint32_t)s->election_ms / 5,
		                    .trailing_logs = cfg->raft_trailing_logs > 0
		                                             ? (uint64_t)cfg->raft_trailing_logs
		                                             : TRAILING_LOGS,
		                    .failover_jitter_ms = 20,
		                    .seed = uv_hrtime() ^ (uint64_t)(uintptr_t)s };
	snprintf(opt.id, sizeof(opt.id), "%s", node_id);
	snprintf(opt.addr, sizeof(opt.addr), "%s", s->addr);
	s->raft = raft_new(&opt);
	s->fsm = fsm_new();
	int rc = -ENOMEM;
	if (!s->raft || !s->fsm) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	rc = store_open(cfg->data_dir, &s->store, err, errlen);
	if (rc)
		goto fail;
	rc = load_state(s, err, errlen);
	if (rc)
		goto fail;
	struct transport_handlers h = { .raft_msg = on_raft_msg, .peer_closed = on_peer_closed,
		                        .rpc_request = server_on_rpc, .ud = s,
		                        .log_module = MOD_RAFT };
	rc = transport_start(&s->tr, loop, cfg->bind_addr, (uint16_t)cfg->ports.server, &h, err,
	                     errlen);
	if (rc)
		goto fail;
	uv_timer_init(loop, &s->timer);
	uv_timer_init(loop, &s->req_timer);
	uv_timer_init(loop, &s->cluster_timer);
	uv_prepare_init(loop, &s->prep);
	s->timer.data = s->req_timer.data = s->cluster_timer.data = s->prep.data = s;
	s->open_handles = 4;
	raft_start(s->raft, server_now(s));
	/* bootstrap: true on a fresh data dir: a one-server configuration */
	if (cfg->bootstrap && !store_has_state(s->store)) {
		struct raft_configuration c = { .n = 1 };
		snprintf(c.s[0].id, sizeof(c.s[0].id), "%s", node_id);
		snprintf(c.s[0].addr, sizeof(c.s[0].addr), "%s", s->addr);
		c.s[0].voter = true;
		raft_bootstrap(s->raft, server_now(s), &c);
	}
	server_drive(s);
	cluster_tick(s);
	*out = s;
	return 0;
fail:
	if (s->store)
		store_close(s->store);
	raft_free(s->raft);
	fsm_free(s->fsm);
	free(s->snap_data);
	free(s->members);
	free(s);
	return rc;
}

void cc_server_stop(struct cc_server *s)
{
	if (!s || s->stopping)
		return;
	s->stopping = true;
	/* first the transport: it fails the RPCs in flight, whose callbacks
	 * answer their requests; then the rest */
	transport_stop(s->tr);
	s->tr = NULL;
	while (s->reqs) {
		struct req *r = s->reqs;
		snprintf(r->err, sizeof(r->err), "rpc error: shutting down");
		server_req_answer(r);
	}
	cluster_stop(s);
	/* nothing of an unflushed batch was sent or answered: dropping it is safe */
	if (s->txn_open)
		store_abort(s->store);
	for (size_t i = 0; i < s->nops; i++)
		free(s->ops[i].frame);
	free(s->ops);
	raft_free(s->raft);
	s->raft = NULL;
	store_close(s->store);
	fsm_free(s->fsm);
	uv_close((uv_handle_t *)&s->timer, on_handle_closed);
	uv_close((uv_handle_t *)&s->req_timer, on_handle_closed);
	uv_close((uv_handle_t *)&s->cluster_timer, on_handle_closed);
	uv_close((uv_handle_t *)&s->prep, on_handle_closed);
}

/* ---- queries ---- */

const char *cc_server_leader(const struct cc_server *s)
{
	return raft_leader_addr(s->raft);
}

const struct raft_configuration *cc_server_configuration(const struct cc_server *s)
{
	return raft_configuration(s->raft);
}

uint64_t cc_server_configuration_index(const struct cc_server *s)
{
	return raft_configuration_index(s->raft);
}

bool cc_server_is_leader(const struct cc_server *s)
{
	return raft_role(s->raft) == RAFT_LEADER;
}

bool cc_server_known_leader(const struct cc_server *s)
{
	return raft_leader_id(s->raft)[0] != 0;
}

uint64_t cc_server_last_contact_ms(const struct cc_server *s)
{
	uint64_t c = raft_last_contact(s->raft, server_now(s));
	return c == UINT64_MAX ? 0 : c;
}

void cc_server_stats(const struct cc_server *s, uint64_t *term, uint64_t *commit,
                     uint64_t *applied, uint64_t *last_index, const char **state)
{
	*term = raft_term(s->raft);
	*commit = raft_commit_index(s->raft);
	*applied = raft_applied_index(s->raft);
	*last_index = raft_last_index(s->raft);
	*state = raft_role_name(raft_role(s->raft));
}

void cc_server_set_kv_watch(struct cc_server *s, void (*fn)(void *ud), void *ud)
{
	s->kv_watch = fn;
	s->kv_watch_ud = ud;
}

void cc_server_set_forward(struct cc_server *s,
                           void (*fn)(void *ud, struct tr_call *call, const uint8_t *body,
                                      size_t len),
                           void *ud)
{
	s->forward = fn;
	s->forward_ud = ud;
}

const struct kv *cc_server_kv(const struct cc_server *s)
{
	return s->fsm->kv;
}

const struct catalog *cc_server_catalog(const struct cc_server *s)
{
	return s->fsm->catalog;
}
