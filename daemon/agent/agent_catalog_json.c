/* The catalog and health endpoints' JSON: Consul's shapes for nodes,
 * services and checks (reference §5.3, §5.4; arrays and maps never null),
 * and the bodies of PUT /v1/catalog/register and /v1/catalog/deregister
 * (Consul's structs.RegisterRequest / DeregisterRequest, field names matched
 * without regard to case as Go's decoder does) made into catalog commands. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent_internal.h"
#include "catalog/catalog.h"

/* ---- output ---- */

static cJSON *map_json(const struct catalog_pair *m, size_t n)
{
	cJSON *o = cJSON_CreateObject();
	for (size_t i = 0; i < n; i++)
		cJSON_AddStringToObject(o, m[i].key, m[i].value);
	return o;
}

static cJSON *list_json(const char *const *l, size_t n)
{
	cJSON *a = cJSON_CreateArray();
	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(l[i]));
	return a;
}

static cJSON *weights_json(const struct catalog_service *s)
{
	cJSON *w = cJSON_CreateObject();
	cJSON_AddNumberToObject(w, "Passing", s->weight_passing);
	cJSON_AddNumberToObject(w, "Warning", s->weight_warning);
	return w;
}

static cJSON *proxy_json(void)
{
	cJSON *p = cJSON_CreateObject();
	cJSON_AddObjectToObject(p, "MeshGateway");
	cJSON_AddObjectToObject(p, "Expose");
	return p;
}

cJSON *cat_json_node(const struct catalog_node *n)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "ID", n->id);
	cJSON_AddStringToObject(o, "Node", n->node);
	cJSON_AddStringToObject(o, "Address", n->address);
	cJSON_AddStringToObject(o, "Datacenter", n->datacenter);
	cJSON_AddItemToObject(o, "TaggedAddresses", map_json(n->tagged, n->ntagged));
	cJSON_AddItemToObject(o, "Meta", map_json(n->meta, n->nmeta));
	cJSON_AddNumberToObject(o, "CreateIndex", (double)n->create_index);
	cJSON_AddNumberToObject(o, "ModifyIndex", (double)n->modify_index);
	return o;
}

cJSON *cat_json_service_node(const struct catalog_node *n, const struct catalog_service *s)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "ID", n->id);
	cJSON_AddStringToObject(o, "Node", n->node);
	cJSON_AddStringToObject(o, "Address", n->address);
	cJSON_AddStringToObject(o, "Datacenter", n->datacenter);
	cJSON_AddItemToObject(o, "TaggedAddresses", map_json(n->tagged, n->ntagged));
	cJSON_AddItemToObject(o, "NodeMeta", map_json(n->meta, n->nmeta));
	cJSON_AddStringToObject(o, "ServiceKind", "");
	cJSON_AddStringToObject(o, "ServiceID", s->id);
	cJSON_AddStringToObject(o, "ServiceName", s->service);
	cJSON_AddItemToObject(o, "ServiceTags", list_json(s->tags, s->ntags));
	cJSON_AddStringToObject(o, "ServiceAddress", s->address);
	cJSON_AddItemToObject(o, "ServiceWeights", weights_json(s));
	cJSON_AddItemToObject(o, "ServiceMeta", map_json(s->meta, s->nmeta));
	cJSON_AddNumberToObject(o, "ServicePort", s->port);
	cJSON_AddBoolToObject(o, "ServiceEnableTagOverride", s->enable_tag_override);
	cJSON_AddItemToObject(o, "ServiceProxy", proxy_json());
	cJSON_AddObjectToObject(o, "ServiceConnect");
	cJSON_AddNumberToObject(o, "CreateIndex", (double)s->create_index);
	cJSON_AddNumberToObject(o, "ModifyIndex", (double)s->modify_index);
	return o;
}

