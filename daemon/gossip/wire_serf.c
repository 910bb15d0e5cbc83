/* Serf payloads (spec §6.2, §6.3, §6.6): intents, events, queries and the
 * push/pull user state, plus the tags carried in memberlist Meta. */
#include <errno.h>
#include <limits.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "gossip/wire_internal.h"

/* ---- messagePushPull's lists ---- */

static int dec_events(struct mp_r *r, void *obj)
{
	(void)obj;
	return mpr_skip(r); /* not kept: we neither replay nor relay old events */
}

static void enc_events(struct mp_w *w, const void *obj)
{
	(void)obj;
	mpw_array(w, 0);
}

static int dec_left(struct mp_r *r, void *obj)
{
	struct gw_serf_push_pull *m = obj;
	uint32_t n;
	int rc = mpr_array(r, &n);
	if (rc)
		return rc;
	free(m->left);
	m->left = NULL;
	m->nleft = 0;
	if (n > GW_LIST_MAX)
		return -GW_ETOOBIG;
	if (n > r->len - r->off)
		return -GW_ETRUNC; /* each name takes a byte at least */
	if (n == 0)
		return 0;
	if (!(m->left = calloc(n, sizeof(*m->left))))
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		if ((rc = mpr_cstr(r, m->left[i], GW_NAME_MAX, -GW_EBADMSG)))
			return rc;
		m->nleft++;
	}
	return 0;
}

static void enc_left(struct mp_w *w, const void *obj)
{
	const struct gw_serf_push_pull *m = obj;
	if (m->nleft > UINT32_MAX || (m->nleft && !m->left)) {
		w->err = -EINVAL;
		return;
	}
	/* Go sends an empty list, not nil, when nobody has left */
	mpw_array(w, (uint32_t)m->nleft);
	for (size_t i = 0; i < m->nleft; i++) {
		size_t len = strnlen(m->left[i], GW_NAME_MAX);
		if (len == GW_NAME_MAX) {
			w->err = -EINVAL;
			return;
		}
		mpw_str(w, m->left[i], len);
	}
}

static int dec_status(struct mp_r *r, void *obj)
{
	struct gw_serf_push_pull *m = obj;
	uint32_t n;
	int rc = mpr_map(r, &n);
	if (rc)
		return rc;
	free(m->status);
	m->status = NULL;
	m->nstatus = 0;
	if (n > GW_LIST_MAX)
		return -GW_ETOOBIG;
	if (n > (r->len - r->off) / 2)
		return -GW_ETRUNC; /* each entry takes two bytes at least */
	if (n == 0)
		return 0;
	if (!(m->status = calloc(n, sizeof(*m->status))))
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		struct gw_serf_status_ltime *s = &m->status[i];
		if ((rc = mpr_cstr(r, s->node, GW_NAME_MAX, -GW_EBADMSG)) ||
		    (rc = mpr_uint(r, UINT64_MAX, &s->ltime)))
			return rc;
		m->nstatus++;
	}
	return 0;
}

static void enc_status(struct mp_w *w, const void *obj)
{
	const struct gw_serf_push_pull *m = obj;
	if (m->nstatus > UINT32_MAX || (m->nstatus && !m->status)) {
		w->err = -EINVAL;
		return;
	}
	mpw_map(w, (uint32_t)m->nstatus);
	for (size_t i = 0; i < m->nstatus; i++) {
		size_t len = strnlen(m->status[i].node, GW_NAME_MAX);
		if (len == GW_NAME_MAX) {
			w->err = -EINVAL;
			return;
		}
		mpw_str(w, m->status[i].node, len);
		mpw_uint(w, m->status[i].ltime);
	}
}

