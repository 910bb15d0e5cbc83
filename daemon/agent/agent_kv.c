/* The Raft-backed HTTP endpoints: /v1/status/..., /v1/kv/..., /v1/operator/raft/...
 * (reference §5.0, §5.1, §5.5, §5.6), answered like Consul's: query meta
 * headers, the default/consistent/stale read modes, `No cluster leader` after
 * the hold timeout when there is none. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#include "agent/agent_internal.h"
#include "config/config.h"
#include "kv/kv.h"
#include "log/log.h"
#include "metrics/metrics.h"
#include "server/server.h"

#define NOT_SERVER "No known Consul servers"

static void log_request_error(const struct cc_http_req *req, const char *err)
{
	char url[600];
	snprintf(url, sizeof(url), "%s", req->path);
	CC_ERROR("agent.http", "Request error", "method", req->method, "url", url, "error", err);
}

/* ---- status ---- */

cJSON *agent_status_json(const struct cc_agent *a, bool peers)
{
	if (!peers)
		return cJSON_CreateString(a->server ? cc_server_leader(a->server) : "");
	const struct raft_configuration *c = a->server ? cc_server_configuration(a->server) : NULL;
	cJSON *j = c && c->n ? cJSON_CreateArray() : cJSON_CreateNull();
	for (unsigned i = 0; c && i < c->n; i++)
		cJSON_AddItemToArray(j, cJSON_CreateString(c->s[i].addr));
	return j;
}

/* A server answers from its own Raft state; a client agent asks a server
 * (Consul's Status.Leader / Status.Peers RPCs). */
static void status(struct cc_agent *a, const struct cc_http_req *req, struct cc_http_resp *resp,
                   bool peers)
{
	if (!a->server) {
		agent_forward_status(a, peers ? AGENT_STATUS_PEERS : AGENT_STATUS_LEADER,
		                     cc_http_query(req, "pretty") != NULL, CC_READ_DEFAULT,
		                     cc_http_defer(req));
		return;
	}
	cJSON *j = agent_status_json(a, peers);
	cc_http_json(req, resp, j);
	cJSON_Delete(j);
}

void agent_h_status_leader(void *ud, const struct cc_http_req *req, struct cc_http_resp *resp)
{
	status(ud, req, resp, false);
}

void agent_h_status_peers(void *ud, const struct cc_http_req *req, struct cc_http_resp *resp)
{
	status(ud, req, resp, true);
}

/* ---- KV ---- */

struct kv_call {
	struct agent_watch w;              /* when parked as a blocking query */
	struct cc_agent *a;
	struct kv_params p;
	struct cc_http_pending *pending;   /* asked over HTTP here */
	struct tr_call *call;              /* forwarded by a client agent */
	char path[512];
	uint64_t start_ns;                 /* writes: for the kvs.apply metric */
};

static void kv_call_free(struct kv_call *c)
{
	kv_params_free(&c->p);
	free(c);
}

/* Answers and frees c. */
static void kv_finish(struct kv_call *c, struct cc_http_resp *resp)
{
	if (resp->status >= 500 && resp->body) {
		struct cc_http_req fake = { .method = c->p.method, .path = c->path };
		char err[200];
		snprintf(err, sizeof(err), "%.*s", (int)resp->body_len, resp->body);
		log_request_error(&fake, err);
	}
	agent_answer(c->pending, c->call, resp);
	kv_call_free(c);
}

static cJSON *entry_json(const struct kv_entry *e)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "LockIndex", (double)e->lock_index);
	cJSON_AddStringToObject(o, "Key", e->key);
	char flags[24];   /* a uint64 exactly: a double would round it above 2^53 */
	snprintf(flags, sizeof(flags), "%llu", (unsigned long long)e->flags);
	cJSON_AddRawToObject(o, "Flags", flags);
	if (e->len == 0) {
		cJSON_AddNullToObject(o, "Value");
	} else {
		char *b64 = malloc(4 * ((e->len + 2) / 3) + 1);
		if (b64) {
			gw_base64_encode(b64, e->value, e->len);
			cJSON_AddStringToObject(o, "Value", b64);
			free(b64);
		}
	}
	cJSON_AddNumberToObject(o, "CreateIndex", (double)e->create_index);
	cJSON_AddNumberToObject(o, "ModifyIndex", (double)e->modify_index);
	return o;
}

