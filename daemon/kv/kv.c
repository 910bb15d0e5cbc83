/*
 * kv — Consul's KV store as a deterministic state machine (contract in kv.h).
 *
 * Entries live in an AVL tree ordered by key bytes. A tree rather than a
 * sorted array because inserts and deletes stay O(log n) at any size (an
 * array's memmove makes a 100k-key DELETE_TREE quadratic), prefix walks are
 * O(log n + k), and every node carries the largest and smallest index of its
 * subtree: the X-Consul-Index of a prefix, asked for by every blocking query
 * after every apply, is then O(log n) instead of a walk of the prefix. AVL
 * rather than a skip list: no randomness (servers must not differ) and a
 * bounded depth for the recursive walks.
 *
 * Deleted keys become tombstones (Consul's graveyard) in a second tree of the
 * same nodes: the node leaves the live tree and enters the tombstone tree, so
 * a delete never allocates and cannot fail half-way through a DELETE_TREE. A
 * set of the key removes its tombstone (its new ModifyIndex is later anyway).
 * Past KV_TOMBSTONE_MAX the oldest tombstone (lowest index, then lowest key:
 * a property of the set, not of the tree's shape, so every server drops the
 * same one) is dropped and its index raises a floor reported for every
 * prefix. Invariant: kv_index == max(live indexes, tombstone indexes, floor).
 */
#include "kv/kv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define CMD_VERSION 1
#define SNAP_VERSION 1
#define SNAP_MAGIC "CCKV"
#define SNAP_HEADER (4 + 1 + 5 * 8) /* magic, version, 5 x u64 */
#define VARINT_MAX 10

struct node {
	struct node *left, *right;
	uint8_t *value;         /* NULL when empty and in tombstones */
	size_t len;
	uint64_t flags;
	uint64_t create_index;
	uint64_t idx;           /* ModifyIndex; a tombstone's delete index */
	uint64_t max_idx;       /* over the subtree */
	uint64_t min_idx;
	size_t key_len;
	int height;
	char key[];             /* key_len bytes and a NUL */
};

struct kv {
	struct node *live;
	struct node *tombs;
	size_t nlive, ntombs;
	uint64_t index;         /* last apply that changed something */
	uint64_t applied;       /* last apply */
	uint64_t floor;         /* highest index of a dropped tombstone */
};

static uint64_t max64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

static uint64_t min64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* ---- keys ---- */

/* Byte order; a proper prefix sorts first. */
static int key_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);
	if (c != 0)
		return c;
	return alen < blen ? -1 : alen > blen;
}

/* Where n's key lies relative to the keys starting with p, which form one
 * contiguous range in byte order: <0 before it, 0 inside, >0 after. */
static int prefix_cmp(const struct node *n, const char *p, size_t plen)
{
	size_t m = n->key_len < plen ? n->key_len : plen;
	int c = memcmp(n->key, p, m);
	if (c != 0)
		return c;
	return n->key_len < plen ? -1 : 0;
}

static bool key_ok(const char *key, size_t len, bool empty_ok)
{
	if (len > KV_KEY_MAX || (len == 0 && !empty_ok))
		return false;
	return len == 0 || (key && !memchr(key, '\0', len));
}

/* ---- AVL tree with subtree min/max index ---- */

static int height(const struct node *n)
{
	return n ? n->height : 0;
}

static void update(struct node *n)
{
	int hl = height(n->left), hr = height(n->right);
	n->height = 1 + (hl > hr ? hl : hr);
	n->max_idx = n->min_idx = n->idx;
	if (n->left) {
		n->max_idx = max64(n->max_idx, n->left->max_idx);
		n->min_idx = min64(n->min_idx, n->left->min_idx);
	}
	if (n->right) {
		n->max_idx = max64(n->max_idx, n->right->max_idx);
		n->min_idx = min64(n->min_idx, n->right->min_idx);
	}
}

static struct node *rotate_right(struct node *n)
{
	struct node *l = n->left;
	n->left = l->right;
	l->right = n;
	update(n);
	update(l);
	return l;
}

static struct node *rotate_left(struct node *n)
{
	struct node *r = n->right;
	n->right = r->left;
	r->left = n;
	update(n);
	update(r);
	return r;
}

