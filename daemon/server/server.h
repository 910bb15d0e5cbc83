/*
 * server — what a Consul server agent adds to an agent: the Raft node on the
 * server port (core + LMDB store + KV state machine + transport), Consul's
 * bootstrap_expect algorithm driven by LAN gossip, the leader's reconcile of
 * gossip membership into the Raft configuration, request forwarding to the
 * leader, and the read modes (default, consistent, stale).
 *
 * Timing: the election timeout is 100 ms x performance.raft_multiplier
 * (Consul: 1000 ms x; default multiplier 5, so 500 ms, randomized in
 * [T, 2T)), heartbeats every T/5, check-quorum every T. When the leader's
 * connection is closed by its host, the followers campaign at once, in ID
 * order 20 ms apart (so their votes do not split).
 *
 * Logs under agent.server and agent.server.raft in Consul's words.
 */
#ifndef CC_SERVER_H
#define CC_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "catalog/catalog.h"
#include "config/config.h"
#include "fsm/autopilot.h"
#include "gossip/gossip.h"
#include "kv/kv.h"
#include "raft/raft.h"

struct cc_server;

/* Opens data_dir/raft, loads the stored state, listens on bind_addr:server.
 * Returns 0, or a negative errno with err set. */
int cc_server_start(struct cc_server **out, uv_loop_t *loop, const struct cc_config *cfg,
                    const char *node_id, char *err, size_t errlen);

/* Stops everything; pending requests fail. Handles close on the next loop turn. */
void cc_server_stop(struct cc_server *s);

/* The LAN pool, once started (for bootstrap_expect's member scan and the
 * leader's reconcile), and every LAN member event. */
void cc_server_set_lan(struct cc_server *s, struct gossip *lan);
void cc_server_lan_event(struct cc_server *s, enum swim_event ev, const struct swim_member_info *m);

/* Graceful leave of a server (Consul's Server.Leave): a leader hands
 * leadership to another voter and the new leader removes us; a follower asks
 * the leader to remove it. done runs when that is observed or after 5 s. */
void cc_server_leave(struct cc_server *s, void (*done)(void *ud), void *ud);

/* Before a shutdown without leave: a leader hands leadership to the most
 * up-to-date voter (TimeoutNow), so the others need not wait for an election
 * timeout; done runs once that happened or after two election timeouts, at
 * once when there is nothing to hand over. */
void cc_server_handoff(struct cc_server *s, void (*done)(void *ud), void *ud);

/* Server RPC KVS.Forward: a client agent's KV request, run by the agent
 * (agent_forward.c), answered with transport_rpc_reply. */
struct tr_call;
void cc_server_set_forward(struct cc_server *s,
                           void (*fn)(void *ud, struct tr_call *call, const uint8_t *body,
                                      size_t len),
                           void *ud);
/* Called once per batch that applied commands, KV or catalog (blocking
 * queries). */
void cc_server_set_kv_watch(struct cc_server *s, void (*fn)(void *ud), void *ud);

/* For a LAN member that is a Consul server of datacenter dc: its server RPC
 * address ("ip:port") into addr. */
bool cc_server_rpc_addr(const struct swim_member_info *m, const char *dc, char *addr, size_t cap);

/* ---- status ---- */
/* The leader's "ip:port", "" when none is known. */
const char *cc_server_leader(const struct cc_server *s);
const struct raft_configuration *cc_server_configuration(const struct cc_server *s);
uint64_t cc_server_configuration_index(const struct cc_server *s);
bool cc_server_is_leader(const struct cc_server *s);
/* For X-Consul-KnownLeader / X-Consul-LastContact. */
bool cc_server_known_leader(const struct cc_server *s);
uint64_t cc_server_last_contact_ms(const struct cc_server *s);
/* Figures for /v1/agent/self and `conclave info`. */
void cc_server_stats(const struct cc_server *s, uint64_t *term, uint64_t *commit,
                     uint64_t *applied, uint64_t *last_index, const char **state);
