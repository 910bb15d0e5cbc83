/* raft/wire: round trips of every Raft message type and of RPC envelopes,
 * frame splitting, malformed payloads (each refused with a message naming the
 * field) and a seeded random-mutation loop over valid frames. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <msgpack.h>

#include "raft/wire.h"

/* ---- helpers ---- */

static uint8_t blob[4096];

static void fill_blob(void)
{
	uint32_t x = 12345;
	for (size_t i = 0; i < sizeof(blob); i++) {
		x = x * 1103515245u + 12345u;
		blob[i] = (uint8_t)(x >> 16);
	}
	blob[0] = 0x00; /* NULs and 0xff inside binary data survive */
	blob[1] = 0xff;
}

static void base_msg(struct raft_msg *m, enum raft_msg_type type)
{
	memset(m, 0, sizeof(*m));
	m->type = type;
	strcpy(m->from, "5e1c1b2a-0d33-4c4b-9f1e-3b0e8c1d2f70");
	strcpy(m->from_addr, "10.0.0.1:8300");
	strcpy(m->to, "a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d");
	m->term = 0x123456789aull;
}

/* Compares what the wire carries for a's type. */
static void assert_msg_equal(const struct raft_msg *a, const struct raft_msg *b)
{
	assert_int_equal(a->type, b->type);
	assert_string_equal(a->from, b->from);
	assert_string_equal(a->from_addr, b->from_addr);
	assert_string_equal(a->to, b->to);
	assert_true(a->term == b->term);
	assert_true(a->last_index == b->last_index);
	assert_true(a->last_term == b->last_term);
	assert_int_equal(a->prevote, b->prevote);
	assert_int_equal(a->transfer, b->transfer);
	assert_int_equal(a->granted, b->granted);
	assert_true(a->prev_index == b->prev_index);
	assert_true(a->prev_term == b->prev_term);
	assert_true(a->commit == b->commit);
	assert_true(a->seq == b->seq);
	assert_int_equal(a->success, b->success);
	assert_true(a->index == b->index);
	assert_true(a->snap_index == b->snap_index);
	assert_true(a->snap_term == b->snap_term);
	assert_int_equal(a->n_entries, b->n_entries);
	for (size_t i = 0; i < a->n_entries; i++) {
		const struct raft_entry *x = &a->entries[i], *y = &b->entries[i];
		assert_true(x->index == y->index);
		assert_true(x->term == y->term);
		assert_int_equal(x->type, y->type);
		assert_int_equal(x->len, y->len);
		if (x->len)
			assert_memory_equal(x->data, y->data, x->len);
	}
	if (a->type == RAFT_MSG_SNAPSHOT) {
		unsigned n = a->snap_conf ? a->snap_conf->n : 0;
		assert_non_null(b->snap_conf);
		assert_int_equal(b->snap_conf->n, n);
		for (unsigned i = 0; i < n; i++) {
			assert_string_equal(a->snap_conf->s[i].id, b->snap_conf->s[i].id);
			assert_string_equal(a->snap_conf->s[i].addr, b->snap_conf->s[i].addr);
			assert_int_equal(a->snap_conf->s[i].voter, b->snap_conf->s[i].voter);
		}
	} else {
		assert_null(b->snap_conf);
	}
	assert_int_equal(a->len, b->len);
	if (a->len)
		assert_memory_equal(a->data, b->data, a->len);
}

/* Encodes m, splits the frame, decodes it into out (frame kept in *keep). */
static size_t round_trip(const struct raft_msg *m, struct raft_wire_msg *out, uint8_t **keep)
{
	uint8_t *frame;
	size_t flen, plen, used;
	const uint8_t *payload;
	char err[256];
	assert_int_equal(raft_wire_encode_msg(m, &frame, &flen), 0);
	assert_int_equal(raft_wire_frame(frame, flen, RAFT_WIRE_FRAME_MAX, &payload, &plen, &used,
	                                 err, sizeof(err)),
	                 1);
	assert_int_equal(used, flen);
	assert_int_equal(plen, flen - 4);
	int rc = raft_wire_decode_msg(payload, plen, out, err, sizeof(err));
	if (rc)
		fail_msg("decode: %s", err);
	assert_msg_equal(m, &out->msg);
	*keep = frame;
	return flen;
}

static void check_round_trip(const struct raft_msg *m)
{
	struct raft_wire_msg out;
	uint8_t *frame;
	round_trip(m, &out, &frame);
	raft_wire_msg_release(&out);
	free(frame);
}

/* ---- round trips ---- */

static void test_round_trip_vote(void **state)
{
	struct raft_msg m;
	base_msg(&m, RAFT_MSG_VOTE);
	m.last_index = 1000;
	m.last_term = 7;
	m.prevote = true;
	m.transfer = true;
	check_round_trip(&m);
	m.prevote = m.transfer = false;
	m.last_index = UINT64_MAX; /* the full range of every integer */
	m.term = UINT64_MAX;
	check_round_trip(&m);

	base_msg(&m, RAFT_MSG_VOTE_RESP);
	m.granted = true;
	m.prevote = true;
	check_round_trip(&m);
	m.granted = false;
	m.prevote = false;
	m.from_addr[0] = '\0'; /* optional, and then not on the wire */
	check_round_trip(&m);
}

static void test_round_trip_append(void **state)
{
	struct raft_msg m;
	struct raft_entry e[3] = {
		{ .index = 42, .term = 6, .type = RAFT_ENTRY_COMMAND, .data = blob, .len = 1000 },
		{ .index = 43, .term = 7, .type = RAFT_ENTRY_CONFIG, .data = blob + 1000, .len = 17 },
		{ .index = 44, .term = 7, .type = RAFT_ENTRY_NOOP, .data = NULL, .len = 0 },
	};
	base_msg(&m, RAFT_MSG_APPEND);
	m.prev_index = 41;
	m.prev_term = 6;
	m.commit = 40;
	m.seq = 99;
	m.entries = e;
	m.n_entries = 3;
	struct raft_wire_msg out;
	uint8_t *frame;
	round_trip(&m, &out, &frame);
	/* entry data points into the payload: no copy of the log */
	assert_true(out.msg.entries[0].data > frame && out.msg.entries[0].data < frame + 1100);
	assert_null(out.msg.entries[2].data);
	raft_wire_msg_release(&out);
	free(frame);

	/* a heartbeat: no entries, and a small frame */
	m.entries = NULL;
	m.n_entries = 0;
	size_t flen = round_trip(&m, &out, &frame);
	assert_true(flen < 150);
	raft_wire_msg_release(&out);
	free(frame);

	/* the most entries allowed */
	static struct raft_entry many[RAFT_WIRE_ENTRIES_MAX];
	for (size_t i = 0; i < RAFT_WIRE_ENTRIES_MAX; i++) {
		many[i].index = 1 + i;
		many[i].term = 1;
		many[i].type = RAFT_ENTRY_COMMAND;
		many[i].data = blob + i % 64;
		many[i].len = i % 9;
	}
	m.prev_index = 0;
	m.prev_term = 0;
	m.entries = many;
	m.n_entries = RAFT_WIRE_ENTRIES_MAX;
	check_round_trip(&m);

	base_msg(&m, RAFT_MSG_APPEND_RESP);
	m.seq = 12;
	m.success = true;
	m.index = 44;
	check_round_trip(&m);
	m.success = false;
	m.index = 0;
	check_round_trip(&m);
}

