/* report: report.json -> report.html (validation, the page, `harness report`).
 * The charts are in report_svg.c. */
#include "report.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "report_internal.h"

#define JSON_MAX (1024L * 1024 * 1024)   /* refuse report.json files above 1 GiB */

const char *const rep_state_colour[3] = { "#cfeccf", "#7f8790", "#c9b8f0" };
const char *const rep_class_colour[3] = { "#2e9e48", "#d93025", "#f2a600" };
const char *const rep_class_name[3] = { "ok", "fail", "info" };

const char *rep_fault_colour(const char *kind)
{
	static const struct { const char *kind, *colour; } map[] = {
		{ "kill", "#e8453c" },      { "stop", "#e8453c" },     { "pause", "#9c27b0" },
		{ "link", "#ff8f00" },      { "partition", "#ff8f00" }, { "block", "#ff8f00" },
		{ "loss", "#00897b" },      { "delay", "#00897b" },    { "reorder", "#00897b" },
		{ "dup", "#00897b" },       { "rate", "#00897b" },
	};
	for (size_t i = 0; kind && i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(kind, map[i].kind) == 0)
			return map[i].colour;
	return "#607d8b";
}

void rep_esc(FILE *f, const char *s, size_t max)
{
	size_t chars = 0;
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
		if ((*p & 0xC0) != 0x80 && max && chars++ == max) {
			fputs("\xE2\x80\xA6", f);   /* … */
			return;
		}
		switch (*p) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		default:
			if (*p >= 0x20 && *p != 0x7F)
				fputc(*p, f);
			else if (*p == '\t' || *p == '\n')
				fputc(' ', f);
		}
	}
}

void rep_secs(FILE *f, double ms)
{
	fprintf(f, "%.3f s", ms / 1000.0);
}

void rep_value(FILE *f, const cJSON *v)
{
	if (!v)
		return;
	if (cJSON_IsString(v)) {
		rep_esc(f, v->valuestring, 0);
		return;
	}
	char *s = cJSON_PrintUnformatted(v);
	rep_esc(f, s ? s : "?", 0);
	free(s);
}

/* ---- validation: report.json -> struct report ---- */

static int bad(char *err, size_t n, const char *pfx, const char *key, bool missing, const char *want)
{
	snprintf(err, n, "report.json: field \"%s%s\" is %s (expected %s)", pfx, key,
	         missing ? "missing" : "invalid", want);
	return -EINVAL;
}

static const cJSON *item(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return v && !cJSON_IsNull(v) ? v : NULL;
}

static int get_str(const cJSON *o, const char *key, bool req, const char *pfx, const char **out,
                   char *err, size_t n)
{
	const cJSON *v = item(o, key);
	*out = NULL;
	if (!v)
		return req ? bad(err, n, pfx, key, true, "a string") : 0;
	if (!cJSON_IsString(v) || !v->valuestring)
		return bad(err, n, pfx, key, false, "a string");
	*out = v->valuestring;
	return 0;
}

/* An absent optional number is NAN. */
static int get_num(const cJSON *o, const char *key, bool req, const char *pfx, double *out,
                   char *err, size_t n)
{
	const cJSON *v = item(o, key);
	*out = NAN;
	if (!v)
		return req ? bad(err, n, pfx, key, true, "a number") : 0;
	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
		return bad(err, n, pfx, key, false, "a number");
	*out = v->valuedouble;
	return 0;
}

static int get_bool(const cJSON *o, const char *key, const char *pfx, bool *out, char *err, size_t n)
{
	const cJSON *v = item(o, key);
	if (!v)
		return bad(err, n, pfx, key, true, "true or false");
	if (!cJSON_IsBool(v))
		return bad(err, n, pfx, key, false, "true or false");
	*out = cJSON_IsTrue(v);
	return 0;
}

/* An optional array (absent or null: *out = NULL, count 0). */
static int get_arr(const cJSON *o, const char *key, const cJSON **out, size_t *count, char *err,
                   size_t n)
{
	const cJSON *v = item(o, key);
	*out = NULL;
	*count = 0;
	if (!v)
		return 0;
	if (!cJSON_IsArray(v))
		return bad(err, n, "", key, false, "an array");
	*out = v;
	*count = (size_t)cJSON_GetArraySize(v);
	return 0;
}

