/* Chaos scenario files: YAML (libyaml's document API) into struct scenario. */
#include "scenario.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#define MAX_DEPTH 8          /* repeat inside repeat inside ... */
#define MAX_STEPS 10000      /* all steps of a file, repeats counted once */

struct sp {
	const char *file;
	yaml_document_t *doc;
	char *err;
	size_t errlen;
	size_t nsteps;
};

__attribute__((format(printf, 3, 4))) static int fail(struct sp *p, const yaml_node_t *at,
                                                      const char *fmt, ...)
{
	int k = at ? snprintf(p->err, p->errlen, "%s:%zu: ", p->file, at->start_mark.line + 1)
	           : snprintf(p->err, p->errlen, "%s: ", p->file);
	if (k < 0 || (size_t)k >= p->errlen)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->err + k, p->errlen - (size_t)k, fmt, ap);
	va_end(ap);
	return -1;
}

static yaml_node_t *nd(struct sp *p, int i)
{
	return yaml_document_get_node(p->doc, i);
}

static const char *scalar(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static const char *kind_name(const yaml_node_t *n)
{
	return n->type == YAML_SCALAR_NODE ? "a scalar"
	     : n->type == YAML_SEQUENCE_NODE ? "a list"
	                                     : "a mapping";
}

/* ---- values ---- */

int scenario_parse_duration(const char *s, uint64_t *ms)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || errno || !(v >= 0) || v > 1e9)
		return -1;
	double mult;
	if (strcmp(end, "ms") == 0)
		mult = 1;
	else if (strcmp(end, "s") == 0)
		mult = 1000;
	else if (strcmp(end, "m") == 0)
		mult = 60000;
	else if (strcmp(end, "h") == 0)
		mult = 3600000;
	else
		return -1;
	*ms = (uint64_t)llround(v * mult);
	return 0;
}

int scenario_parse_rate(const char *s, uint64_t *bps)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || errno || !(v > 0) || v > 1e12)
		return -1;
	static const struct {
		const char *unit;
		double mult;
	} units[] = { { "", 1 },          { "bit", 1 },      { "kbit", 1e3 }, { "mbit", 1e6 },
		      { "gbit", 1e9 },    { "bps", 8 },      { "kbps", 8e3 }, { "mbps", 8e6 },
		      { "gbps", 8e9 } };
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strcasecmp(end, units[i].unit) == 0) {
			double r = v * units[i].mult;
			if (r < 8000 || r > 1e11)
				return -1;   /* tbf wants at least 1 kB/s */
			*bps = (uint64_t)r;
			return 0;
		}
	return -1;
}

static int duration(struct sp *p, const yaml_node_t *n, const char *key, uint64_t *ms)
{
	const char *s = scalar(n);
	if (!s || scenario_parse_duration(s, ms))
		return fail(p, n, "%s: expected a duration such as 500ms, 2s or 1m, got %s%s%s", key,
		            s ? "\"" : "", s ? s : kind_name(n), s ? "\"" : "");
	return 0;
}

static int uint_in(struct sp *p, const yaml_node_t *n, const char *key, unsigned lo,
                   unsigned hi, unsigned *out)
{
	const char *s = scalar(n);
	char *end = NULL;
	unsigned long v = 0;
	if (s && isdigit((unsigned char)s[0])) {
		errno = 0;
		v = strtoul(s, &end, 10);
	}
	if (!s || !end || *end || errno || v < lo || v > hi)
		return fail(p, n, "%s: expected a whole number from %u to %u, got %s%s%s", key, lo,
		            hi, s ? "\"" : "", s ? s : kind_name(n), s ? "\"" : "");
	*out = (unsigned)v;
	return 0;
}

static int u64(struct sp *p, const yaml_node_t *n, const char *key, uint64_t *out)
{
	const char *s = scalar(n);
	char *end = NULL;
	if (s && isdigit((unsigned char)s[0])) {
		errno = 0;
		*out = strtoull(s, &end, 10);
	}
	if (!s || !end || *end || errno)
		return fail(p, n, "%s: expected a whole number, got %s", key, s ? s : kind_name(n));
	return 0;
}

