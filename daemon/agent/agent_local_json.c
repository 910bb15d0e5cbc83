/* Service and check definitions from JSON, and the agent endpoints' shapes.
 *
 * The API takes Consul's ServiceDefinition / CheckDefinition bodies; keys
 * match without regard to case or underscores (Go's decoder ignores case,
 * and Consul's API also takes the config files' snake_case), so `Name`,
 * `name`, `EnableTagOverride` and `enable_tag_override` are one key. Durations
 * are Go duration strings ("10s") or integer nanoseconds. Unknown keys are
 * ignored as Consul's API decoder does; a known key of the wrong type is a
 * 400 naming it. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent_internal.h"
#include "agent/agent_local.h"
#include "config/config.h"

#define SVC_CHECKS_MAX 32

static void norm(const char *k, char *out, size_t cap)
{
	size_t n = 0;
	for (; *k && n + 1 < cap; k++)
		if (*k != '_' && *k != '-')
			out[n++] = (char)tolower((unsigned char)*k);
	out[n] = 0;
}

/* The member whose normalized key is want, or NULL. */
static const cJSON *field(const cJSON *o, const char *want)
{
	const cJSON *e;
	cJSON_ArrayForEach(e, o)
	{
		char k[64];
		if (!e->string)
			continue;
		norm(e->string, k, sizeof(k));
		if (strcmp(k, want) == 0)
			return e;
	}
	return NULL;
}

static char *dupstr(const char *s)
{
	return strdup(s ? s : "");
}

static int fail(char *err, size_t errlen, const char *fmt, const char *a)
{
	snprintf(err, errlen, fmt, a);
	return -1;
}

/* A string field: absent → def; not a string → 400. */
static int get_str(const cJSON *o, const char *key, const char *def, char **out, char *err,
                   size_t errlen)
{
	const cJSON *v = field(o, key);
	if (v && !cJSON_IsNull(v) && !cJSON_IsString(v))
		return fail(err, errlen, "Request decode failed: %s must be a string", key);
	const char *s = v && cJSON_IsString(v) ? v->valuestring : def;
	if (s && strlen(s) > CATALOG_STR_MAX)
		return fail(err, errlen, "Request decode failed: %s is too long", key);
	*out = dupstr(s);
	return *out ? 0 : fail(err, errlen, "%s", "out of memory");
}

static int get_strlist(const cJSON *o, const char *key, char ***out, size_t *n, char *err,
                       size_t errlen)
{
	const cJSON *v = field(o, key);
	*out = NULL;
	*n = 0;
	if (!v || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) > CATALOG_TAGS_MAX)
		return fail(err, errlen, "Request decode failed: %s must be an array of strings", key);
	*out = calloc((size_t)cJSON_GetArraySize(v) + 1, sizeof(char *));
	if (!*out)
		return fail(err, errlen, "%s", "out of memory");
	const cJSON *e;
	cJSON_ArrayForEach(e, v)
	{
		if (!cJSON_IsString(e) || strlen(e->valuestring) > CATALOG_STR_MAX)
			return fail(err, errlen, "Request decode failed: %s must be an array of strings",
			            key);
		if (!((*out)[(*n)++] = strdup(e->valuestring)))
			return fail(err, errlen, "%s", "out of memory");
	}
	return 0;
}

static int get_u32(const cJSON *o, const char *key, uint32_t def, uint32_t max, uint32_t *out,
                   char *err, size_t errlen)
{
	const cJSON *v = field(o, key);
	*out = def;
	if (!v || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > max ||
	    v->valuedouble != (double)(uint32_t)v->valuedouble)
		return fail(err, errlen, "Request decode failed: %s must be a whole number in range", key);
	*out = (uint32_t)v->valuedouble;
	return 0;
}

static int get_dur(const cJSON *o, const char *key, uint64_t *ms, char *err, size_t errlen)
{
	const cJSON *v = field(o, key);
	*ms = 0;
	if (!v || cJSON_IsNull(v))
		return 0;
	if (cJSON_IsNumber(v)) {   /* time.Duration: nanoseconds */
		if (v->valuedouble < 0 || v->valuedouble > 1e18)
			return fail(err, errlen, "Request decode failed: %s: bad duration", key);
		*ms = (uint64_t)(v->valuedouble / 1e6);
		return 0;
	}
	int64_t d;
	const char *why = NULL;
	if (!cJSON_IsString(v) || cc_duration_parse(v->valuestring, &d, &why) || d < 0) {
		snprintf(err, errlen, "Request decode failed: %s: invalid duration %s", key,
		         cJSON_IsString(v) ? v->valuestring : "(not a string)");
		return -1;
	}
	*ms = (uint64_t)d / 1000000u;   /* nanoseconds */
	return 0;
}

