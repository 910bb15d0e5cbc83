/* Topology loader: the shipped topologies, YAML scalar typing, the deep merge
 * of defaults.config, commands and kinds, and a table of bad topologies that
 * must each be refused with their own message and place. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "topology.h"

#ifndef TEST_TOPOLOGY_DIR
#error "TEST_TOPOLOGY_DIR must name the topologies/ directory"
#endif

static struct topology *load_file(const char *name)
{
	char path[512], err[TOPO_ERR_MAX] = "";
	struct topology *t = NULL;
	snprintf(path, sizeof(path), "%s/%s", TEST_TOPOLOGY_DIR, name);
	if (topology_load_file(path, &t, err, sizeof(err)))
		fail_msg("%s: %s", name, err);
	assert_non_null(t);
	return t;
}

static struct topology *load_text(const char *text)
{
	char err[TOPO_ERR_MAX] = "";
	struct topology *t = NULL;
	if (topology_load_buffer("good.yaml", text, strlen(text), &t, err, sizeof(err)))
		fail_msg("unexpected error: %s", err);
	assert_non_null(t);
	return t;
}

static const cJSON *get(const cJSON *obj, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(obj, key);
}

static void assert_number(const cJSON *obj, const char *key, double want)
{
	const cJSON *v = get(obj, key);
	if (!cJSON_IsNumber(v))
		fail_msg("\"%s\" is not a number", key);
	assert_true(v->valuedouble == want);
}

static void assert_string(const cJSON *obj, const char *key, const char *want)
{
	const cJSON *v = get(obj, key);
	if (!cJSON_IsString(v))
		fail_msg("\"%s\" is not a string", key);
	assert_string_equal(v->valuestring, want);
}

static void assert_bool(const cJSON *obj, const char *key, int want)
{
	const cJSON *v = get(obj, key);
	if (!cJSON_IsBool(v))
		fail_msg("\"%s\" is not a boolean", key);
	assert_int_equal(cJSON_IsTrue(v), want);
}

/* retry_join is exactly these addresses, as strings */
static void assert_retry_join(const cJSON *cfg, const char *const *want, int n)
{
	const cJSON *rj = get(cfg, "retry_join");
	assert_true(cJSON_IsArray(rj));
	assert_int_equal(cJSON_GetArraySize(rj), n);
	for (int i = 0; i < n; i++) {
		const cJSON *v = cJSON_GetArrayItem(rj, i);
		assert_true(cJSON_IsString(v));
		assert_string_equal(v->valuestring, want[i]);
	}
}

static void assert_ports(const cJSON *cfg)
{
	const cJSON *ports = get(cfg, "ports");
	assert_true(cJSON_IsObject(ports));
	assert_int_equal(cJSON_GetArraySize(ports), 5);
	assert_number(ports, "http", 8500);
	assert_number(ports, "dns", 8600);
	assert_number(ports, "server", 8300);
	assert_number(ports, "serf_lan", 8301);
	assert_number(ports, "serf_wan", 8302);
}

static void assert_node(const struct topology *t, const char *name, const char *addr)
{
	char buf[16];
	const struct topo_node *n = topology_node(t, name);
	if (!n)
		fail_msg("no node \"%s\"", name);
	assert_int_equal(n->kind, TOPO_KIND_CONCLAVE);
	assert_int_equal(n->nifaces, 1);
	assert_int_equal(n->ifaces[0].network, 0);
	assert_string_equal(n->ifaces[0].ifname, "eth0");
	assert_string_equal(topo_ip_str(n->ifaces[0].addr, buf), addr);
	assert_null(n->command);
	assert_int_equal(n->ncommand, 0);
	assert_true(cJSON_IsObject(n->config));
}

/* The seed's keys, shared by every shipped topology. */
static void assert_seed_keys(const cJSON *cfg)
{
	assert_string(cfg, "datacenter", "dc1");
	assert_string(cfg, "log_level", "INFO");
	assert_bool(cfg, "ui", 1);
	assert_bool(cfg, "enable_script_checks", 1);
	assert_string(cfg, "retry_interval", "5s");
	assert_ports(cfg);
	/* the harness fills these in per node */
	assert_null(get(cfg, "node_name"));
	assert_null(get(cfg, "bind_addr"));
	assert_null(get(cfg, "client_addr"));
	assert_null(get(cfg, "advertise_addr"));
	assert_null(get(cfg, "data_dir"));
}

static void assert_lan(const struct topology *t)
{
	char buf[16];
	assert_int_equal(t->nnetworks, 1);
	assert_string_equal(t->networks[0].name, "lan");
	assert_string_equal(t->networks[0].bridge, "br-lan");
	assert_string_equal(topo_ip_str(t->networks[0].subnet, buf), "51.6.196.0");
	assert_int_equal(t->networks[0].prefix, 24);
}

static void test_dc1(void **state)
{
	static const char *const join[] = { "51.6.196.201", "51.6.196.211" };
	struct topology *t = load_file("dc1.yaml");
	assert_string_equal(t->name, "dc1");
	assert_non_null(strstr(t->path, "dc1.yaml"));
	assert_lan(t);
	assert_int_equal(t->nnodes, 2);
	assert_string_equal(t->nodes[0].name, "node2_201");
	assert_string_equal(t->nodes[1].name, "node3_211");
	assert_node(t, "node2_201", "51.6.196.201");
	assert_node(t, "node3_211", "51.6.196.211");
	assert_true(t->nodes[0].line > 1 && t->nodes[1].line > t->nodes[0].line);
	for (size_t i = 0; i < t->nnodes; i++) {
		const cJSON *cfg = t->nodes[i].config;
		/* exactly the seed's keys but the per-node ones */
		assert_int_equal(cJSON_GetArraySize(cfg), 9);
		assert_number(cfg, "bootstrap_expect", 2);
		assert_bool(cfg, "server", 1);
		assert_retry_join(cfg, join, 2);
		assert_seed_keys(cfg);
	}
	/* every node has its own copy */
	assert_ptr_not_equal(t->nodes[0].config, t->nodes[1].config);
	topology_free(t);
}

static void test_dc1_3(void **state)
{
	static const char *const join[] = { "51.6.196.201", "51.6.196.211", "51.6.196.221" };
	struct topology *t = load_file("dc1-3.yaml");
	assert_string_equal(t->name, "dc1-3");
	assert_lan(t);
	assert_int_equal(t->nnodes, 3);
	assert_node(t, "node1", "51.6.196.201");
	assert_node(t, "node2", "51.6.196.211");
	assert_node(t, "node3", "51.6.196.221");
	for (size_t i = 0; i < t->nnodes; i++) {
		const cJSON *cfg = t->nodes[i].config;
		assert_number(cfg, "bootstrap_expect", 3);
		assert_bool(cfg, "server", 1);
		assert_retry_join(cfg, join, 3);
		assert_seed_keys(cfg);
	}
	topology_free(t);
}

