/*
 * rundir — a topology's run directory and its journal.
 *
 * /run/conclave-harness/<topology>/   (CONCLAVE_HARNESS_DIR overrides the root)
 *   journal            what was made, one line per object, written and fsync'd
 *                      *before* the object is made:  ns NAME | link NS IFNAME |
 *                      proc NODE PID STARTTIME | stopped NODE |
 *                      aux NODE PID STARTTIME (a helper process of a node,
 *                      e.g. its packet delayer; `down` kills every one still
 *                      running, checked by start time)
 *   topology.yaml      the topology as it was brought up
 *   events.log         faults and actions with timestamps
 *   nodes/NAME/        config.json, data/, output.log (stdout+stderr)
 *
 * `down` replays the journal, so it removes everything even after the harness
 * or a daemon was killed in the middle of `up`.
 */
#ifndef CC_RUNDIR_H
#define CC_RUNDIR_H

#include <stddef.h>
#include <sys/types.h>

#define RUNDIR_PATH_MAX 512

struct journal_link {
	char ns[64];
	char ifname[16];
};

struct journal_proc {
	char node[16];
	pid_t pid;
	unsigned long long starttime;
	int stopped;            /* a later "stopped NODE" line */
};

struct journal {
	char (*ns)[64];
	size_t nns;
	struct journal_link *links;
	size_t nlinks;
	struct journal_proc *procs; /* latest per node */
	size_t nprocs;
	struct journal_proc *aux;   /* every aux line, in journal order */
	size_t naux;
};

const char *rundir_root(void);

/* root/<topology>, and root/<topology>/<rel> when rel is not NULL. */
void rundir_path(const char *topo, const char *rel, char *out, size_t cap);

/* Creates root/<topology>/nodes. Returns 0 or -errno. */
int rundir_create(const char *topo);

/* Removes the whole run directory. */
int rundir_remove(const char *topo);

/* Names of topologies with a journal (that is, up or partly up). Returns the
 * count; names is malloc'd (free it). */
size_t rundir_list(char (**names)[64]);

/* Appends lines (each ending in '\n') to the journal and fsyncs it. */
int journal_append(const char *topo, const char *lines);

/* Reads the journal. Returns 0, -ENOENT when there is none, or -errno. */
int journal_read(const char *topo, struct journal *j);
void journal_free(struct journal *j);

/* The latest process entry for a node, or NULL. */
const struct journal_proc *journal_proc_of(const struct journal *j, const char *node);

/* The latest aux entry for a node, or NULL. */
const struct journal_proc *journal_aux_of(const struct journal *j, const char *node);

/* Appends "<ISO time> <text>" to events.log. */
void rundir_event(const char *topo, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
