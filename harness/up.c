/* harness up, down and status. */
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
#include "netns.h"
#include "query.h"

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static int copy_file(const char *from, const char *to)
{
	FILE *in = fopen(from, "re");
	FILE *out = in ? fopen(to, "we") : NULL;
	int rc = in && out ? 0 : -1;
	char buf[8192];
	size_t n;
	while (rc == 0 && (n = fread(buf, 1, sizeof(buf), in)) > 0)
		if (fwrite(buf, 1, n, out) != n)
			rc = -1;
	if (in)
		fclose(in);
	if (out && fclose(out))
		rc = -1;
	return rc;
}

/* Everything `up` will make, journaled before any of it exists. */
static int journal_plan(const struct topology *t, const struct plan *p)
{
	size_t cap = 256 + (t->nnodes + p->nbridges + p->nveths) * 160;
	char *buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	size_t o = 0;
	o += (size_t)snprintf(buf + o, cap - o, "ns %s\n", p->fabric_ns);
	for (size_t i = 0; i < t->nnodes; i++)
		o += (size_t)snprintf(buf + o, cap - o, "ns %s\n", p->node_ns[i]);
	for (size_t i = 0; i < p->nbridges; i++)
		o += (size_t)snprintf(buf + o, cap - o, "link %s %s\n", p->fabric_ns, p->bridges[i].name);
	for (size_t i = 0; i < p->nveths; i++)
		o += (size_t)snprintf(buf + o, cap - o, "link %s %s\n", p->fabric_ns,
		                      p->veths[i].fabric_if);
	int rc = journal_append(t->name, buf);
	free(buf);
	return rc;
}

struct net_times {
	double ns_ms, links_ms, addrs_ms, total_ms;
};

static double ms_since(struct timespec *a)
{
	struct timespec b;
	clock_gettime(CLOCK_MONOTONIC, &b);
	return (double)(b.tv_sec - a->tv_sec) * 1e3 + (double)(b.tv_nsec - a->tv_nsec) / 1e6;
}

