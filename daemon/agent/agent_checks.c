/* Check runners (Consul's agent/checks, reference §7.2), on the agent's loop:
 *
 * - script: runs Args directly (PATH lookup, no shell) every Interval, the
 *   first run after a random part of it; stdout and stderr go to one pipe, of
 *   which the last 4096 bytes are kept ("Captured N of M bytes" when cut);
 *   exit 0 passing, 1 warning, anything else critical; past Timeout (30 s)
 *   the process group is killed and the check is critical ("Timed out (30s)
 *   running check");
 * - ttl: critical ("TTL expired") unless pass/warn/fail/update comes within
 *   TTL of the last one;
 * - tcp: a connect to HOST:PORT within Timeout (10 s): passing ("TCP connect
 *   ADDR: Success") or critical with the error;
 * - http: an HTTP/1.0 request (Method, default GET) to an http:// URL:
 *   2xx passing, 429 warning, anything else critical; output "HTTP GET URL:
 *   200 OK Output: BODY" (body cut at 4096 bytes).
 *
 * A run never overlaps the next: a tick that finds the previous run going is
 * skipped. Stopping a runner closes its handles; the memory goes once the
 * last handle has closed, and a stopped runner reports nothing. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/agent_internal.h"
#include "agent/agent_local.h"
#include "config/config.h"
#include "log/log.h"

#define MOD "agent"
#define HTTP_READ_MAX (64u * 1024u)

struct check_run {
	struct local_check *c;        /* NULL once stopped */
	uv_loop_t *loop;
	uv_timer_t tick, timeout;
	unsigned open;                /* handles not closed yet */
	unsigned closing;             /* the last run's handles still closing */
	bool busy, timed_out;
	/* script */
	uv_process_t proc;
	uv_pipe_t out;
	bool proc_live, pipe_live;
	int64_t exit_status;
	int term_signal;
	char buf[CHECK_OUTPUT_MAX];
	size_t held;
	uint64_t total;
	/* tcp and http */
	uv_getaddrinfo_t gai;
	bool gai_live;
	uv_tcp_t tcp;
	bool tcp_live;
	uv_connect_t conn;
	uv_write_t wr;
	char target[CATALOG_STR_MAX + 8];  /* host:port */
	char host[CATALOG_STR_MAX], port[8], *path;
	char *req, *resp;
	size_t resp_len;
};

static bool per_run(const struct check_run *r, const uv_handle_t *h)
{
	return h == (const uv_handle_t *)&r->proc || h == (const uv_handle_t *)&r->out ||
	       h == (const uv_handle_t *)&r->tcp;
}

static void on_closed(uv_handle_t *h)
{
	struct check_run *r = h->data;
	if (per_run(r, h))
		r->closing--;
	if (--r->open == 0 && !r->c) {
		free(r->req);
		free(r->resp);
		free(r->path);
		free(r);
	}
}

static void close_handle(struct check_run *r, uv_handle_t *h)
{
	if (!uv_is_closing(h)) {
		r->closing += per_run(r, h);
		uv_close(h, on_closed);
	}
}

static void report(struct check_run *r, enum catalog_status st, const char *out)
{
	r->busy = false;
	uv_timer_stop(&r->timeout);
	if (r->c)
		local_check_update(r->c, st, out);
}

/* ---- script ---- */

static void keep_output(struct check_run *r, const char *p, size_t n)
{
	r->total += n;
	if (n >= CHECK_OUTPUT_MAX) {
		memcpy(r->buf, p + n - CHECK_OUTPUT_MAX, CHECK_OUTPUT_MAX);
		r->held = CHECK_OUTPUT_MAX;
		return;
	}
	if (r->held + n > CHECK_OUTPUT_MAX) {
		size_t drop = r->held + n - CHECK_OUTPUT_MAX;
		memmove(r->buf, r->buf + drop, r->held - drop);
		r->held -= drop;
	}
	memcpy(r->buf + r->held, p, n);
	r->held += n;
}

