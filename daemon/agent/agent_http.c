/* The agent's HTTP endpoints, in Consul's JSON shapes. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "agent/agent_internal.h"

struct member_find {
	const char *name;
	cJSON *json;
};

static void find_member(void *ud, const struct swim_member_info *m)
{
	struct member_find *f = ud;
	if (!f->json && strcmp(m->name, f->name) == 0)
		f->json = agent_member_json(m);
}

static void add_member(void *ud, const struct swim_member_info *m)
{
	cJSON_AddItemToArray(ud, agent_member_json(m));
}

static cJSON *string_array(const struct cc_strlist *l)
{
	cJSON *arr = cJSON_CreateArray();
	for (size_t i = 0; i < l->n; i++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(l->v[i]));
	return arr;
}

/* A sanitized view of the runtime config (Consul: "format not stable"). */
static cJSON *debug_config(const struct cc_agent *a)
{
	const struct cc_config *c = a->cfg;
	cJSON *d = cJSON_CreateObject();
	char dur[32];
	cJSON_AddStringToObject(d, "AdvertiseAddrLAN", c->advertise_addr);
	cJSON_AddStringToObject(d, "AdvertiseAddrWAN", c->advertise_addr_wan);
	cJSON_AddStringToObject(d, "BindAddr", c->bind_addr);
	cJSON_AddBoolToObject(d, "Bootstrap", c->bootstrap);
	cJSON_AddNumberToObject(d, "BootstrapExpect", c->bootstrap_expect);
	cJSON_AddItemToObject(d, "ClientAddrs", string_array(&c->client_addrs));
	cJSON_AddStringToObject(d, "DataDir", c->data_dir);
	cJSON_AddStringToObject(d, "Datacenter", c->datacenter);
	cJSON_AddNumberToObject(d, "DNSPort", c->ports.dns);
	cJSON_AddStringToObject(d, "EncryptKey", c->encrypt ? "hidden" : "");
	cJSON_AddBoolToObject(d, "EnableRemoteScriptChecks", c->enable_script_checks);
	cJSON_AddNumberToObject(d, "HTTPPort", c->ports.http);
	cJSON_AddBoolToObject(d, "LeaveOnTerm", c->leave_on_terminate);
	cJSON_AddStringToObject(d, "LogLevel", cc_log_level_name(c->log_level));
	cJSON_AddStringToObject(d, "NodeID", a->node_id);
	cJSON_AddStringToObject(d, "NodeName", c->node_name);
	cJSON_AddNumberToObject(d, "RaftMultiplier", c->raft_multiplier);
	cJSON_AddBoolToObject(d, "RejoinAfterLeave", c->rejoin_after_leave);
	cJSON_AddStringToObject(d, "RetryJoinIntervalLAN",
	                        cc_duration_format(c->retry_interval_ms, dur, sizeof(dur)));
	cJSON_AddItemToObject(d, "RetryJoinLAN", string_array(&c->retry_join));
	cJSON_AddNumberToObject(d, "RetryJoinMaxAttemptsLAN", c->retry_max);
	cJSON_AddItemToObject(d, "RetryJoinWAN", string_array(&c->retry_join_wan));
	cJSON_AddNumberToObject(d, "ServerPort", c->ports.server);
	cJSON_AddBoolToObject(d, "ServerMode", c->server);
	cJSON_AddNumberToObject(d, "SerfPortLAN", c->ports.serf_lan);
	cJSON_AddNumberToObject(d, "SerfPortWAN", c->ports.serf_wan);
	cJSON_AddBoolToObject(d, "SkipLeaveOnInt", c->skip_leave_on_interrupt);
	cJSON_AddItemToObject(d, "StartJoinAddrsLAN", string_array(&c->start_join));
	cJSON_AddBoolToObject(d, "UIEnabled", c->ui);
	return d;
}

static void add_u64(cJSON *o, const char *key, uint64_t v)
{
	char buf[24];
	snprintf(buf, sizeof(buf), "%" PRIu64, v);
	cJSON_AddStringToObject(o, key, buf);
}

/* A server's "raft" section, in hashicorp/raft Stats() names (what `consul
 * info` shows): num_peers counts the other voters, as raft does. */
