/* Linearizability of a register-per-key history: Wing & Gong / Lowe, as Porcupine does it. */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lincheck.h"

/* The cache of explored configurations may not grow beyond this (per key):
 * past it the key is given up as unknown rather than exhausting memory. */
#define CACHE_MAX_BYTES ((size_t)1 << 30)
#define NO_RET INT64_MAX

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* One operation of a key, as the search sees it. */
struct lop {
	int64_t call, ret;   /* ret NO_RET: info (may never have happened) */
	int64_t value;       /* read: value read; write: value written */
	int64_t old, new;    /* cas */
	enum hist_f f;
	const struct hist_op *src;
};

/* The list of calls and returns; index 2m is the head sentinel. */
struct node {
	int prev, next, match, id;
	bool call;
};

/* A set of linearized ops is kept as the window of its bitset between the
 * first word that is not all ones (every op below is linearized) and the last
 * word that is not zero: exact, and a few words even for huge keys. */
struct cache {
	uint32_t *table;     /* entry index + 1; 0 = empty */
	size_t tcap;
	struct centry {
		uint64_t hash;
		int64_t state;
		size_t off;          /* its window in words */
		uint32_t lo, len;
	} *ents;
	size_t n, cap;
	uint64_t *words;
	size_t nwords, wcap;
};

struct search {
	struct lop *ops;
	int m;
	struct node *nodes;
	int head;
	uint64_t *bits, *best_bits;
	int *stack_entry;
	int64_t *stack_state;
	bool *stack_read;   /* the op placed there is a read */
	struct cache c;
	/* where the search got furthest: depth, the op it could not place there,
	 * the register value and the last op placed */
	int best_depth, fail_id, last_id;
	int64_t fail_state;
	size_t configs;
};

static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static void cache_free(struct cache *c)
{
	free(c->table);
	free(c->ents);
	free(c->words);
}

/* Adds (bits[lo, lo + len), state) unless present. 1 added, 0 present,
 * -ENOMEM, -E2BIG when the cache would outgrow CACHE_MAX_BYTES. */
static int cache_add(struct cache *c, const uint64_t *bits, size_t lo, size_t len, int64_t state,
                     uint64_t hash)
{
	if (2 * (c->n + 1) > c->tcap) {
		size_t tcap = c->tcap ? c->tcap * 2 : 1024;
		uint32_t *t = calloc(tcap, sizeof(*t));
		if (!t)
			return -ENOMEM;
		for (size_t i = 0; i < c->n; i++) {
			size_t j = c->ents[i].hash & (tcap - 1);
			while (t[j])
				j = (j + 1) & (tcap - 1);
			t[j] = (uint32_t)(i + 1);
		}
		free(c->table);
		c->table = t;
		c->tcap = tcap;
	}
	size_t j = hash & (c->tcap - 1);
	for (; c->table[j]; j = (j + 1) & (c->tcap - 1)) {
		const struct centry *e = &c->ents[c->table[j] - 1];
		if (e->hash == hash && e->state == state && e->lo == lo && e->len == len &&
		    memcmp(c->words + e->off, bits + lo, len * 8) == 0)
			return 0;
	}
	size_t bytes = c->cap * sizeof(struct centry) + c->wcap * 8 + c->tcap * 4;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 1024;
		if (bytes + cap / 2 * sizeof(struct centry) > CACHE_MAX_BYTES || cap >= UINT32_MAX)
			return -E2BIG;
		struct centry *e = realloc(c->ents, cap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		c->ents = e;
		c->cap = cap;
	}
	if (c->nwords + len > c->wcap) {
		size_t wcap = c->wcap ? c->wcap * 2 : 4096;
		while (wcap < c->nwords + len)
			wcap *= 2;
		if (bytes + (wcap - c->wcap) * 8 > CACHE_MAX_BYTES)
			return -E2BIG;
		uint64_t *w = realloc(c->words, wcap * 8);
		if (!w)
			return -ENOMEM;
		c->words = w;
		c->wcap = wcap;
	}
	c->ents[c->n] = (struct centry){ hash, state, c->nwords, (uint32_t)lo, (uint32_t)len };
	memcpy(c->words + c->nwords, bits + lo, len * 8);
	c->nwords += len;
	c->table[j] = (uint32_t)++c->n;
	return 1;
}

