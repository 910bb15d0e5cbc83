/* The agent's local services and checks: the state, the agent endpoints
 * that change it, and the file that keeps API registrations across restarts
 * (see agent_local.h). */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/agent_internal.h"
#include "agent/agent_local.h"
#include "config/config.h"
#include "log/log.h"
#include "util/fileio.h"

#define MOD "agent"
#define NODE_MAINT_ID "_node_maintenance"
#define SVC_MAINT_PREFIX "_service_maintenance:"
#define DEFAULT_REASON "Maintenance mode is enabled for this node, but no reason was provided. " \
                       "This is a default message."
#define SCRIPTS_DISABLED "Scripts are disabled on this agent from remote calls; to enable, " \
                         "configure 'enable_script_checks' to true"

/* ---- state ---- */

struct local_service *local_service_find(struct agent_local *l, const char *id)
{
	for (struct local_service *s = l->services; s; s = s->next)
		if (strcmp(s->d.id, id) == 0)
			return s;
	return NULL;
}

struct local_check *local_check_find(struct agent_local *l, const char *id)
{
	for (struct local_check *c = l->checks; c; c = c->next)
		if (strcmp(c->d.id, id) == 0)
			return c;
	return NULL;
}

static void check_free(struct local_check *c)
{
	check_run_stop(c);
	local_chk_def_free(&c->d);
	free(c->service_name);
	free(c->output);
	free(c);
}

void local_forget(struct agent_local *l, struct local_service *s, struct local_check *c)
{
	for (struct local_check **pp = &l->checks; *pp;) {
		struct local_check *x = *pp;
		if (x == c || (s && x->deleted && strcmp(x->d.service_id, s->d.id) == 0)) {
			*pp = x->next;
			check_free(x);
		} else {
			pp = &x->next;
		}
	}
	for (struct local_service **pp = &l->services; s && *pp; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			local_svc_def_free(&s->d);
			free(s);
			break;
		}
	}
}

void local_service_view(const struct local_service *s, struct catalog_service *out)
{
	*out = (struct catalog_service){ .id = s->d.id, .service = s->d.name, .address = s->d.address,
		                         .tags = (const char *const *)s->d.tags, .ntags = s->d.ntags,
		                         .meta = s->d.meta, .nmeta = s->d.nmeta, .port = s->d.port,
		                         .weight_passing = s->d.weight_passing,
		                         .weight_warning = s->d.weight_warning,
		                         .enable_tag_override = s->d.enable_tag_override };
}

void local_check_view(const struct cc_agent *a, const struct local_check *c,
                      struct catalog_check *out)
{
	struct local_service *s = c->d.service_id[0] ? local_service_find(a->local, c->d.service_id)
	                                             : NULL;
	*out = (struct catalog_check){
		.node = a->cfg->node_name, .check_id = c->d.id, .name = c->d.name,
		.notes = c->d.notes, .output = c->output, .service_id = c->d.service_id,
		.service_name = c->service_name,
		.type = c->d.kind == CHECK_MAINT ? "" : check_kind_name(c->d.kind),
		.service_tags = s ? (const char *const *)s->d.tags : NULL,
		.nservice_tags = s ? s->d.ntags : 0, .status = c->status
	};
}

void local_check_update(struct local_check *c, enum catalog_status st, const char *output)
{
	char buf[CHECK_OUTPUT_MAX + 1];
	snprintf(buf, sizeof(buf), "%s", output ? output : "");
	bool changed = st != c->status;
	if (!changed && strcmp(buf, c->output) == 0)
		return;
	char *o = strdup(buf);
	if (!o)
		return;
	free(c->output);
	c->output = o;
	c->status = st;
	c->in_sync = false;
	c->version++;
	if (st == CATALOG_CRITICAL)
		CC_WARN(MOD, "Check is now critical", "check", c->d.id);
	else
		CC_DEBUG(MOD, "Check status updated", "check", c->d.id, "status",
		         catalog_status_name(st));
	/* Consul pushes a status change at once and an output-only change at
	 * most every check_update_interval: here with the next sync */
	if (changed)
		agent_sync_changes(c->a);
}

