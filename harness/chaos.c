/* `harness chaos FILE`: runs a chaos scenario on a fresh topology and says
 * whether each of its assertions held. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "chaos_internal.h"
#include "fault.h"
#include "lincheck.h"
#include "report.h"

volatile sig_atomic_t chaos_interrupted;

static const char usage[] =
	"usage: harness chaos FILE [--topology=FILE] [--name=NAME] [--out=DIR] [--scale=F] [--seed=N]\n"
	"                           [--keep]\n"
	"    --topology  run on this topology file instead of the scenario's\n"
	"    --name   bring the topology up under this name (default: its own)\n"
	"    --out    results directory (default: chaos-results/SCENARIO-YYYYmmdd-HHMMSS)\n"
	"    --scale  multiply wait steps and random.for by F (0.25: a short run)\n"
	"    --seed   override the scenario's seed\n"
	"    --keep   leave the topology up afterwards\n";

long long chaos_now(const struct chaos *c)
{
	return harness_now_ms() - c->t0;
}

void chaos_say(struct chaos *c, const char *fmt, ...)
{
	char text[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	long long now = chaos_now(c);
	printf("[%7.1fs] %s\n", (double)now / 1000, text);
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "at_ms", (double)now);
	cJSON_AddStringToObject(o, "text", text);
	cJSON_AddItemToArray(c->steps, o);
}

void chaos_verdict(struct chaos *c, const char *name, const char *arg, bool ok, const char *fmt,
                   ...)
{
	char detail[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	printf("[%7.1fs] %s %s%s%s: %s\n", (double)chaos_now(c) / 1000, ok ? "ok  " : "FAIL", name,
	       arg && *arg ? " " : "", arg ? arg : "", detail);
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "name", name);
	cJSON_AddStringToObject(o, "arg", arg ? arg : "");
	cJSON_AddBoolToObject(o, "ok", ok);
	cJSON_AddStringToObject(o, "detail", detail);
	cJSON_AddItemToArray(c->assertions, o);
	c->nassert++;
	c->nfailed += !ok;
}

static void on_signal(int sig)
{
	chaos_interrupted = 1;
}

static int mkdirs(const char *path)
{
	char tmp[512];
	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p; p++)
		if (*p == '/') {
			*p = 0;
			if (mkdir(tmp, 0755) && errno != EEXIST)
				return -errno;
			*p = '/';
		}
	return mkdir(tmp, 0755) && errno != EEXIST ? -errno : 0;
}

/* Copies the topology file to dst, with its top-level name replaced when
 * name is not NULL. */
static int copy_topology(const char *src, const char *dst, const char *name, char *err,
                         size_t errlen)
{
	FILE *in = fopen(src, "r"), *out = in ? fopen(dst, "w") : NULL;
	if (!in || !out) {
		snprintf(err, errlen, "%s: %s", in ? dst : src, strerror(errno));
		if (in)
			fclose(in);
		return -1;
	}
	char line[4096];
	bool renamed = false;
	while (fgets(line, sizeof(line), in)) {
		if (name && !renamed && strncmp(line, "name:", 5) == 0) {
			fprintf(out, "name: %s\n", name);
			renamed = true;
		} else {
			fputs(line, out);
		}
	}
	fclose(in);
	if (fclose(out)) {
		snprintf(err, errlen, "%s: %s", dst, strerror(errno));
		return -1;
	}
	if (name && !renamed) {
		snprintf(err, errlen, "%s: no top-level \"name:\" line to rename", src);
		return -1;
	}
	return 0;
}

