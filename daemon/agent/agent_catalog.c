/* The catalog and health endpoints (reference §5.3, §5.4), backed by the
 * replicated catalog: reads in Consul's three modes with blocking queries
 * (the machinery the KV endpoints use, agent_query.c), writes through Raft,
 * and on client agents forwarded to a server like KV requests. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent/agent_internal.h"
#include "catalog/catalog.h"
#include "log/log.h"

struct ep_route {
	const char *path;
	int ep;
	bool named;
	const char *missing;   /* 400 text when the name is missing */
};

static const struct ep_route eps[] = {
	{ "/v1/catalog/nodes", CAT_NODES, false, NULL },
	{ "/v1/catalog/services", CAT_SERVICES, false, NULL },
	{ "/v1/catalog/service/", CAT_SERVICE, true, "Missing service name" },
	{ "/v1/catalog/node/", CAT_NODE, true, "Missing node name" },
	{ "/v1/catalog/register", CAT_REGISTER, false, NULL },
	{ "/v1/catalog/deregister", CAT_DEREGISTER, false, NULL },
	{ "/v1/health/node/", HEALTH_NODE, true, "Missing node name" },
	{ "/v1/health/checks/", HEALTH_CHECKS, true, "Missing service name" },
	{ "/v1/health/service/", HEALTH_SERVICE, true, "Missing service name" },
	{ "/v1/health/state/", HEALTH_STATE, true, "Missing check state" },
};

static const struct ep_route *route_of(int ep)
{
	for (size_t i = 0; i < sizeof(eps) / sizeof(eps[0]); i++)
		if (eps[i].ep == ep)
			return &eps[i];
	return NULL;
}

static bool is_write(int ep)
{
	return ep == CAT_REGISTER || ep == CAT_DEREGISTER;
}

void cat_params_free(struct cat_params *p)
{
	free(p->name);
	free(p->tag);
	free(p->node_meta);
	free(p->body);
	memset(p, 0, sizeof(*p));
}

int cat_params_check(const struct cat_params *p, struct cc_http_resp *resp)
{
	const struct ep_route *r = route_of(p->ep);
	if (!r || !p->name || !p->tag || !p->node_meta) {
		cc_http_error(resp, 400, "Invalid request");
		return -1;
	}
	if (r->named && !p->name[0]) {
		cc_http_error(resp, 400, "%s", r->missing);
		return -1;
	}
	if (p->node_meta[0] && !strchr(p->node_meta, ':')) {
		cc_http_error(resp, 400, "Invalid node-meta: \"%.64s\" is not KEY:VALUE", p->node_meta);
		return -1;
	}
	if (strlen(p->name) > CATALOG_STR_MAX || strlen(p->tag) > CATALOG_STR_MAX ||
	    strlen(p->node_meta) > CATALOG_STR_MAX) {
		cc_http_error(resp, 400, "Invalid %s: longer than %d bytes",
		              strlen(p->name) > CATALOG_STR_MAX ? "name" : "tag", CATALOG_STR_MAX);
		return -1;
	}
	if (p->ep == HEALTH_STATE && strcmp(p->name, "any") != 0 && !catalog_status_parse(p->name)) {
		cc_http_error(resp, 400, "Invalid check state: %.64s", p->name);
		return -1;
	}
	if (is_write(p->ep)) {
		struct catalog_decoded d;
		int rc = catalog_cmd_decode(p->body, p->body_len, &d);
		bool ok = rc == 0 && (int)d.cmd.op == (p->ep == CAT_REGISTER ? CATALOG_OP_REGISTER
		                                                            : CATALOG_OP_DEREGISTER);
		catalog_cmd_free(&d);
		if (!ok) {
			cc_http_error(resp, 400, "Request decode failed: malformed catalog command");
			return -1;
		}
	}
	return 0;
}

/* Go's strconv.ParseBool, which Consul uses for ?passing. */
static int parse_bool(const char *v, bool *out)
{
	static const char *const t[] = { "", "1", "t", "T", "TRUE", "true", "True" };
	static const char *const f[] = { "0", "f", "F", "FALSE", "false", "False" };
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strcmp(v, t[i]) == 0)
			return *out = true, 0;
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		if (strcmp(v, f[i]) == 0)
			return *out = false, 0;
	return -1;
}

