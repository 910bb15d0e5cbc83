/* The KV state machine: command codec, Consul's apply semantics, listing,
 * indexes, snapshots (including corrupted ones) and a randomized comparison
 * with a simple reference model. */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kv/kv.h"

/* ---- helpers ---- */

static size_t encode(const struct kv_cmd *c, uint8_t **out)
{
	size_t n = kv_cmd_encode(c, NULL, 0);
	assert_true(n > 0);
	uint8_t *buf = malloc(n);
	assert_non_null(buf);
	assert_int_equal(kv_cmd_encode(c, buf, n), n);
	*out = buf;
	return n;
}

/* Applies one command, which must encode; returns the API's answer. */
static bool apply(struct kv *kv, uint64_t index, enum kv_op op, const char *key,
                  const char *value, uint64_t flags, uint64_t cas)
{
	struct kv_cmd c = { .op = op, .key = key, .key_len = strlen(key),
		            .value = (const uint8_t *)value, .value_len = value ? strlen(value) : 0,
		            .flags = flags, .cas = cas };
	uint8_t *buf;
	size_t n = encode(&c, &buf);
	bool result = false;
	assert_int_equal(kv_apply(kv, index, buf, n, &result), 0);
	free(buf);
	assert_int_equal(kv_applied(kv), index);
	return result;
}

static bool set(struct kv *kv, uint64_t index, const char *key, const char *value)
{
	return apply(kv, index, KV_OP_SET, key, value, 0, 0);
}

/* The store as text: every entry, then the counters. */
static int dump_entry(void *ud, const struct kv_entry *e)
{
	FILE *f = ud;
	fprintf(f, "%s=", e->key);
	for (size_t i = 0; i < e->len; i++)
		fprintf(f, "%02x", e->value[i]);
	fprintf(f, " f%" PRIu64 " c%" PRIu64 " m%" PRIu64 " l%" PRIu64 "\n", e->flags,
	        e->create_index, e->modify_index, e->lock_index);
	return 0;
}

static char *dump(const struct kv *kv)
{
	char *s;
	size_t n;
	FILE *f = open_memstream(&s, &n);
	assert_non_null(f);
	size_t count = kv_list(kv, "", dump_entry, f);
	fprintf(f, "count %zu/%zu index %" PRIu64 " applied %" PRIu64 "\n", count, kv_count(kv),
	        kv_index(kv), kv_applied(kv));
	fclose(f);
	return s;
}

static void snapshot(const struct kv *kv, uint8_t **data, size_t *len)
{
	assert_int_equal(kv_snapshot(kv, data, len), 0);
	assert_non_null(*data);
}

struct strs {
	char *s[256];
	size_t n;
};

static int collect_key(void *ud, const char *key)
{
	struct strs *l = ud;
	assert_true(l->n < 256);
	l->s[l->n++] = strdup(key);
	return 0;
}

static int collect_entry(void *ud, const struct kv_entry *e)
{
	return collect_key(ud, e->key);
}

static void strs_free(struct strs *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->s[i]);
	l->n = 0;
}

static void expect_strs(struct strs *l, const char *const *want, size_t n)
{
	assert_int_equal(l->n, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(l->s[i], want[i]);
	strs_free(l);
}

static void expect_keys(const struct kv *kv, const char *prefix, const char *sep,
                        const char *const *want, size_t n)
{
	struct strs l = { 0 };
	assert_int_equal(kv_keys(kv, prefix, sep, collect_key, &l), n);
	expect_strs(&l, want, n);
}

static void expect_list(const struct kv *kv, const char *prefix, const char *const *want, size_t n)
{
	struct strs l = { 0 };
	assert_int_equal(kv_list(kv, prefix, collect_entry, &l), n);
	expect_strs(&l, want, n);
}

static uint32_t crc32c(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;
	while (n--) {
		c ^= *p++;
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0x82f63b78u & (0u - (c & 1)));
	}
	return ~c;
}

static void fix_crc(uint8_t *data, size_t len)
{
	uint32_t c = crc32c(data, len - 4);
	for (int i = 0; i < 4; i++)
		data[len - 4 + i] = (uint8_t)(c >> (8 * i));
}

/* Whatever a store holds, it must hold it consistently. */
static void check_consistent(const struct kv *kv)
{
	struct strs l = { 0 };
	size_t n = kv_list(kv, "", collect_entry, &l);
	assert_int_equal(n, kv_count(kv));
	assert_true(kv_index(kv) <= kv_applied(kv));
	assert_int_equal(kv_prefix_index(kv, ""), kv_index(kv));
	for (size_t i = 0; i < l.n; i++) {
		if (i > 0)
			assert_true(strcmp(l.s[i - 1], l.s[i]) < 0);
		struct kv_entry e;
		assert_int_equal(kv_get(kv, l.s[i], &e), 0);
		assert_true(e.create_index >= 1);
		assert_true(e.create_index <= e.modify_index);
		assert_true(e.modify_index <= kv_index(kv));
		assert_true(kv_prefix_index(kv, l.s[i]) >= e.modify_index);
		assert_int_equal(e.lock_index, 0);
	}
	strs_free(&l);
	/* And the snapshot of it is canonical. */
	uint8_t *a, *b;
	size_t alen, blen;
	snapshot(kv, &a, &alen);
	struct kv *copy = kv_new();
	assert_int_equal(kv_restore(copy, a, alen), 0);
	snapshot(copy, &b, &blen);
	assert_int_equal(alen, blen);
	assert_memory_equal(a, b, alen);
	char *da = dump(kv), *db = dump(copy);
	assert_string_equal(da, db);
	free(da);
	free(db);
	free(a);
	free(b);
	kv_free(copy);
}

/* ---- commands ---- */

static void roundtrip(const struct kv_cmd *c)
{
	uint8_t *buf;
	size_t n = encode(c, &buf);
	/* Too small a buffer: the size needed, nothing written. */
	uint8_t small[4] = { 0xaa, 0xaa, 0xaa, 0xaa };
	if (n > sizeof(small)) {
		assert_int_equal(kv_cmd_encode(c, small, sizeof(small)), n);
		assert_int_equal(small[0], 0xaa);
	}
	struct kv_cmd d;
	assert_int_equal(kv_cmd_decode(buf, n, &d), 0);
	assert_int_equal(d.op, c->op);
	assert_int_equal(d.key_len, c->key_len);
	assert_memory_equal(d.key, c->key, c->key_len);
	assert_int_equal(d.value_len, c->value_len);
	if (c->value_len)
		assert_memory_equal(d.value, c->value, c->value_len);
	assert_int_equal(d.flags, c->flags);
	assert_int_equal(d.cas, c->cas);
	/* Canonical: the decoded command encodes to the same bytes. */
	uint8_t *again;
	size_t m = encode(&d, &again);
	assert_int_equal(m, n);
	assert_memory_equal(again, buf, n);
	free(again);
	free(buf);
}

