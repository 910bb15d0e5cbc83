/* The gossip glue: sockets, timers and the core's outputs around the swim
 * core; TCP streams and joins are in gossip_stream.c. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gossip/gossip_internal.h"
#include "gossip/keyring.h"
#include "log/log.h"

void gossip__ip_str(const struct gw_ip *ip, char *out, size_t cap)
{
	uint32_t v4;
	if (gw_ip_v4(ip, &v4)) {
		struct in_addr a = { htonl(v4) };
		inet_ntop(AF_INET, &a, out, (socklen_t)cap);
	} else if (ip->len == 16) {
		inet_ntop(AF_INET6, ip->b, out, (socklen_t)cap);
	} else {
		snprintf(out, cap, "?");
	}
}

int gossip__sockaddr_of(const struct gw_ip *ip, uint16_t port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	uint32_t v4;
	if (gw_ip_v4(ip, &v4)) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		s4->sin_addr.s_addr = htonl(v4);
		return 0;
	}
	if (ip->len == 16) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		memcpy(&s6->sin6_addr, ip->b, 16);
		return 0;
	}
	return -EINVAL;
}

void gossip__ip_of(const struct sockaddr *sa, struct gw_ip *ip, uint16_t *port)
{
	memset(ip, 0, sizeof(*ip));
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
		gw_ip_from_v4(ip, ntohl(s4->sin_addr.s_addr));
		*port = ntohs(s4->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		memcpy(ip->b, &s6->sin6_addr, 16);
		ip->len = 16;
		*port = ntohs(s6->sin6_port);
	}
}

/* ---- snapshot (serf/snapshot.go's format) ---- */

static void snapshot_line(struct gossip *g, const char *fmt, const char *a, const char *b)
{
	if (!g->snapshot[0])
		return;
	FILE *f = fopen(g->snapshot, "ae");
	if (!f)
		return;
	fprintf(f, fmt, a, b);
	fclose(f);
}

size_t gossip_snapshot_members(const struct gossip *g, char (*out)[GW_NAME_MAX + 32], size_t cap)
{
	if (!g->snapshot[0])
		return 0;
	FILE *f = fopen(g->snapshot, "re");
	if (!f)
		return 0;
	size_t n = 0;
	char line[GW_NAME_MAX + 64];
	while (fgets(line, sizeof(line), f)) {
		char name[GW_NAME_MAX], addr[64];
		if (sscanf(line, "alive: %255s %63s", name, addr) == 2) {
			size_t i;
			for (i = 0; i < n; i++)
				if (strncmp(out[i], name, strlen(name)) == 0 && out[i][strlen(name)] == ' ')
					break;
			if (i == n && n < cap)
				n++;
			if (i < cap)
				snprintf(out[i], sizeof(out[0]), "%s %s", name, addr);
		} else if (sscanf(line, "not-alive: %255s", name) == 1) {
			for (size_t i = 0; i < n; i++) {
				if (strncmp(out[i], name, strlen(name)) == 0 && out[i][strlen(name)] == ' ') {
					memmove(&out[i], &out[i + 1], (n - i - 1) * sizeof(out[0]));
					n--;
					break;
				}
			}
		} else if (strncmp(line, "leave", 5) == 0 && !g->cfg.rejoin_after_leave) {
			n = 0;
		}
	}
	fclose(f);
	return n;
}

/* ---- outputs of the core ---- */

static void log_event(struct gossip *g, const struct swim_out *o)
{
	static const char *const names[] = { "EventMemberJoin", "EventMemberLeave",
		                             "EventMemberFailed", "EventMemberUpdate",
		                             "EventMemberReap" };
	char ip[64];
	gossip__ip_str(&o->ip, ip, sizeof(ip));
	char msg[GW_NAME_MAX + 128];
	snprintf(msg, sizeof(msg), "serf: %s: %s %s", names[o->event], o->name, ip);
	cc_log(CC_LOG_INFO, g->mod_serf, msg, (const char *)NULL);
	char addr[96];
	snprintf(addr, sizeof(addr), "%s:%u", ip, o->port);
	if (o->event == SWIM_EVENT_JOIN)
		snapshot_line(g, "alive: %s %s\n", o->name, addr);
	else if (o->event == SWIM_EVENT_LEAVE || o->event == SWIM_EVENT_FAILED)
		snapshot_line(g, "not-alive: %s%s\n", o->name, "");
}