static int start_workload(struct chaos *c, char *err, size_t errlen)
{
	const struct scn_workload *w = &c->s->workload;
	size_t n = c->r.t->nnodes;
	c->targets = calloc(n, sizeof(*c->targets));
	if (!c->targets)
		return -ENOMEM;
	size_t nt = 0;
	for (size_t i = 0; i < n; i++) {
		const struct topo_node *nd = &c->r.t->nodes[i];
		bool listed = w->nodes.kind == SCN_T_ALL;
		for (size_t k = 0; k < w->nodes.n; k++)
			listed |= strcmp(w->nodes.names[k], nd->name) == 0;
		if (!listed || nd->kind != TOPO_KIND_CONCLAVE || !nd->nifaces)
			continue;
		struct workload_target *t = &c->targets[nt++];
		char ip[16];
		snprintf(t->node, sizeof(t->node), "%s", nd->name);
		t->nsfd = c->r.node_fd[i];
		snprintf(t->url, sizeof(t->url), "http://%s:%d", topo_ip_str(nd->ifaces[0].addr, ip),
		         plan_node_http_port(nd));
	}
	static const enum workload_read_mode modes[] = { WL_READ_CONSISTENT, WL_READ_DEFAULT,
		                                         WL_READ_STALE };
	static const char *const mode_names[] = { "consistent", "default", "stale" };
	c->wcfg = (struct workload_cfg){ .clients = w->clients, .keys = w->keys, .rate = w->rate,
		                         .read_pct = w->read_pct, .write_pct = w->write_pct,
		                         .cas_pct = w->cas_pct, .read_mode = modes[w->reads],
		                         .timeout_ms = (unsigned)w->timeout_ms, .targets = c->targets,
		                         .ntargets = nt, .seed = c->s->seed,
		                         .t0_ns = c->t0 * 1000000LL };
	snprintf(c->wcfg.prefix, sizeof(c->wcfg.prefix), "chaos/");
	chaos_say(c, "workload: %u clients on %zu nodes, %.0f ops/s, %u%% reads (%s), %u%% writes, "
	          "%u%% cas, %u keys", w->clients, nt, w->rate, w->read_pct, mode_names[w->reads],
	          w->write_pct, w->cas_pct, w->keys);
	return workload_start(&c->wl, &c->wcfg, &c->hist, err, errlen);
}

/* The whole-run assertions on the history. */
static double check_history(struct chaos *c)
{
	char err[512];
	double check_ms = 0;
	if (!c->wl)
		return 0;
	workload_stop(c->wl);
	c->wl = NULL;
	size_t ok, fail, info;
	hist_counts(&c->hist, &ok, &fail, &info);
	chaos_say(c, "workload stopped: %zu operations ok, %zu failed, %zu unknown", ok, fail, info);
	struct workload_lost lost = { 0 };
	int rc = workload_final_check(&c->wcfg, &c->hist, 30000, &lost, err, sizeof(err));
	if (c->s->assert.no_acked_write_lost) {
		if (rc)
			chaos_verdict(c, "no_acked_write_lost", "", false, "the final reads could not "
			              "run: %s", err);
		else if (lost.lost || lost.keys_unread)
			chaos_verdict(c, "no_acked_write_lost", "", false, "%zu lost, %zu of %zu keys "
			              "unreadable%s%s", lost.lost, lost.keys_unread,
			              lost.keys_read + lost.keys_unread, lost.first[0] ? ": " : "",
			              lost.first);
		else
			chaos_verdict(c, "no_acked_write_lost", "", true, "all %zu keys read back; every "
			              "acknowledged write is there or was overwritten by a later one",
			              lost.keys_read);
	}
	snprintf(err, sizeof(err), "%s/history.json", c->out);
	char werr[512];
	if (hist_write_json(&c->hist, err, werr, sizeof(werr)))
		chaos_say(c, "cannot write the history: %s", werr);
	if (c->s->assert.linearizable) {
		struct lin_result lr;
		long long t = harness_now_ms();
		if (lin_check(&c->hist, 120000, &lr, err, sizeof(err))) {
			chaos_verdict(c, "linearizable", "", false, "the checker failed: %s", err);
			return 0;
		}
		check_ms = (double)(harness_now_ms() - t);
		bool want = c->s->assert.linearizable > 0;
		const char *why = "";
		for (size_t k = 0; k < lr.nkeys; k++)
			if (!lr.keys[k].ok && !lr.keys[k].timed_out) {
				why = lr.keys[k].why;
				break;
			}
		char what[1024];
		if (lr.ok)
			snprintf(what, sizeof(what), "%zu keys and %zu operations are linearizable "
			         "(checked in %.0f ms)", lr.nkeys, c->hist.n, check_ms);
		else
			snprintf(what, sizeof(what), "NOT linearizable (%zu keys, %zu operations, checked "
			         "in %.0f ms): %s", lr.nkeys, c->hist.n, check_ms, why);
		if (lr.timed_out)
			chaos_verdict(c, "linearizable", want ? "" : "false", false, "unknown: the check "
			              "timed out after %.1f s", check_ms / 1000);
		else if (lr.ok == want)
			chaos_verdict(c, "linearizable", want ? "" : "false", true, "%s%s",
			              want ? "" : "as expected, ", what);
		else
			chaos_verdict(c, "linearizable", want ? "" : "false", false, "%s%s",
			              want ? "" : "a violation was expected, but ", what);
		lin_result_free(&lr);
	}
	return check_ms;
}

