/* Anti-entropy (Consul's agent/ae and local.State sync, reference §7.3).
 *
 * Full sync: read what the catalog holds for this node (a stale read: the
 * local catalog on a server, forwarded on a client), compare it with the
 * local state — node info, every service, every check, indexes aside —
 * then push the differences one write at a time: node info ("Synced node
 * info"), services with their checks ("Synced service: service=ID"), lone
 * checks ("Synced check: check=ID"), and deregistrations of what the
 * catalog has and this agent does not ("Deregistered service|check"),
 * leaving the leader's own entries alone (the `consul` service and the
 * serfHealth check). It runs at start, then every minute plus up to a minute
 * of stagger; on failure ("failed to sync remote state") again after 15 s
 * plus up to 15 s, or 0-3 s after a server learns of a new leader.
 *
 * Partial sync: after a local change, push what is out of sync, without
 * reading first. An entry changed while its write was in flight stays out
 * of sync (its version moved) and goes again. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent_internal.h"
#include "agent/agent_local.h"
#include "catalog/catalog.h"
#include "log/log.h"

#define MOD "agent"
#define MOD_AE "agent.anti_entropy"
#define AE_INTERVAL_MS 60000u
#define AE_RETRY_MS 15000u
#define AE_LEADER_STAGGER_MS 3000u
#define CONSUL_SERVICE_ID "consul"

enum push_kind { P_NONE, P_NODE, P_SVC, P_SVC_DEREG, P_REMOTE_SVC, P_CHK, P_CHK_DEREG, P_REMOTE_CHK };

struct agent_sync {
	struct cc_agent *a;
	uv_timer_t full_timer, soon, leader_poll;
	bool busy, full_wanted, node_in_sync, had_leader, stopping, failed;
	unsigned open;
	/* a full sync's view of the catalog */
	cJSON *remote_node;      /* {"Node": ..., "Services": {...}} or JSON null */
	cJSON *remote_checks;    /* [HealthCheck...] */
	char **extra_svcs, **extra_chks;   /* in the catalog only: to deregister */
	size_t nextra_svcs, nextra_chks;
	/* the write in flight */
	enum push_kind kind;
	struct local_service *svc;
	struct local_check *chk;
	uint64_t version;
	char target[CATALOG_STR_MAX + 1];
};

static void push_next(struct agent_sync *y);
static void full_sync(struct agent_sync *y);

static uint64_t jitter(uint64_t max)
{
	return max ? (uint64_t)rand() % max : 0;
}

static void on_full_timer(uv_timer_t *t)
{
	full_sync(t->data);
}

static void schedule_full(struct agent_sync *y, uint64_t ms)
{
	if (!y->stopping)
		uv_timer_start(&y->full_timer, on_full_timer, ms, 0);
}

static void free_list(char ***v, size_t *n)
{
	for (size_t i = 0; i < *n; i++)
		free((*v)[i]);
	free(*v);
	*v = NULL;
	*n = 0;
}

static void remote_clear(struct agent_sync *y)
{
	cJSON_Delete(y->remote_node);
	cJSON_Delete(y->remote_checks);
	y->remote_node = y->remote_checks = NULL;
}

/* ---- what this agent wants the catalog to hold ---- */

struct node_want {
	struct catalog_pair tagged[4], meta[1];
	struct catalog_node node;
};

static void node_want(const struct cc_agent *a, struct node_want *w)
{
	const struct cc_config *c = a->cfg;
	const char *lan = c->advertise_addr, *wan = c->advertise_addr_wan ? c->advertise_addr_wan : lan;
	w->tagged[0] = (struct catalog_pair){ "lan", lan };
	w->tagged[1] = (struct catalog_pair){ "lan_ipv4", lan };
	w->tagged[2] = (struct catalog_pair){ "wan", wan };
	w->tagged[3] = (struct catalog_pair){ "wan_ipv4", wan };
	w->meta[0] = (struct catalog_pair){ "consul-network-segment", "" };
	w->node = (struct catalog_node){ .id = a->node_id, .node = c->node_name, .address = lan,
		                         .datacenter = c->datacenter, .tagged = w->tagged,
		                         .ntagged = 4, .meta = w->meta, .nmeta = 1 };
}