static void test_round_trip_snapshot(void **state)
{
	struct raft_configuration conf = { .n = 3 };
	strcpy(conf.s[0].id, "server-a");
	strcpy(conf.s[0].addr, "10.0.0.1:8300");
	conf.s[0].voter = true;
	strcpy(conf.s[1].id, "server-b");
	strcpy(conf.s[1].addr, "10.0.0.2:8300");
	conf.s[1].voter = true;
	strcpy(conf.s[2].id, "server-c");
	strcpy(conf.s[2].addr, "[fd00::3]:8300");
	conf.s[2].voter = false;

	struct raft_msg m;
	base_msg(&m, RAFT_MSG_SNAPSHOT);
	m.snap_index = 5000;
	m.snap_term = 9;
	m.snap_conf = &conf;
	m.data = blob;
	m.len = sizeof(blob);
	check_round_trip(&m);

	/* every server, every string at its longest */
	struct raft_configuration full = { .n = RAFT_MAX_SERVERS };
	for (unsigned i = 0; i < RAFT_MAX_SERVERS; i++) {
		memset(full.s[i].id, 'a' + (int)i, RAFT_ID_MAX - 1);
		memset(full.s[i].addr, '0' + (int)(i % 10), RAFT_ADDR_MAX - 1);
		full.s[i].voter = i % 2;
	}
	memset(m.from, 'f', RAFT_ID_MAX - 1);
	memset(m.from_addr, 'g', RAFT_ADDR_MAX - 1);
	memset(m.to, 't', RAFT_ID_MAX - 1);
	m.snap_conf = &full;
	check_round_trip(&m);

	/* empty data */
	m.data = NULL;
	m.len = 0;
	check_round_trip(&m);

	base_msg(&m, RAFT_MSG_SNAPSHOT_RESP);
	m.success = true;
	m.index = 5000;
	check_round_trip(&m);

	base_msg(&m, RAFT_MSG_TIMEOUT_NOW);
	check_round_trip(&m);
}

/* The encoder refuses what the decoder would. */
static void test_encode_refuses(void **state)
{
	struct raft_msg m;
	uint8_t *frame = NULL;
	size_t flen;
	struct raft_entry e[2] = {
		{ .index = 5, .term = 1, .type = RAFT_ENTRY_COMMAND },
		{ .index = 6, .term = 1, .type = RAFT_ENTRY_COMMAND },
	};

	base_msg(&m, 0);
	assert_int_equal(raft_wire_encode_msg(&m, &frame, &flen), -EINVAL);
	base_msg(&m, RAFT_MSG_TYPE_MAX + 1);
	assert_int_equal(raft_wire_encode_msg(&m, &frame, &flen), -EINVAL);
	base_msg(&m, RAFT_MSG_VOTE);
	m.from[0] = '\0';
	assert_int_equal(raft_wire_encode_msg(&m, &frame, &flen), -EINVAL);

	base_msg(&m, RAFT_MSG_APPEND);
	m.prev_index = 4;
	m.entries = e;
	m.n_entries = 2;
	assert_int_equal(raft_wire_encode_msg(&m, &frame, &flen), 0);
	free(frame);
	e[1].type = 9;
	assert_int_equal(raft_wire_encode_msg(&m, &frame, &flen), -EINVAL);
	e[1].type = RAFT_ENTRY_NOOP;
	e[1].index = 7;
	assert_int_equal(raft_wire_encode_msg(&m, &frame, &flen), -EINVAL);
	e[1].index = 6;
	m.prev_index = 3;
	assert_int_equal(raft_wire_encode_msg(&m, &frame, &flen), -EINVAL);
	m.prev_index = 4;
	m.n_entries = RAFT_WIRE_ENTRIES_MAX + 1;
	assert_int_equal(raft_wire_encode_msg(&m, &frame, &flen), -EINVAL);

	struct raft_configuration conf = { .n = 2 };
	strcpy(conf.s[0].id, "x");
	strcpy(conf.s[1].id, "x");
	base_msg(&m, RAFT_MSG_SNAPSHOT);
	m.snap_conf = &conf;
	assert_int_equal(raft_wire_encode_msg(&m, &frame, &flen), -EINVAL);
	conf.n = RAFT_MAX_SERVERS + 1;
	assert_int_equal(raft_wire_encode_msg(&m, &frame, &flen), -EINVAL);
	conf.n = 0;
	assert_int_equal(raft_wire_encode_msg(&m, &frame, &flen), 0);
	free(frame);
	/* no configuration at all goes as an empty one */
	m.snap_conf = NULL;
	struct raft_wire_msg out;
	round_trip(&m, &out, &frame);
	assert_int_equal(out.msg.snap_conf->n, 0);
	raft_wire_msg_release(&out);
	free(frame);
}

/* ---- frames ---- */