/* Adds or replaces a check (takes d over); starts its runner. */
static int check_add(struct cc_agent *a, struct local_chk_def *d, bool from_api, char *err,
                     size_t errlen)
{
	struct agent_local *l = a->local;
	struct local_service *s = d->service_id[0] ? local_service_find(l, d->service_id) : NULL;
	if (d->service_id[0] && (!s || s->deleted)) {
		snprintf(err, errlen, "ServiceID \"%s\" does not exist", d->service_id);
		local_chk_def_free(d);
		return -1;
	}
	char *sname = strdup(s ? s->d.name : ""), *out = strdup("");
	struct local_check *c = local_check_find(l, d->id);
	bool fresh = !c;
	if (fresh)
		c = calloc(1, sizeof(*c));
	if (!c || !sname || !out) {
		free(sname);
		free(out);
		if (fresh)
			free(c);
		local_chk_def_free(d);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (fresh) {
		c->next = l->checks;
		l->checks = c;
	}
	/* replaced in place (the syncer may hold it): the catalog entry is
	 * updated; a live check of the same kind keeps its last result, as
	 * Consul keeps it across a re-registration or a reload */
	bool keep = !fresh && !c->deleted && c->d.kind == d->kind;
	enum catalog_status st = keep ? c->status : d->status;
	if (!fresh) {
		check_run_stop(c);
		local_chk_def_free(&c->d);
		free(c->service_name);
		if (keep) {
			free(out);
			out = c->output;
		} else {
			free(c->output);
		}
	}
	c->d = *d;
	memset(d, 0, sizeof(*d));
	c->service_name = sname;
	c->output = out;
	c->a = a;
	c->status = st;
	c->from_api = from_api;
	c->in_sync = c->deleted = false;
	c->version++;
	if (check_run_start(a, c)) {
		CC_ERROR(MOD, "failed to start check", "check", c->d.id);
		local_check_update(c, CATALOG_CRITICAL, "the check could not be started");
	}
	return 0;
}

static void check_remove(struct local_check *c)
{
	check_run_stop(c);
	c->deleted = true;
	c->in_sync = false;
	c->version++;
}

/* Consul warns when a service name cannot be a DNS label. */
static void dns_name_warning(const char *name)
{
	bool bad = false;
	for (const char *p = name; *p && !bad; p++)
		bad = !isalnum((unsigned char)*p) && *p != '-';
	if (bad)
		CC_WARN(MOD, "Service name will not be discoverable via DNS due to invalid characters. "
		             "Valid characters include all alpha-numerics and dashes.",
		        "service", name);
	else if (strlen(name) > 63)
		CC_WARN(MOD, "Service name will not be discoverable via DNS due to it being too long. "
		             "Valid lengths are between 1 and 63 bytes.",
		        "service", name);
}

/* Adds or replaces a service with its checks (takes both over). */
static int service_add(struct cc_agent *a, struct local_svc_def *d, struct local_chk_def *checks,
                       size_t nchecks, bool from_api, bool replace_checks, char *err,
                       size_t errlen)
{
	struct agent_local *l = a->local;
	struct local_service *s = local_service_find(l, d->id);
	if (!s) {
		if (!(s = calloc(1, sizeof(*s)))) {
			snprintf(err, errlen, "out of memory");
			local_svc_def_free(d);
			for (size_t i = 0; i < nchecks; i++)
				local_chk_def_free(&checks[i]);
			free(checks);
			return -1;
		}
		s->next = l->services;
		l->services = s;
	} else {
		local_svc_def_free(&s->d);
	}
	s->d = *d;
	memset(d, 0, sizeof(*d));
	dns_name_warning(s->d.name);
	s->in_sync = s->deleted = false;
	s->from_api = from_api;
	s->version++;
	if (replace_checks)
		for (struct local_check *c = l->checks; c; c = c->next) {
			bool keep = false;
			for (size_t i = 0; i < nchecks && !keep; i++)
				keep = strcmp(checks[i].id, c->d.id) == 0;
			if (!keep && !c->deleted && strcmp(c->d.service_id, s->d.id) == 0)
				check_remove(c);
		}
	int rc = 0;
	for (size_t i = 0; i < nchecks; i++)
		if (rc == 0)
			rc = check_add(a, &checks[i], from_api, err, errlen);
		else
			local_chk_def_free(&checks[i]);
	free(checks);
	return rc;
}

/* ---- what the API registered, kept in data_dir ---- */

static void persist(struct cc_agent *a)
{
	char dir[1024], path[1100];
	snprintf(dir, sizeof(dir), "%s/local", a->cfg->data_dir);
	snprintf(path, sizeof(path), "%s/registered.json", dir);
	cJSON *root = cJSON_CreateObject(), *svcs = cJSON_AddArrayToObject(root, "Services"),
	      *chks = cJSON_AddArrayToObject(root, "Checks");
	for (struct local_service *s = a->local->services; s; s = s->next)
		if (s->from_api && !s->deleted)
			cJSON_AddItemToArray(svcs, local_svc_def_json(&s->d));
	for (struct local_check *c = a->local->checks; c; c = c->next)
		if (c->from_api && !c->deleted && c->d.kind != CHECK_MAINT)
			cJSON_AddItemToArray(chks, local_chk_def_json(&c->d));
	/* maintenance mode too, as Consul persists its maintenance checks */
	cJSON *maint = cJSON_AddArrayToObject(root, "Maintenance");
	for (struct local_check *c = a->local->checks; c; c = c->next) {
		if (c->deleted || c->d.kind != CHECK_MAINT)
			continue;
		cJSON *m = cJSON_CreateObject();
		cJSON_AddStringToObject(m, "ServiceID", c->d.service_id);
		cJSON_AddStringToObject(m, "Reason", c->d.notes);
		cJSON_AddItemToArray(maint, m);
	}
	char *text = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	char err[4400];
	if (!text)
		snprintf(err, sizeof(err), "out of memory");
	else if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		snprintf(err, sizeof(err), "cannot create %s: %s", dir, strerror(errno));
	else if (cc_write_file_atomic(path, text, strlen(text), err, sizeof(err)) == 0)
		err[0] = '\0';
	if (err[0])
		CC_ERROR(MOD, "failed to persist local registrations", "path", path, "error", err);
	free(text);
}

static int maintenance_on(struct cc_agent *a, const char *service_id, const char *reason,
                          char *err, size_t errlen);

/* Restores what persist wrote; a damaged file is reported and skipped. */
static void restore(struct cc_agent *a)
{
	char path[1100];
	snprintf(path, sizeof(path), "%s/local/registered.json", a->cfg->data_dir);
	FILE *f = fopen(path, "re");
	if (!f)
		return;
	char *text = NULL;
	size_t cap = 0, len = 0, n;
	char buf[4096];
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		char *x = len + n + 1 > cap ? realloc(text, cap = (len + n + 1) * 2) : text;
		if (!x)
			break;
		text = x;
		memcpy(text + len, buf, n);
		len += n;
		text[len] = 0;
	}
	fclose(f);
	cJSON *root = text ? cJSON_Parse(text) : NULL;
	free(text);
	const cJSON *svcs = cJSON_GetObjectItemCaseSensitive(root, "Services");
	const cJSON *chks = cJSON_GetObjectItemCaseSensitive(root, "Checks"), *e;
	if (!cJSON_IsArray(svcs) || !cJSON_IsArray(chks)) {
		CC_ERROR(MOD, "ignoring a damaged file of local registrations", "path", path);
		cJSON_Delete(root);
		return;
	}
	char err[512];
	cJSON_ArrayForEach(e, svcs)
	{
		struct local_svc_def d;
		struct local_chk_def *c;
		size_t nc;
		if (local_svc_parse(e, &d, &c, &nc, err, sizeof(err)) ||
		    service_add(a, &d, c, nc, true, false, err, sizeof(err)))
			CC_ERROR(MOD, "failed to restore a service", "path", path, "error", err);
	}
	cJSON_ArrayForEach(e, chks)
	{
		struct local_chk_def d;
		if (local_chk_parse(e, &d, err, sizeof(err)) ||
		    check_add(a, &d, true, err, sizeof(err)))
			CC_ERROR(MOD, "failed to restore a check", "path", path, "error", err);
	}
	/* maintenance mode, for the node or for a service that is still there */
	const cJSON *maint = cJSON_GetObjectItemCaseSensitive(root, "Maintenance");
	cJSON_ArrayForEach(e, maint)
	{
		const cJSON *sid = cJSON_GetObjectItemCaseSensitive(e, "ServiceID");
		const cJSON *why = cJSON_GetObjectItemCaseSensitive(e, "Reason");
		if (!cJSON_IsString(sid) || !cJSON_IsString(why))
			continue;
		const char *svc = sid->valuestring[0] ? sid->valuestring : NULL;
		const struct local_service *ls = svc ? local_service_find(a->local, svc) : NULL;
		if (svc && (!ls || ls->deleted))
			continue;
		if (maintenance_on(a, svc, why->valuestring, err, sizeof(err)))
			CC_ERROR(MOD, "failed to restore maintenance mode", "path", path, "error", err);
	}
	cJSON_Delete(root);
}

