/* The fault state file and making namespaces match it: nftables tables,
 * delayer processes, tbf qdiscs. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fault_internal.h"
#include "netns.h"
#include "nft.h"

#define TABLE "conclave_harness"
#define fail fault__fail
#define sleep_ms fault__sleep_ms

/* ---- the wanted state: <run dir>/faults ---- */

const struct pk PK_ZERO = { 0, 0, 0, 0, 0, 0 };
static const struct pk PK_UNSET = { -1, -1, -1, -1, -1, -1 };

bool pk_active(const struct pk *p)
{
	return p->loss > 0 || p->delay > 0 || p->jitter > 0 || p->reorder > 0 || p->dup > 0 ||
	       p->rate > 0;
}

void state_free(struct state *s)
{
	free(s->blk);
	free(s->np);
	free(s->ovr);
	if (s->lockfd >= 0)
		close(s->lockfd); /* releases the flock */
	memset(s, 0, sizeof(*s));
	s->lockfd = -1;
}

static ssize_t node_index(const struct run *r, const char *name)
{
	for (size_t i = 0; i < r->t->nnodes; i++)
		if (strcmp(r->t->nodes[i].name, name) == 0)
			return (ssize_t)i;
	return -1;
}

struct ovr *ovr_get(struct state *s, size_t node, size_t peer, bool create)
{
	for (size_t k = 0; k < s->novr; k++)
		if (s->ovr[k].node == node && s->ovr[k].peer == peer)
			return &s->ovr[k];
	if (!create)
		return NULL;
	struct ovr *g = realloc(s->ovr, (s->novr + 1) * sizeof(*g));
	if (!g)
		return NULL;
	s->ovr = g;
	g[s->novr] = (struct ovr){ node, peer, PK_UNSET };
	return &g[s->novr++];
}

/* Locks and reads the state (an empty one when there is no file). */
int state_load(struct run *r, struct state *s, char *err, size_t errlen)
{
	memset(s, 0, sizeof(*s));
	s->lockfd = -1;
	size_t n = s->n = r->t->nnodes;
	s->blk = calloc(n * n, sizeof(bool));
	s->np = calloc(n, sizeof(struct pk));
	if (!s->blk || !s->np) {
		state_free(s);
		return fail(err, errlen, -ENOMEM, "out of memory");
	}
	char path[RUNDIR_PATH_MAX];
	rundir_path(r->name, "faults.lock", path, sizeof(path));
	s->lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (s->lockfd < 0 || flock(s->lockfd, LOCK_EX)) {
		int rc = -errno;
		state_free(s);
		return fail(err, errlen, rc, "cannot lock %s: %s", path, strerror(-rc));
	}
	rundir_path(r->name, "faults", path, sizeof(path));
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	char line[256], a[64], b[64];
	struct pk p;
	while (fgets(line, sizeof(line), f)) {
		ssize_t x, y;
		if (sscanf(line, "gen %ld", &s->gen) == 1)
			continue;
		if (sscanf(line, "block %63s %63s", a, b) == 2) {
			if ((x = node_index(r, a)) >= 0 && (y = node_index(r, b)) >= 0)
				s->blk[(size_t)x * n + (size_t)y] = true;
		} else if (sscanf(line, "node %63s %d %d %d %d %d %lld", a, &p.loss, &p.delay,
		                  &p.jitter, &p.reorder, &p.dup, &p.rate) == 7) {
			if ((x = node_index(r, a)) >= 0)
				s->np[x] = p;
		} else if (sscanf(line, "peer %63s %63s %d %d %d %d %d", a, b, &p.loss, &p.delay,
		                  &p.jitter, &p.reorder, &p.dup) == 7) {
			struct ovr *o;
			if ((x = node_index(r, a)) >= 0 && (y = node_index(r, b)) >= 0 &&
			    (o = ovr_get(s, (size_t)x, (size_t)y, true))) {
				p.rate = -1;
				o->p = p;
			}
		}
	}
	fclose(f);
	return 0;
}