static int pair_cmp(const void *x, const void *y)
{
	return strcmp(((const struct catalog_pair *)x)->key, ((const struct catalog_pair *)y)->key);
}

static int get_meta(const cJSON *o, struct local_svc_def *d, char *err, size_t errlen)
{
	const cJSON *v = field(o, "meta");
	if (!v || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsObject(v) || cJSON_GetArraySize(v) > CATALOG_MAP_MAX)
		return fail(err, errlen, "%s", "Request decode failed: Meta must be an object of strings");
	d->meta = calloc((size_t)cJSON_GetArraySize(v) + 1, sizeof(*d->meta));
	if (!d->meta)
		return fail(err, errlen, "%s", "out of memory");
	const cJSON *e;
	cJSON_ArrayForEach(e, v)
	{
		if (!cJSON_IsString(e) || !e->string[0] || strlen(e->string) > CATALOG_STR_MAX ||
		    strlen(e->valuestring) > CATALOG_STR_MAX)
			return fail(err, errlen, "Invalid Service Meta: bad key or value for \"%s\"",
			            e->string);
		struct catalog_pair *p = &d->meta[d->nmeta++];
		p->key = strdup(e->string);
		p->value = strdup(e->valuestring);
		if (!p->key || !p->value)
			return fail(err, errlen, "%s", "out of memory");
	}
	qsort(d->meta, d->nmeta, sizeof(*d->meta), pair_cmp);
	for (size_t i = 1; i < d->nmeta; i++)
		if (strcmp(d->meta[i - 1].key, d->meta[i].key) == 0)
			return fail(err, errlen, "Invalid Service Meta: duplicate key \"%s\"",
			            d->meta[i].key);
	return 0;
}

/* The check's kind from its fields, Consul's CheckType.Validate texts. */
static int chk_validate(struct local_chk_def *d, char *err, size_t errlen)
{
	int kinds = (d->nargs > 0) + (d->http[0] != 0) + (d->tcp[0] != 0) + (d->ttl_ms > 0);
	if (kinds == 0)
		return fail(err, errlen, "%s",
		            "Invalid check: one of Args, HTTP, TCP or TTL must be set");
	if (kinds > 1)
		return fail(err, errlen, "%s",
		            "Invalid check: only one of Args, HTTP, TCP or TTL may be set");
	d->kind = d->ttl_ms ? CHECK_TTL : d->nargs ? CHECK_SCRIPT : d->http[0] ? CHECK_HTTP : CHECK_TCP;
	if (d->kind != CHECK_TTL && d->interval_ms == 0)
		return fail(err, errlen, "%s",
		            "Invalid check: Interval must be > 0 for Script, HTTP, or TCP checks");
	if (d->kind == CHECK_TTL && d->interval_ms)
		return fail(err, errlen, "%s", "Invalid check: Interval and TTL cannot both be set");
	if (d->kind == CHECK_HTTP && strncmp(d->http, "http://", 7) != 0)
		return fail(err, errlen,
		            "Invalid check: HTTP must be an http:// URL (this agent has no TLS client): %s",
		            d->http);
	if (d->kind == CHECK_TCP && !strrchr(d->tcp, ':'))
		return fail(err, errlen, "Invalid check: TCP must be HOST:PORT, not \"%s\"", d->tcp);
	if (!d->method[0]) {
		free(d->method);
		d->method = strdup("GET");
	}
	if (!d->timeout_ms)
		d->timeout_ms = d->kind == CHECK_SCRIPT ? CHECK_SCRIPT_TIMEOUT_MS : CHECK_NET_TIMEOUT_MS;
	return d->method ? 0 : fail(err, errlen, "%s", "out of memory");
}