/* ---- config-file services ---- */

static void add_strs(cJSON *o, const char *key, const struct cc_strlist *l)
{
	cJSON *arr = cJSON_AddArrayToObject(o, key);
	for (size_t i = 0; i < l->n; i++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(l->v[i]));
}

static void add_opt(cJSON *o, const char *key, const char *v)
{
	if (v)
		cJSON_AddStringToObject(o, key, v);
}

/* A config file's service as the API's JSON: one parser for both. */
static cJSON *config_service_json(const struct cc_service_def *s)
{
	cJSON *o = cJSON_CreateObject();
	add_opt(o, "id", s->id);
	add_opt(o, "name", s->name);
	add_opt(o, "address", s->address);
	cJSON_AddNumberToObject(o, "port", s->port);
	add_strs(o, "tags", &s->tags);
	cJSON *m = cJSON_AddObjectToObject(o, "meta");
	for (size_t i = 0; i < s->nmeta; i++)
		cJSON_AddStringToObject(m, s->meta[i].key, s->meta[i].value);
	cJSON_AddBoolToObject(o, "enable_tag_override", s->enable_tag_override);
	cJSON *checks = cJSON_AddArrayToObject(o, "checks");
	for (size_t i = 0; i < s->nchecks; i++)
		cJSON_AddItemToArray(checks, cc_check_def_json(&s->checks[i]));
	return o;
}

