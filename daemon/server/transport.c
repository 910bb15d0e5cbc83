/* server/transport: TCP connections on the server port, framing, RPC calls. */
#include "server/transport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log/log.h"
#include "metrics/metrics.h"
#include "raft/wire.h"

#define QUEUE_MAX_BYTES (128u * 1024u * 1024u) /* unsent bytes per connection */
#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 250

struct conn {
	struct transport *t;
	struct conn *next, *prev;
	uint64_t id;
	uv_tcp_t tcp;
	bool outgoing, connected, closing;
	int kind;                   /* RAFT_WIRE_RAFT / RAFT_WIRE_RPC, -1 until known */
	char addr[RAFT_ADDR_MAX];   /* outgoing: target; incoming: peer ip:port */
	char peer_id[RAFT_ID_MAX];  /* learned from Raft messages */
	uint8_t *rx;
	size_t rx_len, rx_cap;
	size_t queued;              /* bytes written but not yet completed */
	/* frames waiting for the connection to open */
	uv_buf_t *pending;
	size_t npending, cap_pending;
};

struct backoff {
	char addr[RAFT_ADDR_MAX];
	int kind;
	uint64_t until;
	uint32_t ms;
};

struct rpc_pending {
	struct rpc_pending *next;
	uint64_t seq;
	uint64_t conn_id;
	uint64_t deadline;
	transport_rpc_cb done;
	void *ud;
};

struct tr_call {
	struct transport *t;
	uint64_t conn_id, seq;
	uint64_t start_ns;          /* for rpc.server.call */
	char method[48];
};

struct transport {
	uv_loop_t *loop;
	struct transport_handlers h;
	uv_tcp_t listener;
	bool listening;
	uv_timer_t rpc_timer;
	int open_handles;
	bool stopping;
	struct conn *conns;
	uint64_t next_conn_id, next_seq;
	struct backoff *backoffs;
	size_t nbackoffs;
	struct rpc_pending *rpcs;
};

struct wreq {
	uv_write_t req;
	struct conn *c;
	uv_buf_t buf;
};

static void maybe_free(struct transport *t)
{
	if (t->stopping && t->open_handles == 0) {
		free(t->backoffs);
		free(t);
	}
}

static void on_handle_closed(uv_handle_t *h)
{
	struct transport *t = h->data;
	t->open_handles--;
	maybe_free(t);
}

/* ---- connections ---- */

static void conn_closed(uv_handle_t *h)
{
	struct conn *c = h->data;
	struct transport *t = c->t;
	for (size_t i = 0; i < c->npending; i++)
		free(c->pending[i].base);
	free(c->pending);
	free(c->rx);
	free(c);
	t->open_handles--;
	maybe_free(t);
}

static void fail_rpcs_of(struct transport *t, uint64_t conn_id, const char *why)
{
	struct rpc_pending **pp = &t->rpcs;
	while (*pp) {
		struct rpc_pending *p = *pp;
		if (conn_id && p->conn_id != conn_id) {
			pp = &p->next;
			continue;
		}
		*pp = p->next;
		p->done(p->ud, why, NULL, 0);
		free(p);
	}
}

static void backoff_note(struct transport *t, const char *addr, int kind, bool failed)
{
	uint64_t now = uv_now(t->loop);
	for (size_t i = 0; i < t->nbackoffs; i++) {
		struct backoff *b = &t->backoffs[i];
		if (b->kind != kind || strcmp(b->addr, addr) != 0)
			continue;
		if (!failed) {
			b->ms = 0;
			b->until = 0;
			return;
		}
		b->ms = b->ms ? (b->ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : b->ms * 2)
		              : BACKOFF_MIN_MS;
		b->until = now + b->ms;
		return;
	}
	if (!failed)
		return;
	struct backoff *n = realloc(t->backoffs, (t->nbackoffs + 1) * sizeof(*n));
	if (!n)
		return;
	t->backoffs = n;
	struct backoff *b = &t->backoffs[t->nbackoffs++];
	snprintf(b->addr, sizeof(b->addr), "%s", addr);
	b->kind = kind;
	b->ms = BACKOFF_MIN_MS;
	b->until = now + b->ms;
}

