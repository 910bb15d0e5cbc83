/* Opening a running topology and supervising its nodes' processes. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "netns.h"

long long harness_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

bool harness_is_root(void)
{
	return geteuid() == 0;
}

int run_open(const char *name, struct run *r, char *err, size_t errlen)
{
	memset(r, 0, sizeof(*r));
	r->fabric_fd = -1;
	if (!name) {
		char(*names)[64];
		size_t n = rundir_list(&names);
		if (n != 1) {
			if (n == 0)
				snprintf(err, errlen, "no topology is up (start one with: harness up FILE)");
			else
				snprintf(err, errlen, "%zu topologies are up (%s, %s%s): name one with -t NAME",
				         n, names[0], names[1], n > 2 ? ", ..." : "");
			free(names);
			return -1;
		}
		snprintf(r->name, sizeof(r->name), "%s", names[0]);
		free(names);
	} else {
		snprintf(r->name, sizeof(r->name), "%s", name);
	}
	char path[RUNDIR_PATH_MAX];
	rundir_path(r->name, "topology.yaml", path, sizeof(path));
	if (journal_read(r->name, &r->j)) {
		snprintf(err, errlen, "topology \"%s\" is not up", r->name);
		return -1;
	}
	if (topology_load_file(path, &r->t, err, errlen) ||
	    plan_build(r->t, &r->p, err, errlen)) {
		run_close(r);
		return -1;
	}
	r->node_fd = calloc(r->t->nnodes, sizeof(int));
	if (!r->node_fd) {
		snprintf(err, errlen, "out of memory");
		run_close(r);
		return -1;
	}
	struct netns_err e;
	if (netns_open(r->p.fabric_ns, &r->fabric_fd, &e))
		r->fabric_fd = -1;
	for (size_t i = 0; i < r->t->nnodes; i++)
		if (netns_open(r->p.node_ns[i], &r->node_fd[i], &e))
			r->node_fd[i] = -1;
	return 0;
}

void run_close(struct run *r)
{
	if (r->node_fd && r->t)
		for (size_t i = 0; i < r->t->nnodes; i++)
			if (r->node_fd[i] >= 0)
				close(r->node_fd[i]);
	free(r->node_fd);
	if (r->fabric_fd >= 0)
		close(r->fabric_fd);
	if (r->t)
		plan_free(&r->p);
	topology_free(r->t);
	journal_free(&r->j);
	memset(r, 0, sizeof(*r));
	r->fabric_fd = -1;
}

ssize_t run_node(const struct run *r, const char *node)
{
	for (size_t i = 0; i < r->t->nnodes; i++)
		if (strcmp(r->t->nodes[i].name, node) == 0)
			return (ssize_t)i;
	fprintf(stderr, "harness: topology \"%s\" has no node \"%s\"\n", r->name, node);
	return -1;
}

int node_start(struct run *r, size_t i, char *err, size_t errlen)
{
	const struct topo_node *n = &r->t->nodes[i];
	if (node_pid(r, i)) {
		snprintf(err, errlen, "node %s is already running", n->name);
		return -1;
	}
	if (r->node_fd[i] < 0) {
		snprintf(err, errlen, "node %s: namespace %s is gone", n->name, r->p.node_ns[i]);
		return -1;
	}
	char dir[RUNDIR_PATH_MAX], data[RUNDIR_PATH_MAX], cfg[RUNDIR_PATH_MAX], log[RUNDIR_PATH_MAX];
	char rel[64];
	snprintf(rel, sizeof(rel), "nodes/%s", n->name);
	rundir_path(r->name, rel, dir, sizeof(dir));
	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(cfg, sizeof(cfg), "%s/config.json", dir);
	snprintf(log, sizeof(log), "%s/output.log", dir);
	if ((mkdir(dir, 0755) && errno != EEXIST) || (mkdir(data, 0700) && errno != EEXIST)) {
		snprintf(err, errlen, "node %s: cannot create %s: %s", n->name, data, strerror(errno));
		return -1;
	}
	if (n->kind == TOPO_KIND_CONCLAVE) {
		char *json = plan_node_config(r->t, n, data);
		FILE *f = json ? fopen(cfg, "we") : NULL;
		if (!f || fputs(json, f) < 0 || fputc('\n', f) < 0 || fclose(f)) {
			snprintf(err, errlen, "node %s: cannot write %s", n->name, cfg);
			free(json);
			return -1;
		}
		free(json);
	}
	char **argv = plan_node_argv(r->t, n, cfg, data);
	int out = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (!argv || out < 0) {
		snprintf(err, errlen, "node %s: cannot prepare its command or %s", n->name, log);
		plan_argv_free(argv);
		if (out >= 0)
			close(out);
		return -1;
	}
	struct netns_spawn s = { .nsfd = r->node_fd[i], .argv = argv, .stdout_fd = out,
		                 .cwd = dir, .detach = true };
	pid_t pid;
	int gate;
	struct netns_err e;
	int rc = netns_spawn(&s, &pid, &gate, &e);
	plan_argv_free(argv);
	close(out);
	if (rc) {
		snprintf(err, errlen, "node %s: %s", n->name, e.msg);
		return -1;
	}
	char line[128];
	snprintf(line, sizeof(line), "proc %s %d %llu\n", n->name, (int)pid,
	         netns_proc_starttime(pid));
	if (journal_append(r->name, line)) {
		netns_spawn_release(gate, false);
		snprintf(err, errlen, "node %s: cannot write the journal", n->name);
		return -1;
	}
	netns_spawn_release(gate, true);
	journal_free(&r->j);
	journal_read(r->name, &r->j);
	rundir_event(r->name, "start %s pid %d", n->name, (int)pid);
	return 0;
}

pid_t node_pid(const struct run *r, size_t i)
{
	const struct journal_proc *p = journal_proc_of(&r->j, r->t->nodes[i].name);
	if (!p || p->pid <= 0)
		return 0;
	return netns_proc_running(p->pid, p->starttime) ? p->pid : 0;
}

const char *node_state(const struct run *r, size_t i)
{
	pid_t pid = node_pid(r, i);
	char st = pid ? netns_proc_state(pid) : 0;
	if (st && st != 'Z' && st != 'X')
		return st == 'T' || st == 't' ? "paused" : "running";
	const struct journal_proc *p = journal_proc_of(&r->j, r->t->nodes[i].name);
	return p && p->stopped ? "stopped" : "exited";
}

int node_signal(struct run *r, size_t i, int sig, int wait_ms, char *err, size_t errlen)
{
	const char *name = r->t->nodes[i].name;
	pid_t pid = node_pid(r, i);
	if (!pid) {
		snprintf(err, errlen, "node %s is not running", name);
		return -1;
	}
	if (kill(pid, sig)) {
		snprintf(err, errlen, "node %s: kill %d: %s", name, (int)pid, strerror(errno));
		return -1;
	}
	if (wait_ms <= 0)
		return 0;
	long long deadline = harness_now_ms() + wait_ms;
	bool killed = sig == SIGKILL;
	while (node_pid(r, i)) {
		if (!netns_proc_running(pid, netns_proc_starttime(pid)))
			break;
		if (harness_now_ms() >= deadline) {
			if (killed) {
				snprintf(err, errlen, "node %s: process %d does not die", name, (int)pid);
				return -1;
			}
			kill(pid, SIGKILL);
			killed = true;
			deadline = harness_now_ms() + 5000;
		}
		struct timespec ts = { 0, 20 * 1000000 };
		nanosleep(&ts, NULL);
	}
	char line[64];
	snprintf(line, sizeof(line), "stopped %s\n", name);
	journal_append(r->name, line);
	journal_free(&r->j);
	journal_read(r->name, &r->j);
	return 0;
}