static void script_done(struct check_run *r)
{
	if (r->proc_live || r->pipe_live)
		return;
	char out[CHECK_OUTPUT_MAX + 128];
	int n = 0;
	if (r->total > r->held)
		n = snprintf(out, sizeof(out), "Captured %zu of %llu bytes\n...\n", r->held,
		             (unsigned long long)r->total);
	snprintf(out + n, sizeof(out) - (size_t)n, "%.*s", (int)r->held, r->buf);
	if (r->timed_out) {
		char d[32], msg[96];
		cc_duration_format(r->c ? r->c->d.timeout_ms : 0, d, sizeof(d));
		snprintf(msg, sizeof(msg), "Timed out (%s) running check", d);
		if (r->c)
			CC_WARN(MOD, "Timed out running check", "check", r->c->d.id, "timeout", d);
		report(r, CATALOG_CRITICAL, msg);
		return;
	}
	report(r, r->exit_status == 0 && !r->term_signal   ? CATALOG_PASSING
	          : r->exit_status == 1 && !r->term_signal ? CATALOG_WARNING
	                                                   : CATALOG_CRITICAL,
	       out);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	static char scratch[16384];   /* one loop thread: consumed before the next read */
	(void)h;
	(void)hint;
	*b = uv_buf_init(scratch, sizeof(scratch));
}

static void on_script_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct check_run *r = s->data;
	if (n > 0) {
		keep_output(r, b->base, (size_t)n);
		return;
	}
	if (n < 0) {
		r->pipe_live = false;
		close_handle(r, (uv_handle_t *)&r->out);
		script_done(r);
	}
}

static void on_script_exit(uv_process_t *p, int64_t status, int sig)
{
	struct check_run *r = p->data;
	r->exit_status = status;
	r->term_signal = sig;
	r->proc_live = false;
	close_handle(r, (uv_handle_t *)&r->proc);
	script_done(r);
}

static void script_start(struct check_run *r)
{
	struct local_check *c = r->c;
	int fds[2];
	r->held = 0;
	r->total = 0;
	r->timed_out = false;
	if (uv_pipe(fds, 0, 0) != 0) {
		report(r, CATALOG_CRITICAL, "cannot create a pipe for the check's output");
		return;
	}
	char **argv = calloc(c->d.nargs + 1, sizeof(char *));
	if (!argv) {
		close(fds[0]);
		close(fds[1]);
		report(r, CATALOG_CRITICAL, "out of memory");
		return;
	}
	memcpy(argv, c->d.args, c->d.nargs * sizeof(char *));
	uv_stdio_container_t io[3] = {
		{ .flags = UV_IGNORE },
		{ .flags = UV_INHERIT_FD, .data.fd = fds[1] },
		{ .flags = UV_INHERIT_FD, .data.fd = fds[1] },
	};
	uv_process_options_t o = { .exit_cb = on_script_exit, .file = argv[0], .args = argv,
		                   .stdio = io, .stdio_count = 3,
		                   .flags = UV_PROCESS_DETACHED };   /* own group: killed whole */
	r->proc.data = r;
	int rc = uv_spawn(r->loop, &r->proc, &o);
	free(argv);
	close(fds[1]);
	r->open++;   /* uv_spawn initializes the handle even when it fails */
	if (rc) {
		close(fds[0]);
		close_handle(r, (uv_handle_t *)&r->proc);
		char out[CATALOG_STR_MAX + 96];
		snprintf(out, sizeof(out), "exec: \"%s\": %s", c->d.args[0],
		         rc == UV_ENOENT ? "executable file not found in $PATH" : uv_strerror(rc));
		CC_ERROR(MOD, "Check failed to run", "check", c->d.id, "error", out);
		report(r, CATALOG_CRITICAL, out);
		return;
	}
	r->proc_live = true;
	uv_pipe_init(r->loop, &r->out, 0);
	r->open++;
	r->out.data = r;
	if (uv_pipe_open(&r->out, fds[0]) == 0 &&
	    uv_read_start((uv_stream_t *)&r->out, on_alloc, on_script_read) == 0) {
		r->pipe_live = true;
	} else {
		close_handle(r, (uv_handle_t *)&r->out);
	}
}