static void test_dc1_5(void **state)
{
	static const char *const join[] = { "51.6.196.201", "51.6.196.211", "51.6.196.221",
		                            "51.6.196.231", "51.6.196.241" };
	static const char *const servers[] = { "node1", "node2", "node3", "node4", "node5" };
	struct topology *t = load_file("dc1-5.yaml");
	assert_string_equal(t->name, "dc1-5");
	assert_lan(t);
	assert_int_equal(t->nnodes, 7);
	for (int i = 0; i < 5; i++) {
		char addr[16];
		snprintf(addr, sizeof(addr), "51.6.196.%d", 201 + 10 * i);
		assert_node(t, servers[i], addr);
		const cJSON *cfg = topology_node(t, servers[i])->config;
		assert_bool(cfg, "server", 1);
		assert_number(cfg, "bootstrap_expect", 5);
		assert_retry_join(cfg, join, 5);
		assert_seed_keys(cfg);
	}
	assert_node(t, "client1", "51.6.196.101");
	assert_node(t, "client2", "51.6.196.102");
	for (int i = 0; i < 2; i++) {
		const cJSON *cfg = topology_node(t, i ? "client2" : "client1")->config;
		assert_bool(cfg, "server", 0);
		assert_null(get(cfg, "bootstrap_expect"));
		assert_retry_join(cfg, join, 5);
		assert_seed_keys(cfg);
	}
	topology_free(t);
}

static void test_scale_50(void **state)
{
	static const char *const join[] = { "51.6.196.10", "51.6.196.11", "51.6.196.12" };
	struct topology *t = load_file("scale-50.yaml");
	assert_string_equal(t->name, "scale-50");
	assert_lan(t);
	assert_int_equal(t->nnodes, 50);
	int servers = 0;
	for (size_t i = 0; i < t->nnodes; i++) {
		const struct topo_node *n = &t->nodes[i];
		char addr[16];
		snprintf(addr, sizeof(addr), "51.6.196.%zu", 10 + i);
		assert_node(t, n->name, addr);
		const cJSON *cfg = n->config;
		assert_retry_join(cfg, join, 3);
		assert_seed_keys(cfg);
		if (cJSON_IsTrue(get(cfg, "server"))) {
			servers++;
			assert_number(cfg, "bootstrap_expect", 3);
			assert_int_equal(strncmp(n->name, "server", 6), 0);
		} else {
			assert_bool(cfg, "server", 0);
			assert_null(get(cfg, "bootstrap_expect"));
			assert_int_equal(strncmp(n->name, "client", 6), 0);
		}
	}
	assert_int_equal(servers, 3);
	topology_free(t);
}

/* Each node of every shipped topology, with what the harness adds, is a config
 * `conclave validate` accepts. Skipped outside CTest (no CONCLAVE_BIN). */
static void test_shipped_configs_validate(void **state)
{
	static const char *const files[] = { "dc1.yaml", "dc1-3.yaml", "dc1-5.yaml",
		                             "scale-50.yaml" };
	const char *bin = getenv("CONCLAVE_BIN");
	if (!bin || access(bin, X_OK) != 0)
		skip();
	char dir[] = "/tmp/cc-topology-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[128];
	snprintf(path, sizeof(path), "%s/node.json", dir);
	for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
		struct topology *t = load_file(files[f]);
		for (size_t i = 0; i < t->nnodes; i++) {
			char addr[16], cmd[512], out[2048];
			cJSON *cfg = cJSON_Duplicate(t->nodes[i].config, 1);
			topo_ip_str(t->nodes[i].ifaces[0].addr, addr);
			cJSON_AddStringToObject(cfg, "node_name", t->nodes[i].name);
			cJSON_AddStringToObject(cfg, "bind_addr", addr);
			cJSON_AddStringToObject(cfg, "client_addr", addr);
			cJSON_AddStringToObject(cfg, "advertise_addr", addr);
			cJSON_AddStringToObject(cfg, "data_dir", dir);
			char *json = cJSON_Print(cfg);
			FILE *fp = fopen(path, "w");
			assert_non_null(fp);
			fputs(json, fp);
			fclose(fp);
			cJSON_free(json);
			cJSON_Delete(cfg);
			snprintf(cmd, sizeof(cmd), "'%s' validate '%s' 2>&1", bin, path);
			FILE *p = popen(cmd, "r");
			assert_non_null(p);
			size_t n = fread(out, 1, sizeof(out) - 1, p);
			out[n] = '\0';
			int st = pclose(p);
			if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
				fail_msg("%s: node %s: conclave validate said:\n%s", files[f],
				         t->nodes[i].name, out);
		}
		topology_free(t);
	}
	unlink(path);
	rmdir(dir);
}

#define NET1 "networks:\n  - { name: lan, subnet: 51.6.196.0/24 }\n"

static void test_deep_merge(void **state)
{
	struct topology *t = load_text("name: merge\n" NET1
	                               "defaults:\n"
	                               "  config:\n"
	                               "    keep: 1\n"
	                               "    obj: { a: 1, b: { x: 1, y: 2 }, c: [1, 2] }\n"
	                               "    list: [1, 2, 3]\n"
	                               "    scalar: s\n"
	                               "    gone: x\n"
	                               "nodes:\n"
	                               "  - name: plain\n"
	                               "    addresses: { lan: 51.6.196.1 }\n"
	                               "  - name: merged\n"
	                               "    addresses: { lan: 51.6.196.2 }\n"
	                               "    config:\n"
	                               "      obj: { b: { y: 20, z: 30 }, c: [9], d: new }\n"
	                               "      list: [4]\n"
	                               "      scalar: { now: object }\n"
	                               "      gone: null\n"
	                               "      added: true\n");
	const cJSON *p = topology_node(t, "plain")->config;
	const cJSON *m = topology_node(t, "merged")->config;

	/* a node without config gets defaults.config as it is */
	char *a = cJSON_PrintUnformatted(p);
	assert_string_equal(a, "{\"keep\":1,\"obj\":{\"a\":1,\"b\":{\"x\":1,\"y\":2},\"c\":[1,2]},"
	                       "\"list\":[1,2,3],\"scalar\":\"s\",\"gone\":\"x\"}");
	cJSON_free(a);

	/* objects merge key by key at every depth; arrays and scalars replace; null
	 * replaces too (a merge cannot remove a key); new keys come last */
	a = cJSON_PrintUnformatted(m);
	assert_string_equal(a, "{\"keep\":1,\"obj\":{\"a\":1,\"b\":{\"x\":1,\"y\":20,\"z\":30},"
	                       "\"c\":[9],\"d\":\"new\"},\"list\":[4],\"scalar\":{\"now\":\"object\"},"
	                       "\"gone\":null,\"added\":true}");
	cJSON_free(a);
	topology_free(t);

	/* no defaults: the node's own config; neither: an empty object */
	t = load_text("name: merge2\n" NET1 "nodes:\n"
	              "  - { name: a, addresses: { lan: 51.6.196.1 }, config: { server: false } }\n"
	              "  - { name: b, addresses: { lan: 51.6.196.2 } }\n");
	a = cJSON_PrintUnformatted(t->nodes[0].config);
	assert_string_equal(a, "{\"server\":false}");
	cJSON_free(a);
	assert_true(cJSON_IsObject(t->nodes[1].config));
	assert_null(t->nodes[1].config->child);
	topology_free(t);
}

