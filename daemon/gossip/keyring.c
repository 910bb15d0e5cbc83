/* The gossip keyring's file and Serf's keyring queries (contract: keyring.h). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gossip/keyring.h"
#include "util/fileio.h"

#define KEYRING_FILE_MAX (64 * 1024)

void keyring_key_base64(const struct gw_keyring *kr, size_t i, char out[64])
{
	gw_base64_encode(out, kr->keys[i], kr->lens[i]);
}

int keyring_load(struct gw_keyring *kr, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	if (!f) {
		int e = errno;
		if (e != ENOENT)
			snprintf(err, errlen, "Failed to read keyring file %s: %s", path, strerror(e));
		return -e;
	}
	char *buf = malloc(KEYRING_FILE_MAX + 1);
	size_t n = buf ? fread(buf, 1, KEYRING_FILE_MAX + 1, f) : 0;
	fclose(f);
	if (!buf)
		return -ENOMEM;
	int rc = -EINVAL;
	cJSON *j = NULL;
	if (n > KEYRING_FILE_MAX) {
		snprintf(err, errlen, "Keyring file %s is larger than %d bytes", path, KEYRING_FILE_MAX);
		goto out;
	}
	buf[n] = '\0';
	j = cJSON_Parse(buf);
	if (!cJSON_IsArray(j) || cJSON_GetArraySize(j) == 0) {
		snprintf(err, errlen, "Keyring file %s: not a JSON array of base64 keys", path);
		goto out;
	}
	struct gw_keyring k = { .n = 0 };
	const cJSON *e;
	int i = 0;
	cJSON_ArrayForEach(e, j) {
		if (!cJSON_IsString(e) || gw_keyring_add_base64(&k, e->valuestring)) {
			snprintf(err, errlen,
			         "Keyring file %s: key %d is not a base64 key of 16, 24 or 32 bytes "
			         "(or there are more than %d keys)",
			         path, i + 1, GW_MAX_KEYS);
			goto out;
		}
		i++;
	}
	*kr = k;
	rc = 0;
out:
	cJSON_Delete(j);
	free(buf);
	return rc;
}

int keyring_save(const struct gw_keyring *kr, const char *path, char *err, size_t errlen)
{
	/* serf writes the keys as an indented JSON array, the primary first */
	char text[GW_MAX_KEYS * 72 + 8];
	size_t o = (size_t)snprintf(text, sizeof(text), "[");
	for (size_t i = 0; i < kr->n; i++) {
		char b64[64];
		keyring_key_base64(kr, i, b64);
		o += (size_t)snprintf(text + o, sizeof(text) - o, "%s\n  \"%s\"", i ? "," : "", b64);
	}
	o += (size_t)snprintf(text + o, sizeof(text) - o, "\n]");
	return cc_write_file_atomic(path, text, o, err, errlen);
}

int keyring_init(struct gw_keyring *kr, const char *path, const char *encrypt,
                 bool *ignored_encrypt, char *err, size_t errlen)
{
	bool have_encrypt = encrypt && encrypt[0];
	memset(kr, 0, sizeof(*kr));
	*ignored_encrypt = false;
	if (path) {
		int rc = keyring_load(kr, path, err, errlen);
		if (rc == 0) {
			*ignored_encrypt = have_encrypt;
			return 0;
		}
		if (rc != -ENOENT)
			return rc;
	}
	if (!have_encrypt)
		return 0;
	if (gw_keyring_add_base64(kr, encrypt)) {
		snprintf(err, errlen, "encrypt: invalid gossip key");
		return -EINVAL;
	}
	return path ? keyring_save(kr, path, err, errlen) : 0;
}

static ssize_t find_key(const struct gw_keyring *kr, const uint8_t *key, size_t klen)
{
	for (size_t i = 0; i < kr->n; i++)
		if (kr->lens[i] == klen && memcmp(kr->keys[i], key, klen) == 0)
			return (ssize_t)i;
	return -1;
}

/* memberlist's AddKey, UseKey and RemoveKey: NULL, or why not */
static const char *modify(struct gw_keyring *kr, const char *op, const uint8_t *key, size_t klen,
                          bool *changed)
{
	ssize_t at = find_key(kr, key, klen);
	if (strcmp(op, "install-key") == 0) {
		if (at >= 0)
			return NULL;
		if (kr->n == GW_MAX_KEYS)
			return "The keyring is full";
		memcpy(kr->keys[kr->n], key, klen);
		kr->lens[kr->n++] = (uint8_t)klen;
	} else if (strcmp(op, "use-key") == 0) {
		if (at < 0)
			return "Requested key is not in the keyring";
		if (at == 0)
			return NULL;
		uint8_t k[32], l = kr->lens[at];
		memcpy(k, kr->keys[at], l);
		memmove(kr->keys[1], kr->keys[0], (size_t)at * sizeof(kr->keys[0]));
		memmove(kr->lens + 1, kr->lens, (size_t)at);
		memcpy(kr->keys[0], k, l);
		kr->lens[0] = l;
	} else {
		if (at == 0)
			return "Removing the primary key is not allowed";
		if (at < 0)
			return NULL;
		memmove(kr->keys[at], kr->keys[at + 1], (kr->n - (size_t)at - 1) * sizeof(kr->keys[0]));
		memmove(kr->lens + at, kr->lens + at + 1, kr->n - (size_t)at - 1);
		kr->n--;
	}
	*changed = true;
	return NULL;
}

int keyring_query(struct gw_keyring *kr, const char *name, const uint8_t *payload, size_t len,
                  uint8_t *resp, size_t cap, bool *changed)
{
	static const char *const ops[] = { "list-keys", "install-key", "use-key", "remove-key" };
	const char *op = NULL;
	*changed = false;
	if (strncmp(name, "_serf_", 6) == 0)
		for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
			if (strcmp(name + 6, ops[i]) == 0)
				op = ops[i];
	if (!op)
		return -ENOENT;
	struct gw_serf_key_response r;
	memset(&r, 0, sizeof(r));
	const char *why = NULL;
	uint8_t key[32];
	size_t klen;
	if (strcmp(op, "list-keys") == 0) {
		if (kr->n == 0) {
			why = "Keyring is empty (encryption not enabled)";
		} else {
			for (size_t i = 0; i < kr->n; i++)
				keyring_key_base64(kr, i, r.keys[r.nkeys++]);
			keyring_key_base64(kr, 0, r.primary);
		}
	} else if (kr->n == 0) {
		why = "No keyring to modify (encryption not enabled)";
	} else if (len < 1 || payload[0] != GW_SERF_KEY_REQUEST ||
	           gw_decode_serf_key_request(payload + 1, len - 1, key, &klen)) {
		why = "Failed to decode key request";
	} else {
		why = modify(kr, op, key, klen, changed);
	}
	r.result = why == NULL;
	if (why)
		snprintf(r.message, sizeof(r.message), "%s", why);
	return gw_encode_serf_key_response(&r, resp, cap);
}