static bool isalnum_c(char c)
{
	return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

static void *alloc(size_t count, size_t size)
{
	return calloc(count ? count : 1, size);
}

/* Lane of a node name, or (size_t)-1. */
static size_t lane_of(const struct report *r, const char *name)
{
	for (size_t i = 0; name && i < r->nnodes; i++)
		if (strcmp(r->nodes[i].name, name) == 0)
			return i;
	return (size_t)-1;
}

static double clamp_t(const struct report *r, double t)
{
	return t < 0 ? 0 : t > r->duration ? r->duration : t;
}

/* Does target name the node as a whole word (not "node1" inside "node10")? */
static bool names_node(const char *target, const char *name)
{
	size_t len = strlen(name);
	if (!len)
		return false;
	for (const char *p = strstr(target, name); p; p = strstr(p + 1, name)) {
		bool left = p == target || !(isalnum_c(p[-1]) || p[-1] == '_');
		bool right = !(isalnum_c(p[len]) || p[len] == '_');
		if (left && right)
			return true;
	}
	return false;
}

/* Starts element i of array arr: pfx becomes "arr[i]." for its fields. */
static int elem(const cJSON *e, const char *arr, size_t i, char *pfx, size_t cap, char *err, size_t n)
{
	snprintf(pfx, cap, "%s[%zu]", arr, i);
	if (!cJSON_IsObject(e))
		return bad(err, n, pfx, "", false, "an object");
	snprintf(pfx, cap, "%s[%zu].", arr, i);
	return 0;
}

static int parse_nodes(const cJSON *j, struct report *r, char *err, size_t n)
{
	const cJSON *arr = item(j, "nodes"), *e;
	char pfx[48];
	if (!arr)
		return bad(err, n, "", "nodes", true, "an array of nodes");
	if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) == 0)
		return bad(err, n, "", "nodes", false, "a non-empty array of nodes");
	r->nodes = alloc((size_t)cJSON_GetArraySize(arr), sizeof(*r->nodes));
	if (!r->nodes)
		return -ENOMEM;
	cJSON_ArrayForEach(e, arr) {
		struct rep_node *nd = &r->nodes[r->nnodes];
		int rc;
		if ((rc = elem(e, "nodes", r->nnodes, pfx, sizeof(pfx), err, n)) ||
		    (rc = get_str(e, "name", true, pfx, &nd->name, err, n)) ||
		    (rc = get_str(e, "addr", false, pfx, &nd->addr, err, n)))
			return rc;
		if (nd->addr && !*nd->addr)
			nd->addr = NULL;
		const cJSON *s = item(e, "server");
		if (s && !cJSON_IsBool(s))
			return bad(err, n, pfx, "server", false, "true or false");
		nd->server = cJSON_IsTrue(s);
		r->nnodes++;
	}
	return 0;
}

/* process and leader periods */
static int parse_spans(const cJSON *j, struct report *r, bool leader, char *err, size_t n)
{
	const char *name = leader ? "leader" : "process";
	const cJSON *arr, *e;
	size_t count, i = 0, *len = leader ? &r->nleader : &r->nprocess;
	int rc = get_arr(j, name, &arr, &count, err, n);
	if (rc)
		return rc;
	struct rep_span *out = alloc(count, sizeof(*out));
	if (!out)
		return -ENOMEM;
	*(leader ? &r->leader : &r->process) = out;
	cJSON_ArrayForEach(e, arr) {
		char pfx[48];
		const char *node, *state = NULL;
		struct rep_span s = { 0 };
		if ((rc = elem(e, name, i++, pfx, sizeof(pfx), err, n)) ||
		    (rc = get_str(e, "node", true, pfx, &node, err, n)) ||
		    (!leader && (rc = get_str(e, "state", true, pfx, &state, err, n))) ||
		    (rc = get_num(e, "term", false, pfx, &s.term, err, n)) ||
		    (rc = get_num(e, "from_ms", true, pfx, &s.from, err, n)) ||
		    (rc = get_num(e, "to_ms", false, pfx, &s.to, err, n)))
			return rc;
		if (state) {
			if (strcmp(state, "up") == 0)
				s.state = REP_UP;
			else if (strcmp(state, "down") == 0)
				s.state = REP_DOWN;
			else if (strcmp(state, "paused") == 0)
				s.state = REP_PAUSED;
			else
				return bad(err, n, pfx, "state", false, "up, down or paused");
		}
		if ((s.lane = lane_of(r, node)) == (size_t)-1)
			continue;
		s.from = clamp_t(r, s.from);
		s.to = isnan(s.to) ? r->duration : clamp_t(r, s.to);
		out[(*len)++] = s;
	}
	return 0;
}