cJSON *cat_json_node_service(const struct catalog_service *s)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "ID", s->id);
	cJSON_AddStringToObject(o, "Service", s->service);
	cJSON_AddItemToObject(o, "Tags", list_json(s->tags, s->ntags));
	cJSON_AddStringToObject(o, "Address", s->address);
	cJSON_AddItemToObject(o, "Meta", map_json(s->meta, s->nmeta));
	cJSON_AddNumberToObject(o, "Port", s->port);
	cJSON_AddItemToObject(o, "Weights", weights_json(s));
	cJSON_AddBoolToObject(o, "EnableTagOverride", s->enable_tag_override);
	cJSON_AddItemToObject(o, "Proxy", proxy_json());
	cJSON_AddObjectToObject(o, "Connect");
	cJSON_AddNumberToObject(o, "CreateIndex", (double)s->create_index);
	cJSON_AddNumberToObject(o, "ModifyIndex", (double)s->modify_index);
	return o;
}

cJSON *cat_json_check(const struct catalog_check *k)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "Node", k->node);
	cJSON_AddStringToObject(o, "CheckID", k->check_id);
	cJSON_AddStringToObject(o, "Name", k->name);
	cJSON_AddStringToObject(o, "Status", catalog_status_name(k->status));
	cJSON_AddStringToObject(o, "Notes", k->notes);
	cJSON_AddStringToObject(o, "Output", k->output);
	cJSON_AddStringToObject(o, "ServiceID", k->service_id);
	cJSON_AddStringToObject(o, "ServiceName", k->service_name);
	cJSON_AddItemToObject(o, "ServiceTags", list_json(k->service_tags, k->nservice_tags));
	cJSON_AddStringToObject(o, "Type", k->type);
	cJSON_AddObjectToObject(o, "Definition");
	cJSON_AddNumberToObject(o, "CreateIndex", (double)k->create_index);
	cJSON_AddNumberToObject(o, "ModifyIndex", (double)k->modify_index);
	return o;
}

/* ---- input ---- */

/* Everything a parse allocates, freed together. */
struct pctx {
	char *err;
	size_t errlen;
	bool bad;
	void *mem[4 + 2 * CATALOG_CHECKS_MAX];
	size_t nmem;
};

static void *palloc(struct pctx *c, size_t n)
{
	void *p = c->nmem < sizeof(c->mem) / sizeof(c->mem[0]) ? calloc(1, n ? n : 1) : NULL;
	if (!p) {
		if (!c->bad)
			snprintf(c->err, c->errlen, "Request decode failed: out of memory");
		c->bad = true;
		return NULL;
	}
	c->mem[c->nmem++] = p;
	return p;
}

static void pfree(struct pctx *c)
{
	for (size_t i = 0; i < c->nmem; i++)
		free(c->mem[i]);
}

#define FAIL(c, ...)                                                     \
	do {                                                             \
		if (!(c)->bad)                                           \
			snprintf((c)->err, (c)->errlen, __VA_ARGS__);    \
		(c)->bad = true;                                         \
	} while (0)

static const cJSON *field(const cJSON *o, const char *name)
{
	const cJSON *f = cJSON_GetObjectItem(o, name);   /* case-insensitive */
	return f && !cJSON_IsNull(f) ? f : NULL;
}

static const char *get_str(struct pctx *c, const cJSON *o, const char *name, size_t max)
{
	const cJSON *f = field(o, name);
	if (!f)
		return "";
	if (!cJSON_IsString(f)) {
		FAIL(c, "Request decode failed: %s: expected a string", name);
		return "";
	}
	if (strlen(f->valuestring) > max) {
		FAIL(c, "Request decode failed: %s: longer than %zu bytes", name, max);
		return "";
	}
	return f->valuestring;
}

static uint32_t get_uint(struct pctx *c, const cJSON *o, const char *name, uint32_t max,
                         uint32_t dflt)
{
	const cJSON *f = field(o, name);
	if (!f)
		return dflt;
	double d = cJSON_IsNumber(f) ? f->valuedouble : -1;
	if (d < 0 || d > max || d != (double)(uint32_t)d) {
		FAIL(c, "Request decode failed: %s: expected an integer from 0 to %u", name, max);
		return dflt;
	}
	return (uint32_t)d;
}

