/* The linearizability checker: hand-made histories with known verdicts, a
 * generated 10 000-operation history (and the same with one stale read),
 * the time limit, bad input, and `harness check`'s exit codes. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../../bench/lincheck_gen.h"
#include "lincheck.h"

#define DATA TEST_DATA_DIR "/history/"

static void load(struct history *h, const char *file)
{
	char path[512], err[512];
	snprintf(path, sizeof(path), DATA "%s", file);
	hist_init(h);
	if (hist_read_json(h, path, err, sizeof(err)))
		fail_msg("%s", err);
}

static const struct lin_key_result *key_result(const struct lin_result *r, const char *key)
{
	for (size_t i = 0; i < r->nkeys; i++)
		if (strcmp(r->keys[i].key, key) == 0)
			return &r->keys[i];
	fail_msg("no result for key %s", key);
	exit(1);
}

static void check(const struct history *h, unsigned timeout_ms, struct lin_result *r)
{
	char err[256];
	if (lin_check(h, timeout_ms, r, err, sizeof(err)))
		fail_msg("%s", err);
}

static void test_linearizable_files(void **state)
{
	const char *files[] = { "lin_sequential.json", "lin_concurrent_writes.json",
		                "lin_cas_chain.json", "lin_info.json", "lin_nil_reads.json" };
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		struct history h;
		struct lin_result r;
		load(&h, files[i]);
		check(&h, 10000, &r);
		for (size_t k = 0; k < r.nkeys; k++)
			if (!r.keys[k].ok)
				fail_msg("%s: key %s: %s", files[i], r.keys[k].key, r.keys[k].why);
		assert_true(r.ok);
		assert_false(r.timed_out);
		assert_int_equal(r.bad_keys, 0);
		lin_result_free(&r);
		hist_free(&h);
	}
}

static void test_violations(void **state)
{
	static const struct {
		const char *file, *key, *ok_key, *why[2];
	} cases[] = {
		{ "bad_stale_read.json", "k1", "k2", { "read k1 -> 1 by process 1", "k1 = 2" } },
		{ "bad_never_written.json", "k3", NULL,
		  { "read k3 -> 17 by process 2", "17 was never written to k3" } },
		{ "bad_failed_write_read.json", "k4", NULL,
		  { "read k4 -> 18 by process 2", "18 was written to k4 only by failed operations" } },
		{ "bad_opposite_orders.json", "k1", NULL, { "read k1 -> ", "by process " } },
		{ "bad_cas_wrong_value.json", "k1", NULL,
		  { "cas k1 2->3 by process 1", "leaves k1 = 1" } },
		{ "bad_lost_write.json", "k1", NULL, { "read k1 -> 2 by process 2", "k1 = 3" } },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct history h;
		struct lin_result r;
		load(&h, cases[i].file);
		check(&h, 10000, &r);
		const struct lin_key_result *k = key_result(&r, cases[i].key);
		printf("%s: key %s: %s\n", cases[i].file, k->key, k->why);
		assert_false(r.ok);
		assert_false(r.timed_out);
		assert_int_equal(r.bad_keys, 1);
		assert_false(k->ok);
		assert_false(k->timed_out);
		for (int j = 0; j < 2; j++)
			if (!strstr(k->why, cases[i].why[j]))
				fail_msg("%s: \"%s\" does not say \"%s\"", cases[i].file, k->why,
				         cases[i].why[j]);
		if (cases[i].ok_key)
			assert_true(key_result(&r, cases[i].ok_key)->ok);
		lin_result_free(&r);
		hist_free(&h);
	}
}

static void test_empty(void **state)
{
	struct history h;
	struct lin_result r;
	hist_init(&h);
	check(&h, 0, &r);
	assert_true(r.ok);
	assert_int_equal(r.nkeys, 0);
	lin_result_free(&r);
	/* only dropped operations: a failed write and an info read */
	long a = hist_invoke(&h, 0, HIST_WRITE, "k", 5, HIST_NIL, HIST_NIL, "n", 10);
	hist_complete(&h, a, HIST_FAIL, HIST_NIL, "refused", 20);
	long b = hist_invoke(&h, 1, HIST_READ, "k", HIST_NIL, HIST_NIL, HIST_NIL, "n", 10);
	hist_complete(&h, b, HIST_INFO, HIST_NIL, "timeout", 20);
	long c = hist_invoke(&h, 2, HIST_READ, "k", HIST_NIL, HIST_NIL, HIST_NIL, "n", 30);
	hist_complete(&h, c, HIST_OK, HIST_NIL, NULL, 40);
	check(&h, 0, &r);
	assert_true(r.ok);
	assert_int_equal(r.nkeys, 1);
	assert_int_equal(r.keys[0].nops, 3);
	lin_result_free(&r);
	hist_free(&h);
}

