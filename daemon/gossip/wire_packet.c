/* Framing: UDP packets (spec §2.3: [encrypted] [hasCrc] message, compound and
 * compress nested in any order) and TCP stream messages (spec §2.6, §2.7:
 * [encrypt 10 + length] [compress 9] message). */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "gossip/wire_internal.h"

#define NONCE_LEN 12
#define TAG_LEN 16
#define CRC_HEAD 5       /* 12 + CRC32 */
#define STREAM_HEAD 5    /* 10 + u32 length */

static bool have_keys(const struct gw_keyring *kr)
{
	return kr && kr->n > 0;
}

/* ---- UDP ---- */

int gw_packet_seal(const struct gw_keyring *kr, bool crc, const uint8_t *msg, size_t len,
                   uint8_t *buf, size_t cap)
{
	bool enc = have_keys(kr);
	size_t head = enc ? 1 + NONCE_LEN : 0;
	size_t plain = len + (crc ? CRC_HEAD : 0);
	size_t total = head + plain + (enc ? TAG_LEN : 0);
	int rc;

	if (!msg || !buf || len == 0)
		return -EINVAL;
	if (len > GW_UDP_MAX || total > cap)
		return -GW_ETOOBIG;
	uint8_t *p = buf + head;
	/* msg may already sit where it belongs (in place); otherwise it is copied */
	memmove(p + (crc ? CRC_HEAD : 0), msg, len);
	if (crc) {
		p[0] = GW_HAS_CRC;
		gw_put_be32(p + 1, gw_crc32(p + CRC_HEAD, len));
	}
	if (enc) {
		buf[0] = 1; /* encryption version 1: no padding */
		if ((rc = gw_random(buf + 1, NONCE_LEN)))
			return rc;
		if ((rc = gw_gcm_seal(kr->keys[0], kr->lens[0], buf + 1, NULL, 0, p, plain, p)))
			return rc;
	}
	return (int)total;
}

/* Scratch layout: [0, GW_UDP_MAX) the decrypted packet; [GW_UDP_MAX, 2 *
 * GW_UDP_MAX) a stack for decompressed layers, shared by nested ones, so the
 * limits are the same with and without encryption. */
struct walk {
	gw_msg_cb cb;
	void *ud;
	uint8_t *scratch;      /* the decompression stack */
	size_t cap, used;      /* each layer pops what it pushed */
	bool stopped;
	int cb_rc;
};

static int walk(struct walk *w, const uint8_t *m, size_t len, int depth);

static int walk_compound(struct walk *w, const uint8_t *p, size_t len, int depth)
{
	if (len < 1)
		return -GW_EBADMSG;
	size_t n = p[0], off = 1 + 2 * n;
	int first = 0;
	if (len < off)
		return -GW_EBADMSG;
	/* Like memberlist: parts before a bad or truncated one are still
	 * delivered; the first error is returned at the end. */
	for (size_t i = 0; i < n; i++) {
		size_t plen = (size_t)p[1 + 2 * i] << 8 | p[2 + 2 * i];
		if (plen > len - off) {
			if (!first)
				first = -GW_EBADMSG;
			break;
		}
		int rc = walk(w, p + off, plen, depth);
		if (w->stopped)
			return w->cb_rc;
		if (rc && !first)
			first = rc;
		off += plen;
	}
	return first;
}

static int walk_compress(struct walk *w, const uint8_t *p, size_t len, int depth)
{
	const uint8_t *z;
	size_t zlen, zused;
	int rc = gw_compress_body(p, len, &z, &zlen, &zused);
	if (rc)
		return rc;
	size_t save = w->used;
	int n = gw_lzw_decode(z, zlen, w->scratch + save, w->cap - save);
	if (n < 0)
		return n;
	w->used += (size_t)n;
	rc = walk(w, w->scratch + save, (size_t)n, depth);
	w->used = save;
	return rc;
}

