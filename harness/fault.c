/* Process and network faults: the public calls (the state file, nftables tables,
 * delayers and tbf qdiscs behind them are in fault_apply.c). */
#include "fault.h"
#include "fault_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "netns.h"
#include "nft.h"

#define fail fault__fail

int fault__fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (err && errlen)
		vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return rc;
}

void fault__sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* ---- processes and links ---- */

int fault_process(struct run *r, size_t i, const char *verb, char *err, size_t errlen)
{
	if (i >= r->t->nnodes)
		return fail(err, errlen, -EINVAL, "no node %zu in topology %s", i, r->name);
	const char *name = r->t->nodes[i].name;
	int rc = 0;
	bool running = node_pid(r, i) != 0;
	if (strcmp(verb, "start") == 0) {
		if (running)
			return fail(err, errlen, -EEXIST, "node %s is already running", name);
		return node_start(r, i, err, errlen) ? -EIO : 0; /* node_start logs the event */
	}
	if (strcmp(verb, "restart") == 0) {
		if (running && node_signal(r, i, SIGTERM, 15000, err, errlen))
			return -EIO;
		return node_start(r, i, err, errlen) ? -EIO : 0;
	}
	int sig = strcmp(verb, "kill") == 0     ? SIGKILL
	          : strcmp(verb, "stop") == 0   ? SIGTERM
	          : strcmp(verb, "pause") == 0  ? SIGSTOP
	          : strcmp(verb, "resume") == 0 ? SIGCONT
	                                        : 0;
	if (!sig)
		return fail(err, errlen, -EINVAL, "unknown process fault \"%s\" (kill, stop, start, "
		            "restart, pause, resume)", verb);
	if (!running)
		return fail(err, errlen, -ESRCH, "node %s is not running", name);
	int wait = sig == SIGKILL ? 5000 : sig == SIGTERM ? 15000 : 0;
	if (node_signal(r, i, sig, wait, err, errlen))
		rc = -EIO;
	else
		rundir_event(r->name, "%s %s", verb, name);
	return rc;
}

int fault_link(struct run *r, size_t i, bool up, char *err, size_t errlen)
{
	if (i >= r->t->nnodes)
		return fail(err, errlen, -EINVAL, "no node %zu in topology %s", i, r->name);
	struct netns_nl *nl;
	struct netns_err e;
	if (r->fabric_fd < 0 || netns_nl_open(r->fabric_fd, &nl, &e))
		return fail(err, errlen, -ENOENT, "cannot open the fabric namespace %s",
		            r->p.fabric_ns);
	size_t idx[TOPO_MAX_NETWORKS];
	size_t n = plan_node_veths(&r->p, i, idx, TOPO_MAX_NETWORKS);
	int rc = 0;
	for (size_t k = 0; rc == 0 && k < n; k++) {
		char label[128];
		snprintf(label, sizeof(label), "link %s in %s", r->p.veths[idx[k]].fabric_if,
		         r->p.fabric_ns);
		rc = netns_link_set_up(nl, r->p.veths[idx[k]].fabric_ifindex, up, label, &e);
	}
	if (rc == 0)
		rc = netns_nl_flush(nl, false, NULL, &e);
	netns_nl_close(nl);
	if (rc)
		return fail(err, errlen, rc, "node %s: %s", r->t->nodes[i].name, e.msg);
	rundir_event(r->name, "link %s %s", up ? "up" : "down", r->t->nodes[i].name);
	return 0;
}

/* ---- partitions ---- */

static int do_partition(struct run *r, struct state *s, void *arg, char *err, size_t errlen)
{
	const int *g = arg;
	size_t n = s->n;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < n; j++)
			s->blk[i * n + j] = i != j && g[i] >= 0 && g[j] >= 0 && g[i] != g[j];
	return 0;
}

