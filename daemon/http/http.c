/* http — the HTTP/1.1 server: connections on libuv, requests parsed by
 * http-parser, one request at a time per connection (pipelined requests wait
 * in the connection's input buffer), answers written with uv_write. */
#include "http/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <http_parser.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http/http_internal.h"
#include "log/log.h"
#include "metrics/metrics.h"

#define MOD "agent.http"

static void conn_process(struct cc_http_conn *c);
static void on_kick(uv_timer_t *t);

void http_kick(struct cc_http_conn *c)
{
	c->kicked = true;
	uv_timer_start(&c->h->kick, on_kick, 0, 0);
}

uint64_t http_now_ms(struct cc_http *h)
{
	return uv_now(h->loop);
}

/* ---- routing ---- */

static int method_allowed(const char *methods, const char *m)
{
	size_t n = strlen(m);
	for (const char *p = methods; *p;) {
		size_t k = strcspn(p, " ");
		if (k == n && strncmp(p, m, n) == 0)
			return 1;
		p += k;
		while (*p == ' ')
			p++;
	}
	return 0;
}

/* Consul's handleFuncMetrics: the route pattern split on '/', the leading
 * empty part dropped and a trailing one shown as "_" ("/v1/kv/" ->
 * v1.kv._); an unrouted request falls to the "/" pattern (just "_"). */
static void metric_name(struct cc_http_conn *c, const struct cc_http_route *r)
{
	const char *pattern = r ? r->path : "/";
	size_t n = (size_t)snprintf(c->metric, sizeof(c->metric), "http.%.16s", c->method);
	for (const char *p = pattern + (pattern[0] == '/'); n < sizeof(c->metric);) {
		size_t k = strcspn(p, "/");
		n += (size_t)snprintf(c->metric + n, sizeof(c->metric) - n, ".%.*s",
		                      k ? (int)k : 1, k ? p : "_");
		if (!p[k])
			break;
		p += k + 1;
	}
}

void http_record(struct cc_http_conn *c)
{
	if (c->metric[0])
		cc_metric_since(c->metric, c->start_ns);
	c->metric[0] = '\0';
}

static const struct cc_http_route *route(struct cc_http *h, const char *path, const char **suffix)
{
	for (size_t i = 0; i < h->nroutes; i++) {
		const struct cc_http_route *r = &h->routes[i];
		size_t n = strlen(r->path);
		if (r->prefix ? strncmp(path, r->path, n) == 0 : strcmp(path, r->path) == 0) {
			*suffix = path + (r->prefix ? n : strlen(path));
			return r;
		}
	}
	return NULL;
}

/* A malformed request: answered and the connection closed, as the parser's
 * state cannot be trusted any more. */
static void bad_request(struct cc_http_conn *c, int status, const char *why)
{
	struct cc_http_resp r = { .status = 200 };
	cc_http_error(&r, status, "%s", why);
	c->keep_alive = false;
	c->head = false;
	c->state = C_DRAINING; /* no more parsing */
	CC_DEBUG(MOD, "Bad request", "error", why);
	http_send_resp(c, &r);
}

/* ---- requests ---- */

const char *cc_http_req_header(const struct cc_http_req *req, const char *name)
{
	const struct cc_http_conn *c = req->conn;
	const char *p = c->hdr;
	for (unsigned i = 0; i < c->nhdr; i++) {
		const char *v = p + strlen(p) + 1;
		if (strcasecmp(p, name) == 0)
			return v;
		p = v + strlen(v) + 1;
	}
	return NULL;
}

const char *cc_http_query(const struct cc_http_req *req, const char *key)
{
	return cc_http_query_find(req->conn->qpairs, req->conn->nq, key);
}