static int parse_terms(const cJSON *j, struct report *r, char *err, size_t n)
{
	const cJSON *arr, *e;
	size_t count, i = 0;
	int rc = get_arr(j, "terms", &arr, &count, err, n);
	if (rc || !(r->terms = alloc(count, sizeof(*r->terms))))
		return rc ? rc : -ENOMEM;
	cJSON_ArrayForEach(e, arr) {
		char pfx[48];
		const char *node;
		struct rep_mark m;
		if ((rc = elem(e, "terms", i++, pfx, sizeof(pfx), err, n)) ||
		    (rc = get_str(e, "node", true, pfx, &node, err, n)) ||
		    (rc = get_num(e, "term", true, pfx, &m.term, err, n)) ||
		    (rc = get_num(e, "at_ms", true, pfx, &m.at, err, n)))
			return rc;
		if ((m.lane = lane_of(r, node)) == (size_t)-1)
			continue;
		m.at = clamp_t(r, m.at);
		r->terms[r->nterms++] = m;
	}
	return 0;
}

static int parse_faults(const cJSON *j, struct report *r, char *err, size_t n)
{
	const cJSON *arr, *e;
	size_t count;
	int rc = get_arr(j, "faults", &arr, &count, err, n);
	if (rc || !(r->faults = alloc(count, sizeof(*r->faults))))
		return rc ? rc : -ENOMEM;
	cJSON_ArrayForEach(e, arr) {
		char pfx[48];
		struct rep_fault *fl = &r->faults[r->nfaults];
		if ((rc = elem(e, "faults", r->nfaults, pfx, sizeof(pfx), err, n)) ||
		    (rc = get_str(e, "kind", true, pfx, &fl->kind, err, n)) ||
		    (rc = get_str(e, "target", false, pfx, &fl->target, err, n)) ||
		    (rc = get_str(e, "text", false, pfx, &fl->text, err, n)) ||
		    (rc = get_num(e, "from_ms", true, pfx, &fl->from, err, n)) ||
		    (rc = get_num(e, "to_ms", false, pfx, &fl->to, err, n)))
			return rc;
		r->nfaults++;
		fl->open = isnan(fl->to);
		fl->from = clamp_t(r, fl->from);
		fl->to = fl->open ? r->duration : clamp_t(r, fl->to);
		fl->all = !fl->target || strcmp(fl->kind, "partition") == 0 ||
		          strcmp(fl->kind, "heal") == 0;
		if (fl->all)
			continue;
		if (!(fl->lanes = alloc(r->nnodes, sizeof(bool))))
			return -ENOMEM;
		bool any = false;
		for (size_t k = 0; k < r->nnodes; k++)
			any |= fl->lanes[k] = names_node(fl->target, r->nodes[k].name);
		fl->all = !any;
	}
	return 0;
}