static int name_ok(struct sp *p, const yaml_node_t *n, const char *key, char *out)
{
	const char *s = scalar(n);
	if (!s || !*s || strlen(s) >= SCN_NAME_MAX)
		return fail(p, n, "%s: expected a node name (1 to %d characters)", key,
		            SCN_NAME_MAX - 1);
	for (const char *c = s; *c; c++)
		if (!isalnum((unsigned char)*c) && *c != '-' && *c != '_' && *c != '.')
			return fail(p, n, "%s: \"%s\" is not a node name", key, s);
	snprintf(out, SCN_NAME_MAX, "%s", s);
	return 0;
}

/* leader | follower | random | all | down | minority | NAME | [NAME, ...] */
static int target(struct sp *p, const yaml_node_t *n, const char *key, struct scn_target *t)
{
	memset(t, 0, sizeof(*t));
	if (n->type == YAML_SEQUENCE_NODE) {
		t->kind = SCN_T_NODES;
		for (yaml_node_item_t *i = n->data.sequence.items.start;
		     i < n->data.sequence.items.top; i++) {
			if (t->n == SCN_MAX_NODES)
				return fail(p, n, "%s: more than %d nodes", key, SCN_MAX_NODES);
			if (name_ok(p, nd(p, *i), key, t->names[t->n++]))
				return -1;
		}
		if (t->n == 0)
			return fail(p, n, "%s: the list of nodes is empty", key);
		return 0;
	}
	const char *s = scalar(n);
	static const struct {
		const char *word;
		enum scn_target_kind kind;
	} words[] = { { "leader", SCN_T_LEADER }, { "follower", SCN_T_FOLLOWER },
		      { "random", SCN_T_RANDOM }, { "all", SCN_T_ALL },
		      { "down", SCN_T_DOWN },     { "minority", SCN_T_MINORITY } };
	for (size_t i = 0; s && i < sizeof(words) / sizeof(words[0]); i++)
		if (strcmp(s, words[i].word) == 0) {
			t->kind = words[i].kind;
			return 0;
		}
	t->kind = SCN_T_NODES;
	t->n = 1;
	if (!s)
		return fail(p, n, "%s: expected leader, follower, random, all, down, minority, a "
		                  "node name or a list of names, got %s", key, kind_name(n));
	return name_ok(p, n, key, t->names[0]);
}

/* The value of key in mapping m, or NULL. */
static yaml_node_t *get(struct sp *p, yaml_node_t *m, const char *key)
{
	for (yaml_node_pair_t *q = m->data.mapping.pairs.start; q < m->data.mapping.pairs.top; q++) {
		const char *k = scalar(nd(p, q->key));
		if (k && strcmp(k, key) == 0)
			return nd(p, q->value);
	}
	return NULL;
}

/* m is a mapping whose keys are all in allowed (NULL-terminated), none twice. */
static int keys_in(struct sp *p, yaml_node_t *m, const char *what, const char *const *allowed)
{
	if (m->type != YAML_MAPPING_NODE)
		return fail(p, m, "%s: expected a mapping, got %s", what, kind_name(m));
	for (yaml_node_pair_t *q = m->data.mapping.pairs.start; q < m->data.mapping.pairs.top; q++) {
		yaml_node_t *kn = nd(p, q->key);
		const char *k = scalar(kn);
		if (!k)
			return fail(p, kn, "%s: keys must be scalars", what);
		bool known = false;
		for (const char *const *a = allowed; *a && !known; a++)
			known = strcmp(*a, k) == 0;
		if (!known) {
			char list[256] = "";
			for (const char *const *a = allowed; *a; a++)
				snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
				         a == allowed ? "" : ", ", *a);
			return fail(p, kn, "%s: unknown key \"%s\" (known: %s)", what, k, list);
		}
		for (yaml_node_pair_t *r = m->data.mapping.pairs.start; r < q; r++)
			if (strcmp(scalar(nd(p, r->key)), k) == 0)
				return fail(p, kn, "%s: key \"%s\" appears twice", what, k);
	}
	return 0;
}