static void test_cmd_roundtrip(void **state)
{
	static const uint8_t bin[] = { 0, 1, 0xff, 0x80, '\n' };
	uint8_t *big = malloc(KV_VALUE_MAX);
	assert_non_null(big);
	for (size_t i = 0; i < KV_VALUE_MAX; i++)
		big[i] = (uint8_t)(i * 7);
	char longkey[KV_KEY_MAX + 1];
	memset(longkey, 'k', KV_KEY_MAX);
	longkey[KV_KEY_MAX] = '\0';

	struct kv_cmd cmds[] = {
		{ .op = KV_OP_SET, .key = "foo", .key_len = 3, .value = (const uint8_t *)"bar",
		  .value_len = 3, .flags = 42 },
		{ .op = KV_OP_SET, .key = "e", .key_len = 1 },
		{ .op = KV_OP_SET, .key = "\xc3\xa9/\xff", .key_len = 4, .value = bin,
		  .value_len = sizeof(bin), .flags = UINT64_MAX },
		{ .op = KV_OP_SET, .key = longkey, .key_len = KV_KEY_MAX, .value = big,
		  .value_len = KV_VALUE_MAX },
		{ .op = KV_OP_CAS, .key = "foo", .key_len = 3, .value = (const uint8_t *)"x",
		  .value_len = 1, .flags = 1, .cas = 0 },
		{ .op = KV_OP_CAS, .key = "foo", .key_len = 3, .cas = UINT64_MAX },
		{ .op = KV_OP_CAS, .key = "foo", .key_len = 3, .cas = 128 },
		{ .op = KV_OP_DELETE, .key = "foo", .key_len = 3 },
		{ .op = KV_OP_DELETE_CAS, .key = "foo", .key_len = 3, .cas = 12 },
		{ .op = KV_OP_DELETE_CAS, .key = "foo", .key_len = 3, .cas = 0 },
		{ .op = KV_OP_DELETE_TREE, .key = "web/", .key_len = 4 },
		{ .op = KV_OP_DELETE_TREE, .key = "", .key_len = 0 },
	};
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		roundtrip(&cmds[i]);
	free(big);
}

static void test_cmd_encode_rejects(void **state)
{
	static const uint8_t v[] = { 'v' };
	char longkey[KV_KEY_MAX + 2];
	memset(longkey, 'k', sizeof(longkey) - 1);
	longkey[sizeof(longkey) - 1] = '\0';
	struct kv_cmd bad[] = {
		{ .op = KV_OP_SET, .key = "", .key_len = 0 },
		{ .op = KV_OP_CAS, .key = "", .key_len = 0 },
		{ .op = KV_OP_DELETE, .key = "", .key_len = 0 },
		{ .op = KV_OP_DELETE_CAS, .key = "", .key_len = 0, .cas = 1 },
		{ .op = KV_OP_SET, .key = "a\0b", .key_len = 3 },
		{ .op = KV_OP_SET, .key = longkey, .key_len = KV_KEY_MAX + 1 },
		{ .op = KV_OP_DELETE_TREE, .key = longkey, .key_len = KV_KEY_MAX + 1 },
		{ .op = KV_OP_SET, .key = "a", .key_len = 1, .value = v, .value_len = KV_VALUE_MAX + 1 },
		{ .op = KV_OP_SET, .key = "a", .key_len = 1, .value = NULL, .value_len = 1 },
		{ .op = KV_OP_SET, .key = NULL, .key_len = 1 },
		{ .op = KV_OP_SET, .key = "a", .key_len = 1, .cas = 3 },
		{ .op = KV_OP_DELETE, .key = "a", .key_len = 1, .value = v, .value_len = 1 },
		{ .op = KV_OP_DELETE, .key = "a", .key_len = 1, .flags = 1 },
		{ .op = KV_OP_DELETE, .key = "a", .key_len = 1, .cas = 1 },
		{ .op = KV_OP_DELETE_TREE, .key = "a", .key_len = 1, .cas = 1 },
		{ .op = (enum kv_op)0, .key = "a", .key_len = 1 },
		{ .op = (enum kv_op)6, .key = "a", .key_len = 1 },
	};
	uint8_t buf[64];
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(kv_cmd_encode(&bad[i], buf, sizeof(buf)), 0);
}

static void expect_bad(const uint8_t *b, size_t n)
{
	struct kv_cmd c = { .op = KV_OP_SET, .key = "untouched", .key_len = 9 };
	assert_int_equal(kv_cmd_decode(b, n, &c), -EINVAL);
	assert_int_equal(c.key_len, 9); /* untouched on error */
	assert_string_equal(c.key, "untouched");
}

