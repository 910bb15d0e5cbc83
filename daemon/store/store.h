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
 * recent are deleted. A file with a bad header or checksum is skipped by
 * store_snapshot_latest (which falls back to the previous one), never
 * half-loaded.
 *
 * Everything read back is checked (log values and the hard state carry a
 * CRC-32): damage reads as -EIO with a message naming the index or file, never
 * as a crash or a plausible value.
 *
 * Errors are negative errno values (-EIO for a damaged file or an LMDB
 * failure, -ENOSPC for a full map or disk), with a message naming the file and
 * what went wrong in the caller's err buffer (errlen may be 0). Calls without
 * an err buffer leave their message for store_last_error.
 */
#ifndef CC_STORE_H
#define CC_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raft/raft.h"

struct store;

/* Opens (creating data_dir, data_dir/raft and data_dir/raft/snapshots with
 * mode 0700 as needed) data_dir/raft/raft.db. Fails with -EIO when the stored
 * hard state is damaged. One store per data_dir per process (LMDB's rule). */
int store_open(const char *data_dir, struct store **out, char *err, size_t errlen);
/* Closes, discarding an open batch. NULL is a no-op. */
void store_close(struct store *s);

/* The message of the last failed call that has no err buffer
 * (store_hard_state, store_log_range, the batch writes); "" before any. */
const char *store_last_error(const struct store *s);

/* True when the store has any Raft state (a term, an entry or a snapshot file,
 * even a damaged one: it must not be bootstrapped over), as of the last
 * commit: Consul's "Raft data found" check. */
bool store_has_state(const struct store *s);

/* The stored hard state; term 0 and vote "" when none. vote has RAFT_ID_MAX
 * bytes; either pointer may be NULL. */
int store_hard_state(struct store *s, uint64_t *term, char *vote);

/* First and last stored log index (0, 0 when the log is empty). */
int store_log_range(struct store *s, uint64_t *first, uint64_t *last);

/* Calls cb for each stored entry from `from` up to the last, ascending. The
 * entry's data is valid during the call only (never NULL, even when len is 0);
 * cb must not call into the store. A non-zero return from cb stops the walk
 * and is returned. A damaged entry or a gap stops it with -EIO and a message
 * naming the index.
 *
 * The reads (store_hard_state, store_log_range, store_log_walk) see the open
 * batch's changes when called inside one. */
int store_log_walk(struct store *s, uint64_t from,
                   int (*cb)(void *ud, const struct raft_entry *e), void *ud,
                   char *err, size_t errlen);

/* Opens a batch (-EBUSY when one is open). Also where the LMDB map grows:
 * it doubles whenever it is more than half used, or after a batch filled it. */
int store_begin(struct store *s, char *err, size_t errlen);
/* The writes below fail with -EINVAL outside a batch. Inside one, the first
 * failure (bad argument, full map, I/O) poisons the batch: later writes return
 * the same error and store_commit reports it and discards the batch. */
/* vote: "" or NULL for none, shorter than RAFT_ID_MAX. */
int store_set_hard_state(struct store *s, uint64_t term, const char *vote);
/* Deletes entries at index and after. */
int store_truncate(struct store *s, uint64_t index);
/* Entries must be contiguous and ascending from an index >= 1, and continue the
 * log (first index = last stored + 1) unless the log is empty; to overwrite a
 * suffix, store_truncate first. Types are RAFT_ENTRY_*. */
int store_append(struct store *s, const struct raft_entry *entries, size_t n);
/* Deletes entries below index. */
int store_delete_prefix(struct store *s, uint64_t index);
/* Makes the batch durable (fsync). On error the batch is discarded. */
int store_commit(struct store *s, char *err, size_t errlen);
/* Discards the open batch, if any. */
void store_abort(struct store *s);

/* Snapshots. A snapshot carries the last included index and term, the Raft
 * configuration at that index, and the state machine's bytes. */
struct store_snapshot {
	uint64_t index, term;
	struct raft_configuration conf;
	uint8_t *data;       /* malloc'd, owned by the struct: store_snapshot_release */
	size_t len;
};

/* Writes snapshots/<term>-<index>.snap durably, then deletes all but the two
 * most recent (highest index, then term) and the one just written. Independent
 * of batches. */
int store_snapshot_save(struct store *s, uint64_t index, uint64_t term,
                        const struct raft_configuration *conf, const uint8_t *data,
                        size_t len, char *err, size_t errlen);
/* The most recent valid snapshot (highest index, then term), skipping damaged
 * files; -ENOENT when there is none, with a message in err only when damaged
 * files were skipped. On success release it with store_snapshot_release. */
int store_snapshot_latest(struct store *s, struct store_snapshot *snap, char *err,
                          size_t errlen);
void store_snapshot_release(struct store_snapshot *snap);

#endif
