/*
 * catalog — Consul's catalog tables as a deterministic state machine
 * (contract in catalog.h).
 *
 * Nodes live in an array sorted by name; each node holds its services sorted
 * by ID and its checks sorted by CheckID. Every stored record is one
 * allocation (a deep copy made by the codec), so replacing or dropping one is
 * a pointer swap and a free. Sorted arrays rather than trees: catalogs hold
 * hundreds to a few thousand nodes, reads walk them in order anyway, and the
 * order is a property of the contents, so every server iterates alike.
 *
 * An apply first checks the command against the state (refusals change
 * nothing), then makes every copy and grows every array it will need, and
 * only then changes anything: -ENOMEM leaves the state as it was.
 *
 * Per service name the store keeps the index of its last change and its
 * number of instances; a name whose last instance goes away is dropped and
 * its removal raises the extinction index (Consul's service_last_extinction).
 * Snapshots are in catalog_snapshot.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "catalog/catalog_internal.h"

uint64_t cat_max64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

const char *catalog_status_name(enum catalog_status s)
{
	switch (s) {
	case CATALOG_PASSING:
		return "passing";
	case CATALOG_WARNING:
		return "warning";
	case CATALOG_CRITICAL:
		return "critical";
	}
	return "critical";
}

enum catalog_status catalog_status_parse(const char *s)
{
	if (!s)
		return 0;
	if (strcmp(s, "passing") == 0)
		return CATALOG_PASSING;
	if (strcmp(s, "warning") == 0)
		return CATALOG_WARNING;
	if (strcmp(s, "critical") == 0)
		return CATALOG_CRITICAL;
	return 0;
}

/* Grows *arr to hold need elements; the contents stay. */
int cat_reserve(void **arr, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return 0;
	size_t n = *cap ? *cap : 4;
	while (n < need)
		n *= 2;
	void *x = realloc(*arr, n * elem);
	if (!x)
		return -ENOMEM;
	*arr = x;
	*cap = n;
	return 0;
}

/* Binary search over n sorted items; *at = insertion point. */
#define SEARCH(arr, n, keyexpr, key, at)                                  \
	do {                                                              \
		size_t lo_ = 0, hi_ = (n);                                \
		while (lo_ < hi_) {                                       \
			size_t mid_ = (lo_ + hi_) / 2;                    \
			if (strcmp((arr)[mid_].keyexpr, (key)) < 0)       \
				lo_ = mid_ + 1;                           \
			else                                              \
				hi_ = mid_;                               \
		}                                                         \
		*(at) = lo_;                                              \
	} while (0)

static long find_node(const struct catalog *c, const char *name, size_t *at)
{
	size_t i;
	SEARCH(c->nodes, c->nnodes, n.node, name, &i);
	if (at)
		*at = i;
	return i < c->nnodes && strcmp(c->nodes[i].n.node, name) == 0 ? (long)i : -1;
}

long cat_find_svc(const struct node_rec *r, const char *id, size_t *at)
{
	size_t i;
	SEARCH(r->svc, r->nsvc, s.id, id, &i);
	if (at)
		*at = i;
	return i < r->nsvc && strcmp(r->svc[i].s.id, id) == 0 ? (long)i : -1;
}

static long find_chk(const struct node_rec *r, const char *id, size_t *at)
{
	size_t i;
	SEARCH(r->chk, r->nchk, k.check_id, id, &i);
	if (at)
		*at = i;
	return i < r->nchk && strcmp(r->chk[i].k.check_id, id) == 0 ? (long)i : -1;
}

long cat_find_name(const struct catalog *c, const char *name, size_t *at)
{
	size_t i;
	SEARCH(c->names, c->nnames, name, name, &i);
	if (at)
		*at = i;
	return i < c->nnames && strcmp(c->names[i].name, name) == 0 ? (long)i : -1;
}

static void *insert_at(void *arr, size_t *n, size_t at, size_t elem)
{
	uint8_t *a = arr;
	memmove(a + (at + 1) * elem, a + at * elem, (*n - at) * elem);
	(*n)++;
	return a + at * elem;
}

static void remove_at(void *arr, size_t *n, size_t at, size_t elem)
{
	uint8_t *a = arr;
	memmove(a + at * elem, a + (at + 1) * elem, (*n - at - 1) * elem);
	(*n)--;
}

/* ---- service names ---- */

/* The name must be present (an instance exists). */
static void name_touch(struct catalog *c, const char *name, uint64_t idx)
{
	long i = cat_find_name(c, name, NULL);
	if (i >= 0)
		c->names[i].idx = idx;
}

/* A new instance of name; *spare is a strdup of it, used when the name is new
 * (set to NULL when taken). Capacity was reserved. */