/* The register's transition: false when op cannot happen in state. */
static bool step(int64_t state, const struct lop *op, int64_t *next)
{
	switch (op->f) {
	case HIST_READ:
		*next = state;
		return state == op->value;
	case HIST_WRITE:
		*next = op->value;
		return true;
	case HIST_CAS:
		*next = op->new;
		return state == op->old;
	}
	return false;
}

static void lift(struct node *n, int e)
{
	int m = n[e].match;
	n[n[e].prev].next = n[e].next;
	if (n[e].next >= 0)
		n[n[e].next].prev = n[e].prev;
	n[n[m].prev].next = n[m].next;
	if (n[m].next >= 0)
		n[n[m].next].prev = n[m].prev;
}

static void unlift(struct node *n, int e)
{
	int m = n[e].match;
	n[n[m].prev].next = m;
	if (n[m].next >= 0)
		n[n[m].next].prev = m;
	n[n[e].prev].next = e;
	if (n[e].next >= 0)
		n[n[e].next].prev = e;
}

struct ev {
	int64_t time;
	int id;
	bool call, info_ret;
};

static int ev_cmp(const void *a, const void *b)
{
	const struct ev *x = a, *y = b;
	if (x->info_ret != y->info_ret)
		return x->info_ret ? 1 : -1;   /* info returns after everything */
	if (x->time != y->time)
		return x->time < y->time ? -1 : 1;
	if (x->call != y->call)
		return x->call ? -1 : 1;       /* equal times: concurrent */
	return x->id - y->id;
}

static int build_list(struct search *s)
{
	int m = s->m;
	struct ev *ev = malloc((size_t)(2 * m + 1) * sizeof(*ev));
	s->nodes = malloc((size_t)(2 * m + 1) * sizeof(*s->nodes));
	if (!ev || !s->nodes) {
		free(ev);
		return -ENOMEM;
	}
	for (int i = 0; i < m; i++) {
		ev[2 * i] = (struct ev){ s->ops[i].call, i, true, false };
		ev[2 * i + 1] = (struct ev){ s->ops[i].ret, i, false, s->ops[i].ret == NO_RET };
	}
	qsort(ev, (size_t)(2 * m), sizeof(*ev), ev_cmp);
	int *call_at = malloc((size_t)(m + 1) * sizeof(int));
	if (!call_at) {
		free(ev);
		return -ENOMEM;
	}
	s->head = 2 * m;
	for (int i = 0; i < 2 * m; i++) {
		s->nodes[i] = (struct node){ .prev = i ? i - 1 : s->head,
			                     .next = i + 1 < 2 * m ? i + 1 : -1,
			                     .id = ev[i].id,
			                     .call = ev[i].call };
		if (ev[i].call) {
			call_at[ev[i].id] = i;
		} else {
			s->nodes[i].match = call_at[ev[i].id];
			s->nodes[call_at[ev[i].id]].match = i;
		}
	}
	s->nodes[s->head] = (struct node){ .prev = -1, .next = m ? 0 : -1, .id = -1 };
	free(call_at);
	free(ev);
	return 0;
}

