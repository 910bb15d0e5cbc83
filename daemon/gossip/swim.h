/*
 * gossip/swim — the SWIM/Lifeguard membership core of memberlist, plus the Serf
 * member-status layer on top of it, as a deterministic state machine.
 *
 * No sockets, no clock, no randomness of its own: the caller passes the time
 * (milliseconds, monotonic) into every call and seeds the generator, feeds
 * decoded messages in, and drains outputs — packets to send, push/pull streams
 * to open, member events, log lines. Two cores fed the same inputs produce the
 * same outputs, which is what the seeded simulation tests rely on.
 *
 * Defaults are memberlist's LAN profile (probe 1 s / timeout 500 ms, 3 indirect
 * checks, suspicion mult 4, gossip 200 ms to 3 nodes, push/pull every 30 s).
 */
#ifndef CC_GOSSIP_SWIM_H
#define CC_GOSSIP_SWIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gossip/wire.h"

struct swim_config {
	char name[GW_NAME_MAX];
	struct gw_ip addr;           /* advertised address */
	uint16_t port;               /* advertised gossip port */
	uint8_t meta[GW_META_MAX];   /* Serf tags, already encoded (gw_encode_tags) */
	size_t meta_len;
	uint8_t vsn[6];              /* 01 05 02 02 05 04 for a Consul-like agent */
	uint64_t seed;               /* for probe order and gossip targets */
	size_t udp_budget;           /* bytes per gossip packet (1400, minus 29 if encrypted) */
	/* timing; 0 = memberlist LAN default */
	uint32_t probe_interval_ms, probe_timeout_ms, gossip_interval_ms, push_pull_interval_ms;
	uint32_t gossip_to_dead_ms, reap_left_ms, reap_failed_ms, reconnect_interval_ms;
	unsigned indirect_checks, gossip_nodes, retransmit_mult, suspicion_mult,
		suspicion_max_mult, awareness_max;
	/* Consul's LAN merge delegate: refuse (a push/pull merge whole, an alive
	 * message alone) a Consul member — tag role "consul" or "node" — whose
	 * "dc" tag is not ours, and a member other than us carrying our "id"
	 * tag; our own tags in meta give dc and id. */
	bool veto_consul;
};

/* Member status as Serf reports it (the numbers Consul's API uses). */
enum swim_status {
	SWIM_NONE = 0,
	SWIM_ALIVE = 1,
	SWIM_LEAVING = 2,
	SWIM_LEFT = 3,
	SWIM_FAILED = 4,
};

struct swim_member_info {
	const char *name;
	struct gw_ip addr;
	uint16_t port;
	enum swim_status status;
	const uint8_t *meta;         /* encoded tags */
	size_t meta_len;
	const uint8_t *vsn;          /* 6 bytes */
	uint32_t incarnation;
};

enum swim_out_kind {
	SWIM_OUT_PACKET,     /* send data to ip:port by UDP (seal with crc when asked) */
	SWIM_OUT_PUSH_PULL,  /* open a TCP push/pull to ip:port; report with swim_push_pull_done */
	SWIM_OUT_EVENT,      /* a member changed: event/name/addr */
	SWIM_OUT_LOG,        /* a line to log: level and text (memberlist/serf wording) */
	SWIM_OUT_USER_EVENT, /* a Serf user event, once per event: name, data/len, ltime */
	SWIM_OUT_QUERY,      /* a Serf query this node processes and the core does not answer
	                      * itself: name, data/len (payload), ltime, query_id, ip/port (the
	                      * asker), relay_factor, deadline; answer with swim_query_respond */
	SWIM_OUT_QUERY_RESPONSE, /* an answer to one of our queries (swim_query): name (the
	                      * responder), data/len (payload), query_id, ack */
};

enum swim_event {
	SWIM_EVENT_JOIN,     /* serf: EventMemberJoin */
	SWIM_EVENT_LEAVE,    /* serf: EventMemberLeave */
	SWIM_EVENT_FAILED,   /* serf: EventMemberFailed */
	SWIM_EVENT_UPDATE,   /* serf: EventMemberUpdate */
	SWIM_EVENT_REAP,     /* serf: EventMemberReap */
};

struct swim_out {
	enum swim_out_kind kind;
	struct gw_ip ip;
	uint16_t port;
	/* QUERY, QUERY_RESPONSE */
	uint32_t query_id;
	uint8_t relay_factor;
	uint64_t deadline;
	bool ack;
	/* PACKET */
	uint8_t data[GW_UDP_MAX];
	size_t len;
	bool crc;
	/* PUSH_PULL */
	bool join;
	uint32_t request;            /* echo it in swim_push_pull_done */
	/* EVENT */
	enum swim_event event;
	char name[GW_NAME_MAX];
	/* USER_EVENT: its Lamport time (name, data and len hold the rest) */
	uint64_t ltime;
	/* LOG: level 0 debug, 1 info, 2 warn, 3 error */
	int level;
	char text[512];
};

struct swim;

/* Creates the core with the local node alive at incarnation 1. Returns NULL
 * when out of memory. */
struct swim *swim_new(const struct swim_config *cfg, uint64_t now_ms);
void swim_free(struct swim *s);

/* Fires a Serf user event (serf's UserEvent, not coalesced): delivered here
 * too (a SWIM_OUT_USER_EVENT), then gossiped; every node delivers it once
 * (remembered per Lamport time for SWIM_EVENT_BUFFER times back; older ones
 * are dropped as serf drops them). -E2BIG when name and payload pass serf's
 * 512-byte limit. */
#define SWIM_EVENT_BUFFER 64
#define SWIM_USER_EVENT_MAX 512
int swim_user_event(struct swim *s, const char *name, const uint8_t *payload, size_t len);

