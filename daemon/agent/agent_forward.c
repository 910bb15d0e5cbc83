/* Client agents have no Raft: they forward KV, catalog and health requests
 * to a server of their datacenter over server RPC (method KVS.Forward), as
 * Consul clients forward their RPCs. The first byte of a request says what it
 * is: FORWARD_VERSION a KV request, FORWARD_CATALOG a catalog/health one,
 * FORWARD_STATUS /v1/status/leader, peers or the Raft configuration,
 * FORWARD_AUTOPILOT the /v1/operator/autopilot endpoints. The
 * server runs the request as if it had come over its own HTTP API and sends
 * the answer (status, content type, query meta headers, body)
 * back; the client relays it. Both byte layouts are bounds-checked: a server
 * refuses a malformed request, a client reports a malformed answer. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent_internal.h"
#include "catalog/catalog.h"
#include "fsm/autopilot.h"
#include "log/log.h"

#define FORWARD_VERSION 1
#define FORWARD_CATALOG 2
#define FORWARD_STATUS 4   /* then one byte each: what (AGENT_STATUS_*), pretty?, mode */
/* then one byte each: what (AGENT_AUTOPILOT_*), pretty?, mode; for
 * SET_CONFIG the length-prefixed autopilot command (nothing else) */
#define FORWARD_AUTOPILOT 5
#define FORWARD_AUTOPILOT_CMD_MAX (64u + 2u * AUTOPILOT_TAG_MAX)   /* > any valid command */
#define FORWARD_TIMEOUT_MS 10000   /* the server holds up to 7 s for a leader */
#define NO_SERVERS "No known Consul servers"

/* ---- bytes ---- */

struct wbuf {
	uint8_t *p;
	size_t len, cap;
	bool oom;
};

static void put(struct wbuf *w, const void *src, size_t n)
{
	if (w->oom || n == 0)
		return;
	if (w->len + n > w->cap) {
		size_t cap = w->cap ? w->cap : 256;
		while (cap < w->len + n)
			cap *= 2;
		uint8_t *x = realloc(w->p, cap);
		if (!x) {
			w->oom = true;
			return;
		}
		w->p = x;
		w->cap = cap;
	}
	memcpy(w->p + w->len, src, n);
	w->len += n;
}

static void put_u64(struct wbuf *w, uint64_t v)
{
	uint8_t b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (56 - 8 * i));
	put(w, b, 8);
}

static void put_bytes(struct wbuf *w, const void *s, size_t n)
{
	put_u64(w, n);
	put(w, s, n);
}

struct rbuf {
	const uint8_t *p;
	size_t len, off;
	bool bad;
};

static uint64_t get_u64(struct rbuf *r)
{
	if (r->bad || r->len - r->off < 8) {
		r->bad = true;
		return 0;
	}
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | r->p[r->off + i];
	r->off += 8;
	return v;
}

/* A length-prefixed field; *n gets its length (at most max). */
static const uint8_t *get_bytes(struct rbuf *r, size_t max, size_t *n)
{
	uint64_t l = get_u64(r);
	if (r->bad || l > max || l > r->len - r->off) {
		r->bad = true;
		return NULL;
	}
	const uint8_t *p = r->p + r->off;
	r->off += l;
	*n = (size_t)l;
	return p;
}

static char *get_str(struct rbuf *r, size_t max)
{
	size_t n;
	const uint8_t *p = get_bytes(r, max, &n);
	if (!p || memchr(p, 0, n)) {
		r->bad = true;
		return NULL;
	}
	char *s = malloc(n + 1);
	if (!s) {
		r->bad = true;
		return NULL;
	}
	memcpy(s, p, n);
	s[n] = 0;
	return s;
}

enum { F_RECURSE = 1, F_KEYS = 2, F_RAW = 4, F_PRETTY = 8, F_CAS = 16, F_BLOCKING = 32 };