static void raft_stats(const struct cc_agent *a, cJSON *s)
{
	const struct cc_server *srv = a->server;
	uint64_t term, commit, applied, last;
	const char *state;
	cc_server_stats(srv, &term, &commit, &applied, &last, &state);
	const struct raft_configuration *conf = cc_server_configuration(srv);
	uint64_t peers = 0;
	for (unsigned i = 0; conf && i < conf->n; i++)
		if (conf->s[i].voter && strcmp(conf->s[i].id, a->node_id) != 0)
			peers++;
	cJSON *r = cJSON_AddObjectToObject(s, "raft");
	add_u64(r, "applied_index", applied);
	add_u64(r, "commit_index", commit);
	char dur[32] = "0";
	if (!cc_server_is_leader(srv)) {
		uint64_t ms = cc_server_last_contact_ms(srv);
		if (ms == 0 && !cc_server_known_leader(srv))
			snprintf(dur, sizeof(dur), "never");
		else
			cc_duration_format(ms, dur, sizeof(dur));
	}
	cJSON_AddStringToObject(r, "last_contact", dur);
	add_u64(r, "last_log_index", last);
	add_u64(r, "latest_configuration_index", cc_server_configuration_index(srv));
	add_u64(r, "num_peers", peers);
	cJSON_AddStringToObject(r, "protocol_version", "3");
	cJSON_AddStringToObject(r, "state", state);
	add_u64(r, "term", term);
}

static cJSON *stats(const struct cc_agent *a)
{
	const struct cc_config *c = a->cfg;
	cJSON *s = cJSON_CreateObject();
	char buf[32];

	cJSON *agent = cJSON_AddObjectToObject(s, "agent");
	snprintf(buf, sizeof(buf), "%zu", c->nservices);
	cJSON_AddStringToObject(agent, "services", buf);
	size_t nchecks = 0;
	for (size_t i = 0; i < c->nservices; i++)
		nchecks += c->services[i].nchecks;
	snprintf(buf, sizeof(buf), "%zu", nchecks);
	cJSON_AddStringToObject(agent, "checks", buf);

	cJSON *build = cJSON_AddObjectToObject(s, "build");
	cJSON_AddStringToObject(build, "prerelease", "");
	cJSON_AddStringToObject(build, "revision", CONCLAVE_REVISION);
	cJSON_AddStringToObject(build, "version", CONCLAVE_VERSION);

	cJSON *consul = cJSON_AddObjectToObject(s, "consul");
	cJSON_AddStringToObject(consul, "acl", "disabled");
	cJSON_AddStringToObject(consul, "bootstrap", c->bootstrap ? "true" : "false");
	cJSON_AddStringToObject(consul, "known_datacenters", "1");
	bool leader = a->server && cc_server_is_leader(a->server);
	cJSON_AddStringToObject(consul, "leader", leader ? "true" : "false");
	cJSON_AddStringToObject(consul, "leader_addr", a->server ? cc_server_leader(a->server) : "");
	cJSON_AddStringToObject(consul, "server", c->server ? "true" : "false");

	if (a->server)
		raft_stats(a, s);

	const char *pools[2] = { "serf_lan", "serf_wan" };
	const struct gossip *g[2] = { a->lan, a->wan };
	for (int i = 0; i < 2; i++) {
		if (!g[i])
			continue;
		cJSON *p = cJSON_AddObjectToObject(s, pools[i]);
		snprintf(buf, sizeof(buf), "%zu", gossip_count(g[i], SWIM_NONE));
		cJSON_AddStringToObject(p, "members", buf);
		snprintf(buf, sizeof(buf), "%zu", gossip_count(g[i], SWIM_FAILED));
		cJSON_AddStringToObject(p, "failed", buf);
		snprintf(buf, sizeof(buf), "%zu", gossip_count(g[i], SWIM_LEFT));
		cJSON_AddStringToObject(p, "left", buf);
		snprintf(buf, sizeof(buf), "%d", gossip_health(g[i]));
		cJSON_AddStringToObject(p, "health_score", buf);
		cJSON_AddStringToObject(p, "encrypted", gossip_encrypted(g[i]) ? "true" : "false");
	}

	cJSON *rt = cJSON_AddObjectToObject(s, "runtime");
	struct utsname u;
	uname(&u);
	cJSON_AddStringToObject(rt, "arch", u.machine);
	snprintf(buf, sizeof(buf), "%ld", sysconf(_SC_NPROCESSORS_ONLN));
	cJSON_AddStringToObject(rt, "cpu_count", buf);
	cJSON_AddStringToObject(rt, "os", "linux");
	cJSON_AddStringToObject(rt, "version", "C17");
	return s;
}

