/* /v1/operator/keyring: Consul's gossip keyring operations (GET lists,
 * POST installs, PUT makes primary, DELETE removes; body {"Key": "..."};
 * ?relay-factor=0..5, ?local-only for lists), on servers only, as Consul.
 * Each is a Serf keyring query asked of the WAN pool (unless local-only)
 * and of the LAN pool; the answers are tallied as serf's KeyManager does:
 * keys and primary keys counted over the nodes, every node that said no
 * named with its message, and an error unless every member answered yes. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent_internal.h"
#include "gossip/gossip.h"

#define MAX_NAMES 512   /* responders remembered per pool; more answers still count */

struct count {
	char key[64];
	int n;
};

struct pool_tally {               /* serf's KeyResponse for one pool */
	struct keyring_op *k;
	bool wan;
	struct count keys[16], primary[16];
	size_t nkeys, nprimary;
	cJSON *messages;              /* node -> message */
	char (*seen)[GW_NAME_MAX];    /* who answered (a relayed answer comes twice) */
	size_t nseen;
	int nodes, resp, errs;
	bool open;                    /* its query still runs */
};

struct keyring_op {
	struct agent_op *op;
	bool list, answered;
	struct pool_tally pool[2];
	int npools;
};

static void count_key(struct count *c, size_t *n, const char *key)
{
	for (size_t i = 0; i < *n; i++) {
		if (strcmp(c[i].key, key) == 0) {
			c[i].n++;
			return;
		}
	}
	if (*n < 16) {
		snprintf(c[*n].key, sizeof(c[*n].key), "%s", key);
		c[(*n)++].n = 1;
	}
}

static bool seen_before(struct pool_tally *t, const char *from)
{
	for (size_t i = 0; i < t->nseen; i++)
		if (strcmp(t->seen[i], from) == 0)
			return true;
	if (t->nseen < MAX_NAMES)
		snprintf(t->seen[t->nseen++], GW_NAME_MAX, "%s", from);
	return false;
}

static void note(struct pool_tally *t, const char *from, const char *msg)
{
	if (!cJSON_GetObjectItemCaseSensitive(t->messages, from))
		cJSON_AddStringToObject(t->messages, from, msg);
}

static cJSON *counts_json(const struct count *c, size_t n)
{
	cJSON *o = cJSON_CreateObject();
	for (size_t i = 0; i < n; i++)
		cJSON_AddNumberToObject(o, c[i].key, c[i].n);
	return o;
}

static void maybe_answer(struct keyring_op *k);

static void op_free(struct keyring_op *k)
{
	for (int i = 0; i < 2; i++) {
		cJSON_Delete(k->pool[i].messages);
		free(k->pool[i].seen);
	}
	free(k);
}

/* serf's streamKeyResp, one answer at a time */
static void on_response(void *ud, const char *from, bool ack, const uint8_t *p, size_t len)
{
	struct pool_tally *t = ud;
	if (ack || seen_before(t, from))
		return;
	struct gw_serf_key_response r;
	char msg[300];
	if (len < 1 || p[0] != GW_SERF_KEY_RESPONSE) {
		snprintf(msg, sizeof(msg), "Invalid key query response type: %d", len ? p[0] : -1);
		note(t, from, msg);
		t->errs++;
	} else if (gw_decode_serf_key_response(p + 1, len - 1, &r)) {
		note(t, from, "Failed to decode key query response");
		t->errs++;
	} else {
		if (!r.result) {
			note(t, from, r.message);
			t->errs++;
		} else if (r.message[0]) {
			note(t, from, r.message);
		}
		for (size_t i = 0; i < r.nkeys; i++)
			count_key(t->keys, &t->nkeys, r.keys[i]);
		if (r.primary[0])
			count_key(t->primary, &t->nprimary, r.primary);
	}
	t->resp++;
	maybe_answer(t->k);
}

