/* memberlist messages (spec §2.2, §2.4, §2.5, §2.8, §3): the structs as
 * go-msgpack maps, push/pull, compound and compress. Packet and stream
 * framing are in wire_packet.c. */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "gossip/wire_internal.h"

const char *gw_strerror(int err)
{
	if (err < 0)
		err = -err;
	switch (err) {
	case 0:
		return "success";
	case GW_ETRUNC:
		return "message truncated";
	case GW_EBADMSG:
		return "malformed message";
	case GW_ETOOBIG:
		return "message too big";
	case GW_ECRC:
		return "checksum mismatch";
	case GW_EDECRYPT:
		return "no key decrypts the message";
	case GW_EUNSUPPORTED:
		return "unsupported message";
	default:
		return strerror(err);
	}
}

bool gw_ip_v4(const struct gw_ip *ip, uint32_t *out)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	if (ip->len == 4) {
		*out = gw_be32(ip->b);
		return true;
	}
	if (ip->len == 16 && memcmp(ip->b, mapped, 12) == 0) {
		*out = gw_be32(ip->b + 12);
		return true;
	}
	return false;
}

void gw_ip_from_v4(struct gw_ip *ip, uint32_t host_order)
{
	memset(ip, 0, sizeof(*ip));
	gw_put_be32(ip->b, host_order);
	ip->len = 4;
}

/* ---- field tables, sorted by key (the wire order) ---- */

/* offsets and sizes are kept in 16 bits */
_Static_assert(sizeof(struct gw_node_state) < 65536, "struct too big for mp_field");
_Static_assert(sizeof(struct gw_serf_query) < 65536, "struct too big for mp_field");

static const struct mp_field ping_f[] = {
	F("Node", MK_NAME, 0, struct gw_ping, node),
	F("SeqNo", MK_U32, 0, struct gw_ping, seq),
	F("SourceAddr", MK_IP, MF_OMITEMPTY, struct gw_ping, source_addr),
	F("SourceNode", MK_NAME, MF_OMITEMPTY, struct gw_ping, source_node),
	F("SourcePort", MK_U16, MF_OMITEMPTY, struct gw_ping, source_port),
};

static const struct mp_field indirect_f[] = {
	F("Nack", MK_BOOL, 0, struct gw_indirect_ping, nack),
	F("Node", MK_NAME, 0, struct gw_indirect_ping, node),
	F("Port", MK_U16, 0, struct gw_indirect_ping, port),
	F("SeqNo", MK_U32, 0, struct gw_indirect_ping, seq),
	F("SourceAddr", MK_IP, MF_OMITEMPTY, struct gw_indirect_ping, source_addr),
	F("SourceNode", MK_NAME, MF_OMITEMPTY, struct gw_indirect_ping, source_node),
	F("SourcePort", MK_U16, MF_OMITEMPTY, struct gw_indirect_ping, source_port),
	F("Target", MK_IP, 0, struct gw_indirect_ping, target),
};

static const struct mp_field ack_f[] = {
	FA("Payload", MK_BYTES, 0, struct gw_ack, payload, payload_len),
	F("SeqNo", MK_U32, 0, struct gw_ack, seq),
};

static const struct mp_field nack_f[] = {
	F("SeqNo", MK_U32, 0, struct gw_nack, seq),
};

static const struct mp_field suspect_f[] = {
	F("From", MK_NAME, 0, struct gw_suspect, from),
	F("Incarnation", MK_U32, 0, struct gw_suspect, incarnation),
	F("Node", MK_NAME, MF_REQUIRED, struct gw_suspect, node),
};

static const struct mp_field alive_f[] = {
	F("Addr", MK_IP, 0, struct gw_alive, addr),
	F("Incarnation", MK_U32, 0, struct gw_alive, incarnation),
	FA("Meta", MK_BYTES, 0, struct gw_alive, meta, meta_len),
	F("Node", MK_NAME, MF_REQUIRED, struct gw_alive, node),
	F("Port", MK_U16, 0, struct gw_alive, port),
	FA("Vsn", MK_VSN, 0, struct gw_alive, vsn, has_vsn),
};

static const struct mp_field err_f[] = {
	F("Error", MK_STR, 0, struct gw_err, error),
};

struct pp_header {
	bool join;
	int64_t nodes;
	int64_t user_state_len;
};