/* Builds namespaces, bridges, veths and addresses. */
static int build_network(const struct topology *t, const struct plan *p, struct net_times *tm,
                         char *err, size_t errlen)
{
	struct netns_err e;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int rc = netns_create(p->fabric_ns, &e);
	for (size_t i = 0; rc == 0 && i < t->nnodes; i++)
		rc = netns_create(p->node_ns[i], &e);
	if (rc) {
		snprintf(err, errlen, "%s", e.msg);
		return rc;
	}
	tm->ns_ms = ms_since(&t0);

	clock_gettime(CLOCK_MONOTONIC, &t1);
	int fabric_fd = -1;
	int *fds = calloc(t->nnodes, sizeof(int));
	struct netns_nl *fabric = NULL, **nls = calloc(t->nnodes, sizeof(*nls));
	if (!fds || !nls) {
		rc = -ENOMEM;
		snprintf(e.msg, sizeof(e.msg), "out of memory");
		goto out;
	}
	for (size_t i = 0; i < t->nnodes; i++)
		fds[i] = -1;
	if ((rc = netns_open(p->fabric_ns, &fabric_fd, &e)) ||
	    (rc = netns_nl_open(fabric_fd, &fabric, &e)))
		goto out;
	netns_nl_set_group(fabric, PLAN_LINK_GROUP);
	char label[160];
	for (size_t i = 0; rc == 0 && i < p->nbridges; i++) {
		snprintf(label, sizeof(label), "bridge %s in %s", p->bridges[i].name, p->fabric_ns);
		rc = netns_bridge_add(fabric, p->bridges[i].name, p->bridges[i].ifindex, label, &e);
	}
	for (size_t i = 0; rc == 0 && i < t->nnodes; i++) {
		if ((rc = netns_open(p->node_ns[i], &fds[i], &e)) ||
		    (rc = netns_nl_open(fds[i], &nls[i], &e)))
			break;
		snprintf(label, sizeof(label), "link lo in %s", p->node_ns[i]);
		rc = netns_link_set_up(nls[i], 1, true, label, &e);
	}
	for (size_t i = 0; rc == 0 && i < p->nveths; i++) {
		const struct plan_veth *v = &p->veths[i];
		snprintf(label, sizeof(label), "veth %s (%s) - %s (%s)", v->fabric_if, p->fabric_ns,
		         v->node_if, p->node_ns[v->node]);
		rc = netns_veth_add(fabric, v->fabric_if, v->fabric_ifindex, v->master_ifindex,
		                    v->node_if, v->node_ifindex, fds[v->node], label, &e);
	}
	if (rc == 0)
		rc = netns_nl_flush(fabric, false, NULL, &e);
	tm->links_ms = ms_since(&t1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	for (size_t i = 0; rc == 0 && i < p->nveths; i++) {
		const struct plan_veth *v = &p->veths[i];
		const struct topo_iface *f = &t->nodes[v->node].ifaces[v->iface];
		char ip[16];
		snprintf(label, sizeof(label), "address %s/%d on %s in %s", topo_ip_str(f->addr, ip),
		         t->networks[f->network].prefix, v->node_if, p->node_ns[v->node]);
		rc = netns_addr_add(nls[v->node], v->node_ifindex, f->addr,
		                    t->networks[f->network].prefix, label, &e);
		snprintf(label, sizeof(label), "link %s in %s", v->node_if, p->node_ns[v->node]);
		if (rc == 0)
			rc = netns_link_set_up(nls[v->node], v->node_ifindex, true, label, &e);
	}
	for (size_t i = 0; rc == 0 && i < t->nnodes; i++)
		rc = netns_nl_flush(nls[i], false, NULL, &e);
	tm->addrs_ms = ms_since(&t1);
	tm->total_ms = ms_since(&t0);
out:
	if (rc)
		snprintf(err, errlen, "%s", e.msg);
	for (size_t i = 0; nls && i < t->nnodes; i++)
		netns_nl_close(nls[i]);
	for (size_t i = 0; fds && i < t->nnodes; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	netns_nl_close(fabric);
	if (fabric_fd >= 0)
		close(fabric_fd);
	free(nls);
	free(fds);
	return rc;
}

/* Nodes that take part in a leader election: etcd members and conclave
 * servers (`server: true`; client agents only learn the leader from them).
 * `up` waits until one is known. */
static bool node_elects_leader(const struct topo_node *n)
{
	if (n->kind == TOPO_KIND_ETCD)
		return true;
	return n->kind == TOPO_KIND_CONCLAVE &&
	       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(n->config, "server"));
}

static void print_log_tail(const struct run *r, size_t i)
{
	char rel[64], path[RUNDIR_PATH_MAX];
	snprintf(rel, sizeof(rel), "nodes/%s/output.log", r->t->nodes[i].name);
	rundir_path(r->name, rel, path, sizeof(path));
	FILE *f = fopen(path, "re");
	if (!f)
		return;
	fseek(f, 0, SEEK_END);
	long size = ftell(f);
	fseek(f, size > 2000 ? size - 2000 : 0, SEEK_SET);
	char buf[2100];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	fprintf(stderr, "---- last lines of %s ----\n%s\n----\n", path, buf);
}

/* Waits until every daemon runs and answers, and, for kinds that elect one,
 * until a leader is known. Returns 0, or -1 after printing why. */
static int wait_ready(struct run *r, int timeout_s, double *answer_s, double *leader_s)
{
	long long t0 = harness_now_ms(), deadline = t0 + timeout_s * 1000LL;
	bool need_leader = false;
	for (size_t i = 0; i < r->t->nnodes; i++)
		need_leader |= node_elects_leader(&r->t->nodes[i]);
	*answer_s = *leader_s = -1;
	size_t last_ok = (size_t)-1;
	bool tty = isatty(STDOUT_FILENO);
	for (;;) {
		size_t ok = 0, leaders = 0;
		bool agree = true;
		char first[sizeof(((struct node_view *)0)->leader)] = "";
		for (size_t i = 0; i < r->t->nnodes; i++) {
			const struct topo_node *n = &r->t->nodes[i];
			if (!node_pid(r, i) || strcmp(node_state(r, i), "running") != 0) {
				fprintf(stderr, "\nharness: node %s exited while starting\n", n->name);
				print_log_tail(r, i);
				return -1;
			}
			if (n->kind == TOPO_KIND_COMMAND) {
				ok += harness_now_ms() - t0 >= 300; /* still alive after 300 ms */
				continue;
			}
			struct node_view v;
			query_node(r->t, n, r->node_fd[i], &v, 500);
			ok += v.answered;
			if (v.leader[0]) {
				/* every node that names a leader names the same one */
				if (!leaders++)
					snprintf(first, sizeof(first), "%s", v.leader);
				else
					agree &= strcmp(first, v.leader) == 0;
			}
		}
		if (ok != last_ok && (tty || ok == r->t->nnodes)) {
			printf("%s  daemons      %zu/%zu answering (%.1f s)", tty ? "\r" : "", ok,
			       r->t->nnodes, (double)(harness_now_ms() - t0) / 1e3);
			fflush(stdout);
			last_ok = ok;
		}
		if (ok == r->t->nnodes && *answer_s < 0)
			*answer_s = (double)(harness_now_ms() - t0) / 1e3;
		if (*answer_s >= 0 && (!need_leader || (leaders > 0 && agree))) {
			if (need_leader)
				*leader_s = (double)(harness_now_ms() - t0) / 1e3;
			printf("\n");
			return 0;
		}
		if (harness_now_ms() >= deadline) {
			fprintf(stderr, "\nharness: %s after %d s (see harness status, harness logs NODE)\n",
			        *answer_s < 0 ? "not every daemon answered" : "no leader was elected",
			        timeout_s);
			return -1;
		}
		sleep_ms(100);
	}
}

static void print_status(struct run *r, bool json);

int cmd_up(int argc, char **argv)
{
	const char *file = NULL;
	bool network_only = false;
	int timeout_s = 60;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--network-only") == 0)
			network_only = true;
		else if (strncmp(argv[i], "--timeout=", 10) == 0)
			timeout_s = atoi(argv[i] + 10);
		else if (argv[i][0] == '-') {
			fprintf(stderr, "harness up: unknown option %s\n", argv[i]);
			return 2;
		} else
			file = argv[i];
	}
	if (!file) {
		fprintf(stderr, "usage: harness up [--network-only] [--timeout=SECONDS] FILE\n");
		return 2;
	}
	char err[TOPO_ERR_MAX + 256];
	struct topology *t;
	if (topology_load_file(file, &t, err, sizeof(err))) {
		fprintf(stderr, "harness: %s\n", err);
		return 1;
	}
	if (!harness_is_root()) {
		fprintf(stderr, "harness: building namespaces needs root (or CAP_NET_ADMIN and "
		                "CAP_SYS_ADMIN): run it with sudo\n");
		topology_free(t);
		return 1;
	}
	struct plan p;
	if (plan_build(t, &p, err, sizeof(err))) {
		fprintf(stderr, "harness: %s: %s\n", file, err);
		topology_free(t);
		return 1;
	}
	int rc = 1;
	struct journal j;
	if (journal_read(t->name, &j) == 0) {
		journal_free(&j);
		fprintf(stderr, "harness: topology \"%s\" is already up; `harness down %s` first\n",
		        t->name, t->name);
		goto out;
	}
	if (netns_exists(p.fabric_ns)) {
		fprintf(stderr, "harness: namespace %s already exists but no run of \"%s\" is "
		                "recorded; remove it with `ip netns del %s`\n",
		        p.fabric_ns, t->name, p.fabric_ns);
		goto out;
	}
	char path[RUNDIR_PATH_MAX];
	rundir_path(t->name, "topology.yaml", path, sizeof(path));
	if (rundir_create(t->name) || copy_file(file, path) || journal_plan(t, &p)) {
		fprintf(stderr, "harness: cannot write the run directory %s: %s\n", path,
		        strerror(errno));
		goto out;
	}
	rundir_event(t->name, "up %s", file);
	/* every node may talk to every node of its network: about n*n ARP entries,
	 * in one kernel-wide table whose default limit (1024) 33 nodes exceed */
	unsigned need = 0, raised;
	for (size_t k = 0; k < t->nnetworks; k++) {
		unsigned n = 0;
		for (size_t i = 0; i < t->nnodes; i++)
			for (size_t f = 0; f < t->nodes[i].nifaces; f++)
				n += t->nodes[i].ifaces[f].network == k;
		need += n * n;
	}
	struct netns_err ne;
	if (netns_neigh_capacity(need + 256, &raised, &ne))
		fprintf(stderr, "harness: warning: %s (large topologies may drop packets)\n", ne.msg);
	else if (raised)
		printf("  neighbours   kernel ARP table raised to %u entries "
		       "(net.ipv4.neigh.default.gc_thresh3) for %zu nodes\n", raised, t->nnodes);
	printf("harness: topology %s (%zu nodes, %zu network%s) from %s\n", t->name, t->nnodes,
	       t->nnetworks, t->nnetworks == 1 ? "" : "s", file);
	struct net_times tm = { 0, 0, 0, 0 };
	if (build_network(t, &p, &tm, err, sizeof(err))) {
		fprintf(stderr, "harness: %s\nharness: `harness down %s` removes what was made\n", err,
		        t->name);
		goto out;
	}
	printf("  namespaces   %zu created (%.1f ms)\n", t->nnodes + 1, tm.ns_ms);
	printf("  links        %zu veth pairs, %zu bridge%s (%.1f ms)\n", p.nveths, p.nbridges,
	       p.nbridges == 1 ? "" : "s", tm.links_ms);
	printf("  addresses    %zu assigned (%.1f ms)\n", p.nveths, tm.addrs_ms);
	printf("network ready in %.1f ms\n", tm.total_ms);
	if (network_only) {
		rc = 0;
		goto out;
	}

	struct run r;
	if (run_open(t->name, &r, err, sizeof(err))) {
		fprintf(stderr, "harness: %s\n", err);
		goto out;
	}
	for (size_t i = 0; i < r.t->nnodes; i++) {
		if (node_start(&r, i, err, sizeof(err))) {
			fprintf(stderr, "harness: %s\nharness: `harness down %s` removes what was made\n",
			        err, t->name);
			run_close(&r);
			goto out;
		}
	}
	printf("  daemons      %zu started\n", r.t->nnodes);
	double answer_s, leader_s;
	if (wait_ready(&r, timeout_s, &answer_s, &leader_s) == 0) {
		printf("\n");
		print_status(&r, false);
		printf("\nnetwork up in %.1f ms; every daemon answering after %.2f s; ", tm.total_ms,
		       answer_s);
		if (leader_s >= 0)
			printf("leader after %.2f s\n", leader_s);
		else
			printf("no leader election to wait for (no kind in this topology elects one)\n");
		printf("run directory: %s/%s\n", rundir_root(), t->name);
		rc = 0;
	}
	run_close(&r);
out:
	plan_free(&p);
	topology_free(t);
	return rc;
}