static void dispatch(struct cc_http_conn *c)
{
	struct cc_http *h = c->h;
	snprintf(c->method, sizeof(c->method), "%s",
	         http_method_str((enum http_method)c->parser.method));
	c->keep_alive = http_should_keep_alive(&c->parser) && !c->too_big;
	c->head = c->parser.method == HTTP_HEAD;
	c->start_ns = cc_metrics_mono_ns();
	c->state = C_DEFERRED; /* until answered */

	if (!c->url) {
		bad_request(c, 400, "Bad request: no URL");
		return;
	}
	/* path (percent-decoded) and query */
	char *url = c->url;
	size_t plen = strcspn(url, "?#");
	const char *q = url[plen] == '?' ? url + plen + 1 : "";
	size_t qlen = strcspn(q, "#");
	free(c->qpairs);
	c->qpairs = malloc(2 * qlen + 2);
	c->nq = c->qpairs ? cc_http_parse_query(q, qlen, c->qpairs) : 0;
	url[plen] = '\0';
	cc_http_unescape(url, plen, false);
	const char *path = url;

	struct cc_http_resp resp = { .status = 200 };
	const char *suffix = "";
	const struct cc_http_route *r = route(h, path, &suffix);
	metric_name(c, r);
	if (c->too_big) {
		cc_http_error(&resp, 413, "Request body too large: the limit is %u bytes",
		              CC_HTTP_MAX_BODY);
	} else if (!c->qpairs) {
		cc_http_error(&resp, 500, "out of memory");
	} else if (!r) {
		resp.status = 404;
	} else if (strcmp(c->method, "OPTIONS") == 0) {
		snprintf(resp.allow, sizeof(resp.allow), "OPTIONS %s", r->methods);
	} else if (!method_allowed(r->methods, c->method)) {
		snprintf(resp.allow, sizeof(resp.allow), "OPTIONS %s", r->methods);
		cc_http_error(&resp, 405, "method %s not allowed", c->method);
	} else {
		struct cc_http_req req = { c->method, path, suffix, c->body ? c->body : "",
			                   c->body_len, c };
		unsigned seq = c->seq;
		r->handler(h->ud, &req, &resp);
		if (c->seq != seq) /* deferred and answered already */
			return;
		if (c->owed) {
			CC_DEBUG(MOD, "Request deferred", "method", c->method, "url", path);
			return;
		}
		if (c->stream) {
			http_record(c);
			CC_DEBUG(MOD, "Streaming", "method", c->method, "url", path);
			struct cc_http_stream *s = c->stream;
			if (!s->chunked)
				c->keep_alive = false;
			size_t hlen;
			char *head = http_head_text(c, 200, s->content_type, NULL,
			                            s->chunked ? "Transfer-Encoding: chunked\r\n" : "",
			                            &hlen);
			c->state = C_STREAMING;
			http_conn_write(c, head, head ? hlen : 0, NULL, 0, NULL, 0);
			if (s->ending)
				http_kick(c);
			else
				http_stream_flush(s);
			return;
		}
	}
	CC_DEBUG(MOD, "Request finished", "method", c->method, "url", path);
	http_send_resp(c, &resp);
}

/* ---- http-parser callbacks ---- */

static int grow(char **buf, size_t *cap, size_t need)
{
	if (need <= *cap)
		return 0;
	size_t n = *cap ? *cap : 256;
	while (n < need)
		n *= 2;
	char *b = realloc(*buf, n);
	if (!b)
		return -1;
	*buf = b;
	*cap = n;
	return 0;
}

/* Appends a piece to a NUL-terminated buffer. */
static int append(char **buf, size_t *len, const char *at, size_t n)
{
	char *b = realloc(*buf, *len + n + 1);
	if (!b)
		return -1;
	memcpy(b + *len, at, n);
	*len += n;
	b[*len] = '\0';
	*buf = b;
	return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
	struct cc_http_conn *c = p->data;
	return append(&c->url, &c->url_len, at, len);
}

/* Headers are kept as "name\0value\0" pairs; the parser may hand either part
 * over in pieces. */
static int header_part(struct cc_http_conn *c, const char *at, size_t len, bool value)
{
	if (value != c->in_value) {
		if (grow(&c->hdr, &c->hdr_cap, c->hdr_len + 1))
			return -1;
		c->hdr[c->hdr_len++] = '\0';
		c->in_value = value;
		if (!value)
			c->nhdr++;
	}
	if (grow(&c->hdr, &c->hdr_cap, c->hdr_len + len + 1))
		return -1;
	memcpy(c->hdr + c->hdr_len, at, len);
	c->hdr_len += len;
	return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
	return header_part(p->data, at, len, false);
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
	return header_part(p->data, at, len, true);
}