static void notify_event(struct gossip *g, const struct swim_out *o);

static void send_udp(struct gossip *g, const struct swim_out *o)
{
	int n = gw_packet_seal(g->encrypted ? &g->kr : NULL, o->crc, o->data, o->len, g->sealed,
	                       sizeof(g->sealed));
	if (n <= 0)
		return;
	struct sockaddr_storage ss;
	if (gossip__sockaddr_of(&o->ip, o->port, &ss))
		return;
	uv_buf_t b = uv_buf_init((char *)g->sealed, (unsigned)n);
	uv_udp_try_send(&g->udp, &b, 1, (const struct sockaddr *)&ss); /* UDP: loss is normal */
}

static void rearm(struct gossip *g);

/* A Serf query the core left to us: the keyring queries are answered (and
 * the keyring file rewritten when they changed it); user queries got their
 * ack from the core, and a Consul agent has nothing more to say to them. */
static void on_query(struct gossip *g, const struct swim_out *q)
{
	uint8_t resp[SWIM_QUERY_RESPONSE_MAX];
	bool changed;
	int n = keyring_query(&g->kr, q->name, q->data, q->len, resp, sizeof(resp), &changed);
	if (n == -ENOENT) {
		if (strncmp(q->name, "_serf_", 6) == 0)
			cc_logf(CC_LOG_WARN, g->mod_serf, "serf: Unhandled internal query '%s'", q->name);
		return;
	}
	cc_logf(CC_LOG_INFO, g->mod_serf, "serf: Received %s query", q->name + 6);
	char err[600];
	if (changed && g->keyring[0] && keyring_save(&g->kr, g->keyring, err, sizeof(err)))
		cc_log(CC_LOG_ERROR, g->mod_serf, "serf: failed to save the keyring", "error", err,
		       (const char *)NULL);
	if (n < 0 || swim_query_respond(g->swim, now_ms(g), q, resp, (size_t)n))
		cc_logf(CC_LOG_ERROR, g->mod_serf, "serf: failed to respond to key query: %s",
		        n < 0 ? "response too large" : "past its deadline");
}

void gossip__drain(struct gossip *g)
{
	while (swim_next_output(g->swim, &g->out)) {
		const struct swim_out *o = &g->out;
		switch (o->kind) {
		case SWIM_OUT_PACKET:
			send_udp(g, o);
			break;
		case SWIM_OUT_PUSH_PULL:
			gossip__start_push_pull(g, o);
			break;
		case SWIM_OUT_EVENT:
			log_event(g, o);
			notify_event(g, o);
			break;
		case SWIM_OUT_USER_EVENT:
			if (g->cfg.on_user_event)
				g->cfg.on_user_event(g->cfg.ud, o->name, o->data, o->len, o->ltime);
			break;
		case SWIM_OUT_QUERY:
			on_query(g, o);
			break;
		case SWIM_OUT_QUERY_RESPONSE:
			for (struct pool_query *q = g->queries; q; q = q->next)
				if (q->id == o->query_id)
					q->on_response(q->ud, o->name, o->ack, o->data, o->len);
			break;
		case SWIM_OUT_LOG: {
			static const enum cc_log_level lv[] = { CC_LOG_DEBUG, CC_LOG_INFO, CC_LOG_WARN,
				                                CC_LOG_ERROR };
			cc_log(lv[o->level & 3], g->mod_ml, o->text, (const char *)NULL);
			break;
		}
		}
	}
	rearm(g);
}

