/* The msgpack dialect of go-msgpack 0.5 (spec §1): a writer that emits exactly
 * Go's forms, a bounds-checked tolerant reader, and the table-driven struct
 * codec every message uses. */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "gossip/wire_internal.h"

/* ---- writer ---- */

void mpw_init(struct mp_w *w, uint8_t *buf, size_t cap)
{
	w->p = buf;
	w->cap = buf ? cap : 0;
	w->len = 0;
	w->err = 0;
}

void mpw_raw(struct mp_w *w, const void *p, size_t n)
{
	if (w->err)
		return;
	if (n > w->cap - w->len) {
		w->err = -GW_ETOOBIG;
		return;
	}
	if (n)
		memcpy(w->p + w->len, p, n);
	w->len += n;
}

static void put1(struct mp_w *w, uint8_t b)
{
	mpw_raw(w, &b, 1);
}

/* A one-byte marker followed by an n-byte big-endian number. */
static void put_hdr(struct mp_w *w, uint8_t b, uint64_t v, int n)
{
	uint8_t t[9];
	t[0] = b;
	for (int i = 0; i < n; i++)
		t[1 + i] = (uint8_t)(v >> (8 * (n - 1 - i)));
	mpw_raw(w, t, (size_t)n + 1);
}

void mpw_nil(struct mp_w *w)
{
	put1(w, 0xc0);
}

void mpw_bool(struct mp_w *w, bool v)
{
	put1(w, v ? 0xc3 : 0xc2);
}

void mpw_uint(struct mp_w *w, uint64_t v)
{
	if (v <= 0x7f)
		put1(w, (uint8_t)v);
	else if (v <= 0xff)
		put_hdr(w, 0xcc, v, 1);
	else if (v <= 0xffff)
		put_hdr(w, 0xcd, v, 2);
	else if (v <= 0xffffffffu)
		put_hdr(w, 0xce, v, 4);
	else
		put_hdr(w, 0xcf, v, 8);
}

void mpw_int(struct mp_w *w, int64_t v)
{
	if (v >= 0)
		mpw_uint(w, (uint64_t)v);
	else if (v >= -32)
		put1(w, (uint8_t)(int8_t)v);
	else if (v >= INT8_MIN)
		put_hdr(w, 0xd0, (uint64_t)v, 1);
	else if (v >= INT16_MIN)
		put_hdr(w, 0xd1, (uint64_t)v, 2);
	else if (v >= INT32_MIN)
		put_hdr(w, 0xd2, (uint64_t)v, 4);
	else
		put_hdr(w, 0xd3, (uint64_t)v, 8);
}

void mpw_str(struct mp_w *w, const void *s, size_t n)
{
	if (n < 32)
		put1(w, (uint8_t)(0xa0 | n));
	else if (n <= 0xffff)
		put_hdr(w, 0xda, n, 2);
	else if (n <= 0xffffffffu)
		put_hdr(w, 0xdb, n, 4);
	else
		w->err = w->err ? w->err : -GW_ETOOBIG;
	mpw_raw(w, s, n);
}

void mpw_cstr(struct mp_w *w, const char *s)
{
	mpw_str(w, s, strlen(s));
}

void mpw_map(struct mp_w *w, uint32_t n)
{
	if (n < 16)
		put1(w, (uint8_t)(0x80 | n));
	else if (n <= 0xffff)
		put_hdr(w, 0xde, n, 2);
	else
		put_hdr(w, 0xdf, n, 4);
}

void mpw_array(struct mp_w *w, uint32_t n)
{
	if (n < 16)
		put1(w, (uint8_t)(0x90 | n));
	else if (n <= 0xffff)
		put_hdr(w, 0xdc, n, 2);
	else
		put_hdr(w, 0xdd, n, 4);
}

int mpw_done(const struct mp_w *w)
{
	if (w->err)
		return w->err;
	if (w->len > INT_MAX)
		return -GW_ETOOBIG;
	return (int)w->len;
}

/* ---- reader ---- */

static size_t left(const struct mp_r *r)
{
	return r->len - r->off;
}

static int get1(struct mp_r *r, uint8_t *b)
{
	if (r->off >= r->len)
		return -GW_ETRUNC;
	*b = r->p[r->off++];
	return 0;
}