static int encode_params(const struct kv_params *p, struct wbuf *w)
{
	uint8_t v = FORWARD_VERSION;
	put(w, &v, 1);
	put_bytes(w, p->method, strlen(p->method));
	put_u64(w, (p->recurse ? F_RECURSE : 0) | (p->keys ? F_KEYS : 0) | (p->raw ? F_RAW : 0) |
	               (p->pretty ? F_PRETTY : 0) | (p->has_cas ? F_CAS : 0) |
	               (p->blocking ? F_BLOCKING : 0));
	put_u64(w, p->index);
	put_u64(w, p->wait_ms);
	put_u64(w, (uint64_t)p->mode);
	put_u64(w, p->cas);
	put_u64(w, p->flags);
	put_bytes(w, p->key, strlen(p->key));
	put_bytes(w, p->separator, strlen(p->separator));
	put_bytes(w, p->body, p->body_len);
	return w->oom ? -ENOMEM : 0;
}

static int decode_params(const uint8_t *b, size_t len, struct kv_params *p)
{
	struct rbuf r = { .p = b, .len = len, .off = 1 };
	memset(p, 0, sizeof(*p));
	if (len < 1 || b[0] != FORWARD_VERSION)
		return -EINVAL;
	char *m = get_str(&r, sizeof(p->method) - 1);
	if (m)
		snprintf(p->method, sizeof(p->method), "%s", m);
	free(m);
	uint64_t f = get_u64(&r);
	p->index = get_u64(&r);
	p->wait_ms = get_u64(&r);
	uint64_t mode = get_u64(&r);
	p->cas = get_u64(&r);
	p->flags = get_u64(&r);
	p->key = get_str(&r, KV_KEY_MAX);
	p->separator = get_str(&r, KV_KEY_MAX);
	size_t n = 0;
	const uint8_t *body = get_bytes(&r, KV_VALUE_MAX, &n);
	p->body = body ? malloc(n ? n : 1) : NULL;
	if (r.bad || !p->body || r.off != len || mode > CC_READ_STALE) {
		kv_params_free(p);
		return -EINVAL;
	}
	memcpy(p->body, body, n);
	p->body_len = n;
	p->recurse = f & F_RECURSE;
	p->keys = f & F_KEYS;
	p->raw = f & F_RAW;
	p->pretty = f & F_PRETTY;
	p->has_cas = f & F_CAS;
	p->blocking = f & F_BLOCKING;
	if (p->wait_ms > 10u * 60u * 1000u)   /* Consul's max_query_time */
		p->wait_ms = 10u * 60u * 1000u;
	p->mode = (enum cc_read_mode)mode;
	return 0;
}

enum { C_HAS_TAG = 1, C_PASSING = 2, C_PRETTY = 4, C_BLOCKING = 8 };

static int encode_cat(const struct cat_params *p, struct wbuf *w)
{
	uint8_t v = FORWARD_CATALOG;
	put(w, &v, 1);
	put_u64(w, (uint64_t)p->ep);
	put_u64(w, (p->has_tag ? C_HAS_TAG : 0) | (p->passing ? C_PASSING : 0) |
	               (p->pretty ? C_PRETTY : 0) | (p->blocking ? C_BLOCKING : 0));
	put_u64(w, p->index);
	put_u64(w, p->wait_ms);
	put_u64(w, (uint64_t)p->mode);
	put_bytes(w, p->name, strlen(p->name));
	put_bytes(w, p->tag, strlen(p->tag));
	put_bytes(w, p->node_meta, strlen(p->node_meta));
	put_bytes(w, p->body, p->body_len);
	return w->oom ? -ENOMEM : 0;
}

