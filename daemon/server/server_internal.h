/* Private to the server module: server.c (the Raft node and requests) and
 * server_cluster.c (bootstrap_expect, reconcile, RPC handlers, leave). */
#ifndef CC_SERVER_INTERNAL_H
#define CC_SERVER_INTERNAL_H

#include "fsm/fsm.h"
#include "server/server.h"
#include "server/transport.h"
#include "store/store.h"

#define MOD_SERVER "agent.server"
#define MOD_RAFT "agent.server.raft"
#define MAX_MEMBERS 256

/* A LAN member that is a Consul server (role=consul, port set). */
struct srv_member {
	char name[GW_NAME_MAX];
	char id[RAFT_ID_MAX];
	char addr[RAFT_ADDR_MAX];   /* ip:port (server port) */
	char dc[64];
	int expect;
	bool bootstrap, nonvoter;
	enum swim_status status;
};

enum req_kind {
	REQ_COMMIT,     /* waits for index/term to be applied (a write) */
	REQ_APPLIED,    /* waits for the local store to reach index (a read) */
	REQ_READ,       /* waits for a ReadIndex answer (req id) */
	REQ_HOLD,       /* waits for a leader (rpc_hold_timeout) */
	REQ_READY,      /* answered on the next loop turn */
	REQ_REMOTE,     /* an RPC to the leader is in flight */
};

struct req {
	struct req *next;
	struct cc_server *s;
	enum req_kind kind;
	bool is_write, is_remove;
	enum cc_read_mode mode;
	uint64_t index, term, id;
	uint64_t hold_deadline, retry_at, tried;
	uint8_t *cmd;               /* encoded KV command / peer to remove */
	size_t cmd_len;
	struct tr_call *call;       /* set when the request came over RPC */
	char err[160];
	bool result;
	cc_server_write_cb write_cb;
	cc_server_ready_cb ready_cb;
	cc_server_done_cb done_cb;
	void *ud;
};

struct cc_server {
	uv_loop_t *loop;
	const struct cc_config *cfg;
	char node_id[RAFT_ID_MAX];
	char addr[RAFT_ADDR_MAX];
	struct raft *raft;
	struct store *store;
	struct fsm *fsm;            /* KV + catalog */
	struct transport *tr;
	struct gossip *lan;
	uv_timer_t timer, req_timer, cluster_timer;
	uv_prepare_t prep;          /* flushes the drained batch once per loop turn */
	bool txn_open;
	struct pending_op *ops;
	size_t nops, capops;
	int open_handles;
	bool stopping, in_drive, had_leader_contact;
	uint64_t election_ms;
	uint64_t snapshot_threshold;
	/* the last snapshot's bytes, for InstallSnapshot */
	uint8_t *snap_data;
	size_t snap_len;
	uint64_t snap_index;
	uint64_t applied_bytes;     /* command bytes applied since that snapshot */
	uint64_t applied;           /* last index applied to kv (any entry type) */
	/* requests */
	struct req *reqs;
	uint64_t next_req_id;
	/* role tracking for log lines */
	enum raft_role role;
	char leader_id[RAFT_ID_MAX];
	/* bootstrap_expect */
	int expect;                 /* 0 once decided */
	bool bootstrap_running;
	int bootstrap_pending;
	bool bootstrap_found_peers;
	char bootstrap_peer_with_state[GW_NAME_MAX];
	/* LAN servers, refreshed from gossip; grown on demand up to MAX_MEMBERS
	 * (a fixed table was ~115 KiB, all of it zeroed by calloc, for the
	 * handful of servers a cluster has) */
	struct srv_member *members;
	size_t nmembers, capmembers;
	char promote_id[RAFT_MAX_SERVERS][RAFT_ID_MAX];
	uint64_t promote_since[RAFT_MAX_SERVERS];
	struct peers_ask *asks;     /* bootstrap_expect's Status.Peers calls */
	/* graceful leave */
	void (*leave_done)(void *ud);
	void *leave_ud;
	uint64_t leave_deadline;
	bool leaving, leave_requested, leave_removed;
	/* blocking queries: told when a batch applied KV commands */
	void (*kv_watch)(void *ud);
	void *kv_watch_ud;
	bool kv_changed;
	/* KVS.Forward from client agents */
	void (*forward)(void *ud, struct tr_call *call, const uint8_t *body, size_t len);
	void *forward_ud;
	/* the leader's reconcile of LAN members into the catalog */
	uint64_t cat_barrier;       /* applied this far before the first pass */
	uint64_t cat_pending;       /* last index it proposed */
	/* hand-off before a shutdown */
	void (*handoff_done)(void *ud);
	void *handoff_ud;
	uint64_t handoff_deadline;
	/* autopilot (server_autopilot.c, leader only): when each server's
	 * present health value was first seen, and since when we lead */
	struct srv_health_track {
		char id[RAFT_ID_MAX];
		bool healthy;
		int64_t since;
	} ap_track[RAFT_MAX_SERVERS];
	uint64_t ap_leader_since, ap_next_eval;
};

/* server.c */
void server_drive(struct cc_server *s);
/* A handle counted in open_handles has closed (frees s after the last). */
void server_handle_closed(struct cc_server *s);
uint64_t server_now(const struct cc_server *s);
struct req *server_req_new(struct cc_server *s, enum req_kind kind);
void server_req_answer(struct req *r);
void server_on_rpc(void *ud, struct tr_call *call, const char *method, const uint8_t *body,
                   size_t len);

/* server_metrics.c: counts a role change (raft.state.leader/...). */
void server_metrics_role(enum raft_role from, enum raft_role to);

/* server_cluster.c */
void cluster_member_event(struct cc_server *s, enum swim_event ev,
                          const struct swim_member_info *m);
void cluster_tick(struct cc_server *s);
/* Closes what bootstrap_expect still has pending (at shutdown). */
void cluster_stop(struct cc_server *s);
void cluster_on_leadership(struct cc_server *s, bool acquired);
const struct srv_member *cluster_member_by_id(const struct cc_server *s, const char *id);
const struct srv_member *cluster_member_by_addr(const struct cc_server *s, const char *addr);
bool cluster_parse_member(const struct swim_member_info *m, struct srv_member *out);

/* server_autopilot.c: the leader re-evaluates server health (each cluster
 * tick, at most once a second); the Operator.AutopilotHealth RPC. */
void server_autopilot_tick(struct cc_server *s);
void server_autopilot_rpc(struct cc_server *s, struct tr_call *call);

/* server_catalog.c */
/* Leader only: registers every LAN member in the catalog with its serfHealth
 * check (and servers with the consul service), marks failed ones critical,
 * deregisters left and reaped ones. Compares first, proposes what differs. */
void catalog_reconcile(struct cc_server *s);
void catalog_on_leadership(struct cc_server *s, bool acquired);

#endif
