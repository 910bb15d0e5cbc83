/* report: report.json -> report.html. The hand-written fixture
 * (tests/data/report/small.json) and a generated run with 20000 operations
 * are turned into pages whose content is checked: verdict, assertions, one
 * lane per node, leader periods, faults, escaping, errors naming the missing
 * field, and the size of a large report. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "report.h"

static char dir[] = "/tmp/cc-report-XXXXXX";
static char html_path[600];

static int setup(void **state)
{
	(void)state;
	if (!mkdtemp(dir))
		return -1;
	snprintf(html_path, sizeof(html_path), "%s/report.html", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[700];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s", path);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	rewind(f);
	char *s = malloc((size_t)n + 1);
	assert_non_null(s);
	assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
	s[n] = '\0';
	fclose(f);
	if (len)
		*len = (size_t)n;
	return s;
}

static cJSON *fixture(void)
{
	char *s = slurp(TEST_DATA_DIR "/report/small.json", NULL);
	cJSON *j = cJSON_Parse(s);
	free(s);
	assert_non_null(j);
	return j;
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

#define assert_has(hay, needle)                                                       \
	do {                                                                          \
		if (!strstr((hay), (needle)))                                         \
			fail_msg("page lacks %s", (needle));                          \
	} while (0)

/* Writes the page for j and returns its text (free it). */
static char *render(const cJSON *j, size_t *len)
{
	char err[256];
	int rc = report_write_html(j, html_path, err, sizeof(err));
	if (rc)
		fail_msg("report_write_html: %d %s", rc, err);
	return slurp(html_path, len);
}

static void test_small(void **state)
{
	(void)state;
	cJSON *j = fixture();
	char *h = render(j, NULL);
	assert_true(strncmp(h, "<!DOCTYPE html>", 15) == 0);
	assert_has(h, "</html>");
	/* header */
	assert_has(h, "Chaos run: leader-kill");
	assert_has(h, "class=\"verdict pass\">PASS</span>");
	assert_has(h, "<td>dc1-3</td><td>42</td><td>2026-11-26T18:30:00.123Z</td><td>61.2 s</td>");
	/* assertions */
	assert_int_equal(count(h, "<tr class=\"assertion\">"), 4);
	assert_has(h, "<tr class=\"assertion\"><td>leader_within</td><td>2s</td><td class=\"ok\">PASS"
	              "</td><td>new leader node2 after 212 ms</td></tr>");
	/* one lane per node, process states, leader periods with their term */
	assert_int_equal(count(h, "<g class=\"lane\""), 3);
	assert_has(h, "<g class=\"lane\" data-node=\"node1\">");
	assert_has(h, "<g class=\"lane\" data-node=\"node3\">");
	assert_has(h, "class=\"state-down\"");
	assert_has(h, "class=\"state-paused\"");
	assert_int_equal(count(h, "<g class=\"leader\"><rect"), 2);
	assert_has(h, "<title>node2 leader, term 3, 5.212 s \xE2\x80\x93 61.234 s</title>");
	assert_has(h, "t3</text>");
	assert_int_equal(count(h, "<path class=\"term\""), 6);
	/* faults: kill and pause on one lane each, the partition across all lanes, the
	 * open-ended delay until the end of the run */
	assert_int_equal(count(h, "<g class=\"fault\">"), 4);
	assert_has(h, "<title>kill node1, 5.000 s \xE2\x80\x93 8.000 s</title>");
	assert_has(h, "<title>delay node2 200ms, 45.000 s \xE2\x80\x93 61.234 s</title>");
	assert_has(h, "<td class=\"n\">end of run</td>");
	assert_int_equal(count(h, "<g class=\"step\">"), 7);
	/* operations drawn one by one, with a latency plot; stats */
	assert_null(strstr(h, "id=\"aggregated\""));
	assert_has(h, "346 operations from 6 client processes");
	assert_has(h, "<svg id=\"latency-svg\"");
	assert_has(h, "latency (ms");
	assert_true(count(h, "<circle class=\"o0\"") > 300);
	assert_has(h, "<tr><th>leader_changes</th><td class=\"n\">1</td></tr>");
	assert_has(h, "<tr><th>check_ms</th><td class=\"n\">12.500</td></tr>");
	/* nothing external, no scripts */
	assert_null(strstr(h, "<script"));
	assert_null(strstr(h, "src="));
	assert_null(strstr(h, "href="));
	free(h);

	/* a failed run */
	cJSON_ReplaceItemInObjectCaseSensitive(j, "verdict", cJSON_CreateFalse());
	cJSON_ReplaceItemInObjectCaseSensitive(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "assertions"), 0),
	                                       "ok", cJSON_CreateFalse());
	h = render(j, NULL);
	assert_has(h, "class=\"verdict fail\">FAIL</span>");
	assert_has(h, "<td>leader_within</td><td>2s</td><td class=\"bad\">FAIL</td>");
	free(h);
	cJSON_Delete(j);
}