static struct node *balance(struct node *n)
{
	update(n);
	int b = height(n->left) - height(n->right);
	if (b > 1) {
		if (height(n->left->left) < height(n->left->right))
			n->left = rotate_left(n->left);
		return rotate_right(n);
	}
	if (b < -1) {
		if (height(n->right->right) < height(n->right->left))
			n->right = rotate_right(n->right);
		return rotate_left(n);
	}
	return n;
}

/* nn's key must not be in the tree. */
static struct node *tree_insert(struct node *t, struct node *nn)
{
	if (!t) {
		nn->left = nn->right = NULL;
		update(nn);
		return nn;
	}
	if (key_cmp(nn->key, nn->key_len, t->key, t->key_len) < 0)
		t->left = tree_insert(t->left, nn);
	else
		t->right = tree_insert(t->right, nn);
	return balance(t);
}

static struct node *remove_min(struct node *t, struct node **min)
{
	if (!t->left) {
		*min = t;
		return t->right;
	}
	t->left = remove_min(t->left, min);
	return balance(t);
}

/* Unlinks the node with key (into *out, NULL when absent); returns the new
 * root. The node is not freed. */
static struct node *tree_detach(struct node *t, const char *key, size_t klen,
                                struct node **out)
{
	if (!t)
		return NULL;
	int c = key_cmp(key, klen, t->key, t->key_len);
	if (c < 0) {
		t->left = tree_detach(t->left, key, klen, out);
	} else if (c > 0) {
		t->right = tree_detach(t->right, key, klen, out);
	} else {
		*out = t;
		if (!t->left || !t->right)
			return t->left ? t->left : t->right;
		struct node *s;
		struct node *r = remove_min(t->right, &s);
		s->left = t->left;
		s->right = r;
		return balance(s);
	}
	return balance(t);
}

/* Recomputes the subtree indexes on the path to key after its idx changed. */
static void tree_refresh(struct node *t, const char *key, size_t klen)
{
	if (!t)
		return;
	int c = key_cmp(key, klen, t->key, t->key_len);
	if (c < 0)
		tree_refresh(t->left, key, klen);
	else if (c > 0)
		tree_refresh(t->right, key, klen);
	update(t);
}

static struct node *tree_find(struct node *t, const char *key, size_t klen)
{
	while (t) {
		int c = key_cmp(key, klen, t->key, t->key_len);
		if (c == 0)
			return t;
		t = c < 0 ? t->left : t->right;
	}
	return NULL;
}

/* The first node whose key starts with p. */
static struct node *tree_first_prefix(struct node *t, const char *p, size_t plen)
{
	struct node *best = NULL;
	while (t) {
		int c = prefix_cmp(t, p, plen);
		if (c < 0) {
			t = t->right;
		} else {
			if (c == 0)
				best = t;
			t = t->left;
		}
	}
	return best;
}

/* The largest idx among keys starting with p: find the node where the range
 * splits, then walk its two boundaries adding whole subtrees that lie inside. */
static uint64_t tree_prefix_max(const struct node *t, const char *p, size_t plen)
{
	while (t) {
		int c = prefix_cmp(t, p, plen);
		if (c == 0)
			break;
		t = c < 0 ? t->right : t->left;
	}
	if (!t)
		return 0;
	uint64_t m = t->idx;
	for (const struct node *x = t->left; x;) {
		if (prefix_cmp(x, p, plen) == 0) {
			m = max64(m, x->idx);
			if (x->right)
				m = max64(m, x->right->max_idx);
			x = x->left;
		} else {
			x = x->right;
		}
	}
	for (const struct node *x = t->right; x;) {
		if (prefix_cmp(x, p, plen) == 0) {
			m = max64(m, x->idx);
			if (x->left)
				m = max64(m, x->left->max_idx);
			x = x->right;
		} else {
			x = x->left;
		}
	}
	return m;
}

/* The node with the lowest idx, the lowest key among equals. */
static struct node *tree_oldest(struct node *t)
{
	uint64_t m = t->min_idx;
	for (;;) {
		if (t->left && t->left->min_idx == m)
			t = t->left;
		else if (t->idx == m)
			return t;
		else
			t = t->right;
	}
}

static void node_free(struct node *n)
{
	if (n) {
		free(n->value);
		free(n);
	}
}

static void tree_free(struct node *t)
{
	while (t) {
		/* Rotate left children away so no recursion is needed. */
		if (t->left) {
			struct node *l = t->left;
			t->left = l->right;
			l->right = t;
			t = l;
		} else {
			struct node *r = t->right;
			node_free(t);
			t = r;
		}
	}
}

