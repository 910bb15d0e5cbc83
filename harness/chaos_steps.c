/* The chaos runner's steps: faults on resolved targets, waits, repeats and
 * the seeded random nemesis (the timed assertions are in chaos_checks.c), and
 * the agreed-leader view the assertions share. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chaos_internal.h"
#include "fault.h"

#define MAX_OPEN 256

/* ---- small things ---- */

static uint64_t rnd(struct chaos *c)
{
	uint64_t x = c->rng ? c->rng : 0x9e3779b97f4a7c15ull;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	c->rng = x;
	return x * 0x2545f4914f6cdd1dull;
}

/* Sleeps ms, in slices so that an interrupted run stops waiting. */
void chaos_sleep_ms(long long ms)
{
	long long end = harness_now_ms() + ms;
	for (long long left = ms; left > 0 && !chaos_interrupted; left = end - harness_now_ms()) {
		long long slice = left < 100 ? left : 100;
		struct timespec ts = { 0, slice * 1000000 };
		nanosleep(&ts, NULL);
	}
}

bool chaos_is_server(const struct chaos *c, size_t i)
{
	const struct topo_node *n = &c->r.t->nodes[i];
	return n->kind == TOPO_KIND_CONCLAVE &&
	       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(n->config, "server"));
}

size_t chaos_quorum(const struct chaos *c)
{
	size_t n = 0;
	for (size_t i = 0; i < chaos_nn(c); i++)
		n += chaos_is_server(c, i);
	return n / 2 + 1;
}

ssize_t chaos_node_index(const struct chaos *c, const char *nm)
{
	for (size_t i = 0; i < chaos_nn(c); i++)
		if (strcmp(chaos_name(c, i), nm) == 0)
			return (ssize_t)i;
	return -1;
}

/* a and b can exchange packets, as far as the runner's faults go */
bool chaos_connected(const struct chaos *c, size_t a, size_t b)
{
	if (a == b)
		return true;
	return !c->link_down[a] && !c->link_down[b] && !c->blocked[a * chaos_nn(c) + b] &&
	       !c->blocked[b * chaos_nn(c) + a];
}

/* The node whose address is leader ("ip:port"), or -1. */
static ssize_t node_of_addr(const struct chaos *c, const char *leader)
{
	if (!*leader)
		return -1;
	for (size_t i = 0; i < chaos_nn(c); i++) {
		char ip[16];
		const struct topo_node *n = &c->r.t->nodes[i];
		size_t l = strlen(topo_ip_str(n->ifaces[0].addr, ip));
		if (n->nifaces && strncmp(leader, ip, l) == 0 && leader[l] == ':')
			return (ssize_t)i;
	}
	return -1;
}

/* A leader agreed by a quorum: a running server that says it leads, and
 * enough running servers connected to it that name it. -1 when none. */
int chaos_agreed_leader(struct chaos *c)
{
	int best = -1;
	uint64_t best_term = 0;
	for (size_t l = 0; l < chaos_nn(c); l++) {
		struct mon_sample ls;
		if (c->pstate[l] != CP_UP || !monitor_latest(c->mon, l, &ls) || !ls.answered ||
		    ls.state != MON_LEADER)
			continue;
		size_t votes = 0;
		for (size_t s = 0; s < chaos_nn(c); s++) {
			struct mon_sample ss;
			if (c->pstate[s] == CP_UP && chaos_connected(c, s, l) &&
			    monitor_latest(c->mon, s, &ss) && ss.answered &&
			    node_of_addr(c, ss.leader) == (ssize_t)l)
				votes++;
		}
		if (votes >= chaos_quorum(c) && (best < 0 || ls.term > best_term)) {
			best = (int)l;
			best_term = ls.term;
		}
	}
	return best;
}