static void test_frame_split(void **state)
{
	struct raft_msg m;
	uint8_t *f1, *f2;
	size_t l1, l2, plen, used;
	const uint8_t *payload;
	char err[128];

	base_msg(&m, RAFT_MSG_VOTE);
	assert_int_equal(raft_wire_encode_msg(&m, &f1, &l1), 0);
	base_msg(&m, RAFT_MSG_APPEND_RESP);
	m.index = 3;
	assert_int_equal(raft_wire_encode_msg(&m, &f2, &l2), 0);

	/* the prefix, then the body, a byte at a time */
	for (size_t n = 0; n < l1; n++)
		assert_int_equal(raft_wire_frame(f1, n, RAFT_WIRE_FRAME_MAX, &payload, &plen, &used,
		                                 err, sizeof(err)),
		                 0);
	assert_int_equal(raft_wire_frame(f1, l1, RAFT_WIRE_FRAME_MAX, &payload, &plen, &used, err,
	                                 sizeof(err)),
	                 1);
	assert_ptr_equal(payload, f1 + 4);
	assert_int_equal(used, l1);

	/* two frames back to back, and the start of a third */
	uint8_t *stream = malloc(l1 + l2 + 2);
	assert_non_null(stream);
	memcpy(stream, f1, l1);
	memcpy(stream + l1, f2, l2);
	memcpy(stream + l1 + l2, f1, 2);
	size_t off = 0, total = l1 + l2 + 2;
	enum raft_msg_type want[2] = { RAFT_MSG_VOTE, RAFT_MSG_APPEND_RESP };
	for (int i = 0; i < 2; i++) {
		struct raft_wire_msg out;
		assert_int_equal(raft_wire_frame(stream + off, total - off, RAFT_WIRE_FRAME_MAX,
		                                 &payload, &plen, &used, err, sizeof(err)),
		                 1);
		assert_int_equal(raft_wire_decode_msg(payload, plen, &out, err, sizeof(err)), 0);
		assert_int_equal(out.msg.type, want[i]);
		raft_wire_msg_release(&out);
		off += used;
	}
	assert_int_equal(off, l1 + l2);
	assert_int_equal(raft_wire_frame(stream + off, total - off, RAFT_WIRE_FRAME_MAX, &payload,
	                                 &plen, &used, err, sizeof(err)),
	                 0);
	free(stream);

	/* too large: refused from the prefix alone */
	const uint8_t big[4] = { 0x04, 0xc4, 0xb4, 0x00 }; /* 80000000 */
	err[0] = '\0';
	assert_int_equal(raft_wire_frame(big, 4, RAFT_WIRE_FRAME_MAX, &payload, &plen, &used, err,
	                                 sizeof(err)),
	                 -E2BIG);
	assert_string_equal(err, "frame length 80000000 exceeds limit 67108864");
	/* the RPC limit is smaller */
	assert_int_equal(raft_wire_frame(f1, l1, 8, &payload, &plen, &used, err, sizeof(err)),
	                 -E2BIG);
	assert_non_null(strstr(err, "exceeds limit 8"));
	/* exactly the limit is fine */
	uint8_t at[8] = { 0, 0, 0, 4, 1, 2, 3, 4 };
	assert_int_equal(raft_wire_frame(at, 8, 4, &payload, &plen, &used, err, sizeof(err)), 1);
	assert_int_equal(plen, 4);

	/* an empty frame splits, and does not decode */
	const uint8_t zero[4] = { 0 };
	struct raft_wire_msg out;
	assert_int_equal(raft_wire_frame(zero, 4, RAFT_WIRE_FRAME_MAX, &payload, &plen, &used, err,
	                                 sizeof(err)),
	                 1);
	assert_int_equal(plen, 0);
	assert_int_equal(used, 4);
	assert_int_equal(raft_wire_decode_msg(payload, plen, &out, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "empty"));

	free(f1);
	free(f2);
}

/* ---- RPC ---- */

static void split(const uint8_t *frame, size_t flen, const uint8_t **payload, size_t *plen)
{
	size_t used;
	char err[128];
	assert_int_equal(raft_wire_frame(frame, flen, RAFT_WIRE_RPC_FRAME_MAX, payload, plen, &used,
	                                 err, sizeof(err)),
	                 1);
	assert_int_equal(used, flen);
}

static void test_rpc_round_trip(void **state)
{
	uint8_t *frame;
	size_t flen, plen;
	const uint8_t *payload;
	struct raft_wire_rpc r;
	char err[256];

	assert_int_equal(raft_wire_encode_request(77, "KVS.Apply", blob, 300, &frame, &flen), 0);
	split(frame, flen, &payload, &plen);
	assert_int_equal(raft_wire_decode_request(payload, plen, &r, err, sizeof(err)), 0);
	assert_true(r.seq == 77);
	assert_string_equal(r.method, "KVS.Apply");
	assert_int_equal(r.body_len, 300);
	assert_memory_equal(r.body, blob, 300);
	assert_true(r.body > frame && r.body < frame + flen);
	/* a request is not a response */
	assert_int_equal(raft_wire_decode_response(payload, plen, &r, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "\"Error\""));
	free(frame);

	assert_int_equal(raft_wire_encode_request(UINT64_MAX, "Status.Peers", NULL, 0, &frame, &flen),
	                 0);
	split(frame, flen, &payload, &plen);
	assert_int_equal(raft_wire_decode_request(payload, plen, &r, err, sizeof(err)), 0);
	assert_true(r.seq == UINT64_MAX);
	assert_string_equal(r.method, "Status.Peers");
	assert_int_equal(r.body_len, 0);
	assert_null(r.body);
	free(frame);

	assert_int_equal(raft_wire_encode_response(78, "", blob, 10, &frame, &flen), 0);
	split(frame, flen, &payload, &plen);
	assert_int_equal(raft_wire_decode_response(payload, plen, &r, err, sizeof(err)), 0);
	assert_true(r.seq == 78);
	assert_string_equal(r.error, "");
	assert_int_equal(r.body_len, 10);
	assert_memory_equal(r.body, blob, 10);
	assert_int_equal(raft_wire_decode_request(payload, plen, &r, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "\"Method\""));
	free(frame);

	assert_int_equal(raft_wire_encode_response(79, "No cluster leader", NULL, 0, &frame, &flen),
	                 0);
	split(frame, flen, &payload, &plen);
	assert_int_equal(raft_wire_decode_response(payload, plen, &r, err, sizeof(err)), 0);
	assert_string_equal(r.error, "No cluster leader");
	assert_null(r.body);
	free(frame);

	/* a long error is cut to 255 bytes, not inside a UTF-8 character */
	char longerr[400];
	memset(longerr, 'x', sizeof(longerr));
	memcpy(longerr + 254, "\xc3\xa9", 2); /* é across the cut */
	longerr[sizeof(longerr) - 1] = '\0';
	assert_int_equal(raft_wire_encode_response(80, longerr, NULL, 0, &frame, &flen), 0);
	split(frame, flen, &payload, &plen);
	assert_int_equal(raft_wire_decode_response(payload, plen, &r, err, sizeof(err)), 0);
	assert_int_equal(strlen(r.error), 254);
	free(frame);

	/* bad methods; bodies beyond the RPC limit */
	char longm[80];
	memset(longm, 'm', sizeof(longm));
	longm[64] = '\0';
	assert_int_equal(raft_wire_encode_request(1, longm, NULL, 0, &frame, &flen), -EINVAL);
	longm[63] = '\0';
	assert_int_equal(raft_wire_encode_request(1, longm, NULL, 0, &frame, &flen), 0);
	free(frame);
	assert_int_equal(raft_wire_encode_request(1, "", NULL, 0, &frame, &flen), -EINVAL);
	assert_int_equal(raft_wire_encode_request(1, NULL, NULL, 0, &frame, &flen), -EINVAL);
	assert_int_equal(raft_wire_encode_request(1, "X.Y", NULL, 5, &frame, &flen), -EINVAL);
	uint8_t *huge = calloc(1, RAFT_WIRE_RPC_FRAME_MAX);
	assert_non_null(huge);
	assert_int_equal(raft_wire_encode_response(1, "", huge, RAFT_WIRE_RPC_FRAME_MAX, &frame, &flen),
	                 -E2BIG);
	assert_int_equal(raft_wire_encode_request(1, "X.Y", huge, RAFT_WIRE_RPC_FRAME_MAX - 64, &frame,
	                                          &flen),
	                 0);
	assert_true(flen - 4 <= RAFT_WIRE_RPC_FRAME_MAX);
	free(frame);
	free(huge);
}

