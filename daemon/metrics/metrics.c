/* The registry: series lookup, interval rollover, writes, and the
 * process-wide instance. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "metrics/metrics_internal.h"

#define KEY_MAX 512

static char *dup_str(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = malloc(n);
	if (d)
		memcpy(d, s, n);
	return d;
}

struct cc_metrics *cc_metrics_new(const struct cc_metrics_options *o)
{
	struct cc_metrics *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->prefix = dup_str(o->prefix && o->prefix[0] ? o->prefix : "consul");
	m->host = o->gauge_host && o->gauge_host[0] ? dup_str(o->gauge_host) : NULL;
	m->interval_ms = o->interval_ms ? o->interval_ms : 10000;
	m->retain = o->retain ? o->retain : 6;
	m->prom_ms = o->prometheus_retention_ms;
	m->tcap = 256;
	m->table = calloc(m->tcap, sizeof(*m->table));
	m->iv = calloc(m->retain, sizeof(*m->iv));
	if (!m->prefix || (o->gauge_host && o->gauge_host[0] && !m->host) || !m->table || !m->iv) {
		cc_metrics_free(m);
		return NULL;
	}
	return m;
}

void cc_metrics_free(struct cc_metrics *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->nseries; i++) {
		struct series *s = &m->series[i];
		free(s->key);
		free(s->name);
		for (size_t l = 0; l < s->nlabels; l++) {
			free(s->lname[l]);
			free(s->lvalue[l]);
		}
		free(s->recent);
	}
	free(m->series);
	free(m->table);
	for (unsigned i = 0; m->iv && i < m->retain; i++)
		free(m->iv[i].aggs);
	free(m->iv);
	free(m->prefix);
	free(m->host);
	free(m);
}

bool cc_metrics_prometheus_enabled(const struct cc_metrics *m)
{
	return m && m->prom_ms > 0;
}

/* ---- intervals ---- */

struct interval *metrics_current(struct cc_metrics *m, uint64_t now_ms)
{
	uint64_t start = now_ms - now_ms % m->interval_ms;
	if (m->niv && m->iv[m->last].start_ms == start)
		return &m->iv[m->last];
	unsigned slot = m->niv ? (m->last + 1) % m->retain : 0;
	struct interval *iv = &m->iv[slot];
	if (iv->aggs)
		memset(iv->aggs, 0, iv->cap * sizeof(*iv->aggs));
	iv->start_ms = start;
	m->last = slot;
	if (m->niv < m->retain)
		m->niv++;
	return iv;
}

const struct interval *metrics_shown(struct cc_metrics *m, uint64_t now_ms)
{
	metrics_current(m, now_ms);
	if (m->niv < 2)
		return &m->iv[m->last];
	return &m->iv[(m->last + m->retain - 1) % m->retain];
}

/* ---- series lookup ---- */

struct built {
	char key[KEY_MAX];
	size_t name_len;            /* key[0..name_len) is the name */
};

/* go-metrics' flattenKeyLabels: spaces become '_' in the key and labels. */
static size_t put(char *buf, size_t pos, const char *s)
{
	for (; *s && pos + 1 < KEY_MAX; s++)
		buf[pos++] = *s == ' ' ? '_' : *s;
	buf[pos] = '\0';
	return pos;
}

static void build_key(const struct cc_metrics *m, enum mkind kind, const char *key,
                      const struct cc_metrics_label *l, size_t nl, struct built *b)
{
	size_t pos = put(b->key, 0, m->prefix);
	pos = put(b->key, pos, ".");
	if (kind == MK_GAUGE && m->host) {
		pos = put(b->key, pos, m->host);
		pos = put(b->key, pos, ".");
	}
	pos = put(b->key, pos, key);
	b->name_len = pos;
	for (size_t i = 0; i < nl && i < CC_METRICS_MAX_LABELS; i++) {
		pos = put(b->key, pos, ";");
		pos = put(b->key, pos, l[i].name ? l[i].name : "");
		pos = put(b->key, pos, "=");
		pos = put(b->key, pos, l[i].value ? l[i].value : "");
	}
}