static bool backing_off(struct transport *t, const char *addr, int kind)
{
	uint64_t now = uv_now(t->loop);
	for (size_t i = 0; i < t->nbackoffs; i++)
		if (t->backoffs[i].kind == kind && strcmp(t->backoffs[i].addr, addr) == 0)
			return now < t->backoffs[i].until;
	return false;
}

/* Closes c. by_peer: the other side closed it (EOF/reset). */
static void conn_close(struct conn *c, bool by_peer)
{
	struct transport *t = c->t;
	if (c->closing)
		return;
	c->closing = true;
	if (c->prev)
		c->prev->next = c->next;
	else
		t->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	if (c->outgoing && c->kind == RAFT_WIRE_RPC)
		fail_rpcs_of(t, c->id,
		             c->connected ? TRANSPORT_ERR_CLOSED
		                          : TRANSPORT_ERR_NOT_SENT ": connection refused");
	if (by_peer && !t->stopping && c->kind == RAFT_WIRE_RAFT && t->h.peer_closed)
		t->h.peer_closed(t->h.ud, c->peer_id, c->outgoing ? c->addr : "");
	uv_close((uv_handle_t *)&c->tcp, conn_closed);
}

static struct conn *conn_new(struct transport *t, bool outgoing)
{
	struct conn *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->t = t;
	c->id = ++t->next_conn_id;
	c->outgoing = outgoing;
	c->kind = -1;
	if (uv_tcp_init(t->loop, &c->tcp)) {
		free(c);
		return NULL;
	}
	c->tcp.data = c;
	uv_tcp_nodelay(&c->tcp, 1);
	t->open_handles++;
	c->next = t->conns;
	if (t->conns)
		t->conns->prev = c;
	t->conns = c;
	return c;
}

static void on_written(uv_write_t *req, int status)
{
	struct wreq *w = (struct wreq *)req;
	w->c->queued -= w->buf.len;
	free(w->buf.base);
	free(w);
}

/* Writes a frame (takes ownership of buf). */
static void conn_write(struct conn *c, uint8_t *buf, size_t len)
{
	if (c->closing || c->queued + len > QUEUE_MAX_BYTES) {
		free(buf);
		return;
	}
	if (!c->connected) {
		if (c->npending == c->cap_pending) {
			size_t cap = c->cap_pending ? c->cap_pending * 2 : 8;
			uv_buf_t *p = realloc(c->pending, cap * sizeof(*p));
			if (!p) {
				free(buf);
				return;
			}
			c->pending = p;
			c->cap_pending = cap;
		}
		c->pending[c->npending++] = uv_buf_init((char *)buf, (unsigned)len);
		c->queued += len;
		return;
	}
	struct wreq *w = malloc(sizeof(*w));
	if (!w) {
		free(buf);
		return;
	}
	w->c = c;
	w->buf = uv_buf_init((char *)buf, (unsigned)len);
	c->queued += len;
	if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &w->buf, 1, on_written)) {
		c->queued -= len;
		free(buf);
		free(w);
		conn_close(c, false);
	}
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct conn *c = h->data;
	size_t want = 65536;
	if (c->rx_cap - c->rx_len < want) {
		size_t cap = c->rx_cap ? c->rx_cap : want;
		while (cap - c->rx_len < want)
			cap *= 2;
		uint8_t *n = realloc(c->rx, cap);
		if (!n) {
			*buf = uv_buf_init(NULL, 0);
			return;
		}
		c->rx = n;
		c->rx_cap = cap;
	}
	*buf = uv_buf_init((char *)c->rx + c->rx_len, (unsigned)(c->rx_cap - c->rx_len));
}

static void peer_warn(struct conn *c, const char *what, const char *err)
{
	CC_WARN(c->t->h.log_module, what, "peer", c->addr, "error", err);
}