static struct node *node_new(const char *key, size_t klen)
{
	struct node *n = calloc(1, sizeof(*n) + klen + 1);
	if (!n)
		return NULL;
	memcpy(n->key, key, klen);
	n->key[klen] = '\0';
	n->key_len = klen;
	return n;
}

/* In-order walk of the keys starting with p; visit returning non-zero stops. */
static int tree_walk(const struct node *t, const char *p, size_t plen,
                     int (*visit)(void *ctx, const struct node *n), void *ctx)
{
	while (t) {
		int c = prefix_cmp(t, p, plen);
		if (c >= 0 && tree_walk(t->left, p, plen, visit, ctx))
			return 1;
		if (c == 0 && visit(ctx, t))
			return 1;
		if (c > 0)
			return 0;
		t = t->right; /* loop rather than recurse on the right */
	}
	return 0;
}

/* ---- byte codec: LEB128 varints, minimal only, so encodings are canonical ---- */

struct reader {
	const uint8_t *p;
	size_t left;
};

static size_t varint_len(uint64_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static uint8_t *put_varint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

static uint8_t *put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		*p++ = (uint8_t)(v >> (8 * i));
	return p;
}

static uint8_t *put_bytes(uint8_t *p, const void *b, size_t n)
{
	if (n)
		memcpy(p, b, n);
	return p + n;
}

static int get_varint(struct reader *r, uint64_t *out)
{
	uint64_t v = 0;
	for (int i = 0; i < VARINT_MAX; i++) {
		if (r->left == 0)
			return -EINVAL;
		uint8_t b = *r->p++;
		r->left--;
		if (i == VARINT_MAX - 1 && b > 1)
			return -EINVAL; /* more than 64 bits */
		v |= (uint64_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80)) {
			if (b == 0 && i > 0)
				return -EINVAL; /* not minimal */
			*out = v;
			return 0;
		}
	}
	return -EINVAL;
}

static int get_u64(struct reader *r, uint64_t *out)
{
	if (r->left < 8)
		return -EINVAL;
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)r->p[i] << (8 * i);
	r->p += 8;
	r->left -= 8;
	*out = v;
	return 0;
}

/* A varint length then that many bytes, at most max. */
static int get_blob(struct reader *r, size_t max, const uint8_t **b, size_t *n)
{
	uint64_t len;
	if (get_varint(r, &len) < 0 || len > max || len > r->left)
		return -EINVAL;
	*b = r->p;
	*n = (size_t)len;
	r->p += len;
	r->left -= len;
	return 0;
}

/* ---- commands: version, op, varint flags, varint cas, key, value ---- */

static bool cmd_ok(const struct kv_cmd *c)
{
	bool data = c->op == KV_OP_SET || c->op == KV_OP_CAS;
	bool cas = c->op == KV_OP_CAS || c->op == KV_OP_DELETE_CAS;
	if (c->op < KV_OP_SET || c->op > KV_OP_DELETE_TREE)
		return false;
	if (!key_ok(c->key, c->key_len, c->op == KV_OP_DELETE_TREE))
		return false;
	if (c->value_len > KV_VALUE_MAX || (c->value_len && !c->value))
		return false;
	if (!data && (c->value_len || c->flags))
		return false;
	return cas || c->cas == 0;
}

size_t kv_cmd_encode(const struct kv_cmd *cmd, uint8_t *buf, size_t cap)
{
	if (!cmd || !cmd_ok(cmd))
		return 0;
	size_t need = 2 + varint_len(cmd->flags) + varint_len(cmd->cas) +
	              varint_len(cmd->key_len) + cmd->key_len +
	              varint_len(cmd->value_len) + cmd->value_len;
	if (need > cap || !buf)
		return need;
	uint8_t *p = buf;
	*p++ = CMD_VERSION;
	*p++ = (uint8_t)cmd->op;
	p = put_varint(p, cmd->flags);
	p = put_varint(p, cmd->cas);
	p = put_varint(p, cmd->key_len);
	p = put_bytes(p, cmd->key, cmd->key_len);
	p = put_varint(p, cmd->value_len);
	put_bytes(p, cmd->value, cmd->value_len);
	return need;
}