/* Adds (or replaces, checks and all) the services of a config. */
static int load_config_services(struct cc_agent *a, const struct cc_config *cfg, char *err,
                                size_t errlen)
{
	for (size_t i = 0; i < cfg->nservices; i++) {
		cJSON *o = config_service_json(&cfg->services[i]);
		struct local_svc_def d;
		struct local_chk_def *c;
		size_t nc;
		char why[512];
		int rc = local_svc_parse(o, &d, &c, &nc, why, sizeof(why));
		cJSON_Delete(o);
		if (rc == 0) {
			rc = service_add(a, &d, c, nc, false, true, why, sizeof(why));
		} else {
			local_svc_def_free(&d);
			for (size_t k = 0; k < nc; k++)
				local_chk_def_free(&c[k]);
			free(c);
		}
		if (rc) {
			snprintf(err, errlen, "Failed to register service \"%s\": %s", cfg->services[i].name,
			         why);
			return -1;
		}
	}
	return 0;
}

static int service_deregister(struct cc_agent *a, const char *id);

int agent_reload(struct cc_agent *a, char *err, size_t errlen)
{
	if (!a->argv) {
		snprintf(err, errlen, "this agent was started without config sources to reload");
		return -1;
	}
	CC_INFO(MOD, "Reloading configuration...");
	struct cc_config *nc = cc_config_new();
	struct cc_config_err ce = { "" };
	if (!nc || cc_config_apply_flags(nc, a->argc, a->argv, &ce) || cc_config_finalize(nc, &ce)) {
		snprintf(err, errlen, "Failed to parse config: %s", nc ? ce.msg : "out of memory");
		cc_config_free(nc);
		return -1;
	}
	cc_log_set_level(nc->log_level);
	/* config-file services gone from the files go; the others are replaced */
	for (struct local_service *s = a->local->services; s; s = s->next) {
		bool keep = s->from_api || s->deleted;
		for (size_t i = 0; i < nc->nservices && !keep; i++)
			keep = strcmp(nc->services[i].id, s->d.id) == 0;
		if (!keep)
			service_deregister(a, s->d.id);
	}
	int rc = load_config_services(a, nc, err, errlen);
	cc_config_free(nc);
	agent_sync_changes(a);
	return rc;
}

void agent_h_reload(void *ud, const struct cc_http_req *req, struct cc_http_resp *resp)
{
	struct cc_agent *a = ud;
	char err[1024];
	if (!a->local)
		cc_http_error(resp, 503, "the agent is starting");
	else if (agent_reload(a, err, sizeof(err)))
		cc_http_error(resp, 500, "%s", err);
}

