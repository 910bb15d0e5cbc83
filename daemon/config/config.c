/* Config sources: files, directories, buffers; defaults and memory ownership. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config_internal.h"

int cc_config_fail(struct cc_config_err *err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -1;
}

int cc_strlist_push(struct cc_strlist *l, const char *s)
{
	char **n = realloc(l->v, (l->n + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	l->v = n;
	if (!(l->v[l->n] = strdup(s)))
		return -ENOMEM;
	l->n++;
	return 0;
}

void cc_strlist_clear(struct cc_strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

int cc_config_warn(struct cc_config *c, const char *fmt, ...)
{
	char buf[CC_CONFIG_ERR_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return cc_strlist_push(&c->warnings, buf);
}

int cc_set_str(char **dst, const char *s)
{
	char *n = s ? strdup(s) : NULL;
	if (s && !n)
		return -ENOMEM;
	free(*dst);
	*dst = n;
	return 0;
}

struct cc_config *cc_config_new(void)
{
	struct cc_config *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->priv = calloc(1, sizeof(*c->priv));
	if (!c->priv) {
		free(c);
		return NULL;
	}
	c->priv->leave_on_terminate = -1;
	c->priv->skip_leave_on_interrupt = -1;
	c->log_level = CC_LOG_INFO;
	c->ports = (struct cc_ports){ .http = 8500, .https = -1, .grpc = -1, .dns = 8600,
	                              .server = 8300, .serf_lan = 8301, .serf_wan = 8302 };
	c->retry_interval_ms = 30000;
	c->raft_multiplier = 5;
	if (cc_set_str(&c->telemetry.metrics_prefix, "consul") ||
	    cc_set_str(&c->datacenter, "dc1") || cc_set_str(&c->bind_addr, "0.0.0.0") ||
	    cc_set_str(&c->priv->client_addr_raw, "127.0.0.1")) {
		cc_config_free(c);
		return NULL;
	}
	return c;
}

static void free_check(struct cc_check_def *k)
{
	free(k->id);
	free(k->name);
	free(k->notes);
	free(k->status);
	free(k->service_id);
	cc_strlist_clear(&k->args);
	free(k->http);
	free(k->method);
	free(k->tcp);
}

static void free_service(struct cc_service_def *s)
{
	free(s->id);
	free(s->name);
	free(s->address);
	cc_strlist_clear(&s->tags);
	for (size_t i = 0; i < s->nmeta; i++) {
		free(s->meta[i].key);
		free(s->meta[i].value);
	}
	free(s->meta);
	for (size_t i = 0; i < s->nchecks; i++)
		free_check(&s->checks[i]);
	free(s->checks);
}

void cc_config_free(struct cc_config *c)
{
	if (!c)
		return;
	char **strs[] = { &c->datacenter, &c->node_name, &c->node_id, &c->data_dir, &c->log_file,
		          &c->bind_addr, &c->advertise_addr, &c->advertise_addr_wan, &c->encrypt,
		          &c->telemetry.metrics_prefix };
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		free(*strs[i]);
	struct cc_strlist *lists[] = { &c->client_addrs, &c->http_addrs, &c->dns_addrs,
		                       &c->retry_join, &c->retry_join_wan, &c->start_join,
		                       &c->warnings };
	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
		cc_strlist_clear(lists[i]);
	for (size_t i = 0; i < c->nservices; i++)
		free_service(&c->services[i]);
	free(c->services);
	if (c->priv) {
		free(c->priv->client_addr_raw);
		free(c->priv->addresses_http);
		free(c->priv->addresses_dns);
		free(c->priv);
	}
	free(c);
}

int cc_config_load_buffer(struct cc_config *c, const char *name, const char *data, size_t len,
                          struct cc_config_err *err)
{
	if (len > CC_CONFIG_MAX_FILE_BYTES)
		return cc_config_fail(err, "%s: the file is %zu bytes, more than the %u MiB a config "
		                           "file may have", name, len, CC_CONFIG_MAX_FILE_BYTES >> 20);
	/* A UTF-8 byte order mark is tolerated, as most editors write one on request. */
	if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) {
		data += 3;
		len -= 3;
	}
	struct json_diag d;
	if (json_check(data, len, CC_CONFIG_MAX_DEPTH, &d))
		return cc_config_fail(err, "%s:%d:%d: invalid JSON: %s", name, d.line, d.col, d.msg);
	cJSON *root = cJSON_ParseWithLength(data, len);
	if (!root) /* json_check accepted it, so this is cJSON running out of memory */
		return cc_config_fail(err, "%s: cannot parse JSON (out of memory?)", name);
	int rc = cc_config_apply_json(c, root, name, err);
	cJSON_Delete(root);
	return rc;
}