static bool get_bool(struct pctx *c, const cJSON *o, const char *name)
{
	const cJSON *f = field(o, name);
	if (f && !cJSON_IsBool(f))
		FAIL(c, "Request decode failed: %s: expected true or false", name);
	return f && cJSON_IsTrue(f);
}

static int pair_cmp(const void *a, const void *b)
{
	return strcmp(((const struct catalog_pair *)a)->key, ((const struct catalog_pair *)b)->key);
}

static const struct catalog_pair *get_map(struct pctx *c, const cJSON *o, const char *name,
                                          size_t *n)
{
	const cJSON *f = field(o, name);
	*n = 0;
	if (!f)
		return NULL;
	if (!cJSON_IsObject(f)) {
		FAIL(c, "Request decode failed: %s: expected an object of strings", name);
		return NULL;
	}
	size_t cnt = (size_t)cJSON_GetArraySize(f);
	if (cnt > CATALOG_MAP_MAX) {
		FAIL(c, "Request decode failed: %s: more than %d keys", name, CATALOG_MAP_MAX);
		return NULL;
	}
	struct catalog_pair *m = palloc(c, cnt * sizeof(*m));
	if (!m)
		return NULL;
	size_t i = 0;
	for (const cJSON *e = f->child; e; e = e->next, i++) {
		if (!cJSON_IsString(e) || !e->string || !e->string[0] ||
		    strlen(e->string) > CATALOG_STR_MAX || strlen(e->valuestring) > CATALOG_STR_MAX) {
			FAIL(c, "Request decode failed: %s: expected an object of strings", name);
			return NULL;
		}
		m[i] = (struct catalog_pair){ e->string, e->valuestring };
	}
	qsort(m, cnt, sizeof(*m), pair_cmp);
	for (i = 1; i < cnt; i++) {
		if (strcmp(m[i - 1].key, m[i].key) == 0) {
			FAIL(c, "Request decode failed: %s: duplicate key %.64s", name, m[i].key);
			return NULL;
		}
	}
	*n = cnt;
	return m;
}

static const char *const *get_list(struct pctx *c, const cJSON *o, const char *name, size_t *n)
{
	const cJSON *f = field(o, name);
	*n = 0;
	if (!f)
		return NULL;
	size_t cnt = cJSON_IsArray(f) ? (size_t)cJSON_GetArraySize(f) : 0;
	if (!cJSON_IsArray(f) || cnt > CATALOG_TAGS_MAX) {
		FAIL(c, "Request decode failed: %s: expected an array of at most %d strings", name,
		     CATALOG_TAGS_MAX);
		return NULL;
	}
	const char **l = palloc(c, cnt * sizeof(*l));
	size_t i = 0;
	for (const cJSON *e = f->child; l && e; e = e->next, i++) {
		if (!cJSON_IsString(e) || strlen(e->valuestring) > CATALOG_STR_MAX) {
			FAIL(c, "Request decode failed: %s: expected an array of strings", name);
			return NULL;
		}
		l[i] = e->valuestring;
	}
	*n = l ? cnt : 0;
	return l;
}

static bool uuid_ok(const char *s)
{
	if (strlen(s) != 36)
		return false;
	for (int i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
			return false;
	}
	return true;
}