static int add_entry(void *ud, const struct kv_entry *e)
{
	cJSON_AddItemToArray(ud, entry_json(e));
	return 0;
}

static int add_key(void *ud, const char *k)
{
	cJSON_AddItemToArray(ud, cJSON_CreateString(k));
	return 0;
}

static uint64_t kv_call_index(void *ud)
{
	struct kv_call *c = ud;
	return kv_prefix_index(cc_server_kv(c->a->server), c->p.key);
}

static void on_kv_ready(void *ud, const char *err)
{
	struct kv_call *c = ud;
	struct cc_server *s = c->a->server;
	struct cc_http_resp resp = { .status = 200 };
	if (err) {
		cc_http_error(&resp, 500, "%s", err);
		kv_finish(c, &resp);
		return;
	}
	const struct kv *kv = cc_server_kv(s);
	uint64_t index = kv_prefix_index(kv, c->p.key);
	if (c->p.blocking && index <= c->p.index && uv_now(&c->a->loop) < c->w.deadline) {
		c->w.index = c->p.index;
		c->w.current = kv_call_index;
		c->w.ready = on_kv_ready;
		c->w.ud = c;
		agent_watch_park(c->a, &c->w);
		return;
	}
	agent_query_meta(s, &resp, index);
	if (c->p.keys) {
		cJSON *arr = cJSON_CreateArray();
		size_t n = kv_keys(kv, c->p.key, c->p.separator, add_key, arr);
		if (n == 0 && c->p.key[0])
			resp.status = 404;
		else
			cc_http_json_body(&resp, arr, c->p.pretty);
		cJSON_Delete(arr);
	} else if (c->p.recurse) {
		cJSON *arr = cJSON_CreateArray();
		if (kv_list(kv, c->p.key, add_entry, arr) == 0)
			resp.status = 404;
		else
			cc_http_json_body(&resp, arr, c->p.pretty);
		cJSON_Delete(arr);
	} else {
		struct kv_entry e;
		if (kv_get(kv, c->p.key, &e) != 0) {
			resp.status = 404;
		} else if (c->p.raw) {
			resp.body = malloc(e.len ? e.len : 1);
			if (resp.body) {
				memcpy(resp.body, e.value, e.len);
				resp.body_len = e.len;
			}
			resp.content_type = "text/plain; charset=utf-8";
		} else {
			cJSON *arr = cJSON_CreateArray();
			cJSON_AddItemToArray(arr, entry_json(&e));
			cc_http_json_body(&resp, arr, c->p.pretty);
			cJSON_Delete(arr);
		}
	}
	kv_finish(c, &resp);
}

static void on_kv_written(void *ud, const char *err, bool result, uint64_t index)
{
	struct kv_call *c = ud;
	struct cc_http_resp resp = { .status = 200 };
	cc_metric_since("kvs.apply", c->start_ns); /* Consul's KVS.Apply timing */
	if (err) {
		cc_http_error(&resp, 500, "%s", err);
	} else {
		cJSON *b = cJSON_CreateBool(result);
		cc_http_json_body(&resp, b, c->p.pretty);
		cJSON_Delete(b);
	}
	kv_finish(c, &resp);
}

int kv_params_parse(const struct cc_http_req *req, struct kv_params *p, struct cc_http_resp *resp)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->method, sizeof(p->method), "%s", req->method);
	if (agent_read_mode(req, &p->mode, resp))
		return -1;
	p->keys = cc_http_query(req, "keys") != NULL;
	p->recurse = agent_query_flag(req, "recurse");
	p->raw = cc_http_query(req, "raw") != NULL;
	p->pretty = cc_http_query(req, "pretty") != NULL;
	const char *cas = cc_http_query(req, "cas"), *flags = cc_http_query(req, "flags");
	const char *sep = cc_http_query(req, "separator");
	if (cc_http_query(req, "acquire") || cc_http_query(req, "release")) {
		cc_http_error(resp, 400, "sessions are not supported by this agent (acquire/release)");
		return -1;
	}
	if (cas && agent_parse_u64(cas, &p->cas)) {
		cc_http_error(resp, 400, "Invalid cas index: %s", cas);
		return -1;
	}
	if (flags && agent_parse_u64(flags, &p->flags)) {
		cc_http_error(resp, 400, "Invalid flags: %s", flags);
		return -1;
	}
	p->has_cas = cas != NULL;
	if (agent_blocking_parse(req, &p->blocking, &p->index, &p->wait_ms, resp))
		return -1;
	p->key = strdup(req->suffix);
	p->separator = strdup(sep ? sep : "");
	p->body = malloc(req->body_len ? req->body_len : 1);
	if (!p->key || !p->separator || !p->body) {
		kv_params_free(p);
		cc_http_error(resp, 500, "out of memory");
		return -1;
	}
	if (req->body_len)
		memcpy(p->body, req->body, req->body_len);
	p->body_len = req->body_len;
	return kv_params_check(p, resp);
}