/* Runs the search. 1 linearizable, 0 not, 2 out of time, 3 cache too big, -ENOMEM. */
static int search(struct search *s, int64_t deadline)
{
	size_t w = ((size_t)s->m + 63) / 64;
	s->bits = calloc(w + 1, 8);
	s->best_bits = calloc(w + 1, 8);
	s->stack_entry = malloc((size_t)s->m * sizeof(int) + 1);
	s->stack_state = malloc((size_t)s->m * sizeof(int64_t) + 1);
	s->stack_read = malloc((size_t)s->m + 1);
	if (!s->bits || !s->best_bits || !s->stack_entry || !s->stack_state || !s->stack_read)
		return -ENOMEM;
	struct node *n = s->nodes;
	int64_t state = HIST_NIL;
	uint64_t set_hash = 0;
	size_t lo = 0, hi = 0;   /* the window of bits that cache entries keep */
	int sp = 0;
	unsigned long iter = 0;
	s->best_depth = -1;
	s->fail_id = 0;
	s->last_id = -1;
	s->fail_state = HIST_NIL;
	int entry = n[s->head].next;
	while (n[s->head].next >= 0) {
		if ((++iter & 0xfff) == 0 && deadline && now_ns() > deadline)
			return 2;
		const struct node *e = &n[entry];
		const struct lop *op = &s->ops[e->id];
		if (e->call) {
			int64_t next;
			if (step(state, op, &next)) {
				uint64_t id_hash = mix((uint64_t)e->id);
				size_t wi = (size_t)e->id / 64, lo0 = lo, hi0 = hi;
				s->bits[wi] |= 1ull << (e->id % 64);
				if (wi + 1 > hi)
					hi = wi + 1;
				while (lo < hi && s->bits[lo] == ~0ull)
					lo++;
				int rc = cache_add(&s->c, s->bits, lo, hi - lo, next,
				                   set_hash ^ id_hash ^ mix((uint64_t)next ^ 0x5bd1e995));
				if (rc == -ENOMEM)
					return -ENOMEM;
				if (rc == -E2BIG)
					return 3;
				if (rc == 1) {
					s->configs++;
					s->stack_entry[sp] = entry;
					s->stack_read[sp] = op->f == HIST_READ;
					s->stack_state[sp++] = state;
					state = next;
					set_hash ^= id_hash;
					lift(n, entry);
					entry = n[s->head].next;
					continue;
				}
				s->bits[wi] &= ~(1ull << (e->id % 64));
				lo = lo0;
				hi = hi0;
				if (op->f != HIST_READ) {
					entry = e->next;
					continue;
				}
				/* placing this read next was explored and failed: so does
				 * this configuration (see below) */
			} else {
				entry = e->next;
				continue;
			}
		} else if (op->ret == NO_RET) {
			return 1;   /* every ok op is placed; the info ones left never happened */
		} else if (sp > s->best_depth) {
			s->best_depth = sp;
			s->fail_id = e->id;
			s->fail_state = state;
			s->last_id = sp ? n[s->stack_entry[sp - 1]].id : -1;
			memcpy(s->best_bits, s->bits, w * 8);
		}
		/* Backtrack. A read that was legal when placed needs no
		 * alternatives: it changes nothing and, being callable, no op left
		 * had to precede it, so any linearization of the rest can be
		 * rearranged to start with it. If everything after it failed, the
		 * configuration before it fails too: keep popping. */
		bool was_read;
		do {
			if (sp == 0)
				return 0;
			entry = s->stack_entry[--sp];
			was_read = s->stack_read[sp];
			state = s->stack_state[sp];
			int id = n[entry].id;
			size_t wi = (size_t)id / 64;
			s->bits[wi] &= ~(1ull << (id % 64));
			if (wi < lo)
				lo = wi;
			while (hi > lo && s->bits[hi - 1] == 0)
				hi--;
			set_hash ^= mix((uint64_t)id);
			unlift(n, entry);
		} while (was_read);
		entry = n[entry].next;
	}
	return 1;
}

/* ---- explaining ---- */

static const char *val_str(int64_t v, char *buf, size_t len)
{
	if (v == HIST_NIL)
		snprintf(buf, len, "nil");
	else
		snprintf(buf, len, "%lld", (long long)v);
	return buf;
}

static void describe(const struct hist_op *op, char *buf, size_t len)
{
	char a[24], b[24];
	switch (op->f) {
	case HIST_READ:
		snprintf(buf, len, "read %s -> %s", op->key, val_str(op->value, a, sizeof(a)));
		break;
	case HIST_WRITE:
		snprintf(buf, len, "write %s %s", op->key, val_str(op->value, a, sizeof(a)));
		break;
	case HIST_CAS:
		snprintf(buf, len, "cas %s %s->%s", op->key, val_str(op->cas_old, a, sizeof(a)),
		         val_str(op->cas_new, b, sizeof(b)));
		break;
	}
	if (op->result != HIST_OK) {
		size_t k = strlen(buf);
		snprintf(buf + k, len - k, " (%s)", op->result == HIST_FAIL ? "fail" : "info");
	}
}

/* Which operations of the key write v: 0 none, 1 only failed ones, 2 some
 * that may have happened. */
static int written_by(const struct history *h, const size_t *idx, size_t n, int64_t v)
{
	int w = 0;
	for (size_t i = 0; i < n; i++) {
		const struct hist_op *o = &h->ops[idx[i]];
		if ((o->f == HIST_WRITE && o->value == v) || (o->f == HIST_CAS && o->cas_new == v))
			w = o->result == HIST_FAIL ? (w ? w : 1) : 2;
		if (w == 2)
			break;
	}
	return w;
}

