/*
 * store — Raft's log and stable store in one LMDB environment,
 * data_dir/raft/raft.db, written in fsync'd batches (one LMDB write
 * transaction each). Snapshot files live in store_snapshot.c.
 *
 * Layout of the two named databases:
 *   "logs"    key:   the index, 8 bytes big-endian, so LMDB's byte order is
 *                    index order and MDB_APPEND works for appends
 *             value: version(1) type(1) term(8) crc32(4) data
 *   "stable"  key "hard_state": version(1) term(8) vote_len(1) vote crc32(4)
 * Integers are big-endian. Each CRC also covers the key: LMDB checks nothing
 * itself, and a value written under the wrong key or scribbled over must read
 * back as an error, never as a plausible entry.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store/store_priv.h"

#define LOG_VERSION 1
#define LOG_HDR 14                      /* version, type, term, crc */
#define HS_VERSION 1
#define HS_KEY "hard_state"
#define HS_MAX (1 + 8 + 1 + RAFT_ID_MAX + 4)

size_t store_map_size_initial = (size_t)1 << 30;


void store_seterr(char *err, size_t errlen, const char *fmt, ...)
{
	if (!err || !errlen)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* LMDB's codes as negative errno: its own (negative) codes for a full map or
 * transaction become -ENOSPC, a broken file -EIO; system errors pass through. */
static int mdb_errno(int rc)
{
	switch (rc) {
	case 0:
		return 0;
	case MDB_MAP_FULL:
	case MDB_TXN_FULL:
	case MDB_CURSOR_FULL:
	case MDB_PAGE_FULL:
		return -ENOSPC;
	case MDB_NOTFOUND:
		return -ENOENT;
	case MDB_READERS_FULL:
		return -EAGAIN;
	default:
		return rc > 0 ? -rc : -EIO;
	}
}

/* An error of a call without an err buffer: kept for store_last_error. */
static int __attribute__((format(printf, 3, 4)))
fail(struct store *s, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->last_err, sizeof(s->last_err), fmt, ap);
	va_end(ap);
	return rc;
}

/* The first failure inside a batch poisons it: LMDB cannot go on with a
 * transaction after a failed write, and the contract is all or nothing. */
static int __attribute__((format(printf, 3, 4)))
batch_fail(struct store *s, int rc, const char *fmt, ...)
{
	if (s->batch_rc)
		return rc;
	s->batch_rc = rc;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->batch_msg, sizeof(s->batch_msg), fmt, ap);
	va_end(ap);
	memcpy(s->last_err, s->batch_msg, sizeof(s->last_err));
	return rc;
}

static int batch_mdb_fail(struct store *s, int rc, const char *what)
{
	if (rc == MDB_MAP_FULL) {
		/* The map cannot grow under an open transaction; do it before the
		 * next batch, and say so. */
		s->grow = true;
		return batch_fail(s, -ENOSPC, "%s: %s: the map is full; it grows before the "
		                  "next batch", s->db_path, what);
	}
	return batch_fail(s, mdb_errno(rc), "%s: %s: %s", s->db_path, what, mdb_strerror(rc));
}

/* Creates path (mode 0700) unless it is a directory already; *created (if
 * asked) says which, so the caller can make the new name durable. */
