/* Applies a parsed JSON document to a cc_config: the key tables, type checks
 * and Consul's merge rules (scalars override, lists append, objects merge). */
#include <errno.h>
#include <stdbool.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_internal.h"

enum kind {
	K_STR,      /* char * */
	K_BOOL,     /* bool */
	K_TRI,      /* int: -1 unset, 0/1 */
	K_INT,      /* int */
	K_PORT,     /* int, -1..65535 */
	K_DUR_MS,   /* uint64_t milliseconds, from a Go duration string */
	K_LIST,     /* struct cc_strlist, appended */
	K_LEVEL,    /* enum cc_log_level */
	K_NESTED,   /* an object with its own table */
	K_SERVICE,  /* one service definition */
	K_SERVICES, /* an array of service definitions */
	K_CHECK,    /* one check definition */
	K_CHECKS,   /* an array of check definitions */
	K_META,     /* an object of string values */
	K_REMOVED,  /* a key Consul removed: error with a hint */
};

struct key {
	const char *name;
	enum kind kind;
	size_t off;              /* offset in the struct the table describes */
	const struct table *sub; /* for K_NESTED */
	const char *hint;        /* for K_REMOVED */
	bool priv;               /* off is into struct cc_config_priv, not the table's struct */
};

struct table {
	const struct key *keys;
	size_t n;
};

#define KEY(n, k, s, f) { n, k, offsetof(s, f), NULL, NULL, false }
#define PRIV(n, k, f) { n, k, offsetof(struct cc_config_priv, f), NULL, NULL, true }
#define TABLE(a) { a, sizeof(a) / sizeof(a[0]) }

static const struct key ports_keys[] = {
	KEY("http", K_PORT, struct cc_ports, http),
	KEY("https", K_PORT, struct cc_ports, https),
	KEY("grpc", K_PORT, struct cc_ports, grpc),
	KEY("dns", K_PORT, struct cc_ports, dns),
	KEY("server", K_PORT, struct cc_ports, server),
	KEY("serf_lan", K_PORT, struct cc_ports, serf_lan),
	KEY("serf_wan", K_PORT, struct cc_ports, serf_wan),
};
static const struct table ports_table = TABLE(ports_keys);

static const struct key addresses_keys[] = {
	PRIV("http", K_STR, addresses_http),
	PRIV("dns", K_STR, addresses_dns),
};
static const struct table addresses_table = TABLE(addresses_keys);

static const struct key performance_keys[] = {
	KEY("raft_multiplier", K_INT, struct cc_config, raft_multiplier),
};
static const struct table performance_table = TABLE(performance_keys);

static const struct key telemetry_keys[] = {
	KEY("prometheus_retention_time", K_DUR_MS, struct cc_telemetry, prometheus_retention_ms),
	KEY("disable_hostname", K_BOOL, struct cc_telemetry, disable_hostname),
	KEY("metrics_prefix", K_STR, struct cc_telemetry, metrics_prefix),
};
static const struct table telemetry_table = TABLE(telemetry_keys);

static const struct key check_keys[] = {
	KEY("id", K_STR, struct cc_check_def, id),
	KEY("check_id", K_STR, struct cc_check_def, id),
	KEY("name", K_STR, struct cc_check_def, name),
	KEY("notes", K_STR, struct cc_check_def, notes),
	KEY("status", K_STR, struct cc_check_def, status),
	KEY("service_id", K_STR, struct cc_check_def, service_id),
	KEY("args", K_LIST, struct cc_check_def, args),
	KEY("http", K_STR, struct cc_check_def, http),
	KEY("method", K_STR, struct cc_check_def, method),
	KEY("tcp", K_STR, struct cc_check_def, tcp),
	KEY("interval", K_DUR_MS, struct cc_check_def, interval_ms),
	KEY("timeout", K_DUR_MS, struct cc_check_def, timeout_ms),
	KEY("ttl", K_DUR_MS, struct cc_check_def, ttl_ms),
	KEY("deregister_critical_service_after", K_DUR_MS, struct cc_check_def,
	    deregister_after_ms),
	KEY("tls_skip_verify", K_BOOL, struct cc_check_def, tls_skip_verify),
	{ "script", K_REMOVED, 0, NULL,
	  "'script' was removed in Consul 1.0; use 'args' with the command and its arguments",
	  false },
};
static const struct table check_table = TABLE(check_keys);