static int walk(struct walk *w, const uint8_t *m, size_t len, int depth)
{
	if (len == 0 || depth > GW_WALK_DEPTH)
		return -GW_EBADMSG;
	switch (m[0]) {
	case GW_PING:
	case GW_INDIRECT_PING:
	case GW_ACK:
	case GW_SUSPECT:
	case GW_ALIVE:
	case GW_DEAD:
	case GW_USER:
	case GW_NACK: {
		if (len < 2)
			return -GW_EBADMSG; /* never hand out an empty body */
		int rc = w->cb(w->ud, (enum gw_type)m[0], m + 1, len - 1);
		if (rc) {
			w->stopped = true;
			w->cb_rc = rc;
		}
		return rc;
	}
	case GW_COMPOUND:
		return walk_compound(w, m + 1, len - 1, depth + 1);
	case GW_COMPRESS:
		return walk_compress(w, m + 1, len - 1, depth + 1);
	case GW_PUSH_PULL:   /* TCP only */
	case GW_ENCRYPT:     /* UDP encryption has no type byte */
	case GW_HAS_CRC:     /* outermost only */
	case GW_ERR:         /* TCP only */
		return -GW_EBADMSG;
	default:
		return -GW_EUNSUPPORTED;
	}
}

int gw_packet_open(const struct gw_keyring *kr, uint8_t *pkt, size_t len, uint8_t *scratch,
                   size_t scratch_len, gw_msg_cb cb, void *ud)
{
	struct walk w = { .cb = cb, .ud = ud, .scratch = scratch + GW_UDP_MAX, .cap = GW_UDP_MAX };
	const uint8_t *m = pkt;
	size_t mlen = len;

	if ((!pkt && len) || !cb || !scratch || scratch_len < 2 * (size_t)GW_UDP_MAX)
		return -EINVAL;
	if (len == 0)
		return -GW_EBADMSG;
	if (len > GW_UDP_MAX)
		return -GW_ETOOBIG;
	if (have_keys(kr)) {
		/* into scratch, so every key sees the original ciphertext */
		int n = gw_decrypt(kr, pkt, len, NULL, 0, scratch, GW_UDP_MAX);
		if (n < 0)
			return n;
		m = scratch;
		mlen = (size_t)n;
	}
	if (mlen && m[0] == GW_HAS_CRC) {
		if (mlen <= CRC_HEAD)
			return -GW_EBADMSG;
		if (gw_crc32(m + CRC_HEAD, mlen - CRC_HEAD) != gw_be32(m + 1))
			return -GW_ECRC;
		m += CRC_HEAD;
		mlen -= CRC_HEAD;
	}
	return walk(&w, m, mlen, 0);
}

/* ---- TCP ---- */

int gw_stream_seal(const struct gw_keyring *kr, bool compress, const uint8_t *msg, size_t len,
                   uint8_t *buf, size_t cap)
{
	bool enc = have_keys(kr);
	size_t head = enc ? STREAM_HEAD + 1 + NONCE_LEN : 0, tail = enc ? TAG_LEN : 0;
	size_t plain;
	int rc;

	if (!msg || !buf || len == 0)
		return -EINVAL;
	if (len > GW_STREAM_MAX || cap < head + tail)
		return -GW_ETOOBIG;
	if (compress) {
		rc = gw_encode_compress(msg, len, buf + head, cap - head - tail);
		if (rc < 0)
			return rc;
		plain = (size_t)rc;
	} else {
		if (len > cap - head - tail)
			return -GW_ETOOBIG;
		memmove(buf + head, msg, len);
		plain = len;
	}
	if (!enc)
		return (int)plain;
	if (plain > GW_STREAM_MAX)
		return -GW_ETOOBIG;
	buf[0] = GW_ENCRYPT;
	gw_put_be32(buf + 1, (uint32_t)(1 + NONCE_LEN + plain + TAG_LEN));
	buf[STREAM_HEAD] = 1;
	if ((rc = gw_random(buf + STREAM_HEAD + 1, NONCE_LEN)))
		return rc;
	rc = gw_gcm_seal(kr->keys[0], kr->lens[0], buf + STREAM_HEAD + 1, buf, STREAM_HEAD,
	                 buf + head, plain, buf + head);
	if (rc)
		return rc;
	return (int)(head + plain + tail);
}