static void test_scalar_types(void **state)
{
	struct topology *t = load_text("name: scalars\n" NET1 "nodes:\n"
	                               "  - name: a\n"
	                               "    addresses: { lan: 51.6.196.1 }\n"
	                               "    config:\n"
	                               "      n1: null\n"
	                               "      n2: Null\n"
	                               "      n3: NULL\n"
	                               "      n4: ~\n"
	                               "      n5:\n"
	                               "      t1: true\n"
	                               "      t2: True\n"
	                               "      t3: TRUE\n"
	                               "      f1: false\n"
	                               "      f2: FALSE\n"
	                               "      i1: 8500\n"
	                               "      i2: -3\n"
	                               "      i3: +12\n"
	                               "      i4: 0x1F\n"
	                               "      i5: 0o17\n"
	                               "      i6: 9007199254740992\n"
	                               "      d1: 1.5\n"
	                               "      d2: -.5\n"
	                               "      d3: 1e3\n"
	                               "      d4: 2.5E-1\n"
	                               "      d5: 1.\n"
	                               "      s1: 5s\n"
	                               "      s2: 51.6.196.201\n"
	                               "      s3: \"true\"\n"
	                               "      s4: '8500'\n"
	                               "      s5: yes\n"
	                               "      s6: off\n"
	                               "      s7: 1_000\n"
	                               "      s8: 0b101\n"
	                               "      s9: nulls\n"
	                               "      s10: \"\"\n"
	                               "      s11: |\n"
	                               "        two\n"
	                               "        lines\n"
	                               "      s12: \"tab\\there\"\n"
	                               "      s13: 012\n"
	                               "      s14: 1.2.3\n"
	                               "      s15: -0x5\n"
	                               "      s16: .\n"
	                               "      tag1: !!str 5\n"
	                               "      tag2: ! true\n"
	                               "      tag3: !!int \"7\"\n"
	                               "      tag4: !!float 5\n"
	                               "      tag5: !!bool \"false\"\n"
	                               "      tag6: !!null \"\"\n"
	                               "      tag7: !!str\n"
	                               "      anchor: &a { x: 1 }\n"
	                               "      alias: *a\n"
	                               "      8500: numeric key\n"
	                               "      nested: [1, [two, 3.0], { k: ~ }]\n");
	const cJSON *c = t->nodes[0].config;
	static const char *const nulls[] = { "n1", "n2", "n3", "n4", "n5", "tag6" };
	for (size_t i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++)
		if (!cJSON_IsNull(get(c, nulls[i])))
			fail_msg("\"%s\" is not null", nulls[i]);
	assert_bool(c, "t1", 1);
	assert_bool(c, "t2", 1);
	assert_bool(c, "t3", 1);
	assert_bool(c, "f1", 0);
	assert_bool(c, "f2", 0);
	assert_bool(c, "tag5", 0);
	assert_number(c, "i1", 8500);
	assert_number(c, "i2", -3);
	assert_number(c, "i3", 12);
	assert_number(c, "i4", 31);
	assert_number(c, "i5", 15);
	assert_number(c, "i6", 9007199254740992.0);
	assert_number(c, "d1", 1.5);
	assert_number(c, "d2", -0.5);
	assert_number(c, "d3", 1000);
	assert_number(c, "d4", 0.25);
	assert_number(c, "d5", 1);
	assert_number(c, "tag3", 7);
	assert_number(c, "tag4", 5);
	assert_string(c, "s1", "5s");
	assert_string(c, "s2", "51.6.196.201");
	assert_string(c, "s3", "true");
	assert_string(c, "s4", "8500");
	assert_string(c, "s5", "yes"); /* YAML 1.1 booleans are strings in 1.2 */
	assert_string(c, "s6", "off");
	assert_string(c, "s7", "1_000");
	assert_string(c, "s8", "0b101");
	assert_string(c, "s9", "nulls");
	assert_string(c, "s10", "");
	assert_string(c, "s11", "two\nlines\n");
	assert_string(c, "s12", "tab\there");
	assert_number(c, "s13", 12); /* core schema: decimal, not octal */
	assert_string(c, "s14", "1.2.3");
	assert_string(c, "s15", "-0x5");
	assert_string(c, "s16", ".");
	assert_string(c, "tag1", "5");
	assert_string(c, "tag2", "true");
	assert_string(c, "tag7", "");
	assert_number(get(c, "anchor"), "x", 1);
	assert_number(get(c, "alias"), "x", 1);
	assert_string(c, "8500", "numeric key");
	char *a = cJSON_PrintUnformatted(get(c, "nested"));
	assert_string_equal(a, "[1,[\"two\",3],{\"k\":null}]");
	cJSON_free(a);
	topology_free(t);
}

/* Strings of the format itself (names, subnets, addresses, kinds, argv words)
 * may be written plain whatever they look like: `command: [sleep, 10]`. */
static void test_kinds_and_commands(void **state)
{
	struct topology *t = load_text("name: kinds\n" NET1
	                               "defaults:\n"
	                               "  kind: serf\n"
	                               "  command: [sleep, infinity]\n"
	                               "nodes:\n"
	                               "  - { name: s, addresses: { lan: 51.6.196.1 } }\n"
	                               "  - { name: e, kind: etcd, addresses: { lan: 51.6.196.2 } }\n"
	                               "  - { name: c, kind: conclave,\n"
	                               "      addresses: { lan: 51.6.196.3 } }\n"
	                               "  - { name: d, kind: command,\n"
	                               "      addresses: { lan: 51.6.196.4 } }\n"
	                               "  - name: own\n"
	                               "    kind: command\n"
	                               "    command: [sh, -c, 'echo \"$0\"', 10, true, ~x]\n"
	                               "    addresses: { lan: 51.6.196.5 }\n"
	                               "  - { name: '2024', kind: command, command: [true],\n"
	                               "      addresses: { lan: 51.6.196.6 } }\n");
	assert_int_equal(topology_node(t, "s")->kind, TOPO_KIND_SERF);
	assert_null(topology_node(t, "s")->command);
	assert_int_equal(topology_node(t, "e")->kind, TOPO_KIND_ETCD);
	assert_int_equal(topology_node(t, "c")->kind, TOPO_KIND_CONCLAVE);

	const struct topo_node *d = topology_node(t, "d");
	assert_int_equal(d->kind, TOPO_KIND_COMMAND);
	assert_int_equal(d->ncommand, 2);
	assert_string_equal(d->command[0], "sleep");
	assert_string_equal(d->command[1], "infinity");
	assert_null(d->command[2]); /* argv is NULL-terminated, ready for execvp */

	const struct topo_node *own = topology_node(t, "own");
	static const char *const want[] = { "sh", "-c", "echo \"$0\"", "10", "true", "~x" };
	assert_int_equal(own->ncommand, 6);
	for (size_t i = 0; i < 6; i++)
		assert_string_equal(own->command[i], want[i]);
	assert_null(own->command[6]);
	assert_string_equal(topology_node(t, "2024")->command[0], "true");
	assert_true(cJSON_IsObject(own->config));
	topology_free(t);
}