/* Equal but for the Raft indexes. */
static bool same(const cJSON *remote, cJSON *want)
{
	if (!remote || !want)
		return false;
	cJSON *r = cJSON_Duplicate(remote, 1);
	cJSON_DeleteItemFromObjectCaseSensitive(r, "CreateIndex");
	cJSON_DeleteItemFromObjectCaseSensitive(r, "ModifyIndex");
	cJSON_DeleteItemFromObjectCaseSensitive(want, "CreateIndex");
	cJSON_DeleteItemFromObjectCaseSensitive(want, "ModifyIndex");
	bool eq = cJSON_Compare(r, want, 1);
	cJSON_Delete(r);
	return eq;
}

static const cJSON *remote_check(const struct agent_sync *y, const char *id)
{
	const cJSON *c;
	cJSON_ArrayForEach(c, y->remote_checks)
	{
		const cJSON *cid = cJSON_GetObjectItemCaseSensitive(c, "CheckID");
		if (cJSON_IsString(cid) && strcmp(cid->valuestring, id) == 0)
			return c;
	}
	return NULL;
}

static int add_extra(char ***v, size_t *n, const char *id)
{
	char **x = realloc(*v, (*n + 1) * sizeof(char *));
	if (!x)
		return -1;
	*v = x;
	return (x[*n] = strdup(id)) ? (int)(++*n, 0) : -1;
}

/* Marks what matches the catalog in sync, lists what only the catalog has. */
static void diff(struct agent_sync *y)
{
	struct cc_agent *a = y->a;
	struct agent_local *l = a->local;
	struct node_want nw;
	node_want(a, &nw);
	const cJSON *rnode = cJSON_GetObjectItemCaseSensitive(y->remote_node, "Node");
	const cJSON *rsvcs = cJSON_GetObjectItemCaseSensitive(y->remote_node, "Services");
	cJSON *wn = cat_json_node(&nw.node);
	y->node_in_sync = same(rnode, wn);
	cJSON_Delete(wn);
	free_list(&y->extra_svcs, &y->nextra_svcs);
	free_list(&y->extra_chks, &y->nextra_chks);
	const cJSON *e;
	cJSON_ArrayForEach(e, rsvcs)
	{
		struct local_service *s = local_service_find(l, e->string);
		if (!s && strcmp(e->string, CONSUL_SERVICE_ID) != 0)
			add_extra(&y->extra_svcs, &y->nextra_svcs, e->string);
	}
	for (struct local_service *s = l->services, *next; s; s = next) {
		next = s->next;
		const cJSON *r = cJSON_GetObjectItemCaseSensitive(rsvcs, s->d.id);
		if (s->deleted && !r) {
			local_forget(l, s, NULL);   /* already gone there */
			continue;
		}
		if (!s->deleted) {
			struct catalog_service v;
			local_service_view(s, &v);
			cJSON *w = cat_json_node_service(&v);
			s->in_sync = same(r, w);
			cJSON_Delete(w);
		}
	}
	cJSON_ArrayForEach(e, y->remote_checks)
	{
		const cJSON *cid = cJSON_GetObjectItemCaseSensitive(e, "CheckID");
		if (cJSON_IsString(cid) && !local_check_find(l, cid->valuestring) &&
		    strcmp(cid->valuestring, CATALOG_SERF_CHECK_ID) != 0)
			add_extra(&y->extra_chks, &y->nextra_chks, cid->valuestring);
	}
	for (struct local_check *c = l->checks, *next; c; c = next) {
		next = c->next;
		const cJSON *r = remote_check(y, c->d.id);
		if (c->deleted && !r) {
			local_forget(l, NULL, c);
			continue;
		}
		if (!c->deleted) {
			struct catalog_check v;
			local_check_view(a, c, &v);
			cJSON *w = cat_json_check(&v);
			c->in_sync = same(r, w);
			cJSON_Delete(w);
		}
	}
}

/* ---- reading the catalog ---- */

/* An answer came back: true when the syncer stopped meanwhile (the last
 * answer frees it). */
static bool dropped(struct agent_sync *y)
{
	y->open--;
	if (!y->stopping)
		return false;
	if (y->open == 0)
		free(y);
	return true;
}

static void fetch_failed(struct agent_sync *y, const char *err)
{
	CC_ERROR(MOD_AE, "failed to sync remote state", "error", err);
	y->failed = true;
	remote_clear(y);
	y->busy = false;
	schedule_full(y, AE_RETRY_MS + jitter(AE_RETRY_MS));
}

