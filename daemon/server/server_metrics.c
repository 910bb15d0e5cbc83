/* What the server feeds the metrics registry: hashicorp/raft's state
 * counters on role changes and its leader-side lastContact samples. */
#include <string.h>

#include "metrics/metrics.h"
#include "server/server_internal.h"

static bool campaigning(enum raft_role r)
{
	return r == RAFT_PRECANDIDATE || r == RAFT_CANDIDATE;
}

void server_metrics_role(enum raft_role from, enum raft_role to)
{
	/* raft: metrics.IncrCounter([]string{"raft", "state", "leader"}, 1), ...
	 * once per entry into a state; its pre-vote runs inside the candidate
	 * state, so pre-candidate then candidate counts once */
	if (to == RAFT_LEADER)
		cc_metric_incr("raft.state.leader", 1);
	else if (campaigning(to) && !campaigning(from))
		cc_metric_incr("raft.state.candidate", 1);
	else if (to == RAFT_FOLLOWER)
		cc_metric_incr("raft.state.follower", 1);
}

void cc_server_metrics_sample(const struct cc_server *s)
{
	if (raft_role(s->raft) != RAFT_LEADER)
		return;
	/* raft's checkLeaderLease: one raft.leader.lastContact sample (ms) per
	 * other voter, on the leader */
	const struct raft_configuration *conf = raft_configuration(s->raft);
	uint64_t now = server_now(s);
	for (unsigned i = 0; conf && i < conf->n; i++) {
		uint64_t match, ago;
		if (!conf->s[i].voter || strcmp(conf->s[i].id, s->node_id) == 0)
			continue;
		if (raft_progress(s->raft, conf->s[i].id, &match, &ago, now) && ago != UINT64_MAX)
			cc_metric_sample("raft.leader.lastContact", (double)ago);
	}
}
