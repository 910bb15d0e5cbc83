/*
 * store_snapshot — state machine snapshots as files in data_dir/raft/snapshots,
 * named <term>-<index>.snap, the two most recent kept.
 *
 * File layout (integers big-endian):
 *   magic "CCLVSNAP"(8) version(4) index(8) term(8) conf_len(4) conf
 *   data_len(8) data crc32(4)
 * conf: n(1), then per server voter(1) id_len(1) id addr_len(1) addr.
 * The CRC covers every byte before it, so a flipped bit or a cut tail anywhere
 * is caught before anything is handed out. A file is written whole under a
 * .tmp name, fsync'd, renamed, and the directory fsync'd: a crash leaves the
 * old set of files, or the new one plus a stray .tmp that the next open removes.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store_priv.h"

#define SNAP_MAGIC "CCLVSNAP"
#define SNAP_VERSION 1
#define SNAP_FIXED 32                   /* magic, version, index, term, conf_len */
#define SNAP_CONF_MAX (1 + RAFT_MAX_SERVERS * (3 + RAFT_ID_MAX + RAFT_ADDR_MAX))
#define SNAP_KEEP 2
#define SNAP_NAME_MAX 64

struct snap_file {
	uint64_t index, term;
	char name[SNAP_NAME_MAX];
};