int chaos_wait_leader(struct chaos *c, long long ms, long long *at_ms)
{
	long long deadline = chaos_now(c) + ms;
	for (;;) {
		int l = chaos_agreed_leader(c);
		if (l >= 0 || chaos_now(c) >= deadline || chaos_interrupted) {
			if (at_ms)
				*at_ms = chaos_now(c);
			return l;
		}
		chaos_sleep_ms(CHAOS_POLL_MS);
	}
}

/* ---- the report's process lanes and fault spans ---- */

static void span(cJSON *arr, const char *node, const char *state, long long from, long long to)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "node", node);
	cJSON_AddStringToObject(o, "state", state);
	cJSON_AddNumberToObject(o, "from_ms", (double)from);
	cJSON_AddNumberToObject(o, "to_ms", (double)to);
	cJSON_AddItemToArray(arr, o);
}

void chaos_set_pstate(struct chaos *c, size_t node, enum chaos_pstate st)
{
	static const char *const names[] = { "up", "down", "paused" };
	long long now = chaos_now(c);
	if (c->pstate[node] == st)
		return;
	span(c->process, chaos_name(c, node), names[c->pstate[node]], c->pstate_since[node], now);
	c->pstate[node] = st;
	c->pstate_since[node] = now;
}

struct open_fault {
	char cls[16];   /* what undoes it: down, pause, link, net, packet */
	ssize_t node;   /* -1: topology-wide */
	cJSON *obj;
};
static struct open_fault open_faults[MAX_OPEN];
static size_t nopen;

static void fault_open(struct chaos *c, const char *kind, const char *cls, ssize_t node,
                       const char *text)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "kind", kind);
	cJSON_AddStringToObject(o, "target", node >= 0 ? chaos_name(c, (size_t)node) : "all");
	cJSON_AddNumberToObject(o, "from_ms", (double)chaos_now(c));
	cJSON_AddNullToObject(o, "to_ms");
	cJSON_AddStringToObject(o, "text", text);
	cJSON_AddItemToArray(c->faults, o);
	c->last_fault_ms = chaos_now(c);
	if (nopen == MAX_OPEN)
		return;   /* its span then lasts to the end of the run */
	struct open_fault *f = &open_faults[nopen++];
	snprintf(f->cls, sizeof(f->cls), "%s", cls);
	f->node = node;
	f->obj = o;
}

/* Ends the open spans of class cls on node (node -1: on every node). */
static void fault_close(struct chaos *c, const char *cls, ssize_t node)
{
	c->last_fault_ms = chaos_now(c);   /* undoing a fault is a change to time from too */
	for (size_t i = 0; i < nopen;) {
		struct open_fault *f = &open_faults[i];
		if (strcmp(f->cls, cls) == 0 && (node < 0 || f->node == node)) {
			cJSON_ReplaceItemInObject(f->obj, "to_ms", cJSON_CreateNumber((double)chaos_now(c)));
			open_faults[i] = open_faults[--nopen];
		} else {
			i++;
		}
	}
}

/* ---- targets ---- */

static size_t pick(struct chaos *c, const size_t *from, size_t n)
{
	return from[rnd(c) % n];
}

/* Resolves t for verb into out (nnodes entries); returns the count, or -1
 * with a message printed. */