static int dec_filters(struct mp_r *r, void *obj)
{
	struct gw_serf_query *m = obj;
	uint32_t n;
	int rc = mpr_array(r, &n);
	if (rc)
		return rc;
	if (n > GW_QUERY_FILTERS_MAX)
		return -GW_ETOOBIG;
	size_t used = 0;
	m->n_filters = 0;
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *f;
		uint32_t len;
		if ((rc = mpr_str(r, true, &f, &len)))
			return rc;
		if (len > sizeof(m->filters) - used)
			return -GW_ETOOBIG;
		if (len)
			memcpy(m->filters + used, f, len);
		m->filter_off[i] = (uint16_t)used;
		used += len;
		m->n_filters++;
	}
	m->filter_off[m->n_filters] = (uint16_t)used;
	return 0;
}

static void enc_filters(struct mp_w *w, const void *obj)
{
	const struct gw_serf_query *m = obj;
	if (m->n_filters > GW_QUERY_FILTERS_MAX) {
		w->err = -EINVAL;
		return;
	}
	mpw_array(w, (uint32_t)m->n_filters);
	for (size_t i = 0; i < m->n_filters; i++) {
		size_t a = m->filter_off[i], b = m->filter_off[i + 1];
		if (b < a || b > sizeof(m->filters)) {
			w->err = -EINVAL;
			return;
		}
		mpw_str(w, m->filters + a, b - a);
	}
}

/* ---- query filters ---- */

int gw_serf_filter_node(const uint8_t *f, size_t len, const char *name)
{
	struct mp_r r;
	uint32_t n;
	if (len < 1 || f[0] != GW_FILTER_NODE)
		return -GW_EBADMSG;
	mpr_init(&r, f + 1, len - 1);
	int rc = mpr_array(&r, &n);
	if (rc)
		return rc;
	bool found = false;
	for (uint32_t i = 0; i < n; i++) {
		char node[GW_NAME_MAX];
		if ((rc = mpr_cstr(&r, node, sizeof(node), -GW_EBADMSG)))
			return rc;
		found |= strcmp(node, name) == 0;
	}
	return found;
}

struct tag_filter {
	char expr[GW_PAYLOAD_MAX];
	char tag[GW_NAME_MAX];
};

static const struct mp_field tag_filter_f[] = {
	F("Expr", MK_STR, 0, struct tag_filter, expr),
	F("Tag", MK_STR, 0, struct tag_filter, tag),
};

int gw_serf_filter_tag(const uint8_t *f, size_t len, char *tag, size_t tag_cap, char *expr,
                       size_t expr_cap)
{
	struct tag_filter t;
	if (len < 1 || f[0] != GW_FILTER_TAG)
		return -GW_EBADMSG;
	int rc = mp_decode_body(f + 1, len - 1, tag_filter_f, N(tag_filter_f), &t, sizeof(t));
	if (rc)
		return rc;
	if (strlen(t.tag) >= tag_cap || strlen(t.expr) >= expr_cap)
		return -GW_ETOOBIG;
	strcpy(tag, t.tag);
	strcpy(expr, t.expr);
	return 0;
}

bool gw_regex_bounded(const char *expr)
{
	size_t len = strlen(expr);
	unsigned long product = 1;
	if (len > 512)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (expr[i] == '\\') {
			if (expr[i + 1] >= '1' && expr[i + 1] <= '9')
				return false;   /* a back reference */
			if (expr[i + 1])
				i++;
			continue;
		}
		if (expr[i] != '{')
			continue;
		/* {m}, {m,} or {m,n}: the largest number counts */
		unsigned long bound = 0, cur = 0;
		size_t j = i + 1;
		for (; j < len && expr[j] != '}'; j++) {
			if (expr[j] >= '0' && expr[j] <= '9') {
				cur = cur * 10 + (unsigned long)(expr[j] - '0');
				if (cur > 1000)
					return false;
			} else {
				cur = 0;
			}
			if (cur > bound)
				bound = cur;
		}
		if (bound > 1)
			product *= bound;
		if (product > 1000)
			return false;
		i = j;
	}
	return true;
}

bool gw_regex_search(const char *expr, const char *s)
{
	regex_t re;
	if (!gw_regex_bounded(expr) || regcomp(&re, expr, REG_EXTENDED | REG_NOSUB))
		return false;
	bool ok = regexec(&re, s, 0, NULL, 0) == 0;
	regfree(&re);
	return ok;
}

