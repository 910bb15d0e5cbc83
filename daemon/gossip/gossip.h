/*
 * gossip — one Serf/memberlist pool (LAN or WAN) on the agent's libuv loop:
 * a UDP and a TCP socket on one port, the swim core driven by a timer, TCP
 * push/pull in both directions, joins, graceful leave, and the Serf snapshot
 * that lets a restarted agent rejoin the members it knew.
 *
 * Logs in Consul's words under "<module>.serf.<pool>" and
 * "<module>.memberlist.<pool>" (module: agent.server or agent.client).
 */
#ifndef CC_GOSSIP_H
#define CC_GOSSIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "gossip/swim.h"
#include "gossip/wire.h"

struct gossip;

struct gossip_config {
	const char *pool;          /* "lan" or "wan" */
	const char *log_module;    /* "agent.server" or "agent.client" */
	const char *name;          /* node name in this pool ("node.dc" on the WAN) */
	const char *bind_ip;
	uint16_t port;             /* bind and advertised port */
	const char *advertise_ip;
	const struct gw_tag *tags;
	size_t ntags;
	const char *encrypt;       /* base64 key, or NULL */
	const char *snapshot_path; /* NULL: no snapshot */
	const char *keyring_path;  /* the pool's keyring file (gossip/keyring.h); NULL: none */
	bool rejoin_after_leave;
	uint32_t leave_propagate_ms; /* serf 1 s, Consul 3 s */
	uint32_t reconnect_timeout_ms; /* how long failed members are kept (Consul LAN 72 h) */
	bool veto_consul;          /* swim_config.veto_consul (Consul's LAN pool) */
	/* called for every member event (join, leave, failed, update, reap) */
	void (*on_event)(void *ud, enum swim_event ev, const struct swim_member_info *m);
	/* called once for every Serf user event, ours included (may be NULL) */
	void (*on_user_event)(void *ud, const char *name, const uint8_t *payload, size_t len,
	                      uint64_t ltime);
	void *ud;
};

/* Binds UDP and TCP on bind_ip:port and starts the pool with this node alive.
 * Returns 0, or a negative errno with err set ("listen udp 1.2.3.4:8301: bind:
 * address already in use"). */
int gossip_start(struct gossip **out, uv_loop_t *loop, const struct gossip_config *cfg,
                 char *err, size_t errlen);

/* Stops and frees (handles close on the next loop turn). No leave is sent. */
void gossip_stop(struct gossip *g);

/* Fires a Serf user event on this pool (swim_user_event); -E2BIG past serf's
 * 512-byte limit for name and payload. */
int gossip_user_event(struct gossip *g, const char *name, const uint8_t *payload, size_t len);

/* Joins through each address ("ip", "host" or either with ":port"; default
 * port: ours; a host name is resolved without blocking, and every IPv4
 * address it has is joined, as memberlist does).
 * done(ud, contacted, others, err) runs once all are tried: contacted counts the
 * addresses that answered (ourselves included, as Consul counts), others the
 * answers that came from another node. */
typedef void (*gossip_join_cb)(void *ud, int contacted, int others, const char *err);
int gossip_join(struct gossip *g, const char *const *addrs, size_t n, gossip_join_cb done,
                void *ud);

/* Asks a Serf query of the pool (serf's Query with the default timeout for
 * the pool's size, swim_query_timeout_ms): on_response runs for every
 * answer (from: the responder; a node may answer more than once through
 * relays), then done once the time is up (or the pool stops). 0, or a
 * negative errno (-E2BIG: past serf's size limit; -EBUSY: too many open). */
typedef void (*gossip_query_cb)(void *ud, const char *from, bool ack, const uint8_t *payload,
                                size_t len);
int gossip_query(struct gossip *g, const char *name, const uint8_t *payload, size_t len,
                 uint8_t relay_factor, gossip_query_cb on_response, void (*done)(void *ud),
                 void *ud);

/* The previously known members from the snapshot ("name ip:port"), to rejoin
 * at start. Returns the count written to out (at most cap). */
size_t gossip_snapshot_members(const struct gossip *g, char (*out)[GW_NAME_MAX + 32],
                               size_t cap);

/* Graceful leave: leave intent and dead-about-self gossiped, then the
 * propagate delay; done runs after that (the pool keeps answering probes). */
void gossip_leave(struct gossip *g, void (*done)(void *ud), void *ud);

/* Marks a failed member left. -ENOENT if there is no such member. */
int gossip_force_leave(struct gossip *g, const char *name);

/* Members as the Serf layer sees them. */
void gossip_members(const struct gossip *g,
                    void (*cb)(void *ud, const struct swim_member_info *m), void *ud);
size_t gossip_count(const struct gossip *g, enum swim_status status);
bool gossip_encrypted(const struct gossip *g);
int gossip_health(const struct gossip *g);

#endif