static void test_networks_and_ifaces(void **state)
{
	char buf[16];
	struct topology *t = load_text("name: Multi.net-1\n"
	                               "networks:\n"
	                               "  - name: lan\n"
	                               "    subnet: 10.1.0.0/16\n"
	                               "  - name: wan_0-abcdef\n"
	                               "    subnet: 10.2.3.4/30\n"
	                               "  - { name: 9, subnet: 192.168.0.0/16 }\n"
	                               "nodes:\n"
	                               "  - name: both\n"
	                               "    addresses:\n"
	                               "      wan_0-abcdef: 10.2.3.5\n"
	                               "      lan: 10.1.255.254\n"
	                               "  - { name: x, addresses: { lan: 10.1.0.1 } }\n");
	assert_string_equal(t->name, "Multi.net-1");
	assert_int_equal(t->nnetworks, 3);
	assert_string_equal(t->networks[1].bridge, "br-wan_0-abcdef");
	assert_int_equal(t->networks[1].prefix, 30);
	assert_string_equal(topo_ip_str(t->networks[1].subnet, buf), "10.2.3.4");
	assert_string_equal(t->networks[2].name, "9");
	const struct topo_node *n = topology_node(t, "both");
	assert_int_equal(n->nifaces, 2);
	/* file order gives eth0, eth1 */
	assert_string_equal(n->ifaces[0].ifname, "eth0");
	assert_int_equal(n->ifaces[0].network, 1);
	assert_string_equal(topo_ip_str(n->ifaces[0].addr, buf), "10.2.3.5");
	assert_string_equal(n->ifaces[1].ifname, "eth1");
	assert_int_equal(n->ifaces[1].network, 0);
	assert_true(n->ifaces[1].addr == 0x0A01FFFEu);
	assert_int_equal(n->line, 9);
	assert_int_equal(topology_node(t, "x")->line, 13);
	topology_free(t);
}

static void test_api(void **state)
{
	char buf[16];
	assert_string_equal(topo_ip_str(0, buf), "0.0.0.0");
	assert_string_equal(topo_ip_str(0xFFFFFFFFu, buf), "255.255.255.255");
	assert_string_equal(topo_ip_str(0x3306C4C9u, buf), "51.6.196.201");
	assert_string_equal(topo_kind_name(TOPO_KIND_CONCLAVE), "conclave");
	assert_string_equal(topo_kind_name(TOPO_KIND_SERF), "serf");
	assert_string_equal(topo_kind_name(TOPO_KIND_ETCD), "etcd");
	assert_string_equal(topo_kind_name(TOPO_KIND_COMMAND), "command");
	assert_string_equal(topo_kind_name((enum topo_kind)42), "unknown");
	topology_free(NULL);

	struct topology *t = load_file("dc1.yaml");
	assert_ptr_equal(topology_node(t, "node3_211"), &t->nodes[1]);
	assert_null(topology_node(t, "node3"));
	assert_null(topology_node(t, ""));
	assert_null(topology_node(NULL, "node3_211"));
	topology_free(t);

	/* a UTF-8 byte order mark is fine; so is a document end marker */
	const char *bom = "\xEF\xBB\xBFname: bom\n" NET1
	                  "nodes: [{ name: a, addresses: { lan: 51.6.196.1 } }]\n...\n";
	t = load_text(bom);
	assert_string_equal(t->name, "bom");
	topology_free(t);
}

static void test_file_errors(void **state)
{
	char err[TOPO_ERR_MAX];
	struct topology *t = (struct topology *)1;
	assert_int_equal(topology_load_file("/nonexistent/x.yaml", &t, err, sizeof(err)), -1);
	assert_null(t);
	assert_string_equal(err, "/nonexistent/x.yaml: cannot read topology file: No such file or "
	                         "directory");
	assert_int_equal(topology_load_file(TEST_TOPOLOGY_DIR, &t, err, sizeof(err)), -1);
	assert_non_null(strstr(err, ": cannot read topology file: it is a directory"));

	/* a short or missing message buffer is not a problem */
	char tiny[8];
	assert_int_equal(topology_load_buffer("bad.yaml", "x: [", 4, &t, tiny, sizeof(tiny)), -1);
	assert_string_equal(tiny, "bad.yam");
	assert_int_equal(topology_load_buffer("bad.yaml", "x: [", 4, &t, NULL, 0), -1);
	assert_int_equal(topology_load_buffer("bad.yaml", "x: 1", 4, &t, NULL, 0), -1);
	assert_null(t);
}

/* ---- bad topologies ---------------------------------------------------- */

/* Every case is a valid topology but for the part the case is about. Lines:
 * 1 name, 2 networks, 3 the network, 4 nodes, 5 the first node. */
#define NAME "name: t\n"
#define NETS NET1
#define HEAD NAME NETS
#define NODE_A "  - { name: a, addresses: { lan: 51.6.196.10 } }\n"
#define NODES(x) "nodes:\n" x
#define GOOD_NODES NODES(NODE_A)
#define WITH_NODE(x) HEAD NODES(x)

struct bad_case {
	const char *name;
	const char *text; /* NULL: generated by gen() */
	const char *want; /* substring of the error */
};

