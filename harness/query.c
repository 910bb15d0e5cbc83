#include "query.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "netns.h"
#include "plan.h"

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* A TCP socket that belongs to the namespace nsfd (sockets keep the namespace
 * they were created in, so the thread goes there only for socket()). */
static int socket_in(int nsfd)
{
	int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0)
		return -errno;
	int fd = -1, rc = 0;
	if (setns(nsfd, CLONE_NEWNET)) {
		rc = -errno;
	} else {
		fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			rc = -errno;
		if (setns(self, CLONE_NEWNET))
			abort(); /* cannot go back: nothing after this would be safe */
	}
	close(self);
	return rc ? rc : fd;
}

static int wait_fd(int fd, short events, long long deadline)
{
	long long left = deadline - now_ms();
	if (left <= 0)
		return -ETIMEDOUT;
	struct pollfd p = { fd, events, 0 };
	int r = poll(&p, 1, (int)left);
	return r > 0 ? 0 : r == 0 ? -ETIMEDOUT : -errno;
}

int query_http(int nsfd, uint32_t ip, int port, const char *method, const char *path,
               const char *body, char *out, size_t cap, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;
	int fd = socket_in(nsfd);
	if (fd < 0)
		return fd;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
		                  .sin_addr = { htonl(ip) } };
	int rc = 0;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) && errno != EINPROGRESS) {
		rc = -errno;
		goto done;
	}
	if ((rc = wait_fd(fd, POLLOUT, deadline)))
		goto done;
	int soerr = 0;
	socklen_t sl = sizeof(soerr);
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
	if (soerr) {
		rc = -soerr;
		goto done;
	}
	char req[1024];
	char ipbuf[16];
	int n = snprintf(req, sizeof(req),
	                 "%s %s HTTP/1.0\r\nHost: %s:%d\r\nContent-Length: %zu\r\n"
	                 "Content-Type: application/json\r\n\r\n%s",
	                 method, path, topo_ip_str(ip, ipbuf), port, body ? strlen(body) : 0,
	                 body ? body : "");
	if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
		rc = -EIO;
		goto done;
	}
	char *buf = malloc(65536);
	size_t len = 0;
	if (!buf) {
		rc = -ENOMEM;
		goto done;
	}
	for (;;) {
		if ((rc = wait_fd(fd, POLLIN, deadline)))
			break;
		ssize_t r = recv(fd, buf + len, 65535 - len, 0);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
		if (len == 65535)
			break;
	}
	buf[len] = '\0';
	int status = 0;
	char *sp = strchr(buf, ' ');
	char *hdr_end = strstr(buf, "\r\n\r\n");
	if (rc == 0 && sp && hdr_end && sscanf(sp + 1, "%d", &status) == 1) {
		snprintf(out, cap, "%s", hdr_end + 4);
		rc = status;
	} else if (rc == 0) {
		rc = -EPROTO;
	}
	free(buf);
done:
	close(fd);
	return rc;
}

static void query_conclave(const struct topo_node *n, int nsfd, struct node_view *v,
                           int timeout_ms)
{
	char body[65536];
	int port = plan_node_http_port(n);
	uint32_t ip = n->ifaces[0].addr;
	int st = query_http(nsfd, ip, port, "GET", "/v1/status/leader", NULL, body, sizeof(body),
	                    timeout_ms);
	if (st <= 0)
		return;
	/* any answer says the daemon is up: a client agent that knows no server
	 * answers 500 "No known Consul servers", as Consul's does */
	v->answered = 1;
	cJSON *j = st == 200 ? cJSON_Parse(body) : NULL;
	if (cJSON_IsString(j))
		snprintf(v->leader, sizeof(v->leader), "%s", j->valuestring);
	cJSON_Delete(j);
	st = query_http(nsfd, ip, port, "GET", "/v1/agent/members", NULL, body, sizeof(body),
	                timeout_ms);
	if (st != 200)
		return; /* no gossip in this build: the endpoint does not exist yet */
	j = cJSON_Parse(body);
	if (cJSON_IsArray(j)) {
		v->members = 0;
		const cJSON *m;
		cJSON_ArrayForEach(m, j)
		{
			const cJSON *s = cJSON_GetObjectItemCaseSensitive(m, "Status");
			if (cJSON_IsNumber(s) && s->valuedouble == 1)
				v->members++;
		}
	}
	cJSON_Delete(j);
}

static void query_etcd(const struct topo_node *n, int nsfd, struct node_view *v, int timeout_ms)
{
	char body[65536];
	uint32_t ip = n->ifaces[0].addr;
	int st = query_http(nsfd, ip, 2379, "POST", "/v3/cluster/member/list", "{}", body,
	                    sizeof(body), timeout_ms);
	if (st != 200)
		return;
	v->answered = 1;
	cJSON *members = cJSON_Parse(body);
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(members, "members");
	v->members = cJSON_GetArraySize(list);
	st = query_http(nsfd, ip, 2379, "POST", "/v3/maintenance/status", "{}", body, sizeof(body),
	                timeout_ms);
	cJSON *status = st == 200 ? cJSON_Parse(body) : NULL;
	const cJSON *leader = cJSON_GetObjectItemCaseSensitive(status, "leader");
	const cJSON *m;
	cJSON_ArrayForEach(m, list)
	{
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(m, "ID");
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(m, "name");
		if (cJSON_IsString(leader) && cJSON_IsString(id) && cJSON_IsString(name) &&
		    strcmp(id->valuestring, leader->valuestring) == 0)
			snprintf(v->leader, sizeof(v->leader), "%s", name->valuestring);
	}
	cJSON_Delete(status);
	cJSON_Delete(members);
}

/* `serf members -status=alive` inside the namespace; one line per member. */
static void query_serf(const struct topo_node *n, int nsfd, struct node_view *v, int timeout_ms)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC))
		return;
	char ip[16], rpc[32];
	snprintf(rpc, sizeof(rpc), "-rpc-addr=%s:7373", topo_ip_str(n->ifaces[0].addr, ip));
	char *argv[] = { "serf", "members", rpc, "-status=alive", NULL };
	struct netns_spawn s = { .nsfd = nsfd, .argv = argv, .stdout_fd = p[1] };
	pid_t pid;
	int gate;
	struct netns_err e;
	if (netns_spawn(&s, &pid, &gate, &e)) {
		close(p[0]);
		close(p[1]);
		return;
	}
	netns_spawn_release(gate, true);
	close(p[1]);
	char buf[65536];
	size_t len = 0;
	long long deadline = now_ms() + timeout_ms;
	while (len < sizeof(buf) - 1 && wait_fd(p[0], POLLIN, deadline) == 0) {
		ssize_t r = read(p[0], buf + len, sizeof(buf) - 1 - len);
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	buf[len] = '\0';
	close(p[0]);
	kill(pid, SIGKILL);
	int status;
	waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return;
	v->answered = 1;
	v->members = 0;
	for (char *l = buf; *l; l++)
		v->members += *l == '\n';
}

void query_node(const struct topology *t, const struct topo_node *n, int nsfd,
                struct node_view *v, int timeout_ms)
{
	memset(v, 0, sizeof(*v));
	v->members = -1;
	if (!n->nifaces)
		return;
	switch (n->kind) {
	case TOPO_KIND_CONCLAVE: query_conclave(n, nsfd, v, timeout_ms); break;
	case TOPO_KIND_ETCD: query_etcd(n, nsfd, v, timeout_ms); break;
	case TOPO_KIND_SERF: query_serf(n, nsfd, v, timeout_ms); break;
	case TOPO_KIND_COMMAND: break;
	}
}