static void send_continue(struct cc_http_conn *c)
{
	char *s = malloc(32);
	if (!s)
		return;
	int n = snprintf(s, 32, "HTTP/1.1 100 Continue\r\n\r\n");
	http_conn_write(c, s, (size_t)n, NULL, 0, NULL, 0);
}

static int on_headers_complete(http_parser *p)
{
	struct cc_http_conn *c = p->data;
	if (c->in_value) { /* ends the last value */
		if (grow(&c->hdr, &c->hdr_cap, c->hdr_len + 1))
			return -1;
		c->hdr[c->hdr_len++] = '\0';
		c->nhdr++;
		c->in_value = false;
	}
	if (!(p->flags & F_CHUNKED) && p->content_length != ULLONG_MAX &&
	    p->content_length > CC_HTTP_MAX_BODY) {
		/* answered at once, without reading a body we would refuse */
		c->too_big = true;
		http_parser_pause(p, 1);
		return 0;
	}
	struct cc_http_req req = { .conn = c };
	const char *expect = cc_http_req_header(&req, "Expect");
	if (expect && strcasecmp(expect, "100-continue") == 0 && p->http_minor >= 1)
		send_continue(c);
	return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
	struct cc_http_conn *c = p->data;
	if (c->body_len + len > CC_HTTP_MAX_BODY) {
		c->too_big = true;
		http_parser_pause(p, 1);
		return 0;
	}
	return append(&c->body, &c->body_len, at, len);
}

static int on_message_complete(http_parser *p)
{
	http_parser_pause(p, 1); /* answered before the next request is parsed */
	return 0;
}