int kv_cmd_decode(const uint8_t *buf, size_t len, struct kv_cmd *cmd)
{
	if (!buf || len < 2 || buf[0] != CMD_VERSION)
		return -EINVAL;
	struct reader r = { buf + 2, len - 2 };
	struct kv_cmd c = { .op = (enum kv_op)buf[1] };
	const uint8_t *key;
	if (buf[1] < KV_OP_SET || buf[1] > KV_OP_DELETE_TREE ||
	    get_varint(&r, &c.flags) < 0 || get_varint(&r, &c.cas) < 0 ||
	    get_blob(&r, KV_KEY_MAX, &key, &c.key_len) < 0 ||
	    get_blob(&r, KV_VALUE_MAX, &c.value, &c.value_len) < 0 || r.left != 0)
		return -EINVAL;
	c.key = (const char *)key;
	if (!cmd_ok(&c))
		return -EINVAL;
	*cmd = c;
	return 0;
}

/* ---- the store ---- */

struct kv *kv_new(void)
{
	return calloc(1, sizeof(struct kv));
}

void kv_free(struct kv *kv)
{
	if (!kv)
		return;
	tree_free(kv->live);
	tree_free(kv->tombs);
	free(kv);
}

/* Moves a node detached from the live tree into the tombstones. */
static void bury(struct kv *kv, struct node *n, uint64_t index)
{
	free(n->value);
	n->value = NULL;
	n->len = 0;
	n->flags = 0;
	n->create_index = 0;
	n->idx = index;
	kv->tombs = tree_insert(kv->tombs, n);
	kv->ntombs++;
	while (kv->ntombs > KV_TOMBSTONE_MAX) {
		struct node *old = tree_oldest(kv->tombs), *d = NULL;
		kv->floor = max64(kv->floor, old->idx);
		kv->tombs = tree_detach(kv->tombs, old->key, old->key_len, &d);
		node_free(d);
		kv->ntombs--;
	}
	kv->index = index;
}

static void delete_key(struct kv *kv, const char *key, size_t klen, uint64_t index)
{
	struct node *n = NULL;
	kv->live = tree_detach(kv->live, key, klen, &n);
	if (n) {
		kv->nlive--;
		bury(kv, n, index);
	}
}

static int set_key(struct kv *kv, const struct kv_cmd *c, uint64_t index)
{
	/* Everything that can fail comes before the first change. */
	uint8_t *val = NULL;
	if (c->value_len) {
		val = malloc(c->value_len);
		if (!val)
			return -ENOMEM;
		memcpy(val, c->value, c->value_len);
	}
	struct node *n = tree_find(kv->live, c->key, c->key_len);
	if (n) {
		free(n->value);
		n->value = val;
		n->len = c->value_len;
		n->flags = c->flags;
		n->idx = index;
		tree_refresh(kv->live, c->key, c->key_len);
		kv->index = index;
		return 0;
	}
	n = tree_find(kv->tombs, c->key, c->key_len);
	if (n) {
		/* Its tombstone is older than the new ModifyIndex: reuse the node. */
		kv->tombs = tree_detach(kv->tombs, c->key, c->key_len, &n);
		kv->ntombs--;
	} else {
		n = node_new(c->key, c->key_len);
		if (!n) {
			free(val);
			return -ENOMEM;
		}
	}
	n->value = val;
	n->len = c->value_len;
	n->flags = c->flags;
	n->create_index = n->idx = index;
	kv->live = tree_insert(kv->live, n);
	kv->nlive++;
	kv->index = index;
	return 0;
}

static void delete_tree(struct kv *kv, const char *p, size_t plen, uint64_t index)
{
	struct node *n;
	while ((n = tree_first_prefix(kv->live, p, plen)))
		delete_key(kv, n->key, n->key_len, index);
}

int kv_apply(struct kv *kv, uint64_t index, const uint8_t *cmd, size_t len, bool *result)
{
	bool ok = true;
	int rc = 0;
	struct kv_cmd c;
	if (result)
		*result = false;
	if (index <= kv->applied)
		return -ERANGE;
	if (kv_cmd_decode(cmd, len, &c) < 0) {
		kv->applied = index;
		return -EINVAL;
	}
	struct node *n = c.op == KV_OP_CAS || c.op == KV_OP_DELETE_CAS ?
	                 tree_find(kv->live, c.key, c.key_len) : NULL;
	switch (c.op) {
	case KV_OP_SET:
		rc = set_key(kv, &c, index);
		break;
	case KV_OP_CAS:
		ok = c.cas == 0 ? !n : n && n->idx == c.cas;
		if (ok)
			rc = set_key(kv, &c, index);
		break;
	case KV_OP_DELETE:
		delete_key(kv, c.key, c.key_len, index);
		break;
	case KV_OP_DELETE_CAS:
		/* Consul answers true for an absent key, whatever the cas. */
		ok = !n || n->idx == c.cas;
		if (n && ok)
			delete_key(kv, c.key, c.key_len, index);
		break;
	case KV_OP_DELETE_TREE:
		delete_tree(kv, c.key, c.key_len, index);
		break;
	}
	if (rc < 0)
		return rc;
	kv->applied = index;
	if (result)
		*result = ok;
	return 0;
}