static int parse_steps(const cJSON *j, struct report *r, char *err, size_t n)
{
	const cJSON *arr, *e;
	size_t count;
	int rc = get_arr(j, "steps", &arr, &count, err, n);
	if (rc || !(r->steps = alloc(count, sizeof(*r->steps))))
		return rc ? rc : -ENOMEM;
	cJSON_ArrayForEach(e, arr) {
		char pfx[48];
		struct rep_step *s = &r->steps[r->nsteps];
		if ((rc = elem(e, "steps", r->nsteps, pfx, sizeof(pfx), err, n)) ||
		    (rc = get_num(e, "at_ms", true, pfx, &s->at, err, n)) ||
		    (rc = get_str(e, "text", false, pfx, &s->text, err, n)))
			return rc;
		s->at = clamp_t(r, s->at);
		r->nsteps++;
	}
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int parse_ops(const cJSON *j, struct report *r, char *err, size_t n)
{
	const cJSON *arr, *e;
	size_t count;
	int rc = get_arr(j, "operations", &arr, &count, err, n);
	if (rc || !(r->ops = alloc(count, sizeof(*r->ops))) || !(r->rows = alloc(count, sizeof(double))))
		return rc ? rc : -ENOMEM;
	cJSON_ArrayForEach(e, arr) {
		char pfx[48];
		struct rep_op *o = &r->ops[r->nops];
		if ((rc = elem(e, "operations", r->nops, pfx, sizeof(pfx), err, n)) ||
		    (rc = get_num(e, "process", true, pfx, &o->process, err, n)) ||
		    (rc = get_num(e, "invoke_ms", true, pfx, &o->invoke, err, n)) ||
		    (rc = get_num(e, "complete_ms", false, pfx, &o->complete, err, n)) ||
		    (rc = get_str(e, "node", false, pfx, &o->node, err, n)) ||
		    (rc = get_str(e, "f", false, pfx, &o->f, err, n)) ||
		    (rc = get_str(e, "key", false, pfx, &o->key, err, n)) ||
		    (rc = get_str(e, "result", false, pfx, &o->result, err, n)))
			return rc;
		o->value = item(e, "value");
		o->cls = !o->result ? REP_INFO : strcmp(o->result, "ok") == 0 ? REP_OK
		       : strcmp(o->result, "fail") == 0 ? REP_FAIL : REP_INFO;
		o->done = !isnan(o->complete);
		if (o->done && o->complete < o->invoke)
			o->complete = o->invoke;
		r->rows[r->nops++] = o->process;
	}
	qsort(r->rows, r->nops, sizeof(double), cmp_double);
	for (size_t i = 0; i < r->nops; i++)
		if (r->nrows == 0 || r->rows[r->nrows - 1] != r->rows[i])
			r->rows[r->nrows++] = r->rows[i];
	for (size_t i = 0; i < r->nops; i++) {
		const double *p = bsearch(&r->ops[i].process, r->rows, r->nrows, sizeof(double), cmp_double);
		r->ops[i].row = (size_t)(p - r->rows);
	}
	return 0;
}

static int parse_assertions(const cJSON *j, struct report *r, char *err, size_t n)
{
	const cJSON *e;
	size_t count, i = 0;
	int rc = get_arr(j, "assertions", &r->assertions, &count, err, n);
	if (rc)
		return rc;
	cJSON_ArrayForEach(e, r->assertions) {
		char pfx[48];
		const char *s;
		bool ok;
		if ((rc = elem(e, "assertions", i++, pfx, sizeof(pfx), err, n)) ||
		    (rc = get_str(e, "name", true, pfx, &s, err, n)) ||
		    (rc = get_bool(e, "ok", pfx, &ok, err, n)) ||
		    (rc = get_str(e, "detail", false, pfx, &s, err, n)))
			return rc;
	}
	r->stats = item(j, "stats");
	if (r->stats && !cJSON_IsObject(r->stats))
		return bad(err, n, "", "stats", false, "an object");
	return 0;
}

static void report_free(struct report *r)
{
	for (size_t i = 0; i < r->nfaults; i++)
		free(r->faults[i].lanes);
	free(r->nodes);
	free(r->process);
	free(r->leader);
	free(r->terms);
	free(r->faults);
	free(r->steps);
	free(r->ops);
	free(r->rows);
}

static int report_parse(const cJSON *j, struct report *r, char *err, size_t n)
{
	int rc;
	memset(r, 0, sizeof(*r));
	if (!cJSON_IsObject(j))
		return snprintf(err, n, "report.json: not a JSON object"), -EINVAL;
	if ((rc = get_str(j, "scenario", true, "", &r->scenario, err, n)) ||
	    (rc = get_str(j, "file", false, "", &r->file, err, n)) ||
	    (rc = get_str(j, "topology", true, "", &r->topology, err, n)))
		return rc;
	r->seed = item(j, "seed");
	if (!r->seed)
		return bad(err, n, "", "seed", true, "a number or a string");
	if (!cJSON_IsNumber(r->seed) && !cJSON_IsString(r->seed))
		return bad(err, n, "", "seed", false, "a number or a string");
	if ((rc = get_str(j, "started", true, "", &r->started, err, n)) ||
	    (rc = get_num(j, "duration_ms", true, "", &r->duration, err, n)) ||
	    (rc = get_bool(j, "verdict", "", &r->verdict, err, n)))
		return rc;
	if (r->duration <= 0)
		r->duration = 1;   /* keeps the scales finite; everything is at 0 */
	if ((rc = parse_nodes(j, r, err, n)) || (rc = parse_spans(j, r, false, err, n)) ||
	    (rc = parse_spans(j, r, true, err, n)) || (rc = parse_terms(j, r, err, n)) ||
	    (rc = parse_faults(j, r, err, n)) || (rc = parse_steps(j, r, err, n)) ||
	    (rc = parse_ops(j, r, err, n)) || (rc = parse_assertions(j, r, err, n)))
		return rc;
	return 0;
}

/* ---- the page ---- */

static const char css[] =
	"body{font:14px/1.45 system-ui,'DejaVu Sans',sans-serif;margin:16px 20px;color:#202124;"
	"background:#fff}\n"
	"h1{font-size:22px;margin:0 0 10px}h2{font-size:17px;margin:22px 0 8px;"
	"border-bottom:1px solid #dadce0;padding-bottom:3px}\n"
	".verdict{display:inline-block;padding:3px 16px;border-radius:4px;color:#fff;"
	"font-weight:700;margin-left:12px;vertical-align:2px}\n"
	".pass{background:" REP_PASS_COLOUR "}.fail{background:" REP_FAIL_COLOUR "}\n"
	"table{border-collapse:collapse;margin:4px 0}td,th{border:1px solid #dadce0;"
	"padding:3px 9px;text-align:left;vertical-align:top}th{background:#f1f3f4}\n"
	"td.ok{color:" REP_PASS_COLOUR ";font-weight:700}td.bad{color:" REP_FAIL_COLOUR
	";font-weight:700}td.n{text-align:right;font-variant-numeric:tabular-nums}\n"
	".legend{margin:4px 0 8px}.legend span{display:inline-block;margin-right:16px}\n"
	".sw{display:inline-block;width:16px;height:11px;border:1px solid #0004;"
	"vertical-align:-1px;margin-right:5px}\n"
	".note{color:#5f6368}svg{display:block;max-width:100%;height:auto}\n"
	"svg{font:11px system-ui,'DejaVu Sans',sans-serif}\n"
	".o0{fill:#2e9e48}.o1{fill:#d93025}.o2{fill:#f2a600}"
	".open{fill-opacity:.35}\n";

static void swatch(FILE *f, const char *colour, const char *label, const char *extra)
{
	fprintf(f, "<span><i class=\"sw\" style=\"background:%s%s\"></i>", colour, extra);
	rep_esc(f, label, 0);
	fputs("</span>", f);
}

static void page_header(FILE *f, const struct report *r)
{
	const char *v = r->verdict ? "PASS" : "FAIL";
	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	      "<meta name=\"viewport\" content=\"width=device-width\">\n<title>", f);
	rep_esc(f, r->scenario, 0);
	fprintf(f, " \xE2\x80\x94 %s \xE2\x80\x94 chaos report</title>\n<style>\n%s</style>\n</head>\n"
	        "<body>\n<header>\n<h1>Chaos run: ", v, css);
	rep_esc(f, r->scenario, 0);
	fprintf(f, "<span id=\"verdict\" class=\"verdict %s\">%s</span></h1>\n", r->verdict ? "pass" : "fail", v);
	fputs("<table class=\"meta\">\n<tr><th>scenario file</th><th>topology</th><th>seed</th>"
	      "<th>started</th><th>duration</th><th>nodes</th></tr>\n<tr><td>", f);
	rep_esc(f, r->file ? r->file : "\xE2\x80\x94", 0);
	fputs("</td><td>", f);
	rep_esc(f, r->topology, 0);
	fputs("</td><td>", f);
	if (cJSON_IsNumber(r->seed))
		fprintf(f, fabs(r->seed->valuedouble) < 9e15 ? "%.0f" : "%.17g", r->seed->valuedouble);
	else
		rep_esc(f, r->seed->valuestring, 0);
	fputs("</td><td>", f);
	rep_esc(f, r->started, 0);
	fprintf(f, "</td><td>%.1f s</td><td>%zu</td></tr>\n</table>\n</header>\n", r->duration / 1000.0,
	        r->nnodes);
}