static void name_add(struct catalog *c, const char *name, char **spare, uint64_t idx)
{
	size_t at;
	long i = cat_find_name(c, name, &at);
	if (i < 0) {
		struct name_rec *n = insert_at(c->names, &c->nnames, at, sizeof(*n));
		n->name = *spare;
		*spare = NULL;
		n->count = 0;
		i = (long)at;
	}
	c->names[i].count++;
	c->names[i].idx = idx;
}

static void name_drop(struct catalog *c, const char *name, uint64_t idx)
{
	long i = cat_find_name(c, name, NULL);
	if (i < 0)
		return;
	c->names[i].idx = idx;
	if (--c->names[i].count == 0) {
		free(c->names[i].name);
		remove_at(c->names, &c->nnames, (size_t)i, sizeof(struct name_rec));
		c->extinction = idx;
	}
}

static void touch_node_services(struct catalog *c, const struct node_rec *r, uint64_t idx)
{
	for (size_t i = 0; i < r->nsvc; i++)
		name_touch(c, r->svc[i].s.service, idx);
}

/* ---- lifecycle ---- */

struct catalog *catalog_new(void)
{
	return calloc(1, sizeof(struct catalog));
}

static void node_rec_free(struct node_rec *r)
{
	for (size_t i = 0; i < r->nsvc; i++)
		free(r->svc[i].blob);
	for (size_t i = 0; i < r->nchk; i++)
		free(r->chk[i].blob);
	free(r->svc);
	free(r->chk);
	free(r->blob);
}

void cat_clear(struct catalog *c)
{
	for (size_t i = 0; i < c->nnodes; i++)
		node_rec_free(&c->nodes[i]);
	for (size_t i = 0; i < c->nnames; i++)
		free(c->names[i].name);
	free(c->nodes);
	free(c->names);
	memset(c, 0, sizeof(*c));
}

void catalog_free(struct catalog *c)
{
	if (!c)
		return;
	cat_clear(c);
	free(c);
}

/* ---- register ---- */

struct prep {
	void *node_blob;
	struct catalog_node node;
	void *svc_blob;
	struct catalog_service svc;
	char *svc_name;                      /* for a new service name */
	void *chk_blob[CATALOG_CHECKS_MAX];
	struct catalog_check chk[CATALOG_CHECKS_MAX];
	struct svc_rec *new_svc;             /* arrays of a new node */
	struct chk_rec *new_chk;
};

static void prep_free(struct prep *p, size_t nchecks)
{
	free(p->node_blob);
	free(p->svc_blob);
	free(p->svc_name);
	for (size_t i = 0; i < nchecks; i++)
		free(p->chk_blob[i]);
	free(p->new_svc);
	free(p->new_chk);
}

/* The service a check of this registration belongs to. */
static const struct catalog_service *check_service(const struct node_rec *r,
                                                   const struct catalog_cmd *cmd, const char *id)
{
	if (cmd->service && strcmp(cmd->service->id, id) == 0)
		return cmd->service;
	long i = r ? cat_find_svc(r, id, NULL) : -1;
	return i >= 0 ? &r->svc[i].s : NULL;
}

static int reg_check(const struct catalog *c, const struct node_rec *r, const struct catalog_cmd *cmd,
                     char *err, size_t errlen)
{
	if (cmd->node.id && cmd->node.id[0]) {
		for (size_t i = 0; i < c->nnodes; i++) {
			const struct catalog_node *o = &c->nodes[i].n;
			if (strcasecmp(o->id, cmd->node.id) == 0 && strcmp(o->node, cmd->node.node) != 0) {
				snprintf(err, errlen, "Node name %s is reserved by node %s with name %s",
				         cmd->node.node, o->id, o->node);
				return -1;
			}
		}
	}
	for (size_t i = 0; i < cmd->nchecks; i++) {
		const char *sid = cmd->checks[i].service_id;
		if (sid && sid[0] && !check_service(r, cmd, sid)) {
			snprintf(err, errlen, "Missing service registration");
			return -1;
		}
	}
	return 0;
}