static void fill_entry(const struct node *n, struct kv_entry *e)
{
	e->key = n->key;
	e->value = n->value;
	e->len = n->len;
	e->flags = n->flags;
	e->create_index = n->create_index;
	e->modify_index = n->idx;
	e->lock_index = 0; /* no sessions yet */
}

int kv_get(const struct kv *kv, const char *key, struct kv_entry *out)
{
	if (!key)
		return -ENOENT;
	struct node *n = tree_find(kv->live, key, strlen(key));
	if (!n)
		return -ENOENT;
	if (out)
		fill_entry(n, out);
	return 0;
}

struct list_ctx {
	int (*cb)(void *ud, const struct kv_entry *e);
	void *ud;
	size_t count;
};

static int list_visit(void *ctx, const struct node *n)
{
	struct list_ctx *l = ctx;
	l->count++;
	if (!l->cb)
		return 0;
	struct kv_entry e;
	fill_entry(n, &e);
	return l->cb(l->ud, &e);
}

size_t kv_list(const struct kv *kv, const char *prefix,
               int (*cb)(void *ud, const struct kv_entry *e), void *ud)
{
	if (!prefix)
		prefix = "";
	struct list_ctx l = { cb, ud, 0 };
	tree_walk(kv->live, prefix, strlen(prefix), list_visit, &l);
	return l.count;
}

struct keys_ctx {
	int (*cb)(void *ud, const char *key);
	void *ud;
	size_t count;
	size_t plen;
	const char *sep;
	size_t seplen;
	const char *last;       /* the string given last: a key's first bytes */
	size_t last_len;
	char buf[KV_KEY_MAX + 1];
};

/* Keys arrive in order and all keys folding to one string are contiguous
 * (they are the keys starting with it), so comparing with the last string
 * given is enough to give each once. */
static int keys_visit(void *ctx, const struct node *n)
{
	struct keys_ctx *k = ctx;
	size_t len = n->key_len;
	if (k->seplen) {
		const char *s = memmem(n->key + k->plen, n->key_len - k->plen, k->sep, k->seplen);
		if (s)
			len = (size_t)(s - n->key) + k->seplen;
	}
	if (k->last && k->last_len == len && memcmp(k->last, n->key, len) == 0)
		return 0;
	k->last = n->key;
	k->last_len = len;
	k->count++;
	if (!k->cb)
		return 0;
	if (len == n->key_len)
		return k->cb(k->ud, n->key);
	memcpy(k->buf, n->key, len);
	k->buf[len] = '\0';
	return k->cb(k->ud, k->buf);
}

size_t kv_keys(const struct kv *kv, const char *prefix, const char *separator,
               int (*cb)(void *ud, const char *key), void *ud)
{
	if (!prefix)
		prefix = "";
	struct keys_ctx k = { .cb = cb, .ud = ud, .plen = strlen(prefix),
		              .sep = separator ? separator : "",
		              .seplen = separator ? strlen(separator) : 0 };
	tree_walk(kv->live, prefix, k.plen, keys_visit, &k);
	return k.count;
}

uint64_t kv_index(const struct kv *kv)
{
	return kv->index;
}

uint64_t kv_applied(const struct kv *kv)
{
	return kv->applied;
}

size_t kv_count(const struct kv *kv)
{
	return kv->nlive;
}

uint64_t kv_prefix_index(const struct kv *kv, const char *prefix)
{
	if (!prefix || !*prefix)
		return kv->index;
	size_t plen = strlen(prefix);
	return max64(kv->floor, max64(tree_prefix_max(kv->live, prefix, plen),
	                              tree_prefix_max(kv->tombs, prefix, plen)));
}

/* ---- snapshots ----
 * "CCKV", version, u64 LE applied, index, floor, live count, tombstone count;
 * live entries in key order (varint key length, key, varint value length,
 * value, varint flags, create, modify); tombstones in key order (varint key
 * length, key, varint index); u32 LE CRC-32C of everything before it. */

