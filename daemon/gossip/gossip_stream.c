/* The gossip glue's TCP side: push/pull streams in both directions (memberlist's
 * stream protocol) and joins, host names resolved without blocking. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gossip/gossip_internal.h"
#include "log/log.h"

void gossip__maybe_free(struct gossip *g)
{
	if (g->stopping && g->open_handles == 0 && g->nstreams == 0) {
		swim_free(g->swim);
		free(g);
	}
}

static void stream_closed(uv_handle_t *h)
{
	struct stream *st = h->data;
	if (--st->open_handles > 0)
		return;
	struct gossip *g = st->g;
	g->nstreams--;
	if (st->prev)
		st->prev->next = st->next;
	else
		g->streams = st->next;
	if (st->next)
		st->next->prev = st->prev;
	free(st->in);
	free(st->out);
	free(st->wbuf);
	free(st);
	gossip__maybe_free(g);
}

static void batch_step(struct join_batch *b, const char *err)
{
	if (err && !b->err[0])
		snprintf(b->err, sizeof(b->err), "%s", err);
	if (--b->pending == 0) {
		b->used = false;
		b->done(b->ud, b->contacted, b->others, b->err[0] ? b->err : NULL);
	}
}

static void join_result(struct gossip *g, uint32_t request, const struct gw_push_pull *pp,
                        const char *err);

void gossip__stream_close(struct stream *st, const struct gw_push_pull *result, const char *err)
{
	struct gossip *g = st->g;
	if (st->outgoing && !st->finished) {
		st->finished = true;
		if (!g->stopping) {
			int rc = swim_push_pull_done(g->swim, now_ms(g), st->request, result);
			if (rc == -EPERM)   /* a merge veto fails the join through that node */
				join_result(g, st->request, NULL, swim_merge_error(g->swim));
			else
				join_result(g, st->request, result, err);
			gossip__drain(g);
		}
	}
	if (uv_is_closing((uv_handle_t *)&st->tcp))
		return;
	uv_timer_stop(&st->timer);
	uv_close((uv_handle_t *)&st->tcp, stream_closed);
	uv_close((uv_handle_t *)&st->timer, stream_closed);
}

static void on_stream_timeout(uv_timer_t *t)
{
	struct stream *st = t->data;
	gossip__stream_close(st, NULL, "i/o timeout");
}

static void on_written(uv_write_t *w, int status)
{
	struct stream *st = w->data;
	free(st->wbuf);
	st->wbuf = NULL;
	if (!st->outgoing || status < 0)
		gossip__stream_close(st, NULL, status < 0 ? uv_strerror(status) : NULL);
}

static int stream_send(struct stream *st, const uint8_t *msg, size_t len)
{
	struct gossip *g = st->g;
	size_t cap = len + 64;
	st->wbuf = malloc(cap);
	if (!st->wbuf)
		return -ENOMEM;
	int n = gw_stream_seal(g->encrypted ? &g->kr : NULL, false, msg, len, st->wbuf, cap);
	if (n <= 0)
		return n < 0 ? n : -EIO;
	uv_buf_t b = uv_buf_init((char *)st->wbuf, (unsigned)n);
	st->wr.data = st;
	return uv_write(&st->wr, (uv_stream_t *)&st->tcp, &b, 1, on_written);
}

/* Encodes and sends a push/pull (our state). */
static int send_push_pull(struct stream *st, const struct gw_push_pull *pp)
{
	size_t cap = 256 + pp->user_state_len + pp->nnodes * (GW_NAME_MAX + GW_META_MAX + 96);
	uint8_t *buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	int n = gw_encode_push_pull(pp, buf, cap);
	int rc = n > 0 ? stream_send(st, buf, (size_t)n) : (n < 0 ? n : -EIO);
	free(buf);
	return rc;
}

