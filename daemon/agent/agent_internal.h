/* Private to the agent module. */
#ifndef CC_AGENT_INTERNAL_H
#define CC_AGENT_INTERNAL_H

#include <stdbool.h>
#include <uv.h>

#include <cjson/cJSON.h>

#include "agent/agent.h"
#include "gossip/gossip.h"
#include "http/http.h"
#include "server/server.h"
#include "server/transport.h"

#define CC_AGENT_MAX_HTTP 8

struct cc_agent {
	const struct cc_config *cfg;
	char node_id[37];
	uv_loop_t loop;
	uv_signal_t sigint, sigterm, sighup;
	int argc;                   /* the agent's flags, read again on reload */
	char **argv;
	struct cc_http *http[CC_AGENT_MAX_HTTP];
	char http_names[CC_AGENT_MAX_HTTP][80];
	size_t nhttp;
	int exit_code;
	bool stopping;
	/* gossip */
	struct gossip *lan, *wan;
	uv_timer_t retry_timer;
	bool have_retry_timer;
	bool joined;
	bool start_join_pending;
	int join_attempts;
	/* servers: Raft, bootstrap_expect, KV */
	struct cc_server *server;
	/* blocking queries parked until their index moves or time is up */
	struct agent_watch *watchers;
	uv_timer_t watch_timer;
	bool have_watch_timer;
	/* clients: server RPC, to forward requests to a server */
	struct transport *rpc;
	unsigned next_server;
	char failed_server[RAFT_ADDR_MAX];  /* client: the server an RPC failed on last */
	/* metrics gauges sampled once a second (agent_metrics.c) */
	uv_timer_t metrics_timer;
	bool have_metrics_timer;
	/* the agent's own services and checks (agent_local.h) */
	struct agent_local *local;
	/* GET /v1/agent/monitor streams (agent_monitor.c) */
	struct monitor *monitors;
	uv_timer_t monitor_timer;
	bool have_monitor_timer;
	/* user events received (agent_events.c) */
	struct agent_events *events;
	/* the DNS interface (agent_dns.c) */
	struct agent_dns *dns;
};

/* A KV request as the HTTP API takes it (agent_kv.c); a client agent forwards
 * it to a server as bytes (agent_forward.c). Strings and body are owned. */
struct kv_params {
	char method[8];             /* GET, PUT, DELETE */
	char *key, *separator;
	bool recurse, keys, raw, pretty, has_cas;
	uint64_t cas, flags;
	/* a blocking query: ?index=N waits (up to wait_ms) until the answer's
	 * X-Consul-Index moves past N */
	bool blocking;
	uint64_t index, wait_ms;
	enum cc_read_mode mode;
	uint8_t *body;
	size_t body_len;
};

/* agent_query.c: a blocking query parked until current(ud) > index or the
 * deadline; then ready(ud, NULL) runs with deadline set to 0. */
#define AGENT_WAIT_MAX_MS (10u * 60u * 1000u)   /* Consul's max_query_time */
struct agent_watch {
	struct agent_watch *next;
	uint64_t deadline, index;
	uint64_t (*current)(void *ud);
	void (*ready)(void *ud, const char *err);
	void *ud;
};
void agent_watch_park(struct cc_agent *a, struct agent_watch *w);
bool agent_query_flag(const struct cc_http_req *req, const char *key);
int agent_parse_u64(const char *s, uint64_t *out);
/* ?stale / ?consistent; 0, or -1 with resp set (400). */
int agent_read_mode(const struct cc_http_req *req, enum cc_read_mode *mode,
                    struct cc_http_resp *resp);
/* ?index=&wait= of a GET; 0, or -1 with resp set (400). */
int agent_blocking_parse(const struct cc_http_req *req, bool *blocking, uint64_t *index,
                         uint64_t *wait_ms, struct cc_http_resp *resp);
uint64_t agent_blocking_deadline(struct cc_agent *a, uint64_t wait_ms);
/* X-Consul-Index (never 0), X-Consul-KnownLeader, X-Consul-LastContact. */
void agent_query_meta(const struct cc_server *s, struct cc_http_resp *resp, uint64_t index);

