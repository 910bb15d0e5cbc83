/*
 * store internals shared by store.c (the LMDB log and stable store) and
 * store_snapshot.c (snapshot files). Not part of the API; tests may include it
 * for the knobs below.
 */
#ifndef CC_STORE_PRIV_H
#define CC_STORE_PRIV_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zlib.h>

#include <lmdb.h>

#include "store/store.h"

#define STORE_MSG_MAX 512

struct store {
	MDB_env *env;
	MDB_dbi logs, stable;
	MDB_txn *txn;             /* the open batch; NULL when none */
	int batch_rc;             /* first failure inside the batch, reported by commit */
	char batch_msg[STORE_MSG_MAX];
	bool grow;                /* the map filled up: double it before the next batch */
	bool has_log_state;       /* a term or an entry, as of the last commit */
	bool has_snap;            /* a snapshot file exists (by name) */
	char last_err[STORE_MSG_MAX];
	char db_path[PATH_MAX];   /* data_dir/raft/raft.db */
	char snap_dir[PATH_MAX];  /* data_dir/raft/snapshots */
};

/* The LMDB map size a new environment starts with (1 GiB). Tests lower it to
 * exercise growth; the map doubles whenever it is more than half used. */
extern size_t store_map_size_initial;

/* Writes a message into the caller's err buffer (NULL or 0 length: none). */
void store_seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* CRC-32 (IEEE, zlib's): start with crc 0, feed pieces in order. */
static inline uint32_t store_crc32(uint32_t crc, const void *buf, size_t len)
{
	return (uint32_t)crc32_z(crc, buf, len);
}

/* fsync of a directory, making the names in it durable; 0 or -errno. */
int store_fsync_dir(const char *path);

/* Snapshot side, called by store_open: notes whether snapshot files exist and
 * removes .tmp files left by a crash in the middle of a save. */
int store_snapshot_scan(struct store *s, char *err, size_t errlen);

static inline void store_put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static inline uint64_t store_get_be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static inline void store_put_be32(uint8_t *p, uint32_t v)
{
	for (int i = 3; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static inline uint32_t store_get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

#endif