int local_chk_parse(const cJSON *o, struct local_chk_def *d, char *err, size_t errlen)
{
	memset(d, 0, sizeof(*d));
	if (!cJSON_IsObject(o))
		return fail(err, errlen, "%s", "Request decode failed: a check must be a JSON object");
	char *status = NULL;
	const cJSON *args = field(o, "args") ? field(o, "args") : field(o, "scriptargs");
	cJSON *tmp = NULL;
	if (args) {   /* get_strlist reads it by a fixed name */
		tmp = cJSON_CreateObject();
		cJSON_AddItemReferenceToObject(tmp, "args", (cJSON *)args);
	}
	int rc = (get_str(o, "checkid", NULL, &d->id, err, errlen) ||
	          (!d->id[0] && (free(d->id), get_str(o, "id", "", &d->id, err, errlen))) ||
	          get_str(o, "name", "", &d->name, err, errlen) ||
	          get_str(o, "notes", "", &d->notes, err, errlen) ||
	          get_str(o, "serviceid", "", &d->service_id, err, errlen) ||
	          get_str(o, "status", "", &status, err, errlen) ||
	          get_strlist(tmp ? tmp : o, "args", &d->args, &d->nargs, err, errlen) ||
	          get_str(o, "http", "", &d->http, err, errlen) ||
	          get_str(o, "method", "", &d->method, err, errlen) ||
	          get_str(o, "tcp", "", &d->tcp, err, errlen) ||
	          get_dur(o, "interval", &d->interval_ms, err, errlen) ||
	          get_dur(o, "timeout", &d->timeout_ms, err, errlen) ||
	          get_dur(o, "ttl", &d->ttl_ms, err, errlen))
	             ? -1
	             : 0;
	cJSON_Delete(tmp);
	if (rc == 0 && status[0] && !(d->status = catalog_status_parse(status)))
		rc = fail(err, errlen, "Invalid check status: \"%s\"", status);
	free(status);
	if (rc)
		return -1;
	if (!d->status)
		d->status = CATALOG_CRITICAL;
	return chk_validate(d, err, errlen);
}

int local_svc_parse(const cJSON *o, struct local_svc_def *d, struct local_chk_def **checks,
                    size_t *nchecks, char *err, size_t errlen)
{
	memset(d, 0, sizeof(*d));
	*checks = NULL;
	*nchecks = 0;
	if (!cJSON_IsObject(o))
		return fail(err, errlen, "%s", "Request decode failed: the body must be a JSON object");
	const cJSON *w = field(o, "weights");
	if (get_str(o, "name", "", &d->name, err, errlen) ||
	    get_str(o, "id", "", &d->id, err, errlen) ||
	    get_str(o, "address", "", &d->address, err, errlen) ||
	    get_strlist(o, "tags", &d->tags, &d->ntags, err, errlen) ||
	    get_u32(o, "port", 0, 65535, &d->port, err, errlen) || get_meta(o, d, err, errlen) ||
	    (w && !cJSON_IsObject(w) &&
	     fail(err, errlen, "%s", "Request decode failed: Weights must be an object")) ||
	    get_u32(w, "passing", 1, 1u << 30, &d->weight_passing, err, errlen) ||
	    get_u32(w, "warning", 1, 1u << 30, &d->weight_warning, err, errlen))
		return -1;
	const cJSON *eto = field(o, "enabletagoverride");
	if (eto && !cJSON_IsBool(eto) && !cJSON_IsNull(eto))
		return fail(err, errlen, "%s", "Request decode failed: EnableTagOverride must be a bool");
	d->enable_tag_override = cJSON_IsTrue(eto);
	if (!d->name[0])
		return fail(err, errlen, "%s", "Missing service name");
	if (d->weight_passing < 1)
		return fail(err, errlen, "%s", "Passing must be greater than 0");
	if (!d->id[0]) {
		free(d->id);
		if (!(d->id = strdup(d->name)))
			return fail(err, errlen, "%s", "out of memory");
	}
	/* Check and Checks: Consul takes both and appends */
	const cJSON *defs[SVC_CHECKS_MAX];
	size_t n = 0;
	const cJSON *one = field(o, "check"), *many = field(o, "checks"), *e;
	if (one && !cJSON_IsNull(one))
		defs[n++] = one;
	if (many && !cJSON_IsNull(many)) {
		if (!cJSON_IsArray(many))
			return fail(err, errlen, "%s", "Request decode failed: Checks must be an array");
		cJSON_ArrayForEach(e, many)
		{
			if (n == SVC_CHECKS_MAX)
				return fail(err, errlen, "%s", "Invalid check: too many checks");
			defs[n++] = e;
		}
	}
	if (n && !(*checks = calloc(n, sizeof(**checks))))
		return fail(err, errlen, "%s", "out of memory");
	for (size_t i = 0; i < n; i++) {
		struct local_chk_def *c = &(*checks)[(*nchecks)++];
		if (local_chk_parse(defs[i], c, err, errlen))
			return -1;
		char buf[CATALOG_STR_MAX + 32];
		if (!c->id[0]) {
			if (n == 1)
				snprintf(buf, sizeof(buf), "service:%s", d->id);
			else
				snprintf(buf, sizeof(buf), "service:%s:%zu", d->id, i + 1);
			free(c->id);
			c->id = strdup(buf);
		}
		if (!c->name[0]) {
			snprintf(buf, sizeof(buf), "Service '%s' check", d->name);
			free(c->name);
			c->name = strdup(buf);
		}
		free(c->service_id);
		c->service_id = strdup(d->id);
		if (!c->id || !c->name || !c->service_id)
			return fail(err, errlen, "%s", "out of memory");
	}
	return 0;
}

