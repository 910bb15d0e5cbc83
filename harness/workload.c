/* The chaos run's clients: register operations on the KV HTTP API, one
 * thread per client inside its target's namespace, recorded into a history;
 * and the final read that checks no acknowledged write was lost. */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "netns.h"
#include "workload.h"

#define BODY_MAX 65536
#define DEFAULT_TIMEOUT_MS 5000u
#define FINAL_RETRY_MS 200
#define NO_LEADER "No cluster leader"

/* Unique values for every write and cas of the process. */
static atomic_int_fast64_t next_value = 1;

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double rnd01(uint64_t *s)
{
	return (double)(splitmix64(s) >> 11) * 0x1.0p-53;
}

/* ---- one HTTP client: a libcurl easy handle with keep-alive ---- */

struct http {
	CURL *c;
	char *body;                  /* the answer, NUL-terminated, cut at BODY_MAX */
	size_t len;
	char errbuf[CURL_ERROR_SIZE];
	char base[64];
};

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	struct http *x = ud;
	size_t k = size * n, room = BODY_MAX - x->len;
	memcpy(x->body + x->len, p, k < room ? k : room);
	x->len += k < room ? k : room;
	return k;
}

static void http_free(struct http *x)
{
	if (x->c)
		curl_easy_cleanup(x->c);
	free(x->body);
	x->c = NULL;
	x->body = NULL;
}

static int http_init(struct http *x, const char *base, unsigned timeout_ms)
{
	memset(x, 0, sizeof(*x));
	snprintf(x->base, sizeof(x->base), "%s", base);
	x->body = malloc(BODY_MAX + 1);
	x->c = curl_easy_init();
	if (!x->body || !x->c) {
		http_free(x);
		return -ENOMEM;
	}
	CURL *c = x->c;
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROXY, "");   /* never an http_proxy from the environment */
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, x->errbuf);
	return 0;
}

/* One request; put_body NULL: GET. Fills *status (0 without an answer). */
static CURLcode http_do(struct http *x, const char *path, const char *put_body, long *status)
{
	char url[512];
	snprintf(url, sizeof(url), "%s%s", x->base, path);
	x->len = 0;
	x->errbuf[0] = 0;
	curl_easy_setopt(x->c, CURLOPT_URL, url);
	/* A write goes on a new connection: libcurl resends a request whose
	 * reused connection broke before an answer, on a fresh one, and when that
	 * connect is refused it reports "couldn't connect" although the first
	 * copy may have been applied (a server killed mid-request). On a fresh
	 * connection, couldn't connect really means nothing was sent. */
	curl_easy_setopt(x->c, CURLOPT_FRESH_CONNECT, put_body ? 1L : 0L);
	curl_easy_setopt(x->c, CURLOPT_FORBID_REUSE, put_body ? 1L : 0L);
	if (put_body) {
		curl_easy_setopt(x->c, CURLOPT_POSTFIELDSIZE, (long)strlen(put_body));
		curl_easy_setopt(x->c, CURLOPT_COPYPOSTFIELDS, put_body);
		curl_easy_setopt(x->c, CURLOPT_CUSTOMREQUEST, "PUT");
	} else {
		curl_easy_setopt(x->c, CURLOPT_HTTPGET, 1L);
		curl_easy_setopt(x->c, CURLOPT_CUSTOMREQUEST, NULL);
	}
	CURLcode rc = curl_easy_perform(x->c);
	x->body[x->len] = 0;
	*status = 0;
	if (rc == CURLE_OK)
		curl_easy_getinfo(x->c, CURLINFO_RESPONSE_CODE, status);
	return rc;
}

/* The error text of an answer: curl's message, or "HTTP <status>: <line 1>". */
static void describe(const struct http *x, CURLcode rc, long status, char *out, size_t n)
{
	if (rc != CURLE_OK)
		snprintf(out, n, "%s", x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc));
	else
		snprintf(out, n, "HTTP %ld: %.*s", status, (int)strcspn(x->body, "\r\n"), x->body);
}

/* The body without surrounding white space equals s. */
static bool body_is(const struct http *x, const char *s)
{
	const char *b = x->body;
	size_t len = x->len;
	while (len && (*b == ' ' || *b == '\t' || *b == '\r' || *b == '\n'))
		b++, len--;
	while (len && (b[len - 1] == ' ' || b[len - 1] == '\t' || b[len - 1] == '\r' ||
	               b[len - 1] == '\n'))
		len--;
	return len == strlen(s) && memcmp(b, s, len) == 0;
}

