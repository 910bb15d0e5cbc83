/* What the HTTP-API subcommands (members, kv, operator, info, ...) share: the
 * agent's address, one HTTP request (plain sockets), Consul's error wording, columnize-style
 * tables and Go flag-package parsing. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

const char *cc_cli_http_addr(const char *flag, char *buf, size_t cap)
{
	const char *a = flag;
	if (!a || !a[0])
		a = getenv("CONCLAVE_HTTP_ADDR");
	if (!a || !a[0])
		a = getenv("CONSUL_HTTP_ADDR");
	if (!a || !a[0])
		a = "127.0.0.1:8500";
	snprintf(buf, cap, "%s%s", strstr(a, "://") ? "" : "http://", a);
	size_t n = strlen(buf);
	while (n && buf[n - 1] == '/')
		buf[--n] = '\0';
	return buf;
}

const char *cc_cli_take_http_addr(int *argc, char **argv)
{
	const char *addr = NULL;
	int w = 0;
	for (int i = 0; i < *argc; i++) {
		const char *a = argv[i];
		if (strncmp(a, "-http-addr=", 11) == 0 || strncmp(a, "--http-addr=", 12) == 0)
			addr = strchr(a, '=') + 1;
		else if ((strcmp(a, "-http-addr") == 0 || strcmp(a, "--http-addr") == 0) &&
		         i + 1 < *argc)
			addr = argv[++i];
		else
			argv[w++] = argv[i];
	}
	*argc = w;
	return addr;
}

#define CALL_TIMEOUT_MS 60000
#define RESPONSE_MAX (256u << 20)   /* a KV export of a big store still fits */

static int append(struct cc_cli_body *b, const char *p, size_t n)
{
	char *m = realloc(b->p, b->n + n + 1);
	if (!m)
		return -1;
	b->p = m;
	memcpy(b->p + b->n, p, n);
	b->n += n;
	b->p[b->n] = '\0';
	return 0;
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Waits until fd is ready for events before deadline; 0, or -ETIMEDOUT. */
static int wait_fd(int fd, short events, long long deadline)
{
	for (;;) {
		long long left = deadline - now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		struct pollfd p = { fd, events, 0 };
		int r = poll(&p, 1, (int)left);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
	}
}

/* Connects to host:port (a name or an address) before deadline. Returns the
 * socket, or -errno of the last address tried. */
static int dial(const char *host, const char *port, long long deadline)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res;
	int gai = getaddrinfo(host, port, &hints, &res);
	if (gai)
		return gai == EAI_SYSTEM ? -errno : -EHOSTUNREACH;
	int rc = -ECONNREFUSED;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			rc = -errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ||
		    (errno == EINPROGRESS && (rc = wait_fd(fd, POLLOUT, deadline)) == 0)) {
			int soerr = 0;
			socklen_t sl = sizeof(soerr);
			getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
			if (soerr == 0) {
				freeaddrinfo(res);
				return fd;
			}
			rc = -soerr;
		} else if (errno != EINPROGRESS) {
			rc = -errno;
		}
		close(fd);
	}
	freeaddrinfo(res);
	return rc;
}

static int send_all(int fd, const char *p, size_t n, long long deadline)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
		} else if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
			int rc = wait_fd(fd, POLLOUT, deadline);
			if (rc)
				return rc;
		} else {
			return -errno;
		}
	}
	return 0;
}

/* One HTTP/1.0 exchange (the agent answers and closes: no chunking, no
 * keep-alive): the status, with the body in out; or -errno. */
static int exchange(int fd, const char *req, size_t reqlen, const void *data, size_t len,
                    struct cc_cli_body *out, long long deadline)
{
	int rc = send_all(fd, req, reqlen, deadline);
	if (rc == 0 && len)
		rc = send_all(fd, data, len, deadline);
	struct cc_cli_body raw = { 0 };
	char buf[65536];
	while (rc == 0) {
		ssize_t r = recv(fd, buf, sizeof(buf), 0);
		if (r > 0) {
			if (raw.n + (size_t)r > RESPONSE_MAX || append(&raw, buf, (size_t)r))
				rc = -EFBIG;
		} else if (r == 0) {
			break;
		} else if (errno == EAGAIN || errno == EINTR) {
			rc = wait_fd(fd, POLLIN, deadline);
		} else {
			rc = -errno;
		}
	}
	int status = 0;
	char *end = raw.p ? strstr(raw.p, "\r\n\r\n") : NULL;
	if (rc == 0 && (!end || sscanf(raw.p, "HTTP/%*d.%*d %d", &status) != 1))
		rc = -EPROTO;
	if (rc == 0) {
		size_t off = (size_t)(end + 4 - raw.p);
		if (raw.n > off && append(out, raw.p + off, raw.n - off))
			rc = -ENOMEM;
	}
	free(raw.p);
	return rc ? rc : status;
}

