/*
 * catalog_codec — the catalog's bytes: commands (catalog.h) and the records
 * that snapshots and deep copies are made of.
 *
 * LEB128 varints, minimal only; strings as a varint length and bytes (no
 * NUL); maps as a count and sorted, unique (key, value) pairs; tags as a count
 * and strings; bools and statuses as one byte with only their legal values.
 * With these rules every value has exactly one encoding (canonical).
 *
 * Command: CATALOG_CMD_TAG, CMD_VERSION, op, then
 *   REGISTER:   node, u8 has_service, [service], varint nchecks, checks
 *   DEREGISTER: str node, str service_id, str check_id
 * node:    id, node, address, datacenter, map tagged, map meta
 * service: id, service, address, tags, map meta, port, weight passing,
 *          weight warning, u8 enable_tag_override
 * check:   check_id, name, notes, output, service_id, type, u8 status
 *          (+ node, service_name, service tags in snapshots and copies)
 *
 * Decoding runs twice over the bytes: once to validate and measure, once to
 * fill a single allocation of exactly that size.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog_internal.h"

/* ---- writing ---- */

void wr_u8(struct wr *w, uint8_t v)
{
	if (w->p)
		w->p[w->n] = v;
	w->n++;
}

void wr_varint(struct wr *w, uint64_t v)
{
	while (v >= 0x80) {
		wr_u8(w, (uint8_t)(v | 0x80));
		v >>= 7;
	}
	wr_u8(w, (uint8_t)v);
}

void wr_u64(struct wr *w, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		wr_u8(w, (uint8_t)(v >> (8 * i)));
}

static void wr_bytes(struct wr *w, const void *b, size_t n)
{
	if (w->p && n)
		memcpy(w->p + w->n, b, n);
	w->n += n;
}

void wr_str(struct wr *w, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	wr_varint(w, n);
	wr_bytes(w, s, n);
}

static void wr_map(struct wr *w, const struct catalog_pair *m, size_t n)
{
	wr_varint(w, n);
	for (size_t i = 0; i < n; i++) {
		wr_str(w, m[i].key);
		wr_str(w, m[i].value);
	}
}

static void wr_list(struct wr *w, const char *const *l, size_t n)
{
	wr_varint(w, n);
	for (size_t i = 0; i < n; i++)
		wr_str(w, l[i]);
}

void wr_node(struct wr *w, const struct catalog_node *n)
{
	wr_str(w, n->id);
	wr_str(w, n->node);
	wr_str(w, n->address);
	wr_str(w, n->datacenter);
	wr_map(w, n->tagged, n->ntagged);
	wr_map(w, n->meta, n->nmeta);
}

void wr_service(struct wr *w, const struct catalog_service *s)
{
	wr_str(w, s->id);
	wr_str(w, s->service);
	wr_str(w, s->address);
	wr_list(w, s->tags, s->ntags);
	wr_map(w, s->meta, s->nmeta);
	wr_varint(w, s->port);
	wr_varint(w, s->weight_passing);
	wr_varint(w, s->weight_warning);
	wr_u8(w, s->enable_tag_override ? 1 : 0);
}

void wr_check(struct wr *w, const struct catalog_check *k, bool full)
{
	wr_str(w, k->check_id);
	wr_str(w, k->name);
	wr_str(w, k->notes);
	wr_str(w, k->output);
	wr_str(w, k->service_id);
	wr_str(w, k->type);
	wr_u8(w, (uint8_t)k->status);
	if (full) {
		wr_str(w, k->node);
		wr_str(w, k->service_name);
		wr_list(w, k->service_tags, k->nservice_tags);
	}
}

/* ---- reading ---- */

uint8_t rd_u8(struct rd *r)
{
	if (r->bad || r->left == 0) {
		r->bad = true;
		return 0;
	}
	r->left--;
	return *r->p++;
}

uint64_t rd_varint(struct rd *r)
{
	uint64_t v = 0;
	for (int i = 0; i < 10; i++) {
		uint8_t b = rd_u8(r);
		if (r->bad)
			return 0;
		if (i == 9 && b > 1)
			break;   /* more than 64 bits */
		v |= (uint64_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80)) {
			if (b == 0 && i > 0)
				break;   /* not minimal */
			return v;
		}
	}
	r->bad = true;
	return 0;
}

uint64_t rd_u64(struct rd *r)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)rd_u8(r) << (8 * i);
	return r->bad ? 0 : v;
}

