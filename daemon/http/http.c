#include "http/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log/log.h"
#include "metrics/metrics.h"

#define MOD "agent.http"

struct reqstate;

struct cc_http {
	uv_loop_t *loop;
	struct reqstate *deferred; /* suspended requests, answered by cc_http_finish */
	struct cc_http_stream *streams; /* open streaming answers */
	struct MHD_Daemon *d;
	uv_poll_t poll;
	uv_timer_t timer;
	int open_handles;
	bool kick;                 /* run libmicrohttpd again on the next loop turn */
	const struct cc_http_route *routes;
	size_t nroutes;
	void *ud;
};

/* Per-request state kept by libmicrohttpd between handler calls. */
struct reqstate {
	char *body;
	size_t len;
	int too_big;
	/* deferred answers */
	struct cc_http *h;
	struct MHD_Connection *conn;
	bool deferred, ready;
	struct cc_http_resp resp;
	struct reqstate *next;
	struct cc_http_stream *stream; /* a streaming answer, set by cc_http_stream_start */
	/* Consul's per-route timing: http.<METHOD>.<pattern parts> */
	uint64_t start_ns;
	char metric[128];
};

struct cc_http_stream {
	struct cc_http *h;
	struct reqstate *st;       /* NULL once the request is over */
	struct MHD_Connection *conn;
	struct cc_http_stream *next;
	const char *content_type;
	char *buf;
	size_t off, len, cap, max;
	bool suspended, ending, dead;
	bool wake;                 /* resume before the next MHD_run */
	void (*on_closed)(void *ud);
	void *ud;
};

struct cc_http_conn {
	struct MHD_Connection *mhd;
	struct reqstate *st;
};

static void reschedule(struct cc_http *h);
static void resume_streams(struct cc_http *h);

static void on_timer(uv_timer_t *t)
{
	struct cc_http *h = t->data;
	resume_streams(h);
	MHD_run(h->d);
	reschedule(h);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
	struct cc_http *h = p->data;
	resume_streams(h);
	MHD_run(h->d);
	reschedule(h);
}

static void reschedule(struct cc_http *h)
{
	MHD_UNSIGNED_LONG_LONG ms;
	if (h->kick) {
		h->kick = false;
		uv_timer_start(&h->timer, on_timer, 0, 0);
	} else if (MHD_get_timeout(h->d, &ms) == MHD_YES)
		uv_timer_start(&h->timer, on_timer, ms, 0);
	else
		uv_timer_stop(&h->timer);
}

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
static void metric_name(struct reqstate *st, const char *method, const struct cc_http_route *r)
{
	const char *pattern = r ? r->path : "/";
	size_t n = (size_t)snprintf(st->metric, sizeof(st->metric), "http.%.16s", method);
	for (const char *p = pattern + (pattern[0] == '/'); n < sizeof(st->metric);) {
		size_t k = strcspn(p, "/");
		n += (size_t)snprintf(st->metric + n, sizeof(st->metric) - n, ".%.*s",
		                      k ? (int)k : 1, k ? p : "_");
		if (!p[k])
			break;
		p += k + 1;
	}
}

