/* Private to the metrics module: the registry's data, shared by metrics.c
 * (writes, intervals, the process-wide registry) and metrics_format.c (JSON
 * summary, Prometheus text, number formatting). */
#ifndef CC_METRICS_INTERNAL_H
#define CC_METRICS_INTERNAL_H

#include "metrics/metrics.h"

enum mkind { MK_GAUGE, MK_COUNTER, MK_SAMPLE };

/* One interval's aggregate of one series. */
struct agg {
	bool set;
	uint64_t count;
	double sum, sumsq, min, max;
	double value;               /* gauges: the last value */
};

/* Values kept for a Prometheus summary's quantiles (the last 10 s). */
#define PROM_RECENT 128
#define PROM_MAX_AGE_MS 10000u
struct recent {
	double v;
	uint64_t t;
};

struct series {
	enum mkind kind;
	uint32_t hash;
	char *key;                  /* name plus ";label=value" per label: the identity */
	char *name;                 /* the displayed name, prefix included */
	size_t nlabels;
	char *lname[CC_METRICS_MAX_LABELS], *lvalue[CC_METRICS_MAX_LABELS];
	/* Prometheus */
	uint64_t updated_ms;        /* 0: never */
	double total;               /* gauge value, counter total, summary sum */
	uint64_t count;             /* summary count */
	struct recent *recent;      /* PROM_RECENT values, a ring */
	size_t nrecent, recent_pos;
};

struct interval {
	uint64_t start_ms;
	struct agg *aggs;           /* indexed by series id */
	size_t cap;
};

struct cc_metrics {
	char *prefix, *host;
	uint64_t interval_ms, prom_ms;
	unsigned retain;
	struct series *series;
	size_t nseries, capseries;
	uint32_t *table;            /* open addressing: series id + 1, 0 = empty */
	size_t tcap;
	struct interval *iv;        /* a ring of retain intervals */
	unsigned niv, last;
};

/* metrics.c: the interval that holds now_ms (a new one when time moved on),
 * and the one a summary shows (the previous one once there are two). */
struct interval *metrics_current(struct cc_metrics *m, uint64_t now_ms);
const struct interval *metrics_shown(struct cc_metrics *m, uint64_t now_ms);

#endif