static int state_save(struct run *r, struct state *s, char *err, size_t errlen)
{
	char path[RUNDIR_PATH_MAX], tmp[RUNDIR_PATH_MAX + 8];
	rundir_path(r->name, "faults", path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "we");
	if (!f)
		return fail(err, errlen, -errno, "cannot write %s: %s", tmp, strerror(errno));
	const struct topo_node *nd = r->t->nodes;
	fprintf(f, "gen %ld\n", s->gen);
	for (size_t i = 0; i < s->n; i++)
		for (size_t j = 0; j < s->n; j++)
			if (s->blk[i * s->n + j])
				fprintf(f, "block %s %s\n", nd[i].name, nd[j].name);
	for (size_t i = 0; i < s->n; i++)
		if (pk_active(&s->np[i]))
			fprintf(f, "node %s %d %d %d %d %d %lld\n", nd[i].name, s->np[i].loss,
			        s->np[i].delay, s->np[i].jitter, s->np[i].reorder, s->np[i].dup,
			        s->np[i].rate);
	for (size_t k = 0; k < s->novr; k++) {
		const struct pk *p = &s->ovr[k].p;
		if (p->loss >= 0 || p->delay >= 0 || p->jitter >= 0 || p->reorder >= 0 || p->dup >= 0)
			fprintf(f, "peer %s %s %d %d %d %d %d\n", nd[s->ovr[k].node].name,
			        nd[s->ovr[k].peer].name, p->loss, p->delay, p->jitter, p->reorder, p->dup);
	}
	if (fclose(f) || rename(tmp, path))
		return fail(err, errlen, -EIO, "cannot write %s: %s", path, strerror(errno));
	return 0;
}

/* What node `from` does to packets for `to`: the override's set fields, else
 * the node-wide ones. `own_queue`: the override sets a delay field, so the
 * pair gets a queue of its own. */
struct pk effective(const struct state *s, size_t from, size_t to, bool *own_queue)
{
	struct pk e = s->np[from];
	bool own = false;
	for (size_t k = 0; k < s->novr; k++) {
		const struct ovr *o = &s->ovr[k];
		if (o->node != from || o->peer != to)
			continue;
		if (o->p.loss >= 0)
			e.loss = o->p.loss;
		if (o->p.dup >= 0)
			e.dup = o->p.dup;
		if (o->p.delay >= 0 || o->p.jitter >= 0 || o->p.reorder >= 0)
			own = true;
		if (o->p.delay >= 0)
			e.delay = o->p.delay;
		if (o->p.jitter >= 0)
			e.jitter = o->p.jitter;
		if (o->p.reorder >= 0)
			e.reorder = o->p.reorder;
	}
	if (own_queue)
		*own_queue = own;
	return e;
}

/* ---- making namespaces match the state ---- */

struct rules {
	struct netns_nft_rule *v;
	size_t n, cap;
};

static int push(struct rules *rs, struct netns_nft_rule r)
{
	if (rs->n == rs->cap) {
		size_t cap = rs->cap ? rs->cap * 2 : 16;
		struct netns_nft_rule *g = realloc(rs->v, cap * sizeof(*g));
		if (!g)
			return -ENOMEM;
		rs->v = g;
		rs->cap = cap;
	}
	rs->v[rs->n++] = r;
	return 0;
}

struct queue_conf {
	int q, delay, jitter, reorder;
};

