/* `conclave kv get|put|delete`: the KV store through the agent's /v1/kv/
 * endpoint, with `consul kv`'s flags, output, messages and exit codes
 * (reference §8.2, §5.5). Values are bytes: NULs and non-UTF-8 survive. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"

#define HTTP_OPTIONS \
	"HTTP API Options\n" \
	"\n" \
	"  -http-addr=<address>\n" \
	"     The address and port of the Conclave HTTP agent. Can also be\n" \
	"     specified via CONCLAVE_HTTP_ADDR or CONSUL_HTTP_ADDR. The default is\n" \
	"     127.0.0.1:8500.\n" \
	"\n"

static const char kv_usage[] =
	"Usage: conclave kv <subcommand> [options] [args]\n"
	"\n"
	"  This command has subcommands for interacting with the key-value store.\n"
	"\n"
	"  Create or update the key named \"redis/config/connections\" with the value \"5\":\n"
	"\n"
	"      $ conclave kv put redis/config/connections 5\n"
	"\n"
	"  Read this value back:\n"
	"\n"
	"      $ conclave kv get redis/config/connections\n"
	"\n"
	"  Or get detailed key information:\n"
	"\n"
	"      $ conclave kv get -detailed redis/config/connections\n"
	"\n"
	"  Finally, delete the key:\n"
	"\n"
	"      $ conclave kv delete redis/config/connections\n"
	"\n"
	"Subcommands:\n"
	"    delete    Removes data from the KV store\n"
	"    export    Exports a tree from the KV store as JSON\n"
	"    get       Retrieves or lists data from the KV store\n"
	"    import    Imports a tree stored as JSON to the KV store\n"
	"    put       Sets or updates data in the KV store\n";

static const char get_usage[] =
	"Usage: conclave kv get [options] [KEY_OR_PREFIX]\n"
	"\n"
	"  Retrieves the value at the given key. If no key exists with that name, an\n"
	"  error is returned. If a key exists with that name but has no data, nothing\n"
	"  is returned. -recurse lists every key-value pair under a prefix, -keys only\n"
	"  the key names.\n"
	"\n" HTTP_OPTIONS
	"  -stale\n"
	"     Permit any server (non-leader) to respond to this request.\n"
	"\n"
	"  -consistent\n"
	"     Have the leader confirm its leadership with a quorum before answering.\n"
	"\n"
	"Command Options\n"
	"\n"
	"  -base64\n"
	"     Base64 encode the value. The default value is false.\n"
	"\n"
	"  -detailed\n"
	"     Provide additional metadata about the key in addition to the value such\n"
	"     as the ModifyIndex and any flags that may have been set on the key.\n"
	"\n"
	"  -keys\n"
	"     List keys which start with the given prefix, but not their values.\n"
	"\n"
	"  -recurse\n"
	"     Recursively look at all keys prefixed with the given path.\n"
	"\n"
	"  -separator=<string>\n"
	"     String to use as a separator between keys. The default value is \"/\",\n"
	"     but this option is only taken into account when paired with -keys.\n";

static const char put_usage[] =
	"Usage: conclave kv put [options] KEY [DATA]\n"
	"\n"
	"  Writes the data to the given path in the key-value store. DATA \"-\" reads\n"
	"  the value from stdin, \"@file\" from a file; without DATA the value is empty.\n"
	"\n"
	"      $ conclave kv put config/redis/maxconns 5\n"
	"      $ echo \"abcd1234\" | conclave kv put config/program/license -\n"
	"      $ conclave kv put -cas -modify-index=844 config/redis/maxconns 5\n"
	"\n" HTTP_OPTIONS
	"Command Options\n"
	"\n"
	"  -base64\n"
	"     Treat the data as base 64 encoded. The default value is false.\n"
	"\n"
	"  -cas\n"
	"     Perform a Check-And-Set operation. Specifying this value also requires\n"
	"     the -modify-index flag to be set. The default value is false.\n"
	"\n"
	"  -flags=<uint>\n"
	"     Unsigned integer value to assign to this key-value pair. The default\n"
	"     value is 0 (no flags).\n"
	"\n"
	"  -modify-index=<uint>\n"
	"     Unsigned integer representing the ModifyIndex of the key. This is used\n"
	"     in combination with the -cas flag.\n";

static const char delete_usage[] =
	"Usage: conclave kv delete [options] KEY_OR_PREFIX\n"
	"\n"
	"  Removes the value at the given path. If no key exists at the path, no\n"
	"  action is taken. -recurse deletes every key which starts with the path.\n"
	"\n" HTTP_OPTIONS
	"Command Options\n"
	"\n"
	"  -cas\n"
	"     Perform a Check-And-Set operation. Specifying this value also requires\n"
	"     the -modify-index flag to be set. The default value is false.\n"
	"\n"
	"  -modify-index=<uint>\n"
	"     Unsigned integer representing the ModifyIndex of the key. This is used\n"
	"     in combination with the -cas flag.\n"
	"\n"
	"  -recurse\n"
	"     Recursively delete all keys with the path. The default value is false.\n";

/* Standard base64 with padding (contract in cli.h). */
long cc_cli_b64_decode(const char *in, unsigned char *out, size_t *bad)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t n = strlen(in), o = 0;
	if (n % 4) {
		*bad = n - n % 4;
		return -1;
	}
	for (size_t i = 0; i < n; i += 4) {
		unsigned v = 0;
		int pad = 0;
		for (int k = 0; k < 4; k++) {
			const char *p = in[i + k] ? strchr(a, in[i + k]) : NULL;
			if (in[i + k] == '=' && i + 4 == n && k >= 2 && (k == 3 || in[i + 3] == '=')) {
				pad++;
				v <<= 6;
				continue;
			}
			if (!p || pad) {
				*bad = i + (size_t)k;
				return -1;
			}
			v = v << 6 | (unsigned)(p - a);
		}
		out[o++] = (unsigned char)(v >> 16);
		if (pad < 2)
			out[o++] = (unsigned char)(v >> 8);
		if (pad < 1)
			out[o++] = (unsigned char)v;
	}
	return (long)o;
}

