/* Checksums and encryption: CRC32-IEEE for hasCrc (spec §2.3), AES-GCM as
 * memberlist's security.go uses it (spec §2.6), keys in base64. */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/evp.h>
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

/* ---- AES-GCM ---- */

static const EVP_CIPHER *aes_gcm(size_t klen)
{
	switch (klen) {
	case 16:
		return EVP_aes_128_gcm();
	case 24:
		return EVP_aes_192_gcm();
	case 32:
		return EVP_aes_256_gcm();
	default:
		return NULL;
	}
}

int gw_gcm_seal(const uint8_t *key, size_t klen, const uint8_t *nonce, const uint8_t *aad,
                size_t alen, const uint8_t *pt, size_t n, uint8_t *ct)
{
	const EVP_CIPHER *cipher = aes_gcm(klen);
	int outl, ok = 0;
	if (!cipher || n > INT_MAX - TAG_LEN || alen > INT_MAX)
		return -EINVAL;
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	if (!ctx)
		return -ENOMEM;
	if (EVP_EncryptInit_ex(ctx, cipher, NULL, NULL, NULL) == 1 &&
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) == 1 &&
	    EVP_EncryptInit_ex(ctx, NULL, NULL, key, nonce) == 1 &&
	    (alen == 0 || EVP_EncryptUpdate(ctx, NULL, &outl, aad, (int)alen) == 1) &&
	    EVP_EncryptUpdate(ctx, ct, &outl, pt, (int)n) == 1 && (size_t)outl == n &&
	    EVP_EncryptFinal_ex(ctx, ct + n, &outl) == 1 &&
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, ct + n) == 1)
		ok = 1;
	EVP_CIPHER_CTX_free(ctx);
	return ok ? 0 : -EIO;
}

/* Opens n bytes of ciphertext followed by the tag; 0 when authentic. */
static int gcm_open(const uint8_t *key, size_t klen, const uint8_t *nonce, const uint8_t *aad,
                    size_t alen, const uint8_t *ct, size_t n, uint8_t *pt)
{
	const EVP_CIPHER *cipher = aes_gcm(klen);
	uint8_t tag[TAG_LEN];
	int outl, ok = 0;
	if (!cipher || n > INT_MAX || alen > INT_MAX)
		return -GW_EDECRYPT;
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	if (!ctx)
		return -ENOMEM;
	memcpy(tag, ct + n, TAG_LEN);
	if (EVP_DecryptInit_ex(ctx, cipher, NULL, NULL, NULL) == 1 &&
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) == 1 &&
	    EVP_DecryptInit_ex(ctx, NULL, NULL, key, nonce) == 1 &&
	    (alen == 0 || EVP_DecryptUpdate(ctx, NULL, &outl, aad, (int)alen) == 1) &&
	    (n == 0 || EVP_DecryptUpdate(ctx, pt, &outl, ct, (int)n) == 1) &&
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag) == 1 &&
	    EVP_DecryptFinal_ex(ctx, pt + n, &outl) == 1)
		ok = 1;
	EVP_CIPHER_CTX_free(ctx);
	return ok ? 0 : -GW_EDECRYPT;
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