/* Node i's table and delayer queues. nq: how many queues (qc has n+1 room). */
static int node_rules(const struct run *r, const struct state *s, size_t i, struct rules *in,
                      struct rules *out, uint32_t *blocked, size_t *nblocked,
                      struct queue_conf *qc, size_t *nq)
{
	const struct topology *t = r->t;
	int rc = 0;
	*nblocked = *nq = 0;
	for (size_t f = 0; f < s->n; f++)
		if (f != i && s->blk[f * s->n + i])
			for (size_t a = 0; a < t->nodes[f].nifaces; a++)
				blocked[(*nblocked)++] = t->nodes[f].ifaces[a].addr;
	if (*nblocked)
		rc |= push(in, (struct netns_nft_rule){ .match = NETNS_NFT_SADDR_IN, .set = "blocked",
		                                        .pct = 100, .action = NETNS_NFT_DROP });
	for (size_t p = 0; p < s->n; p++) {
		if (p == i)
			continue;
		struct pk from = effective(s, p, i, NULL); /* packets p sends to i */
		for (size_t a = 0; from.loss > 0 && a < t->nodes[p].nifaces; a++)
			rc |= push(in, (struct netns_nft_rule){ .match = NETNS_NFT_SADDR,
			                                        .addr = t->nodes[p].ifaces[a].addr,
			                                        .pct = from.loss,
			                                        .action = NETNS_NFT_DROP });
		struct pk to = effective(s, i, p, NULL); /* packets i sends to p */
		for (size_t a = 0; to.dup > 0 && a < t->nodes[p].nifaces; a++)
			rc |= push(out, (struct netns_nft_rule){ .match = NETNS_NFT_DADDR,
			                                         .addr = t->nodes[p].ifaces[a].addr,
			                                         .pct = to.dup, .action = NETNS_NFT_DUP });
	}
	/* queue rules last: a packet the delayer accepts leaves the chain */
	bool q0 = false;
	for (size_t p = 0; p < s->n; p++) {
		bool own;
		struct pk to = p == i ? PK_ZERO : effective(s, i, p, &own);
		if (to.delay <= 0 && to.jitter <= 0 && to.reorder <= 0)
			continue;
		int q = own ? (int)p + 1 : 0;
		if (own)
			qc[(*nq)++] = (struct queue_conf){ q, to.delay, to.jitter, to.reorder };
		else
			q0 = true;
		for (size_t a = 0; a < t->nodes[p].nifaces; a++)
			rc |= push(out, (struct netns_nft_rule){ .match = NETNS_NFT_DADDR,
			                                         .addr = t->nodes[p].ifaces[a].addr,
			                                         .pct = 100, .action = NETNS_NFT_QUEUE,
			                                         .queue = (uint16_t)q });
	}
	if (q0)
		qc[(*nq)++] = (struct queue_conf){ 0, s->np[i].delay, s->np[i].jitter,
			                           s->np[i].reorder };
	return rc ? -ENOMEM : 0;
}

static const char *delayer_path(char *buf, size_t cap)
{
	const char *env = getenv("HARNESS_DELAYER");
	if (env && env[0])
		return env;
	ssize_t n = readlink("/proc/self/exe", buf, cap - 32);
	if (n > 0) {
		buf[n] = '\0';
		char *slash = strrchr(buf, '/');
		if (slash) {
			snprintf(slash + 1, cap - (size_t)(slash + 1 - buf), "harness-delayer");
			if (access(buf, X_OK) == 0)
				return buf;
		}
	}
	return "harness-delayer"; /* PATH */
}

/* The node's delayer if it is still the process we started, else 0. */
static pid_t delayer_pid(const struct run *r, size_t i)
{
	const struct journal_proc *a = journal_aux_of(&r->j, r->t->nodes[i].name);
	return a && netns_proc_running(a->pid, a->starttime) ? a->pid : 0;
}

/* Stops the node's delayer (it releases what it holds) and waits for it. */
static void delayer_stop(const struct run *r, size_t i)
{
	pid_t pid = delayer_pid(r, i);
	if (!pid)
		return;
	unsigned long long st = netns_proc_starttime(pid);
	kill(pid, SIGTERM);
	for (int ms = 0; netns_proc_running(pid, st); ms += 5) {
		waitpid(pid, NULL, WNOHANG); /* when it is our child (chaos runner) */
		if (ms == 2000)
			kill(pid, SIGKILL);
		if (ms > 4000)
			break;
		sleep_ms(5);
	}
	waitpid(pid, NULL, WNOHANG);
}

/* Writes the node's delayer config and makes a delayer run it: a SIGHUP to
 * the running one, or a new one (journaled before it runs). Waits until it
 * reports this generation. */