static void handle_incoming(struct stream *st, enum gw_type type, const uint8_t *body,
                            size_t len)
{
	struct gossip *g = st->g;
	if (type == GW_PUSH_PULL) {
		struct gw_push_pull remote, reply;
		size_t used;
		static uint8_t user[65536];
		if (gw_decode_push_pull(body, len, &remote, &used)) {
			gossip__stream_close(st, NULL, NULL);
			return;
		}
		int rc = swim_on_push_pull(g->swim, now_ms(g), &remote, &reply, user, sizeof(user));
		gw_push_pull_free(&remote);
		if (rc == 0 || reply.nodes)
			rc = send_push_pull(st, &reply);
		swim_push_pull_release(&reply);
		gossip__drain(g);
		if (rc)
			gossip__stream_close(st, NULL, NULL);
		st->finished = true;
		return;
	}
	if (type == GW_PING) {
		struct gw_ping p;
		if (gw_decode_ping(body, len, &p) == 0 && (!p.node[0] || strcmp(p.node, g->name) == 0)) {
			struct gw_ack ack = { .seq = p.seq, .payload_len = 0 };
			uint8_t buf[64];
			int n = gw_encode_ack(&ack, buf, sizeof(buf));
			if (n > 0 && stream_send(st, buf, (size_t)n) == 0) {
				st->finished = true;
				return;
			}
		}
	}
	gossip__stream_close(st, NULL, NULL);
}

static void on_stream_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct stream *st = h->data;
	if (st->in_cap - st->in_len < 16384 && st->in_cap < GW_STREAM_MAX + 64) {
		size_t cap = st->in_cap ? st->in_cap * 2 : 65536;
		uint8_t *n = realloc(st->in, cap);
		if (n) {
			st->in = n;
			st->in_cap = cap;
		}
	}
	*buf = uv_buf_init((char *)st->in + st->in_len, (unsigned)(st->in_cap - st->in_len));
}

static void on_stream_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct stream *st = s->data;
	struct gossip *g = st->g;
	if (n < 0) {
		gossip__stream_close(st, NULL, n == UV_EOF ? "EOF before a reply" : uv_strerror((int)n));
		return;
	}
	st->in_len += (size_t)n;
	if (st->finished)
		return;
	if (!st->out && !(st->out = malloc(GW_STREAM_MAX))) {
		gossip__stream_close(st, NULL, "out of memory");
		return;
	}
	enum gw_type type;
	const uint8_t *body;
	size_t blen, used;
	int rc = gw_stream_open(g->encrypted ? &g->kr : NULL, st->in, st->in_len, st->out,
	                        GW_STREAM_MAX, &type, &body, &blen, &used);
	if (rc == -GW_ETRUNC) {
		if (st->in_len >= GW_STREAM_MAX)
			gossip__stream_close(st, NULL, "stream message too large");
		return;
	}
	if (rc) {
		cc_log(CC_LOG_ERROR, g->mod_ml, "memberlist: Failed to read a stream", "from", st->peer,
		       "error", gw_strerror(rc), (const char *)NULL);
		gossip__stream_close(st, NULL, gw_strerror(rc));
		return;
	}
	if (!st->outgoing) {
		handle_incoming(st, type, body, blen);
		return;
	}
	if (type != GW_PUSH_PULL) {
		gossip__stream_close(st, NULL, type == GW_ERR ? "remote error" : "unexpected reply");
		return;
	}
	struct gw_push_pull pp;
	size_t pused;
	if (gw_decode_push_pull(body, blen, &pp, &pused)) {
		gossip__stream_close(st, NULL, "malformed push/pull reply");
		return;
	}
	gossip__stream_close(st, &pp, NULL);
	gw_push_pull_free(&pp);
}

static struct stream *stream_new(struct gossip *g, bool outgoing)
{
	if (g->nstreams >= MAX_STREAMS)
		return NULL;
	struct stream *st = calloc(1, sizeof(*st));
	if (!st)
		return NULL;
	st->g = g;
	st->outgoing = outgoing;
	uv_tcp_init(g->loop, &st->tcp);
	uv_timer_init(g->loop, &st->timer);
	st->tcp.data = st->timer.data = st;
	st->open_handles = 2;
	g->nstreams++;
	st->next = g->streams;
	if (g->streams)
		g->streams->prev = st;
	g->streams = st;
	uv_timer_start(&st->timer, on_stream_timeout, STREAM_TIMEOUT_MS, 0);
	return st;
}