static void copy_file(const char *from, const char *to)
{
	FILE *in = fopen(from, "r"), *out = in ? fopen(to, "w") : NULL;
	char buf[65536];
	size_t n;
	while (out && (n = fread(buf, 1, sizeof(buf), in)) > 0)
		fwrite(buf, 1, n, out);
	if (in)
		fclose(in);
	if (out)
		fclose(out);
}

static void save_logs(struct chaos *c)
{
	char dir[600], from[RUNDIR_PATH_MAX], to[700], rel[64];
	snprintf(dir, sizeof(dir), "%s/logs", c->out);
	mkdirs(dir);
	for (size_t i = 0; i < c->r.t->nnodes; i++) {
		snprintf(rel, sizeof(rel), "nodes/%s/output.log", c->r.t->nodes[i].name);
		rundir_path(c->r.name, rel, from, sizeof(from));
		snprintf(to, sizeof(to), "%s/%s.log", dir, c->r.t->nodes[i].name);
		copy_file(from, to);
	}
	rundir_path(c->r.name, "events.log", from, sizeof(from));
	snprintf(to, sizeof(to), "%s/events.log", c->out);
	copy_file(from, to);
}

struct opts {
	const char *file, *name, *out, *topology;
	double scale;
	bool keep, have_seed;
	uint64_t seed;
};

static int parse_opts(int argc, char **argv, struct opts *o)
{
	*o = (struct opts){ .scale = 1 };
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		char *end;
		if (strncmp(a, "--name=", 7) == 0)
			o->name = a + 7;
		else if (strncmp(a, "--topology=", 11) == 0)
			o->topology = a + 11;
		else if (strncmp(a, "--out=", 6) == 0)
			o->out = a + 6;
		else if (strcmp(a, "--keep") == 0)
			o->keep = true;
		else if (strncmp(a, "--scale=", 8) == 0) {
			o->scale = strtod(a + 8, &end);
			if (*end || !(o->scale > 0) || o->scale > 100) {
				fprintf(stderr, "harness chaos: --scale wants a number above 0, got %s\n",
				        a + 8);
				return -1;
			}
		} else if (strncmp(a, "--seed=", 7) == 0) {
			o->seed = strtoull(a + 7, &end, 10);
			o->have_seed = true;
			if (*end || !a[7]) {
				fprintf(stderr, "harness chaos: --seed wants a whole number, got %s\n", a + 7);
				return -1;
			}
		} else if (a[0] == '-') {
			fprintf(stderr, "harness chaos: unknown option %s\n%s", a, usage);
			return -1;
		} else if (o->file) {
			fprintf(stderr, "harness chaos: one scenario file at a time\n%s", usage);
			return -1;
		} else
			o->file = a;
	}
	if (!o->file) {
		fputs(usage, stderr);
		return -1;
	}
	return 0;
}

