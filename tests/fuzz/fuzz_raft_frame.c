/* libFuzzer target: bytes on the server port (8300) from anywhere must give
 * frames and messages, "read more", or an error with a message; never a crash,
 * hang, leak or large allocation. Checks on the way:
 *  - the input is split into frames as a stream; each payload is decoded as a
 *    Raft message, an RPC request and an RPC response (the whole input is
 *    also decoded as one payload, so the decoders are reached without the
 *    fuzzer having to guess a length prefix);
 *  - a failed decode always says why;
 *  - what decodes re-encodes, and that frame decodes to the same thing. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "raft/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_err(int rc, const char *err)
{
	if (rc != -EINVAL || !err[0])
		abort();
}

static int eq_msg(const struct raft_msg *a, const struct raft_msg *b)
{
	if (a->type != b->type || strcmp(a->from, b->from) || strcmp(a->from_addr, b->from_addr) ||
	    strcmp(a->to, b->to) || a->term != b->term || a->last_index != b->last_index ||
	    a->last_term != b->last_term || a->prevote != b->prevote ||
	    a->transfer != b->transfer || a->granted != b->granted ||
	    a->prev_index != b->prev_index || a->prev_term != b->prev_term ||
	    a->commit != b->commit || a->seq != b->seq || a->success != b->success ||
	    a->index != b->index || a->snap_index != b->snap_index ||
	    a->snap_term != b->snap_term || a->n_entries != b->n_entries || a->len != b->len ||
	    (a->len && memcmp(a->data, b->data, a->len)) || !a->snap_conf != !b->snap_conf)
		return 0;
	for (size_t i = 0; i < a->n_entries; i++) {
		const struct raft_entry *x = &a->entries[i], *y = &b->entries[i];
		if (x->index != y->index || x->term != y->term || x->type != y->type ||
		    x->len != y->len || (x->len && memcmp(x->data, y->data, x->len)))
			return 0;
	}
	if (a->snap_conf) {
		if (a->snap_conf->n != b->snap_conf->n)
			return 0;
		for (unsigned i = 0; i < a->snap_conf->n; i++) {
			const struct raft_server *x = &a->snap_conf->s[i], *y = &b->snap_conf->s[i];
			if (strcmp(x->id, y->id) || strcmp(x->addr, y->addr) || x->voter != y->voter)
				return 0;
		}
	}
	return 1;
}

/* A frame we made: exactly one frame, of its whole length. */
static void split_own(const uint8_t *frame, size_t flen, size_t max, const uint8_t **payload,
                      size_t *plen)
{
	size_t used;
	char err[128];
	if (raft_wire_frame(frame, flen, max, payload, plen, &used, err, sizeof(err)) != 1 ||
	    used != flen)
		abort();
}

static void raft_payload(const uint8_t *p, size_t len)
{
	struct raft_wire_msg a, b;
	char err[256];
	int rc = raft_wire_decode_msg(p, len, &a, err, sizeof(err));
	if (rc) {
		check_err(rc, err);
		if (a.entries || a.msg.n_entries)
			abort();
		return;
	}
	uint8_t *frame;
	size_t flen, plen;
	const uint8_t *payload;
	if (raft_wire_encode_msg(&a.msg, &frame, &flen) != 0)
		abort();
	split_own(frame, flen, RAFT_WIRE_FRAME_MAX, &payload, &plen);
	if (raft_wire_decode_msg(payload, plen, &b, err, sizeof(err)) != 0 || !eq_msg(&a.msg, &b.msg))
		abort();
	raft_wire_msg_release(&b);
	raft_wire_msg_release(&a);
	free(frame);
}

static void rpc_payload(const uint8_t *p, size_t len, int request)
{
	struct raft_wire_rpc a, b;
	char err[256];
	int rc = request ? raft_wire_decode_request(p, len, &a, err, sizeof(err))
	                 : raft_wire_decode_response(p, len, &a, err, sizeof(err));
	if (rc) {
		check_err(rc, err);
		return;
	}
	if (a.body_len > len || (a.body_len && (a.body < p || a.body + a.body_len > p + len)))
		abort();
	uint8_t *frame;
	size_t flen, plen;
	const uint8_t *payload;
	rc = request ? raft_wire_encode_request(a.seq, a.method, a.body, a.body_len, &frame, &flen)
	             : raft_wire_encode_response(a.seq, a.error, a.body, a.body_len, &frame, &flen);
	if (rc == -E2BIG && len > RAFT_WIRE_RPC_FRAME_MAX - 512)
		return; /* a payload near the limit may not fit re-encoded */
	if (rc != 0)
		abort();
	split_own(frame, flen, RAFT_WIRE_RPC_FRAME_MAX, &payload, &plen);
	rc = request ? raft_wire_decode_request(payload, plen, &b, err, sizeof(err))
	             : raft_wire_decode_response(payload, plen, &b, err, sizeof(err));
	if (rc != 0 || a.seq != b.seq || strcmp(a.method, b.method) || strcmp(a.error, b.error) ||
	    a.body_len != b.body_len || (a.body_len && memcmp(a.body, b.body, a.body_len)))
		abort();
	free(frame);
}

static void payload_all(const uint8_t *p, size_t len)
{
	raft_payload(p, len);
	rpc_payload(p, len, 1);
	rpc_payload(p, len, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	payload_all(data, size);

	/* as a stream: frames until one is incomplete or refused */
	size_t off = 0;
	for (;;) {
		const uint8_t *payload;
		size_t plen, used;
		char err[128] = "";
		int rc = raft_wire_frame(data + off, size - off, RAFT_WIRE_FRAME_MAX, &payload, &plen,
		                         &used, err, sizeof(err));
		if (rc == 0)
			break;
		if (rc != 1) {
			if (rc != -E2BIG || !err[0])
				abort();
			break;
		}
		if (used != 4 + plen || used > size - off || payload != data + off + 4)
			abort();
		payload_all(payload, plen);
		off += used;
	}
	return 0;
}