int gw_serf_make_node_filter(const char *const *names, size_t n, uint8_t *buf, size_t cap)
{
	struct mp_w w;
	if (cap < 1 || n > UINT32_MAX)
		return -GW_ETOOBIG;
	buf[0] = GW_FILTER_NODE;
	mpw_init(&w, buf + 1, cap - 1);
	mpw_array(&w, (uint32_t)n);
	for (size_t i = 0; i < n; i++)
		mpw_cstr(&w, names[i]);
	int rc = mpw_done(&w);
	return rc < 0 ? rc : rc + 1;
}

int gw_serf_make_tag_filter(const char *tag, const char *expr, uint8_t *buf, size_t cap)
{
	struct mp_w w;
	if (cap < 1)
		return -GW_ETOOBIG;
	buf[0] = GW_FILTER_TAG;
	mpw_init(&w, buf + 1, cap - 1);
	mpw_map(&w, 2);
	mpw_cstr(&w, "Expr");
	mpw_cstr(&w, expr);
	mpw_cstr(&w, "Tag");
	mpw_cstr(&w, tag);
	int rc = mpw_done(&w);
	return rc < 0 ? rc : rc + 1;
}

/* ---- Member (a _serf_conflict answer) ---- */

struct member_wire {
	struct gw_ip addr;
	uint8_t dcur, dmax, dmin;
	char name[GW_NAME_MAX];
	uint16_t port;
	uint8_t pcur, pmax, pmin;
	int status;
	const uint8_t *meta;
	size_t meta_len;
};

static int dec_member_tags(struct mp_r *r, void *obj)
{
	(void)obj;
	return mpr_skip(r);
}

static void enc_member_tags(struct mp_w *w, const void *obj)
{
	const struct member_wire *m = obj;
	struct gw_tag tags[32];
	int n = m->meta_len ? gw_decode_tags(m->meta, m->meta_len, tags, 32) : 0;
	if (n < 0)
		n = 0;   /* tags we cannot read: an empty map, as for no tags */
	mpw_map(w, (uint32_t)n);
	for (int i = 0; i < n; i++) {
		mpw_cstr(w, tags[i].key);
		mpw_cstr(w, tags[i].value);
	}
}

static const struct mp_field member_f[] = {
	F("Addr", MK_IP, 0, struct member_wire, addr),
	F("DelegateCur", MK_U8, 0, struct member_wire, dcur),
	F("DelegateMax", MK_U8, 0, struct member_wire, dmax),
	F("DelegateMin", MK_U8, 0, struct member_wire, dmin),
	F("Name", MK_NAME, 0, struct member_wire, name),
	F("Port", MK_U16, 0, struct member_wire, port),
	F("ProtocolCur", MK_U8, 0, struct member_wire, pcur),
	F("ProtocolMax", MK_U8, 0, struct member_wire, pmax),
	F("ProtocolMin", MK_U8, 0, struct member_wire, pmin),
	F("Status", MK_INT, 0, struct member_wire, status),
	FC("Tags", dec_member_tags, enc_member_tags),
};

int gw_encode_serf_conflict_response(const struct gw_serf_member *m, uint8_t *buf, size_t cap)
{
	if (cap < 2)
		return -GW_ETOOBIG;
	buf[0] = GW_SERF_CONFLICT_RESPONSE;
	if (!m) {
		buf[1] = 0xc0;
		return 2;
	}
	struct member_wire mw;
	memset(&mw, 0, sizeof(mw));
	if (!m->name || strlen(m->name) >= sizeof(mw.name))
		return -EINVAL;
	strcpy(mw.name, m->name);
	mw.addr = m->addr;
	mw.port = m->port;
	mw.pmin = m->vsn[0];
	mw.pmax = m->vsn[1];
	mw.pcur = m->vsn[2];
	mw.dmin = m->vsn[3];
	mw.dmax = m->vsn[4];
	mw.dcur = m->vsn[5];
	mw.status = m->status;
	mw.meta = m->meta;
	mw.meta_len = m->meta_len;
	struct mp_w w;
	mpw_init(&w, buf + 1, cap - 1);
	int rc = mp_encode_struct(&w, member_f, N(member_f), &mw);
	return rc < 0 ? rc : rc + 1;
}