static void h_agent_self(void *ud, const struct cc_http_req *req, struct cc_http_resp *resp)
{
	const struct cc_agent *a = ud;
	const struct cc_config *c = a->cfg;
	cJSON *root = cJSON_CreateObject();

	cJSON *cfg = cJSON_AddObjectToObject(root, "Config");
	cJSON_AddStringToObject(cfg, "Datacenter", c->datacenter);
	cJSON_AddStringToObject(cfg, "NodeName", c->node_name);
	cJSON_AddStringToObject(cfg, "NodeID", a->node_id);
	cJSON_AddStringToObject(cfg, "Revision", CONCLAVE_REVISION);
	cJSON_AddBoolToObject(cfg, "Server", c->server);
	cJSON_AddStringToObject(cfg, "Version", CONCLAVE_VERSION);

	cJSON_AddItemToObject(root, "DebugConfig", debug_config(a));

	/* The Vivaldi coordinate every agent starts from (serf/coordinate defaults). */
	cJSON *coord = cJSON_AddObjectToObject(root, "Coord");
	const double vec[8] = { 0 };
	cJSON_AddItemToObject(coord, "Vec", cJSON_CreateDoubleArray(vec, 8));
	cJSON_AddNumberToObject(coord, "Error", 1.5);
	cJSON_AddNumberToObject(coord, "Adjustment", 0);
	cJSON_AddNumberToObject(coord, "Height", 1e-05);

	struct member_find f = { c->node_name, NULL };
	if (a->lan)
		gossip_members(a->lan, find_member, &f);
	cJSON_AddItemToObject(root, "Member", f.json ? f.json : cJSON_CreateObject());

	cJSON_AddItemToObject(root, "Stats", stats(a));
	cJSON *meta = cJSON_AddObjectToObject(root, "Meta");
	cJSON_AddStringToObject(meta, "consul-network-segment", "");

	cc_http_json(req, resp, root);
	cJSON_Delete(root);
}

static struct gossip *pool_of(const struct cc_agent *a, const struct cc_http_req *req)
{
	const char *wan = cc_http_query(req, "wan");
	bool want_wan = wan && strcmp(wan, "0") != 0 && strcmp(wan, "false") != 0;
	return want_wan ? a->wan : a->lan;
}

/* GET /v1/agent/members[?wan=1]: the pool's members as Serf sees them. */
static void h_agent_members(void *ud, const struct cc_http_req *req, struct cc_http_resp *resp)
{
	const struct cc_agent *a = ud;
	struct gossip *g = pool_of(a, req);
	if (!g) {
		cc_http_error(resp, 500, "WAN members are only available on servers");
		return;
	}
	cJSON *arr = cJSON_CreateArray();
	gossip_members(g, add_member, arr);
	cc_http_json(req, resp, arr);
	cJSON_Delete(arr);
}

static void on_api_joined(void *ud, int contacted, int others, const char *err)
{
	struct cc_http_resp resp = { .status = 200 };
	if (contacted == 0)
		cc_http_error(&resp, 500, "%s", err ? err : "no address answered");
	cc_http_finish(ud, &resp);
}

/* PUT /v1/agent/join/ADDR[?wan=1]: 200 once the address answered a push/pull. */
static void h_agent_join(void *ud, const struct cc_http_req *req, struct cc_http_resp *resp)
{
	struct cc_agent *a = ud;
	struct gossip *g = pool_of(a, req);
	if (!g) {
		cc_http_error(resp, 500, "WAN join is only available on servers");
		return;
	}
	if (!req->suffix[0]) {
		cc_http_error(resp, 400, "Missing address to join");
		return;
	}
	const char *addrs[1] = { req->suffix };
	struct cc_http_pending *p = cc_http_defer(req);
	if (gossip_join(g, addrs, 1, on_api_joined, p)) {
		struct cc_http_resp r = { .status = 200 };
		cc_http_error(&r, 500, "too many joins in progress");
		cc_http_finish(p, &r);
	}
}

static struct cc_http_pending *leave_pending;

static void free_handle(uv_handle_t *h)
{
	free(h);
}

static void on_shutdown_timer(uv_timer_t *t)
{
	struct cc_agent *a = t->data;
	uv_close((uv_handle_t *)t, free_handle);
	agent_shutdown_after_leave(a);
}

