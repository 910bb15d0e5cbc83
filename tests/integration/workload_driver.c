/* Test driver for the chaos workload (harness/workload.h): runs the clients
 * against the nodes of a topology that is up, writes the history, re-reads it,
 * runs the final lost-write check and prints the figures.
 *
 *   workload_driver TOPOLOGY NODE[,NODE...] SECONDS HISTORY.json [options]
 *     --clients N (5)  --keys N (8)  --rate OPS/S (0: back to back)
 *     --mix READ,WRITE,CAS (40,40,20)  --read-mode consistent|default|stale
 *     --timeout-ms N (3000)  --final-ms N (30000)  --seed N (1)  --prefix P
 *
 * Output: "start <CLOCK_REALTIME ns of history time 0>", progress lines, then
 * one line
 *   result ops=N ok=N fail=N info=N rate=X keys_read=N keys_unread=N lost=N parsed=N
 * followed by the most common error texts. Exit 0 when ok > 0, nothing was
 * lost, every key was read and the history file parses back; 1 otherwise; 2
 * for a usage or setup error. Needs root (namespaces). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"
#include "history.h"
#include "workload.h"

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void usage(void)
{
	fprintf(stderr, "usage: workload_driver TOPOLOGY NODE[,NODE...] SECONDS HISTORY.json "
	                "[--clients N] [--keys N] [--rate R] [--mix R,W,C] [--read-mode M] "
	                "[--timeout-ms N] [--final-ms N] [--seed N] [--prefix P]\n");
	exit(2);
}

/* The most common error texts of failed and unknown operations. */
static void print_errors(const struct history *h)
{
	struct {
		char text[48];
		enum hist_result r;
		size_t n;
	} top[32];
	size_t ntop = 0;
	for (size_t i = 0; i < h->n; i++) {
		const struct hist_op *op = &h->ops[i];
		if (op->result != HIST_FAIL && op->result != HIST_INFO)
			continue;
		char t[48];
		snprintf(t, sizeof(t), "%s", op->error);
		size_t k = 0;
		while (k < ntop && (top[k].r != op->result || strcmp(top[k].text, t) != 0))
			k++;
		if (k == ntop) {
			if (ntop == 32)
				continue;
			snprintf(top[ntop].text, sizeof(top[ntop].text), "%s", t);
			top[ntop].r = op->result;
			top[ntop++].n = 0;
		}
		top[k].n++;
	}
	for (size_t k = 0; k < ntop; k++)
		printf("  %-4s %6zu  %s\n", hist_result_name(top[k].r), top[k].n, top[k].text);
}

