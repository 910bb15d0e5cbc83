/* Config: the seed's file, defaults, merge order of files, dirs and flags,
 * warnings, durations. Bad inputs are in test_config_bad.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/config.h"

static char tmpdir[64];

static int setup(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/cc-config-test-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static struct cc_config *load_text(const char *text)
{
	struct cc_config *c = cc_config_new();
	struct cc_config_err err;
	assert_non_null(c);
	if (cc_config_load_buffer(c, "test.json", text, strlen(text), &err) ||
	    cc_config_finalize(c, &err))
		fail_msg("unexpected error: %s", err.msg);
	return c;
}

static int has_warning(const struct cc_config *c, const char *needle)
{
	for (size_t i = 0; i < c->warnings.n; i++)
		if (strstr(c->warnings.v[i], needle))
			return 1;
	return 0;
}

static void test_seed_file(void **state)
{
	struct cc_config *c = cc_config_new();
	struct cc_config_err err;
	assert_int_equal(cc_config_load_file(c, TEST_DATA_DIR "/config/seed.json", &err), 0);
	assert_int_equal(cc_config_finalize(c, &err), 0);
	assert_int_equal(c->bootstrap_expect, 2);
	assert_false(c->bootstrap);
	assert_string_equal(c->datacenter, "dc1");
	assert_string_equal(c->data_dir, "/root/consul/data");
	assert_int_equal(c->log_level, CC_LOG_INFO);
	assert_true(c->server);
	assert_string_equal(c->node_name, "node2_201");
	assert_true(c->ui);
	assert_string_equal(c->bind_addr, "51.6.196.201");
	assert_int_equal(c->client_addrs.n, 1);
	assert_string_equal(c->client_addrs.v[0], "51.6.196.201");
	assert_string_equal(c->http_addrs.v[0], "51.6.196.201");
	assert_string_equal(c->advertise_addr, "51.6.196.201");
	assert_string_equal(c->advertise_addr_wan, "51.6.196.201");
	assert_true(c->enable_script_checks);
	assert_int_equal(c->retry_join.n, 2);
	assert_string_equal(c->retry_join.v[0], "51.6.196.201");
	assert_string_equal(c->retry_join.v[1], "51.6.196.211");
	assert_int_equal(c->retry_interval_ms, 5000);
	assert_int_equal(c->ports.http, 8500);
	assert_int_equal(c->ports.dns, 8600);
	assert_int_equal(c->ports.server, 8300);
	assert_int_equal(c->ports.serf_lan, 8301);
	assert_int_equal(c->ports.serf_wan, 8302);
	/* Server defaults: SIGTERM and SIGINT do not leave the cluster. */
	assert_false(c->leave_on_terminate);
	assert_true(c->skip_leave_on_interrupt);
	/* Exactly the two warnings Consul prints for this file, in its order. */
	assert_int_equal(c->warnings.n, 2);
	assert_string_equal(c->warnings.v[0],
	                    "bootstrap_expect = 2: A cluster with 2 servers will provide no failure "
	                    "tolerance. See https://www.consul.io/docs/internals/consensus.html"
	                    "#deployment-table");
	assert_string_equal(c->warnings.v[1], "bootstrap_expect > 0: expecting 2 servers");
	assert_string_equal(cc_config_node_name_dns_warning(c->node_name),
	                    "Node name will not be discoverable via DNS due to invalid characters. "
	                    "Valid characters include all alpha-numerics and dashes.");
	cc_config_free(c);
}

static void test_defaults(void **state)
{
	struct cc_config *c = load_text("{\"data_dir\": \"/nonexistent/conclave-data\", \"bind_addr\": \"127.0.0.1\"}");
	assert_string_equal(c->datacenter, "dc1");
	assert_false(c->server);
	assert_int_equal(c->ports.http, 8500);
	assert_int_equal(c->ports.https, -1);
	assert_int_equal(c->ports.grpc, -1);
	assert_int_equal(c->retry_interval_ms, 30000);
	assert_int_equal(c->retry_max, 0);
	assert_int_equal(c->raft_multiplier, 5);
	assert_string_equal(c->client_addrs.v[0], "127.0.0.1");
	assert_string_equal(c->advertise_addr, "127.0.0.1");
	assert_non_null(c->node_name); /* the host name */
	/* Client defaults: leave on SIGTERM and on SIGINT. */
	assert_true(c->leave_on_terminate);
	assert_false(c->skip_leave_on_interrupt);
	assert_int_equal(c->warnings.n, 0);
	cc_config_free(c);
}