/* One entry of a /v1/kv answer, its Value decoded (or kept base64). */
struct pair {
	const char *key, *b64;
	unsigned char *val;
	size_t len;
	double create, modify, lock, flags;
};

static int pair_of(const cJSON *o, struct pair *p)
{
	const cJSON *k = cJSON_GetObjectItem(o, "Key"), *v = cJSON_GetObjectItem(o, "Value");
	memset(p, 0, sizeof(*p));
	if (!cJSON_IsString(k))
		return -1;
	p->key = k->valuestring;
	p->b64 = cJSON_IsString(v) ? v->valuestring : "";
	p->val = malloc(strlen(p->b64) / 4 * 3 + 1);
	size_t bad;
	long n = p->val ? cc_cli_b64_decode(p->b64, p->val, &bad) : -1;
	if (n < 0) {
		free(p->val);
		p->val = NULL;
		return -1;
	}
	p->len = (size_t)n;
	p->create = cJSON_GetNumberValue(cJSON_GetObjectItem(o, "CreateIndex"));
	p->modify = cJSON_GetNumberValue(cJSON_GetObjectItem(o, "ModifyIndex"));
	p->lock = cJSON_GetNumberValue(cJSON_GetObjectItem(o, "LockIndex"));
	p->flags = cJSON_GetNumberValue(cJSON_GetObjectItem(o, "Flags"));
	return 0;
}

static void print_value(const struct pair *p, bool b64)
{
	if (b64)
		fputs(p->b64, stdout);
	else
		fwrite(p->val, 1, p->len, stdout);
}

static double num(double d)
{
	return d == d ? d : 0; /* cJSON_GetNumberValue gives NaN for a missing field */
}

/* Consul's prettyKVPair: a tabwriter with padding 6, so the values start
 * six spaces after the longest field name ("CreateIndex", "ModifyIndex"). */
static void print_detailed(const struct pair *p, bool b64)
{
	printf("%-17s%.0f\n", "CreateIndex", num(p->create));
	printf("%-17s%.0f\n", "Flags", num(p->flags));
	printf("%-17s%s\n", "Key", p->key);
	printf("%-17s%.0f\n", "LockIndex", num(p->lock));
	printf("%-17s%.0f\n", "ModifyIndex", num(p->modify));
	printf("%-17s%s\n", "Session", "-");
	printf("%-17s", "Value");
	print_value(p, b64);
	putchar('\n');
}