void *ar_alloc(struct arena *a, size_t n)
{
	size_t off = (a->used + 7) & ~(size_t)7;
	a->used = off + n;
	if (!a->base)
		return NULL;
	return a->base + off;   /* the first pass measured exactly this */
}

/* Raw bytes of a string (no copy): NULL and r->bad when malformed. */
static const uint8_t *rd_raw(struct rd *r, size_t max, size_t *n)
{
	uint64_t len = rd_varint(r);
	if (r->bad || len > max || len > r->left || memchr(r->p, 0, (size_t)len)) {
		r->bad = true;
		return NULL;
	}
	const uint8_t *p = r->p;
	r->p += len;
	r->left -= len;
	*n = (size_t)len;
	return p;
}

const char *rd_str(struct rd *r, struct arena *a, size_t max)
{
	size_t n = 0;
	const uint8_t *p = rd_raw(r, max, &n);
	char *s = ar_alloc(a, p ? n + 1 : 1);
	if (!s)
		return "";
	if (p && n)
		memcpy(s, p, n);
	s[p ? n : 0] = 0;
	return s;
}

static int raw_cmp(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
	int c = memcmp(a, b, an < bn ? an : bn);
	return c ? c : (an > bn) - (an < bn);
}

static const struct catalog_pair *rd_map(struct rd *r, struct arena *a, size_t *count)
{
	uint64_t n = rd_varint(r);
	if (r->bad || n > CATALOG_MAP_MAX || n > r->left / 2) {
		r->bad = true;
		*count = 0;
		return NULL;
	}
	struct catalog_pair *m = ar_alloc(a, (size_t)n * sizeof(*m));
	const uint8_t *prev = NULL;
	size_t prevn = 0;
	for (uint64_t i = 0; i < n && !r->bad; i++) {
		struct rd peek = *r;
		size_t kn = 0;
		const uint8_t *k = rd_raw(&peek, CATALOG_STR_MAX, &kn);
		if (!k || kn == 0 || (prev && raw_cmp(prev, prevn, k, kn) >= 0)) {
			r->bad = true;   /* keys non-empty, sorted, unique */
			break;
		}
		prev = k;
		prevn = kn;
		const char *key = rd_str(r, a, CATALOG_STR_MAX);
		const char *val = rd_str(r, a, CATALOG_STR_MAX);
		if (m) {
			m[i].key = key;
			m[i].value = val;
		}
	}
	*count = r->bad ? 0 : (size_t)n;
	return m;
}

static const char *const *rd_list(struct rd *r, struct arena *a, size_t *count)
{
	uint64_t n = rd_varint(r);
	if (r->bad || n > CATALOG_TAGS_MAX || n > r->left) {
		r->bad = true;
		*count = 0;
		return NULL;
	}
	const char **l = ar_alloc(a, (size_t)n * sizeof(*l));
	for (uint64_t i = 0; i < n && !r->bad; i++) {
		const char *s = rd_str(r, a, CATALOG_STR_MAX);
		if (l)
			l[i] = s;
	}
	*count = r->bad ? 0 : (size_t)n;
	return l;
}

void rd_node(struct rd *r, struct arena *a, struct catalog_node *n)
{
	memset(n, 0, sizeof(*n));
	n->id = rd_str(r, a, CATALOG_STR_MAX);
	n->node = rd_str(r, a, CATALOG_STR_MAX);
	n->address = rd_str(r, a, CATALOG_STR_MAX);
	n->datacenter = rd_str(r, a, CATALOG_STR_MAX);
	n->tagged = rd_map(r, a, &n->ntagged);
	n->meta = rd_map(r, a, &n->nmeta);
	if (a->base && !r->bad && !node_ok(n))
		r->bad = true;
}

void rd_service(struct rd *r, struct arena *a, struct catalog_service *s)
{
	memset(s, 0, sizeof(*s));
	s->id = rd_str(r, a, CATALOG_STR_MAX);
	s->service = rd_str(r, a, CATALOG_STR_MAX);
	s->address = rd_str(r, a, CATALOG_STR_MAX);
	s->tags = rd_list(r, a, &s->ntags);
	s->meta = rd_map(r, a, &s->nmeta);
	uint64_t port = rd_varint(r), wp = rd_varint(r), ww = rd_varint(r);
	uint8_t eto = rd_u8(r);
	if (port > 65535 || wp > 65535 || ww > 65535 || eto > 1)
		r->bad = true;
	s->port = (uint32_t)port;
	s->weight_passing = (uint32_t)wp;
	s->weight_warning = (uint32_t)ww;
	s->enable_tag_override = eto;
	if (a->base && !r->bad && !service_ok(s))
		r->bad = true;
}

