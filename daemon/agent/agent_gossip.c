/* The agent's gossip pools: LAN for everyone, WAN for servers; retry_join,
 * start_join, snapshot rejoin, the LAN-to-WAN join of servers, leave. Log
 * lines follow Consul's (reference §1.6-1.7, §3.1-3.2). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent/agent_internal.h"
#include "agent/agent_local.h"
#include "log/log.h"
#include "metrics/metrics.h"

#define MOD "agent"

static const char *server_module(const struct cc_agent *a)
{
	return a->cfg->server ? "agent.server" : "agent.client";
}

/* The Serf tags a Consul agent advertises (reference §2.1, wire §7). */
size_t agent_tags(const struct cc_agent *a, struct gw_tag *t, size_t cap)
{
	const struct cc_config *c = a->cfg;
	size_t n = 0;
#define TAG(k, ...)                                                                        \
	do {                                                                               \
		if (n < cap) {                                                             \
			snprintf(t[n].key, sizeof(t[n].key), "%s", k);                     \
			snprintf(t[n].value, sizeof(t[n].value), __VA_ARGS__);             \
			n++;                                                               \
		}                                                                          \
	} while (0)
	TAG("build", "%s:%s", CONCLAVE_VERSION, CONCLAVE_REVISION);
	TAG("dc", "%s", c->datacenter);
	TAG("id", "%s", a->node_id);
	TAG("segment", "%s", "");
	TAG("vsn", "%s", "2");
	TAG("vsn_max", "%s", "3");
	TAG("vsn_min", "%s", "2");
	if (!c->server) {
		TAG("role", "%s", "node");
		return n;
	}
	TAG("role", "%s", "consul");
	TAG("acls", "%s", "0");
	TAG("port", "%d", c->ports.server);
	TAG("raft_vsn", "%s", "3");
	TAG("wan_join_port", "%d", c->ports.serf_wan);
	if (c->bootstrap)
		TAG("bootstrap", "%s", "1");
	if (c->bootstrap_expect > 0)
		TAG("expect", "%d", c->bootstrap_expect);
#undef TAG
	return n;
}

static void ip_text(const struct gw_ip *ip, char *out, size_t cap)
{
	uint32_t v4 = 0;
	if (gw_ip_v4(ip, &v4))
		snprintf(out, cap, "%u.%u.%u.%u", v4 >> 24, (v4 >> 16) & 255, (v4 >> 8) & 255,
		         v4 & 255);
	else
		snprintf(out, cap, "?");
}

/* ---- member events ---- */

static void join_wan(struct cc_agent *a, const char *ip, const char *port);

/* Serf's member counters: serf.member.join, and serf.member.<status> when
 * a member leaves or fails ("left", "failed"), serf.member.update. */
static void count_event(enum swim_event ev)
{
	static const char *const keys[] = { "serf.member.join", "serf.member.left",
		                            "serf.member.failed", "serf.member.update", NULL };
	if ((unsigned)ev < sizeof(keys) / sizeof(keys[0]) && keys[ev])
		cc_metric_incr(keys[ev], 1);
}

static void on_lan_event(void *ud, enum swim_event ev, const struct swim_member_info *m)
{
	struct cc_agent *a = ud;
	count_event(ev);
	struct gw_tag t[24];
	int nt = gw_decode_tags(m->meta, m->meta_len, t, 24);
	if (nt < 0)
		return;
	const char *role = gw_tag_find(t, (size_t)nt, "role");
	const char *port = gw_tag_find(t, (size_t)nt, "port");
	const char *dc = gw_tag_find(t, (size_t)nt, "dc");
	if (!role || strcmp(role, "consul") != 0 || !port)
		return;
	if (!a->cfg->server) {   /* Consul's ServerUp: a client's anti-entropy retries */
		if (ev == SWIM_EVENT_JOIN)
			agent_sync_server_up(a);
		return;
	}
	cc_server_lan_event(a->server, ev, m);
	char ip[64], desc[GW_NAME_MAX + 128];
	ip_text(&m->addr, ip, sizeof(ip));
	snprintf(desc, sizeof(desc), "%s (Addr: tcp/%s:%s) (DC: %s)", m->name, ip, port,
	         dc ? dc : "");
	if (ev == SWIM_EVENT_JOIN) {
		CC_INFO("agent.server", "Adding LAN server", "server", desc);
		const char *wan = gw_tag_find(t, (size_t)nt, "wan_join_port");
		if (wan && a->wan && strcmp(m->name, a->cfg->node_name) != 0)
			join_wan(a, ip, wan);
	} else if (ev == SWIM_EVENT_FAILED || ev == SWIM_EVENT_LEAVE || ev == SWIM_EVENT_REAP) {
		CC_INFO("agent.server", "Removing LAN server", "server", desc);
	}
}