static const struct bad_case cases[] = {
	/* YAML itself: libyaml's diagnosis, at its place */
	{ "unclosed flow sequence", NAME "networks: [\n",
	  "bad.yaml:3:1: invalid YAML: did not find expected node content (while parsing a flow "
	  "node started at 3:1)" },
	{ "tab indentation", NAME "networks:\n\t- { name: lan }\n",
	  "bad.yaml:3:1: invalid YAML: found character that cannot start any token (while "
	  "scanning for the next token started at 3:1)" },
	{ "mapping value in a scalar", NAME "networks: lan: x\n",
	  "bad.yaml:2:14: invalid YAML: mapping values are not allowed in this context" },
	{ "bad indentation", "name: t\n  networks: []\n",
	  "bad.yaml:2:11: invalid YAML: mapping values are not allowed in this context" },
	{ "undefined alias", "name: *n\n",
	  "bad.yaml:1:7: invalid YAML: found undefined alias" },
	{ "invalid UTF-8", "name: caf\xe9\n",
	  "bad.yaml:1:10: invalid YAML: incomplete UTF-8 octet sequence" },
	{ "control character", "name: a\x01\n",
	  "bad.yaml:1:8: invalid YAML: control characters are not allowed (0x01)" },
	{ "empty file", "",
	  "bad.yaml: the file is empty: a topology needs name, networks and nodes" },
	{ "comments only", "# nothing\n\n", "bad.yaml: the file is empty" },
	{ "two documents", HEAD GOOD_NODES "---\nname: u\n",
	  "bad.yaml:7:1: a second YAML document: a topology file holds exactly one" },
	{ "huge file", NULL, "bad.yaml: the file is 4194404 bytes, more than the 4 MiB a topology "
	                     "file may have" },

	/* the top level */
	{ "top level is a sequence", "- name: t\n",
	  "bad.yaml:1:1: top level: expected a mapping with name, networks and nodes, got a sequence" },
	{ "top level is a scalar", "dc1\n",
	  "bad.yaml:1:1: top level: expected a mapping with name, networks and nodes, got a string "
	  "(\"dc1\")" },
	{ "unknown top-level key", HEAD "nodse: []\n",
	  "bad.yaml:4:1: top level: unknown key \"nodse\" (did you mean \"nodes\"?); allowed keys are "
	  "name, defaults, networks and nodes" },
	{ "unknown key without a near one", HEAD GOOD_NODES "version: 2\n",
	  "bad.yaml:6:1: top level: unknown key \"version\"; allowed keys are name, defaults, "
	  "networks and nodes" },
	{ "duplicate top-level key", HEAD "name: u\n" GOOD_NODES,
	  "bad.yaml:4:1: top level: duplicate key \"name\" (first at 1:1)" },
	{ "complex key", HEAD GOOD_NODES "? [a]\n: 1\n",
	  "bad.yaml:6:3: top level: keys must be scalars, got a sequence" },
	{ "missing name", NETS GOOD_NODES,
	  "bad.yaml:1:1: top level: \"name\" is required (the topology's name, such as name: dc1)" },
	{ "missing networks", NAME GOOD_NODES,
	  "bad.yaml:1:1: top level: \"networks\" is required" },
	{ "missing nodes", HEAD, "bad.yaml:1:1: top level: \"nodes\" is required" },

	/* name */
	{ "name is a sequence", "name: [dc1]\n" NETS GOOD_NODES,
	  "bad.yaml:1:7: name: expected a string, got a sequence" },
	{ "name is null", "name:\n" NETS GOOD_NODES,
	  "bad.yaml:1:6: name: expected a string, got null" },
	{ "name is empty", "name: ''\n" NETS GOOD_NODES, "bad.yaml:1:7: name must not be empty" },
	{ "name with a space", "name: dc 1\n" NETS GOOD_NODES,
	  "bad.yaml:1:7: name \"dc 1\" must match ^[A-Za-z0-9][A-Za-z0-9_.-]*$" },
	{ "name starts with a dash", "name: -dc1\n" NETS GOOD_NODES,
	  "name \"-dc1\" must match ^[A-Za-z0-9][A-Za-z0-9_.-]*$" },
	{ "name too long", "name: abcdefghij0123456789x\n" NETS GOOD_NODES,
	  "bad.yaml:1:7: name \"abcdefghij0123456789x\" is 21 characters, more than 20: it prefixes "
	  "the names of the network namespaces" },

	/* networks */
	{ "networks is a mapping", NAME "networks: { lan: 51.6.196.0/24 }\n" GOOD_NODES,
	  "bad.yaml:2:11: networks: expected a sequence of networks such as [{ name: lan, subnet: "
	  "51.6.196.0/24 }], got a mapping" },
	{ "networks is empty", NAME "networks: []\n" GOOD_NODES,
	  "bad.yaml:2:11: networks: must list at least one network" },
	{ "too many networks", NULL, "bad.yaml:3:3: networks: 9 networks, more than the 8 a "
	                             "topology may have" },
	{ "network is a string", NAME "networks: [lan]\n" GOOD_NODES,
	  "bad.yaml:2:12: network #1: expected a mapping with name and subnet, got a string "
	  "(\"lan\")" },
	{ "unknown network key", NAME "networks:\n  - { name: lan, subnt: 51.6.196.0/24 }\n"
	  GOOD_NODES, "bad.yaml:3:18: network \"lan\": unknown key \"subnt\" (did you mean "
	              "\"subnet\"?); allowed keys are name and subnet" },
	{ "network without name", NAME "networks:\n  - { subnet: 51.6.196.0/24 }\n" GOOD_NODES,
	  "bad.yaml:3:5: network #1: \"name\" is required (such as name: lan)" },
	{ "network without subnet", NAME "networks:\n  - { name: lan }\n" GOOD_NODES,
	  "bad.yaml:3:5: network \"lan\": \"subnet\" is required (an IPv4 subnet such as "
	  "51.6.196.0/24)" },
	{ "network name upper case", NAME "networks:\n  - { name: LAN, subnet: 51.6.196.0/24 }\n"
	  GOOD_NODES, "bad.yaml:3:13: network #1: name \"LAN\" must match ^[a-z0-9][a-z0-9_-]*$" },
	{ "network name starts with '_'", NAME "networks:\n  - { name: _x, subnet: 10.0.0.0/8 }\n"
	  GOOD_NODES, "network #1: name \"_x\" must match ^[a-z0-9][a-z0-9_-]*$" },
	{ "network name too long",
	  NAME "networks:\n  - { name: abcdefghijklm, subnet: 51.6.196.0/24 }\n" GOOD_NODES,
	  "bad.yaml:3:13: network #1: name \"abcdefghijklm\" is 13 characters, more than 12: the "
	  "bridge \"br-<name>\" must fit in 15" },
	{ "duplicate network name",
	  NAME "networks:\n  - { name: lan, subnet: 51.6.196.0/24 }\n"
	       "  - { name: lan, subnet: 51.6.197.0/24 }\n" GOOD_NODES,
	  "bad.yaml:4:13: network \"lan\": name \"lan\" is already the name of network #1 (line 3)" },
	{ "subnet without prefix", NAME "networks:\n  - { name: lan, subnet: 51.6.196.0 }\n"
	  GOOD_NODES, "bad.yaml:3:26: network \"lan\": subnet: \"51.6.196.0\" is not an IPv4 subnet "
	              "in CIDR form such as 51.6.196.0/24" },
	{ "subnet octet too big", NAME "networks:\n  - { name: lan, subnet: 51.6.256.0/24 }\n"
	  GOOD_NODES, "subnet: \"51.6.256.0/24\" is not an IPv4 subnet in CIDR form" },
	{ "subnet with a leading zero", NAME "networks:\n  - { name: lan, subnet: 51.06.196.0/24 }\n"
	  GOOD_NODES, "subnet: \"51.06.196.0/24\" is not an IPv4 subnet in CIDR form" },
	{ "subnet prefix not a number", NAME "networks:\n  - { name: lan, subnet: 51.6.196.0/x }\n"
	  GOOD_NODES, "subnet: \"51.6.196.0/x\" is not an IPv4 subnet in CIDR form" },
	{ "subnet host bits", NAME "networks:\n  - { name: lan, subnet: 51.6.196.1/24 }\n"
	  GOOD_NODES, "bad.yaml:3:26: network \"lan\": subnet: 51.6.196.1/24 has host bits set; the "
	              "network is 51.6.196.0/24" },
	{ "subnet /31", NAME "networks:\n  - { name: lan, subnet: 51.6.196.0/31 }\n" GOOD_NODES,
	  "bad.yaml:3:26: network \"lan\": subnet: prefix /31 is out of range: use /8 to /30" },
	{ "subnet /7", NAME "networks:\n  - { name: lan, subnet: 50.0.0.0/7 }\n" GOOD_NODES,
	  "subnet: prefix /7 is out of range: use /8 to /30" },
	{ "overlapping subnets",
	  NAME "networks:\n  - { name: lan, subnet: 51.6.196.0/24 }\n"
	       "  - { name: big, subnet: 51.6.0.0/16 }\n" GOOD_NODES,
	  "bad.yaml:4:26: network \"big\": subnet: 51.6.0.0/16 overlaps network \"lan\" "
	  "(51.6.196.0/24, line 3)" },

	/* defaults */
	{ "defaults is a sequence", HEAD "defaults: [kind]\n" GOOD_NODES,
	  "bad.yaml:4:11: defaults: expected a mapping with kind, config or command, got a sequence" },
	{ "unknown defaults key", HEAD "defaults: { knd: serf }\n" GOOD_NODES,
	  "bad.yaml:4:13: defaults: unknown key \"knd\" (did you mean \"kind\"?); allowed keys are "
	  "kind, config and command" },
	{ "unknown default kind", HEAD "defaults: { kind: consul }\n" GOOD_NODES,
	  "bad.yaml:4:19: defaults: kind: unknown kind \"consul\"; kinds are conclave, serf, etcd "
	  "and command" },
	{ "defaults config is a string", HEAD "defaults: { config: server }\n" GOOD_NODES,
	  "bad.yaml:4:21: defaults.config: expected a mapping, got a string (\"server\")" },
	{ "defaults command is a string", HEAD "defaults: { command: sleep 1 }\n" GOOD_NODES,
	  "bad.yaml:4:22: defaults: command: expected a sequence of strings such as [sleep, "
	  "infinity], got a string (\"sleep 1\")" },

	/* nodes */
	{ "nodes is a mapping", HEAD "nodes:\n  a: { addresses: { lan: 51.6.196.10 } }\n",
	  "bad.yaml:5:3: nodes: expected a sequence of nodes such as [{ name: node1, addresses: "
	  "{ lan: 51.6.196.10 } }], got a mapping" },
	{ "nodes is empty", HEAD "nodes: []\n", "bad.yaml:4:8: nodes: must list at least one node" },
	{ "nodes is null", HEAD "nodes:\n",
	  "bad.yaml:4:7: nodes: expected a sequence of nodes such as" },
	{ "too many nodes", NULL, "bad.yaml:5:3: nodes: 1001 nodes, more than the 1000 a topology "
	                          "may have" },
	{ "node is a string", WITH_NODE("  - a\n"),
	  "bad.yaml:5:5: node #1: expected a mapping with name and addresses, got a string (\"a\")" },
	{ "unknown node key", WITH_NODE("  - { name: a, adresses: { lan: 51.6.196.10 } }\n"),
	  "bad.yaml:5:16: node \"a\": unknown key \"adresses\" (did you mean \"addresses\"?); "
	  "allowed keys are name, kind, addresses, config and command" },
	{ "duplicate node key",
	  WITH_NODE("  - { name: a, kind: serf, kind: etcd, addresses: { lan: 51.6.196.10 } }\n"),
	  "bad.yaml:5:28: node \"a\": duplicate key \"kind\" (first at 5:16)" },
	{ "node without name", WITH_NODE("  - { addresses: { lan: 51.6.196.10 } }\n"),
	  "bad.yaml:5:5: node #1: \"name\" is required (such as name: node1)" },
	{ "node name is a mapping",
	  WITH_NODE("  - { name: { a: 1 }, addresses: { lan: 51.6.196.10 } }\n"),
	  "bad.yaml:5:13: node #1: name: expected a string, got a mapping" },
	{ "node name too long",
	  WITH_NODE("  - { name: node0123456789ab, addresses: { lan: 51.6.196.10 } }\n"),
	  "bad.yaml:5:13: node #1: name \"node0123456789ab\" is longer than the 15 bytes of a Linux "
	  "interface name" },
	{ "node name with '/'", WITH_NODE("  - { name: a/b, addresses: { lan: 51.6.196.10 } }\n"),
	  "bad.yaml:5:13: node #1: name \"a/b\" cannot be a Linux interface name: it contains '/'" },
	{ "node name with ':'", WITH_NODE("  - { name: 'a:b', addresses: { lan: 51.6.196.10 } }\n"),
	  "bad.yaml:5:13: node #1: name \"a:b\" cannot be a Linux interface name: it contains ':'" },
	{ "node name with a space",
	  WITH_NODE("  - { name: node 1, addresses: { lan: 51.6.196.10 } }\n"),
	  "node #1: name \"node 1\" cannot be a Linux interface name: it contains whitespace" },
	{ "node name with a tab",
	  WITH_NODE("  - { name: \"a\\tb\", addresses: { lan: 51.6.196.10 } }\n"),
	  "node #1: name \"a\\x09b\" cannot be a Linux interface name: it contains whitespace" },
	{ "node name '.'", WITH_NODE("  - { name: ., addresses: { lan: 51.6.196.10 } }\n"),
	  "bad.yaml:5:13: node #1: name \".\" cannot be a Linux interface name" },
	{ "node name '..'", WITH_NODE("  - { name: .., addresses: { lan: 51.6.196.10 } }\n"),
	  "node #1: name \"..\" cannot be a Linux interface name" },
	{ "node name empty", WITH_NODE("  - { name: \"\", addresses: { lan: 51.6.196.10 } }\n"),
	  "bad.yaml:5:13: node #1: name must not be empty" },
	{ "node name fabric", WITH_NODE("  - { name: fabric, addresses: { lan: 51.6.196.10 } }\n"),
	  "bad.yaml:5:13: node \"fabric\": name \"fabric\" is reserved: the harness's namespace that "
	  "holds the bridges has it" },
	{ "node name lo", WITH_NODE("  - { name: lo, addresses: { lan: 51.6.196.10 } }\n"),
	  "node \"lo\": name \"lo\" is reserved: it is the fabric namespace's loopback interface" },
	{ "node name is a bridge", WITH_NODE("  - { name: br-lan, addresses: { lan: 51.6.196.10 } }\n"),
	  "node \"br-lan\": name \"br-lan\" is the bridge of network \"lan\" in the fabric namespace" },
	{ "duplicate node name", WITH_NODE(NODE_A "  - { name: a, addresses: { lan: 51.6.196.11 } }\n"),
	  "bad.yaml:6:13: node \"a\": name \"a\" is already the name of the node at line 5" },

	/* kind and command */
	{ "unknown kind",
	  WITH_NODE("  - { name: a, kind: consul, addresses: { lan: 51.6.196.10 } }\n"),
	  "bad.yaml:5:22: node \"a\": kind: unknown kind \"consul\"; kinds are conclave, serf, etcd "
	  "and command" },
	{ "misspelled kind",
	  WITH_NODE("  - { name: a, kind: comand, addresses: { lan: 51.6.196.10 } }\n"),
	  "kind: unknown kind \"comand\" (did you mean \"command\"?)" },
	{ "kind is a sequence",
	  WITH_NODE("  - { name: a, kind: [serf], addresses: { lan: 51.6.196.10 } }\n"),
	  "bad.yaml:5:22: node \"a\": kind: expected a string, got a sequence" },
	{ "kind command without a command",
	  WITH_NODE("  - { name: a, kind: command, addresses: { lan: 51.6.196.10 } }\n"),
	  "bad.yaml:5:22: node \"a\": kind command needs a command (a sequence such as [sleep, "
	  "infinity]), on the node or in defaults" },
	{ "default kind command without a command",
	  HEAD "defaults: { kind: command }\n" GOOD_NODES,
	  "bad.yaml:6:5: node \"a\": kind command needs a command" },
	{ "command on a conclave node",
	  WITH_NODE("  - { name: a, command: [sleep, 1], addresses: { lan: 51.6.196.10 } }\n"),
	  "bad.yaml:5:25: node \"a\": command: only nodes of kind command take a command (this node "
	  "is kind conclave)" },
	{ "command on a default serf node",
	  HEAD "defaults: { kind: serf }\n"
	  NODES("  - { name: a, command: [x], addresses: { lan: 51.6.196.10 } }\n"),
	  "command: only nodes of kind command take a command (this node is kind serf)" },
	{ "command is a string",
	  WITH_NODE("  - { name: a, kind: command, command: sleep 1,\n"
	            "      addresses: { lan: 51.6.196.10 } }\n"),
	  "bad.yaml:5:40: node \"a\": command: expected a sequence of strings such as [sleep, "
	  "infinity], got a string (\"sleep 1\")" },
	{ "command item is a mapping",
	  WITH_NODE("  - { name: a, kind: command, command: [sleep, { s: 1 }],\n"
	            "      addresses: { lan: 51.6.196.10 } }\n"),
	  "bad.yaml:5:48: node \"a\": command: item #2: expected a string, got a mapping" },
	{ "command item is null",
	  WITH_NODE("  - { name: a, kind: command, command: [sleep, ~],\n"
	            "      addresses: { lan: 51.6.196.10 } }\n"),
	  "bad.yaml:5:48: node \"a\": command: item #2: expected a string, got null" },
	{ "command is empty",
	  WITH_NODE("  - { name: a, kind: command, command: [], addresses: { lan: 51.6.196.10 } }\n"),
	  "bad.yaml:5:40: node \"a\": command: must not be empty: it is the program and its "
	  "arguments" },
	{ "command program is empty",
	  WITH_NODE("  - { name: a, kind: command, command: [''], addresses: { lan: 51.6.196.10 } }\n"),
	  "bad.yaml:5:41: node \"a\": command: the program (item #1) must not be empty" },

	/* addresses */
	{ "addresses missing", WITH_NODE("  - { name: a }\n"),
	  "bad.yaml:5:5: node \"a\": \"addresses\" is required (a mapping of network to IPv4 "
	  "address, such as addresses: { lan: 51.6.196.10 })" },
	{ "addresses empty", WITH_NODE("  - { name: a, addresses: {} }\n"),
	  "bad.yaml:5:27: node \"a\": addresses: must give an address on at least one network" },
	{ "addresses is a sequence", WITH_NODE("  - { name: a, addresses: [51.6.196.10] }\n"),
	  "bad.yaml:5:27: node \"a\": addresses: expected a mapping of network to IPv4 address such "
	  "as { lan: 51.6.196.10 }, got a sequence" },
	{ "addresses is a string", WITH_NODE("  - { name: a, addresses: 51.6.196.10 }\n"),
	  "addresses: expected a mapping of network to IPv4 address such as { lan: 51.6.196.10 }, "
	  "got a string (\"51.6.196.10\")" },
	{ "address on an unknown network",
	  WITH_NODE("  - { name: a, addresses: { wan: 51.6.196.10 } }\n"),
	  "bad.yaml:5:29: node \"a\": addresses: \"wan\" is not a network of this topology (did "
	  "you mean \"lan\"?); its networks are lan" },
	{ "address on a misspelled network",
	  NAME "networks:\n  - { name: lan, subnet: 51.6.196.0/24 }\n"
	       "  - { name: wan, subnet: 51.6.197.0/24 }\n"
	       NODES("  - { name: a, addresses: { lna: 51.6.196.10 } }\n"),
	  "bad.yaml:6:29: node \"a\": addresses: \"lna\" is not a network of this topology (did you "
	  "mean \"lan\"?); its networks are lan and wan" },
	{ "address not IPv4", WITH_NODE("  - { name: a, addresses: { lan: 51.6.196 } }\n"),
	  "bad.yaml:5:34: node \"a\": addresses: \"51.6.196\" is not an IPv4 address" },
	{ "address octet too big", WITH_NODE("  - { name: a, addresses: { lan: 51.6.196.300 } }\n"),
	  "addresses: \"51.6.196.300\" is not an IPv4 address" },
	{ "address with a prefix", WITH_NODE("  - { name: a, addresses: { lan: 51.6.196.10/24 } }\n"),
	  "addresses: \"51.6.196.10/24\" is not an IPv4 address (give the address alone: the prefix "
	  "is the network's)" },
	{ "address with a leading zero",
	  WITH_NODE("  - { name: a, addresses: { lan: 51.6.196.010 } }\n"),
	  "addresses: \"51.6.196.010\" is not an IPv4 address" },
	{ "address is a host name", WITH_NODE("  - { name: a, addresses: { lan: node1 } }\n"),
	  "addresses: \"node1\" is not an IPv4 address" },
	{ "address is null", WITH_NODE("  - { name: a, addresses: { lan: } }\n"),
	  "node \"a\": addresses: expected a string, got null" },
	{ "address outside the network",
	  WITH_NODE("  - { name: a, addresses: { lan: 51.6.197.5 } }\n"),
	  "bad.yaml:5:34: node \"a\": addresses: 51.6.197.5 is outside network \"lan\" "
	  "(51.6.196.0/24)" },
	{ "network address", WITH_NODE("  - { name: a, addresses: { lan: 51.6.196.0 } }\n"),
	  "bad.yaml:5:34: node \"a\": addresses: 51.6.196.0 is the network address of network "
	  "\"lan\" (51.6.196.0/24), not a host address" },
	{ "broadcast address", WITH_NODE("  - { name: a, addresses: { lan: 51.6.196.255 } }\n"),
	  "bad.yaml:5:34: node \"a\": addresses: 51.6.196.255 is the broadcast address of network "
	  "\"lan\" (51.6.196.0/24), not a host address" },
	{ "duplicate address",
	  WITH_NODE(NODE_A "  - { name: b, addresses: { lan: 51.6.196.10 } }\n"),
	  "bad.yaml:6:34: node \"b\": addresses: 51.6.196.10 is already the address of node \"a\" "
	  "(line 5)" },
	{ "same network twice",
	  WITH_NODE("  - { name: a, addresses: { lan: 51.6.196.10, lan: 51.6.196.11 } }\n"),
	  "bad.yaml:5:47: node \"a\": addresses: duplicate key \"lan\" (first at 5:29)" },

	/* config */
	{ "node config is a sequence",
	  WITH_NODE("  - { name: a, addresses: { lan: 51.6.196.10 }, config: [server] }\n"),
	  "bad.yaml:5:57: node \"a\": config: expected a mapping, got a sequence" },
	{ "node config is null",
	  WITH_NODE("  - name: a\n    addresses: { lan: 51.6.196.10 }\n    config:\n"),
	  "bad.yaml:7:12: node \"a\": config: expected a mapping, got null" },
	{ "config duplicate key",
	  WITH_NODE("  - name: a\n    addresses: { lan: 51.6.196.10 }\n"
	            "    config:\n      ports: { http: 1, dns: 2, http: 3 }\n"),
	  "bad.yaml:8:33: node \"a\": config.ports: duplicate key \"http\" (first at 8:16)" },
	{ "config key is a sequence",
	  WITH_NODE("  - name: a\n    addresses: { lan: 51.6.196.10 }\n"
	            "    config:\n      ? [a]\n      : 1\n"),
	  "bad.yaml:8:9: node \"a\": config: keys must be scalars, got a sequence" },
	{ "config merge key",
	  HEAD "defaults:\n  config:\n    base: &b { a: 1 }\n    other:\n      <<: *b\n" GOOD_NODES,
	  "bad.yaml:8:7: defaults.config.other: merge keys (<<) are not supported; put settings every "
	  "node shares in defaults.config" },
	{ "config infinity",
	  WITH_NODE("  - name: a\n    addresses: { lan: 51.6.196.10 }\n"
	            "    config: { performance: { raft_multiplier: .inf } }\n"),
	  "bad.yaml:7:47: node \"a\": config.performance.raft_multiplier: .inf is not a number JSON "
	  "can hold; quote it to make it a string" },
	{ "config NaN", HEAD "defaults: { config: { x: [1, .NaN] } }\n" GOOD_NODES,
	  "bad.yaml:4:30: defaults.config.x[1]: .NaN is not a number JSON can hold" },
	{ "config integer too large",
	  HEAD "defaults: { config: { bootstrap_expect: 99999999999999999999 } }\n" GOOD_NODES,
	  "bad.yaml:4:41: defaults.config.bootstrap_expect: 99999999999999999999 is too large to be "
	  "exact in JSON (more than 2^53); quote it to make it a string" },
	{ "config float out of range", HEAD "defaults: { config: { x: 1e999 } }\n" GOOD_NODES,
	  "defaults.config.x: 1e999 is out of range for a JSON number" },
	{ "config unsupported tag", HEAD "defaults: { config: { x: !!binary aGk= } }\n" GOOD_NODES,
	  "bad.yaml:4:26: defaults.config.x: tag !!binary is not supported (only !!str, !!int, "
	  "!!float, !!bool, !!null, !!seq and !!map are)" },
	{ "config local tag", HEAD "defaults: { config: { x: !secret [1] } }\n" GOOD_NODES,
	  "bad.yaml:4:26: defaults.config.x: tag !secret is not supported" },
	{ "config bad !!int", HEAD "defaults: { config: { x: !!int 5s } }\n" GOOD_NODES,
	  "bad.yaml:4:26: defaults.config.x: \"5s\" is not a valid !!int" },
	{ "config bad !!bool", HEAD "defaults: { config: { x: !!bool yes } }\n" GOOD_NODES,
	  "defaults.config.x: \"yes\" is not a valid !!bool" },
	{ "config NUL in a string", HEAD "defaults: { config: { x: \"a\\0b\" } }\n" GOOD_NODES,
	  "bad.yaml:4:26: defaults.config.x: a NUL character (\\0) is not allowed" },
	{ "config nested too deep", NULL, "bad.yaml:4:89: defaults.config.x[0][0][0][0][0][0][0]...: "
	                            "nested deeper than 64 levels (an alias that contains itself?)" },
	{ "config alias contains itself", HEAD "defaults: { config: &c { x: *c } }\n" GOOD_NODES,
	  "bad.yaml:4:21: defaults.config.x.x.x.x.x.x.x.x.x.x.x.x...: nested deeper than 64 "
	  "levels" },
	{ "config expands too much", NULL, "the configs and commands of all nodes add up to more "
	                                   "than 1048576 values (an alias used too often?)" },
};