static void handle_raft_frame(struct conn *c, const uint8_t *p, size_t n)
{
	struct transport *t = c->t;
	struct raft_wire_msg m;
	char err[256];
	if (raft_wire_decode_msg(p, n, &m, err, sizeof(err))) {
		peer_warn(c, "failed to decode incoming command, closing connection", err);
		conn_close(c, false);
		return;
	}
	if (!c->outgoing && !c->peer_id[0])
		snprintf(c->peer_id, sizeof(c->peer_id), "%s", m.msg.from);
	t->h.raft_msg(t->h.ud, &m.msg);
	raft_wire_msg_release(&m);
}

static void handle_rpc_frame(struct conn *c, const uint8_t *p, size_t n)
{
	struct transport *t = c->t;
	struct raft_wire_rpc rpc;
	char err[256];
	if (c->outgoing) {
		if (raft_wire_decode_response(p, n, &rpc, err, sizeof(err))) {
			peer_warn(c, "failed to decode RPC response, closing connection", err);
			conn_close(c, false);
			return;
		}
		for (struct rpc_pending **pp = &t->rpcs; *pp; pp = &(*pp)->next) {
			struct rpc_pending *q = *pp;
			if (q->conn_id != c->id || q->seq != rpc.seq)
				continue;
			*pp = q->next;
			q->done(q->ud, rpc.error[0] ? rpc.error : NULL, rpc.body, rpc.body_len);
			free(q);
			break;
		}
		return;
	}
	if (raft_wire_decode_request(p, n, &rpc, err, sizeof(err))) {
		cc_metric_incr("rpc.request_error", 1); /* Consul: the codec failed */
		peer_warn(c, "failed to decode RPC request, closing connection", err);
		conn_close(c, false);
		return;
	}
	struct tr_call *call = malloc(sizeof(*call));
	if (!call)
		return;
	*call = (struct tr_call){ .t = t, .conn_id = c->id, .seq = rpc.seq,
		                  .start_ns = cc_metrics_mono_ns() };
	snprintf(call->method, sizeof(call->method), "%s", rpc.method);
	t->h.rpc_request(t->h.ud, call, rpc.method, rpc.body, rpc.body_len);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct conn *c = s->data;
	if (nread < 0) {
		conn_close(c, true);
		return;
	}
	c->rx_len += (size_t)nread;
	size_t off = 0;
	uint64_t id = c->id;
	while (!c->closing) {
		if (c->kind < 0) {
			if (off >= c->rx_len)
				break;
			uint8_t k = c->rx[off++];
			if (k != RAFT_WIRE_RAFT && k != RAFT_WIRE_RPC) {
				char e[64];
				snprintf(e, sizeof(e), "unknown connection type byte 0x%02x", k);
				peer_warn(c, "failed to accept connection", e);
				conn_close(c, false);
				return;
			}
			c->kind = k;
		}
		const uint8_t *payload;
		size_t plen, used;
		char err[160];
		size_t max = c->kind == RAFT_WIRE_RAFT ? RAFT_WIRE_FRAME_MAX : RAFT_WIRE_RPC_FRAME_MAX;
		int rc = raft_wire_frame(c->rx + off, c->rx_len - off, max, &payload, &plen, &used, err,
		                         sizeof(err));
		if (rc < 0) {
			peer_warn(c, "failed to read frame, closing connection", err);
			conn_close(c, false);
			return;
		}
		if (rc == 0)
			break;
		off += used;
		if (c->kind == RAFT_WIRE_RAFT)
			handle_raft_frame(c, payload, plen);
		else
			handle_rpc_frame(c, payload, plen);
		/* the handler may have closed (and queued the free of) c: it is
		 * still allocated until its close callback, but stop reading */
		(void)id;
	}
	if (c->closing)
		return;
	memmove(c->rx, c->rx + off, c->rx_len - off);
	c->rx_len -= off;
}

