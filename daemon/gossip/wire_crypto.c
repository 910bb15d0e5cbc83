/* Checksums and encryption: CRC32-IEEE for hasCrc (spec §2.3), AES-GCM as
 * memberlist's security.go uses it (spec §2.6, with nettle), keys in base64. */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <string.h>
#include <sys/random.h>

#include <nettle/base64.h>
#include <nettle/gcm.h>
#include <nettle/memops.h>
#include <zlib.h>

#include "gossip/wire_internal.h"

#define NONCE_LEN 12
#define TAG_LEN 16

/* CRC32 with the IEEE polynomial, as Go's crc32.ChecksumIEEE (zlib's). */
uint32_t gw_crc32(const uint8_t *p, size_t len)
{
	return (uint32_t)crc32_z(0, p, len);
}

/* ---- randomness ---- */

int gw_random(uint8_t *p, size_t n)
{
	while (n) {
		ssize_t got = getrandom(p, n, 0);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += got;
		n -= (size_t)got;
	}
	return 0;
}

/* ---- AES-GCM (nettle) ---- */

union aes_gcm {
	struct gcm_aes128_ctx a128;
	struct gcm_aes192_ctx a192;
	struct gcm_aes256_ctx a256;
};

/* Keys the context for klen (16, 24 or 32 bytes), sets the 12-byte nonce and
 * hashes the additional data. -EINVAL for another key length. */
static int gcm_start(union aes_gcm *c, const uint8_t *key, size_t klen, const uint8_t *nonce,
                     const uint8_t *aad, size_t alen)
{
	switch (klen) {
	case 16:
		gcm_aes128_set_key(&c->a128, key);
		gcm_aes128_set_iv(&c->a128, NONCE_LEN, nonce);
		gcm_aes128_update(&c->a128, alen, aad);
		return 0;
	case 24:
		gcm_aes192_set_key(&c->a192, key);
		gcm_aes192_set_iv(&c->a192, NONCE_LEN, nonce);
		gcm_aes192_update(&c->a192, alen, aad);
		return 0;
	case 32:
		gcm_aes256_set_key(&c->a256, key);
		gcm_aes256_set_iv(&c->a256, NONCE_LEN, nonce);
		gcm_aes256_update(&c->a256, alen, aad);
		return 0;
	default:
		return -EINVAL;
	}
}

/* Encrypts (or decrypts) n bytes, then writes the tag. */
static void gcm_finish(union aes_gcm *c, size_t klen, bool encrypt, const uint8_t *in, size_t n,
                       uint8_t *out, uint8_t tag[TAG_LEN])
{
	switch (klen) {
	case 16:
		(encrypt ? gcm_aes128_encrypt : gcm_aes128_decrypt)(&c->a128, n, out, in);
		gcm_aes128_digest(&c->a128, TAG_LEN, tag);
		break;
	case 24:
		(encrypt ? gcm_aes192_encrypt : gcm_aes192_decrypt)(&c->a192, n, out, in);
		gcm_aes192_digest(&c->a192, TAG_LEN, tag);
		break;
	default:
		(encrypt ? gcm_aes256_encrypt : gcm_aes256_decrypt)(&c->a256, n, out, in);
		gcm_aes256_digest(&c->a256, TAG_LEN, tag);
		break;
	}
}

int gw_gcm_seal(const uint8_t *key, size_t klen, const uint8_t *nonce, const uint8_t *aad,
                size_t alen, const uint8_t *pt, size_t n, uint8_t *ct)
{
	union aes_gcm c;
	if (gcm_start(&c, key, klen, nonce, aad, alen))
		return -EINVAL;
	gcm_finish(&c, klen, true, pt, n, ct, ct + n);
	return 0;
}

/* Opens n bytes of ciphertext followed by the tag; 0 when authentic. */
static int gcm_open(const uint8_t *key, size_t klen, const uint8_t *nonce, const uint8_t *aad,
                    size_t alen, const uint8_t *ct, size_t n, uint8_t *pt)
{
	union aes_gcm c;
	uint8_t tag[TAG_LEN];
	if (gcm_start(&c, key, klen, nonce, aad, alen))
		return -GW_EDECRYPT;
	gcm_finish(&c, klen, false, ct, n, pt, tag);
	return memeql_sec(tag, ct + n, TAG_LEN) ? 0 : -GW_EDECRYPT;
}

