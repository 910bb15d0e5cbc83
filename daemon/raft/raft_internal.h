/*
 * raft internals shared by raft.c (roles, elections, the API) and
 * raft_log.c (the in-memory log, replication, commit, snapshots, reads).
 */
#ifndef CC_RAFT_INTERNAL_H
#define CC_RAFT_INTERNAL_H

#include "raft/raft.h"

#define NEVER UINT64_MAX

enum prog_state { PROG_PROBE, PROG_REPLICATE, PROG_SNAPSHOT };

/* What the leader knows about one other server. */
struct progress {
	char id[RAFT_ID_MAX];
	char addr[RAFT_ADDR_MAX];
	bool voter;
	enum prog_state state;
	uint64_t next, match;
	unsigned inflight;        /* AppendEntries sent in REPLICATE not yet answered */
	uint64_t last_contact;    /* ms of the last response, NEVER if none */
	bool recent_active;       /* answered since the last check-quorum round */
	uint64_t acked_seq;       /* highest read sequence it echoed */
	uint64_t snap_sent;       /* when a snapshot was last sent (SNAPSHOT state) */
	uint64_t probe_sent;      /* when the last probe was sent (PROBE state) */
	uint64_t commit_sent;     /* the highest commit index it was told */
};

struct pending_read {
	uint64_t req, seq, index;
};

/* An output as queued: pointers into the log are resolved when it is drained,
 * so a later realloc of the log within the same call cannot leave them dangling. */
struct qout {
	struct raft_out out;
	struct raft_log log;
	uint64_t ent_first;       /* APPEND, SEND(append), APPLY: entries from here */
	size_t ent_n;
	char vote[RAFT_ID_MAX];
	char addr[RAFT_ADDR_MAX];
	char leader_id[RAFT_ID_MAX];
	char leader_addr[RAFT_ADDR_MAX];
};

struct raft {
	struct raft_options opt;
	uint64_t rng;
	bool started;

	enum raft_role role;
	uint64_t term;
	char vote[RAFT_ID_MAX];
	char leader_id[RAFT_ID_MAX];
	char leader_addr[RAFT_ADDR_MAX];
	uint64_t last_leader_contact;  /* NEVER when no leader was heard from */

	/* The log: ents[i] has index first + i. Entry data is owned. */
	struct raft_entry *ents;
	size_t n_ents, cap_ents;
	uint64_t first;
	uint64_t snap_index, snap_term;
	struct raft_configuration snap_conf;
	uint64_t commit, applied;

	struct raft_configuration conf;  /* latest, in effect once appended */
	uint64_t conf_index;

	/* timers */
	uint64_t election_deadline;
	uint64_t heartbeat_deadline;
	uint64_t quorum_deadline;
	uint64_t transfer_deadline;
	bool warned_no_peers;

	/* candidate */
	bool granted[RAFT_MAX_SERVERS], answered[RAFT_MAX_SERVERS];

	/* leader */
	struct progress prog[RAFT_MAX_SERVERS];
	unsigned n_prog;
	uint64_t term_start;             /* index of this leader's NOOP */
	char transfer_to[RAFT_ID_MAX];
	uint64_t seq;
	struct pending_read *reads;
	size_t n_reads, cap_reads;

	/* what the last STATE output said */
	enum raft_role st_role;
	uint64_t st_term;
	char st_leader[RAFT_ID_MAX];

	/* outputs */
	struct qout *q;
	size_t q_len, q_cap, q_head;
	bool oom;
};

/* raft.c */
struct qout *raft_q_push(struct raft *r, enum raft_out_kind kind);
void raft_logf(struct raft *r, int level, const char *msg, ...);  /* key, value, ..., NULL */
uint64_t raft_rand(struct raft *r, uint64_t bound);
unsigned raft_quorum(const struct raft *r);
bool raft_is_voter(const struct raft *r, const char *id);
void raft_become_follower(struct raft *r, uint64_t now, uint64_t term, const char *leader_id,
                          const char *leader_addr);
void raft_reset_election(struct raft *r, uint64_t now);
void raft_campaign(struct raft *r, uint64_t now, bool pre, bool transfer);
void raft_send(struct raft *r, struct raft_msg *m, const char *addr);
void raft_persist_hard_state(struct raft *r);

/* raft_log.c */
struct raft_entry *raft_ent(const struct raft *r, uint64_t index);
bool raft_term_known(const struct raft *r, uint64_t index, uint64_t *term);
int raft_log_append(struct raft *r, uint64_t term, enum raft_entry_type type, const uint8_t *data,
                    size_t len);
void raft_log_truncate(struct raft *r, uint64_t index);
void raft_log_clear(struct raft *r, uint64_t new_first);
void raft_conf_refresh(struct raft *r);
void raft_leader_init(struct raft *r, uint64_t now);
void raft_progress_sync(struct raft *r);
struct progress *raft_prog(struct raft *r, const char *id);
void raft_send_append(struct raft *r, uint64_t now, struct progress *p, bool heartbeat);
/* Sends p a heartbeat when it holds committed entries it was not told are. */
void raft_tell_commit(struct raft *r, uint64_t now, struct progress *p);
void raft_broadcast(struct raft *r, uint64_t now, bool heartbeat);
void raft_maybe_commit(struct raft *r, uint64_t now);
void raft_apply_committed(struct raft *r, uint64_t now);
void raft_on_append(struct raft *r, uint64_t now, const struct raft_msg *m);
void raft_on_append_resp(struct raft *r, uint64_t now, const struct raft_msg *m);
void raft_on_snapshot(struct raft *r, uint64_t now, const struct raft_msg *m);
void raft_on_snapshot_resp(struct raft *r, uint64_t now, const struct raft_msg *m);
void raft_reads_check(struct raft *r);
void raft_reads_fail(struct raft *r);
void raft_conf_to_string(const struct raft_configuration *c, char *buf, size_t cap);

#endif