int fault_partition(struct run *r, const int *group, char *err, size_t errlen)
{
	size_t n = r->t->nnodes;
	int first = -1;
	bool two = false;
	for (size_t i = 0; i < n; i++) {
		if (group[i] < FAULT_ALL)
			return fail(err, errlen, -EINVAL, "node %s: group %d (use >= 0, or FAULT_ALL)",
			            r->t->nodes[i].name, group[i]);
		if (group[i] >= 0 && first < 0)
			first = group[i];
		else if (group[i] >= 0 && group[i] != first)
			two = true;
	}
	if (!two)
		return fail(err, errlen, -EINVAL, "a partition needs nodes in at least two groups");
	int rc = transact(r, do_partition, (void *)group, false, err, errlen);
	if (rc)
		return rc;
	/* "partition a b | c d": groups in order of first appearance */
	char text[512] = "partition";
	size_t o = strlen(text);
	bool *done = calloc(n, sizeof(bool));
	for (size_t i = 0; done && i < n; i++) {
		if (group[i] < 0 || done[i])
			continue;
		if (o > 9 && o < sizeof(text))
			o += (size_t)snprintf(text + o, sizeof(text) - o, " |");
		for (size_t j = i; j < n; j++)
			if (group[j] == group[i] && o < sizeof(text)) {
				done[j] = true;
				o += (size_t)snprintf(text + o, sizeof(text) - o, " %s", r->t->nodes[j].name);
			}
	}
	free(done);
	rundir_event(r->name, "%s", text);
	return 0;
}

struct pair {
	size_t a, b;
};

static int do_block(struct run *r, struct state *s, void *arg, char *err, size_t errlen)
{
	const struct pair *p = arg;
	s->blk[p->a * s->n + p->b] = true;
	return 0;
}

int fault_block(struct run *r, size_t from, size_t to, char *err, size_t errlen)
{
	if (from >= r->t->nnodes || to >= r->t->nnodes || from == to)
		return fail(err, errlen, -EINVAL, "block needs two different nodes of %s", r->name);
	struct pair p = { from, to };
	int rc = transact(r, do_block, &p, false, err, errlen);
	if (rc == 0)
		rundir_event(r->name, "block %s %s", r->t->nodes[from].name, r->t->nodes[to].name);
	return rc;
}

static int do_heal(struct run *r, struct state *s, void *arg, char *err, size_t errlen)
{
	memset(s->blk, 0, s->n * s->n * sizeof(bool));
	return 0;
}

int fault_heal(struct run *r, char *err, size_t errlen)
{
	int rc = transact(r, do_heal, NULL, false, err, errlen);
	if (rc == 0)
		rundir_event(r->name, "heal");
	return rc;
}

/* ---- packet faults ---- */

void fault_packet_keep(struct fault_packet *p)
{
	*p = (struct fault_packet){ FAULT_KEEP, FAULT_KEEP, FAULT_KEEP, FAULT_KEEP, FAULT_KEEP,
		                    FAULT_KEEP };
}

struct set_arg {
	size_t node;
	ssize_t peer;
	const struct fault_packet *p;
	int delay, jitter; /* after the change, for the event */
};

static int do_set(struct run *r, struct state *s, void *arg, char *err, size_t errlen)
{
	const struct set_arg *a = arg;
	const struct fault_packet *p = a->p;
	struct pk *d = &s->np[a->node];
	if (a->peer >= 0) {
		struct ovr *o = ovr_get(s, a->node, (size_t)a->peer, true);
		if (!o)
			return fail(err, errlen, -ENOMEM, "out of memory");
		d = &o->p;
	}
	if (p->loss_pct != FAULT_KEEP)
		d->loss = p->loss_pct;
	if (p->delay_ms != FAULT_KEEP)
		d->delay = p->delay_ms;
	if (p->jitter_ms != FAULT_KEEP)
		d->jitter = p->jitter_ms;
	if (p->reorder_pct != FAULT_KEEP)
		d->reorder = p->reorder_pct;
	if (p->dup_pct != FAULT_KEEP)
		d->dup = p->dup_pct;
	if (p->rate_bps != FAULT_KEEP)
		d->rate = p->rate_bps;
	struct set_arg *out = arg;
	out->delay = d->delay < 0 ? s->np[a->node].delay : d->delay;
	out->jitter = d->jitter < 0 ? s->np[a->node].jitter : d->jitter;
	return 0;
}