int cc_config_load_file(struct cc_config *c, const char *path, struct cc_config_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cc_config_fail(err, "cannot read config file %s: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		close(fd);
		return cc_config_load_dir(c, path, err);
	}
	size_t cap = CC_CONFIG_MAX_FILE_BYTES + 1, len = 0;
	char *buf = malloc(cap);
	if (!buf) {
		close(fd);
		return cc_config_fail(err, "out of memory reading %s", path);
	}
	for (;;) {
		ssize_t n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			free(buf);
			close(fd);
			return cc_config_fail(err, "cannot read config file %s: %s", path, strerror(e));
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == cap)
			break; /* one byte over the limit is enough to refuse it */
	}
	close(fd);
	int rc = cc_config_load_buffer(c, path, buf, len, err);
	free(buf);
	return rc;
}

static int name_cmp(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

int cc_config_load_dir(struct cc_config *c, const char *dir, struct cc_config_err *err)
{
	struct dirent **ents;
	int n = scandir(dir, &ents, NULL, name_cmp);
	if (n < 0)
		return cc_config_fail(err, "cannot read config directory %s: %s", dir, strerror(errno));
	int rc = 0;
	for (int i = 0; i < n; i++) {
		const char *name = ents[i]->d_name;
		if (rc == 0 && (has_suffix(name, ".json") || has_suffix(name, ".hcl"))) {
			char path[4096];
			snprintf(path, sizeof(path), "%s%s%s", dir,
			         has_suffix(dir, "/") ? "" : "/", name);
			struct stat st;
			if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
				if (has_suffix(name, ".hcl"))
					rc = cc_config_fail(err, "%s: HCL config files are not supported; "
					                         "Conclave reads JSON only", path);
				else
					rc = cc_config_load_file(c, path, err);
			}
		}
		free(ents[i]);
	}
	free(ents);
	return rc;
}

static void add_str(cJSON *o, const char *key, const char *v)
{
	if (v && v[0])   /* the API client omits empty fields */
		cJSON_AddStringToObject(o, key, v);
}

static void add_dur(cJSON *o, const char *key, uint64_t ms)
{
	char d[32];
	if (ms)
		cJSON_AddStringToObject(o, key, cc_duration_format(ms, d, sizeof(d)));
}

cJSON *cc_check_def_json(const struct cc_check_def *k)
{
	cJSON *o = cJSON_CreateObject();
	add_str(o, "CheckID", k->id);
	add_str(o, "Name", k->name);
	add_str(o, "Notes", k->notes);
	add_str(o, "Status", k->status);
	if (k->args.n) {
		cJSON *a = cJSON_AddArrayToObject(o, "Args");
		for (size_t i = 0; i < k->args.n; i++)
			cJSON_AddItemToArray(a, cJSON_CreateString(k->args.v[i]));
	}
	add_str(o, "HTTP", k->http);
	add_str(o, "Method", k->method);
	add_str(o, "TCP", k->tcp);
	add_dur(o, "Interval", k->interval_ms);
	add_dur(o, "Timeout", k->timeout_ms);
	add_dur(o, "TTL", k->ttl_ms);
	add_dur(o, "DeregisterCriticalServiceAfter", k->deregister_after_ms);
	if (k->tls_skip_verify)
		cJSON_AddTrueToObject(o, "TLSSkipVerify");
	return o;
}