/* ---- tcp and http ---- */

static void net_fail(struct check_run *r, const char *what)
{
	char out[CATALOG_STR_MAX * 2 + 96];
	if (r->c && r->c->d.kind == CHECK_HTTP)
		snprintf(out, sizeof(out), "%s \"%s\": dial tcp %s: %s", r->c->d.method, r->c->d.http,
		         r->target, what);
	else
		snprintf(out, sizeof(out), "dial tcp %s: %s", r->target, what);
	if (r->c && r->c->d.kind == CHECK_TCP)
		CC_WARN(MOD, "Check socket connection failed", "check", r->c->d.id, "error", out);
	report(r, CATALOG_CRITICAL, out);
}

static void net_close(struct check_run *r)
{
	if (r->tcp_live) {
		r->tcp_live = false;
		close_handle(r, (uv_handle_t *)&r->tcp);
	}
}

static const char *reason_phrase(int code)
{
	static const struct { int c; const char *t; } t[] = {
		{ 200, "OK" }, { 201, "Created" }, { 202, "Accepted" }, { 204, "No Content" },
		{ 301, "Moved Permanently" }, { 302, "Found" }, { 304, "Not Modified" },
		{ 400, "Bad Request" }, { 401, "Unauthorized" }, { 403, "Forbidden" },
		{ 404, "Not Found" }, { 405, "Method Not Allowed" }, { 429, "Too Many Requests" },
		{ 500, "Internal Server Error" }, { 502, "Bad Gateway" },
		{ 503, "Service Unavailable" }, { 504, "Gateway Timeout" },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (t[i].c == code)
			return t[i].t;
	return "";
}

static void http_done(struct check_run *r)
{
	net_close(r);
	if (!r->c)
		return;
	int code = 0;
	const char *sep = r->resp ? strstr(r->resp, "\r\n\r\n") : NULL;
	if (!r->resp || sscanf(r->resp, "HTTP/%*d.%*d %d", &code) != 1 || code < 100 || code > 999) {
		net_fail(r, "malformed HTTP response");
		return;
	}
	const char *body = sep ? sep + 4 : "";
	size_t blen = sep ? r->resp_len - (size_t)(body - r->resp) : 0;
	if (blen > CHECK_OUTPUT_MAX)
		blen = CHECK_OUTPUT_MAX;
	char out[CHECK_OUTPUT_MAX + CATALOG_STR_MAX + 96];
	snprintf(out, sizeof(out), "HTTP %s %s: %d %s Output: %.*s", r->c->d.method, r->c->d.http,
	         code, reason_phrase(code), (int)blen, body);
	report(r, code >= 200 && code < 300 ? CATALOG_PASSING
	          : code == 429             ? CATALOG_WARNING
	                                    : CATALOG_CRITICAL,
	       out);
}

static void on_http_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct check_run *r = s->data;
	if (n > 0 && r->resp_len < HTTP_READ_MAX) {
		size_t take = (size_t)n;
		if (take > HTTP_READ_MAX - r->resp_len)
			take = HTTP_READ_MAX - r->resp_len;
		char *x = realloc(r->resp, r->resp_len + take + 1);
		if (!x) {
			net_close(r);
			report(r, CATALOG_CRITICAL, "out of memory");
			return;
		}
		r->resp = x;
		memcpy(r->resp + r->resp_len, b->base, take);
		r->resp_len += take;
		r->resp[r->resp_len] = 0;
	}
	if (n < 0 || r->resp_len >= HTTP_READ_MAX) {
		if (n < 0 && n != UV_EOF && !r->resp_len) {
			net_close(r);
			net_fail(r, uv_strerror((int)n));
			return;
		}
		http_done(r);
	}
}

static void on_written(uv_write_t *w, int status)
{
	struct check_run *r = w->data;
	if (status == UV_ECANCELED || !r->tcp_live)
		return;
	if (status) {
		net_close(r);
		net_fail(r, uv_strerror(status));
	}
}