static void test_merge_files_dirs_flags(void **state)
{
	char f1[128], f2[128], dir[128], d1[160], d2[160], d3[160];
	snprintf(f1, sizeof(f1), "%s/a.json", tmpdir);
	snprintf(f2, sizeof(f2), "%s/b.json", tmpdir);
	snprintf(dir, sizeof(dir), "%s/conf.d", tmpdir);
	snprintf(d1, sizeof(d1), "%s/20-second.json", dir);
	snprintf(d2, sizeof(d2), "%s/10-first.json", dir);
	snprintf(d3, sizeof(d3), "%s/notes.txt", dir);
	mkdir(dir, 0755);
	write_file(f1, "{\"node_name\": \"from-a\", \"retry_join\": [\"10.0.0.1\"], "
	               "\"ports\": {\"http\": 1001}, \"data_dir\": \"/tmp/a\", "
	               "\"bind_addr\": \"127.0.0.1\", \"server\": true}");
	write_file(f2, "{\"node_name\": \"from-b\", \"retry_join\": [\"10.0.0.2\"], "
	               "\"ports\": {\"dns\": 1002}}");
	write_file(d1, "{\"datacenter\": \"second\", \"retry_join\": [\"10.0.0.4\"]}");
	write_file(d2, "{\"datacenter\": \"first\", \"retry_join\": [\"10.0.0.3\"], "
	               "\"log_level\": \"debug\"}");
	write_file(d3, "this is not json and is not read");

	char a_node[] = "-node=from-flag", a_cf1[] = "-config-file", a_cd[] = "-config-dir",
	     a_rj[] = "-retry-join=10.0.0.9", a_ui[] = "-ui", a_srv[] = "-server=false",
	     a_exp[] = "-bootstrap-expect", a_expv[] = "0", a_cf2[] = "--config-file";
	char *argv[] = { a_node, a_cf1, f1, a_cf2, f2, a_cd, dir, a_rj, a_ui, a_srv, a_exp, a_expv };
	struct cc_config *c = cc_config_new();
	struct cc_config_err err;
	if (cc_config_apply_flags(c, 12, argv, &err) || cc_config_finalize(c, &err))
		fail_msg("unexpected error: %s", err.msg);
	/* Flags override files wherever they appear on the command line. */
	assert_string_equal(c->node_name, "from-flag");
	/* Files in order, directory files in lexical order: the last one wins. */
	assert_string_equal(c->datacenter, "second");
	assert_int_equal(c->log_level, CC_LOG_DEBUG);
	/* Objects merge key by key. */
	assert_int_equal(c->ports.http, 1001);
	assert_int_equal(c->ports.dns, 1002);
	/* Lists append across every source, flags last. */
	assert_int_equal(c->retry_join.n, 5);
	const char *want[] = { "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.9" };
	for (int i = 0; i < 5; i++)
		assert_string_equal(c->retry_join.v[i], want[i]);
	assert_true(c->ui);
	assert_false(c->server);
	cc_config_free(c);
}

