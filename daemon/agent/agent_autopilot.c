/* The autopilot endpoints (reference §5.6): GET /v1/operator/autopilot/health
 * (the leader's view of every server; 429 with the same JSON when the
 * cluster is not healthy) and GET|PUT /v1/operator/autopilot/configuration
 * (replicated through Raft, see fsm/autopilot.h), in Consul's shapes and
 * texts. Servers answer; a client agent asks a server of its datacenter
 * (Consul's Operator.Autopilot* RPCs, here KVS.Forward with the first byte
 * FORWARD_AUTOPILOT, see agent_forward.c) and relays its answer, status
 * included (a 429 stays a 429). */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/agent_internal.h"
#include "config/config.h"
#include "fsm/autopilot.h"
#include "server/server.h"

#define PARSE_ERR "Error parsing autopilot config: "

/* Go's time.Duration.String: "0s", "750ns", "1.5µs", "200ms", "1m30s", "2h0m0s". */
static char *go_duration(int64_t ns, char *buf, size_t cap)
{
	uint64_t u = ns < 0 ? 0 - (uint64_t)ns : (uint64_t)ns;
	const char *sign = ns < 0 ? "-" : "";
	if (u == 0) {
		snprintf(buf, cap, "0s");
		return buf;
	}
	uint64_t div, whole, frac;
	const char *unit;
	int digits;
	if (u < 1000000000u) {
		div = u < 1000u ? 1 : u < 1000000u ? 1000 : 1000000;
		unit = u < 1000u ? "ns" : u < 1000000u ? "\xc2\xb5s" : "ms";
		digits = div == 1 ? 0 : div == 1000 ? 3 : 6;
	} else {
		div = 1000000000u;
		unit = "s";
		digits = 9;
	}
	whole = u / div;
	frac = u % div;
	char head[48] = "";
	if (div == 1000000000u) {
		uint64_t h = whole / 3600, m = whole / 60 % 60;
		whole %= 60;
		if (h)
			snprintf(head, sizeof(head), "%" PRIu64 "h%" PRIu64 "m", h, m);
		else if (m)
			snprintf(head, sizeof(head), "%" PRIu64 "m", m);
	}
	char f[16] = "";
	if (frac) {
		snprintf(f, sizeof(f), ".%0*" PRIu64, digits, frac);
		size_t n = strlen(f);
		while (f[n - 1] == '0')
			f[--n] = '\0';
	}
	snprintf(buf, cap, "%s%s%" PRIu64 "%s%s", sign, head, whole, f, unit);
	return buf;
}

/* ---- health ---- */

static const char *serf_status(enum swim_status s)
{
	static const char *const names[] = { "none", "alive", "leaving", "left", "failed" };
	return (unsigned)s < 5 ? names[s] : "none";
}

static cJSON *health_json(const struct cc_server_autopilot *h)
{
	cJSON *root = cJSON_CreateObject();
	cJSON_AddBoolToObject(root, "Healthy", h->healthy);
	cJSON_AddNumberToObject(root, "FailureTolerance", h->failure_tolerance);
	cJSON *arr = cJSON_AddArrayToObject(root, "Servers");
	for (unsigned i = 0; i < h->n; i++) {
		const struct cc_server_health *x = &h->s[i];
		cJSON *o = cJSON_CreateObject();
		char dur[48], since[32];
		time_t t = (time_t)x->stable_since;
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(since, sizeof(since), "%Y-%m-%dT%H:%M:%SZ", &tm);
		cJSON_AddStringToObject(o, "ID", x->id);
		cJSON_AddStringToObject(o, "Name", x->name);
		cJSON_AddStringToObject(o, "Address", x->addr);
		cJSON_AddStringToObject(o, "SerfStatus", serf_status(x->serf));
		cJSON_AddStringToObject(o, "Version", x->version);
		cJSON_AddBoolToObject(o, "Leader", x->leader);
		cJSON_AddStringToObject(o, "LastContact",
		                        go_duration((int64_t)x->last_contact_ms * 1000000, dur,
		                                    sizeof(dur)));
		cJSON_AddNumberToObject(o, "LastTerm", (double)x->last_term);
		cJSON_AddNumberToObject(o, "LastIndex", (double)x->last_index);
		cJSON_AddBoolToObject(o, "Healthy", x->healthy);
		cJSON_AddBoolToObject(o, "Voter", x->voter);
		cJSON_AddStringToObject(o, "StableSince", since);
		cJSON_AddItemToArray(arr, o);
	}
	return root;
}