static void on_query_done(void *ud)
{
	struct pool_tally *t = ud;
	struct keyring_op *k = t->k;
	t->open = false;
	maybe_answer(k);
	for (int i = 0; i < k->npools; i++)
		if (k->pool[i].open)
			return;
	op_free(k);
}

/* Consul's keyringErrorsOrNil, worded as hashicorp/go-multierror lists them */
static bool errors_text(const struct keyring_op *k, const char *dc, char *buf, size_t cap)
{
	char lines[16][400];
	int n = 0;
	for (int i = 0; i < k->npools; i++) {
		const struct pool_tally *t = &k->pool[i];
		char why[64] = "";
		if (t->errs)
			snprintf(why, sizeof(why), "%d/%d nodes reported failure", t->errs, t->nodes);
		else if (t->resp != t->nodes)
			snprintf(why, sizeof(why), "%d/%d nodes reported success", t->resp, t->nodes);
		if (!why[0])
			continue;
		if (t->wan)
			snprintf(lines[n++], sizeof(lines[0]), "WAN error: %s", why);
		else
			snprintf(lines[n++], sizeof(lines[0]), "%s (LAN) error: %s", dc, why);
		const cJSON *m;
		cJSON_ArrayForEach(m, t->messages) {
			if (n < 16)
				snprintf(lines[n++], sizeof(lines[0]), "%s: %s", m->string, m->valuestring);
		}
	}
	if (n == 0)
		return false;
	size_t o = (size_t)snprintf(buf, cap, n == 1 ? "1 error occurred:" : "%d errors occurred:",
	                            n);
	for (int i = 0; i < n && o < cap; i++)
		o += (size_t)snprintf(buf + o, cap - o, "\n\t* %s", lines[i]);
	if (o < cap)
		snprintf(buf + o, cap - o, "\n\n");
	return true;
}

/* Answers once every pool is complete: all its members answered, or its
 * time is up. */
static void maybe_answer(struct keyring_op *k)
{
	if (k->answered)
		return;
	for (int i = 0; i < k->npools; i++)
		if (k->pool[i].open && k->pool[i].resp < k->pool[i].nodes)
			return;
	k->answered = true;
	const char *dc = k->op->a->cfg->datacenter;
	struct cc_http_resp resp = { .status = 200 };
	char err[8192];
	if (errors_text(k, dc, err, sizeof(err))) {
		cc_http_error(&resp, 500, "%s", err);
	} else if (k->list) {
		cJSON *arr = cJSON_CreateArray();
		for (int i = 0; i < k->npools; i++) {
			const struct pool_tally *t = &k->pool[i];
			cJSON *o = cJSON_CreateObject();
			cJSON_AddBoolToObject(o, "WAN", t->wan);
			cJSON_AddStringToObject(o, "Datacenter", dc);
			cJSON_AddStringToObject(o, "Segment", "");
			if (cJSON_GetArraySize(t->messages))
				cJSON_AddItemToObject(o, "Messages", cJSON_Duplicate(t->messages, true));
			cJSON_AddItemToObject(o, "Keys", counts_json(t->keys, t->nkeys));
			cJSON_AddItemToObject(o, "PrimaryKeys", counts_json(t->primary, t->nprimary));
			cJSON_AddNumberToObject(o, "NumNodes", t->nodes);
			cJSON_AddItemToArray(arr, o);
		}
		cc_http_json_body(&resp, arr, k->op->pretty);
		cJSON_Delete(arr);
	}
	agent_op_finish(k->op, &resp);
	k->op = NULL;
}