static int decode_cat(const uint8_t *b, size_t len, struct cat_params *p)
{
	struct rbuf r = { .p = b, .len = len, .off = 1 };
	memset(p, 0, sizeof(*p));
	if (len < 1 || b[0] != FORWARD_CATALOG)
		return -EINVAL;
	uint64_t ep = get_u64(&r), f = get_u64(&r);
	p->index = get_u64(&r);
	p->wait_ms = get_u64(&r);
	uint64_t mode = get_u64(&r);
	p->name = get_str(&r, CATALOG_STR_MAX);
	p->tag = get_str(&r, CATALOG_STR_MAX);
	p->node_meta = get_str(&r, CATALOG_STR_MAX);
	size_t n = 0;
	const uint8_t *body = get_bytes(&r, 4u * 1024u * 1024u, &n);
	p->body = body ? malloc(n ? n : 1) : NULL;
	if (r.bad || !p->body || r.off != len || mode > CC_READ_STALE || ep < 1 || ep > CAT_EP_MAX) {
		cat_params_free(p);
		return -EINVAL;
	}
	memcpy(p->body, body, n);
	p->body_len = n;
	p->ep = (int)ep;
	p->has_tag = f & C_HAS_TAG;
	p->passing = f & C_PASSING;
	p->pretty = f & C_PRETTY;
	p->blocking = f & C_BLOCKING;
	if (p->wait_ms > AGENT_WAIT_MAX_MS)
		p->wait_ms = AGENT_WAIT_MAX_MS;
	p->mode = (enum cc_read_mode)mode;
	return 0;
}

/* status, content type, headers, body */
static int encode_resp(const struct cc_http_resp *resp, struct wbuf *w)
{
	uint8_t v = FORWARD_VERSION;
	put(w, &v, 1);
	put_u64(w, (uint64_t)resp->status);
	const char *ct = resp->content_type ? resp->content_type : "";
	put_bytes(w, ct, strlen(ct));
	put_u64(w, resp->nheaders);
	for (unsigned i = 0; i < resp->nheaders; i++) {
		put_bytes(w, resp->headers[i][0], strlen(resp->headers[i][0]));
		put_bytes(w, resp->headers[i][1], strlen(resp->headers[i][1]));
	}
	put_bytes(w, resp->body, resp->body_len);
	return w->oom ? -ENOMEM : 0;
}

/* The content types a forwarded answer may carry (the response keeps a
 * pointer to a static string). */
static const char *known_type(const char *t)
{
	static const char *const types[] = { "application/json", "text/plain; charset=utf-8" };
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(t, types[i]) == 0)
			return types[i];
	return NULL;
}

static int decode_resp(const uint8_t *b, size_t len, struct cc_http_resp *resp)
{
	struct rbuf r = { .p = b, .len = len, .off = 1 };
	if (len < 1 || b[0] != FORWARD_VERSION)
		return -EINVAL;
	uint64_t status = get_u64(&r);
	char *ct = get_str(&r, 64);
	uint64_t nh = get_u64(&r);
	if (r.bad || status < 100 || status > 599 || nh > 4) {
		free(ct);
		return -EINVAL;
	}
	resp->status = (int)status;
	resp->content_type = ct[0] ? known_type(ct) : NULL;
	free(ct);
	for (uint64_t i = 0; i < nh; i++) {
		char *k = get_str(&r, 63), *v = get_str(&r, 63);
		if (k && v)
			cc_http_header(resp, k, v);
		free(k);
		free(v);
	}
	size_t n = 0;
	const uint8_t *body = get_bytes(&r, CC_HTTP_MAX_BODY * 4, &n);
	if (r.bad || r.off != len)
		return -EINVAL;
	if (n) {
		resp->body = malloc(n);
		if (!resp->body)
			return -ENOMEM;
		memcpy(resp->body, body, n);
		resp->body_len = n;
	}
	return 0;
}

/* ---- server side ---- */

void agent_forward_reply(struct tr_call *call, struct cc_http_resp *resp)
{
	struct wbuf w = { 0 };
	if (encode_resp(resp, &w) == 0)
		transport_rpc_reply(call, NULL, w.p, w.len);
	else
		transport_rpc_reply(call, "out of memory", NULL, 0);
	free(w.p);
	free(resp->body);
	resp->body = NULL;
}

void agent_answer(struct cc_http_pending *pending, struct tr_call *call,
                  struct cc_http_resp *resp)
{
	if (pending)
		cc_http_finish(pending, resp);
	else
		agent_forward_reply(call, resp);
}