static void on_wan_event(void *ud, enum swim_event ev, const struct swim_member_info *m)
{
	static const char *const names[] = { "member-join", "member-leave", "member-failed",
		                             "member-update", "member-reap" };
	count_event(ev);
	CC_INFO("agent.server", "Handled event for server in area", "event", names[ev], "server",
	        m->name, "area", "wan");
}

/* The LAN-to-WAN "flood": every LAN server is joined on its WAN port. */
static void on_wan_joined(void *ud, int contacted, int others, const char *err)
{
	if (err && contacted == 0)
		CC_DEBUG("agent.server", "Failed to join WAN server", "error", err);
}

static void join_wan(struct cc_agent *a, const char *ip, const char *port)
{
	char addr[96];
	snprintf(addr, sizeof(addr), "%s:%s", ip, port);
	const char *addrs[1] = { addr };
	gossip_join(a->wan, addrs, 1, on_wan_joined, a);
}

/* ---- retry_join / start_join ---- */

static void retry_attempt(struct cc_agent *a);

static void on_retry_timer(uv_timer_t *t)
{
	retry_attempt(t->data);
}

static void on_lan_joined(void *ud, int contacted, int others, const char *err)
{
	struct cc_agent *a = ud;
	const struct cc_config *c = a->cfg;
	char n[16], interval[32];
	snprintf(n, sizeof(n), "%d", contacted);
	cc_duration_format(c->retry_interval_ms, interval, sizeof(interval));
	bool start_join = a->start_join_pending;
	a->start_join_pending = false;
	if (others > 0) {
		CC_INFO(MOD, "(LAN) joined", "number_of_nodes", n);
		CC_INFO(MOD, "Join cluster completed. Synced with initial agents", "cluster", "LAN",
		        "num_agents", n);
		if (start_join && c->retry_join.n > 0)
			retry_attempt(a); /* Consul runs retry_join after start_join too */
		else
			a->joined = true;
		return;
	}
	/* One deliberate difference from Consul (its #7750, #2868): an answer from
	 * this agent alone is not a successful join. */
	if (contacted > 0)
		CC_WARN(MOD, "(LAN) joined only this agent: no other node answered", "number_of_nodes",
		        n);
	else
		CC_WARN(MOD, "(LAN) couldn't join", "number_of_nodes", n, "error",
		        err ? err : "no address answered");
	if (start_join) {
		CC_ERROR(MOD, "Error starting agent: start_join failed", "error",
		         err ? err : "no other node answered");
		a->exit_code = 1;
		agent_shutdown(a, false);
		return;
	}
	a->join_attempts++;
	if (c->retry_max > 0 && a->join_attempts >= c->retry_max) {
		char max[16];
		snprintf(max, sizeof(max), "%d", c->retry_max);
		CC_ERROR(MOD, "Join cluster failed, giving up", "cluster", "LAN", "retry_max", max);
		a->exit_code = 1;
		agent_shutdown(a, false);
		return;
	}
	CC_WARN(MOD, "Join cluster failed, will retry", "cluster", "LAN", "retry_interval", interval,
	        "error", err ? err : "no other node answered");
	uv_timer_start(&a->retry_timer, on_retry_timer, c->retry_interval_ms, 0);
}

