/*
 * gossip/wire internals: the msgpack reader/writer, the table-driven struct
 * codec shared by the memberlist and Serf messages, and the crypto helpers.
 * Not part of the module's contract (that is wire.h).
 */
#ifndef CC_GOSSIP_WIRE_INTERNAL_H
#define CC_GOSSIP_WIRE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gossip/wire.h"

/* Most entries accepted in one push/pull node list, Serf StatusLTimes or
 * LeftMembers (bounds what a peer can make us allocate: ~64k * 1 KiB). */
#define GW_LIST_MAX 65536
/* Compound/compress layers walked inside one UDP packet. */
#define GW_WALK_DEPTH 8

static inline uint32_t gw_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void gw_put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* ---- writer: go-msgpack 0.5 forms only (fixstr/str16/str32, smallest ints) ---- */

struct mp_w {
	uint8_t *p;
	size_t cap;
	size_t len;
	int err;             /* 0, or -GW_ETOOBIG once the buffer ran out */
};

void mpw_init(struct mp_w *w, uint8_t *buf, size_t cap);
void mpw_raw(struct mp_w *w, const void *p, size_t n);
void mpw_nil(struct mp_w *w);
void mpw_bool(struct mp_w *w, bool v);
void mpw_uint(struct mp_w *w, uint64_t v);
void mpw_int(struct mp_w *w, int64_t v);
void mpw_str(struct mp_w *w, const void *s, size_t n);   /* strings and []byte */
void mpw_cstr(struct mp_w *w, const char *s);
void mpw_map(struct mp_w *w, uint32_t n);
void mpw_array(struct mp_w *w, uint32_t n);
/* Returns w->len, or w->err. */
int mpw_done(const struct mp_w *w);

/* ---- reader: bounds-checked and tolerant (str8/bin, any int width, nil) ---- */

struct mp_r {
	const uint8_t *p;
	size_t len;
	size_t off;
};

static inline void mpr_init(struct mp_r *r, const uint8_t *p, size_t len)
{
	r->p = p;
	r->len = len;
	r->off = 0;
}

/* All return 0 or -GW_ETRUNC (input ends), -GW_EBADMSG (wrong type or out of
 * range), -GW_ETOOBIG (a declared length beyond GW_STREAM_MAX). nil reads as
 * the zero value / an empty container. */
int mpr_map(struct mp_r *r, uint32_t *n);
int mpr_array(struct mp_r *r, uint32_t *n);
/* str family; with bin also bin8/16/32. nil gives *s = NULL, *n = 0. */
int mpr_str(struct mp_r *r, bool bin, const uint8_t **s, uint32_t *n);
int mpr_uint(struct mp_r *r, uint64_t max, uint64_t *v);
int mpr_int(struct mp_r *r, int64_t *v);
int mpr_bool(struct mp_r *r, bool *v);
/* Skips one complete object of any type, iteratively (no recursion). */
int mpr_skip(struct mp_r *r);
/* Copies a str into a NUL-terminated buffer; embedded NUL is -GW_EBADMSG,
 * longer than cap - 1 is too_long. */
int mpr_cstr(struct mp_r *r, char *dst, size_t cap, int too_long);

/* ---- table-driven struct codec (go-msgpack struct-as-map) ---- */

enum mp_kind {
	MK_BOOL,
	MK_U8,
	MK_U16,
	MK_U32,
	MK_U64,
	MK_I64,
	MK_INT,       /* C int (Go int fields that we keep small) */
	MK_NAME,      /* char[cap]: too long is -GW_EBADMSG */
	MK_STR,       /* char[cap]: too long is -GW_ETOOBIG */
	MK_BYTES,     /* uint8_t[cap] + size_t at aux; nil when empty */
	MK_RAW,       /* const uint8_t * + size_t at aux, points into the input */
	MK_IP,        /* struct gw_ip; nil when absent */
	MK_VSN,       /* uint8_t[6] + bool at aux; always 6 bytes on encode */
	MK_CUSTOM,    /* dec/enc hooks */
};

#define MF_OMITEMPTY 1u
#define MF_REQUIRED 2u   /* decode: a MK_NAME that must not be empty */

struct mp_field {
	const char *key;
	uint8_t kind;
	uint8_t flags;
	uint16_t off;
	uint16_t cap;
	uint16_t aux;
	int (*dec)(struct mp_r *r, void *obj);
	void (*enc)(struct mp_w *w, const void *obj);
};

/* Table entries: F(key, kind, flags, struct, member); FA adds the member that
 * holds the length (MK_BYTES, MK_RAW) or the presence flag (MK_VSN); FC names
 * the hooks of a MK_CUSTOM field. */
#define MP_SZ(T, m) sizeof(((T *)0)->m)
#define F(k, kind, fl, T, m) \
	{ k, kind, fl, (uint16_t)offsetof(T, m), (uint16_t)MP_SZ(T, m), 0, NULL, NULL }
#define FA(k, kind, fl, T, m, a)                                                   \
	{ k, kind, fl, (uint16_t)offsetof(T, m), (uint16_t)MP_SZ(T, m), (uint16_t)offsetof(T, a), \
	  NULL, NULL }
#define FC(k, dec, enc) { k, MK_CUSTOM, 0, 0, 0, 0, dec, enc }
#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Fields must be listed sorted by key (the wire order). Encode returns the
 * number of bytes or a negative error (-EINVAL for an unterminated string or a
 * bad length in obj). Decode reads one map into obj, which the caller has
 * zeroed: any key order, unknown keys skipped, last duplicate wins. */
int mp_encode_struct(struct mp_w *w, const struct mp_field *f, size_t n, const void *obj);
int mp_decode_struct(struct mp_r *r, const struct mp_field *f, size_t n, void *obj);

/* [type][msgpack struct] into buf (memberlist messages and Serf payloads alike).
 * Returns the length or a negative error. */
int mp_encode_typed(uint8_t type, const struct mp_field *f, size_t n, const void *obj,
                    uint8_t *buf, size_t cap);
/* Decodes one msgpack struct from body into obj (size bytes), which is zeroed
 * first and again on failure. */
int mp_decode_body(const uint8_t *body, size_t len, const struct mp_field *f, size_t n,
                   void *obj, size_t size);

/* ---- crypto (wire_crypto.c) ---- */

int gw_random(uint8_t *p, size_t n);
/* AES-GCM with a 12-byte nonce; ct = pt (in place allowed) followed by the
 * 16-byte tag. Returns 0 or -EIO. */
int gw_gcm_seal(const uint8_t *key, size_t klen, const uint8_t *nonce, const uint8_t *aad,
                size_t alen, const uint8_t *pt, size_t n, uint8_t *ct);
/* Opens [vsn][nonce][ciphertext][tag] (versions 0 and 1) with any key of kr.
 * Writes the plaintext to out; returns its length or -GW_EDECRYPT/-GW_ETOOBIG. */
int gw_decrypt(const struct gw_keyring *kr, const uint8_t *in, size_t len, const uint8_t *aad,
               size_t alen, uint8_t *out, size_t cap);

/* ---- memberlist internals shared by the packet/stream code ---- */

/* Decodes a compress map (body after the 9) into a pointer to Buf.
 * *used = bytes of the map. */
int gw_compress_body(const uint8_t *body, size_t len, const uint8_t **buf, size_t *blen,
                     size_t *used);
/* Measures one stream message's body (after the type byte) without allocating. */
int gw_measure_body(enum gw_type type, const uint8_t *body, size_t len, size_t *used);

#endif