static int need(struct sp *p, yaml_node_t *m, const char *what, const char *key, yaml_node_t **v)
{
	if (!(*v = get(p, m, key)))
		return fail(p, m, "%s: missing \"%s\"", what, key);
	return 0;
}

/* ---- steps ---- */

static int parse_steps(struct sp *p, yaml_node_t *seq, int depth, struct scn_step **out,
                       size_t *nout);

static int parse_partition(struct sp *p, yaml_node_t *v, struct scn_step *st)
{
	if (v->type == YAML_SEQUENCE_NODE) {
		st->shape = SCN_SHAPE_GROUPS;
		for (yaml_node_item_t *i = v->data.sequence.items.start;
		     i < v->data.sequence.items.top; i++) {
			if (st->ngroups == SCN_MAX_GROUPS)
				return fail(p, v, "partition: more than %d groups", SCN_MAX_GROUPS);
			yaml_node_t *g = nd(p, *i);
			if (g->type != YAML_SEQUENCE_NODE)
				return fail(p, g, "partition: each group is a list of node names");
			if (target(p, g, "partition", &st->groups[st->ngroups++]))
				return -1;
		}
		if (st->ngroups < 2)
			return fail(p, v, "partition: at least two groups are needed");
		return 0;
	}
	if (v->type == YAML_MAPPING_NODE) {
		static const char *const keys[] = { "isolate", NULL };
		yaml_node_t *t;
		if (keys_in(p, v, "partition", keys) || need(p, v, "partition", "isolate", &t))
			return -1;
		st->shape = SCN_SHAPE_ISOLATE;
		return target(p, t, "partition.isolate", &st->target);
	}
	const char *s = scalar(v);
	if (s && strcmp(s, "halves") == 0)
		st->shape = SCN_SHAPE_HALVES;
	else if (s && strcmp(s, "majorities-ring") == 0)
		st->shape = SCN_SHAPE_MAJORITIES_RING;
	else if (s && strcmp(s, "bridge") == 0)
		st->shape = SCN_SHAPE_BRIDGE;
	else
		return fail(p, v, "partition: expected a list of groups, {isolate: TARGET}, halves, "
		                  "majorities-ring or bridge");
	return 0;
}

static int parse_packet(struct sp *p, yaml_node_t *v, struct scn_step *st)
{
	char what[32];
	snprintf(what, sizeof(what), "%s", st->verb);
	static const char *const loss_keys[] = { "nodes", "percent", "to", NULL };
	static const char *const delay_keys[] = { "nodes", "ms", "jitter", "to", NULL };
	static const char *const rate_keys[] = { "nodes", "rate", NULL };
	bool is_delay = strcmp(st->verb, "delay") == 0, is_rate = strcmp(st->verb, "rate") == 0;
	if (keys_in(p, v, what, is_delay ? delay_keys : is_rate ? rate_keys : loss_keys))
		return -1;
	yaml_node_t *x;
	if (need(p, v, what, "nodes", &x) || target(p, x, "nodes", &st->target))
		return -1;
	if ((x = get(p, v, "to")) && target(p, x, "to", &st->peer))
		return -1;
	if (is_delay) {
		uint64_t ms = 0, jitter = 0;
		if (need(p, v, what, "ms", &x) || duration(p, x, "delay.ms", &ms))
			return -1;
		if ((x = get(p, v, "jitter")) && duration(p, x, "delay.jitter", &jitter))
			return -1;
		if (ms == 0 || ms > 10000 || jitter > ms)
			return fail(p, v, "delay: ms must be from 1ms to 10s and jitter at most ms");
		st->delay_ms = (unsigned)ms;
		st->jitter_ms = (unsigned)jitter;
	} else if (is_rate) {
		const char *s;
		if (need(p, v, what, "rate", &x))
			return -1;
		if (!(s = scalar(x)) || scenario_parse_rate(s, &st->rate_bps))
			return fail(p, x, "rate: expected a rate such as 1mbit, 500kbit or 2mbps (at "
			                  "least 8kbit)");
	} else if (need(p, v, what, "percent", &x) || uint_in(p, x, "percent", 1, 100, &st->percent)) {
		return -1;
	}
	return 0;
}

