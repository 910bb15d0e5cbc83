/*
 * raft/wire — frames, Raft messages and server RPC envelopes in msgpack.
 *
 * Encoding packs with msgpack-c's sbuffer and packer. Decoding first walks the
 * payload with a small scanner of our own (bounded nesting, bounded object
 * count, every length checked against the bytes actually present) and only
 * then lets msgpack_unpack_next build objects: msgpack-c allocates 16 bytes
 * per declared array element before reading any of them, so an unchecked
 * "array of 4 billion" header would ask for 64 GiB from 5 bytes of input.
 * After the scan, the zone holds at most 16 bytes per object that is really
 * in the payload (and at most RW_OBJECTS_MAX of them); strings and binaries
 * are referenced in place, never copied.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "raft/wire.h"

/* A Raft message nests three deep (map, "E", one entry); the slack is for
 * fields a newer peer may add, which are skipped but still scanned. */
#define RW_DEPTH_MAX 16
/* The largest legitimate message is an AppendEntries with
 * RAFT_WIRE_ENTRIES_MAX entries of 5 objects each (about 20500 objects). */
#define RW_OBJECTS_MAX 65536u
#define RPC_METHOD_MAX (sizeof(((struct raft_wire_rpc *)0)->method))
#define RPC_ERROR_MAX (sizeof(((struct raft_wire_rpc *)0)->error))

/* ---- errors ---- */

struct dctx {
	const char *what; /* "raft frame", "rpc request", "rpc response" */
	char *err;
	size_t errlen;
};