/* Digits only (no sign, no space), without overflow; p advances past them. */
static bool parse_u64(const char **p, uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;
	if (*s < '0' || *s > '9')
		return false;
	for (; *s >= '0' && *s <= '9'; s++) {
		unsigned d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	*p = s;
	return true;
}

/* "<term>-<index>" followed by exactly suffix. */
static bool parse_name(const char *name, const char *suffix, uint64_t *term, uint64_t *index)
{
	const char *p = name;
	if (!parse_u64(&p, term) || *p++ != '-' || !parse_u64(&p, index))
		return false;
	return strcmp(p, suffix) == 0 && strlen(name) < SNAP_NAME_MAX;
}

/* Most recent first: higher index, then higher term. */
static int snap_cmp(const void *a, const void *b)
{
	const struct snap_file *x = a, *y = b;
	if (x->index != y->index)
		return x->index > y->index ? -1 : 1;
	if (x->term != y->term)
		return x->term > y->term ? -1 : 1;
	return 0;
}

/* The snapshot files by name, most recent first; *out is malloc'd. */
static int list_snaps(struct store *s, struct snap_file **out, size_t *n, char *err,
                      size_t errlen)
{
	*out = NULL;
	*n = 0;
	DIR *d = opendir(s->snap_dir);
	if (!d) {
		int e = errno;
		if (e == ENOENT)
			return 0;
		store_seterr(err, errlen, "%s: listing snapshots: %s", s->snap_dir, strerror(e));
		return -e;
	}
	struct snap_file *v = NULL;
	size_t cap = 0;
	struct dirent *de;
	int rc = 0;
	while ((de = readdir(d))) {
		uint64_t term, index;
		if (!parse_name(de->d_name, ".snap", &term, &index))
			continue;
		if (*n == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			struct snap_file *nv = realloc(v, ncap * sizeof(*v));
			if (!nv) {
				store_seterr(err, errlen, "%s: listing snapshots: out of memory",
				       s->snap_dir);
				rc = -ENOMEM;
				break;
			}
			v = nv;
			cap = ncap;
		}
		v[*n].term = term;
		v[*n].index = index;
		snprintf(v[*n].name, sizeof(v[*n].name), "%s", de->d_name);
		(*n)++;
	}
	closedir(d);
	if (rc) {
		free(v);
		*n = 0;
		return rc;
	}
	if (*n > 1)
		qsort(v, *n, sizeof(*v), snap_cmp);
	*out = v;
	return 0;
}

int store_snapshot_scan(struct store *s, char *err, size_t errlen)
{
	DIR *d = opendir(s->snap_dir);
	if (!d) {
		int e = errno;
		store_seterr(err, errlen, "%s: listing snapshots: %s", s->snap_dir, strerror(e));
		return -e;
	}
	struct dirent *de;
	uint64_t term, index;
	while ((de = readdir(d))) {
		/* A file counts as Raft state by its name even if it turns out to be
		 * damaged: whatever is there must not be bootstrapped over. */
		if (parse_name(de->d_name, ".snap", &term, &index))
			s->has_snap = true;
		else if (parse_name(de->d_name, ".snap.tmp", &term, &index))
			unlinkat(dirfd(d), de->d_name, 0);   /* a save cut short by a crash */
	}
	closedir(d);
	return 0;
}

static size_t conf_encode(const struct raft_configuration *conf, uint8_t *p)
{
	size_t o = 0;
	p[o++] = (uint8_t)conf->n;
	for (unsigned i = 0; i < conf->n; i++) {
		const struct raft_server *sv = &conf->s[i];
		size_t il = strnlen(sv->id, RAFT_ID_MAX), al = strnlen(sv->addr, RAFT_ADDR_MAX);
		p[o++] = sv->voter ? 1 : 0;
		p[o++] = (uint8_t)il;
		memcpy(p + o, sv->id, il);
		o += il;
		p[o++] = (uint8_t)al;
		memcpy(p + o, sv->addr, al);
		o += al;
	}
	return o;
}

static bool conf_valid(const struct raft_configuration *conf)
{
	if (conf->n > RAFT_MAX_SERVERS)
		return false;
	for (unsigned i = 0; i < conf->n; i++)
		if (strnlen(conf->s[i].id, RAFT_ID_MAX) >= RAFT_ID_MAX ||
		    strnlen(conf->s[i].addr, RAFT_ADDR_MAX) >= RAFT_ADDR_MAX)
			return false;
	return true;
}

/* Reads one length-prefixed string of at most max-1 bytes into dst. */
static bool conf_str(const uint8_t *p, size_t len, size_t *o, char *dst, size_t max)
{
	if (*o >= len)
		return false;
	size_t l = p[(*o)++];
	if (l >= max || len - *o < l || memchr(p + *o, 0, l))
		return false;
	memcpy(dst, p + *o, l);
	dst[l] = '\0';
	*o += l;
	return true;
}

static bool conf_decode(const uint8_t *p, size_t len, struct raft_configuration *conf)
{
	memset(conf, 0, sizeof(*conf));
	size_t o = 0;
	if (len < 1 || p[0] > RAFT_MAX_SERVERS)
		return false;
	conf->n = p[o++];
	for (unsigned i = 0; i < conf->n; i++) {
		struct raft_server *sv = &conf->s[i];
		if (o >= len || p[o] > 1)
			return false;
		sv->voter = p[o++] == 1;
		if (!conf_str(p, len, &o, sv->id, RAFT_ID_MAX) ||
		    !conf_str(p, len, &o, sv->addr, RAFT_ADDR_MAX))
			return false;
	}
	return o == len;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t w = write(fd, p, len > (1u << 30) ? (1u << 30) : len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* -EIO when the file ends early. */
static int read_all(int fd, uint8_t *p, size_t len)
{
	while (len) {
		ssize_t r = read(fd, p, len > (1u << 30) ? (1u << 30) : len);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return -EIO;
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

int store_fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = fsync(fd) ? -errno : 0;
	close(fd);
	return rc;
}

/* Keeps the SNAP_KEEP most recent files and the one just written (even if, oddly,
 * it is older): a save never deletes what it saved. */
static void prune(struct store *s, const char *just_written)
{
	struct snap_file *v;
	size_t n;
	if (list_snaps(s, &v, &n, NULL, 0))
		return;
	char path[PATH_MAX];
	bool removed = false;
	for (size_t i = SNAP_KEEP; i < n; i++) {
		if (strcmp(v[i].name, just_written) == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", s->snap_dir, v[i].name);
		if (unlink(path) == 0)
			removed = true;
	}
	free(v);
	/* Not needed for safety (an old file coming back is harmless); it keeps
	 * the directory's state settled. */
	if (removed)
		store_fsync_dir(s->snap_dir);
}

int store_snapshot_save(struct store *s, uint64_t index, uint64_t term,
                        const struct raft_configuration *conf, const uint8_t *data,
                        size_t len, char *err, size_t errlen)
{
	if (!conf || !conf_valid(conf) || (len && !data)) {
		store_seterr(err, errlen, "%s: snapshot %" PRIu64 "-%" PRIu64 ": bad configuration "
		       "or data", s->snap_dir, term, index);
		return -EINVAL;
	}
	char name[SNAP_NAME_MAX], path[PATH_MAX], tmp[PATH_MAX + 8];
	snprintf(name, sizeof(name), "%" PRIu64 "-%" PRIu64 ".snap", term, index);
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", s->snap_dir, name) >= sizeof(path)) {
		store_seterr(err, errlen, "%s: path too long", s->snap_dir);
		return -ENAMETOOLONG;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);

	uint8_t hdr[SNAP_FIXED + SNAP_CONF_MAX + 8];
	memcpy(hdr, SNAP_MAGIC, 8);
	store_put_be32(hdr + 8, SNAP_VERSION);
	store_put_be64(hdr + 12, index);
	store_put_be64(hdr + 20, term);
	size_t cl = conf_encode(conf, hdr + SNAP_FIXED);
	store_put_be32(hdr + 28, (uint32_t)cl);
	store_put_be64(hdr + SNAP_FIXED + cl, len);
	size_t hl = SNAP_FIXED + cl + 8;
	uint8_t trailer[4];
	uint32_t crc = store_crc32(0, hdr, hl);
	if (len)
		crc = store_crc32(crc, data, len);
	store_put_be32(trailer, crc);

	const char *what = "creating";
	int rc = 0;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		goto fail;
	}
	what = "writing";
	if ((rc = write_all(fd, hdr, hl)) || (rc = write_all(fd, data, len)) ||
	    (rc = write_all(fd, trailer, sizeof(trailer))))
		goto fail;
	what = "syncing";
	if (fsync(fd)) {
		rc = -errno;
		goto fail;
	}
	what = "closing";
	rc = close(fd) ? -errno : 0;
	fd = -1;
	if (rc)
		goto fail;
	what = "renaming";
	if (rename(tmp, path)) {
		rc = -errno;
		goto fail;
	}
	s->has_snap = true;
	/* The rename is durable only once the directory is. */
	if ((rc = store_fsync_dir(s->snap_dir))) {
		store_seterr(err, errlen, "%s: syncing the directory: %s", s->snap_dir, strerror(-rc));
		return rc;
	}
	prune(s, name);
	return 0;

fail:
	store_seterr(err, errlen, "%s: %s the snapshot: %s", tmp, what, strerror(-rc));
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return rc;
}

/* Loads and checks one file. -ENOMEM is the caller's problem; any other
 * failure means "not a valid snapshot", with why. */
static int load(const char *path, const struct snap_file *f, struct store_snapshot *snap,
                char *why, size_t whylen)
{
	uint8_t *data = NULL;
	uint8_t hdr[SNAP_FIXED + SNAP_CONF_MAX + 8];
	int rc;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		store_seterr(why, whylen, "opening: %s", strerror(-rc));
		return rc;
	}
	struct stat st;
	if (fstat(fd, &st)) {
		rc = -errno;
		store_seterr(why, whylen, "stat: %s", strerror(-rc));
		goto out;
	}
	uint64_t size = (uint64_t)st.st_size;
	rc = -EIO;
	if (size < SNAP_FIXED + 1 + 8 + 4) {
		store_seterr(why, whylen, "%" PRIu64 " bytes, too short for a snapshot", size);
		goto out;
	}
	if ((rc = read_all(fd, hdr, SNAP_FIXED))) {
		store_seterr(why, whylen, "reading the header: %s", strerror(-rc));
		goto out;
	}
	rc = -EIO;
	if (memcmp(hdr, SNAP_MAGIC, 8) != 0) {
		store_seterr(why, whylen, "not a snapshot file (bad magic)");
		goto out;
	}
	if (store_get_be32(hdr + 8) != SNAP_VERSION) {
		store_seterr(why, whylen, "unknown version %" PRIu32, store_get_be32(hdr + 8));
		goto out;
	}
	uint64_t index = store_get_be64(hdr + 12), term = store_get_be64(hdr + 20);
	if (index != f->index || term != f->term) {
		store_seterr(why, whylen, "the header says %" PRIu64 "-%" PRIu64, term, index);
		goto out;
	}
	size_t cl = store_get_be32(hdr + 28);
	if (cl < 1 || cl > SNAP_CONF_MAX || size < SNAP_FIXED + cl + 8 + 4) {
		store_seterr(why, whylen, "bad configuration length %zu", cl);
		goto out;
	}
	if ((rc = read_all(fd, hdr + SNAP_FIXED, cl + 8))) {
		store_seterr(why, whylen, "reading the header: %s", strerror(-rc));
		goto out;
	}
	rc = -EIO;
	if (!conf_decode(hdr + SNAP_FIXED, cl, &snap->conf)) {
		store_seterr(why, whylen, "bad configuration");
		goto out;
	}
	uint64_t len = store_get_be64(hdr + SNAP_FIXED + cl);
	/* The length must account for the file exactly: a cut tail or trailing
	 * junk shows here before any large allocation. */
	if (len != size - (SNAP_FIXED + cl + 8 + 4) || len > SIZE_MAX - 1) {
		store_seterr(why, whylen, "data length %" PRIu64 " does not match the file size %"
		       PRIu64, len, size);
		goto out;
	}
	data = malloc(len ? (size_t)len : 1);
	if (!data) {
		rc = -ENOMEM;
		store_seterr(why, whylen, "out of memory for %" PRIu64 " bytes", len);
		goto out;
	}
	uint8_t trailer[4];
	if ((rc = read_all(fd, data, (size_t)len)) || (rc = read_all(fd, trailer, 4))) {
		store_seterr(why, whylen, "reading: %s", strerror(-rc));
		goto out;
	}
	uint32_t crc = store_crc32(store_crc32(0, hdr, SNAP_FIXED + cl + 8), data, (size_t)len);
	if (crc != store_get_be32(trailer)) {
		rc = -EIO;
		store_seterr(why, whylen, "checksum mismatch");
		goto out;
	}
	snap->index = index;
	snap->term = term;
	snap->data = data;
	snap->len = (size_t)len;
	data = NULL;
	rc = 0;
out:
	free(data);
	close(fd);
	return rc;
}

int store_snapshot_latest(struct store *s, struct store_snapshot *snap, char *err,
                          size_t errlen)
{
	memset(snap, 0, sizeof(*snap));
	struct snap_file *v;
	size_t n;
	int rc = list_snaps(s, &v, &n, err, errlen);
	if (rc)
		return rc;
	char path[PATH_MAX], why[256], first_bad[PATH_MAX + 300] = "";
	size_t bad = 0;
	rc = -ENOENT;
	for (size_t i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", s->snap_dir, v[i].name);
		int r = load(path, &v[i], snap, why, sizeof(why));
		if (r == 0) {
			rc = 0;
			break;
		}
		if (r == -ENOMEM) {
			store_seterr(err, errlen, "%s: %s", path, why);
			rc = r;
			break;
		}
		/* Damaged: fall back to the one before it. */
		memset(&snap->conf, 0, sizeof(snap->conf));
		if (bad++ == 0)
			snprintf(first_bad, sizeof(first_bad), "%s: %s", path, why);
	}
	free(v);
	if (rc == -ENOENT && bad)
		store_seterr(err, errlen, "no valid snapshot: %s%s", first_bad,
		       bad > 1 ? " (and older ones invalid too)" : "");
	return rc;
}

void store_snapshot_release(struct store_snapshot *snap)
{
	if (!snap)
		return;
	free(snap->data);
	snap->data = NULL;
	snap->len = 0;
}