static void on_connection(uv_stream_t *server, int status)
{
	struct transport *t = server->data;
	if (status < 0 || t->stopping)
		return;
	struct conn *c = conn_new(t, false);
	if (!c)
		return;
	if (uv_accept(server, (uv_stream_t *)&c->tcp)) {
		conn_close(c, false);
		return;
	}
	c->connected = true;
	struct sockaddr_storage ss;
	int len = sizeof(ss);
	if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0 &&
	    ss.ss_family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		char ip[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
		snprintf(c->addr, sizeof(c->addr), "%s:%u", ip, ntohs(sin->sin_port));
	}
	if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read))
		conn_close(c, false);
}

static void on_connect(uv_connect_t *req, int status)
{
	struct conn *c = req->data;
	free(req);
	if (c->closing)
		return;
	struct transport *t = c->t;
	if (status < 0) {
		backoff_note(t, c->addr, c->kind, true);
		CC_DEBUG(t->h.log_module, "failed to connect", "peer", c->addr, "error",
		         uv_strerror(status));
		/* a refused connection to a server we knew: its process is gone */
		conn_close(c, status == UV_ECONNREFUSED);
		return;
	}
	backoff_note(t, c->addr, c->kind, false);
	c->connected = true;
	size_t n = c->npending;
	uv_buf_t *p = c->pending;
	c->pending = NULL;
	c->npending = c->cap_pending = 0;
	for (size_t i = 0; i < n; i++) {
		c->queued -= p[i].len;
		conn_write(c, (uint8_t *)p[i].base, p[i].len);
	}
	free(p);
	if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read))
		conn_close(c, false);
}

static int parse_addr(const char *addr, struct sockaddr_in *sin)
{
	char ip[64];
	const char *colon = strrchr(addr, ':');
	if (!colon || (size_t)(colon - addr) >= sizeof(ip))
		return -EINVAL;
	memcpy(ip, addr, (size_t)(colon - addr));
	ip[colon - addr] = 0;
	char *end;
	unsigned long port = strtoul(colon + 1, &end, 10);
	if (*end || port == 0 || port > 65535)
		return -EINVAL;
	return uv_ip4_addr(ip, (int)port, sin) ? -EINVAL : 0;
}

/* The outgoing connection of this kind to addr, opened if needed. */
static struct conn *conn_to(struct transport *t, const char *addr, int kind)
{
	for (struct conn *c = t->conns; c; c = c->next)
		if (c->outgoing && c->kind == kind && strcmp(c->addr, addr) == 0)
			return c;
	if (t->stopping || backing_off(t, addr, kind))
		return NULL;
	struct sockaddr_in sin;
	if (parse_addr(addr, &sin))
		return NULL;
	struct conn *c = conn_new(t, true);
	if (!c)
		return NULL;
	c->kind = kind;
	snprintf(c->addr, sizeof(c->addr), "%s", addr);
	uv_connect_t *req = malloc(sizeof(*req));
	if (!req) {
		conn_close(c, false);
		return NULL;
	}
	req->data = c;
	if (uv_tcp_connect(req, &c->tcp, (struct sockaddr *)&sin, on_connect)) {
		free(req);
		backoff_note(t, addr, kind, true);
		conn_close(c, false);
		return NULL;
	}
	/* the connection's first byte says what it carries */
	uint8_t *b = malloc(1);
	if (b) {
		b[0] = (uint8_t)kind;
		conn_write(c, b, 1);
	}
	return c;
}

/* ---- API ---- */

void transport_send_frame(struct transport *t, const char *addr, uint8_t *frame, size_t len)
{
	struct conn *c = conn_to(t, addr, RAFT_WIRE_RAFT);
	if (c)
		conn_write(c, frame, len);
	else
		free(frame);
}

static void on_rpc_timer(uv_timer_t *tm)
{
	struct transport *t = tm->data;
	uint64_t now = uv_now(t->loop), next = 0;
	struct rpc_pending **pp = &t->rpcs;
	while (*pp) {
		struct rpc_pending *p = *pp;
		if (p->deadline <= now) {
			*pp = p->next;
			p->done(p->ud, "rpc error: timeout", NULL, 0);
			free(p);
			continue;
		}
		if (!next || p->deadline < next)
			next = p->deadline;
		pp = &p->next;
	}
	if (next)
		uv_timer_start(&t->rpc_timer, on_rpc_timer, next - now, 0);
}

