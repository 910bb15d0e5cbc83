/* server_catalog: the leader's reconcile of LAN membership into the catalog
 * (Consul's leader.go reconcileMember: handleAliveMember, handleFailedMember,
 * handleLeftMember, handleReapMember; reference §3.5).
 *
 * Every pass (each cluster tick, at once on a member event, and first once
 * the new leader has applied what the log held when it won) compares each
 * member with its catalog entry and proposes a registration or a
 * deregistration only where they differ. The next pass waits until the
 * previous pass's commands are applied, so nothing is proposed twice. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log/log.h"
#include "server/server_internal.h"

#define MAX_SCAN 4096

struct lan_member {
	char name[GW_NAME_MAX];
	char id[RAFT_ID_MAX];
	char addr[64];
	char port[16], raft_vsn[16], build[64];
	uint8_t vsn[6];
	bool server;
	enum swim_status status;
};

struct scan {
	const struct cc_server *s;
	struct lan_member *m;       /* grown as members come (a pass used to take
	                             * MAX_SCAN of them, 2 MiB, every tick) */
	size_t n, cap;
	bool oom;
};

/* Consul's isConsulNode / shouldHandleMember: a client (role=node) or a
 * server (role=consul) of our datacenter. */
static void scan_one(void *ud, const struct swim_member_info *mi)
{
	struct scan *sc = ud;
	struct gw_tag t[24];
	int nt = gw_decode_tags(mi->meta, mi->meta_len, t, 24);
	uint32_t v4;
	if (sc->oom || sc->n >= MAX_SCAN || nt < 0 || !gw_ip_v4(&mi->addr, &v4))
		return;
	const char *role = gw_tag_find(t, (size_t)nt, "role");
	const char *dc = gw_tag_find(t, (size_t)nt, "dc");
	if (!role || !dc || strcmp(dc, sc->s->cfg->datacenter) != 0 ||
	    (strcmp(role, "node") != 0 && strcmp(role, "consul") != 0))
		return;
	if (sc->n == sc->cap) {
		size_t cap = sc->cap ? sc->cap * 2 : 16;
		if (cap > MAX_SCAN)
			cap = MAX_SCAN;
		struct lan_member *n = realloc(sc->m, cap * sizeof(*n));
		if (!n) {
			sc->oom = true;
			return;
		}
		sc->m = n;
		sc->cap = cap;
	}
	struct lan_member *m = &sc->m[sc->n++];
	memset(m, 0, sizeof(*m));
	const char *id = gw_tag_find(t, (size_t)nt, "id");
	const char *port = gw_tag_find(t, (size_t)nt, "port");
	const char *rv = gw_tag_find(t, (size_t)nt, "raft_vsn");
	const char *build = gw_tag_find(t, (size_t)nt, "build");
	snprintf(m->name, sizeof(m->name), "%s", mi->name);
	snprintf(m->id, sizeof(m->id), "%s", id ? id : "");
	snprintf(m->addr, sizeof(m->addr), "%u.%u.%u.%u", v4 >> 24, (v4 >> 16) & 255, (v4 >> 8) & 255,
	         v4 & 255);
	snprintf(m->port, sizeof(m->port), "%s", port ? port : "0");
	snprintf(m->raft_vsn, sizeof(m->raft_vsn), "%s", rv ? rv : "");
	snprintf(m->build, sizeof(m->build), "%.*s", build ? (int)strcspn(build, ":") : 0,
	         build ? build : "");
	if (mi->vsn)
		memcpy(m->vsn, mi->vsn, 6);
	m->server = strcmp(role, "consul") == 0 && port;
	m->status = mi->status;
}

/* What the catalog should hold for a member (strings in the caller's bufs). */
struct want {
	struct catalog_pair smeta[5];
	char vsn[3][8];
	struct catalog_node node;
	struct catalog_service svc;
	struct catalog_check chk;
};

static void want_fill(const struct cc_server *s, const struct lan_member *m, bool alive,
                      struct want *w)
{
	memset(w, 0, sizeof(*w));
	w->node = (struct catalog_node){ .id = m->id, .node = m->name, .address = m->addr,
		                         .datacenter = s->cfg->datacenter };
	/* memberlist's vsn: protocol min, max, current (what serf calls the
	 * member's protocol versions) */
	for (int i = 0; i < 3; i++)
		snprintf(w->vsn[i], sizeof(w->vsn[i]), "%u", m->vsn[i]);
	w->smeta[0] = (struct catalog_pair){ "raft_version", m->raft_vsn };
	w->smeta[1] = (struct catalog_pair){ "serf_protocol_current", w->vsn[2] };
	w->smeta[2] = (struct catalog_pair){ "serf_protocol_max", w->vsn[1] };
	w->smeta[3] = (struct catalog_pair){ "serf_protocol_min", w->vsn[0] };
	w->smeta[4] = (struct catalog_pair){ "version", m->build };
	w->svc = (struct catalog_service){ .id = "consul", .service = "consul", .address = "",
		                           .meta = w->smeta, .nmeta = 5,
		                           .port = (uint32_t)atoi(m->port), .weight_passing = 1,
		                           .weight_warning = 1 };
	w->chk = (struct catalog_check){ .node = m->name, .check_id = CATALOG_SERF_CHECK_ID,
		                         .name = CATALOG_SERF_CHECK_NAME, .notes = "",
		                         .output = alive ? CATALOG_SERF_ALIVE : CATALOG_SERF_FAILED,
		                         .service_id = "", .service_name = "", .type = "",
		                         .status = alive ? CATALOG_PASSING : CATALOG_CRITICAL };
}