static const struct mp_field pp_header_f[] = {
	F("Join", MK_BOOL, 0, struct pp_header, join),
	F("Nodes", MK_I64, 0, struct pp_header, nodes),
	F("UserStateLen", MK_I64, 0, struct pp_header, user_state_len),
};

static const struct mp_field node_f[] = {
	F("Addr", MK_IP, 0, struct gw_node_state, addr),
	F("Incarnation", MK_U32, 0, struct gw_node_state, incarnation),
	FA("Meta", MK_BYTES, 0, struct gw_node_state, meta, meta_len),
	F("Name", MK_NAME, MF_REQUIRED, struct gw_node_state, name),
	F("Port", MK_U16, 0, struct gw_node_state, port),
	F("State", MK_INT, 0, struct gw_node_state, state),
	FA("Vsn", MK_VSN, 0, struct gw_node_state, vsn, has_vsn),
};

struct compress_m {
	uint8_t algo;
	const uint8_t *buf;
	size_t len;
};

static const struct mp_field compress_f[] = {
	F("Algo", MK_U8, 0, struct compress_m, algo),
	FA("Buf", MK_RAW, 0, struct compress_m, buf, len),
};

struct user_header {
	int64_t len;
};

static const struct mp_field user_header_f[] = {
	F("UserMsgLen", MK_I64, 0, struct user_header, len),
};

/* ---- single-map messages ---- */

int gw_encode_ping(const struct gw_ping *m, uint8_t *buf, size_t cap)
{
	return mp_encode_typed(GW_PING, ping_f, N(ping_f), m, buf, cap);
}

int gw_encode_indirect_ping(const struct gw_indirect_ping *m, uint8_t *buf, size_t cap)
{
	return mp_encode_typed(GW_INDIRECT_PING, indirect_f, N(indirect_f), m, buf, cap);
}

int gw_encode_ack(const struct gw_ack *m, uint8_t *buf, size_t cap)
{
	return mp_encode_typed(GW_ACK, ack_f, N(ack_f), m, buf, cap);
}

int gw_encode_nack(const struct gw_nack *m, uint8_t *buf, size_t cap)
{
	return mp_encode_typed(GW_NACK, nack_f, N(nack_f), m, buf, cap);
}

int gw_encode_suspect(const struct gw_suspect *m, uint8_t *buf, size_t cap)
{
	return mp_encode_typed(GW_SUSPECT, suspect_f, N(suspect_f), m, buf, cap);
}

int gw_encode_dead(const struct gw_suspect *m, uint8_t *buf, size_t cap)
{
	return mp_encode_typed(GW_DEAD, suspect_f, N(suspect_f), m, buf, cap);
}

int gw_encode_alive(const struct gw_alive *m, uint8_t *buf, size_t cap)
{
	return mp_encode_typed(GW_ALIVE, alive_f, N(alive_f), m, buf, cap);
}

int gw_encode_err(const struct gw_err *m, uint8_t *buf, size_t cap)
{
	return mp_encode_typed(GW_ERR, err_f, N(err_f), m, buf, cap);
}

int gw_decode_ping(const uint8_t *body, size_t len, struct gw_ping *m)
{
	return mp_decode_body(body, len, ping_f, N(ping_f), m, sizeof(*m));
}

int gw_decode_indirect_ping(const uint8_t *body, size_t len, struct gw_indirect_ping *m)
{
	return mp_decode_body(body, len, indirect_f, N(indirect_f), m, sizeof(*m));
}

int gw_decode_ack(const uint8_t *body, size_t len, struct gw_ack *m)
{
	return mp_decode_body(body, len, ack_f, N(ack_f), m, sizeof(*m));
}

int gw_decode_nack(const uint8_t *body, size_t len, struct gw_nack *m)
{
	return mp_decode_body(body, len, nack_f, N(nack_f), m, sizeof(*m));
}

int gw_decode_suspect(const uint8_t *body, size_t len, struct gw_suspect *m)
{
	return mp_decode_body(body, len, suspect_f, N(suspect_f), m, sizeof(*m));
}

int gw_decode_alive(const uint8_t *body, size_t len, struct gw_alive *m)
{
	return mp_decode_body(body, len, alive_f, N(alive_f), m, sizeof(*m));
}

int gw_decode_err(const uint8_t *body, size_t len, struct gw_err *m)
{
	return mp_decode_body(body, len, err_f, N(err_f), m, sizeof(*m));
}

/* ---- user (8) ---- */

