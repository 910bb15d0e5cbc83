/* The plan a topology turns into, checked without root: names, interface
 * indexes, node configs in the seed's shape, daemon command lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "plan.h"

static struct topology *load(const char *file)
{
	char path[512], err[TOPO_ERR_MAX];
	struct topology *t;
	snprintf(path, sizeof(path), "%s/%s", TEST_TOPOLOGY_DIR, file);
	if (topology_load_file(path, &t, err, sizeof(err)))
		fail_msg("%s", err);
	return t;
}

static void test_dc1_plan(void **state)
{
	struct topology *t = load("dc1.yaml");
	struct plan p;
	char err[256];
	assert_int_equal(plan_build(t, &p, err, sizeof(err)), 0);
	assert_string_equal(p.fabric_ns, "dc1-fabric");
	assert_string_equal(p.node_ns[0], "dc1-node2_201");
	assert_string_equal(p.node_ns[1], "dc1-node3_211");
	assert_int_equal(p.nbridges, 1);
	assert_string_equal(p.bridges[0].name, "br-lan");
	assert_int_equal(p.bridges[0].ifindex, 2);
	assert_int_equal(p.nveths, 2);
	assert_string_equal(p.veths[0].fabric_if, "node2_201");
	assert_int_equal(p.veths[0].fabric_ifindex, 3);
	assert_int_equal(p.veths[0].master_ifindex, 2);
	assert_string_equal(p.veths[0].node_if, "eth0");
	assert_int_equal(p.veths[0].node_ifindex, 2);
	assert_string_equal(p.veths[1].fabric_if, "node3_211");
	assert_int_equal(p.veths[1].fabric_ifindex, 4);
	size_t idx[4];
	assert_int_equal(plan_node_veths(&p, 1, idx, 4), 1);
	assert_int_equal(idx[0], 1);
	plan_free(&p);
	topology_free(t);
}

/* The node config is the seed's file with the node's own values. */
static void test_dc1_node_config(void **state)
{
	struct topology *t = load("dc1.yaml");
	char *json = plan_node_config(t, &t->nodes[0], "/run/x/nodes/node2_201/data");
	assert_non_null(json);
	cJSON *c = cJSON_Parse(json);
	const char *want[] = { "bootstrap_expect", "datacenter", "data_dir", "log_level", "server",
		               "node_name", "ui", "bind_addr", "client_addr", "advertise_addr",
		               "enable_script_checks", "retry_join", "retry_interval", "ports" };
	size_t i = 0;
	for (cJSON *k = c->child; k; k = k->next, i++) {
		assert_true(i < sizeof(want) / sizeof(want[0]));
		assert_string_equal(k->string, want[i]);
	}
	assert_int_equal(i, sizeof(want) / sizeof(want[0]));
	assert_int_equal(cJSON_GetObjectItem(c, "bootstrap_expect")->valuedouble, 2);
	assert_string_equal(cJSON_GetObjectItem(c, "node_name")->valuestring, "node2_201");
	assert_string_equal(cJSON_GetObjectItem(c, "bind_addr")->valuestring, "51.6.196.201");
	assert_string_equal(cJSON_GetObjectItem(c, "client_addr")->valuestring, "51.6.196.201");
	assert_string_equal(cJSON_GetObjectItem(c, "advertise_addr")->valuestring, "51.6.196.201");
	assert_string_equal(cJSON_GetObjectItem(c, "data_dir")->valuestring,
	                    "/run/x/nodes/node2_201/data");
	assert_string_equal(cJSON_GetObjectItem(c, "retry_interval")->valuestring, "5s");
	cJSON *rj = cJSON_GetObjectItem(c, "retry_join");
	assert_int_equal(cJSON_GetArraySize(rj), 2);
	assert_string_equal(cJSON_GetArrayItem(rj, 1)->valuestring, "51.6.196.211");
	assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(c, "ports"), "serf_wan")->valuedouble,
	                 8302);
	cJSON_Delete(c);
	free(json);
	char **argv = plan_node_argv(t, &t->nodes[1], "/r/config.json", "/r/data");
	assert_string_equal(argv[0], "conclave");
	assert_string_equal(argv[1], "agent");
	assert_string_equal(argv[2], "-config-file=/r/config.json");
	assert_null(argv[3]);
	plan_argv_free(argv);
	assert_int_equal(plan_node_http_port(&t->nodes[0]), 8500);
	topology_free(t);
}

