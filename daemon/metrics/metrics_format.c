/* What the registry shows: go-metrics' MetricsSummary as JSON, the Prometheus
 * text exposition format 0.0.4, and floats written the way Go writes them. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "metrics/metrics_internal.h"

/* ---- numbers ---- */

size_t cc_metrics_format_float(char *out, size_t cap, double v, int bits, bool json)
{
	if (isnan(v))
		return (size_t)snprintf(out, cap, "NaN");
	if (isinf(v))
		return (size_t)snprintf(out, cap, v > 0 ? "+Inf" : "-Inf");
	if (v == 0)
		return (size_t)snprintf(out, cap, signbit(v) ? "-0" : "0");
	/* the fewest digits that read back as the same float32/float64 */
	char e[48];
	int p;
	for (p = 1; p <= 17; p++) {
		snprintf(e, sizeof(e), "%.*e", p - 1, v);
		if (bits == 32 ? strtof(e, NULL) == (float)v : strtod(e, NULL) == v)
			break;
	}
	if (p > 17)
		p = 17;
	const char *ep = strchr(e, 'e');
	int exp = ep ? atoi(ep + 1) : 0;
	double a = fabs(v);
	bool use_e;
	if (json) /* encoding/json: 'e' only for tiny or huge values */
		use_e = bits == 32 ? ((float)a < 1e-6f || (float)a >= 1e21f) : (a < 1e-6 || a >= 1e21);
	else      /* strconv 'g' with the shortest precision decides with 6 */
		use_e = exp < -4 || exp >= 6;
	if (!use_e) {
		int decimals = p - (exp + 1);
		return (size_t)snprintf(out, cap, "%.*f", decimals > 0 ? decimals : 0, v);
	}
	size_t n = (size_t)snprintf(out, cap, "%s", e);
	/* encoding/json cleans "e-09" up to "e-9" (and only that) */
	if (json && n >= 4 && n < cap && out[n - 4] == 'e' && out[n - 3] == '-' &&
	    out[n - 2] == '0') {
		out[n - 2] = out[n - 1];
		out[--n] = '\0';
	}
	return n;
}

static void add_num(cJSON *o, const char *key, double v, int bits)
{
	char buf[48];
	/* encoding/json refuses NaN and infinities; never write them */
	if (!isfinite(v))
		v = 0;
	cc_metrics_format_float(buf, sizeof(buf), v, bits, true);
	cJSON_AddRawToObject(o, key, buf);
}

/* ---- the JSON summary ---- */

static int by_key(const void *a, const void *b)
{
	const struct series *x = *(const struct series *const *)a;
	const struct series *y = *(const struct series *const *)b;
	return strcmp(x->key, y->key);
}

/* The series of one kind present in iv, sorted by key (go-metrics sorts by
 * its hash, which is the same name-plus-labels text). */
static size_t collect(const struct cc_metrics *m, const struct interval *iv, enum mkind kind,
                      const struct series **out)
{
	size_t n = 0;
	for (size_t i = 0; i < m->nseries && i < iv->cap; i++)
		if (m->series[i].kind == kind && iv->aggs[i].set)
			out[n++] = &m->series[i];
	qsort(out, n, sizeof(*out), by_key);
	return n;
}

static cJSON *labels_json(const struct series *s)
{
	cJSON *l = cJSON_CreateObject();
	for (size_t i = 0; l && i < s->nlabels; i++)
		cJSON_AddStringToObject(l, s->lname[i], s->lvalue[i]);
	return l;
}

static cJSON *sampled_json(const struct cc_metrics *m, const struct series *s,
                           const struct agg *a)
{
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	double count = (double)a->count;
	double mean = a->count ? a->sum / count : 0;
	/* go-metrics' Stddev: sample standard deviation from the running sums */
	double num = count * a->sumsq - a->sum * a->sum;
	double div = count * (count - 1);
	double sd = div == 0 || num <= 0 ? 0 : sqrt(num / div);
	cJSON_AddStringToObject(o, "Name", s->name);
	cJSON_AddNumberToObject(o, "Count", count);
	add_num(o, "Rate", a->sum / ((double)m->interval_ms / 1000.0), 64);
	add_num(o, "Sum", a->sum, 64);
	add_num(o, "Min", a->min, 64);
	add_num(o, "Max", a->max, 64);
	add_num(o, "Mean", mean, 64);
	add_num(o, "Stddev", sd, 64);
	cJSON_AddItemToObject(o, "Labels", labels_json(s));
	return o;
}