static int delayer_run(struct run *r, size_t i, long gen, const struct queue_conf *qc,
                       size_t nq, char *err, size_t errlen)
{
	const char *name = r->t->nodes[i].name;
	char dir[RUNDIR_PATH_MAX], rel[64], conf[RUNDIR_PATH_MAX + 16], tmp[RUNDIR_PATH_MAX + 32];
	char ready[RUNDIR_PATH_MAX + 16], log[RUNDIR_PATH_MAX + 16];
	snprintf(rel, sizeof(rel), "nodes/%s", name);
	rundir_path(r->name, rel, dir, sizeof(dir));
	mkdir(dir, 0755);
	snprintf(conf, sizeof(conf), "%s/delayer.conf", dir);
	snprintf(ready, sizeof(ready), "%s/delayer.ready", dir);
	snprintf(log, sizeof(log), "%s/delayer.log", dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", conf);
	FILE *f = fopen(tmp, "we");
	if (!f)
		return fail(err, errlen, -errno, "node %s: cannot write %s: %s", name, tmp,
		            strerror(errno));
	fprintf(f, "gen %ld\n", gen);
	for (size_t k = 0; k < nq; k++)
		fprintf(f, "queue %d %d %d %d\n", qc[k].q, qc[k].delay, qc[k].jitter, qc[k].reorder);
	if (fclose(f) || rename(tmp, conf))
		return fail(err, errlen, -EIO, "node %s: cannot write %s", name, conf);
	pid_t pid = delayer_pid(r, i);
	if (pid) {
		kill(pid, SIGHUP);
	} else {
		if (r->node_fd[i] < 0)
			return fail(err, errlen, -ENOENT, "node %s: namespace %s is gone", name,
			            r->p.node_ns[i]);
		char exe[PATH_MAX];
		char *argv[] = { (char *)delayer_path(exe, sizeof(exe)), conf, ready, NULL };
		int out = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
		struct netns_spawn sp = { .nsfd = r->node_fd[i], .argv = argv, .stdout_fd = out,
			                  .cwd = dir, .detach = true };
		int gate;
		struct netns_err e;
		int rc = out < 0 ? -errno : netns_spawn(&sp, &pid, &gate, &e);
		if (out >= 0)
			close(out);
		if (rc)
			return fail(err, errlen, rc, "node %s: cannot start the delayer: %s", name,
			            out < 0 ? strerror(-rc) : e.msg);
		char line[128];
		snprintf(line, sizeof(line), "aux %s %d %llu\n", name, (int)pid,
		         netns_proc_starttime(pid));
		if (journal_append(r->name, line)) {
			netns_spawn_release(gate, false);
			waitpid(pid, NULL, 0);
			return fail(err, errlen, -EIO, "node %s: cannot write the journal", name);
		}
		netns_spawn_release(gate, true);
		journal_free(&r->j);
		journal_read(r->name, &r->j);
	}
	unsigned long long st = netns_proc_starttime(pid);
	for (int ms = 0; ms < 3000; ms += 5) {
		FILE *rf = fopen(ready, "re");
		long got = -1;
		if (rf) {
			if (fscanf(rf, "%ld", &got) != 1)
				got = -1;
			fclose(rf);
		}
		if (got == gen)
			return 0;
		if (!netns_proc_running(pid, st))
			return fail(err, errlen, -ECHILD, "node %s: the delayer (pid %d) exited; see %s",
			            name, (int)pid, log);
		sleep_ms(5);
	}
	return fail(err, errlen, -ETIMEDOUT, "node %s: the delayer (pid %d) did not take its "
	            "config within 3 s; see %s", name, (int)pid, log);
}

static int apply_rate(struct run *r, size_t i, long long rate, char *err, size_t errlen)
{
	size_t idx[TOPO_MAX_NETWORKS];
	size_t n = plan_node_veths(&r->p, i, idx, TOPO_MAX_NETWORKS);
	for (size_t k = 0; k < n; k++) {
		struct netns_err e;
		int rc = r->node_fd[i] < 0 ? -ENOENT
		                           : netns_tbf_set(r->node_fd[i], r->p.node_ns[i],
		                                           r->p.veths[idx[k]].node_ifindex,
		                                           (uint64_t)rate, &e);
		if (rc)
			return fail(err, errlen, rc, "node %s: %s", r->t->nodes[i].name,
			            rc == -ENOENT ? "namespace is gone" : e.msg);
	}
	return 0;
}

/* Makes every node match `now` (old: what was applied before; NULL: unknown,
 * so everything is redone). */
static int apply(struct run *r, const struct state *old, struct state *now, char *err,
                 size_t errlen)
{
	size_t n = now->n, naddr = 0;
	for (size_t i = 0; i < n; i++)
		naddr += r->t->nodes[i].nifaces;
	uint32_t *blocked = calloc(naddr + 1, sizeof(uint32_t));
	struct queue_conf *qc = calloc(n + 1, sizeof(*qc));
	int rc = blocked && qc ? 0 : fail(err, errlen, -ENOMEM, "out of memory");
	for (size_t i = 0; rc == 0 && i < n; i++) {
		const char *name = r->t->nodes[i].name;
		struct rules in = { 0 }, out = { 0 }, oin = { 0 }, oout = { 0 };
		size_t nb, nq, onb, onq;
		rc = node_rules(r, now, i, &in, &out, blocked, &nb, qc, &nq);
		if (rc == 0 && old) {
			uint32_t *ob = calloc(naddr + 1, sizeof(uint32_t));
			struct queue_conf *oq = calloc(n + 1, sizeof(*oq));
			rc = ob && oq ? node_rules(r, old, i, &oin, &oout, ob, &onb, oq, &onq) : -ENOMEM;
			free(ob);
			free(oq);
		}
		if (rc) {
			rc = fail(err, errlen, -ENOMEM, "out of memory");
		} else if (in.n + out.n) {
			if (nq)
				rc = delayer_run(r, i, now->gen, qc, nq, err, errlen);
			struct netns_nft_set set = { "blocked", blocked, nb };
			struct netns_nft_table t = { &set, 1, in.v, out.v, in.n, out.n };
			struct netns_err e;
			if (rc == 0 && r->node_fd[i] >= 0 &&
			    (rc = netns_nft_apply(r->node_fd[i], r->p.node_ns[i], TABLE, &t, &e)))
				fail(err, errlen, rc, "node %s: %s", name, e.msg);
			if (rc == 0 && !nq)
				delayer_stop(r, i);
		} else if (!old || oin.n + oout.n) {
			struct netns_err e;
			if (r->node_fd[i] >= 0 &&
			    (rc = netns_nft_delete(r->node_fd[i], r->p.node_ns[i], TABLE, &e)))
				fail(err, errlen, rc, "node %s: %s", name, e.msg);
			delayer_stop(r, i);
		}
		long long was = old ? old->np[i].rate : -1;
		if (rc == 0 && now->np[i].rate != was && (now->np[i].rate > 0 || was != 0))
			rc = apply_rate(r, i, now->np[i].rate, err, errlen);
		free(in.v);
		free(out.v);
		free(oin.v);
		free(oout.v);
	}
	free(blocked);
	free(qc);
	return rc;
}

int transact(struct run *r, change_fn change, void *arg, bool redo_all, char *err,
                    size_t errlen)
{
	struct state old, now;
	int rc = state_load(r, &old, err, errlen);
	if (rc)
		return rc;
	/* `now` is a copy of `old` that shares its lock */
	size_t n = old.n;
	now = old;
	now.lockfd = -1;
	now.blk = malloc(n * n * sizeof(bool));
	now.np = malloc(n * sizeof(struct pk));
	now.ovr = malloc((old.novr + 1) * sizeof(struct ovr));
	if (!now.blk || !now.np || !now.ovr) {
		rc = fail(err, errlen, -ENOMEM, "out of memory");
		goto out;
	}
	memcpy(now.blk, old.blk, n * n * sizeof(bool));
	memcpy(now.np, old.np, n * sizeof(struct pk));
	if (old.novr)
		memcpy(now.ovr, old.ovr, old.novr * sizeof(struct ovr));
	if ((rc = change(r, &now, arg, err, errlen)))
		goto out;
	now.gen = old.gen + 1;
	if ((rc = state_save(r, &now, err, errlen)) == 0)
		rc = apply(r, redo_all ? NULL : &old, &now, err, errlen);
out:
	state_free(&now);
	state_free(&old);
	return rc;
}

