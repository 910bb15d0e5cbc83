/* Private to the fault library (fault.c, fault_apply.c). */
#ifndef CC_FAULT_INTERNAL_H
#define CC_FAULT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "fault.h"

/* The wanted state, kept in <run dir>/faults:
 *   gen N
 *   block FROM TO
 *   node NODE LOSS DELAY JITTER REORDER DUP RATE
 *   peer NODE PEER LOSS DELAY JITTER REORDER DUP     (-1: follow the node's) */
struct pk {
	int loss, delay, jitter, reorder, dup; /* -1: unset (peer overrides only) */
	long long rate;
};

struct ovr {
	size_t node, peer;
	struct pk p;
};

struct state {
	long gen;
	bool *blk;       /* n*n: blk[from*n+to] */
	struct pk *np;   /* node-wide, n entries */
	struct ovr *ovr;
	size_t novr;
	size_t n;
	int lockfd;
};

extern const struct pk PK_ZERO;

int fault__fail(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void fault__sleep_ms(int ms);

bool pk_active(const struct pk *p);

/* Locks (flock, held until state_free) and reads the state. */
int state_load(struct run *r, struct state *s, char *err, size_t errlen);
void state_free(struct state *s);
struct ovr *ovr_get(struct state *s, size_t node, size_t peer, bool create);

/* What node `from` does to packets for `to`; *own_queue: the pair has a
 * delayer queue of its own. */
struct pk effective(const struct state *s, size_t from, size_t to, bool *own_queue);

/* Loads the state, lets `change` edit a copy, saves it with the next
 * generation and makes every namespace match it (redo_all: whatever the old
 * state said). Returns 0 or -errno with err. */
typedef int (*change_fn)(struct run *r, struct state *s, void *arg, char *err, size_t errlen);
int transact(struct run *r, change_fn change, void *arg, bool redo_all, char *err,
             size_t errlen);

#endif