static void page_assertions(FILE *f, const struct report *r)
{
	const cJSON *a;
	fputs("<section id=\"assertions\">\n<h2>Assertions</h2>\n", f);
	if (!cJSON_GetArraySize(r->assertions)) {
		fputs("<p class=\"note\">The scenario has no assertions.</p>\n</section>\n", f);
		return;
	}
	fputs("<table>\n<tr><th>assertion</th><th>argument</th><th>verdict</th><th>detail</th></tr>\n", f);
	cJSON_ArrayForEach(a, r->assertions) {
		bool ok = cJSON_IsTrue(item(a, "ok"));
		const cJSON *d = item(a, "detail");
		fputs("<tr class=\"assertion\"><td>", f);
		rep_esc(f, item(a, "name")->valuestring, 0);
		fputs("</td><td>", f);
		rep_value(f, item(a, "arg"));
		fprintf(f, "</td><td class=\"%s\">%s</td><td>", ok ? "ok" : "bad", ok ? "PASS" : "FAIL");
		rep_value(f, d);
		fputs("</td></tr>\n", f);
	}
	fputs("</table>\n</section>\n", f);
}

static void page_timeline(FILE *f, const struct report *r, bool aggregate, double bucket)
{
	fputs("<section id=\"timeline\">\n<h2>Timeline</h2>\n<div class=\"legend\">", f);
	swatch(f, rep_state_colour[REP_UP], "up", "");
	swatch(f, rep_state_colour[REP_DOWN], "down", "");
	swatch(f, rep_state_colour[REP_PAUSED], "paused", "");
	swatch(f, REP_LEADER_COLOUR, "leader (term)", "");
	fputs("<span>\xE2\x96\xBC term change</span><span>\xE2\x94\x8A step</span>", f);
	for (size_t i = 0; i < r->nfaults; i++) {
		size_t k = 0;
		while (k < i && strcmp(r->faults[k].kind, r->faults[i].kind))
			k++;
		if (k == i)
			swatch(f, rep_fault_colour(r->faults[i].kind), r->faults[i].kind, ";opacity:.55");
	}
	if (r->nops) {
		swatch(f, rep_class_colour[REP_OK], "op ok", "");
		swatch(f, rep_class_colour[REP_FAIL], "op fail", "");
		swatch(f, rep_class_colour[REP_INFO], "op info / unknown", "");
	}
	fputs("</div>\n", f);
	rep_svg_timeline(f, r, aggregate, bucket);
	fputs("<p class=\"note\">Hover over a bar, span or marker for details. Faults are shaded across "
	      "the lanes they affect (partitions across all lanes).</p>\n</section>\n", f);
}