static int params_parse(const struct cc_agent *a, const struct cc_http_req *req, int ep,
                        struct cat_params *p, struct cc_http_resp *resp)
{
	memset(p, 0, sizeof(*p));
	p->ep = ep;
	p->pretty = cc_http_query(req, "pretty") != NULL;
	if (agent_read_mode(req, &p->mode, resp) ||
	    agent_blocking_parse(req, &p->blocking, &p->index, &p->wait_ms, resp))
		return -1;
	const char *passing = cc_http_query(req, "passing"), *tag = cc_http_query(req, "tag");
	const char *dc = cc_http_query(req, "dc"), *meta = cc_http_query(req, "node-meta");
	/* one datacenter: no WAN federation of catalogs (Consul's text for an
	 * unknown one) */
	if (dc && dc[0] && strcmp(dc, a->cfg->datacenter) != 0) {
		cc_http_error(resp, 500, "No path to datacenter");
		return -1;
	}
	if (passing && parse_bool(passing, &p->passing)) {
		cc_http_error(resp, 400, "Invalid value for ?passing");
		return -1;
	}
	p->has_tag = tag != NULL;
	p->name = strdup(route_of(ep)->named ? req->suffix : "");
	p->tag = strdup(tag ? tag : "");
	p->node_meta = strdup(meta ? meta : "");
	if (!p->name || !p->tag || !p->node_meta) {
		cat_params_free(p);
		cc_http_error(resp, 500, "out of memory");
		return -1;
	}
	if (is_write(ep)) {
		char err[256];
		int rc = ep == CAT_REGISTER
		                 ? cat_parse_register(req->body, req->body_len, a->cfg->datacenter,
		                                      &p->body, &p->body_len, err, sizeof(err))
		                 : cat_parse_deregister(req->body, req->body_len, a->cfg->datacenter,
		                                        &p->body, &p->body_len, err, sizeof(err));
		if (rc) {
			cat_params_free(p);
			cc_http_error(resp, strcmp(err, "No path to datacenter") == 0 ? 500 : 400, "%s",
			              err);
			return -1;
		}
	}
	if (cat_params_check(p, resp)) {
		cat_params_free(p);
		return -1;
	}
	return 0;
}

/* ---- running a request on a server ---- */

struct cat_call {
	struct agent_watch w;
	struct cc_agent *a;
	struct cat_params p;
	struct cc_http_pending *pending;
	struct tr_call *call;
	char path[256];
};

static void cat_finish(struct cat_call *c, struct cc_http_resp *resp)
{
	if (resp->status >= 500 && resp->body)
		CC_ERROR("agent.http", "Request error", "method", is_write(c->p.ep) ? "PUT" : "GET",
		         "url", c->path, "error", resp->body);
	agent_answer(c->pending, c->call, resp);
	cat_params_free(&c->p);
	free(c);
}

/* The X-Consul-Index of an answer (Consul's table or service index). */
static uint64_t answer_index(const struct catalog *cat, const struct cat_params *p)
{
	switch (p->ep) {
	case CAT_NODES:
		return catalog_nodes_index(cat);
	case CAT_SERVICES:
		return catalog_services_index(cat);
	case CAT_NODE: {
		uint64_t n = catalog_nodes_index(cat), s = catalog_services_index(cat);
		return n > s ? n : s;
	}
	case CAT_SERVICE:
	case HEALTH_CHECKS:
	case HEALTH_SERVICE:
		return catalog_service_index(cat, p->name);
	default:
		return catalog_checks_index(cat);
	}
}

static uint64_t cat_call_index(void *ud)
{
	struct cat_call *c = ud;
	return answer_index(cc_server_catalog(c->a->server), &c->p);
}

static bool has_tag(const struct catalog_service *s, const char *tag)
{
	for (size_t i = 0; i < s->ntags; i++)
		if (strcasecmp(s->tags[i], tag) == 0)
			return true;
	return false;
}

struct name_tag {
	const char *name, *tag;   /* tag NULL: the name alone */
};

static int name_tag_cmp(const void *a, const void *b)
{
	const struct name_tag *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	if (c || (!x->tag && !y->tag))
		return c;
	return !x->tag ? -1 : !y->tag ? 1 : strcmp(x->tag, y->tag);
}

/* ?node-meta=KEY:VALUE: the node has that pair (Consul's NodeMetaFilters). */
static bool meta_match(const struct catalog_node *n, const char *kv)
{
	const char *colon = strchr(kv, ':');
	if (!kv[0] || !colon)
		return true;
	size_t kl = (size_t)(colon - kv);
	for (size_t i = 0; i < n->nmeta; i++)
		if (strlen(n->meta[i].key) == kl && strncmp(n->meta[i].key, kv, kl) == 0)
			return strcmp(n->meta[i].value, colon + 1) == 0;
	return false;
}