/* 25 overlapping writes then a read of nil: every order of the writes has to
 * be tried, far more than 50 ms of work. */
static void hard_history(struct history *h)
{
	hist_init(h);
	for (int i = 0; i < 25; i++) {
		long id = hist_invoke(h, i, HIST_WRITE, "hard", i + 1, HIST_NIL, HIST_NIL, "n",
		                      1000 + i);
		hist_complete(h, id, HIST_OK, HIST_NIL, NULL, 100000 + i);
	}
	long id = hist_invoke(h, 30, HIST_READ, "hard", HIST_NIL, HIST_NIL, HIST_NIL, "n", 200000);
	hist_complete(h, id, HIST_OK, HIST_NIL, NULL, 200001);
	id = hist_invoke(h, 31, HIST_WRITE, "easy", 1, HIST_NIL, HIST_NIL, "n", 10);
	hist_complete(h, id, HIST_OK, HIST_NIL, NULL, 20);
}

static void test_timeout(void **state)
{
	struct history h;
	struct lin_result r;
	hard_history(&h);
	check(&h, 50, &r);
	printf("timeout: %.1f ms: %s\n", r.ms, key_result(&r, "hard")->why);
	assert_false(r.ok);
	assert_true(r.timed_out);
	assert_int_equal(r.bad_keys, 0);
	assert_true(key_result(&r, "hard")->timed_out);
	assert_true(key_result(&r, "easy")->ok);   /* smaller keys go first */
	assert_true(r.ms < 5000);
	lin_result_free(&r);
	hist_free(&h);
}

static void check_generated(uint64_t seed, const char *tmp)
{
	struct history h, back;
	struct lin_result r;
	char err[512];
	struct gen_params p = gen_defaults(seed);
	hist_init(&h);
	assert_int_equal(gen_history(&h, &p), 0);
	size_t ok, fail, info;
	hist_counts(&h, &ok, &fail, &info);
	check(&h, 0, &r);
	printf("seed %llu: %zu ops (%zu ok, %zu fail, %zu info), %zu keys: %s in %.1f ms\n",
	       (unsigned long long)seed, h.n, ok, fail, info, r.nkeys,
	       r.ok ? "linearizable" : "NOT linearizable", r.ms);
	for (size_t k = 0; k < r.nkeys; k++)
		if (!r.keys[k].ok)
			fail_msg("seed %llu: key %s: %s", (unsigned long long)seed, r.keys[k].key,
			         r.keys[k].why);
	assert_true(r.ok);
	assert_int_equal(r.nkeys, 10);
	assert_true(fail > 0 && info > 0);
	lin_result_free(&r);

	/* the same through the JSON form */
	if (hist_write_json(&h, tmp, err, sizeof(err)))
		fail_msg("%s", err);
	hist_init(&back);
	if (hist_read_json(&back, tmp, err, sizeof(err)))
		fail_msg("%s", err);
	assert_int_equal(back.n, h.n);
	check(&back, 0, &r);
	assert_true(r.ok);
	lin_result_free(&r);
	hist_free(&back);

	/* one stale read */
	long bad = gen_stale_read(&h, seed);
	assert_true(bad >= 0);
	check(&h, 0, &r);
	const struct lin_key_result *k = key_result(&r, h.ops[bad].key);
	printf("seed %llu: stale read: %s in %.1f ms: %s\n", (unsigned long long)seed,
	       r.ok ? "missed" : "caught", r.ms, k->why);
	assert_false(r.ok);
	assert_false(r.timed_out);
	assert_int_equal(r.bad_keys, 1);
	assert_false(k->ok);
	char want[128];
	snprintf(want, sizeof(want), "read %s -> %lld by process %d", h.ops[bad].key,
	         (long long)h.ops[bad].value, h.ops[bad].process);
	if (!strstr(k->why, want))
		fail_msg("\"%s\" does not name \"%s\"", k->why, want);
	lin_result_free(&r);
	hist_free(&h);
}

static void test_generated(void **state)
{
	char tmp[64];
	snprintf(tmp, sizeof(tmp), "/tmp/test_lincheck.%d.json", (int)getpid());
	for (uint64_t seed = 1; seed <= 3; seed++)
		check_generated(seed, tmp);
	unlink(tmp);
}

/* Zero-length operations (invoke and complete at the same instant) survive the
 * JSON form: the writer keeps each process's events in order. */
