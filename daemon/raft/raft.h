/*
 * raft — the Raft consensus core as a deterministic state machine.
 *
 * No sockets, no clock, no disk and no randomness of its own: the caller passes
 * the time (milliseconds, monotonic) into every call, seeds the generator, feeds
 * received messages in and drains outputs in order. Two cores fed the same
 * inputs produce the same outputs; the seeded simulation tests rely on it.
 *
 * What it implements (Ongaro's dissertation, with the etcd/hashicorp choices):
 * leader election with randomized timeouts in [T, 2T), pre-vote (§9.6) and
 * check-quorum, leader stickiness (a node that heard from a leader within the
 * minimum election timeout ignores vote requests), log replication with conflict
 * back-off and pipelining, commit by majority of the current term, snapshots
 * with log compaction and InstallSnapshot, leadership transfer (TimeoutNow),
 * membership changes one server at a time (a configuration takes effect when it
 * is appended) with non-voters, linearizable reads (ReadIndex), and a fast
 * failover hint: raft_peer_lost() when the kernel reports the leader's process
 * gone lets followers campaign at once instead of after the election timeout.
 *
 * How the caller drives it — the order matters for safety:
 *   1. call one input function (raft_tick, raft_step, raft_propose, ...);
 *   2. drain every output with raft_next_output;
 *   3. make the drained HARD_STATE / TRUNCATE / APPEND / INSTALL_SNAPSHOT
 *      outputs durable (one fsync'd transaction), in the order they came;
 *   4. only then send the SEND outputs and act on APPLY / READ / STATE ones.
 * Pointers inside outputs are borrowed: valid until the next call into the
 * core other than raft_next_output and the const queries. Copy what you keep.
 *
 * Memory: the core keeps the log from its first index (after compaction) in
 * memory, each entry's data in its own allocation. raft_new allocates; every
 * other call may allocate and reports -RAFT_ENOMEM when that fails.
 */
#ifndef CC_RAFT_H
#define CC_RAFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RAFT_ID_MAX 64         /* server ID (Consul: the node UUID), NUL included */
#define RAFT_ADDR_MAX 64       /* "ip:port", NUL included */
#define RAFT_MAX_SERVERS 16    /* servers in one configuration */

enum raft_err {
	RAFT_ENOMEM = 1,
	RAFT_ENOTLEADER,       /* this call needs the leader */
	RAFT_ETRANSFER,        /* a leadership transfer is in progress */
	RAFT_ECONFPENDING,     /* a configuration change is not committed yet */
	RAFT_ENOTFOUND,        /* no such server in the configuration */
	RAFT_EEXISTS,          /* already a member / already bootstrapped */
	RAFT_EINVAL,           /* bad argument */
	RAFT_ETOOMANY,         /* more than RAFT_MAX_SERVERS */
	RAFT_ESHUTDOWN,        /* removed from the configuration */
};

/* The text for a RAFT_E* code (positive or negative). */
const char *raft_strerror(int err);

enum raft_role { RAFT_FOLLOWER, RAFT_PRECANDIDATE, RAFT_CANDIDATE, RAFT_LEADER };

/* "Follower", "Candidate" (pre-candidates too, as hashicorp shows them), "Leader". */
const char *raft_role_name(enum raft_role role);

struct raft_server {
	char id[RAFT_ID_MAX];
	char addr[RAFT_ADDR_MAX];
	bool voter;
};

struct raft_configuration {
	unsigned n;
	struct raft_server s[RAFT_MAX_SERVERS];
};

/* Position of id in conf, or -1. */
int raft_conf_find(const struct raft_configuration *conf, const char *id);

/* A configuration as bytes (the data of a RAFT_ENTRY_CONFIG entry and of a
 * snapshot's metadata). encode returns the length written, or the length
 * needed when it is larger than cap. decode returns 0, or -RAFT_EINVAL when
 * the bytes are not a configuration. */
size_t raft_conf_encode(const struct raft_configuration *conf, uint8_t *buf, size_t cap);
int raft_conf_decode(const uint8_t *buf, size_t len, struct raft_configuration *conf);

enum raft_entry_type {
	RAFT_ENTRY_COMMAND = 1,  /* for the state machine */
	RAFT_ENTRY_CONFIG = 2,   /* a configuration (raft_conf_encode) */
	RAFT_ENTRY_NOOP = 3,     /* written by a new leader to commit its term */
};

struct raft_entry {
	uint64_t index;
	uint64_t term;
	enum raft_entry_type type;
	const uint8_t *data;
	size_t len;
};

enum raft_msg_type {
	RAFT_MSG_VOTE = 1,        /* RequestVote, or a pre-vote when prevote is set */
	RAFT_MSG_VOTE_RESP,
	RAFT_MSG_APPEND,          /* AppendEntries (a heartbeat when it has no entries) */
	RAFT_MSG_APPEND_RESP,
	RAFT_MSG_SNAPSHOT,        /* InstallSnapshot */
	RAFT_MSG_SNAPSHOT_RESP,
	RAFT_MSG_TIMEOUT_NOW,     /* leadership transfer: start an election now */
	RAFT_MSG_TYPE_MAX = RAFT_MSG_TIMEOUT_NOW,
};

