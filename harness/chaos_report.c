/* What a chaos run leaves behind: report.json (and report.html from it), and
 * the single_leader assertion, both built from the monitor's observations. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chaos_internal.h"
#include "report.h"

void chaos_check_single_leader(struct chaos *c)
{
	/* term -> the first node seen leading it */
	struct {
		uint64_t term;
		size_t node;
	} seen[4096];
	size_t nseen = 0;
	const size_t *nodes;
	size_t n = monitor_nodes(c->mon, &nodes);
	for (size_t k = 0; k < n; k++) {
		const struct mon_sample *ch;
		size_t nch = monitor_changes(c->mon, nodes[k], &ch);
		for (size_t i = 0; i < nch; i++) {
			if (ch[i].state != MON_LEADER)
				continue;
			size_t j = 0;
			while (j < nseen && seen[j].term != ch[i].term)
				j++;
			if (j < nseen && seen[j].node != nodes[k]) {
				chaos_verdict(c, "single_leader", "", false, "%s and %s both led term %" PRIu64,
				              c->r.t->nodes[seen[j].node].name,
				              c->r.t->nodes[nodes[k]].name, ch[i].term);
				return;
			}
			if (j == nseen && nseen < sizeof(seen) / sizeof(seen[0]))
				seen[nseen++] = (typeof(seen[0])){ ch[i].term, nodes[k] };
		}
	}
	chaos_verdict(c, "single_leader", "", true, "%zu terms with a leader, one leader each", nseen);
}

/* leader periods and term changes of every watched server */
static void add_monitor(struct chaos *c, cJSON *report, long long end, unsigned *changes)
{
	cJSON *leader = cJSON_AddArrayToObject(report, "leader");
	cJSON *terms = cJSON_AddArrayToObject(report, "terms");
	const size_t *nodes;
	size_t n = monitor_nodes(c->mon, &nodes);
	*changes = 0;
	for (size_t k = 0; k < n; k++) {
		const char *name = c->r.t->nodes[nodes[k]].name;
		const struct mon_sample *ch;
		size_t nch = monitor_changes(c->mon, nodes[k], &ch);
		uint64_t term = 0;
		for (size_t i = 0; i < nch; i++) {
			if (ch[i].answered && ch[i].term != term) {
				term = ch[i].term;
				cJSON *t = cJSON_CreateObject();
				cJSON_AddStringToObject(t, "node", name);
				cJSON_AddNumberToObject(t, "term", (double)term);
				cJSON_AddNumberToObject(t, "at_ms", (double)ch[i].t_ms);
				cJSON_AddItemToArray(terms, t);
			}
			if (ch[i].state != MON_LEADER || (i > 0 && ch[i - 1].state == MON_LEADER &&
			                                  ch[i - 1].term == ch[i].term))
				continue;
			size_t j = i + 1;
			while (j < nch && ch[j].state == MON_LEADER && ch[j].term == ch[i].term)
				j++;
			cJSON *p = cJSON_CreateObject();
			cJSON_AddStringToObject(p, "node", name);
			cJSON_AddNumberToObject(p, "term", (double)ch[i].term);
			cJSON_AddNumberToObject(p, "from_ms", (double)ch[i].t_ms);
			cJSON_AddNumberToObject(p, "to_ms", (double)(j < nch ? ch[j].t_ms : end));
			cJSON_AddItemToArray(leader, p);
			(*changes)++;
		}
	}
}