static void record(struct reqstate *st)
{
	if (st->metric[0])
		cc_metric_since(st->metric, st->start_ns);
	st->metric[0] = '\0';
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

void cc_http_header(struct cc_http_resp *resp, const char *name, const char *value)
{
	if (resp->nheaders == 4)
		return;
	snprintf(resp->headers[resp->nheaders][0], sizeof(resp->headers[0][0]), "%s", name);
	snprintf(resp->headers[resp->nheaders][1], sizeof(resp->headers[0][1]), "%s", value);
	resp->nheaders++;
}

static enum MHD_Result send_resp(struct MHD_Connection *c, struct cc_http_resp *r)
{
	struct MHD_Response *mr = MHD_create_response_from_buffer(
		r->body_len, r->body ? r->body : (char *)"",
		r->body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (!mr) {
		free(r->body);
		return MHD_NO;
	}
	r->body = NULL;
	if (r->content_type)
		MHD_add_response_header(mr, "Content-Type", r->content_type);
	if (r->allow[0])
		MHD_add_response_header(mr, "Allow", r->allow);
	for (unsigned i = 0; i < r->nheaders; i++)
		MHD_add_response_header(mr, r->headers[i][0], r->headers[i][1]);
	enum MHD_Result rc = MHD_queue_response(c, (unsigned)r->status, mr);
	MHD_destroy_response(mr);
	return rc;
}

/* ---- streaming answers ---- */

/* Whether the client closed its side (a peek finds EOF or an error). */
static bool peer_gone(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (!ci)
		return false;
	char b;
	ssize_t r = recv(ci->connect_fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
	return r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct cc_http_stream *s = cls;
	size_t avail = s->len - s->off;
	if (avail) {
		size_t n = avail < max ? avail : max;
		memcpy(buf, s->buf + s->off, n);
		s->off += n;
		if (s->off == s->len)
			s->off = s->len = 0;
		return (ssize_t)n;
	}
	if (s->ending || !s->conn)
		return MHD_CONTENT_READER_END_OF_STREAM;
	if (peer_gone(s->conn))
		return MHD_CONTENT_READER_END_WITH_ERROR;
	/* nothing to send: park the connection until a write or a poke */
	MHD_suspend_connection(s->conn);
	s->suspended = true;
	return 0;
}

/* The connection is done with the response: the stream is over. */
static void stream_free(void *cls)
{
	struct cc_http_stream *s = cls;
	if (s->st)
		s->st->stream = NULL;
	for (struct cc_http_stream **pp = &s->h->streams; *pp; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	}
	if (s->on_closed)
		s->on_closed(s->ud);
	free(s->buf);
	free(s);
}

static enum MHD_Result send_stream(struct MHD_Connection *c, struct cc_http_stream *s)
{
	struct MHD_Response *mr =
		MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, stream_reader, s,
		                                  stream_free);
	if (!mr) {
		stream_free(s);
		return MHD_NO;
	}
	MHD_add_response_header(mr, "Content-Type", s->content_type);
	enum MHD_Result rc = MHD_queue_response(c, 200, mr);
	MHD_destroy_response(mr); /* the connection holds it; stream_free runs when it lets go */
	return rc;
}

/* Writes come from anywhere (a log line can be written from inside
 * libmicrohttpd's own callbacks), so a parked stream is only marked here and
 * resumed from the loop, before the next MHD_run. */
static void stream_wake(struct cc_http_stream *s)
{
	if (!s->suspended || !s->conn || s->wake || !s->h->d)
		return;
	s->wake = true;
	s->h->kick = true; /* for a wake from inside MHD_run, before reschedule */
	uv_timer_start(&s->h->timer, on_timer, 0, 0);
}

static void resume_streams(struct cc_http *h)
{
	for (struct cc_http_stream *s = h->streams; s; s = s->next) {
		if (!s->wake)
			continue;
		s->wake = false;
		if (s->suspended && s->conn) {
			s->suspended = false;
			MHD_resume_connection(s->conn);
		}
	}
}

struct cc_http_stream *cc_http_stream_start(const struct cc_http_req *req,
                                            const char *content_type, size_t max_buffer,
                                            void (*on_closed)(void *ud), void *ud)
{
	struct reqstate *st = req->conn->st;
	struct cc_http_stream *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->h = st->h;
	s->st = st;
	s->conn = st->conn;
	s->content_type = content_type;
	s->max = max_buffer;
	s->on_closed = on_closed;
	s->ud = ud;
	s->next = s->h->streams;
	s->h->streams = s;
	st->stream = s;
	return s;
}

int cc_http_stream_write(struct cc_http_stream *s, const char *data, size_t len)
{
	if (s->dead || s->ending || !s->conn)
		return -EPIPE;
	if (s->len - s->off + len > s->max)
		return -ENOBUFS;
	if (s->off && s->len + len > s->cap) { /* slide what is left to the front */
		memmove(s->buf, s->buf + s->off, s->len - s->off);
		s->len -= s->off;
		s->off = 0;
	}
	if (s->len + len > s->cap) {
		size_t cap = s->cap ? s->cap : 4096;
		while (cap < s->len + len)
			cap *= 2;
		if (cap > s->max)
			cap = s->max;
		char *b = realloc(s->buf, cap);
		if (!b)
			return -ENOMEM;
		s->buf = b;
		s->cap = cap;
	}
	memcpy(s->buf + s->len, data, len);
	s->len += len;
	stream_wake(s);
	return 0;
}

size_t cc_http_stream_buffered(const struct cc_http_stream *s)
{
	return s->len - s->off;
}

void cc_http_stream_poke(struct cc_http_stream *s)
{
	stream_wake(s);
}

void cc_http_stream_end(struct cc_http_stream *s)
{
	s->ending = true;
	stream_wake(s);
}

const char *cc_http_req_header(const struct cc_http_req *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn->mhd, MHD_HEADER_KIND, name);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload, size_t *upload_size, void **con_cls)
{
	struct cc_http *h = cls;
	struct reqstate *st = *con_cls;
	if (!st) {
		if (!(st = calloc(1, sizeof(*st))))
			return MHD_NO;
		st->h = h;
		st->conn = c;
		st->start_ns = cc_metrics_mono_ns();
		*con_cls = st;
		return MHD_YES;
	}
	if (st->deferred) {
		/* resumed: the answer is ready (or the server is stopping) */
		if (!st->ready)
			return MHD_YES;
		st->deferred = false;
		record(st);
		return send_resp(c, &st->resp);
	}
	if (*upload_size > 0) {
		if (!st->too_big && st->len + *upload_size <= CC_HTTP_MAX_BODY) {
			char *n = realloc(st->body, st->len + *upload_size + 1);
			if (!n)
				return MHD_NO;
			st->body = n;
			memcpy(st->body + st->len, upload, *upload_size);
			st->len += *upload_size;
			st->body[st->len] = '\0';
		} else {
			st->too_big = 1;
		}
		*upload_size = 0;
		return MHD_YES;
	}

	struct cc_http_resp resp = { .status = 200 };
	struct cc_http_conn conn = { c, st };
	const char *suffix = "";
	const struct cc_http_route *r = route(h, url, &suffix);
	metric_name(st, method, r);
	if (st->too_big) {
		cc_http_error(&resp, 413, "Request body too large: the limit is %u bytes",
		              CC_HTTP_MAX_BODY);
	} else if (!r) {
		resp.status = 404;
	} else if (strcmp(method, "OPTIONS") == 0) {
		snprintf(resp.allow, sizeof(resp.allow), "OPTIONS %s", r->methods);
	} else if (!method_allowed(r->methods, method)) {
		snprintf(resp.allow, sizeof(resp.allow), "OPTIONS %s", r->methods);
		cc_http_error(&resp, 405, "method %s not allowed", method);
	} else {
		struct cc_http_req req = { method, url, suffix, st->body ? st->body : "", st->len,
			                   &conn };
		r->handler(h->ud, &req, &resp);
		if (st->deferred) {
			CC_DEBUG(MOD, "Request deferred", "method", method, "url", url);
			return MHD_YES;
		}
		if (st->stream) {
			record(st);
			CC_DEBUG(MOD, "Streaming", "method", method, "url", url);
			return send_stream(c, st->stream);
		}
	}
	for (char *p = resp.allow; *p; p++)
		if (*p == ' ')
			*p = ',';
	record(st);
	CC_DEBUG(MOD, "Request finished", "method", method, "url", url);
	return send_resp(c, &resp);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
	struct reqstate *st = *con_cls;
	if (st) {
		if (st->stream) {
			st->stream->st = NULL;
			st->stream->conn = NULL;
			st->stream->dead = true;
		}
		free(st->body);
		free(st->resp.body);
		free(st);
	}
	*con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	size_t n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = '\0';
	CC_DEBUG(MOD, "libmicrohttpd", "message", msg);
}

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
	h->d = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME, 0, NULL,
	                        NULL, on_request, h,
	                        MHD_OPTION_LISTEN_SOCKET, fd,
	                        MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
	                        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
	                        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)60,
	                        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)1024,
	                        MHD_OPTION_END);
	if (!h->d) {
		close(fd);
		free(h);
		snprintf(err, errlen, "HTTP server on %s:%d: libmicrohttpd failed to start", ip, port);
		return -EIO;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD);
	uv_poll_init(loop, &h->poll, info->epoll_fd);
	uv_timer_init(loop, &h->timer);
	h->poll.data = h->timer.data = h;
	h->open_handles = 2;
	uv_poll_start(&h->poll, UV_READABLE, on_poll);
	reschedule(h);
	*out = h;
	return 0;
}