static void test_flag_errors(void **state)
{
	struct {
		const char *arg, *arg2, *want;
	} cases[] = {
		{ "-nonsense", NULL, "flag provided but not defined: -nonsense" },
		{ "-bootstrap-expect=two", NULL,
		  "invalid value \"two\" for flag -bootstrap-expect: parse error" },
		{ "-server=maybe", NULL, "invalid boolean value \"maybe\" for flag -server" },
		{ "-node", NULL, "flag needs an argument: -node" },
		{ "stray", NULL, "unexpected argument \"stray\"" },
		{ "-config-file=/nonexistent/conclave.json", NULL,
		  "cannot read config file /nonexistent/conclave.json: No such file or directory" },
		{ "-http-port=99999", NULL, "ports.http: 99999 is not a valid port" },
		{ "-retry-interval", "soon", "retry_interval: invalid duration \"soon\"" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cc_config *c = cc_config_new();
		struct cc_config_err err;
		char a1[128], a2[128];
		snprintf(a1, sizeof(a1), "%s", cases[i].arg);
		snprintf(a2, sizeof(a2), "%s", cases[i].arg2 ? cases[i].arg2 : "");
		char *argv[] = { a1, a2 };
		assert_int_equal(cc_config_apply_flags(c, cases[i].arg2 ? 2 : 1, argv, &err), -1);
		if (!strstr(err.msg, cases[i].want))
			fail_msg("flag %s: got \"%s\", want \"%s\"", cases[i].arg, err.msg, cases[i].want);
		cc_config_free(c);
	}
}

static void test_bootstrap_warnings(void **state)
{
	struct cc_config *c = load_text("{\"data_dir\":\"/nonexistent/conclave-data\",\"bind_addr\":\"127.0.0.1\","
	                                "\"server\":true,\"bootstrap_expect\":1}");
	assert_true(c->bootstrap);
	assert_int_equal(c->bootstrap_expect, 0);
	assert_int_equal(c->warnings.n, 2);
	assert_string_equal(c->warnings.v[0],
	                    "BootstrapExpect is set to 1; this is the same as Bootstrap mode.");
	assert_string_equal(c->warnings.v[1], "bootstrap = true: do not enable unless necessary");
	cc_config_free(c);

	c = load_text("{\"data_dir\":\"/nonexistent/conclave-data\",\"bind_addr\":\"127.0.0.1\",\"server\":true,"
	              "\"bootstrap_expect\":4}");
	assert_int_equal(c->warnings.n, 2);
	assert_true(has_warning(c, "bootstrap_expect is even number: A cluster with an even number "
	                           "of servers does not achieve optimum fault tolerance."));
	assert_string_equal(c->warnings.v[1], "bootstrap_expect > 0: expecting 4 servers");
	cc_config_free(c);

	c = load_text("{\"data_dir\":\"/nonexistent/conclave-data\",\"bind_addr\":\"127.0.0.1\",\"server\":true,"
	              "\"bootstrap_expect\":3}");
	assert_int_equal(c->warnings.n, 1);
	assert_string_equal(c->warnings.v[0], "bootstrap_expect > 0: expecting 3 servers");
	cc_config_free(c);
}

static void test_unknown_key_is_a_warning(void **state)
{
	struct cc_config *c = load_text("{\"data_dir\":\"/nonexistent/conclave-data\",\"bind_addr\":\"127.0.0.1\","
	                                "\"recursors\":[\"8.8.8.8\"],\"ports\":{\"htpp\":1}}");
	assert_int_equal(c->warnings.n, 2);
	assert_string_equal(c->warnings.v[0], "test.json: unknown config key \"recursors\" (ignored)");
	assert_string_equal(c->warnings.v[1], "test.json: unknown config key \"ports.htpp\" (ignored)");
	cc_config_free(c);
}

static void test_node_name_dns_warning(void **state)
{
	assert_null(cc_config_node_name_dns_warning("node-2"));
	assert_null(cc_config_node_name_dns_warning("N0de"));
	assert_non_null(cc_config_node_name_dns_warning("node2_201"));
	assert_non_null(cc_config_node_name_dns_warning("node.2"));
	char longname[80];
	memset(longname, 'a', 64);
	longname[64] = '\0';
	assert_non_null(strstr(cc_config_node_name_dns_warning(longname), "too long"));
}

static void test_services_and_extra_keys(void **state)
{
	struct cc_config *c = load_text(
		"{\"data_dir\":\"/nonexistent/conclave-data\",\"bind_addr\":\"127.0.0.1\",\"enable_script_checks\":true,"
		"\"encrypt\":\"pUqJrVyVRj5jsiYEkM/tFQYfWyJIv4s3XkvDwy7Cu5s=\","
		"\"node_id\":\"53C42A83-99bf-ebd4-708b-a26ba5eb6707\",\"log_file\":\"/nonexistent/conclave-data/log\","
		"\"retry_max\":3,\"start_join\":[\"127.0.0.2\"],\"leave_on_terminate\":false,"
		"\"skip_leave_on_interrupt\":true,\"rejoin_after_leave\":true,"
		"\"performance\":{\"raft_multiplier\":1},"
		"\"addresses\":{\"http\":\"127.0.0.5\"},"
		"\"service\":{\"name\":\"nginx201\",\"port\":80,\"tags\":[\"web\"],"
		"  \"meta\":{\"v\":\"1\"},\"check\":{\"args\":[\"/bin/true\"],\"interval\":\"10s\"}},"
		"\"services\":[{\"id\":\"db1\",\"name\":\"db\",\"checks\":["
		"  {\"ttl\":\"30s\"},{\"tcp\":\"127.0.0.1:5432\",\"interval\":\"1m30s\","
		"   \"timeout\":\"250ms\"}]}]}");
	assert_non_null(c->encrypt);
	assert_int_equal(c->retry_max, 3);
	assert_int_equal(c->start_join.n, 1);
	assert_false(c->leave_on_terminate);
	assert_true(c->rejoin_after_leave);
	assert_int_equal(c->raft_multiplier, 1);
	assert_string_equal(c->http_addrs.v[0], "127.0.0.5");
	assert_string_equal(c->dns_addrs.v[0], "127.0.0.1");
	assert_int_equal(c->nservices, 2);
	assert_string_equal(c->services[0].id, "nginx201");
	assert_int_equal(c->services[0].port, 80);
	assert_string_equal(c->services[0].tags.v[0], "web");
	assert_string_equal(c->services[0].meta[0].value, "1");
	assert_string_equal(c->services[0].checks[0].id, "service:nginx201");
	assert_string_equal(c->services[0].checks[0].name, "Service 'nginx201' check");
	assert_int_equal(c->services[0].checks[0].interval_ms, 10000);
	assert_string_equal(c->services[1].id, "db1");
	assert_int_equal(c->services[1].nchecks, 2);
	assert_string_equal(c->services[1].checks[1].id, "service:db1:2");
	assert_int_equal(c->services[1].checks[0].ttl_ms, 30000);
	assert_int_equal(c->services[1].checks[1].interval_ms, 90000);
	assert_int_equal(c->services[1].checks[1].timeout_ms, 250);
	cc_config_free(c);
}

static void test_durations(void **state)
{
	struct {
		const char *in;
		int64_t ns;
	} ok[] = {
		{ "5s", 5000000000LL },         { "1m30s", 90000000000LL }, { "250ms", 250000000LL },
		{ "1.5h", 5400000000000LL },    { "100us", 100000LL },      { "0", 0 },
		{ "-2s", -2000000000LL },       { "1h2m3s4ms", 3723004000000LL },
		{ "3\xc2\xb5s", 3000 },         { ".5s", 500000000LL },
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		int64_t ns;
		const char *why;
		assert_int_equal(cc_duration_parse(ok[i].in, &ns, &why), 0);
		assert_int_equal(ns, ok[i].ns);
	}
	const char *bad[] = { "", "5", "s", "5x", "1.s5", "--1s", "5 s", "99999999999999h" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t ns;
		const char *why = NULL;
		if (cc_duration_parse(bad[i], &ns, &why) == 0)
			fail_msg("\"%s\" parsed", bad[i]);
		assert_non_null(why);
	}
	char buf[32];
	assert_string_equal(cc_duration_format(5000, buf, sizeof(buf)), "5s");
	assert_string_equal(cc_duration_format(90000, buf, sizeof(buf)), "1m30s");
	assert_string_equal(cc_duration_format(250, buf, sizeof(buf)), "250ms");
	assert_string_equal(cc_duration_format(3723500, buf, sizeof(buf)), "1h2m3.5s");
}

/* The telemetry block: defaults, Consul's keys, unknown telemetry keys warn. */
static void test_telemetry(void **state)
{
	struct cc_config *c = load_text("{\"data_dir\": \"/tmp\", \"bind_addr\": \"127.0.0.1\"}");
	assert_int_equal(c->telemetry.prometheus_retention_ms, 0);
	assert_false(c->telemetry.disable_hostname);
	assert_string_equal(c->telemetry.metrics_prefix, "consul");
	cc_config_free(c);
	c = load_text("{\"data_dir\": \"/tmp\", \"bind_addr\": \"127.0.0.1\", \"telemetry\": "
	              "{\"prometheus_retention_time\": \"1m30s\", \"disable_hostname\": true, "
	              "\"metrics_prefix\": \"conclave.dc1\", \"statsd_address\": \"x\"}}");
	assert_int_equal(c->telemetry.prometheus_retention_ms, 90000);
	assert_true(c->telemetry.disable_hostname);
	assert_string_equal(c->telemetry.metrics_prefix, "conclave.dc1");
	assert_true(has_warning(c, "unknown config key \"telemetry.statsd_address\""));
	cc_config_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seed_file),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_merge_files_dirs_flags),
		cmocka_unit_test(test_flag_errors),
		cmocka_unit_test(test_bootstrap_warnings),
		cmocka_unit_test(test_unknown_key_is_a_warning),
		cmocka_unit_test(test_node_name_dns_warning),
		cmocka_unit_test(test_services_and_extra_keys),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_telemetry),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