int gw_encode_user(const uint8_t *payload, size_t len, uint8_t *buf, size_t cap)
{
	if (!buf || !payload || len == 0)
		return -EINVAL;
	if (len > INT_MAX - 1 || cap < len + 1)
		return -GW_ETOOBIG;
	buf[0] = GW_USER;
	memmove(buf + 1, payload, len);
	return (int)len + 1;
}

/* ---- push/pull (6) ---- */

void gw_push_pull_free(struct gw_push_pull *pp)
{
	if (!pp)
		return;
	free(pp->nodes);
	memset(pp, 0, sizeof(*pp));
}

int gw_encode_push_pull(const struct gw_push_pull *pp, uint8_t *buf, size_t cap)
{
	struct mp_w w;
	int rc;
	if (!pp || !buf || (pp->nnodes && !pp->nodes) || (pp->user_state_len && !pp->user_state))
		return -EINVAL;
	if (pp->nnodes > GW_LIST_MAX || pp->user_state_len > GW_STREAM_MAX)
		return -GW_ETOOBIG;
	if (cap < 1)
		return -GW_ETOOBIG;
	struct pp_header h = {
		.join = pp->join,
		.nodes = (int64_t)pp->nnodes,
		.user_state_len = (int64_t)pp->user_state_len,
	};
	buf[0] = GW_PUSH_PULL;
	mpw_init(&w, buf + 1, cap - 1);
	if ((rc = mp_encode_struct(&w, pp_header_f, N(pp_header_f), &h)) < 0)
		return rc;
	for (size_t i = 0; i < pp->nnodes; i++)
		if ((rc = mp_encode_struct(&w, node_f, N(node_f), &pp->nodes[i])) < 0)
			return rc;
	mpw_raw(&w, pp->user_state, pp->user_state_len);
	rc = mpw_done(&w);
	if (rc >= 0 && rc > INT_MAX - 1)
		return -GW_ETOOBIG;
	return rc < 0 ? rc : rc + 1;
}

/* Reads and checks the header: node count and user state length in range. */
static int read_pp_header(struct mp_r *r, struct pp_header *h)
{
	memset(h, 0, sizeof(*h));
	int rc = mp_decode_struct(r, pp_header_f, N(pp_header_f), h);
	if (rc)
		return rc;
	if (h->nodes < 0 || h->user_state_len < 0)
		return -GW_EBADMSG;
	if (h->nodes > GW_LIST_MAX || h->user_state_len > (int64_t)GW_STREAM_MAX)
		return -GW_ETOOBIG;
	/* every object takes a byte at least */
	if ((uint64_t)h->nodes > r->len - r->off)
		return -GW_ETRUNC;
	return 0;
}

int gw_decode_push_pull(const uint8_t *body, size_t len, struct gw_push_pull *pp, size_t *used)
{
	struct pp_header h;
	struct mp_r r;
	int rc;
	if (!pp || (!body && len))
		return -EINVAL;
	memset(pp, 0, sizeof(*pp));
	if (used)
		*used = 0;
	mpr_init(&r, body, len);
	if ((rc = read_pp_header(&r, &h)))
		return rc;
	/* a node state is a map with a non-empty Name: 8 bytes at least, which
	 * bounds the allocation by the input */
	if ((uint64_t)h.nodes > (r.len - r.off) / 8)
		return -GW_ETRUNC;
	if (h.nodes) {
		pp->nodes = calloc((size_t)h.nodes, sizeof(*pp->nodes));
		if (!pp->nodes)
			return -ENOMEM;
	}
	for (size_t i = 0; i < (size_t)h.nodes; i++) {
		if ((rc = mp_decode_struct(&r, node_f, N(node_f), &pp->nodes[i])))
			goto fail;
		pp->nnodes++;
	}
	if ((size_t)h.user_state_len > r.len - r.off) {
		rc = -GW_ETRUNC;
		goto fail;
	}
	pp->join = h.join;
	pp->user_state_len = (size_t)h.user_state_len;
	pp->user_state = pp->user_state_len ? body + r.off : NULL;
	if (used)
		*used = r.off + pp->user_state_len;
	return 0;
fail:
	gw_push_pull_free(pp);
	return rc;
}

/* ---- compound (7) ---- */

