/* The DNS interface (reference §6): UDP and TCP listeners on every DNS
 * address at ports.dns, answers built by dns/dns_answer.h.
 *
 * A server agent answers from its own catalog after a stale read barrier (as
 * Consul's DNS reads are stale; a server that never had a leader waits for
 * one as any read does). A client agent has no catalog: a question that
 * reads it goes to a server as its raw bytes (server RPC KVS.Forward, first
 * byte AGENT_FORWARD_DNS, then a flag byte, then the query), the server
 * answers it as if asked directly and sends the DNS answer back, which the
 * client relays. Anything else (names outside the domain or the grammar,
 * FORMERR, NOTIMP) is answered locally. A failed RPC answers SERVFAIL and
 * logs ERROR "rpc error".
 *
 * TCP: 2-byte length framing, any number of queries per connection, at most
 * DNS_TCP_INFLIGHT answered at once (reading pauses beyond), closed after
 * DNS_TCP_IDLE_MS without a query; at most DNS_TCP_CONNS connections. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent_internal.h"
#include "dns/dns_answer.h"
#include "log/log.h"

#define MOD "agent.dns"
#define DNS_MAX_LISTEN 8
#define DNS_TCP_CONNS 128
#define DNS_TCP_INFLIGHT 16
#define DNS_TCP_IDLE_MS 10000
#define DNS_MAX_INFLIGHT 4096     /* questions being answered; UDP beyond is dropped */
#define FWD_TCP 1                 /* flag byte of a forwarded question */

struct dns_conn;

struct agent_dns {
	struct cc_agent *a;
	int refs;                 /* the agent's, open handles, requests, sends */
	bool stopped;
	uv_udp_t udp[DNS_MAX_LISTEN];
	uv_tcp_t tcp[DNS_MAX_LISTEN];
	char names[DNS_MAX_LISTEN][80];
	size_t nudp, ntcp;
	struct dns_conn *conns;
	size_t nconns, inflight;
	uint64_t rng;
	/* UDP datagrams are read here: DNS_MSG_MAX bytes from malloc, not a
	 * member of the calloc'd struct, so that its pages stay untouched (not
	 * resident) until datagrams that long arrive */
	uint8_t *rbuf;
};

struct dns_conn {
	uv_tcp_t h;
	uv_timer_t idle;
	struct agent_dns *d;
	struct dns_conn *next;
	int refs;                 /* its two handles, requests, writes */
	bool closing, reading;
	int inflight;
	uint8_t *buf;
	size_t len, cap;
	char peer[64];
};

/* One question being answered. */
struct dns_req {
	struct agent_dns *d;
	bool tcp;
	uv_udp_t *udp;            /* UDP: the socket it came on, and from whom */
	struct sockaddr_storage from;
	struct dns_conn *conn;    /* TCP */
	struct tr_call *call;     /* forwarded by a client agent: answered by RPC */
	uint8_t *raw;             /* the query as received */
	size_t raw_len;
	struct dns_msg q;
	uint64_t t0;
	char client[64];
};

static void dns_unref(struct agent_dns *d)
{
	if (--d->refs == 0) {
		if (d->a->dns == d)
			d->a->dns = NULL;
		free(d->rbuf);
		free(d);
	}
}

static void conn_unref(struct dns_conn *c)
{
	if (--c->refs == 0) {
		struct agent_dns *d = c->d;
		free(c->buf);
		free(c);
		dns_unref(d);
	}
}

/* ---- logging ---- */

static void on_answer_log(void *ud, enum dns_log_level lvl, const char *msg, const char *key,
                          const char *value)
{
	(void)ud;
	enum cc_log_level l = lvl == DNS_LOG_ERROR  ? CC_LOG_ERROR
	                      : lvl == DNS_LOG_WARN ? CC_LOG_WARN
	                                            : CC_LOG_DEBUG;
	if (key)
		cc_log(l, MOD, msg, key, value, (const char *)NULL);
	else
		cc_log(l, MOD, msg, (const char *)NULL);
}

