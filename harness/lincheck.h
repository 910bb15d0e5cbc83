/*
 * lincheck — is a history of register operations linearizable?
 *
 * The model is Jepsen/Knossos' cas-register, one independent register per key
 * (P-compositionality: a history is linearizable iff each key's
 * sub-history is, so every key is checked alone). Every register starts as
 * nil (HIST_NIL, "the key does not exist").
 *   write(k, v)          sets k to v (v may be HIST_NIL: a delete)
 *   read(k) -> v         legal iff k holds v now
 *   cas(k, old, new)     legal iff k holds old (old may be HIST_NIL:
 *                        create-if-absent); sets k to new
 * Results, as Jepsen means them:
 *   ok    the operation took effect at one instant within [invoke, complete]
 *   fail  it did not take effect: dropped (a cas answered false is a fail)
 *   info  unknown: it took effect at one instant after its invocation, or
 *         never (its completion is taken as +infinity). An info read tells
 *         nothing and is dropped; so is an info write or cas whose new value
 *         nobody ever observes (no ok read returns it and no cas expects it),
 *         since such an operation can always be taken as never having happened.
 *   pending (never completed) is treated as info.
 * Real time: a precedes b iff a completed strictly before b was invoked
 * (equal timestamps are taken as concurrent, which never invents a violation).
 *
 * Algorithm: Wing & Gong's search with Lowe's improvements, as Porcupine does
 * it: the key's calls and returns in one doubly linked list sorted by time,
 * ops linearized by lifting them out of the list and backtracked by
 * re-inserting them, a stack of (op, state before it), and a cache of the
 * configurations already explored (the set of linearized ops as a bitset plus
 * the register value) to prune; a cached bitset keeps only its window between
 * the first word not all ones and the last word not zero (exact, a few words).
 * Info operations return after everything else, so the search succeeds as soon
 * as every ok operation is placed. A read that is legal where it is placed
 * gets no alternatives on backtracking (it changes nothing, and nothing left
 * had to precede it, so if the rest fails after it, it fails without it).
 * Worst case exponential in the number of concurrent operations, hence the
 * timeout, and a 1 GiB bound on the cache per key (past it: timed_out).
 *
 * Thread safety: lin_check reads h without taking h->mu: do not record into h
 * while it runs. Separate calls share nothing.
 */
#ifndef CC_LINCHECK_H
#define CC_LINCHECK_H

#include <stdbool.h>
#include <stddef.h>

#include "history.h"

struct lin_key_result {
	char key[HIST_KEY_MAX];
	bool ok;            /* this key's sub-history is linearizable */
	bool timed_out;     /* the time limit ran out first (or before the key's
	                     * turn), or the search outgrew its memory bound:
	                     * neither ok nor a violation */
	size_t nops;        /* operations of this key in the history, any result */
	double ms;          /* time spent on this key */
	/* For a violation: the operation that could not be linearized, the
	 * longest linearizable prefix found, what the register held there and
	 * why the operation does not fit. For a timeout, how far the search got. */
	char why[256];
};

struct lin_result {
	bool ok;            /* every key is linearizable */
	bool timed_out;     /* some key timed out (ok is then false; bad_keys
	                     * may still be > 0: a violation found is final) */
	size_t nkeys, bad_keys;
	struct lin_key_result *keys;   /* nkeys, sorted by key; owned by the
	                                * result: lin_result_free */
	double ms;          /* the whole check */
};

/* Decides whether h is linearizable (see above). timeout_ms bounds the whole
 * check (0: no limit); keys left when it runs out are timed_out. Keys are
 * checked smallest first so a limit decides as many as it can.
 * Returns 0 with *out filled (free it with lin_result_free), or -ENOMEM with
 * err set and *out empty (nothing to free, freeing is harmless). */
int lin_check(const struct history *h, unsigned timeout_ms, struct lin_result *out, char *err,
              size_t errlen);

/* Frees what lin_check allocated in r and empties it. */
void lin_result_free(struct lin_result *r);

/* `harness check HISTORY.json [--timeout=S] [--json]` (argv[0] = "check"):
 * reads a Jepsen-style JSON history (history.h), checks it, prints the bad
 * keys and a summary (or one JSON object with --json). --timeout=S in
 * seconds, fractions allowed, 0 = no limit; default 300. Returns the exit
 * code: 0 linearizable, 1 not, 2 bad usage or input (the message names the
 * file, the event and the field), 3 unknown (timed out, or out of memory). */
int cmd_check(int argc, char **argv);

#endif