/* ---- malformed payloads, built with msgpack-c ---- */

struct mp {
	msgpack_sbuffer sb;
	msgpack_packer pk;
};

static void mp_init(struct mp *p)
{
	msgpack_sbuffer_init(&p->sb);
	msgpack_packer_init(&p->pk, &p->sb, msgpack_sbuffer_write);
}

static void mp_s(struct mp *p, const char *s)
{
	msgpack_pack_str(&p->pk, strlen(s));
	msgpack_pack_str_body(&p->pk, s, strlen(s));
}

static void mp_kv_u(struct mp *p, const char *k, uint64_t v)
{
	mp_s(p, k);
	msgpack_pack_uint64(&p->pk, v);
}

static void mp_kv_s(struct mp *p, const char *k, const char *v)
{
	mp_s(p, k);
	mp_s(p, v);
}

/* The common fields of an AppendEntries with prev index 10 (8 pairs with "E";
 * the caller packs "E" or whatever replaces it). */
static void mp_append_head(struct mp *p, size_t pairs)
{
	msgpack_pack_map(&p->pk, pairs);
	mp_kv_u(p, "T", RAFT_MSG_APPEND);
	mp_kv_s(p, "F", "leader");
	mp_kv_s(p, "To", "follower");
	mp_kv_u(p, "Tm", 3);
	mp_kv_u(p, "PI", 10);
	mp_kv_u(p, "PT", 2);
	mp_kv_u(p, "C", 9);
	mp_kv_u(p, "S", 1);
}

static void mp_entry(struct mp *p, uint64_t index, uint64_t type)
{
	msgpack_pack_array(&p->pk, 4);
	msgpack_pack_uint64(&p->pk, index);
	msgpack_pack_uint64(&p->pk, 3);
	msgpack_pack_uint64(&p->pk, type);
	msgpack_pack_bin(&p->pk, 2);
	msgpack_pack_bin_body(&p->pk, "hi", 2);
}

/* Decodes p's bytes; expects -EINVAL with every one of the words in err. */
static void expect_bad_bytes(const uint8_t *b, size_t n, const char *w1, const char *w2)
{
	struct raft_wire_msg out;
	char err[256] = "";
	int rc = raft_wire_decode_msg(b, n, &out, err, sizeof(err));
	if (rc != -EINVAL)
		fail_msg("expected -EINVAL for \"%s\", got %d", w1, rc);
	if (!strstr(err, w1) || (w2 && !strstr(err, w2)))
		fail_msg("error \"%s\" lacks \"%s\" / \"%s\"", err, w1, w2 ? w2 : "");
	assert_null(out.entries);
	assert_int_equal(out.msg.n_entries, 0);
}

static void expect_bad(struct mp *p, const char *w1, const char *w2)
{
	expect_bad_bytes((const uint8_t *)p->sb.data, p->sb.size, w1, w2);
	msgpack_sbuffer_destroy(&p->sb);
}

static void expect_ok(struct mp *p, enum raft_msg_type type)
{
	struct raft_wire_msg out;
	char err[256] = "";
	int rc = raft_wire_decode_msg((const uint8_t *)p->sb.data, p->sb.size, &out, err, sizeof(err));
	if (rc)
		fail_msg("decode: %s", err);
	assert_int_equal(out.msg.type, type);
	raft_wire_msg_release(&out);
	msgpack_sbuffer_destroy(&p->sb);
}