/* n-byte big-endian unsigned number. */
static int getn(struct mp_r *r, int n, uint64_t *v)
{
	if (left(r) < (size_t)n)
		return -GW_ETRUNC;
	uint64_t x = 0;
	for (int i = 0; i < n; i++)
		x = x << 8 | r->p[r->off + (size_t)i];
	r->off += (size_t)n;
	*v = x;
	return 0;
}

/* A container or string length beyond any stream we accept. */
static int check_len(uint64_t n)
{
	return n > GW_STREAM_MAX ? -GW_ETOOBIG : 0;
}

/* A map or array header: fix form (fix | n, n < 16), nil, or 16/32-bit. */
static int container(struct mp_r *r, uint8_t fix, uint8_t t16, uint8_t t32, uint32_t *n)
{
	uint8_t b;
	uint64_t v;
	int rc = get1(r, &b);
	if (rc)
		return rc;
	if ((b & 0xf0) == fix)
		v = b & 0x0f;
	else if (b == 0xc0)
		v = 0;
	else if (b == t16 || b == t32) {
		if ((rc = getn(r, b == t16 ? 2 : 4, &v)))
			return rc;
		if ((rc = check_len(v)))
			return rc;
	} else
		return -GW_EBADMSG;
	*n = (uint32_t)v;
	return 0;
}

int mpr_map(struct mp_r *r, uint32_t *n)
{
	return container(r, 0x80, 0xde, 0xdf, n);
}

int mpr_array(struct mp_r *r, uint32_t *n)
{
	return container(r, 0x90, 0xdc, 0xdd, n);
}

int mpr_str(struct mp_r *r, bool bin, const uint8_t **s, uint32_t *n)
{
	uint8_t b;
	uint64_t v = 0;
	int w, rc = get1(r, &b);
	if (rc)
		return rc;
	if ((b & 0xe0) == 0xa0) {
		v = b & 0x1f;
		w = 0;
	} else if (b == 0xc0) {
		*s = NULL;
		*n = 0;
		return 0;
	} else if (b == 0xd9 || (bin && b == 0xc4))
		w = 1;
	else if (b == 0xda || (bin && b == 0xc5))
		w = 2;
	else if (b == 0xdb || (bin && b == 0xc6))
		w = 4;
	else
		return -GW_EBADMSG;
	if (w && (rc = getn(r, w, &v)))
		return rc;
	if ((rc = check_len(v)))
		return rc;
	if (left(r) < v)
		return -GW_ETRUNC;
	*s = r->p + r->off;
	*n = (uint32_t)v;
	r->off += v;
	return 0;
}

/* Any integer form: *neg set for a negative value (then *v holds it as int64). */
static int read_int(struct mp_r *r, uint64_t *v, bool *neg)
{
	uint8_t b;
	int rc = get1(r, &b);
	if (rc)
		return rc;
	*neg = false;
	if (b <= 0x7f) {
		*v = b;
		return 0;
	}
	if (b >= 0xe0) {
		*v = (uint64_t)(int64_t)(int8_t)b;
		*neg = true;
		return 0;
	}
	if (b == 0xc0) {
		*v = 0;
		return 0;
	}
	if (b >= 0xcc && b <= 0xcf)
		return getn(r, 1 << (b - 0xcc), v);
	if (b >= 0xd0 && b <= 0xd3) {
		int n = 1 << (b - 0xd0);
		uint64_t x;
		if ((rc = getn(r, n, &x)))
			return rc;
		/* sign-extend from n bytes */
		if (n < 8 && (x >> (8 * n - 1)) & 1)
			x |= ~(uint64_t)0 << (8 * n);
		*v = x;
		*neg = (int64_t)x < 0;
		return 0;
	}
	return -GW_EBADMSG;
}

int mpr_uint(struct mp_r *r, uint64_t max, uint64_t *v)
{
	bool neg;
	uint64_t x;
	int rc = read_int(r, &x, &neg);
	if (rc)
		return rc;
	if (neg || x > max)
		return -GW_EBADMSG;
	*v = x;
	return 0;
}

int mpr_int(struct mp_r *r, int64_t *v)
{
	bool neg;
	uint64_t x;
	int rc = read_int(r, &x, &neg);
	if (rc)
		return rc;
	if (!neg && x > INT64_MAX)
		return -GW_EBADMSG;
	*v = (int64_t)x;
	return 0;
}