/* Connects to the agent named by base ("http://host[:port]") before
 * deadline. Returns the socket, or -1 with err in Go's url.Error wording
 * (m: "Get", "Put", ...); *hpp and *hlp get the host[:port] text. */
static int connect_base(const char *m, const char *base, const char *path, long long deadline,
                        const char **hpp, size_t *hlp, char *err, size_t errlen)
{
	if (strncmp(base, "http://", 7) != 0) {
		snprintf(err, errlen, "%s %s%s: unsupported protocol scheme (only http:// is)", m,
		         base, path);
		return -1;
	}
	/* host[:port] after the scheme; [v6]:port too */
	const char *hp = base + 7;
	size_t hl = strcspn(hp, "/?");
	char host[256], port[8] = "80";
	const char *colon = hl && hp[0] == '[' ? memchr(hp, ']', hl) : NULL;
	colon = colon ? (colon[1] == ':' ? colon + 1 : NULL) : memchr(hp, ':', hl);
	size_t namelen = colon ? (size_t)(colon - hp) : hl;
	if (namelen >= sizeof(host) || (colon && hl - namelen - 1 >= sizeof(port))) {
		snprintf(err, errlen, "%s %s%s: invalid address", m, base, path);
		return -1;
	}
	memcpy(host, hp[0] == '[' ? hp + 1 : hp, namelen - (hp[0] == '[' ? 2 : 0));
	host[namelen - (hp[0] == '[' ? 2 : 0)] = '\0';
	if (colon)
		snprintf(port, sizeof(port), "%.*s", (int)(hl - namelen - 1), colon + 1);
	int fd = dial(host, port, deadline);
	if (fd < 0) {
		/* as Go's dialer: "dial tcp 127.0.0.1:8500: connect: connection refused" */
		char e[128];
		snprintf(e, sizeof(e), "%s", strerror(-fd));
		e[0] = (char)tolower((unsigned char)e[0]);
		snprintf(err, errlen, "%s %s%s: dial tcp %.*s%s: connect: %s", m, base, path, (int)hl,
		         hp, colon ? "" : ":80", e);
		return -1;
	}
	*hpp = hp;
	*hlp = hl;
	return fd;
}

/* Go's url.Error names the method as "Get", "Put", "Delete". */
static void go_method(char *m, size_t cap, const char *method)
{
	snprintf(m, cap, "%s", method);
	for (char *p = m + 1; *p; p++)
		*p = (char)tolower((unsigned char)*p);
}

int cc_cli_call(const char *method, const char *base, const char *path, const void *data,
                size_t len, struct cc_cli_body *out, char *err, size_t errlen)
{
	char m[16];
	go_method(m, sizeof(m), method);
	long long deadline = now_ms() + CALL_TIMEOUT_MS;
	const char *hp;
	size_t hl;
	int fd = connect_base(m, base, path, deadline, &hp, &hl, err, errlen);
	if (fd < 0)
		return -1;
	/* a raw body, as Go's client sends it: no form type */
	size_t reqcap = strlen(method) + strlen(path) + hl + 128;
	char *req = malloc(reqcap);
	int st = -ENOMEM;
	if (req) {
		int n = snprintf(req, reqcap, "%s %s HTTP/1.0\r\nHost: %.*s\r\nContent-Length: %zu\r\n"
		                 "User-Agent: conclave\r\n\r\n", method, path, (int)hl, hp, len);
		st = exchange(fd, req, (size_t)n, data, len, out, deadline);
	}
	free(req);
	close(fd);
	if (st < 0) {
		snprintf(err, errlen, "%s %s%s: %s", m, base, path,
		         st == -ETIMEDOUT ? "context deadline exceeded (Client.Timeout exceeded)"
		         : st == -EPROTO  ? "malformed HTTP response"
		                          : strerror(-st));
		return -1;
	}
	return st;
}

/* Reads what the agent sends: the head (before the deadline), then, for a
 * 200, the body to on_data as it arrives until the agent closes, *stop is
 * set or on_data says stop; another status's body into out. The status, or
 * -errno. */