static int resolve(struct chaos *c, const struct scn_target *t, const char *verb, size_t *out)
{
	size_t cand[256], nc = 0, n = 0;
	bool wants_down = strcmp(verb, "start") == 0;
	bool wants_paused = strcmp(verb, "resume") == 0;
	for (size_t i = 0; i < chaos_nn(c) && nc < 256; i++) {
		enum chaos_pstate st = c->pstate[i];
		bool fits = wants_down ? st == CP_DOWN : wants_paused ? st == CP_PAUSED : st == CP_UP;
		if (fits || strcmp(verb, "restart") == 0 || strcmp(verb, "any") == 0)
			cand[nc++] = i;
	}
	switch (t->kind) {
	case SCN_T_NODES:
		for (size_t k = 0; k < t->n; k++)
			out[n++] = (size_t)chaos_node_index(c, t->names[k]);
		return (int)n;
	case SCN_T_ALL:
		memcpy(out, cand, nc * sizeof(*out));
		return (int)nc;
	case SCN_T_DOWN:
		for (size_t i = 0; i < chaos_nn(c); i++)
			if (c->pstate[i] == CP_DOWN)
				out[n++] = i;
		return (int)n;
	case SCN_T_LEADER: {
		int l = chaos_wait_leader(c, 10000, NULL);
		if (l < 0) {
			chaos_say(c, "no leader to %s (none agreed by a quorum within 10 s)", verb);
			return -1;
		}
		out[0] = (size_t)l;
		return 1;
	}
	case SCN_T_FOLLOWER: {
		int l = chaos_wait_leader(c, 10000, NULL);
		size_t f[256], nf = 0;
		for (size_t k = 0; k < nc; k++)
			if (chaos_is_server(c, cand[k]) && (int)cand[k] != l)
				f[nf++] = cand[k];
		if (nf == 0) {
			chaos_say(c, "no follower to %s", verb);
			return -1;
		}
		out[0] = pick(c, f, nf);
		return 1;
	}
	case SCN_T_RANDOM:
		if (nc == 0) {
			chaos_say(c, "no node to %s", verb);
			return -1;
		}
		out[0] = pick(c, cand, nc);
		return 1;
	case SCN_T_MINORITY: {
		size_t s[256], ns = 0;
		for (size_t k = 0; k < nc; k++)
			if (chaos_is_server(c, cand[k]))
				s[ns++] = cand[k];
		size_t want = chaos_quorum(c) - 1;
		while (n < want && ns > 0) {
			size_t k = rnd(c) % ns;
			out[n++] = s[k];
			s[k] = s[--ns];
		}
		return (int)n;
	}
	}
	return -1;
}

static void names_of(const struct chaos *c, const size_t *idx, size_t n, char *buf, size_t cap)
{
	buf[0] = 0;
	for (size_t k = 0; k < n; k++)
		snprintf(buf + strlen(buf), cap - strlen(buf), "%s%s", k ? " " : "", chaos_name(c, idx[k]));
}

/* ---- faults ---- */

static int fail_step(struct chaos *c, const char *what, const char *err)
{
	chaos_say(c, "%s failed: %s", what, err);
	chaos_verdict(c, "step", what, false, "could not be carried out: %s", err);
	return -1;
}

static int do_process(struct chaos *c, const char *verb, const struct scn_target *t)
{
	size_t idx[256];
	int n = resolve(c, t, verb, idx);
	if (n < 0)
		return fail_step(c, verb, "no target");
	char who[512], err[512];
	names_of(c, idx, (size_t)n, who, sizeof(who));
	int l = t->kind == SCN_T_LEADER ? (int)idx[0] : -1;
	chaos_say(c, "%s %s%s", verb, n ? who : "(nobody)", l >= 0 ? " (the leader)" : "");
	for (int k = 0; k < n; k++) {
		size_t i = idx[k];
		if (fault_process(&c->r, i, verb, err, sizeof(err)))
			return fail_step(c, verb, err);
		if (!strcmp(verb, "kill") || !strcmp(verb, "stop")) {
			chaos_set_pstate(c, i, CP_DOWN);
			fault_open(c, verb, "down", (ssize_t)i, verb);
		} else if (!strcmp(verb, "pause")) {
			chaos_set_pstate(c, i, CP_PAUSED);
			fault_open(c, "pause", "pause", (ssize_t)i, "pause");
		} else if (!strcmp(verb, "restart")) {
			fault_close(c, "down", (ssize_t)i);
			fault_close(c, "pause", (ssize_t)i);
			chaos_set_pstate(c, i, CP_DOWN);
			chaos_set_pstate(c, i, CP_UP);
			c->last_fault_ms = chaos_now(c);
		} else {
			fault_close(c, !strcmp(verb, "resume") ? "pause" : "down", (ssize_t)i);
			chaos_set_pstate(c, i, CP_UP);
		}
	}
	return 0;
}