/* /v1/catalog/services: name -> its instances' tags, unique and sorted. */
static cJSON *services_json(const struct catalog *cat, const char *meta)
{
	size_t n = 0;
	for (size_t i = 0; i < catalog_node_count(cat); i++)
		for (size_t j = 0; j < catalog_service_count(cat, i); j++)
			n += 1 + catalog_service_at(cat, i, j)->ntags;
	struct name_tag *v = malloc((n ? n : 1) * sizeof(*v));
	cJSON *o = cJSON_CreateObject();
	if (!v)
		return o;
	n = 0;
	for (size_t i = 0; i < catalog_node_count(cat); i++) {
		if (!meta_match(catalog_node_at(cat, i), meta))
			continue;
		for (size_t j = 0; j < catalog_service_count(cat, i); j++) {
			const struct catalog_service *s = catalog_service_at(cat, i, j);
			v[n++] = (struct name_tag){ s->service, NULL };
			for (size_t t = 0; t < s->ntags; t++)
				v[n++] = (struct name_tag){ s->service, s->tags[t] };
		}
	}
	qsort(v, n, sizeof(*v), name_tag_cmp);
	cJSON *tags = NULL;
	for (size_t i = 0; i < n; i++) {
		if (i && name_tag_cmp(&v[i - 1], &v[i]) == 0)
			continue;
		if (!v[i].tag)
			tags = cJSON_AddArrayToObject(o, v[i].name);
		else if (tags)
			cJSON_AddItemToArray(tags, cJSON_CreateString(v[i].tag));
	}
	free(v);
	return o;
}

static bool node_checks_passing(const struct catalog *cat, size_t n, const char *sid)
{
	for (size_t k = 0; k < catalog_check_count(cat, n); k++) {
		const struct catalog_check *x = catalog_check_at(cat, n, k);
		if ((!x->service_id[0] || strcmp(x->service_id, sid) == 0) &&
		    x->status != CATALOG_PASSING)
			return false;
	}
	return true;
}

static cJSON *health_entry(const struct catalog *cat, size_t n, const struct catalog_service *s)
{
	cJSON *e = cJSON_CreateObject();
	cJSON_AddItemToObject(e, "Node", cat_json_node(catalog_node_at(cat, n)));
	cJSON_AddItemToObject(e, "Service", cat_json_node_service(s));
	cJSON *checks = cJSON_AddArrayToObject(e, "Checks");
	for (size_t k = 0; k < catalog_check_count(cat, n); k++) {
		const struct catalog_check *x = catalog_check_at(cat, n, k);
		if (!x->service_id[0] || strcmp(x->service_id, s->id) == 0)
			cJSON_AddItemToArray(checks, cat_json_check(x));
	}
	return e;
}

/* The answer to a read: a JSON tree (NULL stands for JSON null). */
static cJSON *answer(const struct catalog *cat, const struct cat_params *p)
{
	if (p->ep == CAT_SERVICES)
		return services_json(cat, p->node_meta);
	long pos = catalog_node_find(cat, p->name);
	if (p->ep == CAT_NODE) {
		if (pos < 0)
			return NULL;   /* Consul answers null for an unknown node */
		cJSON *o = cJSON_CreateObject();
		cJSON_AddItemToObject(o, "Node", cat_json_node(catalog_node_at(cat, (size_t)pos)));
		cJSON *svcs = cJSON_AddObjectToObject(o, "Services");
		for (size_t j = 0; j < catalog_service_count(cat, (size_t)pos); j++) {
			const struct catalog_service *s = catalog_service_at(cat, (size_t)pos, j);
			cJSON_AddItemToObject(svcs, s->id, cat_json_node_service(s));
		}
		return o;
	}
	cJSON *arr = cJSON_CreateArray();
	if (p->ep == HEALTH_NODE) {
		for (size_t k = 0; pos >= 0 && k < catalog_check_count(cat, (size_t)pos); k++)
			cJSON_AddItemToArray(arr, cat_json_check(catalog_check_at(cat, (size_t)pos, k)));
		return arr;
	}
	enum catalog_status want = p->ep == HEALTH_STATE ? catalog_status_parse(p->name) : 0;
	for (size_t i = 0; i < catalog_node_count(cat); i++) {
		if (!meta_match(catalog_node_at(cat, i), p->node_meta))
			continue;
		if (p->ep == CAT_NODES) {
			cJSON_AddItemToArray(arr, cat_json_node(catalog_node_at(cat, i)));
			continue;
		}
		if (p->ep == HEALTH_STATE || p->ep == HEALTH_CHECKS) {
			for (size_t k = 0; k < catalog_check_count(cat, i); k++) {
				const struct catalog_check *x = catalog_check_at(cat, i, k);
				if (p->ep == HEALTH_STATE ? (!want || x->status == want)
				                          : strcmp(x->service_name, p->name) == 0)
					cJSON_AddItemToArray(arr, cat_json_check(x));
			}
			continue;
		}
		for (size_t j = 0; j < catalog_service_count(cat, i); j++) {
			const struct catalog_service *s = catalog_service_at(cat, i, j);
			if (strcmp(s->service, p->name) != 0 || (p->has_tag && !has_tag(s, p->tag)))
				continue;
			if (p->ep == CAT_SERVICE)
				cJSON_AddItemToArray(arr,
				                     cat_json_service_node(catalog_node_at(cat, i), s));
			else if (!p->passing || node_checks_passing(cat, i, s->id))
				cJSON_AddItemToArray(arr, health_entry(cat, i, s));
		}
	}
	return arr;
}

