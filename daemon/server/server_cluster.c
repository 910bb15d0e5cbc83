/* server_cluster: how gossip membership drives Raft membership — Consul's
 * bootstrap_expect (reference §2.3), the leader's reconcile of LAN servers
 * into the configuration with non-voters promoted once caught up (what
 * autopilot does), and the graceful leave of a server. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log/log.h"
#include "server/server_internal.h"

#define CLUSTER_TICK_MS 250
#define PROMOTE_STABLE_MS 1000     /* Consul's server_stabilization_time is 10 s */
#define LEAVE_TIMEOUT_MS 5000

/* Consul's IsConsulServer: role=consul with a port, a vsn and a build. */
bool cluster_parse_member(const struct swim_member_info *m, struct srv_member *out)
{
	struct gw_tag t[24];
	int nt = gw_decode_tags(m->meta, m->meta_len, t, 24);
	if (nt < 0)
		return false;
	const char *role = gw_tag_find(t, (size_t)nt, "role");
	const char *port = gw_tag_find(t, (size_t)nt, "port");
	const char *id = gw_tag_find(t, (size_t)nt, "id");
	const char *dc = gw_tag_find(t, (size_t)nt, "dc");
	const char *expect = gw_tag_find(t, (size_t)nt, "expect");
	if (!role || strcmp(role, "consul") != 0 || !port || !gw_tag_find(t, (size_t)nt, "vsn") ||
	    !gw_tag_find(t, (size_t)nt, "build"))
		return false;
	uint32_t v4;
	if (!gw_ip_v4(&m->addr, &v4))
		return false;
	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "%s", m->name);
	snprintf(out->id, sizeof(out->id), "%s", id ? id : "");
	snprintf(out->addr, sizeof(out->addr), "%u.%u.%u.%u:%s", v4 >> 24, (v4 >> 16) & 255,
	         (v4 >> 8) & 255, v4 & 255, port);
	snprintf(out->dc, sizeof(out->dc), "%s", dc ? dc : "");
	out->expect = expect ? atoi(expect) : 0;
	out->bootstrap = gw_tag_find(t, (size_t)nt, "bootstrap") != NULL;
	out->nonvoter = gw_tag_find(t, (size_t)nt, "nonvoter") != NULL;
	out->status = m->status;
	return true;
}

bool cc_server_rpc_addr(const struct swim_member_info *m, const char *dc, char *addr, size_t cap)
{
	struct srv_member sm;
	if (!cluster_parse_member(m, &sm) || strcmp(sm.dc, dc) != 0)
		return false;
	snprintf(addr, cap, "%s", sm.addr);
	return true;
}

struct scan_ctx {
	struct cc_server *s;
};

static void scan_member(void *ud, const struct swim_member_info *m)
{
	struct scan_ctx *c = ud;
	struct cc_server *s = c->s;
	struct srv_member sm;
	if (s->nmembers >= MAX_MEMBERS || !cluster_parse_member(m, &sm))
		return;
	if (s->nmembers == s->capmembers) {
		size_t cap = s->capmembers ? s->capmembers * 2 : 8;
		if (cap > MAX_MEMBERS)
			cap = MAX_MEMBERS;
		struct srv_member *n = realloc(s->members, cap * sizeof(*n));
		if (!n)
			return; /* dropped, as one past MAX_MEMBERS is */
		s->members = n;
		s->capmembers = cap;
	}
	s->members[s->nmembers++] = sm;
}

/* Refreshes the table of LAN servers from the pool. */
static void refresh_members(struct cc_server *s)
{
	s->nmembers = 0;
	if (!s->lan)
		return;
	struct scan_ctx c = { s };
	gossip_members(s->lan, scan_member, &c);
}

const struct srv_member *cluster_member_by_id(const struct cc_server *s, const char *id)
{
	for (size_t i = 0; i < s->nmembers; i++)
		if (strcmp(s->members[i].id, id) == 0)
			return &s->members[i];
	return NULL;
}

const struct srv_member *cluster_member_by_addr(const struct cc_server *s, const char *addr)
{
	for (size_t i = 0; i < s->nmembers; i++)
		if (strcmp(s->members[i].addr, addr) == 0)
			return &s->members[i];
	return NULL;
}