static void page_ops(FILE *f, const struct report *r, bool aggregate, double bucket)
{
	size_t cls[3] = { 0 }, open = 0;
	for (size_t i = 0; i < r->nops; i++) {
		cls[r->ops[i].cls]++;
		open += !r->ops[i].done;
	}
	fputs("<section id=\"operations\">\n<h2>Client operations</h2>\n", f);
	if (!r->nops) {
		fputs("<p class=\"note\">No client operations were recorded.</p>\n</section>\n", f);
		return;
	}
	fprintf(f, "<p>%zu operations from %zu client processes: %zu ok, %zu fail, %zu info.", r->nops,
	        r->nrows, cls[REP_OK], cls[REP_FAIL], cls[REP_INFO]);
	if (open)
		fprintf(f, " %zu never completed (drawn to the end of the run, not in the latency plot).", open);
	fputs("</p>\n", f);
	if (aggregate)
		fprintf(f, "<p class=\"note\" id=\"aggregated\">More than %d operations: they are aggregated "
		        "into %.0f ms buckets. Each client row shows runs of buckets coloured by the worst "
		        "result in them (fail, then info, then ok); the plot shows, per bucket and result, "
		        "the median latency (dot) and the maximum (end of the line).</p>\n",
		        REPORT_OPS_DETAIL_MAX, bucket);
	rep_svg_latency(f, r, aggregate, bucket);
	fputs("</section>\n", f);
}