static int bad(const struct dctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(const struct dctx *c, const char *fmt, ...)
{
	if (c->err && c->errlen) {
		int n = snprintf(c->err, c->errlen, "%s: ", c->what);
		if (n >= 0 && (size_t)n < c->errlen) {
			va_list ap;
			va_start(ap, fmt);
			vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
			va_end(ap);
		}
	}
	return -EINVAL;
}

static int oom(const struct dctx *c)
{
	bad(c, "out of memory");
	return -ENOMEM;
}

/* A key from the network, made safe to quote in a log line. */
static void printable(const uint8_t *s, size_t n, char *out, size_t cap)
{
	size_t i, o = 0;
	for (i = 0; i < n && o + 4 < cap; i++) {
		uint8_t ch = s[i];
		out[o++] = ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\' ? (char)ch : '?';
	}
	if (i < n) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

/* ---- frames ---- */

int raft_wire_frame(const uint8_t *buf, size_t len, size_t max, const uint8_t **payload,
                    size_t *plen, size_t *consumed, char *err, size_t errlen)
{
	if (len < 4)
		return 0;
	uint32_t n = (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 | (uint32_t)buf[2] << 8 |
	             (uint32_t)buf[3];
	/* Checked before the body arrives: the caller must not buffer towards
	 * a length it will refuse anyway. */
	if (n > max) {
		if (err && errlen)
			snprintf(err, errlen, "frame length %" PRIu32 " exceeds limit %zu", n, max);
		return -E2BIG;
	}
	if (len - 4 < n)
		return 0;
	*payload = buf + 4;
	*plen = n;
	*consumed = 4 + (size_t)n;
	return 1;
}

/* ---- the scanner: proves the payload is one bounded msgpack object ---- */

enum skind { K_LEAF, K_STR, K_BIN, K_EXT, K_ARRAY, K_MAP, K_BAD };

static uint64_t be(const uint8_t *p, size_t n)
{
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* The kind of the object starting with byte b, the size of its length field
 * (hdr) and, for fixed-size objects and fix-containers, its body size or item
 * count (fixed). */
static enum skind classify(uint8_t b, size_t *hdr, uint64_t *fixed)
{
	*hdr = 0;
	*fixed = 0;
	if (b <= 0x7f || b >= 0xe0)
		return K_LEAF;
	if (b <= 0x8f) {
		*fixed = b & 0x0f;
		return K_MAP;
	}
	if (b <= 0x9f) {
		*fixed = b & 0x0f;
		return K_ARRAY;
	}
	if (b <= 0xbf) {
		*fixed = b & 0x1f;
		return K_STR;
	}
	switch (b) {
	case 0xc0: case 0xc2: case 0xc3:
		return K_LEAF;
	case 0xc4: case 0xc5: case 0xc6:
		*hdr = (size_t)1 << (b - 0xc4);
		return K_BIN;
	case 0xc7: case 0xc8: case 0xc9:
		*hdr = (size_t)1 << (b - 0xc7);
		return K_EXT;
	case 0xca: case 0xcb:
		*fixed = b == 0xca ? 4 : 8;
		return K_LEAF;
	case 0xcc: case 0xcd: case 0xce: case 0xcf:
		*fixed = (uint64_t)1 << (b - 0xcc);
		return K_LEAF;
	case 0xd0: case 0xd1: case 0xd2: case 0xd3:
		*fixed = (uint64_t)1 << (b - 0xd0);
		return K_LEAF;
	case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8:
		*fixed = 1 + ((uint64_t)1 << (b - 0xd4)); /* type byte + data */
		return K_LEAF;
	case 0xd9: case 0xda: case 0xdb:
		*hdr = (size_t)1 << (b - 0xd9);
		return K_STR;
	case 0xdc: case 0xdd:
		*hdr = b == 0xdc ? 2 : 4;
		return K_ARRAY;
	case 0xde: case 0xdf:
		*hdr = b == 0xde ? 2 : 4;
		return K_MAP;
	default: /* 0xc1, never used */
		return K_BAD;
	}
}

static int scan(const struct dctx *c, const uint8_t *p, size_t len)
{
	uint64_t left[RW_DEPTH_MAX + 1]; /* items still to read at each level */
	unsigned depth = 0;
	size_t pos = 0, nobj = 0;
	bool top_map = false, in_value = false;
	char key[24] = "", where[40] = "";

	left[0] = 1;
	for (;;) {
		while (left[depth] == 0) {
			if (depth == 0)
				goto done;
			depth--;
		}
		/* Errors name the top-level field they happen in: items of the
		 * top map alternate key, value, and left[1] counts down from 2n. */
		if (depth == 1 && top_map) {
			in_value = left[1] % 2 == 1;
			if (in_value)
				snprintf(where, sizeof(where), "field \"%s\": ", key);
			else
				where[0] = '\0';
		}
		left[depth]--;
		if (pos >= len)
			goto truncated;
		if (++nobj > RW_OBJECTS_MAX)
			return bad(c, "%smore than %u msgpack objects", where, RW_OBJECTS_MAX);
		uint8_t b = p[pos++];
		size_t hdr;
		uint64_t n;
		enum skind k = classify(b, &hdr, &n);
		if (k == K_BAD)
			return bad(c, "%sbyte 0x%02x at offset %zu is not msgpack", where, b, pos - 1);
		if (hdr) {
			if (len - pos < hdr)
				goto truncated;
			n = be(p + pos, hdr);
			pos += hdr;
		}
		if (k == K_EXT)
			n += 1; /* the ext type byte */
		if (k == K_MAP)
			n *= 2; /* at most 2^33, no overflow */
		if ((k == K_ARRAY || k == K_MAP) && n > 0) {
			if (depth == RW_DEPTH_MAX)
				return bad(c, "%snested deeper than %d", where, RW_DEPTH_MAX);
			/* Every item takes at least one byte: a count beyond the
			 * bytes left is a lie, caught before anything is sized by it. */
			if (n > len - pos)
				goto truncated;
			if (depth == 0 && k == K_MAP)
				top_map = true;
			if (depth == 1 && top_map && !in_value)
				strcpy(key, "?"); /* a container as a key */
			left[++depth] = n;
			continue;
		}
		if (k == K_ARRAY || k == K_MAP) {
			if (depth == 1 && top_map && !in_value)
				strcpy(key, "?");
			continue; /* empty */
		}
		if (n > len - pos)
			goto truncated;
		if (depth == 1 && top_map && !in_value) {
			if (k == K_STR)
				printable(p + pos, (size_t)n, key, sizeof(key));
			else
				strcpy(key, "?");
		}
		pos += (size_t)n;
	}
done:
	if (pos < len)
		return bad(c, "trailing bytes after the message (%zu)", len - pos);
	return 0;
truncated:
	if (top_map && in_value)
		return bad(c, "field \"%s\": truncated", key);
	if (top_map && key[0])
		return bad(c, "truncated after field \"%s\"", key);
	return bad(c, "truncated (%zu bytes)", len);
}

/* Scans, then unpacks; on success u holds a map and must be destroyed. */
static int unpack_map(const struct dctx *c, const uint8_t *p, size_t len, msgpack_unpacked *u)
{
	if (len == 0)
		return bad(c, "empty payload");
	int rc = scan(c, p, len);
	if (rc)
		return rc;
	msgpack_unpacked_init(u);
	size_t off = 0;
	msgpack_unpack_return r = msgpack_unpack_next(u, (const char *)p, len, &off);
	if (r == MSGPACK_UNPACK_NOMEM_ERROR) {
		msgpack_unpacked_destroy(u);
		return oom(c);
	}
	if (r != MSGPACK_UNPACK_SUCCESS || off != len) {
		/* the scanner accepted it: msgpack-c disagrees with the spec */
		msgpack_unpacked_destroy(u);
		return bad(c, "msgpack-c refused the payload (%d)", (int)r);
	}
	if (u->data.type != MSGPACK_OBJECT_MAP) {
		msgpack_unpacked_destroy(u);
		return bad(c, "expected a map at the top");
	}
	return 0;
}

/* ---- typed readers; label is the field as quoted in errors ---- */

static const char *tname(const msgpack_object *o)
{
	switch (o->type) {
	case MSGPACK_OBJECT_NIL: return "nil";
	case MSGPACK_OBJECT_BOOLEAN: return "bool";
	case MSGPACK_OBJECT_POSITIVE_INTEGER: return "integer";
	case MSGPACK_OBJECT_NEGATIVE_INTEGER: return "negative integer";
	case MSGPACK_OBJECT_FLOAT32: case MSGPACK_OBJECT_FLOAT64: return "float";
	case MSGPACK_OBJECT_STR: return "string";
	case MSGPACK_OBJECT_ARRAY: return "array";
	case MSGPACK_OBJECT_MAP: return "map";
	case MSGPACK_OBJECT_BIN: return "bin";
	case MSGPACK_OBJECT_EXT: return "ext";
	}
	return "?";
}

static int get_u64(const struct dctx *c, const char *label, const msgpack_object *o, uint64_t *v)
{
	if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return bad(c, "field %s: expected an unsigned integer, got %s", label, tname(o));
	*v = o->via.u64;
	return 0;
}

static int get_bool(const struct dctx *c, const char *label, const msgpack_object *o, bool *v)
{
	if (o->type != MSGPACK_OBJECT_BOOLEAN)
		return bad(c, "field %s: expected a bool, got %s", label, tname(o));
	*v = o->via.boolean;
	return 0;
}

/* A string into dst[cap]: at most cap - 1 bytes, no NUL inside. */
static int get_str(const struct dctx *c, const char *label, const msgpack_object *o, char *dst,
                   size_t cap, bool nonempty)
{
	if (o->type != MSGPACK_OBJECT_STR)
		return bad(c, "field %s: expected a string, got %s", label, tname(o));
	size_t n = o->via.str.size;
	if (n >= cap)
		return bad(c, "field %s: %zu bytes, longer than the limit %zu", label, n, cap - 1);
	if (n && memchr(o->via.str.ptr, '\0', n))
		return bad(c, "field %s: contains a NUL byte", label);
	if (nonempty && n == 0)
		return bad(c, "field %s: empty", label);
	if (n)
		memcpy(dst, o->via.str.ptr, n);
	dst[n] = '\0';
	return 0;
}

/* Bytes, pointing into the payload; NULL when empty. */
static int get_bin(const struct dctx *c, const char *label, const msgpack_object *o,
                   const uint8_t **data, size_t *len)
{
	if (o->type != MSGPACK_OBJECT_BIN)
		return bad(c, "field %s: expected bin, got %s", label, tname(o));
	*len = o->via.bin.size;
	*data = *len ? (const uint8_t *)o->via.bin.ptr : NULL;
	return 0;
}

/* ---- Raft messages: the fields ---- */

enum fld {
	F_T, F_F, F_FA, F_TO, F_TM, F_LI, F_LT, F_PV, F_TR, F_G, F_PI,
	F_PT, F_C, F_E, F_S, F_OK, F_I, F_SI, F_ST, F_SC, F_D, F_COUNT
};

static const char *const fld_name[F_COUNT] = {
	"T", "F", "FA", "To", "Tm", "LI", "LT", "PV", "TR", "G", "PI",
	"PT", "C", "E", "S", "OK", "I", "SI", "ST", "SC", "D",
};

/* fld_label[f] is the name in quotes, as errors print it */
static const char *const fld_label[F_COUNT] = {
	"\"T\"", "\"F\"", "\"FA\"", "\"To\"", "\"Tm\"", "\"LI\"", "\"LT\"", "\"PV\"",
	"\"TR\"", "\"G\"", "\"PI\"", "\"PT\"", "\"C\"", "\"E\"", "\"S\"", "\"OK\"",
	"\"I\"", "\"SI\"", "\"ST\"", "\"SC\"", "\"D\"",
};

#define B(f) (1u << (f))
#define COMMON (B(F_T) | B(F_F) | B(F_TO) | B(F_TM))

/* What each type carries. The encoder always writes the required fields
 * (zero values included: a missing term must never read as term 0) and the
 * optional ones (FA, PV, TR, E) only when they are not empty or false, which
 * keeps heartbeats small. The decoder reads only the fields of the type and
 * skips the others like unknown keys. */
static const uint32_t fld_required[RAFT_MSG_TYPE_MAX + 1] = {
	[RAFT_MSG_VOTE] = COMMON | B(F_LI) | B(F_LT),
	[RAFT_MSG_VOTE_RESP] = COMMON | B(F_G),
	[RAFT_MSG_APPEND] = COMMON | B(F_PI) | B(F_PT) | B(F_C) | B(F_S),
	[RAFT_MSG_APPEND_RESP] = COMMON | B(F_PI) | B(F_S) | B(F_OK) | B(F_I),
	[RAFT_MSG_SNAPSHOT] = COMMON | B(F_SI) | B(F_ST) | B(F_SC) | B(F_D),
	[RAFT_MSG_SNAPSHOT_RESP] = COMMON | B(F_OK) | B(F_I),
	[RAFT_MSG_TIMEOUT_NOW] = COMMON,
};

static const uint32_t fld_optional[RAFT_MSG_TYPE_MAX + 1] = {
	[RAFT_MSG_VOTE] = B(F_FA) | B(F_PV) | B(F_TR),
	[RAFT_MSG_VOTE_RESP] = B(F_FA) | B(F_PV),
	[RAFT_MSG_APPEND] = B(F_FA) | B(F_E),
	[RAFT_MSG_APPEND_RESP] = B(F_FA),
	[RAFT_MSG_SNAPSHOT] = B(F_FA),
	[RAFT_MSG_SNAPSHOT_RESP] = B(F_FA),
	[RAFT_MSG_TIMEOUT_NOW] = B(F_FA),
};

static const char *const type_name[RAFT_MSG_TYPE_MAX + 1] = {
	[RAFT_MSG_VOTE] = "RequestVote",
	[RAFT_MSG_VOTE_RESP] = "RequestVote response",
	[RAFT_MSG_APPEND] = "AppendEntries",
	[RAFT_MSG_APPEND_RESP] = "AppendEntries response",
	[RAFT_MSG_SNAPSHOT] = "InstallSnapshot",
	[RAFT_MSG_SNAPSHOT_RESP] = "InstallSnapshot response",
	[RAFT_MSG_TIMEOUT_NOW] = "TimeoutNow",
};

static int fld_lookup(const char *k, size_t n)
{
	for (int f = 0; f < F_COUNT; f++)
		if (strlen(fld_name[f]) == n && memcmp(fld_name[f], k, n) == 0)
			return f;
	return -1;
}

static bool terminated(const char *s, size_t cap)
{
	return memchr(s, '\0', cap) != NULL;
}

/* The checks that do not depend on the encoding, shared by the encoder (a bug
 * shows at the sender) and the decoder. Only the fields of m's type count. */
static int check_msg(const struct dctx *c, const struct raft_msg *m)
{
	if (m->type < 1 || m->type > RAFT_MSG_TYPE_MAX)
		return bad(c, "field \"T\": message type %d out of range 1..%d", (int)m->type,
		           RAFT_MSG_TYPE_MAX);
	if (!terminated(m->from, RAFT_ID_MAX) || !m->from[0])
		return bad(c, "field \"F\": empty or unterminated");
	if (!terminated(m->from_addr, RAFT_ADDR_MAX))
		return bad(c, "field \"FA\": unterminated");
	if (!terminated(m->to, RAFT_ID_MAX))
		return bad(c, "field \"To\": unterminated");

	if (m->type == RAFT_MSG_APPEND) {
		if (m->n_entries > RAFT_WIRE_ENTRIES_MAX)
			return bad(c, "field \"E\": %zu entries, more than the limit %d", m->n_entries,
			           RAFT_WIRE_ENTRIES_MAX);
		if (m->n_entries && !m->entries)
			return bad(c, "field \"E\": no entries array");
		for (size_t i = 0; i < m->n_entries; i++) {
			const struct raft_entry *e = &m->entries[i];
			if (e->type < RAFT_ENTRY_COMMAND || e->type > RAFT_ENTRY_NOOP)
				return bad(c, "field \"E\"[%zu]: entry type %d out of range", i,
				           (int)e->type);
			if (e->len && !e->data)
				return bad(c, "field \"E\"[%zu]: no data", i);
			/* Contiguous and right after prev_index: the follower's
			 * consistency check covers only the first entry. */
			if (i == 0) {
				if (m->prev_index == UINT64_MAX || e->index != m->prev_index + 1)
					return bad(c,
					           "field \"E\"[0]: index %" PRIu64
					           " does not follow prev index %" PRIu64,
					           e->index, m->prev_index);
			} else if (e->index != m->entries[i - 1].index + 1 ||
			           m->entries[i - 1].index == UINT64_MAX) {
				return bad(c, "field \"E\"[%zu]: index %" PRIu64 " does not follow %" PRIu64,
				           i, e->index, m->entries[i - 1].index);
			}
		}
	}
	if (m->type == RAFT_MSG_SNAPSHOT) {
		const struct raft_configuration *conf = m->snap_conf;
		if (conf && conf->n > RAFT_MAX_SERVERS)
			return bad(c, "field \"SC\": %u servers, more than the limit %d", conf->n,
			           RAFT_MAX_SERVERS);
		for (unsigned i = 0; conf && i < conf->n; i++) {
			const struct raft_server *s = &conf->s[i];
			if (!terminated(s->id, RAFT_ID_MAX) || !s->id[0])
				return bad(c, "field \"SC\"[%u]: id empty or unterminated", i);
			if (!terminated(s->addr, RAFT_ADDR_MAX))
				return bad(c, "field \"SC\"[%u]: address unterminated", i);
			for (unsigned j = 0; j < i; j++)
				if (strcmp(conf->s[j].id, s->id) == 0)
					return bad(c, "field \"SC\"[%u]: id \"%s\" listed twice", i, s->id);
		}
		if (m->len && !m->data)
			return bad(c, "field \"D\": no data");
	}
	return 0;
}

/* ---- Raft messages: encoding ---- */

static int pk_str(msgpack_packer *pk, const char *s)
{
	size_t n = strlen(s);
	return msgpack_pack_str(pk, n) | msgpack_pack_str_body(pk, s, n);
}

static int pk_bin(msgpack_packer *pk, const uint8_t *data, size_t len)
{
	int rc = msgpack_pack_bin(pk, len);
	if (len) /* msgpack-c would memcpy from NULL */
		rc |= msgpack_pack_bin_body(pk, data, len);
	return rc;
}

static int pk_bool(msgpack_packer *pk, bool v)
{
	return v ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
}

/* Starts an sbuffer with room for est bytes (a 64 MiB snapshot frame is then
 * not copied by doubling) and a placeholder for the length prefix. */
static int frame_begin(msgpack_sbuffer *sb, msgpack_packer *pk, size_t est)
{
	msgpack_sbuffer_init(sb);
	sb->data = malloc(est);
	if (!sb->data)
		return -ENOMEM;
	sb->alloc = est;
	msgpack_packer_init(pk, sb, msgpack_sbuffer_write);
	return msgpack_sbuffer_write(sb, "\0\0\0\0", 4) ? -ENOMEM : 0;
}

static int frame_end(msgpack_sbuffer *sb, int packrc, size_t max, uint8_t **frame, size_t *len)
{
	if (packrc) {
		msgpack_sbuffer_destroy(sb);
		return -ENOMEM;
	}
	size_t n = sb->size - 4;
	if (n > max) {
		msgpack_sbuffer_destroy(sb);
		return -E2BIG;
	}
	uint8_t *p = (uint8_t *)sb->data;
	p[0] = (uint8_t)(n >> 24);
	p[1] = (uint8_t)(n >> 16);
	p[2] = (uint8_t)(n >> 8);
	p[3] = (uint8_t)n;
	*frame = p;
	*len = sb->size;
	return 0;
}

static int pk_field(msgpack_packer *pk, const struct raft_msg *m, enum fld f)
{
	int rc = pk_str(pk, fld_name[f]);
	switch (f) {
	case F_T: return rc | msgpack_pack_uint64(pk, (uint64_t)m->type);
	case F_F: return rc | pk_str(pk, m->from);
	case F_FA: return rc | pk_str(pk, m->from_addr);
	case F_TO: return rc | pk_str(pk, m->to);
	case F_TM: return rc | msgpack_pack_uint64(pk, m->term);
	case F_LI: return rc | msgpack_pack_uint64(pk, m->last_index);
	case F_LT: return rc | msgpack_pack_uint64(pk, m->last_term);
	case F_PV: return rc | pk_bool(pk, m->prevote);
	case F_TR: return rc | pk_bool(pk, m->transfer);
	case F_G: return rc | pk_bool(pk, m->granted);
	case F_PI: return rc | msgpack_pack_uint64(pk, m->prev_index);
	case F_PT: return rc | msgpack_pack_uint64(pk, m->prev_term);
	case F_C: return rc | msgpack_pack_uint64(pk, m->commit);
	case F_S: return rc | msgpack_pack_uint64(pk, m->seq);
	case F_OK: return rc | pk_bool(pk, m->success);
	case F_I: return rc | msgpack_pack_uint64(pk, m->index);
	case F_SI: return rc | msgpack_pack_uint64(pk, m->snap_index);
	case F_ST: return rc | msgpack_pack_uint64(pk, m->snap_term);
	case F_D: return rc | pk_bin(pk, m->data, m->len);
	case F_E:
		rc |= msgpack_pack_array(pk, m->n_entries);
		for (size_t i = 0; i < m->n_entries; i++) {
			const struct raft_entry *e = &m->entries[i];
			rc |= msgpack_pack_array(pk, 4) | msgpack_pack_uint64(pk, e->index) |
			      msgpack_pack_uint64(pk, e->term) |
			      msgpack_pack_uint64(pk, (uint64_t)e->type) | pk_bin(pk, e->data, e->len);
		}
		return rc;
	case F_SC: {
		unsigned n = m->snap_conf ? m->snap_conf->n : 0;
		rc |= msgpack_pack_array(pk, n);
		for (unsigned i = 0; i < n; i++) {
			const struct raft_server *s = &m->snap_conf->s[i];
			rc |= msgpack_pack_array(pk, 3) | pk_str(pk, s->id) | pk_str(pk, s->addr) |
			      pk_bool(pk, s->voter);
		}
		return rc;
	}
	case F_COUNT:
		break;
	}
	return -1;
}

int raft_wire_encode_msg(const struct raft_msg *msg, uint8_t **frame, size_t *len)
{
	struct dctx c = { "raft frame", NULL, 0 };
	if (check_msg(&c, msg))
		return -EINVAL;

	uint32_t set = fld_required[msg->type];
	if (msg->from_addr[0])
		set |= B(F_FA);
	if (msg->prevote)
		set |= B(F_PV);
	if (msg->transfer)
		set |= B(F_TR);
	if (msg->n_entries)
		set |= B(F_E);
	set &= fld_required[msg->type] | fld_optional[msg->type];

	size_t est = 512, nf = 0;
	if (set & B(F_E))
		for (size_t i = 0; i < msg->n_entries; i++)
			est += 32 + msg->entries[i].len;
	if ((set & B(F_SC)) && msg->snap_conf)
		est += (size_t)msg->snap_conf->n * (RAFT_ID_MAX + RAFT_ADDR_MAX + 8);
	if (set & B(F_D))
		est += msg->len;
	if (est > RAFT_WIRE_FRAME_MAX + 4096u)
		return -E2BIG; /* refused before a huge allocation */

	msgpack_sbuffer sb;
	msgpack_packer pk;
	int rc = frame_begin(&sb, &pk, est);
	if (rc) {
		msgpack_sbuffer_destroy(&sb);
		return rc;
	}
	for (int f = 0; f < F_COUNT; f++)
		nf += (set & B(f)) != 0;
	rc = msgpack_pack_map(&pk, nf);
	for (int f = 0; f < F_COUNT; f++)
		if (set & B(f))
			rc |= pk_field(&pk, msg, (enum fld)f);
	return frame_end(&sb, rc, RAFT_WIRE_FRAME_MAX, frame, len);
}

/* ---- Raft messages: decoding ---- */

static int get_entries(const struct dctx *c, const msgpack_object *o, struct raft_wire_msg *out)
{
	if (o->type != MSGPACK_OBJECT_ARRAY)
		return bad(c, "field \"E\": expected an array, got %s", tname(o));
	uint32_t n = o->via.array.size;
	if (n > RAFT_WIRE_ENTRIES_MAX)
		return bad(c, "field \"E\": %" PRIu32 " entries, more than the limit %d", n,
		           RAFT_WIRE_ENTRIES_MAX);
	if (n == 0)
		return 0;
	out->entries = calloc(n, sizeof(*out->entries));
	if (!out->entries)
		return oom(c);
	for (uint32_t i = 0; i < n; i++) {
		const msgpack_object *a = &o->via.array.ptr[i];
		struct raft_entry *e = &out->entries[i];
		char label[64];
		uint64_t type = 0;
		int rc;
		/* more than 4 items: a newer peer's additions, skipped */
		if (a->type != MSGPACK_OBJECT_ARRAY || a->via.array.size < 4)
			return bad(c, "field \"E\"[%" PRIu32 "]: expected [index, term, type, data], got %s",
			           i, a->type == MSGPACK_OBJECT_ARRAY ? "a shorter array" : tname(a));
		const msgpack_object *it = a->via.array.ptr;
		snprintf(label, sizeof(label), "\"E\"[%" PRIu32 "] index", i);
		if ((rc = get_u64(c, label, &it[0], &e->index)))
			return rc;
		snprintf(label, sizeof(label), "\"E\"[%" PRIu32 "] term", i);
		if ((rc = get_u64(c, label, &it[1], &e->term)))
			return rc;
		snprintf(label, sizeof(label), "\"E\"[%" PRIu32 "] type", i);
		if ((rc = get_u64(c, label, &it[2], &type)))
			return rc;
		if (type < RAFT_ENTRY_COMMAND || type > RAFT_ENTRY_NOOP)
			return bad(c, "field \"E\"[%" PRIu32 "]: entry type %" PRIu64 " out of range", i,
			           type);
		e->type = (enum raft_entry_type)type;
		snprintf(label, sizeof(label), "\"E\"[%" PRIu32 "] data", i);
		if ((rc = get_bin(c, label, &it[3], &e->data, &e->len)))
			return rc;
	}
	out->msg.entries = out->entries;
	out->msg.n_entries = n;
	return 0;
}

static int get_conf(const struct dctx *c, const msgpack_object *o, struct raft_configuration *conf)
{
	if (o->type != MSGPACK_OBJECT_ARRAY)
		return bad(c, "field \"SC\": expected an array, got %s", tname(o));
	uint32_t n = o->via.array.size;
	if (n > RAFT_MAX_SERVERS)
		return bad(c, "field \"SC\": %" PRIu32 " servers, more than the limit %d", n,
		           RAFT_MAX_SERVERS);
	for (uint32_t i = 0; i < n; i++) {
		const msgpack_object *a = &o->via.array.ptr[i];
		struct raft_server *s = &conf->s[i];
		char label[64];
		int rc;
		if (a->type != MSGPACK_OBJECT_ARRAY || a->via.array.size < 3)
			return bad(c, "field \"SC\"[%" PRIu32 "]: expected [id, addr, voter], got %s", i,
			           a->type == MSGPACK_OBJECT_ARRAY ? "a shorter array" : tname(a));
		const msgpack_object *it = a->via.array.ptr;
		snprintf(label, sizeof(label), "\"SC\"[%" PRIu32 "] id", i);
		if ((rc = get_str(c, label, &it[0], s->id, sizeof(s->id), true)))
			return rc;
		snprintf(label, sizeof(label), "\"SC\"[%" PRIu32 "] addr", i);
		if ((rc = get_str(c, label, &it[1], s->addr, sizeof(s->addr), false)))
			return rc;
		snprintf(label, sizeof(label), "\"SC\"[%" PRIu32 "] voter", i);
		if ((rc = get_bool(c, label, &it[2], &s->voter)))
			return rc;
	}
	conf->n = n;
	return 0;
}

static int get_field(const struct dctx *c, enum fld f, const msgpack_object *o,
                     struct raft_wire_msg *out)
{
	struct raft_msg *m = &out->msg;
	const char *l = fld_label[f];
	switch (f) {
	case F_T: return 0; /* read first, by the caller */
	case F_F: return get_str(c, l, o, m->from, sizeof(m->from), true);
	case F_FA: return get_str(c, l, o, m->from_addr, sizeof(m->from_addr), false);
	case F_TO: return get_str(c, l, o, m->to, sizeof(m->to), false);
	case F_TM: return get_u64(c, l, o, &m->term);
	case F_LI: return get_u64(c, l, o, &m->last_index);
	case F_LT: return get_u64(c, l, o, &m->last_term);
	case F_PV: return get_bool(c, l, o, &m->prevote);
	case F_TR: return get_bool(c, l, o, &m->transfer);
	case F_G: return get_bool(c, l, o, &m->granted);
	case F_PI: return get_u64(c, l, o, &m->prev_index);
	case F_PT: return get_u64(c, l, o, &m->prev_term);
	case F_C: return get_u64(c, l, o, &m->commit);
	case F_S: return get_u64(c, l, o, &m->seq);
	case F_OK: return get_bool(c, l, o, &m->success);
	case F_I: return get_u64(c, l, o, &m->index);
	case F_SI: return get_u64(c, l, o, &m->snap_index);
	case F_ST: return get_u64(c, l, o, &m->snap_term);
	case F_D: return get_bin(c, l, o, &m->data, &m->len);
	case F_E: return get_entries(c, o, out);
	case F_SC: return get_conf(c, o, &out->conf);
	case F_COUNT: break;
	}
	return bad(c, "internal: field %d", (int)f);
}

int raft_wire_decode_msg(const uint8_t *payload, size_t len, struct raft_wire_msg *out,
                         char *err, size_t errlen)
{
	struct dctx c = { "raft frame", err, errlen };
	const msgpack_object *val[F_COUNT] = { 0 };
	msgpack_unpacked u;
	uint32_t seen = 0;
	uint64_t type = 0;

	memset(out, 0, sizeof(*out));
	if (err && errlen)
		err[0] = '\0';
	int rc = unpack_map(&c, payload, len, &u);
	if (rc)
		return rc;
	const msgpack_object_map *map = &u.data.via.map;
	for (uint32_t i = 0; i < map->size; i++) {
		const msgpack_object *k = &map->ptr[i].key;
		if (k->type != MSGPACK_OBJECT_STR) {
			rc = bad(&c, "key %" PRIu32 ": expected a string, got %s", i, tname(k));
			goto out;
		}
		int f = fld_lookup(k->via.str.ptr, k->via.str.size);
		if (f < 0)
			continue; /* a newer peer's field */
		/* which of two values counts is a guess we do not make */
		if (seen & B(f)) {
			rc = bad(&c, "field \"%s\": given twice", fld_name[f]);
			goto out;
		}
		seen |= B(f);
		val[f] = &map->ptr[i].val;
	}
	if (!val[F_T]) {
		rc = bad(&c, "field \"T\": missing");
		goto out;
	}
	if ((rc = get_u64(&c, fld_label[F_T], val[F_T], &type)))
		goto out;
	if (type < 1 || type > RAFT_MSG_TYPE_MAX) {
		rc = bad(&c, "field \"T\": message type %" PRIu64 " out of range 1..%d", type,
		         RAFT_MSG_TYPE_MAX);
		goto out;
	}
	out->msg.type = (enum raft_msg_type)type;
	if (type == RAFT_MSG_SNAPSHOT)
		out->msg.snap_conf = &out->conf;
	uint32_t need = fld_required[type], want = need | fld_optional[type];
	for (int f = 0; f < F_COUNT; f++) {
		if ((need & B(f)) && !(seen & B(f))) {
			rc = bad(&c, "field \"%s\": missing in %s", fld_name[f],
			         type_name[type]);
			goto out;
		}
	}
	for (int f = 0; f < F_COUNT; f++)
		if ((want & seen & B(f)) && (rc = get_field(&c, (enum fld)f, val[f], out)))
			goto out;
	rc = check_msg(&c, &out->msg);
out:
	msgpack_unpacked_destroy(&u);
	if (rc)
		raft_wire_msg_release(out);
	return rc;
}

void raft_wire_msg_release(struct raft_wire_msg *m)
{
	if (!m)
		return;
	free(m->entries);
	memset(m, 0, sizeof(*m));
}

/* ---- server RPC ---- */

static int rpc_encode(uint64_t seq, const char *key, const char *text, size_t tlen,
                      const uint8_t *body, size_t len, uint8_t **frame, size_t *flen)
{
	if (len && !body)
		return -EINVAL;
	if (len > RAFT_WIRE_RPC_FRAME_MAX)
		return -E2BIG; /* refused before copying it */
	msgpack_sbuffer sb;
	msgpack_packer pk;
	int rc = frame_begin(&sb, &pk, 64 + tlen + len);
	if (rc) {
		msgpack_sbuffer_destroy(&sb);
		return rc;
	}
	rc = msgpack_pack_map(&pk, 3) | pk_str(&pk, "Seq") | msgpack_pack_uint64(&pk, seq) |
	     pk_str(&pk, key) | msgpack_pack_str(&pk, tlen) | msgpack_pack_str_body(&pk, text, tlen) |
	     pk_str(&pk, "Body") | pk_bin(&pk, body, len);
	return frame_end(&sb, rc, RAFT_WIRE_RPC_FRAME_MAX, frame, flen);
}

int raft_wire_encode_request(uint64_t seq, const char *method, const uint8_t *body,
                             size_t len, uint8_t **frame, size_t *flen)
{
	if (!method)
		return -EINVAL;
	size_t n = strnlen(method, RPC_METHOD_MAX);
	if (n == 0 || n == RPC_METHOD_MAX)
		return -EINVAL;
	return rpc_encode(seq, "Method", method, n, body, len, frame, flen);
}

int raft_wire_encode_response(uint64_t seq, const char *error, const uint8_t *body,
                              size_t len, uint8_t **frame, size_t *flen)
{
	if (!error)
		error = "";
	/* A long error is cut, at a UTF-8 character boundary, to what the peer
	 * accepts: the reply matters more than the end of its message. */
	size_t n = strnlen(error, RPC_ERROR_MAX);
	if (n == RPC_ERROR_MAX) {
		n = RPC_ERROR_MAX - 1;
		while (n > 0 && ((uint8_t)error[n] & 0xc0) == 0x80)
			n--;
	}
	return rpc_encode(seq, "Error", error, n, body, len, frame, flen);
}

static int rpc_decode(const uint8_t *payload, size_t len, struct raft_wire_rpc *out,
                      bool request, char *err, size_t errlen)
{
	struct dctx c = { request ? "rpc request" : "rpc response", err, errlen };
	const char *const names[3] = { "Seq", request ? "Method" : "Error", "Body" };
	const msgpack_object *val[3] = { 0 };
	msgpack_unpacked u;

	memset(out, 0, sizeof(*out));
	if (err && errlen)
		err[0] = '\0';
	int rc = unpack_map(&c, payload, len, &u);
	if (rc)
		return rc;
	const msgpack_object_map *map = &u.data.via.map;
	for (uint32_t i = 0; i < map->size; i++) {
		const msgpack_object *k = &map->ptr[i].key;
		if (k->type != MSGPACK_OBJECT_STR) {
			rc = bad(&c, "key %" PRIu32 ": expected a string, got %s", i, tname(k));
			goto out;
		}
		for (int f = 0; f < 3; f++) {
			if (strlen(names[f]) != k->via.str.size ||
			    memcmp(names[f], k->via.str.ptr, k->via.str.size) != 0)
				continue;
			if (val[f]) {
				rc = bad(&c, "field \"%s\": given twice", names[f]);
				goto out;
			}
			val[f] = &map->ptr[i].val;
		}
	}
	for (int f = 0; f < 3; f++) {
		if (!val[f]) {
			rc = bad(&c, "field \"%s\": missing", names[f]);
			goto out;
		}
	}
	if ((rc = get_u64(&c, "\"Seq\"", val[0], &out->seq)))
		goto out;
	if (request)
		rc = get_str(&c, "\"Method\"", val[1], out->method, sizeof(out->method), true);
	else
		rc = get_str(&c, "\"Error\"", val[1], out->error, sizeof(out->error), false);
	if (rc)
		goto out;
	rc = get_bin(&c, "\"Body\"", val[2], &out->body, &out->body_len);
out:
	msgpack_unpacked_destroy(&u);
	if (rc)
		memset(out, 0, sizeof(*out));
	return rc;
}

int raft_wire_decode_request(const uint8_t *payload, size_t len, struct raft_wire_rpc *out,
                             char *err, size_t errlen)
{
	return rpc_decode(payload, len, out, true, err, errlen);
}

int raft_wire_decode_response(const uint8_t *payload, size_t len, struct raft_wire_rpc *out,
                              char *err, size_t errlen)
{
	return rpc_decode(payload, len, out, false, err, errlen);
}
