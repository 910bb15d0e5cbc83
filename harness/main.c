/* `harness`: network-namespace topologies with real daemons inside. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fault.h"
#include "harness.h"
#include "lincheck.h"
#include "netns.h"
#include "plan.h"
#include "report.h"

static const char usage[] =
	"Usage: harness <command> [args]\n"
	"\n"
	"Topologies:\n"
	"    up FILE [--network-only] [--timeout=S]   build the topology, start its daemons, wait\n"
	"    status [NAME] [--json]                  nodes, processes, leader and members as seen by each\n"
	"    down [NAME | --all]                     remove everything a topology made\n"
	"\n"
	"Chaos experiments (docs/scenarios.md):\n"
	"    chaos SCENARIO [--topology=FILE] [--scale=F] [--seed=N] [--out=DIR] [--name=NAME] [--keep]\n"
	"                                            bring the topology up, run the steps and the\n"
	"                                            workload, print a verdict per assertion, write\n"
	"                                            report.json/report.html, take it down\n"
	"    check HISTORY.json [--timeout=S] [--json]   is a recorded history linearizable?\n"
	"    report RUNDIR|report.json [-o OUT.html]      (re)write a run's report.html\n"
	"\n"
	"Nodes (add -t NAME before the command when several topologies are up):\n"
	"    exec NODE -- CMD...                     run a command inside the node's namespace\n"
	"    logs NODE [-f]                          the daemon's output\n"
	"    kill|stop|start|restart NODE            SIGKILL, SIGTERM, start again, stop+start\n"
	"    pause|resume NODE                       SIGSTOP, SIGCONT\n"
	"    link down|up NODE                       take the node's link to its network down or up\n"
	"\n"
	"Network faults (drops happen at the receiver; see harness/fault.h):\n"
	"    partition N[,N...] '|' N[,N...] [...]   groups that cannot talk to each other; nodes\n"
	"                                            not named still talk to everyone (a bridge)\n"
	"    block FROM TO                           drop packets from FROM to TO (one way)\n"
	"    heal                                    remove every partition and block\n"
	"    loss NODE PCT [--to PEER]               drop PCT% of the packets NODE sends\n"
	"    delay NODE MS [JITTER_MS] [--to PEER]   delay the packets NODE sends\n"
	"    reorder NODE PCT [--to PEER]            PCT% of NODE's packets overtake the delayed ones\n"
	"    dup NODE PCT [--to PEER]                duplicate PCT% of the packets NODE sends\n"
	"    rate NODE RATE|off                      limit NODE's sending rate (1mbit, 500kbit, ...)\n"
	"    clear [NODE]                            remove NODE's packet faults (no NODE: every fault)\n"
	"    faults                                  list the active network faults\n";

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
	int rc = fault_process(&r, (size_t)i, verb, err, sizeof(err));
	if (rc)
		fprintf(stderr, "harness: %s\n", err);
	else
		printf("harness: %s %s: %s (pid %d)\n", verb, r.t->nodes[i].name,
		       node_state(&r, (size_t)i), (int)node_pid(&r, (size_t)i));
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
	char err[1024];
	int rc = fault_link(&r, (size_t)i, up, err, sizeof(err));
	if (rc)
		fprintf(stderr, "harness: %s\n", err);
	else
		printf("harness: link of %s is %s\n", r.t->nodes[i].name, up ? "up" : "down");
	run_close(&r);
	return rc ? 1 : 0;
}

/* ---- network faults ---- */

static int open_run(const char *topo, struct run *r)
{
	char err[TOPO_ERR_MAX + 256];
	if (need_root())
		return 1;
	if (run_open(topo, r, err, sizeof(err))) {
		fprintf(stderr, "harness: %s\n", err);
		return 1;
	}
	return 0;
}

/* A node named on the command line; prints why not and returns -1. */
static ssize_t arg_node(const struct run *r, const char *name, const char *what)
{
	for (size_t i = 0; i < r->t->nnodes; i++)
		if (strcmp(r->t->nodes[i].name, name) == 0)
			return (ssize_t)i;
	fprintf(stderr, "harness: %s: topology \"%s\" has no node \"%s\"\n", what, r->name, name);
	return -1;
}

/* "20", "20%", "150ms": a whole number in [0, max] with an optional suffix. */
static int arg_int(const char *s, const char *suffix, int max, int *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || v < 0 || v > max || (*end && strcmp(end, suffix)))
		return -1;
	*out = (int)v;
	return 0;
}