static void free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void local_svc_def_free(struct local_svc_def *d)
{
	free(d->id);
	free(d->name);
	free(d->address);
	free_list(d->tags, d->ntags);
	for (size_t i = 0; i < d->nmeta; i++) {
		free((char *)d->meta[i].key);
		free((char *)d->meta[i].value);
	}
	free(d->meta);
	memset(d, 0, sizeof(*d));
}

void local_chk_def_free(struct local_chk_def *d)
{
	free(d->id);
	free(d->name);
	free(d->notes);
	free(d->service_id);
	free_list(d->args, d->nargs);
	free(d->http);
	free(d->method);
	free(d->tcp);
	memset(d, 0, sizeof(*d));
}

const char *check_kind_name(enum check_kind k)
{
	switch (k) {
	case CHECK_TTL:
		return "ttl";
	case CHECK_SCRIPT:
		return "script";
	case CHECK_HTTP:
		return "http";
	case CHECK_TCP:
		return "tcp";
	case CHECK_MAINT:
		return "maintenance";
	}
	return "";
}

static cJSON *strlist_json(char *const *v, size_t n)
{
	cJSON *a = cJSON_CreateArray();
	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(v[i]));
	return a;
}

static void add_dur(cJSON *o, const char *key, uint64_t ms)
{
	char b[32];
	if (ms)
		cJSON_AddStringToObject(o, key, cc_duration_format(ms, b, sizeof(b)));
}

cJSON *local_chk_def_json(const struct local_chk_def *d)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "ID", d->id);
	cJSON_AddStringToObject(o, "Name", d->name);
	cJSON_AddStringToObject(o, "Notes", d->notes);
	cJSON_AddStringToObject(o, "ServiceID", d->service_id);
	cJSON_AddStringToObject(o, "Status", catalog_status_name(d->status));
	if (d->nargs)
		cJSON_AddItemToObject(o, "Args", strlist_json(d->args, d->nargs));
	if (d->http[0]) {
		cJSON_AddStringToObject(o, "HTTP", d->http);
		cJSON_AddStringToObject(o, "Method", d->method);
	}
	if (d->tcp[0])
		cJSON_AddStringToObject(o, "TCP", d->tcp);
	add_dur(o, "Interval", d->interval_ms);
	add_dur(o, "Timeout", d->kind == CHECK_TTL ? 0 : d->timeout_ms);
	add_dur(o, "TTL", d->ttl_ms);
	return o;
}

/* A definition names its service "Name"; AgentService calls it "Service". */
static cJSON *svc_json(const struct local_svc_def *d, const char *name_key)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "ID", d->id);
	cJSON_AddStringToObject(o, name_key, d->name);
	cJSON_AddItemToObject(o, "Tags", strlist_json(d->tags, d->ntags));
	cJSON_AddStringToObject(o, "Address", d->address);
	cJSON *m = cJSON_AddObjectToObject(o, "Meta");
	for (size_t i = 0; i < d->nmeta; i++)
		cJSON_AddStringToObject(m, d->meta[i].key, d->meta[i].value);
	cJSON_AddNumberToObject(o, "Port", d->port);
	cJSON *w = cJSON_AddObjectToObject(o, "Weights");
	cJSON_AddNumberToObject(w, "Passing", d->weight_passing);
	cJSON_AddNumberToObject(w, "Warning", d->weight_warning);
	cJSON_AddBoolToObject(o, "EnableTagOverride", d->enable_tag_override);
	return o;
}

cJSON *local_svc_def_json(const struct local_svc_def *d)
{
	return svc_json(d, "Name");
}

cJSON *local_service_json(const struct local_service *s)
{
	return svc_json(&s->d, "Service");
}

cJSON *local_check_json(const struct cc_agent *a, const struct local_check *c)
{
	struct catalog_check k;
	local_check_view(a, c, &k);
	return cat_json_check(&k);
}