static void fetched(struct agent_sync *y)
{
	diff(y);
	remote_clear(y);
	y->busy = false;
	y->failed = false;
	push_next(y);
}

static void on_server_ready(void *ud, const char *err)
{
	struct agent_sync *y = ud;
	if (dropped(y))
		return;
	if (err) {
		fetch_failed(y, err);
		return;
	}
	const struct catalog *cat = cc_server_catalog(y->a->server);
	long pos = catalog_node_find(cat, y->a->cfg->node_name);
	y->remote_checks = cJSON_CreateArray();
	if (pos < 0) {
		y->remote_node = cJSON_CreateNull();
	} else {
		y->remote_node = cJSON_CreateObject();
		cJSON_AddItemToObject(y->remote_node, "Node",
		                      cat_json_node(catalog_node_at(cat, (size_t)pos)));
		cJSON *svcs = cJSON_AddObjectToObject(y->remote_node, "Services");
		for (size_t j = 0; j < catalog_service_count(cat, (size_t)pos); j++) {
			const struct catalog_service *s = catalog_service_at(cat, (size_t)pos, j);
			cJSON_AddItemToObject(svcs, s->id, cat_json_node_service(s));
		}
		for (size_t k = 0; k < catalog_check_count(cat, (size_t)pos); k++)
			cJSON_AddItemToArray(y->remote_checks,
			                     cat_json_check(catalog_check_at(cat, (size_t)pos, k)));
	}
	fetched(y);
}

static void client_read(struct agent_sync *y, int ep,
                        void (*done)(void *ud, struct cc_http_resp *resp))
{
	struct cat_params p = { .ep = ep, .name = strdup(y->a->cfg->node_name), .tag = strdup(""),
		                .node_meta = strdup(""),
		                .mode = CC_READ_STALE };
	y->open++;
	agent_forward_catalog_cb(y->a, &p, done, y);
}

/* The body of a forwarded read, or NULL after logging the failure. */
static cJSON *client_answer(struct agent_sync *y, const struct cc_http_resp *resp)
{
	if (dropped(y))
		return NULL;
	if (resp->status != 200) {
		char err[512];
		snprintf(err, sizeof(err), "%.*s", resp->body ? (int)resp->body_len : 0,
		         resp->body ? resp->body : "");
		fetch_failed(y, err[0] ? err : "request failed");
		return NULL;
	}
	cJSON *j = resp->body ? cJSON_ParseWithLength(resp->body, resp->body_len) : NULL;
	if (!j)
		fetch_failed(y, "malformed answer from the server");
	return j;
}

static void on_client_checks(void *ud, struct cc_http_resp *resp)
{
	struct agent_sync *y = ud;
	cJSON *j = client_answer(y, resp);
	if (!j)
		return;
	y->remote_checks = j;
	fetched(y);
}

static void on_client_node(void *ud, struct cc_http_resp *resp)
{
	struct agent_sync *y = ud;
	cJSON *j = client_answer(y, resp);
	if (!j)
		return;
	y->remote_node = j;
	client_read(y, HEALTH_NODE, on_client_checks);
}

static void full_sync(struct agent_sync *y)
{
	if (y->stopping)
		return;
	if (y->busy) {
		y->full_wanted = true;
		return;
	}
	y->busy = true;
	y->full_wanted = false;
	if (y->a->server) {
		y->open++;
		cc_server_read_barrier(y->a->server, CC_READ_STALE, on_server_ready, y);
	} else {
		client_read(y, CAT_NODE, on_client_node);
	}
}

/* ---- pushing ---- */