static void test_cmd_malformed(void **state)
{
	/* SET "ab" = "xyz", flags 1, cas 0. */
	const uint8_t good[] = { 1, 1, 1, 0, 2, 'a', 'b', 3, 'x', 'y', 'z' };
	struct kv_cmd c;
	assert_int_equal(kv_cmd_decode(good, sizeof(good), &c), 0);

	for (size_t n = 0; n < sizeof(good); n++)
		expect_bad(good, n); /* every truncation */
	assert_int_equal(kv_cmd_decode(NULL, 0, &c), -EINVAL);

	uint8_t b[sizeof(good) + 1];
	memcpy(b, good, sizeof(good));
	b[sizeof(good)] = 0;
	expect_bad(b, sizeof(good) + 1); /* trailing byte */

	const uint8_t bad_version0[] = { 0, 1, 0, 0, 1, 'a', 0 };
	const uint8_t bad_version2[] = { 2, 1, 0, 0, 1, 'a', 0 };
	const uint8_t bad_op0[] = { 1, 0, 0, 0, 1, 'a', 0 };
	const uint8_t bad_op6[] = { 1, 6, 0, 0, 1, 'a', 0 };
	const uint8_t bad_op255[] = { 1, 255, 0, 0, 1, 'a', 0 };
	const uint8_t nul_key[] = { 1, 1, 0, 0, 3, 'a', 0, 'b', 0 };
	const uint8_t nul_key_tree[] = { 1, 5, 0, 0, 1, 0, 0 };
	const uint8_t empty_set[] = { 1, 1, 0, 0, 0, 0 };
	const uint8_t empty_cas[] = { 1, 2, 0, 0, 0, 0 };
	const uint8_t empty_del[] = { 1, 3, 0, 0, 0, 0 };
	const uint8_t empty_delcas[] = { 1, 4, 0, 1, 0, 0 };
	const uint8_t flags_on_delete[] = { 1, 3, 1, 0, 1, 'a', 0 };
	const uint8_t cas_on_set[] = { 1, 1, 0, 1, 1, 'a', 0 };
	const uint8_t cas_on_tree[] = { 1, 5, 0, 1, 0, 0 };
	const uint8_t value_on_delete[] = { 1, 3, 0, 0, 1, 'a', 1, 'v' };
	const uint8_t value_on_tree[] = { 1, 5, 0, 0, 0, 1, 'v' };
	const uint8_t long_varint[] = { 1, 1, 0x80, 0x00, 0, 1, 'a', 0 };   /* 0 in two bytes */
	const uint8_t overflow[] = { 1, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		                     0x02, 0, 1, 'a', 0 };
	const uint8_t eleven[] = { 1, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		                   0x81, 0x00, 0, 1, 'a', 0 };
	const uint8_t key_past_end[] = { 1, 1, 0, 0, 5, 'a', 'b' };
	const uint8_t huge_len[] = { 1, 1, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f, 'a' };
	struct {
		const uint8_t *b;
		size_t n;
	} cases[] = {
#define C(x) { x, sizeof(x) }
		C(bad_version0), C(bad_version2), C(bad_op0), C(bad_op6), C(bad_op255), C(nul_key),
		C(nul_key_tree), C(empty_set), C(empty_cas), C(empty_del), C(empty_delcas),
		C(flags_on_delete), C(cas_on_set), C(cas_on_tree), C(value_on_delete),
		C(value_on_tree), C(long_varint), C(overflow), C(eleven), C(key_past_end),
		C(huge_len),
#undef C
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_bad(cases[i].b, cases[i].n);

	/* The largest flags value is fine; DELETE_TREE with an empty key too. */
	const uint8_t max_flags[] = { 1, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		                      0x01, 0, 1, 'a', 0 };
	assert_int_equal(kv_cmd_decode(max_flags, sizeof(max_flags), &c), 0);
	assert_true(c.flags == UINT64_MAX);
	const uint8_t tree_all[] = { 1, 5, 0, 0, 0, 0 };
	assert_int_equal(kv_cmd_decode(tree_all, sizeof(tree_all), &c), 0);
	assert_int_equal(c.op, KV_OP_DELETE_TREE);
	assert_int_equal(c.key_len, 0);

	/* Oversized key and value, built by hand since encode refuses them. */
	size_t n = 2 + 1 + 1 + 2 + KV_KEY_MAX + 1 + 1;
	uint8_t *k = calloc(1, n);
	assert_non_null(k);
	k[0] = 1, k[1] = 1, k[2] = 0, k[3] = 0;
	k[4] = (uint8_t)((KV_KEY_MAX + 1) | 0x80), k[5] = (uint8_t)((KV_KEY_MAX + 1) >> 7);
	memset(k + 6, 'k', KV_KEY_MAX + 1);
	k[n - 1] = 0;
	expect_bad(k, n);
	k[4] = (uint8_t)(KV_KEY_MAX | 0x80), k[5] = (uint8_t)(KV_KEY_MAX >> 7);
	k[n - 2] = 0; /* now a KV_KEY_MAX key and an empty value: good */
	assert_int_equal(kv_cmd_decode(k, n - 1, &c), 0);
	free(k);

	n = 2 + 1 + 1 + 1 + 1 + 3 + KV_VALUE_MAX + 1;
	uint8_t *v = calloc(1, n);
	assert_non_null(v);
	v[0] = 1, v[1] = 1, v[2] = 0, v[3] = 0, v[4] = 1, v[5] = 'a';
	uint64_t vl = KV_VALUE_MAX + 1;
	v[6] = (uint8_t)(vl | 0x80), v[7] = (uint8_t)((vl >> 7) | 0x80), v[8] = (uint8_t)(vl >> 14);
	expect_bad(v, n);
	vl = KV_VALUE_MAX;
	v[6] = (uint8_t)(vl | 0x80), v[7] = (uint8_t)((vl >> 7) | 0x80), v[8] = (uint8_t)(vl >> 14);
	assert_int_equal(kv_cmd_decode(v, n - 1, &c), 0);
	assert_int_equal(c.value_len, KV_VALUE_MAX);
	free(v);
}

/* ---- apply ---- */

static void test_set_get_replace(void **state)
{
	struct kv *kv = kv_new();
	struct kv_entry e;
	assert_int_equal(kv_get(kv, "foo", &e), -ENOENT);
	assert_true(apply(kv, 5, KV_OP_SET, "foo", "bar", 7, 0));
	assert_int_equal(kv_get(kv, "foo", &e), 0);
	assert_string_equal(e.key, "foo");
	assert_int_equal(e.len, 3);
	assert_memory_equal(e.value, "bar", 3);
	assert_int_equal(e.flags, 7);
	assert_int_equal(e.create_index, 5);
	assert_int_equal(e.modify_index, 5);
	assert_int_equal(e.lock_index, 0);
	assert_int_equal(kv_count(kv), 1);

	/* Replace: CreateIndex kept, ModifyIndex and flags (to 0) follow. */
	assert_true(apply(kv, 9, KV_OP_SET, "foo", "longer value", 0, 0));
	assert_int_equal(kv_get(kv, "foo", &e), 0);
	assert_int_equal(e.len, 12);
	assert_memory_equal(e.value, "longer value", 12);
	assert_int_equal(e.flags, 0);
	assert_int_equal(e.create_index, 5);
	assert_int_equal(e.modify_index, 9);
	assert_int_equal(kv_count(kv), 1);

	/* Same value again still bumps ModifyIndex (Consul 1.7). */
	assert_true(apply(kv, 10, KV_OP_SET, "foo", "longer value", 0, 0));
	assert_int_equal(kv_get(kv, "foo", &e), 0);
	assert_int_equal(e.modify_index, 10);

	/* Empty value. */
	assert_true(set(kv, 11, "empty", ""));
	assert_int_equal(kv_get(kv, "empty", &e), 0);
	assert_int_equal(e.len, 0);
	assert_int_equal(kv_get(kv, "fo", NULL), -ENOENT);
	assert_int_equal(kv_get(kv, "foo/", NULL), -ENOENT);
	assert_int_equal(kv_get(kv, NULL, NULL), -ENOENT);
	assert_int_equal(kv_count(kv), 2);

	/* Deleted then set again: a new CreateIndex. */
	assert_true(apply(kv, 12, KV_OP_DELETE, "foo", NULL, 0, 0));
	assert_true(set(kv, 13, "foo", "again"));
	assert_int_equal(kv_get(kv, "foo", &e), 0);
	assert_int_equal(e.create_index, 13);
	assert_int_equal(e.modify_index, 13);
	check_consistent(kv);
	kv_free(kv);
}

static void test_cas(void **state)
{
	struct kv *kv = kv_new();
	struct kv_entry e;
	/* cas 0, absent: created. */
	assert_true(apply(kv, 3, KV_OP_CAS, "k", "v1", 1, 0));
	assert_int_equal(kv_get(kv, "k", &e), 0);
	assert_int_equal(e.create_index, 3);
	assert_int_equal(e.flags, 1);
	/* cas 0, present: refused, nothing changes but the applied index. */
	assert_false(apply(kv, 4, KV_OP_CAS, "k", "v2", 2, 0));
	assert_int_equal(kv_get(kv, "k", &e), 0);
	assert_memory_equal(e.value, "v1", 2);
	assert_int_equal(e.modify_index, 3);
	assert_int_equal(kv_index(kv), 3);
	assert_int_equal(kv_applied(kv), 4);
	/* Non-matching index. */
	assert_false(apply(kv, 5, KV_OP_CAS, "k", "v2", 0, 2));
	assert_false(apply(kv, 6, KV_OP_CAS, "k", "v2", 0, 4));
	assert_int_equal(kv_index(kv), 3);
	/* Matching index: set, CreateIndex kept. */
	assert_true(apply(kv, 7, KV_OP_CAS, "k", "v3", 5, 3));
	assert_int_equal(kv_get(kv, "k", &e), 0);
	assert_memory_equal(e.value, "v3", 2);
	assert_int_equal(e.flags, 5);
	assert_int_equal(e.create_index, 3);
	assert_int_equal(e.modify_index, 7);
	assert_int_equal(kv_index(kv), 7);
	/* The old index no longer matches. */
	assert_false(apply(kv, 8, KV_OP_CAS, "k", "v4", 0, 3));
	/* Non-zero cas on an absent key. */
	assert_false(apply(kv, 9, KV_OP_CAS, "other", "x", 0, 7));
	assert_int_equal(kv_get(kv, "other", NULL), -ENOENT);
	/* Absent again after a delete: cas 0 creates. */
	assert_true(apply(kv, 10, KV_OP_DELETE, "k", NULL, 0, 0));
	assert_false(apply(kv, 11, KV_OP_CAS, "k", "v5", 0, 7));
	assert_true(apply(kv, 12, KV_OP_CAS, "k", "v5", 0, 0));
	assert_int_equal(kv_get(kv, "k", &e), 0);
	assert_int_equal(e.create_index, 12);
	check_consistent(kv);
	kv_free(kv);
}

static void test_delete(void **state)
{
	struct kv *kv = kv_new();
	assert_true(set(kv, 1, "a", "1"));
	assert_true(set(kv, 2, "b", "2"));
	/* Plain delete: true, present or not; an absent key changes no index. */
	assert_true(apply(kv, 3, KV_OP_DELETE, "a", NULL, 0, 0));
	assert_int_equal(kv_get(kv, "a", NULL), -ENOENT);
	assert_int_equal(kv_index(kv), 3);
	assert_true(apply(kv, 4, KV_OP_DELETE, "a", NULL, 0, 0));
	assert_true(apply(kv, 5, KV_OP_DELETE, "zzz", NULL, 0, 0));
	assert_int_equal(kv_index(kv), 3);
	assert_int_equal(kv_applied(kv), 5);

	/* DELETE_CAS: cas 0 never deletes, a wrong index neither. */
	assert_false(apply(kv, 6, KV_OP_DELETE_CAS, "b", NULL, 0, 0));
	assert_false(apply(kv, 7, KV_OP_DELETE_CAS, "b", NULL, 0, 1));
	assert_int_equal(kv_get(kv, "b", NULL), 0);
	assert_int_equal(kv_index(kv), 3);
	assert_true(apply(kv, 8, KV_OP_DELETE_CAS, "b", NULL, 0, 2));
	assert_int_equal(kv_get(kv, "b", NULL), -ENOENT);
	assert_int_equal(kv_index(kv), 8);
	/* Absent key: true, as Consul's kvsDeleteCASTxn, and no change. */
	assert_true(apply(kv, 9, KV_OP_DELETE_CAS, "b", NULL, 0, 2));
	assert_true(apply(kv, 10, KV_OP_DELETE_CAS, "never", NULL, 0, 0));
	assert_int_equal(kv_index(kv), 8);
	assert_int_equal(kv_count(kv), 0);

	/* DELETE_TREE removes the prefix and nothing else. */
	const char *keys[] = { "web", "web/", "web/a", "web/b/c", "webx", "wea", "x" };
	for (size_t i = 0; i < 7; i++)
		assert_true(set(kv, 20 + i, keys[i], "v"));
	assert_true(apply(kv, 30, KV_OP_DELETE_TREE, "web/", NULL, 0, 0));
	const char *left[] = { "wea", "web", "webx", "x" };
	expect_list(kv, "", left, 4);
	assert_int_equal(kv_index(kv), 30);
	/* Nothing under the prefix: true, no change. */
	assert_true(apply(kv, 31, KV_OP_DELETE_TREE, "web/", NULL, 0, 0));
	assert_true(apply(kv, 32, KV_OP_DELETE_TREE, "nothing", NULL, 0, 0));
	assert_int_equal(kv_index(kv), 30);
	assert_true(apply(kv, 33, KV_OP_DELETE_TREE, "we", NULL, 0, 0));
	const char *left2[] = { "x" };
	expect_list(kv, "", left2, 1);
	/* The empty prefix: everything. */
	assert_true(set(kv, 34, "y", "v"));
	assert_true(apply(kv, 35, KV_OP_DELETE_TREE, "", NULL, 0, 0));
	assert_int_equal(kv_count(kv), 0);
	assert_int_equal(kv_index(kv), 35);
	assert_true(apply(kv, 36, KV_OP_DELETE_TREE, "", NULL, 0, 0));
	assert_int_equal(kv_index(kv), 35);
	check_consistent(kv);
	kv_free(kv);
}

static void test_apply_bad(void **state)
{
	struct kv *kv = kv_new();
	bool r = true;
	assert_true(set(kv, 5, "a", "1"));
	char *before = dump(kv);
	/* Undecodable: skipped, only the applied index moves. */
	const uint8_t junk[] = { 9, 9, 9 };
	assert_int_equal(kv_apply(kv, 6, junk, sizeof(junk), &r), -EINVAL);
	assert_false(r);
	assert_int_equal(kv_applied(kv), 6);
	assert_int_equal(kv_index(kv), 5);
	assert_int_equal(kv_apply(kv, 7, NULL, 0, NULL), -EINVAL);
	assert_int_equal(kv_applied(kv), 7);
	/* Index not increasing: refused, nothing moves. */
	struct kv_cmd c = { .op = KV_OP_SET, .key = "b", .key_len = 1 };
	uint8_t buf[16];
	size_t n = kv_cmd_encode(&c, buf, sizeof(buf));
	assert_int_equal(kv_apply(kv, 7, buf, n, &r), -ERANGE);
	assert_int_equal(kv_apply(kv, 3, buf, n, &r), -ERANGE);
	assert_int_equal(kv_applied(kv), 7);
	char *after = dump(kv);
	/* Only the applied index differs. */
	assert_non_null(strstr(before, "applied 5"));
	assert_non_null(strstr(after, "applied 7"));
	*strstr(after, "applied 7") = '\0';
	*strstr(before, "applied 5") = '\0';
	assert_string_equal(before, after);
	free(before);
	free(after);
	assert_int_equal(kv_apply(kv, 8, buf, n, NULL), 0);
	assert_int_equal(kv_get(kv, "b", NULL), 0);
	kv_free(kv);
}

/* ---- listing ---- */

static int stop_after_two(void *ud, const struct kv_entry *e)
{
	int *n = ud;
	return ++*n == 2;
}

static void test_list_order(void **state)
{
	struct kv *kv = kv_new();
	const char *keys[] = { "b", "\xff", "a/b", "\xc3\xa9", "A", "a", "a0", "a/", "a/b/c",
		               "\x7f", "a/\xc3\xa9", "ab" };
	for (size_t i = 0; i < 12; i++)
		assert_true(set(kv, 1 + i, keys[i], keys[i]));
	/* Byte order: 'A' < 'a' < 0x7f < 0xc3 < 0xff; a proper prefix first. */
	const char *all[] = { "A", "a", "a/", "a/b", "a/b/c", "a/\xc3\xa9", "a0", "ab", "b",
		              "\x7f", "\xc3\xa9", "\xff" };
	expect_list(kv, "", all, 12);
	expect_list(kv, NULL, all, 12);
	const char *a_slash[] = { "a/", "a/b", "a/b/c", "a/\xc3\xa9" };
	expect_list(kv, "a/", a_slash, 4);
	const char *a[] = { "a", "a/", "a/b", "a/b/c", "a/\xc3\xa9", "a0", "ab" };
	expect_list(kv, "a", a, 7);
	const char *exact[] = { "a/b", "a/b/c" };
	expect_list(kv, "a/b", exact, 2);
	const char *high[] = { "\xc3\xa9" };
	expect_list(kv, "\xc3", high, 1);
	expect_list(kv, "c", NULL, 0);
	expect_list(kv, "a/b/c/", NULL, 0);
	expect_list(kv, "\xff\xff", NULL, 0);
	/* Counting without a callback; stopping early. */
	assert_int_equal(kv_list(kv, "a", NULL, NULL), 7);
	int seen = 0;
	assert_int_equal(kv_list(kv, "", stop_after_two, &seen), 2);
	assert_int_equal(seen, 2);
	kv_free(kv);
}

static int stop_keys(void *ud, const char *key)
{
	return 1;
}

static void test_keys_separator(void **state)
{
	struct kv *kv = kv_new();
	/* Consul's documented example (api/kv: ?keys&separator=/). */
	const char *keys[] = { "web/bar", "web/foo", "web/subdir/a", "web/subdir/b",
		               "web/subdir/c/d", "webz", "other/x" };
	for (size_t i = 0; i < 7; i++)
		assert_true(set(kv, 1 + i, keys[i], "v"));
	const char *want[] = { "web/bar", "web/foo", "web/subdir/" };
	expect_keys(kv, "web/", "/", want, 3);
	/* Without a separator: every key. */
	const char *flat[] = { "web/bar", "web/foo", "web/subdir/a", "web/subdir/b",
		               "web/subdir/c/d" };
	expect_keys(kv, "web/", NULL, flat, 5);
	expect_keys(kv, "web/", "", flat, 5);
	/* The separator is looked for after the prefix only. */
	const char *top[] = { "other/", "web/", "webz" };
	expect_keys(kv, "", "/", top, 3);
	expect_keys(kv, NULL, "/", top, 3);
	const char *we[] = { "web/", "webz" };
	expect_keys(kv, "we", "/", we, 2);
	const char *sub[] = { "web/subdir/a", "web/subdir/b", "web/subdir/c/" };
	expect_keys(kv, "web/subdir/", "/", sub, 3);
	/* A key that equals its folded form is given once. */
	assert_true(set(kv, 20, "web/subdir/", "dir"));
	expect_keys(kv, "web/", "/", want, 3);
	/* Longer separators. */
	assert_true(set(kv, 21, "x::y::z", "v"));
	assert_true(set(kv, 22, "x::w", "v"));
	assert_true(set(kv, 23, "x:", "v"));
	const char *colons[] = { "x:", "x::" };
	expect_keys(kv, "x", "::", colons, 2);
	const char *colons2[] = { "x::w", "x::y::" };
	expect_keys(kv, "x::", "::", colons2, 2);
	/* Nothing, stop, count. */
	expect_keys(kv, "nothing", "/", NULL, 0);
	assert_int_equal(kv_keys(kv, "web/", "/", NULL, NULL), 3);
	assert_int_equal(kv_keys(kv, "web/", "/", stop_keys, NULL), 1);
	kv_free(kv);
}

/* ---- indexes ---- */

static void test_indexes(void **state)
{
	struct kv *kv = kv_new();
	assert_int_equal(kv_index(kv), 0);
	assert_int_equal(kv_applied(kv), 0);
	assert_int_equal(kv_prefix_index(kv, "a"), 0);
	assert_int_equal(kv_prefix_index(kv, ""), 0);

	assert_true(set(kv, 10, "a/1", "v"));
	assert_true(set(kv, 12, "a/2", "v"));
	assert_true(set(kv, 15, "b/1", "v"));
	assert_int_equal(kv_index(kv), 15);
	assert_int_equal(kv_prefix_index(kv, ""), 15);
	assert_int_equal(kv_prefix_index(kv, NULL), 15);
	assert_int_equal(kv_prefix_index(kv, "a"), 12);
	assert_int_equal(kv_prefix_index(kv, "a/"), 12);
	assert_int_equal(kv_prefix_index(kv, "a/1"), 10);
	assert_int_equal(kv_prefix_index(kv, "b"), 15);
	assert_int_equal(kv_prefix_index(kv, "c"), 0);

	/* Deleting the newest key under a prefix must not move its index back. */
	assert_true(apply(kv, 20, KV_OP_DELETE, "a/2", NULL, 0, 0));
	assert_int_equal(kv_prefix_index(kv, "a/"), 20);
	assert_int_equal(kv_prefix_index(kv, "a/2"), 20);
	assert_int_equal(kv_prefix_index(kv, "a/1"), 10);
	assert_int_equal(kv_prefix_index(kv, "b/"), 15);
	assert_int_equal(kv_index(kv), 20);
	/* A failed CAS and a no-op delete change no index. */
	assert_false(apply(kv, 21, KV_OP_CAS, "a/1", "x", 0, 3));
	assert_true(apply(kv, 22, KV_OP_DELETE, "a/2", NULL, 0, 0));
	assert_int_equal(kv_index(kv), 20);
	assert_int_equal(kv_applied(kv), 22);
	assert_int_equal(kv_prefix_index(kv, "a/"), 20);
	/* Set again: the new ModifyIndex wins. */
	assert_true(set(kv, 25, "a/2", "v"));
	assert_int_equal(kv_prefix_index(kv, "a/2"), 25);
	/* A tree delete marks each key it removed. */
	assert_true(apply(kv, 30, KV_OP_DELETE_TREE, "a/", NULL, 0, 0));
	assert_int_equal(kv_prefix_index(kv, "a/1"), 30);
	assert_int_equal(kv_prefix_index(kv, "a/2"), 30);
	assert_int_equal(kv_prefix_index(kv, "a"), 30);
	assert_int_equal(kv_prefix_index(kv, "b"), 15);
	assert_int_equal(kv_prefix_index(kv, "a/3"), 0);
	assert_int_equal(kv_index(kv), 30);
	assert_int_equal(kv_prefix_index(kv, ""), 30);
	check_consistent(kv);
	kv_free(kv);
}

/* Past KV_TOMBSTONE_MAX deletes the oldest are folded into a floor: prefixes
 * may read too high, never too low, and never go backwards. */
static void test_tombstone_limit(void **state)
{
	struct kv *kv = kv_new();
	const size_t extra = 50, n = KV_TOMBSTONE_MAX + extra;
	char key[32];
	uint64_t idx = 0;
	assert_true(set(kv, ++idx, "keep", "v"));
	for (size_t i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "t/%06zu", i);
		assert_true(set(kv, ++idx, key, "v"));
	}
	uint64_t first_delete = idx + 1;
	for (size_t i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "t/%06zu", i);
		assert_true(apply(kv, ++idx, KV_OP_DELETE, key, NULL, 0, 0));
	}
	assert_int_equal(kv_count(kv), 1);
	/* The 50 oldest tombstones were dropped: floor = the 50th delete. */
	uint64_t floor = first_delete + extra - 1;
	for (size_t i = 0; i < n; i += 997) {
		snprintf(key, sizeof(key), "t/%06zu", i);
		uint64_t want = first_delete + i;
		assert_int_equal(kv_prefix_index(kv, key), want > floor ? want : floor);
	}
	assert_int_equal(kv_prefix_index(kv, "untouched/"), floor);
	assert_int_equal(kv_prefix_index(kv, "keep"), floor);
	assert_int_equal(kv_prefix_index(kv, "t/"), idx);
	check_consistent(kv);

	/* A tree delete of more keys than the limit. */
	struct kv *kv2 = kv_new();
	idx = 0;
	for (size_t i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "d/%06zu", i);
		assert_true(set(kv2, ++idx, key, ""));
	}
	assert_true(apply(kv2, ++idx, KV_OP_DELETE_TREE, "d/", NULL, 0, 0));
	assert_int_equal(kv_count(kv2), 0);
	assert_int_equal(kv_prefix_index(kv2, "d/000000"), idx);
	assert_int_equal(kv_prefix_index(kv2, "elsewhere"), idx);
	assert_int_equal(kv_index(kv2), idx);
	check_consistent(kv2);
	kv_free(kv2);
	kv_free(kv);
}