struct find_ctx {
	const char *name;
	struct swim_member_info info;
	bool found;
};

static void find_cb(void *ud, const struct swim_member_info *m)
{
	struct find_ctx *c = ud;
	if (!c->found && strcmp(m->name, c->name) == 0) {
		c->info = *m;
		c->found = true;
	}
}

static void notify_event(struct gossip *g, const struct swim_out *o)
{
	if (!g->cfg.on_event)
		return;
	struct find_ctx c = { .name = o->name };
	swim_members(g->swim, find_cb, &c);
	if (!c.found) {
		/* reaped: describe it from the event */
		c.info.name = o->name;
		c.info.addr = o->ip;
		c.info.port = o->port;
		c.info.status = SWIM_LEFT;
	}
	g->cfg.on_event(g->cfg.ud, o->event, &c.info);
}

static void on_timer(uv_timer_t *t)
{
	struct gossip *g = t->data;
	swim_tick(g->swim, now_ms(g));
	gossip__drain(g);
}

static void rearm(struct gossip *g)
{
	if (g->stopping)
		return;
	uint64_t now = now_ms(g), d = swim_next_deadline(g->swim);
	uv_timer_start(&g->timer, on_timer, d > now ? d - now : 0, 0);
}

/* ---- UDP ---- */

struct rx_ctx {
	struct gossip *g;
	struct gw_ip ip;
	uint16_t port;
};

static int on_leaf(void *ud, enum gw_type type, const uint8_t *body, size_t len)
{
	struct rx_ctx *c = ud;
	swim_on_message(c->g->swim, now_ms(c->g), &c->ip, c->port, type, body, len);
	return 0;
}

static void on_udp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct gossip *g = h->data;
	*buf = uv_buf_init((char *)g->rx, sizeof(g->rx));
}

/* With IP_RECVERR the kernel queues ICMP errors for our datagrams; a "port
 * unreachable" names the member we sent to, whose process is gone. */
static void drain_icmp_errors(struct gossip *g)
{
	uv_os_fd_t fd;
	if (uv_fileno((uv_handle_t *)&g->udp, &fd))
		return;
	for (int k = 0; k < 64; k++) {
		struct sockaddr_in dst;
		char ctrl[512], data[64];
		struct iovec iov = { data, sizeof(data) };
		struct msghdr msg = { .msg_name = &dst, .msg_namelen = sizeof(dst), .msg_iov = &iov,
			              .msg_iovlen = 1, .msg_control = ctrl,
			              .msg_controllen = sizeof(ctrl) };
		if (recvmsg(fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT) < 0)
			return;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
			if (c->cmsg_level != IPPROTO_IP || c->cmsg_type != IP_RECVERR)
				continue;
			const struct sock_extended_err *ee = (const void *)CMSG_DATA(c);
			if (ee->ee_origin == SO_EE_ORIGIN_ICMP && ee->ee_type == ICMP_DEST_UNREACH &&
			    ee->ee_code == ICMP_PORT_UNREACH && dst.sin_family == AF_INET) {
				struct gw_ip ip;
				gw_ip_from_v4(&ip, ntohl(dst.sin_addr.s_addr));
				swim_on_unreachable(g->swim, now_ms(g), &ip, ntohs(dst.sin_port));
			}
		}
	}
}

static void on_udp_recv(uv_udp_t *u, ssize_t n, const uv_buf_t *buf, const struct sockaddr *from,
                        unsigned flags)
{
	struct gossip *g = u->data;
	if (g->stopping)
		return;
	if (n < 0 || !from) {
		/* an error, or libuv woken with nothing to read: both happen when ICMP
		 * errors are queued (POLLERR). The queue must be emptied, or epoll
		 * keeps reporting it and the loop spins. */
		drain_icmp_errors(g);
		gossip__drain(g);
		return;
	}
	if (n == 0)
		return;
	struct rx_ctx c = { .g = g };
	gossip__ip_of(from, &c.ip, &c.port);
	int rc = gw_packet_open(g->encrypted ? &g->kr : NULL, g->rx, (size_t)n, g->scratch,
	                        sizeof(g->scratch), on_leaf, &c);
	if (rc < 0) {
		char ip[64], addr[80];
		gossip__ip_str(&c.ip, ip, sizeof(ip));
		snprintf(addr, sizeof(addr), "%s:%u", ip, c.port);
		cc_log(CC_LOG_DEBUG, g->mod_ml, "memberlist: Dropping a bad packet", "from", addr,
		       "error", gw_strerror(rc), (const char *)NULL);
	}
	gossip__drain(g);
}

