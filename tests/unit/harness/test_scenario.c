/* Chaos scenario files: the shipped ones load (and their topologies and node
 * names exist), and bad files give "FILE:LINE: key: reason" errors. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "scenario.h"
#include "topology.h"

static struct scenario *load(const char *text)
{
	char err[SCN_ERR_MAX];
	struct scenario *s;
	if (scenario_load_buf(text, strlen(text), "dir/t.yaml", &s, err, sizeof(err)))
		fail_msg("%s", err);
	return s;
}

static bool has_node(void *ud, const char *name)
{
	const struct topology *t = ud;
	for (size_t m = 0; m < t->nnodes; m++)
		if (strcmp(t->nodes[m].name, name) == 0)
			return true;
	return false;
}

static void test_shipped_scenarios_load(void **state)
{
	DIR *d = opendir(TEST_SCENARIO_DIR);
	assert_non_null(d);
	struct dirent *e;
	size_t n = 0;
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);
		if (l < 6 || strcmp(e->d_name + l - 5, ".yaml"))
			continue;
		char path[1024], err[SCN_ERR_MAX];
		snprintf(path, sizeof(path), "%s/%s", TEST_SCENARIO_DIR, e->d_name);
		struct scenario *s;
		if (scenario_load_file(path, &s, err, sizeof(err)))
			fail_msg("%s", err);
		struct topology *t;
		if (topology_load_file(s->topology, &t, err, sizeof(err)))
			fail_msg("%s: topology: %s", path, err);
		if (scenario_check_nodes(s, has_node, t, t->name, err, sizeof(err)))
			fail_msg("%s", err);
		assert_true(s->nsteps > 0);
		topology_free(t);
		scenario_free(s);
		n++;
	}
	closedir(d);
	assert_true(n >= 10);
}

static void test_full_format(void **state)
{
	struct scenario *s = load(
		"name: demo\n"
		"description: all the steps\n"
		"topology: ../topologies/dc1-3.yaml\n"
		"seed: 7\n"
		"workload: {clients: 3, keys: 2, rate: 20, mix: {read: 20, write: 70, cas: 10},\n"
		"           reads: stale, timeout: 1500ms, nodes: [node1, node2]}\n"
		"steps:\n"
		"  - wait: 1.5s\n"
		"  - kill: leader\n"
		"  - leader_within: 2s\n"
		"  - start: down\n"
		"  - partition: [[node1], [node2, node3]]\n"
		"  - partition: {isolate: follower}\n"
		"  - partition: majorities-ring\n"
		"  - block: {from: node1, to: node2}\n"
		"  - heal\n"
		"  - loss: {nodes: all, percent: 20, to: node3}\n"
		"  - delay: {nodes: [node1], ms: 50ms, jitter: 20ms}\n"
		"  - rate: {nodes: node2, rate: 1mbit}\n"
		"  - clear: all\n"
		"  - no_leader: {for: 5s, grace: 1s}\n"
		"  - repeat: {times: 2, steps: [{pause: random}, {wait: 1s}, {resume: all}]}\n"
		"  - random: {faults: [kill, partition], every: 2s, for: 10s, seed: 3}\n"
		"  - members_converged_within: 1m\n"
		"assertions: [single_leader, no_acked_write_lost, {linearizable: false}]\n");
	assert_string_equal(s->name, "demo");
	assert_string_equal(s->topology, "dir/../topologies/dc1-3.yaml");
	assert_int_equal(s->seed, 7);
	assert_true(s->workload.enabled);
	assert_int_equal(s->workload.clients, 3);
	assert_int_equal(s->workload.cas_pct, 10);
	assert_int_equal(s->workload.reads, SCN_READ_STALE);
	assert_int_equal(s->workload.timeout_ms, 1500);
	assert_int_equal(s->workload.nodes.n, 2);
	assert_int_equal(s->nsteps, 17);
	assert_int_equal(s->steps[0].kind, SCN_WAIT);
	assert_int_equal(s->steps[0].ms, 1500);
	assert_int_equal(s->steps[0].line, 8);
	assert_int_equal(s->steps[1].kind, SCN_PROCESS);
	assert_string_equal(s->steps[1].verb, "kill");
	assert_int_equal(s->steps[1].target.kind, SCN_T_LEADER);
	assert_int_equal(s->steps[2].kind, SCN_LEADER_WITHIN);
	assert_int_equal(s->steps[3].target.kind, SCN_T_DOWN);
	assert_int_equal(s->steps[4].shape, SCN_SHAPE_GROUPS);
	assert_int_equal(s->steps[4].ngroups, 2);
	assert_string_equal(s->steps[4].groups[1].names[1], "node3");
	assert_int_equal(s->steps[5].shape, SCN_SHAPE_ISOLATE);
	assert_int_equal(s->steps[5].target.kind, SCN_T_FOLLOWER);
	assert_int_equal(s->steps[6].shape, SCN_SHAPE_MAJORITIES_RING);
	assert_string_equal(s->steps[7].to, "node2");
	assert_int_equal(s->steps[8].kind, SCN_HEAL);
	assert_int_equal(s->steps[9].percent, 20);
	assert_string_equal(s->steps[9].peer.names[0], "node3");
	assert_int_equal(s->steps[10].delay_ms, 50);
	assert_int_equal(s->steps[10].jitter_ms, 20);
	assert_int_equal(s->steps[11].rate_bps, 1000000);
	assert_int_equal(s->steps[12].kind, SCN_CLEAR);
	assert_int_equal(s->steps[13].grace_ms, 1000);
	assert_int_equal(s->steps[14].times, 2);
	assert_int_equal(s->steps[14].nsteps, 3);
	assert_int_equal(s->steps[15].faults, SCN_RF_KILL | SCN_RF_PARTITION);
	assert_int_equal(s->steps[15].every_ms, 2000);
	assert_int_equal(s->steps[16].ms, 60000);
	assert_true(s->assert.single_leader);
	assert_int_equal(s->assert.linearizable, -1);
	scenario_free(s);
}

/* A step naming a node the topology lacks is found, with its line. */
static void test_unknown_node(void **state)
{
	struct scenario *s = load("name: x\ntopology: t.yaml\nsteps:\n  - wait: 1s\n"
	                          "  - repeat: {times: 2, steps: [{block: {from: node1, to: nodeX}}]}\n");
	char err[SCN_ERR_MAX];
	struct topology *t;
	char path[1024];
	snprintf(path, sizeof(path), "%s/../topologies/dc1-3.yaml", TEST_SCENARIO_DIR);
	if (topology_load_file(path, &t, err, sizeof(err)))
		fail_msg("%s", err);
	assert_int_equal(scenario_check_nodes(s, has_node, t, t->name, err, sizeof(err)), -1);
	assert_string_equal(err, "dir/t.yaml:5: block: no node \"nodeX\" in topology dc1-3");
	topology_free(t);
	scenario_free(s);
}

