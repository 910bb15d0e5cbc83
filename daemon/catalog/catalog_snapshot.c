/* catalog_snapshot — the catalog as bytes and back (contract in catalog.h).
 * Every restored record is checked the way an apply would have left it
 * (order, indexes, check nodes and services, the service-name table), so a
 * restored catalog is one that applies could have built. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "catalog/catalog_internal.h"

/* ---- snapshots ----
 * "CCCT", version, u64 LE applied, nodes, services, checks and extinction
 * indexes; varint node count, each node (record, create, modify), its
 * services and its checks (count, then record, create, modify each); varint
 * service-name count, each (name, varint index); u32 LE CRC-32 (zlib) of all
 * that precedes it. */

#define SNAP_MAGIC "CCCT"
#define SNAP_VERSION 1
#define SNAP_HEADER (4 + 1 + 5 * 8)

static void wr_snap(struct wr *w, const struct catalog *c)
{
	for (int i = 0; i < 4; i++)
		wr_u8(w, (uint8_t)SNAP_MAGIC[i]);
	wr_u8(w, SNAP_VERSION);
	wr_u64(w, c->applied);
	wr_u64(w, c->nodes_idx);
	wr_u64(w, c->services_idx);
	wr_u64(w, c->checks_idx);
	wr_u64(w, c->extinction);
	wr_varint(w, c->nnodes);
	for (size_t i = 0; i < c->nnodes; i++) {
		const struct node_rec *r = &c->nodes[i];
		wr_node(w, &r->n);
		wr_varint(w, r->n.create_index);
		wr_varint(w, r->n.modify_index);
		wr_varint(w, r->nsvc);
		for (size_t j = 0; j < r->nsvc; j++) {
			wr_service(w, &r->svc[j].s);
			wr_varint(w, r->svc[j].s.create_index);
			wr_varint(w, r->svc[j].s.modify_index);
		}
		wr_varint(w, r->nchk);
		for (size_t j = 0; j < r->nchk; j++) {
			wr_check(w, &r->chk[j].k, true);
			wr_varint(w, r->chk[j].k.create_index);
			wr_varint(w, r->chk[j].k.modify_index);
		}
	}
	wr_varint(w, c->nnames);
	for (size_t i = 0; i < c->nnames; i++) {
		wr_str(w, c->names[i].name);
		wr_varint(w, c->names[i].idx);
	}
}

int catalog_snapshot(const struct catalog *c, uint8_t **data, size_t *len)
{
	struct wr w = { 0 };
	wr_snap(&w, c);
	uint8_t *buf = malloc(w.n + 4);
	if (!buf)
		return -ENOMEM;
	w = (struct wr){ .p = buf };
	wr_snap(&w, c);
	uint32_t crc = (uint32_t)crc32(0, buf, (uInt)w.n);
	for (int i = 0; i < 4; i++)
		buf[w.n + (size_t)i] = (uint8_t)(crc >> (8 * i));
	*data = buf;
	*len = w.n + 4;
	return 0;
}

enum rec_kind { REC_NODE, REC_SERVICE, REC_CHECK };

/* One record in two passes (measure, fill) into one allocation. */
static int read_rec(struct rd *r, enum rec_kind kind, void *dst, void **blob)
{
	struct rd save = *r;
	struct arena a = { 0 };
	for (int pass = 0; pass < 2; pass++) {
		if (kind == REC_NODE)
			rd_node(r, &a, dst);
		else if (kind == REC_SERVICE)
			rd_service(r, &a, dst);
		else
			rd_check(r, &a, dst, true);
		if (r->bad) {
			free(a.base);
			return -EINVAL;
		}
		if (pass == 0) {
			if (!(a.base = malloc(a.used ? a.used : 1)))
				return -ENOMEM;
			a.cap = a.used;
			a.used = 0;
			*r = save;
		}
	}
	*blob = a.base;
	return 0;
}

/* Create and modify indexes: 0 < create <= modify <= applied. */
static bool read_idx(struct rd *r, uint64_t applied, uint64_t *create, uint64_t *modify)
{
	*create = rd_varint(r);
	*modify = rd_varint(r);
	return !r->bad && *create && *create <= *modify && *modify <= applied;
}