const char *cc_server_member_name(const struct cc_server *s, const char *id)
{
	if (strcmp(id, s->node_id) == 0)
		return s->cfg->node_name;
	const struct srv_member *m = cluster_member_by_id(s, id);
	return m ? m->name : "(unknown)";
}

/* ---- bootstrap_expect ---- */

struct peers_ask {
	struct peers_ask *next;
	struct cc_server *s;
	bool closing;
	char name[GW_NAME_MAX];
	char addr[RAFT_ADDR_MAX];
	int attempt;
	uv_timer_t retry;
};

static void bootstrap_finish(struct cc_server *s);
static void ask_peers(struct peers_ask *a);

static void on_ask_closed(uv_handle_t *h)
{
	struct peers_ask *a = h->data;
	struct cc_server *s = a->s;
	for (struct peers_ask **pp = &s->asks; *pp; pp = &(*pp)->next) {
		if (*pp == a) {
			*pp = a->next;
			break;
		}
	}
	free(a);
	server_handle_closed(s);
}

static void ask_close(struct peers_ask *a)
{
	if (!a->closing) {
		a->closing = true;
		uv_close((uv_handle_t *)&a->retry, on_ask_closed);
	}
}

static void ask_done(struct peers_ask *a)
{
	struct cc_server *s = a->s;
	ask_close(a);
	if (--s->bootstrap_pending == 0)
		bootstrap_finish(s);
}

void cluster_stop(struct cc_server *s)
{
	for (struct peers_ask *a = s->asks; a; a = a->next)
		ask_close(a);
}

static void on_retry(uv_timer_t *t)
{
	struct peers_ask *a = t->data;
	if (a->s->stopping)
		ask_done(a);
	else
		ask_peers(a);
}

static void on_peers(void *ud, const char *err, const uint8_t *body, size_t len)
{
	struct peers_ask *a = ud;
	struct cc_server *s = a->s;
	if (s->stopping) {
		ask_done(a);
		return;
	}
	struct raft_configuration c;
	if (!err && raft_conf_decode(body, len, &c) != 0 && len != 0)
		err = "malformed Status.Peers answer";
	if (err) {
		/* Consul retries 6 times with 1, 2, 4 ... 32 s between; ours start at
		 * 100 ms, since servers usually come up together */
		if (++a->attempt >= 6) {
			ask_done(a);
			return;
		}
		char iv[32];
		uint64_t ms = 100ull << a->attempt;
		snprintf(iv, sizeof(iv), "%llums", (unsigned long long)ms);
		CC_ERROR(MOD_SERVER, "Failed to confirm peer status for server (will retry).",
		         "server", a->name, "retry_interval", iv, "error", err);
		uv_timer_start(&a->retry, on_retry, ms, 0);
		return;
	}
	if (len && c.n > 0) {
		s->bootstrap_found_peers = true;
		snprintf(s->bootstrap_peer_with_state, sizeof(s->bootstrap_peer_with_state), "%s",
		         a->name);
	}
	ask_done(a);
}

static void ask_peers(struct peers_ask *a)
{
	struct cc_server *s = a->s;
	if (s->stopping || !s->tr || transport_rpc(s->tr, a->addr, "Status.Peers", NULL, 0, 2000, on_peers,
	                                 a) != 0)
		on_peers(a, "connection refused", NULL, 0);
}

static void bootstrap_finish(struct cc_server *s)
{
	s->bootstrap_running = false;
	if (s->stopping)
		return;
	s->expect = 0;
	if (s->bootstrap_found_peers) {
		CC_INFO(MOD_SERVER, "Existing Raft peers reported by server, disabling bootstrap mode",
		        "server", s->bootstrap_peer_with_state);
		return;
	}
	refresh_members(s);
	struct raft_configuration c = { 0 };
	char peers[RAFT_MAX_SERVERS * (RAFT_ADDR_MAX + 1)] = "";
	for (size_t i = 0; i < s->nmembers && c.n < RAFT_MAX_SERVERS; i++) {
		const struct srv_member *m = &s->members[i];
		if (strcmp(m->dc, s->cfg->datacenter) != 0 || !m->id[0])
			continue;
		struct raft_server *x = &c.s[c.n++];
		snprintf(x->id, sizeof(x->id), "%s", m->id);
		snprintf(x->addr, sizeof(x->addr), "%s", m->addr);
		x->voter = !m->nonvoter;
		size_t o = strlen(peers);
		snprintf(peers + o, sizeof(peers) - o, "%s%s", o ? "," : "", m->addr);
	}
	CC_INFO(MOD_SERVER, "Found expected number of peers, attempting bootstrap", "peers", peers);
	int rc = raft_bootstrap(s->raft, server_now(s), &c);
	if (rc)
		CC_ERROR(MOD_SERVER, "Failed to bootstrap cluster", "error", raft_strerror(rc));
	server_drive(s);
}

