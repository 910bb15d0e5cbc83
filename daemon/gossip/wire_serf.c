/* Serf payloads (spec §6.2, §6.3, §6.6): intents, events, queries and the
 * push/pull user state, plus the tags carried in memberlist Meta. */
#include <errno.h>
#include <limits.h>
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
	m->n_filters = 0;
	for (uint32_t i = 0; i < n; i++) {
		if ((rc = mpr_skip(r)))
			return rc;
		m->n_filters++;
	}
	return 0;
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
	FC("Filters", dec_filters, NULL),
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