static void test_malformed(void **state)
{
	struct mp p;
	uint8_t *frame;
	size_t flen;

	/* a truncated map, cut at every length: refused, naming the field */
	struct raft_msg m;
	struct raft_entry e = { .index = 11, .term = 3, .type = RAFT_ENTRY_COMMAND,
	                        .data = blob, .len = 20 };
	base_msg(&m, RAFT_MSG_APPEND);
	m.prev_index = 10;
	m.entries = &e;
	m.n_entries = 1;
	assert_int_equal(raft_wire_encode_msg(&m, &frame, &flen), 0);
	for (size_t n = 1; n < flen - 4; n++)
		expect_bad_bytes(frame + 4, n, "truncated", NULL);
	expect_bad_bytes(frame + 4, flen - 4 - 4, "field \"E\": truncated", NULL);
	expect_bad_bytes(frame + 4, 1, "truncated", NULL);
	/* and trailing bytes after the map */
	uint8_t *longer = malloc(flen + 1);
	assert_non_null(longer);
	memcpy(longer, frame + 4, flen - 4);
	longer[flen - 4] = 0xc0;
	expect_bad_bytes(longer, flen - 3, "trailing bytes after the message (1)", NULL);
	free(longer);
	free(frame);

	/* wrong type for the term */
	mp_init(&p);
	msgpack_pack_map(&p.pk, 4);
	mp_kv_u(&p, "T", RAFT_MSG_TIMEOUT_NOW);
	mp_kv_s(&p, "F", "a");
	mp_kv_s(&p, "To", "b");
	mp_kv_s(&p, "Tm", "3");
	expect_bad(&p, "field \"Tm\": expected an unsigned integer, got string", NULL);

	/* a negative term, a float term */
	mp_init(&p);
	msgpack_pack_map(&p.pk, 4);
	mp_kv_u(&p, "T", RAFT_MSG_TIMEOUT_NOW);
	mp_kv_s(&p, "F", "a");
	mp_kv_s(&p, "To", "b");
	mp_s(&p, "Tm");
	msgpack_pack_int64(&p.pk, -1);
	expect_bad(&p, "field \"Tm\"", "negative");
	mp_init(&p);
	msgpack_pack_map(&p.pk, 4);
	mp_kv_u(&p, "T", RAFT_MSG_TIMEOUT_NOW);
	mp_kv_s(&p, "F", "a");
	mp_kv_s(&p, "To", "b");
	mp_s(&p, "Tm");
	msgpack_pack_double(&p.pk, 3.0);
	expect_bad(&p, "field \"Tm\"", "float");

	/* unknown message types */
	uint64_t types[3] = { 0, 8, 1ull << 40 };
	for (int i = 0; i < 3; i++) {
		mp_init(&p);
		msgpack_pack_map(&p.pk, 4);
		mp_kv_u(&p, "T", types[i]);
		mp_kv_s(&p, "F", "a");
		mp_kv_s(&p, "To", "b");
		mp_kv_u(&p, "Tm", 1);
		expect_bad(&p, "field \"T\": message type", "out of range");
	}

	/* ids: oversized, empty, with a NUL; the sender is required */
	char id64[65];
	memset(id64, 'i', 64);
	id64[64] = '\0';
	const char *bad_from[3] = { id64, "", NULL };
	const char *why[3] = { "longer than the limit 63", "empty", "NUL" };
	for (int i = 0; i < 3; i++) {
		mp_init(&p);
		msgpack_pack_map(&p.pk, 4);
		mp_kv_u(&p, "T", RAFT_MSG_TIMEOUT_NOW);
		if (bad_from[i]) {
			mp_kv_s(&p, "F", bad_from[i]);
		} else {
			mp_s(&p, "F");
			msgpack_pack_str(&p.pk, 3);
			msgpack_pack_str_body(&p.pk, "a\0b", 3);
		}
		mp_kv_s(&p, "To", "b");
		mp_kv_u(&p, "Tm", 1);
		expect_bad(&p, "field \"F\"", why[i]);
	}
	mp_init(&p);
	msgpack_pack_map(&p.pk, 3);
	mp_kv_u(&p, "T", RAFT_MSG_TIMEOUT_NOW);
	mp_kv_s(&p, "To", "b");
	mp_kv_u(&p, "Tm", 1);
	expect_bad(&p, "field \"F\": missing", NULL);
	mp_init(&p);
	msgpack_pack_map(&p.pk, 4);
	mp_kv_u(&p, "T", RAFT_MSG_TIMEOUT_NOW);
	mp_kv_s(&p, "F", "a");
	mp_kv_s(&p, "To", id64);
	mp_kv_u(&p, "Tm", 1);
	expect_bad(&p, "field \"To\"", "longer");
	char addr64[65];
	memset(addr64, '1', 64);
	addr64[64] = '\0';
	mp_init(&p);
	msgpack_pack_map(&p.pk, 5);
	mp_kv_u(&p, "T", RAFT_MSG_TIMEOUT_NOW);
	mp_kv_s(&p, "F", "a");
	mp_kv_s(&p, "FA", addr64);
	mp_kv_s(&p, "To", "b");
	mp_kv_u(&p, "Tm", 1);
	expect_bad(&p, "field \"FA\"", "longer");

	/* a field the type needs is missing */
	mp_init(&p);
	msgpack_pack_map(&p.pk, 5);
	mp_kv_u(&p, "T", RAFT_MSG_VOTE);
	mp_kv_s(&p, "F", "a");
	mp_kv_s(&p, "To", "b");
	mp_kv_u(&p, "Tm", 1);
	mp_kv_u(&p, "LI", 1);
	expect_bad(&p, "field \"LT\": missing", "RequestVote");

	/* too many entries */
	mp_init(&p);
	mp_append_head(&p, 9);
	mp_s(&p, "E");
	msgpack_pack_array(&p.pk, RAFT_WIRE_ENTRIES_MAX + 1);
	for (uint64_t i = 0; i <= RAFT_WIRE_ENTRIES_MAX; i++)
		mp_entry(&p, 11 + i, RAFT_ENTRY_COMMAND);
	expect_bad(&p, "field \"E\": 4097 entries, more than the limit 4096", NULL);

	/* entries: not contiguous; not after prev index; type out of range;
	 * wrong shapes */
	mp_init(&p);
	mp_append_head(&p, 9);
	mp_s(&p, "E");
	msgpack_pack_array(&p.pk, 3);
	mp_entry(&p, 11, RAFT_ENTRY_COMMAND);
	mp_entry(&p, 12, RAFT_ENTRY_COMMAND);
	mp_entry(&p, 14, RAFT_ENTRY_COMMAND);
	expect_bad(&p, "field \"E\"[2]: index 14 does not follow 12", NULL);
	mp_init(&p);
	mp_append_head(&p, 9);
	mp_s(&p, "E");
	msgpack_pack_array(&p.pk, 2);
	mp_entry(&p, 12, RAFT_ENTRY_COMMAND);
	mp_entry(&p, 13, RAFT_ENTRY_COMMAND);
	expect_bad(&p, "field \"E\"[0]: index 12 does not follow prev index 10", NULL);
	mp_init(&p);
	mp_append_head(&p, 9);
	mp_s(&p, "E");
	msgpack_pack_array(&p.pk, 4);
	for (uint64_t i = 0; i < 4; i++)
		mp_entry(&p, 11 + i, i == 3 ? 9 : RAFT_ENTRY_NOOP);
	expect_bad(&p, "raft frame: field \"E\"[3]: entry type 9 out of range", NULL);
	mp_init(&p);
	mp_append_head(&p, 9);
	mp_s(&p, "E");
	msgpack_pack_array(&p.pk, 1);
	msgpack_pack_array(&p.pk, 3);
	msgpack_pack_uint64(&p.pk, 11);
	msgpack_pack_uint64(&p.pk, 3);
	msgpack_pack_uint64(&p.pk, 1);
	expect_bad(&p, "field \"E\"[0]: expected [index, term, type, data]", NULL);
	mp_init(&p);
	mp_append_head(&p, 9);
	mp_s(&p, "E");
	msgpack_pack_array(&p.pk, 1);
	msgpack_pack_array(&p.pk, 4);
	msgpack_pack_uint64(&p.pk, 11);
	msgpack_pack_uint64(&p.pk, 3);
	msgpack_pack_uint64(&p.pk, 1);
	mp_s(&p, "text, not bin");
	expect_bad(&p, "field \"E\"[0] data: expected bin, got string", NULL);
	mp_init(&p);
	mp_append_head(&p, 9);
	mp_kv_s(&p, "E", "entries");
	expect_bad(&p, "field \"E\": expected an array", NULL);
	mp_init(&p); /* prev index at the top of the range: nothing follows it */
	msgpack_pack_map(&p.pk, 9);
	mp_kv_u(&p, "T", RAFT_MSG_APPEND);
	mp_kv_s(&p, "F", "leader");
	mp_kv_s(&p, "To", "follower");
	mp_kv_u(&p, "Tm", 3);
	mp_kv_u(&p, "PI", UINT64_MAX);
	mp_kv_u(&p, "PT", 2);
	mp_kv_u(&p, "C", 9);
	mp_kv_u(&p, "S", 1);
	mp_s(&p, "E");
	msgpack_pack_array(&p.pk, 1);
	mp_entry(&p, 0, RAFT_ENTRY_COMMAND);
	expect_bad(&p, "field \"E\"[0]", "does not follow");

	/* a configuration with too many servers, a duplicate, a bad voter */
	for (int kind = 0; kind < 3; kind++) {
		unsigned n = kind == 0 ? RAFT_MAX_SERVERS + 1 : 2;
		mp_init(&p);
		msgpack_pack_map(&p.pk, 8);
		mp_kv_u(&p, "T", RAFT_MSG_SNAPSHOT);
		mp_kv_s(&p, "F", "leader");
		mp_kv_s(&p, "To", "follower");
		mp_kv_u(&p, "Tm", 3);
		mp_kv_u(&p, "SI", 100);
		mp_kv_u(&p, "ST", 2);
		mp_s(&p, "D");
		msgpack_pack_bin(&p.pk, 0);
		mp_s(&p, "SC");
		msgpack_pack_array(&p.pk, n);
		for (unsigned i = 0; i < n; i++) {
			char id[16];
			snprintf(id, sizeof(id), "s%u", kind == 1 ? 0 : i);
			msgpack_pack_array(&p.pk, 3);
			mp_s(&p, id);
			mp_s(&p, "10.0.0.1:8300");
			if (kind == 2)
				msgpack_pack_uint64(&p.pk, 1);
			else
				msgpack_pack_true(&p.pk);
		}
		if (kind == 0)
			expect_bad(&p, "field \"SC\": 17 servers, more than the limit 16", NULL);
		else if (kind == 1)
			expect_bad(&p, "field \"SC\"[1]: id \"s0\" listed twice", NULL);
		else
			expect_bad(&p, "field \"SC\"[0] voter: expected a bool", NULL);
	}

	/* nested garbage: deep, inside a field, and as the whole payload */
	mp_init(&p);
	msgpack_pack_map(&p.pk, 4);
	mp_kv_u(&p, "T", RAFT_MSG_TIMEOUT_NOW);
	mp_kv_s(&p, "F", "a");
	mp_kv_s(&p, "To", "b");
	mp_s(&p, "Tm");
	for (int i = 0; i < 40; i++)
		msgpack_pack_array(&p.pk, 1);
	msgpack_pack_nil(&p.pk);
	expect_bad(&p, "field \"Tm\": nested deeper than", NULL);
	mp_init(&p);
	msgpack_pack_map(&p.pk, 4);
	mp_kv_u(&p, "T", RAFT_MSG_TIMEOUT_NOW);
	mp_kv_s(&p, "F", "a");
	mp_kv_s(&p, "To", "b");
	mp_s(&p, "Tm");
	msgpack_pack_map(&p.pk, 1);
	mp_s(&p, "x");
	msgpack_pack_array(&p.pk, 2);
	msgpack_pack_nil(&p.pk);
	msgpack_pack_ext(&p.pk, 1, 7);
	msgpack_pack_ext_body(&p.pk, "x", 1);
	expect_bad(&p, "field \"Tm\": expected an unsigned integer, got map", NULL);
	mp_init(&p);
	msgpack_pack_array(&p.pk, 2);
	msgpack_pack_nil(&p.pk);
	msgpack_pack_nil(&p.pk);
	expect_bad(&p, "expected a map", NULL);

	/* lying lengths: claims checked against the bytes, nothing allocated */
	const uint8_t arr32[] = { 0x84, 0xa1, 'T', 0x07, 0xa1, 'F', 0xdd, 0xff, 0xff, 0xff, 0xff };
	expect_bad_bytes(arr32, sizeof(arr32), "field \"F\": truncated", NULL);
	const uint8_t map32[] = { 0xdf, 0xff, 0xff, 0xff, 0xff, 0xa1 };
	expect_bad_bytes(map32, sizeof(map32), "truncated", NULL);
	const uint8_t bin32[] = { 0x81, 0xa1, 'D', 0xc6, 0x7f, 0xff, 0xff, 0xff, 0x00 };
	expect_bad_bytes(bin32, sizeof(bin32), "field \"D\": truncated", NULL);
	const uint8_t never[] = { 0x81, 0xa1, 'F', 0xc1 };
	expect_bad_bytes(never, sizeof(never), "field \"F\": byte 0xc1", "not msgpack");

	/* too many objects, however small: refused before msgpack-c sizes them */
	mp_init(&p);
	msgpack_pack_map(&p.pk, 5);
	mp_kv_u(&p, "T", RAFT_MSG_TIMEOUT_NOW);
	mp_kv_s(&p, "F", "a");
	mp_kv_s(&p, "To", "b");
	mp_kv_u(&p, "Tm", 1);
	mp_s(&p, "Zz");
	msgpack_pack_array(&p.pk, 70000);
	for (int i = 0; i < 70000; i++)
		msgpack_pack_nil(&p.pk);
	expect_bad(&p, "field \"Zz\": more than 65536 msgpack objects", NULL);

	/* keys: twice, not strings */
	mp_init(&p);
	msgpack_pack_map(&p.pk, 5);
	mp_kv_u(&p, "T", RAFT_MSG_TIMEOUT_NOW);
	mp_kv_s(&p, "F", "a");
	mp_kv_s(&p, "To", "b");
	mp_kv_u(&p, "Tm", 1);
	mp_kv_u(&p, "Tm", 2);
	expect_bad(&p, "field \"Tm\": given twice", NULL);
	mp_init(&p);
	msgpack_pack_map(&p.pk, 5);
	mp_kv_u(&p, "T", RAFT_MSG_TIMEOUT_NOW);
	mp_kv_s(&p, "F", "a");
	mp_kv_s(&p, "To", "b");
	mp_kv_u(&p, "Tm", 1);
	msgpack_pack_uint64(&p.pk, 5);
	msgpack_pack_nil(&p.pk);
	expect_bad(&p, "key 4: expected a string", NULL);
	mp_init(&p);
	msgpack_pack_map(&p.pk, 0);
	expect_bad(&p, "field \"T\": missing", NULL);
}