static void retry_attempt(struct cc_agent *a)
{
	const struct cc_strlist *l = a->start_join_pending ? &a->cfg->start_join : &a->cfg->retry_join;
	if (a->joined || a->stopping || l->n == 0)
		return;
	char list[1024];
	cc_log_list(list, sizeof(list), (const char *const *)l->v, l->n);
	CC_INFO(MOD, "Joining cluster...", "cluster", "LAN");
	CC_INFO(MOD, "(LAN) joining", "lan_addresses", list);
	if (gossip_join(a->lan, (const char *const *)l->v, l->n > 32 ? 32 : l->n, on_lan_joined, a))
		uv_timer_start(&a->retry_timer, on_retry_timer, a->cfg->retry_interval_ms, 0);
}

/* ---- snapshot rejoin (serf's handleRejoin) ---- */

static void on_rejoined(void *ud, int contacted, int others, const char *err)
{
	struct cc_agent *a = ud;
	char mod[64];
	snprintf(mod, sizeof(mod), "%s.serf.lan", server_module(a));
	if (others > 0)
		cc_log(CC_LOG_INFO, mod, "serf: Re-joined to previously known node", (const char *)NULL);
	else
		cc_log(CC_LOG_WARN, mod, "serf: Failed to re-join any previously known node",
		       (const char *)NULL);
}

static void rejoin_snapshot(struct cc_agent *a)
{
	char (*known)[GW_NAME_MAX + 32] = calloc(32, sizeof(*known));
	if (!known)
		return;
	size_t n = gossip_snapshot_members(a->lan, known, 32);
	const char *addrs[32];
	size_t na = 0;
	char mod[64];
	snprintf(mod, sizeof(mod), "%s.serf.lan", server_module(a));
	for (size_t i = 0; i < n; i++) {
		char *sp = strchr(known[i], ' ');
		if (!sp || strncmp(known[i], a->cfg->node_name, (size_t)(sp - known[i])) == 0)
			continue;
		*sp = '\0';
		char msg[GW_NAME_MAX + 96];
		snprintf(msg, sizeof(msg), "serf: Attempting re-join to previously known node: %s: %s",
		         known[i], sp + 1);
		cc_log(CC_LOG_INFO, mod, msg, (const char *)NULL);
		addrs[na++] = sp + 1;
	}
	if (na)
		gossip_join(a->lan, addrs, na, on_rejoined, a);
	free(known);
}

/* ---- start and stop ---- */

static int mkdir_p(const char *dir)
{
	char tmp[1024];
	snprintf(tmp, sizeof(tmp), "%s", dir);
	for (char *p = tmp + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			mkdir(tmp, 0700);
			*p = '/';
		}
	}
	return mkdir(tmp, 0700) == 0 || errno == EEXIST ? 0 : -errno;
}

int agent_gossip_start(struct cc_agent *a, char *err, size_t errlen)
{
	const struct cc_config *c = a->cfg;
	char serf_dir[1024], lan_snap[1100], wan_snap[1100], lan_ring[1100], wan_ring[1100], wan_name[GW_NAME_MAX];
	snprintf(serf_dir, sizeof(serf_dir), "%s/serf", c->data_dir);
	if (mkdir_p(serf_dir)) {
		snprintf(err, errlen, "cannot create %s: %s", serf_dir, strerror(errno));
		return -1;
	}
	snprintf(lan_snap, sizeof(lan_snap), "%s/local.snapshot", serf_dir);
	snprintf(wan_snap, sizeof(wan_snap), "%s/remote.snapshot", serf_dir);
	snprintf(lan_ring, sizeof(lan_ring), "%s/local.keyring", serf_dir);
	snprintf(wan_ring, sizeof(wan_ring), "%s/remote.keyring", serf_dir);
	struct gw_tag tags[24];
	size_t nt = agent_tags(a, tags, 24);
	struct gossip_config g = {
		.log_module = server_module(a),
		.bind_ip = c->bind_addr,
		.advertise_ip = c->advertise_addr,
		.tags = tags,
		.ntags = nt,
		.encrypt = c->encrypt,
		.rejoin_after_leave = c->rejoin_after_leave,
		.leave_propagate_ms = 3000,       /* Consul's LeavePropagateDelay */
		.reconnect_timeout_ms = 72u * 3600 * 1000,
		.ud = a,
	};
	if (c->server) {
		snprintf(wan_name, sizeof(wan_name), "%s.%s", c->node_name, c->datacenter);
		g.pool = "wan";
		g.name = wan_name;
		g.port = (uint16_t)c->ports.serf_wan;
		g.advertise_ip = c->advertise_addr_wan;
		g.snapshot_path = wan_snap;
		g.keyring_path = wan_ring;
		g.on_event = on_wan_event;
		if (gossip_start(&a->wan, &a->loop, &g, err, errlen))
			return -1;
	}
	g.pool = "lan";
	g.name = c->node_name;
	g.port = (uint16_t)c->ports.serf_lan;
	g.advertise_ip = c->advertise_addr;
	g.snapshot_path = lan_snap;
	g.keyring_path = lan_ring;
	g.on_event = on_lan_event;
	g.veto_consul = true;   /* Consul's LAN merge delegate */
	g.on_user_event = agent_on_user_event;
	if (gossip_start(&a->lan, &a->loop, &g, err, errlen))
		return -1;
	uv_timer_init(&a->loop, &a->retry_timer);
	a->retry_timer.data = a;
	a->have_retry_timer = true;
	return 0;
}