/* Makes every copy and reserves every slot the commit will use. */
static int reg_prepare(struct catalog *c, struct node_rec *r, const struct catalog_cmd *cmd,
                       struct prep *p)
{
	if (!r || !node_same(&r->n, &cmd->node))
		if (node_dup(&cmd->node, &p->node, &p->node_blob))
			return -ENOMEM;
	size_t needsvc = (r ? r->nsvc : 0) + 1, needchk = (r ? r->nchk : 0) + cmd->nchecks;
	if (r) {
		if (cat_reserve((void **)&r->svc, &r->capsvc, needsvc, sizeof(*r->svc)) ||
		    cat_reserve((void **)&r->chk, &r->capchk, needchk ? needchk : 1, sizeof(*r->chk)))
			return -ENOMEM;
	} else {
		p->new_svc = malloc(needsvc * sizeof(*p->new_svc));
		p->new_chk = malloc((needchk ? needchk : 1) * sizeof(*p->new_chk));
		if (!p->new_svc || !p->new_chk)
			return -ENOMEM;
	}
	if (cmd->service) {
		if (service_dup(cmd->service, &p->svc, &p->svc_blob) ||
		    !(p->svc_name = strdup(cmd->service->service)))
			return -ENOMEM;
	}
	for (size_t i = 0; i < cmd->nchecks; i++) {
		struct catalog_check k = cmd->checks[i];
		const struct catalog_service *s = k.service_id && k.service_id[0]
		                                          ? check_service(r, cmd, k.service_id) : NULL;
		k.node = cmd->node.node;
		k.service_name = s ? s->service : "";
		k.service_tags = s ? s->tags : NULL;
		k.nservice_tags = s ? s->ntags : 0;
		if (check_dup(&k, &p->chk[i], &p->chk_blob[i]))
			return -ENOMEM;
	}
	return 0;
}

static void bump_check(struct catalog *c, struct node_rec *r, const struct catalog_check *k,
                       uint64_t idx)
{
	c->checks_idx = idx;
	if (k->service_id[0]) {
		long s = cat_find_svc(r, k->service_id, NULL);
		if (s >= 0)
			name_touch(c, r->svc[s].s.service, idx);
	} else {
		touch_node_services(c, r, idx);
	}
}

static void reg_commit(struct catalog *c, long pos, size_t at, const struct catalog_cmd *cmd,
                       struct prep *p, uint64_t idx)
{
	struct node_rec *r;
	if (pos < 0) {
		r = insert_at(c->nodes, &c->nnodes, at, sizeof(*r));
		memset(r, 0, sizeof(*r));
		r->svc = p->new_svc;
		r->chk = p->new_chk;
		r->capsvc = 1;
		r->capchk = cmd->nchecks ? cmd->nchecks : 1;
		p->new_svc = NULL;
		p->new_chk = NULL;
		p->node.create_index = idx;
	} else {
		r = &c->nodes[pos];
		p->node.create_index = r->n.create_index;
	}
	if (p->node_blob) {
		p->node.modify_index = idx;
		free(r->blob);
		r->blob = p->node_blob;
		r->n = p->node;
		p->node_blob = NULL;
		c->nodes_idx = idx;
		touch_node_services(c, r, idx);
	}
	if (cmd->service) {
		size_t sat;
		long s = cat_find_svc(r, p->svc.id, &sat);
		if (s < 0 || !service_same(&r->svc[s].s, &p->svc)) {
			struct svc_rec *x;
			if (s < 0) {
				x = insert_at(r->svc, &r->nsvc, sat, sizeof(*x));
				p->svc.create_index = idx;
			} else {
				x = &r->svc[s];
				p->svc.create_index = x->s.create_index;
				name_drop(c, x->s.service, idx);
				free(x->blob);
			}
			p->svc.modify_index = idx;
			x->s = p->svc;
			x->blob = p->svc_blob;
			p->svc_blob = NULL;
			name_add(c, x->s.service, &p->svc_name, idx);
			c->services_idx = idx;
		}
	}
	for (size_t i = 0; i < cmd->nchecks; i++) {
		size_t kat;
		long k = find_chk(r, p->chk[i].check_id, &kat);
		if (k >= 0 && check_same(&r->chk[k].k, &p->chk[i]))
			continue;
		struct chk_rec *x;
		if (k < 0) {
			x = insert_at(r->chk, &r->nchk, kat, sizeof(*x));
			p->chk[i].create_index = idx;
		} else {
			x = &r->chk[k];
			p->chk[i].create_index = x->k.create_index;
			free(x->blob);
		}
		p->chk[i].modify_index = idx;
		x->k = p->chk[i];
		x->blob = p->chk_blob[i];
		p->chk_blob[i] = NULL;
		bump_check(c, r, &x->k, idx);
	}
}

static int do_register(struct catalog *c, const struct catalog_cmd *cmd, uint64_t idx, char *err,
                       size_t errlen)
{
	/* first, as growing the array moves the records r points into */
	if (cat_reserve((void **)&c->nodes, &c->capnodes, c->nnodes + 1, sizeof(*c->nodes)) ||
	    cat_reserve((void **)&c->names, &c->capnames, c->nnames + 1, sizeof(*c->names)))
		return -ENOMEM;
	size_t at;
	long pos = find_node(c, cmd->node.node, &at);
	struct node_rec *r = pos >= 0 ? &c->nodes[pos] : NULL;
	if (reg_check(c, r, cmd, err, errlen))
		return 0;
	struct prep *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	int rc = reg_prepare(c, r, cmd, p);
	if (rc == 0)
		reg_commit(c, pos, at, cmd, p, idx);
	prep_free(p, cmd->nchecks);
	free(p);
	return rc;
}

