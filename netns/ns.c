/* Named namespaces, the iproute2 recipe: a shared /run/netns mount point and a
 * bind mount of the thread's new namespace onto /run/netns/NAME. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "netns_internal.h"

int netns__fail(struct netns_err *e, int err, const char *fmt, ...)
{
	if (e) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
		va_end(ap);
	}
	return err < 0 ? err : -err;
}

static int path_of(const char *name, char *buf, size_t cap, struct netns_err *e)
{
	if (!name[0] || strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return netns__fail(e, -EINVAL, "namespace \"%s\": invalid name", name);
	if ((size_t)snprintf(buf, cap, NETNS_RUN_DIR "/%s", name) >= cap)
		return netns__fail(e, -ENAMETOOLONG, "namespace \"%s\": name too long", name);
	return 0;
}

/* /run/netns must be a shared mount so bind mounts in it propagate (iproute2). */
static int prepare_run_dir(struct netns_err *e)
{
	static bool done;
	if (done)
		return 0;
	if (mkdir(NETNS_RUN_DIR, 0755) && errno != EEXIST)
		return netns__fail(e, -errno, "cannot create " NETNS_RUN_DIR ": %s", strerror(errno));
	if (mount("", NETNS_RUN_DIR, "none", MS_SHARED | MS_REC, NULL)) {
		if (errno != EINVAL)
			return netns__fail(e, -errno, "cannot make " NETNS_RUN_DIR " shared: %s",
			                   strerror(errno));
		if (mount(NETNS_RUN_DIR, NETNS_RUN_DIR, "none", MS_BIND | MS_REC, NULL) ||
		    mount("", NETNS_RUN_DIR, "none", MS_SHARED | MS_REC, NULL))
			return netns__fail(e, -errno, "cannot bind-mount " NETNS_RUN_DIR ": %s",
			                   strerror(errno));
	}
	done = true;
	return 0;
}

int netns_create(const char *name, struct netns_err *e)
{
	char path[256];
	int rc = path_of(name, path, sizeof(path), e);
	if (rc || (rc = prepare_run_dir(e)))
		return rc;
	int fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
	if (fd < 0)
		return netns__fail(e, -errno, "namespace \"%s\": cannot create %s: %s", name, path,
		                   strerror(errno));
	close(fd);
	int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0) {
		rc = netns__fail(e, -errno, "namespace \"%s\": cannot open own namespace: %s", name,
		                 strerror(errno));
		unlink(path);
		return rc;
	}
	if (unshare(CLONE_NEWNET)) {
		rc = netns__fail(e, -errno, "namespace \"%s\": unshare: %s", name, strerror(errno));
	} else {
		if (mount("/proc/thread-self/ns/net", path, "none", MS_BIND, NULL))
			rc = netns__fail(e, -errno, "namespace \"%s\": bind mount: %s", name,
			                 strerror(errno));
		if (setns(self, CLONE_NEWNET) && rc == 0)
			rc = netns__fail(e, -errno, "namespace \"%s\": cannot return to own namespace: %s",
			                 name, strerror(errno));
	}
	close(self);
	if (rc)
		unlink(path);
	return rc;
}

int netns_open(const char *name, int *fd, struct netns_err *e)
{
	char path[256];
	int rc = path_of(name, path, sizeof(path), e);
	if (rc)
		return rc;
	*fd = open(path, O_RDONLY | O_CLOEXEC);
	if (*fd < 0)
		return netns__fail(e, -errno, "namespace \"%s\": %s", name, strerror(errno));
	return 0;
}

int netns_delete(const char *name, struct netns_err *e)
{
	char path[256];
	int rc = path_of(name, path, sizeof(path), e);
	if (rc)
		return rc;
	if (access(path, F_OK))
		return netns__fail(e, -ENOENT, "namespace \"%s\": does not exist", name);
	umount2(path, MNT_DETACH);
	if (unlink(path))
		return netns__fail(e, -errno, "namespace \"%s\": cannot remove %s: %s", name, path,
		                   strerror(errno));
	return 0;
}

bool netns_exists(const char *name)
{
	char path[256];
	return path_of(name, path, sizeof(path), NULL) == 0 && access(path, F_OK) == 0;
}

int netns_enter(int fd, struct netns_err *e)
{
	if (setns(fd, CLONE_NEWNET))
		return netns__fail(e, -errno, "setns: %s", strerror(errno));
	return 0;
}

/* The namespaces that must never receive topology addresses: the one this
 * process started in and init's. */
static ino_t start_ino;

__attribute__((constructor)) static void remember_start_namespace(void)
{
	struct stat st;
	if (stat("/proc/self/ns/net", &st) == 0)
		start_ino = st.st_ino;
}

bool netns__is_protected(ino_t ns_ino)
{
	struct stat st;
	if (ns_ino == start_ino)
		return true;
	return stat("/proc/1/ns/net", &st) == 0 && st.st_ino == ns_ino;
}

static int read_uint(const char *path, unsigned *v)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	int rc = fscanf(f, "%u", v) == 1 ? 0 : -EINVAL;
	fclose(f);
	return rc;
}

static int write_uint(const char *path, unsigned v)
{
	FILE *f = fopen(path, "we");
	if (!f)
		return -errno;
	fprintf(f, "%u\n", v);
	return fclose(f) ? -errno : 0;
}

int netns_neigh_capacity(unsigned entries, unsigned *raised_to, struct netns_err *e)
{
	static const char *const th[3] = { "/proc/sys/net/ipv4/neigh/default/gc_thresh1",
		                           "/proc/sys/net/ipv4/neigh/default/gc_thresh2",
		                           "/proc/sys/net/ipv4/neigh/default/gc_thresh3" };
	*raised_to = 0;
	unsigned cur[3];
	for (int i = 0; i < 3; i++) {
		int rc = read_uint(th[i], &cur[i]);
		if (rc)
			return netns__fail(e, rc, "cannot read %s: %s", th[i], strerror(-rc));
	}
	/* gc_thresh2 is where the kernel starts collecting; keep the need below it */
	if (entries <= cur[1])
		return 0;
	unsigned want[3] = { entries / 2, entries * 2, entries * 4 };
	for (int i = 2; i >= 0; i--) { /* largest first, so thresh1 <= thresh2 <= thresh3 holds */
		if (want[i] <= cur[i])
			continue;
		int rc = write_uint(th[i], want[i]);
		if (rc)
			return netns__fail(e, rc, "cannot raise %s to %u: %s", th[i], want[i],
			                   strerror(-rc));
	}
	*raised_to = want[2] > cur[2] ? want[2] : cur[2];
	return 0;
}