static int parse_step(struct sp *p, yaml_node_t *n, int depth, struct scn_step *st)
{
	st->line = (int)n->start_mark.line + 1;
	const char *word = scalar(n);
	if (word) {
		if (strcmp(word, "heal") == 0) {
			st->kind = SCN_HEAL;
			return 0;
		}
		return fail(p, n, "step: \"%s\" is not a step (a step is a mapping with one key, "
		                  "such as \"kill: leader\" or \"wait: 2s\"; the only bare word is heal)",
		            word);
	}
	if (n->type != YAML_MAPPING_NODE || n->data.mapping.pairs.top - n->data.mapping.pairs.start != 1)
		return fail(p, n, "step: a step is a mapping with exactly one key");
	yaml_node_t *kn = nd(p, n->data.mapping.pairs.start->key);
	yaml_node_t *v = nd(p, n->data.mapping.pairs.start->value);
	const char *k = scalar(kn);
	if (!k)
		return fail(p, kn, "step: the key must be a scalar");
	snprintf(st->verb, sizeof(st->verb), "%s", k);
	static const char *const procs[] = { "kill", "stop", "start", "restart", "pause", "resume" };
	for (size_t i = 0; i < sizeof(procs) / sizeof(procs[0]); i++)
		if (strcmp(k, procs[i]) == 0) {
			st->kind = SCN_PROCESS;
			return target(p, v, k, &st->target);
		}
	static const char *const packets[] = { "loss", "delay", "reorder", "dup", "rate" };
	for (size_t i = 0; i < sizeof(packets) / sizeof(packets[0]); i++)
		if (strcmp(k, packets[i]) == 0) {
			st->kind = SCN_PACKET;
			return parse_packet(p, v, st);
		}
	if (strcmp(k, "wait") == 0) {
		st->kind = SCN_WAIT;
		return duration(p, v, k, &st->ms);
	}
	if (strcmp(k, "link_down") == 0 || strcmp(k, "link_up") == 0) {
		st->kind = SCN_LINK;
		return target(p, v, k, &st->target);
	}
	if (strcmp(k, "partition") == 0) {
		st->kind = SCN_PARTITION;
		return parse_partition(p, v, st);
	}
	if (strcmp(k, "block") == 0) {
		static const char *const keys[] = { "from", "to", NULL };
		yaml_node_t *f, *t;
		st->kind = SCN_BLOCK;
		return keys_in(p, v, "block", keys) || need(p, v, "block", "from", &f) ||
		               need(p, v, "block", "to", &t) || name_ok(p, f, "block.from", st->from) ||
		               name_ok(p, t, "block.to", st->to)
		           ? -1
		           : 0;
	}
	if (strcmp(k, "heal") == 0) {
		st->kind = SCN_HEAL;
		return 0;
	}
	if (strcmp(k, "clear") == 0) {
		st->kind = SCN_CLEAR;
		return target(p, v, k, &st->target);
	}
	if (strcmp(k, "leader_within") == 0) {
		st->kind = SCN_LEADER_WITHIN;
		return duration(p, v, k, &st->ms);
	}
	if (strcmp(k, "members_converged_within") == 0) {
		st->kind = SCN_CONVERGED;
		return duration(p, v, k, &st->ms);
	}
	if (strcmp(k, "old_leader_steps_down_within") == 0) {
		st->kind = SCN_STEPS_DOWN;
		return duration(p, v, k, &st->ms);
	}
	if (strcmp(k, "write_ok") == 0) {
		st->kind = SCN_WRITE_OK;
		return duration(p, v, k, &st->ms);
	}
	if (strcmp(k, "no_leader") == 0) {
		st->kind = SCN_NO_LEADER;
		st->grace_ms = 2000;
		if (v->type != YAML_MAPPING_NODE)
			return duration(p, v, k, &st->ms);
		static const char *const keys[] = { "for", "grace", NULL };
		yaml_node_t *f, *g;
		if (keys_in(p, v, k, keys) || need(p, v, k, "for", &f) ||
		    duration(p, f, "no_leader.for", &st->ms) ||
		    ((g = get(p, v, "grace")) && duration(p, g, "no_leader.grace", &st->grace_ms)))
			return -1;
		if (st->grace_ms >= st->ms)
			return fail(p, v, "no_leader: grace must be shorter than for");
		return 0;
	}
	if (strcmp(k, "repeat") == 0) {
		static const char *const keys[] = { "times", "steps", NULL };
		yaml_node_t *t, *s;
		st->kind = SCN_REPEAT;
		if (depth >= MAX_DEPTH)
			return fail(p, n, "repeat: nested more than %d deep", MAX_DEPTH);
		if (keys_in(p, v, k, keys) || need(p, v, k, "times", &t) ||
		    need(p, v, k, "steps", &s) || uint_in(p, t, "repeat.times", 1, 1000, &st->times))
			return -1;
		return parse_steps(p, s, depth + 1, &st->steps, &st->nsteps);
	}
	if (strcmp(k, "random") == 0) {
		static const char *const keys[] = { "faults", "every", "for", "seed", NULL };
		static const struct {
			const char *name;
			unsigned bit;
		} faults[] = { { "kill", SCN_RF_KILL },   { "stop", SCN_RF_STOP },
			       { "pause", SCN_RF_PAUSE }, { "partition", SCN_RF_PARTITION },
			       { "isolate", SCN_RF_ISOLATE }, { "link", SCN_RF_LINK },
			       { "loss", SCN_RF_LOSS },   { "delay", SCN_RF_DELAY } };
		yaml_node_t *f, *x;
		st->kind = SCN_RANDOM;
		st->every_ms = 10000;
		if (keys_in(p, v, k, keys) || need(p, v, k, "faults", &f) ||
		    need(p, v, k, "for", &x) || duration(p, x, "random.for", &st->for_ms))
			return -1;
		if ((x = get(p, v, "every")) && duration(p, x, "random.every", &st->every_ms))
			return -1;
		if ((x = get(p, v, "seed")) && u64(p, x, "random.seed", &st->seed))
			return -1;
		if (st->every_ms < 500 || st->for_ms < st->every_ms)
			return fail(p, v, "random: every must be at least 500ms and for at least every");
		if (f->type != YAML_SEQUENCE_NODE || f->data.sequence.items.top == f->data.sequence.items.start)
			return fail(p, f, "random.faults: expected a list of faults");
		for (yaml_node_item_t *i = f->data.sequence.items.start;
		     i < f->data.sequence.items.top; i++) {
			const char *s = scalar(nd(p, *i));
			size_t j = 0;
			while (s && j < sizeof(faults) / sizeof(faults[0]) && strcmp(s, faults[j].name))
				j++;
			if (!s || j == sizeof(faults) / sizeof(faults[0]))
				return fail(p, nd(p, *i), "random.faults: \"%s\" is not one of kill, stop, "
				                          "pause, partition, isolate, link, loss, delay",
				            s ? s : "?");
			st->faults |= faults[j].bit;
		}
		return 0;
	}
	return fail(p, kn, "step: unknown step \"%s\" (steps: wait, kill, stop, start, restart, "
	                   "pause, resume, link_down, link_up, partition, block, heal, loss, delay, "
	                   "reorder, dup, rate, clear, repeat, random, leader_within, no_leader, "
	                   "members_converged_within, old_leader_steps_down_within, write_ok)", k);
}

