/*
 * kv — the replicated key/value state machine (Consul's KV store), pure.
 *
 * Raft commits commands (bytes made by kv_cmd_encode); every server applies
 * them in log order with kv_apply, so every server holds the same store.
 * Indexes are Raft log indexes: CreateIndex, ModifyIndex and the store index
 * (X-Consul-Index) come from the index a command was applied at.
 *
 * Keys are byte strings without NUL, at most KV_KEY_MAX bytes; values at most
 * KV_VALUE_MAX bytes (Consul's kv_max_value_size). Listing is in byte order.
 * No I/O; the caller owns the struct kv. Errors are negative errno values.
 */
#ifndef CC_KV_H
#define CC_KV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KV_KEY_MAX 2048
#define KV_VALUE_MAX (512u * 1024u)

/* Deleted keys leave tombstones so that a prefix's index never goes backwards
 * (see kv_prefix_index); at most this many are kept. */
#define KV_TOMBSTONE_MAX 16384

/* The result of each op, as Consul's state store gives it (v1.7.4
 * agent/consul/state/kvs.go). */
enum kv_op {
	KV_OP_SET = 1,         /* create or replace: true */
	KV_OP_CAS = 2,         /* set if ModifyIndex == cas (0: only if absent) */
	KV_OP_DELETE = 3,      /* delete one key (absent: still true) */
	KV_OP_DELETE_CAS = 4,  /* delete if ModifyIndex == cas: true; present with
	                        * another index (any index for cas 0): false;
	                        * absent: true (kvsDeleteCASTxn: "entry == nil") */
	KV_OP_DELETE_TREE = 5, /* delete every key starting with key ("" = all): true */
};

/* Fields an op does not use must be zero: value and flags belong to SET and
 * CAS, cas to CAS and DELETE_CAS. key is 1..KV_KEY_MAX bytes without NUL
 * (DELETE_TREE: 0..KV_KEY_MAX). */
struct kv_cmd {
	enum kv_op op;
	const char *key;       /* not NUL-terminated after decode: use key_len */
	size_t key_len;
	const uint8_t *value;
	size_t value_len;
	uint64_t flags;
	uint64_t cas;
};

/* Encodes cmd; returns the length written, or the length needed when it is
 * larger than cap (buf untouched; buf may be NULL with cap 0). Returns 0 for a
 * cmd that breaks the rules above, so nothing undecodable reaches the log. The
 * encoding is canonical: decode then encode gives back the same bytes. */
size_t kv_cmd_encode(const struct kv_cmd *cmd, uint8_t *buf, size_t cap);
/* Decodes buf into cmd (pointers into buf). -EINVAL for anything malformed:
 * unknown version or op, truncated, trailing bytes, non-minimal varints,
 * oversized or empty key, oversized value, NUL in key, unused field not zero.
 * cmd is untouched on error. */
int kv_cmd_decode(const uint8_t *buf, size_t len, struct kv_cmd *cmd);

struct kv;

struct kv *kv_new(void);
void kv_free(struct kv *kv);

/* Applies a committed command at index (strictly increasing). *result is the
 * API's answer (true, or false for a failed CAS); result may be NULL. A command
 * that does not decode is skipped with -EINVAL and changes nothing but the
 * applied index. An index <= kv_applied gives -ERANGE and changes nothing.
 * -ENOMEM changes nothing, not even the applied index (the caller may retry or
 * must stop: skipping it would fork the state machine). */
int kv_apply(struct kv *kv, uint64_t index, const uint8_t *cmd, size_t len, bool *result);

struct kv_entry {
	const char *key;       /* NUL-terminated */
	const uint8_t *value;
	size_t len;
	uint64_t flags;
	uint64_t create_index, modify_index, lock_index;
};

/* One key; -ENOENT when absent. Pointers valid until the next kv_apply or
 * kv_restore. */
int kv_get(const struct kv *kv, const char *key, struct kv_entry *out);

/* Every entry whose key starts with prefix (NULL = ""), in key order. cb
 * returning non-zero stops the walk (that entry counts as visited); cb may be
 * NULL to count. Returns the number of entries visited. */
size_t kv_list(const struct kv *kv, const char *prefix,
               int (*cb)(void *ud, const struct kv_entry *e), void *ud);

/* Keys starting with prefix; with a non-empty separator, keys are folded after
 * the first separator following the prefix (Consul's ?keys&separator=/):
 * "web/subdir/a" and "web/subdir/b" give one "web/subdir/". Each distinct
 * string once, in order. cb gets a NUL-terminated string (valid during the
 * call); it may stop the walk and may be NULL, as for kv_list. Returns the
 * number of strings. */
size_t kv_keys(const struct kv *kv, const char *prefix, const char *separator,
               int (*cb)(void *ud, const char *key), void *ud);

/* The index of the last applied command that changed anything (set or delete);
 * the last applied index (what reads wait for); number of keys. */
uint64_t kv_index(const struct kv *kv);
uint64_t kv_applied(const struct kv *kv);
size_t kv_count(const struct kv *kv);

/* The largest ModifyIndex under prefix, or of a delete under it, whichever is
 * later (Consul's X-Consul-Index for a prefix); kv_index when "" (or NULL) is
 * given. Deletes are remembered by per-key tombstones (Consul's graveyard);
 * beyond KV_TOMBSTONE_MAX the oldest are dropped and their index becomes a
 * floor reported for every prefix. So the answer may be too high (a spurious
 * wake-up for a blocking query) but never too low (a missed change), and a
 * prefix's index never goes backwards. 0 when nothing under prefix was ever
 * set or deleted (Consul sends 1 instead of 0: the caller's business). */
uint64_t kv_prefix_index(const struct kv *kv, const char *prefix);

/* The whole store (entries, tombstones, kv_index, kv_applied) as bytes
 * (malloc'd into *data; -ENOMEM), and back. The bytes are versioned and
 * checksummed. restore replaces the store's contents; -EINVAL (store
 * unchanged) when the bytes are bad in any way, -ENOMEM (unchanged). */
int kv_snapshot(const struct kv *kv, uint8_t **data, size_t *len);
int kv_restore(struct kv *kv, const uint8_t *data, size_t len);

#endif
