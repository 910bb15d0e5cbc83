/* The logger against the seed's Consul 1.7.4 log, byte for byte. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "log/log.h"

/* 2020-12-14T10:55:09.515-0500, the seed's first log line. */
static struct timespec seed_time(long ms)
{
	struct tm tm = { .tm_year = 2020 - 1900, .tm_mon = 11, .tm_mday = 14, .tm_hour = 15,
		         .tm_min = 55, .tm_sec = 9 };
	struct timespec ts = { timegm(&tm), ms * 1000000L };
	return ts;
}

static void expect_line(enum cc_log_level lvl, const char *module, const char *msg,
                        const char *const *kv, size_t nkv, const char *want)
{
	struct timespec ts = seed_time(515);
	char buf[1024];
	size_t n = cc_log_format(buf, sizeof(buf), &ts, -5 * 3600, lvl, module, msg, kv, nkv);
	assert_true(n < sizeof(buf));
	buf[n] = '\0';
	char full[1024];
	snprintf(full, sizeof(full), "2020-12-14T10:55:09.515-0500 %s\n", want);
	assert_string_equal(buf, full);
}

static void test_seed_lines(void **state)
{
	const char *kv1[] = { "node_name", "node2_201" };
	expect_line(CC_LOG_WARN, "agent",
	            "Node name will not be discoverable via DNS due to invalid characters. Valid "
	            "characters include all alpha-numerics and dashes.", kv1, 2,
	            "[WARN]  agent: Node name will not be discoverable via DNS due to invalid "
	            "characters. Valid characters include all alpha-numerics and dashes.: "
	            "node_name=node2_201");

	const char *kv2[] = { "index", "0", "servers", "[]" };
	expect_line(CC_LOG_INFO, "agent.server.raft", "initial configuration", kv2, 4,
	            "[INFO]  agent.server.raft: initial configuration: index=0 servers=[]");

	const char *kv3[] = { "follower", "Node at 51.6.196.201:8300 [Follower]", "leader", "" };
	expect_line(CC_LOG_INFO, "agent.server.raft", "entering follower state", kv3, 4,
	            "[INFO]  agent.server.raft: entering follower state: "
	            "follower=\"Node at 51.6.196.201:8300 [Follower]\" leader=");

	const char *addrs[] = { "51.6.196.201", "51.6.196.211" };
	char list[128];
	cc_log_list(list, sizeof(list), addrs, 2);
	const char *kv4[] = { "lan_addresses", list };
	expect_line(CC_LOG_INFO, "agent", "(LAN) joining", kv4, 2,
	            "[INFO]  agent: (LAN) joining: lan_addresses=[51.6.196.201, 51.6.196.211]");

	const char *kv5[] = { "error", "No cluster leader" };
	expect_line(CC_LOG_ERROR, "agent.anti_entropy", "failed to sync remote state", kv5, 2,
	            "[ERROR] agent.anti_entropy: failed to sync remote state: "
	            "error=\"No cluster leader\"");

	const char *kv6[] = { "server", "node2_201 (Addr: tcp/51.6.196.201:8300) (DC: dc1)" };
	expect_line(CC_LOG_INFO, "agent.server", "Adding LAN server", kv6, 2,
	            "[INFO]  agent.server: Adding LAN server: "
	            "server=\"node2_201 (Addr: tcp/51.6.196.201:8300) (DC: dc1)\"");

	expect_line(CC_LOG_INFO, "agent", "Synced node info", NULL, 0,
	            "[INFO]  agent: Synced node info");

	const char *kv7[] = { "cluster", "LAN", "num_agents", "2" };
	expect_line(CC_LOG_INFO, "agent", "Join cluster completed. Synced with initial agents", kv7,
	            4, "[INFO]  agent: Join cluster completed. Synced with initial agents: "
	               "cluster=LAN num_agents=2");

	const char *kv8[] = { "peers", "51.6.196.201:8300,51.6.196.211:8300" };
	expect_line(CC_LOG_INFO, "agent.server", "Found expected number of peers, attempting bootstrap",
	            kv8, 2, "[INFO]  agent.server: Found expected number of peers, attempting "
	                    "bootstrap: peers=51.6.196.201:8300,51.6.196.211:8300");

	expect_line(CC_LOG_INFO, "agent.server.serf.lan", "serf: EventMemberJoin: node3_211 51.6.196.211",
	            NULL, 0, "[INFO]  agent.server.serf.lan: serf: EventMemberJoin: node3_211 "
	                     "51.6.196.211");
}