static int parse_steps(struct sp *p, yaml_node_t *seq, int depth, struct scn_step **out,
                       size_t *nout)
{
	if (seq->type != YAML_SEQUENCE_NODE)
		return fail(p, seq, "steps: expected a list of steps, got %s", kind_name(seq));
	size_t n = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
	if (n == 0)
		return fail(p, seq, "steps: the list is empty");
	if ((p->nsteps += n) > MAX_STEPS)
		return fail(p, seq, "steps: more than %d steps", MAX_STEPS);
	*out = calloc(n, sizeof(**out));
	if (!*out)
		return fail(p, seq, "out of memory");
	*nout = n;
	for (size_t i = 0; i < n; i++)
		if (parse_step(p, nd(p, seq->data.sequence.items.start[i]), depth, &(*out)[i]))
			return -1;
	return 0;
}

/* ---- the document ---- */

static int parse_workload(struct sp *p, yaml_node_t *m, struct scn_workload *w)
{
	static const char *const keys[] = { "clients", "keys",    "rate",  "mix",
		                            "reads",   "timeout", "nodes", NULL };
	*w = (struct scn_workload){ .enabled = true, .clients = 5, .keys = 5, .rate = 50,
		                    .read_pct = 50, .write_pct = 40, .cas_pct = 10,
		                    .reads = SCN_READ_CONSISTENT, .timeout_ms = 2000,
		                    .nodes = { .kind = SCN_T_ALL } };
	if (keys_in(p, m, "workload", keys))
		return -1;
	yaml_node_t *x;
	if ((x = get(p, m, "clients")) && uint_in(p, x, "workload.clients", 1, 64, &w->clients))
		return -1;
	if ((x = get(p, m, "keys")) && uint_in(p, x, "workload.keys", 1, 1000, &w->keys))
		return -1;
	if ((x = get(p, m, "rate"))) {
		unsigned r;
		if (uint_in(p, x, "workload.rate", 0, 100000, &r))
			return -1;
		w->rate = r;
	}
	if ((x = get(p, m, "timeout")) && duration(p, x, "workload.timeout", &w->timeout_ms))
		return -1;
	if ((x = get(p, m, "nodes")) && target(p, x, "workload.nodes", &w->nodes))
		return -1;
	if (w->nodes.kind != SCN_T_ALL && w->nodes.kind != SCN_T_NODES)
		return fail(p, x, "workload.nodes: expected all or node names");
	if ((x = get(p, m, "reads"))) {
		const char *s = scalar(x);
		if (s && strcmp(s, "consistent") == 0)
			w->reads = SCN_READ_CONSISTENT;
		else if (s && strcmp(s, "default") == 0)
			w->reads = SCN_READ_DEFAULT;
		else if (s && strcmp(s, "stale") == 0)
			w->reads = SCN_READ_STALE;
		else
			return fail(p, x, "workload.reads: expected consistent, default or stale");
	}
	if ((x = get(p, m, "mix"))) {
		static const char *const mk[] = { "read", "write", "cas", NULL };
		yaml_node_t *y;
		if (keys_in(p, x, "workload.mix", mk))
			return -1;
		w->read_pct = w->write_pct = w->cas_pct = 0;
		if (((y = get(p, x, "read")) && uint_in(p, y, "mix.read", 0, 100, &w->read_pct)) ||
		    ((y = get(p, x, "write")) && uint_in(p, y, "mix.write", 0, 100, &w->write_pct)) ||
		    ((y = get(p, x, "cas")) && uint_in(p, y, "mix.cas", 0, 100, &w->cas_pct)))
			return -1;
		if (w->read_pct + w->write_pct + w->cas_pct != 100)
			return fail(p, x, "workload.mix: read + write + cas must be 100 (they are %u)",
			            w->read_pct + w->write_pct + w->cas_pct);
	}
	return 0;
}