static int cmd_partition(const char *topo, int argc, char **argv)
{
	if (argc < 1) {
		fprintf(stderr, "usage: harness partition NODE[,NODE...] '|' NODE[,NODE...] [...]\n");
		return 2;
	}
	struct run r;
	if (open_run(topo, &r))
		return 1;
	int *group = malloc(r.t->nnodes * sizeof(int));
	int rc = group ? 0 : 1, g = 0, groups = 0, in_group = 0;
	for (size_t i = 0; group && i < r.t->nnodes; i++)
		group[i] = FAULT_ALL;
	/* the words, split on '|', ',' and spaces: "a,b | c" = "a,b" "|" "c" = "a b|c" */
	for (int a = 0; rc == 0 && a < argc; a++) {
		for (const char *p = argv[a]; rc == 0 && *p;) {
			if (*p == '|') {
				g += in_group > 0;
				in_group = 0;
				p++;
				continue;
			}
			if (*p == ',' || *p == ' ') {
				p++;
				continue;
			}
			size_t len = strcspn(p, "|, ");
			char name[64];
			snprintf(name, sizeof(name), "%.*s", (int)(len < 63 ? len : 63), p);
			p += len;
			ssize_t i = arg_node(&r, name, "partition");
			if (i < 0) {
				rc = 2;
			} else if (group[i] != FAULT_ALL) {
				fprintf(stderr, "harness: partition: node %s is named twice\n", name);
				rc = 2;
			} else {
				group[i] = g;
				groups += in_group++ == 0;
			}
		}
	}
	if (rc == 0 && groups < 2) {
		fprintf(stderr, "harness: partition: give at least two groups of nodes separated by "
		                "'|' (e.g. harness partition a,b '|' c)\n");
		rc = 2;
	}
	char err[1024];
	if (rc == 0 && fault_partition(&r, group, err, sizeof(err))) {
		fprintf(stderr, "harness: %s\n", err);
		rc = 1;
	}
	if (rc == 0)
		printf("harness: partitioned %s into %d groups\n", r.name, groups);
	free(group);
	run_close(&r);
	return rc;
}

static int cmd_block(const char *topo, int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: harness block FROM TO\n");
		return 2;
	}
	struct run r;
	if (open_run(topo, &r))
		return 1;
	ssize_t a = arg_node(&r, argv[0], "block"), b = a < 0 ? -1 : arg_node(&r, argv[1], "block");
	int rc = a < 0 || b < 0 ? 2 : 0;
	char err[1024];
	if (rc == 0 && a == b) {
		fprintf(stderr, "harness: block: FROM and TO are the same node (%s)\n", argv[0]);
		rc = 2;
	} else if (rc == 0 && fault_block(&r, (size_t)a, (size_t)b, err, sizeof(err))) {
		fprintf(stderr, "harness: %s\n", err);
		rc = 1;
	} else if (rc == 0) {
		printf("harness: packets from %s to %s are dropped\n", argv[0], argv[1]);
	}
	run_close(&r);
	return rc;
}