static int read_node(struct rd *r, struct catalog *t, const char *prev)
{
	if (cat_reserve((void **)&t->nodes, &t->capnodes, t->nnodes + 1, sizeof(*t->nodes)))
		return -ENOMEM;
	struct node_rec *n = &t->nodes[t->nnodes];
	memset(n, 0, sizeof(*n));
	int rc = read_rec(r, REC_NODE, &n->n, &n->blob);
	if (rc)
		return rc;
	t->nnodes++;   /* owned by t from here on, freed with it */
	if ((prev && strcmp(prev, n->n.node) >= 0) ||
	    !read_idx(r, t->applied, &n->n.create_index, &n->n.modify_index))
		return -EINVAL;
	uint64_t ns = rd_varint(r);
	if (r->bad || ns > r->left / 8)
		return -EINVAL;
	for (uint64_t j = 0; j < ns; j++) {
		if (cat_reserve((void **)&n->svc, &n->capsvc, n->nsvc + 1, sizeof(*n->svc)))
			return -ENOMEM;
		struct svc_rec *x = &n->svc[n->nsvc];
		if ((rc = read_rec(r, REC_SERVICE, &x->s, &x->blob)))
			return rc;
		n->nsvc++;
		if ((j && strcmp(n->svc[j - 1].s.id, x->s.id) >= 0) ||
		    !read_idx(r, t->applied, &x->s.create_index, &x->s.modify_index))
			return -EINVAL;
	}
	uint64_t nk = rd_varint(r);
	if (r->bad || nk > r->left / 10)
		return -EINVAL;
	for (uint64_t j = 0; j < nk; j++) {
		if (cat_reserve((void **)&n->chk, &n->capchk, n->nchk + 1, sizeof(*n->chk)))
			return -ENOMEM;
		struct chk_rec *x = &n->chk[n->nchk];
		if ((rc = read_rec(r, REC_CHECK, &x->k, &x->blob)))
			return rc;
		n->nchk++;
		if ((j && strcmp(n->chk[j - 1].k.check_id, x->k.check_id) >= 0) ||
		    strcmp(x->k.node, n->n.node) != 0 ||
		    (x->k.service_id[0] && cat_find_svc(n, x->k.service_id, NULL) < 0) ||
		    !read_idx(r, t->applied, &x->k.create_index, &x->k.modify_index))
			return -EINVAL;
	}
	return 0;
}

/* The service-name table must name exactly the services present. */
static int read_names(struct rd *r, struct catalog *t)
{
	uint64_t nn = rd_varint(r);
	if (r->bad || nn > r->left / 2)
		return -EINVAL;
	for (uint64_t i = 0; i < nn; i++) {
		if (cat_reserve((void **)&t->names, &t->capnames, t->nnames + 1, sizeof(*t->names)))
			return -ENOMEM;
		struct arena a = { 0 };
		struct rd save = *r;
		rd_str(r, &a, CATALOG_STR_MAX);
		if (r->bad || !(a.base = malloc(a.used)))
			return r->bad ? -EINVAL : -ENOMEM;
		*r = save;
		a.used = 0;
		struct name_rec *x = &t->names[t->nnames++];
		x->name = (char *)rd_str(r, &a, CATALOG_STR_MAX);
		x->idx = rd_varint(r);
		x->count = 0;
		if (r->bad || !x->name[0] || x->idx == 0 || x->idx > t->applied ||
		    (i && strcmp(t->names[i - 1].name, x->name) >= 0))
			return -EINVAL;
	}
	/* what a state built by applies satisfies: a table's index is at least
	 * every ModifyIndex in it, a name's at least its instances' and their
	 * nodes' */
	for (size_t i = 0; i < t->nnodes; i++) {
		const struct node_rec *n = &t->nodes[i];
		if (n->n.modify_index > t->nodes_idx)
			return -EINVAL;
		for (size_t j = 0; j < n->nsvc; j++) {
			long k = cat_find_name(t, n->svc[j].s.service, NULL);
			if (k < 0 || n->svc[j].s.modify_index > t->services_idx ||
			    t->names[k].idx < cat_max64(n->svc[j].s.modify_index, n->n.modify_index))
				return -EINVAL;
			t->names[k].count++;
		}
		for (size_t j = 0; j < n->nchk; j++)
			if (n->chk[j].k.modify_index > t->checks_idx)
				return -EINVAL;
	}
	for (size_t i = 0; i < t->nnames; i++)
		if (t->names[i].count == 0)
			return -EINVAL;
	return 0;
}

static int restore_into(struct catalog *t, const uint8_t *data, size_t len)
{
	struct rd r = { data + 5, len - 5 - 4, false };
	t->applied = rd_u64(&r);
	t->nodes_idx = rd_u64(&r);
	t->services_idx = rd_u64(&r);
	t->checks_idx = rd_u64(&r);
	t->extinction = rd_u64(&r);
	if (t->nodes_idx > t->applied || t->services_idx > t->applied ||
	    t->checks_idx > t->applied || t->extinction > t->applied)
		return -EINVAL;
	uint64_t nn = rd_varint(&r);
	if (r.bad || nn > r.left / 10)
		return -EINVAL;
	for (uint64_t i = 0; i < nn; i++) {
		int rc = read_node(&r, t, i ? t->nodes[i - 1].n.node : NULL);
		if (rc)
			return rc;
	}
	int rc = read_names(&r, t);
	if (rc)
		return rc;
	return r.bad || r.left ? -EINVAL : 0;
}

int catalog_restore(struct catalog *c, const uint8_t *data, size_t len)
{
	if (!data || len < SNAP_HEADER + 4 || memcmp(data, SNAP_MAGIC, 4) != 0 ||
	    data[4] != SNAP_VERSION)
		return -EINVAL;
	uint32_t want = 0;
	for (int i = 0; i < 4; i++)
		want |= (uint32_t)data[len - 4 + (size_t)i] << (8 * i);
	if ((uint32_t)crc32(0, data, (uInt)(len - 4)) != want)
		return -EINVAL;
	struct catalog t = { 0 };
	int rc = restore_into(&t, data, len);
	if (rc) {
		cat_clear(&t);
		return rc;
	}
	cat_clear(c);
	*c = t;
	return 0;
}
