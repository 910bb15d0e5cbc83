/* Consul's user events (agent/user_event.go, agent/event_endpoint.go):
 * PUT /v1/event/fire/NAME[?node=&service=&tag=] fires a Serf user event
 * "consul:event:NAME" on the LAN pool whose payload is Consul's msgpack
 * UserEvent (ID, n, p, nf, sf, tf, v); every agent whose node name and local
 * services match the filters (regular expressions) keeps it in a ring of the
 * last 256, which GET /v1/event/list[?name=] lists oldest first with the
 * Lamport time, with blocking queries (?index=&wait=: X-Consul-Index counts
 * the events this agent kept). Events of other names (a plain `serf event`)
 * are ignored. */
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "agent/agent_internal.h"
#include "agent/agent_local.h"
#include "log/log.h"

#define MOD_AGENT "agent"
#define EVENT_PREFIX "consul:event:"
#define EVENT_RING 256

struct user_event {
	char id[37];
	char *name, *node_filter, *service_filter, *tag_filter;
	uint8_t *payload;
	size_t payload_len;
	bool has_payload;
	uint64_t ltime;
	int version;
};

struct agent_events {
	struct user_event ring[EVENT_RING];
	size_t next, count;
	uint64_t received;
};

static void event_free(struct user_event *e)
{
	free(e->name);
	free(e->node_filter);
	free(e->service_filter);
	free(e->tag_filter);
	free(e->payload);
	memset(e, 0, sizeof(*e));
}

void agent_events_stop(struct cc_agent *a)
{
	if (!a->events)
		return;
	for (size_t i = 0; i < EVENT_RING; i++)
		event_free(&a->events->ring[i]);
	free(a->events);
	a->events = NULL;
}

/* ---- Consul's msgpack UserEvent ---- */

static void pack_str(msgpack_packer *pk, const char *s)
{
	msgpack_pack_str(pk, strlen(s));
	msgpack_pack_str_body(pk, s, strlen(s));
}

static int encode(const struct user_event *e, msgpack_sbuffer *sb)
{
	msgpack_packer pk;
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	size_t n = 3 + (e->has_payload ? 1 : 0) + (e->node_filter[0] ? 1 : 0) +
	           (e->service_filter[0] ? 1 : 0) + (e->tag_filter[0] ? 1 : 0);
	msgpack_pack_map(&pk, n);
	pack_str(&pk, "ID");
	pack_str(&pk, e->id);
	pack_str(&pk, "n");
	pack_str(&pk, e->name);
	if (e->has_payload) {
		pack_str(&pk, "p");
		msgpack_pack_bin(&pk, e->payload_len);
		msgpack_pack_bin_body(&pk, e->payload, e->payload_len);
	}
	const char *fk[3] = { "nf", "sf", "tf" };
	const char *fv[3] = { e->node_filter, e->service_filter, e->tag_filter };
	for (int i = 0; i < 3; i++)
		if (fv[i][0]) {
			pack_str(&pk, fk[i]);
			pack_str(&pk, fv[i]);
		}
	pack_str(&pk, "v");
	msgpack_pack_int(&pk, e->version);
	return 0;
}

static char *dup_raw(const char *p, size_t n)
{
	char *s = malloc(n + 1);
	if (s) {
		memcpy(s, p, n);
		s[n] = 0;
	}
	return s;
}

/* 0, or -1 for anything that is not Consul's UserEvent. */
static int decode(const uint8_t *buf, size_t len, struct user_event *e)
{
	memset(e, 0, sizeof(*e));
	msgpack_unpacked u;
	msgpack_unpacked_init(&u);
	size_t off = 0;
	int rc = -1;
	if (msgpack_unpack_next(&u, (const char *)buf, len, &off) != MSGPACK_UNPACK_SUCCESS ||
	    u.data.type != MSGPACK_OBJECT_MAP || off != len)
		goto out;
	const msgpack_object_map *m = &u.data.via.map;
	for (uint32_t i = 0; i < m->size; i++) {
		const msgpack_object *k = &m->ptr[i].key, *v = &m->ptr[i].val;
		if (k->type != MSGPACK_OBJECT_STR)
			goto out;
		char key[8];
		snprintf(key, sizeof(key), "%.*s", (int)k->via.str.size, k->via.str.ptr);
		bool is_str = v->type == MSGPACK_OBJECT_STR || v->type == MSGPACK_OBJECT_BIN;
		const char *p = v->type == MSGPACK_OBJECT_STR ? v->via.str.ptr : v->via.bin.ptr;
		size_t n = v->type == MSGPACK_OBJECT_STR ? v->via.str.size : v->via.bin.size;
		char **dst = strcmp(key, "n") == 0    ? &e->name
		             : strcmp(key, "nf") == 0 ? &e->node_filter
		             : strcmp(key, "sf") == 0 ? &e->service_filter
		             : strcmp(key, "tf") == 0 ? &e->tag_filter
		                                      : NULL;
		if (strcmp(key, "ID") == 0 && is_str && n < sizeof(e->id)) {
			memcpy(e->id, p, n);
			e->id[n] = 0;
		} else if (dst && is_str && !memchr(p, 0, n)) {
			free(*dst);
			*dst = dup_raw(p, n);
		} else if (strcmp(key, "p") == 0 && is_str) {
			free(e->payload);
			e->payload = malloc(n ? n : 1);
			if (e->payload)
				memcpy(e->payload, p, n);
			e->payload_len = n;
			e->has_payload = true;
		} else if (strcmp(key, "v") == 0 && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
			e->version = (int)v->via.u64;
		}
	}
	const char *empty = "";
	char **f[3] = { &e->node_filter, &e->service_filter, &e->tag_filter };
	for (int i = 0; i < 3; i++)
		if (!*f[i])
			*f[i] = strdup(empty);
	rc = e->name && e->name[0] && e->version >= 1 && e->version <= 1 && e->node_filter &&
	             e->service_filter && e->tag_filter
	         ? 0
	         : -1;
out:
	msgpack_unpacked_destroy(&u);
	if (rc)
		event_free(e);
	return rc;
}