int fault_packet_set(struct run *r, size_t node, ssize_t peer, const struct fault_packet *p,
                     char *err, size_t errlen)
{
	size_t n = r->t->nnodes;
	if (node >= n || peer >= (ssize_t)n || peer < FAULT_ALL || (size_t)peer == node)
		return fail(err, errlen, -EINVAL, "packet faults need a node of %s and a different "
		            "peer (or all peers)", r->name);
	const char *name = r->t->nodes[node].name;
	struct {
		const char *what;
		int v, max;
	} f[] = { { "loss", p->loss_pct, 100 },     { "delay", p->delay_ms, 60000 },
		  { "jitter", p->jitter_ms, 120000 }, { "reorder", p->reorder_pct, 100 },
		  { "dup", p->dup_pct, 100 } };
	for (size_t k = 0; k < sizeof(f) / sizeof(f[0]); k++)
		if (f[k].v != FAULT_KEEP && (f[k].v < 0 || f[k].v > f[k].max))
			return fail(err, errlen, -EINVAL, "node %s: %s %d is out of range (0..%d)", name,
			            f[k].what, f[k].v, f[k].max);
	if (p->rate_bps != FAULT_KEEP && (p->rate_bps < 0 || (peer >= 0 && p->rate_bps > 0)))
		return fail(err, errlen, -EINVAL, "node %s: %s", name,
		            p->rate_bps < 0 ? "rate must be >= 0 bit/s"
		                            : "a rate limit applies to a whole node, not to one peer");
	struct set_arg a = { node, peer, p, 0, 0 };
	int rc = transact(r, do_set, &a, false, err, errlen);
	if (rc)
		return rc;
	char to[40] = "";
	if (peer >= 0)
		snprintf(to, sizeof(to), " to %s", r->t->nodes[peer].name);
	if (p->loss_pct != FAULT_KEEP)
		rundir_event(r->name, "loss %s %d%%%s", name, p->loss_pct, to);
	if (p->delay_ms != FAULT_KEEP || p->jitter_ms != FAULT_KEEP)
		rundir_event(r->name, "delay %s %dms %dms%s", name, a.delay, a.jitter, to);
	if (p->reorder_pct != FAULT_KEEP)
		rundir_event(r->name, "reorder %s %d%%%s", name, p->reorder_pct, to);
	if (p->dup_pct != FAULT_KEEP)
		rundir_event(r->name, "dup %s %d%%%s", name, p->dup_pct, to);
	if (p->rate_bps > 0)
		rundir_event(r->name, "rate %s %lldbit", name, p->rate_bps);
	else if (p->rate_bps == 0)
		rundir_event(r->name, "rate %s off", name);
	return 0;
}

static int do_clear(struct run *r, struct state *s, void *arg, char *err, size_t errlen)
{
	ssize_t node = *(const ssize_t *)arg;
	size_t k = 0;
	for (size_t m = 0; m < s->novr; m++)
		if (node >= 0 && s->ovr[m].node != (size_t)node)
			s->ovr[k++] = s->ovr[m];
	s->novr = k;
	for (size_t i = 0; i < s->n; i++)
		if (node < 0 || i == (size_t)node)
			s->np[i] = PK_ZERO;
	return 0;
}

int fault_packet_clear(struct run *r, ssize_t node, char *err, size_t errlen)
{
	if (node < FAULT_ALL || node >= (ssize_t)r->t->nnodes)
		return fail(err, errlen, -EINVAL, "no node %zd in topology %s", node, r->name);
	int rc = transact(r, do_clear, &node, false, err, errlen);
	if (rc == 0 && node >= 0)
		rundir_event(r->name, "clear %s", r->t->nodes[node].name);
	else if (rc == 0)
		for (size_t i = 0; i < r->t->nnodes; i++)
			rundir_event(r->name, "clear %s", r->t->nodes[i].name);
	return rc;
}

static int do_clear_all(struct run *r, struct state *s, void *arg, char *err, size_t errlen)
{
	ssize_t all = FAULT_ALL;
	do_heal(r, s, NULL, err, errlen);
	return do_clear(r, s, &all, err, errlen);
}