struct raft_msg {
	enum raft_msg_type type;
	char from[RAFT_ID_MAX];
	char from_addr[RAFT_ADDR_MAX];
	char to[RAFT_ID_MAX];
	uint64_t term;
	/* VOTE: the candidate's log; prevote; transfer = sent because of TimeoutNow
	 * (overrides stickiness). VOTE_RESP: granted, prevote echoed. */
	uint64_t last_index, last_term;
	bool prevote, transfer, granted;
	/* APPEND */
	uint64_t prev_index, prev_term, commit;
	size_t n_entries;
	const struct raft_entry *entries;
	/* APPEND and APPEND_RESP: a sequence number the leader uses to confirm
	 * leadership for reads; echoed in the response. */
	uint64_t seq;
	/* APPEND_RESP / SNAPSHOT_RESP: success; index = the last index now matching
	 * the leader's log on success, else a hint of where the logs may agree.
	 * APPEND_RESP also echoes the request's prev_index (to spot stale answers). */
	bool success;
	uint64_t index;
	/* SNAPSHOT: the snapshot's last included index/term and configuration.
	 * Outgoing, data is NULL: the caller attaches its latest snapshot, which is
	 * the one at snap_index (the last one reported with raft_snapshot_done). */
	uint64_t snap_index, snap_term;
	const struct raft_configuration *snap_conf;
	const uint8_t *data;
	size_t len;
};

/* A log line in hashicorp/raft's words; the caller prints it with the
 * "agent.server.raft" logger. Levels: 0 debug, 1 info, 2 warn, 3 error. */
#define RAFT_LOG_KV 4
struct raft_log {
	int level;
	char msg[96];
	unsigned nkv;
	char key[RAFT_LOG_KV][24];
	char val[RAFT_LOG_KV][256];
};

enum raft_out_kind {
	RAFT_OUT_HARD_STATE,      /* persist term and vote */
	RAFT_OUT_TRUNCATE,        /* delete log entries at index and after */
	RAFT_OUT_APPEND,          /* persist entries (contiguous, ascending) */
	RAFT_OUT_INSTALL_SNAPSHOT,/* persist the received snapshot and restore the
	                             state machine from it; the whole log goes */
	RAFT_OUT_SEND,            /* send msg to msg.to at addr */
	RAFT_OUT_APPLY,           /* a committed entry, in index order, exactly once */
	RAFT_OUT_READ,            /* a raft_read_index request is answered */
	RAFT_OUT_STATE,           /* role, term or leader changed */
	RAFT_OUT_LOG,
};

struct raft_out {
	enum raft_out_kind kind;
	/* HARD_STATE */
	uint64_t term;
	const char *vote;                /* "" when none */
	/* TRUNCATE: index. READ: the read index. */
	uint64_t index;
	/* APPEND */
	const struct raft_entry *entries;
	size_t n_entries;
	/* INSTALL_SNAPSHOT: index/term/conf/data of the snapshot. SEND: msg. */
	struct raft_msg msg;
	const char *addr;                /* SEND: where msg.to listens */
	/* APPLY */
	const struct raft_entry *entry;
	/* READ: the caller's request id; ok false when leadership could not be
	 * confirmed (not leader, lost it, or stepped down). */
	uint64_t req;
	bool ok;
	/* STATE */
	enum raft_role role;
	const char *leader_id, *leader_addr; /* "" when unknown */
	/* LOG */
	const struct raft_log *log;
};

struct raft_options {
	char id[RAFT_ID_MAX];
	char addr[RAFT_ADDR_MAX];
	uint64_t seed;
	/* Timing in ms (0 = default). Elections fire after a random time in
	 * [election_timeout, 2*election_timeout) without leader contact; the
	 * leader sends heartbeats every heartbeat_interval; check-quorum steps the
	 * leader down when a majority has not answered within election_timeout. */
	uint32_t election_timeout_ms;     /* default 300 */
	uint32_t heartbeat_interval_ms;   /* default 50 */
	uint32_t failover_jitter_ms;      /* raft_peer_lost: followers campaign in ID order,
	                                     this far apart (+ up to a quarter of it at
	                                     random); default 40 */
	uint32_t max_append_entries;      /* per AppendEntries, default 64 */
	uint32_t max_inflight;            /* pipelined AppendEntries per peer, default 8 */
	uint64_t trailing_logs;           /* kept after a snapshot, default 10240 */
	bool disable_prevote;
};

struct raft;

/* Creates a core with no state (term 0, empty log, empty configuration). Load
 * stored state with the raft_restore_* calls, then call raft_start. NULL when
 * out of memory or an option is invalid (empty id/addr). */
struct raft *raft_new(const struct raft_options *opt);
void raft_free(struct raft *r);