static int do_link(struct chaos *c, bool up, const struct scn_target *t)
{
	size_t idx[256];
	int n = resolve(c, t, "any", idx);
	if (n < 0)
		return fail_step(c, up ? "link_up" : "link_down", "no target");
	char who[512], err[512];
	names_of(c, idx, (size_t)n, who, sizeof(who));
	chaos_say(c, "link %s %s", up ? "up" : "down", who);
	for (int k = 0; k < n; k++) {
		if (fault_link(&c->r, idx[k], up, err, sizeof(err)))
			return fail_step(c, "link", err);
		c->link_down[idx[k]] = !up;
		if (up)
			fault_close(c, "link", (ssize_t)idx[k]);
		else
			fault_open(c, "link", "link", (ssize_t)idx[k], "link down");
	}
	return 0;
}

/* Applies the partition given as a group per node (-1: talks to everyone). */
static int apply_groups(struct chaos *c, const int *group, const char *shape)
{
	char err[512], text[512] = "";
	for (int g = 0; g < 64; g++) {
		bool any = false;
		for (size_t i = 0; i < chaos_nn(c); i++)
			if (group[i] == g) {
				snprintf(text + strlen(text), sizeof(text) - strlen(text), "%s%s",
				         any ? " " : (g ? " | " : ""), chaos_name(c, i));
				any = true;
			}
	}
	chaos_say(c, "partition (%s): %s", shape, text);
	if (fault_partition(&c->r, group, err, sizeof(err)))
		return fail_step(c, "partition", err);
	fault_close(c, "net", -1);
	for (size_t a = 0; a < chaos_nn(c); a++)
		for (size_t b = 0; b < chaos_nn(c); b++)
			c->blocked[a * chaos_nn(c) + b] = group[a] >= 0 && group[b] >= 0 && group[a] != group[b];
	fault_open(c, "partition", "net", -1, text);
	return 0;
}

static int do_partition(struct chaos *c, const struct scn_step *st)
{
	int *group = calloc(chaos_nn(c), sizeof(*group));
	size_t order[256], n = chaos_nn(c) < 256 ? chaos_nn(c) : 256;
	if (!group)
		return fail_step(c, "partition", "out of memory");
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	for (size_t i = n; i > 1; i--) {   /* a seeded shuffle for the random shapes */
		size_t j = rnd(c) % i, t = order[i - 1];
		order[i - 1] = order[j];
		order[j] = t;
	}
	int rc = 0;
	const char *shape = "groups";
	switch (st->shape) {
	case SCN_SHAPE_GROUPS:
		for (size_t i = 0; i < chaos_nn(c); i++)
			group[i] = -1;
		for (size_t g = 0; g < st->ngroups; g++)
			for (size_t k = 0; k < st->groups[g].n; k++)
				group[chaos_node_index(c, st->groups[g].names[k])] = (int)g;
		break;
	case SCN_SHAPE_ISOLATE: {
		size_t idx[256];
		int k = resolve(c, &st->target, "any", idx);
		if (k < 1) {
			free(group);
			return fail_step(c, "partition", "no node to isolate");
		}
		for (size_t i = 0; i < chaos_nn(c); i++)
			group[i] = 1;
		for (int j = 0; j < k; j++)
			group[idx[j]] = 0;
		shape = st->target.kind == SCN_T_LEADER ? "isolate the leader" : "isolate";
		break;
	}
	case SCN_SHAPE_HALVES:
		for (size_t i = 0; i < n; i++)
			group[order[i]] = i < n / 2 ? 0 : 1;
		shape = "random halves";
		break;
	case SCN_SHAPE_BRIDGE:
		for (size_t i = 0; i < n; i++)
			group[order[i]] = i < n / 2 ? 0 : 1;
		group[order[n / 2]] = -1;
		shape = "bridge";
		break;
	case SCN_SHAPE_MAJORITIES_RING: {
		/* Jepsen's majorities ring: around a shuffled ring, each node hears
		 * itself and the n/2 nodes after it (a majority) and drops the rest;
		 * no two nodes hear the same majority */
		char err[512];
		rc = fault_heal(&c->r, err, sizeof(err));
		fault_close(c, "net", -1);
		memset(c->blocked, 0, chaos_nn(c) * chaos_nn(c) * sizeof(*c->blocked));
		for (size_t a = 0; rc == 0 && a < n; a++)
			for (size_t b = 0; rc == 0 && b < n; b++)
				if ((b + n - a) % n > n / 2) {
					rc = fault_block(&c->r, order[b], order[a], err, sizeof(err));
					c->blocked[order[b] * chaos_nn(c) + order[a]] = true;
				}
		free(group);
		if (rc)
			return fail_step(c, "partition", err);
		chaos_say(c, "partition (majorities ring)");
		fault_open(c, "partition", "net", -1, "majorities ring");
		return 0;
	}
	}
	rc = apply_groups(c, group, shape);
	free(group);
	return rc;
}