int main(int argc, char **argv)
{
	if (argc < 5)
		usage();
	const char *topo = argv[1], *out_path = argv[4];
	double seconds = atof(argv[3]);
	unsigned final_ms = 30000;
	struct workload_cfg cfg = { .clients = 5, .keys = 8, .rate = 0, .read_pct = 40,
		                    .write_pct = 40, .cas_pct = 20, .read_mode = WL_READ_CONSISTENT,
		                    .timeout_ms = 3000, .seed = 1 };
	snprintf(cfg.prefix, sizeof(cfg.prefix), "wl%ld/", (long)time(NULL));
	for (int i = 5; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v)
			usage();
		i++;
		if (strcmp(a, "--clients") == 0)
			cfg.clients = (unsigned)atoi(v);
		else if (strcmp(a, "--keys") == 0)
			cfg.keys = (unsigned)atoi(v);
		else if (strcmp(a, "--rate") == 0)
			cfg.rate = atof(v);
		else if (strcmp(a, "--timeout-ms") == 0)
			cfg.timeout_ms = (unsigned)atoi(v);
		else if (strcmp(a, "--final-ms") == 0)
			final_ms = (unsigned)atoi(v);
		else if (strcmp(a, "--seed") == 0)
			cfg.seed = strtoull(v, NULL, 10);
		else if (strcmp(a, "--prefix") == 0)
			snprintf(cfg.prefix, sizeof(cfg.prefix), "%s", v);
		else if (strcmp(a, "--mix") == 0 &&
		         sscanf(v, "%u,%u,%u", &cfg.read_pct, &cfg.write_pct, &cfg.cas_pct) == 3)
			;
		else if (strcmp(a, "--read-mode") == 0 && strcmp(v, "consistent") == 0)
			cfg.read_mode = WL_READ_CONSISTENT;
		else if (strcmp(a, "--read-mode") == 0 && strcmp(v, "default") == 0)
			cfg.read_mode = WL_READ_DEFAULT;
		else if (strcmp(a, "--read-mode") == 0 && strcmp(v, "stale") == 0)
			cfg.read_mode = WL_READ_STALE;
		else
			usage();
	}
	if (seconds <= 0)
		usage();

	char err[512];
	struct run r;
	if (run_open(topo, &r, err, sizeof(err))) {
		fprintf(stderr, "workload_driver: %s\n", err);
		return 2;
	}
	struct workload_target targets[16];
	size_t nt = 0;
	char *nodes = strdup(argv[2]), *save = NULL;
	for (char *n = strtok_r(nodes, ",", &save); n; n = strtok_r(NULL, ",", &save)) {
		ssize_t i = run_node(&r, n);
		if (i < 0 || nt == 16 || r.node_fd[i] < 0) {
			fprintf(stderr, "workload_driver: node %s: not usable\n", n);
			return 2;
		}
		const struct topo_node *tn = &r.t->nodes[i];
		char ip[16];
		struct workload_target *t = &targets[nt++];
		snprintf(t->node, sizeof(t->node), "%s", tn->name);
		t->nsfd = r.node_fd[i];
		snprintf(t->url, sizeof(t->url), "http://%s:%d", topo_ip_str(tn->ifaces[0].addr, ip),
		         plan_node_http_port(tn));
	}
	free(nodes);
	cfg.targets = targets;
	cfg.ntargets = nt;

	struct history h;
	hist_init(&h);
	struct timespec wall;
	clock_gettime(CLOCK_REALTIME, &wall);
	cfg.t0_ns = mono_ns();
	struct workload *w;
	if (workload_start(&w, &cfg, &h, err, sizeof(err))) {
		fprintf(stderr, "workload_driver: %s\n", err);
		return 2;
	}
	printf("workload: %u clients on %zu nodes, %u keys under %s, %.0f s\n", cfg.clients, nt,
	       cfg.keys, cfg.prefix, seconds);
	/* history time 0 as wall-clock ns, so that a script can place its faults */
	printf("start %lld\n", (long long)wall.tv_sec * 1000000000 + wall.tv_nsec);
	fflush(stdout);
	int64_t end = cfg.t0_ns + (int64_t)(seconds * 1e9);
	size_t ok, fail, info;
	while (mono_ns() < end) {
		int64_t left = end - mono_ns();
		struct timespec ts = { 1, 0 };
		if (left < 1000000000)
			ts = (struct timespec){ 0, left > 0 ? left : 0 };
		nanosleep(&ts, NULL);
		workload_counts(w, &ok, &fail, &info);
		printf("  %5.1f s  ok %zu  fail %zu  info %zu\n", (double)(mono_ns() - cfg.t0_ns) / 1e9,
		       ok, fail, info);
		fflush(stdout);
	}
	int64_t t_stop = mono_ns();
	workload_counts(w, &ok, &fail, &info);
	workload_stop(w);
	printf("stopped in %.0f ms\n", (double)(mono_ns() - t_stop) / 1e6);
	size_t ops = 0;
	hist_counts(&h, &ok, &fail, &info);
	ops = h.n;
	double rate = (double)ops / ((double)(t_stop - cfg.t0_ns) / 1e9);

	struct workload_lost lost;
	int rc = workload_final_check(&cfg, &h, final_ms, &lost, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "workload_driver: %s\n", err);
		return 2;
	}
	if (hist_write_json(&h, out_path, err, sizeof(err))) {
		fprintf(stderr, "workload_driver: %s\n", err);
		return 2;
	}
	struct history back;
	hist_init(&back);
	size_t parsed = 0;
	if (hist_read_json(&back, out_path, err, sizeof(err)))
		fprintf(stderr, "workload_driver: the history does not parse back: %s\n", err);
	else
		parsed = back.n;
	hist_free(&back);

	printf("result ops=%zu ok=%zu fail=%zu info=%zu rate=%.0f keys_read=%zu keys_unread=%zu "
	       "lost=%zu parsed=%zu history=%zu\n",
	       ops, ok, fail, info, rate, lost.keys_read, lost.keys_unread, lost.lost, parsed, h.n);
	if (lost.lost)
		printf("first lost: %s\n", lost.first);
	print_errors(&h);
	bool good = ok > 0 && lost.lost == 0 && lost.keys_unread == 0 && parsed == h.n;
	hist_free(&h);
	run_close(&r);
	return good ? 0 : 1;
}
