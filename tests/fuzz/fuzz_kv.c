/* libFuzzer target: bytes from anywhere, read as a KV command, as a run of
 * commands and as a snapshot (once as is, once with its checksum made right so
 * the structure checks are reached), must give a result or -EINVAL, never a
 * crash, a leak or an inconsistent store. Whatever is accepted must also be
 * canonical: re-encoding a decoded command, or snapshotting a restored store,
 * gives back the same bytes. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kv/kv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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

static int count_entry(void *ud, const struct kv_entry *e)
{
	const char **prev = ud;
	if (*prev && strcmp(*prev, e->key) >= 0)
		abort(); /* out of order */
	if (e->create_index == 0 || e->create_index > e->modify_index)
		abort();
	*prev = e->key;
	return 0;
}

static void check(const struct kv *kv)
{
	const char *prev = NULL;
	if (kv_list(kv, "", count_entry, &prev) != kv_count(kv))
		abort();
	if (kv_index(kv) > kv_applied(kv) || kv_prefix_index(kv, "") != kv_index(kv))
		abort();
}

static bool same_snapshot(const struct kv *kv, const uint8_t *data, size_t len)
{
	uint8_t *s;
	size_t n;
	if (kv_snapshot(kv, &s, &n) < 0)
		return false;
	bool same = n == len && memcmp(s, data, n) == 0;
	free(s);
	return same;
}

/* Restore into a store with contents: success gives back exactly these
 * bytes; failure leaves the store as it was. */
static void try_restore(struct kv *kv, const uint8_t *data, size_t len)
{
	uint8_t *before;
	size_t blen;
	if (kv_snapshot(kv, &before, &blen) < 0)
		return;
	int rc = kv_restore(kv, data, len);
	if (rc == 0) {
		check(kv);
		if (!same_snapshot(kv, data, len))
			abort();
		if (kv_restore(kv, before, blen) != 0)
			abort();
	} else if (rc != -EINVAL || !same_snapshot(kv, before, blen)) {
		abort();
	}
	free(before);
}

static void seed(struct kv *kv)
{
	static const char *keys[] = { "a", "a/b", "a/c/d", "b", "\xc3\xa9" };
	uint64_t idx = 0;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		struct kv_cmd c = { .op = KV_OP_SET, .key = keys[i], .key_len = strlen(keys[i]),
			            .value = (const uint8_t *)"v", .value_len = 1, .flags = i };
		uint8_t buf[64];
		size_t n = kv_cmd_encode(&c, buf, sizeof(buf));
		if (kv_apply(kv, ++idx, buf, n, NULL) != 0)
			abort();
	}
	struct kv_cmd d = { .op = KV_OP_DELETE, .key = "b", .key_len = 1 };
	uint8_t buf[64];
	size_t n = kv_cmd_encode(&d, buf, sizeof(buf));
	if (kv_apply(kv, ++idx, buf, n, NULL) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kv *kv = kv_new();
	if (!kv)
		return 0;
	seed(kv);

	/* One command. */
	struct kv_cmd c;
	bool r;
	if (kv_cmd_decode(data, size, &c) == 0) {
		uint8_t *again = malloc(size ? size : 1);
		if (!again || kv_cmd_encode(&c, again, size) != size || memcmp(again, data, size))
			abort();
		free(again);
		if (kv_apply(kv, 100, data, size, &r) != 0)
			abort();
	} else if (kv_apply(kv, 100, data, size, &r) != -EINVAL || r) {
		abort();
	}
	check(kv);

	/* A run of commands, each behind a one-byte length. */
	uint64_t idx = 100;
	for (size_t off = 0; off < size;) {
		size_t n = data[off++];
		if (n > size - off)
			n = size - off;
		int rc = kv_apply(kv, ++idx, data + off, n, &r);
		if (rc != 0 && rc != -EINVAL)
			abort();
		off += n;
	}
	check(kv);

	/* A snapshot, as is and with its checksum right. */
	try_restore(kv, data, size);
	if (size >= 4) {
		uint8_t *fixed = malloc(size);
		if (fixed) {
			memcpy(fixed, data, size);
			uint32_t crc = crc32c(fixed, size - 4);
			for (int i = 0; i < 4; i++)
				fixed[size - 4 + i] = (uint8_t)(crc >> (8 * i));
			try_restore(kv, fixed, size);
			free(fixed);
		}
	}
	kv_free(kv);
	return 0;
}