int kv_params_check(const struct kv_params *p, struct cc_http_resp *resp)
{
	bool get = strcmp(p->method, "GET") == 0, del = strcmp(p->method, "DELETE") == 0;
	if (!get && !del && strcmp(p->method, "PUT") != 0) {
		cc_http_error(resp, 405, "method %s not allowed", p->method);
		return -1;
	}
	if (!p->key[0] && !(get && (p->keys || p->recurse)) && !(del && p->recurse)) {
		cc_http_error(resp, 400, "Missing key name");
		return -1;
	}
	if (del && p->recurse && p->has_cas) {
		cc_http_error(resp, 400, "Conflicting flags: cas=%llu&recurse",
		              (unsigned long long)p->cas);
		return -1;
	}
	struct kv_cmd cmd;
	kv_params_cmd(p, &cmd);
	if (!get && (strlen(p->key) > KV_KEY_MAX || kv_cmd_encode(&cmd, NULL, 0) == 0)) {
		cc_http_error(resp, 400, "Invalid key: %.64s", p->key);
		return -1;
	}
	return 0;
}

void kv_params_cmd(const struct kv_params *p, struct kv_cmd *cmd)
{
	bool del = strcmp(p->method, "DELETE") == 0;
	*cmd = (struct kv_cmd){ .key = p->key, .key_len = strlen(p->key), .cas = p->cas,
		                .flags = p->flags };
	if (del) {
		cmd->op = p->recurse ? KV_OP_DELETE_TREE : p->has_cas ? KV_OP_DELETE_CAS : KV_OP_DELETE;
	} else {
		cmd->op = p->has_cas ? KV_OP_CAS : KV_OP_SET;
		cmd->value = p->body;
		cmd->value_len = p->body_len;
	}
}

void kv_params_free(struct kv_params *p)
{
	free(p->key);
	free(p->separator);
	free(p->body);
	memset(p, 0, sizeof(*p));
}

/* Runs a checked request on this server; takes p over. The answer goes to
 * pending (HTTP) or call (a client agent's forward). */
void agent_kv_run(struct cc_agent *a, struct kv_params *p, struct cc_http_pending *pending,
                  struct tr_call *call, const char *path)
{
	struct kv_call *c = calloc(1, sizeof(*c));
	if (!c) {
		struct cc_http_resp resp = { .status = 200 };
		cc_http_error(&resp, 500, "out of memory");
		agent_answer(pending, call, &resp);
		kv_params_free(p);
		return;
	}
	c->a = a;
	c->p = *p;
	memset(p, 0, sizeof(*p));
	c->pending = pending;
	c->call = call;
	snprintf(c->path, sizeof(c->path), "%s", path);
	if (c->p.blocking)
		c->w.deadline = agent_blocking_deadline(a, c->p.wait_ms);
	if (strcmp(c->p.method, "GET") == 0) {
		cc_server_read_barrier(a->server, c->p.mode, on_kv_ready, c);
	} else {
		struct kv_cmd cmd;
		kv_params_cmd(&c->p, &cmd);
		c->start_ns = cc_metrics_mono_ns();
		cc_server_kv_write(a->server, &cmd, on_kv_written, c);
	}
}