static const http_parser_settings settings = {
	.on_url = on_url,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

/* Parses requests from data while the connection reads them; each complete
 * request is dispatched before the next is read. Returns the bytes used. */
static size_t parse(struct cc_http_conn *c, const char *data, size_t len)
{
	size_t off = 0;
	while (c->state == C_READING && !c->closing && !c->dead && off < len) {
		off += http_parser_execute(&c->parser, &settings, data + off, len - off);
		enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
		if (e == HPE_PAUSED) {
			http_parser_pause(&c->parser, 0);
			dispatch(c);
		} else if (e == HPE_HEADER_OVERFLOW) {
			bad_request(c, 431, "Request header fields too large");
		} else if (e != HPE_OK) {
			char why[128];
			snprintf(why, sizeof(why), "Bad request: %s", http_errno_description(e));
			bad_request(c, 400, why);
		}
	}
	return off;
}

/* Keeps bytes for later (pipelined requests while one is answered). */
static int keep_input(struct cc_http_conn *c, const char *data, size_t len)
{
	if (grow(&c->in, &c->in_cap, c->in_len + len))
		return -1;
	memcpy(c->in + c->in_len, data, len);
	c->in_len += len;
	return 0;
}

/* Parses what waits in the input buffer. */
static void conn_process(struct cc_http_conn *c)
{
	if (c->in_off < c->in_len)
		c->in_off += parse(c, c->in + c->in_off, c->in_len - c->in_off);
	if (c->in_off == c->in_len) {
		free(c->in);
		c->in = NULL;
		c->in_off = c->in_len = c->in_cap = 0;
	}
}

/* ---- connections ---- */

static void on_handle_closed(uv_handle_t *hd)
{
	struct cc_http *h = hd->data;
	if (--h->open_handles == 0)
		free(h);
}

static void on_conn_closed(uv_handle_t *hd)
{
	struct cc_http_conn *c = hd->data;
	struct cc_http *h = c->h;
	free(c->in);
	free(c->url);
	free(c->hdr);
	free(c->body);
	free(c->qpairs);
	c->in = c->url = c->hdr = c->body = c->qpairs = NULL;
	if (c->owed)
		c->gone = true; /* freed by cc_http_finish */
	else
		free(c);
	if (--h->open_handles == 0)
		free(h);
}

void http_conn_close(struct cc_http_conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	if (c->stream) {
		struct cc_http_stream *s = c->stream;
		c->stream = NULL;
		if (s->on_closed)
			s->on_closed(s->ud);
		free(s->buf);
		free(s);
	}
	if (c->prev)
		c->prev->next = c->next;
	else
		c->h->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->h->nconns--;
	c->tcp.data = c;
	uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

static void on_alloc(uv_handle_t *hd, size_t suggested, uv_buf_t *buf)
{
	struct cc_http_conn *c = hd->data;
	(void)suggested;
	*buf = uv_buf_init(c->h->rbuf, sizeof(c->h->rbuf));
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
	struct cc_http_conn *c = st->data;
	if (n < 0) {
		/* the client is gone (or half-closed): a request in progress still
		 * gets its answer, a stream ends */
		uv_read_stop(st);
		c->reading = false;
		c->read_eof = true;
		if (c->state == C_READING || c->state == C_STREAMING || c->state == C_DRAINING)
			http_conn_close(c);
		return;
	}
	if (n == 0)
		return;
	c->active_ms = http_now_ms(c->h);
	if (c->state == C_DRAINING)
		return;
	size_t used = 0;
	if (c->state == C_READING && c->in_off == c->in_len)
		used = parse(c, buf->base, (size_t)n); /* straight from the read buffer */
	if (used < (size_t)n && !c->closing && c->state != C_DRAINING) {
		if (keep_input(c, buf->base + used, (size_t)n - used)) {
			http_conn_close(c);
			return;
		}
		if (c->state == C_READING)
			conn_process(c);
	}
	if (!c->closing && c->in_len - c->in_off > MAX_PENDING_INPUT) {
		uv_read_stop(st); /* resumed when the connection reads requests again */
		c->reading = false;
	}
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
	struct cc_http_conn *c = req->data;
	free(req);
	if (status < 0 || c->closing || c->read_eof) {
		http_conn_close(c);
		return;
	}
	/* read (and drop) what the client still sends until it closes, so our
	 * answer is not lost to a reset */
	c->active_ms = http_now_ms(c->h);
	if (!c->reading) {
		c->reading = true;
		uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
	}
}

static void on_kick(uv_timer_t *t)
{
	struct cc_http *h = t->data;
	/* A connection closed on the way is unlinked but not freed before the
	 * loop's close callbacks, so its next pointer stays usable; one kicked
	 * again meanwhile has restarted the timer. */
	for (struct cc_http_conn *c = h->conns, *next; c; c = next) {
		next = c->next;
		if (c->dead) {
			http_conn_close(c);
			continue;
		}
		if (!c->kicked || c->closing)
			continue;
		c->kicked = false;
		if (c->stream && c->state == C_STREAMING) {
			http_stream_flush(c->stream);
		} else if (c->state == C_READING) {
			conn_process(c);
			if (!c->closing && !c->reading && !c->read_eof) {
				c->reading = true;
				uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
			}
		}
	}
}

static void on_sweep(uv_timer_t *t)
{
	struct cc_http *h = t->data;
	uint64_t now = http_now_ms(h);
	for (struct cc_http_conn *c = h->conns, *next; c; c = next) {
		next = c->next;
		if (c->state == C_READING && now - c->active_ms > IDLE_TIMEOUT_MS)
			http_conn_close(c);
		else if (c->state == C_DRAINING && now - c->active_ms > DRAIN_TIMEOUT_MS)
			http_conn_close(c);
	}
}

static void on_connection(uv_stream_t *server, int status)
{
	struct cc_http *h = server->data;
	if (status < 0)
		return;
	struct cc_http_conn *c = calloc(1, sizeof(*c));
	if (!c)
		return;
	c->h = h;
	uv_tcp_init(h->loop, &c->tcp);
	c->tcp.data = c;
	h->open_handles++;
	if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0 || h->nconns >= MAX_CONNS) {
		uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
		return;
	}
	c->next = h->conns;
	if (h->conns)
		h->conns->prev = c;
	h->conns = c;
	h->nconns++;
	http_parser_init(&c->parser, HTTP_REQUEST);
	c->parser.data = c;
	c->active_ms = http_now_ms(h);
	uv_tcp_nodelay(&c->tcp, 1);
	c->reading = true;
	uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

/* After the last answer: our side is shut down, and what the client still
 * sends is read and dropped for a moment, so a client that sent more than we
 * read (a body refused with 413) gets the answer rather than a reset. */
void http_begin_close(struct cc_http_conn *c)
{
	if (c->closing)
		return;
	if (c->read_eof || c->h->stopped) {
		http_conn_close(c);
		return;
	}
	uv_shutdown_t *req = malloc(sizeof(*req));
	if (!req || uv_shutdown(req, (uv_stream_t *)&c->tcp, on_shutdown) < 0) {
		free(req);
		http_conn_close(c);
		return;
	}
	req->data = c;
	c->state = C_DRAINING;
	c->active_ms = http_now_ms(c->h);
}

/* ---- the server ---- */

/* Binds and listens ourselves so a failure can be reported with its errno. */
static int listen_on(const char *ip, int port, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	memset(&ss, 0, sizeof(ss));
	char shown[80];
	if (strchr(ip, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, ip, &s6->sin6_addr) != 1)
			goto bad;
		sl = sizeof(*s6);
		snprintf(shown, sizeof(shown), "[%s]:%d", ip, port);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, ip, &s4->sin_addr) != 1)
			goto bad;
		sl = sizeof(*s4);
		snprintf(shown, sizeof(shown), "%s:%d", ip, port);
	}
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		int e = errno;
		snprintf(err, errlen, "listen tcp %s: socket: %s", shown, strerror(e));
		return -e;
	}
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	const char *step = "bind";
	if (bind(fd, (struct sockaddr *)&ss, sl) == 0) {
		step = "listen";
		if (listen(fd, 128) == 0)
			return fd;
	}
	int e = errno;
	close(fd);
	/* Go prints errno texts in lower case: "bind: address already in use". */
	char msg[128];
	snprintf(msg, sizeof(msg), "%s", strerror(e));
	msg[0] = (char)(msg[0] >= 'A' && msg[0] <= 'Z' ? msg[0] - 'A' + 'a' : msg[0]);
	snprintf(err, errlen, "listen tcp %s: %s: %s", shown, step, msg);
	return -e;
