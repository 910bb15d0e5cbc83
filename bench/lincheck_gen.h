/*
 * lincheck_gen — realistic register histories for testing and benchmarking
 * the linearizability checker (tests/unit/harness/test_lincheck.c,
 * bench/lincheck.c). Header-only, deterministic for a seed.
 *
 * It simulates a correct register store: client processes (one op
 * outstanding each) invoke operations with random latencies; each operation
 * that takes effect does so at a random instant (its linearization point)
 * inside its interval, and the register is applied in that order, so read
 * results and cas outcomes are those of a real linearizable store. Some ops
 * are info (timed out: they took effect, possibly after the client gave up,
 * or never) and some fail (did not happen: refused writes, cas on a value
 * the key did not hold). Every written value is unique.
 */
#ifndef CC_LINCHECK_GEN_H
#define CC_LINCHECK_GEN_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "history.h"

struct gen_params {
	int clients, keys;
	size_t ops;
	uint64_t seed;
	double p_read, p_cas;     /* the rest are writes */
	double p_info, p_fail;    /* of all ops; half the info ones take effect */
	int64_t mean_latency_ns;  /* the op's interval; think time is 1/4 of it */
};

static inline struct gen_params gen_defaults(uint64_t seed)
{
	return (struct gen_params){ .clients = 10, .keys = 10, .ops = 10000, .seed = seed,
		                    .p_read = 0.5, .p_cas = 0.2, .p_info = 0.03, .p_fail = 0.02,
		                    .mean_latency_ns = 5000000 };
}

