/* Private to the gossip glue: shared by gossip.c (sockets, timers, the
 * core's outputs, lifecycle) and gossip_stream.c (TCP streams, joins). */
#ifndef CC_GOSSIP_INTERNAL_H
#define CC_GOSSIP_INTERNAL_H

#include "gossip/gossip.h"

#include <sys/socket.h>

#define STREAM_TIMEOUT_MS 10000 /* memberlist LAN TCPTimeout */
#define MAX_STREAMS 128         /* concurrent push/pulls, as memberlist */
#define MAX_JOINS 16

struct join_batch {
	bool used;
	gossip_join_cb done;
	void *ud;
	int pending, contacted, others;
	char err[256];
	uint32_t requests[32];
	size_t nrequests;
};

/* A join address that is a host name, being resolved (uv_getaddrinfo):
 * it holds one of its batch's pending slots until it answers. */
struct name_lookup {
	uv_getaddrinfo_t req;
	struct gossip *g;              /* NULL once the pool stopped */
	struct name_lookup *next;
	size_t batch;
	unsigned port;
	char name[128];
};

struct stream {
	struct gossip *g;
	struct stream *next, *prev; /* the pool's open streams */
	uv_tcp_t tcp;
	uv_timer_t timer;
	bool outgoing;
	bool join;
	uint32_t request;
	bool finished;           /* result reported (outgoing) / reply sent (incoming) */
	uint8_t *in;
	size_t in_len, in_cap;
	uint8_t *out;            /* decrypt/decompress scratch, GW_STREAM_MAX */
	uv_write_t wr;
	uint8_t *wbuf;
	int open_handles;
	char peer[64];
	struct gw_ip peer_ip;    /* outgoing: where we connect */
	uint16_t peer_port;
};

struct gossip {
	uv_loop_t *loop;
	struct gossip_config cfg;
	char name[GW_NAME_MAX];
	char pool[8];
	char mod_serf[64], mod_ml[64];
	char snapshot[512];
	char keyring[512];
	struct swim *swim;
	struct gw_keyring kr;
	bool encrypted;
	uv_udp_t udp;
	uv_tcp_t listener;
	uv_timer_t timer;
	uv_timer_t leave_timer;
	int open_handles;
	bool stopping;
	size_t nstreams;
	struct stream *streams;
	struct join_batch joins[MAX_JOINS];
	struct name_lookup *lookups;   /* join addresses being resolved */
	struct swim_out out;     /* large: one per pool */
	uint8_t rx[GW_UDP_MAX];
	uint8_t scratch[GW_UDP_MAX * 2];
	uint8_t sealed[GW_UDP_MAX];
	void (*leave_done)(void *ud);
	void *leave_ud;
	uint64_t leave_deadline;
	bool leave_propagating;
	struct pool_query *queries;    /* our open queries (gossip_query) */
};

struct pool_query {
	struct gossip *g;
	uint32_t id;
	uv_timer_t timer;
	gossip_query_cb on_response;
	void (*done)(void *ud);
	void *ud;
	struct pool_query *next;
};

static inline uint64_t now_ms(const struct gossip *g)
{
	return uv_now(g->loop);
}

/* gossip.c */
void gossip__drain(struct gossip *g);   /* runs the core's outputs, rearms the timer */
void gossip__ip_str(const struct gw_ip *ip, char *out, size_t cap);
int gossip__sockaddr_of(const struct gw_ip *ip, uint16_t port, struct sockaddr_storage *ss);
void gossip__ip_of(const struct sockaddr *sa, struct gw_ip *ip, uint16_t *port);

/* gossip_stream.c */
void gossip__maybe_free(struct gossip *g);   /* frees a stopped pool once all is closed */
void gossip__on_accept(uv_stream_t *server, int status);
void gossip__start_push_pull(struct gossip *g, const struct swim_out *o);
void gossip__stream_close(struct stream *st, const struct gw_push_pull *result, const char *err);

#endif