int gw_decode_serf_conflict_response(const uint8_t *body, size_t len, bool *present,
                                     char name[GW_NAME_MAX], struct gw_ip *addr, uint16_t *port,
                                     int *status)
{
	struct member_wire mw;
	*present = false;
	if (len >= 1 && body[0] == 0xc0)
		return len == 1 ? 0 : -GW_EBADMSG;
	int rc = mp_decode_body(body, len, member_f, N(member_f), &mw, sizeof(mw));
	if (rc)
		return rc;
	*present = true;
	strcpy(name, mw.name);
	*addr = mw.addr;
	*port = mw.port;
	*status = mw.status;
	return 0;
}

/* ---- relayHeader: DestAddr is a Go net.UDPAddr {IP, Port, Zone} ---- */

struct udp_addr {
	struct gw_ip ip;
	int port;
	char zone[64];
};

static const struct mp_field udp_addr_f[] = {
	F("IP", MK_IP, 0, struct udp_addr, ip),
	F("Port", MK_INT, 0, struct udp_addr, port),
	F("Zone", MK_STR, 0, struct udp_addr, zone),
};

static int dec_dest_addr(struct mp_r *r, void *obj)
{
	struct gw_serf_relay *h = obj;
	struct udp_addr u;
	memset(&u, 0, sizeof(u));
	int rc = mp_decode_struct(r, udp_addr_f, N(udp_addr_f), &u);
	if (rc)
		return rc;
	if (u.port < 0 || u.port > 65535)
		return -GW_EBADMSG;
	h->ip = u.ip;
	h->port = (uint16_t)u.port;
	return 0;
}

static void enc_dest_addr(struct mp_w *w, const void *obj)
{
	const struct gw_serf_relay *h = obj;
	struct udp_addr u = { .ip = h->ip, .port = h->port, .zone = "" };
	int rc = mp_encode_struct(w, udp_addr_f, N(udp_addr_f), &u);
	if (rc < 0)
		w->err = rc;
}

static const struct mp_field relay_f[] = {
	FC("DestAddr", dec_dest_addr, enc_dest_addr),
	F("DestName", MK_NAME, 0, struct gw_serf_relay, dest_name),
};

int gw_encode_serf_relay(const struct gw_serf_relay *h, const uint8_t *inner, size_t inner_len,
                         uint8_t *buf, size_t cap)
{
	int n = mp_encode_typed(GW_SERF_RELAY, relay_f, N(relay_f), h, buf, cap);
	if (n < 0)
		return n;
	if (inner_len > cap - (size_t)n)
		return -GW_ETOOBIG;
	memcpy(buf + n, inner, inner_len);
	return n + (int)inner_len;
}

int gw_decode_serf_relay(const uint8_t *body, size_t len, struct gw_serf_relay *h,
                         size_t *inner_off)
{
	struct mp_r r;
	memset(h, 0, sizeof(*h));
	mpr_init(&r, body, len);
	int rc = mp_decode_struct(&r, relay_f, N(relay_f), h);
	if (rc)
		return rc;
	if (r.off >= len)
		return -GW_ETRUNC;   /* a relay with nothing to relay */
	*inner_off = r.off;
	return 0;
}

/* ---- keyring queries ---- */

struct key_request {
	uint8_t key[64];
	size_t klen;
};

static const struct mp_field key_request_f[] = {
	FA("Key", MK_BYTES, 0, struct key_request, key, klen),
};

int gw_encode_serf_key_request(const uint8_t *key, size_t klen, uint8_t *buf, size_t cap)
{
	struct key_request k = { .klen = klen };
	if (klen > sizeof(k.key))
		return -EINVAL;
	memcpy(k.key, key, klen);
	return mp_encode_typed(GW_SERF_KEY_REQUEST, key_request_f, N(key_request_f), &k, buf, cap);
}