static inline uint64_t gen_rand(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static inline double gen_unif(uint64_t *s)
{
	return (double)(gen_rand(s) >> 11) / 9007199254740992.0;
}

struct gen_op {
	int64_t lin;          /* when it takes effect; -1 never */
	size_t id;            /* index in the history */
	int key;
};

static inline int gen_lin_cmp(const void *a, const void *b)
{
	const struct gen_op *x = a, *y = b;
	return x->lin < y->lin ? -1 : x->lin > y->lin;
}

/* Appends p->ops operations to h (initialised, normally empty).
 * 0, or -1 when out of memory. */
static inline int gen_history(struct history *h, const struct gen_params *p)
{
	uint64_t rs = p->seed * 0x2545f4914f6cdd1dull + 1;
	int64_t *next = calloc((size_t)p->clients, sizeof(*next));
	struct gen_op *g = calloc(p->ops + 1, sizeof(*g));
	int64_t *state = malloc((size_t)p->keys * sizeof(*state));
	if (!next || !g || !state) {
		free(next);
		free(g);
		free(state);
		return -1;
	}
	for (int k = 0; k < p->keys; k++)
		state[k] = HIST_NIL;
	for (int c = 0; c < p->clients; c++)
		next[c] = (int64_t)(gen_unif(&rs) * (double)p->mean_latency_ns);
	int64_t value = 0;
	double mean = (double)p->mean_latency_ns;
	/* pass 1: who does what when (outcomes do not change timing) */
	for (size_t i = 0; i < p->ops; i++) {
		int c = 0;
		for (int j = 1; j < p->clients; j++)
			if (next[j] < next[c])
				c = j;
		int key = (int)(gen_rand(&rs) % (uint64_t)p->keys);
		char name[16];
		snprintf(name, sizeof(name), "k%d", key);
		double r = gen_unif(&rs);
		enum hist_f f = r < p->p_read ? HIST_READ : r < p->p_read + p->p_cas ? HIST_CAS
		                                                                      : HIST_WRITE;
		int64_t inv = next[c];
		int64_t lat = (int64_t)(mean * (0.2 + 1.6 * gen_unif(&rs)));
		int64_t v = f == HIST_READ ? HIST_NIL : ++value;
		long id = hist_invoke(h, c, f, name, f == HIST_WRITE ? v : HIST_NIL, HIST_NIL,
		                      f == HIST_CAS ? v : HIST_NIL, "n1", inv);
		if (id < 0)
			return -1;
		double o = gen_unif(&rs);
		enum hist_result res = o < p->p_info ? HIST_INFO
		                       : o < p->p_info + p->p_fail ? HIST_FAIL : HIST_OK;
		g[i] = (struct gen_op){ .lin = inv + (int64_t)(gen_unif(&rs) * (double)lat),
			                .id = (size_t)id, .key = key };
		if (res == HIST_INFO) {
			/* gave up after 4 latencies; it takes effect within 6 (so maybe
			 * after the client gave up) or never */
			int64_t d = 4 * lat;
			g[i].lin = gen_unif(&rs) < 0.5 ? inv + (int64_t)(gen_unif(&rs) * 6 * (double)lat)
			                               : -1;
			lat = d;
		} else if (res == HIST_FAIL) {
			g[i].lin = -1;
		}
		h->ops[id].result = res;   /* completed below, once outcomes are known */
		h->ops[id].complete_ns = inv + lat;
		next[c] = inv + lat + (int64_t)(mean / 4 * gen_unif(&rs)) + 1;
	}
	/* pass 2: apply in linearization order */
	qsort(g, p->ops, sizeof(*g), gen_lin_cmp);
	for (size_t i = 0; i < p->ops; i++) {
		struct hist_op *op = &h->ops[g[i].id];
		int64_t *st = &state[g[i].key];
		if (g[i].lin < 0) {
			if (op->f == HIST_CAS)   /* never happened: any expectation */
				op->cas_old = gen_unif(&rs) < 0.5 ? *st : -1;
			continue;
		}
		switch (op->f) {
		case HIST_READ:
			if (op->result == HIST_OK)
				op->value = *st;
			break;
		case HIST_WRITE:
			*st = op->value;
			break;
		case HIST_CAS:
			if (op->result == HIST_INFO || gen_unif(&rs) < 0.7) {
				op->cas_old = *st;
				*st = op->cas_new;
			} else {
				op->cas_old = *st == HIST_NIL ? 0 : -*st;   /* a wrong guess */
				op->result = HIST_FAIL;
			}
			break;
		}
	}
	for (size_t i = 0; i < h->n; i++)
		if (h->ops[i].result == HIST_FAIL && h->ops[i].f == HIST_CAS)
			snprintf(h->ops[i].error, sizeof(h->ops[i].error), "cas failed");
		else if (h->ops[i].result == HIST_INFO)
			snprintf(h->ops[i].error, sizeof(h->ops[i].error), "timeout");
	free(next);
	free(g);
	free(state);
	return 0;
}

/* Makes one ok read stale: it now returns the value of an ok write w1 that
 * was overwritten by an ok write w2 completed before the read began (w1
 * completed before w2 began), which no linearization allows. Returns the
 * read's index, or -1 when the history has no such read. */
static inline long gen_stale_read(struct history *h, uint64_t seed)
{
	uint64_t rs = seed;
	size_t start = h->n ? (size_t)(gen_rand(&rs) % h->n) : 0;
	for (size_t t = 0; t < h->n; t++) {
		size_t r = (start + t) % h->n;
		struct hist_op *rd = &h->ops[r];
		if (rd->f != HIST_READ || rd->result != HIST_OK)
			continue;
		/* w2: the latest ok write/cas of the key completed before the read */
		long w2 = -1, w1 = -1;
		for (size_t j = 0; j < h->n; j++) {
			const struct hist_op *o = &h->ops[j];
			if (o->f != HIST_READ && o->result == HIST_OK && !strcmp(o->key, rd->key) &&
			    o->complete_ns < rd->invoke_ns && (w2 < 0 || o->complete_ns >
			                                       h->ops[w2].complete_ns))
				w2 = (long)j;
		}
		if (w2 < 0)
			continue;
		for (size_t j = 0; j < h->n; j++) {
			const struct hist_op *o = &h->ops[j];
			if (o->f != HIST_READ && o->result == HIST_OK && !strcmp(o->key, rd->key) &&
			    o->complete_ns < h->ops[w2].invoke_ns)
				w1 = (long)j;
		}
		if (w1 < 0)
			continue;
		const struct hist_op *o = &h->ops[w1];
		int64_t v = o->f == HIST_CAS ? o->cas_new : o->value;
		if (v == rd->value)
			continue;
		rd->value = v;
		return (long)r;
	}
	return -1;
}

#endif