static int parse_assertions(struct sp *p, yaml_node_t *seq, struct scn_assertions *a)
{
	if (seq->type != YAML_SEQUENCE_NODE)
		return fail(p, seq, "assertions: expected a list, got %s", kind_name(seq));
	for (yaml_node_item_t *i = seq->data.sequence.items.start; i < seq->data.sequence.items.top;
	     i++) {
		yaml_node_t *n = nd(p, *i);
		const char *s = scalar(n);
		if (s && strcmp(s, "single_leader") == 0)
			a->single_leader = true;
		else if (s && strcmp(s, "no_acked_write_lost") == 0)
			a->no_acked_write_lost = true;
		else if (s && strcmp(s, "linearizable") == 0)
			a->linearizable = 1;
		else if (n->type == YAML_MAPPING_NODE && get(p, n, "linearizable") &&
		         n->data.mapping.pairs.top - n->data.mapping.pairs.start == 1) {
			const char *b = scalar(get(p, n, "linearizable"));
			if (!b || (strcmp(b, "true") && strcmp(b, "false")))
				return fail(p, n, "assertions: linearizable: expected true or false");
			a->linearizable = strcmp(b, "true") == 0 ? 1 : -1;
		} else
			return fail(p, n, "assertions: unknown assertion%s%s%s (known: single_leader, "
			                  "no_acked_write_lost, linearizable, {linearizable: false}; timed "
			                  "ones such as leader_within are steps)",
			            s ? " \"" : "", s ? s : "", s ? "\"" : "");
	}
	return 0;
}