static const char *type_name(uint16_t t, char *buf, size_t cap)
{
	static const struct {
		uint16_t t;
		const char *n;
	} names[] = { { DNS_TYPE_A, "A" },       { DNS_TYPE_NS, "NS" },   { DNS_TYPE_CNAME, "CNAME" },
		      { DNS_TYPE_SOA, "SOA" },   { DNS_TYPE_PTR, "PTR" }, { DNS_TYPE_TXT, "TXT" },
		      { DNS_TYPE_AAAA, "AAAA" }, { DNS_TYPE_SRV, "SRV" }, { DNS_TYPE_AXFR, "AXFR" },
		      { DNS_TYPE_ANY, "ANY" } };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].t == t)
			return names[i].n;
	snprintf(buf, cap, "TYPE%u", t);
	return buf;
}

/* A duration as Go prints one ("1.234ms", "56.7µs"). */
static void go_duration(uint64_t ns, char *out, size_t cap)
{
	const char *unit = "ns";
	double v = (double)ns;
	if (ns >= 1000000000u)
		v /= 1e9, unit = "s";
	else if (ns >= 1000000u)
		v /= 1e6, unit = "ms";
	else if (ns >= 1000u)
		v /= 1e3, unit = "µs";
	int n = snprintf(out, cap, "%.6f", v);
	while (n > 1 && out[n - 1] == '0')
		out[--n] = 0;
	if (n > 1 && out[n - 1] == '.')
		out[--n] = 0;
	snprintf(out + n, cap - (size_t)n, "%s", unit);
}

/* ---- answering ---- */

static uint32_t next_rand(void *ud)
{
	struct agent_dns *d = ud;
	d->rng ^= d->rng >> 12;
	d->rng ^= d->rng << 25;
	d->rng ^= d->rng >> 27;
	return (uint32_t)((d->rng * 0x2545F4914F6CDD1Dull) >> 32);
}

static void req_free(struct dns_req *r)
{
	struct agent_dns *d = r->d;
	dns_msg_free(&r->q);
	free(r->raw);
	d->inflight--;
	if (r->conn) {
		r->conn->inflight--;
		conn_unref(r->conn);
	}
	free(r);
	dns_unref(d);
}

static void on_udp_sent(uv_udp_send_t *s, int status)
{
	(void)status;
	struct agent_dns *d = s->data;
	free(s);
	dns_unref(d);
}

static void conn_pump(struct dns_conn *c);

static void on_tcp_written(uv_write_t *w, int status)
{
	(void)status;
	struct dns_conn *c = w->data;
	free(w);
	conn_unref(c);
}

/* Sends the encoded answer (takes buf over, which has 2 free bytes in
 * front for the TCP length) and ends the request. */
static void req_send(struct dns_req *r, uint8_t *buf, size_t len)
{
	struct agent_dns *d = r->d;
	if (r->call) {
		memmove(buf, buf + 2, len);
		struct cc_http_resp resp = { .status = 200, .body = (char *)buf, .body_len = len };
		agent_forward_reply(r->call, &resp);   /* frees the body */
		buf = NULL;
	} else if (d->stopped) {
		/* the listeners are closing: the answer has nowhere to go */
	} else if (!r->tcp) {
		uv_udp_send_t *s = malloc(sizeof(*s) + len);
		if (s) {
			memcpy((uint8_t *)(s + 1), buf + 2, len);
			uv_buf_t b = uv_buf_init((char *)(s + 1), (unsigned)len);
			s->data = d;
			d->refs++;
			if (uv_udp_send(s, r->udp, &b, 1, (const struct sockaddr *)&r->from, on_udp_sent)) {
				free(s);
				d->refs--;
			}
		}
	} else if (!r->conn->closing) {
		uv_write_t *w = malloc(sizeof(*w) + len + 2);
		if (w) {
			uint8_t *p = (uint8_t *)(w + 1);
			memcpy(p + 2, buf + 2, len);
			p[0] = (uint8_t)(len >> 8);
			p[1] = (uint8_t)len;
			uv_buf_t b = uv_buf_init((char *)p, (unsigned)len + 2);
			w->data = r->conn;
			r->conn->refs++;
			if (uv_write(w, (uv_stream_t *)&r->conn->h, &b, 1, on_tcp_written)) {
				free(w);
				r->conn->refs--;
			}
		}
	}
	free(buf);
	if (r->q.nqd == 1 && cc_log_get_level() <= CC_LOG_DEBUG) {
		char tb[16], cb[16], lat[32];
		const char *cls = r->q.qd[0].qclass == DNS_CLASS_IN ? "IN" : cb;
		snprintf(cb, sizeof(cb), "CLASS%u", r->q.qd[0].qclass);
		go_duration(uv_hrtime() - r->t0, lat, sizeof(lat));
		CC_DEBUG(MOD, "request served from client", "name", r->q.qd[0].name, "type",
		         type_name(r->q.qd[0].type, tb, sizeof(tb)), "class", cls, "latency", lat,
		         "client", r->client, "client_network", r->tcp ? "tcp" : "udp");
	}
	struct dns_conn *conn = r->conn;
	if (conn)
		conn->refs++;
	req_free(r);
	if (conn) {
		conn_pump(conn);   /* a slot is free: maybe more buffered questions */
		conn_unref(conn);
	}
}