static void test_levels_and_offsets(void **state)
{
	struct timespec ts = seed_time(7);
	char buf[256];
	cc_log_format(buf, sizeof(buf), &ts, 0, CC_LOG_DEBUG, "agent", "x", NULL, 0);
	assert_string_equal(buf, "2020-12-14T15:55:09.007Z [DEBUG] agent: x\n");
	cc_log_format(buf, sizeof(buf), &ts, 5 * 3600 + 1800, CC_LOG_TRACE, "a", "y", NULL, 0);
	assert_string_equal(buf, "2020-12-14T21:25:09.007+0530 [TRACE] a: y\n");
}

static void test_quoting(void **state)
{
	struct timespec ts = seed_time(0);
	char buf[256];
	const char *kv[] = { "error", "bad \"thing\"\n\tand\\more", "empty", "", "plain", "a\"b" };
	cc_log_format(buf, sizeof(buf), &ts, 0, CC_LOG_WARN, "m", "msg", kv, 6);
	assert_string_equal(buf, "2020-12-14T15:55:09.000Z [WARN]  m: msg: "
	                         "error=\"bad \\\"thing\\\"\\n\\tand\\\\more\" empty= plain=a\"b\n");
}

static void test_truncation_keeps_newline(void **state)
{
	struct timespec ts = seed_time(0);
	char buf[40];
	size_t n = cc_log_format(buf, sizeof(buf), &ts, 0, CC_LOG_INFO, "agent",
	                         "a message much longer than forty bytes of buffer", NULL, 0);
	assert_true(n > sizeof(buf));
	assert_int_equal(buf[sizeof(buf) - 2], '\n');
	assert_int_equal(buf[sizeof(buf) - 1], '\0');
}

static void test_level_parse(void **state)
{
	enum cc_log_level l;
	assert_int_equal(cc_log_level_parse("INFO", &l), 0);
	assert_int_equal(l, CC_LOG_INFO);
	assert_int_equal(cc_log_level_parse("warn", &l), 0);
	assert_int_equal(l, CC_LOG_WARN);
	assert_int_equal(cc_log_level_parse("Err", &l), 0);
	assert_int_equal(l, CC_LOG_ERROR);
	assert_int_equal(cc_log_level_parse("trace", &l), 0);
	assert_int_equal(l, CC_LOG_TRACE);
	assert_true(cc_log_level_parse("loud", &l) < 0);
	assert_true(cc_log_level_parse("", &l) < 0);
}

static char *read_all(int fd)
{
	static char buf[8192];
	size_t n = 0;
	ssize_t r;
	while (n < sizeof(buf) - 1 && (r = read(fd, buf + n, sizeof(buf) - 1 - n)) > 0)
		n += (size_t)r;
	buf[n] = '\0';
	return buf;
}

/* Console lines carry Consul 1.7's four-space indent; the log file does not; the
 * level filter drops lines below the configured level in both. */
static void test_sinks_and_filter(void **state)
{
	int p[2];
	assert_int_equal(pipe(p), 0);
	char path[] = "/tmp/cc-log-test-XXXXXX";
	int tfd = mkstemp(path);
	assert_true(tfd >= 0);
	close(tfd);
	char err[256];
	struct cc_log_options o = { .level = CC_LOG_WARN, .console_fd = p[1], .file_path = path };
	assert_int_equal(cc_log_setup(&o, err, sizeof(err)), 0);
	CC_INFO("agent", "dropped", "k", "v");
	CC_DEBUG("agent", "dropped too");
	CC_WARN("agent", "kept", "k", "v w");
	cc_logf(CC_LOG_ERROR, "agent.server", "formatted %d", 42);
	cc_log_teardown();
	close(p[1]);
	char *out = read_all(p[0]);
	close(p[0]);
	assert_null(strstr(out, "dropped"));
	char *first = out, *second = strchr(out, '\n');
	assert_non_null(second);
	second++;
	assert_memory_equal(first, "    2", 5); /* the indent, then the year */
	assert_memory_equal(strchr(first, '['), "[WARN]  agent: kept: k=\"v w\"\n", 29);
	assert_memory_equal(second, "    2", 5);
	assert_memory_equal(strchr(second, '['), "[ERROR] agent.server: formatted 42\n", 35);

	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	char *file = read_all(fd);
	close(fd);
	unlink(path);
	assert_true(file[0] >= '0' && file[0] <= '9'); /* no indent in the file */
	assert_non_null(strstr(file, "[WARN]  agent: kept: k=\"v w\"\n"));
	assert_null(strstr(file, "dropped"));
}