/* Feeds the metrics registry what is sampled rather than counted (the
 * leader's raft.leader.lastContact per follower); the agent calls it once a
 * second. Role changes are counted as they happen (raft.state.*). */
void cc_server_metrics_sample(const struct cc_server *s);
/* The LAN member name of a Raft server id ("(unknown)" when none). */
const char *cc_server_member_name(const struct cc_server *s, const char *id);

/* ---- requests (from HTTP handlers) ----
 * Each takes a callback that runs exactly once, later, from the loop. Errors
 * read like Consul's: "No cluster leader", "leadership lost while committing
 * log", "rpc error making call: ...". */

/* A KV write through Raft (forwarded to the leader when needed). */
typedef void (*cc_server_write_cb)(void *ud, const char *err, bool result, uint64_t index);
void cc_server_kv_write(struct cc_server *s, const struct kv_cmd *cmd, cc_server_write_cb done,
                        void *ud);

/* Any command of the replicated state machine (a KV or a catalog command,
 * see fsm/fsm.h), through Raft like cc_server_kv_write; takes cmd (malloc'd)
 * over. A catalog command the state store refuses answers with its error. */
void cc_server_apply(struct cc_server *s, uint8_t *cmd, size_t len, cc_server_write_cb done,
                     void *ud);

enum cc_read_mode { CC_READ_DEFAULT, CC_READ_CONSISTENT, CC_READ_STALE };
/* Waits until the local KV may answer a read in this mode, then done(ud,
 * NULL); reads the local store from the callback (cc_server_kv). */
typedef void (*cc_server_ready_cb)(void *ud, const char *err);
void cc_server_read_barrier(struct cc_server *s, enum cc_read_mode mode, cc_server_ready_cb done,
                            void *ud);
const struct kv *cc_server_kv(const struct cc_server *s);
const struct catalog *cc_server_catalog(const struct cc_server *s);

/* Removes a server from the Raft configuration by id or address (leader
 * only, forwarded otherwise). */
typedef void (*cc_server_done_cb)(void *ud, const char *err);
void cc_server_remove_peer(struct cc_server *s, const char *id, const char *addr,
                           cc_server_done_cb done, void *ud);

/* ---- autopilot (server_autopilot.c) ---- */

/* One server of the Raft configuration as the leader's autopilot sees it
 * (Consul's ServerHealth). */
struct cc_server_health {
	char id[RAFT_ID_MAX];
	char name[GW_NAME_MAX];      /* LAN member name; "" when gossip does not know it */
	char addr[RAFT_ADDR_MAX];
	char version[64];            /* its build tag up to ':' ("" when unknown) */
	enum swim_status serf;       /* SWIM_NONE when gossip does not know it */
	bool leader, voter, healthy;
	uint64_t last_contact_ms;    /* 0 on the leader */
	uint64_t last_term, last_index;
	int64_t stable_since;        /* Unix time (s) since which `healthy` has held */
};

/* Consul's OperatorHealthReply. */
struct cc_server_autopilot {
	bool healthy;                /* every server healthy */
	unsigned failure_tolerance;  /* healthy voters beyond a quorum */
	unsigned n;
	struct cc_server_health s[RAFT_MAX_SERVERS];
};

/* The leader's view of every server's health: computed here when this server
 * leads, else asked of the leader over server RPC; held while there is no
 * leader, then "No cluster leader". done runs exactly once, later, with h
 * valid during the call only (NULL with err). */
typedef void (*cc_server_health_cb)(void *ud, const char *err,
                                    const struct cc_server_autopilot *h);
void cc_server_autopilot_health(struct cc_server *s, cc_server_health_cb done, void *ud);

/* The replicated autopilot configuration as this server has applied it
 * (Consul's defaults until written). Written with cc_server_apply and an
 * autopilot command (fsm/autopilot.h). */
const struct autopilot_config *cc_server_autopilot_config(const struct cc_server *s);

#endif