int transport_rpc(struct transport *t, const char *addr, const char *method, const uint8_t *body,
                  size_t len, uint32_t timeout_ms, transport_rpc_cb done, void *ud)
{
	struct conn *c = conn_to(t, addr, RAFT_WIRE_RPC);
	if (!c)
		return -ECONNREFUSED;
	struct rpc_pending *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	uint8_t *frame;
	size_t flen;
	p->seq = ++t->next_seq;
	if (raft_wire_encode_request(p->seq, method, body, len, &frame, &flen)) {
		free(p);
		return -ENOMEM;
	}
	p->conn_id = c->id;
	p->deadline = uv_now(t->loop) + timeout_ms;
	p->done = done;
	p->ud = ud;
	p->next = t->rpcs;
	t->rpcs = p;
	conn_write(c, frame, flen);
	uint64_t due = uv_timer_get_due_in(&t->rpc_timer);
	if (!uv_is_active((uv_handle_t *)&t->rpc_timer) || due > timeout_ms)
		uv_timer_start(&t->rpc_timer, on_rpc_timer, timeout_ms, 0);
	return 0;
}

void transport_rpc_reply(struct tr_call *call, const char *err, const uint8_t *body, size_t len)
{
	struct transport *t = call->t;
	/* Consul's rpc.request counter (every request served, whatever its
	 * answer) and rpc.server.call timing with its method/errored labels */
	struct cc_metrics_label l[2] = { { "method", call->method },
		                         { "errored", err ? "true" : "false" } };
	cc_metric_incr("rpc.request", 1);
	cc_metric_since_l("rpc.server.call", l, 2, call->start_ns);
	for (struct conn *c = t->conns; c; c = c->next) {
		if (c->id != call->conn_id)
			continue;
		uint8_t *frame;
		size_t flen;
		int rc = raft_wire_encode_response(call->seq, err ? err : "", body, len, &frame, &flen);
		if (rc) /* too large, say: the caller must not wait for its timeout */
			rc = raft_wire_encode_response(call->seq, rc == -E2BIG
			                                                  ? "rpc error: response too large"
			                                                  : "rpc error: out of memory",
			                               NULL, 0, &frame, &flen);
		if (rc == 0)
			conn_write(c, frame, flen);
		break;
	}
	free(call);
}

int transport_start(struct transport **out, uv_loop_t *loop, const char *bind_ip, uint16_t port,
                    const struct transport_handlers *h, char *err, size_t errlen)
{
	struct transport *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->loop = loop;
	t->h = *h;
	uv_timer_init(loop, &t->rpc_timer);
	t->rpc_timer.data = t;
	t->open_handles++;
	t->listening = bind_ip != NULL;
	if (!t->listening) {
		*out = t;
		return 0;
	}
	struct sockaddr_in sin;
	int rc = uv_ip4_addr(bind_ip, port, &sin);
	if (rc == 0)
		rc = uv_tcp_init(loop, &t->listener);
	if (rc) {
		snprintf(err, errlen, "listen tcp %s:%u: %s", bind_ip, port, uv_strerror(rc));
		t->listening = false;
		transport_stop(t);
		return rc;
	}
	t->listener.data = t;
	t->open_handles++;
	rc = uv_tcp_bind(&t->listener, (struct sockaddr *)&sin, 0);
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&t->listener, 128, on_connection);
	if (rc) {
		snprintf(err, errlen, "listen tcp %s:%u: bind: %s", bind_ip, port, uv_strerror(rc));
		transport_stop(t);
		return rc;
	}
	*out = t;
	return 0;
}

void transport_stop(struct transport *t)
{
	if (!t || t->stopping)
		return;
	t->stopping = true;
	fail_rpcs_of(t, 0, "rpc error: shutting down");
	while (t->conns)
		conn_close(t->conns, false);
	if (t->listening)
		uv_close((uv_handle_t *)&t->listener, on_handle_closed);
	uv_close((uv_handle_t *)&t->rpc_timer, on_handle_closed);
}