/* ---- receiving ---- */

/* Consul's shouldProcessUserEvent. */
static bool for_us(const struct cc_agent *a, const struct user_event *e)
{
	if (e->node_filter[0] && !gw_regex_search(e->node_filter, a->cfg->node_name))
		return false;
	if (!e->service_filter[0])
		return true;
	for (const struct local_service *s = a->local ? a->local->services : NULL; s; s = s->next) {
		if (s->deleted || !gw_regex_search(e->service_filter, s->d.name))
			continue;
		if (!e->tag_filter[0])
			return true;
		for (size_t t = 0; t < s->d.ntags; t++)
			if (gw_regex_search(e->tag_filter, s->d.tags[t]))
				return true;
	}
	return false;
}

void agent_on_user_event(void *ud, const char *name, const uint8_t *payload, size_t len,
                         uint64_t ltime)
{
	struct cc_agent *a = ud;
	if (strncmp(name, EVENT_PREFIX, strlen(EVENT_PREFIX)) != 0)
		return;   /* not a Consul event: Consul ignores it too */
	struct user_event e;
	if (decode(payload, len, &e)) {
		CC_WARN(MOD_AGENT, "Failed to decode event", "event", name);
		return;
	}
	if (!for_us(a, &e)) {
		event_free(&e);
		return;
	}
	if (!a->events && !(a->events = calloc(1, sizeof(*a->events)))) {
		event_free(&e);
		return;
	}
	e.ltime = ltime;
	struct agent_events *ev = a->events;
	CC_DEBUG(MOD_AGENT, "new event", "event_name", e.name, "event_id", e.id);
	event_free(&ev->ring[ev->next]);
	ev->ring[ev->next] = e;
	ev->next = (ev->next + 1) % EVENT_RING;
	if (ev->count < EVENT_RING)
		ev->count++;
	ev->received++;
	agent_watch_wake(a);
}

/* ---- endpoints ---- */

static cJSON *event_json(const struct user_event *e)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "ID", e->id);
	cJSON_AddStringToObject(o, "Name", e->name);
	if (e->has_payload) {
		char *b = malloc(4 * ((e->payload_len + 2) / 3) + 1);
		if (b)
			gw_base64_encode(b, e->payload, e->payload_len);
		cJSON_AddStringToObject(o, "Payload", b ? b : "");
		free(b);
	} else {
		cJSON_AddNullToObject(o, "Payload");
	}
	cJSON_AddStringToObject(o, "NodeFilter", e->node_filter);
	cJSON_AddStringToObject(o, "ServiceFilter", e->service_filter);
	cJSON_AddStringToObject(o, "TagFilter", e->tag_filter);
	cJSON_AddNumberToObject(o, "Version", e->version);
	cJSON_AddNumberToObject(o, "LTime", (double)e->ltime);
	return o;
}