/* Encodes resp within the query's size limit and sends it. */
static void req_reply(struct dns_req *r, struct dns_msg *resp)
{
	size_t limit = dns_answer_size_limit(&r->q, !r->tcp), len = 0;
	uint8_t *buf = malloc(limit + 2);
	int rc = buf ? dns_answer_pack(resp, limit, buf + 2, limit, &len) : DNS_E_NOMEM;
	dns_msg_free(resp);
	if (rc) {
		CC_ERROR(MOD, "failed to respond", "error", dns_strerror(rc));
		free(buf);
		req_free(r);
		return;
	}
	req_send(r, buf, len);
}

static void req_answer(struct dns_req *r, const struct catalog *cat, const char *err)
{
	struct dns_msg resp;
	int rc;
	if (err) {
		CC_ERROR(MOD, "rpc error", "error", err);
		rc = dns_answer_error(&r->q.h, &r->q.qd[0], DNS_RCODE_SERVFAIL, &resp);
	} else {
		struct dns_answer_config cfg = {
			.domain = DNS_DOMAIN_DEFAULT, .datacenter = r->d->a->cfg->datacenter,
			.now = (uint32_t)time(NULL), .udp = !r->tcp,
			.udp_answer_limit = DNS_UDP_ANSWER_LIMIT, .rand = next_rand, .rand_ud = r->d,
			.log = on_answer_log,
		};
		rc = dns_answer_build(&r->q, cat, &cfg, &resp);
	}
	if (rc) {
		dns_msg_free(&resp);
		CC_ERROR(MOD, "failed to respond", "error", dns_strerror(rc));
		req_free(r);
		return;
	}
	req_reply(r, &resp);
}

static void on_catalog_ready(void *ud, const char *err)
{
	struct dns_req *r = ud;
	struct cc_server *s = r->d->a->server;
	if (!err && !s)
		err = "No known Consul servers";
	req_answer(r, err ? NULL : cc_server_catalog(s), err);
}

/* A client agent: the server's answer to a forwarded question. */
static void on_forwarded_answer(void *ud, struct cc_http_resp *resp)
{
	struct dns_req *r = ud;
	struct dns_msg check;
	if (resp->status != 200) {
		char err[256];
		snprintf(err, sizeof(err), "%.*s", (int)(resp->body_len < 200 ? resp->body_len : 200),
		         resp->body ? resp->body : "");
		req_answer(r, NULL, err[0] ? err : "rpc error making call");
		return;
	}
	int rc = dns_msg_parse((const uint8_t *)resp->body, resp->body_len, &check);
	bool ok = rc == 0 && check.h.qr && check.h.id == r->q.h.id;
	dns_msg_free(&check);
	uint8_t *buf = ok ? malloc(resp->body_len + 2) : NULL;
	if (!buf) {
		req_answer(r, NULL, "rpc error making call: malformed DNS answer from the server");
		return;
	}
	memcpy(buf + 2, resp->body, resp->body_len);
	req_send(r, buf, resp->body_len);
}

