/* `conclave agent` command flags, Go `flag` package syntax (-name=value,
 * -name value, --name, bare booleans). Flags become one more JSON source that
 * is applied after every file, so they override files and lists append. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_internal.h"

enum fkind { F_STR, F_BOOL, F_INT, F_LIST, F_FILE, F_DIR };

static const struct flag {
	const char *name;
	enum fkind kind;
	const char *key; /* JSON key, "a.b" for nested */
	const char *help;
} flags[] = {
	{ "config-file", F_FILE, NULL, "Path to a JSON config file to read. May be repeated." },
	{ "config-dir", F_DIR, NULL, "Directory whose *.json files are read in lexical order. "
	                              "May be repeated." },
	{ "server", F_BOOL, "server", "Run in server mode." },
	{ "bootstrap", F_BOOL, "bootstrap", "Bootstrap this server alone (classic mode)." },
	{ "bootstrap-expect", F_INT, "bootstrap_expect",
	  "Servers to wait for before bootstrapping Raft." },
	{ "retry-join", F_LIST, "retry_join", "Address to join, retried. May be repeated." },
	{ "retry-join-wan", F_LIST, "retry_join_wan", "WAN address to join, retried." },
	{ "join", F_LIST, "start_join", "Address to join at start. May be repeated." },
	{ "retry-interval", F_STR, "retry_interval", "Time between join attempts (e.g. 5s)." },
	{ "retry-max", F_INT, "retry_max", "Join attempts before giving up (0: forever)." },
	{ "rejoin", F_BOOL, "rejoin_after_leave", "Rejoin the cluster after a previous leave." },
	{ "bind", F_STR, "bind_addr", "Address to bind gossip and server RPC to." },
	{ "advertise", F_STR, "advertise_addr", "Address to advertise to other nodes." },
	{ "advertise-wan", F_STR, "advertise_addr_wan", "Address to advertise on the WAN." },
	{ "client", F_STR, "client_addr", "Address(es) for HTTP and DNS (space-separated)." },
	{ "data-dir", F_STR, "data_dir", "Directory for the agent's durable state." },
	{ "node", F_STR, "node_name", "Name of this node." },
	{ "node-id", F_STR, "node_id", "UUID of this node (default: from data-dir/node-id)." },
	{ "datacenter", F_STR, "datacenter", "Datacenter of this agent." },
	{ "log-level", F_STR, "log_level", "TRACE, DEBUG, INFO, WARN or ERROR." },
	{ "log-file", F_STR, "log_file", "Also write logs to this file." },
	{ "encrypt", F_STR, "encrypt", "Base64 gossip encryption key." },
	{ "ui", F_BOOL, "ui", "Serve the web UI at /ui/." },
	{ "enable-script-checks", F_BOOL, "enable_script_checks", "Allow script checks." },
	{ "http-port", F_INT, "ports.http", "HTTP API port." },
	{ "dns-port", F_INT, "ports.dns", "DNS port." },
	{ "server-port", F_INT, "ports.server", "Server RPC (Raft) port." },
	{ "serf-lan-port", F_INT, "ports.serf_lan", "LAN gossip port." },
	{ "serf-wan-port", F_INT, "ports.serf_wan", "WAN gossip port." },
};

const char *cc_config_flags_help(void)
{
	static char buf[4096];
	if (buf[0])
		return buf;
	size_t pos = 0;
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]) && pos < sizeof(buf); i++) {
		char name[64];
		snprintf(name, sizeof(name), "-%s%s", flags[i].name,
		         flags[i].kind == F_BOOL ? "" : "=<value>");
		int n = snprintf(buf + pos, sizeof(buf) - pos, "  %-28s %s\n", name, flags[i].help);
		if (n > 0)
			pos += (size_t)n;
	}
	return buf;
}

/* Go's strconv.ParseBool. */
static int parse_bool(const char *s, int *out)
{
	static const char *const t[] = { "1", "t", "T", "true", "TRUE", "True" };
	static const char *const f[] = { "0", "f", "F", "false", "FALSE", "False" };
	for (size_t i = 0; i < 6; i++) {
		if (strcmp(s, t[i]) == 0)
			return *out = 1, 0;
		if (strcmp(s, f[i]) == 0)
			return *out = 0, 0;
	}
	return -1;
}