static uint64_t rnd(void);

/* Which tombstones are dropped must not depend on the tree's shape, which
 * differs between a server that applied the log and one restored from a
 * snapshot: both must go on to hold the same store. */
static void test_tombstone_limit_shape(void **state)
{
	const size_t n = KV_TOMBSTONE_MAX + 2000;
	size_t *order = malloc(n * sizeof(*order));
	assert_non_null(order);
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	for (size_t i = n - 1; i > 0; i--) {
		size_t j = rnd() % (i + 1), t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	struct kv *a = kv_new();
	char key[32];
	uint64_t idx = 0;
	for (size_t i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "s/%06zu", order[i]);
		assert_true(set(a, ++idx, key, "v"));
	}
	/* A few tombstones in a random order: a's tombstone tree now has
	 * another shape than b's, which is built in key order. */
	for (size_t i = 0; i < 300; i++) {
		snprintf(key, sizeof(key), "s/%06zu", order[i * 7]);
		assert_true(apply(a, ++idx, KV_OP_DELETE, key, NULL, 0, 0));
	}
	uint8_t *da, *db;
	size_t la, lb;
	snapshot(a, &da, &la);
	struct kv *b = kv_new();
	assert_int_equal(kv_restore(b, da, la), 0);
	free(da);
	/* The first tree delete makes ~9700 tombstones of one index; the second
	 * ~8400 more, which drops the 300 older ones and then ~1700 of the first
	 * batch: ties decide which. */
	const char *trees[] = { "s/00", "s/01", "" };
	for (size_t t = 0; t < 3; t++) {
		++idx;
		assert_true(apply(a, idx, KV_OP_DELETE_TREE, trees[t], NULL, 0, 0));
		assert_true(apply(b, idx, KV_OP_DELETE_TREE, trees[t], NULL, 0, 0));
		snapshot(a, &da, &la);
		snapshot(b, &db, &lb);
		assert_int_equal(la, lb);
		assert_memory_equal(da, db, la);
		free(da);
		free(db);
	}
	free(order);
	kv_free(a);
	kv_free(b);
}