/* Forward compatibility: any order, unknown keys, other types' keys. */
static void test_tolerant(void **state)
{
	struct mp p;
	mp_init(&p);
	msgpack_pack_map(&p.pk, 9);
	mp_kv_u(&p, "Tm", 4);
	mp_s(&p, "Zz"); /* a newer peer's field, nested */
	msgpack_pack_map(&p.pk, 1);
	mp_s(&p, "k");
	msgpack_pack_array(&p.pk, 3);
	msgpack_pack_nil(&p.pk);
	msgpack_pack_double(&p.pk, 1.5);
	msgpack_pack_ext(&p.pk, 2, 3);
	msgpack_pack_ext_body(&p.pk, "ab", 2);
	mp_kv_s(&p, "To", "b");
	mp_kv_s(&p, "E", "not for a vote: skipped"); /* another type's key */
	mp_kv_u(&p, "LT", 2);
	mp_kv_s(&p, "F", "a");
	mp_kv_u(&p, "LI", 9);
	mp_kv_u(&p, "T", RAFT_MSG_VOTE);
	mp_s(&p, "PV");
	msgpack_pack_true(&p.pk);
	struct raft_wire_msg out;
	char err[256];
	assert_int_equal(raft_wire_decode_msg((const uint8_t *)p.sb.data, p.sb.size, &out, err,
	                                      sizeof(err)),
	                 0);
	assert_int_equal(out.msg.type, RAFT_MSG_VOTE);
	assert_true(out.msg.term == 4 && out.msg.last_index == 9 && out.msg.last_term == 2);
	assert_true(out.msg.prevote);
	assert_int_equal(out.msg.n_entries, 0);
	assert_string_equal(out.msg.from_addr, "");
	raft_wire_msg_release(&out);
	raft_wire_msg_release(&out); /* twice is harmless */
	msgpack_sbuffer_destroy(&p.sb);

	/* entries with extra items (a newer peer's) and signed-int encodings */
	mp_init(&p);
	mp_append_head(&p, 9);
	mp_s(&p, "E");
	msgpack_pack_array(&p.pk, 1);
	msgpack_pack_array(&p.pk, 5);
	msgpack_pack_int64(&p.pk, 11); /* 11 as int64: still an unsigned value */
	msgpack_pack_uint64(&p.pk, 3);
	msgpack_pack_uint64(&p.pk, 1);
	msgpack_pack_bin(&p.pk, 0);
	mp_s(&p, "appended-at");
	expect_ok(&p, RAFT_MSG_APPEND);
}

