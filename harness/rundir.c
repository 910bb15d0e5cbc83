#include "rundir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const char *rundir_root(void)
{
	const char *r = getenv("CONCLAVE_HARNESS_DIR");
	return r && r[0] ? r : "/run/conclave-harness";
}

void rundir_path(const char *topo, const char *rel, char *out, size_t cap)
{
	if (rel)
		snprintf(out, cap, "%s/%s/%s", rundir_root(), topo, rel);
	else
		snprintf(out, cap, "%s/%s", rundir_root(), topo);
}

static int mkdir_one(const char *p)
{
	return mkdir(p, 0755) == 0 || errno == EEXIST ? 0 : -errno;
}

int rundir_create(const char *topo)
{
	char p[RUNDIR_PATH_MAX];
	int rc = mkdir_one(rundir_root());
	rundir_path(topo, NULL, p, sizeof(p));
	if (!rc)
		rc = mkdir_one(p);
	rundir_path(topo, "nodes", p, sizeof(p));
	if (!rc)
		rc = mkdir_one(p);
	return rc;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

int rundir_remove(const char *topo)
{
	char p[RUNDIR_PATH_MAX];
	rundir_path(topo, NULL, p, sizeof(p));
	if (access(p, F_OK))
		return 0;
	return nftw(p, rm_one, 16, FTW_DEPTH | FTW_PHYS) ? -errno : 0;
}

size_t rundir_list(char (**names)[64])
{
	*names = NULL;
	DIR *d = opendir(rundir_root());
	if (!d)
		return 0;
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || strlen(e->d_name) >= 64)
			continue;
		char p[RUNDIR_PATH_MAX];
		rundir_path(e->d_name, "journal", p, sizeof(p));
		if (access(p, F_OK))
			continue;
		char (*grown)[64] = realloc(*names, (n + 1) * sizeof(**names));
		if (!grown)
			break;
		*names = grown;
		snprintf((*names)[n++], 64, "%s", e->d_name);
	}
	closedir(d);
	return n;
}

int journal_append(const char *topo, const char *lines)
{
	char p[RUNDIR_PATH_MAX];
	rundir_path(topo, "journal", p, sizeof(p));
	int fd = open(p, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	size_t n = strlen(lines);
	ssize_t w = write(fd, lines, n);
	int rc = (w == (ssize_t)n && fsync(fd) == 0) ? 0 : -EIO;
	close(fd);
	return rc;
}

static struct journal_proc *proc_slot(struct journal *j, const char *node)
{
	for (size_t i = 0; i < j->nprocs; i++)
		if (strcmp(j->procs[i].node, node) == 0)
			return &j->procs[i];
	struct journal_proc *p = realloc(j->procs, (j->nprocs + 1) * sizeof(*p));
	if (!p)
		return NULL;
	j->procs = p;
	memset(&p[j->nprocs], 0, sizeof(*p));
	snprintf(p[j->nprocs].node, sizeof(p->node), "%s", node);
	return &p[j->nprocs++];
}

int journal_read(const char *topo, struct journal *j)
{
	memset(j, 0, sizeof(*j));
	char p[RUNDIR_PATH_MAX];
	rundir_path(topo, "journal", p, sizeof(p));
	FILE *f = fopen(p, "re");
	if (!f)
		return -errno;
	char line[512];
	while (fgets(line, sizeof(line), f)) {
		char a[128], b[128];
		long long pid;
		unsigned long long st;
		if (sscanf(line, "ns %63s", a) == 1) {
			char (*g)[64] = realloc(j->ns, (j->nns + 1) * sizeof(*g));
			if (!g)
				break;
			j->ns = g;
			snprintf(j->ns[j->nns++], 64, "%s", a);
		} else if (sscanf(line, "link %63s %15s", a, b) == 2) {
			struct journal_link *g = realloc(j->links, (j->nlinks + 1) * sizeof(*g));
			if (!g)
				break;
			j->links = g;
			snprintf(g[j->nlinks].ns, sizeof(g->ns), "%s", a);
			snprintf(g[j->nlinks].ifname, sizeof(g->ifname), "%s", b);
			j->nlinks++;
		} else if (sscanf(line, "proc %15s %lld %llu", a, &pid, &st) == 3) {
			struct journal_proc *s = proc_slot(j, a);
			if (s) {
				s->pid = (pid_t)pid;
				s->starttime = st;
				s->stopped = 0;
			}
		} else if (sscanf(line, "aux %15s %lld %llu", a, &pid, &st) == 3) {
			struct journal_proc *g = realloc(j->aux, (j->naux + 1) * sizeof(*g));
			if (!g)
				break;
			j->aux = g;
			memset(&g[j->naux], 0, sizeof(*g));
			snprintf(g[j->naux].node, sizeof(g->node), "%s", a);
			g[j->naux].pid = (pid_t)pid;
			g[j->naux].starttime = st;
			j->naux++;
		} else if (sscanf(line, "stopped %15s", a) == 1) {
			struct journal_proc *s = proc_slot(j, a);
			if (s)
				s->stopped = 1;
		}
	}
	fclose(f);
	return 0;
}

void journal_free(struct journal *j)
{
	free(j->ns);
	free(j->links);
	free(j->procs);
	free(j->aux);
	memset(j, 0, sizeof(*j));
}

const struct journal_proc *journal_proc_of(const struct journal *j, const char *node)
{
	for (size_t i = 0; i < j->nprocs; i++)
		if (strcmp(j->procs[i].node, node) == 0)
			return &j->procs[i];
	return NULL;
}

const struct journal_proc *journal_aux_of(const struct journal *j, const char *node)
{
	for (size_t i = j->naux; i-- > 0;)
		if (strcmp(j->aux[i].node, node) == 0)
			return &j->aux[i];
	return NULL;
}

void rundir_event(const char *topo, const char *fmt, ...)
{
	char p[RUNDIR_PATH_MAX], msg[512], ts[64];
	rundir_path(topo, "events.log", p, sizeof(p));
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	struct tm tm;
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	FILE *f = fopen(p, "ae");
	if (!f)
		return;
	fprintf(f, "%s.%03ldZ %s\n", ts, now.tv_nsec / 1000000, msg);
	fclose(f);
}