int gw_decode_serf_key_request(const uint8_t *body, size_t len, uint8_t key[32], size_t *klen)
{
	struct key_request k;
	int rc = mp_decode_body(body, len, key_request_f, N(key_request_f), &k, sizeof(k));
	if (rc)
		return rc;
	if (k.klen != 16 && k.klen != 24 && k.klen != 32)
		return -GW_EBADMSG;
	memcpy(key, k.key, k.klen);
	*klen = k.klen;
	return 0;
}

static int dec_keys(struct mp_r *r, void *obj)
{
	struct gw_serf_key_response *m = obj;
	uint32_t n;
	int rc = mpr_array(r, &n);
	if (rc)
		return rc;
	if (n > GW_MAX_KEYS)
		return -GW_ETOOBIG;
	m->nkeys = 0;
	for (uint32_t i = 0; i < n; i++) {
		if ((rc = mpr_cstr(r, m->keys[i], sizeof(m->keys[i]), -GW_ETOOBIG)))
			return rc;
		m->nkeys++;
	}
	return 0;
}

static void enc_keys(struct mp_w *w, const void *obj)
{
	const struct gw_serf_key_response *m = obj;
	if (m->nkeys > GW_MAX_KEYS) {
		w->err = -EINVAL;
		return;
	}
	if (m->nkeys == 0) {
		mpw_nil(w);   /* Go's nil slice */
		return;
	}
	mpw_array(w, (uint32_t)m->nkeys);
	for (size_t i = 0; i < m->nkeys; i++)
		mpw_cstr(w, m->keys[i]);
}

static const struct mp_field key_response_f[] = {
	FC("Keys", dec_keys, enc_keys),
	F("Message", MK_STR, 0, struct gw_serf_key_response, message),
	F("PrimaryKey", MK_STR, 0, struct gw_serf_key_response, primary),
	F("Result", MK_BOOL, 0, struct gw_serf_key_response, result),
};

int gw_encode_serf_key_response(const struct gw_serf_key_response *m, uint8_t *buf, size_t cap)
{
	return mp_encode_typed(GW_SERF_KEY_RESPONSE, key_response_f, N(key_response_f), m, buf,
	                       cap);
}

int gw_decode_serf_key_response(const uint8_t *body, size_t len, struct gw_serf_key_response *m)
{
	return mp_decode_body(body, len, key_response_f, N(key_response_f), m, sizeof(*m));
}

/* ---- field tables, sorted by key ---- */

static const struct mp_field join_f[] = {
	F("LTime", MK_U64, 0, struct gw_serf_join, ltime),
	F("Node", MK_NAME, MF_REQUIRED, struct gw_serf_join, node),
};

static const struct mp_field leave_f[] = {
	F("LTime", MK_U64, 0, struct gw_serf_leave, ltime),
	F("Node", MK_NAME, MF_REQUIRED, struct gw_serf_leave, node),
	F("Prune", MK_BOOL, 0, struct gw_serf_leave, prune),
};

static const struct mp_field push_pull_f[] = {
	F("EventLTime", MK_U64, 0, struct gw_serf_push_pull, event_ltime),
	FC("Events", dec_events, enc_events),
	F("LTime", MK_U64, 0, struct gw_serf_push_pull, ltime),
	FC("LeftMembers", dec_left, enc_left),
	F("QueryLTime", MK_U64, 0, struct gw_serf_push_pull, query_ltime),
	FC("StatusLTimes", dec_status, enc_status),
};

static const struct mp_field user_event_f[] = {
	F("CC", MK_BOOL, 0, struct gw_serf_user_event, cc),
	F("LTime", MK_U64, 0, struct gw_serf_user_event, ltime),
	F("Name", MK_STR, 0, struct gw_serf_user_event, name),
	FA("Payload", MK_BYTES, 0, struct gw_serf_user_event, payload, payload_len),
};