int agent_local_start(struct cc_agent *a, char *err, size_t errlen)
{
	if (!(a->local = calloc(1, sizeof(*a->local)))) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (load_config_services(a, a->cfg, err, errlen))
		return -1;
	restore(a);
	return agent_sync_start(a);
}

void agent_local_stop(struct cc_agent *a)
{
	if (!a->local)
		return;
	agent_sync_stop(a);
	while (a->local->checks) {
		struct local_check *c = a->local->checks;
		a->local->checks = c->next;
		check_free(c);
	}
	while (a->local->services) {
		struct local_service *s = a->local->services;
		a->local->services = s->next;
		local_svc_def_free(&s->d);
		free(s);
	}
	free(a->local->node_reason);
	free(a->local);
	a->local = NULL;
}

/* ---- endpoints ---- */

static void h_services(struct cc_agent *a, const struct cc_http_req *req,
                       struct cc_http_resp *resp)
{
	cJSON *o = cJSON_CreateObject();
	for (struct local_service *s = a->local->services; s; s = s->next)
		if (!s->deleted)
			cJSON_AddItemToObject(o, s->d.id, local_service_json(s));
	cc_http_json(req, resp, o);
	cJSON_Delete(o);
}

static void h_checks(struct cc_agent *a, const struct cc_http_req *req, struct cc_http_resp *resp)
{
	cJSON *o = cJSON_CreateObject();
	for (struct local_check *c = a->local->checks; c; c = c->next)
		if (!c->deleted)
			cJSON_AddItemToObject(o, c->d.id, local_check_json(a, c));
	cc_http_json(req, resp, o);
	cJSON_Delete(o);
}

static cJSON *body_json(const struct cc_http_req *req, struct cc_http_resp *resp)
{
	cJSON *o = req->body_len ? cJSON_ParseWithLength(req->body, req->body_len) : NULL;
	if (!o)
		cc_http_error(resp, 400, "Request decode failed: %s",
		              req->body_len ? "the body is not valid JSON" : "the body is empty");
	return o;
}

static bool has_script(const struct local_chk_def *c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (c[i].kind == CHECK_SCRIPT)
			return true;
	return false;
}

static void h_service_register(struct cc_agent *a, const struct cc_http_req *req,
                               struct cc_http_resp *resp)
{
	const char *rep = cc_http_query(req, "replace-existing-checks");
	bool replace = rep && (!rep[0] || strcmp(rep, "true") == 0 || strcmp(rep, "1") == 0);
	cJSON *o = body_json(req, resp);
	if (!o)
		return;
	struct local_svc_def d;
	struct local_chk_def *c;
	size_t nc;
	char err[512];
	int rc = local_svc_parse(o, &d, &c, &nc, err, sizeof(err));
	cJSON_Delete(o);
	if (rc == 0 && has_script(c, nc) && !a->cfg->enable_script_checks) {
		snprintf(err, sizeof(err), SCRIPTS_DISABLED);
		rc = -2;
	}
	if (rc) {
		local_svc_def_free(&d);
		for (size_t i = 0; i < nc; i++)
			local_chk_def_free(&c[i]);
		free(c);
		cc_http_error(resp, rc == -2 ? 500 : 400, "%s", err);
		return;
	}
	if (service_add(a, &d, c, nc, true, replace, err, sizeof(err))) {
		cc_http_error(resp, 500, "%s", err);
		return;
	}
	persist(a);
	agent_sync_changes(a);
}

static int service_deregister(struct cc_agent *a, const char *id)
{
	struct local_service *s = local_service_find(a->local, id);
	if (!s || s->deleted)
		return -1;
	s->deleted = true;
	s->in_sync = false;
	s->version++;
	for (struct local_check *c = a->local->checks; c; c = c->next)
		if (!c->deleted && strcmp(c->d.service_id, id) == 0)
			check_remove(c);
	return 0;
}