/* Renames node3 everywhere it appears as a node. */
static void rename_node(cJSON *j, const char *from, const char *to)
{
	const char *arrays[] = { "nodes", "process", "leader", "terms", "operations" };
	for (size_t a = 0; a < sizeof(arrays) / sizeof(arrays[0]); a++) {
		cJSON *e;
		cJSON_ArrayForEach(e, cJSON_GetObjectItem(j, arrays[a])) {
			const char *key = a == 0 ? "name" : "node";
			cJSON *n = cJSON_GetObjectItem(e, key);
			if (cJSON_IsString(n) && strcmp(n->valuestring, from) == 0)
				cJSON_ReplaceItemInObjectCaseSensitive(e, key, cJSON_CreateString(to));
		}
	}
}

static void test_escaping(void **state)
{
	(void)state;
	cJSON *j = fixture();
	rename_node(j, "node3", "n<&\">3");
	cJSON_ReplaceItemInObjectCaseSensitive(j, "scenario", cJSON_CreateString("<script>alert(1)</script>"));
	cJSON_ReplaceItemInObjectCaseSensitive(j, "topology", cJSON_CreateString("t'x\x01y"));
	cJSON *step = cJSON_CreateObject();
	cJSON_AddNumberToObject(step, "at_ms", 1000);
	cJSON_AddStringToObject(step, "text", "</text></svg><b>boom</b>");
	cJSON_AddItemToArray(cJSON_GetObjectItem(j, "steps"), step);
	char *h = render(j, NULL);
	assert_has(h, "<g class=\"lane\" data-node=\"n&lt;&amp;&quot;&gt;3\">");
	assert_int_equal(count(h, "<g class=\"lane\""), 3);
	assert_null(strstr(h, "n<&\">3"));
	assert_null(strstr(h, "<script"));
	assert_has(h, "&lt;script&gt;alert(1)&lt;/script&gt;");
	assert_has(h, "<td>t&#39;xy</td>");
	assert_null(strstr(h, "<b>boom"));
	assert_has(h, "&lt;/text&gt;&lt;/svg&gt;&lt;b&gt;boom&lt;/b&gt;");
	/* the renamed node keeps its lane entries: its pause, its term markers */
	assert_has(h, "<title>n&lt;&amp;&quot;&gt;3 paused, 20.000 s");
	assert_int_equal(count(h, "<path class=\"term\""), 6);
	free(h);
	cJSON_Delete(j);
}

static void expect_error(cJSON *j, const char *field)
{
	char err[256] = "", want[80];
	assert_int_equal(report_write_html(j, html_path, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "\"%s\"", field);
	if (!strstr(err, want))
		fail_msg("error \"%s\" does not name %s", err, want);
}

static void test_missing_fields(void **state)
{
	(void)state;
	const char *required[] = { "scenario", "topology", "seed", "started", "duration_ms", "verdict",
	                           "nodes" };
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		cJSON *j = fixture();
		cJSON_DeleteItemFromObjectCaseSensitive(j, required[i]);
		expect_error(j, required[i]);
		cJSON_Delete(j);
	}
	struct { const char *array; int idx; const char *key; const char *field; } inner[] = {
		{ "nodes", 1, "name", "nodes[1].name" },
		{ "process", 2, "from_ms", "process[2].from_ms" },
		{ "leader", 0, "node", "leader[0].node" },
		{ "terms", 3, "term", "terms[3].term" },
		{ "faults", 2, "kind", "faults[2].kind" },
		{ "steps", 0, "at_ms", "steps[0].at_ms" },
		{ "operations", 7, "invoke_ms", "operations[7].invoke_ms" },
		{ "assertions", 1, "ok", "assertions[1].ok" },
	};
	for (size_t i = 0; i < sizeof(inner) / sizeof(inner[0]); i++) {
		cJSON *j = fixture();
		cJSON *e = cJSON_GetArrayItem(cJSON_GetObjectItem(j, inner[i].array), inner[i].idx);
		assert_non_null(e);
		cJSON_DeleteItemFromObjectCaseSensitive(e, inner[i].key);
		expect_error(j, inner[i].field);
		cJSON_Delete(j);
	}
	/* wrong types and values */
	cJSON *j = fixture();
	cJSON_ReplaceItemInObjectCaseSensitive(j, "verdict", cJSON_CreateString("yes"));
	expect_error(j, "verdict");
	cJSON_Delete(j);
	j = fixture();
	cJSON_ReplaceItemInObjectCaseSensitive(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "process"), 0),
	                                       "state", cJSON_CreateString("zombie"));
	expect_error(j, "process[0].state");
	cJSON_Delete(j);
	j = fixture();
	cJSON_ReplaceItemInObjectCaseSensitive(j, "faults", cJSON_CreateObject());
	expect_error(j, "faults");
	cJSON_Delete(j);
	j = fixture();
	cJSON_ReplaceItemInObjectCaseSensitive(j, "nodes", cJSON_CreateArray());
	expect_error(j, "nodes");
	cJSON_Delete(j);
	/* the optional arrays may be missing (or null) */
	j = fixture();
	const char *optional[] = { "file", "process", "leader", "terms", "faults", "steps", "assertions",
	                           "stats" };
	for (size_t i = 0; i < sizeof(optional) / sizeof(optional[0]); i++)
		cJSON_DeleteItemFromObjectCaseSensitive(j, optional[i]);
	cJSON_ReplaceItemInObjectCaseSensitive(j, "operations", cJSON_CreateNull());
	char *h = render(j, NULL);
	assert_has(h, "class=\"verdict pass\">PASS");
	assert_int_equal(count(h, "<g class=\"lane\""), 3);
	assert_has(h, "No client operations were recorded.");
	assert_has(h, "The scenario has no assertions.");
	free(h);
	cJSON_Delete(j);
}

