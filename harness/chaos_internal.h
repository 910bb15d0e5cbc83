/*
 * Private to the chaos runner (`harness chaos`): what chaos.c (the command,
 * the run's life cycle and its outputs), chaos_steps.c (steps, faults,
 * targets, the random nemesis and the timed assertions) and chaos_report.c
 * (report.json) share.
 */
#ifndef CC_CHAOS_INTERNAL_H
#define CC_CHAOS_INTERNAL_H

#include <cjson/cJSON.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "harness.h"
#include "history.h"
#include "monitor.h"
#include "scenario.h"
#include "workload.h"

#define CHAOS_POLL_MS 20          /* how often timed assertions look */

enum chaos_pstate { CP_UP, CP_DOWN, CP_PAUSED };

struct chaos {
	struct scenario *s;
	struct run r;
	bool have_run;
	long long t0;                 /* harness_now_ms() at the start */
	double scale;                 /* wait steps and random.for are multiplied by it */
	uint64_t rng;
	char out[512];                /* results directory */
	struct monitor *mon;
	struct history hist;
	struct workload *wl;
	struct workload_cfg wcfg;
	struct workload_target *targets;

	/* what the runner did to each node */
	enum chaos_pstate *pstate;
	long long *pstate_since;      /* ms since t0 */
	bool *link_down;
	int *group;                   /* current partition: group per node, -1 = talks to all */
	bool *blocked;                /* nnodes x nnodes: [from * n + to] */
	long long last_fault_ms;      /* when the last fault was applied or undone */
	long long last_wait_ms;       /* when the last wait step ended */

	/* report material (cJSON arrays) */
	cJSON *process, *faults, *steps, *assertions;
	unsigned nassert, nfailed;
	double leader_ms[512];        /* leader_within: when each leader took office */
	unsigned nleader;
};

/* set by SIGINT/SIGTERM: the steps stop, the run heals and reports */
extern volatile sig_atomic_t chaos_interrupted;

/* ms since the run started */
long long chaos_now(const struct chaos *c);

/* "[  12.3s] text" on stdout, and the step in the report */
__attribute__((format(printf, 2, 3))) void chaos_say(struct chaos *c, const char *fmt, ...);

/* A verdict line and an entry in the report's assertions. */
__attribute__((format(printf, 5, 6))) void chaos_verdict(struct chaos *c, const char *name,
                                                        const char *arg, bool ok,
                                                        const char *fmt, ...);

static inline size_t chaos_nn(const struct chaos *c)
{
	return c->r.t->nnodes;
}

static inline const char *chaos_name(const struct chaos *c, size_t i)
{
	return c->r.t->nodes[i].name;
}

/* chaos_steps.c: the steps, and what the checks share */
void chaos_sleep_ms(long long ms);        /* returns early when interrupted */
bool chaos_is_server(const struct chaos *c, size_t i);
size_t chaos_quorum(const struct chaos *c);   /* of the topology's servers */
ssize_t chaos_node_index(const struct chaos *c, const char *name);
/* a and b can exchange packets, as far as the run's faults go */
bool chaos_connected(const struct chaos *c, size_t a, size_t b);
/* The leader agreed by a quorum now: a running server that says it leads and
 * enough running servers connected to it that name it; -1 when none. */
int chaos_agreed_leader(struct chaos *c);
int chaos_run_steps(struct chaos *c, const struct scn_step *st, size_t n);
/* Undoes every fault the run made: heal, clear, links up, resume, start. */
void chaos_final_heal(struct chaos *c);
/* Waits up to ms for a leader agreed by a quorum of the servers connected to it;
 * its node index or -1. */
int chaos_wait_leader(struct chaos *c, long long ms, long long *at_ms);
void chaos_set_pstate(struct chaos *c, size_t node, enum chaos_pstate st);

/* chaos_checks.c: the timed assertions (docs/scenarios.md) */
void chaos_leader_within(struct chaos *c, const struct scn_step *st);
void chaos_no_leader(struct chaos *c, const struct scn_step *st);
void chaos_steps_down(struct chaos *c, const struct scn_step *st);
void chaos_members_converged(struct chaos *c, const struct scn_step *st);
void chaos_write_ok(struct chaos *c, const struct scn_step *st);

/* chaos_report.c */
/* Whole-run assertion single_leader from the monitor's changes (after
 * monitor_stop). */
void chaos_check_single_leader(struct chaos *c);
/* Adds the monitor's leader periods and term changes, the processes, the
 * operations and stats to a report object and writes report.json. */
int chaos_write_report(struct chaos *c, bool verdict, double check_ms, char *err,
                       size_t errlen);

#endif
