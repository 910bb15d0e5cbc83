/*
 * The Raft store: the LMDB log and stable store, snapshot files, damage
 * detection, map growth, and a SIGKILL-in-the-middle crash test. Each test
 * works in its own directory under /tmp, removed at the end.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <lmdb.h>

#include "store/store.h"
#include "store/store_priv.h"

/* ---- helpers ---- */

/* The test's directory, also removed by the teardown when a test fails. */
static char *test_dir;

static char *make_dir(void)
{
	char *d = strdup("/tmp/cc-store-XXXXXX");
	assert_non_null(d);
	assert_non_null(mkdtemp(d));
	test_dir = d;
	return d;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void remove_dir(char *d)
{
	nftw(d, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(d);
	if (d == test_dir)
		test_dir = NULL;
}

static int teardown(void **state)
{
	if (test_dir)
		remove_dir(test_dir);
	return 0;
}

static struct store *open_store(const char *dir)
{
	struct store *s = NULL;
	char err[512] = "";
	int rc = store_open(dir, &s, err, sizeof(err));
	if (rc)
		fail_msg("store_open %s: %d %s", dir, rc, err);
	return s;
}

/* The data of entry i: its length and bytes follow from the index alone, so a
 * reader can check any entry (length 0 every 200th). */
static size_t pattern_len(uint64_t i)
{
	return (size_t)((i * 37) % 200);
}

static uint8_t pattern_byte(uint64_t i, size_t j)
{
	return (uint8_t)(i * 131 + j * 7 + (i >> 8));
}

static uint64_t pattern_term(uint64_t i)
{
	return i / 100 + 1;
}

static void fill_pattern(uint64_t i, uint8_t *buf)
{
	for (size_t j = 0; j < pattern_len(i); j++)
		buf[j] = pattern_byte(i, j);
}

static bool matches_pattern(const struct raft_entry *e)
{
	if (e->term != pattern_term(e->index) || e->type != RAFT_ENTRY_COMMAND ||
	    e->len != pattern_len(e->index) || !e->data)
		return false;
	for (size_t j = 0; j < e->len; j++)
		if (e->data[j] != pattern_byte(e->index, j))
			return false;
	return true;
}

/* Appends the pattern entries [from, to] in one committed batch. */
static void append_pattern(struct store *s, uint64_t from, uint64_t to)
{
	size_t n = (size_t)(to - from + 1);
	struct raft_entry *es = calloc(n, sizeof(*es));
	uint8_t *buf = malloc(n * 200 + 1);
	assert_non_null(es);
	assert_non_null(buf);
	for (size_t k = 0; k < n; k++) {
		uint64_t i = from + k;
		fill_pattern(i, buf + k * 200);
		es[k] = (struct raft_entry){ .index = i, .term = pattern_term(i),
			                     .type = RAFT_ENTRY_COMMAND, .data = buf + k * 200,
			                     .len = pattern_len(i) };
	}
	char err[512] = "";
	assert_int_equal(store_begin(s, err, sizeof(err)), 0);
	assert_int_equal(store_append(s, es, n), 0);
	int rc = store_commit(s, err, sizeof(err));
	if (rc)
		fail_msg("commit: %d %s", rc, err);
	free(es);
	free(buf);
}

/* A walk that records what it saw and checks the pattern. */
struct walk {
	uint64_t count, first, last;
	bool pattern_ok, contiguous;
	uint64_t stop_at;        /* return 42 at this index (0: never) */
};

static int walk_cb(void *ud, const struct raft_entry *e)
{
	struct walk *w = ud;
	if (w->count == 0) {
		w->first = e->index;
		w->pattern_ok = w->contiguous = true;
	} else if (e->index != w->last + 1) {
		w->contiguous = false;
	}
	w->last = e->index;
	w->count++;
	if (!matches_pattern(e))
		w->pattern_ok = false;
	return e->index == w->stop_at ? 42 : 0;
}

static void expect_range(struct store *s, uint64_t first, uint64_t last)
{
	uint64_t f = 99, l = 99;
	assert_int_equal(store_log_range(s, &f, &l), 0);
	assert_int_equal(f, first);
	assert_int_equal(l, last);
}

static void expect_pattern_log(struct store *s, uint64_t first, uint64_t last)
{
	expect_range(s, first, last);
	struct walk w = { 0 };
	char err[512] = "";
	int rc = store_log_walk(s, 0, walk_cb, &w, err, sizeof(err));
	if (rc)
		fail_msg("walk: %d %s", rc, err);
	assert_int_equal(w.count, last ? last - first + 1 : 0);
	if (last) {
		assert_true(w.contiguous);
		assert_true(w.pattern_ok);
		assert_int_equal(w.first, first);
		assert_int_equal(w.last, last);
	}
}

static void snap_path(const char *dir, uint64_t term, uint64_t index, char *out, size_t len)
{
	snprintf(out, len, "%s/raft/snapshots/%" PRIu64 "-%" PRIu64 ".snap", dir, term, index);
}

static size_t count_snap_files(const char *dir, const char *suffix)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "ls %s/raft/snapshots | grep -c '%s$'", dir, suffix);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	unsigned n = 0;
	assert_int_equal(fscanf(p, "%u", &n), 1);
	pclose(p);
	return n;
}