int gw_compound(const uint8_t *const *parts, const size_t *lens, size_t n, uint8_t *buf,
                size_t cap)
{
	if (!parts || !lens || !buf || n == 0)
		return -EINVAL;
	if (n > GW_COMPOUND_MAX_PARTS)
		return -GW_ETOOBIG;
	size_t total = 2 + 2 * n;
	for (size_t i = 0; i < n; i++) {
		if (!parts[i] || lens[i] == 0)
			return -EINVAL;
		if (lens[i] > 0xffff)
			return -GW_ETOOBIG;
		total += lens[i];
	}
	if (total > cap || total > INT_MAX)
		return -GW_ETOOBIG;
	uint8_t *p = buf;
	*p++ = GW_COMPOUND;
	*p++ = (uint8_t)n;
	for (size_t i = 0; i < n; i++) {
		*p++ = (uint8_t)(lens[i] >> 8);
		*p++ = (uint8_t)lens[i];
	}
	for (size_t i = 0; i < n; i++) {
		memmove(p, parts[i], lens[i]);
		p += lens[i];
	}
	return (int)total;
}

/* ---- compress (9) ---- */

/* 09 82 a4 "Algo" 00 a3 "Buf", then the Buf string header and the LZW bytes */
static const uint8_t compress_head[12] = { GW_COMPRESS, 0x82, 0xa4, 'A', 'l', 'g', 'o', 0x00,
                                           0xa3, 'B', 'u', 'f' };

int gw_encode_compress(const uint8_t *msg, size_t len, uint8_t *buf, size_t cap)
{
	const size_t head = sizeof(compress_head), maxhdr = 5;
	if (!msg || !buf || len == 0)
		return -EINVAL;
	if (cap < head + maxhdr)
		return -GW_ETOOBIG;
	int z = gw_lzw_encode(msg, len, buf + head + maxhdr, cap - head - maxhdr);
	if (z < 0)
		return z;
	size_t n = (size_t)z, h = n < 32 ? 1 : n <= 0xffff ? 3 : 5;
	uint8_t *p = buf + head;
	memmove(p + h, buf + head + maxhdr, n);
	memcpy(buf, compress_head, head);
	if (h == 1) {
		p[0] = (uint8_t)(0xa0 | n);
	} else if (h == 3) {
		p[0] = 0xda;
		p[1] = (uint8_t)(n >> 8);
		p[2] = (uint8_t)n;
	} else {
		p[0] = 0xdb;
		gw_put_be32(p + 1, (uint32_t)n);
	}
	if (head + h + n > INT_MAX)
		return -GW_ETOOBIG;
	return (int)(head + h + n);
}

int gw_compress_body(const uint8_t *body, size_t len, const uint8_t **buf, size_t *blen,
                     size_t *used)
{
	struct compress_m c = { 0 };
	struct mp_r r;
	mpr_init(&r, body, len);
	int rc = mp_decode_struct(&r, compress_f, N(compress_f), &c);
	if (rc)
		return rc;
	if (c.algo != 0)
		return -GW_EUNSUPPORTED;
	*buf = c.buf;
	*blen = c.len;
	*used = r.off;
	return 0;
}

/* ---- stream message sizes ---- */

int gw_measure_body(enum gw_type type, const uint8_t *body, size_t len, size_t *used)
{
	struct mp_r r;
	int rc;
	mpr_init(&r, body, len);
	switch (type) {
	case GW_PING:
	case GW_INDIRECT_PING:
	case GW_ACK:
	case GW_SUSPECT:
	case GW_ALIVE:
	case GW_DEAD:
	case GW_NACK:
	case GW_ERR:
		rc = mpr_skip(&r);
		break;
	case GW_PUSH_PULL: {
		struct pp_header h;
		if ((rc = read_pp_header(&r, &h)))
			return rc;
		for (int64_t i = 0; i < h.nodes && !rc; i++)
			rc = mpr_skip(&r);
		if (!rc && (size_t)h.user_state_len > r.len - r.off)
			rc = -GW_ETRUNC;
		if (!rc)
			r.off += (size_t)h.user_state_len;
		break;
	}
	case GW_USER: {
		struct user_header h = { 0 };
		if ((rc = mp_decode_struct(&r, user_header_f, N(user_header_f), &h)))
			return rc;
		if (h.len < 0)
			return -GW_EBADMSG;
		if (h.len > (int64_t)GW_STREAM_MAX)
			return -GW_ETOOBIG;
		if ((size_t)h.len > r.len - r.off)
			return -GW_ETRUNC;
		r.off += (size_t)h.len;
		break;
	}
	default:
		return -GW_EBADMSG;
	}
	if (!rc)
		*used = r.off;
	return rc;
}