static void on_health(void *ud, const char *err, const struct cc_server_autopilot *h)
{
	struct agent_op *c = ud;
	struct cc_http_resp resp = { .status = 200 };
	if (err) {
		cc_http_error(&resp, 500, "%s", err);
	} else {
		cJSON *j = health_json(h);
		cc_http_json_body(&resp, j, c->pretty);
		cJSON_Delete(j);
		if (!h->healthy)
			resp.status = 429;   /* Consul: StatusTooManyRequests, body unchanged */
	}
	agent_op_finish(c, &resp);
}

void agent_h_autopilot_health(void *ud, const struct cc_http_req *req, struct cc_http_resp *resp)
{
	struct cc_agent *a = ud;
	/* always the leader's answer: ?stale is not honoured, as in Consul */
	if (!a->server) {
		agent_forward_autopilot(a, AGENT_AUTOPILOT_HEALTH, cc_http_query(req, "pretty") != NULL,
		                        CC_READ_DEFAULT, NULL, 0, cc_http_defer(req));
		return;
	}
	struct agent_op *c = agent_op_defer(a, req, resp);
	if (c)
		cc_server_autopilot_health(a->server, on_health, c);
}

/* ---- configuration ---- */

static cJSON *config_json(const struct autopilot_config *ap)
{
	char d[48];
	cJSON *o = cJSON_CreateObject();
	cJSON_AddBoolToObject(o, "CleanupDeadServers", ap->cleanup_dead_servers);
	cJSON_AddStringToObject(o, "LastContactThreshold",
	                        go_duration(ap->last_contact_threshold_ns, d, sizeof(d)));
	cJSON_AddNumberToObject(o, "MaxTrailingLogs", (double)ap->max_trailing_logs);
	cJSON_AddNumberToObject(o, "MinQuorum", (double)ap->min_quorum);
	cJSON_AddStringToObject(o, "ServerStabilizationTime",
	                        go_duration(ap->server_stabilization_time_ns, d, sizeof(d)));
	cJSON_AddStringToObject(o, "RedundancyZoneTag", ap->redundancy_zone_tag);
	cJSON_AddBoolToObject(o, "DisableUpgradeMigration", ap->disable_upgrade_migration);
	cJSON_AddStringToObject(o, "UpgradeVersionTag", ap->upgrade_version_tag);
	cJSON_AddNumberToObject(o, "CreateIndex", (double)ap->create_index);
	cJSON_AddNumberToObject(o, "ModifyIndex", (double)ap->modify_index);
	return o;
}

static void on_config_ready(void *ud, const char *err)
{
	struct agent_op *c = ud;
	struct cc_http_resp resp = { .status = 200 };
	if (err) {
		cc_http_error(&resp, 500, "%s", err);
	} else {
		cJSON *j = config_json(cc_server_autopilot_config(c->a->server));
		cc_http_json_body(&resp, j, c->pretty);
		cJSON_Delete(j);
	}
	agent_op_finish(c, &resp);
}

static void on_config_written(void *ud, const char *err, bool result, uint64_t index)
{
	struct agent_op *c = ud;
	struct cc_http_resp resp = { .status = 200 };
	if (err) {
		cc_http_error(&resp, 500, "%s", err);
	} else {
		/* Consul answers the CAS outcome, and true for a plain write */
		cJSON *b = cJSON_CreateBool(!c->cas || result);
		cc_http_json_body(&resp, b, c->pretty);
		cJSON_Delete(b);
	}
	agent_op_finish(c, &resp);
}

/* A duration field: a Go duration string or a number of nanoseconds (what
 * api.ReadableDuration accepts); null or absent is 0. */
