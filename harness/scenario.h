/*
 * scenario — chaos experiment files (the scenarios/ directory), parsed and checked.
 *
 * A scenario names the topology it runs on, an optional client workload, a
 * list of steps (faults, waits, repeats, a seeded random nemesis, and timed
 * assertions such as leader_within) and whole-run assertions
 * (single_leader, no_acked_write_lost, linearizable). docs/scenarios.md is
 * the user's description of the format; this header is the code's contract.
 *
 * Pure: no I/O besides reading the file. Errors read
 * "FILE:LINE: <key>: what is wrong" and name the offending key or value.
 * Node names are checked against the topology by the runner, not here.
 */
#ifndef CC_SCENARIO_H
#define CC_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SCN_ERR_MAX 512
#define SCN_NAME_MAX 16         /* node names, as in topology.h */
#define SCN_MAX_NODES 64        /* names in one target or group */
#define SCN_MAX_GROUPS 8

/* Whom a fault hits. Dynamic kinds are resolved when the step runs. */
enum scn_target_kind {
	SCN_T_NODES,     /* the names listed */
	SCN_T_LEADER,    /* the current leader */
	SCN_T_FOLLOWER,  /* one server that is not the leader (seeded choice) */
	SCN_T_RANDOM,    /* one node (seeded choice) */
	SCN_T_ALL,       /* every node */
	SCN_T_DOWN,      /* every node whose process the run stopped or killed */
	SCN_T_MINORITY,  /* a minority of the servers (seeded choice) */
};

struct scn_target {
	enum scn_target_kind kind;
	size_t n;
	char names[SCN_MAX_NODES][SCN_NAME_MAX];
};

enum scn_step_kind {
	SCN_WAIT,            /* ms */
	SCN_PROCESS,         /* verb: kill stop start restart pause resume; target */
	SCN_LINK,            /* up; target */
	SCN_PARTITION,       /* shape (+ groups or target) */
	SCN_BLOCK,           /* one way: from -> to */
	SCN_HEAL,            /* removes every partition and block */
	SCN_PACKET,          /* verb: loss delay reorder dup rate; target, peer */
	SCN_CLEAR,           /* packet faults of target (or all) */
	SCN_REPEAT,          /* times x steps */
	SCN_RANDOM,          /* the seeded random nemesis */
	SCN_LEADER_WITHIN,   /* ms: a leader agreed by a quorum within ms */
	SCN_NO_LEADER,       /* ms, grace_ms: no server reports a leader */
	SCN_CONVERGED,       /* ms: every running node sees exactly the running nodes alive */
	SCN_WRITE_OK,        /* ms: a write through some node goes through within ms */
	SCN_STEPS_DOWN,      /* ms: a leader cut off from a quorum steps down within ms */
};

enum scn_shape {
	SCN_SHAPE_GROUPS,          /* the groups as written */
	SCN_SHAPE_ISOLATE,         /* target alone | everyone else */
	SCN_SHAPE_HALVES,          /* random halves, the smaller first (seeded) */
	SCN_SHAPE_MAJORITIES_RING, /* every node sees a majority, no two the same one */
	SCN_SHAPE_BRIDGE,          /* two halves and one node that talks to both */
};

/* Faults the random nemesis may choose (bit set). */
enum {
	SCN_RF_KILL = 1 << 0,
	SCN_RF_STOP = 1 << 1,
	SCN_RF_PAUSE = 1 << 2,
	SCN_RF_PARTITION = 1 << 3,
	SCN_RF_ISOLATE = 1 << 4,
	SCN_RF_LINK = 1 << 5,
	SCN_RF_LOSS = 1 << 6,
	SCN_RF_DELAY = 1 << 7,
};

struct scn_step {
	enum scn_step_kind kind;
	int line;
	char verb[16];
	struct scn_target target;
	struct scn_target peer;         /* packet faults towards one peer (n 0: all) */
	uint64_t ms, grace_ms;
	/* partition */
	enum scn_shape shape;
	size_t ngroups;
	struct scn_target groups[SCN_MAX_GROUPS];
	char from[SCN_NAME_MAX], to[SCN_NAME_MAX];
	/* packet faults */
	unsigned percent, delay_ms, jitter_ms;
	uint64_t rate_bps;
	/* repeat */
	unsigned times;
	struct scn_step *steps;
	size_t nsteps;
	/* random nemesis */
	unsigned faults;
	uint64_t every_ms, for_ms, seed;
};

enum scn_read_mode { SCN_READ_CONSISTENT, SCN_READ_DEFAULT, SCN_READ_STALE };

struct scn_workload {
	bool enabled;
	unsigned clients, keys;
	double rate;                    /* operations per second, all clients */
	unsigned read_pct, write_pct, cas_pct;
	enum scn_read_mode reads;
	uint64_t timeout_ms;
	struct scn_target nodes;        /* whom clients talk to (kind ALL by default) */
};

/* Whole-run assertions. linearizable: 0 not asked, 1 must hold, -1 must NOT
 * hold (a scenario that proves the checker catches stale reads). */
struct scn_assertions {
	bool single_leader, no_acked_write_lost;
	int linearizable;
};

struct scenario {
	char file[512];
	char name[64];
	char description[512];
	char topology[512];             /* resolved relative to the scenario file */
	uint64_t seed;
	struct scn_workload workload;
	struct scn_step *steps;
	size_t nsteps;
	struct scn_assertions assert;
};

/* Parses a scenario file. *out is malloc'd: free it with scenario_free.
 * Returns 0, or -1 with err set ("FILE:LINE: key: reason"). */
int scenario_load_file(const char *path, struct scenario **out, char *err, size_t errlen);
/* The same from a buffer; name labels messages and resolves the topology path. */
int scenario_load_buf(const char *buf, size_t len, const char *name, struct scenario **out,
                      char *err, size_t errlen);
void scenario_free(struct scenario *s);

/* "2s", "500ms", "1.5s", "2m" -> milliseconds. Returns 0 or -1. */
int scenario_parse_duration(const char *s, uint64_t *ms);
/* "1mbit", "500kbit", "10mbps" (bytes), "2000000" (bit/s) -> bits per second. */
int scenario_parse_rate(const char *s, uint64_t *bps);

const char *scenario_step_name(const struct scn_step *st);

/* Checks every node the scenario names (step targets, peers, groups, block
 * ends, workload nodes) with exists(ud, name). Returns 0, or -1 with err
 * "FILE:LINE: step: no node \"x\" in topology_name". */
int scenario_check_nodes(const struct scenario *s, bool (*exists)(void *ud, const char *name),
                         void *ud, const char *topology_name, char *err, size_t errlen);

#endif