/* ---- snapshots ---- */

static struct kv *sample_store(void)
{
	struct kv *kv = kv_new();
	assert_true(apply(kv, 3, KV_OP_SET, "web/a", "1", 9, 0));
	assert_true(apply(kv, 4, KV_OP_SET, "web/b", "", 0, 0));
	assert_true(apply(kv, 5, KV_OP_SET, "\xc3\xa9t\xc3\xa9", "\x01\x02", UINT64_MAX, 0));
	assert_true(apply(kv, 6, KV_OP_SET, "gone", "x", 0, 0));
	assert_true(apply(kv, 8, KV_OP_DELETE, "gone", NULL, 0, 0));
	assert_true(apply(kv, 9, KV_OP_SET, "web/a", "2", 1, 0));
	assert_false(apply(kv, 11, KV_OP_CAS, "web/b", "x", 0, 1));
	return kv;
}

static void test_snapshot_roundtrip(void **state)
{
	struct kv *kv = sample_store();
	uint8_t *data;
	size_t len;
	snapshot(kv, &data, &len);

	struct kv *r = kv_new();
	assert_true(set(r, 100, "to-be-replaced", "v")); /* restore replaces it all */
	assert_int_equal(kv_restore(r, data, len), 0);
	char *a = dump(kv), *b = dump(r);
	assert_string_equal(a, b);
	free(a);
	free(b);
	assert_int_equal(kv_index(r), 9);
	assert_int_equal(kv_applied(r), 11);
	assert_int_equal(kv_get(r, "to-be-replaced", NULL), -ENOENT);
	const char *prefixes[] = { "", "web/", "web/a", "gone", "g", "\xc3", "zz" };
	for (size_t i = 0; i < 7; i++)
		assert_int_equal(kv_prefix_index(r, prefixes[i]), kv_prefix_index(kv, prefixes[i]));
	assert_int_equal(kv_prefix_index(r, "gone"), 8);
	check_consistent(r);

	/* Both go on identically. */
	assert_true(set(kv, 12, "gone", "back"));
	assert_true(set(r, 12, "gone", "back"));
	assert_true(apply(kv, 13, KV_OP_DELETE_TREE, "web/", NULL, 0, 0));
	assert_true(apply(r, 13, KV_OP_DELETE_TREE, "web/", NULL, 0, 0));
	uint8_t *d1, *d2;
	size_t l1, l2;
	snapshot(kv, &d1, &l1);
	snapshot(r, &d2, &l2);
	assert_int_equal(l1, l2);
	assert_memory_equal(d1, d2, l1);
	free(d1);
	free(d2);

	/* An empty store's snapshot empties a store. */
	struct kv *empty = kv_new();
	uint8_t *e;
	size_t elen;
	snapshot(empty, &e, &elen);
	assert_int_equal(kv_restore(r, e, elen), 0);
	assert_int_equal(kv_count(r), 0);
	assert_int_equal(kv_index(r), 0);
	assert_int_equal(kv_applied(r), 0);
	free(e);
	kv_free(empty);
	free(data);
	kv_free(r);
	kv_free(kv);
}