static bool file_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

static void flip_byte(const char *path, off_t off)
{
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	uint8_t b;
	assert_int_equal(pread(fd, &b, 1, off), 1);
	b ^= 0x20;
	assert_int_equal(pwrite(fd, &b, 1, off), 1);
	close(fd);
}

static off_t file_size(const char *path)
{
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	return st.st_size;
}

static struct raft_configuration three_servers(void)
{
	struct raft_configuration c = { .n = 3 };
	snprintf(c.s[0].id, RAFT_ID_MAX, "0b5e4c1a-7d2f-4b8e-9a61-3c2f1e0d9b7a");
	snprintf(c.s[0].addr, RAFT_ADDR_MAX, "10.0.0.1:8300");
	c.s[0].voter = true;
	/* The longest id and address that fit. */
	memset(c.s[1].id, 'i', RAFT_ID_MAX - 1);
	memset(c.s[1].addr, 'a', RAFT_ADDR_MAX - 1);
	c.s[1].voter = true;
	snprintf(c.s[2].id, RAFT_ID_MAX, "n3");
	snprintf(c.s[2].addr, RAFT_ADDR_MAX, "[::1]:8300");
	c.s[2].voter = false;
	return c;
}

static void save_snap(struct store *s, uint64_t index, uint64_t term, size_t len)
{
	struct raft_configuration c = three_servers();
	uint8_t *data = malloc(len + 1);
	assert_non_null(data);
	for (size_t j = 0; j < len; j++)
		data[j] = (uint8_t)(j * 13 + index);
	char err[512] = "";
	int rc = store_snapshot_save(s, index, term, &c, data, len, err, sizeof(err));
	if (rc)
		fail_msg("snapshot save: %d %s", rc, err);
	free(data);
}

static void expect_latest(struct store *s, uint64_t index, uint64_t term, size_t len)
{
	struct store_snapshot snap;
	char err[512] = "";
	int rc = store_snapshot_latest(s, &snap, err, sizeof(err));
	if (rc)
		fail_msg("snapshot latest: %d %s", rc, err);
	assert_int_equal(snap.index, index);
	assert_int_equal(snap.term, term);
	assert_int_equal(snap.len, len);
	for (size_t j = 0; j < len; j++)
		if (snap.data[j] != (uint8_t)(j * 13 + index))
			fail_msg("snapshot byte %zu differs", j);
	struct raft_configuration c = three_servers();
	assert_int_equal(snap.conf.n, c.n);
	for (unsigned i = 0; i < c.n; i++) {
		assert_string_equal(snap.conf.s[i].id, c.s[i].id);
		assert_string_equal(snap.conf.s[i].addr, c.s[i].addr);
		assert_int_equal(snap.conf.s[i].voter, c.s[i].voter);
	}
	store_snapshot_release(&snap);
	assert_null(snap.data);
}

/* ---- tests ---- */

