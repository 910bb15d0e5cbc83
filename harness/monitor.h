/*
 * monitor — watches the Raft state of a running topology's conclave servers
 * during a chaos run: one thread per server asks its agent, from inside the
 * node's namespace, every interval_ms, for its Raft state and term
 * (/v1/agent/self) and the leader it knows (/v1/status/leader).
 *
 * Each node's observations are kept as a list of changes (a sample is stored
 * when state, term, leader or reachability differ from the one before), so a
 * long run stays small; the latest sample is always available.
 */
#ifndef CC_MONITOR_H
#define CC_MONITOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "harness.h"

enum mon_state { MON_UNKNOWN, MON_FOLLOWER, MON_CANDIDATE, MON_LEADER };

struct mon_sample {
	int64_t t_ms;          /* since the run started */
	bool answered;         /* the agent answered both requests */
	enum mon_state state;
	uint64_t term;
	char leader[32];       /* "ip:port" of the leader it knows, "" none */
};

struct monitor;

/* Starts watching every conclave server of r (r must outlive the monitor;
 * only its namespace fds and topology are read). t0_ms is harness_now_ms()
 * at the run's start. Returns 0 or -errno with err. */
int monitor_start(struct monitor **out, const struct run *r, long long t0_ms,
                  unsigned interval_ms, char *err, size_t errlen);

/* The servers watched: their node indexes in r's topology. */
size_t monitor_nodes(const struct monitor *m, const size_t **nodes);

/* The latest sample of node (a topology index); false when it is not watched. */
bool monitor_latest(struct monitor *m, size_t node, struct mon_sample *out);

/* Since when node has been leading in term without a break (the first of the
 * latest run of samples saying so); false when its latest sample is not that. */
bool monitor_leading_since(struct monitor *m, size_t node, uint64_t term, int64_t *since_ms);

/* Stops the threads (within about one request timeout). The change lists stay
 * readable until monitor_free. */
void monitor_stop(struct monitor *m);

/* After monitor_stop: the changes seen on node, oldest first. */
size_t monitor_changes(const struct monitor *m, size_t node, const struct mon_sample **out);

void monitor_free(struct monitor *m);

#endif
