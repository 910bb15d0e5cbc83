/* What every Raft-backed read endpoint shares (KV, catalog, health): the
 * query parameters of Consul's read modes and blocking queries, the query
 * meta headers, and the parked blocking queries, woken when the server
 * applied commands that moved the index their answer depends on. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent_internal.h"
#include "config/config.h"

#define WAIT_DEFAULT_MS (5u * 60u * 1000u)   /* Consul's default_query_time */

bool agent_query_flag(const struct cc_http_req *req, const char *key)
{
	const char *v = cc_http_query(req, key);
	return v && strcmp(v, "false") != 0 && strcmp(v, "0") != 0;
}

int agent_parse_u64(const char *s, uint64_t *out)
{
	char *end;
	if (!s || !*s || *s == '-')
		return -EINVAL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (*end || errno)
		return -EINVAL;
	*out = v;
	return 0;
}

int agent_read_mode(const struct cc_http_req *req, enum cc_read_mode *mode,
                    struct cc_http_resp *resp)
{
	bool stale = cc_http_query(req, "stale") || cc_http_query(req, "max_stale");
	bool consistent = cc_http_query(req, "consistent") != NULL;
	if (stale && consistent) {
		cc_http_error(resp, 400, "Cannot specify ?stale with ?consistent, conflicting semantics.");
		return -1;
	}
	*mode = stale ? CC_READ_STALE : consistent ? CC_READ_CONSISTENT : CC_READ_DEFAULT;
	return 0;
}

int agent_blocking_parse(const struct cc_http_req *req, bool *blocking, uint64_t *index,
                         uint64_t *wait_ms, struct cc_http_resp *resp)
{
	const char *idx = cc_http_query(req, "index"), *wait = cc_http_query(req, "wait");
	*blocking = false;
	*index = 0;
	*wait_ms = 0;
	if (!idx || strcmp(req->method, "GET") != 0)
		return 0;
	if (agent_parse_u64(idx, index)) {
		cc_http_error(resp, 400, "Invalid index");
		return -1;
	}
	*blocking = *index > 0;
	*wait_ms = WAIT_DEFAULT_MS;
	if (wait) {
		int64_t ns;
		const char *why;
		if (cc_duration_parse(wait, &ns, &why) || ns < 0) {
			cc_http_error(resp, 400, "Invalid wait time");
			return -1;
		}
		*wait_ms = (uint64_t)(ns / 1000000);
	}
	if (*wait_ms > AGENT_WAIT_MAX_MS)
		*wait_ms = AGENT_WAIT_MAX_MS;
	return 0;
}

uint64_t agent_blocking_deadline(struct cc_agent *a, uint64_t wait_ms)
{
	/* Consul adds up to wait/16 of jitter so that watchers spread out */
	return uv_now(&a->loop) + wait_ms + (wait_ms >= 16 ? (uint64_t)rand() % (wait_ms / 16) : 0);
}

void agent_query_meta(const struct cc_server *s, struct cc_http_resp *resp, uint64_t index)
{
	char v[32];
	snprintf(v, sizeof(v), "%" PRIu64, index ? index : 1);
	cc_http_header(resp, "X-Consul-Index", v);
	cc_http_header(resp, "X-Consul-KnownLeader", cc_server_known_leader(s) ? "true" : "false");
	snprintf(v, sizeof(v), "%" PRIu64, cc_server_last_contact_ms(s));
	cc_http_header(resp, "X-Consul-LastContact", v);
}

/* ---- parked blocking queries ---- */

static void arm_watch_timer(struct cc_agent *a);

void agent_watch_park(struct cc_agent *a, struct agent_watch *w)
{
	w->next = a->watchers;
	a->watchers = w;
	arm_watch_timer(a);
}

/* Answers the parked queries whose index moved or whose time is up (all of
 * them with force): their ready callback runs with the deadline cleared, so
 * that they answer with what is there. */
static void wake_watchers(struct cc_agent *a, bool force)
{
	uint64_t now = uv_now(&a->loop);
	struct agent_watch *keep = NULL, *due = NULL, *w;
	while ((w = a->watchers)) {
		a->watchers = w->next;
		if (force || now >= w->deadline || w->current(w->ud) > w->index) {
			w->next = due;
			due = w;
		} else {
			w->next = keep;
			keep = w;
		}
	}
	a->watchers = keep;
	while ((w = due)) {
		due = w->next;
		w->deadline = 0;
		w->ready(w->ud, NULL);
	}
	arm_watch_timer(a);
}

static void on_watch_timer(uv_timer_t *t)
{
	wake_watchers(t->data, false);
}

static void arm_watch_timer(struct cc_agent *a)
{
	if (!a->have_watch_timer)
		return;
	uint64_t next = UINT64_MAX, now = uv_now(&a->loop);
	for (struct agent_watch *w = a->watchers; w; w = w->next)
		if (w->deadline < next)
			next = w->deadline;
	if (next == UINT64_MAX)
		uv_timer_stop(&a->watch_timer);
	else
		uv_timer_start(&a->watch_timer, on_watch_timer, next > now ? next - now : 0, 0);
}

static void on_state_changed(void *ud)
{
	wake_watchers(ud, false);
}

void agent_kv_watch_start(struct cc_agent *a)
{
	uv_timer_init(&a->loop, &a->watch_timer);
	a->watch_timer.data = a;
	a->have_watch_timer = true;
	if (a->server)
		cc_server_set_kv_watch(a->server, on_state_changed, a);
}

void agent_watch_wake(struct cc_agent *a)
{
	wake_watchers(a, false);
}

void agent_kv_watch_stop(struct cc_agent *a)
{
	if (!a->have_watch_timer)
		return;
	wake_watchers(a, true);
	a->have_watch_timer = false;
	uv_close((uv_handle_t *)&a->watch_timer, NULL);
}

struct agent_op *agent_op_defer(struct cc_agent *a, const struct cc_http_req *req,
                                struct cc_http_resp *resp)
{
	struct agent_op *op = calloc(1, sizeof(*op));
	if (!op) {
		cc_http_error(resp, 500, "out of memory");
		return NULL;
	}
	op->a = a;
	op->pretty = cc_http_query(req, "pretty") != NULL;
	op->p = cc_http_defer(req);
	return op;
}

void agent_op_finish(struct agent_op *op, struct cc_http_resp *resp)
{
	agent_answer(op->p, op->call, resp);
	free(op);
}