static int down_one(const char *name)
{
	struct journal j;
	long long t0 = harness_now_ms();
	if (journal_read(name, &j)) {
		rundir_remove(name);
		printf("harness: %s is not up\n", name);
		return 0;
	}
	size_t procs = 0, links = 0, nss = 0;
	/* 0. faults: every impairment and partition off, delayers (journaled aux
	 * processes) killed by PID */
	procs += (size_t)fault_down(name);
	/* 1. processes we started (checked by start time, never by name) */
	for (size_t i = 0; i < j.nprocs; i++) {
		if (!netns_proc_running(j.procs[i].pid, j.procs[i].starttime))
			continue;
		kill(j.procs[i].pid, SIGTERM);
		procs++;
	}
	long long deadline = harness_now_ms() + 10000;
	for (size_t i = 0; i < j.nprocs; i++) {
		while (netns_proc_running(j.procs[i].pid, j.procs[i].starttime)) {
			if (harness_now_ms() > deadline)
				kill(j.procs[i].pid, SIGKILL);
			if (harness_now_ms() > deadline + 5000) {
				fprintf(stderr, "harness: process %d of node %s does not die\n",
				        (int)j.procs[i].pid, j.procs[i].node);
				break;
			}
			sleep_ms(10);
		}
	}
	/* 2. links, before their namespaces (the kernel frees them faster this way) */
	struct netns_err e;
	int rc = 0;
	for (size_t k = 0; k < j.nlinks; k++) {
		if (k > 0 && strcmp(j.links[k].ns, j.links[k - 1].ns) == 0)
			continue;
		const char *ns = j.links[k].ns;
		int fd;
		struct netns_nl *nl;
		if (netns_open(ns, &fd, &e))
			continue; /* namespace gone: its links went with it */
		if (netns_nl_open(fd, &nl, &e) == 0) {
			/* count what is there, then delete all of the topology's links in one
			 * batch (PLAN_LINK_GROUP); anything journaled that survived (a run from
			 * before link groups) goes one by one: veth ends first, bridges last */
			for (size_t m = 0; m < j.nlinks; m++) {
				int idx;
				if (strcmp(j.links[m].ns, ns) == 0 &&
				    netns_link_get(nl, j.links[m].ifname, &idx, NULL, NULL, &e) == 0)
					links++;
			}
			char label[128];
			snprintf(label, sizeof(label), "link group of %s", ns);
			if (netns_link_del_group(nl, PLAN_LINK_GROUP, label, &e) == 0)
				netns_nl_flush(nl, true, NULL, &e);
			for (size_t pass = 0; pass < 2; pass++) {
				for (size_t m = 0; m < j.nlinks; m++) {
					bool bridge = strncmp(j.links[m].ifname, "br-", 3) == 0;
					if (strcmp(j.links[m].ns, ns) || bridge != (pass == 1))
						continue;
					snprintf(label, sizeof(label), "link %s in %s", j.links[m].ifname, ns);
					netns_link_del(nl, j.links[m].ifname, label, &e);
				}
			}
			if (netns_nl_flush(nl, true, NULL, &e)) {
				fprintf(stderr, "harness: %s\n", e.msg);
				rc = 1;
			}
			netns_nl_close(nl);
		}
		close(fd);
	}
	/* 3. namespaces, nodes first, the fabric (journaled first) last */
	for (size_t k = j.nns; k-- > 0;) {
		if (netns_delete(j.ns[k], &e) == 0)
			nss++;
		else if (!strstr(e.msg, "does not exist")) {
			fprintf(stderr, "harness: %s\n", e.msg);
			rc = 1;
		}
	}
	journal_free(&j);
	if (rc == 0)
		rundir_remove(name);
	printf("harness: removed %s: %zu process%s, %zu link%s, %zu namespace%s (%lld ms)\n", name,
	       procs, procs == 1 ? "" : "es", links, links == 1 ? "" : "s", nss,
	       nss == 1 ? "" : "s", harness_now_ms() - t0);
	return rc;
}