static void on_closed(uv_handle_t *hd)
{
	struct cc_http *h = hd->data;
	if (--h->open_handles == 0)
		free(h);
}

struct cc_http_pending *cc_http_defer(const struct cc_http_req *req)
{
	struct reqstate *st = req->conn->st;
	st->deferred = true;
	st->ready = false;
	st->next = st->h->deferred;
	st->h->deferred = st;
	MHD_suspend_connection(st->conn);
	return (struct cc_http_pending *)st;
}

void cc_http_finish(struct cc_http_pending *p, struct cc_http_resp *resp)
{
	struct reqstate *st = (struct reqstate *)p;
	struct cc_http *h = st->h;
	for (struct reqstate **pp = &h->deferred; *pp; pp = &(*pp)->next) {
		if (*pp == st) {
			*pp = st->next;
			break;
		}
	}
	st->resp = *resp;
	resp->body = NULL;
	st->ready = true;
	MHD_resume_connection(st->conn);
	if (h->d) {
		/* answered from inside MHD_run (the handler itself): reschedule
		 * must not push the timer back */
		h->kick = true;
		uv_timer_start(&h->timer, on_timer, 0, 0);
	}
}

void cc_http_stop(struct cc_http *h)
{
	if (!h)
		return;
	/* libmicrohttpd must not be stopped with suspended connections */
	for (struct cc_http_stream *s = h->streams; s; s = s->next) {
		s->ending = true;
		if (s->suspended && s->conn)
			MHD_resume_connection(s->conn);
		s->suspended = false;
		s->wake = false;
	}
	while (h->deferred) {
		struct cc_http_resp r = { .status = 200 };
		cc_http_error(&r, 503, "agent is shutting down");
		cc_http_finish((struct cc_http_pending *)h->deferred, &r);
	}
	MHD_run(h->d); /* lets those answers go out before the sockets close */
	uv_poll_stop(&h->poll);
	uv_timer_stop(&h->timer);
	uv_close((uv_handle_t *)&h->poll, on_closed);
	uv_close((uv_handle_t *)&h->timer, on_closed);
	MHD_stop_daemon(h->d); /* closes the listen socket, connections and the epoll fd */
	h->d = NULL;
}

