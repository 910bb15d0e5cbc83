/* fork -> setns -> wait for the go-ahead -> exec. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "netns_internal.h"

static void child(const struct netns_spawn *s, int gate)
{
	int out = s->stdout_fd >= 0 ? s->stdout_fd : open("/dev/null", O_WRONLY);
	int in = open("/dev/null", O_RDONLY);
	if (out < 0 || in < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
		_exit(126);
	if (s->nsfd >= 0 && setns(s->nsfd, CLONE_NEWNET)) {
		dprintf(2, "harness: cannot enter the node's namespace: %s\n", strerror(errno));
		_exit(126);
	}
	if (s->detach)
		setsid();
	if (s->cwd && chdir(s->cwd)) {
		dprintf(2, "harness: cannot change to %s: %s\n", s->cwd, strerror(errno));
		_exit(126);
	}
	char go = 0;
	ssize_t n;
	do
		n = read(gate, &go, 1);
	while (n < 0 && errno == EINTR);
	if (n != 1 || go != 'y')
		_exit(0); /* the parent gave up (or died) before recording us */
	close_range(3, ~0U, 0);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	execvp(s->argv[0], s->argv);
	dprintf(2, "harness: cannot run %s: %s\n", s->argv[0], strerror(errno));
	_exit(127);
}

int netns_spawn(const struct netns_spawn *s, pid_t *pid, int *gate, struct netns_err *e)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC))
		return netns__fail(e, -errno, "pipe: %s", strerror(errno));
	pid_t c = fork();
	if (c < 0) {
		int err = errno;
		close(p[0]);
		close(p[1]);
		return netns__fail(e, -err, "fork: %s", strerror(err));
	}
	if (c == 0) {
		close(p[1]);
		child(s, p[0]);
	}
	close(p[0]);
	*pid = c;
	*gate = p[1];
	return 0;
}

void netns_spawn_release(int gate, bool run)
{
	char go = run ? 'y' : 'n';
	ssize_t n;
	do
		n = write(gate, &go, 1);
	while (n < 0 && errno == EINTR);
	close(gate);
}

/* Reads /proc/PID/stat and returns the text after "(comm) ", or NULL. */
static char *stat_fields(pid_t pid, char *buf, size_t cap)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return NULL;
	size_t n = fread(buf, 1, cap - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p + 2 : NULL;
}

unsigned long long netns_proc_starttime(pid_t pid)
{
	char buf[1024];
	char *p = stat_fields(pid, buf, sizeof(buf));
	/* p starts at field 3 (state); starttime is field 22 */
	for (int field = 3; field < 22 && p; field++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	return p ? strtoull(p, NULL, 10) : 0;
}

char netns_proc_state(pid_t pid)
{
	char buf[1024];
	char *p = stat_fields(pid, buf, sizeof(buf));
	return p ? p[0] : 0;
}

bool netns_proc_running(pid_t pid, unsigned long long starttime)
{
	if (pid <= 0 || netns_proc_starttime(pid) != starttime)
		return false;
	char st = netns_proc_state(pid);
	return st && st != 'Z' && st != 'X';
}