void gossip__on_accept(uv_stream_t *server, int status)
{
	struct gossip *g = server->data;
	if (status < 0 || g->stopping)
		return;
	struct stream *st = stream_new(g, false);
	if (!st) {
		uv_tcp_t tmp; /* too many streams: accept and drop, as memberlist does */
		uv_tcp_init(g->loop, &tmp);
		if (uv_accept(server, (uv_stream_t *)&tmp) == 0)
			uv_close((uv_handle_t *)&tmp, NULL);
		return;
	}
	if (uv_accept(server, (uv_stream_t *)&st->tcp) ||
	    uv_read_start((uv_stream_t *)&st->tcp, on_stream_alloc, on_stream_read)) {
		gossip__stream_close(st, NULL, NULL);
		return;
	}
	struct sockaddr_storage ss;
	int sl = sizeof(ss);
	struct gw_ip ip;
	uint16_t port = 0;
	if (uv_tcp_getpeername(&st->tcp, (struct sockaddr *)&ss, &sl) == 0) {
		char s[64];
		gossip__ip_of((struct sockaddr *)&ss, &ip, &port);
		gossip__ip_str(&ip, s, sizeof(s));
		snprintf(st->peer, sizeof(st->peer), "%s:%u", s, port);
	}
}

static void on_connect(uv_connect_t *req, int status)
{
	struct stream *st = req->data;
	free(req);
	struct gossip *g = st->g;
	if (status < 0 || g->stopping) {
		/* a reset: the host is there and nothing listens (see swim_on_unreachable) */
		if (status == UV_ECONNREFUSED && !g->stopping)
			swim_on_unreachable(g->swim, now_ms(g), &st->peer_ip, st->peer_port);
		gossip__stream_close(st, NULL, uv_strerror(status < 0 ? status : UV_ECANCELED));
		return;
	}
	struct gw_push_pull pp;
	static uint8_t user[65536];
	int rc = swim_local_state(g->swim, st->join, &pp, user, sizeof(user));
	if (rc == 0)
		rc = send_push_pull(st, &pp);
	swim_push_pull_release(&pp);
	if (rc == 0)
		rc = uv_read_start((uv_stream_t *)&st->tcp, on_stream_alloc, on_stream_read);
	if (rc)
		gossip__stream_close(st, NULL, "cannot send the push/pull");
}

void gossip__start_push_pull(struct gossip *g, const struct swim_out *o)
{
	struct sockaddr_storage ss;
	struct stream *st = gossip__sockaddr_of(&o->ip, o->port, &ss) ? NULL : stream_new(g, true);
	if (!st) {
		swim_push_pull_done(g->swim, now_ms(g), o->request, NULL);
		join_result(g, o->request, NULL, "cannot open a stream");
		return;
	}
	st->join = o->join;
	st->request = o->request;
	st->peer_ip = o->ip;
	st->peer_port = o->port;
	char s[64];
	gossip__ip_str(&o->ip, s, sizeof(s));
	snprintf(st->peer, sizeof(st->peer), "%s:%u", s, o->port);
	uv_connect_t *req = malloc(sizeof(*req));
	if (!req || uv_tcp_connect(req, &st->tcp, (struct sockaddr *)&ss, on_connect)) {
		free(req);
		gossip__stream_close(st, NULL, "connect failed");
		return;
	}
	req->data = st;
}

/* ---- joins ---- */

static void join_result(struct gossip *g, uint32_t request, const struct gw_push_pull *pp,
                        const char *err)
{
	for (size_t k = 0; k < MAX_JOINS; k++) {
		struct join_batch *b = &g->joins[k];
		if (!b->used)
			continue;
		for (size_t i = 0; i < b->nrequests; i++) {
			if (b->requests[i] != request)
				continue;
			b->requests[i] = 0;
			if (pp) {
				b->contacted++;
				bool other = false;
				for (size_t n = 0; n < pp->nnodes && !other; n++)
					other = pp->nodes[n].state == 0 && strcmp(pp->nodes[n].name, g->name);
				b->others += other;
			}
			batch_step(b, pp ? NULL : err);
			return;
		}
	}
}