/* RPC envelopes refused with the field named. */
static void test_rpc_malformed(void **state)
{
	struct mp p;
	struct raft_wire_rpc r;
	char err[256];
	char m64[65];
	memset(m64, 'm', 64);
	m64[64] = '\0';
	struct {
		int shape;
		const char *want;
	} cases[] = {
		{ 0, "field \"Seq\": expected an unsigned integer" },
		{ 1, "field \"Method\": 64 bytes, longer than the limit 63" },
		{ 2, "field \"Body\": expected bin, got nil" },
		{ 3, "field \"Method\": empty" },
		{ 4, "field \"Seq\": missing" },
		{ 5, "field \"Body\": given twice" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int s = cases[i].shape;
		mp_init(&p);
		msgpack_pack_map(&p.pk, s == 4 ? 2 : s == 5 ? 4 : 3);
		if (s != 4) {
			mp_s(&p, "Seq");
			if (s == 0)
				msgpack_pack_int64(&p.pk, -3);
			else
				msgpack_pack_uint64(&p.pk, 3);
		}
		mp_kv_s(&p, "Method", s == 1 ? m64 : s == 3 ? "" : "Status.Ping");
		mp_s(&p, "Body");
		if (s == 2)
			msgpack_pack_nil(&p.pk);
		else
			msgpack_pack_bin(&p.pk, 0);
		if (s == 5) {
			mp_s(&p, "Body");
			msgpack_pack_bin(&p.pk, 0);
		}
		err[0] = '\0';
		assert_int_equal(raft_wire_decode_request((const uint8_t *)p.sb.data, p.sb.size, &r,
		                                          err, sizeof(err)),
		                 -EINVAL);
		if (!strstr(err, cases[i].want))
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err, cases[i].want);
		assert_int_equal(strncmp(err, "rpc request: ", 13), 0);
		msgpack_sbuffer_destroy(&p.sb);
	}
	/* an error string with a NUL, one too long */
	char e256[257];
	memset(e256, 'e', 256);
	e256[256] = '\0';
	for (int i = 0; i < 2; i++) {
		mp_init(&p);
		msgpack_pack_map(&p.pk, 3);
		mp_kv_u(&p, "Seq", 1);
		if (i == 0) {
			mp_s(&p, "Error");
			msgpack_pack_str(&p.pk, 2);
			msgpack_pack_str_body(&p.pk, "\0x", 2);
		} else {
			mp_kv_s(&p, "Error", e256);
		}
		mp_s(&p, "Body");
		msgpack_pack_bin(&p.pk, 0);
		assert_int_equal(raft_wire_decode_response((const uint8_t *)p.sb.data, p.sb.size, &r,
		                                           err, sizeof(err)),
		                 -EINVAL);
		assert_non_null(strstr(err, "rpc response: field \"Error\""));
		msgpack_sbuffer_destroy(&p.sb);
	}
	assert_int_equal(raft_wire_decode_response((const uint8_t *)"\x93\x01\x02\x03", 4, &r, err,
	                                           sizeof(err)),
	                 -EINVAL);
	assert_non_null(strstr(err, "expected a map"));
}