static int do_heal(struct chaos *c)
{
	char err[512];
	chaos_say(c, "heal");
	if (fault_heal(&c->r, err, sizeof(err)))
		return fail_step(c, "heal", err);
	memset(c->blocked, 0, chaos_nn(c) * chaos_nn(c) * sizeof(*c->blocked));
	fault_close(c, "net", -1);
	return 0;
}

static int do_packet(struct chaos *c, const struct scn_step *st)
{
	size_t idx[256], peer[256];
	int n = resolve(c, &st->target, "any", idx);
	int np = st->peer.n || st->peer.kind != SCN_T_NODES ? resolve(c, &st->peer, "any", peer) : 0;
	if (n < 0 || np < 0)
		return fail_step(c, st->verb, "no target");
	struct fault_packet p;
	fault_packet_keep(&p);
	char what[96];
	if (!strcmp(st->verb, "loss"))
		p.loss_pct = (int)st->percent;
	else if (!strcmp(st->verb, "reorder"))
		p.reorder_pct = (int)st->percent;
	else if (!strcmp(st->verb, "dup"))
		p.dup_pct = (int)st->percent;
	else if (!strcmp(st->verb, "rate"))
		p.rate_bps = (long long)st->rate_bps;
	else {
		p.delay_ms = (int)st->delay_ms;
		p.jitter_ms = (int)st->jitter_ms;
	}
	if (!strcmp(st->verb, "delay"))
		snprintf(what, sizeof(what), "delay %ums ± %ums", st->delay_ms, st->jitter_ms);
	else if (!strcmp(st->verb, "rate"))
		snprintf(what, sizeof(what), "rate %llu bit/s", (unsigned long long)st->rate_bps);
	else
		snprintf(what, sizeof(what), "%s %u%%", st->verb, st->percent);
	char who[512], to[512] = "", err[512];
	names_of(c, idx, (size_t)n, who, sizeof(who));
	if (np)
		names_of(c, peer, (size_t)np, to, sizeof(to));
	chaos_say(c, "%s on %s%s%s", what, who, np ? " towards " : "", to);
	for (int k = 0; k < n; k++)
		for (int j = 0; j < (np ? np : 1); j++) {
			if (np && peer[j] == idx[k])
				continue;
			if (fault_packet_set(&c->r, idx[k], np ? (ssize_t)peer[j] : FAULT_ALL, &p, err,
			                     sizeof(err)))
				return fail_step(c, st->verb, err);
		}
	for (int k = 0; k < n; k++)
		fault_open(c, st->verb, "packet", (ssize_t)idx[k], what);
	return 0;
}