/* agent_query.c: an operator-style request answered later, over HTTP
 * (p) or to the client agent that forwarded it (call). */
struct agent_op {
	struct cc_agent *a;
	struct cc_http_pending *p;
	struct tr_call *call;
	bool pretty;
	bool cas;                   /* a ?cas write: the answer is its result */
};
/* Defers req into a new agent_op; NULL (with resp set, 500) when out of memory. */
struct agent_op *agent_op_defer(struct cc_agent *a, const struct cc_http_req *req,
                                struct cc_http_resp *resp);
/* Answers (agent_answer) and frees op. */
void agent_op_finish(struct agent_op *op, struct cc_http_resp *resp);

/* The HTTP routes the agent serves; ud is the struct cc_agent. */
extern const struct cc_http_route cc_agent_routes[];
extern const size_t cc_agent_nroutes;

/* agent.c: stops the agent; with leave, leaves the gossip pools first. */
void agent_shutdown(struct cc_agent *a, bool leave);
/* agent.c: stops the agent after the pools have left (PUT /v1/agent/leave). */
void agent_shutdown_after_leave(struct cc_agent *a);

/* agent_kv.c: the Raft-backed endpoints */
void agent_h_status_leader(void *ud, const struct cc_http_req *req, struct cc_http_resp *resp);
void agent_h_status_peers(void *ud, const struct cc_http_req *req, struct cc_http_resp *resp);
void agent_h_kv(void *ud, const struct cc_http_req *req, struct cc_http_resp *resp);
void agent_h_raft_configuration(void *ud, const struct cc_http_req *req,
                                struct cc_http_resp *resp);
void agent_h_raft_peer(void *ud, const struct cc_http_req *req, struct cc_http_resp *resp);
/* agent_autopilot.c: /v1/operator/autopilot/health and .../configuration. */
void agent_h_autopilot_health(void *ud, const struct cc_http_req *req, struct cc_http_resp *resp);
void agent_h_autopilot_config(void *ud, const struct cc_http_req *req, struct cc_http_resp *resp);
/* On a client agent they are asked of a server (agent_forward_autopilot:
 * what, pretty, the read mode and, for SET_CONFIG, the encoded autopilot
 * command of fsm/autopilot.h, which is copied). A server runs a forwarded
 * one with agent_autopilot_run and answers call as its HTTP API would;
 * -EINVAL (nothing answered) when the request is malformed. */
enum { AGENT_AUTOPILOT_HEALTH, AGENT_AUTOPILOT_GET_CONFIG, AGENT_AUTOPILOT_SET_CONFIG };
void agent_forward_autopilot(struct cc_agent *a, int what, bool pretty, enum cc_read_mode mode,
                             const uint8_t *cmd, size_t cmdlen, struct cc_http_pending *pending);
int agent_autopilot_run(struct cc_agent *a, int what, bool pretty, enum cc_read_mode mode,
                        const uint8_t *cmd, size_t cmdlen, struct tr_call *call);
/* From the request's path and query; 0, or -1 with resp set (400). */
int kv_params_parse(const struct cc_http_req *req, struct kv_params *p, struct cc_http_resp *resp);
/* The checks that do not need the query string (also run on forwarded ones). */
int kv_params_check(const struct kv_params *p, struct cc_http_resp *resp);
void kv_params_cmd(const struct kv_params *p, struct kv_cmd *cmd);
void kv_params_free(struct kv_params *p);
/* Runs a checked request on this server (takes p over); the answer goes to
 * pending, or back to the client agent that forwarded it (call). */
void agent_kv_run(struct cc_agent *a, struct kv_params *p, struct cc_http_pending *pending,
                  struct tr_call *call, const char *path);
/* Blocking queries (agent_query.c): set up at start (on a server also woken
 * by every applied batch); answered (with what there is) before it stops.
 * agent_watch_wake: something a parked query may wait for changed. */