static void written(struct agent_sync *y, const char *err)
{
	y->busy = false;
	struct agent_local *l = y->a->local;
	bool svc = y->kind == P_SVC;
	for (struct local_check *c = l->checks; svc && c; c = c->next) {
		if (c->sent && !err && c->version == c->sent_version)
			c->in_sync = true;
		c->sent = false;
	}
	if (err) {
		const char *what = y->kind == P_NODE ? "Syncing node info failed."
		                   : y->kind == P_SVC || y->kind == P_SVC_DEREG ||
		                         y->kind == P_REMOTE_SVC
		                       ? "Syncing service failed."
		                       : "Syncing check failed.";
		CC_WARN(MOD, what, "error", err);
		y->failed = true;
		schedule_full(y, AE_RETRY_MS + jitter(AE_RETRY_MS));
		return;
	}
	switch (y->kind) {
	case P_NODE:
		y->node_in_sync = true;
		CC_INFO(MOD, "Synced node info");
		break;
	case P_SVC:
		if (y->svc->version == y->version)
			y->svc->in_sync = true;
		CC_INFO(MOD, "Synced service", "service", y->svc->d.id);
		break;
	case P_SVC_DEREG:
		CC_INFO(MOD, "Deregistered service", "service", y->svc->d.id);
		local_forget(l, y->svc, NULL);
		break;
	case P_REMOTE_SVC:
		CC_INFO(MOD, "Deregistered service", "service", y->target);
		break;
	case P_CHK:
		if (y->chk->version == y->version)
			y->chk->in_sync = true;
		CC_INFO(MOD, "Synced check", "check", y->chk->d.id);
		break;
	case P_CHK_DEREG:
		CC_INFO(MOD, "Deregistered check", "check", y->chk->d.id);
		local_forget(l, NULL, y->chk);
		break;
	case P_REMOTE_CHK:
		CC_INFO(MOD, "Deregistered check", "check", y->target);
		break;
	case P_NONE:
		break;
	}
	push_next(y);
}

static void on_applied(void *ud, const char *err, bool result, uint64_t index)
{
	struct agent_sync *y = ud;
	(void)result;
	(void)index;
	if (!dropped(y))
		written(y, err);
}

static void on_forwarded(void *ud, struct cc_http_resp *resp)
{
	struct agent_sync *y = ud;
	if (dropped(y))
		return;
	char err[512] = "";
	if (resp->status != 200)
		snprintf(err, sizeof(err), "%.*s", resp->body ? (int)resp->body_len : 0,
		         resp->body ? resp->body : "request failed");
	written(y, resp->status != 200 ? (err[0] ? err : "request failed") : NULL);
}

static void send_cmd(struct agent_sync *y, const struct catalog_cmd *cmd)
{
	size_t n = catalog_cmd_encode(cmd, NULL, 0);
	uint8_t *buf = n ? malloc(n) : NULL;
	if (!buf) {
		y->busy = true;
		written(y, n ? "out of memory" : "the registration breaks the catalog's rules");
		return;
	}
	catalog_cmd_encode(cmd, buf, n);
	y->busy = true;
	y->open++;
	if (y->a->server) {
		cc_server_apply(y->a->server, buf, n, on_applied, y);
		return;
	}
	struct cat_params p = { .ep = cmd->op == CATALOG_OP_REGISTER ? CAT_REGISTER : CAT_DEREGISTER,
		                .name = strdup(""), .tag = strdup(""), .node_meta = strdup(""),
		                .body = buf, .body_len = n };
	agent_forward_catalog_cb(y->a, &p, on_forwarded, y);
}

static void push_service(struct agent_sync *y, struct local_service *s)
{
	struct agent_local *l = y->a->local;
	struct node_want nw;
	node_want(y->a, &nw);
	struct catalog_service v;
	local_service_view(s, &v);
	struct catalog_check ks[CATALOG_CHECKS_MAX];
	size_t n = 0;
	for (struct local_check *c = l->checks; c && n < CATALOG_CHECKS_MAX; c = c->next)
		if (!c->deleted && strcmp(c->d.service_id, s->d.id) == 0) {
			local_check_view(y->a, c, &ks[n++]);
			c->sent = true;
			c->sent_version = c->version;
		}
	y->kind = P_SVC;
	y->svc = s;
	y->version = s->version;
	struct catalog_cmd cmd = { .op = CATALOG_OP_REGISTER, .node = nw.node, .service = &v,
		                   .checks = ks, .nchecks = n };
	send_cmd(y, &cmd);
}

static void push_dereg(struct agent_sync *y, enum push_kind kind, const char *svc_id,
                       const char *chk_id)
{
	y->kind = kind;
	snprintf(y->target, sizeof(y->target), "%s", svc_id ? svc_id : chk_id);
	struct catalog_cmd cmd = { .op = CATALOG_OP_DEREGISTER,
		                   .node = { .node = y->a->cfg->node_name },
		                   .dereg_service_id = svc_id, .dereg_check_id = chk_id };
	send_cmd(y, &cmd);
}