/* A parsed question: answered now, after a read barrier, or by a server. */
static void req_dispatch(struct dns_req *r)
{
	struct cc_agent *a = r->d->a;
	struct dns_answer_config cfg = { .domain = DNS_DOMAIN_DEFAULT,
		                         .datacenter = a->cfg->datacenter };
	enum dns_need need = dns_answer_need(&r->q, &cfg);
	if (need == DNS_NEED_DROP) {
		req_free(r);
	} else if (need == DNS_NEED_NONE) {
		req_answer(r, NULL, NULL);
	} else if (a->server) {
		cc_server_read_barrier(a->server, CC_READ_STALE, on_catalog_ready, r);
	} else {
		uint8_t *fwd = malloc(r->raw_len + 2);
		if (!fwd) {
			req_answer(r, NULL, "out of memory");
			return;
		}
		fwd[0] = AGENT_FORWARD_DNS;
		fwd[1] = r->tcp ? FWD_TCP : 0;
		memcpy(fwd + 2, r->raw, r->raw_len);
		agent_forward_dns(a, fwd, r->raw_len + 2, on_forwarded_answer, r);
		free(fwd);
	}
}

/* Where a question came from. */
struct dns_src {
	bool tcp;
	uv_udp_t *udp;
	const struct sockaddr *from;
	struct dns_conn *conn;
	struct tr_call *call;
	const char *client;
};

/* A new question (the bytes are copied): parsed, then answered. */
static void req_start(struct agent_dns *d, const uint8_t *b, size_t len, const struct dns_src *src)
{
	struct dns_req *r = calloc(1, sizeof(*r));
	uint8_t *raw = malloc(len ? len : 1);
	if (!r || !raw) {
		free(r);
		free(raw);
		if (src->call)
			transport_rpc_reply(src->call, "out of memory", NULL, 0);
		return;
	}
	memcpy(raw, b, len);
	*r = (struct dns_req){ .d = d, .tcp = src->tcp, .udp = src->udp, .conn = src->conn,
		               .call = src->call, .raw = raw, .raw_len = len, .t0 = uv_hrtime() };
	if (src->from)
		memcpy(&r->from, src->from,
		       src->from->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
		                                        : sizeof(struct sockaddr_in));
	snprintf(r->client, sizeof(r->client), "%s", src->client);
	d->refs++;
	d->inflight++;
	if (r->conn) {
		r->conn->refs++;
		r->conn->inflight++;
	}
	int rc = dns_msg_parse(b, len, &r->q);
	if (rc == 0) {
		req_dispatch(r);
		return;
	}
	CC_DEBUG(MOD, "failed to decode a DNS message", "client", r->client, "error",
	         dns_strerror(rc));
	struct dns_header h = r->q.h;
	dns_msg_free(&r->q);
	struct dns_msg resp;
	if (rc == DNS_E_SHORT || h.qr || dns_answer_error(&h, NULL, DNS_RCODE_FORMERR, &resp)) {
		if (r->call)
			transport_rpc_reply(r->call, "rpc error: malformed DNS question", NULL, 0);
		req_free(r);
		return;
	}
	r->q.h = h;
	req_reply(r, &resp);
}

/* ---- UDP ---- */

static void peer_name(const struct sockaddr *sa, char *out, size_t cap)
{
	char ip[64] = "?";
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)sa;
		uv_ip4_name(s, ip, sizeof(ip));
		snprintf(out, cap, "%s:%d", ip, ntohs(s->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)sa;
		uv_ip6_name(s, ip, sizeof(ip));
		snprintf(out, cap, "[%s]:%d", ip, ntohs(s->sin6_port));
	} else {
		snprintf(out, cap, "?");
	}
}

static void on_udp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)suggested;
	struct agent_dns *d = h->data;
	*buf = uv_buf_init((char *)d->rbuf, DNS_MSG_MAX);
}

static void on_udp_recv(uv_udp_t *u, ssize_t nread, const uv_buf_t *buf,
                        const struct sockaddr *from, unsigned flags)
{
	struct agent_dns *d = u->data;
	if (nread <= 0 || !from || (flags & UV_UDP_PARTIAL) || d->stopped ||
	    d->inflight >= DNS_MAX_INFLIGHT)
		return;
	char client[64];
	peer_name(from, client, sizeof(client));
	struct dns_src src = { .udp = u, .from = from, .client = client };
	req_start(d, (const uint8_t *)buf->base, (size_t)nread, &src);
}

/* ---- TCP ---- */

static void on_conn_closed(uv_handle_t *h)
{
	conn_unref(h->data);
}

