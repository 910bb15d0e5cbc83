/* The Raft-backed HTTP endpoints: /v1/status/..., /v1/kv/..., /v1/operator/raft/...
 * (reference §5.0, §5.1, §5.5, §5.6), answered like Consul's: query meta
 * headers, the default/consistent/stale read modes, `No cluster leader` after
 * the hold timeout when there is none. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "agent/agent_internal.h"
#include "kv/kv.h"
#include "log/log.h"
#include "server/server.h"

#define NOT_SERVER "No known Consul servers"

static bool flag(const struct cc_http_req *req, const char *key)
{
	const char *v = cc_http_query(req, key);
	return v && strcmp(v, "false") != 0 && strcmp(v, "0") != 0;
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;
	if (!s || !*s || *s == '-')
		return -EINVAL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (*end || errno)
		return -EINVAL;
	*out = v;
	return 0;
}

/* X-Consul-Index (never 0), X-Consul-KnownLeader, X-Consul-LastContact. */
static void query_meta(const struct cc_server *s, struct cc_http_resp *resp, uint64_t index)
{
	char v[32];
	snprintf(v, sizeof(v), "%" PRIu64, index ? index : 1);
	cc_http_header(resp, "X-Consul-Index", v);
	cc_http_header(resp, "X-Consul-KnownLeader", cc_server_known_leader(s) ? "true" : "false");
	snprintf(v, sizeof(v), "%" PRIu64, cc_server_last_contact_ms(s));
	cc_http_header(resp, "X-Consul-LastContact", v);
}

static void log_request_error(const struct cc_http_req *req, const char *err)
{
	char url[600];
	snprintf(url, sizeof(url), "%s", req->path);
	CC_ERROR("agent.http", "Request error", "method", req->method, "url", url, "error", err);
}

/* ---- status ---- */

void agent_h_status_leader(void *ud, const struct cc_http_req *req, struct cc_http_resp *resp)
{
	const struct cc_agent *a = ud;
	cJSON *s = cJSON_CreateString(a->server ? cc_server_leader(a->server) : "");
	cc_http_json(req, resp, s);
	cJSON_Delete(s);
}

void agent_h_status_peers(void *ud, const struct cc_http_req *req, struct cc_http_resp *resp)
{
	const struct cc_agent *a = ud;
	const struct raft_configuration *c = a->server ? cc_server_configuration(a->server) : NULL;
	cJSON *j = c && c->n ? cJSON_CreateArray() : cJSON_CreateNull();
	for (unsigned i = 0; c && i < c->n; i++)
		cJSON_AddItemToArray(j, cJSON_CreateString(c->s[i].addr));
	cc_http_json(req, resp, j);
	cJSON_Delete(j);
}

/* ---- KV ---- */

enum kv_get_kind { GET_ONE, GET_RECURSE, GET_KEYS };

struct kv_call {
	struct cc_agent *a;
	struct cc_http_pending *p;
	enum kv_get_kind kind;
	bool raw, pretty, is_delete;
	char *key;
	char *separator;
	char method[8], path[512];
};

static void kv_call_free(struct kv_call *c)
{
	free(c->key);
	free(c->separator);
	free(c);
}