static const struct catalog_check *serf_check(const struct catalog *c, size_t pos)
{
	for (size_t i = 0; i < catalog_check_count(c, pos); i++) {
		const struct catalog_check *k = catalog_check_at(c, pos, i);
		if (strcmp(k->check_id, CATALOG_SERF_CHECK_ID) == 0)
			return k;
	}
	return NULL;
}

static const struct catalog_service *consul_service(const struct catalog *c, size_t pos)
{
	for (size_t i = 0; i < catalog_service_count(c, pos); i++) {
		const struct catalog_service *x = catalog_service_at(c, pos, i);
		if (strcmp(x->id, "consul") == 0)
			return x;
	}
	return NULL;
}

/* Consul's handleAliveMember looks at the node's address; ID and
 * datacenter too here. */
static bool node_matches(const struct catalog_node *have, const struct catalog_node *want)
{
	return strcmp(have->address, want->address) == 0 && strcmp(have->id, want->id) == 0 &&
	       strcmp(have->datacenter, want->datacenter) == 0;
}

static int propose(struct cc_server *s, const struct catalog_cmd *cmd)
{
	size_t n = catalog_cmd_encode(cmd, NULL, 0);
	uint8_t *buf = n ? malloc(n) : NULL;
	if (!buf)
		return -ENOMEM;
	catalog_cmd_encode(cmd, buf, n);
	uint64_t idx, term;
	int rc = raft_propose(s->raft, server_now(s), buf, n, &idx, &term);
	free(buf);
	if (rc == 0)
		s->cat_pending = idx;
	return rc;
}

static void deregister(struct cc_server *s, const char *name, const char *reason)
{
	if (strcmp(name, s->cfg->node_name) == 0)
		return;   /* Consul: deregistering self should be done by follower */
	struct catalog_cmd cmd = { .op = CATALOG_OP_DEREGISTER, .node = { .node = name } };
	if (propose(s, &cmd) == 0)
		CC_INFO(MOD_SERVER, "deregistering member", "member", name, "reason", reason);
}

static void reconcile_member(struct cc_server *s, const struct lan_member *m)
{
	const struct catalog *c = cc_server_catalog(s);
	long pos = catalog_node_find(c, m->name);
	if (m->status == SWIM_LEFT) {
		if (pos >= 0)
			deregister(s, m->name, "left");
		return;
	}
	if (m->status != SWIM_ALIVE && m->status != SWIM_FAILED)
		return;   /* leaving: the left event follows */
	bool alive = m->status == SWIM_ALIVE;
	struct want w;
	want_fill(s, m, alive, &w);
	const struct catalog_check *k = pos >= 0 ? serf_check(c, (size_t)pos) : NULL;
	const struct catalog_service *svc = pos >= 0 ? consul_service(c, (size_t)pos) : NULL;
	const struct catalog_node *have = pos >= 0 ? catalog_node_at(c, (size_t)pos) : NULL;
	bool same = have && k && catalog_check_same(k, &w.chk);
	if (alive)
		same = same && node_matches(have, &w.node) &&
		       (!m->server || (svc && catalog_service_same(svc, &w.svc)));
	if (same)
		return;
	struct catalog_cmd cmd = { .op = CATALOG_OP_REGISTER, .node = w.node,
		                   .service = alive && m->server ? &w.svc : NULL, .checks = &w.chk,
		                   .nchecks = 1 };
	/* only the check or the service changes; a new or moved node gets ID,
	 * name and address as from Consul's leader, and its agent's
	 * anti-entropy adds the tagged addresses and node meta */
	if (have && (!alive || node_matches(have, &w.node)))
		cmd.node = *have;
	if (propose(s, &cmd) == 0)
		CC_INFO(MOD_SERVER, alive ? "member joined, marking health alive"
		                          : "member failed, marking health critical",
		        "member", m->name);
}

static void add_member(void *ud, const struct swim_member_info *mi)
{
	scan_one(ud, mi);
}

void catalog_reconcile(struct cc_server *s)
{
	if (raft_role(s->raft) != RAFT_LEADER || !s->lan || s->leaving ||
	    s->applied < s->cat_barrier || s->applied < s->cat_pending)
		return;
	struct scan sc = { .s = s };
	gossip_members(s->lan, add_member, &sc);
	/* a partial list would take the members left out for reaped ones */
	if (sc.oom) {
		free(sc.m);
		return;
	}
	uint64_t before = s->cat_pending;
	for (size_t i = 0; i < sc.n; i++)
		reconcile_member(s, &sc.m[i]);
	/* Consul's reconcileReaped: catalog nodes with a serfHealth check that
	 * gossip no longer knows (reaped members). Not while gossip does not know
	 * every Raft server yet (a leader elected before its pool synced would
	 * take the members it has not heard of for reaped ones). */
	const struct catalog *c = cc_server_catalog(s);
	const struct raft_configuration *conf = raft_configuration(s->raft);
	bool synced = true;
	for (unsigned k = 0; k < conf->n && synced; k++) {
		bool found = false;
		for (size_t i = 0; i < sc.n && !found; i++)
			found = strcmp(sc.m[i].id, conf->s[k].id) == 0;
		synced = found;
	}
	for (size_t p = 0; synced && p < catalog_node_count(c); p++) {
		const char *name = catalog_node_at(c, p)->node;
		bool known = false;
		for (size_t i = 0; i < sc.n && !known; i++)
			known = strcmp(sc.m[i].name, name) == 0;
		if (!known && serf_check(c, p))
			deregister(s, name, "reaped");
	}
	free(sc.m);
	if (s->cat_pending != before)
		server_drive(s);
}

void catalog_on_leadership(struct cc_server *s, bool acquired)
{
	/* Consul's barrier: the new leader reconciles once it has applied
	 * everything its log held when it won */
	s->cat_barrier = acquired ? raft_last_index(s->raft) : 0;
	s->cat_pending = 0;
}