/* A decimal value (a register's contents); false when it is not one. */
static bool parse_value(const char *s, size_t len, int64_t *out)
{
	char buf[32];
	if (len == 0 || len >= sizeof(buf))
		return false;
	memcpy(buf, s, len);
	buf[len] = 0;
	char *end;
	errno = 0;
	long long v = strtoll(buf, &end, 10);
	if (*end || errno || v == (long long)HIST_NIL || (buf[0] != '-' && (buf[0] < '0' || buf[0] > '9')))
		return false;
	*out = v;
	return true;
}

/* Outcome of a write or of a cas's PUT. */
static enum hist_result classify_put(const struct http *x, CURLcode rc, long status, bool cas)
{
	if (rc == CURLE_COULDNT_CONNECT)
		return HIST_FAIL;   /* a fresh connection was refused: nothing was sent */
	if (rc != CURLE_OK)
		return HIST_INFO;   /* timeout, reset, empty reply: maybe applied */
	if (status == 200 && body_is(x, "true"))
		return HIST_OK;
	if (status == 200 && body_is(x, "false"))
		return cas ? HIST_FAIL : HIST_INFO;
	if (status >= 400 && status < 500)
		return HIST_FAIL;   /* rejected by the request parser, before Raft */
	if (status == 500 && body_is(x, NO_LEADER))
		return HIST_FAIL;   /* answered only for requests no server proposed */
	return HIST_INFO;
}

/* ---- the workload ---- */

struct client {
	struct workload *w;
	unsigned idx;
	pthread_t th;
	bool started;
	int ready_rc;          /* set before the client reports ready */
	char ready_err[200];
	uint64_t rng;
};

struct workload {
	struct workload_cfg cfg;
	struct workload_target *targets;
	struct history *h;
	atomic_bool stop;
	atomic_size_t ok, fail, info;
	pthread_mutex_t mu;
	pthread_cond_t cv;     /* CLOCK_MONOTONIC */
	unsigned nready;
	bool go;
	struct client *clients;
};

static int64_t rel_ns(const struct workload_cfg *cfg)
{
	return mono_ns() - cfg->t0_ns;
}

static void count(struct workload *w, enum hist_result r)
{
	if (r == HIST_OK)
		atomic_fetch_add(&w->ok, 1);
	else if (r == HIST_FAIL)
		atomic_fetch_add(&w->fail, 1);
	else
		atomic_fetch_add(&w->info, 1);
}

static const char *read_suffix(enum workload_read_mode m)
{
	return m == WL_READ_CONSISTENT ? "&consistent" : m == WL_READ_STALE ? "&stale" : "";
}

/* A read of key through x as process p; returns its result, *value the value. */
static enum hist_result op_read(struct http *x, struct history *h, const struct workload_cfg *cfg,
                                int p, const char *node, const char *key,
                                enum workload_read_mode mode, int64_t *value)
{
	char path[256], e[HIST_ERR_MAX] = "";
	snprintf(path, sizeof(path), "/v1/kv/%s?raw%s", key, read_suffix(mode));
	long id = hist_invoke(h, p, HIST_READ, key, HIST_NIL, HIST_NIL, HIST_NIL, node, rel_ns(cfg));
	long status;
	CURLcode rc = http_do(x, path, NULL, &status);
	int64_t now = rel_ns(cfg);
	enum hist_result r = HIST_FAIL;
	*value = HIST_NIL;
	if (rc == CURLE_OK && status == 404) {
		r = HIST_OK;
	} else if (rc == CURLE_OK && status == 200) {
		if (parse_value(x->body, x->len, value))
			r = HIST_OK;
		else
			snprintf(e, sizeof(e), "HTTP 200: not a decimal value: %.40s", x->body);
	} else {
		describe(x, rc, status, e, sizeof(e));
	}
	if (id >= 0)
		hist_complete(h, id, r, *value, e, now);
	return r;
}

static void b64_decode(const char *in, char *out, size_t cap, size_t *outlen)
{
	uint32_t acc = 0;
	int bits = 0;
	size_t n = 0;
	for (; *in && *in != '='; in++) {
		const char *al = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
		const char *p = strchr(al, *in);
		if (!p)
			continue;
		acc = acc << 6 | (uint32_t)(p - al);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n < cap)
				out[n] = (char)(acc >> bits & 0xff);
			n++;
		}
	}
	*outlen = n;
}