static int parse_doc(struct sp *p, struct scenario *s)
{
	yaml_node_t *root = yaml_document_get_root_node(p->doc);
	if (!root)
		return fail(p, NULL, "the file is empty");
	static const char *const keys[] = { "name",     "description", "topology",  "seed",
		                            "workload", "steps",       "assertions", NULL };
	if (keys_in(p, root, "scenario", keys))
		return -1;
	yaml_node_t *x;
	const char *v;
	if (need(p, root, "scenario", "name", &x))
		return -1;
	if (!(v = scalar(x)) || !*v || strlen(v) >= sizeof(s->name))
		return fail(p, x, "name: expected a name of 1 to %zu characters", sizeof(s->name) - 1);
	snprintf(s->name, sizeof(s->name), "%s", v);
	if ((x = get(p, root, "description"))) {
		if (!(v = scalar(x)))
			return fail(p, x, "description: expected text");
		snprintf(s->description, sizeof(s->description), "%s", v);
	}
	if (need(p, root, "scenario", "topology", &x))
		return -1;
	if (!(v = scalar(x)) || !*v)
		return fail(p, x, "topology: expected the path of a topology file");
	if (v[0] == '/' || !strchr(p->file, '/'))
		snprintf(s->topology, sizeof(s->topology), "%s", v);
	else
		snprintf(s->topology, sizeof(s->topology), "%.*s/%s",
		         (int)(strrchr(p->file, '/') - p->file), p->file, v);
	if ((x = get(p, root, "seed")) && u64(p, x, "seed", &s->seed))
		return -1;
	if ((x = get(p, root, "workload")) && parse_workload(p, x, &s->workload))
		return -1;
	if (need(p, root, "scenario", "steps", &x) || parse_steps(p, x, 0, &s->steps, &s->nsteps))
		return -1;
	if ((x = get(p, root, "assertions")) && parse_assertions(p, x, &s->assert))
		return -1;
	if ((s->assert.no_acked_write_lost || s->assert.linearizable) && !s->workload.enabled)
		return fail(p, x, "assertions: no_acked_write_lost and linearizable need a workload");
	return 0;
}

