/* `harness check HISTORY.json [--timeout=S] [--json]`: is a recorded history linearizable? */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lincheck.h"

#define CHECK_DEFAULT_TIMEOUT_S 300.0

static int usage_error(const char *msg)
{
	if (msg)
		fprintf(stderr, "harness check: %s\n", msg);
	fprintf(stderr, "usage: harness check HISTORY.json [--timeout=S] [--json]\n");
	return 2;
}

static void print_json(const struct lin_result *r, size_t nops, const char *path)
{
	cJSON *o = cJSON_CreateObject();
	if (r->ok)
		cJSON_AddTrueToObject(o, "valid");
	else if (r->bad_keys)
		cJSON_AddFalseToObject(o, "valid");
	else
		cJSON_AddStringToObject(o, "valid", "unknown");
	cJSON_AddStringToObject(o, "history", path);
	cJSON_AddNumberToObject(o, "keys", (double)r->nkeys);
	cJSON_AddNumberToObject(o, "operations", (double)nops);
	cJSON_AddNumberToObject(o, "bad_keys", (double)r->bad_keys);
	cJSON_AddNumberToObject(o, "ms", r->ms);
	cJSON *keys = cJSON_AddArrayToObject(o, "results");
	for (size_t i = 0; i < r->nkeys; i++) {
		const struct lin_key_result *k = &r->keys[i];
		cJSON *e = cJSON_CreateObject();
		cJSON_AddStringToObject(e, "key", k->key);
		if (k->ok)
			cJSON_AddTrueToObject(e, "valid");
		else if (k->timed_out)
			cJSON_AddStringToObject(e, "valid", "unknown");
		else
			cJSON_AddFalseToObject(e, "valid");
		cJSON_AddNumberToObject(e, "operations", (double)k->nops);
		cJSON_AddNumberToObject(e, "ms", k->ms);
		if (k->why[0])
			cJSON_AddStringToObject(e, "why", k->why);
		cJSON_AddItemToArray(keys, e);
	}
	char *s = cJSON_Print(o);
	if (s)
		puts(s);
	free(s);
	cJSON_Delete(o);
}

static void print_text(const struct lin_result *r, size_t nops)
{
	for (size_t i = 0; i < r->nkeys; i++) {
		const struct lin_key_result *k = &r->keys[i];
		if (!k->ok && !k->timed_out)
			printf("key %s: NOT linearizable (%zu operations): %s\n", k->key, k->nops,
			       k->why);
	}
	for (size_t i = 0; i < r->nkeys; i++) {
		const struct lin_key_result *k = &r->keys[i];
		if (k->timed_out)
			printf("key %s: unknown (%zu operations): %s\n", k->key, k->nops, k->why);
	}
	double s = r->ms / 1000;
	if (r->ok) {
		printf("linearizable: %zu keys, %zu operations, checked in %.2f s\n", r->nkeys, nops,
		       s);
	} else if (r->bad_keys) {
		const char *first = "";
		for (size_t i = 0; i < r->nkeys && !first[0]; i++)
			if (!r->keys[i].ok && !r->keys[i].timed_out)
				first = r->keys[i].key;
		printf("NOT linearizable: key %s%s (%zu of %zu keys bad), %zu operations, checked "
		       "in %.2f s\n", first, r->bad_keys > 1 ? " and others" : "", r->bad_keys,
		       r->nkeys, nops, s);
	} else {
		size_t n = 0;
		for (size_t i = 0; i < r->nkeys; i++)
			n += r->keys[i].timed_out;
		printf("unknown: %zu of %zu keys not decided within the time limit, %zu operations, "
		       "%.2f s\n", n, r->nkeys, nops, s);
	}
}

int cmd_check(int argc, char **argv)
{
	const char *path = NULL;
	bool json = false;
	double timeout = CHECK_DEFAULT_TIMEOUT_S;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			json = true;
		} else if (strncmp(argv[i], "--timeout=", 10) == 0) {
			char *end;
			errno = 0;
			timeout = strtod(argv[i] + 10, &end);
			if (errno || end == argv[i] + 10 || *end || !(timeout >= 0) || timeout > 4e6)
				return usage_error("--timeout wants seconds (0 = no limit), e.g. "
				                   "--timeout=60");
		} else if (argv[i][0] == '-' && argv[i][1]) {
			char msg[256];
			snprintf(msg, sizeof(msg), "unknown option %s", argv[i]);
			return usage_error(msg);
		} else if (path) {
			return usage_error("one history file only");
		} else {
			path = argv[i];
		}
	}
	if (!path)
		return usage_error(NULL);
	struct history h;
	hist_init(&h);
	char err[512];
	if (hist_read_json(&h, path, err, sizeof(err))) {
		fprintf(stderr, "harness check: %s\n", err);
		hist_free(&h);
		return 2;
	}
	unsigned ms = (unsigned)(timeout * 1000);
	if (timeout > 0 && ms == 0)
		ms = 1;
	struct lin_result r;
	if (lin_check(&h, ms, &r, err, sizeof(err))) {
		fprintf(stderr, "harness check: %s: %s\n", path, err);
		hist_free(&h);
		return 3;
	}
	if (json)
		print_json(&r, h.n, path);
	else
		print_text(&r, h.n);
	int code = r.ok ? 0 : r.bad_keys ? 1 : 3;
	lin_result_free(&r);
	hist_free(&h);
	return code;
}