/* loss, delay, reorder, dup, rate, clear, heal, faults */
static int cmd_packet(const char *topo, const char *cmd, int argc, char **argv)
{
	static const struct {
		const char *cmd, *usage;
		int min, max;
	} u[] = {
		{ "loss", "loss NODE PCT [--to PEER]", 2, 2 },
		{ "delay", "delay NODE MS [JITTER_MS] [--to PEER]", 2, 3 },
		{ "reorder", "reorder NODE PCT [--to PEER]", 2, 2 },
		{ "dup", "dup NODE PCT [--to PEER]", 2, 2 },
		{ "rate", "rate NODE RATE|off (e.g. 1mbit, 500kbit)", 2, 2 },
		{ "clear", "clear [NODE]", 0, 1 },
		{ "heal", "heal", 0, 0 },
		{ "faults", "faults", 0, 0 },
	};
	size_t k = 0;
	while (strcmp(u[k].cmd, cmd))
		k++;
	const char *to = NULL;
	char *pos[3];
	int npos = 0;
	bool bad = false;
	for (int a = 0; a < argc; a++) {
		if (strcmp(argv[a], "--to") == 0 && a + 1 < argc && k < 4 && !to)
			to = argv[++a];
		else if (argv[a][0] == '-' && argv[a][1] && !isdigit((unsigned char)argv[a][1]))
			bad = true;
		else if (npos < u[k].max)
			pos[npos++] = argv[a];
		else
			bad = true;
	}
	if (bad || npos < u[k].min) {
		fprintf(stderr, "usage: harness %s\n", u[k].usage);
		return 2;
	}
	struct fault_packet p;
	fault_packet_keep(&p);
	int v = 0, v2 = 0;
	const char *what = NULL, *arg = npos > 1 ? pos[1] : "";
	if (k == 0 || k == 2 || k == 3) {
		if (arg_int(pos[1], "%", 100, &v))
			what = "PCT must be a whole percentage from 0 to 100";
		*(k == 0 ? &p.loss_pct : k == 2 ? &p.reorder_pct : &p.dup_pct) = v;
	} else if (k == 1) {
		if (arg_int(pos[1], "ms", 60000, &v))
			what = "MS must be whole milliseconds from 0 to 60000";
		else if (npos > 2 && arg_int((arg = pos[2]), "ms", 60000, &v2))
			what = "JITTER_MS must be whole milliseconds from 0 to 60000";
		p.delay_ms = v;
		p.jitter_ms = v2;
	} else if (k == 4) {
		if (strcmp(pos[1], "off") == 0)
			p.rate_bps = 0;
		else if (fault_parse_rate(pos[1], &p.rate_bps))
			what = "RATE must look like 1mbit, 500kbit, 2gbit or 100000 (bit/s), or be off";
	}
	if (what) {
		fprintf(stderr, "harness: %s: %s (got \"%s\")\n", cmd, what, arg);
		return 2;
	}
	struct run r;
	if (open_run(topo, &r))
		return 1;
	ssize_t node = FAULT_ALL, peer = FAULT_ALL;
	int rc = 0;
	if (npos && (node = arg_node(&r, pos[0], cmd)) < 0)
		rc = 2;
	else if (to && (peer = arg_node(&r, to, "--to")) < 0)
		rc = 2;
	if (rc == 0 && to && peer == node) {
		fprintf(stderr, "harness: %s: --to names the node itself (%s)\n", cmd, to);
		rc = 2;
	}
	char err[1024];
	if (rc == 0) {
		int frc = k == 7   ? 0
		          : k == 6 ? fault_heal(&r, err, sizeof(err))
		          : k == 5 ? (npos ? fault_packet_clear(&r, node, err, sizeof(err))
		                           : fault_clear_all(&r, err, sizeof(err)))
		                   : fault_packet_set(&r, (size_t)node, peer, &p, err, sizeof(err));
		if (frc) {
			fprintf(stderr, "harness: %s\n", err);
			rc = 1;
		} else if (k == 7) {
			char buf[8192];
			int n = fault_describe(&r, buf, sizeof(buf));
			printf("topology %s: %d active network fault%s\n%s", r.name, n, n == 1 ? "" : "s",
			       buf);
		} else {
			printf("harness: %s", cmd);
			for (int a = 0; a < npos; a++)
				printf(" %s", pos[a]);
			printf("%s%s: done\n", to ? " to " : "", to ? to : "");
		}
	}
	run_close(&r);
	return rc;
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
	if (strcmp(cmd, "chaos") == 0)
		return cmd_chaos(rest, rv);
	if (strcmp(cmd, "check") == 0)
		return cmd_check(rest + 1, rv - 1);   /* it reads its options from argv[1] on */
	if (strcmp(cmd, "report") == 0)
		return cmd_report(rest, rv);
	if (strcmp(cmd, "exec") == 0)
		return cmd_exec(topo, rest, rv);
	if (strcmp(cmd, "logs") == 0)
		return cmd_logs(topo, rest, rv);
	if (strcmp(cmd, "link") == 0)
		return cmd_link(topo, rest, rv);
	if (strcmp(cmd, "partition") == 0)
		return cmd_partition(topo, rest, rv);
	if (strcmp(cmd, "block") == 0)
		return cmd_block(topo, rest, rv);
	const char *packet[] = { "loss", "delay", "reorder", "dup", "rate", "clear", "heal", "faults" };
	for (size_t i = 0; i < sizeof(packet) / sizeof(packet[0]); i++)
		if (strcmp(cmd, packet[i]) == 0)
			return cmd_packet(topo, cmd, rest, rv);
	const char *procs[] = { "kill", "stop", "start", "restart", "pause", "resume" };
	for (size_t i = 0; i < sizeof(procs) / sizeof(procs[0]); i++)
		if (strcmp(cmd, procs[i]) == 0)
			return cmd_process(topo, cmd, rest, rv);
	fprintf(stderr, "harness: unknown command \"%s\"\n\n%s", cmd, usage);
	return 2;
}