/* Sets root[a][b] = v for a key "a.b" (or root[a] for "a"), replacing any
 * earlier value. Takes ownership of v. */
static int set_path(cJSON *root, const char *key, cJSON *v)
{
	const char *dot = strchr(key, '.');
	cJSON *obj = root;
	char head[64];
	if (dot) {
		snprintf(head, sizeof(head), "%.*s", (int)(dot - key), key);
		obj = cJSON_GetObjectItemCaseSensitive(root, head);
		if (!obj && !(obj = cJSON_AddObjectToObject(root, head))) {
			cJSON_Delete(v);
			return -1;
		}
		key = dot + 1;
	}
	cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
	if (!cJSON_AddItemToObject(obj, key, v)) {
		cJSON_Delete(v);
		return -1;
	}
	return 0;
}

static int apply_one(struct cc_config *c, cJSON *root, const struct flag *f, const char *val,
                     struct cc_config_err *err)
{
	cJSON *v = NULL;
	int b;
	char *end;
	long n;
	switch (f->kind) {
	case F_FILE:
		return cc_config_load_file(c, val, err);
	case F_DIR:
		return cc_config_load_dir(c, val, err);
	case F_STR:
		v = cJSON_CreateString(val);
		break;
	case F_BOOL:
		if (parse_bool(val, &b))
			return cc_config_fail(err, "invalid boolean value \"%s\" for flag -%s: parse error",
			                      val, f->name);
		v = cJSON_CreateBool(b);
		break;
	case F_INT:
		errno = 0;
		n = strtol(val, &end, 10);
		if (!val[0] || *end || errno || n < -2147483648L || n > 2147483647L)
			return cc_config_fail(err, "invalid value \"%s\" for flag -%s: parse error", val,
			                      f->name);
		v = cJSON_CreateNumber((double)n);
		break;
	case F_LIST: {
		cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, f->key);
		if (!arr && !(arr = cJSON_AddArrayToObject(root, f->key)))
			return cc_config_fail(err, "out of memory");
		if (!cJSON_AddItemToArray(arr, cJSON_CreateString(val)))
			return cc_config_fail(err, "out of memory");
		return 0;
	}
	}
	if (!v || set_path(root, f->key, v))
		return cc_config_fail(err, "out of memory");
	return 0;
}

int cc_config_apply_flags(struct cc_config *c, int argc, char **argv, struct cc_config_err *err)
{
	cJSON *root = cJSON_CreateObject();
	if (!root)
		return cc_config_fail(err, "out of memory");
	int rc = 0;
	for (int i = 0; i < argc && rc == 0; i++) {
		const char *a = argv[i];
		if (a[0] != '-' || a[1] == '\0') {
			rc = cc_config_fail(err, "unexpected argument \"%s\": flags start with '-'", a);
			break;
		}
		a += a[1] == '-' ? 2 : 1;
		char name[64];
		const char *eq = strchr(a, '=');
		size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
		if (nlen >= sizeof(name))
			nlen = sizeof(name) - 1;
		memcpy(name, a, nlen);
		name[nlen] = '\0';
		const struct flag *f = NULL;
		for (size_t k = 0; k < sizeof(flags) / sizeof(flags[0]); k++)
			if (strcmp(flags[k].name, name) == 0)
				f = &flags[k];
		if (!f) {
			rc = cc_config_fail(err, "flag provided but not defined: -%s", name);
			break;
		}
		const char *val = eq ? eq + 1 : NULL;
		if (!val && f->kind == F_BOOL)
			val = "true";
		if (!val) {
			if (i + 1 >= argc) {
				rc = cc_config_fail(err, "flag needs an argument: -%s", name);
				break;
			}
			val = argv[++i];
		}
		rc = apply_one(c, root, f, val, err);
	}
	if (rc == 0)
		rc = cc_config_apply_json(c, root, "command-line flags", err);
	cJSON_Delete(root);
	return rc;
}