static void on_connected(uv_connect_t *cr, int status)
{
	struct check_run *r = cr->data;
	if (status == UV_ECANCELED || !r->tcp_live)
		return;
	if (status) {
		net_close(r);
		net_fail(r, status == UV_ECONNREFUSED ? "connect: connection refused"
		                                      : uv_strerror(status));
		return;
	}
	if (!r->c || r->c->d.kind == CHECK_TCP) {
		net_close(r);
		char out[CATALOG_STR_MAX + 32];
		snprintf(out, sizeof(out), "TCP connect %s: Success", r->target);
		report(r, CATALOG_PASSING, out);
		return;
	}
	free(r->req);
	free(r->resp);
	r->resp = NULL;
	r->resp_len = 0;
	size_t cap = strlen(r->c->d.method) + strlen(r->path) + strlen(r->target) + 160;
	if (!(r->req = malloc(cap))) {
		net_close(r);
		report(r, CATALOG_CRITICAL, "out of memory");
		return;
	}
	int len = snprintf(r->req, cap,
	                   "%s %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: Consul Health Check\r\n"
	                   "Accept: text/plain, text/*, */*\r\n\r\n",
	                   r->c->d.method, r->path, r->target);
	uv_buf_t b = uv_buf_init(r->req, (unsigned)len);
	r->wr.data = r;
	r->tcp.data = r;
	if (uv_write(&r->wr, (uv_stream_t *)&r->tcp, &b, 1, on_written) ||
	    uv_read_start((uv_stream_t *)&r->tcp, on_alloc, on_http_read)) {
		net_close(r);
		net_fail(r, "cannot send the request");
	}
}

static void on_resolved(uv_getaddrinfo_t *g, int status, struct addrinfo *ai)
{
	struct check_run *r = g->data;
	r->gai_live = false;
	if (!r->c || !r->busy) {   /* stopped or timed out meanwhile */
		uv_freeaddrinfo(ai);
		if (!r->c && --r->open == 0) {
			free(r->req);
			free(r->resp);
			free(r->path);
			free(r);
		}
		return;
	}
	r->open--;
	if (status || !ai) {
		uv_freeaddrinfo(ai);
		char what[CATALOG_STR_MAX + 64];
		snprintf(what, sizeof(what), "lookup %s: no such host", r->host);
		net_fail(r, what);
		return;
	}
	uv_tcp_init(r->loop, &r->tcp);
	r->tcp.data = r;
	r->open++;
	r->tcp_live = true;
	r->conn.data = r;
	int rc = uv_tcp_connect(&r->conn, &r->tcp, ai->ai_addr, on_connected);
	uv_freeaddrinfo(ai);
	if (rc) {
		net_close(r);
		net_fail(r, uv_strerror(rc));
	}
}

/* host and port from "HOST:PORT" / "[V6]:PORT", or an http:// URL's
 * authority (default port 80) and path. */
static int split_target(struct check_run *r)
{
	const char *t = r->c->d.kind == CHECK_TCP ? r->c->d.tcp : r->c->d.http + 7;
	size_t alen = strcspn(t, "/?#");
	const char *path = t + alen;
	char auth[CATALOG_STR_MAX + 1];
	snprintf(auth, sizeof(auth), "%.*s", (int)alen, t);
	char *colon = strrchr(auth, ':');
	if (colon && strchr(colon, ']'))
		colon = NULL;   /* "[::1]" alone */
	const char *port = colon ? colon + 1 : r->c->d.kind == CHECK_HTTP ? "80" : NULL;
	if (colon)
		*colon = 0;
	char *h = auth;
	if (h[0] == '[' && h[strlen(h) - 1] == ']') {
		h[strlen(h) - 1] = 0;
		h++;
	}
	if (!port || !*port || strlen(port) > 5 || !h[0])
		return -1;
	snprintf(r->host, sizeof(r->host), "%s", h);
	snprintf(r->port, sizeof(r->port), "%s", port);
	snprintf(r->target, sizeof(r->target), strchr(h, ':') ? "[%s]:%s" : "%s:%s", h, port);
	free(r->path);
	r->path = strdup(*path == '/' ? path : "/");
	return r->path ? 0 : -1;
}