static void test_empty(void **state)
{
	char *dir = make_dir();
	struct store *s = open_store(dir);
	assert_false(store_has_state(s));
	expect_range(s, 0, 0);
	uint64_t term = 9;
	char vote[RAFT_ID_MAX] = "x";
	assert_int_equal(store_hard_state(s, &term, vote), 0);
	assert_int_equal(term, 0);
	assert_string_equal(vote, "");
	struct walk w = { 0 };
	assert_int_equal(store_log_walk(s, 0, walk_cb, &w, NULL, 0), 0);
	assert_int_equal(w.count, 0);
	struct store_snapshot snap;
	char err[64] = "";
	assert_int_equal(store_snapshot_latest(s, &snap, err, sizeof(err)), -ENOENT);
	assert_string_equal(err, "");
	assert_string_equal(store_last_error(s), "");
	/* Children (check scripts) must not inherit the data file. */
	int fd;
	assert_int_equal(mdb_env_get_fd(s->env, &fd), 0);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	/* Writes need a batch; commit without one is an error, not a crash. */
	assert_int_equal(store_append(s, NULL, 0), -EINVAL);
	assert_int_equal(store_commit(s, err, sizeof(err)), -EINVAL);
	store_abort(s);
	store_close(s);

	char path[512];
	struct stat st;
	snprintf(path, sizeof(path), "%s/raft", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	snprintf(path, sizeof(path), "%s/raft/snapshots", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	snprintf(path, sizeof(path), "%s/raft/raft.db", dir);
	assert_true(file_exists(path));
	snprintf(path, sizeof(path), "%s/raft/raft.db-lock", dir);
	assert_true(file_exists(path));
	/* A reopened empty store is still empty. */
	s = open_store(dir);
	assert_false(store_has_state(s));
	store_close(s);
	store_close(NULL);
	remove_dir(dir);
}

static void test_open_errors(void **state)
{
	char *dir = make_dir();
	char path[512], err[512] = "";
	struct store *s = (struct store *)1;
	/* data_dir/raft is a file: named in the message. */
	snprintf(path, sizeof(path), "%s/raft", dir);
	int fd = open(path, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(store_open(dir, &s, err, sizeof(err)), -ENOTDIR);
	assert_null(s);
	assert_non_null(strstr(err, path));
	assert_int_equal(store_open("", &s, NULL, 0), -EINVAL);
	remove_dir(dir);
}

static void test_hard_state(void **state)
{
	char *dir = make_dir();
	struct store *s = open_store(dir);
	char err[512] = "", vote[RAFT_ID_MAX];
	uint64_t term;
	assert_int_equal(store_begin(s, err, sizeof(err)), 0);
	assert_int_equal(store_begin(s, err, sizeof(err)), -EBUSY);
	assert_int_equal(store_set_hard_state(s, 5, "node-a"), 0);
	/* Reads inside the batch see it. */
	assert_int_equal(store_hard_state(s, &term, vote), 0);
	assert_int_equal(term, 5);
	assert_int_equal(store_commit(s, err, sizeof(err)), 0);
	assert_true(store_has_state(s));
	store_close(s);

	s = open_store(dir);
	assert_true(store_has_state(s));
	assert_int_equal(store_hard_state(s, &term, vote), 0);
	assert_int_equal(term, 5);
	assert_string_equal(vote, "node-a");

	/* The longest vote; then none. */
	char longest[RAFT_ID_MAX];
	memset(longest, 'v', RAFT_ID_MAX - 1);
	longest[RAFT_ID_MAX - 1] = '\0';
	assert_int_equal(store_begin(s, err, sizeof(err)), 0);
	assert_int_equal(store_set_hard_state(s, 6, longest), 0);
	assert_int_equal(store_commit(s, err, sizeof(err)), 0);
	assert_int_equal(store_hard_state(s, &term, vote), 0);
	assert_string_equal(vote, longest);
	assert_int_equal(store_begin(s, err, sizeof(err)), 0);
	assert_int_equal(store_set_hard_state(s, UINT64_MAX, NULL), 0);
	assert_int_equal(store_commit(s, err, sizeof(err)), 0);
	store_close(s);

	s = open_store(dir);
	assert_int_equal(store_hard_state(s, &term, vote), 0);
	assert_true(term == UINT64_MAX);
	assert_string_equal(vote, "");

	/* A vote too long poisons the batch: commit reports it, nothing changes. */
	char too_long[RAFT_ID_MAX + 1];
	memset(too_long, 'x', RAFT_ID_MAX);
	too_long[RAFT_ID_MAX] = '\0';
	assert_int_equal(store_begin(s, err, sizeof(err)), 0);
	assert_int_equal(store_set_hard_state(s, 7, too_long), -EINVAL);
	assert_int_equal(store_set_hard_state(s, 8, "ok"), -EINVAL);
	assert_int_equal(store_commit(s, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "vote"));
	assert_non_null(strstr(err, "raft.db"));
	assert_int_equal(store_hard_state(s, &term, vote), 0);
	assert_true(term == UINT64_MAX);
	store_close(s);
	remove_dir(dir);
}

static int copy_cb(void *ud, const struct raft_entry *e)
{
	struct raft_entry *out = ud;
	struct raft_entry *slot = &out[e->index];
	uint8_t *d = malloc(e->len + 1);
	assert_non_null(d);
	assert_non_null(e->data);
	memcpy(d, e->data, e->len);
	*slot = *e;
	slot->data = d;
	return 0;
}

static void test_append_walk(void **state)
{
	char *dir = make_dir();
	struct store *s = open_store(dir);
	enum { N = 300 };
	static struct raft_entry in[N + 1], out[N + 1];
	static uint8_t bufs[N + 1][256];
	for (unsigned i = 1; i <= N; i++) {
		size_t len = i % 7 == 0 ? 0 : (i * 11) % 257;
		for (size_t j = 0; j < len; j++)
			bufs[i][j] = (uint8_t)(i + j);   /* every byte value, NULs included */
		in[i] = (struct raft_entry){ .index = i, .term = 1 + i / 50,
			                     .type = (enum raft_entry_type)(1 + i % 3),
			                     .data = len ? bufs[i] : NULL, .len = len };
	}
	char err[512] = "";
	/* Three batches, the last bigger than a page. */
	assert_int_equal(store_begin(s, err, sizeof(err)), 0);
	assert_int_equal(store_append(s, &in[1], 1), 0);
	assert_int_equal(store_append(s, &in[2], 9), 0);
	assert_int_equal(store_commit(s, err, sizeof(err)), 0);
	assert_true(store_has_state(s));
	assert_int_equal(store_begin(s, err, sizeof(err)), 0);
	assert_int_equal(store_append(s, &in[11], N - 10), 0);
	assert_int_equal(store_append(s, NULL, 0), 0);
	assert_int_equal(store_commit(s, err, sizeof(err)), 0);
	store_close(s);

	s = open_store(dir);
	expect_range(s, 1, N);
	memset(out, 0, sizeof(out));
	assert_int_equal(store_log_walk(s, 1, copy_cb, out, err, sizeof(err)), 0);
	for (unsigned i = 1; i <= N; i++) {
		assert_int_equal(out[i].index, i);
		assert_int_equal(out[i].term, in[i].term);
		assert_int_equal(out[i].type, in[i].type);
		assert_int_equal(out[i].len, in[i].len);
		if (in[i].len)
			assert_memory_equal(out[i].data, in[i].data, in[i].len);
		free((void *)out[i].data);
	}
	/* From the middle; from past the end; a callback that stops. */
	struct walk w = { 0 };
	memset(out, 0, sizeof(out));
	assert_int_equal(store_log_walk(s, 250, copy_cb, out, err, sizeof(err)), 0);
	assert_int_equal(out[249].index, 0);
	assert_int_equal(out[250].index, 250);
	assert_int_equal(out[N].index, N);
	for (unsigned i = 250; i <= N; i++)
		free((void *)out[i].data);
	assert_int_equal(store_log_walk(s, N + 1, walk_cb, &w, err, sizeof(err)), 0);
	assert_int_equal(w.count, 0);
	w.stop_at = 5;
	assert_int_equal(store_log_walk(s, 3, walk_cb, &w, err, sizeof(err)), 42);
	assert_int_equal(w.count, 3);

	/* Bad appends: a gap after the log, a non-contiguous batch, index 0, a
	 * bad type. Each poisons its batch and changes nothing. */
	struct raft_entry bad[2] = {
		{ .index = N + 2, .term = 9, .type = RAFT_ENTRY_NOOP },
		{ .index = N + 3, .term = 9, .type = RAFT_ENTRY_NOOP },
	};
	assert_int_equal(store_begin(s, err, sizeof(err)), 0);
	assert_int_equal(store_append(s, bad, 2), -EINVAL);
	assert_int_equal(store_commit(s, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "truncate first"));
	bad[0].index = N + 1;
	bad[1].index = N + 5;
	assert_int_equal(store_begin(s, err, sizeof(err)), 0);
	assert_int_equal(store_append(s, bad, 2), -EINVAL);
	store_abort(s);
	bad[0].index = 0;
	assert_int_equal(store_begin(s, err, sizeof(err)), 0);
	assert_int_equal(store_append(s, bad, 1), -EINVAL);
	store_abort(s);
	bad[0].index = N + 1;
	bad[0].type = (enum raft_entry_type)7;
	assert_int_equal(store_begin(s, err, sizeof(err)), 0);
	assert_int_equal(store_append(s, bad, 1), -EINVAL);
	assert_non_null(strstr(store_last_error(s), "malformed"));
	store_abort(s);
	expect_range(s, 1, N);
	store_close(s);
	remove_dir(dir);
}

static void test_truncate_append(void **state)
{
	char *dir = make_dir();
	struct store *s = open_store(dir);
	append_pattern(s, 1, 10);
	char err[512] = "";
	uint8_t d[2] = { 0xde, 0xad };
	struct raft_entry e[3] = {
		{ .index = 6, .term = 7, .type = RAFT_ENTRY_COMMAND, .data = d, .len = 2 },
		{ .index = 7, .term = 7, .type = RAFT_ENTRY_CONFIG, .data = d, .len = 1 },
		{ .index = 8, .term = 7, .type = RAFT_ENTRY_NOOP },
	};
	assert_int_equal(store_begin(s, err, sizeof(err)), 0);
	assert_int_equal(store_truncate(s, 6), 0);
	/* Inside the batch the reads already see the shorter log. */
	expect_range(s, 1, 5);
	assert_int_equal(store_append(s, e, 3), 0);
	assert_int_equal(store_commit(s, err, sizeof(err)), 0);
	store_close(s);

	s = open_store(dir);
	expect_range(s, 1, 8);
	struct walk w = { .stop_at = 5 };
	assert_int_equal(store_log_walk(s, 1, walk_cb, &w, err, sizeof(err)), 42);
	assert_true(w.pattern_ok);           /* 1..5 untouched */
	static struct raft_entry out[16];
	assert_int_equal(store_log_walk(s, 6, copy_cb, out, err, sizeof(err)), 0);
	for (int i = 6; i <= 8; i++) {
		assert_int_equal(out[i].term, 7);
		assert_int_equal(out[i].type, e[i - 6].type);
		assert_int_equal(out[i].len, e[i - 6].len);
		assert_memory_equal(out[i].data, d, out[i].len);
		free((void *)out[i].data);
	}
	/* Truncating past the end does nothing; truncating at 1 (or 0) empties. */
	assert_int_equal(store_begin(s, err, sizeof(err)), 0);
	assert_int_equal(store_truncate(s, 100), 0);
	assert_int_equal(store_commit(s, err, sizeof(err)), 0);
	expect_range(s, 1, 8);
	assert_int_equal(store_begin(s, err, sizeof(err)), 0);
	assert_int_equal(store_truncate(s, 0), 0);
	assert_int_equal(store_commit(s, err, sizeof(err)), 0);
	expect_range(s, 0, 0);
	assert_false(store_has_state(s));
	store_close(s);
	remove_dir(dir);
}

static void test_delete_prefix(void **state)
{
	char *dir = make_dir();
	struct store *s = open_store(dir);
	append_pattern(s, 1, 400);
	char err[512] = "";
	assert_int_equal(store_begin(s, err, sizeof(err)), 0);
	assert_int_equal(store_delete_prefix(s, 101), 0);
	assert_int_equal(store_commit(s, err, sizeof(err)), 0);
	store_close(s);
	s = open_store(dir);
	expect_pattern_log(s, 101, 400);
	/* Deleting below the first does nothing; then everything goes, and the
	 * empty log accepts any next index (a snapshot install). */
	assert_int_equal(store_begin(s, err, sizeof(err)), 0);
	assert_int_equal(store_delete_prefix(s, 50), 0);
	assert_int_equal(store_commit(s, err, sizeof(err)), 0);
	expect_range(s, 101, 400);
	assert_int_equal(store_begin(s, err, sizeof(err)), 0);
	assert_int_equal(store_delete_prefix(s, 1000), 0);
	assert_int_equal(store_commit(s, err, sizeof(err)), 0);
	expect_range(s, 0, 0);
	append_pattern(s, 5000, 5010);
	expect_pattern_log(s, 5000, 5010);
	store_close(s);
	remove_dir(dir);
}

static void test_abort(void **state)
{
	char *dir = make_dir();
	struct store *s = open_store(dir);
	append_pattern(s, 1, 20);
	char err[512] = "", vote[RAFT_ID_MAX];
	uint64_t term;
	assert_int_equal(store_begin(s, err, sizeof(err)), 0);
	assert_int_equal(store_set_hard_state(s, 3, "b"), 0);
	assert_int_equal(store_truncate(s, 10), 0);
	assert_int_equal(store_delete_prefix(s, 5), 0);
	expect_range(s, 5, 9);
	store_abort(s);
	store_abort(s);       /* twice is harmless */
	expect_pattern_log(s, 1, 20);
	assert_int_equal(store_hard_state(s, &term, vote), 0);
	assert_int_equal(term, 0);
	/* A batch left open at close is discarded too. */
	assert_int_equal(store_begin(s, err, sizeof(err)), 0);
	assert_int_equal(store_set_hard_state(s, 4, "c"), 0);
	store_close(s);
	s = open_store(dir);
	assert_int_equal(store_hard_state(s, &term, vote), 0);
	assert_int_equal(term, 0);
	expect_pattern_log(s, 1, 20);
	store_close(s);
	remove_dir(dir);
}

static void test_reopen_keeps_everything(void **state)
{
	char *dir = make_dir();
	struct store *s = open_store(dir);
	char err[512] = "", vote[RAFT_ID_MAX];
	uint64_t term;
	for (uint64_t b = 0; b < 10; b++) {
		append_pattern(s, b * 50 + 1, b * 50 + 50);
		assert_int_equal(store_begin(s, err, sizeof(err)), 0);
		assert_int_equal(store_set_hard_state(s, b + 1, b % 2 ? "x" : "y"), 0);
		assert_int_equal(store_commit(s, err, sizeof(err)), 0);
	}
	save_snap(s, 300, 4, 1000);
	store_close(s);
	for (int round = 0; round < 3; round++) {
		s = open_store(dir);
		assert_true(store_has_state(s));
		expect_pattern_log(s, 1, 500);
		assert_int_equal(store_hard_state(s, &term, vote), 0);
		assert_int_equal(term, 10);
		assert_string_equal(vote, "x");
		expect_latest(s, 300, 4, 1000);
		store_close(s);
	}
	remove_dir(dir);
}

static void test_snapshot_roundtrip(void **state)
{
	char *dir = make_dir();
	struct store *s = open_store(dir);
	/* Tens of MB, as a real state machine can be. */
	size_t big = 24u << 20;
	save_snap(s, 1000, 3, big);
	assert_true(store_has_state(s));
	expect_latest(s, 1000, 3, big);
	store_close(s);

	/* Only a snapshot: still state. Empty data and an empty configuration
	 * round-trip too. */
	s = open_store(dir);
	assert_true(store_has_state(s));
	expect_latest(s, 1000, 3, big);
	struct raft_configuration empty = { 0 };
	char err[512] = "";
	assert_int_equal(store_snapshot_save(s, 2000, 4, &empty, NULL, 0, err, sizeof(err)), 0);
	struct store_snapshot snap;
	assert_int_equal(store_snapshot_latest(s, &snap, err, sizeof(err)), 0);
	assert_int_equal(snap.index, 2000);
	assert_int_equal(snap.term, 4);
	assert_int_equal(snap.len, 0);
	assert_int_equal(snap.conf.n, 0);
	store_snapshot_release(&snap);
	/* A configuration that cannot be stored is refused. */
	struct raft_configuration bad = { .n = RAFT_MAX_SERVERS + 1 };
	assert_int_equal(store_snapshot_save(s, 3000, 4, &bad, NULL, 0, err, sizeof(err)),
	                 -EINVAL);
	assert_non_null(strstr(err, "snapshots"));
	store_close(s);
	remove_dir(dir);
}

static void test_snapshot_keeps_two(void **state)
{
	char *dir = make_dir();
	struct store *s = open_store(dir);
	save_snap(s, 100, 1, 5000);
	save_snap(s, 200, 2, 6000);
	assert_int_equal(count_snap_files(dir, ".snap"), 2);
	save_snap(s, 300, 2, 7000);
	assert_int_equal(count_snap_files(dir, ".snap"), 2);
	assert_int_equal(count_snap_files(dir, ".tmp"), 0);
	char path[512];
	snap_path(dir, 1, 100, path, sizeof(path));
	assert_false(file_exists(path));
	snap_path(dir, 2, 200, path, sizeof(path));
	assert_true(file_exists(path));
	expect_latest(s, 300, 2, 7000);
	/* Same index, later term (a leader's snapshot replacing ours) wins. */
	save_snap(s, 300, 3, 100);
	expect_latest(s, 300, 3, 100);
	assert_int_equal(count_snap_files(dir, ".snap"), 2);
	store_close(s);
	remove_dir(dir);
}

static void test_snapshot_flipped_byte(void **state)
{
	char *dir = make_dir();
	struct store *s = open_store(dir);
	save_snap(s, 10, 1, 3000);
	save_snap(s, 20, 1, 3000);
	char path[512];
	snap_path(dir, 1, 20, path, sizeof(path));
	off_t size = file_size(path);
	/* Magic, version, index, term, conf length, conf, data length, data, CRC. */
	off_t offs[] = { 0, 9, 15, 27, 31, 40, 100, size - 3010, 500, size / 2, size - 5,
		         size - 1 };
	for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		flip_byte(path, offs[i]);
		expect_latest(s, 10, 1, 3000);
		flip_byte(path, offs[i]);
		expect_latest(s, 20, 1, 3000);
	}
	/* A stray .tmp from a crash mid-save goes at the next open. */
	char tmp[600];
	snprintf(tmp, sizeof(tmp), "%s/raft/snapshots/1-30.snap.tmp", dir);
	int fd = open(tmp, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "half", 4), 4);
	close(fd);
	expect_latest(s, 20, 1, 3000);
	store_close(s);
	s = open_store(dir);
	assert_false(file_exists(tmp));
	expect_latest(s, 20, 1, 3000);
	store_close(s);
	remove_dir(dir);
}

static void test_snapshot_cut_tail(void **state)
{
	char *dir = make_dir();
	struct store *s = open_store(dir);
	save_snap(s, 10, 1, 3000);
	save_snap(s, 20, 2, 3000);
	char p10[512], p20[512];
	snap_path(dir, 1, 10, p10, sizeof(p10));
	snap_path(dir, 2, 20, p20, sizeof(p20));
	off_t size = file_size(p20);
	assert_int_equal(truncate(p20, size - 1), 0);
	expect_latest(s, 10, 1, 3000);
	assert_int_equal(truncate(p20, 20), 0);
	expect_latest(s, 10, 1, 3000);
	assert_int_equal(truncate(p20, 0), 0);
	expect_latest(s, 10, 1, 3000);
	/* Junk after the end is damage too. */
	int fd = open(p10, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "x", 1), 1);
	close(fd);
	/* Nothing valid left: -ENOENT, and the message names the newest file. */
	struct store_snapshot snap;
	char err[1024] = "";
	assert_int_equal(store_snapshot_latest(s, &snap, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, p20));
	assert_null(snap.data);
	/* A file renamed to another index does not pass either. */
	save_snap(s, 30, 2, 100);
	char p30[512], p40[512];
	snap_path(dir, 2, 30, p30, sizeof(p30));
	snap_path(dir, 2, 40, p40, sizeof(p40));
	assert_int_equal(rename(p30, p40), 0);
	assert_int_equal(store_snapshot_latest(s, &snap, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "header says"));
	store_close(s);
	remove_dir(dir);
}