/* Consul's maybeBootstrap, run on every LAN server join while expect > 0. */
static void maybe_bootstrap(struct cc_server *s)
{
	if (s->expect <= 0 || s->bootstrap_running || s->stopping)
		return;
	if (raft_last_index(s->raft) != 0 || store_has_state(s->store)) {
		CC_INFO(MOD_SERVER, "Raft data found, disabling bootstrap mode");
		s->expect = 0;
		return;
	}
	refresh_members(s);
	int voters = 0;
	for (size_t i = 0; i < s->nmembers; i++) {
		const struct srv_member *m = &s->members[i];
		if (strcmp(m->dc, s->cfg->datacenter) != 0) {
			CC_WARN(MOD_SERVER, "Member has a conflicting datacenter, ignoring", "member",
			        m->name);
			continue;
		}
		if (m->expect != 0 && m->expect != s->expect) {
			CC_ERROR(MOD_SERVER,
			         "Member has a conflicting expect value. All nodes should expect the same number.",
			         "member", m->name);
			return;
		}
		if (m->bootstrap) {
			CC_ERROR(MOD_SERVER, "Member has bootstrap mode. Expect disabled.", "member",
			         m->name);
			return;
		}
		if (!m->nonvoter)
			voters++;
	}
	if (voters < s->expect)
		return;
	/* ask every other candidate whether it already has Raft peers */
	s->bootstrap_running = true;
	s->bootstrap_found_peers = false;
	s->bootstrap_pending = 1;  /* held until every ask is sent */
	for (size_t i = 0; i < s->nmembers; i++) {
		const struct srv_member *m = &s->members[i];
		if (strcmp(m->dc, s->cfg->datacenter) != 0 || strcmp(m->id, s->node_id) == 0)
			continue;
		struct peers_ask *a = calloc(1, sizeof(*a));
		if (!a)
			continue;
		a->s = s;
		snprintf(a->name, sizeof(a->name), "%s", m->name);
		snprintf(a->addr, sizeof(a->addr), "%s", m->addr);
		uv_timer_init(s->loop, &a->retry);
		a->retry.data = a;
		a->next = s->asks;
		s->asks = a;
		s->open_handles++;
		s->bootstrap_pending++;
		ask_peers(a);
	}
	if (--s->bootstrap_pending == 0)
		bootstrap_finish(s);
}

/* ---- reconcile (leader only) ---- */

/* When a non-voter started keeping up, by server ID (positions in the
 * configuration shift when it changes). NULL when the table is full. */
static uint64_t *promote_clock(struct cc_server *s, const char *id)
{
	int free_slot = -1;
	for (int i = 0; i < RAFT_MAX_SERVERS; i++) {
		if (strcmp(s->promote_id[i], id) == 0)
			return &s->promote_since[i];
		if (free_slot < 0 && (!s->promote_id[i][0] ||
		                      raft_conf_find(raft_configuration(s->raft), s->promote_id[i]) < 0))
			free_slot = i;
	}
	if (free_slot < 0)
		return NULL;
	snprintf(s->promote_id[free_slot], RAFT_ID_MAX, "%s", id);
	s->promote_since[free_slot] = 0;
	return &s->promote_since[free_slot];
}

/* One configuration change per call: the core refuses a second one until the
 * first is committed, and the next tick continues. */
