/*
 * The agent's own services and checks (Consul's local state, reference §7):
 * defined in config files or through the agent API, run here (script, TTL,
 * TCP and HTTP checks), and kept in the replicated catalog by anti-entropy.
 * Private to the agent module.
 *
 * - agent_local.c: the state (services, checks, the in-sync flags), the
 *   /v1/agent/service*, /v1/agent/check* and maintenance endpoints, and the
 *   file that keeps what the API registered across restarts
 *   (data_dir/local/registered.json);
 * - agent_local_json.c: service and check definitions from JSON (config
 *   file keys or the API's), the endpoints' JSON shapes;
 * - agent_checks.c: the check runners;
 * - agent_sync.c: anti-entropy (full sync: read what the catalog holds for
 *   this node, push the differences; partial sync after each local change).
 *
 * Check results go through local_check_update, which logs like Consul's
 * status handler and marks the check out of sync. Everything runs on the
 * agent's loop.
 */
#ifndef CC_AGENT_LOCAL_H
#define CC_AGENT_LOCAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "catalog/catalog.h"

struct cc_agent;
struct check_run;

enum check_kind { CHECK_TTL = 1, CHECK_SCRIPT, CHECK_HTTP, CHECK_TCP, CHECK_MAINT };

/* Consul's defaults and limits (agent/checks). */
#define CHECK_MIN_INTERVAL_MS 1000u
#define CHECK_SCRIPT_TIMEOUT_MS 30000u
#define CHECK_NET_TIMEOUT_MS 10000u
#define CHECK_OUTPUT_MAX 4096u

/* A service definition; every string owned (never NULL once parsed). */
struct local_svc_def {
	char *id, *name, *address;
	char **tags;
	size_t ntags;
	struct catalog_pair *meta;   /* sorted by key, owned keys/values */
	size_t nmeta;
	uint32_t port, weight_passing, weight_warning;
	bool enable_tag_override;
};

/* A check definition (one kind). */
struct local_chk_def {
	char *id, *name, *notes, *service_id;
	enum check_kind kind;
	enum catalog_status status;   /* initial status (default critical) */
	char **args;
	size_t nargs;
	char *http, *method, *tcp;
	uint64_t interval_ms, timeout_ms, ttl_ms;
};

struct local_service {
	struct local_service *next;
	struct local_svc_def d;
	bool in_sync, deleted, from_api;
	uint64_t version;             /* bumped on every local change */
};

struct local_check {
	struct local_check *next;
	struct local_chk_def d;
	char *service_name;           /* "" for a node check */
	char *output;
	enum catalog_status status;
	bool in_sync, deleted, from_api;
	uint64_t version;
	bool sent;                    /* went out with its service's registration */
	uint64_t sent_version;
	struct check_run *run;        /* agent_checks.c; NULL for TTL-less kinds */
	struct cc_agent *a;
};

struct agent_sync;

struct agent_local {
	struct local_service *services;
	struct local_check *checks;
	struct agent_sync *sync;
	char *node_reason;            /* node maintenance (NULL: off) */
};

/* ---- agent_local.c ---- */
/* Loads the config file's services and the API-registered ones kept in
 * data_dir, starts their checks and the state syncer. 0, or -1 with err. */
int agent_local_start(struct cc_agent *a, char *err, size_t errlen);
void agent_local_stop(struct cc_agent *a);
struct local_service *local_service_find(struct agent_local *l, const char *id);
struct local_check *local_check_find(struct agent_local *l, const char *id);
/* A check's new result: logs as Consul's status handler does, marks the
 * check out of sync, and asks for a sync when the status changed. */
void local_check_update(struct local_check *c, enum catalog_status st, const char *output);
/* Frees entries marked deleted once the catalog no longer has them. */
void local_forget(struct agent_local *l, struct local_service *s, struct local_check *c);
/* The view of a local service / check in the catalog's types (pointers into
 * the local entries; tags_buf holds the service's tags for a check). */
void local_service_view(const struct local_service *s, struct catalog_service *out);
void local_check_view(const struct cc_agent *a, const struct local_check *c,
                      struct catalog_check *out);

/* ---- agent_local_json.c ---- */
/* From a service definition object (config-file snake_case keys or the
 * API's CamelCase, matched without regard to case or underscores). The
 * service's checks go to checks/nchecks with IDs and names filled in.
 * 0, or -1 with a 400 reason in err. */
int local_svc_parse(const cJSON *o, struct local_svc_def *d, struct local_chk_def **checks,
                    size_t *nchecks, char *err, size_t errlen);
/* A standalone check (PUT /v1/agent/check/register). */
int local_chk_parse(const cJSON *o, struct local_chk_def *d, char *err, size_t errlen);
void local_svc_def_free(struct local_svc_def *d);
void local_chk_def_free(struct local_chk_def *d);
/* A definition as JSON again (what data_dir keeps). */
cJSON *local_svc_def_json(const struct local_svc_def *d);
cJSON *local_chk_def_json(const struct local_chk_def *d);
/* Consul's AgentService and HealthCheck shapes. */
cJSON *local_service_json(const struct local_service *s);
cJSON *local_check_json(const struct cc_agent *a, const struct local_check *c);
const char *check_kind_name(enum check_kind k);

/* ---- agent_checks.c ---- */
int check_run_start(struct cc_agent *a, struct local_check *c);
void check_run_stop(struct local_check *c);
/* TTL checks: a new status from pass/warn/fail/update; restarts the TTL. */
void check_run_ttl_reset(struct local_check *c);

/* ---- agent_sync.c ---- */
int agent_sync_start(struct cc_agent *a);
void agent_sync_stop(struct cc_agent *a);
/* A server joined the LAN pool: a client whose last sync failed tries again
 * within 3 s. */
void agent_sync_server_up(struct cc_agent *a);
/* Something local changed: push what is out of sync soon. */
void agent_sync_changes(struct cc_agent *a);

#endif