static int parse_duration(const cJSON *v, const char *name, int64_t *ns, char *err, size_t cap)
{
	const char *why = "expected a duration such as \"200ms\"";
	*ns = 0;
	if (!v || cJSON_IsNull(v))
		return 0;
	if (cJSON_IsString(v)) {
		if (cc_duration_parse(v->valuestring, ns, &why) == 0 && *ns >= 0)
			return 0;
		if (*ns < 0)
			why = "must not be negative";
	} else if (cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < 9.2e18 &&
	           v->valuedouble == floor(v->valuedouble)) {
		*ns = (int64_t)v->valuedouble;
		return 0;
	}
	snprintf(err, cap, "%s: %s", name, why);
	return -1;
}

static int parse_uint(const cJSON *v, const char *name, uint64_t *out, char *err, size_t cap)
{
	*out = 0;
	if (!v || cJSON_IsNull(v))
		return 0;
	if (cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < 1.8e19 &&
	    v->valuedouble == floor(v->valuedouble)) {
		*out = (uint64_t)v->valuedouble;
		return 0;
	}
	snprintf(err, cap, "%s: expected a non-negative integer", name);
	return -1;
}

static int parse_bool(const cJSON *v, const char *name, bool *out, char *err, size_t cap)
{
	*out = cJSON_IsTrue(v);
	if (!v || cJSON_IsNull(v) || cJSON_IsBool(v))
		return 0;
	snprintf(err, cap, "%s: expected true or false", name);
	return -1;
}

static int parse_tag(const cJSON *v, const char *name, char *out, char *err, size_t cap)
{
	out[0] = '\0';
	if (!v || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsString(v)) {
		snprintf(err, cap, "%s: expected a string", name);
		return -1;
	}
	size_t n = strlen(v->valuestring);
	if (n >= AUTOPILOT_TAG_MAX) {
		snprintf(err, cap, "%s: longer than %d bytes", name, AUTOPILOT_TAG_MAX - 1);
		return -1;
	}
	memcpy(out, v->valuestring, n + 1);
	return 0;
}

/* Consul decodes the body into api.AutopilotConfiguration: field names match
 * without regard to case (cJSON's lookups do the same), unknown fields are
 * ignored and absent ones are zero, not the current value. */
static int parse_config(const char *body, size_t len, struct autopilot_config *c, char *err,
                        size_t cap)
{
	memset(c, 0, sizeof(*c));
	if (len == 0) {
		snprintf(err, cap, "EOF");
		return -1;
	}
	cJSON *j = cJSON_ParseWithLength(body, len);
	if (!cJSON_IsObject(j)) {
		snprintf(err, cap, "%s", j ? "expected a JSON object" : "invalid JSON");
		cJSON_Delete(j);
		return -1;
	}
#define F(name) cJSON_GetObjectItem(j, name), name
	int rc = parse_bool(F("CleanupDeadServers"), &c->cleanup_dead_servers, err, cap) ||
	         parse_duration(F("LastContactThreshold"), &c->last_contact_threshold_ns, err,
	                        cap) ||
	         parse_uint(F("MaxTrailingLogs"), &c->max_trailing_logs, err, cap) ||
	         parse_uint(F("MinQuorum"), &c->min_quorum, err, cap) ||
	         parse_duration(F("ServerStabilizationTime"), &c->server_stabilization_time_ns, err,
	                        cap) ||
	         parse_tag(F("RedundancyZoneTag"), c->redundancy_zone_tag, err, cap) ||
	         parse_bool(F("DisableUpgradeMigration"), &c->disable_upgrade_migration, err, cap) ||
	         parse_tag(F("UpgradeVersionTag"), c->upgrade_version_tag, err, cap)
	                 ? -1
	                 : 0;
#undef F
	cJSON_Delete(j);
	return rc;
}

/* The command's Raft bytes (malloc'd), or NULL with resp set. */
static uint8_t *config_cmd_bytes(const struct autopilot_cmd *cmd, size_t *n,
                                 struct cc_http_resp *resp)
{
	*n = autopilot_cmd_encode(cmd, NULL, 0);
	uint8_t *buf = *n ? malloc(*n) : NULL;
	if (!buf) {
		cc_http_error(resp, *n ? 500 : 400, *n ? "out of memory" : PARSE_ERR "invalid values");
		return NULL;
	}
	autopilot_cmd_encode(cmd, buf, *n);
	return buf;
}