static int do_clear(struct chaos *c, const struct scn_target *t)
{
	char err[512];
	if (t->kind == SCN_T_ALL) {
		chaos_say(c, "clear packet faults everywhere");
		if (fault_packet_clear(&c->r, FAULT_ALL, err, sizeof(err)))
			return fail_step(c, "clear", err);
		fault_close(c, "packet", -1);
		return 0;
	}
	size_t idx[256];
	int n = resolve(c, t, "any", idx);
	char who[512];
	names_of(c, idx, n > 0 ? (size_t)n : 0, who, sizeof(who));
	chaos_say(c, "clear packet faults of %s", who);
	for (int k = 0; k < n; k++) {
		if (fault_packet_clear(&c->r, (ssize_t)idx[k], err, sizeof(err)))
			return fail_step(c, "clear", err);
		fault_close(c, "packet", (ssize_t)idx[k]);
	}
	return 0;
}

/* ---- the random nemesis ---- */

static int random_apply(struct chaos *c, unsigned fault)
{
	struct scn_target any = { .kind = SCN_T_RANDOM };
	struct scn_step st = { .target = any };
	switch (fault) {
	case SCN_RF_KILL: return do_process(c, "kill", &any);
	case SCN_RF_STOP: return do_process(c, "stop", &any);
	case SCN_RF_PAUSE: return do_process(c, "pause", &any);
	case SCN_RF_PARTITION: st.shape = SCN_SHAPE_HALVES; return do_partition(c, &st);
	case SCN_RF_ISOLATE: st.shape = SCN_SHAPE_ISOLATE; return do_partition(c, &st);
	case SCN_RF_LINK: return do_link(c, false, &any);
	case SCN_RF_LOSS:
		snprintf(st.verb, sizeof(st.verb), "loss");
		st.percent = 20 + (unsigned)(rnd(c) % 11);
		return do_packet(c, &st);
	default:
		snprintf(st.verb, sizeof(st.verb), "delay");
		st.target.kind = SCN_T_ALL;
		st.delay_ms = 50;
		st.jitter_ms = 20;
		return do_packet(c, &st);
	}
}

static void random_undo(struct chaos *c)
{
	for (size_t i = 0; i < chaos_nn(c); i++) {
		char err[512];
		if (c->pstate[i] == CP_DOWN && !fault_process(&c->r, i, "start", err, sizeof(err))) {
			chaos_say(c, "start %s", chaos_name(c, i));
			chaos_set_pstate(c, i, CP_UP);
			fault_close(c, "down", (ssize_t)i);
		} else if (c->pstate[i] == CP_PAUSED && !fault_process(&c->r, i, "resume", err, sizeof(err))) {
			chaos_say(c, "resume %s", chaos_name(c, i));
			chaos_set_pstate(c, i, CP_UP);
			fault_close(c, "pause", (ssize_t)i);
		}
		if (c->link_down[i]) {
			struct scn_target t = { .kind = SCN_T_NODES, .n = 1 };
			snprintf(t.names[0], SCN_NAME_MAX, "%s", chaos_name(c, i));
			do_link(c, true, &t);
		}
	}
	for (size_t k = 0; k < nopen; k++)
		if (strcmp(open_faults[k].cls, "net") == 0) {
			do_heal(c);
			break;
		}
	for (size_t k = 0; k < nopen; k++)
		if (strcmp(open_faults[k].cls, "packet") == 0) {
			do_clear(c, &(struct scn_target){ .kind = SCN_T_ALL });
			break;
		}
}