void agent_gossip_join(struct cc_agent *a)
{
	rejoin_snapshot(a);
	a->start_join_pending = a->cfg->start_join.n > 0;
	retry_attempt(a);
}

struct leave_ctx {
	struct cc_agent *a;
	int pending;
	void (*done)(struct cc_agent *a);
};

static void on_pool_left(void *ud)
{
	struct leave_ctx *l = ud;
	if (--l->pending > 0)
		return;
	void (*done)(struct cc_agent *) = l->done;
	struct cc_agent *a = l->a;
	free(l);
	done(a);
}

void agent_gossip_leave(struct cc_agent *a, void (*done)(struct cc_agent *a))
{
	struct leave_ctx *l = calloc(1, sizeof(*l));
	if (!l) {
		done(a);
		return;
	}
	l->a = a;
	l->done = done;
	l->pending = (a->lan ? 1 : 0) + (a->wan ? 1 : 0);
	if (l->pending == 0) {
		free(l);
		done(a);
		return;
	}
	if (a->wan)
		gossip_leave(a->wan, on_pool_left, l);
	if (a->lan)
		gossip_leave(a->lan, on_pool_left, l);
}

void agent_gossip_stop(struct cc_agent *a, bool left)
{
	if (a->have_retry_timer) {
		uv_timer_stop(&a->retry_timer);
		uv_close((uv_handle_t *)&a->retry_timer, NULL);
		a->have_retry_timer = false;
	}
	const char *pools[2] = { "lan", "wan" };
	struct gossip **g[2] = { &a->lan, &a->wan };
	for (int i = 0; i < 2; i++) {
		if (!*g[i])
			continue;
		if (!left) {
			char mod[64];
			snprintf(mod, sizeof(mod), "%s.serf.%s", server_module(a), pools[i]);
			CC_WARN(mod, "serf: Shutdown without a Leave");
		}
		gossip_stop(*g[i]);
		*g[i] = NULL;
	}
}

/* ---- members as Consul's API shows them ---- */

cJSON *agent_member_json(const struct swim_member_info *m)
{
	cJSON *o = cJSON_CreateObject();
	char ip[64];
	ip_text(&m->addr, ip, sizeof(ip));
	cJSON_AddStringToObject(o, "Name", m->name);
	cJSON_AddStringToObject(o, "Addr", ip);
	cJSON_AddNumberToObject(o, "Port", m->port);
	cJSON *tags = cJSON_AddObjectToObject(o, "Tags");
	struct gw_tag t[32];
	int nt = gw_decode_tags(m->meta, m->meta_len, t, 32);
	for (int i = 0; i < nt; i++)
		cJSON_AddStringToObject(tags, t[i].key, t[i].value);
	cJSON_AddNumberToObject(o, "Status", m->status);
	static const char *const vk[] = { "ProtocolMin", "ProtocolMax", "ProtocolCur",
		                          "DelegateMin", "DelegateMax", "DelegateCur" };
	for (int i = 0; i < 6; i++)
		cJSON_AddNumberToObject(o, vk[i], m->vsn ? m->vsn[i] : 0);
	return o;
}