/* ---- lifecycle ---- */

static int bind_error(char *err, size_t errlen, const char *net, const char *ip, unsigned port,
                      const char *step, int rc)
{
	snprintf(err, errlen, "listen %s %s:%u: %s: %s", net, ip, port, step, uv_strerror(rc));
	return rc;
}

int gossip_start(struct gossip **out, uv_loop_t *loop, const struct gossip_config *cfg,
                 char *err, size_t errlen)
{
	struct gossip *g = calloc(1, sizeof(*g));
	if (!g) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	g->loop = loop;
	g->cfg = *cfg;
	snprintf(g->name, sizeof(g->name), "%s", cfg->name);
	snprintf(g->pool, sizeof(g->pool), "%s", cfg->pool);
	snprintf(g->mod_serf, sizeof(g->mod_serf), "%s.serf.%s", cfg->log_module, cfg->pool);
	snprintf(g->mod_ml, sizeof(g->mod_ml), "%s.memberlist.%s", cfg->log_module, cfg->pool);
	if (cfg->snapshot_path)
		snprintf(g->snapshot, sizeof(g->snapshot), "%s", cfg->snapshot_path);
	g->cfg.name = g->name;
	g->cfg.pool = g->pool;
	if (cfg->keyring_path)
		snprintf(g->keyring, sizeof(g->keyring), "%s", cfg->keyring_path);
	bool ignored;
	int krc = keyring_init(&g->kr, cfg->keyring_path, cfg->encrypt, &ignored, err, errlen);
	if (krc) {
		free(g);
		return krc;
	}
	if (ignored)   /* Consul's words */
		cc_logf(CC_LOG_WARN, g->mod_serf,
		        "WARNING: %s keyring exists but -encrypt given, using keyring",
		        strcmp(g->pool, "wan") == 0 ? "WAN" : "LAN");
	g->encrypted = g->kr.n > 0;
	struct swim_config sc;
	memset(&sc, 0, sizeof(sc));
	snprintf(sc.name, sizeof(sc.name), "%s", cfg->name);
	struct in_addr a;
	if (inet_pton(AF_INET, cfg->advertise_ip, &a) != 1) {
		snprintf(err, errlen, "advertise address %s: gossip speaks IPv4 only", cfg->advertise_ip);
		free(g);
		return -EINVAL;
	}
	gw_ip_from_v4(&sc.addr, ntohl(a.s_addr));
	sc.port = cfg->port;
	int m = gw_encode_tags(cfg->tags, cfg->ntags, sc.meta, sizeof(sc.meta));
	if (m < 0) {
		snprintf(err, errlen, "tags too large for gossip metadata (512 bytes)");
		free(g);
		return m;
	}
	sc.meta_len = (size_t)m;
	memcpy(sc.vsn, (const uint8_t[]){ 1, 5, 2, 2, 5, 4 }, 6);
	uv_random(NULL, NULL, &sc.seed, sizeof(sc.seed), 0, NULL);
	sc.udp_budget = GW_UDP_BUDGET - (g->encrypted ? GW_ENCRYPT_OVERHEAD : 0);
	sc.reap_failed_ms = cfg->reconnect_timeout_ms;
	sc.veto_consul = cfg->veto_consul;
	g->swim = swim_new(&sc, uv_now(loop));
	if (!g->swim) {
		snprintf(err, errlen, "out of memory");
		free(g);
		return -ENOMEM;
	}

	struct sockaddr_in sa;
	int rc = uv_ip4_addr(cfg->bind_ip, cfg->port, &sa);
	uv_udp_init(loop, &g->udp);
	uv_tcp_init(loop, &g->listener);
	uv_timer_init(loop, &g->timer);
	uv_timer_init(loop, &g->leave_timer);
	g->udp.data = g->listener.data = g->timer.data = g->leave_timer.data = g;
	g->open_handles = 4;
	if (rc)
		rc = bind_error(err, errlen, "udp", cfg->bind_ip, cfg->port, "address", rc);
	else if ((rc = uv_udp_bind(&g->udp, (struct sockaddr *)&sa, 0)))
		rc = bind_error(err, errlen, "udp", cfg->bind_ip, cfg->port, "bind", rc);
	else if ((rc = uv_tcp_bind(&g->listener, (struct sockaddr *)&sa, 0)) ||
	         (rc = uv_listen((uv_stream_t *)&g->listener, 128, gossip__on_accept)))
		rc = bind_error(err, errlen, "tcp", cfg->bind_ip, cfg->port, "bind", rc);
	else if ((rc = uv_udp_recv_start(&g->udp, on_udp_alloc, on_udp_recv)))
		rc = bind_error(err, errlen, "udp", cfg->bind_ip, cfg->port, "read", rc);
	if (rc) {
		gossip_stop(g);
		return rc;
	}
	int size = 2 << 20;
	uv_recv_buffer_size((uv_handle_t *)&g->udp, &size);
	uv_os_fd_t fd;
	int one = 1;
	if (uv_fileno((uv_handle_t *)&g->udp, &fd) == 0)
		setsockopt(fd, IPPROTO_IP, IP_RECVERR, &one, sizeof(one));
	if (!g->encrypted) {
		uint32_t v4 = ntohl(a.s_addr);
		bool private = (v4 >> 24) == 10 || (v4 >> 20) == 0xAC1 || (v4 >> 16) == 0xC0A8 ||
		               (v4 >> 24) == 127 || (v4 >> 22) == (100u << 2 | 1);
		if (!private)
			cc_log(CC_LOG_WARN, g->mod_ml, "memberlist: Binding to public address without "
			                               "encryption!", (const char *)NULL);
	}
	/* the local member is alive from the start, as Serf reports it */
	char ip[64], msg[GW_NAME_MAX + 80];
	snprintf(ip, sizeof(ip), "%s", cfg->advertise_ip);
	snprintf(msg, sizeof(msg), "serf: EventMemberJoin: %s %s", cfg->name, ip);
	cc_log(CC_LOG_INFO, g->mod_serf, msg, (const char *)NULL);
	if (cfg->on_event) {
		struct find_ctx c = { .name = g->name };
		swim_members(g->swim, find_cb, &c);
		if (c.found)
			cfg->on_event(cfg->ud, SWIM_EVENT_JOIN, &c.info);
	}
	rearm(g);
	*out = g;
	return 0;
}