/* Restores bad into a store holding other contents: either -EINVAL and the
 * store unchanged, or success and a consistent store. */
static int try_restore(struct kv *target, const char *before, const uint8_t *orig,
                       size_t orig_len, const uint8_t *bad, size_t len)
{
	int rc = kv_restore(target, bad, len);
	if (rc == 0) {
		check_consistent(target);
		assert_int_equal(kv_restore(target, orig, orig_len), 0);
	} else {
		assert_int_equal(rc, -EINVAL);
	}
	char *now = dump(target);
	assert_string_equal(now, before);
	free(now);
	return rc;
}

static void test_snapshot_corrupt(void **state)
{
	struct kv *kv = sample_store();
	uint8_t *data;
	size_t len;
	snapshot(kv, &data, &len);

	/* The target holds something else; it must keep it on every error. */
	struct kv *target = kv_new();
	assert_true(set(target, 1, "target", "t"));
	assert_true(apply(target, 2, KV_OP_DELETE, "target", NULL, 0, 0));
	assert_true(set(target, 3, "other", "o"));
	uint8_t *tdata;
	size_t tlen;
	snapshot(target, &tdata, &tlen);
	char *before = dump(target);

	uint8_t *buf = malloc(len + 1);
	assert_non_null(buf);
	/* Truncations, and one byte too many. */
	for (size_t n = 0; n < len; n++)
		assert_int_equal(try_restore(target, before, tdata, tlen, data, n), -EINVAL);
	memcpy(buf, data, len);
	buf[len] = 0;
	assert_int_equal(try_restore(target, before, tdata, tlen, buf, len + 1), -EINVAL);

	/* Every byte flipped: the checksum catches it. */
	const uint8_t masks[] = { 0x01, 0x80, 0xff, 0x10 };
	for (size_t i = 0; i < len; i++) {
		for (size_t m = 0; m < sizeof(masks); m++) {
			memcpy(buf, data, len);
			buf[i] ^= masks[m];
			assert_int_equal(try_restore(target, before, tdata, tlen, buf, len), -EINVAL);
		}
	}
	/* Every byte changed with the checksum fixed: the structure checks must
	 * refuse it or give a consistent store. */
	size_t accepted = 0, refused = 0;
	for (size_t i = 0; i < len - 4; i++) {
		for (unsigned v = 0; v < 256; v++) {
			if (v == data[i])
				continue;
			memcpy(buf, data, len);
			buf[i] = (uint8_t)v;
			fix_crc(buf, len);
			if (try_restore(target, before, tdata, tlen, buf, len) == 0)
				accepted++;
			else
				refused++;
		}
	}
	assert_true(accepted > 0); /* e.g. value bytes */
	assert_true(refused > 0);
	/* Truncations with the checksum fixed. */
	for (size_t n = 4; n < len; n++) {
		memcpy(buf, data, n);
		fix_crc(buf, n);
		assert_int_equal(try_restore(target, before, tdata, tlen, buf, n), -EINVAL);
	}
	assert_int_equal(kv_restore(target, NULL, 0), -EINVAL);

	free(buf);
	free(before);
	free(tdata);
	free(data);
	kv_free(target);
	kv_free(kv);
}