static int stream_in(int fd, long long deadline, cc_cli_data_fn on_data, void *ud,
                     volatile sig_atomic_t *stop, struct cc_cli_body *out)
{
	struct cc_cli_body head = { 0 };
	int status = 0;
	char buf[16384];
	for (;;) {
		if (stop && *stop)
			break;
		struct pollfd p = { fd, POLLIN, 0 };
		int r = poll(&p, 1, 250);
		if (r < 0 && errno != EINTR) {
			status = -errno;
			break;
		}
		if (r <= 0) {
			if (!status && now_ms() > deadline) {
				status = -ETIMEDOUT;
				break;
			}
			continue;
		}
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0) {
			if (!status)
				status = n == 0 ? -EPROTO : -errno;
			break;
		}
		if (status == 200) {
			if (on_data(ud, buf, (size_t)n))
				break;
			continue;
		}
		if (status) {
			if (out->n + (size_t)n <= RESPONSE_MAX && append(out, buf, (size_t)n)) {
				status = -ENOMEM;
				break;
			}
			continue;
		}
		if (head.n + (size_t)n > 65536 || append(&head, buf, (size_t)n)) {
			status = -EPROTO;
			break;
		}
		char *end = strstr(head.p, "\r\n\r\n");
		if (!end)
			continue;
		if (sscanf(head.p, "HTTP/%*d.%*d %d", &status) != 1 || status <= 0) {
			status = -EPROTO;
			break;
		}
		size_t off = (size_t)(end + 4 - head.p), rest = head.n - off;
		if (rest && status == 200 && on_data(ud, head.p + off, rest))
			break;
		if (rest && status != 200 && append(out, head.p + off, rest)) {
			status = -ENOMEM;
			break;
		}
	}
	free(head.p);
	return status;
}

int cc_cli_stream(const char *base, const char *path, cc_cli_data_fn on_data, void *ud,
                  volatile sig_atomic_t *stop, struct cc_cli_body *out, char *err, size_t errlen)
{
	long long deadline = now_ms() + CALL_TIMEOUT_MS;
	const char *hp;
	size_t hl;
	int fd = connect_base("Get", base, path, deadline, &hp, &hl, err, errlen);
	if (fd < 0)
		return -1;
	size_t reqcap = strlen(path) + hl + 128;
	char *req = malloc(reqcap);
	int st = -ENOMEM;
	if (req) {
		int n = snprintf(req, reqcap, "GET %s HTTP/1.0\r\nHost: %.*s\r\n"
		                 "User-Agent: conclave\r\n\r\n", path, (int)hl, hp);
		st = send_all(fd, req, (size_t)n, deadline);
		if (st == 0)
			st = stream_in(fd, deadline, on_data, ud, stop, out);
	}
	free(req);
	close(fd);
	if (st < 0) {
		snprintf(err, errlen, "Get %s%s: %s", base, path,
		         st == -ETIMEDOUT ? "context deadline exceeded (Client.Timeout exceeded)"
		         : st == -EPROTO  ? "malformed HTTP response"
		                          : strerror(-st));
		return -1;
	}
	return st;
}

const char *cc_cli_error(int status, const struct cc_cli_body *b, const char *err, char *buf,
                         size_t cap)
{
	if (status < 0)
		snprintf(buf, cap, "%s", err);
	else
		snprintf(buf, cap, "Unexpected response code: %d (%s)", status, b->p ? b->p : "");
	return buf;
}

char *cc_cli_escape(const char *s, bool keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = malloc(3 * strlen(s) + 1);
	size_t o = 0;
	for (const unsigned char *p = (const unsigned char *)s; out && *p; p++) {
		if (isalnum(*p) || strchr("-._~", *p) || (keep_slash && *p == '/')) {
			out[o++] = (char)*p;
		} else {
			out[o++] = '%';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 15];
		}
	}
	if (out)
		out[o] = '\0';
	return out;
}

void cc_cli_columns(FILE *f, const char *const *cell, size_t nrows, size_t ncols)
{
	size_t w[16] = { 0 };
	if (ncols == 0 || ncols > 16)
		return;
	for (size_t i = 0; i < nrows; i++)
		for (size_t c = 0; c < ncols; c++)
			if (strlen(cell[i * ncols + c]) > w[c])
				w[c] = strlen(cell[i * ncols + c]);
	for (size_t i = 0; i < nrows; i++) {
		for (size_t c = 0; c + 1 < ncols; c++)
			fprintf(f, "%-*s  ", (int)w[c], cell[i * ncols + c]);
		fprintf(f, "%s\n", cell[i * ncols + ncols - 1]);
	}
}