/* Writes raw bytes under a raw key in "logs", as damage would. */
static void poke_log(const char *dir, const void *key, size_t klen, const void *val,
                     size_t vlen)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/raft/raft.db", dir);
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 2), 0);
	assert_int_equal(mdb_env_open(env, path, MDB_NOSUBDIR, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "logs", 0, &dbi), 0);
	MDB_val k = { klen, (void *)key }, v = { vlen, (void *)val };
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

static void test_corrupt_log_value(void **state)
{
	char *dir = make_dir();
	struct store *s = open_store(dir);
	append_pattern(s, 1, 10);
	store_close(s);

	uint8_t key[8];
	store_put_be64(key, 5);
	poke_log(dir, key, 8, "abc", 3);
	s = open_store(dir);
	struct walk w = { 0 };
	char err[512] = "";
	assert_int_equal(store_log_walk(s, 1, walk_cb, &w, err, sizeof(err)), -EIO);
	assert_int_equal(w.count, 4);
	assert_non_null(strstr(err, "log entry 5"));
	assert_non_null(strstr(err, "too short"));
	assert_non_null(strstr(err, "raft.db"));
	/* Walking from after the damage works. */
	memset(&w, 0, sizeof(w));
	assert_int_equal(store_log_walk(s, 6, walk_cb, &w, err, sizeof(err)), 0);
	assert_int_equal(w.count, 5);
	store_close(s);

	/* Garbage long enough to look like an entry: the checksum catches it. */
	uint8_t junk[40];
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 29 + 1);
	junk[0] = 1;            /* even the right version and a valid type */
	junk[1] = 1;
	store_put_be64(key, 7);
	poke_log(dir, key, 8, junk, sizeof(junk));
	s = open_store(dir);
	assert_int_equal(store_log_walk(s, 6, walk_cb, &w, err, sizeof(err)), -EIO);
	assert_non_null(strstr(err, "log entry 7"));
	assert_non_null(strstr(err, "checksum"));
	store_close(s);

	/* A valid entry copied under another key does not pass either. */
	s = open_store(dir);
	append_pattern(s, 11, 12);
	store_close(s);
	{
		char path[512];
		snprintf(path, sizeof(path), "%s/raft/raft.db", dir);
		MDB_env *env;
		MDB_txn *txn;
		MDB_dbi dbi;
		assert_int_equal(mdb_env_create(&env), 0);
		assert_int_equal(mdb_env_set_maxdbs(env, 2), 0);
		assert_int_equal(mdb_env_open(env, path, MDB_NOSUBDIR, 0600), 0);
		assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
		assert_int_equal(mdb_dbi_open(txn, "logs", 0, &dbi), 0);
		uint8_t k11[8], k12[8];
		store_put_be64(k11, 11);
		store_put_be64(k12, 12);
		MDB_val k = { 8, k11 }, v;
		assert_int_equal(mdb_get(txn, dbi, &k, &v), 0);
		k.mv_data = k12;
		assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
		assert_int_equal(mdb_txn_commit(txn), 0);
		mdb_env_close(env);
	}
	s = open_store(dir);
	assert_int_equal(store_log_walk(s, 11, walk_cb, &w, err, sizeof(err)), -EIO);
	assert_non_null(strstr(err, "log entry 12"));
	store_close(s);

	/* A key of the wrong size: the range reports it, with a message. */
	poke_log(dir, "\xff\xff\xff", 3, junk, sizeof(junk));
	s = open_store(dir);
	uint64_t first, last;
	assert_int_equal(store_log_range(s, &first, &last), -EIO);
	assert_non_null(strstr(store_last_error(s), "3 bytes"));
	assert_true(store_has_state(s));
	store_close(s);
	remove_dir(dir);
}

