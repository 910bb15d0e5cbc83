/*
 * store — the durable side of Raft: the log store and the stable store (term,
 * vote) in one LMDB environment at data_dir/raft/raft.db (the role raft-boltdb
 * plays in Consul), and state machine snapshots as files under
 * data_dir/raft/snapshots/.
 *
 * Writes are grouped in a batch: store_begin, any number of set_hard_state /
 * truncate / append / delete_prefix calls, then store_commit, which returns only
 * once LMDB has fsync'd the transaction. Nothing of a batch is visible on disk
 * before store_commit returns 0; a crash in between (even SIGKILL mid-write)
 * leaves the previous committed state. One batch at a time; single-threaded.
 *
 * Snapshots are written to a temporary file, fsync'd, renamed to
 * <term>-<index>.snap and the directory fsync'd; older ones beyond the two most
 * recent are deleted. A file with a bad header or checksum is ignored on open
 * (with an error message naming it), never half-loaded.
 *
 * Errors are negative errno values (or -EIO for LMDB failures), with a message
 * naming the file and what went wrong in the caller's err buffer.
 */
#ifndef CC_STORE_H
#define CC_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raft/raft.h"

struct store;

/* Opens (creating directories as needed) data_dir/raft/raft.db. */
int store_open(const char *data_dir, struct store **out, char *err, size_t errlen);
void store_close(struct store *s);

/* True when the store has any Raft state (a term, an entry or a snapshot):
 * Consul's "Raft data found" check. */
bool store_has_state(const struct store *s);

/* The stored hard state; term 0 and vote "" when none. vote has RAFT_ID_MAX. */
int store_hard_state(struct store *s, uint64_t *term, char *vote);

/* First and last stored log index (0, 0 when the log is empty). */
int store_log_range(struct store *s, uint64_t *first, uint64_t *last);

/* Calls cb for each stored entry from `from` up to the last, ascending. The
 * entry's data is valid during the call only. A non-zero return from cb stops
 * the walk and is returned. */
int store_log_walk(struct store *s, uint64_t from,
                   int (*cb)(void *ud, const struct raft_entry *e), void *ud,
                   char *err, size_t errlen);

int store_begin(struct store *s, char *err, size_t errlen);
int store_set_hard_state(struct store *s, uint64_t term, const char *vote);
/* Deletes entries at index and after. */
int store_truncate(struct store *s, uint64_t index);
int store_append(struct store *s, const struct raft_entry *entries, size_t n);
/* Deletes entries below index. */
int store_delete_prefix(struct store *s, uint64_t index);
/* Makes the batch durable (fsync). On error the batch is discarded. */
int store_commit(struct store *s, char *err, size_t errlen);
void store_abort(struct store *s);

/* Snapshots. A snapshot carries the last included index and term, the Raft
 * configuration at that index, and the state machine's bytes. */
struct store_snapshot {
	uint64_t index, term;
	struct raft_configuration conf;
	uint8_t *data;       /* malloc'd, owned by the struct: store_snapshot_release */
	size_t len;
};

int store_snapshot_save(struct store *s, uint64_t index, uint64_t term,
                        const struct raft_configuration *conf, const uint8_t *data,
                        size_t len, char *err, size_t errlen);
/* The most recent valid snapshot; -ENOENT when there is none. */
int store_snapshot_latest(struct store *s, struct store_snapshot *snap, char *err,
                          size_t errlen);
void store_snapshot_release(struct store_snapshot *snap);

#endif