static void reconcile(struct cc_server *s)
{
	if (raft_role(s->raft) != RAFT_LEADER || s->leaving)
		return;
	uint64_t now = server_now(s);
	const struct raft_configuration *c = raft_configuration(s->raft);
	for (size_t i = 0; i < s->nmembers; i++) {
		const struct srv_member *m = &s->members[i];
		if (strcmp(m->dc, s->cfg->datacenter) != 0 || !m->id[0])
			continue;
		int pos = raft_conf_find(c, m->id);
		if (m->status == SWIM_LEFT) {
			if (pos >= 0 && strcmp(m->id, s->node_id) != 0) {
				CC_INFO(MOD_SERVER, "removing server by ID", "id", m->id);
				raft_remove_server(s->raft, now, m->id, NULL);
				server_drive(s);
				return;
			}
			continue;
		}
		if (m->status != SWIM_ALIVE || pos >= 0)
			continue;
		/* a server that came back with a new ID on an address we know
		 * (wiped data_dir): the stale entry goes first */
		for (unsigned k = 0; k < c->n; k++) {
			if (strcmp(c->s[k].addr, m->addr) == 0 && strcmp(c->s[k].id, s->node_id) != 0) {
				CC_INFO(MOD_SERVER, "removed server with duplicate address", "address",
				        m->addr);
				raft_remove_server(s->raft, now, c->s[k].id, NULL);
				server_drive(s);
				return;
			}
		}
		char desc[GW_NAME_MAX + 96];
		snprintf(desc, sizeof(desc), "%s (Addr: tcp/%s) (DC: %s)", m->name, m->addr, m->dc);
		if (raft_add_server(s->raft, now, m->id, m->addr, false, NULL) == 0) {
			CC_INFO(MOD_RAFT, "updating configuration", "command", "AddNonvoter",
			        "server-id", m->id, "server-addr", m->addr);
			server_drive(s);
			return;
		}
	}
	/* promote non-voters that have kept up for a while (not servers that
	 * gossip the nonvoter tag: they asked to stay non-voters) */
	for (unsigned k = 0; k < c->n; k++) {
		const struct raft_server *x = &c->s[k];
		const struct srv_member *m = cluster_member_by_id(s, x->id);
		uint64_t *since = promote_clock(s, x->id);
		if (x->voter || !since || (m && m->nonvoter))
			continue;
		uint64_t match, ago;
		bool ok = raft_progress(s->raft, x->id, &match, &ago, now) &&
		          match + 64 >= raft_commit_index(s->raft) && ago < s->election_ms;
		if (!ok) {
			*since = 0;
			continue;
		}
		if (!*since)
			*since = now;
		if (now - *since < PROMOTE_STABLE_MS)
			continue;
		char desc[RAFT_ID_MAX + RAFT_ADDR_MAX + 40];
		snprintf(desc, sizeof(desc), "Server (ID: \"%s\" Address: \"%s\")", x->id, x->addr);
		char id[RAFT_ID_MAX], addr[RAFT_ADDR_MAX];
		memcpy(id, x->id, sizeof(id));
		memcpy(addr, x->addr, sizeof(addr));
		if (raft_add_server(s->raft, now, id, addr, true, NULL) == 0) {
			CC_INFO(MOD_SERVER, "Promoting server to voter", "server", desc);
			*since = 0;
			server_drive(s);
		}
		return;
	}
}

static void on_removed_self(void *ud, const char *err)
{
	struct cc_server *s = ud;
	s->leave_requested = false;
	if (!err)
		s->leave_removed = true;
}

static void on_cluster_timer(uv_timer_t *t)
{
	cluster_tick(t->data);
}