static void on_handle_closed(uv_handle_t *h)
{
	struct gossip *g = h->data;
	g->open_handles--;
	gossip__maybe_free(g);
}

/* ---- our own queries ---- */

static void query_closed(uv_handle_t *h)
{
	struct pool_query *q = h->data;
	struct gossip *g = q->g;
	free(q);
	g->open_handles--;
	gossip__maybe_free(g);
}

/* Unlinks q, tells its owner it is over, and frees it. */
static void query_end(struct pool_query *q)
{
	struct gossip *g = q->g;
	for (struct pool_query **pp = &g->queries; *pp; pp = &(*pp)->next) {
		if (*pp == q) {
			*pp = q->next;
			break;
		}
	}
	swim_query_close(g->swim, q->id);
	q->done(q->ud);
	uv_close((uv_handle_t *)&q->timer, query_closed);
}

static void on_query_timeout(uv_timer_t *t)
{
	query_end(t->data);
}

int gossip_query(struct gossip *g, const char *name, const uint8_t *payload, size_t len,
                 uint8_t relay_factor, gossip_query_cb on_response, void (*done)(void *ud),
                 void *ud)
{
	if (g->stopping)
		return -ESHUTDOWN;
	struct pool_query *q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	uint32_t timeout = swim_query_timeout_ms(g->swim);
	q->g = g;
	q->on_response = on_response;
	q->done = done;
	q->ud = ud;
	/* answers, ours included (sent to our own address), come in later
	 * through the socket, once q is on the list */
	int64_t id = swim_query(g->swim, now_ms(g), name, payload, len, 0, relay_factor, timeout);
	if (id < 0) {
		free(q);
		return (int)id;
	}
	q->id = (uint32_t)id;
	q->next = g->queries;
	g->queries = q;
	uv_timer_init(g->loop, &q->timer);
	q->timer.data = q;
	g->open_handles++;
	uv_timer_start(&q->timer, on_query_timeout, timeout, 0);
	gossip__drain(g);
	return 0;
}