static void on_forwarded_catalog(struct cc_agent *a, struct tr_call *call, const uint8_t *body,
                                 size_t len)
{
	struct cat_params p;
	if (decode_cat(body, len, &p)) {
		transport_rpc_reply(call, "rpc error: malformed KVS.Forward request", NULL, 0);
		return;
	}
	struct cc_http_resp resp = { .status = 200 };
	if (cat_params_check(&p, &resp)) {
		cat_params_free(&p);
		agent_forward_reply(call, &resp);
		return;
	}
	agent_catalog_run(a, &p, NULL, call, "/v1/catalog (forwarded)");
}

static void on_forwarded_autopilot(struct cc_agent *a, struct tr_call *call, const uint8_t *body,
                                   size_t len)
{
	struct rbuf r = { .p = body, .len = len, .off = 4 };
	const uint8_t *cmd = NULL;
	size_t n = 0;
	bool ok = len >= 4 && body[1] <= AGENT_AUTOPILOT_SET_CONFIG && body[2] <= 1 &&
	          body[3] <= CC_READ_STALE;
	if (ok && body[1] == AGENT_AUTOPILOT_SET_CONFIG)
		cmd = get_bytes(&r, FORWARD_AUTOPILOT_CMD_MAX, &n);
	if (!ok || r.bad || r.off != len ||
	    agent_autopilot_run(a, body[1], body[2], (enum cc_read_mode)body[3], cmd, n, call))
		transport_rpc_reply(call, "rpc error: malformed KVS.Forward request", NULL, 0);
}

static void on_forwarded_request(void *ud, struct tr_call *call, const uint8_t *body, size_t len)
{
	struct cc_agent *a = ud;
	if (len == 4 && body[0] == FORWARD_STATUS && body[1] <= AGENT_STATUS_RAFT_CONF &&
	    body[2] <= 1 && body[3] <= CC_READ_STALE) {
		if (body[1] == AGENT_STATUS_RAFT_CONF) {
			agent_raft_configuration_run(a, (enum cc_read_mode)body[3], body[2], call);
			return;
		}
		struct cc_http_resp resp = { .status = 200 };
		cJSON *j = agent_status_json(a, body[1] == AGENT_STATUS_PEERS);
		cc_http_json_body(&resp, j, body[2]);
		cJSON_Delete(j);
		agent_forward_reply(call, &resp);
		return;
	}
	if (len >= 1 && body[0] == FORWARD_CATALOG) {
		on_forwarded_catalog(a, call, body, len);
		return;
	}
	if (len >= 1 && body[0] == AGENT_FORWARD_DNS) {
		agent_dns_forwarded(a, call, body, len);
		return;
	}
	if (len >= 1 && body[0] == FORWARD_AUTOPILOT) {
		on_forwarded_autopilot(a, call, body, len);
		return;
	}
	struct kv_params p;
	if (decode_params(body, len, &p)) {
		transport_rpc_reply(call, "rpc error: malformed KVS.Forward request", NULL, 0);
		return;
	}
	struct cc_http_resp resp = { .status = 200 };
	if (kv_params_check(&p, &resp)) {
		kv_params_free(&p);
		agent_forward_reply(call, &resp);
		return;
	}
	agent_kv_run(a, &p, NULL, call, "/v1/kv/ (forwarded)");
}

/* ---- client side ---- */

struct pick_ctx {
	const struct cc_agent *a;
	char addrs[16][RAFT_ADDR_MAX];
	size_t n;
};

static void pick_server(void *ud, const struct swim_member_info *m)
{
	struct pick_ctx *c = ud;
	if (c->n < 16 && m->status == SWIM_ALIVE &&
	    cc_server_rpc_addr(m, c->a->cfg->datacenter, c->addrs[c->n], RAFT_ADDR_MAX))
		c->n++;
}