static const uint32_t crc32c_table[256] = {
	0x00000000u, 0xf26b8303u, 0xe13b70f7u, 0x1350f3f4u, 0xc79a971fu, 0x35f1141cu,
	0x26a1e7e8u, 0xd4ca64ebu, 0x8ad958cfu, 0x78b2dbccu, 0x6be22838u, 0x9989ab3bu,
	0x4d43cfd0u, 0xbf284cd3u, 0xac78bf27u, 0x5e133c24u, 0x105ec76fu, 0xe235446cu,
	0xf165b798u, 0x030e349bu, 0xd7c45070u, 0x25afd373u, 0x36ff2087u, 0xc494a384u,
	0x9a879fa0u, 0x68ec1ca3u, 0x7bbcef57u, 0x89d76c54u, 0x5d1d08bfu, 0xaf768bbcu,
	0xbc267848u, 0x4e4dfb4bu, 0x20bd8edeu, 0xd2d60dddu, 0xc186fe29u, 0x33ed7d2au,
	0xe72719c1u, 0x154c9ac2u, 0x061c6936u, 0xf477ea35u, 0xaa64d611u, 0x580f5512u,
	0x4b5fa6e6u, 0xb93425e5u, 0x6dfe410eu, 0x9f95c20du, 0x8cc531f9u, 0x7eaeb2fau,
	0x30e349b1u, 0xc288cab2u, 0xd1d83946u, 0x23b3ba45u, 0xf779deaeu, 0x05125dadu,
	0x1642ae59u, 0xe4292d5au, 0xba3a117eu, 0x4851927du, 0x5b016189u, 0xa96ae28au,
	0x7da08661u, 0x8fcb0562u, 0x9c9bf696u, 0x6ef07595u, 0x417b1dbcu, 0xb3109ebfu,
	0xa0406d4bu, 0x522bee48u, 0x86e18aa3u, 0x748a09a0u, 0x67dafa54u, 0x95b17957u,
	0xcba24573u, 0x39c9c670u, 0x2a993584u, 0xd8f2b687u, 0x0c38d26cu, 0xfe53516fu,
	0xed03a29bu, 0x1f682198u, 0x5125dad3u, 0xa34e59d0u, 0xb01eaa24u, 0x42752927u,
	0x96bf4dccu, 0x64d4cecfu, 0x77843d3bu, 0x85efbe38u, 0xdbfc821cu, 0x2997011fu,
	0x3ac7f2ebu, 0xc8ac71e8u, 0x1c661503u, 0xee0d9600u, 0xfd5d65f4u, 0x0f36e6f7u,
	0x61c69362u, 0x93ad1061u, 0x80fde395u, 0x72966096u, 0xa65c047du, 0x5437877eu,
	0x4767748au, 0xb50cf789u, 0xeb1fcbadu, 0x197448aeu, 0x0a24bb5au, 0xf84f3859u,
	0x2c855cb2u, 0xdeeedfb1u, 0xcdbe2c45u, 0x3fd5af46u, 0x7198540du, 0x83f3d70eu,
	0x90a324fau, 0x62c8a7f9u, 0xb602c312u, 0x44694011u, 0x5739b3e5u, 0xa55230e6u,
	0xfb410cc2u, 0x092a8fc1u, 0x1a7a7c35u, 0xe811ff36u, 0x3cdb9bddu, 0xceb018deu,
	0xdde0eb2au, 0x2f8b6829u, 0x82f63b78u, 0x709db87bu, 0x63cd4b8fu, 0x91a6c88cu,
	0x456cac67u, 0xb7072f64u, 0xa457dc90u, 0x563c5f93u, 0x082f63b7u, 0xfa44e0b4u,
	0xe9141340u, 0x1b7f9043u, 0xcfb5f4a8u, 0x3dde77abu, 0x2e8e845fu, 0xdce5075cu,
	0x92a8fc17u, 0x60c37f14u, 0x73938ce0u, 0x81f80fe3u, 0x55326b08u, 0xa759e80bu,
	0xb4091bffu, 0x466298fcu, 0x1871a4d8u, 0xea1a27dbu, 0xf94ad42fu, 0x0b21572cu,
	0xdfeb33c7u, 0x2d80b0c4u, 0x3ed04330u, 0xccbbc033u, 0xa24bb5a6u, 0x502036a5u,
	0x4370c551u, 0xb11b4652u, 0x65d122b9u, 0x97baa1bau, 0x84ea524eu, 0x7681d14du,
	0x2892ed69u, 0xdaf96e6au, 0xc9a99d9eu, 0x3bc21e9du, 0xef087a76u, 0x1d63f975u,
	0x0e330a81u, 0xfc588982u, 0xb21572c9u, 0x407ef1cau, 0x532e023eu, 0xa145813du,
	0x758fe5d6u, 0x87e466d5u, 0x94b49521u, 0x66df1622u, 0x38cc2a06u, 0xcaa7a905u,
	0xd9f75af1u, 0x2b9cd9f2u, 0xff56bd19u, 0x0d3d3e1au, 0x1e6dcdeeu, 0xec064eedu,
	0xc38d26c4u, 0x31e6a5c7u, 0x22b65633u, 0xd0ddd530u, 0x0417b1dbu, 0xf67c32d8u,
	0xe52cc12cu, 0x1747422fu, 0x49547e0bu, 0xbb3ffd08u, 0xa86f0efcu, 0x5a048dffu,
	0x8ecee914u, 0x7ca56a17u, 0x6ff599e3u, 0x9d9e1ae0u, 0xd3d3e1abu, 0x21b862a8u,
	0x32e8915cu, 0xc083125fu, 0x144976b4u, 0xe622f5b7u, 0xf5720643u, 0x07198540u,
	0x590ab964u, 0xab613a67u, 0xb831c993u, 0x4a5a4a90u, 0x9e902e7bu, 0x6cfbad78u,
	0x7fab5e8cu, 0x8dc0dd8fu, 0xe330a81au, 0x115b2b19u, 0x020bd8edu, 0xf0605beeu,
	0x24aa3f05u, 0xd6c1bc06u, 0xc5914ff2u, 0x37faccf1u, 0x69e9f0d5u, 0x9b8273d6u,
	0x88d28022u, 0x7ab90321u, 0xae7367cau, 0x5c18e4c9u, 0x4f48173du, 0xbd23943eu,
	0xf36e6f75u, 0x0105ec76u, 0x12551f82u, 0xe03e9c81u, 0x34f4f86au, 0xc69f7b69u,
	0xd5cf889du, 0x27a40b9eu, 0x79b737bau, 0x8bdcb4b9u, 0x988c474du, 0x6ae7c44eu,
	0xbe2da0a5u, 0x4c4623a6u, 0x5f16d052u, 0xad7d5351u,
};

