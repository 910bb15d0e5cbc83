/* The agent's metrics: the process-wide registry set up from the telemetry
 * config, the gauges sampled once a second, and GET /v1/agent/metrics.
 *
 * Metric names (all under telemetry.metrics_prefix, "consul" by default).
 * Consul's own names:
 *   raft.state.leader|follower|candidate     counters, on role changes (server)
 *   raft.leader.lastContact                  sample (ms), per follower, on the leader
 *   raft.applied_index, raft.last_index      gauges (Consul 1.12+ names)
 *   server.isLeader                          gauge 1/0 (Consul 1.9+)
 *   serf.member.join|left|failed|update      counters, per Serf member event
 *   runtime.alloc_bytes, runtime.sys_bytes   gauges: malloc's bytes in use and
 *                                            bytes taken from the OS (mallinfo2)
 *   http.<METHOD>.<route parts>              sample (ms) per request, e.g.
 *                                            http.GET.v1.kv._ (http.c)
 *   rpc.request                              counter, server RPCs answered
 *   rpc.request_error                        counter, undecodable RPC requests
 *   rpc.server.call                          sample (ms), labels method, errored
 *                                            (Consul 1.12+; no request_type etc.)
 *   kvs.apply                                sample (ms), KV writes on a server
 * Conclave's own (no Consul equivalent):
 *   raft.term, raft.commit_index             gauges
 *   serf.members.alive|leaving|left|failed   gauges, label network=lan|wan
 *   runtime.rss_bytes                        gauge, resident set (/proc/self/statm)
 * runtime.num_goroutines has no meaning here and is not emitted.
 */
#include <ctype.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "agent/agent_internal.h"
#include "log/log.h"
#include "metrics/metrics.h"

#define SAMPLE_MS 1000

/* Under AddressSanitizer malloc is its allocator, not glibc's: ask it. */
extern size_t __sanitizer_get_current_allocated_bytes(void) __attribute__((weak));
extern size_t __sanitizer_get_heap_size(void) __attribute__((weak));

static void sample_runtime(void)
{
	if (__sanitizer_get_current_allocated_bytes && __sanitizer_get_heap_size) {
		cc_metric_gauge("runtime.alloc_bytes",
		                (double)__sanitizer_get_current_allocated_bytes());
		cc_metric_gauge("runtime.sys_bytes", (double)__sanitizer_get_heap_size());
	} else {
		struct mallinfo2 mi = mallinfo2();
		cc_metric_gauge("runtime.alloc_bytes", (double)(mi.uordblks + mi.hblkhd));
		cc_metric_gauge("runtime.sys_bytes", (double)(mi.arena + mi.hblkhd));
	}
	FILE *f = fopen("/proc/self/statm", "r");
	if (!f)
		return;
	unsigned long size, resident;
	if (fscanf(f, "%lu %lu", &size, &resident) == 2)
		cc_metric_gauge("runtime.rss_bytes", (double)resident * (double)sysconf(_SC_PAGESIZE));
	fclose(f);
}

static void sample_pool(const struct gossip *g, const char *network)
{
	static const struct {
		enum swim_status st;
		const char *key;
	} states[] = {
		{ SWIM_ALIVE, "serf.members.alive" },
		{ SWIM_LEAVING, "serf.members.leaving" },
		{ SWIM_LEFT, "serf.members.left" },
		{ SWIM_FAILED, "serf.members.failed" },
	};
	struct cc_metrics_label l = { "network", network };
	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++)
		cc_metric_gauge_l(states[i].key, &l, 1, (double)gossip_count(g, states[i].st));
}

static void sample(struct cc_agent *a)
{
	sample_runtime();
	if (a->lan)
		sample_pool(a->lan, "lan");
	if (a->wan)
		sample_pool(a->wan, "wan");
	if (!a->server)
		return;
	uint64_t term, commit, applied, last;
	const char *state;
	cc_server_stats(a->server, &term, &commit, &applied, &last, &state);
	cc_metric_gauge("raft.term", (double)term);
	cc_metric_gauge("raft.commit_index", (double)commit);
	cc_metric_gauge("raft.applied_index", (double)applied);
	cc_metric_gauge("raft.last_index", (double)last);
	cc_metric_gauge("server.isLeader", cc_server_is_leader(a->server) ? 1 : 0);
	cc_server_metrics_sample(a->server);
}