void agent_kv_watch_start(struct cc_agent *a);
void agent_kv_watch_stop(struct cc_agent *a);
void agent_watch_wake(struct cc_agent *a);

/* agent_forward.c: client agents forward KV requests to a server (server RPC
 * KVS.Forward); servers run them and send the HTTP answer back. */
int agent_forward_start(struct cc_agent *a, char *err, size_t errlen);
void agent_forward_stop(struct cc_agent *a);
void agent_forward_kv(struct cc_agent *a, struct kv_params *p, struct cc_http_pending *pending);
void agent_forward_reply(struct tr_call *call, struct cc_http_resp *resp);
/* Answers over HTTP (pending) or to the client agent that forwarded the
 * request (call), whichever is set. */
void agent_answer(struct cc_http_pending *pending, struct tr_call *call,
                  struct cc_http_resp *resp);

/* A catalog or health request (agent_catalog.c); a client agent forwards it
 * to a server as bytes (agent_forward.c). Writes carry the encoded catalog
 * command in body, made from the JSON where the request came in. Owned. */
enum cat_ep {
	CAT_NODES = 1, CAT_SERVICES, CAT_SERVICE, CAT_NODE, CAT_REGISTER, CAT_DEREGISTER,
	HEALTH_NODE, HEALTH_CHECKS, HEALTH_SERVICE, HEALTH_STATE,
};
#define CAT_EP_MAX HEALTH_STATE
struct cat_params {
	int ep;
	char *name, *tag;
	char *node_meta;            /* ?node-meta=KEY:VALUE ("" = none) */
	bool has_tag, passing, pretty, blocking;
	uint64_t index, wait_ms;
	enum cc_read_mode mode;
	uint8_t *body;
	size_t body_len;
};
void agent_h_catalog(void *ud, const struct cc_http_req *req, struct cc_http_resp *resp);
/* The checks that do not need the query string (also run on forwarded ones). */
int cat_params_check(const struct cat_params *p, struct cc_http_resp *resp);
void cat_params_free(struct cat_params *p);
/* Runs a checked request on this server (takes p over), like agent_kv_run. */
void agent_catalog_run(struct cc_agent *a, struct cat_params *p, struct cc_http_pending *pending,
                       struct tr_call *call, const char *path);
void agent_forward_catalog(struct cc_agent *a, struct cat_params *p,
                           struct cc_http_pending *pending);
/* GET /v1/status/leader|peers and /v1/operator/raft/configuration on a
 * client agent: asked of a server. */
enum { AGENT_STATUS_LEADER, AGENT_STATUS_PEERS, AGENT_STATUS_RAFT_CONF };
void agent_forward_status(struct cc_agent *a, int what, bool pretty, enum cc_read_mode mode,
                          struct cc_http_pending *pending);
/* What a server answers to those (agent_kv.c). */
cJSON *agent_status_json(const struct cc_agent *a, bool peers);
void agent_raft_configuration_run(struct cc_agent *a, enum cc_read_mode mode, bool pretty,
                                  struct tr_call *call);
/* The same for the agent's own requests (anti-entropy): done(ud, resp) runs
 * once with the server's answer (resp->body is freed after it returns). */
void agent_forward_catalog_cb(struct cc_agent *a, struct cat_params *p,
                              void (*done)(void *ud, struct cc_http_resp *resp), void *ud);

/* agent_catalog_json.c: Consul's JSON shapes, and register/deregister bodies
 * into catalog commands (malloc'd *cmd). Parsing returns 0, or -1 with the
 * reason for a 400 in err. */
struct catalog;
struct catalog_node;
struct catalog_service;
struct catalog_check;
cJSON *cat_json_node(const struct catalog_node *n);
cJSON *cat_json_service_node(const struct catalog_node *n, const struct catalog_service *s);
cJSON *cat_json_node_service(const struct catalog_service *s);
cJSON *cat_json_check(const struct catalog_check *k);
int cat_parse_register(const char *body, size_t len, const char *dc, uint8_t **cmd,
                       size_t *cmdlen, char *err, size_t errlen);
