/* Watching the servers' Raft state during a chaos run: a thread per server. */
#include "monitor.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "query.h"

#define REQUEST_TIMEOUT_MS 400

struct watch {
	struct monitor *m;
	size_t node;
	int nsfd;
	uint32_t ip;
	int port;
	pthread_t thread;
	bool started;
	struct mon_sample latest;
	struct mon_sample *changes;
	size_t nchanges, cap;
};

struct monitor {
	long long t0_ms;
	unsigned interval_ms;
	atomic_bool stop;
	pthread_mutex_t mu;
	struct watch *w;
	size_t *nodes;
	size_t n;
};

static enum mon_state parse_state(const char *s)
{
	if (!s)
		return MON_UNKNOWN;
	if (strcmp(s, "Leader") == 0)
		return MON_LEADER;
	if (strcmp(s, "Candidate") == 0)
		return MON_CANDIDATE;
	if (strcmp(s, "Follower") == 0)
		return MON_FOLLOWER;
	return MON_UNKNOWN;
}

static void sample(struct watch *w, struct mon_sample *s)
{
	static __thread char body[65536];
	memset(s, 0, sizeof(*s));
	if (query_http(w->nsfd, w->ip, w->port, "GET", "/v1/agent/self", NULL, body, sizeof(body),
	               REQUEST_TIMEOUT_MS) != 200)
		return;
	cJSON *j = cJSON_Parse(body);
	cJSON *raft = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(j, "Stats"), "raft");
	cJSON *st = cJSON_GetObjectItemCaseSensitive(raft, "state");
	cJSON *term = cJSON_GetObjectItemCaseSensitive(raft, "term");
	s->state = parse_state(cJSON_IsString(st) ? st->valuestring : NULL);
	if (cJSON_IsString(term))
		s->term = strtoull(term->valuestring, NULL, 10);
	else if (cJSON_IsNumber(term))
		s->term = (uint64_t)term->valuedouble;
	cJSON_Delete(j);
	if (query_http(w->nsfd, w->ip, w->port, "GET", "/v1/status/leader", NULL, body,
	               sizeof(body), REQUEST_TIMEOUT_MS) != 200)
		return;
	j = cJSON_Parse(body);
	if (cJSON_IsString(j))
		snprintf(s->leader, sizeof(s->leader), "%s", j->valuestring);
	cJSON_Delete(j);
	s->answered = true;
}

static bool same(const struct mon_sample *a, const struct mon_sample *b)
{
	return a->answered == b->answered && a->state == b->state && a->term == b->term &&
	       strcmp(a->leader, b->leader) == 0;
}

static void *watch_main(void *arg)
{
	struct watch *w = arg;
	struct monitor *m = w->m;
	while (!atomic_load(&m->stop)) {
		long long start = harness_now_ms();
		struct mon_sample s;
		sample(w, &s);
		s.t_ms = start - m->t0_ms;
		pthread_mutex_lock(&m->mu);
		if (w->nchanges == 0 || !same(&w->changes[w->nchanges - 1], &s)) {
			if (w->nchanges == w->cap) {
				size_t cap = w->cap ? w->cap * 2 : 64;
				struct mon_sample *n = realloc(w->changes, cap * sizeof(*n));
				if (n) {
					w->changes = n;
					w->cap = cap;
				}
			}
			if (w->nchanges < w->cap)
				w->changes[w->nchanges++] = s;
		}
		w->latest = s;
		pthread_mutex_unlock(&m->mu);
		long long left = start + m->interval_ms - harness_now_ms();
		if (left > 0) {
			struct timespec ts = { left / 1000, (left % 1000) * 1000000 };
			nanosleep(&ts, NULL);
		}
	}
	return NULL;
}

static bool is_server(const struct topo_node *n)
{
	return n->kind == TOPO_KIND_CONCLAVE && n->nifaces &&
	       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(n->config, "server"));
}

int monitor_start(struct monitor **out, const struct run *r, long long t0_ms,
                  unsigned interval_ms, char *err, size_t errlen)
{
	struct monitor *m = calloc(1, sizeof(*m));
	if (!m || !(m->w = calloc(r->t->nnodes, sizeof(*m->w))) ||
	    !(m->nodes = calloc(r->t->nnodes, sizeof(*m->nodes)))) {
		if (m)
			free(m->w);
		free(m);
		snprintf(err, errlen, "monitor: out of memory");
		return -ENOMEM;
	}
	m->t0_ms = t0_ms;
	m->interval_ms = interval_ms;
	pthread_mutex_init(&m->mu, NULL);
	for (size_t i = 0; i < r->t->nnodes; i++) {
		const struct topo_node *n = &r->t->nodes[i];
		if (!is_server(n) || r->node_fd[i] < 0)
			continue;
		struct watch *w = &m->w[m->n];
		*w = (struct watch){ .m = m, .node = i, .nsfd = r->node_fd[i],
			             .ip = n->ifaces[0].addr, .port = plan_node_http_port(n) };
		m->nodes[m->n++] = i;
	}
	for (size_t k = 0; k < m->n; k++) {
		int rc = pthread_create(&m->w[k].thread, NULL, watch_main, &m->w[k]);
		if (rc) {
			snprintf(err, errlen, "monitor: cannot start a thread: %s", strerror(rc));
			monitor_stop(m);
			monitor_free(m);
			return -rc;
		}
		m->w[k].started = true;
	}
	*out = m;
	return 0;
}

size_t monitor_nodes(const struct monitor *m, const size_t **nodes)
{
	*nodes = m->nodes;
	return m->n;
}

static struct watch *find(const struct monitor *m, size_t node)
{
	for (size_t k = 0; k < m->n; k++)
		if (m->w[k].node == node)
			return &m->w[k];
	return NULL;
}

bool monitor_latest(struct monitor *m, size_t node, struct mon_sample *out)
{
	struct watch *w = find(m, node);
	if (!w)
		return false;
	pthread_mutex_lock(&m->mu);
	*out = w->latest;
	pthread_mutex_unlock(&m->mu);
	return true;
}

bool monitor_leading_since(struct monitor *m, size_t node, uint64_t term, int64_t *since_ms)
{
	struct watch *w = find(m, node);
	bool found = false;
	if (!w)
		return false;
	pthread_mutex_lock(&m->mu);
	for (size_t i = w->nchanges; i-- > 0;) {
		const struct mon_sample *c = &w->changes[i];
		if (!c->answered || c->state != MON_LEADER || c->term != term)
			break;
		*since_ms = c->t_ms;
		found = true;
	}
	pthread_mutex_unlock(&m->mu);
	return found;
}

void monitor_stop(struct monitor *m)
{
	atomic_store(&m->stop, true);
	for (size_t k = 0; k < m->n; k++)
		if (m->w[k].started) {
			pthread_join(m->w[k].thread, NULL);
			m->w[k].started = false;
		}
}

size_t monitor_changes(const struct monitor *m, size_t node, const struct mon_sample **out)
{
	struct watch *w = find(m, node);
	*out = w ? w->changes : NULL;
	return w ? w->nchanges : 0;
}

void monitor_free(struct monitor *m)
{
	if (!m)
		return;
	for (size_t k = 0; k < m->n; k++)
		free(m->w[k].changes);
	pthread_mutex_destroy(&m->mu);
	free(m->w);
	free(m->nodes);
	free(m);
}