static void conn_close(struct dns_conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	struct agent_dns *d = c->d;
	for (struct dns_conn **p = &d->conns; *p; p = &(*p)->next) {
		if (*p == c) {
			*p = c->next;
			d->nconns--;
			break;
		}
	}
	uv_close((uv_handle_t *)&c->h, on_conn_closed);
	uv_close((uv_handle_t *)&c->idle, on_conn_closed);
}

static void on_tcp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)suggested;
	struct dns_conn *c = h->data;
	size_t max = 2 + DNS_MSG_MAX;
	if (c->cap - c->len < 512 && c->cap < max) {
		size_t cap = c->cap ? c->cap * 2 : 1024;
		if (cap < c->len + 512)
			cap = c->len + 512;
		if (cap > max)
			cap = max;
		uint8_t *nb = realloc(c->buf, cap);
		if (nb) {
			c->buf = nb;
			c->cap = cap;
		}
	}
	/* a full buffer (no memory) reads 0 bytes: libuv reports UV_ENOBUFS */
	*buf = uv_buf_init((char *)c->buf + c->len, (unsigned)(c->cap - c->len));
}

static void on_tcp_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

/* Starts the questions buffered on c while it has room for them; reads
 * more only while it does. */
static void conn_pump(struct dns_conn *c)
{
	/* an answer sent from inside the loop below (answered at once) calls
	 * back here: the loop goes on with the slot it freed */
	static bool pumping;
	if (c->closing || pumping)
		return;
	pumping = true;
	size_t off = 0;
	while (!c->closing && c->inflight < DNS_TCP_INFLIGHT && c->len - off >= 2) {
		size_t n = (size_t)c->buf[off] << 8 | c->buf[off + 1];
		if (n == 0) {
			conn_close(c);
			break;
		}
		if (c->len - off - 2 < n)
			break;
		struct dns_src src = { .tcp = true, .conn = c, .client = c->peer };
		req_start(c->d, c->buf + off + 2, n, &src);
		off += 2 + n;
	}
	pumping = false;
	if (c->closing)
		return;
	memmove(c->buf, c->buf + off, c->len - off);
	c->len -= off;
	bool room = c->inflight < DNS_TCP_INFLIGHT;
	if (room != c->reading) {
		if (room)
			uv_read_start((uv_stream_t *)&c->h, on_tcp_alloc, on_tcp_read);
		else
			uv_read_stop((uv_stream_t *)&c->h);
		c->reading = room;
	}
}

static void on_tcp_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	(void)buf;
	struct dns_conn *c = s->data;
	if (nread < 0) {
		conn_close(c);
		return;
	}
	c->len += (size_t)nread;
	uv_timer_again(&c->idle);
	conn_pump(c);
}

static void on_idle(uv_timer_t *t)
{
	struct dns_conn *c = t->data;
	if (c->inflight == 0)
		conn_close(c);
}

static void on_tcp_conn(uv_stream_t *server, int status)
{
	struct agent_dns *d = server->data;
	struct dns_conn *c = status < 0 || d->stopped ? NULL : calloc(1, sizeof(*c));
	if (!c)
		return;
	c->d = d;
	uv_tcp_init(&d->a->loop, &c->h);
	c->h.data = c;
	c->refs = 1;
	d->refs++;
	if (uv_accept(server, (uv_stream_t *)&c->h) || d->nconns >= DNS_TCP_CONNS) {
		CC_DEBUG(MOD, "refusing a TCP connection", "error",
		         d->nconns >= DNS_TCP_CONNS ? "too many connections" : "accept failed");
		c->closing = true;
		uv_close((uv_handle_t *)&c->h, on_conn_closed);
		return;
	}
	uv_timer_init(&d->a->loop, &c->idle);
	c->idle.data = c;
	c->refs++;
	struct sockaddr_storage ss;
	int sl = sizeof(ss);
	if (uv_tcp_getpeername(&c->h, (struct sockaddr *)&ss, &sl) == 0)
		peer_name((struct sockaddr *)&ss, c->peer, sizeof(c->peer));
	else
		snprintf(c->peer, sizeof(c->peer), "?");
	c->next = d->conns;
	d->conns = c;
	d->nconns++;
	uv_timer_start(&c->idle, on_idle, DNS_TCP_IDLE_MS, DNS_TCP_IDLE_MS);
	c->reading = uv_read_start((uv_stream_t *)&c->h, on_tcp_alloc, on_tcp_read) == 0;
	if (!c->reading)
		conn_close(c);
}