static void on_sample_timer(uv_timer_t *t)
{
	sample(t->data);
}

int agent_metrics_start(struct cc_agent *a, char *err, size_t errlen)
{
	const struct cc_telemetry *t = &a->cfg->telemetry;
	/* go-metrics' EnableHostname: Consul turns it off when the in-memory sink
	 * is the only one, so only a Prometheus setup gets the host in gauges */
	char host[256] = "";
	if (t->prometheus_retention_ms > 0 && !t->disable_hostname &&
	    gethostname(host, sizeof(host) - 1) != 0)
		host[0] = '\0';
	struct cc_metrics_options o = { .prefix = t->metrics_prefix,
		                        .gauge_host = host[0] ? host : NULL,
		                        .interval_ms = 10000,
		                        .retain = 6,
		                        .prometheus_retention_ms = t->prometheus_retention_ms };
	if (cc_metrics_global_init(&o)) {
		snprintf(err, errlen, "metrics: out of memory");
		return -1;
	}
	uv_timer_init(&a->loop, &a->metrics_timer);
	a->metrics_timer.data = a;
	uv_timer_start(&a->metrics_timer, on_sample_timer, SAMPLE_MS, SAMPLE_MS);
	a->have_metrics_timer = true;
	return 0;
}

void agent_metrics_stop(struct cc_agent *a)
{
	if (!a->have_metrics_timer)
		return;
	a->have_metrics_timer = false;
	uv_timer_stop(&a->metrics_timer);
	uv_close((uv_handle_t *)&a->metrics_timer, NULL);
}

/* Consul's acceptsOpenMetricsMimeType: an Accept header naming
 * application/openmetrics-text, or text/plain with a version parameter. */
static bool wants_prometheus(const char *accept)
{
	while (accept && *accept) {
		size_t n = strcspn(accept, ",");
		char item[128];
		snprintf(item, sizeof(item), "%.*s", (int)(n < sizeof(item) ? n : sizeof(item) - 1),
		         accept);
		char *p = item;
		while (*p == ' ')
			p++;
		size_t mlen = strcspn(p, "; ");
		if (mlen == 28 && strncasecmp(p, "application/openmetrics-text", 28) == 0)
			return true;
		if (mlen == 10 && strncasecmp(p, "text/plain", 10) == 0 && strstr(p, "version="))
			return true;
		accept += n + (accept[n] == ',');
	}
	return false;
}

/* GET /v1/agent/metrics[?format=prometheus] */
void agent_h_metrics(void *ud, const struct cc_http_req *req, struct cc_http_resp *resp)
{
	struct cc_metrics *m = cc_metrics_global();
	if (!m) {
		cc_http_error(resp, 500, "metrics are not set up");
		return;
	}
	const char *format = cc_http_query(req, "format");
	if ((format && strcmp(format, "prometheus") == 0) ||
	    wants_prometheus(cc_http_req_header(req, "Accept"))) {
		if (!cc_metrics_prometheus_enabled(m)) {
			cc_http_error(resp, 415,
			              "Prometheus is not enabled since its retention time is not positive");
			return;
		}
		size_t len = 0;
		char *text = cc_metrics_prometheus(m, cc_metrics_wall_ms(), &len);
		if (!text) {
			cc_http_error(resp, 500, "out of memory");
			return;
		}
		resp->body = text;
		resp->body_len = len;
		resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
		return;
	}
	cJSON *j = cc_metrics_summary(m, cc_metrics_wall_ms());
	if (!j) {
		cc_http_error(resp, 500, "out of memory");
		return;
	}
	cc_http_json(req, resp, j);
	cJSON_Delete(j);
}