/* Sends the next out-of-sync entry, if any. */
static void push_next(struct agent_sync *y)
{
	struct cc_agent *a = y->a;
	struct agent_local *l = a->local;
	struct node_want nw;
	if (y->stopping || y->busy)
		return;
	if (!y->node_in_sync) {
		node_want(a, &nw);
		y->kind = P_NODE;
		struct catalog_cmd cmd = { .op = CATALOG_OP_REGISTER, .node = nw.node };
		send_cmd(y, &cmd);
		return;
	}
	if (y->nextra_svcs) {
		char *id = y->extra_svcs[--y->nextra_svcs];
		push_dereg(y, P_REMOTE_SVC, id, NULL);
		free(id);
		return;
	}
	for (struct local_service *s = l->services; s; s = s->next) {
		if (s->deleted) {
			y->svc = s;
			push_dereg(y, P_SVC_DEREG, s->d.id, NULL);
			return;
		}
		if (!s->in_sync) {
			push_service(y, s);
			return;
		}
	}
	if (y->nextra_chks) {
		char *id = y->extra_chks[--y->nextra_chks];
		push_dereg(y, P_REMOTE_CHK, NULL, id);
		free(id);
		return;
	}
	for (struct local_check *c = l->checks; c; c = c->next) {
		if (c->in_sync)
			continue;
		y->chk = c;
		if (c->deleted) {
			push_dereg(y, P_CHK_DEREG, NULL, c->d.id);
			return;
		}
		node_want(a, &nw);
		struct catalog_check v;
		local_check_view(a, c, &v);
		y->kind = P_CHK;
		y->version = c->version;
		struct catalog_cmd cmd = { .op = CATALOG_OP_REGISTER, .node = nw.node, .checks = &v,
			                   .nchecks = 1 };
		send_cmd(y, &cmd);
		return;
	}
	/* all in sync */
	if (y->full_wanted)
		full_sync(y);
	else if (!uv_is_active((uv_handle_t *)&y->full_timer))
		schedule_full(y, AE_INTERVAL_MS + jitter(AE_INTERVAL_MS));
}

static void on_soon(uv_timer_t *t)
{
	push_next(t->data);
}

void agent_sync_changes(struct cc_agent *a)
{
	struct agent_sync *y = a->local ? a->local->sync : NULL;
	if (!y || y->stopping)
		return;
	uv_timer_start(&y->soon, on_soon, 0, 0);
}

/* A server that learns of a leader syncs soon (Consul: 0-3 s after a new
 * leader event). */
static void on_leader_poll(uv_timer_t *t)
{
	struct agent_sync *y = t->data;
	bool known = y->a->server && cc_server_known_leader(y->a->server);
	if (known && !y->had_leader)
		schedule_full(y, jitter(AE_LEADER_STAGGER_MS));
	y->had_leader = known;
}

void agent_sync_server_up(struct cc_agent *a)
{
	struct agent_sync *y = a->local ? a->local->sync : NULL;
	if (y && y->failed && !y->busy)
		schedule_full(y, jitter(AE_LEADER_STAGGER_MS));
}

static void on_sync_closed(uv_handle_t *h)
{
	dropped(h->data);
}

int agent_sync_start(struct cc_agent *a)
{
	struct agent_sync *y = calloc(1, sizeof(*y));
	if (!y)
		return -1;
	y->a = a;
	uv_timer_init(&a->loop, &y->full_timer);
	uv_timer_init(&a->loop, &y->soon);
	uv_timer_init(&a->loop, &y->leader_poll);
	y->full_timer.data = y->soon.data = y->leader_poll.data = y;
	y->open = 3;
	a->local->sync = y;
	CC_INFO(MOD, "started state syncer");
	schedule_full(y, 0);
	if (a->server)
		uv_timer_start(&y->leader_poll, on_leader_poll, 1000, 1000);
	return 0;
}

void agent_sync_stop(struct cc_agent *a)
{
	struct agent_sync *y = a->local ? a->local->sync : NULL;
	if (!y)
		return;
	a->local->sync = NULL;
	y->stopping = true;
	remote_clear(y);
	free_list(&y->extra_svcs, &y->nextra_svcs);
	free_list(&y->extra_chks, &y->nextra_chks);
	/* requests still out (a write through Raft, a forwarded call) answer
	 * later; they only drop their count, and the last close frees y */
	uv_close((uv_handle_t *)&y->full_timer, on_sync_closed);
	uv_close((uv_handle_t *)&y->soon, on_sync_closed);
	uv_close((uv_handle_t *)&y->leader_poll, on_sync_closed);
}