void rd_check(struct rd *r, struct arena *a, struct catalog_check *k, bool full)
{
	memset(k, 0, sizeof(*k));
	k->check_id = rd_str(r, a, CATALOG_STR_MAX);
	k->name = rd_str(r, a, CATALOG_STR_MAX);
	k->notes = rd_str(r, a, CATALOG_TEXT_MAX);
	k->output = rd_str(r, a, CATALOG_TEXT_MAX);
	k->service_id = rd_str(r, a, CATALOG_STR_MAX);
	k->type = rd_str(r, a, CATALOG_STR_MAX);
	uint8_t st = rd_u8(r);
	if (st < CATALOG_PASSING || st > CATALOG_CRITICAL)
		r->bad = true;
	k->status = (enum catalog_status)st;
	if (full) {
		k->node = rd_str(r, a, CATALOG_STR_MAX);
		k->service_name = rd_str(r, a, CATALOG_STR_MAX);
		k->service_tags = rd_list(r, a, &k->nservice_tags);
	} else {
		k->node = k->service_name = "";
	}
	if (a->base && !r->bad && !check_ok(k))
		r->bad = true;
}

/* ---- rules ---- */

static bool str_ok(const char *s, size_t max, bool empty_ok)
{
	if (!s)
		return empty_ok;
	size_t n = strnlen(s, max + 1);
	return n <= max && (empty_ok || n > 0);
}

static bool map_ok(const struct catalog_pair *m, size_t n)
{
	if (n > CATALOG_MAP_MAX || (n && !m))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!str_ok(m[i].key, CATALOG_STR_MAX, false) ||
		    !str_ok(m[i].value, CATALOG_STR_MAX, true))
			return false;
		if (i && strcmp(m[i - 1].key, m[i].key) >= 0)
			return false;
	}
	return true;
}

static bool list_ok(const char *const *l, size_t n)
{
	if (n > CATALOG_TAGS_MAX || (n && !l))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!str_ok(l[i], CATALOG_STR_MAX, true) || !l[i])
			return false;
	return true;
}

bool node_ok(const struct catalog_node *n)
{
	return str_ok(n->id, CATALOG_STR_MAX, true) && str_ok(n->node, CATALOG_STR_MAX, false) &&
	       str_ok(n->address, CATALOG_STR_MAX, false) &&
	       str_ok(n->datacenter, CATALOG_STR_MAX, true) && map_ok(n->tagged, n->ntagged) &&
	       map_ok(n->meta, n->nmeta);
}

bool service_ok(const struct catalog_service *s)
{
	return str_ok(s->id, CATALOG_STR_MAX, false) && str_ok(s->service, CATALOG_STR_MAX, false) &&
	       str_ok(s->address, CATALOG_STR_MAX, true) && list_ok(s->tags, s->ntags) &&
	       map_ok(s->meta, s->nmeta) && s->port <= 65535 && s->weight_passing >= 1 &&
	       s->weight_passing <= 65535 && s->weight_warning <= 65535;
}

bool check_ok(const struct catalog_check *k)
{
	return str_ok(k->check_id, CATALOG_STR_MAX, false) && str_ok(k->name, CATALOG_STR_MAX, true) &&
	       str_ok(k->notes, CATALOG_TEXT_MAX, true) && str_ok(k->output, CATALOG_TEXT_MAX, true) &&
	       str_ok(k->service_id, CATALOG_STR_MAX, true) && str_ok(k->type, CATALOG_STR_MAX, true) &&
	       str_ok(k->node, CATALOG_STR_MAX, true) &&
	       str_ok(k->service_name, CATALOG_STR_MAX, true) &&
	       list_ok(k->service_tags, k->nservice_tags) && k->status >= CATALOG_PASSING &&
	       k->status <= CATALOG_CRITICAL;
}

/* ---- commands ---- */

bool catalog_cmd_is(const uint8_t *buf, size_t len)
{
	return buf && len > 0 && buf[0] == CATALOG_CMD_TAG;
}

static bool cmd_ok(const struct catalog_cmd *c)
{
	if (c->op == CATALOG_OP_DEREGISTER) {
		bool svc = c->dereg_service_id && c->dereg_service_id[0];
		bool chk = c->dereg_check_id && c->dereg_check_id[0];
		return str_ok(c->node.node, CATALOG_STR_MAX, false) && !(svc && chk) &&
		       str_ok(c->dereg_service_id, CATALOG_STR_MAX, true) &&
		       str_ok(c->dereg_check_id, CATALOG_STR_MAX, true);
	}
	if (c->op != CATALOG_OP_REGISTER || !node_ok(&c->node) ||
	    (c->service && !service_ok(c->service)) || c->nchecks > CATALOG_CHECKS_MAX ||
	    (c->nchecks && !c->checks))
		return false;
	for (size_t i = 0; i < c->nchecks; i++) {
		struct catalog_check k = c->checks[i];
		k.node = k.service_name = "";
		k.service_tags = NULL;
		k.nservice_tags = 0;
		if (!check_ok(&k))
			return false;
	}
	return true;
}