/* strconv.ParseBool's spellings. */
static int parse_bool(const char *v, bool *out)
{
	static const char *const t[] = { "1", "t", "T", "TRUE", "true", "True" };
	static const char *const f[] = { "0", "f", "F", "FALSE", "false", "False" };
	for (size_t i = 0; i < 6; i++) {
		if (strcmp(v, t[i]) == 0 || strcmp(v, f[i]) == 0) {
			*out = strcmp(v, t[i]) == 0;
			return 0;
		}
	}
	return -1;
}

/* strconv.ParseUint(v, 0, 64): decimal, 0x.. hex, 0.. octal; no sign. */
static int parse_u64(const char *v, uint64_t *out)
{
	char *end;
	if (!isdigit((unsigned char)v[0]))
		return -1;
	errno = 0;
	unsigned long long x = strtoull(v, &end, 0);
	if (*end || errno)
		return -1;
	*out = x;
	return 0;
}

static int is_help(const char *a)
{
	return strcmp(a, "-h") == 0 || strcmp(a, "-help") == 0 || strcmp(a, "--help") == 0;
}

/* Go's FlagSet: the error, then the usage, on stderr. */
static int parse_fail(const char *usage, const char *msg)
{
	fprintf(stderr, "%s\n\n%s", msg, usage);
	return -1;
}

int cc_cli_parse(int argc, char **argv, const struct cc_cli_flag *flags, size_t nflags,
                 const char *usage)
{
	/* like mitchellh/cli: a help flag anywhere asks for help */
	for (int i = 0; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (is_help(argv[i])) {
			fputs(usage, stdout);
			return -2;
		}
	}
	int i = 0;
	while (i < argc) {
		const char *s = argv[i];
		if (s[0] != '-' || s[1] == '\0')
			break;
		if (strcmp(s, "--") == 0)
			return i + 1;
		const char *name = s + (s[1] == '-' ? 2 : 1);
		char msg[300];
		if (!name[0] || name[0] == '-' || name[0] == '=') {
			snprintf(msg, sizeof(msg), "bad flag syntax: %.200s", s);
			return parse_fail(usage, msg);
		}
		const char *eq = strchr(name, '=');
		size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
		const struct cc_cli_flag *f = NULL;
		for (size_t k = 0; k < nflags && !f; k++)
			if (strlen(flags[k].name) == nlen && strncmp(flags[k].name, name, nlen) == 0)
				f = &flags[k];
		char shown[128];
		snprintf(shown, sizeof(shown), "%.*s", (int)nlen, name);
		if (!f) {
			snprintf(msg, sizeof(msg), "flag provided but not defined: -%s", shown);
			return parse_fail(usage, msg);
		}
		i++;
		if (f->type == CC_CLI_BOOL || f->type == CC_CLI_OPTBOOL) {
			bool b = true;
			if (eq && parse_bool(eq + 1, &b)) {
				snprintf(msg, sizeof(msg), "invalid boolean value \"%.100s\" for -%s: parse error",
				         eq + 1, shown);
				return parse_fail(usage, msg);
			}
			if (f->type == CC_CLI_BOOL)
				*(bool *)f->dst = b;
			else
				*(int *)f->dst = b;
			continue;
		}
		const char *v = eq ? eq + 1 : NULL;
		if (!v && i < argc)
			v = argv[i++];
		if (!v) {
			snprintf(msg, sizeof(msg), "flag needs an argument: -%s", shown);
			return parse_fail(usage, msg);
		}
		if (f->type == CC_CLI_STR) {
			*(const char **)f->dst = v;
		} else if (f->type == CC_CLI_LIST) {
			struct cc_cli_list *l = f->dst;
			const char **nv = realloc(l->v, (l->n + 1) * sizeof(*nv));
			if (!nv)
				return parse_fail(usage, "out of memory");
			l->v = nv;
			l->v[l->n++] = v;
		} else if (parse_u64(v, f->dst)) {
			snprintf(msg, sizeof(msg), "invalid value \"%.100s\" for flag -%s: parse error", v,
			         shown);
			return parse_fail(usage, msg);
		}
	}
	return i;
}