int cat_parse_deregister(const char *body, size_t len, const char *dc, uint8_t **cmd,
                         size_t *cmdlen, char *err, size_t errlen);

/* agent.c: a graceful leave — a server leaves Raft first, then the pools. */
void agent_leave(struct cc_agent *a, void (*done)(struct cc_agent *a));

/* agent_gossip.c */
size_t agent_tags(const struct cc_agent *a, struct gw_tag *t, size_t cap);
int agent_gossip_start(struct cc_agent *a, char *err, size_t errlen);
void agent_gossip_join(struct cc_agent *a);
void agent_gossip_leave(struct cc_agent *a, void (*done)(struct cc_agent *a));
void agent_gossip_stop(struct cc_agent *a, bool left);
cJSON *agent_member_json(const struct swim_member_info *m);

/* agent_metrics.c: the process-wide metrics registry (telemetry config)
 * and the gauges sampled every second; GET /v1/agent/metrics. */
int agent_metrics_start(struct cc_agent *a, char *err, size_t errlen);
void agent_metrics_stop(struct cc_agent *a);
void agent_h_metrics(void *ud, const struct cc_http_req *req, struct cc_http_resp *resp);
/* agent_monitor.c: GET /v1/agent/monitor; stop ends every stream. */
void agent_h_monitor(void *ud, const struct cc_http_req *req, struct cc_http_resp *resp);
void agent_monitor_stop(struct cc_agent *a);
/* agent_events.c: Consul's user events over Serf (/v1/event/fire/NAME,
 * /v1/event/list); agent_on_user_event is the LAN pool's on_user_event. */
void agent_h_event(void *ud, const struct cc_http_req *req, struct cc_http_resp *resp);
/* agent_keyring.c: GET|POST|PUT|DELETE /v1/operator/keyring */
void agent_h_keyring(void *ud, const struct cc_http_req *req, struct cc_http_resp *resp);
void agent_on_user_event(void *ud, const char *name, const uint8_t *payload, size_t len,
                         uint64_t ltime);
void agent_events_stop(struct cc_agent *a);
/* agent_local.c: a reload (SIGHUP, PUT /v1/agent/reload): the config
 * files again; 0, or -1 with err (nothing changed). */
int agent_reload(struct cc_agent *a, char *err, size_t errlen);
void agent_h_reload(void *ud, const struct cc_http_req *req, struct cc_http_resp *resp);
/* agent_local.c: /v1/agent/services, /checks, /service/..., /check/..., /maintenance */
void agent_h_local(void *ud, const struct cc_http_req *req, struct cc_http_resp *resp);
/* agent_ui.c: GET / (301 to /ui/ when ui is on) and the UI's assets. */
void agent_h_ui_root(void *ud, const struct cc_http_req *req, struct cc_http_resp *resp);
void agent_h_ui(void *ud, const struct cc_http_req *req, struct cc_http_resp *resp);


/* agent_dns.c: the DNS interface, UDP and TCP on every dns_addrs at
 * ports.dns (-1: no listener). A client agent forwards the questions that
 * read the catalog to a server as raw bytes (agent_forward_dns: first byte
 * AGENT_FORWARD_DNS, a flag byte (1: the client asked over TCP), the DNS
 * query); the server answers them with agent_dns_forwarded (status 200, the
 * DNS answer as body). stop closes the listeners and connections. */
#define AGENT_FORWARD_DNS 3
int agent_dns_start(struct cc_agent *a, char *err, size_t errlen);
void agent_dns_stop(struct cc_agent *a);
void agent_dns_forwarded(struct cc_agent *a, struct tr_call *call, const uint8_t *body,
                         size_t len);
/* agent_forward.c: sends req (copied) to a server; done as for
 * agent_forward_catalog_cb. */
void agent_forward_dns(struct cc_agent *a, const uint8_t *req, size_t len,
                       void (*done)(void *ud, struct cc_http_resp *resp), void *ud);

#endif