static const struct key service_keys[] = {
	KEY("id", K_STR, struct cc_service_def, id),
	KEY("name", K_STR, struct cc_service_def, name),
	KEY("address", K_STR, struct cc_service_def, address),
	KEY("port", K_PORT, struct cc_service_def, port),
	KEY("tags", K_LIST, struct cc_service_def, tags),
	KEY("meta", K_META, struct cc_service_def, meta),
	KEY("enable_tag_override", K_BOOL, struct cc_service_def, enable_tag_override),
	KEY("check", K_CHECK, struct cc_service_def, checks),
	KEY("checks", K_CHECKS, struct cc_service_def, checks),
};
static const struct table service_table = TABLE(service_keys);

/* Top-level keys: offsets into struct cc_config, or into its private part. */
static const struct key top_keys[] = {
	KEY("datacenter", K_STR, struct cc_config, datacenter),
	KEY("node_name", K_STR, struct cc_config, node_name),
	KEY("node_id", K_STR, struct cc_config, node_id),
	KEY("data_dir", K_STR, struct cc_config, data_dir),
	KEY("log_level", K_LEVEL, struct cc_config, log_level),
	KEY("log_file", K_STR, struct cc_config, log_file),
	KEY("server", K_BOOL, struct cc_config, server),
	KEY("bootstrap", K_BOOL, struct cc_config, bootstrap),
	KEY("bootstrap_expect", K_INT, struct cc_config, bootstrap_expect),
	KEY("ui", K_BOOL, struct cc_config, ui),
	KEY("enable_script_checks", K_BOOL, struct cc_config, enable_script_checks),
	KEY("bind_addr", K_STR, struct cc_config, bind_addr),
	KEY("advertise_addr", K_STR, struct cc_config, advertise_addr),
	KEY("advertise_addr_wan", K_STR, struct cc_config, advertise_addr_wan),
	PRIV("client_addr", K_STR, client_addr_raw),
	{ "ports", K_NESTED, offsetof(struct cc_config, ports), &ports_table, NULL, false },
	{ "addresses", K_NESTED, 0, &addresses_table, NULL, false },
	{ "performance", K_NESTED, 0, &performance_table, NULL, false },
	{ "telemetry", K_NESTED, offsetof(struct cc_config, telemetry), &telemetry_table, NULL,
	  false },
	KEY("retry_join", K_LIST, struct cc_config, retry_join),
	KEY("retry_join_wan", K_LIST, struct cc_config, retry_join_wan),
	KEY("start_join", K_LIST, struct cc_config, start_join),
	KEY("retry_interval", K_DUR_MS, struct cc_config, retry_interval_ms),
	KEY("retry_max", K_INT, struct cc_config, retry_max),
	KEY("raft_snapshot_threshold", K_INT, struct cc_config, raft_snapshot_threshold),
	KEY("raft_trailing_logs", K_INT, struct cc_config, raft_trailing_logs),
	KEY("encrypt", K_STR, struct cc_config, encrypt),
	PRIV("leave_on_terminate", K_TRI, leave_on_terminate),
	PRIV("skip_leave_on_interrupt", K_TRI, skip_leave_on_interrupt),
	KEY("rejoin_after_leave", K_BOOL, struct cc_config, rejoin_after_leave),
	KEY("service", K_SERVICE, struct cc_config, services),
	KEY("services", K_SERVICES, struct cc_config, services),
};
static const struct table top_table = TABLE(top_keys);

struct ctx {
	struct cc_config *c;
	const char *source;
	struct cc_config_err *err;
};

static void describe(const cJSON *v, char *out, size_t cap)
{
	if (cJSON_IsString(v)) {
		const char *s = v->valuestring;
		snprintf(out, cap, "a string (\"%.40s%s\")", s, strlen(s) > 40 ? "..." : "");
	} else if (cJSON_IsNumber(v)) {
		snprintf(out, cap, "a number (%.17g)", v->valuedouble);
	} else if (cJSON_IsBool(v)) {
		snprintf(out, cap, "a boolean (%s)", cJSON_IsTrue(v) ? "true" : "false");
	} else if (cJSON_IsArray(v)) {
		snprintf(out, cap, "an array");
	} else if (cJSON_IsObject(v)) {
		snprintf(out, cap, "an object");
	} else {
		snprintf(out, cap, "null");
	}
}

static int type_error(struct ctx *x, const char *path, const char *expected, const cJSON *v)
{
	char got[96];
	describe(v, got, sizeof(got));
	return cc_config_fail(x->err, "%s: %s: expected %s, got %s", x->source, path, expected, got);
}