/* ---- random mutations ---- */

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* What decoded once encodes again and decodes to the same message. */
static void check_stable(const struct raft_msg *m)
{
	struct raft_wire_msg again;
	uint8_t *frame;
	round_trip(m, &again, &frame);
	raft_wire_msg_release(&again);
	free(frame);
}

static void test_mutations(void **state)
{
	/* valid frames of every kind to start from */
	uint8_t *seeds[12];
	size_t seed_len[12], nseeds = 0;
	struct raft_msg m;
	struct raft_entry e[3] = {
		{ .index = 8, .term = 2, .type = RAFT_ENTRY_COMMAND, .data = blob, .len = 33 },
		{ .index = 9, .term = 2, .type = RAFT_ENTRY_CONFIG, .data = blob + 40, .len = 3 },
		{ .index = 10, .term = 3, .type = RAFT_ENTRY_NOOP },
	};
	struct raft_configuration conf = { .n = 2 };
	strcpy(conf.s[0].id, "s1");
	strcpy(conf.s[0].addr, "10.0.0.1:8300");
	conf.s[0].voter = true;
	strcpy(conf.s[1].id, "s2");
	strcpy(conf.s[1].addr, "10.0.0.2:8300");

	for (int t = 1; t <= RAFT_MSG_TYPE_MAX; t++) {
		base_msg(&m, t);
		m.last_index = 5;
		m.last_term = 2;
		m.prevote = t == RAFT_MSG_VOTE;
		m.granted = true;
		m.prev_index = 7;
		m.prev_term = 2;
		m.commit = 6;
		m.seq = 3;
		m.success = true;
		m.index = 10;
		m.snap_index = 10;
		m.snap_term = 3;
		if (t == RAFT_MSG_APPEND) {
			m.entries = e;
			m.n_entries = 3;
		}
		if (t == RAFT_MSG_SNAPSHOT) {
			m.snap_conf = &conf;
			m.data = blob;
			m.len = 50;
		}
		assert_int_equal(raft_wire_encode_msg(&m, &seeds[nseeds], &seed_len[nseeds]), 0);
		nseeds++;
	}
	size_t nraft = nseeds;
	assert_int_equal(raft_wire_encode_request(5, "KVS.Apply", blob, 12, &seeds[nseeds],
	                                          &seed_len[nseeds]),
	                 0);
	nseeds++;
	assert_int_equal(raft_wire_encode_response(5, "permission denied", blob, 7, &seeds[nseeds],
	                                           &seed_len[nseeds]),
	                 0);
	nseeds++;

	static const uint8_t special[] = { 0x00, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0,
	                                   0xc1, 0xc2, 0xc3, 0xc4, 0xc6, 0xc7, 0xc9, 0xcf, 0xd3,
	                                   0xd8, 0xdb, 0xdd, 0xdf, 0xe0, 0xff };
	uint8_t buf[2048];
	size_t ok = 0, refused = 0;
	for (int iter = 0; iter < 20000; iter++) {
		size_t s = next_rand() % nseeds;
		size_t len = seed_len[s] - 4;
		assert_true(len <= sizeof(buf));
		memcpy(buf, seeds[s] + 4, len);
		int nmut = 1 + (int)(next_rand() % 4);
		for (int k = 0; k < nmut && len > 0; k++) {
			size_t at = next_rand() % len;
			switch (next_rand() % 6) {
			case 0: /* bit flip */
				buf[at] ^= (uint8_t)(1u << (next_rand() % 8));
				break;
			case 1: /* truncation */
				len = at;
				break;
			case 2: /* a random byte */
				buf[at] = (uint8_t)next_rand();
				break;
			case 3: /* a msgpack type byte */
				buf[at] = special[next_rand() % sizeof(special)];
				break;
			case 4: /* a byte removed */
				memmove(buf + at, buf + at + 1, len - at - 1);
				len--;
				break;
			case 5: /* a byte inserted */
				if (len < sizeof(buf)) {
					memmove(buf + at + 1, buf + at, len - at);
					buf[at] = (uint8_t)next_rand();
					len++;
				}
				break;
			}
		}
		char err[256];
		err[0] = '\0';
		if (s < nraft) {
			struct raft_wire_msg out;
			int rc = raft_wire_decode_msg(buf, len, &out, err, sizeof(err));
			if (rc == 0) {
				check_stable(&out.msg);
				raft_wire_msg_release(&out);
				ok++;
			} else {
				assert_int_equal(rc, -EINVAL);
				assert_true(err[0] != '\0');
				refused++;
			}
		} else {
			struct raft_wire_rpc r;
			int rc = s == nraft ? raft_wire_decode_request(buf, len, &r, err, sizeof(err))
			                    : raft_wire_decode_response(buf, len, &r, err, sizeof(err));
			if (rc == 0) {
				assert_true(r.body_len <= len);
				ok++;
			} else {
				assert_int_equal(rc, -EINVAL);
				assert_true(err[0] != '\0');
				refused++;
			}
		}
	}
	/* both outcomes are exercised */
	assert_true(ok > 100);
	assert_true(refused > 1000);
	for (size_t i = 0; i < nseeds; i++)
		free(seeds[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_vote),
		cmocka_unit_test(test_round_trip_append),
		cmocka_unit_test(test_round_trip_snapshot),
		cmocka_unit_test(test_encode_refuses),
		cmocka_unit_test(test_frame_split),
		cmocka_unit_test(test_rpc_round_trip),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_tolerant),
		cmocka_unit_test(test_rpc_malformed),
		cmocka_unit_test(test_mutations),
	};
	fill_blob();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