static void explain(const struct search *s, const struct history *h, const size_t *idx,
                    size_t nidx, char *why, size_t len)
{
	const struct lop *x = &s->ops[s->fail_id];
	char what[160], last[160], cur[24], want[24];
	describe(x->src, what, sizeof(what));
	if (s->last_id >= 0) {
		const struct hist_op *l = s->ops[s->last_id].src;
		describe(l, last, sizeof(last));
		size_t k = strlen(last);
		snprintf(last + k, sizeof(last) - k, " by process %d", l->process);
	} else {
		snprintf(last, sizeof(last), "nothing");
	}
	int conc = 0;
	for (int j = 0; j < s->m; j++) {
		const struct lop *o = &s->ops[j];
		if (j == s->fail_id || o->f == HIST_READ || (s->best_bits[j / 64] >> (j % 64) & 1))
			continue;
		if (!(o->ret < x->call) && !(x->ret < o->call))
			conc++;
	}
	int64_t need = x->f == HIST_CAS ? x->old : x->value;
	int k = snprintf(why, len, "%s by process %d at %.3f s: ", what, x->src->process,
	                 (double)x->src->invoke_ns / 1e9);
	if (k < 0 || (size_t)k >= len)
		return;
	why += k;
	len -= (size_t)k;
	val_str(need, want, sizeof(want));
	int w = need == HIST_NIL ? 2 : written_by(h, idx, nidx, need);
	if (w < 2) {
		snprintf(why, len, "%s was %s%s%s (the longest linearizable prefix, %d of %d ops, "
		                   "last %s, leaves %s = %s)", want, w ? "written to " : "never written to ",
		         x->src->key, w ? " only by failed operations" : "", s->best_depth, s->m, last,
		         x->src->key, val_str(s->fail_state, cur, sizeof(cur)));
		return;
	}
	k = snprintf(why, len, "the longest linearizable prefix (%d of %d ops, last %s) leaves "
	                       "%s = %s", s->best_depth, s->m, last, x->src->key,
	             val_str(s->fail_state, cur, sizeof(cur)));
	if (k < 0 || (size_t)k >= len)
		return;
	if (conc == 0)
		snprintf(why + k, len - (size_t)k, " and no write concurrent with it can make it %s",
		         want);
	else
		snprintf(why + k, len - (size_t)k, "; no order of the %d write%s concurrent with it "
		                                   "yields %s", conc, conc == 1 ? "" : "s", want);
}

/* ---- one key ---- */

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

/* Checks the key whose operations are h->ops[idx[0..n)]. 0 or -ENOMEM. */
static int check_key(const struct history *h, const size_t *idx, size_t n, int64_t deadline,
                     struct lin_key_result *res)
{
	struct search s = { 0 };
	int64_t *seen = malloc((n + 1) * sizeof(*seen));
	s.ops = malloc((n + 1) * sizeof(*s.ops));
	int rc = -ENOMEM;
	if (!seen || !s.ops || n > INT_MAX / 4)
		goto out;
	/* values somebody observed: an info write of anything else may be dropped */
	size_t nseen = 0;
	for (size_t i = 0; i < n; i++) {
		const struct hist_op *o = &h->ops[idx[i]];
		if (o->f == HIST_READ && o->result == HIST_OK)
			seen[nseen++] = o->value;
		else if (o->f == HIST_CAS && o->result != HIST_FAIL)
			seen[nseen++] = o->cas_old;
	}
	qsort(seen, nseen, sizeof(*seen), cmp_i64);
	for (size_t i = 0; i < n; i++) {
		const struct hist_op *o = &h->ops[idx[i]];
		bool ok = o->result == HIST_OK;
		if (o->result == HIST_FAIL || (o->f == HIST_READ && !ok))
			continue;
		int64_t nv = o->f == HIST_CAS ? o->cas_new : o->value;
		if (!ok && !bsearch(&nv, seen, nseen, sizeof(*seen), cmp_i64))
			continue;
		s.ops[s.m++] = (struct lop){ .call = o->invoke_ns, .ret = ok ? o->complete_ns : NO_RET,
			                     .value = o->value, .old = o->cas_old, .new = o->cas_new,
			                     .f = o->f, .src = o };
	}
	if ((rc = build_list(&s)))
		goto out;
	rc = search(&s, deadline);
	if (rc < 0)
		goto out;
	res->ok = rc == 1;
	res->timed_out = rc >= 2;
	if (rc == 0)
		explain(&s, h, idx, n, res->why, sizeof(res->why));
	else if (rc >= 2)
		snprintf(res->why, sizeof(res->why), "%s after %zu configurations; the longest "
		                                     "linearizable prefix so far has %d of %d ops",
		         rc == 2 ? "time limit reached" : "gave up (search cache over 1 GiB)",
		         s.configs, s.best_depth < 0 ? 0 : s.best_depth, s.m);
	rc = 0;
out:
	free(seen);
	free(s.ops);
	free(s.nodes);
	free(s.bits);
	free(s.best_bits);
	free(s.stack_entry);
	free(s.stack_state);
	free(s.stack_read);
	cache_free(&s.c);
	return rc;
}