/* One forwarded request: tried on the known servers in turn while it
 * demonstrably did not reach one (refused connection), or — for a read, which
 * is safe to repeat — while the connection broke before the answer came. */
struct fwd {
	struct cc_agent *a;
	struct cc_http_pending *pending;   /* the answer goes here, or to done */
	void (*done)(void *ud, struct cc_http_resp *resp);
	void *ud;
	uint8_t *req;
	size_t len;
	uint32_t timeout_ms;
	bool read;
	struct pick_ctx pc;
	size_t start, tried;
	char addr[RAFT_ADDR_MAX];  /* the server asked last */
};

static void on_forward_answer(void *ud, const char *err, const uint8_t *body, size_t len);

static void fwd_done(struct fwd *f, struct cc_http_resp *resp)
{
	if (f->pending) {
		cc_http_finish(f->pending, resp);
	} else {
		f->done(f->ud, resp);
		free(resp->body);
	}
	free(f->req);
	free(f);
}

/* Sends f to the next server not tried yet; false when none was reachable. */
static bool fwd_try(struct fwd *f)
{
	while (f->a->rpc && f->tried < f->pc.n) {
		snprintf(f->addr, sizeof(f->addr), "%s", f->pc.addrs[(f->start + f->tried++) % f->pc.n]);
		if (transport_rpc(f->a->rpc, f->addr, "KVS.Forward", f->req, f->len, f->timeout_ms,
		                  on_forward_answer, f) == 0)
			return true;
		snprintf(f->a->failed_server, sizeof(f->a->failed_server), "%s", f->addr);
		CC_ERROR("agent.client", "RPC failed to server", "method", "KVS.Forward", "server",
		         f->addr, "error", "connection unavailable");
	}
	return false;
}

static void on_forward_answer(void *ud, const char *err, const uint8_t *body, size_t len)
{
	struct fwd *f = ud;
	struct cc_http_resp resp = { .status = 200 };
	if (err) {
		bool not_sent = strncmp(err, TRANSPORT_ERR_NOT_SENT, strlen(TRANSPORT_ERR_NOT_SENT)) == 0;
		bool broken = strcmp(err, TRANSPORT_ERR_CLOSED) == 0;
		if (not_sent || broken) {
			snprintf(f->a->failed_server, sizeof(f->a->failed_server), "%s", f->addr);
			CC_ERROR("agent.client", "RPC failed to server", "method", "KVS.Forward", "server",
			         f->addr, "error", err);
			if ((not_sent || f->read) && fwd_try(f))
				return;
		}
		cc_http_error(&resp, 500, "rpc error making call: %s", err);
		CC_ERROR("agent.http", "Request error", "error", err);
	} else if (decode_resp(body, len, &resp)) {
		free(resp.body);
		memset(&resp, 0, sizeof(resp));
		cc_http_error(&resp, 500, "rpc error making call: malformed answer from the server");
	}
	fwd_done(f, &resp);
}

/* Sends an encoded request (takes w over) to a server; the answer goes to
 * pending. A blocking query holds the answer for up to its wait (+1/16). */
static void forward_send(struct cc_agent *a, struct wbuf *w, bool read, bool blocking,
                         uint64_t wait_ms, struct cc_http_pending *pending,
                         void (*done)(void *ud, struct cc_http_resp *resp), void *ud)
{
	struct cc_http_resp resp = { .status = 200 };
	struct fwd *f = w->oom ? NULL : calloc(1, sizeof(*f));
	if (!f) {
		free(w->p);
		cc_http_error(&resp, 500, "out of memory");
		if (pending) {
			cc_http_finish(pending, &resp);
		} else {
			done(ud, &resp);
			free(resp.body);
		}
		return;
	}
	f->a = a;
	f->pending = pending;
	f->done = done;
	f->ud = ud;
	f->req = w->p;
	f->len = w->len;
	f->read = read;
	f->timeout_ms = (uint32_t)(FORWARD_TIMEOUT_MS + (blocking ? wait_ms + wait_ms / 16 : 0));
	f->pc.a = a;
	if (a->lan)
		gossip_members(a->lan, pick_server, &f->pc);
	if (f->pc.n) {
		/* spread requests over the servers, starting past one that just failed */
		f->start = a->next_server++ % f->pc.n;
		if (f->pc.n > 1 && strcmp(f->pc.addrs[f->start], a->failed_server) == 0)
			f->start = a->next_server++ % f->pc.n;
	}
	if (fwd_try(f))
		return;
	if (f->pc.n)
		cc_http_error(&resp, 500, "rpc error making call: no server of %zu reachable", f->pc.n);
	else
		cc_http_error(&resp, 500, NO_SERVERS);
	fwd_done(f, &resp);
}