static bool topology_has(void *ud, const char *name)
{
	const struct topology *t = ud;
	for (size_t i = 0; i < t->nnodes; i++)
		if (strcmp(t->nodes[i].name, name) == 0)
			return true;
	return false;
}

/* Loads the scenario and its topology, checks every node name, and prepares
 * the results directory with the topology file to bring up. */
static int prepare(struct chaos *c, const struct opts *o, char *topo_file, size_t cap)
{
	char err[1024];
	if (scenario_load_file(o->file, &c->s, err, sizeof(err))) {
		fprintf(stderr, "harness chaos: %s\n", err);
		return 2;
	}
	if (o->have_seed)
		c->s->seed = o->seed;
	if (o->topology)
		snprintf(c->s->topology, sizeof(c->s->topology), "%s", o->topology);
	struct topology *t;
	if (topology_load_file(c->s->topology, &t, err, sizeof(err))) {
		fprintf(stderr, "harness chaos: %s: topology: %s\n", o->file, err);
		return 2;
	}
	int rc = scenario_check_nodes(c->s, topology_has, t, t->name, err, sizeof(err));
	for (size_t i = 0; rc == 0 && i < t->nnodes; i++)
		if (t->nodes[i].kind != TOPO_KIND_CONCLAVE) {
			snprintf(err, sizeof(err), "%s: node %s of %s is not of kind conclave: chaos "
			         "scenarios run on conclave topologies", o->file, t->nodes[i].name,
			         t->path);
			rc = -1;
		}
	topology_free(t);
	if (rc) {
		fprintf(stderr, "harness chaos: %s\n", err);
		return 2;
	}
	if (o->out) {
		snprintf(c->out, sizeof(c->out), "%s", o->out);
	} else {
		char stamp[32];
		time_t now = time(NULL);
		strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", localtime(&now));
		snprintf(c->out, sizeof(c->out), "chaos-results/%s-%s", c->s->name, stamp);
	}
	if (mkdirs(c->out)) {
		fprintf(stderr, "harness chaos: cannot create %s: %s\n", c->out, strerror(errno));
		return 1;
	}
	snprintf(topo_file, cap, "%s/topology.yaml", c->out);
	if (copy_topology(c->s->topology, topo_file, o->name, err, sizeof(err))) {
		fprintf(stderr, "harness chaos: %s\n", err);
		return 1;
	}
	return 0;
}

static int alloc_state(struct chaos *c)
{
	size_t n = c->r.t->nnodes;
	c->pstate = calloc(n, sizeof(*c->pstate));
	c->pstate_since = calloc(n, sizeof(*c->pstate_since));
	c->link_down = calloc(n, sizeof(*c->link_down));
	c->blocked = calloc(n * n, sizeof(*c->blocked));
	if (!c->pstate || !c->pstate_since || !c->link_down || !c->blocked)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		c->pstate[i] = node_pid(&c->r, i) ? CP_UP : CP_DOWN;
	return 0;
}

static void free_state(struct chaos *c)
{
	free(c->pstate);
	free(c->pstate_since);
	free(c->link_down);
	free(c->blocked);
	free(c->targets);
	cJSON_Delete(c->process);
	cJSON_Delete(c->faults);
	cJSON_Delete(c->steps);
	cJSON_Delete(c->assertions);
	scenario_free(c->s);
}