static void add_operations(struct chaos *c, cJSON *report)
{
	cJSON *ops = cJSON_AddArrayToObject(report, "operations");
	for (size_t i = 0; i < c->hist.n; i++) {
		const struct hist_op *op = &c->hist.ops[i];
		cJSON *o = cJSON_CreateObject();
		char v[64];
		if (op->f == HIST_CAS)
			snprintf(v, sizeof(v), "%" PRId64 "->%" PRId64, op->cas_old, op->cas_new);
		else if (op->value == HIST_NIL)
			snprintf(v, sizeof(v), "nil");
		else
			snprintf(v, sizeof(v), "%" PRId64, op->value);
		cJSON_AddNumberToObject(o, "process", op->process);
		cJSON_AddStringToObject(o, "node", op->node);
		cJSON_AddStringToObject(o, "f", hist_f_name(op->f));
		cJSON_AddStringToObject(o, "key", op->key);
		cJSON_AddStringToObject(o, "value", v);
		cJSON_AddStringToObject(o, "result", hist_result_name(op->result));
		cJSON_AddNumberToObject(o, "invoke_ms", (double)op->invoke_ns / 1e6);
		if (op->complete_ns >= 0 && op->complete_ns != INT64_MAX)
			cJSON_AddNumberToObject(o, "complete_ms", (double)op->complete_ns / 1e6);
		else
			cJSON_AddNullToObject(o, "complete_ms");
		cJSON_AddItemToArray(ops, o);
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int chaos_write_report(struct chaos *c, bool verdict, double check_ms, char *err, size_t errlen)
{
	long long end = chaos_now(c);
	cJSON *r = cJSON_CreateObject();
	char started[32];
	time_t t0 = time(NULL) - (time_t)(end / 1000);
	strftime(started, sizeof(started), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t0));
	cJSON_AddStringToObject(r, "scenario", c->s->name);
	cJSON_AddStringToObject(r, "file", c->s->file);
	cJSON_AddStringToObject(r, "topology", c->r.name);
	cJSON_AddNumberToObject(r, "seed", (double)c->s->seed);
	cJSON_AddStringToObject(r, "started", started);
	cJSON_AddNumberToObject(r, "duration_ms", (double)end);
	cJSON_AddBoolToObject(r, "verdict", verdict);
	cJSON *nodes = cJSON_AddArrayToObject(r, "nodes");
	for (size_t i = 0; i < c->r.t->nnodes; i++) {
		const struct topo_node *n = &c->r.t->nodes[i];
		char ip[16] = "";
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "name", n->name);
		cJSON_AddStringToObject(o, "addr", n->nifaces ? topo_ip_str(n->ifaces[0].addr, ip) : "");
		cJSON_AddBoolToObject(o, "server",
		                      cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(n->config, "server")));
		cJSON_AddItemToArray(nodes, o);
	}
	/* close the process lanes: each node's current state lasts to the end */
	static const char *const names[] = { "up", "down", "paused" };
	cJSON *process = cJSON_Duplicate(c->process, true);
	for (size_t i = 0; i < c->r.t->nnodes; i++) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "node", c->r.t->nodes[i].name);
		cJSON_AddStringToObject(o, "state", names[c->pstate[i]]);
		cJSON_AddNumberToObject(o, "from_ms", (double)c->pstate_since[i]);
		cJSON_AddNumberToObject(o, "to_ms", (double)end);
		cJSON_AddItemToArray(process, o);
	}
	cJSON_AddItemToObject(r, "process", process);
	unsigned leader_periods = 0;
	if (c->mon)
		add_monitor(c, r, end, &leader_periods);
	cJSON_AddItemReferenceToObject(r, "faults", c->faults);
	cJSON_AddItemReferenceToObject(r, "steps", c->steps);
	add_operations(c, r);
	cJSON_AddItemReferenceToObject(r, "assertions", c->assertions);
	size_t ok, fail, info;
	hist_counts(&c->hist, &ok, &fail, &info);
	cJSON *st = cJSON_AddObjectToObject(r, "stats");
	cJSON_AddNumberToObject(st, "ops_ok", (double)ok);
	cJSON_AddNumberToObject(st, "ops_fail", (double)fail);
	cJSON_AddNumberToObject(st, "ops_info", (double)info);
	cJSON_AddNumberToObject(st, "leader_periods", leader_periods);
	cJSON_AddNumberToObject(st, "check_ms", check_ms);
	if (c->nleader) {
		qsort(c->leader_ms, c->nleader, sizeof(c->leader_ms[0]), cmp_double);
		cJSON_AddNumberToObject(st, "leader_within_median_ms", c->leader_ms[c->nleader / 2]);
		cJSON_AddNumberToObject(st, "leader_within_max_ms", c->leader_ms[c->nleader - 1]);
		cJSON_AddNumberToObject(st, "leader_within_count", c->nleader);
	}
	char path[600], html[600];
	snprintf(path, sizeof(path), "%s/report.json", c->out);
	snprintf(html, sizeof(html), "%s/report.html", c->out);
	int rc = 0;
	char *text = cJSON_Print(r);
	FILE *f = text ? fopen(path, "w") : NULL;
	bool written = false;
	if (f) {
		written = fputs(text, f) >= 0;
		written &= fclose(f) == 0;
	}
	if (!written) {
		rc = -EIO;
		snprintf(err, errlen, "%s: %s", path, text ? strerror(errno) : "out of memory");
	} else {
		rc = report_write_html(r, html, err, errlen);
	}
	free(text);
	cJSON_Delete(r);
	return rc;
}