int mpr_bool(struct mp_r *r, bool *v)
{
	uint8_t b;
	int rc = get1(r, &b);
	if (rc)
		return rc;
	switch (b) {
	case 0xc2:
	case 0xc0:
	case 0x00:
		*v = false;
		return 0;
	case 0xc3:
	case 0x01:
		*v = true;
		return 0;
	default:
		return -GW_EBADMSG;
	}
}

int mpr_skip(struct mp_r *r)
{
	uint64_t pending = 1;
	while (pending) {
		/* every object takes at least one byte */
		if (pending > left(r))
			return -GW_ETRUNC;
		uint8_t b = r->p[r->off++];
		uint64_t skip = 0, add = 0, v;
		int rc, w = 0;
		pending--;
		if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
			continue;
		switch (b & 0xf0) {
		case 0x80:
			pending += 2u * (b & 0x0f);
			continue;
		case 0x90:
			pending += b & 0x0f;
			continue;
		case 0xa0:
		case 0xb0:
			skip = b & 0x1f;
			break;
		default:
			switch (b) {
			case 0xc4: case 0xd9: w = 1; break;
			case 0xc5: case 0xda: w = 2; break;
			case 0xc6: case 0xdb: w = 4; break;
			case 0xc7: w = 1; skip = 1; break;
			case 0xc8: w = 2; skip = 1; break;
			case 0xc9: w = 4; skip = 1; break;
			case 0xca: skip = 4; break;
			case 0xcb: skip = 8; break;
			case 0xcc: case 0xd0: skip = 1; break;
			case 0xcd: case 0xd1: skip = 2; break;
			case 0xce: case 0xd2: skip = 4; break;
			case 0xcf: case 0xd3: skip = 8; break;
			case 0xd4: skip = 2; break;
			case 0xd5: skip = 3; break;
			case 0xd6: skip = 5; break;
			case 0xd7: skip = 9; break;
			case 0xd8: skip = 17; break;
			case 0xdc: case 0xde:
				if ((rc = getn(r, 2, &v)))
					return rc;
				add = b == 0xde ? 2 * v : v;
				break;
			case 0xdd: case 0xdf:
				if ((rc = getn(r, 4, &v)))
					return rc;
				if ((rc = check_len(v)))
					return rc;
				add = b == 0xdf ? 2 * v : v;
				break;
			default: /* 0xc1, never used */
				return -GW_EBADMSG;
			}
		}
		if (w) {
			if ((rc = getn(r, w, &v)))
				return rc;
			if ((rc = check_len(v)))
				return rc;
			skip += v;
		}
		if (skip > left(r))
			return -GW_ETRUNC;
		r->off += skip;
		pending += add;
	}
	return 0;
}

int mpr_cstr(struct mp_r *r, char *dst, size_t cap, int too_long)
{
	const uint8_t *s;
	uint32_t n;
	int rc = mpr_str(r, false, &s, &n);
	if (rc)
		return rc;
	if (n >= cap)
		return too_long;
	if (n && memchr(s, 0, n))
		return -GW_EBADMSG;
	if (n)
		memcpy(dst, s, n);
	dst[n] = '\0';
	return 0;
}

/* ---- struct codec ---- */

#define AT(obj, off, T) ((T *)(void *)((char *)(obj) + (off)))
#define CAT(obj, off, T) ((const T *)(const void *)((const char *)(obj) + (off)))

typedef const uint8_t *raw_ptr; /* the member type of a MK_RAW field */

static bool is_empty(const struct mp_field *f, const void *obj)
{
	switch (f->kind) {
	case MK_BOOL:
		return !*CAT(obj, f->off, bool);
	case MK_U8:
		return !*CAT(obj, f->off, uint8_t);
	case MK_U16:
		return !*CAT(obj, f->off, uint16_t);
	case MK_U32:
		return !*CAT(obj, f->off, uint32_t);
	case MK_U64:
		return !*CAT(obj, f->off, uint64_t);
	case MK_I64:
		return !*CAT(obj, f->off, int64_t);
	case MK_INT:
		return !*CAT(obj, f->off, int);
	case MK_NAME:
	case MK_STR:
		return !*CAT(obj, f->off, char);
	case MK_BYTES:
	case MK_RAW:
		return !*CAT(obj, f->aux, size_t);
	case MK_IP:
		return !CAT(obj, f->off, struct gw_ip)->len;
	default:
		return false;
	}
}