/* The run itself, once the topology is up. */
static void run(struct chaos *c)
{
	char err[1024];
	c->t0 = harness_now_ms();
	if (monitor_start(&c->mon, &c->r, c->t0, 50, err, sizeof(err))) {
		chaos_verdict(c, "setup", "", false, "%s", err);
		return;
	}
	long long at;
	int l = chaos_wait_leader(c, 30000, &at);
	if (l < 0)
		chaos_say(c, "no leader agreed by a quorum yet; the steps start anyway");
	else
		chaos_say(c, "leader: %s", c->r.t->nodes[l].name);
	if (c->s->workload.enabled && start_workload(c, err, sizeof(err))) {
		chaos_verdict(c, "setup", "", false, "the workload did not start: %s", err);
		return;
	}
	chaos_run_steps(c, c->s->steps, c->s->nsteps);
	if (chaos_interrupted)
		chaos_verdict(c, "run", "", false, "interrupted");
	chaos_final_heal(c);
	l = chaos_wait_leader(c, 30000, &at);
	chaos_say(c, l >= 0 ? "leader after the final heal: %s" : "%s",
	          l >= 0 ? c->r.t->nodes[l].name : "no leader 30 s after the final heal");
}

int cmd_chaos(int argc, char **argv)
{
	struct opts o;
	if (parse_opts(argc, argv, &o))
		return 2;
	if (!harness_is_root()) {
		fprintf(stderr, "harness chaos: this needs root: run it with sudo\n");
		return 1;
	}
	struct chaos c = { .scale = o.scale, .process = cJSON_CreateArray(),
		           .faults = cJSON_CreateArray(), .steps = cJSON_CreateArray(),
		           .assertions = cJSON_CreateArray() };
	char topo_file[600], err[1024];
	int rc = prepare(&c, &o, topo_file, sizeof(topo_file));
	if (rc) {
		free_state(&c);
		return rc;
	}
	c.rng = c.s->seed * 0x9e3779b97f4a7c15ull + 7;
	printf("harness chaos: %s (seed %llu), results in %s\n", c.s->name,
	       (unsigned long long)c.s->seed, c.out);
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	char topo_name[64] = "";
	struct topology *t;
	if (topology_load_file(topo_file, &t, err, sizeof(err))) {
		fprintf(stderr, "harness chaos: %s\n", err);
		free_state(&c);
		return 2;
	}
	snprintf(topo_name, sizeof(topo_name), "%s", t->name);
	topology_free(t);
	struct journal j;
	if (journal_read(topo_name, &j) == 0) {
		/* someone else's run: never bring it down */
		journal_free(&j);
		fprintf(stderr, "harness chaos: topology \"%s\" is already up; take it down or pick "
		        "another name with --name\n", topo_name);
		free_state(&c);
		return 1;
	}
	bool up = cmd_up(2, (char *[]){ topo_file, "--timeout=120", NULL }) == 0;
	c.have_run = up && run_open(topo_name, &c.r, err, sizeof(err)) == 0;
	if (!c.have_run || alloc_state(&c)) {
		fprintf(stderr, "harness chaos: %s%s\n",
		        up ? "cannot open the run: " : "the topology did not come up",
		        up ? err : "");
		if (c.have_run)
			run_close(&c.r);
		if (!o.keep)   /* whatever part of it was made */
			cmd_down(1, (char *[]){ topo_name, NULL });
		free_state(&c);
		return 1;
	}
	hist_init(&c.hist);
	run(&c);
	double check_ms = check_history(&c);
	if (c.mon) {
		monitor_stop(c.mon);
		if (c.s->assert.single_leader)
			chaos_check_single_leader(&c);
	}
	bool verdict = c.nfailed == 0;
	if (chaos_write_report(&c, verdict, check_ms, err, sizeof(err)))
		fprintf(stderr, "harness chaos: %s\n", err);
	save_logs(&c);
	monitor_free(c.mon);
	hist_free(&c.hist);
	run_close(&c.r);
	printf("%s: %u of %u assertions hold; report: %s/report.html\n", verdict ? "PASS" : "FAIL",
	       c.nassert - c.nfailed, c.nassert, c.out);
	if (!o.keep)
		cmd_down(1, (char *[]){ topo_name, NULL });
	free_state(&c);
	return verdict ? 0 : 1;
}