static const struct mp_field query_f[] = {
	F("Addr", MK_IP, 0, struct gw_serf_query, addr),
	FC("Filters", dec_filters, enc_filters),
	F("Flags", MK_U32, 0, struct gw_serf_query, flags),
	F("ID", MK_U32, 0, struct gw_serf_query, id),
	F("LTime", MK_U64, 0, struct gw_serf_query, ltime),
	F("Name", MK_STR, 0, struct gw_serf_query, name),
	FA("Payload", MK_BYTES, 0, struct gw_serf_query, payload, payload_len),
	F("Port", MK_U16, 0, struct gw_serf_query, port),
	F("RelayFactor", MK_U8, 0, struct gw_serf_query, relay_factor),
	F("SourceNode", MK_NAME, 0, struct gw_serf_query, source_node),
	F("Timeout", MK_I64, 0, struct gw_serf_query, timeout_ns),
};

static const struct mp_field query_response_f[] = {
	F("Flags", MK_U32, 0, struct gw_serf_query_response, flags),
	F("From", MK_NAME, 0, struct gw_serf_query_response, from),
	F("ID", MK_U32, 0, struct gw_serf_query_response, id),
	F("LTime", MK_U64, 0, struct gw_serf_query_response, ltime),
	FA("Payload", MK_BYTES, 0, struct gw_serf_query_response, payload, payload_len),
};

/* ---- encode / decode ---- */

int gw_encode_serf_join(const struct gw_serf_join *m, uint8_t *buf, size_t cap)
{
	return mp_encode_typed(GW_SERF_JOIN, join_f, N(join_f), m, buf, cap);
}

int gw_encode_serf_leave(const struct gw_serf_leave *m, uint8_t *buf, size_t cap)
{
	return mp_encode_typed(GW_SERF_LEAVE, leave_f, N(leave_f), m, buf, cap);
}

int gw_encode_serf_push_pull(const struct gw_serf_push_pull *m, uint8_t *buf, size_t cap)
{
	return mp_encode_typed(GW_SERF_PUSH_PULL, push_pull_f, N(push_pull_f), m, buf, cap);
}

int gw_encode_serf_user_event(const struct gw_serf_user_event *m, uint8_t *buf, size_t cap)
{
	return mp_encode_typed(GW_SERF_USER_EVENT, user_event_f, N(user_event_f), m, buf, cap);
}

int gw_encode_serf_query_response(const struct gw_serf_query_response *m, uint8_t *buf,
                                  size_t cap)
{
	return mp_encode_typed(GW_SERF_QUERY_RESPONSE, query_response_f, N(query_response_f), m, buf,
	                   cap);
}

int gw_encode_serf_query(const struct gw_serf_query *m, uint8_t *buf, size_t cap)
{
	return mp_encode_typed(GW_SERF_QUERY, query_f, N(query_f), m, buf, cap);
}

int gw_decode_serf_join(const uint8_t *body, size_t len, struct gw_serf_join *m)
{
	return mp_decode_body(body, len, join_f, N(join_f), m, sizeof(*m));
}

int gw_decode_serf_leave(const uint8_t *body, size_t len, struct gw_serf_leave *m)
{
	return mp_decode_body(body, len, leave_f, N(leave_f), m, sizeof(*m));
}

void gw_serf_push_pull_free(struct gw_serf_push_pull *m)
{
	if (!m)
		return;
	free(m->status);
	free(m->left);
	memset(m, 0, sizeof(*m));
}

int gw_decode_serf_push_pull(const uint8_t *body, size_t len, struct gw_serf_push_pull *m)
{
	struct mp_r r;
	if (!m || (!body && len))
		return -EINVAL;
	memset(m, 0, sizeof(*m));
	mpr_init(&r, body, len);
	int rc = mp_decode_struct(&r, push_pull_f, N(push_pull_f), m);
	if (rc)
		gw_serf_push_pull_free(m);
	return rc;
}

int gw_decode_serf_user_event(const uint8_t *body, size_t len, struct gw_serf_user_event *m)
{
	return mp_decode_body(body, len, user_event_f, N(user_event_f), m, sizeof(*m));
}