/* Restoring stored state, before raft_start: the hard state, the latest
 * snapshot's metadata (the caller restores the state machine itself), then the
 * log entries after it in ascending order. Return 0 or -RAFT_E*
 * (-RAFT_EINVAL for a gap or an entry at or below the snapshot). */
int raft_restore_hard_state(struct raft *r, uint64_t term, const char *vote);
int raft_restore_snapshot(struct raft *r, uint64_t index, uint64_t term,
                          const struct raft_configuration *conf);
int raft_restore_entry(struct raft *r, const struct raft_entry *e);

/* Starts as a follower ("initial configuration: ..." and "entering follower
 * state" are logged). Entries up to the snapshot count as applied. */
void raft_start(struct raft *r, uint64_t now_ms);

/* Runs due timers (election, heartbeats, check-quorum, transfer timeout). */
void raft_tick(struct raft *r, uint64_t now_ms);

/* The next time raft_tick has work to do. */
uint64_t raft_next_deadline(const struct raft *r);

/* A message from another server. Messages for another id are ignored. */
void raft_step(struct raft *r, uint64_t now_ms, const struct raft_msg *m);

/* Takes the next output; false when there is none. */
bool raft_next_output(struct raft *r, struct raft_out *out);

/* hashicorp's BootstrapCluster on a running follower: only on a new cluster
 * (term 0, empty log): stores term 1 and conf at index 1 (not yet committed;
 * an election follows). -RAFT_EEXISTS otherwise, -RAFT_EINVAL for an empty
 * conf. A conf without this server is accepted: it then waits to be contacted. */
int raft_bootstrap(struct raft *r, uint64_t now_ms, const struct raft_configuration *conf);

/* Appends a command (leader only). *index gets its log index and *term the
 * leader's term; the command is committed when an APPLY output carries that
 * index with that term (another term there means it was lost). */
int raft_propose(struct raft *r, uint64_t now_ms, const uint8_t *data, size_t len,
                 uint64_t *index, uint64_t *term);

/* Membership (leader only, one change at a time: -RAFT_ECONFPENDING while the
 * previous change is not committed). Adding an existing id updates its address
 * and suffrage; voter=false adds a non-voter (promote it with voter=true once
 * raft_progress shows it caught up). *index gets the config entry's index. */
int raft_add_server(struct raft *r, uint64_t now_ms, const char *id, const char *addr,
                    bool voter, uint64_t *index);
int raft_remove_server(struct raft *r, uint64_t now_ms, const char *id, uint64_t *index);

/* Hands leadership to target (NULL: the most up-to-date voter). The leader
 * stops accepting proposals, brings the target's log up to date, and sends it
 * TimeoutNow; the transfer is abandoned after one election timeout. */
int raft_transfer_leadership(struct raft *r, uint64_t now_ms, const char *target);

/* Linearizable read (ReadIndex): answered by a READ output carrying req and
 * the index the state machine must have applied before the read is served. */
void raft_read_index(struct raft *r, uint64_t now_ms, uint64_t req);

/* The transport saw the connection with this server closed by the peer's
 * kernel (its process is gone). If it is our leader, forget it and campaign
 * (pre-vote first) after rank x failover_jitter_ms, rank being this server's
 * place in ID order among the other voters. */
void raft_peer_lost(struct raft *r, uint64_t now_ms, const char *id);

/* The caller stored a snapshot of the state machine at index (<= the last
 * APPLY output). The log is compacted up to index - trailing_logs; the caller
 * may delete stored entries below raft_first_index. */
int raft_snapshot_done(struct raft *r, uint64_t index);

/* ---- queries ---- */
enum raft_role raft_role(const struct raft *r);
uint64_t raft_term(const struct raft *r);
/* Leader id and address, "" when unknown. */
const char *raft_leader_id(const struct raft *r);
const char *raft_leader_addr(const struct raft *r);
uint64_t raft_commit_index(const struct raft *r);
uint64_t raft_applied_index(const struct raft *r);
uint64_t raft_last_index(const struct raft *r);
uint64_t raft_last_term(const struct raft *r);
uint64_t raft_first_index(const struct raft *r);
uint64_t raft_snapshot_index(const struct raft *r);
/* The configuration in effect at the snapshot index (what a snapshot taken
 * with raft_snapshot_done must record). */
const struct raft_configuration *raft_snapshot_configuration(const struct raft *r);
/* The latest configuration (it takes effect when appended) and its index. */
const struct raft_configuration *raft_configuration(const struct raft *r);
uint64_t raft_configuration_index(const struct raft *r);
/* The term of the entry at index; 0 when unknown (compacted or beyond). */
uint64_t raft_term_at(const struct raft *r, uint64_t index);
/* Milliseconds since this server last heard from a leader (0 on the leader,
 * UINT64_MAX when never). */
uint64_t raft_last_contact(const struct raft *r, uint64_t now_ms);
/* Leader only: a peer's replication progress. Returns false when not leader or
 * id is unknown. */
bool raft_progress(const struct raft *r, const char *id, uint64_t *match_index,
                   uint64_t *last_contact_ms_ago, uint64_t now_ms);

#endif