static void h_check_register(struct cc_agent *a, const struct cc_http_req *req,
                             struct cc_http_resp *resp)
{
	cJSON *o = body_json(req, resp);
	if (!o)
		return;
	struct local_chk_def d;
	char err[512];
	int rc = local_chk_parse(o, &d, err, sizeof(err));
	cJSON_Delete(o);
	if (rc == 0 && !d.name[0]) {
		snprintf(err, sizeof(err), "Missing check name");
		rc = -1;
	}
	if (rc == 0 && d.kind == CHECK_SCRIPT && !a->cfg->enable_script_checks) {
		snprintf(err, sizeof(err), SCRIPTS_DISABLED);
		rc = -2;
	}
	if (rc == 0 && !d.id[0]) {
		free(d.id);
		d.id = strdup(d.name);
	}
	if (rc) {
		local_chk_def_free(&d);
		cc_http_error(resp, rc == -2 ? 500 : 400, "%s", err);
		return;
	}
	if (check_add(a, &d, true, err, sizeof(err))) {
		cc_http_error(resp, 400, "%s", err);
		return;
	}
	persist(a);
	agent_sync_changes(a);
}

/* PUT /v1/agent/check/pass|warn|fail/ID?note= and /update/ID {Status, Output}. */
static void h_check_ttl(struct cc_agent *a, const struct cc_http_req *req,
                        struct cc_http_resp *resp, const char *verb, const char *id)
{
	enum catalog_status st = strcmp(verb, "pass") == 0   ? CATALOG_PASSING
	                         : strcmp(verb, "warn") == 0 ? CATALOG_WARNING
	                                                     : CATALOG_CRITICAL;
	const char *note = cc_http_query(req, "note");
	cJSON *o = NULL;
	if (strcmp(verb, "update") == 0) {
		if (!(o = body_json(req, resp)))
			return;
		const cJSON *s = cJSON_GetObjectItem(o, "Status"), *out = cJSON_GetObjectItem(o, "Output");
		if (!cJSON_IsString(s) || !(st = catalog_status_parse(s->valuestring))) {
			cc_http_error(resp, 400, "Invalid check status: \"%s\"",
			              cJSON_IsString(s) ? s->valuestring : "");
			cJSON_Delete(o);
			return;
		}
		note = cJSON_IsString(out) ? out->valuestring : "";
	}
	struct local_check *c = local_check_find(a->local, id);
	if (!c || c->deleted || c->d.kind != CHECK_TTL)
		cc_http_error(resp, 500, "CheckID \"%s\" does not have associated TTL", id);
	else {
		local_check_update(c, st, note ? note : "");
		check_run_ttl_reset(c);
	}
	cJSON_Delete(o);
}

/* Maintenance mode: a critical check on the node or on one service. */
static void maint_id(char *id, size_t cap, const char *service_id)
{
	snprintf(id, cap, "%s%s", service_id ? SVC_MAINT_PREFIX : NODE_MAINT_ID,
	         service_id ? service_id : "");
}

/* Turns maintenance on (a no-op when it is on: Consul keeps the first
 * reason). 0, or -1 with err set. */