static int get_int(struct ctx *x, const char *path, const cJSON *v, int *out)
{
	if (!cJSON_IsNumber(v))
		return type_error(x, path, "a whole number", v);
	double d = v->valuedouble;
	if (d != floor(d) || !isfinite(d))
		return type_error(x, path, "a whole number", v);
	if (d < -2147483648.0 || d > 2147483647.0)
		return cc_config_fail(x->err, "%s: %s: %.17g is out of range", x->source, path, d);
	*out = (int)d;
	return 0;
}

static int get_duration_ms(struct ctx *x, const char *path, const cJSON *v, uint64_t *out)
{
	if (!cJSON_IsString(v))
		return type_error(x, path, "a duration string such as \"5s\" or \"1m30s\"", v);
	int64_t ns;
	const char *why = NULL;
	if (cc_duration_parse(v->valuestring, &ns, &why))
		return cc_config_fail(x->err, "%s: %s: invalid duration \"%s\": %s", x->source, path,
		                      v->valuestring, why);
	if (ns < 0)
		return cc_config_fail(x->err, "%s: %s: duration \"%s\" must not be negative",
		                      x->source, path, v->valuestring);
	*out = (uint64_t)ns / 1000000u + ((uint64_t)ns % 1000000u ? 1 : 0);
	return 0;
}

static int get_list(struct ctx *x, const char *path, const cJSON *v, struct cc_strlist *l)
{
	if (!cJSON_IsArray(v))
		return type_error(x, path, "an array of strings", v);
	int i = 0;
	for (const cJSON *e = v->child; e; e = e->next, i++) {
		char p[160];
		snprintf(p, sizeof(p), "%s[%d]", path, i);
		if (!cJSON_IsString(e))
			return type_error(x, p, "a string", e);
		if (cc_strlist_push(l, e->valuestring))
			return cc_config_fail(x->err, "out of memory");
	}
	return 0;
}

static int apply_table(struct ctx *x, const struct table *t, char *base, const cJSON *obj,
                       const char *prefix);

static int apply_check(struct ctx *x, const char *path, const cJSON *v, struct cc_service_def *s)
{
	if (!cJSON_IsObject(v))
		return type_error(x, path, "an object", v);
	struct cc_check_def *n = realloc(s->checks, (s->nchecks + 1) * sizeof(*n));
	if (!n)
		return cc_config_fail(x->err, "out of memory");
	s->checks = n;
	struct cc_check_def *ck = &n[s->nchecks++];
	memset(ck, 0, sizeof(*ck));
	return apply_table(x, &check_table, (char *)ck, v, path);
}

static int apply_service(struct ctx *x, const char *path, const cJSON *v)
{
	struct cc_config *c = x->c;
	if (!cJSON_IsObject(v))
		return type_error(x, path, "an object", v);
	struct cc_service_def *n = realloc(c->services, (c->nservices + 1) * sizeof(*n));
	if (!n)
		return cc_config_fail(x->err, "out of memory");
	c->services = n;
	struct cc_service_def *s = &n[c->nservices++];
	memset(s, 0, sizeof(*s));
	return apply_table(x, &service_table, (char *)s, v, path);
}

static int apply_meta(struct ctx *x, const char *path, const cJSON *v, struct cc_service_def *s)
{
	if (!cJSON_IsObject(v))
		return type_error(x, path, "an object of strings", v);
	for (const cJSON *e = v->child; e; e = e->next) {
		char p[200];
		snprintf(p, sizeof(p), "%s.%s", path, e->string);
		if (!cJSON_IsString(e))
			return type_error(x, p, "a string", e);
		struct cc_kv *m = realloc(s->meta, (s->nmeta + 1) * sizeof(*m));
		if (!m)
			return cc_config_fail(x->err, "out of memory");
		s->meta = m;
		m[s->nmeta].key = strdup(e->string);
		m[s->nmeta].value = strdup(e->valuestring);
		s->nmeta++;
		if (!m[s->nmeta - 1].key || !m[s->nmeta - 1].value)
			return cc_config_fail(x->err, "out of memory");
	}
	return 0;
}