static int make_dir(const char *path, bool *created, char *err, size_t errlen)
{
	if (created)
		*created = false;
	if (mkdir(path, 0700) == 0) {
		if (created)
			*created = true;
		return 0;
	}
	int e = errno;
	struct stat st;
	if (e == EEXIST && stat(path, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			return 0;
		e = ENOTDIR;
	}
	store_seterr(err, errlen, "%s: creating the directory: %s", path, strerror(e));
	return -e;
}

/* Another process (a CLI reading the store, say) may have grown the map:
 * LMDB then refuses new transactions until we adopt the new size. */
static int txn_begin(struct store *s, unsigned flags, MDB_txn **txn)
{
	int rc = mdb_txn_begin(s->env, NULL, flags, txn);
	if (rc == MDB_MAP_RESIZED && mdb_env_set_mapsize(s->env, 0) == 0)
		rc = mdb_txn_begin(s->env, NULL, flags, txn);
	return rc;
}

/* Reads go through the open batch when there is one (they see its changes;
 * LMDB also allows only one transaction per thread), else a read-only one. */
static int read_begin(struct store *s, MDB_txn **txn)
{
	if (s->txn) {
		*txn = s->txn;
		return 0;
	}
	int rc = txn_begin(s, MDB_RDONLY, txn);
	if (rc)
		return fail(s, mdb_errno(rc), "%s: starting a read: %s", s->db_path,
		            mdb_strerror(rc));
	return 0;
}

static void read_end(struct store *s, MDB_txn *txn)
{
	if (txn != s->txn)
		mdb_txn_abort(txn);
}

static int key_index(struct store *s, const MDB_val *k, uint64_t *index, char *msg,
                     size_t msglen)
{
	if (k->mv_size != 8) {
		store_seterr(msg, msglen, "%s: a log key of %zu bytes (want 8)", s->db_path, k->mv_size);
		return -EIO;
	}
	*index = store_get_be64(k->mv_data);
	if (*index == 0) {
		store_seterr(msg, msglen, "%s: a log entry at index 0", s->db_path);
		return -EIO;
	}
	return 0;
}

/* First and last index inside txn. */
static int range_in(struct store *s, MDB_txn *txn, uint64_t *first, uint64_t *last)
{
	MDB_cursor *c;
	MDB_val k, v;
	int ret = 0;
	*first = *last = 0;
	int rc = mdb_cursor_open(txn, s->logs, &c);
	if (rc)
		return fail(s, mdb_errno(rc), "%s: log cursor: %s", s->db_path, mdb_strerror(rc));
	rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
	if (rc == 0) {
		ret = key_index(s, &k, first, s->last_err, sizeof(s->last_err));
		if (!ret && (rc = mdb_cursor_get(c, &k, &v, MDB_LAST)) == 0)
			ret = key_index(s, &k, last, s->last_err, sizeof(s->last_err));
	}
	mdb_cursor_close(c);
	if (!ret && rc && rc != MDB_NOTFOUND)
		ret = fail(s, mdb_errno(rc), "%s: reading the log range: %s", s->db_path,
		           mdb_strerror(rc));
	if (ret)
		*first = *last = 0;
	return ret;
}

static int hard_state_in(struct store *s, MDB_txn *txn, uint64_t *term, char *vote)
{
	MDB_val k = { sizeof(HS_KEY) - 1, (void *)HS_KEY }, v;
	uint64_t t = 0;
	char vb[RAFT_ID_MAX] = "";
	int rc = mdb_get(txn, s->stable, &k, &v);
	if (rc && rc != MDB_NOTFOUND)
		return fail(s, mdb_errno(rc), "%s: reading the hard state: %s", s->db_path,
		            mdb_strerror(rc));
	if (rc == 0) {
		const uint8_t *p = v.mv_data;
		if (v.mv_size < 14)
			return fail(s, -EIO, "%s: hard state: %zu bytes, too short", s->db_path,
			            v.mv_size);
		if (p[0] != HS_VERSION)
			return fail(s, -EIO, "%s: hard state: unknown version %u", s->db_path, p[0]);
		size_t vlen = p[9];
		if (vlen >= RAFT_ID_MAX || v.mv_size != 14 + vlen)
			return fail(s, -EIO, "%s: hard state: bad vote length %zu in %zu bytes",
			            s->db_path, vlen, v.mv_size);
		uint32_t crc = store_crc32(store_crc32(0, HS_KEY, sizeof(HS_KEY) - 1), p, 10 + vlen);
		if (crc != store_get_be32(p + 10 + vlen))
			return fail(s, -EIO, "%s: hard state: checksum mismatch", s->db_path);
		if (memchr(p + 10, 0, vlen))
			return fail(s, -EIO, "%s: hard state: NUL in the vote", s->db_path);
		t = store_get_be64(p + 1);
		memcpy(vb, p + 10, vlen);
		vb[vlen] = '\0';
	}
	if (term)
		*term = t;
	if (vote)
		memcpy(vote, vb, RAFT_ID_MAX);
	return 0;
}

/* Whether the log side holds any Raft state; errors count as state (whatever
 * is there is not nothing, and must not be bootstrapped over). */
static bool log_state_in(struct store *s, MDB_txn *txn)
{
	uint64_t term, first, last;
	if (hard_state_in(s, txn, &term, NULL) || term > 0)
		return true;
	return range_in(s, txn, &first, &last) || last > 0;
}

int store_open(const char *data_dir, struct store **out, char *err, size_t errlen)
{
	*out = NULL;
	if (!data_dir || !*data_dir) {
		store_seterr(err, errlen, "store: no data directory");
		return -EINVAL;
	}
	struct store *s = calloc(1, sizeof(*s));
	if (!s) {
		store_seterr(err, errlen, "store: out of memory");
		return -ENOMEM;
	}
	char raft_dir[PATH_MAX];
	if ((size_t)snprintf(raft_dir, sizeof(raft_dir), "%s/raft", data_dir) >= sizeof(raft_dir) ||
	    (size_t)snprintf(s->db_path, sizeof(s->db_path), "%s/raft.db", raft_dir) >=
	            sizeof(s->db_path) ||
	    (size_t)snprintf(s->snap_dir, sizeof(s->snap_dir), "%s/snapshots", raft_dir) >=
	            sizeof(s->snap_dir)) {
		store_seterr(err, errlen, "%s: path too long", data_dir);
		free(s);
		return -ENAMETOOLONG;
	}
	int rc;
	bool new_raft;
	if ((rc = make_dir(data_dir, NULL, err, errlen)) ||
	    (rc = make_dir(raft_dir, &new_raft, err, errlen)) ||
	    (rc = make_dir(s->snap_dir, NULL, err, errlen))) {
		free(s);
		return rc;
	}

	const char *what = "creating the environment";
	MDB_txn *txn = NULL;
	rc = mdb_env_create(&s->env);
	if (rc) {
		s->env = NULL;
		goto fail;
	}
	what = "setting up the environment";
	if ((rc = mdb_env_set_maxdbs(s->env, 2)) ||
	    (rc = mdb_env_set_mapsize(s->env, store_map_size_initial)))
		goto fail;
	/* Default durability: every commit is fsync'd. NOSUBDIR: raft.db is the
	 * data file itself, with raft.db-lock beside it. */
	what = "opening";
	if ((rc = mdb_env_open(s->env, s->db_path, MDB_NOSUBDIR, 0600)))
		goto fail;
	/* LMDB 0.9 opens the data file without O_CLOEXEC; check scripts and
	 * other children must not inherit it. */
	int fd;
	if (mdb_env_get_fd(s->env, &fd) == 0) {
		int fl = fcntl(fd, F_GETFD);
		if (fl >= 0)
			fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
	}
	/* Neither mkdir nor LMDB makes new directory entries durable: a power
	 * loss could otherwise lose raft.db's name after its first commits. */
	const char *synced = raft_dir;
	rc = store_fsync_dir(raft_dir);
	if (!rc && new_raft)
		rc = store_fsync_dir(synced = data_dir);
	if (rc) {
		store_seterr(err, errlen, "%s: syncing the directory: %s", synced, strerror(-rc));
		mdb_env_close(s->env);
		free(s);
		return rc;
	}
	/* Reader slots of processes that died (killed mid-read) are reclaimed. */
	int dead;
	mdb_reader_check(s->env, &dead);
	what = "creating the databases";
	if ((rc = txn_begin(s, 0, &txn)) || (rc = mdb_dbi_open(txn, "logs", MDB_CREATE, &s->logs)) ||
	    (rc = mdb_dbi_open(txn, "stable", MDB_CREATE, &s->stable)))
		goto fail;
	/* A damaged hard state stops the open: the daemon must not run on a term
	 * and vote it cannot read. */
	if ((rc = hard_state_in(s, txn, NULL, NULL))) {
		store_seterr(err, errlen, "%s", s->last_err);
		mdb_txn_abort(txn);
		mdb_env_close(s->env);
		free(s);
		return rc;
	}
	s->has_log_state = log_state_in(s, txn);
	rc = mdb_txn_commit(txn);
	txn = NULL;
	if (rc)
		goto fail;
	if ((rc = store_snapshot_scan(s, err, errlen))) {
		store_close(s);
		return rc;
	}
	*out = s;
	return 0;

fail:
	store_seterr(err, errlen, "%s: %s: %s", s->db_path, what, mdb_strerror(rc));
	if (txn)
		mdb_txn_abort(txn);
	if (s->env)
		mdb_env_close(s->env);
	free(s);
	return mdb_errno(rc);
}

void store_close(struct store *s)
{
	if (!s)
		return;
	store_abort(s);
	mdb_env_close(s->env);
	free(s);
}

const char *store_last_error(const struct store *s)
{
	return s->last_err;
}

bool store_has_state(const struct store *s)
{
	return s->has_log_state || s->has_snap;
}

int store_hard_state(struct store *s, uint64_t *term, char *vote)
{
	MDB_txn *txn;
	int rc = read_begin(s, &txn);
	if (rc)
		return rc;
	rc = hard_state_in(s, txn, term, vote);
	read_end(s, txn);
	return rc;
}

int store_log_range(struct store *s, uint64_t *first, uint64_t *last)
{
	MDB_txn *txn;
	int rc = read_begin(s, &txn);
	if (rc)
		return rc;
	rc = range_in(s, txn, first, last);
	read_end(s, txn);
	return rc;
}

static int decode_entry(struct store *s, const MDB_val *k, const MDB_val *v,
                        struct raft_entry *e, char *msg, size_t msglen)
{
	uint64_t index;
	int rc = key_index(s, k, &index, msg, msglen);
	if (rc)
		return rc;
	const uint8_t *p = v->mv_data;
	if (v->mv_size < LOG_HDR) {
		store_seterr(msg, msglen, "%s: log entry %" PRIu64 ": value of %zu bytes, too short "
		       "for the header", s->db_path, index, v->mv_size);
		return -EIO;
	}
	if (p[0] != LOG_VERSION) {
		store_seterr(msg, msglen, "%s: log entry %" PRIu64 ": unknown format version %u",
		       s->db_path, index, p[0]);
		return -EIO;
	}
	if (p[1] < RAFT_ENTRY_COMMAND || p[1] > RAFT_ENTRY_NOOP) {
		store_seterr(msg, msglen, "%s: log entry %" PRIu64 ": unknown entry type %u",
		       s->db_path, index, p[1]);
		return -EIO;
	}
	uint32_t crc = store_crc32(0, k->mv_data, 8);
	crc = store_crc32(crc, p, 10);
	crc = store_crc32(crc, p + LOG_HDR, v->mv_size - LOG_HDR);
	if (crc != store_get_be32(p + 10)) {
		store_seterr(msg, msglen, "%s: log entry %" PRIu64 ": checksum mismatch", s->db_path,
		       index);
		return -EIO;
	}
	e->index = index;
	e->term = store_get_be64(p + 2);
	e->type = (enum raft_entry_type)p[1];
	/* Never NULL, even for empty data: callers may memcpy from it. */
	e->data = p + LOG_HDR;
	e->len = v->mv_size - LOG_HDR;
	return 0;
}

int store_log_walk(struct store *s, uint64_t from,
                   int (*cb)(void *ud, const struct raft_entry *e), void *ud,
                   char *err, size_t errlen)
{
	MDB_txn *txn;
	MDB_cursor *c;
	int rc = read_begin(s, &txn);
	if (rc) {
		store_seterr(err, errlen, "%s", s->last_err);
		return rc;
	}
	rc = mdb_cursor_open(txn, s->logs, &c);
	if (rc) {
		store_seterr(err, errlen, "%s: log cursor: %s", s->db_path, mdb_strerror(rc));
		read_end(s, txn);
		return mdb_errno(rc);
	}
	uint8_t kb[8];
	store_put_be64(kb, from);
	MDB_val k = { sizeof(kb), kb }, v;
	uint64_t prev = 0;
	int ret = 0;
	rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
	while (rc == 0) {
		struct raft_entry e;
		if ((ret = decode_entry(s, &k, &v, &e, err, errlen)))
			break;
		/* The store only ever holds a contiguous log; a hole is damage. */
		if (prev && e.index != prev + 1) {
			store_seterr(err, errlen, "%s: log entry %" PRIu64 " follows %" PRIu64
			       " (a gap in the log)", s->db_path, e.index, prev);
			ret = -EIO;
			break;
		}
		prev = e.index;
		if ((ret = cb(ud, &e)))
			break;
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	}
	if (!ret && rc && rc != MDB_NOTFOUND) {
		store_seterr(err, errlen, "%s: reading the log after index %" PRIu64 ": %s", s->db_path,
		       prev, mdb_strerror(rc));
		ret = mdb_errno(rc);
	}
	mdb_cursor_close(c);
	read_end(s, txn);
	return ret;
}

/* Grows the map (only possible with no transaction open) when it is more
 * than half used or the last batch filled it, doubling it: a batch then has
 * at least half the map to itself. */
static int maybe_grow(struct store *s, char *err, size_t errlen)
{
	MDB_envinfo info;
	MDB_stat st;
	int rc = mdb_env_info(s->env, &info);
	if (!rc)
		rc = mdb_env_stat(s->env, &st);
	if (rc) {
		store_seterr(err, errlen, "%s: reading the map size: %s", s->db_path, mdb_strerror(rc));
		return mdb_errno(rc);
	}
	size_t used = ((size_t)info.me_last_pgno + 1) * st.ms_psize;
	size_t size = info.me_mapsize;
	if (!s->grow && used <= size / 2)
		return 0;
	do {
		if (size > SIZE_MAX / 2) {
			store_seterr(err, errlen, "%s: the map cannot grow past %zu bytes", s->db_path,
			       size);
			return -ENOSPC;
		}
		size *= 2;
	} while (used > size / 2);
	rc = mdb_env_set_mapsize(s->env, size);
	if (rc) {
		store_seterr(err, errlen, "%s: growing the map to %zu bytes: %s", s->db_path, size,
		       mdb_strerror(rc));
		return mdb_errno(rc);
	}
	s->grow = false;
	return 0;
}

int store_begin(struct store *s, char *err, size_t errlen)
{
	if (s->txn) {
		store_seterr(err, errlen, "%s: a batch is already open", s->db_path);
		return -EBUSY;
	}
	int rc = maybe_grow(s, err, errlen);
	if (rc)
		return rc;
	rc = txn_begin(s, 0, &s->txn);
	if (rc) {
		s->txn = NULL;
		store_seterr(err, errlen, "%s: starting a batch: %s", s->db_path, mdb_strerror(rc));
		return mdb_errno(rc);
	}
	s->batch_rc = 0;
	s->batch_msg[0] = '\0';
	return 0;
}

/* 0 when a write may go into the batch. */
static int batch_ready(struct store *s)
{
	if (!s->txn)
		return fail(s, -EINVAL, "%s: no batch open (store_begin first)", s->db_path);
	return s->batch_rc;
}

int store_set_hard_state(struct store *s, uint64_t term, const char *vote)
{
	int rc = batch_ready(s);
	if (rc)
		return rc;
	if (!vote)
		vote = "";
	size_t vlen = strnlen(vote, RAFT_ID_MAX);
	if (vlen >= RAFT_ID_MAX)
		return batch_fail(s, -EINVAL, "%s: hard state: vote longer than %d bytes",
		                  s->db_path, RAFT_ID_MAX - 1);
	uint8_t buf[HS_MAX];
	buf[0] = HS_VERSION;
	store_put_be64(buf + 1, term);
	buf[9] = (uint8_t)vlen;
	memcpy(buf + 10, vote, vlen);
	store_put_be32(buf + 10 + vlen,
	               store_crc32(store_crc32(0, HS_KEY, sizeof(HS_KEY) - 1), buf, 10 + vlen));
	MDB_val k = { sizeof(HS_KEY) - 1, (void *)HS_KEY }, v = { 14 + vlen, buf };
	rc = mdb_put(s->txn, s->stable, &k, &v, 0);
	return rc ? batch_mdb_fail(s, rc, "writing the hard state") : 0;
}

/* Deletes the entries with from <= index < below. Re-seeking after each
 * delete keeps clear of LMDB's cursor-after-delete subtleties. */
static int delete_from(struct store *s, uint64_t from, uint64_t below, const char *what)
{
	MDB_cursor *c;
	int rc = mdb_cursor_open(s->txn, s->logs, &c);
	if (rc)
		return batch_mdb_fail(s, rc, what);
	uint8_t kb[8];
	store_put_be64(kb, from);
	for (;;) {
		MDB_val k = { sizeof(kb), kb }, v;
		rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
		if (rc)
			break;
		if (k.mv_size == 8 && store_get_be64(k.mv_data) >= below)
			break;
		if ((rc = mdb_cursor_del(c, 0)))
			break;
	}
	mdb_cursor_close(c);
	if (rc && rc != MDB_NOTFOUND)
		return batch_mdb_fail(s, rc, what);
	return 0;
}

int store_truncate(struct store *s, uint64_t index)
{
	int rc = batch_ready(s);
	return rc ? rc : delete_from(s, index, UINT64_MAX, "truncating the log");
}

int store_delete_prefix(struct store *s, uint64_t index)
{
	int rc = batch_ready(s);
	return rc ? rc : delete_from(s, 0, index, "deleting the log prefix");
}

int store_append(struct store *s, const struct raft_entry *entries, size_t n)
{
	int rc = batch_ready(s);
	if (rc || n == 0)
		return rc;
	uint64_t first = entries[0].index;
	for (size_t i = 0; i < n; i++) {
		const struct raft_entry *e = &entries[i];
		if (first == 0 || e->index != first + i)
			return batch_fail(s, -EINVAL, "%s: append: entry %zu has index %" PRIu64
			                  " (want %" PRIu64 ", ascending, from 1)",
			                  s->db_path, i, e->index, first + i);
		if (e->type < RAFT_ENTRY_COMMAND || e->type > RAFT_ENTRY_NOOP ||
		    (e->len && !e->data) || e->len > SIZE_MAX - LOG_HDR)
			return batch_fail(s, -EINVAL, "%s: append: entry %" PRIu64 " is malformed "
			                  "(type %d, %zu bytes)", s->db_path, e->index,
			                  (int)e->type, e->len);
	}
	uint64_t lo, hi;
	if ((rc = range_in(s, s->txn, &lo, &hi)))
		return batch_fail(s, rc, "%s", s->last_err);
	if (hi && first != hi + 1)
		return batch_fail(s, -EINVAL, "%s: append at index %" PRIu64 " but the log "
		                  "ends at %" PRIu64 " (truncate first)", s->db_path, first, hi);
	for (size_t i = 0; i < n; i++) {
		const struct raft_entry *e = &entries[i];
		uint8_t kb[8];
		store_put_be64(kb, e->index);
		MDB_val k = { sizeof(kb), kb }, v = { LOG_HDR + e->len, NULL };
		/* RESERVE: LMDB hands out the space and the value is built in
		 * place, no copy of the data; APPEND: the key is past the end. */
		rc = mdb_put(s->txn, s->logs, &k, &v, MDB_RESERVE | MDB_APPEND);
		if (rc) {
			char what[64];
			snprintf(what, sizeof(what), "appending entry %" PRIu64, e->index);
			return batch_mdb_fail(s, rc, what);
		}
		uint8_t *p = v.mv_data;
		p[0] = LOG_VERSION;
		p[1] = (uint8_t)e->type;
		store_put_be64(p + 2, e->term);
		if (e->len)
			memcpy(p + LOG_HDR, e->data, e->len);
		uint32_t crc = store_crc32(0, kb, 8);
		crc = store_crc32(crc, p, 10);
		crc = store_crc32(crc, p + LOG_HDR, e->len);
		store_put_be32(p + 10, crc);
	}
	return 0;
}

int store_commit(struct store *s, char *err, size_t errlen)
{
	if (!s->txn) {
		store_seterr(err, errlen, "%s: commit without a batch", s->db_path);
		return -EINVAL;
	}
	if (s->batch_rc) {
		int rc = s->batch_rc;
		store_seterr(err, errlen, "%s (batch discarded)", s->batch_msg);
		store_abort(s);
		return rc;
	}
	bool has = log_state_in(s, s->txn);
	/* mdb_txn_commit writes the pages, fsyncs, then writes and fsyncs the
	 * meta page: when it returns 0 the batch survives a crash. */
	int rc = mdb_txn_commit(s->txn);
	s->txn = NULL;
	if (rc) {
		if (rc == MDB_MAP_FULL)
			s->grow = true;
		store_seterr(err, errlen, "%s: commit: %s (batch discarded)", s->db_path,
		       mdb_strerror(rc));
		return mdb_errno(rc);
	}
	s->has_log_state = has;
	return 0;
}

void store_abort(struct store *s)
{
	if (s->txn)
		mdb_txn_abort(s->txn);
	s->txn = NULL;
	s->batch_rc = 0;
	s->batch_msg[0] = '\0';
}