/* "/v1/kv/" + the escaped key + query (+ "&separator=" + the escaped sep);
 * the caller frees it. NULL when out of memory. */
static char *kv_path(const char *key, const char *query, const char *sep)
{
	char *ek = cc_cli_escape(key, true), *es = sep ? cc_cli_escape(sep, false) : NULL;
	size_t n = (ek ? strlen(ek) : 0) + strlen(query) + (es ? strlen(es) : 0) + 32;
	char *p = ek && (es || !sep) ? malloc(n) : NULL;
	if (p)
		snprintf(p, n, "/v1/kv/%s%s%s%s", ek, query, es ? "&separator=" : "", es ? es : "");
	free(ek);
	free(es);
	return p;
}

static const char *strip_slash(const char *key)
{
	/* as Consul: keys cannot start with "/", users often type one */
	return key[0] == '/' ? key + 1 : key;
}

static int kv_get(int argc, char **argv)
{
	bool recurse = false, keys = false, detailed = false, stale = false, consistent = false;
	bool b64 = false;
	const char *sep = "/", *addr = NULL;
	const struct cc_cli_flag fl[] = {
		{ "recurse", CC_CLI_BOOL, &recurse },   { "keys", CC_CLI_BOOL, &keys },
		{ "separator", CC_CLI_STR, &sep },      { "detailed", CC_CLI_BOOL, &detailed },
		{ "stale", CC_CLI_BOOL, &stale },       { "consistent", CC_CLI_BOOL, &consistent },
		{ "base64", CC_CLI_BOOL, &b64 },        { "http-addr", CC_CLI_STR, &addr },
	};
	int n = cc_cli_parse(argc, argv, fl, sizeof(fl) / sizeof(fl[0]), get_usage);
	if (n < 0)
		return n == -2 ? 0 : 1;
	argc -= n;
	argv += n;
	if (argc > 1) {
		fprintf(stderr, "Too many arguments (expected 1, got %d)\n", argc);
		return 1;
	}
	const char *key = strip_slash(argc ? argv[0] : "");
	if (!key[0] && !recurse && !keys) {
		fprintf(stderr, "Error! Missing KEY argument\n");
		return 1;
	}
	char q[64], base[512], err[1024], msg[1200];
	int o = snprintf(q, sizeof(q), "%s", keys ? "?keys=" : recurse ? "?recurse=" : "");
	if (stale) /* with -consistent too: the agent answers Consul's 400 */
		o += snprintf(q + o, sizeof(q) - (size_t)o, "%cstale=", o ? '&' : '?');
	if (consistent)
		snprintf(q + o, sizeof(q) - (size_t)o, "%cconsistent=", o ? '&' : '?');
	char *path = kv_path(key, q, keys && sep[0] ? sep : NULL);
	struct cc_cli_body b = { 0 };
	int st = path ? cc_cli_call("GET", cc_cli_http_addr(addr, base, sizeof(base)), path, NULL, 0,
	                            &b, err, sizeof(err))
	              : -1;
	if (!path)
		snprintf(err, sizeof(err), "out of memory");
	free(path);
	if (st == 404) { /* Consul's client: no pair, no keys; only a single get complains */
		free(b.p);
		if (keys || recurse)
			return 0;
		fprintf(stderr, "Error! No key exists at: %s\n", key);
		return 1;
	}
	if (st != 200) {
		fprintf(stderr, "Error querying Consul agent: %s\n",
		        cc_cli_error(st, &b, err, msg, sizeof(msg)));
		free(b.p);
		return 1;
	}
	cJSON *arr = cJSON_Parse(b.p ? b.p : "");
	free(b.p);
	if (!cJSON_IsArray(arr)) {
		fprintf(stderr, "Error querying Consul agent: invalid JSON in the answer\n");
		cJSON_Delete(arr);
		return 1;
	}
	int rc = 0;
	for (const cJSON *e = arr->child; e; e = e->next) {
		if (keys) {
			if (cJSON_IsString(e))
				printf("%s\n", e->valuestring);
			continue;
		}
		struct pair p;
		if (pair_of(e, &p)) {
			fprintf(stderr, "Error querying Consul agent: invalid entry in the answer\n");
			rc = 1;
			break;
		}
		if (detailed) {
			print_detailed(&p, b64);
			if (recurse && e->next)
				putchar('\n');
		} else if (recurse) {
			printf("%s:", p.key);
			print_value(&p, b64);
			putchar('\n');
		} else {
			print_value(&p, b64);
			putchar('\n');
		}
		free(p.val);
		if (!recurse)
			break;
	}
	cJSON_Delete(arr);
	return rc;
}

