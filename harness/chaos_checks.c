/* The timed assertions of a chaos run (steps such as leader_within): each
 * waits at most its bound, watching the monitor, and records a verdict. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chaos_internal.h"
#include "query.h"

static void fmt_ms(char *buf, size_t cap, uint64_t ms)
{
	if (ms % 1000)
		snprintf(buf, cap, "%llums", (unsigned long long)ms);
	else
		snprintf(buf, cap, "%llus", (unsigned long long)(ms / 1000));
}

void chaos_leader_within(struct chaos *c, const struct scn_step *st)
{
	char arg[32];
	fmt_ms(arg, sizeof(arg), st->ms);
	/* from the last fault, or from this step when a wait came in between */
	long long since = c->last_fault_ms > c->last_wait_ms ? c->last_fault_ms : c->last_wait_ms;
	long long left = since + (long long)st->ms - chaos_now(c);
	long long at;
	int l = chaos_wait_leader(c, left > 0 ? left : 0, &at);
	/* when it took office: a leader found late (the step came after a wait)
	 * counts from the first sample that showed it leading in this term */
	struct mon_sample ls;
	int64_t from = at;
	if (l >= 0 && monitor_latest(c->mon, (size_t)l, &ls))
		monitor_leading_since(c->mon, (size_t)l, ls.term, &from);
	if (from > at)
		from = at;
	long long took = from > since ? from - since : 0;
	if (l >= 0 && took <= (long long)st->ms) {
		if (c->nleader < sizeof(c->leader_ms) / sizeof(c->leader_ms[0]))
			c->leader_ms[c->nleader++] = (double)took;
		if (from <= since)
			chaos_verdict(c, "leader_within", arg, true, "%s was already leading (term %llu) "
			              "(line %d)", chaos_name(c, (size_t)l),
			              (unsigned long long)ls.term, st->line);
		else
			chaos_verdict(c, "leader_within", arg, true, "%s elected %lld ms after the last "
			              "fault, agreed by a quorum (line %d)", chaos_name(c, (size_t)l), took, st->line);
	} else if (l >= 0) {
		chaos_verdict(c, "leader_within", arg, false, "%s took office %lld ms after the last "
		              "fault (line %d)", chaos_name(c, (size_t)l), took, st->line);
	} else {
		chaos_verdict(c, "leader_within", arg, false, "no leader agreed by a quorum %lld ms after "
		              "the last fault (line %d)", at - since, st->line);
	}
}

void chaos_no_leader(struct chaos *c, const struct scn_step *st)
{
	char arg[32];
	fmt_ms(arg, sizeof(arg), st->ms);
	long long start = chaos_now(c);
	chaos_sleep_ms((long long)st->grace_ms);
	while (chaos_now(c) < start + (long long)st->ms && !chaos_interrupted) {
		for (size_t i = 0; i < chaos_nn(c); i++) {
			struct mon_sample s;
			if (c->pstate[i] == CP_UP && monitor_latest(c->mon, i, &s) && s.answered &&
			    (s.state == MON_LEADER || s.leader[0])) {
				chaos_verdict(c, "no_leader", arg, false, "%s reports %s %s at %.1f s (line %d)",
				              chaos_name(c, i), s.state == MON_LEADER ? "itself as leader, term"
				                                                : "a leader:",
				              s.state == MON_LEADER ? "" : s.leader,
				              (double)chaos_now(c) / 1000, st->line);
				return;
			}
		}
		chaos_sleep_ms(CHAOS_POLL_MS);
	}
	chaos_verdict(c, "no_leader", arg, true, "no server reported a leader from %.1f s to %.1f s "
	              "(line %d)", (double)(start + (long long)st->grace_ms) / 1000,
	              (double)chaos_now(c) / 1000, st->line);
}

/* The servers connected to node l (itself included). */
static size_t reach(const struct chaos *c, size_t l)
{
	size_t n = 0;
	for (size_t s = 0; s < chaos_nn(c); s++)
		n += chaos_is_server(c, s) && c->pstate[s] == CP_UP && chaos_connected(c, s, l);
	return n;
}

void chaos_steps_down(struct chaos *c, const struct scn_step *st)
{
	char arg[32];
	fmt_ms(arg, sizeof(arg), st->ms);
	long long since = c->last_fault_ms, deadline = since + (long long)st->ms;
	for (;;) {
		ssize_t stale = -1;
		for (size_t i = 0; i < chaos_nn(c) && stale < 0; i++) {
			struct mon_sample s;
			if (c->pstate[i] == CP_UP && monitor_latest(c->mon, i, &s) && s.answered &&
			    s.state == MON_LEADER && reach(c, i) < chaos_quorum(c))
				stale = (ssize_t)i;
		}
		if (stale < 0) {
			chaos_verdict(c, "old_leader_steps_down_within", arg, true, "no leader without a "
			              "quorum %lld ms after the last fault (line %d)",
			              chaos_now(c) - since, st->line);
			return;
		}
		if (chaos_now(c) >= deadline || chaos_interrupted) {
			chaos_verdict(c, "old_leader_steps_down_within", arg, false, "%s still leads "
			              "without a quorum %lld ms after the last fault (line %d)",
			              chaos_name(c, (size_t)stale), chaos_now(c) - since, st->line);
			return;
		}
		chaos_sleep_ms(CHAOS_POLL_MS);
	}
}