/* A client agent checks the body and ?cas as a server does (Consul's client
 * decodes them before its RPC) and sends the encoded command: the answers
 * are the same, and a server only has to take a well-formed command. */
static void put_config(struct cc_agent *a, const struct cc_http_req *req,
                       struct cc_http_resp *resp)
{
	struct autopilot_cmd cmd = { 0 };
	char err[300];
	const char *cas = cc_http_query(req, "cas");
	if (parse_config(req->body, req->body_len, &cmd.config, err, sizeof(err))) {
		cc_http_error(resp, 400, PARSE_ERR "%s", err);
		return;
	}
	if (cas && agent_parse_u64(cas, &cmd.cas_index)) {
		cc_http_error(resp, 400, "Error parsing cas value: invalid syntax: \"%.64s\"", cas);
		return;
	}
	cmd.cas = cas != NULL;
	size_t n;
	uint8_t *buf = config_cmd_bytes(&cmd, &n, resp);
	if (!buf)
		return;
	if (!a->server) {
		agent_forward_autopilot(a, AGENT_AUTOPILOT_SET_CONFIG,
		                        cc_http_query(req, "pretty") != NULL, CC_READ_DEFAULT, buf, n,
		                        cc_http_defer(req));
		free(buf);
		return;
	}
	struct agent_op *c = agent_op_defer(a, req, resp);
	if (!c) {
		free(buf);
		return;
	}
	c->cas = cmd.cas;
	cc_server_apply(a->server, buf, n, on_config_written, c);
}

void agent_h_autopilot_config(void *ud, const struct cc_http_req *req, struct cc_http_resp *resp)
{
	struct cc_agent *a = ud;
	if (strcmp(req->method, "PUT") == 0) {
		put_config(a, req, resp);
		return;
	}
	enum cc_read_mode mode;
	if (agent_read_mode(req, &mode, resp))
		return;
	if (!a->server) {
		agent_forward_autopilot(a, AGENT_AUTOPILOT_GET_CONFIG,
		                        cc_http_query(req, "pretty") != NULL, mode, NULL, 0,
		                        cc_http_defer(req));
		return;
	}
	struct agent_op *c = agent_op_defer(a, req, resp);
	if (c)
		cc_server_read_barrier(a->server, mode, on_config_ready, c);
}

/* ---- forwarded from a client agent ---- */

int agent_autopilot_run(struct cc_agent *a, int what, bool pretty, enum cc_read_mode mode,
                        const uint8_t *cmdb, size_t cmdlen, struct tr_call *call)
{
	struct autopilot_cmd cmd = { 0 };
	struct cc_http_resp resp = { .status = 200 };
	uint8_t *buf = NULL;
	size_t n = 0;
	if (what == AGENT_AUTOPILOT_SET_CONFIG) {
		/* strict: only a well-formed autopilot command goes into the log */
		if (autopilot_cmd_decode(cmdb, cmdlen, &cmd))
			return -EINVAL;
		buf = config_cmd_bytes(&cmd, &n, &resp);
		if (!buf) {
			agent_forward_reply(call, &resp);
			return 0;
		}
	} else if (cmdlen || (what != AGENT_AUTOPILOT_HEALTH && what != AGENT_AUTOPILOT_GET_CONFIG)) {
		return -EINVAL;
	}
	struct agent_op *c = calloc(1, sizeof(*c));
	if (!c) {
		free(buf);
		cc_http_error(&resp, 500, "out of memory");
		agent_forward_reply(call, &resp);
		return 0;
	}
	c->a = a;
	c->call = call;
	c->pretty = pretty;
	if (what == AGENT_AUTOPILOT_HEALTH) {
		cc_server_autopilot_health(a->server, on_health, c);
	} else if (what == AGENT_AUTOPILOT_GET_CONFIG) {
		cc_server_read_barrier(a->server, mode, on_config_ready, c);
	} else {
		c->cas = cmd.cas;
		cc_server_apply(a->server, buf, n, on_config_written, c);
	}
	return 0;
}