/* Snapshots that are well formed but say impossible things. */
static void test_snapshot_invariants(void **state)
{
	struct kv *kv = kv_new();
	assert_true(set(kv, 2, "a", "v"));
	assert_true(set(kv, 3, "b", "v"));
	assert_true(apply(kv, 4, KV_OP_DELETE, "b", NULL, 0, 0));
	assert_false(apply(kv, 6, KV_OP_CAS, "a", "x", 0, 99)); /* applied 6, index 4 */
	uint8_t *data;
	size_t len;
	snapshot(kv, &data, &len);
	/* Header: magic 4, version 1, applied, index, floor, nlive, ntombs (u64
	 * LE), then "a": 01 'a' 01 'v' 00 02 02, then "b": 01 'b' 04, then CRC. */
	const uint8_t body[] = { 1, 'a', 1, 'v', 0, 2, 2, 1, 'b', 4 };
	assert_int_equal(len, 45 + sizeof(body) + 4);
	assert_memory_equal(data, "CCKV\x01", 5);
	assert_memory_equal(data + 45, body, sizeof(body));

	struct {
		size_t off;
		uint8_t val;
	} bad[] = {
		{ 5, 3 },        /* applied 3 < index 4 */
		{ 13, 3 },       /* index 3 below the tombstone's 4 */
		{ 13, 5 },       /* index 5 but nothing newer than 4 */
		{ 21, 5 },       /* floor above index */
		{ 29, 2 },       /* live count wrong */
		{ 29, 0 },
		{ 37, 0 },       /* tombstone count wrong */
		{ 45 + 1, 'b' }, /* live "b" and tombstone "b" */
		{ 45 + 1, 0 },   /* NUL key */
		{ 45 + 5, 0 },   /* create 0 */
		{ 45 + 5, 3 },   /* create > modify */
		{ 45 + 6, 5 },   /* modify > index */
		{ 45 + 8, 'a' }, /* tombstone for a live key */
		{ 45 + 9, 0 },   /* tombstone index 0 */
		{ 45 + 9, 5 },   /* tombstone index > index */
		{ 45 + 7, 0 },   /* empty key */
		{ 45 + 0, 0 },   /* empty key */
	};
	uint8_t *buf = malloc(len);
	assert_non_null(buf);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(buf, data, len);
		buf[bad[i].off] = bad[i].val;
		fix_crc(buf, len);
		assert_int_equal(kv_restore(kv, buf, len), -EINVAL);
	}
	char *d = dump(kv);
	assert_string_equal(d, "a=76 f0 c2 m2 l0\ncount 1/1 index 4 applied 6\n");
	free(d);
	/* A floor equal to the index is possible (the tombstone dropped). */
	memcpy(buf, data, len);
	buf[21] = 4;
	fix_crc(buf, len);
	assert_int_equal(kv_restore(kv, buf, len), 0);
	assert_int_equal(kv_prefix_index(kv, "zzz"), 4);
	/* Order: two live keys swapped. */
	struct kv *two = kv_new();
	assert_true(set(two, 1, "a", "v"));
	assert_true(set(two, 2, "b", "v"));
	uint8_t *d2;
	size_t l2;
	snapshot(two, &d2, &l2);
	uint8_t *b2 = malloc(l2);
	memcpy(b2, d2, l2);
	b2[45 + 1] = 'b';
	fix_crc(b2, l2);
	assert_int_equal(kv_restore(two, b2, l2), -EINVAL); /* "b" twice */
	b2[45 + 1] = 'c';
	fix_crc(b2, l2);
	assert_int_equal(kv_restore(two, b2, l2), -EINVAL); /* "c" before "b" */
	b2[45 + 1] = 'a';
	b2[4] = 2;
	fix_crc(b2, l2);
	assert_int_equal(kv_restore(two, b2, l2), -EINVAL); /* version */
	b2[4] = 1;
	b2[0] = 'X';
	fix_crc(b2, l2);
	assert_int_equal(kv_restore(two, b2, l2), -EINVAL); /* magic */
	b2[0] = 'C';
	fix_crc(b2, l2);
	assert_int_equal(kv_restore(two, b2, l2), 0);
	/* Huge counts must not allocate anything before failing. */
	memset(b2 + 29, 0xff, 8);
	fix_crc(b2, l2);
	assert_int_equal(kv_restore(two, b2, l2), -EINVAL);
	free(b2);
	free(d2);
	kv_free(two);
	free(buf);
	free(data);
	kv_free(kv);
}

/* ---- randomized comparison with a reference model ---- */

#define MODEL_KEYS 84 /* all strings of 1..3 letters over the alphabet */

static const char alphabet[] = { 'a', 'b', '/', (char)0xe9 };

struct mkey {
	char key[4];
	bool present;
	uint8_t val[8];
	size_t len;
	uint64_t flags, create, modify, deleted;
};

struct model {
	struct mkey k[MODEL_KEYS];
	uint64_t index, applied;
};

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rnd(void)
{
	uint64_t x = rng_state;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(a, b); /* strcmp orders by unsigned bytes */
}

static void model_init(struct model *m)
{
	memset(m, 0, sizeof(*m));
	size_t n = 0;
	for (size_t len = 1; len <= 3; len++) {
		size_t combos = len == 1 ? 4 : len == 2 ? 16 : 64;
		for (size_t c = 0; c < combos; c++) {
			size_t x = c;
			for (size_t i = 0; i < len; i++, x /= 4)
				m->k[n].key[i] = alphabet[x % 4];
			n++;
		}
	}
	assert_int_equal(n, MODEL_KEYS);
	qsort(m->k, MODEL_KEYS, sizeof(m->k[0]), cmp_str);
}

static void random_string(char *out, size_t maxlen)
{
	size_t len = rnd() % (maxlen + 1);
	for (size_t i = 0; i < len; i++)
		out[i] = alphabet[rnd() % 4];
	out[len] = '\0';
}

