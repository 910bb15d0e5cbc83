/* The metrics registry: go-metrics' interval rollover and statistics, the
 * JSON summary's shape, Go's float formatting, Prometheus text and names. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "metrics/metrics.h"

/* 2020-12-14 15:55:10 UTC, the seed's day, on a 10 s boundary */
#define T0 1607961310000ull

static struct cc_metrics *new_reg(uint64_t prom_ms, const char *host)
{
	struct cc_metrics_options o = { .prometheus_retention_ms = prom_ms, .gauge_host = host };
	struct cc_metrics *m = cc_metrics_new(&o);
	assert_non_null(m);
	return m;
}

static const cJSON *find(const cJSON *root, const char *section, const char *name)
{
	const cJSON *e;
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(root, section))
	{
		if (strcmp(cJSON_GetObjectItemCaseSensitive(e, "Name")->valuestring, name) == 0)
			return e;
	}
	return NULL;
}

static double num(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	assert_non_null(v);
	if (cJSON_IsRaw(v))
		return strtod(v->valuestring, NULL);
	assert_true(cJSON_IsNumber(v));
	return v->valuedouble;
}

static void test_shape_and_stats(void **state)
{
	struct cc_metrics *m = new_reg(0, NULL);
	cc_metrics_set_gauge(m, T0 + 100, "runtime.alloc_bytes", NULL, 0, 4704344);
	cc_metrics_set_gauge(m, T0 + 200, "runtime.alloc_bytes", NULL, 0, 5000000);
	cc_metrics_incr_counter(m, T0 + 300, "raft.state.leader", NULL, 0, 1);
	double vals[4] = { 2, 4, 4, 6 };
	for (int i = 0; i < 4; i++)
		cc_metrics_add_sample(m, T0 + 400, "http.GET.v1.kv._", NULL, 0, vals[i]);

	cJSON *j = cc_metrics_summary(m, T0 + 500); /* only interval: the current one */
	assert_non_null(j);
	char *text = cJSON_PrintUnformatted(j);
	/* the field set and order of go-metrics' MetricsSummary */
	assert_string_equal(text,
	                    "{\"Timestamp\":\"2020-12-14 15:55:10 +0000 UTC\","
	                    "\"Gauges\":[{\"Name\":\"consul.runtime.alloc_bytes\",\"Value\":5000000,"
	                    "\"Labels\":{}}],\"Points\":[],"
	                    "\"Counters\":[{\"Name\":\"consul.raft.state.leader\",\"Count\":1,"
	                    "\"Rate\":0.1,\"Sum\":1,\"Min\":1,\"Max\":1,\"Mean\":1,\"Stddev\":0,"
	                    "\"Labels\":{}}],"
	                    "\"Samples\":[{\"Name\":\"consul.http.GET.v1.kv._\",\"Count\":4,"
	                    "\"Rate\":1.6,\"Sum\":16,\"Min\":2,\"Max\":6,\"Mean\":4,"
	                    "\"Stddev\":1.632993161855452,\"Labels\":{}}]}");
	free(text);
	cJSON_Delete(j);
	cc_metrics_free(m);
}

static void test_rollover(void **state)
{
	struct cc_metrics *m = new_reg(0, NULL);
	cc_metrics_incr_counter(m, T0 + 1000, "serf.member.join", NULL, 0, 1);
	cc_metrics_incr_counter(m, T0 + 9999, "serf.member.join", NULL, 0, 1);
	/* the next interval: the summary shows the finished one */
	cc_metrics_incr_counter(m, T0 + 10000, "serf.member.join", NULL, 0, 5);
	cJSON *j = cc_metrics_summary(m, T0 + 12000);
	assert_string_equal(cJSON_GetObjectItem(j, "Timestamp")->valuestring,
	                    "2020-12-14 15:55:10 +0000 UTC");
	const cJSON *c = find(j, "Counters", "consul.serf.member.join");
	assert_non_null(c);
	assert_int_equal((int)num(c, "Count"), 2);
	assert_true(num(c, "Sum") == 2);
	cJSON_Delete(j);

	/* a read in a later, quiet window: the previous interval (with the 5) */
	j = cc_metrics_summary(m, T0 + 21000);
	assert_string_equal(cJSON_GetObjectItem(j, "Timestamp")->valuestring,
	                    "2020-12-14 15:55:20 +0000 UTC");
	c = find(j, "Counters", "consul.serf.member.join");
	assert_non_null(c);
	assert_true(num(c, "Sum") == 5);
	cJSON_Delete(j);

	/* and one more: that interval had nothing */
	j = cc_metrics_summary(m, T0 + 31000);
	assert_null(find(j, "Counters", "consul.serf.member.join"));
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "Counters")), 0);
	cJSON_Delete(j);

	/* many intervals later the ring has wrapped; still sane */
	for (int i = 0; i < 20; i++)
		cc_metrics_set_gauge(m, T0 + 40000 + (uint64_t)i * 10000, "g", NULL, 0, i);
	j = cc_metrics_summary(m, T0 + 40000 + 19 * 10000 + 1);
	assert_true(num(find(j, "Gauges", "consul.g"), "Value") == 18);
	cJSON_Delete(j);
	cc_metrics_free(m);
}