/* ---- deregister (never allocates) ---- */

static void delete_check_at(struct catalog *c, struct node_rec *r, size_t k, uint64_t idx)
{
	struct chk_rec x = r->chk[k];
	remove_at(r->chk, &r->nchk, k, sizeof(x));
	bump_check(c, r, &x.k, idx);
	free(x.blob);
}

static void delete_service_at(struct catalog *c, struct node_rec *r, size_t s, uint64_t idx)
{
	const char *sid = r->svc[s].s.id;
	for (size_t k = r->nchk; k-- > 0;)
		if (strcmp(r->chk[k].k.service_id, sid) == 0)
			delete_check_at(c, r, k, idx);
	struct svc_rec x = r->svc[s];
	remove_at(r->svc, &r->nsvc, s, sizeof(x));
	name_drop(c, x.s.service, idx);
	free(x.blob);
	c->services_idx = idx;
}

static void do_deregister(struct catalog *c, const struct catalog_cmd *cmd, uint64_t idx)
{
	long pos = find_node(c, cmd->node.node, NULL);
	if (pos < 0)
		return;
	struct node_rec *r = &c->nodes[pos];
	if (cmd->dereg_service_id[0]) {
		long s = cat_find_svc(r, cmd->dereg_service_id, NULL);
		if (s >= 0)
			delete_service_at(c, r, (size_t)s, idx);
		return;
	}
	if (cmd->dereg_check_id[0]) {
		long k = find_chk(r, cmd->dereg_check_id, NULL);
		if (k >= 0)
			delete_check_at(c, r, (size_t)k, idx);
		return;
	}
	while (r->nchk)
		delete_check_at(c, r, r->nchk - 1, idx);
	while (r->nsvc)
		delete_service_at(c, r, r->nsvc - 1, idx);
	node_rec_free(r);
	remove_at(c->nodes, &c->nnodes, (size_t)pos, sizeof(*r));
	c->nodes_idx = idx;
}

int catalog_apply(struct catalog *c, uint64_t index, const uint8_t *cmd, size_t len, char *err,
                  size_t errlen)
{
	char dummy[8];
	if (!err) {
		err = dummy;
		errlen = sizeof(dummy);
	}
	err[0] = 0;
	if (index <= c->applied)
		return -ERANGE;
	struct catalog_decoded d;
	int rc = catalog_cmd_decode(cmd, len, &d);
	if (rc == -ENOMEM)
		return rc;
	if (rc) {
		c->applied = index;
		return -EINVAL;
	}
	if (d.cmd.op == CATALOG_OP_REGISTER)
		rc = do_register(c, &d.cmd, index, err, errlen);
	else
		do_deregister(c, &d.cmd, index);
	catalog_cmd_free(&d);
	if (rc)
		return rc;
	c->applied = index;
	return 0;
}

/* ---- reads ---- */

size_t catalog_node_count(const struct catalog *c)
{
	return c->nnodes;
}

const struct catalog_node *catalog_node_at(const struct catalog *c, size_t i)
{
	return i < c->nnodes ? &c->nodes[i].n : NULL;
}

long catalog_node_find(const struct catalog *c, const char *name)
{
	return name ? find_node(c, name, NULL) : -1;
}

size_t catalog_service_count(const struct catalog *c, size_t node)
{
	return node < c->nnodes ? c->nodes[node].nsvc : 0;
}

const struct catalog_service *catalog_service_at(const struct catalog *c, size_t node, size_t i)
{
	return node < c->nnodes && i < c->nodes[node].nsvc ? &c->nodes[node].svc[i].s : NULL;
}

size_t catalog_check_count(const struct catalog *c, size_t node)
{
	return node < c->nnodes ? c->nodes[node].nchk : 0;
}

const struct catalog_check *catalog_check_at(const struct catalog *c, size_t node, size_t i)
{
	return node < c->nnodes && i < c->nodes[node].nchk ? &c->nodes[node].chk[i].k : NULL;
}

uint64_t catalog_nodes_index(const struct catalog *c)
{
	return c->nodes_idx;
}

uint64_t catalog_services_index(const struct catalog *c)
{
	return c->services_idx;
}

uint64_t catalog_checks_index(const struct catalog *c)
{
	return c->checks_idx;
}

uint64_t catalog_index(const struct catalog *c)
{
	return cat_max64(c->nodes_idx, cat_max64(c->services_idx, c->checks_idx));
}

uint64_t catalog_service_index(const struct catalog *c, const char *name)
{
	long i = name ? cat_find_name(c, name, NULL) : -1;
	return i >= 0 ? c->names[i].idx : c->extinction;
}

uint64_t catalog_applied(const struct catalog *c)
{
	return c->applied;
}