/* The write requests' body: {"Key": "<base64 of 16, 24 or 32 bytes>"} */
static int request_key(const struct cc_http_req *req, struct cc_http_resp *resp, uint8_t *out,
                       size_t *len)
{
	cJSON *j = cJSON_ParseWithLength(req->body, req->body_len);
	const cJSON *key = cJSON_GetObjectItemCaseSensitive(j, "Key");
	int rc = -1;
	struct gw_keyring one = { .n = 0 };
	if (!j)
		cc_http_error(resp, 400, "Request decode failed: invalid JSON body");
	else if (!cJSON_IsString(key) || !key->valuestring[0])
		cc_http_error(resp, 400, "Request decode failed: a \"Key\" string is required");
	else if (gw_keyring_add_base64(&one, key->valuestring))
		cc_http_error(resp, 400, "Invalid key: expected the base64 of 16, 24 or 32 bytes "
		                         "(as `consul keygen` prints)");
	else
		rc = 0;
	if (rc == 0) {
		*len = one.lens[0];
		memcpy(out, one.keys[0], *len);
	}
	cJSON_Delete(j);
	return rc;
}

void agent_h_keyring(void *ud, const struct cc_http_req *req, struct cc_http_resp *resp)
{
	struct cc_agent *a = ud;
	static const struct {
		const char *method, *query;
	} ops[] = { { "GET", "_serf_list-keys" },
		    { "POST", "_serf_install-key" },
		    { "PUT", "_serf_use-key" },
		    { "DELETE", "_serf_remove-key" } };
	const char *query = NULL;
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (strcmp(req->method, ops[i].method) == 0)
			query = ops[i].query;
	bool list = strcmp(req->method, "GET") == 0;
	uint64_t relay = 0;
	const char *rf = cc_http_query(req, "relay-factor");
	if (rf && (agent_parse_u64(rf, &relay) || relay > 5)) {
		cc_http_error(resp, 400, "Relay factor must be in range: [0, 5]");
		return;
	}
	bool local_only = agent_query_flag(req, "local-only");
	if (local_only && !list) {
		cc_http_error(resp, 400, "local-only can only be set for list requests");
		return;
	}
	uint8_t payload[96];
	size_t plen = 0;
	if (!list) {
		uint8_t key[32];
		size_t klen;
		if (request_key(req, resp, key, &klen))
			return;
		int n = gw_encode_serf_key_request(key, klen, payload, sizeof(payload));
		if (n < 0) {
			cc_http_error(resp, 500, "cannot encode the key request");
			return;
		}
		plen = (size_t)n;
	}
	if (!a->server || !a->lan) {   /* Consul's clients refuse too */
		cc_http_error(resp, 500, "keyring operations must run against a server node");
		return;
	}
	struct keyring_op *k = calloc(1, sizeof(*k));
	if (!k) {
		cc_http_error(resp, 500, "out of memory");
		return;
	}
	k->list = list;
	struct gossip *pools[2];
	if (a->wan && !local_only)
		pools[k->npools++] = a->wan;
	pools[k->npools++] = a->lan;
	for (int i = 0; i < k->npools; i++) {
		struct pool_tally *t = &k->pool[i];
		t->k = k;
		t->wan = pools[i] == a->wan;
		t->nodes = (int)gossip_count(pools[i], SWIM_ALIVE);
		t->messages = cJSON_CreateObject();
		t->seen = calloc(MAX_NAMES, GW_NAME_MAX);
		if (!t->messages || !t->seen) {
			op_free(k);
			cc_http_error(resp, 500, "out of memory");
			return;
		}
	}
	if (!(k->op = agent_op_defer(a, req, resp))) {
		op_free(k);
		return;
	}
	/* each pool's query is open until its done callback; a pool whose query
	 * cannot start counts as a pool where nobody answered */
	for (int i = 0; i < k->npools; i++)
		k->pool[i].open = true;
	int started = 0;
	for (int i = 0; i < k->npools; i++) {
		int rc = gossip_query(pools[i], query, payload, plen, (uint8_t)relay, on_response,
		                      on_query_done, &k->pool[i]);
		if (rc == 0) {
			started++;
		} else {
			CC_ERROR("agent", "failed to start keyring query", "query", query, "error",
			         rc == -EBUSY ? "too many queries open at once" : strerror(-rc));
			k->pool[i].open = false;
		}
	}
	if (started == 0) {
		k->pool[0].open = true;   /* on_query_done answers and frees */
		on_query_done(&k->pool[0]);
	}
}