static void page_tables(FILE *f, const struct report *r)
{
	if (r->nfaults) {
		fputs("<section id=\"faults\">\n<h2>Faults</h2>\n<table>\n<tr><th>kind</th><th>target</th>"
		      "<th>from</th><th>to</th><th>what</th></tr>\n", f);
		for (size_t i = 0; i < r->nfaults; i++) {
			const struct rep_fault *fl = &r->faults[i];
			fprintf(f, "<tr class=\"fault\"><td><i class=\"sw\" style=\"background:%s;opacity:.55\"></i>",
			        rep_fault_colour(fl->kind));
			rep_esc(f, fl->kind, 0);
			fputs("</td><td>", f);
			rep_esc(f, fl->target ? fl->target : "all", 0);
			fputs("</td><td class=\"n\">", f);
			rep_secs(f, fl->from);
			fputs("</td><td class=\"n\">", f);
			if (fl->open)
				fputs("end of run", f);
			else
				rep_secs(f, fl->to);
			fputs("</td><td>", f);
			rep_esc(f, fl->text, 0);
			fputs("</td></tr>\n", f);
		}
		fputs("</table>\n</section>\n", f);
	}
	if (r->nsteps) {
		fputs("<section id=\"steps\">\n<h2>Steps</h2>\n<table>\n<tr><th>at</th><th>step</th></tr>\n", f);
		for (size_t i = 0; i < r->nsteps; i++) {
			fputs("<tr><td class=\"n\">", f);
			rep_secs(f, r->steps[i].at);
			fputs("</td><td>", f);
			rep_esc(f, r->steps[i].text, 0);
			fputs("</td></tr>\n", f);
		}
		fputs("</table>\n</section>\n", f);
	}
	fputs("<section id=\"stats\">\n<h2>Statistics</h2>\n", f);
	if (!r->stats || !r->stats->child) {
		fputs("<p class=\"note\">No statistics were recorded.</p>\n</section>\n", f);
		return;
	}
	fputs("<table>\n", f);
	for (const cJSON *s = r->stats->child; s; s = s->next) {
		fputs("<tr><th>", f);
		rep_esc(f, s->string, 0);
		fputs("</th><td class=\"n\">", f);
		if (cJSON_IsNumber(s) && s->valuedouble == floor(s->valuedouble) && fabs(s->valuedouble) < 9e15)
			fprintf(f, "%.0f", s->valuedouble);
		else if (cJSON_IsNumber(s))
			fprintf(f, "%.3f", s->valuedouble);
		else
			rep_value(f, s);
		fputs("</td></tr>\n", f);
	}
	fputs("</table>\n</section>\n", f);
}

/* Bucket width for aggregated operations: 100 ms, more for long runs so that
 * there are at most about 1000 buckets. */
static double bucket_ms(double duration)
{
	static const double steps[] = { 100, 200, 500, 1000, 2000, 5000, 10000, 30000, 60000 };
	size_t i = 0;
	while (i + 1 < sizeof(steps) / sizeof(steps[0]) && duration / steps[i] > 1000)
		i++;
	return steps[i];
}