/* The current value and ModifyIndex from a GET ?consistent answer (JSON). */
static bool parse_entry(const char *body, int64_t *value, uint64_t *index, char *e, size_t elen)
{
	cJSON *root = cJSON_Parse(body);
	const cJSON *o = cJSON_IsArray(root) ? cJSON_GetArrayItem(root, 0) : NULL;
	const cJSON *mi = o ? cJSON_GetObjectItemCaseSensitive(o, "ModifyIndex") : NULL;
	const cJSON *v = o ? cJSON_GetObjectItemCaseSensitive(o, "Value") : NULL;
	bool ok = false;
	if (!cJSON_IsNumber(mi) || mi->valuedouble < 1) {
		snprintf(e, elen, "HTTP 200: no ModifyIndex in the entry");
	} else if (!cJSON_IsString(v)) {
		snprintf(e, elen, "HTTP 200: the entry has no value");
	} else {
		char dec[32];
		size_t n;
		b64_decode(v->valuestring, dec, sizeof(dec), &n);
		if (n > sizeof(dec) || !parse_value(dec, n, value)) {
			snprintf(e, elen, "HTTP 200: not a decimal value: %.40s", v->valuestring);
		} else {
			*index = (uint64_t)mi->valuedouble;
			ok = true;
		}
	}
	cJSON_Delete(root);
	return ok;
}

static enum hist_result op_cas(struct http *x, struct history *h, const struct workload_cfg *cfg,
                               int p, const char *node, const char *key)
{
	char path[256], body[32], e[HIST_ERR_MAX] = "";
	int64_t nv = atomic_fetch_add(&next_value, 1), old = HIST_NIL;
	long id = hist_invoke(h, p, HIST_CAS, key, HIST_NIL, HIST_NIL, nv, node, rel_ns(cfg));
	snprintf(path, sizeof(path), "/v1/kv/%s?consistent", key);
	long status;
	uint64_t index = 0;
	CURLcode rc = http_do(x, path, NULL, &status);
	bool known = false;
	if (rc == CURLE_OK && status == 404)
		known = true;   /* absent: index 0 creates it only if it still is */
	else if (rc == CURLE_OK && status == 200)
		known = parse_entry(x->body, &old, &index, e, sizeof(e));
	else
		describe(x, rc, status, e, sizeof(e));
	enum hist_result r = HIST_FAIL;
	int64_t now;
	if (known) {
		if (id >= 0) {
			pthread_mutex_lock(&h->mu);
			h->ops[id].cas_old = old;
			pthread_mutex_unlock(&h->mu);
		}
		snprintf(path, sizeof(path), "/v1/kv/%s?cas=%" PRIu64, key, index);
		snprintf(body, sizeof(body), "%" PRId64, nv);
		rc = http_do(x, path, body, &status);
		now = rel_ns(cfg);
		r = classify_put(x, rc, status, true);
		if (r != HIST_OK)
			describe(x, rc, status, e, sizeof(e));
	} else {
		now = rel_ns(cfg);
		if (!e[0])
			snprintf(e, sizeof(e), "reading the index failed");
	}
	if (id >= 0)
		hist_complete(h, id, r, HIST_NIL, e, now);
	return r;
}

static enum hist_result op_write(struct http *x, struct history *h,
                                 const struct workload_cfg *cfg, int p, const char *node,
                                 const char *key)
{
	char path[256], body[32], e[HIST_ERR_MAX] = "";
	int64_t v = atomic_fetch_add(&next_value, 1);
	snprintf(path, sizeof(path), "/v1/kv/%s", key);
	snprintf(body, sizeof(body), "%" PRId64, v);
	long id = hist_invoke(h, p, HIST_WRITE, key, v, HIST_NIL, HIST_NIL, node, rel_ns(cfg));
	long status;
	CURLcode rc = http_do(x, path, body, &status);
	int64_t now = rel_ns(cfg);
	enum hist_result r = classify_put(x, rc, status, false);
	if (r != HIST_OK)
		describe(x, rc, status, e, sizeof(e));
	if (id >= 0)
		hist_complete(h, id, r, HIST_NIL, e, now);
	return r;
}

/* Sleeps until CLOCK_MONOTONIC ns `until`; true when stopped meanwhile. */
static bool sleep_until(struct workload *w, int64_t until)
{
	struct timespec ts = { .tv_sec = until / 1000000000, .tv_nsec = until % 1000000000 };
	pthread_mutex_lock(&w->mu);
	while (!atomic_load(&w->stop) && mono_ns() < until)
		pthread_cond_timedwait(&w->cv, &w->mu, &ts);
	pthread_mutex_unlock(&w->mu);
	return atomic_load(&w->stop);
}