cJSON *cc_metrics_summary(struct cc_metrics *m, uint64_t now_ms)
{
	const struct interval *iv = metrics_shown(m, now_ms);
	const struct series **list = malloc((m->nseries + 1) * sizeof(*list));
	cJSON *root = cJSON_CreateObject();
	if (!list || !root) {
		free(list);
		cJSON_Delete(root);
		return NULL;
	}
	/* Go: Interval.Round(time.Second).UTC().String() */
	time_t t = (time_t)((iv->start_ms + 500) / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	char ts[64];
	strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S +0000 UTC", &tm);
	cJSON_AddStringToObject(root, "Timestamp", ts);

	cJSON *gauges = cJSON_AddArrayToObject(root, "Gauges");
	size_t n = collect(m, iv, MK_GAUGE, list);
	for (size_t i = 0; i < n; i++) {
		cJSON *g = cJSON_CreateObject();
		cJSON_AddStringToObject(g, "Name", list[i]->name);
		add_num(g, "Value", iv->aggs[list[i] - m->series].value, 32);
		cJSON_AddItemToObject(g, "Labels", labels_json(list[i]));
		cJSON_AddItemToArray(gauges, g);
	}
	cJSON_AddArrayToObject(root, "Points");
	static const char *const names[2] = { "Counters", "Samples" };
	static const enum mkind kinds[2] = { MK_COUNTER, MK_SAMPLE };
	for (int k = 0; k < 2; k++) {
		cJSON *arr = cJSON_AddArrayToObject(root, names[k]);
		n = collect(m, iv, kinds[k], list);
		for (size_t i = 0; i < n; i++)
			cJSON_AddItemToArray(arr,
			                     sampled_json(m, list[i], &iv->aggs[list[i] - m->series]));
	}
	free(list);
	return root;
}

/* ---- Prometheus ---- */

size_t cc_metrics_prom_name(char *out, size_t cap, const char *name)
{
	size_t n = 0;
	if (name[0] >= '0' && name[0] <= '9') {
		if (n + 1 < cap)
			out[n] = '_';
		n++;
	}
	for (const char *p = name; *p; p++, n++) {
		char c = *p;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		          c == '_' || c == ':';
		if (n + 1 < cap)
			out[n] = ok ? c : '_';
	}
	if (cap)
		out[n < cap ? n : cap - 1] = '\0';
	return n;
}

struct buf {
	char *p;
	size_t n, cap;
	bool oom;
};

static void put_mem(struct buf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (b->n + n + 1 > cap)
			cap *= 2;
		char *x = realloc(b->p, cap);
		if (!x) {
			b->oom = true;
			return;
		}
		b->p = x;
		b->cap = cap;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
}

static void put_s(struct buf *b, const char *s)
{
	put_mem(b, s, strlen(s));
}

static void put_num(struct buf *b, double v)
{
	char num[48];
	cc_metrics_format_float(num, sizeof(num), v, 64, false);
	put_s(b, num);
}

/* {a="x",b="y"[,extra="v"]}: names sanitised, values escaped as the text
 * format wants (backslash, double quote, newline). */
static void put_labels(struct buf *b, const struct series *s, const char *extra,
                       const char *extra_value)
{
	if (!s->nlabels && !extra)
		return;
	put_s(b, "{");
	for (size_t i = 0; i <= s->nlabels; i++) {
		const char *name = i < s->nlabels ? s->lname[i] : extra;
		const char *value = i < s->nlabels ? s->lvalue[i] : extra_value;
		if (!name)
			break;
		if (i)
			put_s(b, ",");
		char ln[128];
		cc_metrics_prom_name(ln, sizeof(ln), name);
		for (char *c = ln; *c; c++)
			if (*c == ':')
				*c = '_';
		put_s(b, ln);
		put_s(b, "=\"");
		for (const char *c = value; *c; c++) {
			if (*c == '\\')
				put_s(b, "\\\\");
			else if (*c == '"')
				put_s(b, "\\\"");
			else if (*c == '\n')
				put_s(b, "\\n");
			else
				put_mem(b, c, 1);
		}
		put_s(b, "\"");
	}
	put_s(b, "}");
}

struct prom_entry {
	char name[256];
	const struct series *s;
};

static int by_prom_name(const void *a, const void *b)
{
	const struct prom_entry *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	return c ? c : strcmp(x->s->key, y->s->key);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void put_summary(struct buf *b, const char *name, const struct series *s, uint64_t now_ms)
{
	double vals[PROM_RECENT];
	size_t n = 0;
	for (size_t i = 0; i < s->nrecent; i++)
		if (now_ms - s->recent[i].t <= PROM_MAX_AGE_MS)
			vals[n++] = s->recent[i].v;
	qsort(vals, n, sizeof(vals[0]), cmp_double);
	static const char *const qs[3] = { "0.5", "0.9", "0.99" };
	static const double qv[3] = { 0.5, 0.9, 0.99 };
	for (int q = 0; q < 3; q++) {
		put_s(b, name);
		put_labels(b, s, "quantile", qs[q]);
		put_s(b, " ");
		if (n == 0) {
			put_s(b, "NaN");
		} else {
			size_t rank = (size_t)ceil(qv[q] * (double)n);
			put_num(b, vals[rank ? rank - 1 : 0]);
		}
		put_s(b, "\n");
	}
	static const char *const suffix[2] = { "_sum", "_count" };
	for (int k = 0; k < 2; k++) {
		put_s(b, name);
		put_s(b, suffix[k]);
		put_labels(b, s, NULL, NULL);
		put_s(b, " ");
		put_num(b, k == 0 ? s->total : (double)s->count);
		put_s(b, "\n");
	}
}

char *cc_metrics_prometheus(struct cc_metrics *m, uint64_t now_ms, size_t *len)
{
	struct buf b = { 0 };
	put_s(&b, "");
	struct prom_entry *e = m->prom_ms ? malloc((m->nseries + 1) * sizeof(*e)) : NULL;
	size_t n = 0;
	for (size_t i = 0; e && i < m->nseries; i++) {
		const struct series *s = &m->series[i];
		if (!s->updated_ms || now_ms - s->updated_ms > m->prom_ms)
			continue; /* expired, as go-metrics' sink drops it */
		cc_metrics_prom_name(e[n].name, sizeof(e[n].name), s->name);
		e[n++].s = s;
	}
	if (e)
		qsort(e, n, sizeof(*e), by_prom_name);
	static const char *const types[3] = { "gauge", "counter", "summary" };
	const char *family = NULL;
	enum mkind family_kind = MK_GAUGE;
	for (size_t i = 0; i < n; i++) {
		const struct series *s = e[i].s;
		if (!family || strcmp(family, e[i].name) != 0) {
			family = e[i].name;
			family_kind = s->kind;
			put_s(&b, "# HELP ");
			put_s(&b, family);
			put_s(&b, " ");
			put_s(&b, family);
			put_s(&b, "\n# TYPE ");
			put_s(&b, family);
			put_s(&b, " ");
			put_s(&b, types[s->kind]);
			put_s(&b, "\n");
		} else if (s->kind != family_kind) {
			continue; /* one name, one type: a clash of kinds keeps the first */
		}
		if (s->kind == MK_SAMPLE) {
			put_summary(&b, family, s, now_ms);
			continue;
		}
		put_s(&b, family);
		put_labels(&b, s, NULL, NULL);
		put_s(&b, " ");
		put_num(&b, s->total);
		put_s(&b, "\n");
	}
	free(e);
	if (b.oom || (m->prom_ms && !e)) {
		free(b.p);
		return NULL;
	}
	*len = b.n;
	return b.p;
}