static void test_values(void **state)
{
	uint64_t v;
	assert_int_equal(scenario_parse_duration("250ms", &v), 0);
	assert_int_equal(v, 250);
	assert_int_equal(scenario_parse_duration("2m", &v), 0);
	assert_int_equal(v, 120000);
	assert_int_equal(scenario_parse_duration("2", &v), -1);
	assert_int_equal(scenario_parse_duration("-1s", &v), -1);
	assert_int_equal(scenario_parse_duration("s", &v), -1);
	assert_int_equal(scenario_parse_rate("500kbit", &v), 0);
	assert_int_equal(v, 500000);
	assert_int_equal(scenario_parse_rate("2mbps", &v), 0);
	assert_int_equal(v, 16000000);
	assert_int_equal(scenario_parse_rate("1bit", &v), -1);
	assert_int_equal(scenario_parse_rate("fast", &v), -1);
}

/* Each bad file: the error names the file, the line and what is wrong. */
static void test_bad_files(void **state)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
		{ "", "dir/t.yaml: the file is empty" },
		{ "name: x\nsteps: [wait: 1s]\n", "dir/t.yaml:1: scenario: missing \"topology\"" },
		{ "name: x\ntopology: t.yaml\n", "dir/t.yaml:1: scenario: missing \"steps\"" },
		{ "name: x\ntopology: t.yaml\nstep: []\n", "dir/t.yaml:3: scenario: unknown key \"step\"" },
		{ "name: x\ntopology: t.yaml\nsteps:\n  - wait: 2\n",
		  "dir/t.yaml:4: wait: expected a duration such as 500ms, 2s or 1m, got \"2\"" },
		{ "name: x\ntopology: t.yaml\nsteps:\n  - explode: leader\n",
		  "dir/t.yaml:4: step: unknown step \"explode\"" },
		{ "name: x\ntopology: t.yaml\nsteps:\n  - kill: [node1, {a: b}]\n",
		  "dir/t.yaml:4: kill: expected a node name" },
		{ "name: x\ntopology: t.yaml\nsteps:\n  - kill: leader\n    wait: 1s\n",
		  "dir/t.yaml:4: step: a step is a mapping with exactly one key" },
		{ "name: x\ntopology: t.yaml\nsteps:\n  - loss: {nodes: all, percent: 120}\n",
		  "dir/t.yaml:4: percent: expected a whole number from 1 to 100, got \"120\"" },
		{ "name: x\ntopology: t.yaml\nsteps:\n  - loss: {nodes: all}\n",
		  "dir/t.yaml:4: loss: missing \"percent\"" },
		{ "name: x\ntopology: t.yaml\nsteps:\n  - delay: {nodes: all, ms: 10ms, jitter: 20ms}\n",
		  "jitter at most ms" },
		{ "name: x\ntopology: t.yaml\nsteps:\n  - partition: [[node1]]\n",
		  "dir/t.yaml:4: partition: at least two groups are needed" },
		{ "name: x\ntopology: t.yaml\nsteps:\n  - partition: thirds\n",
		  "dir/t.yaml:4: partition: expected a list of groups" },
		{ "name: x\ntopology: t.yaml\nsteps:\n  - random: {faults: [meteor], for: 10s}\n",
		  "dir/t.yaml:4: random.faults: \"meteor\" is not one of" },
		{ "name: x\ntopology: t.yaml\nsteps:\n  - random: {faults: [kill], every: 10s, for: 5s}\n",
		  "for at least every" },
		{ "name: x\ntopology: t.yaml\nsteps:\n  - no_leader: {for: 2s, grace: 3s}\n",
		  "grace must be shorter than for" },
		{ "name: x\ntopology: t.yaml\nworkload: {mix: {read: 50, write: 40}}\nsteps: [heal]\n",
		  "dir/t.yaml:3: workload.mix: read + write + cas must be 100 (they are 90)" },
		{ "name: x\ntopology: t.yaml\nworkload: {reads: fast}\nsteps: [heal]\n",
		  "workload.reads: expected consistent, default or stale" },
		{ "name: x\ntopology: t.yaml\nsteps: [heal]\nassertions: [linearizable]\n",
		  "need a workload" },
		{ "name: x\ntopology: t.yaml\nsteps: [heal]\nassertions: [always_fine]\n",
		  "dir/t.yaml:4: assertions: unknown assertion \"always_fine\"" },
		{ "name: x\ntopology: t.yaml\nsteps: [heal]\nname: y\n", "key \"name\" appears twice" },
		{ "name: x\ntopology: t.yaml\nsteps: [\n", "dir/t.yaml:4:" },
		{ "name: x\ntopology: t.yaml\nsteps:\n  - rate: {nodes: all, rate: 1bit}\n",
		  "rate: expected a rate such as 1mbit" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[SCN_ERR_MAX] = "";
		struct scenario *s = NULL;
		int rc = scenario_load_buf(cases[i].text, strlen(cases[i].text), "dir/t.yaml", &s, err,
		                           sizeof(err));
		if (rc == 0 || !strstr(err, cases[i].want))
			fail_msg("case %zu: rc %d, error \"%s\", wanted \"%s\"", i, rc, err, cases[i].want);
		assert_null(s);
	}
}

/* Deep repeats are refused, not recursed into without end. */
static void test_nesting_bounded(void **state)
{
	char text[4096] = "name: x\ntopology: t.yaml\nsteps: [";
	char *p = text + strlen(text);
	for (int i = 0; i < 12; i++)
		p += sprintf(p, "{repeat: {times: 1, steps: [");
	p += sprintf(p, "heal");
	for (int i = 0; i < 12; i++)
		p += sprintf(p, "]}}");
	p += sprintf(p, "]\n");
	char err[SCN_ERR_MAX];
	struct scenario *s;
	assert_int_equal(scenario_load_buf(text, strlen(text), "n.yaml", &s, err, sizeof(err)), -1);
	if (!strstr(err, "nested more than"))
		fail_msg("%s", err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shipped_scenarios_load),
		cmocka_unit_test(test_full_format),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_unknown_node),
		cmocka_unit_test(test_bad_files),
		cmocka_unit_test(test_nesting_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