static uint32_t crc32c(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;
	while (n--)
		c = crc32c_table[(c ^ *p++) & 0xff] ^ (c >> 8);
	return c ^ 0xffffffffu;
}

static size_t entry_size(const struct node *n, bool live)
{
	size_t s = varint_len(n->key_len) + n->key_len + varint_len(n->idx);
	if (live)
		s += varint_len(n->len) + n->len + varint_len(n->flags) +
		     varint_len(n->create_index);
	return s;
}

static size_t tree_size(const struct node *t, bool live)
{
	size_t s = 0;
	for (; t; t = t->right)
		s += tree_size(t->left, live) + entry_size(t, live);
	return s;
}

static uint8_t *tree_write(const struct node *t, uint8_t *p, bool live)
{
	for (; t; t = t->right) {
		p = tree_write(t->left, p, live);
		p = put_varint(p, t->key_len);
		p = put_bytes(p, t->key, t->key_len);
		if (live) {
			p = put_varint(p, t->len);
			p = put_bytes(p, t->value, t->len);
			p = put_varint(p, t->flags);
			p = put_varint(p, t->create_index);
		}
		p = put_varint(p, t->idx);
	}
	return p;
}

int kv_snapshot(const struct kv *kv, uint8_t **data, size_t *len)
{
	size_t n = SNAP_HEADER + tree_size(kv->live, true) + tree_size(kv->tombs, false) + 4;
	uint8_t *buf = malloc(n);
	if (!buf)
		return -ENOMEM;
	uint8_t *p = put_bytes(buf, SNAP_MAGIC, 4);
	*p++ = SNAP_VERSION;
	p = put_u64(p, kv->applied);
	p = put_u64(p, kv->index);
	p = put_u64(p, kv->floor);
	p = put_u64(p, kv->nlive);
	p = put_u64(p, kv->ntombs);
	p = tree_write(kv->live, p, true);
	p = tree_write(kv->tombs, p, false);
	uint32_t crc = crc32c(buf, (size_t)(p - buf));
	for (int i = 0; i < 4; i++)
		*p++ = (uint8_t)(crc >> (8 * i));
	*data = buf;
	*len = n;
	return 0;
}