static void test_zero_length_roundtrip(void **state)
{
	struct history h, back;
	char tmp[64], err[512];
	snprintf(tmp, sizeof(tmp), "/tmp/test_lincheck_z.%d.json", (int)getpid());
	hist_init(&h);
	long a = hist_invoke(&h, 0, HIST_WRITE, "k", 1, HIST_NIL, HIST_NIL, "n", 100);
	hist_complete(&h, a, HIST_OK, HIST_NIL, NULL, 200);
	long b = hist_invoke(&h, 0, HIST_READ, "k", HIST_NIL, HIST_NIL, HIST_NIL, "n", 200);
	hist_complete(&h, b, HIST_OK, 1, NULL, 200);
	long c = hist_invoke(&h, 1, HIST_READ, "k", HIST_NIL, HIST_NIL, HIST_NIL, "n", 150);
	hist_complete(&h, c, HIST_OK, 1, NULL, 200);
	long d = hist_invoke(&h, 0, HIST_WRITE, "k", 2, HIST_NIL, HIST_NIL, "n", 200);
	hist_complete(&h, d, HIST_OK, HIST_NIL, NULL, 300);
	if (hist_write_json(&h, tmp, err, sizeof(err)))
		fail_msg("%s", err);
	hist_init(&back);
	if (hist_read_json(&back, tmp, err, sizeof(err)))
		fail_msg("%s", err);
	assert_int_equal(back.n, 4);
	struct lin_result r;
	check(&back, 0, &r);
	assert_true(r.ok);
	lin_result_free(&r);
	hist_free(&back);
	hist_free(&h);
	unlink(tmp);
}

/* ---- a brute-force reference: every order, no pruning, for tiny histories ---- */

struct bf {
	const struct hist_op *ops[12];
	int n;
	bool used[12];
};

static bool bf_search(struct bf *b, int64_t state)
{
	bool left = false;
	for (int i = 0; i < b->n; i++)
		left |= !b->used[i] && b->ops[i]->result == HIST_OK;
	if (!left)
		return true;   /* the info ops left never happened */
	for (int i = 0; i < b->n; i++) {
		const struct hist_op *o = b->ops[i];
		if (b->used[i])
			continue;
		bool minimal = true;   /* no op left had to complete before o began */
		for (int j = 0; j < b->n; j++)
			if (!b->used[j] && b->ops[j]->result == HIST_OK &&
			    b->ops[j]->complete_ns < o->invoke_ns)
				minimal = false;
		if (!minimal)
			continue;
		int64_t next = state;
		if (o->f == HIST_READ && o->value != state)
			continue;
		if (o->f == HIST_WRITE)
			next = o->value;
		if (o->f == HIST_CAS) {
			if (o->cas_old != state)
				continue;
			next = o->cas_new;
		}
		b->used[i] = true;
		bool ok = bf_search(b, next);
		b->used[i] = false;
		if (ok)
			return true;
	}
	return false;
}

static bool bf_linearizable(const struct history *h)
{
	struct bf b = { .n = 0 };
	for (size_t i = 0; i < h->n; i++) {
		const struct hist_op *o = &h->ops[i];
		if (o->result == HIST_FAIL || (o->f == HIST_READ && o->result != HIST_OK))
			continue;
		b.ops[b.n++] = o;
	}
	return bf_search(&b, HIST_NIL);
}

/* Random tiny histories over values {nil, 1, 2, 3}: reads return anything,
 * so many are not linearizable; both checkers must agree on every one. */
static void test_against_brute_force(void **state)
{
	uint64_t rs = 42;
	int agree[2] = { 0, 0 };
	for (int t = 0; t < 20000; t++) {
		struct history h;
		hist_init(&h);
		int nproc = 2 + (int)(gen_rand(&rs) % 3), nops = 3 + (int)(gen_rand(&rs) % 7);
		int64_t next[4] = { 0, 0, 0, 0 };
		for (int i = 0; i < nops; i++) {
			int p = (int)(gen_rand(&rs) % (uint64_t)nproc);
			int64_t inv = next[p] + (int64_t)(gen_rand(&rs) % 5);
			int64_t done = inv + (int64_t)(gen_rand(&rs) % 8);
			next[p] = done + 1;
			int64_t v = (int64_t)(gen_rand(&rs) % 4), v2 = (int64_t)(gen_rand(&rs) % 4);
			if (v == 0)
				v = HIST_NIL;
			enum hist_f f = (enum hist_f)(gen_rand(&rs) % 3);
			uint64_t r = gen_rand(&rs) % 10;
			enum hist_result res = r < 7 ? HIST_OK : r < 9 ? HIST_INFO : HIST_FAIL;
			long id = hist_invoke(&h, p, f, "k", f == HIST_WRITE ? v : HIST_NIL,
			                      f == HIST_CAS ? v : HIST_NIL, f == HIST_CAS ? v2 + 1 : HIST_NIL,
			                      "n", inv);
			hist_complete(&h, id, res, v, NULL, done);
		}
		struct lin_result lr;
		check(&h, 0, &lr);
		bool want = bf_linearizable(&h);
		if (lr.ok != want) {
			for (size_t i = 0; i < h.n; i++) {
				char d[128];
				const struct hist_op *o = &h.ops[i];
				snprintf(d, sizeof(d), "p%d %s v=%lld old=%lld new=%lld %s [%lld,%lld]",
				         o->process, hist_f_name(o->f), (long long)o->value,
				         (long long)o->cas_old, (long long)o->cas_new,
				         hist_result_name(o->result), (long long)o->invoke_ns,
				         (long long)o->complete_ns);
				printf("  %s\n", d);
			}
			fail_msg("case %d: lin_check says %d, brute force %d (%s)", t, lr.ok, want,
			         lr.nkeys ? lr.keys[0].why : "");
		}
		agree[want]++;
		lin_result_free(&lr);
		hist_free(&h);
	}
	printf("brute force: %d linearizable, %d not, all agreed\n", agree[1], agree[0]);
	assert_true(agree[0] > 1000 && agree[1] > 1000);
}