static void client_ready(struct client *cl, int rc)
{
	struct workload *w = cl->w;
	pthread_mutex_lock(&w->mu);
	cl->ready_rc = rc;
	w->nready++;
	pthread_cond_broadcast(&w->cv);
	while (!w->go && !atomic_load(&w->stop))
		pthread_cond_wait(&w->cv, &w->mu);
	pthread_mutex_unlock(&w->mu);
}

static void *client_main(void *arg)
{
	struct client *cl = arg;
	struct workload *w = cl->w;
	const struct workload_cfg *cfg = &w->cfg;
	const struct workload_target *t = &w->targets[cl->idx % w->cfg.ntargets];
	struct netns_err ne;
	struct http x = { 0 };
	int rc = 0;
	if (t->nsfd >= 0 && (rc = netns_enter(t->nsfd, &ne)) != 0)
		snprintf(cl->ready_err, sizeof(cl->ready_err), "client %u: %s", cl->idx, ne.msg);
	else if ((rc = http_init(&x, t->url, cfg->timeout_ms)) != 0)
		snprintf(cl->ready_err, sizeof(cl->ready_err), "client %u: libcurl: out of memory",
		         cl->idx);
	client_ready(cl, rc);
	if (rc) {
		http_free(&x);
		return NULL;
	}
	double period = cfg->rate > 0 ? (double)cfg->clients / cfg->rate * 1e9 : 0;
	int64_t next = mono_ns();
	int p = (int)cl->idx;
	while (!atomic_load(&w->stop)) {
		if (period > 0) {
			next += (int64_t)(rnd01(&cl->rng) * 2 * period);
			int64_t now = mono_ns();
			if (next < now)
				next = now;   /* behind: start now, drop the backlog */
			else if (sleep_until(w, next))
				break;
		}
		unsigned pick = (unsigned)(splitmix64(&cl->rng) % 100);
		char key[HIST_KEY_MAX];
		snprintf(key, sizeof(key), "%sk%u", cfg->prefix,
		         (unsigned)(splitmix64(&cl->rng) % cfg->keys));
		enum hist_result r;
		if (pick < cfg->read_pct) {
			int64_t v;
			r = op_read(&x, w->h, cfg, p, t->node, key, cfg->read_mode, &v);
		} else if (pick < cfg->read_pct + cfg->write_pct) {
			r = op_write(&x, w->h, cfg, p, t->node, key);
		} else {
			r = op_cas(&x, w->h, cfg, p, t->node, key);
		}
		count(w, r);
	}
	http_free(&x);
	return NULL;
}

static void workload_free(struct workload *w)
{
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w->clients);
	free(w->targets);
	free(w);
	curl_global_cleanup();
}

static int check_cfg(const struct workload_cfg *cfg, char *err, size_t errlen)
{
	const char *why = NULL;
	if (cfg->clients == 0)
		why = "clients must be at least 1";
	else if (cfg->keys == 0)
		why = "keys must be at least 1";
	else if (!cfg->targets || cfg->ntargets == 0)
		why = "no targets";
	else if (cfg->read_pct + cfg->write_pct + cfg->cas_pct != 100)
		why = "read_pct + write_pct + cas_pct must be 100";
	else if (!(cfg->rate >= 0))
		why = "rate must be >= 0";
	else if (memchr(cfg->prefix, 0, sizeof(cfg->prefix)) == NULL ||
	         strlen(cfg->prefix) + 12 >= HIST_KEY_MAX)
		why = "prefix too long";
	else if (cfg->read_mode != WL_READ_CONSISTENT && cfg->read_mode != WL_READ_DEFAULT &&
	         cfg->read_mode != WL_READ_STALE)
		why = "bad read mode";
	if (why) {
		snprintf(err, errlen, "workload: %s", why);
		return -EINVAL;
	}
	return 0;
}