/* memberlist joins every IPv4 address a name resolves to. */
static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	struct name_lookup *l = req->data;
	struct gossip *g = l->g;
	if (!g) {   /* the pool stopped meanwhile */
		uv_freeaddrinfo(res);
		free(l);
		return;
	}
	for (struct name_lookup **pp = &g->lookups; *pp; pp = &(*pp)->next)
		if (*pp == l) {
			*pp = l->next;
			break;
		}
	struct join_batch *b = &g->joins[l->batch];
	size_t added = 0;
	for (struct addrinfo *ai = status ? NULL : res; ai; ai = ai->ai_next) {
		if (ai->ai_family != AF_INET || b->nrequests >= 32)
			continue;
		uint32_t v4 = ntohl(((struct sockaddr_in *)ai->ai_addr)->sin_addr.s_addr);
		bool dup = false;
		for (struct addrinfo *x = res; x != ai && !dup; x = x->ai_next)
			dup = x->ai_family == AF_INET &&
			      ((struct sockaddr_in *)x->ai_addr)->sin_addr.s_addr == htonl(v4);
		if (dup)
			continue;
		struct gw_ip ip;
		gw_ip_from_v4(&ip, v4);
		b->requests[b->nrequests++] = swim_join(g->swim, now_ms(g), &ip, (uint16_t)l->port);
		added++;
	}
	uv_freeaddrinfo(res);
	if (added) {
		b->pending += (int)added - 1;
		gossip__drain(g);
	} else {
		char err[200];
		snprintf(err, sizeof(err), "lookup %s: %s", l->name,
		         status == UV_EAI_NONAME ? "no such host"
		         : status                ? uv_strerror(status)
		                                 : "no IPv4 address");
		char line[300];   /* memberlist's words */
		snprintf(line, sizeof(line), "memberlist: Failed to resolve %s: %s", l->name, err);
		cc_log(CC_LOG_WARN, g->mod_ml, line, (const char *)NULL);
		batch_step(b, err);
	}
	free(l);
}

static int resolve(struct gossip *g, size_t batch, const char *name, unsigned port)
{
	struct name_lookup *l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->g = g;
	l->batch = batch;
	l->port = port;
	snprintf(l->name, sizeof(l->name), "%s", name);
	l->req.data = l;
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_DGRAM };
	int rc = uv_getaddrinfo(g->loop, &l->req, on_resolved, l->name, NULL, &hints);
	if (rc) {
		free(l);
		return rc;
	}
	l->next = g->lookups;
	g->lookups = l;
	return 0;
}

static bool host_name_ok(const char *h)
{
	size_t n = strlen(h);
	if (n == 0 || n > 253)
		return false;
	for (; *h; h++)
		if (!isalnum((unsigned char)*h) && *h != '-' && *h != '.' && *h != '_')
			return false;
	return true;
}

int gossip_user_event(struct gossip *g, const char *name, const uint8_t *payload, size_t len)
{
	int rc = swim_user_event(g->swim, name, payload, len);
	if (rc == 0)
		gossip__drain(g);
	return rc;
}

int gossip_join(struct gossip *g, const char *const *addrs, size_t n, gossip_join_cb done,
                void *ud)
{
	struct join_batch *b = NULL;
	for (size_t k = 0; k < MAX_JOINS && !b; k++)
		if (!g->joins[k].used)
			b = &g->joins[k];
	if (!b || n == 0 || n > 32)
		return -EBUSY;
	memset(b, 0, sizeof(*b));
	b->used = true;
	b->done = done;
	b->ud = ud;
	b->pending = (int)n;
	for (size_t i = 0; i < n; i++) {
		char host[128];
		unsigned port = g->cfg.port;
		snprintf(host, sizeof(host), "%s", addrs[i]);
		char *colon = strrchr(host, ':');
		if (colon && !strchr(colon + 1, ']') && strchr(host, ':') == colon) {
			*colon = '\0';
			port = (unsigned)atoi(colon + 1);
		}
		struct in_addr a;
		bool literal = inet_pton(AF_INET, host, &a) == 1;
		if (!literal && port > 0 && port <= 65535 && host_name_ok(host) &&
		    resolve(g, (size_t)(b - g->joins), host, port) == 0)
			continue;   /* on_resolved joins what the name stands for */
		if (!literal || port == 0 || port > 65535) {
			if (!b->err[0])
				snprintf(b->err, sizeof(b->err), "%s: not an IPv4 address or host name[:port]",
				         addrs[i]);
			b->pending--;
			continue;
		}
		struct gw_ip ip;
		gw_ip_from_v4(&ip, ntohl(a.s_addr));
		b->requests[b->nrequests++] = swim_join(g->swim, now_ms(g), &ip, (uint16_t)port);
	}
	if (b->pending == 0) {
		b->used = false;
		done(ud, 0, 0, b->err);
		return 0;
	}
	gossip__drain(g);
	return 0;
}