/* Every running conclave node lists exactly the running ones as alive. */
static bool converged(struct chaos *c, char *why, size_t cap)
{
	static char body[262144];
	for (size_t i = 0; i < chaos_nn(c); i++) {
		const struct topo_node *n = &c->r.t->nodes[i];
		if (n->kind != TOPO_KIND_CONCLAVE || c->pstate[i] != CP_UP)
			continue;
		int st = query_http(c->r.node_fd[i], n->ifaces[0].addr, plan_node_http_port(n), "GET",
		                    "/v1/agent/members", NULL, body, sizeof(body), 1000);
		if (st != 200) {
			snprintf(why, cap, "%s does not answer /v1/agent/members", n->name);
			return false;
		}
		cJSON *j = cJSON_Parse(body), *m;
		size_t alive = 0, want = 0;
		bool ok = cJSON_IsArray(j);
		cJSON_ArrayForEach(m, j)
		{
			cJSON *nm = cJSON_GetObjectItemCaseSensitive(m, "Name");
			cJSON *stt = cJSON_GetObjectItemCaseSensitive(m, "Status");
			ssize_t k = cJSON_IsString(nm) ? chaos_node_index(c, nm->valuestring) : -1;
			bool is_alive = cJSON_IsNumber(stt) && stt->valueint == 1;
			if (k >= 0 && is_alive != (c->pstate[k] == CP_UP)) {
				snprintf(why, cap, "%s sees %s as %s", n->name, nm->valuestring,
				         is_alive ? "alive" : "not alive");
				ok = false;
				break;
			}
			alive += is_alive;
		}
		for (size_t k = 0; k < chaos_nn(c); k++)
			want += c->r.t->nodes[k].kind == TOPO_KIND_CONCLAVE && c->pstate[k] == CP_UP;
		cJSON_Delete(j);
		if (ok && alive != want)
			snprintf(why, cap, "%s sees %zu alive members, %zu are running", n->name, alive, want);
		if (!ok || alive != want)
			return false;
	}
	return true;
}

void chaos_members_converged(struct chaos *c, const struct scn_step *st)
{
	char arg[32], why[256] = "";
	fmt_ms(arg, sizeof(arg), st->ms);
	long long start = chaos_now(c), deadline = start + (long long)st->ms;
	for (;;) {
		if (converged(c, why, sizeof(why))) {
			chaos_verdict(c, "members_converged_within", arg, true, "after %lld ms (line %d)",
			              chaos_now(c) - start, st->line);
			return;
		}
		if (chaos_now(c) >= deadline || chaos_interrupted)
			break;
		chaos_sleep_ms(200);
	}
	chaos_verdict(c, "members_converged_within", arg, false, "not after %lld ms: %s (line %d)",
	              chaos_now(c) - start, why, st->line);
}

void chaos_write_ok(struct chaos *c, const struct scn_step *st)
{
	char arg[32], body[4096], path[96];
	fmt_ms(arg, sizeof(arg), st->ms);
	long long start = chaos_now(c), deadline = start + (long long)st->ms;
	int last = 0;
	/* from the leader on, one try per node of at most a second: a node cut off
	 * from the leader would hold the write for its whole hold time */
	int l = chaos_agreed_leader(c);
	for (unsigned k = 0; chaos_now(c) < deadline && !chaos_interrupted; k++) {
		size_t i = (k + (l >= 0 ? (size_t)l : 0)) % chaos_nn(c);
		const struct topo_node *n = &c->r.t->nodes[i];
		if (n->kind != TOPO_KIND_CONCLAVE || c->pstate[i] != CP_UP)
			continue;
		long long left = deadline - chaos_now(c);
		snprintf(path, sizeof(path), "/v1/kv/chaos-probe/line%d", st->line);
		last = query_http(c->r.node_fd[i], n->ifaces[0].addr, plan_node_http_port(n), "PUT",
		                  path, "probe", body, sizeof(body), (int)(left < 1000 ? left : 1000));
		if (last == 200 && strncmp(body, "true", 4) == 0) {
			chaos_verdict(c, "write_ok", arg, true, "a write through %s went through after "
			              "%lld ms (line %d)", n->name, chaos_now(c) - start, st->line);
			return;
		}
		chaos_sleep_ms(50);
	}
	chaos_verdict(c, "write_ok", arg, false, "no write went through in %s (last answer %d) "
	              "(line %d)", arg, last, st->line);
}