int workload_start(struct workload **out, const struct workload_cfg *cfg, struct history *h,
                   char *err, size_t errlen)
{
	*out = NULL;
	int rc = check_cfg(cfg, err, errlen);
	if (rc)
		return rc;
	if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK) {
		snprintf(err, errlen, "workload: curl_global_init failed");
		return -ENOMEM;
	}
	struct workload *w = calloc(1, sizeof(*w));
	if (w) {
		w->targets = calloc(cfg->ntargets, sizeof(*w->targets));
		w->clients = calloc(cfg->clients, sizeof(*w->clients));
	}
	if (!w || !w->targets || !w->clients) {
		if (w) {
			free(w->targets);
			free(w->clients);
		}
		free(w);
		curl_global_cleanup();
		snprintf(err, errlen, "workload: out of memory");
		return -ENOMEM;
	}
	w->cfg = *cfg;
	if (!w->cfg.timeout_ms)
		w->cfg.timeout_ms = DEFAULT_TIMEOUT_MS;
	memcpy(w->targets, cfg->targets, cfg->ntargets * sizeof(*w->targets));
	w->cfg.targets = w->targets;
	w->h = h;
	atomic_init(&w->stop, false);
	atomic_init(&w->ok, 0);
	atomic_init(&w->fail, 0);
	atomic_init(&w->info, 0);
	pthread_mutex_init(&w->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cv, &ca);
	pthread_condattr_destroy(&ca);

	unsigned started = 0;
	for (unsigned i = 0; i < cfg->clients; i++) {
		struct client *cl = &w->clients[i];
		cl->w = w;
		cl->idx = i;
		cl->rng = cfg->seed + i;
		int e = pthread_create(&cl->th, NULL, client_main, cl);
		if (e) {
			rc = -e;
			snprintf(err, errlen, "workload: starting client %u: %s", i, strerror(e));
			break;
		}
		cl->started = true;
		started++;
	}
	pthread_mutex_lock(&w->mu);
	while (w->nready < started)
		pthread_cond_wait(&w->cv, &w->mu);
	for (unsigned i = 0; rc == 0 && i < started; i++)
		if (w->clients[i].ready_rc) {
			rc = w->clients[i].ready_rc;
			snprintf(err, errlen, "workload: %s", w->clients[i].ready_err);
		}
	if (rc)
		atomic_store(&w->stop, true);
	else
		w->go = true;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	if (rc) {
		for (unsigned i = 0; i < started; i++)
			pthread_join(w->clients[i].th, NULL);
		workload_free(w);
		return rc;
	}
	*out = w;
	return 0;
}

void workload_counts(struct workload *w, size_t *ok, size_t *fail, size_t *info)
{
	*ok = atomic_load(&w->ok);
	*fail = atomic_load(&w->fail);
	*info = atomic_load(&w->info);
}

void workload_stop(struct workload *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	atomic_store(&w->stop, true);
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	for (unsigned i = 0; i < w->cfg.clients; i++)
		if (w->clients[i].started)
			pthread_join(w->clients[i].th, NULL);
	workload_free(w);
}

/* ---- the final read and the lost-write check ---- */

struct final_ctx {
	const struct workload_cfg *cfg;
	struct history *h;
	int process;
	int64_t deadline;          /* CLOCK_MONOTONIC ns */
	int64_t *value;            /* per key */
	bool *read;                /* per key */
	int rc;
	char err[256];
};

static void *final_main(void *arg)
{
	struct final_ctx *f = arg;
	const struct workload_cfg *cfg = f->cfg;
	unsigned timeout = cfg->timeout_ms ? cfg->timeout_ms : DEFAULT_TIMEOUT_MS;
	struct http x = { 0 };
	size_t cur = SIZE_MAX, attempt = 0;
	for (unsigned k = 0; k < cfg->keys && mono_ns() < f->deadline; k++) {
		char key[HIST_KEY_MAX];
		snprintf(key, sizeof(key), "%sk%u", cfg->prefix, k);
		while (mono_ns() < f->deadline) {
			size_t ti = attempt++ % cfg->ntargets;
			const struct workload_target *t = &cfg->targets[ti];
			if (ti != cur) {
				struct netns_err ne;
				http_free(&x);
				cur = SIZE_MAX;
				if (t->nsfd >= 0 && (f->rc = netns_enter(t->nsfd, &ne)) != 0) {
					snprintf(f->err, sizeof(f->err), "final read: %s", ne.msg);
					return NULL;
				}
				if ((f->rc = http_init(&x, t->url, timeout)) != 0) {
					snprintf(f->err, sizeof(f->err), "final read: libcurl: out of memory");
					return NULL;
				}
				cur = ti;
			}
			if (op_read(&x, f->h, cfg, f->process, t->node, key, WL_READ_CONSISTENT,
			            &f->value[k]) == HIST_OK) {
				f->read[k] = true;
				break;
			}
			int64_t until = mono_ns() + (int64_t)FINAL_RETRY_MS * 1000000;
			if (until > f->deadline)
				until = f->deadline;
			struct timespec ts = { .tv_sec = 0, .tv_nsec = 0 };
			int64_t d = until - mono_ns();
			if (d > 0) {
				ts.tv_sec = d / 1000000000;
				ts.tv_nsec = d % 1000000000;
				nanosleep(&ts, NULL);
			}
		}
	}
	http_free(&x);
	return NULL;
}

