/* LZW as Go's compress/lzw does it with order LSB and 8-bit literals (the GIF
 * flavour memberlist uses for compress messages, spec §2.5): clear 256, EOF
 * 257, codes 9 to 12 bits wide packed least-significant bit first.
 *
 * The encoder follows the Go writer that the spec's vectors come from: no
 * leading clear code, a clear when the next code would reach 4095, the
 * pending code then EOF at Close. (Go >= 1.17, e.g. the serf 0.9.4 in the
 * capture, starts with a clear code; any Go reader accepts both.) The decoder
 * accepts clear codes anywhere, including first. */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "gossip/wire_internal.h"

#define LIT_WIDTH 8
#define CLEAR 256u
#define EOF_CODE 257u
#define MAX_WIDTH 12
#define MAX_CODE 4095u            /* (1 << MAX_WIDTH) - 1 */
#define TABLE_SIZE 8192u          /* > 2 * the 3837 entries a generation holds */
#define TABLE_MASK (TABLE_SIZE - 1)
#define NO_CODE 0xffffu

/* ---- encoder ---- */

struct lzw_enc {
	uint8_t *out;
	size_t cap, len;
	uint32_t bits;
	unsigned nbits, width;
	uint32_t hi, overflow;
	int err;
	uint32_t table[TABLE_SIZE];  /* key << 12 | code, key = prefix << 8 | literal; 0 = empty */
};

static void emit(struct lzw_enc *e, uint32_t code)
{
	e->bits |= code << e->nbits;
	e->nbits += e->width;
	while (e->nbits >= 8) {
		if (e->len == e->cap) {
			e->err = -GW_ETOOBIG;
			e->nbits = 0;
			return;
		}
		e->out[e->len++] = (uint8_t)e->bits;
		e->bits >>= 8;
		e->nbits -= 8;
	}
}

static void reset_codes(struct lzw_enc *e)
{
	e->width = LIT_WIDTH + 1;
	e->hi = EOF_CODE;
	e->overflow = 1u << e->width;
}

/* Advances the next implied code; at 4095 emits a clear and starts over.
 * Returns true when it did. */
static bool inc_hi(struct lzw_enc *e)
{
	e->hi++;
	if (e->hi == e->overflow) {
		e->width++;
		e->overflow <<= 1;
	}
	if (e->hi == MAX_CODE) {
		emit(e, CLEAR);
		reset_codes(e);
		memset(e->table, 0, sizeof(e->table));
		return true;
	}
	return false;
}

int gw_lzw_encode(const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
	struct lzw_enc e;
	if ((!in && len) || (!out && cap))
		return -EINVAL;
	memset(&e, 0, sizeof(e));
	e.out = out;
	e.cap = cap > INT_MAX ? INT_MAX : cap;
	reset_codes(&e);

	if (len) {
		uint32_t code = in[0];
		for (size_t i = 1; i < len && !e.err; i++) {
			uint32_t lit = in[i];
			uint32_t key = code << 8 | lit;
			uint32_t h = (key >> 12 ^ key) & TABLE_MASK;
			bool found = false;
			while (e.table[h]) {
				if (e.table[h] >> 12 == key) {
					code = e.table[h] & MAX_CODE;
					found = true;
					break;
				}
				h = (h + 1) & TABLE_MASK;
			}
			if (found)
				continue;
			emit(&e, code);
			code = lit;
			if (inc_hi(&e))
				continue;
			e.table[h] = key << 12 | e.hi;
		}
		emit(&e, code);
		inc_hi(&e);
	}
	emit(&e, EOF_CODE);
	if (!e.err && e.nbits) {
		if (e.len == e.cap)
			return -GW_ETOOBIG;
		e.out[e.len++] = (uint8_t)e.bits;
	}
	return e.err ? e.err : (int)e.len;
}

/* ---- decoder ---- */

int gw_lzw_decode(const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
	uint16_t prefix[1u << MAX_WIDTH];
	uint8_t suffix[1u << MAX_WIDTH];
	uint8_t stack[(1u << MAX_WIDTH) + 1];
	unsigned width = LIT_WIDTH + 1, nbits = 0;
	uint32_t hi = EOF_CODE, overflow = 1u << width, last = NO_CODE, bits = 0;
	size_t pos = 0, o = 0;

	if ((!in && len) || (!out && cap))
		return -EINVAL;
	if (cap > INT_MAX)
		cap = INT_MAX;
	memset(prefix, 0, sizeof(prefix));
	memset(suffix, 0, sizeof(suffix));

	for (;;) {
		while (nbits < width) {
			if (pos == len)
				return -GW_EBADMSG; /* no EOF code: Go's "unexpected EOF" */
			bits |= (uint32_t)in[pos++] << nbits;
			nbits += 8;
		}
		uint32_t code = bits & ((1u << width) - 1);
		bits >>= width;
		nbits -= width;

		if (code < CLEAR) {
			if (o == cap)
				return -GW_ETOOBIG;
			out[o++] = (uint8_t)code;
			if (last != NO_CODE) {
				suffix[hi] = (uint8_t)code;
				prefix[hi] = (uint16_t)last;
			}
		} else if (code == CLEAR) {
			width = LIT_WIDTH + 1;
			hi = EOF_CODE;
			overflow = 1u << width;
			last = NO_CODE;
			continue;
		} else if (code == EOF_CODE) {
			return (int)o;
		} else if (code <= hi) {
			/* Expand into the end of stack, backwards. Entries always point
			 * to a smaller code, so the walk ends within 4096 steps. */
			size_t i = sizeof(stack);
			uint32_t c = code;
			if (code == hi) {
				/* KwKwK: last's expansion followed by its first byte */
				if (last == NO_CODE)
					return -GW_EBADMSG;
				c = last;
				while (c >= CLEAR)
					c = prefix[c];
				stack[--i] = (uint8_t)c;
				c = last;
			}
			while (c >= CLEAR) {
				if (i <= 1 || prefix[c] >= c)
					return -GW_EBADMSG;
				stack[--i] = suffix[c];
				c = prefix[c];
			}
			stack[--i] = (uint8_t)c;
			size_t n = sizeof(stack) - i;
			if (n > cap - o)
				return -GW_ETOOBIG;
			memcpy(out + o, stack + i, n);
			o += n;
			if (last != NO_CODE) {
				suffix[hi] = (uint8_t)c;
				prefix[hi] = (uint16_t)last;
			}
		} else {
			return -GW_EBADMSG;
		}
		last = code;
		hi++;
		if (hi >= overflow) {
			if (width == MAX_WIDTH) {
				last = NO_CODE;
				hi--;
			} else {
				width++;
				overflow <<= 1;
			}
		}
	}
}