int cc_cli_read_arg(const char *arg, char **out, size_t *len)
{
	FILE *f = NULL;
	bool from_stdin = strcmp(arg, "-") == 0;
	if (from_stdin) {
		f = stdin;
	} else if (arg[0] == '@' && !(f = fopen(arg + 1, "rb"))) {
		char e[128];
		snprintf(e, sizeof(e), "%s", strerror(errno));
		e[0] = (char)tolower((unsigned char)e[0]); /* Go's lower-case errno text */
		fprintf(stderr, "Error! Failed to read file: open %s: %s\n", arg + 1, e);
		return -1;
	}
	if (!f) {
		*out = strdup(arg);
		*len = strlen(arg);
		return *out ? 0 : -1;
	}
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	while (buf) {
		n += fread(buf + n, 1, cap - n - 1, f);
		if (n < cap - 1)
			break;
		char *nb = realloc(buf, cap *= 2);
		if (!nb)
			free(buf);
		buf = nb;
	}
	int bad = !buf || ferror(f);
	if (!from_stdin)
		fclose(f);
	if (bad) {
		fprintf(stderr, "Error! Failed to read %s\n", from_stdin ? "stdin" : "file");
		free(buf);
		return -1;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

static int kv_put(int argc, char **argv)
{
	bool cas = false, b64 = false;
	uint64_t flags = 0, mindex = 0;
	const char *addr = NULL;
	const struct cc_cli_flag fl[] = {
		{ "cas", CC_CLI_BOOL, &cas },           { "flags", CC_CLI_U64, &flags },
		{ "modify-index", CC_CLI_U64, &mindex }, { "base64", CC_CLI_BOOL, &b64 },
		{ "http-addr", CC_CLI_STR, &addr },
	};
	int n = cc_cli_parse(argc, argv, fl, sizeof(fl) / sizeof(fl[0]), put_usage);
	if (n < 0)
		return n == -2 ? 0 : 1;
	argc -= n;
	argv += n;
	if (argc == 0 || argc > 2) {
		if (argc)
			fprintf(stderr, "Error! Too many arguments (expected 1 or 2, got %d)\n", argc);
		else
			fprintf(stderr, "Error! Missing KEY argument\n");
		return 1;
	}
	const char *key = argv[0];
	char *data = NULL;
	size_t len = 0;
	if (argc == 2 && cc_cli_read_arg(argv[1], &data, &len))
		return 1;
	if (b64 && data) {
		unsigned char *raw = malloc(len / 4 * 3 + 1);
		size_t bad = 0;
		long m = raw ? cc_cli_b64_decode(data, (unsigned char *)raw, &bad) : -1;
		free(data);
		if (m < 0) {
			fprintf(stderr, "Error! Cannot base 64 decode data: illegal base64 data at input "
			                "byte %zu\n", bad);
			free(raw);
			return 1;
		}
		data = (char *)raw;
		len = (size_t)m;
	}
	if (cas && mindex == 0) {
		fprintf(stderr, "Must specify -modify-index with -cas!\n");
		free(data);
		return 1;
	}
	char q[64], base[512], err[1024], msg[1200];
	int o = 0;
	if (flags) /* Consul's client sends ?flags only when not 0 */
		o = snprintf(q, sizeof(q), "?flags=%" PRIu64, flags);
	if (cas)
		o += snprintf(q + o, sizeof(q) - (size_t)o, "%ccas=%" PRIu64, o ? '&' : '?', mindex);
	q[o] = '\0';
	char *path = kv_path(key, q, NULL);
	struct cc_cli_body b = { 0 };
	int st = path ? cc_cli_call("PUT", cc_cli_http_addr(addr, base, sizeof(base)), path, data,
	                            len, &b, err, sizeof(err))
	              : -1;
	if (!path)
		snprintf(err, sizeof(err), "out of memory");
	free(path);
	free(data);
	int rc = 0;
	if (st != 200) {
		cc_cli_error(st, &b, err, msg, sizeof(msg));
		if (cas)
			fprintf(stderr, "Error! Did not write to %s: %s\n", key, msg);
		else
			fprintf(stderr, "Error! Failed writing data: %s\n", msg);
		rc = 1;
	} else if (cas && !(b.p && strncmp(b.p, "true", 4) == 0)) {
		fprintf(stderr, "Error! Did not write to %s: CAS failed\n", key);
		rc = 1;
	} else {
		printf("Success! Data written to: %s\n", key);
	}
	free(b.p);
	return rc;
}

static int kv_delete(int argc, char **argv)
{
	bool cas = false, recurse = false;
	uint64_t mindex = 0;
	const char *addr = NULL;
	const struct cc_cli_flag fl[] = {
		{ "cas", CC_CLI_BOOL, &cas },
		{ "modify-index", CC_CLI_U64, &mindex },
		{ "recurse", CC_CLI_BOOL, &recurse },
		{ "http-addr", CC_CLI_STR, &addr },
	};
	int n = cc_cli_parse(argc, argv, fl, sizeof(fl) / sizeof(fl[0]), delete_usage);
	if (n < 0)
		return n == -2 ? 0 : 1;
	argc -= n;
	argv += n;
	if (argc > 1) {
		fprintf(stderr, "Too many arguments (expected 1, got %d)\n", argc);
		return 1;
	}
	const char *key = strip_slash(argc ? argv[0] : "");
	const char *bad = NULL;
	if (!key[0] && !recurse)
		bad = "Error! Missing KEY argument";
	else if (cas && mindex == 0)
		bad = "Must specify -modify-index with -cas!";
	else if (mindex && !cas)
		bad = "Cannot specify -modify-index without -cas!";
	else if (recurse && cas)
		bad = "Cannot specify both -cas and -recurse!";
	if (bad) {
		fprintf(stderr, "%s\n", bad);
		return 1;
	}
	char q[64] = "", base[512], err[1024], msg[1200];
	if (recurse)
		snprintf(q, sizeof(q), "?recurse=");
	else if (cas)
		snprintf(q, sizeof(q), "?cas=%" PRIu64, mindex);
	char *path = kv_path(key, q, NULL);
	struct cc_cli_body b = { 0 };
	int st = path ? cc_cli_call("DELETE", cc_cli_http_addr(addr, base, sizeof(base)), path, NULL,
	                            0, &b, err, sizeof(err))
	              : -1;
	if (!path)
		snprintf(err, sizeof(err), "out of memory");
	free(path);
	int rc = 0;
	if (st != 200) {
		cc_cli_error(st, &b, err, msg, sizeof(msg));
		if (recurse)
			fprintf(stderr, "Error! Did not delete prefix %s: %s\n", key, msg);
		else if (cas)
			fprintf(stderr, "Error! Did not delete key %s: %s\n", key, msg);
		else
			fprintf(stderr, "Error deleting key %s: %s\n", key, msg);
		rc = 1;
	} else if (cas && !(b.p && strncmp(b.p, "true", 4) == 0)) {
		fprintf(stderr, "Error! Did not delete key %s: CAS failed\n", key);
		rc = 1;
	} else if (recurse) {
		printf("Success! Deleted keys with prefix: %s\n", key);
	} else {
		printf("Success! Deleted key: %s\n", key);
	}
	free(b.p);
	return rc;
}

int cc_cli_kv(int argc, char **argv)
{
	if (argc > 0 && strcmp(argv[0], "get") == 0)
		return kv_get(argc - 1, argv + 1);
	if (argc > 0 && strcmp(argv[0], "put") == 0)
		return kv_put(argc - 1, argv + 1);
	if (argc > 0 && strcmp(argv[0], "delete") == 0)
		return kv_delete(argc - 1, argv + 1);
	if (argc > 0 && strcmp(argv[0], "export") == 0)
		return cc_cli_kv_export(argc - 1, argv + 1);
	if (argc > 0 && strcmp(argv[0], "import") == 0)
		return cc_cli_kv_import(argc - 1, argv + 1);
	bool help = argc > 0 && (strcmp(argv[0], "-h") == 0 || strcmp(argv[0], "-help") == 0 ||
	                         strcmp(argv[0], "--help") == 0);
	/* mitchellh/cli: a command group run bare prints its help and exits 1 */
	fputs(kv_usage, help ? stdout : stderr);
	return help ? 0 : 1;
}
