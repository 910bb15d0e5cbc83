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

enum kv_op {
	KV_OP_SET = 1,         /* create or replace */
	KV_OP_CAS = 2,         /* set if ModifyIndex == cas (0: only if absent) */
	KV_OP_DELETE = 3,      /* delete one key (absent: still true) */
	KV_OP_DELETE_CAS = 4,  /* delete if ModifyIndex == cas (cas 0 never deletes) */
	KV_OP_DELETE_TREE = 5, /* delete every key starting with key */
};

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
 * larger than cap. */
size_t kv_cmd_encode(const struct kv_cmd *cmd, uint8_t *buf, size_t cap);
/* Decodes buf into cmd (pointers into buf). -EINVAL for anything malformed:
 * unknown op, truncated, oversized key or value, NUL in key. */
int kv_cmd_decode(const uint8_t *buf, size_t len, struct kv_cmd *cmd);

struct kv;

struct kv *kv_new(void);
void kv_free(struct kv *kv);

/* Applies a committed command at index (strictly increasing). *result is the
 * API's answer (true, or false for a failed CAS). A command that does not
 * decode is skipped with -EINVAL and changes nothing but the applied index. */
int kv_apply(struct kv *kv, uint64_t index, const uint8_t *cmd, size_t len, bool *result);

struct kv_entry {
	const char *key;       /* NUL-terminated */
	const uint8_t *value;
	size_t len;
	uint64_t flags;
	uint64_t create_index, modify_index, lock_index;
};

/* One key; -ENOENT when absent. Pointers valid until the next kv_apply. */
int kv_get(const struct kv *kv, const char *key, struct kv_entry *out);

/* Every entry whose key starts with prefix, in key order. cb returning
 * non-zero stops the walk. Returns the number of entries visited. */
size_t kv_list(const struct kv *kv, const char *prefix,
               int (*cb)(void *ud, const struct kv_entry *e), void *ud);

/* Keys starting with prefix; with a non-empty separator, keys are folded after
 * the first separator following the prefix (Consul's ?keys&separator=/):
 * "web/subdir/a" and "web/subdir/b" give one "web/subdir/". Each distinct
 * string once, in order. cb gets a NUL-terminated string (valid during the
 * call). Returns the number of strings. */
size_t kv_keys(const struct kv *kv, const char *prefix, const char *separator,
               int (*cb)(void *ud, const char *key), void *ud);

/* The index of the last applied command that changed anything (set or delete);
 * the last applied index (what reads wait for); number of keys. */
uint64_t kv_index(const struct kv *kv);
uint64_t kv_applied(const struct kv *kv);
size_t kv_count(const struct kv *kv);

/* The largest ModifyIndex under prefix, or of a delete under it, whichever is
 * later (Consul's X-Consul-Index for a prefix); kv_index when "" is given. */
uint64_t kv_prefix_index(const struct kv *kv, const char *prefix);

/* The whole store as bytes (malloc'd into *data), and back. restore replaces
 * the store's contents; -EINVAL (store unchanged) when the bytes are bad. */
int kv_snapshot(const struct kv *kv, uint8_t **data, size_t *len);
int kv_restore(struct kv *kv, const uint8_t *data, size_t len);

#endif