int gw_decrypt(const struct gw_keyring *kr, const uint8_t *in, size_t len, const uint8_t *aad,
               size_t alen, uint8_t *out, size_t cap)
{
	if (!kr || kr->n == 0 || len == 0 || in[0] > 1)
		return -GW_EDECRYPT;
	/* version 0 pads the plaintext to whole AES blocks (PKCS#7, 1..16 bytes) */
	size_t min = 1 + NONCE_LEN + TAG_LEN + (in[0] == 0 ? 16 : 0);
	if (len < min)
		return -GW_EDECRYPT;
	size_t n = len - 1 - NONCE_LEN - TAG_LEN;
	if (n > cap || n > INT_MAX)
		return -GW_ETOOBIG;
	for (size_t k = 0; k < kr->n && k < GW_MAX_KEYS; k++) {
		if (gcm_open(kr->keys[k], kr->lens[k], in + 1, aad, alen, in + 1 + NONCE_LEN, n,
		             out))
			continue;
		if (in[0] == 1)
			return (int)n;
		uint8_t pad = out[n - 1];
		if (pad == 0 || pad > 16 || pad > n)
			return -GW_EDECRYPT;
		return (int)(n - pad);
	}
	return -GW_EDECRYPT;
}

/* ---- keys ---- */

static int b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Standard alphabet; padding optional; surrounding whitespace ignored. */
static int b64_decode(const char *s, uint8_t *out, size_t cap, size_t *outlen)
{
	size_t n = strlen(s), o = 0, pad = 0;
	uint32_t acc = 0;
	int nacc = 0;
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == '\t'))
		n--;
	while (n && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	while (n && s[n - 1] == '=' && pad < 2) {
		n--;
		pad++;
	}
	for (size_t i = 0; i < n; i++) {
		int v = b64_value(s[i]);
		if (v < 0)
			return -EINVAL;
		acc = acc << 6 | (uint32_t)v;
		if (++nacc == 4) {
			if (cap - o < 3)
				return -EINVAL;
			out[o++] = (uint8_t)(acc >> 16);
			out[o++] = (uint8_t)(acc >> 8);
			out[o++] = (uint8_t)acc;
			acc = 0;
			nacc = 0;
		}
	}
	/* 2 or 3 trailing characters (with 2 or 1 '=' if padded); never 1 */
	if (nacc == 1 || (pad && pad != (size_t)(4 - nacc)))
		return -EINVAL;
	if (nacc && cap - o < (size_t)(nacc - 1))
		return -EINVAL;
	if (nacc == 2) {
		out[o++] = (uint8_t)(acc >> 4);
	} else if (nacc == 3) {
		out[o++] = (uint8_t)(acc >> 10);
		out[o++] = (uint8_t)(acc >> 2);
	}
	*outlen = o;
	return 0;
}

void gw_base64_encode(char *out, const uint8_t *in, size_t n)
{
	base64_encode_raw(out, n, in);
	out[BASE64_ENCODE_RAW_LENGTH(n)] = '\0';
}

int gw_keyring_add_base64(struct gw_keyring *kr, const char *b64)
{
	uint8_t key[48];
	size_t n;
	if (!kr || !b64 || b64_decode(b64, key, sizeof(key), &n))
		return -EINVAL;
	if (n != 16 && n != 24 && n != 32)
		return -EINVAL;
	if (kr->n > GW_MAX_KEYS)
		return -EINVAL;
	for (size_t i = 0; i < kr->n; i++)
		if (kr->lens[i] == n && memcmp(kr->keys[i], key, n) == 0)
			return 0; /* already there, as memberlist's AddKey */
	if (kr->n == GW_MAX_KEYS)
		return -EINVAL;
	memcpy(kr->keys[kr->n], key, n);
	kr->lens[kr->n] = (uint8_t)n;
	kr->n++;
	return 0;
}