bad:
	snprintf(err, errlen, "listen tcp %s:%d: invalid ip address", ip, port);
	return -EINVAL;
}

int cc_http_start(struct cc_http **out, uv_loop_t *loop, const char *ip, int port,
                  const struct cc_http_route *routes, size_t nroutes, void *ud, char *err,
                  size_t errlen)
{
	int fd = listen_on(ip, port, err, errlen);
	if (fd < 0)
		return fd;
	struct cc_http *h = calloc(1, sizeof(*h));
	if (!h) {
		close(fd);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	h->loop = loop;
	h->routes = routes;
	h->nroutes = nroutes;
	h->ud = ud;
	uv_tcp_init(loop, &h->listener);
	uv_timer_init(loop, &h->sweep);
	uv_timer_init(loop, &h->kick);
	h->listener.data = h->sweep.data = h->kick.data = h;
	h->open_handles = 3;
	int rc = uv_tcp_open(&h->listener, fd);
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&h->listener, 128, on_connection);
	if (rc < 0) {
		snprintf(err, errlen, "listen tcp %s:%d: %s", ip, port, uv_strerror(rc));
		cc_http_stop(h);
		return rc;
	}
	uv_timer_start(&h->sweep, on_sweep, SWEEP_MS, SWEEP_MS);
	uv_unref((uv_handle_t *)&h->sweep);
	*out = h;
	return 0;
}

void cc_http_stop(struct cc_http *h)
{
	if (!h || h->stopped)
		return;
	h->stopped = true;
	/* answers still owed go out as 503s, streams end, then every connection
	 * closes once its answer is written */
	while (h->deferred) {
		struct cc_http_resp r = { .status = 200 };
		cc_http_error(&r, 503, "agent is shutting down");
		cc_http_finish((struct cc_http_pending *)h->deferred, &r);
	}
	for (struct cc_http_conn *c = h->conns, *next; c; c = next) {
		next = c->next;
		if (c->stream) {
			c->stream->ending = true;
			http_stream_flush(c->stream);
		}
	}
	for (struct cc_http_conn *c = h->conns, *next; c; c = next) {
		next = c->next;
		c->keep_alive = false;
		if (c->writes)
			c->close_after_write = true;
		else
			http_conn_close(c);
		c->state = C_DRAINING;
	}
	uv_timer_stop(&h->sweep);
	uv_timer_stop(&h->kick);
	uv_close((uv_handle_t *)&h->listener, on_handle_closed);
	uv_close((uv_handle_t *)&h->sweep, on_handle_closed);
	uv_close((uv_handle_t *)&h->kick, on_handle_closed);
}