int scenario_load_buf(const char *buf, size_t len, const char *name, struct scenario **out,
                      char *err, size_t errlen)
{
	*out = NULL;
	struct scenario *s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "%s: out of memory", name);
		return -1;
	}
	snprintf(s->file, sizeof(s->file), "%s", name);
	yaml_parser_t parser;
	yaml_document_t doc;
	struct sp p = { .file = name, .doc = &doc, .err = err, .errlen = errlen };
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	int rc;
	if (!yaml_parser_load(&parser, &doc)) {
		snprintf(err, errlen, "%s:%zu: %s%s%s", name, parser.problem_mark.line + 1,
		         parser.problem ? parser.problem : "not valid YAML",
		         parser.context ? " " : "", parser.context ? parser.context : "");
		rc = -1;
	} else {
		rc = parse_doc(&p, s);
		yaml_document_delete(&doc);
	}
	yaml_parser_delete(&parser);
	if (rc) {
		scenario_free(s);
		return -1;
	}
	*out = s;
	return 0;
}

int scenario_load_file(const char *path, struct scenario **out, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	char *buf = malloc(1 << 20);
	size_t len = buf ? fread(buf, 1, 1 << 20, f) : 0;
	bool big = buf && len == 1 << 20;
	fclose(f);
	if (!buf || big) {
		free(buf);
		snprintf(err, errlen, "%s: %s", path, buf ? "larger than 1 MiB" : "out of memory");
		return -1;
	}
	int rc = scenario_load_buf(buf, len, path, out, err, errlen);
	free(buf);
	return rc;
}

static void free_steps(struct scn_step *st, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free_steps(st[i].steps, st[i].nsteps);
	free(st);
}

void scenario_free(struct scenario *s)
{
	if (!s)
		return;
	free_steps(s->steps, s->nsteps);
	free(s);
}

const char *scenario_step_name(const struct scn_step *st)
{
	switch (st->kind) {
	case SCN_HEAL: return "heal";
	case SCN_LEADER_WITHIN: return "leader_within";
	case SCN_NO_LEADER: return "no_leader";
	case SCN_CONVERGED: return "members_converged_within";
	case SCN_STEPS_DOWN: return "old_leader_steps_down_within";
	default: return st->verb;
	}
}

static int check_target(const struct scenario *s, const struct scn_step *st,
                        const struct scn_target *t, bool (*exists)(void *, const char *),
                        void *ud, const char *topo, char *err, size_t errlen)
{
	for (size_t j = 0; t->kind == SCN_T_NODES && j < t->n; j++)
		if (!exists(ud, t->names[j])) {
			snprintf(err, errlen, "%s:%d: %s: no node \"%s\" in topology %s", s->file,
			         st ? st->line : 0, st ? scenario_step_name(st) : "workload.nodes",
			         t->names[j], topo);
			return -1;
		}
	return 0;
}

static int check_steps(const struct scenario *s, const struct scn_step *st, size_t n,
                       bool (*exists)(void *, const char *), void *ud, const char *topo,
                       char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		const struct scn_step *x = &st[i];
		struct scn_target ends = { .kind = SCN_T_NODES };
		if (x->kind == SCN_BLOCK) {
			ends.n = 2;
			memcpy(ends.names[0], x->from, SCN_NAME_MAX);
			memcpy(ends.names[1], x->to, SCN_NAME_MAX);
		}
		if (check_target(s, x, &x->target, exists, ud, topo, err, errlen) ||
		    check_target(s, x, &x->peer, exists, ud, topo, err, errlen) ||
		    check_target(s, x, &ends, exists, ud, topo, err, errlen) ||
		    check_steps(s, x->steps, x->nsteps, exists, ud, topo, err, errlen))
			return -1;
		for (size_t g = 0; g < x->ngroups; g++)
			if (check_target(s, x, &x->groups[g], exists, ud, topo, err, errlen))
				return -1;
	}
	return 0;
}

int scenario_check_nodes(const struct scenario *s, bool (*exists)(void *ud, const char *name),
                         void *ud, const char *topology_name, char *err, size_t errlen)
{
	if (check_target(s, NULL, &s->workload.nodes, exists, ud, topology_name, err, errlen))
		return -1;
	return check_steps(s, s->steps, s->nsteps, exists, ud, topology_name, err, errlen);
}