void cluster_tick(struct cc_server *s)
{
	if (s->stopping)
		return;
	refresh_members(s);
	reconcile(s);
	catalog_reconcile(s);
	server_autopilot_tick(s);
	if (s->leaving) {
		/* a removed server may never see the entry that removed it: the
		 * leader's answer to our request counts as well */
		bool gone = s->leave_removed ||
		            raft_conf_find(raft_configuration(s->raft), s->node_id) < 0;
		if (gone || server_now(s) >= s->leave_deadline) {
			if (!gone)
				CC_WARN(MOD_SERVER, "failed to leave raft configuration gracefully, timeout");
			s->leaving = false;
			if (s->leave_done)
				s->leave_done(s->leave_ud);
		} else if (!s->leave_requested && raft_role(s->raft) != RAFT_LEADER &&
		           raft_leader_addr(s->raft)[0]) {
			s->leave_requested = true;
			cc_server_remove_peer(s, s->node_id, NULL, on_removed_self, s);
		}
	}
	if (s->handoff_done && (raft_role(s->raft) != RAFT_LEADER ||
	                        server_now(s) >= s->handoff_deadline)) {
		void (*done)(void *ud) = s->handoff_done;
		s->handoff_done = NULL;
		done(s->handoff_ud);
		return;
	}
	uv_timer_start(&s->cluster_timer, on_cluster_timer,
	               s->handoff_done ? 5 : CLUSTER_TICK_MS, 0);
}

void cluster_on_leadership(struct cc_server *s, bool acquired)
{
	catalog_on_leadership(s, acquired);
	if (acquired)
		uv_timer_start(&s->cluster_timer, on_cluster_timer, 0, 0);
}

void cluster_member_event(struct cc_server *s, enum swim_event ev,
                          const struct swim_member_info *m)
{
	struct srv_member sm;
	if (!cluster_parse_member(m, &sm))
		return;
	if (ev == SWIM_EVENT_JOIN && s->expect > 0)
		maybe_bootstrap(s);
	/* Dead-server cleanup: a server gossip has reaped (failed for the whole
	 * reconnect timeout, 72 h on servers) leaves the Raft configuration, as
	 * Consul's reconcile does for reaped members. A failure alone never
	 * removes one, so restarts cannot shrink the quorum (Consul #8118). */
	if (ev == SWIM_EVENT_REAP && raft_role(s->raft) == RAFT_LEADER && sm.id[0] &&
	    strcmp(sm.id, s->node_id) != 0 &&
	    raft_conf_find(raft_configuration(s->raft), sm.id) >= 0 &&
	    raft_remove_server(s->raft, server_now(s), sm.id, NULL) == 0) {
		CC_INFO(MOD_SERVER, "removing server by ID", "id", sm.id, "reason", "reaped");
		server_drive(s);
	}
	if (raft_role(s->raft) == RAFT_LEADER)
		uv_timer_start(&s->cluster_timer, on_cluster_timer, 0, 0);
}

void cc_server_set_lan(struct cc_server *s, struct gossip *lan)
{
	s->lan = lan;
}

void cc_server_lan_event(struct cc_server *s, enum swim_event ev, const struct swim_member_info *m)
{
	if (s && !s->stopping)
		cluster_member_event(s, ev, m);
}

/* ---- leave ---- */

void cc_server_leave(struct cc_server *s, void (*done)(void *ud), void *ud)
{
	s->leave_done = done;
	s->leave_ud = ud;
	s->leave_deadline = server_now(s) + LEAVE_TIMEOUT_MS;
	s->leaving = true;
	CC_INFO(MOD_SERVER, "server starting leave");
	const struct raft_configuration *c = raft_configuration(s->raft);
	unsigned voters = 0;
	for (unsigned k = 0; k < c->n; k++)
		voters += c->s[k].voter;
	if (raft_role(s->raft) == RAFT_LEADER && voters > 1) {
		/* hand leadership over first; the new leader removes us */
		raft_transfer_leadership(s->raft, server_now(s), NULL);
		server_drive(s);
	} else if (raft_conf_find(c, s->node_id) < 0 || voters <= 1) {
		s->leave_deadline = server_now(s);
	}
	uv_timer_start(&s->cluster_timer, on_cluster_timer, 0, 0);
}

void cc_server_handoff(struct cc_server *s, void (*done)(void *ud), void *ud)
{
	if (raft_role(s->raft) != RAFT_LEADER ||
	    raft_transfer_leadership(s->raft, server_now(s), NULL) != 0) {
		done(ud);
		return;
	}
	server_drive(s);
	s->handoff_done = done;
	s->handoff_ud = ud;
	s->handoff_deadline = server_now(s) + 2 * s->election_ms;
	uv_timer_start(&s->cluster_timer, on_cluster_timer, 5, 0);
}