int report_write_html(const cJSON *report, const char *path, char *err, size_t errlen)
{
	struct report r;
	char tmp[4096];
	if (errlen)
		err[0] = '\0';
	int rc = report_parse(report, &r, err, errlen);
	if (rc) {
		if (rc == -ENOMEM)
			snprintf(err, errlen, "report: out of memory");
		report_free(&r);
		return rc;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp%ld", path, (long)getpid());
	FILE *f = fopen(tmp, "w");
	if (!f) {
		rc = -errno;
		snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
		report_free(&r);
		return rc;
	}
	bool aggregate = r.nops > REPORT_OPS_DETAIL_MAX;
	double bucket = bucket_ms(r.duration);
	page_header(f, &r);
	page_assertions(f, &r);
	page_timeline(f, &r, aggregate, bucket);
	page_ops(f, &r, aggregate, bucket);
	page_tables(f, &r);
	fputs("<footer class=\"note\"><p>Written by <code>harness report</code> from report.json; "
	      "times are since the start of the run. This page needs no scripts and loads nothing.</p>"
	      "</footer>\n</body>\n</html>\n", f);
	report_free(&r);
	bool werr = ferror(f);
	if (fclose(f) || werr) {
		rc = errno ? -errno : -EIO;
		snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(-rc));
		unlink(tmp);
		return rc;
	}
	if (rename(tmp, path)) {
		rc = -errno;
		snprintf(err, errlen, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
		unlink(tmp);
		return rc;
	}
	return 0;
}

int report_html_from_file(const char *json_path, const char *html_path, char *err, size_t errlen)
{
	FILE *f = fopen(json_path, "rb");
	if (!f) {
		int rc = -errno;
		snprintf(err, errlen, "cannot open %s: %s", json_path, strerror(errno));
		return rc;
	}
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int rc = 0;
	for (;;) {
		if (len + 65536 > cap) {
			char *nb = cap * 2 + 65536 > (size_t)JSON_MAX ? NULL : realloc(buf, cap * 2 + 65536);
			if (!nb) {
				rc = -EFBIG;
				snprintf(err, errlen, "%s: too large or out of memory", json_path);
				break;
			}
			buf = nb;
			cap = cap * 2 + 65536;
		}
		size_t got = fread(buf + len, 1, cap - len, f);
		len += got;
		if (got == 0) {
			if (ferror(f)) {
				rc = -EIO;
				snprintf(err, errlen, "cannot read %s", json_path);
			}
			break;
		}
	}
	fclose(f);
	if (rc) {
		free(buf);
		return rc;
	}
	cJSON *j = cJSON_ParseWithLength(buf, len);
	if (!j) {
		const char *at = cJSON_GetErrorPtr();
		size_t line = 1;
		for (const char *p = buf; at && p >= buf && p < at && p < buf + len; p++)
			line += *p == '\n';
		snprintf(err, errlen, "%s: not valid JSON (near line %zu)", json_path, line);
		free(buf);
		return -EINVAL;
	}
	free(buf);
	rc = report_write_html(j, html_path, err, errlen);
	cJSON_Delete(j);
	return rc;
}

int cmd_report(int argc, char **argv)
{
	const char *in = NULL, *out = NULL;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "-o") == 0 && i + 1 < argc)
			out = argv[++i];
		else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0 || in ||
		         argv[i][0] == '-') {
			fputs("usage: harness report RUNDIR_OR_JSON [-o OUT.html]\n", stderr);
			return 2;
		} else
			in = argv[i];
	}
	if (!in) {
		fputs("usage: harness report RUNDIR_OR_JSON [-o OUT.html]\n", stderr);
		return 2;
	}
	char json[4096], html[4096], err[512];
	struct stat st;
	size_t n = strlen(in);
	if (stat(in, &st) == 0 && S_ISDIR(st.st_mode)) {
		snprintf(json, sizeof(json), "%s/report.json", in);
		snprintf(html, sizeof(html), "%s/report.html", in);
	} else {
		snprintf(json, sizeof(json), "%s", in);
		if (n > 5 && strcmp(in + n - 5, ".json") == 0)
			snprintf(html, sizeof(html), "%.*s.html", (int)(n - 5), in);
		else
			snprintf(html, sizeof(html), "%s.html", in);
	}
	if (out)
		snprintf(html, sizeof(html), "%s", out);
	if (report_html_from_file(json, html, err, sizeof(err))) {
		fprintf(stderr, "harness: %s\n", err);
		return 1;
	}
	printf("%s\n", html);
	return 0;
}