static void append(char **buf, size_t *len, size_t *cap, const char *s)
{
	size_t n = strlen(s);
	if (*len + n + 1 > *cap) {
		*cap = (*len + n + 1) * 2;
		*buf = realloc(*buf, *cap);
		assert_non_null(*buf);
	}
	memcpy(*buf + *len, s, n + 1);
	*len += n;
}

static char *gen(const struct bad_case *c, size_t *len)
{
	char *buf = NULL, line[160];
	size_t cap = 0;
	*len = 0;
	if (!strcmp(c->name, "huge file")) {
		/* a valid topology padded past the limit with a comment */
		append(&buf, len, &cap, HEAD GOOD_NODES "#");
		size_t want = (4u << 20) + 100;
		buf = realloc(buf, want + 1);
		memset(buf + *len, 'x', want - *len);
		buf[want] = '\0';
		*len = want;
	} else if (!strcmp(c->name, "too many networks")) {
		append(&buf, len, &cap, NAME "networks:\n");
		for (int i = 0; i < 9; i++) {
			snprintf(line, sizeof(line), "  - { name: n%d, subnet: 10.%d.0.0/16 }\n", i, i);
			append(&buf, len, &cap, line);
		}
		append(&buf, len, &cap, NODES("  - { name: a, addresses: { n0: 10.0.0.1 } }\n"));
	} else if (!strcmp(c->name, "too many nodes")) {
		append(&buf, len, &cap, NAME "networks:\n  - { name: lan, subnet: 10.0.0.0/16 }\nnodes:\n");
		for (int i = 0; i < 1001; i++) {
			snprintf(line, sizeof(line), "  - { name: n%d, addresses: { lan: 10.0.%d.%d } }\n",
			         i, i / 250, i % 250 + 1);
			append(&buf, len, &cap, line);
		}
	} else if (!strcmp(c->name, "config nested too deep")) {
		append(&buf, len, &cap, HEAD "defaults: { config: { x: ");
		for (int i = 0; i < 70; i++)
			append(&buf, len, &cap, "[");
		for (int i = 0; i < 70; i++)
			append(&buf, len, &cap, "]");
		append(&buf, len, &cap, " } }\n" GOOD_NODES);
	} else {
		/* billion laughs: each level doubles; a handful of nodes multiply it */
		append(&buf, len, &cap, HEAD "defaults:\n  config:\n    l0: &l0 [x, x, x, x]\n");
		for (int i = 1; i <= 18; i++) {
			snprintf(line, sizeof(line), "    l%d: &l%d [*l%d, *l%d]\n", i, i, i - 1, i - 1);
			append(&buf, len, &cap, line);
		}
		append(&buf, len, &cap, GOOD_NODES);
	}
	return buf;
}