int fault_clear_all(struct run *r, char *err, size_t errlen)
{
	/* redo everything: after a crash the state file may not say all that was
	 * applied; rates come back off only where the state had one */
	int rc = transact(r, do_clear_all, NULL, true, err, errlen);
	if (rc == 0)
		rundir_event(r->name, "clear");
	return rc;
}

int fault_down(const char *topo)
{
	struct run r;
	char err[512];
	if (run_open(topo, &r, err, sizeof(err)) == 0) {
		struct state s;
		char path[RUNDIR_PATH_MAX];
		rundir_path(r.name, "faults", path, sizeof(path));
		if (access(path, F_OK) == 0 && state_load(&r, &s, err, sizeof(err)) == 0) {
			state_free(&s);
			fault_clear_all(&r, err, sizeof(err));
		}
		run_close(&r);
	}
	struct journal j;
	if (journal_read(topo, &j))
		return 0;
	int killed = 0;
	for (size_t k = 0; k < j.naux; k++) {
		const struct journal_proc *a = &j.aux[k];
		if (!netns_proc_running(a->pid, a->starttime))
			continue;
		kill(a->pid, SIGKILL);
		killed++;
		for (int ms = 0; ms < 2000 && netns_proc_running(a->pid, a->starttime); ms += 5)
			fault__sleep_ms(5);
		waitpid(a->pid, NULL, WNOHANG);
	}
	journal_free(&j);
	return killed;
}

/* ---- parsing and inspection ---- */

int fault_parse_rate(const char *s, long long *bps)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || v <= 0)
		return -EINVAL;
	struct {
		const char *suffix;
		double mul;
	} u[] = { { "", 1 },         { "bit", 1 },      { "kbit", 1e3 },   { "mbit", 1e6 },
		  { "gbit", 1e9 },   { "bps", 8 },      { "kbps", 8e3 },   { "mbps", 8e6 },
		  { "gbps", 8e9 },   { "k", 1e3 },      { "m", 1e6 },      { "g", 1e9 } };
	for (size_t k = 0; k < sizeof(u) / sizeof(u[0]); k++) {
		if (strcasecmp(end, u[k].suffix) == 0) {
			double r = v * u[k].mul;
			if (r < 8 || r > 16e9)
				return -EINVAL;
			*bps = (long long)r;
			return 0;
		}
	}
	return -EINVAL;
}

int fault_describe(struct run *r, char *buf, size_t cap)
{
	char err[256];
	struct state s;
	buf[0] = '\0';
	if (state_load(r, &s, err, sizeof(err)))
		return 0;
	size_t o = 0;
	int count = 0;
	const struct topo_node *nd = r->t->nodes;
#define ADD(...)                                                                    \
	do {                                                                        \
		if (o < cap)                                                        \
			o += (size_t)snprintf(buf + o, cap - o, __VA_ARGS__);       \
		count++;                                                            \
	} while (0)
	for (size_t i = 0; i < s.n; i++)
		for (size_t j = 0; j < s.n; j++)
			if (s.blk[i * s.n + j])
				ADD("  block   %s -> %s\n", nd[i].name, nd[j].name);
	for (size_t i = 0; i < s.n; i++) {
		const struct pk *p = &s.np[i];
		if (!pk_active(p))
			continue;
		char rate[32] = "off";
		if (p->rate > 0)
			snprintf(rate, sizeof(rate), "%lldbit", p->rate);
		ADD("  packets %s: loss %d%% delay %dms jitter %dms reorder %d%% dup %d%% rate %s\n",
		    nd[i].name, p->loss, p->delay, p->jitter, p->reorder, p->dup, rate);
	}
	for (size_t k = 0; k < s.novr; k++) {
		bool own;
		struct pk e = effective(&s, s.ovr[k].node, s.ovr[k].peer, &own);
		ADD("  packets %s to %s: loss %d%% delay %dms jitter %dms reorder %d%% dup %d%%\n",
		    nd[s.ovr[k].node].name, nd[s.ovr[k].peer].name, e.loss, e.delay, e.jitter,
		    e.reorder, e.dup);
	}
#undef ADD
	state_free(&s);
	return count;
}
