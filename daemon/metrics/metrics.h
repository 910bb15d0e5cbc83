/*
 * metrics — an in-memory metrics registry shaped like hashicorp/go-metrics'
 * InmemSink (what Consul serves at GET /v1/agent/metrics) and, when enabled,
 * the cumulative series its Prometheus sink exposes (?format=prometheus).
 *
 * Three kinds, as go-metrics has them:
 *   gauge    the last value set in an interval (float32, as go-metrics keeps it)
 *   counter  Count/Rate/Sum/Min/Max/Mean/Stddev of the increments in an interval
 *   sample   the same statistics over observed values (timings in milliseconds)
 * A metric is a key ("raft.state.leader") plus optional labels; the registry
 * puts "<prefix>." in front (telemetry.metrics_prefix, default "consul"), and
 * for gauges, when a host name is given, "<prefix>.<host>." (go-metrics'
 * EnableHostname, which Consul turns on only when an external sink — here the
 * Prometheus one — is configured and telemetry.disable_hostname is false).
 *
 * Intervals: aggregation windows of interval_ms (Consul: 10 s) aligned on the
 * wall clock (go-metrics truncates time.Now() to the interval), the last
 * `retain` kept (Consul: 1 minute = 6). A write or a read at a time in a new
 * window starts a new interval, dropping the oldest. The summary shows the
 * most recent *finished* interval, or the current one when it is the only one
 * (go-metrics DisplayMetrics).
 *
 * Prometheus series (only when prometheus_retention_ms > 0): gauges keep their
 * last value, counters their running total, samples a summary (quantiles 0.5,
 * 0.9, 0.99 over the values of the last 10 s, plus _sum and _count); a series
 * not updated for the retention time is left out (go-metrics' expiry).
 *
 * Single-threaded by design (the daemon's one libuv loop): no locks. A write
 * costs one hash of the key and labels and no allocation once the series
 * exists. The number of series is capped (CC_METRICS_MAX_SERIES); writes to a
 * new series beyond it are dropped.
 *
 * The object API takes the wall-clock time in milliseconds from the caller
 * (pure: the unit tests drive time); the cc_metric_* helpers at the end feed
 * a process-wide registry and read the clock themselves.
 */
#ifndef CC_METRICS_H
#define CC_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#define CC_METRICS_MAX_SERIES 4096
#define CC_METRICS_MAX_LABELS 4

struct cc_metrics;

struct cc_metrics_label {
	const char *name, *value;
};

struct cc_metrics_options {
	const char *prefix;               /* NULL or "": "consul" */
	const char *gauge_host;           /* NULL: no host name in gauge names */
	uint64_t interval_ms;             /* 0: 10000 */
	unsigned retain;                  /* intervals kept; 0: 6 */
	uint64_t prometheus_retention_ms; /* 0: no Prometheus series */
};

/* Returns a registry, or NULL when out of memory. Strings are copied. Free
 * with cc_metrics_free. */
struct cc_metrics *cc_metrics_new(const struct cc_metrics_options *o);
void cc_metrics_free(struct cc_metrics *m);

/* Writes; nl labels in l (at most CC_METRICS_MAX_LABELS are kept). */
void cc_metrics_set_gauge(struct cc_metrics *m, uint64_t now_ms, const char *key,
                          const struct cc_metrics_label *l, size_t nl, double v);
void cc_metrics_incr_counter(struct cc_metrics *m, uint64_t now_ms, const char *key,
                             const struct cc_metrics_label *l, size_t nl, double v);
void cc_metrics_add_sample(struct cc_metrics *m, uint64_t now_ms, const char *key,
                           const struct cc_metrics_label *l, size_t nl, double v);

/* The go-metrics MetricsSummary of the interval to show at now_ms:
 *   {"Timestamp": "2020-12-14 15:55:10 +0000 UTC", "Gauges": [{"Name","Value","Labels"}],
 *    "Points": [], "Counters": [{"Name","Count","Rate","Sum","Min","Max","Mean","Stddev",
 *    "Labels"}], "Samples": [...]}
 * sorted as go-metrics sorts them (by name plus labels). Numbers are written
 * the way Go's encoding/json writes them. Returns a tree the caller frees with
 * cJSON_Delete, or NULL when out of memory. */
cJSON *cc_metrics_summary(struct cc_metrics *m, uint64_t now_ms);

/* Whether the Prometheus series are kept (prometheus_retention_ms > 0). */
bool cc_metrics_prometheus_enabled(const struct cc_metrics *m);

/* The Prometheus text exposition format 0.0.4 of the live series: for each
 * name (sorted) "# HELP n n", "# TYPE n gauge|counter|summary", then one line
 * per label set. Returns a malloc'd NUL-terminated text (its length in *len),
 * or NULL when out of memory; an empty text when Prometheus is not enabled. */
char *cc_metrics_prometheus(struct cc_metrics *m, uint64_t now_ms, size_t *len);

/* A metric name as Prometheus accepts it: every character outside
 * [a-zA-Z0-9_:] becomes '_' ("consul.http.GET.v1.kv._" ->
 * "consul_http_GET_v1_kv__"), and a leading digit gets a '_' before it.
 * Writes at most cap bytes (NUL included); returns the full length. */
size_t cc_metrics_prom_name(char *out, size_t cap, const char *name);

/* A float the way Go formats it: strconv.FormatFloat(v, 'g', -1, bits) when
 * json is false (Prometheus text; NaN, +Inf, -Inf spelled out), and
 * encoding/json's choice of 'f' or 'e' when json is true. bits is 32 or 64
 * (the shortest text that reads back as the same float32 or float64). */
size_t cc_metrics_format_float(char *out, size_t cap, double v, int bits, bool json);

/* ---- the process-wide registry ----
 * The daemon installs one at start; until then (and after cc_metrics_global_free)
 * every helper below does nothing. Times come from CLOCK_REALTIME. */
int cc_metrics_global_init(const struct cc_metrics_options *o);
void cc_metrics_global_free(void);
struct cc_metrics *cc_metrics_global(void);
/* Wall-clock milliseconds, and a monotonic nanosecond clock for timings. */
uint64_t cc_metrics_wall_ms(void);
uint64_t cc_metrics_mono_ns(void);

void cc_metric_gauge(const char *key, double v);
void cc_metric_gauge_l(const char *key, const struct cc_metrics_label *l, size_t nl, double v);
void cc_metric_incr(const char *key, double v);
void cc_metric_incr_l(const char *key, const struct cc_metrics_label *l, size_t nl, double v);
void cc_metric_sample(const char *key, double v);
void cc_metric_sample_l(const char *key, const struct cc_metrics_label *l, size_t nl, double v);
/* A sample of the milliseconds since start_ns (cc_metrics_mono_ns), as
 * go-metrics' MeasureSince. */
void cc_metric_since(const char *key, uint64_t start_ns);
void cc_metric_since_l(const char *key, const struct cc_metrics_label *l, size_t nl,
                       uint64_t start_ns);

#endif