static int maintenance_on(struct cc_agent *a, const char *service_id, const char *reason,
                          char *err, size_t errlen)
{
	char id[CATALOG_STR_MAX + 32];
	maint_id(id, sizeof(id), service_id);
	struct local_check *old = local_check_find(a->local, id);
	if (old && !old->deleted)
		return 0;
	struct local_chk_def d = {
		.id = strdup(id),
		.name = strdup(service_id ? "Service Maintenance Mode" : "Node Maintenance Mode"),
		.notes = strdup(reason && reason[0] ? reason : DEFAULT_REASON),
		.service_id = strdup(service_id ? service_id : ""), .kind = CHECK_MAINT,
		.status = CATALOG_CRITICAL, .http = strdup(""), .method = strdup(""), .tcp = strdup("")
	};
	if (!d.id || !d.name || !d.notes || !d.service_id || !d.http || !d.method || !d.tcp) {
		local_chk_def_free(&d);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (check_add(a, &d, true, err, errlen))
		return -1;
	CC_INFO(MOD, service_id ? "Service entered maintenance mode" : "Node entered maintenance mode",
	        service_id ? "service" : NULL, service_id);
	return 0;
}

static int maintenance(struct cc_agent *a, const struct cc_http_req *req,
                       struct cc_http_resp *resp, const char *service_id)
{
	const char *en = cc_http_query(req, "enable"), *reason = cc_http_query(req, "reason");
	if (!en) {
		cc_http_error(resp, 400, "Missing value for enable");
		return -1;
	}
	if (strcmp(en, "true") != 0 && strcmp(en, "false") != 0) {
		cc_http_error(resp, 400, "Invalid value for enable: \"%s\"", en);
		return -1;
	}
	if (strcmp(en, "false") == 0) {
		char id[CATALOG_STR_MAX + 32];
		maint_id(id, sizeof(id), service_id);
		struct local_check *old = local_check_find(a->local, id);
		if (old && !old->deleted) {
			check_remove(old);
			CC_INFO(MOD, service_id ? "Service left maintenance mode" : "Node left maintenance mode",
			        service_id ? "service" : NULL, service_id);
			persist(a);
		}
		return 0;
	}
	char err[512];
	if (maintenance_on(a, service_id, reason, err, sizeof(err))) {
		cc_http_error(resp, 500, "%s", err);
		return -1;
	}
	persist(a);
	return 0;
}

static void h_service(struct cc_agent *a, const struct cc_http_req *req,
                      struct cc_http_resp *resp)
{
	const char *sfx = req->suffix;
	bool put = strcmp(req->method, "PUT") == 0;
	if (strcmp(sfx, "register") == 0) {
		if (!put)
			goto not_allowed;
		h_service_register(a, req, resp);
	} else if (strncmp(sfx, "deregister/", 11) == 0) {
		if (!put)
			goto not_allowed;
		if (service_deregister(a, sfx + 11))
			cc_http_error(resp, 404, "Unknown service ID \"%s\". Ensure that the service ID "
			              "is passed, not the service name.", sfx + 11);
		else {
			persist(a);
			agent_sync_changes(a);
		}
	} else if (strncmp(sfx, "maintenance/", 12) == 0) {
		if (!put)
			goto not_allowed;
		struct local_service *s = local_service_find(a->local, sfx + 12);
		if (!s || s->deleted)
			cc_http_error(resp, 404, "Unknown service ID \"%s\"", sfx + 12);
		else if (maintenance(a, req, resp, sfx + 12) == 0)
			agent_sync_changes(a);
	} else {
		if (put)
			goto not_allowed;
		struct local_service *s = sfx[0] ? local_service_find(a->local, sfx) : NULL;
		if (!s || s->deleted) {
			cc_http_error(resp, 404, "unknown service ID: %s", sfx);
			return;
		}
		cJSON *j = local_service_json(s);
		cc_http_json(req, resp, j);
		cJSON_Delete(j);
	}
	return;
not_allowed:
	snprintf(resp->allow, sizeof(resp->allow), "%s", put ? "GET" : "PUT");
	cc_http_error(resp, 405, "method %s not allowed", req->method);
}

static void h_check(struct cc_agent *a, const struct cc_http_req *req, struct cc_http_resp *resp)
{
	const char *sfx = req->suffix;
	static const char *const ttl[] = { "pass/", "warn/", "fail/", "update/" };
	if (strcmp(sfx, "register") == 0) {
		h_check_register(a, req, resp);
		return;
	}
	if (strncmp(sfx, "deregister/", 11) == 0) {
		struct local_check *c = local_check_find(a->local, sfx + 11);
		if (!c || c->deleted) {
			cc_http_error(resp, 404, "Unknown check ID \"%s\". Ensure that the check ID is "
			              "passed, not the check name.", sfx + 11);
			return;
		}
		check_remove(c);
		persist(a);
		agent_sync_changes(a);
		return;
	}
	for (size_t i = 0; i < 4; i++) {
		size_t n = strlen(ttl[i]);
		if (strncmp(sfx, ttl[i], n) == 0) {
			char verb[8];
			snprintf(verb, sizeof(verb), "%.*s", (int)n - 1, ttl[i]);
			h_check_ttl(a, req, resp, verb, sfx + n);
			return;
		}
	}
	cc_http_error(resp, 404, "Invalid URL path: not an agent check endpoint");
}

void agent_h_local(void *ud, const struct cc_http_req *req, struct cc_http_resp *resp)
{
	struct cc_agent *a = ud;
	if (!a->local) {
		cc_http_error(resp, 503, "the agent is starting");
		return;
	}
	if (strcmp(req->path, "/v1/agent/services") == 0)
		h_services(a, req, resp);
	else if (strcmp(req->path, "/v1/agent/checks") == 0)
		h_checks(a, req, resp);
	else if (strcmp(req->path, "/v1/agent/maintenance") == 0) {
		if (maintenance(a, req, resp, NULL) == 0)
			agent_sync_changes(a);
	} else if (strncmp(req->path, "/v1/agent/service/", 18) == 0)
		h_service(a, req, resp);
	else
		h_check(a, req, resp);
}