int gw_decode_serf_query(const uint8_t *body, size_t len, struct gw_serf_query *m)
{
	return mp_decode_body(body, len, query_f, N(query_f), m, sizeof(*m));
}

int gw_decode_serf_query_response(const uint8_t *body, size_t len,
                                  struct gw_serf_query_response *m)
{
	return mp_decode_body(body, len, query_response_f, N(query_response_f), m, sizeof(*m));
}

/* ---- tags ---- */

#define TAG_MAGIC 0xff
#define KEY_CAP sizeof(((struct gw_tag *)0)->key)
#define VALUE_CAP sizeof(((struct gw_tag *)0)->value)

int gw_encode_tags(const struct gw_tag *tags, size_t n, uint8_t *meta, size_t cap)
{
	uint16_t idx[GW_META_MAX / 2];
	struct mp_w w;
	if (!meta || (n && !tags))
		return -EINVAL;
	/* each tag takes two bytes at least, after 0xff and the map header */
	if (n > GW_META_MAX / 2)
		return -GW_ETOOBIG;
	for (size_t i = 0; i < n; i++) {
		if (strnlen(tags[i].key, KEY_CAP) == KEY_CAP ||
		    strnlen(tags[i].value, VALUE_CAP) == VALUE_CAP)
			return -EINVAL;
		/* insertion sort by key, bytewise */
		size_t j = i;
		while (j && strcmp(tags[idx[j - 1]].key, tags[i].key) > 0) {
			idx[j] = idx[j - 1];
			j--;
		}
		if (j && strcmp(tags[idx[j - 1]].key, tags[i].key) == 0)
			return -EINVAL; /* a duplicate key */
		idx[j] = (uint16_t)i;
	}
	mpw_init(&w, meta, cap < GW_META_MAX ? cap : GW_META_MAX);
	mpw_raw(&w, (const uint8_t[]){ TAG_MAGIC }, 1);
	mpw_map(&w, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		mpw_cstr(&w, tags[idx[i]].key);
		mpw_cstr(&w, tags[idx[i]].value);
	}
	return mpw_done(&w);
}

int gw_decode_tags(const uint8_t *meta, size_t len, struct gw_tag *tags, size_t cap)
{
	struct mp_r r;
	uint32_t n;
	size_t count = 0;
	int rc;

	if ((!meta && len) || (!tags && cap))
		return -EINVAL;
	if (len > GW_META_MAX)
		return -GW_ETOOBIG;
	if (len == 0 || meta[0] != TAG_MAGIC) {
		/* Serf protocol 2: the whole Meta is the "role" tag */
		if (cap < 1 || len >= VALUE_CAP)
			return -GW_ETOOBIG;
		if (len && memchr(meta, 0, len))
			return -GW_EBADMSG;
		memset(&tags[0], 0, sizeof(tags[0]));
		strcpy(tags[0].key, "role");
		if (len)
			memcpy(tags[0].value, meta, len);
		return 1;
	}
	mpr_init(&r, meta + 1, len - 1);
	if ((rc = mpr_map(&r, &n)))
		return rc;
	for (uint32_t i = 0; i < n; i++) {
		char key[KEY_CAP], value[VALUE_CAP];
		if ((rc = mpr_cstr(&r, key, sizeof(key), -GW_ETOOBIG)) ||
		    (rc = mpr_cstr(&r, value, sizeof(value), -GW_ETOOBIG)))
			return rc;
		size_t k = 0;
		while (k < count && strcmp(tags[k].key, key) != 0)
			k++;
		if (k == count) {
			if (count == cap)
				return -GW_ETOOBIG;
			count++;
		}
		/* a repeated key keeps the last value, as a Go map would */
		memcpy(tags[k].key, key, strlen(key) + 1);
		memcpy(tags[k].value, value, strlen(value) + 1);
	}
	return count > INT_MAX ? -GW_ETOOBIG : (int)count;
}

const char *gw_tag_find(const struct gw_tag *tags, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(tags[i].key, key) == 0)
			return tags[i].value;
	return NULL;
}