void agent_forward_kv(struct cc_agent *a, struct kv_params *p, struct cc_http_pending *pending)
{
	struct wbuf w = { 0 };
	encode_params(p, &w);
	bool read = strcmp(p->method, "GET") == 0, blocking = p->blocking;
	uint64_t wait = p->wait_ms;
	kv_params_free(p);
	forward_send(a, &w, read, blocking, wait, pending, NULL, NULL);
}

void agent_forward_catalog(struct cc_agent *a, struct cat_params *p,
                           struct cc_http_pending *pending)
{
	struct wbuf w = { 0 };
	encode_cat(p, &w);
	bool read = p->ep != CAT_REGISTER && p->ep != CAT_DEREGISTER, blocking = p->blocking;
	uint64_t wait = p->wait_ms;
	cat_params_free(p);
	forward_send(a, &w, read, blocking, wait, pending, NULL, NULL);
}

void agent_forward_catalog_cb(struct cc_agent *a, struct cat_params *p,
                              void (*done)(void *ud, struct cc_http_resp *resp), void *ud)
{
	struct wbuf w = { 0 };
	encode_cat(p, &w);
	bool read = p->ep != CAT_REGISTER && p->ep != CAT_DEREGISTER;
	cat_params_free(p);
	forward_send(a, &w, read, false, 0, NULL, done, ud);
}

void agent_forward_dns(struct cc_agent *a, const uint8_t *req, size_t len,
                       void (*done)(void *ud, struct cc_http_resp *resp), void *ud)
{
	struct wbuf w = { 0 };
	put(&w, req, len);
	forward_send(a, &w, true, false, 0, NULL, done, ud);
}

void agent_forward_status(struct cc_agent *a, int what, bool pretty, enum cc_read_mode mode,
                          struct cc_http_pending *pending)
{
	struct wbuf w = { 0 };
	uint8_t b[4] = { FORWARD_STATUS, (uint8_t)what, pretty, (uint8_t)mode };
	put(&w, b, sizeof(b));
	forward_send(a, &w, true, false, 0, pending, NULL, NULL);
}

void agent_forward_autopilot(struct cc_agent *a, int what, bool pretty, enum cc_read_mode mode,
                             const uint8_t *cmd, size_t cmdlen, struct cc_http_pending *pending)
{
	struct wbuf w = { 0 };
	uint8_t b[4] = { FORWARD_AUTOPILOT, (uint8_t)what, pretty, (uint8_t)mode };
	put(&w, b, sizeof(b));
	if (what == AGENT_AUTOPILOT_SET_CONFIG)
		put_bytes(&w, cmd, cmdlen);
	/* a write is not sent again once it may have reached a server */
	forward_send(a, &w, what != AGENT_AUTOPILOT_SET_CONFIG, false, 0, pending, NULL, NULL);
}

int agent_forward_start(struct cc_agent *a, char *err, size_t errlen)
{
	if (a->server) {
		cc_server_set_forward(a->server, on_forwarded_request, a);
		return 0;
	}
	struct transport_handlers h = { .log_module = "agent.client.rpc" };
	return transport_start(&a->rpc, &a->loop, NULL, 0, &h, err, errlen);
}

void agent_forward_stop(struct cc_agent *a)
{
	if (a->rpc)
		transport_stop(a->rpc);
	a->rpc = NULL;
}
