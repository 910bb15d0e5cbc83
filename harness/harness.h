/*
 * The harness program's internals shared by its command files (not a library
 * API: the libraries are netns/, topology, plan, rundir and query).
 */
#ifndef CC_HARNESS_H
#define CC_HARNESS_H

#include <stdbool.h>
#include <sys/types.h>

#include "plan.h"
#include "rundir.h"
#include "topology.h"

/* A topology that is up: its description, plan, journal and namespaces. */
struct run {
	char name[64];
	struct topology *t;
	struct plan p;
	struct journal j;
	int fabric_fd;       /* -1 when the namespace is gone */
	int *node_fd;        /* per node; -1 when the namespace is gone */
};

/* Opens the run of topology `name` (NULL: the only one that is up). */
int run_open(const char *name, struct run *r, char *err, size_t errlen);
void run_close(struct run *r);

/* Finds a node by name in the run, or prints an error and returns -1. */
ssize_t run_node(const struct run *r, const char *node);

/* Writes the node's config (conclave), spawns its daemon in its namespace and
 * journals the process before it runs. */
int node_start(struct run *r, size_t i, char *err, size_t errlen);

/* The node's process if it is still the one we started (pid and start time
 * match) and has not exited (a zombie counts as exited), else 0. */
pid_t node_pid(const struct run *r, size_t i);

/* "running", "paused", "exited" or "stopped" (stopped on purpose). */
const char *node_state(const struct run *r, size_t i);

/* Sends sig to the node's process; with wait_ms > 0, waits for it to exit and
 * sends SIGKILL when that time runs out. Journals "stopped" when it exits. */
int node_signal(struct run *r, size_t i, int sig, int wait_ms, char *err, size_t errlen);

/* Commands. */
int cmd_up(int argc, char **argv);
int cmd_down(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_chaos(int argc, char **argv);   /* chaos.c */

long long harness_now_ms(void);
bool harness_is_root(void);

#endif