int cmd_down(int argc, char **argv)
{
	if (!harness_is_root()) {
		fprintf(stderr, "harness: removing namespaces needs root (or CAP_NET_ADMIN and "
		                "CAP_SYS_ADMIN): run it with sudo\n");
		return 1;
	}
	if (argc >= 1 && strcmp(argv[0], "--all") == 0) {
		char(*names)[64];
		size_t n = rundir_list(&names);
		int rc = 0;
		for (size_t i = 0; i < n; i++)
			rc |= down_one(names[i]);
		if (n == 0)
			printf("harness: no topology is up\n");
		free(names);
		return rc;
	}
	if (argc >= 1)
		return down_one(argv[0]);
	char(*names)[64];
	size_t n = rundir_list(&names);
	int rc = 0;
	if (n == 1) {
		rc = down_one(names[0]);
	} else if (n == 0) {
		printf("harness: no topology is up\n");
	} else {
		fprintf(stderr, "harness: %zu topologies are up: name one, or use --all\n", n);
		rc = 1;
	}
	free(names);
	return rc;
}

static void print_status(struct run *r, bool json)
{
	cJSON *arr = json ? cJSON_CreateArray() : NULL;
	if (!json)
		printf("%-16s %-24s %-15s %-8s %-8s %-8s %-22s %s\n", "NODE", "NAMESPACE", "ADDRESS",
		       "KIND", "PID", "STATE", "LEADER", "MEMBERS");
	for (size_t i = 0; i < r->t->nnodes; i++) {
		const struct topo_node *n = &r->t->nodes[i];
		char ip[16], pid[16], members[16];
		topo_ip_str(n->nifaces ? n->ifaces[0].addr : 0, ip);
		pid_t p = node_pid(r, i);
		snprintf(pid, sizeof(pid), p ? "%d" : "-", (int)p);
		const char *state = node_state(r, i);
		struct node_view v = { 0, "", -1 };
		if (p && r->node_fd[i] >= 0)
			query_node(r->t, n, r->node_fd[i], &v, 1000);
		const char *leader = !v.answered || n->kind == TOPO_KIND_COMMAND ? "-"
		                     : v.leader[0]                               ? v.leader
		                                                                 : "(none)";
		snprintf(members, sizeof(members), v.members >= 0 ? "%d" : "-", v.members);
		if (json) {
			cJSON *o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "node", n->name);
			cJSON_AddStringToObject(o, "namespace", r->p.node_ns[i]);
			cJSON_AddStringToObject(o, "address", ip);
			cJSON_AddStringToObject(o, "kind", topo_kind_name(n->kind));
			cJSON_AddNumberToObject(o, "pid", p);
			cJSON_AddStringToObject(o, "state", state);
			cJSON_AddBoolToObject(o, "answering", v.answered);
			if (v.answered && n->kind != TOPO_KIND_COMMAND)
				cJSON_AddStringToObject(o, "leader", v.leader);
			else
				cJSON_AddNullToObject(o, "leader");
			if (v.members >= 0)
				cJSON_AddNumberToObject(o, "members", v.members);
			else
				cJSON_AddNullToObject(o, "members");
			cJSON_AddItemToArray(arr, o);
		} else {
			printf("%-16s %-24s %-15s %-8s %-8s %-8s %-22s %s\n", n->name, r->p.node_ns[i], ip,
			       topo_kind_name(n->kind), pid, state, leader, members);
		}
	}
	if (json) {
		char *s = cJSON_Print(arr);
		printf("%s\n", s);
		free(s);
		cJSON_Delete(arr);
	}
}

int cmd_status(int argc, char **argv)
{
	const char *name = NULL;
	bool json = false;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = true;
		else
			name = argv[i];
	}
	if (!name) {
		char(*names)[64];
		size_t n = rundir_list(&names);
		if (n == 0) {
			if (json)
				printf("[]\n");
			else
				printf("harness: no topology is up\n");
			free(names);
			return 0;
		}
		int rc = 0;
		for (size_t i = 0; i < n && n > 1; i++)
			rc |= cmd_status(json ? 2 : 1, (char *[]){ names[i], "--json" });
		if (n > 1) {
			free(names);
			return rc;
		}
		free(names);
	}
	char err[TOPO_ERR_MAX + 256];
	struct run r;
	if (run_open(name, &r, err, sizeof(err))) {
		fprintf(stderr, "harness: %s\n", err);
		return 1;
	}
	if (!json)
		printf("topology %s (run directory %s/%s)\n", r.name, rundir_root(), r.name);
	print_status(&r, json);
	run_close(&r);
	return 0;
}
