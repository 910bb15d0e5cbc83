/* libFuzzer target: bytes from anywhere, read as a catalog command, as a run
 * of commands applied in turn (each prefixed by a one-byte length) and as a
 * catalog snapshot (once as is, once with its checksum made right so that
 * the structure checks are reached), must give a result or -EINVAL, never a
 * crash, a leak or an inconsistent catalog. Whatever is accepted must be
 * canonical: a decoded command re-encodes to the same bytes, a restored
 * catalog snapshots to the same bytes. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "catalog/catalog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Order and index invariants of everything a catalog shows. */
static void check(const struct catalog *c)
{
	uint64_t applied = catalog_applied(c);
	if (catalog_index(c) > applied)
		abort();
	for (size_t i = 0; i < catalog_node_count(c); i++) {
		const struct catalog_node *n = catalog_node_at(c, i);
		if (i && strcmp(catalog_node_at(c, i - 1)->node, n->node) >= 0)
			abort();
		if (!n->create_index || n->create_index > n->modify_index || n->modify_index > applied)
			abort();
		for (size_t j = 0; j < catalog_service_count(c, i); j++) {
			const struct catalog_service *s = catalog_service_at(c, i, j);
			if (j && strcmp(catalog_service_at(c, i, j - 1)->id, s->id) >= 0)
				abort();
			if (catalog_service_index(c, s->service) < s->modify_index)
				abort();
		}
		for (size_t j = 0; j < catalog_check_count(c, i); j++) {
			const struct catalog_check *k = catalog_check_at(c, i, j);
			if (j && strcmp(catalog_check_at(c, i, j - 1)->check_id, k->check_id) >= 0)
				abort();
			if (strcmp(k->node, n->node) != 0 || k->modify_index > applied)
				abort();
		}
	}
}

static bool same_snapshot(const struct catalog *c, const uint8_t *data, size_t len)
{
	uint8_t *s;
	size_t n;
	if (catalog_snapshot(c, &s, &n) < 0)
		return false;
	bool same = n == len && memcmp(s, data, n) == 0;
	free(s);
	return same;
}

static void try_restore(const uint8_t *data, size_t size)
{
	struct catalog *c = catalog_new();
	if (!c)
		return;
	int rc = catalog_restore(c, data, size);
	if (rc == 0) {
		check(c);
		if (!same_snapshot(c, data, size))
			abort();
	} else if (rc != -EINVAL && rc != -ENOMEM) {
		abort();
	}
	catalog_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* one command */
	struct catalog_decoded d;
	int rc = catalog_cmd_decode(data, size, &d);
	if (rc == 0) {
		size_t n = catalog_cmd_encode(&d.cmd, NULL, 0);
		uint8_t *b = n ? malloc(n) : NULL;
		if (!b || catalog_cmd_encode(&d.cmd, b, n) != n || n != size || memcmp(b, data, n))
			abort();
		free(b);
		catalog_cmd_free(&d);
	} else if (rc != -EINVAL && rc != -ENOMEM) {
		abort();
	}

	/* a run of commands, each a length byte and that many bytes */
	struct catalog *c = catalog_new();
	if (c) {
		uint64_t idx = 1;
		for (size_t off = 0; off < size;) {
			size_t n = data[off++];
			if (n > size - off)
				n = size - off;
			uint8_t buf[256];
			memcpy(buf, data + off, n);
			if (n)
				buf[0] = CATALOG_CMD_TAG;   /* reach past the tag byte */
			char err[256];
			rc = catalog_apply(c, idx++, buf, n, err, sizeof(err));
			if (rc != 0 && rc != -EINVAL && rc != -ENOMEM)
				abort();
			check(c);
			off += n;
		}
		uint8_t *s;
		size_t sn;
		if (catalog_snapshot(c, &s, &sn) == 0) {
			try_restore(s, sn);
			free(s);
		}
		catalog_free(c);
	}

	/* a snapshot, as is and with a right checksum */
	try_restore(data, size);
	if (size >= 4) {
		uint8_t *fixed = malloc(size);
		if (fixed) {
			memcpy(fixed, data, size);
			uint32_t crc = (uint32_t)crc32(0, fixed, (uInt)(size - 4));
			for (int i = 0; i < 4; i++)
				fixed[size - 4 + (size_t)i] = (uint8_t)(crc >> (8 * i));
			try_restore(fixed, size);
			free(fixed);
		}
	}
	return 0;
}