static void test_corrupt_hard_state(void **state)
{
	char *dir = make_dir();
	struct store *s = open_store(dir);
	char err[512] = "";
	assert_int_equal(store_begin(s, err, sizeof(err)), 0);
	assert_int_equal(store_set_hard_state(s, 3, "abc"), 0);
	assert_int_equal(store_commit(s, err, sizeof(err)), 0);
	store_close(s);

	char path[512];
	snprintf(path, sizeof(path), "%s/raft/raft.db", dir);
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 2), 0);
	assert_int_equal(mdb_env_open(env, path, MDB_NOSUBDIR, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "stable", 0, &dbi), 0);
	MDB_val k = { 10, "hard_state" }, v = { 5, "\x01xxxx" };
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);

	s = (struct store *)1;
	assert_int_equal(store_open(dir, &s, err, sizeof(err)), -EIO);
	assert_null(s);
	assert_non_null(strstr(err, "hard state"));
	remove_dir(dir);
}

/* A 1 MiB map: a batch too big for it fails with a clear error and the next
 * one finds the map grown; many small batches grow it on the way. */
static void test_map_growth(void **state)
{
	char *dir = make_dir();
	size_t saved = store_map_size_initial;
	store_map_size_initial = 1u << 20;
	struct store *s = open_store(dir);
	enum { N = 48, LEN = 64 * 1024 };
	static uint8_t data[LEN];
	memset(data, 0x5a, sizeof(data));
	struct raft_entry es[N];
	for (unsigned i = 0; i < N; i++)
		es[i] = (struct raft_entry){ .index = i + 1, .term = 1,
			                     .type = RAFT_ENTRY_COMMAND, .data = data, .len = LEN };
	char err[512] = "";
	int rc, tries = 0;
	do {
		assert_int_equal(store_begin(s, err, sizeof(err)), 0);
		rc = store_append(s, es, N);
		int crc = store_commit(s, err, sizeof(err));
		if (rc) {
			assert_int_equal(rc, -ENOSPC);
			assert_int_equal(crc, -ENOSPC);
			assert_non_null(strstr(err, "map is full"));
		}
		rc = crc;
	} while (rc && ++tries < 10);
	assert_int_equal(rc, 0);
	assert_true(tries >= 1);   /* 3 MiB never fit the first map */
	expect_range(s, 1, N);
	/* Small batches up to ~12 MiB: growth happens before they run out. */
	for (unsigned i = N + 1; i <= 4 * N; i++) {
		struct raft_entry e = es[0];
		e.index = i;
		assert_int_equal(store_begin(s, err, sizeof(err)), 0);
		assert_int_equal(store_append(s, &e, 1), 0);
		rc = store_commit(s, err, sizeof(err));
		if (rc)
			fail_msg("commit %u: %s", i, err);
	}
	store_close(s);
	s = open_store(dir);
	expect_range(s, 1, 4 * N);
	struct walk w = { 0 };
	assert_int_equal(store_log_walk(s, 0, walk_cb, &w, err, sizeof(err)), 0);
	assert_int_equal(w.count, 4 * N);
	append_pattern(s, 4 * N + 1, 4 * N + 100);
	store_close(s);
	store_map_size_initial = saved;
	remove_dir(dir);
}

