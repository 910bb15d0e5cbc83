/* `harness`: network-namespace topologies with real daemons inside. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "netns.h"
#include "plan.h"

static const char usage[] =
	"Usage: harness <command> [args]\n"
	"\n"
	"Topologies:\n"
	"    up FILE [--network-only] [--timeout=S]   build the topology, start its daemons, wait\n"
	"    status [NAME] [--json]                  nodes, processes, leader and members as seen by each\n"
	"    down [NAME | --all]                     remove everything a topology made\n"
	"\n"
	"Nodes (add -t NAME before the command when several topologies are up):\n"
	"    exec NODE -- CMD...                     run a command inside the node's namespace\n"
	"    logs NODE [-f]                          the daemon's output\n"
	"    kill|stop|start|restart NODE            SIGKILL, SIGTERM, start again, stop+start\n"
	"    pause|resume NODE                       SIGSTOP, SIGCONT\n"
	"    link down|up NODE                       take the node's link to its network down or up\n";

static int need_root(void)
{
	if (harness_is_root())
		return 0;
	fprintf(stderr, "harness: this needs root (or CAP_NET_ADMIN and CAP_SYS_ADMIN): run it "
	                "with sudo\n");
	return 1;
}

static int open_node(const char *topo, const char *node, struct run *r, ssize_t *idx)
{
	char err[TOPO_ERR_MAX + 256];
	if (run_open(topo, r, err, sizeof(err))) {
		fprintf(stderr, "harness: %s\n", err);
		return 1;
	}
	if ((*idx = run_node(r, node)) < 0) {
		run_close(r);
		return 1;
	}
	return 0;
}

static int cmd_exec(const char *topo, int argc, char **argv)
{
	if (argc < 3 || strcmp(argv[1], "--") != 0) {
		fprintf(stderr, "usage: harness exec NODE -- CMD [ARGS...]\n");
		return 2;
	}
	struct run r;
	ssize_t i;
	if (need_root() || open_node(topo, argv[0], &r, &i))
		return 1;
	const struct topo_node *n = &r.t->nodes[i];
	struct netns_err e;
	if (r.node_fd[i] < 0 || netns_enter(r.node_fd[i], &e)) {
		fprintf(stderr, "harness: cannot enter the namespace of %s\n", n->name);
		run_close(&r);
		return 1;
	}
	/* conclave's CLI finds the node's HTTP API (which listens on the node's
	 * address, as in the seed) through this variable. */
	int port = plan_node_http_port(n);
	if (port > 0 && n->nifaces) {
		char ip[16], url[64];
		snprintf(url, sizeof(url), "http://%s:%d", topo_ip_str(n->ifaces[0].addr, ip), port);
		setenv("CONCLAVE_HTTP_ADDR", url, 1);
	}
	run_close(&r);
	execvp(argv[2], argv + 2);
	fprintf(stderr, "harness: cannot run %s: %s\n", argv[2], strerror(errno));
	return 127;
}

static volatile sig_atomic_t stop_following;

static void on_sigint(int sig)
{
	stop_following = 1;
}

static int cmd_logs(const char *topo, int argc, char **argv)
{
	if (argc < 1) {
		fprintf(stderr, "usage: harness logs NODE [-f]\n");
		return 2;
	}
	bool follow = argc > 1 && strcmp(argv[1], "-f") == 0;
	struct run r;
	ssize_t i;
	if (open_node(topo, argv[0], &r, &i))
		return 1;
	char rel[64], path[RUNDIR_PATH_MAX];
	snprintf(rel, sizeof(rel), "nodes/%s/output.log", r.t->nodes[i].name);
	rundir_path(r.name, rel, path, sizeof(path));
	run_close(&r);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "harness: %s: %s\n", path, strerror(errno));
		return 1;
	}
	signal(SIGINT, on_sigint);
	char buf[65536];
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n > 0) {
			fwrite(buf, 1, (size_t)n, stdout);
			continue;
		}
		if (!follow || stop_following)
			break;
		fflush(stdout);
		struct timespec ts = { 0, 200 * 1000000 };
		nanosleep(&ts, NULL);
	}
	close(fd);
	return 0;
}