static struct topology *load_text(const char *text)
{
	char err[TOPO_ERR_MAX];
	struct topology *t;
	if (topology_load_buffer("t.yaml", text, strlen(text), &t, err, sizeof(err)))
		fail_msg("%s", err);
	return t;
}

static void test_kinds_argv(void **state)
{
	struct topology *t = load_text(
		"name: k\n"
		"networks: [ {name: a, subnet: 10.1.0.0/24}, {name: b, subnet: 10.2.0.0/24} ]\n"
		"nodes:\n"
		"  - {name: c1, kind: command, addresses: {a: 10.1.0.5},\n"
		"     command: [run, '--at=${address}', '${name}.cfg', '${data_dir}']}\n"
		"  - {name: s1, kind: serf, addresses: {a: 10.1.0.6}, config: {retry_join: [10.1.0.7]}}\n"
		"  - {name: e1, kind: etcd, addresses: {a: 10.1.0.8, b: 10.2.0.8}}\n"
		"  - {name: e2, kind: etcd, addresses: {a: 10.1.0.9}}\n");
	char **a = plan_node_argv(t, &t->nodes[0], "/c", "/d");
	assert_string_equal(a[0], "run");
	assert_string_equal(a[1], "--at=10.1.0.5");
	assert_string_equal(a[2], "c1.cfg");
	assert_string_equal(a[3], "/d");
	plan_argv_free(a);
	a = plan_node_argv(t, &t->nodes[1], "/c", "/d");
	assert_string_equal(a[0], "serf");
	assert_string_equal(a[3], "-bind=10.1.0.6:7946");
	assert_string_equal(a[5], "-retry-join=10.1.0.7:7946");
	plan_argv_free(a);
	a = plan_node_argv(t, &t->nodes[2], "/c", "/d");
	assert_string_equal(a[0], "etcd");
	int found = 0;
	for (int i = 0; a[i]; i++)
		found |= strcmp(a[i], "--initial-cluster=e1=http://10.1.0.8:2380,e2=http://10.1.0.9:2380") == 0;
	assert_true(found);
	plan_argv_free(a);
	assert_int_equal(plan_node_http_port(&t->nodes[2]), 2379);
	assert_int_equal(plan_node_http_port(&t->nodes[0]), -1);

	/* Two networks: two bridges, the node's two ends carry an index suffix. */
	struct plan p;
	char err[256];
	assert_int_equal(plan_build(t, &p, err, sizeof(err)), 0);
	assert_int_equal(p.nbridges, 2);
	assert_int_equal(p.nveths, 5);
	assert_string_equal(p.veths[2].fabric_if, "e1.0");
	assert_string_equal(p.veths[3].fabric_if, "e1.1");
	assert_string_equal(p.veths[3].node_if, "eth1");
	assert_int_equal(p.veths[3].node_ifindex, 3);
	assert_int_equal(p.veths[3].master_ifindex, p.bridges[1].ifindex);
	plan_free(&p);
	topology_free(t);
}

static void test_scale_50_plan(void **state)
{
	struct topology *t = load("scale-50.yaml");
	struct plan p;
	char err[256];
	assert_int_equal(plan_build(t, &p, err, sizeof(err)), 0);
	assert_int_equal(t->nnodes, 50);
	assert_int_equal(p.nveths, 50);
	/* every fabric interface index is distinct and above the bridge's */
	for (size_t i = 0; i < p.nveths; i++)
		assert_int_equal(p.veths[i].fabric_ifindex, 3 + (int)i);
	plan_free(&p);
	topology_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dc1_plan),
		cmocka_unit_test(test_dc1_node_config),
		cmocka_unit_test(test_kinds_argv),
		cmocka_unit_test(test_scale_50_plan),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