static void on_cat_ready(void *ud, const char *err)
{
	struct cat_call *c = ud;
	struct cc_server *s = c->a->server;
	struct cc_http_resp resp = { .status = 200 };
	if (err) {
		cc_http_error(&resp, 500, "%s", err);
		cat_finish(c, &resp);
		return;
	}
	const struct catalog *cat = cc_server_catalog(s);
	uint64_t index = answer_index(cat, &c->p);
	if (c->p.blocking && index <= c->p.index && uv_now(&c->a->loop) < c->w.deadline) {
		c->w.index = c->p.index;
		c->w.current = cat_call_index;
		c->w.ready = on_cat_ready;
		c->w.ud = c;
		agent_watch_park(c->a, &c->w);
		return;
	}
	agent_query_meta(s, &resp, index);
	cJSON *j = answer(cat, &c->p);
	cJSON *body = j ? j : cJSON_CreateNull();
	cc_http_json_body(&resp, body, c->p.pretty);
	cJSON_Delete(body);
	cat_finish(c, &resp);
}

static void on_cat_written(void *ud, const char *err, bool result, uint64_t index)
{
	struct cat_call *c = ud;
	struct cc_http_resp resp = { .status = 200 };
	(void)result;
	(void)index;
	if (err) {
		cc_http_error(&resp, 500, "%s", err);
	} else {
		cJSON *b = cJSON_CreateTrue();
		cc_http_json_body(&resp, b, c->p.pretty);
		cJSON_Delete(b);
	}
	cat_finish(c, &resp);
}

void agent_catalog_run(struct cc_agent *a, struct cat_params *p, struct cc_http_pending *pending,
                       struct tr_call *call, const char *path)
{
	struct cat_call *c = calloc(1, sizeof(*c));
	if (!c) {
		struct cc_http_resp resp = { .status = 200 };
		cc_http_error(&resp, 500, "out of memory");
		agent_answer(pending, call, &resp);
		cat_params_free(p);
		return;
	}
	c->a = a;
	c->p = *p;
	memset(p, 0, sizeof(*p));
	c->pending = pending;
	c->call = call;
	snprintf(c->path, sizeof(c->path), "%s", path);
	if (c->p.blocking)
		c->w.deadline = agent_blocking_deadline(a, c->p.wait_ms);
	if (!is_write(c->p.ep)) {
		cc_server_read_barrier(a->server, c->p.mode, on_cat_ready, c);
		return;
	}
	uint8_t *cmd = c->p.body;
	size_t len = c->p.body_len;
	c->p.body = NULL;
	cc_server_apply(a->server, cmd, len, on_cat_written, c);
}

void agent_h_catalog(void *ud, const struct cc_http_req *req, struct cc_http_resp *resp)
{
	struct cc_agent *a = ud;
	int ep = 0;
	for (size_t i = 0; i < sizeof(eps) / sizeof(eps[0]) && !ep; i++) {
		size_t n = strlen(eps[i].path);
		if (eps[i].named ? strncmp(req->path, eps[i].path, n) == 0
		                 : strcmp(req->path, eps[i].path) == 0)
			ep = eps[i].ep;
	}
	struct cat_params p;
	if (!ep) {
		cc_http_error(resp, 404, "Invalid URL path: not a catalog or health endpoint");
		return;
	}
	if (params_parse(a, req, ep, &p, resp))
		return;
	struct cc_http_pending *pending = cc_http_defer(req);
	if (a->server)
		agent_catalog_run(a, &p, pending, NULL, req->path);
	else
		agent_forward_catalog(a, &p, pending);
}