static void parse_service(struct pctx *c, const cJSON *j, struct catalog_service *s)
{
	if (!cJSON_IsObject(j)) {
		FAIL(c, "Request decode failed: Service: expected an object");
		return;
	}
	const char *kind = get_str(c, j, "Kind", CATALOG_STR_MAX);
	if (kind[0])
		FAIL(c, "Service kind %.64s is not supported by this agent", kind);
	s->id = get_str(c, j, "ID", CATALOG_STR_MAX);
	s->service = get_str(c, j, "Service", CATALOG_STR_MAX);
	s->address = get_str(c, j, "Address", CATALOG_STR_MAX);
	s->tags = get_list(c, j, "Tags", &s->ntags);
	s->meta = get_map(c, j, "Meta", &s->nmeta);
	s->port = get_uint(c, j, "Port", 65535, 0);
	s->enable_tag_override = get_bool(c, j, "EnableTagOverride");
	/* Consul: weights default to 1/1, and so do invalid ones */
	s->weight_passing = s->weight_warning = 1;
	const cJSON *w = field(j, "Weights");
	if (w && !cJSON_IsObject(w)) {
		FAIL(c, "Request decode failed: Weights: expected an object");
	} else if (w) {
		uint32_t p = get_uint(c, w, "Passing", 65535, 0), wa = get_uint(c, w, "Warning", 65535, 0);
		if (p >= 1) {
			s->weight_passing = p;
			s->weight_warning = wa;
		}
	}
	if (!s->id[0] && s->service[0])
		s->id = s->service;
	if (s->id[0] && !s->service[0])
		FAIL(c, "Must provide service name with ID");
	if (!s->id[0])
		FAIL(c, "Must provide service name with ID");
}

static void parse_check(struct pctx *c, const cJSON *j, const char *node, struct catalog_check *k)
{
	if (!cJSON_IsObject(j)) {
		FAIL(c, "Request decode failed: Check: expected an object");
		return;
	}
	const char *cnode = get_str(c, j, "Node", CATALOG_STR_MAX);
	k->check_id = get_str(c, j, "CheckID", CATALOG_STR_MAX);
	k->name = get_str(c, j, "Name", CATALOG_STR_MAX);
	k->notes = get_str(c, j, "Notes", CATALOG_TEXT_MAX);
	k->output = get_str(c, j, "Output", CATALOG_TEXT_MAX);
	k->service_id = get_str(c, j, "ServiceID", CATALOG_STR_MAX);
	k->type = get_str(c, j, "Type", CATALOG_STR_MAX);
	const char *st = get_str(c, j, "Status", 16);
	k->status = st[0] ? catalog_status_parse(st) : CATALOG_CRITICAL;
	if (!k->status)
		FAIL(c, "Invalid check status: \"%.16s\"", st);
	if (!k->check_id[0])
		k->check_id = k->name;
	if (!k->check_id[0])
		FAIL(c, "Must provide a CheckID or Name for each check");
	if (cnode[0] && strcmp(cnode, node) != 0)
		FAIL(c, "Check node %.64s does not match node %.64s", cnode, node);
}

