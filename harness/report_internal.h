/*
 * report internals shared by report.c (validation, the page, the CLI) and
 * report_svg.c (the timeline and latency charts). Not an API: see report.h.
 * All strings are borrowed from the cJSON tree the report was read from.
 */
#ifndef CC_REPORT_INTERNAL_H
#define CC_REPORT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <cjson/cJSON.h>

enum rep_state { REP_UP, REP_DOWN, REP_PAUSED };
enum rep_class { REP_OK, REP_FAIL, REP_INFO };

struct rep_node {
	const char *name, *addr;
	bool server;
};

/* A process-state or leader period on one lane. */
struct rep_span {
	size_t lane;
	double from, to;
	enum rep_state state;   /* process periods */
	double term;            /* leader periods; NAN when absent */
};

struct rep_mark {
	size_t lane;
	double at, term;
};

struct rep_fault {
	const char *kind, *target, *text;
	double from, to;
	bool open;              /* no to_ms: until the end */
	bool all;               /* drawn across all lanes */
	bool *lanes;            /* nnodes flags when !all (malloc'd) */
};

struct rep_step {
	double at;
	const char *text;
};

struct rep_op {
	double process;
	const char *node, *f, *key, *result;
	const cJSON *value;
	enum rep_class cls;
	double invoke, complete;
	bool done;              /* has complete_ms */
	size_t row;             /* index into report.rows */
};

struct report {
	const char *scenario, *file, *topology, *started;
	const cJSON *seed;
	double duration;
	bool verdict;
	struct rep_node *nodes;
	size_t nnodes;
	struct rep_span *process, *leader;
	size_t nprocess, nleader;
	struct rep_mark *terms;
	size_t nterms;
	struct rep_fault *faults;
	size_t nfaults;
	struct rep_step *steps;
	size_t nsteps;
	struct rep_op *ops;
	size_t nops;
	double *rows;           /* distinct client process ids, ascending */
	size_t nrows;
	const cJSON *assertions, *stats;
};

/* HTML/SVG text: escapes & < > " ' and drops control characters; with
 * max > 0, cuts after max characters (UTF-8 aware) and adds an ellipsis. */
void rep_esc(FILE *f, const char *s, size_t max);
/* A time in ms as seconds: "12.345 s". */
void rep_secs(FILE *f, double ms);
/* An operation's value: the string itself, else its JSON form. */
void rep_value(FILE *f, const cJSON *v);

const char *rep_fault_colour(const char *kind);
extern const char *const rep_state_colour[3];
extern const char *const rep_class_colour[3];
extern const char *const rep_class_name[3];
#define REP_LEADER_COLOUR "#1a56db"
#define REP_PASS_COLOUR "#1e8e3e"
#define REP_FAIL_COLOUR "#d93025"

/* The charts (report_svg.c). */
void rep_svg_timeline(FILE *f, const struct report *r, bool aggregate, double bucket_ms);
void rep_svg_latency(FILE *f, const struct report *r, bool aggregate, double bucket_ms);

#endif