/* Reads one entry; keys must come in strictly increasing order after prev. */
static int read_entry(struct reader *r, bool live, const struct node *prev,
                      uint64_t index, struct node **out)
{
	const uint8_t *key, *val = NULL;
	size_t klen, vlen = 0;
	uint64_t flags = 0, create = 0, idx;
	if (get_blob(r, KV_KEY_MAX, &key, &klen) < 0 || !key_ok((const char *)key, klen, false))
		return -EINVAL;
	if (prev && key_cmp((const char *)key, klen, prev->key, prev->key_len) <= 0)
		return -EINVAL;
	if (live && (get_blob(r, KV_VALUE_MAX, &val, &vlen) < 0 ||
	             get_varint(r, &flags) < 0 || get_varint(r, &create) < 0))
		return -EINVAL;
	if (get_varint(r, &idx) < 0 || idx == 0 || idx > index ||
	    (live && (create == 0 || create > idx)))
		return -EINVAL;
	struct node *n = node_new((const char *)key, klen);
	if (!n)
		return -ENOMEM;
	if (vlen) {
		n->value = malloc(vlen);
		if (!n->value) {
			free(n);
			return -ENOMEM;
		}
		memcpy(n->value, val, vlen);
	}
	n->len = vlen;
	n->flags = flags;
	n->create_index = create;
	n->idx = idx;
	*out = n;
	return 0;
}

/* Builds the new contents in tmp; kv itself is only touched on success. */
static int restore_into(struct kv *tmp, const uint8_t *data, size_t len)
{
	struct reader r = { data + 5, len - 5 - 4 };
	uint64_t nlive, ntombs;
	if (get_u64(&r, &tmp->applied) < 0 || get_u64(&r, &tmp->index) < 0 ||
	    get_u64(&r, &tmp->floor) < 0 || get_u64(&r, &nlive) < 0 || get_u64(&r, &ntombs) < 0)
		return -EINVAL;
	/* Counts are checked against the bytes left (an entry takes at least 6,
	 * a tombstone 3) before anything is allocated for them. */
	if (tmp->index > tmp->applied || tmp->floor > tmp->index ||
	    nlive > r.left / 6 || ntombs > r.left / 3 || ntombs > KV_TOMBSTONE_MAX)
		return -EINVAL;
	uint64_t top = tmp->floor;
	struct node *prev = NULL;
	for (uint64_t i = 0; i < nlive; i++) {
		struct node *n;
		int rc = read_entry(&r, true, prev, tmp->index, &n);
		if (rc < 0)
			return rc;
		tmp->live = tree_insert(tmp->live, n);
		tmp->nlive++;
		top = max64(top, n->idx);
		prev = n;
	}
	prev = NULL;
	for (uint64_t i = 0; i < ntombs; i++) {
		struct node *n;
		int rc = read_entry(&r, false, prev, tmp->index, &n);
		if (rc < 0)
			return rc;
		tmp->tombs = tree_insert(tmp->tombs, n);
		tmp->ntombs++;
		top = max64(top, n->idx);
		prev = n;
		if (tree_find(tmp->live, n->key, n->key_len))
			return -EINVAL; /* a key is either live or a tombstone */
	}
	if (r.left != 0 || top != tmp->index)
		return -EINVAL;
	return 0;
}

int kv_restore(struct kv *kv, const uint8_t *data, size_t len)
{
	if (!data || len < SNAP_HEADER + 4 || memcmp(data, SNAP_MAGIC, 4) != 0 ||
	    data[4] != SNAP_VERSION)
		return -EINVAL;
	uint32_t want = 0;
	for (int i = 0; i < 4; i++)
		want |= (uint32_t)data[len - 4 + i] << (8 * i);
	if (crc32c(data, len - 4) != want)
		return -EINVAL;
	struct kv tmp = { 0 };
	int rc = restore_into(&tmp, data, len);
	if (rc < 0) {
		tree_free(tmp.live);
		tree_free(tmp.tombs);
		return rc;
	}
	tree_free(kv->live);
	tree_free(kv->tombs);
	*kv = tmp;
	return 0;
}