/* Parses body as a JSON object; NULL with err set otherwise. */
static cJSON *parse_body(struct pctx *c, const char *body, size_t len)
{
	cJSON *j = len ? cJSON_ParseWithLength(body, len) : NULL;
	if (!j || !cJSON_IsObject(j)) {
		FAIL(c, "Request decode failed: %s", !len ? "EOF" : !j ? "invalid JSON"
		                                                      : "expected a JSON object");
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}

static int finish(struct pctx *c, const struct catalog_cmd *cmd, uint8_t **out, size_t *outlen)
{
	size_t n = c->bad ? 0 : catalog_cmd_encode(cmd, NULL, 0);
	if (!c->bad && n == 0)
		FAIL(c, "Request decode failed: the registration breaks the catalog's limits");
	uint8_t *buf = c->bad ? NULL : malloc(n);
	if (!c->bad && !buf)
		FAIL(c, "Request decode failed: out of memory");
	if (c->bad) {
		free(buf);
		return -1;
	}
	catalog_cmd_encode(cmd, buf, n);
	*out = buf;
	*outlen = n;
	return 0;
}

static bool dc_ok(struct pctx *c, const cJSON *j, const char *dc)
{
	const char *d = get_str(c, j, "Datacenter", CATALOG_STR_MAX);
	if (d[0] && strcmp(d, dc) != 0)
		FAIL(c, "No path to datacenter");
	return !c->bad;
}

int cat_parse_register(const char *body, size_t len, const char *dc, uint8_t **cmd,
                       size_t *cmdlen, char *err, size_t errlen)
{
	struct pctx c = { .err = err, .errlen = errlen };
	cJSON *j = parse_body(&c, body, len);
	struct catalog_cmd r = { .op = CATALOG_OP_REGISTER };
	struct catalog_service *svc = NULL;
	if (j && dc_ok(&c, j, dc)) {
		r.node.id = get_str(&c, j, "ID", CATALOG_STR_MAX);
		r.node.node = get_str(&c, j, "Node", CATALOG_STR_MAX);
		r.node.address = get_str(&c, j, "Address", CATALOG_STR_MAX);
		r.node.datacenter = dc;
		r.node.tagged = get_map(&c, j, "TaggedAddresses", &r.node.ntagged);
		r.node.meta = get_map(&c, j, "NodeMeta", &r.node.nmeta);
		get_bool(&c, j, "SkipNodeUpdate");
		if (!c.bad && (!r.node.node[0] || !r.node.address[0]))
			FAIL(&c, "Must provide node and address");
		if (!c.bad && r.node.id[0] && !uuid_ok(r.node.id))
			FAIL(&c, "Bad node ID: %s", strlen(r.node.id) != 36 ? "uuid string is wrong length"
			                                                     : "uuid is improperly formatted");
		const cJSON *sj = field(j, "Service");
		if (sj && (svc = palloc(&c, sizeof(*svc))))
			parse_service(&c, sj, svc);
		r.service = svc;
		/* Check and Checks both count, Check first (Consul appends it) */
		const cJSON *one = field(j, "Check"), *many = field(j, "Checks");
		size_t n = (one ? 1 : 0) + (cJSON_IsArray(many) ? (size_t)cJSON_GetArraySize(many) : 0);
		if (many && !cJSON_IsArray(many))
			FAIL(&c, "Request decode failed: Checks: expected an array");
		if (n > CATALOG_CHECKS_MAX)
			FAIL(&c, "Request decode failed: more than %d checks", CATALOG_CHECKS_MAX);
		struct catalog_check *k = c.bad ? NULL : palloc(&c, n * sizeof(*k));
		size_t i = 0;
		if (k && one)
			parse_check(&c, one, r.node.node, &k[i++]);
		for (const cJSON *e = k && many ? many->child : NULL; e; e = e->next)
			parse_check(&c, e, r.node.node, &k[i++]);
		r.checks = k;
		r.nchecks = k ? n : 0;
	}
	int rc = j ? finish(&c, &r, cmd, cmdlen) : -1;
	pfree(&c);
	cJSON_Delete(j);
	return rc;
}

int cat_parse_deregister(const char *body, size_t len, const char *dc, uint8_t **cmd,
                         size_t *cmdlen, char *err, size_t errlen)
{
	struct pctx c = { .err = err, .errlen = errlen };
	cJSON *j = parse_body(&c, body, len);
	struct catalog_cmd d = { .op = CATALOG_OP_DEREGISTER };
	if (j && dc_ok(&c, j, dc)) {
		d.node.node = get_str(&c, j, "Node", CATALOG_STR_MAX);
		d.dereg_service_id = get_str(&c, j, "ServiceID", CATALOG_STR_MAX);
		d.dereg_check_id = get_str(&c, j, "CheckID", CATALOG_STR_MAX);
		if (d.dereg_service_id[0])
			d.dereg_check_id = "";   /* Consul: the service wins */
		if (!c.bad && !d.node.node[0])
			FAIL(&c, "Must provide node");
	}
	int rc = j ? finish(&c, &d, cmd, cmdlen) : -1;
	pfree(&c);
	cJSON_Delete(j);
	return rc;
}