/* A short read inside bytes that are already whole (decrypted or decompressed)
 * is malformed; on the raw stream it means "read more", up to GW_STREAM_MAX. */
static int short_read(int rc, bool whole, size_t len)
{
	if (rc != -GW_ETRUNC)
		return rc;
	if (whole)
		return -GW_EBADMSG;
	return len >= GW_STREAM_MAX ? -GW_ETOOBIG : rc;
}

int gw_stream_open(const struct gw_keyring *kr, const uint8_t *in, size_t len, uint8_t *out,
                   size_t out_cap, enum gw_type *type, const uint8_t **body, size_t *blen,
                   size_t *used)
{
	const uint8_t *m = in;
	size_t mlen = len, consumed = 0, n;
	bool whole = false;
	int rc;

	if ((!in && len) || !out || !type || !body || !blen || !used)
		return -EINVAL;
	if (out_cap > GW_STREAM_MAX)
		out_cap = GW_STREAM_MAX;
	if (len == 0)
		return -GW_ETRUNC;

	if (in[0] == GW_ENCRYPT) {
		if (!have_keys(kr))
			return -GW_EDECRYPT;
		if (len < STREAM_HEAD)
			return -GW_ETRUNC;
		size_t l = gw_be32(in + 1);
		if (l > (size_t)GW_STREAM_MAX + GW_ENCRYPT_OVERHEAD + 16)
			return -GW_ETOOBIG;
		if (len - STREAM_HEAD < l)
			return -GW_ETRUNC;
		if ((rc = gw_decrypt(kr, in + STREAM_HEAD, l, in, STREAM_HEAD, out, out_cap)) < 0)
			return rc;
		m = out;
		mlen = (size_t)rc;
		whole = true;
		consumed = STREAM_HEAD + l;
	} else if (have_keys(kr)) {
		return -GW_EDECRYPT; /* encryption on: plaintext streams are refused */
	}

	if (mlen && m[0] == GW_COMPRESS) {
		const uint8_t *z;
		size_t zlen, zused;
		uint8_t *tmp = NULL;
		if ((rc = gw_compress_body(m + 1, mlen - 1, &z, &zlen, &zused)))
			return short_read(rc, whole, len);
		if (!whole) {
			if (zused >= GW_STREAM_MAX)
				return -GW_ETOOBIG;
			consumed = 1 + zused;
		}
		if (m == out && zlen) {
			/* decrypted into out: move Buf aside before inflating into out */
			if (!(tmp = malloc(zlen)))
				return -ENOMEM;
			memcpy(tmp, z, zlen);
			z = tmp;
		}
		rc = gw_lzw_decode(z, zlen, out, out_cap);
		free(tmp);
		if (rc < 0)
			return rc;
		m = out;
		mlen = (size_t)rc;
		whole = true;
	}

	if (mlen == 0)
		return -GW_EBADMSG;
	switch (m[0]) {
	case GW_COMPOUND:
	case GW_COMPRESS:
	case GW_ENCRYPT:
	case GW_HAS_CRC:
		return -GW_EBADMSG; /* not on a stream, or nested */
	default:
		if (m[0] > GW_ERR)
			return -GW_EUNSUPPORTED;
	}
	if ((rc = gw_measure_body((enum gw_type)m[0], m + 1, mlen - 1, &n)))
		return short_read(rc, whole, len);
	if (!whole) {
		if (n >= GW_STREAM_MAX)
			return -GW_ETOOBIG;
		consumed = 1 + n;
	}
	*type = (enum gw_type)m[0];
	*body = m + 1;
	*blen = n;
	*used = consumed;
	return 0;
}