static void fmt_value(int64_t v, char *buf, size_t n)
{
	if (v == HIST_NIL)
		snprintf(buf, n, "nil");
	else
		snprintf(buf, n, "%" PRId64, v);
}

static int64_t written(const struct hist_op *op)
{
	return op->f == HIST_WRITE ? op->value : op->f == HIST_CAS ? op->cas_new : HIST_NIL;
}

/* Checks one key against its final value; true when an acknowledged write is
 * lost (or the value was never written), with a description in first. */
static bool key_lost(const struct history *h, const char *key, int64_t final, char *first,
                     size_t n)
{
	const struct hist_op *star = NULL;
	for (size_t i = 0; i < h->n; i++) {
		const struct hist_op *op = &h->ops[i];
		if (op->result == HIST_OK && op->f != HIST_READ && strcmp(op->key, key) == 0 &&
		    (!star || op->invoke_ns > star->invoke_ns))
			star = op;
	}
	char fv[24];
	fmt_value(final, fv, sizeof(fv));
	if (final == HIST_NIL) {
		if (!star)
			return false;
	} else {
		for (size_t i = 0; i < h->n; i++) {
			const struct hist_op *op = &h->ops[i];
			if (op->f == HIST_READ || strcmp(op->key, key) != 0 || written(op) != final)
				continue;
			if (op->result == HIST_INFO ||
			    (op->result == HIST_OK && (!star || op->complete_ns >= star->invoke_ns)))
				return false;
		}
		if (!star) {
			snprintf(first, n, "%s: final value %s was written by no ok or info write/cas",
			         key, fv);
			return true;
		}
	}
	snprintf(first, n,
	         "%s: %s of %" PRId64 " acknowledged at %.3f s (invoked %.3f s) is lost: final value %s",
	         key, hist_f_name(star->f), written(star), (double)star->complete_ns / 1e9,
	         (double)star->invoke_ns / 1e9, fv);
	return true;
}

int workload_final_check(const struct workload_cfg *cfg, struct history *h, unsigned deadline_ms,
                         struct workload_lost *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	int rc = check_cfg(cfg, err, errlen);
	if (rc)
		return rc;
	struct final_ctx f = { .cfg = cfg, .h = h };
	f.value = calloc(cfg->keys, sizeof(*f.value));
	f.read = calloc(cfg->keys, sizeof(*f.read));
	if (!f.value || !f.read || curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK) {
		free(f.value);
		free(f.read);
		snprintf(err, errlen, "final read: out of memory");
		return -ENOMEM;
	}
	pthread_mutex_lock(&h->mu);
	for (size_t i = 0; i < h->n; i++)
		if (h->ops[i].process >= f.process)
			f.process = h->ops[i].process + 1;
	pthread_mutex_unlock(&h->mu);
	f.deadline = mono_ns() + (int64_t)deadline_ms * 1000000;
	pthread_t th;
	int e = pthread_create(&th, NULL, final_main, &f);
	if (e) {
		rc = -e;
		snprintf(err, errlen, "final read: starting its thread: %s", strerror(e));
	} else {
		pthread_join(th, NULL);
		if (f.rc) {
			rc = f.rc;
			snprintf(err, errlen, "%s", f.err);
		}
	}
	curl_global_cleanup();
	if (rc == 0) {
		pthread_mutex_lock(&h->mu);
		for (unsigned k = 0; k < cfg->keys; k++) {
			char key[HIST_KEY_MAX];
			snprintf(key, sizeof(key), "%sk%u", cfg->prefix, k);
			if (!f.read[k]) {
				out->keys_unread++;
				continue;
			}
			out->keys_read++;
			char desc[256];
			if (key_lost(h, key, f.value[k], desc, sizeof(desc))) {
				if (out->lost++ == 0)
					snprintf(out->first, sizeof(out->first), "%s", desc);
			}
		}
		pthread_mutex_unlock(&h->mu);
	}
	free(f.value);
	free(f.read);
	return rc;
}