static int enc_field(struct mp_w *w, const struct mp_field *f, const void *obj)
{
	switch (f->kind) {
	case MK_BOOL:
		mpw_bool(w, *CAT(obj, f->off, bool));
		break;
	case MK_U8:
		mpw_uint(w, *CAT(obj, f->off, uint8_t));
		break;
	case MK_U16:
		mpw_uint(w, *CAT(obj, f->off, uint16_t));
		break;
	case MK_U32:
		mpw_uint(w, *CAT(obj, f->off, uint32_t));
		break;
	case MK_U64:
		mpw_uint(w, *CAT(obj, f->off, uint64_t));
		break;
	case MK_I64:
		mpw_int(w, *CAT(obj, f->off, int64_t));
		break;
	case MK_INT:
		mpw_int(w, *CAT(obj, f->off, int));
		break;
	case MK_NAME:
	case MK_STR: {
		const char *s = CAT(obj, f->off, char);
		size_t n = strnlen(s, f->cap);
		if (n == f->cap)
			return -EINVAL;
		mpw_str(w, s, n);
		break;
	}
	case MK_BYTES:
	case MK_RAW: {
		size_t n = *CAT(obj, f->aux, size_t);
		const uint8_t *p = f->kind == MK_RAW ? *CAT(obj, f->off, raw_ptr)
		                                     : CAT(obj, f->off, uint8_t);
		if (f->kind == MK_BYTES && n > f->cap)
			return -EINVAL;
		if (n && !p)
			return -EINVAL;
		if (n)
			mpw_str(w, p, n);
		else
			mpw_nil(w);
		break;
	}
	case MK_IP: {
		const struct gw_ip *ip = CAT(obj, f->off, struct gw_ip);
		if (ip->len == 0)
			mpw_nil(w);
		else if (ip->len == 4 || ip->len == 16)
			mpw_str(w, ip->b, ip->len);
		else
			return -EINVAL;
		break;
	}
	case MK_VSN:
		mpw_str(w, CAT(obj, f->off, uint8_t), 6);
		break;
	case MK_CUSTOM:
		if (!f->enc)
			return -EINVAL;
		f->enc(w, obj);
		break;
	default:
		return -EINVAL;
	}
	return 0;
}

int mp_encode_struct(struct mp_w *w, const struct mp_field *f, size_t n, const void *obj)
{
	uint32_t count = 0;
	for (size_t i = 0; i < n; i++)
		if (!(f[i].flags & MF_OMITEMPTY) || !is_empty(&f[i], obj))
			count++;
	mpw_map(w, count);
	for (size_t i = 0; i < n; i++) {
		if ((f[i].flags & MF_OMITEMPTY) && is_empty(&f[i], obj))
			continue;
		mpw_cstr(w, f[i].key);
		int rc = enc_field(w, &f[i], obj);
		if (rc)
			return rc;
	}
	return mpw_done(w);
}

static int dec_uint(struct mp_r *r, uint64_t max, uint64_t *v)
{
	return mpr_uint(r, max, v);
}