static void on_api_left(struct cc_agent *a)
{
	CC_INFO("agent", "Graceful exit completed");
	struct cc_http_resp r = { .status = 200 };
	if (leave_pending)
		cc_http_finish(leave_pending, &r);
	leave_pending = NULL;
	a->exit_code = 0;
	/* let the answer go out, then stop */
	uv_timer_t *t = malloc(sizeof(*t));
	if (!t) {
		agent_shutdown_after_leave(a);
		return;
	}
	uv_timer_init(&a->loop, t);
	t->data = a;
	uv_timer_start(t, on_shutdown_timer, 100, 0);
}

/* PUT /v1/agent/leave: a graceful leave, answered when it is done; then the
 * agent shuts down, as Consul's does. */
static void h_agent_leave(void *ud, const struct cc_http_req *req, struct cc_http_resp *resp)
{
	struct cc_agent *a = ud;
	if (leave_pending || a->stopping) {
		cc_http_error(resp, 500, "the agent is already leaving");
		return;
	}
	CC_INFO("agent", "Gracefully shutting down agent...");
	leave_pending = cc_http_defer(req);
	agent_leave(a, on_api_left);
}

/* PUT /v1/agent/force-leave/NODE: a failed member is marked left. */
static void h_agent_force_leave(void *ud, const struct cc_http_req *req,
                                struct cc_http_resp *resp)
{
	struct cc_agent *a = ud;
	struct gossip *g = pool_of(a, req);
	if (!g || !req->suffix[0]) {
		cc_http_error(resp, 400, "Missing node name");
		return;
	}
	if (gossip_force_leave(g, req->suffix))
		cc_http_error(resp, 500, "agent: No node found with name '%s'", req->suffix);
}

const struct cc_http_route cc_agent_routes[] = {
	{ "/v1/agent/join/", true, "PUT", h_agent_join },
	{ "/v1/agent/leave", false, "PUT", h_agent_leave },
	{ "/v1/agent/force-leave/", true, "PUT", h_agent_force_leave },
	{ "/v1/agent/members", false, "GET", h_agent_members },
	{ "/v1/agent/self", false, "GET", h_agent_self },
	{ "/v1/agent/metrics", false, "GET", agent_h_metrics },
	{ "/v1/agent/monitor", false, "GET", agent_h_monitor },
	{ "/v1/agent/services", false, "GET", agent_h_local },
	{ "/v1/agent/checks", false, "GET", agent_h_local },
	{ "/v1/agent/service/", true, "GET PUT", agent_h_local },
	{ "/v1/agent/check/", true, "PUT", agent_h_local },
	{ "/v1/agent/maintenance", false, "PUT", agent_h_local },
	{ "/v1/agent/reload", false, "PUT", agent_h_reload },
	{ "/v1/event/fire/", true, "PUT", agent_h_event },
	{ "/v1/event/list", false, "GET", agent_h_event },
	{ "/v1/status/leader", false, "GET", agent_h_status_leader },
	{ "/v1/status/peers", false, "GET", agent_h_status_peers },
	{ "/v1/kv/", true, "GET PUT DELETE", agent_h_kv },
	{ "/v1/operator/raft/configuration", false, "GET", agent_h_raft_configuration },
	{ "/v1/operator/raft/peer", false, "DELETE", agent_h_raft_peer },
	{ "/v1/operator/autopilot/health", false, "GET", agent_h_autopilot_health },
	{ "/v1/operator/autopilot/configuration", false, "GET PUT", agent_h_autopilot_config },
	{ "/v1/operator/keyring", false, "GET POST PUT DELETE", agent_h_keyring },
	{ "/v1/catalog/nodes", false, "GET", agent_h_catalog },
	{ "/v1/catalog/services", false, "GET", agent_h_catalog },
	{ "/v1/catalog/service/", true, "GET", agent_h_catalog },
	{ "/v1/catalog/node/", true, "GET", agent_h_catalog },
	{ "/v1/catalog/register", false, "PUT", agent_h_catalog },
	{ "/v1/catalog/deregister", false, "PUT", agent_h_catalog },
	{ "/v1/health/node/", true, "GET", agent_h_catalog },
	{ "/v1/health/checks/", true, "GET", agent_h_catalog },
	{ "/v1/health/service/", true, "GET", agent_h_catalog },
	{ "/v1/health/state/", true, "GET", agent_h_catalog },
	{ "/", false, "GET HEAD", agent_h_ui_root },
	{ "/ui", true, "GET HEAD", agent_h_ui },
};
const size_t cc_agent_nroutes = sizeof(cc_agent_routes) / sizeof(cc_agent_routes[0]);