static bool has_prefix(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

static uint64_t model_prefix_index(const struct model *m, const char *p)
{
	if (!*p)
		return m->index;
	uint64_t x = 0;
	for (size_t i = 0; i < MODEL_KEYS; i++) {
		if (!has_prefix(m->k[i].key, p))
			continue;
		uint64_t v = m->k[i].present ? m->k[i].modify : m->k[i].deleted;
		if (v > x)
			x = v;
	}
	return x;
}

struct list_check {
	const struct model *m;
	const char *prefix;
	size_t i; /* next model key to look at */
};

static int check_entry(void *ud, const struct kv_entry *e)
{
	struct list_check *c = ud;
	while (c->i < MODEL_KEYS &&
	       (!c->m->k[c->i].present || !has_prefix(c->m->k[c->i].key, c->prefix)))
		c->i++;
	assert_true(c->i < MODEL_KEYS);
	const struct mkey *k = &c->m->k[c->i++];
	assert_string_equal(e->key, k->key);
	assert_int_equal(e->len, k->len);
	if (k->len)
		assert_memory_equal(e->value, k->val, k->len);
	assert_int_equal(e->flags, k->flags);
	assert_int_equal(e->create_index, k->create);
	assert_int_equal(e->modify_index, k->modify);
	return 0;
}

static void model_check_prefix(const struct kv *kv, const struct model *m, const char *p)
{
	size_t want = 0;
	for (size_t i = 0; i < MODEL_KEYS; i++)
		want += m->k[i].present && has_prefix(m->k[i].key, p);
	struct list_check c = { m, p, 0 };
	assert_int_equal(kv_list(kv, p, check_entry, &c), want);
	assert_int_equal(kv_prefix_index(kv, p), model_prefix_index(m, p));

	/* Keys with separators: folded strings, sorted and unique. */
	const char *seps[] = { "/", "a/", "" };
	for (size_t s = 0; s < 3; s++) {
		char folded[MODEL_KEYS][4];
		size_t n = 0;
		for (size_t i = 0; i < MODEL_KEYS; i++) {
			const char *k = m->k[i].key;
			if (!m->k[i].present || !has_prefix(k, p))
				continue;
			size_t len = strlen(k);
			const char *at = *seps[s] ? strstr(k + strlen(p), seps[s]) : NULL;
			if (at)
				len = (size_t)(at - k) + strlen(seps[s]);
			memcpy(folded[n], k, len);
			folded[n][len] = '\0';
			n++;
		}
		qsort(folded, n, sizeof(folded[0]), cmp_str);
		size_t u = 0;
		for (size_t i = 0; i < n; i++)
			if (u == 0 || strcmp(folded[u - 1], folded[i]) != 0)
				memmove(folded[u++], folded[i], 4);
		struct strs got = { 0 };
		assert_int_equal(kv_keys(kv, p, seps[s], collect_key, &got), u);
		for (size_t i = 0; i < u; i++)
			assert_string_equal(got.s[i], folded[i]);
		strs_free(&got);
	}
}

static void model_check_all(const struct kv *kv, const struct model *m)
{
	assert_int_equal(kv_index(kv), m->index);
	assert_int_equal(kv_applied(kv), m->applied);
	size_t live = 0;
	for (size_t i = 0; i < MODEL_KEYS; i++) {
		const struct mkey *k = &m->k[i];
		live += k->present;
		struct kv_entry e;
		assert_int_equal(kv_get(kv, k->key, &e), k->present ? 0 : -ENOENT);
		assert_int_equal(kv_prefix_index(kv, k->key), model_prefix_index(m, k->key));
	}
	assert_int_equal(kv_count(kv), live);
	model_check_prefix(kv, m, "");
}

static void model_set(struct model *m, struct mkey *k, const struct kv_cmd *c)
{
	if (!k->present)
		k->create = m->applied;
	k->present = true;
	k->modify = m->applied;
	k->len = c->value_len;
	memcpy(k->val, c->value, c->value_len);
	k->flags = c->flags;
	m->index = m->applied;
}

static void model_delete(struct model *m, struct mkey *k)
{
	if (!k->present)
		return;
	k->present = false;
	k->deleted = m->applied;
	m->index = m->applied;
}

static uint64_t pick_cas(const struct mkey *k)
{
	switch (rnd() % 3) {
	case 0:
		return 0;
	case 1:
		return k->present ? k->modify : 1 + rnd() % 50;
	default:
		return 1 + rnd() % 2000;
	}
}

static void test_model(void **state)
{
	struct model *m = malloc(sizeof(*m));
	assert_non_null(m);
	model_init(m);
	struct kv *kv = kv_new();
	uint64_t index = 0;
	for (int step = 0; step < 20000; step++) {
		index += 1 + rnd() % 3;
		struct mkey *k = &m->k[rnd() % MODEL_KEYS];
		char tree[4];
		uint8_t val[8];
		for (size_t i = 0; i < sizeof(val); i++)
			val[i] = (uint8_t)rnd();
		struct kv_cmd c = { .key = k->key, .key_len = strlen(k->key), .value = val };
		unsigned dice = (unsigned)(rnd() % 100);
		bool want = true;
		if (dice < 35) {
			c.op = KV_OP_SET;
			c.value_len = rnd() % 8;
			c.flags = rnd() % 2 ? 0 : rnd();
		} else if (dice < 50) {
			c.op = KV_OP_CAS;
			c.value_len = rnd() % 8;
			c.cas = pick_cas(k);
		} else if (dice < 65) {
			c.op = KV_OP_DELETE;
		} else if (dice < 75) {
			c.op = KV_OP_DELETE_CAS;
			c.cas = pick_cas(k);
		} else if (dice < 80) {
			/* Mostly short prefixes; now and then everything. */
			c.op = KV_OP_DELETE_TREE;
			c.key_len = rnd() % 50 == 0 ? 0 : 1 + rnd() % 3;
			for (size_t i = 0; i < c.key_len; i++)
				tree[i] = alphabet[rnd() % 4];
			tree[c.key_len] = '\0';
			c.key = tree;
		} else if (dice < 85) {
			/* Something undecodable: skipped, only applied moves. */
			uint8_t junk[12];
			size_t n = rnd() % sizeof(junk);
			for (size_t i = 0; i < n; i++)
				junk[i] = (uint8_t)rnd();
			junk[0] = (uint8_t)(2 + rnd() % 254); /* never version 1 */
			bool res = true;
			assert_int_equal(kv_apply(kv, index, junk, n, &res), -EINVAL);
			assert_false(res);
			m->applied = index;
			continue;
		} else {
			char p[4];
			random_string(p, 3);
			model_check_prefix(kv, m, p);
			continue;
		}

		uint8_t buf[64];
		size_t n = kv_cmd_encode(&c, buf, sizeof(buf));
		assert_true(n > 0 && n <= sizeof(buf));
		bool got = false;
		assert_int_equal(kv_apply(kv, index, buf, n, &got), 0);
		m->applied = index;
		switch (c.op) {
		case KV_OP_SET:
			model_set(m, k, &c);
			break;
		case KV_OP_CAS:
			want = c.cas == 0 ? !k->present : k->present && k->modify == c.cas;
			if (want)
				model_set(m, k, &c);
			break;
		case KV_OP_DELETE:
			model_delete(m, k);
			break;
		case KV_OP_DELETE_CAS:
			want = !k->present || k->modify == c.cas;
			if (want)
				model_delete(m, k);
			break;
		case KV_OP_DELETE_TREE:
			for (size_t i = 0; i < MODEL_KEYS; i++)
				if (has_prefix(m->k[i].key, c.key))
					model_delete(m, &m->k[i]);
			break;
		}
		assert_int_equal(got, want);

		if (step % 1000 == 999) {
			model_check_all(kv, m);
			check_consistent(kv);
			/* Carry on with a restored copy. */
			uint8_t *data;
			size_t len;
			snapshot(kv, &data, &len);
			struct kv *r = kv_new();
			assert_int_equal(kv_restore(r, data, len), 0);
			free(data);
			kv_free(kv);
			kv = r;
			model_check_all(kv, m);
		}
	}
	model_check_all(kv, m);
	kv_free(kv);
	free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cmd_roundtrip),
		cmocka_unit_test(test_cmd_encode_rejects),
		cmocka_unit_test(test_cmd_malformed),
		cmocka_unit_test(test_set_get_replace),
		cmocka_unit_test(test_cas),
		cmocka_unit_test(test_delete),
		cmocka_unit_test(test_apply_bad),
		cmocka_unit_test(test_list_order),
		cmocka_unit_test(test_keys_separator),
		cmocka_unit_test(test_indexes),
		cmocka_unit_test(test_tombstone_limit),
		cmocka_unit_test(test_tombstone_limit_shape),
		cmocka_unit_test(test_snapshot_roundtrip),
		cmocka_unit_test(test_snapshot_corrupt),
		cmocka_unit_test(test_snapshot_invariants),
		cmocka_unit_test(test_model),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