/* ---- the whole history ---- */

struct kidx {
	const char *key;
	size_t i;
};

static int kidx_cmp(const void *a, const void *b)
{
	const struct kidx *x = a, *y = b;
	int c = strcmp(x->key, y->key);
	return c ? c : (x->i > y->i) - (x->i < y->i);
}

struct group {
	size_t start, n, res;
};

static int group_size_cmp(const void *a, const void *b)
{
	const struct group *x = a, *y = b;
	if (x->n != y->n)
		return x->n < y->n ? -1 : 1;
	return (x->res > y->res) - (x->res < y->res);
}

int lin_check(const struct history *h, unsigned timeout_ms, struct lin_result *out, char *err,
              size_t errlen)
{
	memset(out, 0, sizeof(*out));
	int64_t start = now_ns();
	int64_t deadline = timeout_ms ? start + (int64_t)timeout_ms * 1000000 : 0;
	struct kidx *k = malloc((h->n + 1) * sizeof(*k));
	size_t *idx = malloc((h->n + 1) * sizeof(*idx));
	struct group *g = malloc((h->n + 1) * sizeof(*g));
	int rc = -ENOMEM;
	if (!k || !idx || !g)
		goto out;
	for (size_t i = 0; i < h->n; i++)
		k[i] = (struct kidx){ h->ops[i].key, i };
	qsort(k, h->n, sizeof(*k), kidx_cmp);
	size_t ng = 0;
	for (size_t i = 0; i < h->n; i++) {
		idx[i] = k[i].i;
		if (i == 0 || strcmp(k[i].key, k[i - 1].key) != 0) {
			g[ng] = (struct group){ i, 0, ng };
			ng++;
		}
		g[ng - 1].n++;
	}
	out->keys = calloc(ng + 1, sizeof(*out->keys));
	if (!out->keys)
		goto out;
	out->nkeys = ng;
	for (size_t i = 0; i < ng; i++) {
		struct lin_key_result *r = &out->keys[i];
		snprintf(r->key, sizeof(r->key), "%s", h->ops[idx[g[i].start]].key);
		r->nops = g[i].n;
	}
	qsort(g, ng, sizeof(*g), group_size_cmp);
	for (size_t i = 0; i < ng; i++) {
		struct lin_key_result *r = &out->keys[g[i].res];
		int64_t t0 = now_ns();
		if (deadline && t0 > deadline) {
			r->timed_out = true;
			snprintf(r->why, sizeof(r->why), "not checked: the time limit ran out first");
			continue;
		}
		if ((rc = check_key(h, idx + g[i].start, g[i].n, deadline, r)))
			goto out;
		r->ms = (double)(now_ns() - t0) / 1e6;
		if (r->timed_out)
			out->timed_out = true;
		else if (!r->ok)
			out->bad_keys++;
	}
	out->ok = !out->timed_out && out->bad_keys == 0;
	out->ms = (double)(now_ns() - start) / 1e6;
	rc = 0;
out:
	if (rc) {
		snprintf(err, errlen, "linearizability check: out of memory");
		lin_result_free(out);
	}
	free(k);
	free(idx);
	free(g);
	return rc;
}

void lin_result_free(struct lin_result *r)
{
	free(r->keys);
	memset(r, 0, sizeof(*r));
}