/* ---- crash test ---- */

static uint64_t rng_next(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* The child: appends pattern batches forever, sometimes rewriting its tail
 * (truncate + append, always ending past the old last index, so the reported
 * indexes only grow) or dropping its head, with the hard state's term set to
 * the batch's last index in the same batch; reports each committed last index. */
static void __attribute__((noreturn)) crash_child(const char *dir, int wfd, uint64_t seed)
{
	struct store *s;
	if (store_open(dir, &s, NULL, 0))
		_exit(2);
	uint64_t first, last;
	if (store_log_range(s, &first, &last))
		_exit(3);
	static struct raft_entry es[64];
	static uint8_t bufs[64][200];
	for (uint64_t batch = 0;; batch++) {
		uint64_t from = last + 1;
		if (batch % 5 == 4 && last > first + 10)
			from = last - rng_next(&seed) % 8;       /* rewrite a short tail */
		size_t n = (size_t)(last + 1 - from) + 1 + rng_next(&seed) % 40;
		for (size_t k = 0; k < n; k++) {
			uint64_t i = from + k;
			fill_pattern(i, bufs[k]);
			es[k] = (struct raft_entry){ .index = i, .term = pattern_term(i),
				                     .type = RAFT_ENTRY_COMMAND, .data = bufs[k],
				                     .len = pattern_len(i) };
		}
		uint64_t to = from + n - 1;
		if (store_begin(s, NULL, 0) ||
		    (from <= last && store_truncate(s, from)) ||
		    store_append(s, es, n) ||
		    (batch % 7 == 6 && to > 300 && store_delete_prefix(s, to - 300)) ||
		    store_set_hard_state(s, to, "child") ||
		    store_commit(s, NULL, 0))
			_exit(4);
		last = to;
		if (write(wfd, &last, sizeof(last)) != sizeof(last))
			_exit(5);
	}
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void test_crash_mid_write(void **state)
{
	char *dir = make_dir();
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	uint64_t reported_any = 0;
	for (int round = 0; round < 5; round++) {
		int p[2];
		assert_int_equal(pipe(p), 0);
		uint64_t child_seed = rng_next(&seed);
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(p[0]);
			crash_child(dir, p[1], child_seed);
		}
		close(p[1]);
		/* Read reports until a random moment, then kill: the child is almost
		 * always in the middle of a batch or of LMDB's commit. */
		uint64_t deadline = now_ms() + 150 + rng_next(&seed) % 300;
		uint64_t reported = 0, v;
		for (;;) {
			uint64_t now = now_ms();
			if (now >= deadline)
				break;
			struct pollfd pfd = { p[0], POLLIN, 0 };
			if (poll(&pfd, 1, (int)(deadline - now)) > 0) {
				ssize_t r = read(p[0], &v, sizeof(v));
				if (r == sizeof(v))
					reported = v;
				else if (r == 0)
					break;            /* the child died on its own */
			}
		}
		kill(pid, SIGKILL);
		int status;
		assert_int_equal(waitpid(pid, &status, 0), pid);
		if (!WIFSIGNALED(status))
			fail_msg("round %d: the child exited by itself (status %d)", round,
			         WEXITSTATUS(status));
		while (read(p[0], &v, sizeof(v)) == sizeof(v))
			reported = v;
		close(p[0]);
		reported_any += reported;

		struct store *s = open_store(dir);
		uint64_t first, last, term;
		char vote[RAFT_ID_MAX];
		assert_int_equal(store_log_range(s, &first, &last), 0);
		if (last < reported)
			fail_msg("round %d: last %" PRIu64 " < committed %" PRIu64, round, last,
			         reported);
		/* The hard state came in the same batch as the tail. */
		assert_int_equal(store_hard_state(s, &term, vote), 0);
		if (last) {
			assert_int_equal(term, last);
			assert_string_equal(vote, "child");
		}
		expect_pattern_log(s, first, last);
		print_message("round %d: killed after %" PRIu64 " committed; log %" PRIu64
		              "..%" PRIu64 "\n", round, reported, first, last);
		store_close(s);
	}
	assert_true(reported_any > 0);
	remove_dir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_empty, teardown),
		cmocka_unit_test_teardown(test_open_errors, teardown),
		cmocka_unit_test_teardown(test_hard_state, teardown),
		cmocka_unit_test_teardown(test_append_walk, teardown),
		cmocka_unit_test_teardown(test_truncate_append, teardown),
		cmocka_unit_test_teardown(test_delete_prefix, teardown),
		cmocka_unit_test_teardown(test_abort, teardown),
		cmocka_unit_test_teardown(test_reopen_keeps_everything, teardown),
		cmocka_unit_test_teardown(test_snapshot_roundtrip, teardown),
		cmocka_unit_test_teardown(test_snapshot_keeps_two, teardown),
		cmocka_unit_test_teardown(test_snapshot_flipped_byte, teardown),
		cmocka_unit_test_teardown(test_snapshot_cut_tail, teardown),
		cmocka_unit_test_teardown(test_corrupt_log_value, teardown),
		cmocka_unit_test_teardown(test_corrupt_hard_state, teardown),
		cmocka_unit_test_teardown(test_map_growth, teardown),
		cmocka_unit_test_teardown(test_crash_mid_write, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