/* A long run with 20000 operations from 10 clients, 1% failed, some unknown. */
static cJSON *large(void)
{
	cJSON *j = fixture();
	const double dur = 600000;
	cJSON_ReplaceItemInObjectCaseSensitive(j, "duration_ms", cJSON_CreateNumber(dur));
	cJSON *ops = cJSON_CreateArray();
	uint32_t x = 12345;
	for (int i = 0; i < 20000; i++) {
		x = x * 1103515245u + 12345u;
		cJSON *o = cJSON_CreateObject();
		double at = i * (dur / 20000.0);
		double lat = 1 + (x >> 16) % 50 + (i % 997 == 0 ? 900 : 0);
		const char *res = i % 100 == 7 ? "fail" : i % 500 == 3 ? "info" : "ok";
		cJSON_AddNumberToObject(o, "process", i % 10);
		cJSON_AddStringToObject(o, "node", i % 2 ? "node2" : "node3");
		cJSON_AddStringToObject(o, "f", i % 3 ? "write" : "read");
		cJSON_AddStringToObject(o, "key", "k1");
		cJSON_AddStringToObject(o, "value", "3");
		cJSON_AddStringToObject(o, "result", res);
		cJSON_AddNumberToObject(o, "invoke_ms", at);
		if (strcmp(res, "info") != 0)
			cJSON_AddNumberToObject(o, "complete_ms", at + lat);
		cJSON_AddItemToArray(ops, o);
	}
	cJSON_ReplaceItemInObjectCaseSensitive(j, "operations", ops);
	return j;
}

static void test_large(void **state)
{
	(void)state;
	cJSON *j = large();
	struct timespec t0, t1;
	size_t len;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	char *h = render(j, &len);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
	print_message("20000 operations: %zu bytes in %.1f ms\n", len, ms);
	assert_has(h, "id=\"aggregated\"");
	assert_has(h, "20000 operations from 10 client processes: 19760 ok, 200 fail, 40 info.");
	assert_has(h, "aggregated into 1000 ms buckets");
	assert_has(h, "</html>");
	assert_true(len < 1024 * 1024);
	assert_true(count(h, "<circle") < 3000);
	assert_true(count(h, "<rect") < 6000);
	free(h);
	cJSON_Delete(j);
}

static void test_files_and_cli(void **state)
{
	(void)state;
	char err[256], json[640], out[640];
	/* a run directory with report.json */
	snprintf(json, sizeof(json), "%s/report.json", dir);
	cJSON *j = fixture();
	char *s = cJSON_Print(j);
	FILE *f = fopen(json, "w");
	assert_non_null(f);
	fputs(s, f);
	fclose(f);
	free(s);
	cJSON_Delete(j);
	unlink(html_path);
	assert_int_equal(cmd_report(1, (char *[]){ dir, NULL }), 0);
	assert_int_equal(access(html_path, R_OK), 0);
	snprintf(out, sizeof(out), "%s/other.html", dir);
	assert_int_equal(cmd_report(3, (char *[]){ json, "-o", out, NULL }), 0);
	assert_int_equal(access(out, R_OK), 0);
	assert_int_equal(cmd_report(0, (char *[]){ NULL }), 2);
	assert_int_equal(cmd_report(2, (char *[]){ json, "--bogus", NULL }), 2);
	/* errors */
	snprintf(json, sizeof(json), "%s/missing.json", dir);
	assert_int_equal(report_html_from_file(json, out, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "missing.json"));
	assert_int_equal(cmd_report(1, (char *[]){ json, NULL }), 1);
	snprintf(json, sizeof(json), "%s/bad.json", dir);
	f = fopen(json, "w");
	assert_non_null(f);
	fputs("{\n\"scenario\": \"x\",\n\"seed\": ]\n}\n", f);
	fclose(f);
	assert_int_equal(report_html_from_file(json, out, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "line 3"));
	snprintf(out, sizeof(out), "%s/no/such/dir/x.html", dir);
	assert_true(report_html_from_file(TEST_DATA_DIR "/report/small.json", out, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "no/such/dir"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_small),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_missing_fields),
		cmocka_unit_test(test_large),
		cmocka_unit_test(test_files_and_cli),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