static int cmd_process(const char *topo, const char *verb, int argc, char **argv)
{
	if (argc < 1) {
		fprintf(stderr, "usage: harness %s NODE\n", verb);
		return 2;
	}
	struct run r;
	ssize_t i;
	if (need_root() || open_node(topo, argv[0], &r, &i))
		return 1;
	char err[512];
	int rc = 0;
	const char *name = r.t->nodes[i].name;
	if (strcmp(verb, "kill") == 0)
		rc = node_signal(&r, (size_t)i, SIGKILL, 5000, err, sizeof(err));
	else if (strcmp(verb, "stop") == 0)
		rc = node_signal(&r, (size_t)i, SIGTERM, 15000, err, sizeof(err));
	else if (strcmp(verb, "pause") == 0)
		rc = node_signal(&r, (size_t)i, SIGSTOP, 0, err, sizeof(err));
	else if (strcmp(verb, "resume") == 0)
		rc = node_signal(&r, (size_t)i, SIGCONT, 0, err, sizeof(err));
	else if (strcmp(verb, "start") == 0)
		rc = node_start(&r, (size_t)i, err, sizeof(err));
	else if (strcmp(verb, "restart") == 0) {
		if (node_pid(&r, (size_t)i))
			rc = node_signal(&r, (size_t)i, SIGTERM, 15000, err, sizeof(err));
		if (rc == 0)
			rc = node_start(&r, (size_t)i, err, sizeof(err));
	}
	if (rc) {
		fprintf(stderr, "harness: %s\n", err);
	} else {
		if (strcmp(verb, "start") && strcmp(verb, "restart"))
			rundir_event(r.name, "%s %s", verb, name);
		printf("harness: %s %s: %s (pid %d)\n", verb, name, node_state(&r, (size_t)i),
		       (int)node_pid(&r, (size_t)i));
	}
	run_close(&r);
	return rc ? 1 : 0;
}

static int cmd_link(const char *topo, int argc, char **argv)
{
	if (argc < 2 || (strcmp(argv[0], "down") && strcmp(argv[0], "up"))) {
		fprintf(stderr, "usage: harness link down|up NODE\n");
		return 2;
	}
	bool up = strcmp(argv[0], "up") == 0;
	struct run r;
	ssize_t i;
	if (need_root() || open_node(topo, argv[1], &r, &i))
		return 1;
	struct netns_nl *nl;
	struct netns_err e;
	int rc = r.fabric_fd < 0 ? -ENOENT : netns_nl_open(r.fabric_fd, &nl, &e);
	if (rc) {
		fprintf(stderr, "harness: cannot open the fabric namespace %s\n", r.p.fabric_ns);
		run_close(&r);
		return 1;
	}
	size_t idx[TOPO_MAX_NETWORKS];
	size_t n = plan_node_veths(&r.p, (size_t)i, idx, TOPO_MAX_NETWORKS);
	for (size_t k = 0; rc == 0 && k < n; k++) {
		char label[128];
		snprintf(label, sizeof(label), "link %s in %s", r.p.veths[idx[k]].fabric_if,
		         r.p.fabric_ns);
		rc = netns_link_set_up(nl, r.p.veths[idx[k]].fabric_ifindex, up, label, &e);
	}
	if (rc == 0)
		rc = netns_nl_flush(nl, false, NULL, &e);
	netns_nl_close(nl);
	if (rc)
		fprintf(stderr, "harness: %s\n", e.msg);
	else {
		rundir_event(r.name, "link %s %s", argv[0], r.t->nodes[i].name);
		printf("harness: link of %s is %s\n", r.t->nodes[i].name, up ? "up" : "down");
	}
	run_close(&r);
	return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
	const char *topo = NULL;
	int a = 1;
	if (a + 1 < argc && (strcmp(argv[a], "-t") == 0 || strcmp(argv[a], "--topology") == 0)) {
		topo = argv[a + 1];
		a += 2;
	}
	if (a >= argc || strcmp(argv[a], "-h") == 0 || strcmp(argv[a], "--help") == 0 ||
	    strcmp(argv[a], "help") == 0) {
		fputs(usage, a >= argc ? stderr : stdout);
		return a >= argc ? 2 : 0;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	const char *cmd = argv[a];
	int rest = argc - a - 1;
	char **rv = argv + a + 1;
	if (strcmp(cmd, "up") == 0)
		return cmd_up(rest, rv);
	if (strcmp(cmd, "down") == 0)
		return cmd_down(rest, rv);
	if (strcmp(cmd, "status") == 0) {
		if (need_root())
			return 1;
		return topo && rest == 0 ? cmd_status(1, (char *[]){ (char *)topo }) : cmd_status(rest, rv);
	}
	if (strcmp(cmd, "exec") == 0)
		return cmd_exec(topo, rest, rv);
	if (strcmp(cmd, "logs") == 0)
		return cmd_logs(topo, rest, rv);
	if (strcmp(cmd, "link") == 0)
		return cmd_link(topo, rest, rv);
	const char *procs[] = { "kill", "stop", "start", "restart", "pause", "resume" };
	for (size_t i = 0; i < sizeof(procs) / sizeof(procs[0]); i++)
		if (strcmp(cmd, procs[i]) == 0)
			return cmd_process(topo, cmd, rest, rv);
	fprintf(stderr, "harness: unknown command \"%s\"\n\n%s", cmd, usage);
	return 2;
}