static void test_bad_input(void **state)
{
	static const struct {
		const char *file, *want[2];
	} cases[] = {
		{ "bad_input_malformed.json", { "malformed JSON at line 4", "event 1" } },
		{ "bad_input_types.json", { "event 1", "\"process\" must be an integer" } },
		{ "bad_input_orphan.json", { "event 2", "process 1, which has no open operation" } },
		{ "bad_input_value.json", { "event 0", "cas value must be" } },
		{ "no_such_file.json", { "no_such_file.json", "No such file" } },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct history h;
		char path[512], err[512];
		snprintf(path, sizeof(path), DATA "%s", cases[i].file);
		hist_init(&h);
		int rc = hist_read_json(&h, path, err, sizeof(err));
		printf("%s\n", err);
		assert_true(rc < 0);
		assert_non_null(strstr(err, cases[i].file));
		for (int j = 0; j < 2; j++)
			if (!strstr(err, cases[i].want[j]))
				fail_msg("\"%s\" does not say \"%s\"", err, cases[i].want[j]);
		hist_free(&h);
	}
	/* out-of-range numbers are errors, not undefined behaviour */
	const char *texts[] = {
		"[{\"type\":\"invoke\",\"f\":\"write\",\"process\":1e300,\"time\":1,\"value\":[\"k\",1]}]",
		"[{\"type\":\"invoke\",\"f\":\"write\",\"process\":1,\"time\":1,\"value\":[\"k\",1e300]}]",
		"[{\"type\":\"invoke\",\"f\":\"write\",\"process\":1,\"time\":-5,\"value\":[\"k\",1]}]",
		"{\"type\":\"invoke\"}",
	};
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		struct history h;
		char err[512];
		hist_init(&h);
		assert_int_equal(hist_parse_json(&h, texts[i], "t.json", err, sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, "t.json"));
		hist_free(&h);
	}
}

static int run_check(const char *a1, const char *a2, const char *a3)
{
	char *argv[5] = { "check", (char *)a1, (char *)a2, (char *)a3, NULL };
	int argc = 1 + (a1 != NULL) + (a2 != NULL) + (a3 != NULL);
	fflush(stdout);
	return cmd_check(argc, argv);
}

static void test_cmd_check(void **state)
{
	assert_int_equal(run_check(DATA "lin_cas_chain.json", NULL, NULL), 0);
	assert_int_equal(run_check(DATA "lin_info.json", "--json", NULL), 0);
	assert_int_equal(run_check(DATA "bad_stale_read.json", NULL, NULL), 1);
	assert_int_equal(run_check(DATA "bad_never_written.json", "--json", "--timeout=10"), 1);
	assert_int_equal(run_check(DATA "bad_input_types.json", NULL, NULL), 2);
	assert_int_equal(run_check(NULL, NULL, NULL), 2);
	assert_int_equal(run_check(DATA "lin_info.json", "--timeout=x", NULL), 2);
	assert_int_equal(run_check(DATA "lin_info.json", "--bogus", NULL), 2);
	/* a history that cannot be decided in 50 ms */
	struct history h;
	char tmp[64], err[512];
	snprintf(tmp, sizeof(tmp), "/tmp/test_lincheck_h.%d.json", (int)getpid());
	hard_history(&h);
	if (hist_write_json(&h, tmp, err, sizeof(err)))
		fail_msg("%s", err);
	hist_free(&h);
	assert_int_equal(run_check(tmp, "--timeout=0.05", NULL), 3);
	unlink(tmp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_linearizable_files),
		cmocka_unit_test(test_violations),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_generated),
		cmocka_unit_test(test_zero_length_roundtrip),
		cmocka_unit_test(test_against_brute_force),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_cmd_check),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