static void wr_cmd(struct wr *w, const struct catalog_cmd *c)
{
	wr_u8(w, CATALOG_CMD_TAG);
	wr_u8(w, CMD_VERSION);
	wr_u8(w, (uint8_t)c->op);
	if (c->op == CATALOG_OP_DEREGISTER) {
		wr_str(w, c->node.node);
		wr_str(w, c->dereg_service_id);
		wr_str(w, c->dereg_check_id);
		return;
	}
	wr_node(w, &c->node);
	wr_u8(w, c->service ? 1 : 0);
	if (c->service)
		wr_service(w, c->service);
	wr_varint(w, c->nchecks);
	for (size_t i = 0; i < c->nchecks; i++)
		wr_check(w, &c->checks[i], false);
}

size_t catalog_cmd_encode(const struct catalog_cmd *cmd, uint8_t *buf, size_t cap)
{
	if (!cmd || !cmd_ok(cmd))
		return 0;
	struct wr w = { 0 };
	wr_cmd(&w, cmd);
	if (w.n > CATALOG_CMD_MAX)
		return 0;
	if (w.n > cap || !buf)
		return w.n;
	struct wr out = { .p = buf };
	wr_cmd(&out, cmd);
	return out.n;
}

static void rd_cmd(struct rd *r, struct arena *a, struct catalog_cmd *c)
{
	memset(c, 0, sizeof(*c));
	if (rd_u8(r) != CATALOG_CMD_TAG || rd_u8(r) != CMD_VERSION) {
		r->bad = true;
		return;
	}
	uint8_t op = rd_u8(r);
	c->op = (enum catalog_op)op;
	if (op == CATALOG_OP_DEREGISTER) {
		c->node.node = rd_str(r, a, CATALOG_STR_MAX);
		c->dereg_service_id = rd_str(r, a, CATALOG_STR_MAX);
		c->dereg_check_id = rd_str(r, a, CATALOG_STR_MAX);
		c->node.id = c->node.address = c->node.datacenter = "";
		return;
	}
	if (op != CATALOG_OP_REGISTER) {
		r->bad = true;
		return;
	}
	rd_node(r, a, &c->node);
	uint8_t has = rd_u8(r);
	if (has > 1)
		r->bad = true;
	if (has == 1) {
		struct catalog_service *s = ar_alloc(a, sizeof(*s));
		struct catalog_service tmp;
		rd_service(r, a, s ? s : &tmp);
		c->service = s;
	}
	uint64_t n = rd_varint(r);
	if (n > CATALOG_CHECKS_MAX || n > r->left / 7) {   /* a check takes 7 bytes at least */
		r->bad = true;
		return;
	}
	struct catalog_check *k = ar_alloc(a, (size_t)n * sizeof(*k));
	for (uint64_t i = 0; i < n && !r->bad; i++) {
		struct catalog_check tmp;
		rd_check(r, a, k ? &k[i] : &tmp, false);
	}
	c->checks = k;
	c->nchecks = (size_t)n;
}

int catalog_cmd_decode(const uint8_t *buf, size_t len, struct catalog_decoded *out)
{
	memset(out, 0, sizeof(*out));
	if (!buf || len > CATALOG_CMD_MAX)
		return -EINVAL;
	struct arena a = { 0 };
	struct rd r = { buf, len, false };
	struct catalog_cmd c;
	rd_cmd(&r, &a, &c);
	if (r.bad || r.left != 0)
		return -EINVAL;
	a.base = malloc(a.used ? a.used : 1);
	if (!a.base)
		return -ENOMEM;
	a.cap = a.used;
	a.used = 0;
	r = (struct rd){ buf, len, false };
	rd_cmd(&r, &a, &c);
	if (r.bad || r.left != 0 || !cmd_ok(&c)) {
		free(a.base);
		return -EINVAL;
	}
	out->cmd = c;
	out->mem = a.base;
	return 0;
}

void catalog_cmd_free(struct catalog_decoded *d)
{
	if (d) {
		free(d->mem);
		memset(d, 0, sizeof(*d));
	}
}