static void test_bad_topologies(void **state)
{
	size_t n = sizeof(cases) / sizeof(cases[0]);
	assert_true(n >= 30);
	int failures = 0;
	for (size_t i = 0; i < n; i++) {
		const struct bad_case *c = &cases[i];
		size_t len;
		char *owned = NULL;
		const char *text = c->text;
		if (text)
			len = strlen(text);
		else
			text = owned = gen(c, &len);
		char err[TOPO_ERR_MAX] = "";
		struct topology *t = (struct topology *)1;
		int rc = topology_load_buffer("bad.yaml", text, len, &t, err, sizeof(err));
		free(owned);
		if (rc != -1 || t != NULL || !strstr(err, c->want)) {
			print_error("case \"%s\": loader said \"%s\"\n  want \"%s\"\n", c->name,
			            rc ? err : "(no error)", c->want);
			failures++;
			if (rc == 0)
				topology_free(t);
		}
	}
	assert_int_equal(failures, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dc1),
		cmocka_unit_test(test_dc1_3),
		cmocka_unit_test(test_dc1_5),
		cmocka_unit_test(test_scale_50),
		cmocka_unit_test(test_shipped_configs_validate),
		cmocka_unit_test(test_deep_merge),
		cmocka_unit_test(test_scalar_types),
		cmocka_unit_test(test_kinds_and_commands),
		cmocka_unit_test(test_networks_and_ifaces),
		cmocka_unit_test(test_api),
		cmocka_unit_test(test_file_errors),
		cmocka_unit_test(test_bad_topologies),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