static int apply_key(struct ctx *x, const struct key *k, char *base,
                     const cJSON *v, const char *path)
{
	char *f = (k->priv ? (char *)x->c->priv : base) + k->off;
	int iv;
	switch (k->kind) {
	case K_STR:
		if (!cJSON_IsString(v))
			return type_error(x, path, "a string", v);
		return cc_set_str((char **)f, v->valuestring) ? cc_config_fail(x->err, "out of memory")
		                                              : 0;
	case K_BOOL:
		if (!cJSON_IsBool(v))
			return type_error(x, path, "true or false", v);
		*(bool *)f = cJSON_IsTrue(v);
		return 0;
	case K_TRI:
		if (!cJSON_IsBool(v))
			return type_error(x, path, "true or false", v);
		*(int *)f = cJSON_IsTrue(v) ? 1 : 0;
		return 0;
	case K_INT:
		if (get_int(x, path, v, &iv))
			return -1;
		*(int *)f = iv;
		return 0;
	case K_PORT:
		if (get_int(x, path, v, &iv))
			return -1;
		if (iv < -1 || iv > 65535)
			return cc_config_fail(x->err, "%s: %s: %d is not a valid port (expected 1 to 65535, "
			                              "or -1 to disable)", x->source, path, iv);
		*(int *)f = iv;
		return 0;
	case K_DUR_MS:
		return get_duration_ms(x, path, v, (uint64_t *)f);
	case K_LIST:
		return get_list(x, path, v, (struct cc_strlist *)f);
	case K_LEVEL:
		if (!cJSON_IsString(v))
			return type_error(x, path, "a string (TRACE, DEBUG, INFO, WARN or ERROR)", v);
		if (cc_log_level_parse(v->valuestring, (enum cc_log_level *)f))
			return cc_config_fail(x->err, "%s: %s: invalid log level \"%s\": valid levels are "
			                              "TRACE, DEBUG, INFO, WARN and ERROR", x->source,
			                      path, v->valuestring);
		return 0;
	case K_NESTED:
		if (!cJSON_IsObject(v))
			return type_error(x, path, "an object", v);
		return apply_table(x, k->sub, f, v, path);
	case K_SERVICE:
		return apply_service(x, path, v);
	case K_SERVICES:
		if (!cJSON_IsArray(v))
			return type_error(x, path, "an array of service definitions", v);
		iv = 0;
		for (const cJSON *e = v->child; e; e = e->next, iv++) {
			char p[160];
			snprintf(p, sizeof(p), "%s[%d]", path, iv);
			if (apply_service(x, p, e))
				return -1;
		}
		return 0;
	case K_CHECK:
		return apply_check(x, path, v, (struct cc_service_def *)base);
	case K_CHECKS:
		if (!cJSON_IsArray(v))
			return type_error(x, path, "an array of check definitions", v);
		iv = 0;
		for (const cJSON *e = v->child; e; e = e->next, iv++) {
			char p[160];
			snprintf(p, sizeof(p), "%s[%d]", path, iv);
			if (apply_check(x, p, e, (struct cc_service_def *)base))
				return -1;
		}
		return 0;
	case K_META:
		return apply_meta(x, path, v, (struct cc_service_def *)base);
	case K_REMOVED:
		return cc_config_fail(x->err, "%s: %s: %s", x->source, path, k->hint);
	}
	return 0;
}

static int apply_table(struct ctx *x, const struct table *t, char *base, const cJSON *obj,
                       const char *prefix)
{
	for (const cJSON *v = obj->child; v; v = v->next) {
		char path[200];
		if (prefix && prefix[0])
			snprintf(path, sizeof(path), "%s.%s", prefix, v->string);
		else
			snprintf(path, sizeof(path), "%s", v->string);
		const struct key *k = NULL;
		for (size_t i = 0; i < t->n; i++) {
			if (strcmp(t->keys[i].name, v->string) == 0) {
				k = &t->keys[i];
				break;
			}
		}
		if (!k) {
			if (cc_config_warn(x->c, "%s: unknown config key \"%s\" (ignored)", x->source, path))
				return cc_config_fail(x->err, "out of memory");
			continue;
		}
		if (cJSON_IsNull(v))
			continue; /* null means "not set", as in Consul's JSON */
		if (apply_key(x, k, base, v, path))
			return -1;
	}
	return 0;
}

int cc_config_apply_json(struct cc_config *c, const cJSON *root, const char *source,
                         struct cc_config_err *err)
{
	struct ctx x = { c, source, err };
	if (!cJSON_IsObject(root))
		return type_error(&x, "top level", "a JSON object", root);
	return apply_table(&x, &top_table, (char *)c, root, "");
}