static void test_labels_sorting_host(void **state)
{
	struct cc_metrics *m = new_reg(60000, "node1");
	struct cc_metrics_label lan = { "network", "lan" }, wan = { "network", "wan" };
	cc_metrics_set_gauge(m, T0, "serf.members.alive", &wan, 1, 1);
	cc_metrics_set_gauge(m, T0, "serf.members.alive", &lan, 1, 2);
	cc_metrics_set_gauge(m, T0, "raft.term", NULL, 0, 7);
	cc_metrics_incr_counter(m, T0, "rpc.request", NULL, 0, 1); /* no host on counters */
	cJSON *j = cc_metrics_summary(m, T0 + 1);
	const cJSON *g = cJSON_GetObjectItem(j, "Gauges");
	assert_int_equal(cJSON_GetArraySize(g), 3);
	assert_string_equal(cJSON_GetArrayItem(g, 0)->child->valuestring, "consul.node1.raft.term");
	const cJSON *g1 = cJSON_GetArrayItem(g, 1), *g2 = cJSON_GetArrayItem(g, 2);
	assert_string_equal(cJSON_GetObjectItem(g1, "Name")->valuestring,
	                    "consul.node1.serf.members.alive");
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(g1, "Labels"), "network")
	                        ->valuestring, "lan");
	assert_true(num(g1, "Value") == 2);
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(g2, "Labels"), "network")
	                        ->valuestring, "wan");
	assert_non_null(find(j, "Counters", "consul.rpc.request"));
	cJSON_Delete(j);
	cc_metrics_free(m);
}

static void expect_float(double v, int bits, bool json, const char *want)
{
	char buf[64];
	cc_metrics_format_float(buf, sizeof(buf), v, bits, json);
	assert_string_equal(buf, want);
}

static void test_go_floats(void **state)
{
	/* strconv.FormatFloat(v, 'g', -1, 64), as the Prometheus text has them */
	expect_float(4704344, 64, false, "4.704344e+06");
	expect_float(123456, 64, false, "123456");
	expect_float(0.1, 64, false, "0.1");
	expect_float(0.00001, 64, false, "1e-05");
	expect_float(0.0001, 64, false, "0.0001");
	expect_float(1, 64, false, "1");
	expect_float(NAN, 64, false, "NaN");
	expect_float(INFINITY, 64, false, "+Inf");
	/* encoding/json: 'f' unless tiny or huge, float32 fields as float32 */
	expect_float(4704344, 32, true, "4704344");
	expect_float((double)(float)0.1, 32, true, "0.1");
	expect_float((double)(float)0.1, 64, true, "0.10000000149011612");
	expect_float(1e-7, 64, true, "1e-7");
	expect_float(1e21, 64, true, "1e+21");
	expect_float(123456789, 64, true, "123456789");
}

static void test_prom_names(void **state)
{
	char buf[128];
	cc_metrics_prom_name(buf, sizeof(buf), "consul.http.GET.v1.kv._");
	assert_string_equal(buf, "consul_http_GET_v1_kv__");
	cc_metrics_prom_name(buf, sizeof(buf), "consul.my-host.runtime.alloc bytes/x=y");
	assert_string_equal(buf, "consul_my_host_runtime_alloc_bytes_x_y");
	cc_metrics_prom_name(buf, sizeof(buf), "9lives");
	assert_string_equal(buf, "_9lives");
	assert_int_equal(cc_metrics_prom_name(buf, 4, "abcdef"), 6);
	assert_string_equal(buf, "abc");
}

/* Every non-comment line: name{labels} value, name in the allowed set. */
static void check_exposition_lines(const char *text)
{
	const char *p = text;
	while (*p) {
		const char *nl = strchr(p, '\n');
		assert_non_null(nl);
		if (*p != '#') {
			size_t n = strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			                     "0123456789_:");
			assert_true(n > 0);
			const char *sp = memchr(p, ' ', (size_t)(nl - p));
			assert_non_null(sp);
			assert_true(p[n] == ' ' || p[n] == '{');
			char *end;
			strtod(sp + 1, &end);
			assert_ptr_equal(end, nl);
		}
		p = nl + 1;
	}
}