/* ---- start, stop, forwarded questions ---- */

static void on_listener_closed(uv_handle_t *h)
{
	dns_unref(h->data);
}

static void host_port(char *out, size_t cap, const char *ip, int port)
{
	snprintf(out, cap, strchr(ip, ':') ? "[%s]:%d" : "%s:%d", ip, port);
}

int agent_dns_start(struct cc_agent *a, char *err, size_t errlen)
{
	const struct cc_config *cfg = a->cfg;
	struct agent_dns *d = calloc(1, sizeof(*d));
	if (!d) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	d->a = a;
	d->refs = 1;
	d->rng = (uv_hrtime() ^ (uint64_t)getpid() << 32) | 1;
	a->dns = d;
	if (cfg->ports.dns < 0)
		return 0;   /* forwarded questions are still answered on a server */
	d->rbuf = malloc(DNS_MSG_MAX);
	if (!d->rbuf) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < cfg->dns_addrs.n && i < DNS_MAX_LISTEN; i++) {
		const char *ip = cfg->dns_addrs.v[i];
		struct sockaddr_storage ss;
		if (uv_ip4_addr(ip, cfg->ports.dns, (struct sockaddr_in *)&ss) &&
		    uv_ip6_addr(ip, cfg->ports.dns, (struct sockaddr_in6 *)&ss)) {
			snprintf(err, errlen, "error starting DNS server: invalid address %s", ip);
			return -1;
		}
		char *name = d->names[i];
		host_port(name, sizeof(d->names[0]), ip, cfg->ports.dns);
		uv_udp_init(&a->loop, &d->udp[i]);
		uv_tcp_init(&a->loop, &d->tcp[i]);
		d->udp[i].data = d->tcp[i].data = d;
		d->refs += 2;
		d->nudp++;
		d->ntcp++;
		int rc = uv_udp_bind(&d->udp[i], (struct sockaddr *)&ss, 0);
		if (!rc)
			rc = uv_udp_recv_start(&d->udp[i], on_udp_alloc, on_udp_recv);
		if (rc) {
			snprintf(err, errlen, "error starting DNS server: listen udp %s: bind: %s", name,
			         uv_strerror(rc));
			return -1;
		}
		CC_INFO("agent", "Started DNS server", "address", name, "network", "udp");
		rc = uv_tcp_bind(&d->tcp[i], (struct sockaddr *)&ss, 0);
		if (!rc)
			rc = uv_listen((uv_stream_t *)&d->tcp[i], 128, on_tcp_conn);
		if (rc) {
			snprintf(err, errlen, "error starting DNS server: listen tcp %s: bind: %s", name,
			         uv_strerror(rc));
			return -1;
		}
		CC_INFO("agent", "Started DNS server", "address", name, "network", "tcp");
	}
	return 0;
}

void agent_dns_stop(struct cc_agent *a)
{
	struct agent_dns *d = a->dns;
	if (!d)
		return;
	a->dns = NULL;
	d->stopped = true;
	for (size_t i = 0; i < d->ntcp; i++) {
		CC_INFO("agent", "Stopping server", "protocol", "DNS", "address", d->names[i], "network",
		        "tcp");
		uv_close((uv_handle_t *)&d->tcp[i], on_listener_closed);
		CC_INFO("agent", "Stopping server", "protocol", "DNS", "address", d->names[i], "network",
		        "udp");
		uv_close((uv_handle_t *)&d->udp[i], on_listener_closed);
	}
	while (d->conns)
		conn_close(d->conns);
	dns_unref(d);
}

void agent_dns_forwarded(struct cc_agent *a, struct tr_call *call, const uint8_t *body, size_t len)
{
	struct agent_dns *d = a->dns;
	if (!d) {
		transport_rpc_reply(call, "rpc error: shutting down", NULL, 0);
		return;
	}
	if (len < 2 + DNS_HEADER_LEN || body[0] != AGENT_FORWARD_DNS || (body[1] & ~FWD_TCP)) {
		transport_rpc_reply(call, "rpc error: malformed DNS question", NULL, 0);
		return;
	}
	struct dns_src src = { .tcp = body[1] & FWD_TCP, .call = call, .client = "rpc" };
	req_start(d, body + 2, len - 2, &src);
}