static void net_start(struct check_run *r)
{
	if (split_target(r)) {
		report(r, CATALOG_CRITICAL, "invalid address");
		return;
	}
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	r->gai.data = r;
	if (uv_getaddrinfo(r->loop, &r->gai, on_resolved, r->host, r->port, &hints) == 0) {
		r->gai_live = true;
		r->open++;   /* the request holds r until on_resolved */
	} else {
		net_fail(r, "lookup failed");
	}
}

/* ---- ticks and timeouts ---- */

static void on_timeout(uv_timer_t *t)
{
	struct check_run *r = t->data;
	if (!r->busy || !r->c)
		return;
	if (r->c->d.kind == CHECK_SCRIPT) {
		r->timed_out = true;
		if (r->proc_live)
			kill(-r->proc.pid, SIGKILL);
		return;   /* script_done reports once the process and pipe are gone */
	}
	if (r->gai_live)
		uv_cancel((uv_req_t *)&r->gai);
	net_close(r);
	net_fail(r, "i/o timeout");
}

static void on_tick(uv_timer_t *t)
{
	struct check_run *r = t->data;
	struct local_check *c = r->c;
	if (!c)
		return;
	if (c->d.kind == CHECK_TTL) {
		CC_WARN(MOD, "Check missed TTL, is now critical", "check", c->d.id);
		local_check_update(c, CATALOG_CRITICAL, "TTL expired");
		return;
	}
	if (r->busy || r->closing || r->gai_live)
		return;   /* the last run is still going or winding down */
	r->busy = true;
	uv_timer_start(&r->timeout, on_timeout, c->d.timeout_ms, 0);
	if (c->d.kind == CHECK_SCRIPT)
		script_start(r);
	else
		net_start(r);
}

int check_run_start(struct cc_agent *a, struct local_check *c)
{
	c->run = NULL;
	if (c->d.kind == CHECK_MAINT)
		return 0;
	struct check_run *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->c = c;
	r->loop = &a->loop;
	uv_timer_init(r->loop, &r->tick);
	uv_timer_init(r->loop, &r->timeout);
	r->tick.data = r->timeout.data = r;
	r->open = 2;
	c->run = r;
	if (c->d.kind == CHECK_TTL) {
		uv_timer_start(&r->tick, on_tick, c->d.ttl_ms, 0);
		return 0;
	}
	uint64_t every = c->d.interval_ms;
	if (every < CHECK_MIN_INTERVAL_MS) {
		char d[32];
		CC_WARN(MOD, "check has interval below minimum", "check", c->d.id, "minimum_interval",
		        cc_duration_format(CHECK_MIN_INTERVAL_MS, d, sizeof(d)));
		every = CHECK_MIN_INTERVAL_MS;
	}
	/* Consul staggers the first run over the interval */
	uv_timer_start(&r->tick, on_tick, (uint64_t)rand() % every, every);
	return 0;
}

void check_run_ttl_reset(struct local_check *c)
{
	if (c->run && c->d.kind == CHECK_TTL)
		uv_timer_start(&c->run->tick, on_tick, c->d.ttl_ms, 0);
}

void check_run_stop(struct local_check *c)
{
	struct check_run *r = c->run;
	if (!r)
		return;
	c->run = NULL;
	r->c = NULL;
	if (r->proc_live)
		kill(-r->proc.pid, SIGKILL);   /* its exit still closes the handle */
	else if (r->pipe_live) {
		r->pipe_live = false;
		close_handle(r, (uv_handle_t *)&r->out);
	}
	if (r->gai_live)
		uv_cancel((uv_req_t *)&r->gai);
	net_close(r);
	close_handle(r, (uv_handle_t *)&r->tick);
	close_handle(r, (uv_handle_t *)&r->timeout);
}