static void test_prometheus_text(void **state)
{
	struct cc_metrics *m = new_reg(60000, NULL);
	struct cc_metrics_label meth = { "method", "KVS.Apply" };
	cc_metrics_incr_counter(m, T0, "rpc.request", NULL, 0, 1);
	cc_metrics_incr_counter(m, T0 + 11000, "rpc.request", NULL, 0, 2); /* cumulative */
	cc_metrics_set_gauge(m, T0 + 11000, "raft.term", NULL, 0, 3);
	for (int i = 1; i <= 10; i++)
		cc_metrics_add_sample(m, T0 + 11000, "rpc.server.call", &meth, 1, i);
	cc_metrics_add_sample(m, T0, "raft.leader.lastContact", NULL, 0, 5); /* old */
	cc_metrics_incr_counter(m, T0, "serf.member.\"odd\"", NULL, 0, 1);
	size_t len = 0;
	char *t = cc_metrics_prometheus(m, T0 + 12000, &len);
	assert_non_null(t);
	assert_int_equal(strlen(t), len);
	assert_non_null(strstr(t, "# HELP consul_raft_term consul_raft_term\n"
	                          "# TYPE consul_raft_term gauge\nconsul_raft_term 3\n"));
	assert_non_null(strstr(t, "# TYPE consul_rpc_request counter\nconsul_rpc_request 3\n"));
	assert_non_null(strstr(t, "# TYPE consul_rpc_server_call summary\n"
	                          "consul_rpc_server_call{method=\"KVS.Apply\",quantile=\"0.5\"} 5\n"
	                          "consul_rpc_server_call{method=\"KVS.Apply\",quantile=\"0.9\"} 9\n"
	                          "consul_rpc_server_call{method=\"KVS.Apply\",quantile=\"0.99\"} 10\n"
	                          "consul_rpc_server_call_sum{method=\"KVS.Apply\"} 55\n"
	                          "consul_rpc_server_call_count{method=\"KVS.Apply\"} 10\n"));
	/* older than 10 s: no quantiles, but the totals stay */
	assert_non_null(strstr(t, "consul_raft_leader_lastContact{quantile=\"0.5\"} NaN\n"));
	assert_non_null(strstr(t, "consul_raft_leader_lastContact_count 1\n"));
	assert_non_null(strstr(t, "consul_serf_member__odd_ 1\n"));
	/* families sorted by name */
	assert_true(strstr(t, "consul_raft_leader") < strstr(t, "consul_raft_term"));
	assert_true(strstr(t, "consul_raft_term") < strstr(t, "consul_rpc_request"));
	check_exposition_lines(t);
	free(t);

	/* past the retention time every series is dropped */
	t = cc_metrics_prometheus(m, T0 + 11000 + 60001, &len);
	assert_non_null(t);
	assert_int_equal(len, 0);
	free(t);
	cc_metrics_free(m);

	/* not enabled: empty, nothing kept */
	m = new_reg(0, NULL);
	cc_metrics_set_gauge(m, T0, "raft.term", NULL, 0, 3);
	assert_false(cc_metrics_prometheus_enabled(m));
	t = cc_metrics_prometheus(m, T0, &len);
	assert_non_null(t);
	assert_int_equal(len, 0);
	free(t);
	cc_metrics_free(m);
}

static void test_label_escaping_and_cap(void **state)
{
	struct cc_metrics *m = new_reg(60000, NULL);
	struct cc_metrics_label l = { "path-x", "a\"b\\c\nd" };
	cc_metrics_set_gauge(m, T0, "x", &l, 1, 1);
	size_t len;
	char *t = cc_metrics_prometheus(m, T0, &len);
	assert_non_null(strstr(t, "consul_x{path_x=\"a\\\"b\\\\c\\nd\"} 1\n"));
	free(t);
	/* the series cap: writes to new series beyond it are dropped, not grown */
	char key[32];
	for (int i = 0; i < CC_METRICS_MAX_SERIES + 10; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		cc_metrics_incr_counter(m, T0, key, NULL, 0, 1);
	}
	cJSON *j = cc_metrics_summary(m, T0);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "Counters")) +
	                     cJSON_GetArraySize(cJSON_GetObjectItem(j, "Gauges")),
	                 CC_METRICS_MAX_SERIES);
	cJSON_Delete(j);
	cc_metrics_free(m);
}

static void test_global(void **state)
{
	cc_metric_incr("ignored", 1); /* no registry yet: a no-op */
	struct cc_metrics_options o = { .prefix = "conclave" };
	assert_int_equal(cc_metrics_global_init(&o), 0);
	uint64_t start = cc_metrics_mono_ns();
	cc_metric_since("kvs.apply", start);
	cc_metric_incr("rpc.request", 1);
	cJSON *j = cc_metrics_summary(cc_metrics_global(), cc_metrics_wall_ms());
	assert_non_null(find(j, "Samples", "conclave.kvs.apply"));
	assert_non_null(find(j, "Counters", "conclave.rpc.request"));
	cJSON_Delete(j);
	cc_metrics_global_free();
	assert_null(cc_metrics_global());
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shape_and_stats),
		cmocka_unit_test(test_rollover),
		cmocka_unit_test(test_labels_sorting_host),
		cmocka_unit_test(test_go_floats),
		cmocka_unit_test(test_prom_names),
		cmocka_unit_test(test_prometheus_text),
		cmocka_unit_test(test_label_escaping_and_cap),
		cmocka_unit_test(test_global),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