void agent_h_kv(void *ud, const struct cc_http_req *req, struct cc_http_resp *resp)
{
	struct cc_agent *a = ud;
	struct kv_params p;
	if (kv_params_parse(req, &p, resp))
		return;
	struct cc_http_pending *pending = cc_http_defer(req);
	if (a->server)
		agent_kv_run(a, &p, pending, NULL, req->path);
	else
		agent_forward_kv(a, &p, pending);
}

/* ---- operator ---- */

static void on_conf_ready(void *ud, const char *err)
{
	struct agent_op *c = ud;
	struct cc_http_resp resp = { .status = 200 };
	if (err) {
		cc_http_error(&resp, 500, "%s", err);
	} else {
		struct cc_server *s = c->a->server;
		const struct raft_configuration *conf = cc_server_configuration(s);
		const char *leader = cc_server_leader(s);
		cJSON *root = cJSON_CreateObject();
		cJSON *arr = cJSON_AddArrayToObject(root, "Servers");
		for (unsigned i = 0; i < conf->n; i++) {
			const struct raft_server *x = &conf->s[i];
			cJSON *o = cJSON_CreateObject();
			const char *node = cc_server_member_name(s, x->id);
			bool known = strcmp(node, "(unknown)") != 0;
			cJSON_AddStringToObject(o, "ID", x->id);
			cJSON_AddStringToObject(o, "Node", node);
			cJSON_AddStringToObject(o, "Address", x->addr);
			cJSON_AddBoolToObject(o, "Leader", strcmp(x->addr, leader) == 0);
			cJSON_AddStringToObject(o, "ProtocolVersion", known ? "3" : "unknown");
			cJSON_AddBoolToObject(o, "Voter", x->voter);
			cJSON_AddItemToArray(arr, o);
		}
		cJSON_AddNumberToObject(root, "Index", (double)cc_server_configuration_index(s));
		cc_http_json_body(&resp, root, c->pretty);
		cJSON_Delete(root);
	}
	agent_op_finish(c, &resp);
}

void agent_raft_configuration_run(struct cc_agent *a, enum cc_read_mode mode, bool pretty,
                                  struct tr_call *call)
{
	struct agent_op *c = calloc(1, sizeof(*c));
	if (!c) {
		struct cc_http_resp resp = { .status = 200 };
		cc_http_error(&resp, 500, "out of memory");
		agent_answer(NULL, call, &resp);
		return;
	}
	c->a = a;
	c->call = call;
	c->pretty = pretty;
	cc_server_read_barrier(a->server, mode, on_conf_ready, c);
}

void agent_h_raft_configuration(void *ud, const struct cc_http_req *req,
                                struct cc_http_resp *resp)
{
	struct cc_agent *a = ud;
	enum cc_read_mode mode;
	if (agent_read_mode(req, &mode, resp))
		return;
	if (!a->server) {   /* Consul's clients ask a server (Operator.RaftGetConfiguration) */
		agent_forward_status(a, AGENT_STATUS_RAFT_CONF, cc_http_query(req, "pretty") != NULL,
		                     mode, cc_http_defer(req));
		return;
	}
	struct agent_op *c = agent_op_defer(a, req, resp);
	if (c)
		cc_server_read_barrier(a->server, mode, on_conf_ready, c);
}

static void on_peer_removed(void *ud, const char *err)
{
	struct agent_op *c = ud;
	struct cc_http_resp resp = { .status = 200 };
	if (err)
		cc_http_error(&resp, 500, "%s", err);
	agent_op_finish(c, &resp);
}

void agent_h_raft_peer(void *ud, const struct cc_http_req *req, struct cc_http_resp *resp)
{
	struct cc_agent *a = ud;
	const char *id = cc_http_query(req, "id"), *addr = cc_http_query(req, "address");
	if (!a->server) {
		cc_http_error(resp, 500, NOT_SERVER);
		return;
	}
	if ((!id || !*id) && (!addr || !*addr)) {
		cc_http_error(resp, 400, "Must specify either ?id with the server's ID or ?address with "
		                         "IP:port of peer to remove");
		return;
	}
	if (id && *id && addr && *addr) {
		cc_http_error(resp, 400, "Must specify only one of ?id or ?address");
		return;
	}
	struct agent_op *c = agent_op_defer(a, req, resp);
	if (c)
		cc_server_remove_peer(a->server, id, addr, on_peer_removed, c);
}