/* ---- deep copies: encode, then decode into one allocation ---- */

enum rec_kind { REC_NODE, REC_SERVICE, REC_CHECK };

static int dup_rec(enum rec_kind kind, const void *src, void *dst, void **blob)
{
	*blob = NULL;
	struct wr w = { 0 };
	for (int pass = 0; pass < 2; pass++) {
		if (kind == REC_NODE)
			wr_node(&w, src);
		else if (kind == REC_SERVICE)
			wr_service(&w, src);
		else
			wr_check(&w, src, true);
		if (pass == 0) {
			size_t n = w.n;
			w = (struct wr){ .p = malloc(n ? n : 1) };
			if (!w.p)
				return -ENOMEM;
		}
	}
	int rc = 0;
	struct arena a = { 0 };
	for (int pass = 0; pass < 2 && rc == 0; pass++) {
		struct rd r = { w.p, w.n, false };
		if (kind == REC_NODE)
			rd_node(&r, &a, dst);
		else if (kind == REC_SERVICE)
			rd_service(&r, &a, dst);
		else
			rd_check(&r, &a, dst, true);
		if (r.bad || r.left)
			rc = -EINVAL;
		else if (pass == 0 && !(a.base = malloc(a.used ? a.used : 1)))
			rc = -ENOMEM;
		a.cap = a.used;
		a.used = 0;
	}
	free(w.p);
	if (rc)
		free(a.base);
	else
		*blob = a.base;
	return rc;
}

int node_dup(const struct catalog_node *src, struct catalog_node *dst, void **blob)
{
	return dup_rec(REC_NODE, src, dst, blob);
}

int service_dup(const struct catalog_service *src, struct catalog_service *dst, void **blob)
{
	return dup_rec(REC_SERVICE, src, dst, blob);
}

int check_dup(const struct catalog_check *src, struct catalog_check *dst, void **blob)
{
	return dup_rec(REC_CHECK, src, dst, blob);
}

/* ---- equality (Consul's IsSame: everything but the indexes) ---- */

static bool str_eq(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

static bool map_eq(const struct catalog_pair *a, size_t an, const struct catalog_pair *b, size_t bn)
{
	if (an != bn)
		return false;
	for (size_t i = 0; i < an; i++)
		if (!str_eq(a[i].key, b[i].key) || !str_eq(a[i].value, b[i].value))
			return false;
	return true;
}

static bool list_eq(const char *const *a, size_t an, const char *const *b, size_t bn)
{
	if (an != bn)
		return false;
	for (size_t i = 0; i < an; i++)
		if (!str_eq(a[i], b[i]))
			return false;
	return true;
}

bool node_same(const struct catalog_node *a, const struct catalog_node *b)
{
	return str_eq(a->id, b->id) && str_eq(a->node, b->node) && str_eq(a->address, b->address) &&
	       str_eq(a->datacenter, b->datacenter) &&
	       map_eq(a->tagged, a->ntagged, b->tagged, b->ntagged) &&
	       map_eq(a->meta, a->nmeta, b->meta, b->nmeta);
}

bool service_same(const struct catalog_service *a, const struct catalog_service *b)
{
	return str_eq(a->id, b->id) && str_eq(a->service, b->service) &&
	       str_eq(a->address, b->address) && list_eq(a->tags, a->ntags, b->tags, b->ntags) &&
	       map_eq(a->meta, a->nmeta, b->meta, b->nmeta) && a->port == b->port &&
	       a->weight_passing == b->weight_passing && a->weight_warning == b->weight_warning &&
	       a->enable_tag_override == b->enable_tag_override;
}

bool check_same(const struct catalog_check *a, const struct catalog_check *b)
{
	return str_eq(a->node, b->node) && str_eq(a->check_id, b->check_id) &&
	       str_eq(a->name, b->name) && str_eq(a->notes, b->notes) &&
	       str_eq(a->output, b->output) && str_eq(a->service_id, b->service_id) &&
	       str_eq(a->service_name, b->service_name) && str_eq(a->type, b->type) &&
	       list_eq(a->service_tags, a->nservice_tags, b->service_tags, b->nservice_tags) &&
	       a->status == b->status;
}

bool catalog_node_same(const struct catalog_node *a, const struct catalog_node *b)
{
	return node_same(a, b);
}

bool catalog_service_same(const struct catalog_service *a, const struct catalog_service *b)
{
	return service_same(a, b);
}

bool catalog_check_same(const struct catalog_check *a, const struct catalog_check *b)
{
	return check_same(a, b);
}