static int dec_field(struct mp_r *r, const struct mp_field *f, void *obj)
{
	const uint8_t *s;
	uint32_t n;
	uint64_t u;
	int64_t i;
	int rc;

	switch (f->kind) {
	case MK_BOOL:
		return mpr_bool(r, AT(obj, f->off, bool));
	case MK_U8:
		if (!(rc = dec_uint(r, UINT8_MAX, &u)))
			*AT(obj, f->off, uint8_t) = (uint8_t)u;
		return rc;
	case MK_U16:
		if (!(rc = dec_uint(r, UINT16_MAX, &u)))
			*AT(obj, f->off, uint16_t) = (uint16_t)u;
		return rc;
	case MK_U32:
		if (!(rc = dec_uint(r, UINT32_MAX, &u)))
			*AT(obj, f->off, uint32_t) = (uint32_t)u;
		return rc;
	case MK_U64:
		return dec_uint(r, UINT64_MAX, AT(obj, f->off, uint64_t));
	case MK_I64:
		return mpr_int(r, AT(obj, f->off, int64_t));
	case MK_INT:
		if ((rc = mpr_int(r, &i)))
			return rc;
		if (i < INT_MIN || i > INT_MAX)
			return -GW_EBADMSG;
		*AT(obj, f->off, int) = (int)i;
		return 0;
	case MK_NAME:
	case MK_STR:
		/* cleared first: a repeated key must not leave the longer value's tail */
		memset(AT(obj, f->off, char), 0, f->cap);
		return mpr_cstr(r, AT(obj, f->off, char), f->cap,
		                f->kind == MK_NAME ? -GW_EBADMSG : -GW_ETOOBIG);
	case MK_BYTES:
		if ((rc = mpr_str(r, true, &s, &n)))
			return rc;
		if (n > f->cap)
			return -GW_ETOOBIG;
		memset(AT(obj, f->off, uint8_t), 0, f->cap);
		if (n)
			memcpy(AT(obj, f->off, uint8_t), s, n);
		*AT(obj, f->aux, size_t) = n;
		return 0;
	case MK_RAW:
		if ((rc = mpr_str(r, true, &s, &n)))
			return rc;
		*AT(obj, f->off, const uint8_t *) = s;
		*AT(obj, f->aux, size_t) = n;
		return 0;
	case MK_IP: {
		struct gw_ip *ip = AT(obj, f->off, struct gw_ip);
		if ((rc = mpr_str(r, true, &s, &n)))
			return rc;
		if (n != 0 && n != 4 && n != 16)
			return -GW_EBADMSG;
		memset(ip, 0, sizeof(*ip));
		if (n)
			memcpy(ip->b, s, n);
		ip->len = (uint8_t)n;
		return 0;
	}
	case MK_VSN: {
		uint8_t *v = AT(obj, f->off, uint8_t);
		bool *has = AT(obj, f->aux, bool);
		if ((rc = mpr_str(r, true, &s, &n)))
			return rc;
		/* anything but 6 bytes is kept as "no Vsn": the caller decides */
		memset(v, 0, 6);
		*has = n == 6;
		if (n == 6)
			memcpy(v, s, 6);
		return 0;
	}
	case MK_CUSTOM:
		return f->dec(r, obj);
	default:
		return -EINVAL;
	}
}

int mp_decode_struct(struct mp_r *r, const struct mp_field *f, size_t n, void *obj)
{
	uint32_t count;
	int rc = mpr_map(r, &count);
	if (rc)
		return rc;
	for (uint32_t k = 0; k < count; k++) {
		const uint8_t *key;
		uint32_t klen;
		if ((rc = mpr_str(r, false, &key, &klen)))
			return rc;
		if (!key)
			return -GW_EBADMSG; /* nil is not a field name */
		const struct mp_field *hit = NULL;
		for (size_t i = 0; i < n && !hit; i++)
			if (strlen(f[i].key) == klen && memcmp(f[i].key, key, klen) == 0)
				hit = &f[i];
		rc = hit ? dec_field(r, hit, obj) : mpr_skip(r);
		if (rc)
			return rc;
	}
	for (size_t i = 0; i < n; i++)
		if ((f[i].flags & MF_REQUIRED) && is_empty(&f[i], obj))
			return -GW_EBADMSG;
	return 0;
}

int mp_encode_typed(uint8_t type, const struct mp_field *f, size_t n, const void *obj,
                    uint8_t *buf, size_t cap)
{
	struct mp_w w;
	if (!obj || !buf)
		return -EINVAL;
	if (cap < 1)
		return -GW_ETOOBIG;
	buf[0] = type;
	mpw_init(&w, buf + 1, cap - 1);
	int rc = mp_encode_struct(&w, f, n, obj);
	if (rc == INT_MAX)
		return -GW_ETOOBIG;
	return rc < 0 ? rc : rc + 1;
}

int mp_decode_body(const uint8_t *body, size_t len, const struct mp_field *f, size_t n,
                   void *obj, size_t size)
{
	struct mp_r r;
	if (!obj || (!body && len))
		return -EINVAL;
	memset(obj, 0, size);
	mpr_init(&r, body, len);
	int rc = mp_decode_struct(&r, f, n, obj);
	if (rc)
		memset(obj, 0, size);
	return rc;
}