/* Serf queries (serf's handleQuery). A query is processed once per (Lamport
 * time, id), remembered SWIM_QUERY_BUFFER times back, re-gossiped unless it
 * says not to, and answered only when its node and tag filters (tag values
 * matched as POSIX extended regexps; Go's RE2 for the common forms) pass:
 * an ack at once when asked, relayed through relay_factor other members too.
 * The core answers _serf_ping (the ack alone) and _serf_conflict (who we
 * think owns a name) itself; every other query becomes a SWIM_OUT_QUERY. */
#define SWIM_QUERY_BUFFER 64
#define SWIM_QUERY_RESPONSE_MAX 1024   /* serf's QueryResponseSizeLimit */
/* Answers a SWIM_OUT_QUERY q with payload. -ETIMEDOUT past its deadline,
 * -E2BIG beyond SWIM_QUERY_RESPONSE_MAX encoded. */
int swim_query_respond(struct swim *s, uint64_t now_ms, const struct swim_out *q,
                       const uint8_t *payload, size_t len);

/* Asks a query of the whole pool (serf's Query): processed here as well,
 * gossiped, answered to our address. Its acks (when flags asks for them)
 * and responses come out as SWIM_OUT_QUERY_RESPONSE until timeout_ms has
 * passed. Returns the query id (>= 0), -E2BIG past serf's 1024-byte query
 * limit, -EBUSY with SWIM_QUERIES_MAX queries still open. */
#define SWIM_QUERIES_MAX 32
#define SWIM_QUERY_SIZE_MAX 1024   /* serf's QuerySizeLimit */
int64_t swim_query(struct swim *s, uint64_t now_ms, const char *name, const uint8_t *payload,
                   size_t len, uint32_t flags, uint8_t relay_factor, uint32_t timeout_ms);
/* Stops listening for answers to query id before its time is up. */
void swim_query_close(struct swim *s, uint32_t id);

/* Serf's default query timeout for this pool's size: gossip interval x 16 x
 * ceil(log10(alive members + 1)) (3.2 s up to 9 members). */
uint32_t swim_query_timeout_ms(const struct swim *s);

/* Why the last merge was refused ("" when none was). */
const char *swim_merge_error(const struct swim *s);

/* Runs due timers: probes, gossip, suspicion timeouts, push/pull, reaping. */
void swim_tick(struct swim *s, uint64_t now_ms);

/* The next time swim_tick has work to do. */
uint64_t swim_next_deadline(const struct swim *s);

/* Takes the next output; false when there is none. */
bool swim_next_output(struct swim *s, struct swim_out *out);

/* A decoded UDP message from from_ip:from_port. */
void swim_on_message(struct swim *s, uint64_t now_ms, const struct gw_ip *from_ip,
                     uint16_t from_port, enum gw_type type, const uint8_t *body, size_t len);

/* The kernel says nothing listens at ip:port any more (ICMP port unreachable
 * for a UDP probe, or a TCP reset on connect): the host is up and the process
 * is gone. That is strong evidence, unlike silence, so the member is declared
 * dead at once instead of after a suspicion timeout. (An extension beyond
 * memberlist that stays wire compatible: others just receive a `dead`.) */
void swim_on_unreachable(struct swim *s, uint64_t now_ms, const struct gw_ip *ip, uint16_t port);

/* An incoming push/pull (TCP). Fills reply with the local state to send back
 * first (release with swim_push_pull_release), then merges the remote state.
 * Returns 0, or a negative error when the remote state is refused. */
int swim_on_push_pull(struct swim *s, uint64_t now_ms, const struct gw_push_pull *remote,
                      struct gw_push_pull *reply, uint8_t *user_state, size_t user_cap);

/* The local state to send when opening a push/pull (join or anti-entropy). */
int swim_local_state(struct swim *s, bool join, struct gw_push_pull *pp, uint8_t *user_state,
                     size_t user_cap);
void swim_push_pull_release(struct gw_push_pull *pp);

/* The result of a push/pull the core asked for (or that swim_join started):
 * remote is NULL when the exchange failed. Returns 0 when merged; -EPERM when
 * a member was vetoed (veto_consul; swim_merge_error says why). */
int swim_push_pull_done(struct swim *s, uint64_t now_ms, uint32_t request,
                        const struct gw_push_pull *remote);

/* Starts a join (push/pull with Join set) to ip:port; the request id comes back
 * in a SWIM_OUT_PUSH_PULL output and must be reported with swim_push_pull_done. */
uint32_t swim_join(struct swim *s, uint64_t now_ms, const struct gw_ip *ip, uint16_t port);

/* Starts a graceful leave: the Serf leave intent, then (once it has been
 * gossiped, at most 5 s later, driven by swim_tick) dead{self, From: self}.
 * swim_leave_broadcast_done tells when both have been gossiped enough. */
void swim_leave(struct swim *s, uint64_t now_ms);
bool swim_leave_broadcast_done(const struct swim *s);

/* Changes the local tags: new incarnation, alive gossiped. */
int swim_set_meta(struct swim *s, uint64_t now_ms, const uint8_t *meta, size_t len);

/* Marks a failed member left (Consul's force-leave). Returns -ENOENT when the
 * name is unknown. */
int swim_force_leave(struct swim *s, uint64_t now_ms, const char *name);

/* Members as Serf reports them (alive, leaving, left, failed), local one
 * included. Calls cb for each; the info is valid during the call only. */
void swim_members(const struct swim *s, void (*cb)(void *ud, const struct swim_member_info *m),
                  void *ud);

/* Count of members in a status (SWIM_NONE: all). */
size_t swim_count(const struct swim *s, enum swim_status status);

/* Health score (Lifeguard awareness, 0 = healthy). */
int swim_health(const struct swim *s);

#endif