static int do_random(struct chaos *c, const struct scn_step *st)
{
	uint64_t saved = c->rng;
	if (st->seed)
		c->rng = st->seed * 0x9e3779b97f4a7c15ull + 1;
	unsigned kinds[8], nk = 0;
	for (unsigned b = 0; b < 8; b++)
		if (st->faults & (1u << b))
			kinds[nk++] = b;
	long long end = chaos_now(c) + (long long)((double)st->for_ms * c->scale);
	chaos_say(c, "random nemesis for %.0f s, a fault every %.1f s", (double)(end - chaos_now(c)) / 1000,
	          (double)st->every_ms / 1000);
	int rc = 0;
	while (rc == 0 && !chaos_interrupted && chaos_now(c) + (long long)st->every_ms <= end) {
		long long next = chaos_now(c) + (long long)st->every_ms;
		unsigned b = kinds[rnd(c) % nk];
		rc = random_apply(c, 1u << b);
		chaos_sleep_ms(next - chaos_now(c) - (long long)st->every_ms / 2);
		random_undo(c);
		chaos_sleep_ms(next - chaos_now(c));
	}
	random_undo(c);
	if (st->seed)
		c->rng = saved;
	return rc;
}

/* ---- steps ---- */

static int run_step(struct chaos *c, const struct scn_step *st)
{
	switch (st->kind) {
	case SCN_WAIT: {
		long long ms = (long long)((double)st->ms * c->scale);
		size_t ok, fail, info;
		if (c->wl && ms >= 2000) {
			workload_counts(c->wl, &ok, &fail, &info);
			chaos_say(c, "wait %.1f s (operations so far: %zu ok, %zu failed, %zu unknown)",
			          (double)ms / 1000, ok, fail, info);
		}
		chaos_sleep_ms(ms);
		c->last_wait_ms = chaos_now(c);
		return 0;
	}
	case SCN_PROCESS: return do_process(c, st->verb, &st->target);
	case SCN_LINK: return do_link(c, strcmp(st->verb, "link_up") == 0, &st->target);
	case SCN_PARTITION: return do_partition(c, st);
	case SCN_BLOCK: {
		char err[512];
		size_t a = (size_t)chaos_node_index(c, st->from), b = (size_t)chaos_node_index(c, st->to);
		chaos_say(c, "block %s -> %s", st->from, st->to);
		if (fault_block(&c->r, a, b, err, sizeof(err)))
			return fail_step(c, "block", err);
		c->blocked[a * chaos_nn(c) + b] = true;
		char text[64];
		snprintf(text, sizeof(text), "block %s -> %s", st->from, st->to);
		fault_open(c, "block", "net", (ssize_t)a, text);
		return 0;
	}
	case SCN_HEAL: return do_heal(c);
	case SCN_PACKET: return do_packet(c, st);
	case SCN_CLEAR: return do_clear(c, &st->target);
	case SCN_REPEAT:
		for (unsigned k = 0; k < st->times; k++) {
			chaos_say(c, "repeat %u/%u (line %d)", k + 1, st->times, st->line);
			if (chaos_run_steps(c, st->steps, st->nsteps))
				return -1;
		}
		return 0;
	case SCN_RANDOM: return do_random(c, st);
	case SCN_LEADER_WITHIN: chaos_leader_within(c, st); return 0;
	case SCN_NO_LEADER: chaos_no_leader(c, st); return 0;
	case SCN_CONVERGED: chaos_members_converged(c, st); return 0;
	case SCN_WRITE_OK: chaos_write_ok(c, st); return 0;
	case SCN_STEPS_DOWN: chaos_steps_down(c, st); return 0;
	}
	return 0;
}

int chaos_run_steps(struct chaos *c, const struct scn_step *st, size_t n)
{
	for (size_t i = 0; i < n && !chaos_interrupted; i++)
		if (run_step(c, &st[i]))
			return -1;
	return chaos_interrupted ? -1 : 0;
}

void chaos_final_heal(struct chaos *c)
{
	chaos_say(c, "final heal: every fault undone, every node running");
	random_undo(c);
	char err[512];
	if (fault_clear_all(&c->r, err, sizeof(err)))
		chaos_say(c, "clearing the faults failed: %s", err);
	memset(c->blocked, 0, chaos_nn(c) * chaos_nn(c) * sizeof(*c->blocked));
	fault_close(c, "net", -1);
	fault_close(c, "packet", -1);
}