const char *cc_http_query(const struct cc_http_req *req, const char *key)
{
	const char *v = NULL;
	size_t vlen = 0;
	if (MHD_lookup_connection_value_n(req->conn->mhd, MHD_GET_ARGUMENT_KIND, key, strlen(key),
	                                  &v, &vlen) != MHD_YES)
		return NULL;
	return v ? v : "";
}

/* cJSON indents with tabs and writes ":\t" between key and value; Consul (Go's
 * json.MarshalIndent) uses four spaces and ": ". Literal tabs only ever appear
 * as formatting, because cJSON escapes them inside strings. */
static char *go_indent(const char *s, size_t *len)
{
	size_t tabs = 0;
	for (const char *p = s; *p; p++)
		tabs += *p == '\t';
	char *out = malloc(strlen(s) + tabs * 3 + 2);
	if (!out)
		return NULL;
	char *o = out;
	for (const char *p = s; *p; p++) {
		/* cJSON prints an empty object as "{\n\t...}", Go as "{}"; a literal
		 * newline is always formatting (cJSON escapes them in strings) */
		if (*p == '{' && p[1] == '\n') {
			size_t t = strspn(p + 2, "\t");
			if (p[2 + t] == '}') {
				memcpy(o, "{}", 2);
				o += 2;
				p += 2 + t;
				continue;
			}
		}
		if (*p != '\t') {
			*o++ = *p;
		} else if (p > s && p[-1] == ':') {
			*o++ = ' ';
		} else {
			memcpy(o, "    ", 4);
			o += 4;
		}
	}
	*o++ = '\n';
	*o = '\0';
	*len = (size_t)(o - out);
	return out;
}

void cc_http_json_body(struct cc_http_resp *resp, const cJSON *j, bool pretty)
{
	char *s = pretty ? cJSON_Print(j) : cJSON_PrintUnformatted(j);
	free(resp->body);
	resp->body = NULL;
	resp->body_len = 0;
	resp->content_type = "application/json";
	if (!s) {
		cc_http_error(resp, 500, "out of memory");
		return;
	}
	if (pretty) {
		resp->body = go_indent(s, &resp->body_len);
		cJSON_free(s);
		if (!resp->body)
			cc_http_error(resp, 500, "out of memory");
		return;
	}
	resp->body_len = strlen(s);
	resp->body = malloc(resp->body_len + 1);
	if (resp->body)
		memcpy(resp->body, s, resp->body_len + 1);
	else
		cc_http_error(resp, 500, "out of memory");
	cJSON_free(s);
}

void cc_http_json(const struct cc_http_req *req, struct cc_http_resp *resp, const cJSON *j)
{
	cc_http_json_body(resp, j, cc_http_query(req, "pretty") != NULL);
}

void cc_http_error(struct cc_http_resp *resp, int status, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(buf))
		n = sizeof(buf) - 1;
	free(resp->body);
	resp->status = status;
	resp->content_type = "text/plain; charset=utf-8";
	resp->body = malloc((size_t)n + 1);
	resp->body_len = resp->body ? (size_t)n : 0;
	if (resp->body)
		memcpy(resp->body, buf, (size_t)n + 1);
}