static void test_log_file_error_names_file(void **state)
{
	char err[256];
	struct cc_log_options o = { .level = CC_LOG_INFO, .console_fd = -1,
		                    .file_path = "/nonexistent-dir/x.log" };
	assert_true(cc_log_setup(&o, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "/nonexistent-dir/x.log"));
}

/* hclog's JSON lines: sorted keys, microseconds and a colon in the offset,
 * Go's HTML-safe escapes. */
static void test_json_format(void **state)
{
	struct timespec ts = seed_time(515);
	ts.tv_nsec += 123000;
	char buf[512];
	const char *kv[] = { "error", "a <b> & \"c\"\n", "address", CC_LOG_RAW "[x, y]" };
	size_t n = cc_log_format_json(buf, sizeof(buf), &ts, -5 * 3600, CC_LOG_WARN, "agent",
	                              "Join failed", kv, 4);
	assert_true(n < sizeof(buf));
	assert_string_equal(buf, "{\"@level\":\"warn\",\"@message\":\"Join failed\","
	                         "\"@module\":\"agent\",\"@timestamp\":\"2020-12-14T10:55:09.515123-05:00\","
	                         "\"address\":\"[x, y]\","
	                         "\"error\":\"a \\u003cb\\u003e \\u0026 \\\"c\\\"\\n\"}\n");
	n = cc_log_format_json(buf, sizeof(buf), &ts, 0, CC_LOG_DEBUG, "", "m", NULL, 0);
	assert_string_equal(buf, "{\"@level\":\"debug\",\"@message\":\"m\","
	                         "\"@timestamp\":\"2020-12-14T15:55:09.515123Z\"}\n");
	/* cut lines still end in a newline */
	n = cc_log_format_json(buf, 16, &ts, 0, CC_LOG_INFO, "agent", "a long message", NULL, 0);
	assert_true(n >= 16);
	assert_int_equal(strlen(buf), 15);
	assert_int_equal(buf[14], '\n');
}

struct seen {
	int calls;
	enum cc_log_level last;
	char msg[64];
};

static void sink(void *ud, const struct timespec *ts, long off, enum cc_log_level lvl,
                 const char *module, const char *msg, const char *const *kv, size_t nkv)
{
	struct seen *s = ud;
	s->calls++;
	s->last = lvl;
	snprintf(s->msg, sizeof(s->msg), "%s", msg);
}

/* A sink gets lines below the logger's own level when it asks for them. */
static void test_log_sinks(void **state)
{
	struct cc_log_options o = { .level = CC_LOG_INFO, .console_fd = -1 };
	char err[128];
	assert_int_equal(cc_log_setup(&o, err, sizeof(err)), 0);
	struct seen a = { 0 }, b = { 0 };
	int ia = cc_log_sink_add(CC_LOG_DEBUG, sink, &a);
	int ib = cc_log_sink_add(CC_LOG_ERROR, sink, &b);
	assert_true(ia >= 0 && ib >= 0 && ia != ib);
	CC_TRACE("agent", "trace line");
	CC_DEBUG("agent", "debug line", "k", "v");
	CC_ERROR("agent", "error line");
	assert_int_equal(a.calls, 2);
	assert_int_equal(b.calls, 1);
	assert_string_equal(b.msg, "error line");
	cc_log_sink_remove(ia);
	CC_DEBUG("agent", "not seen");
	assert_int_equal(a.calls, 2);
	cc_log_sink_remove(ib);
	cc_logf(CC_LOG_ERROR, "agent", "%s", "after");
	assert_int_equal(b.calls, 1);
	cc_log_teardown();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seed_lines),
		cmocka_unit_test(test_json_format),
		cmocka_unit_test(test_log_sinks),
		cmocka_unit_test(test_levels_and_offsets),
		cmocka_unit_test(test_quoting),
		cmocka_unit_test(test_truncation_keeps_newline),
		cmocka_unit_test(test_level_parse),
		cmocka_unit_test(test_sinks_and_filter),
		cmocka_unit_test(test_log_file_error_names_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