static void h_fire(struct cc_agent *a, const struct cc_http_req *req, struct cc_http_resp *resp)
{
	const char *node = cc_http_query(req, "node"), *svc = cc_http_query(req, "service"),
	           *tag = cc_http_query(req, "tag");
	struct user_event e = { .name = (char *)req->suffix, .node_filter = (char *)(node ? node : ""),
		                .service_filter = (char *)(svc ? svc : ""),
		                .tag_filter = (char *)(tag ? tag : ""), .version = 1,
		                .payload = (uint8_t *)req->body, .payload_len = req->body_len,
		                .has_payload = req->body_len > 0 };
	const char *bad = !e.name[0]                               ? "User event missing name"
	                  : e.tag_filter[0] && !e.service_filter[0] ? "Cannot provide tag filter without service filter"
	                                                            : NULL;
	regex_t r;
	const char *fs[3] = { e.node_filter, e.service_filter, e.tag_filter };
	const char *fn[3] = { "node", "service", "tag" };
	char why[128];
	for (int i = 0; i < 3 && !bad; i++) {
		if (!fs[i][0])
			continue;
		if (!gw_regex_bounded(fs[i])) {
			snprintf(why, sizeof(why), "Invalid %s filter: too costly (back references, or "
			         "bounded repetitions multiplying past 1000)", fn[i]);
			bad = why;
		} else if (regcomp(&r, fs[i], REG_EXTENDED | REG_NOSUB)) {
			snprintf(why, sizeof(why), "Invalid %s filter: not a regular expression", fn[i]);
			bad = why;
		} else {
			regfree(&r);
		}
	}
	if (bad) {
		cc_http_error(resp, 400, "%s", bad);
		return;
	}
	if (cc_agent_random_uuid(e.id)) {
		cc_http_error(resp, 500, "cannot make an event ID");
		return;
	}
	msgpack_sbuffer sb;
	msgpack_sbuffer_init(&sb);
	encode(&e, &sb);
	char sname[GW_NAME_MAX];
	int n = snprintf(sname, sizeof(sname), EVENT_PREFIX "%s", e.name);
	int rc = n < 0 || (size_t)n >= sizeof(sname) ? -E2BIG
	         : a->lan                            ? gossip_user_event(a->lan, sname, (uint8_t *)sb.data, sb.size)
	                                             : -ENOTCONN;
	msgpack_sbuffer_destroy(&sb);
	if (rc) {
		cc_http_error(resp, rc == -E2BIG ? 400 : 500, "%s",
		              rc == -E2BIG ? "user event exceeds 512 bytes" : "no gossip pool");
		return;
	}
	cJSON *j = event_json(&e);
	cc_http_json(req, resp, j);
	cJSON_Delete(j);
}

static uint64_t received(const struct cc_agent *a)
{
	return a->events ? a->events->received : 0;
}

static void list_answer(const struct cc_agent *a, const char *name, bool pretty,
                        struct cc_http_resp *resp)
{
	cJSON *arr = cJSON_CreateArray();
	struct agent_events *ev = a->events;
	for (size_t i = 0; ev && i < ev->count; i++) {
		const struct user_event *e = &ev->ring[(ev->next + EVENT_RING - ev->count + i) % EVENT_RING];
		if (!name[0] || strcmp(name, e->name) == 0)
			cJSON_AddItemToArray(arr, event_json(e));
	}
	char idx[24];
	snprintf(idx, sizeof(idx), "%llu", (unsigned long long)received(a));
	cc_http_header(resp, "X-Consul-Index", idx);
	cc_http_json_body(resp, arr, pretty);
	cJSON_Delete(arr);
}

/* A blocking list, parked until an event is kept or its wait is over. */
struct list_call {
	struct agent_watch w;
	struct cc_agent *a;
	struct cc_http_pending *pending;
	bool pretty;
	char name[GW_NAME_MAX];
};

static uint64_t list_index(void *ud)
{
	return received(((struct list_call *)ud)->a);
}

static void list_ready(void *ud, const char *err)
{
	struct list_call *c = ud;
	struct cc_http_resp resp = { .status = 200 };
	(void)err;
	list_answer(c->a, c->name, c->pretty, &resp);
	cc_http_finish(c->pending, &resp);
	free(c);
}

static void h_list(struct cc_agent *a, const struct cc_http_req *req, struct cc_http_resp *resp)
{
	const char *name = cc_http_query(req, "name");
	bool blocking, pretty = cc_http_query(req, "pretty") != NULL;
	uint64_t index, wait_ms;
	if (agent_blocking_parse(req, &blocking, &index, &wait_ms, resp))
		return;
	struct list_call *c = blocking && index >= received(a) ? calloc(1, sizeof(*c)) : NULL;
	if (!c) {
		list_answer(a, name ? name : "", pretty, resp);
		return;
	}
	c->a = a;
	c->pretty = pretty;
	snprintf(c->name, sizeof(c->name), "%s", name ? name : "");
	c->w = (struct agent_watch){ .deadline = agent_blocking_deadline(a, wait_ms), .index = index,
		                     .current = list_index, .ready = list_ready, .ud = c };
	c->pending = cc_http_defer(req);
	agent_watch_park(a, &c->w);
}

void agent_h_event(void *ud, const struct cc_http_req *req, struct cc_http_resp *resp)
{
	struct cc_agent *a = ud;
	if (strcmp(req->path, "/v1/event/list") == 0)
		h_list(a, req, resp);
	else
		h_fire(a, req, resp);
}