static cJSON *entry_json(const struct kv_entry *e)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "LockIndex", (double)e->lock_index);
	cJSON_AddStringToObject(o, "Key", e->key);
	cJSON_AddNumberToObject(o, "Flags", (double)e->flags);
	if (e->len == 0) {
		cJSON_AddNullToObject(o, "Value");
	} else {
		char *b64 = malloc(4 * ((e->len + 2) / 3) + 1);
		if (b64) {
			EVP_EncodeBlock((unsigned char *)b64, e->value, (int)e->len);
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

static void json_body(const struct kv_call *c, struct cc_http_resp *resp, const cJSON *j)
{
	cc_http_json_body(resp, j, c->pretty);
}

static void on_kv_ready(void *ud, const char *err)
{
	struct kv_call *c = ud;
	struct cc_server *s = c->a->server;
	struct cc_http_resp resp = { .status = 200 };
	if (err) {
		struct cc_http_req fake = { .method = c->method, .path = c->path };
		log_request_error(&fake, err);
		cc_http_error(&resp, 500, "%s", err);
		cc_http_finish(c->p, &resp);
		kv_call_free(c);
		return;
	}
	const struct kv *kv = cc_server_kv(s);
	uint64_t index = kv_prefix_index(kv, c->key);
	query_meta(s, &resp, index);
	if (c->kind == GET_KEYS) {
		cJSON *arr = cJSON_CreateArray();
		size_t n = kv_keys(kv, c->key, c->separator, add_key, arr);
		if (n == 0 && c->key[0])
			resp.status = 404;
		else
			json_body(c, &resp, arr);
		cJSON_Delete(arr);
	} else if (c->kind == GET_RECURSE) {
		cJSON *arr = cJSON_CreateArray();
		if (kv_list(kv, c->key, add_entry, arr) == 0)
			resp.status = 404;
		else
			json_body(c, &resp, arr);
		cJSON_Delete(arr);
	} else {
		struct kv_entry e;
		if (kv_get(kv, c->key, &e) != 0) {
			resp.status = 404;
		} else if (c->raw) {
			resp.body = malloc(e.len ? e.len : 1);
			if (resp.body) {
				memcpy(resp.body, e.value, e.len);
				resp.body_len = e.len;
			}
			resp.content_type = "text/plain; charset=utf-8";
		} else {
			cJSON *arr = cJSON_CreateArray();
			cJSON_AddItemToArray(arr, entry_json(&e));
			json_body(c, &resp, arr);
			cJSON_Delete(arr);
		}
	}
	cc_http_finish(c->p, &resp);
	kv_call_free(c);
}

static void on_kv_written(void *ud, const char *err, bool result, uint64_t index)
{
	struct kv_call *c = ud;
	struct cc_http_resp resp = { .status = 200 };
	if (err) {
		struct cc_http_req fake = { .method = c->method, .path = c->path };
		log_request_error(&fake, err);
		cc_http_error(&resp, 500, "%s", err);
	} else {
		cJSON *b = cJSON_CreateBool(result);
		json_body(c, &resp, b);
		cJSON_Delete(b);
	}
	cc_http_finish(c->p, &resp);
	kv_call_free(c);
}

static int read_mode(const struct cc_http_req *req, enum cc_read_mode *mode,
                     struct cc_http_resp *resp)
{
	bool stale = cc_http_query(req, "stale") || cc_http_query(req, "max_stale");
	bool consistent = cc_http_query(req, "consistent") != NULL;
	if (stale && consistent) {
		cc_http_error(resp, 400, "Cannot specify ?stale with ?consistent, conflicting semantics.");
		return -1;
	}
	*mode = stale ? CC_READ_STALE : consistent ? CC_READ_CONSISTENT : CC_READ_DEFAULT;
	return 0;
}

static struct kv_call *kv_call_new(struct cc_agent *a, const struct cc_http_req *req)
{
	struct kv_call *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->a = a;
	c->key = strdup(req->suffix);
	c->pretty = cc_http_query(req, "pretty") != NULL;
	snprintf(c->method, sizeof(c->method), "%s", req->method);
	snprintf(c->path, sizeof(c->path), "%s", req->path);
	if (!c->key) {
		free(c);
		return NULL;
	}
	return c;
}

static void kv_get_req(struct cc_agent *a, const struct cc_http_req *req,
                       struct cc_http_resp *resp)
{
	enum cc_read_mode mode;
	if (read_mode(req, &mode, resp))
		return;
	bool keys = cc_http_query(req, "keys") != NULL, recurse = flag(req, "recurse");
	if (!keys && !recurse && !req->suffix[0]) {
		cc_http_error(resp, 400, "Missing key name");
		return;
	}
	struct kv_call *c = kv_call_new(a, req);
	const char *sep = cc_http_query(req, "separator");
	if (!c || !(c->separator = strdup(sep ? sep : ""))) {
		if (c)
			kv_call_free(c);
		cc_http_error(resp, 500, "out of memory");
		return;
	}
	c->kind = keys ? GET_KEYS : recurse ? GET_RECURSE : GET_ONE;
	c->raw = cc_http_query(req, "raw") != NULL;
	c->p = cc_http_defer(req);
	cc_server_read_barrier(a->server, mode, on_kv_ready, c);
}

static void kv_write_req(struct cc_agent *a, const struct cc_http_req *req,
                         struct cc_http_resp *resp)
{
	bool del = strcmp(req->method, "DELETE") == 0;
	const char *cas = cc_http_query(req, "cas"), *flags = cc_http_query(req, "flags");
	bool recurse = flag(req, "recurse");
	if (cc_http_query(req, "acquire") || cc_http_query(req, "release")) {
		cc_http_error(resp, 400, "sessions are not supported by this agent (acquire/release)");
		return;
	}
	if (!req->suffix[0] && !(del && recurse)) {
		cc_http_error(resp, 400, "Missing key name");
		return;
	}
	if (del && recurse && cas) {
		cc_http_error(resp, 400, "Conflicting flags: cas=%s&recurse", cas);
		return;
	}
	struct kv_cmd cmd = { .key = req->suffix, .key_len = strlen(req->suffix) };
	if (cas && parse_u64(cas, &cmd.cas)) {
		cc_http_error(resp, 400, "Invalid cas index: %s", cas);
		return;
	}
	if (flags && parse_u64(flags, &cmd.flags)) {
		cc_http_error(resp, 400, "Invalid flags: %s", flags);
		return;
	}
	if (del) {
		cmd.op = recurse ? KV_OP_DELETE_TREE : cas ? KV_OP_DELETE_CAS : KV_OP_DELETE;
	} else {
		cmd.op = cas ? KV_OP_CAS : KV_OP_SET;
		cmd.value = (const uint8_t *)req->body;
		cmd.value_len = req->body_len;
	}
	if (cmd.key_len > KV_KEY_MAX || kv_cmd_encode(&cmd, NULL, 0) == 0) {
		cc_http_error(resp, 400, "Invalid key: %.64s", req->suffix);
		return;
	}
	struct kv_call *c = kv_call_new(a, req);
	if (!c) {
		cc_http_error(resp, 500, "out of memory");
		return;
	}
	c->p = cc_http_defer(req);
	cc_server_kv_write(a->server, &cmd, on_kv_written, c);
}

void agent_h_kv(void *ud, const struct cc_http_req *req, struct cc_http_resp *resp)
{
	struct cc_agent *a = ud;
	if (!a->server) {
		cc_http_error(resp, 500, NOT_SERVER);
		return;
	}
	if (strcmp(req->method, "GET") == 0)
		kv_get_req(a, req, resp);
	else
		kv_write_req(a, req, resp);
}

/* ---- operator ---- */

struct op_call {
	struct cc_agent *a;
	struct cc_http_pending *p;
	bool pretty;
};

static void on_conf_ready(void *ud, const char *err)
{
	struct op_call *c = ud;
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
		struct kv_call fake = { .pretty = c->pretty };
		json_body(&fake, &resp, root);
		cJSON_Delete(root);
	}
	cc_http_finish(c->p, &resp);
	free(c);
}

void agent_h_raft_configuration(void *ud, const struct cc_http_req *req,
                                struct cc_http_resp *resp)
{
	struct cc_agent *a = ud;
	enum cc_read_mode mode;
	if (!a->server) {
		cc_http_error(resp, 500, NOT_SERVER);
		return;
	}
	if (read_mode(req, &mode, resp))
		return;
	struct op_call *c = calloc(1, sizeof(*c));
	if (!c) {
		cc_http_error(resp, 500, "out of memory");
		return;
	}
	c->a = a;
	c->pretty = cc_http_query(req, "pretty") != NULL;
	c->p = cc_http_defer(req);
	cc_server_read_barrier(a->server, mode, on_conf_ready, c);
}

static void on_peer_removed(void *ud, const char *err)
{
	struct op_call *c = ud;
	struct cc_http_resp resp = { .status = 200 };
	if (err)
		cc_http_error(&resp, 500, "%s", err);
	cc_http_finish(c->p, &resp);
	free(c);
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
	struct op_call *c = calloc(1, sizeof(*c));
	if (!c) {
		cc_http_error(resp, 500, "out of memory");
		return;
	}
	c->a = a;
	c->p = cc_http_defer(req);
	cc_server_remove_peer(a->server, id, addr, on_peer_removed, c);
}