static uint32_t hash_key(enum mkind kind, const char *s)
{
	uint32_t h = 2166136261u ^ (uint32_t)kind;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

static int grow_table(struct cc_metrics *m)
{
	size_t cap = m->tcap * 2;
	uint32_t *t = calloc(cap, sizeof(*t));
	if (!t)
		return -ENOMEM;
	for (size_t i = 0; i < m->nseries; i++) {
		size_t p = m->series[i].hash & (cap - 1);
		while (t[p])
			p = (p + 1) & (cap - 1);
		t[p] = (uint32_t)i + 1;
	}
	free(m->table);
	m->table = t;
	m->tcap = cap;
	return 0;
}

static int add_series(struct cc_metrics *m, enum mkind kind, uint32_t h, const struct built *b,
                      const struct cc_metrics_label *l, size_t nl, size_t slot)
{
	if (m->nseries == m->capseries) {
		size_t cap = m->capseries ? m->capseries * 2 : 64;
		struct series *n = realloc(m->series, cap * sizeof(*n));
		if (!n)
			return -1;
		m->series = n;
		m->capseries = cap;
	}
	struct series *s = &m->series[m->nseries];
	memset(s, 0, sizeof(*s));
	s->kind = kind;
	s->hash = h;
	s->key = dup_str(b->key);
	s->name = malloc(b->name_len + 1);
	bool ok = s->key && s->name;
	if (s->name) {
		memcpy(s->name, b->key, b->name_len);
		s->name[b->name_len] = '\0';
	}
	for (size_t i = 0; ok && i < nl && i < CC_METRICS_MAX_LABELS; i++) {
		s->lname[i] = dup_str(l[i].name ? l[i].name : "");
		s->lvalue[i] = dup_str(l[i].value ? l[i].value : "");
		s->nlabels = i + 1;
		ok = s->lname[i] && s->lvalue[i];
	}
	if (ok && kind == MK_SAMPLE && m->prom_ms)
		ok = (s->recent = calloc(PROM_RECENT, sizeof(*s->recent))) != NULL;
	if (!ok) {
		free(s->key);
		free(s->name);
		for (size_t i = 0; i < s->nlabels; i++) {
			free(s->lname[i]);
			free(s->lvalue[i]);
		}
		free(s->recent);
		return -1;
	}
	m->table[slot] = (uint32_t)m->nseries + 1;
	return (int)m->nseries++;
}

/* The series id of (kind, key, labels), created on first use; -1 when the
 * registry is full or out of memory. */
static int series_id(struct cc_metrics *m, enum mkind kind, const char *key,
                     const struct cc_metrics_label *l, size_t nl)
{
	struct built b;
	build_key(m, kind, key, l, nl, &b);
	uint32_t h = hash_key(kind, b.key);
	size_t p = h & (m->tcap - 1);
	for (uint32_t id; (id = m->table[p]) != 0; p = (p + 1) & (m->tcap - 1)) {
		const struct series *s = &m->series[id - 1];
		if (s->hash == h && s->kind == kind && strcmp(s->key, b.key) == 0)
			return (int)id - 1;
	}
	if (m->nseries >= CC_METRICS_MAX_SERIES)
		return -1;
	if ((m->nseries + 1) * 2 > m->tcap) {
		if (grow_table(m))
			return -1;
		p = h & (m->tcap - 1);
		while (m->table[p])
			p = (p + 1) & (m->tcap - 1);
	}
	return add_series(m, kind, h, &b, l, nl, p);
}

static struct agg *agg_of(struct interval *iv, int id)
{
	if ((size_t)id >= iv->cap) {
		size_t cap = iv->cap ? iv->cap : 64;
		while (cap <= (size_t)id)
			cap *= 2;
		struct agg *n = realloc(iv->aggs, cap * sizeof(*n));
		if (!n)
			return NULL;
		memset(n + iv->cap, 0, (cap - iv->cap) * sizeof(*n));
		iv->aggs = n;
		iv->cap = cap;
	}
	return &iv->aggs[id];
}

/* go-metrics' AggregateSample.Ingest */
static void ingest(struct agg *a, double v)
{
	a->count++;
	a->sum += v;
	a->sumsq += v * v;
	if (v < a->min || a->count == 1)
		a->min = v;
	if (v > a->max || a->count == 1)
		a->max = v;
	a->set = true;
}

static void write_metric(struct cc_metrics *m, uint64_t now_ms, enum mkind kind, const char *key,
                         const struct cc_metrics_label *l, size_t nl, double v)
{
	if (!m || !key)
		return;
	v = (double)(float)v; /* go-metrics takes float32 values */
	int id = series_id(m, kind, key, l, nl);
	if (id < 0)
		return;
	struct agg *a = agg_of(metrics_current(m, now_ms), id);
	if (!a)
		return;
	struct series *s = &m->series[id];
	if (kind == MK_GAUGE) {
		a->value = v;
		a->set = true;
	} else {
		ingest(a, v);
	}
	if (!m->prom_ms)
		return;
	s->updated_ms = now_ms;
	if (kind == MK_GAUGE) {
		s->total = v;
	} else if (kind == MK_COUNTER) {
		s->total += v;
	} else {
		s->total += v;
		s->count++;
		s->recent[s->recent_pos] = (struct recent){ v, now_ms };
		s->recent_pos = (s->recent_pos + 1) % PROM_RECENT;
		if (s->nrecent < PROM_RECENT)
			s->nrecent++;
	}
}

void cc_metrics_set_gauge(struct cc_metrics *m, uint64_t now_ms, const char *key,
                          const struct cc_metrics_label *l, size_t nl, double v)
{
	write_metric(m, now_ms, MK_GAUGE, key, l, nl, v);
}

void cc_metrics_incr_counter(struct cc_metrics *m, uint64_t now_ms, const char *key,
                             const struct cc_metrics_label *l, size_t nl, double v)
{
	write_metric(m, now_ms, MK_COUNTER, key, l, nl, v);
}

void cc_metrics_add_sample(struct cc_metrics *m, uint64_t now_ms, const char *key,
                           const struct cc_metrics_label *l, size_t nl, double v)
{
	write_metric(m, now_ms, MK_SAMPLE, key, l, nl, v);
}

/* ---- the process-wide registry ---- */

static struct cc_metrics *g_metrics;

int cc_metrics_global_init(const struct cc_metrics_options *o)
{
	cc_metrics_global_free();
	g_metrics = cc_metrics_new(o);
	return g_metrics ? 0 : -ENOMEM;
}

void cc_metrics_global_free(void)
{
	cc_metrics_free(g_metrics);
	g_metrics = NULL;
}

struct cc_metrics *cc_metrics_global(void)
{
	return g_metrics;
}

uint64_t cc_metrics_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t cc_metrics_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void cc_metric_gauge(const char *key, double v)
{
	if (g_metrics)
		write_metric(g_metrics, cc_metrics_wall_ms(), MK_GAUGE, key, NULL, 0, v);
}

void cc_metric_gauge_l(const char *key, const struct cc_metrics_label *l, size_t nl, double v)
{
	if (g_metrics)
		write_metric(g_metrics, cc_metrics_wall_ms(), MK_GAUGE, key, l, nl, v);
}

void cc_metric_incr(const char *key, double v)
{
	if (g_metrics)
		write_metric(g_metrics, cc_metrics_wall_ms(), MK_COUNTER, key, NULL, 0, v);
}

void cc_metric_incr_l(const char *key, const struct cc_metrics_label *l, size_t nl, double v)
{
	if (g_metrics)
		write_metric(g_metrics, cc_metrics_wall_ms(), MK_COUNTER, key, l, nl, v);
}

void cc_metric_sample(const char *key, double v)
{
	if (g_metrics)
		write_metric(g_metrics, cc_metrics_wall_ms(), MK_SAMPLE, key, NULL, 0, v);
}

void cc_metric_sample_l(const char *key, const struct cc_metrics_label *l, size_t nl, double v)
{
	if (g_metrics)
		write_metric(g_metrics, cc_metrics_wall_ms(), MK_SAMPLE, key, l, nl, v);
}

void cc_metric_since(const char *key, uint64_t start_ns)
{
	cc_metric_since_l(key, NULL, 0, start_ns);
}

void cc_metric_since_l(const char *key, const struct cc_metrics_label *l, size_t nl,
                       uint64_t start_ns)
{
	if (!g_metrics)
		return;
	uint64_t now = cc_metrics_mono_ns();
	double ms = now > start_ns ? (double)(now - start_ns) / 1e6 : 0;
	write_metric(g_metrics, cc_metrics_wall_ms(), MK_SAMPLE, key, l, nl, ms);
}