void gossip_stop(struct gossip *g)
{
	if (!g || g->stopping)
		return;
	g->stopping = true;
	while (g->queries)
		query_end(g->queries);
	for (struct name_lookup *l = g->lookups; l; l = l->next) {
		l->g = NULL;   /* on_resolved frees it */
		uv_cancel((uv_req_t *)&l->req);
	}
	g->lookups = NULL;
	uv_timer_stop(&g->timer);
	uv_timer_stop(&g->leave_timer);
	uv_close((uv_handle_t *)&g->udp, on_handle_closed);
	uv_close((uv_handle_t *)&g->listener, on_handle_closed);
	uv_close((uv_handle_t *)&g->timer, on_handle_closed);
	uv_close((uv_handle_t *)&g->leave_timer, on_handle_closed);
	for (struct stream *st = g->streams; st; st = st->next)
		gossip__stream_close(st, NULL, NULL);
}

static void on_leave_timer(uv_timer_t *t)
{
	struct gossip *g = t->data;
	uint64_t now = now_ms(g);
	if (!g->leave_propagating) {
		if (!swim_leave_broadcast_done(g->swim) && now < g->leave_deadline) {
			uv_timer_start(&g->leave_timer, on_leave_timer, 50, 0);
			return;
		}
		g->leave_propagating = true;
		uv_timer_start(&g->leave_timer, on_leave_timer, g->cfg.leave_propagate_ms, 0);
		return;
	}
	if (g->leave_done)
		g->leave_done(g->leave_ud);
}

void gossip_leave(struct gossip *g, void (*done)(void *ud), void *ud)
{
	g->leave_done = done;
	g->leave_ud = ud;
	snapshot_line(g, "leave%s%s\n", "", "");
	if (swim_count(g->swim, SWIM_ALIVE) <= 1) {
		/* nobody to tell */
		if (done)
			done(ud);
		return;
	}
	swim_leave(g->swim, now_ms(g));
	gossip__drain(g);
	g->leave_deadline = now_ms(g) + 10000; /* Serf's BroadcastTimeout, for each of two phases */
	uv_timer_start(&g->leave_timer, on_leave_timer, 50, 0);
}

int gossip_force_leave(struct gossip *g, const char *name)
{
	int rc = swim_force_leave(g->swim, now_ms(g), name);
	gossip__drain(g);
	return rc;
}

void gossip_members(const struct gossip *g,
                    void (*cb)(void *ud, const struct swim_member_info *m), void *ud)
{
	swim_members(g->swim, cb, ud);
}

size_t gossip_count(const struct gossip *g, enum swim_status status)
{
	return swim_count(g->swim, status);
}

bool gossip_encrypted(const struct gossip *g)
{
	return g->encrypted;
}

int gossip_health(const struct gossip *g)
{
	return swim_health(g->swim);
}
