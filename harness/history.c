/* The client operations of a chaos run and their Jepsen JSON form. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "history.h"

void hist_init(struct history *h)
{
	memset(h, 0, sizeof(*h));
	pthread_mutex_init(&h->mu, NULL);
}

void hist_free(struct history *h)
{
	free(h->ops);
	pthread_mutex_destroy(&h->mu);
	memset(h, 0, sizeof(*h));
}

static long append(struct history *h, const struct hist_op *op)
{
	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 1024;
		struct hist_op *n = realloc(h->ops, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		h->ops = n;
		h->cap = cap;
	}
	h->ops[h->n] = *op;
	return (long)h->n++;
}

long hist_invoke(struct history *h, int process, enum hist_f f, const char *key, int64_t value,
                 int64_t cas_old, int64_t cas_new, const char *node, int64_t now_ns)
{
	struct hist_op op = { .process = process, .f = f, .value = value, .cas_old = cas_old,
		              .cas_new = cas_new, .result = HIST_PENDING, .invoke_ns = now_ns,
		              .complete_ns = -1 };
	snprintf(op.key, sizeof(op.key), "%s", key);
	snprintf(op.node, sizeof(op.node), "%s", node ? node : "");
	if (f == HIST_READ)
		op.value = HIST_NIL;
	pthread_mutex_lock(&h->mu);
	long id = append(h, &op);
	pthread_mutex_unlock(&h->mu);
	return id;
}

void hist_complete(struct history *h, long id, enum hist_result result, int64_t value,
                   const char *error, int64_t now_ns)
{
	pthread_mutex_lock(&h->mu);
	if (id >= 0 && (size_t)id < h->n && h->ops[id].result == HIST_PENDING) {
		struct hist_op *op = &h->ops[id];
		op->result = result;
		op->complete_ns = now_ns;
		if (op->f == HIST_READ && result == HIST_OK)
			op->value = value;
		snprintf(op->error, sizeof(op->error), "%s", error ? error : "");
	}
	pthread_mutex_unlock(&h->mu);
}

void hist_finish(struct history *h, int64_t now_ns)
{
	pthread_mutex_lock(&h->mu);
	for (size_t i = 0; i < h->n; i++)
		if (h->ops[i].result == HIST_PENDING) {
			h->ops[i].result = HIST_INFO;
			h->ops[i].complete_ns = now_ns;
			snprintf(h->ops[i].error, sizeof(h->ops[i].error), "the run ended first");
		}
	pthread_mutex_unlock(&h->mu);
}

void hist_counts(const struct history *h, size_t *ok, size_t *fail, size_t *info)
{
	*ok = *fail = *info = 0;
	for (size_t i = 0; i < h->n; i++) {
		if (h->ops[i].result == HIST_OK)
			(*ok)++;
		else if (h->ops[i].result == HIST_FAIL)
			(*fail)++;
		else if (h->ops[i].result == HIST_INFO)
			(*info)++;
	}
}

static const char *const f_names[] = { "read", "write", "cas" };
static const char *const result_names[] = { "invoke", "ok", "fail", "info" };

const char *hist_f_name(enum hist_f f)
{
	return f_names[f];
}

const char *hist_result_name(enum hist_result r)
{
	return result_names[r];
}

/* ---- writing ---- */

struct event {
	int64_t time;
	size_t op;
	bool completion;
	bool zero;   /* the operation completes when it is invoked */
};

/* At equal times, completions come before invocations (a process's next
 * operation starts where its last one ended), except that both events of a
 * zero-length operation go with the completions, invocation first, in
 * operation (= invocation) order; that keeps the comparison a total order and
 * every process's events in invoke, complete, invoke order. */
struct event_key {
	int64_t time;
	int cls;
	size_t op;
	int phase;
};

static struct event_key event_key(const struct event *e)
{
	return (struct event_key){ e->time, e->completion || e->zero ? 0 : 1, e->op, e->completion };
}

static int event_cmp(const void *a, const void *b)
{
	struct event_key x = event_key(a), y = event_key(b);
	if (x.time != y.time)
		return x.time < y.time ? -1 : 1;
	if (x.cls != y.cls)
		return x.cls < y.cls ? -1 : 1;
	if (x.op != y.op)
		return x.op < y.op ? -1 : 1;
	return x.phase - y.phase;
}

static void put_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void put_value(FILE *f, int64_t v)
{
	if (v == HIST_NIL)
		fputs("null", f);
	else
		fprintf(f, "%lld", (long long)v);
}

static void put_event(FILE *f, size_t index, const struct hist_op *op, bool completion)
{
	enum hist_result type = completion ? op->result : HIST_PENDING;
	fprintf(f, "{\"index\":%zu,\"type\":\"%s\",\"f\":\"%s\",\"process\":%d,\"time\":%lld,\"value\":[",
	        index, result_names[type], f_names[op->f], op->process,
	        (long long)(completion ? op->complete_ns : op->invoke_ns));
	put_string(f, op->key);
	fputc(',', f);
	if (op->f == HIST_CAS) {
		fputc('[', f);
		put_value(f, op->cas_old);
		fputc(',', f);
		put_value(f, op->cas_new);
		fputc(']', f);
	} else {
		put_value(f, op->f == HIST_READ && type != HIST_OK ? HIST_NIL : op->value);
	}
	fputs("],\"node\":", f);
	put_string(f, op->node);
	if (completion && op->error[0]) {
		fputs(",\"error\":", f);
		put_string(f, op->error);
	}
	fputc('}', f);
}

int hist_write_json(struct history *h, const char *path, char *err, size_t errlen)
{
	pthread_mutex_lock(&h->mu);
	struct event *ev = malloc((2 * h->n + 1) * sizeof(*ev));
	if (!ev) {
		pthread_mutex_unlock(&h->mu);
		snprintf(err, errlen, "%s: out of memory", path);
		return -ENOMEM;
	}
	size_t n = 0;
	for (size_t i = 0; i < h->n; i++) {
		bool done = h->ops[i].result != HIST_PENDING;
		bool zero = done && h->ops[i].complete_ns == h->ops[i].invoke_ns;
		ev[n++] = (struct event){ h->ops[i].invoke_ns, i, false, zero };
		if (done)
			ev[n++] = (struct event){ h->ops[i].complete_ns, i, true, zero };
	}
	qsort(ev, n, sizeof(*ev), event_cmp);
	int rc = 0;
	FILE *f = fopen(path, "w");
	if (!f) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
	} else {
		fputs("[\n", f);
		for (size_t i = 0; i < n; i++) {
			put_event(f, i, &h->ops[ev[i].op], ev[i].completion);
			fputs(i + 1 < n ? ",\n" : "\n", f);
		}
		fputs("]\n", f);
		if (fclose(f)) {
			rc = -errno;
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
		}
	}
	pthread_mutex_unlock(&h->mu);
	free(ev);
	return rc;
}

/* ---- reading ---- */

static int parse_value(const cJSON *v, int64_t *out)
{
	if (cJSON_IsNull(v)) {
		*out = HIST_NIL;
		return 0;
	}
	/* range first: converting an out-of-range double to an integer is undefined */
	if (!cJSON_IsNumber(v) || !(v->valuedouble > -0x1p63 && v->valuedouble < 0x1p63) ||
	    v->valuedouble != (double)(int64_t)v->valuedouble)
		return -1;
	*out = (int64_t)v->valuedouble;
	return 0;
}

static int lookup(const char *name, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(name, names[i]) == 0)
			return (int)i;
	return -1;
}

/* The open operation of each process: a small map from process to op index. */
struct open_ops {
	int *process;
	long *op;
	size_t n, cap;
};

static long *open_slot(struct open_ops *o, int process, bool create)
{
	for (size_t i = 0; i < o->n; i++)
		if (o->process[i] == process)
			return &o->op[i];
	if (!create)
		return NULL;
	if (o->n == o->cap) {
		size_t cap = o->cap ? o->cap * 2 : 16;
		int *p = realloc(o->process, cap * sizeof(*p));
		if (!p)
			return NULL;
		o->process = p;
		long *q = realloc(o->op, cap * sizeof(*q));
		if (!q)
			return NULL;
		o->op = q;
		o->cap = cap;
	}
	o->process[o->n] = process;
	o->op[o->n] = -1;
	return &o->op[o->n++];
}

static int parse_event(struct history *h, struct open_ops *o, const cJSON *e, size_t i,
                       const char *name, char *err, size_t errlen)
{
#define BAD(...)                                                                 \
	do {                                                                     \
		int k_ = snprintf(err, errlen, "%s: event %zu: ", name, i);      \
		if (k_ > 0 && (size_t)k_ < errlen)                               \
			snprintf(err + k_, errlen - (size_t)k_, __VA_ARGS__);     \
		return -EINVAL;                                                  \
	} while (0)
	if (!cJSON_IsObject(e))
		BAD("not an object");
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(e, "type");
	const cJSON *f = cJSON_GetObjectItemCaseSensitive(e, "f");
	const cJSON *process = cJSON_GetObjectItemCaseSensitive(e, "process");
	const cJSON *time = cJSON_GetObjectItemCaseSensitive(e, "time");
	const cJSON *value = cJSON_GetObjectItemCaseSensitive(e, "value");
	const cJSON *node = cJSON_GetObjectItemCaseSensitive(e, "node");
	const cJSON *error = cJSON_GetObjectItemCaseSensitive(e, "error");
	int t = cJSON_IsString(type) ? lookup(type->valuestring, result_names, 4) : -1;
	if (t < 0)
		BAD("\"type\" must be one of invoke, ok, fail, info");
	int fn = cJSON_IsString(f) ? lookup(f->valuestring, f_names, 3) : -1;
	if (fn < 0)
		BAD("\"f\" must be one of read, write, cas");
	if (!cJSON_IsNumber(process) || !(process->valuedouble >= INT_MIN) ||
	    !(process->valuedouble <= INT_MAX) ||
	    process->valuedouble != (double)(int)process->valuedouble)
		BAD("\"process\" must be an integer");
	if (!cJSON_IsNumber(time) || !(time->valuedouble >= 0))
		BAD("\"time\" must be a number of nanoseconds");
	if (!cJSON_IsArray(value) || cJSON_GetArraySize(value) != 2 ||
	    !cJSON_IsString(cJSON_GetArrayItem(value, 0)))
		BAD("\"value\" must be [key, value]");
	const char *key = cJSON_GetArrayItem(value, 0)->valuestring;
	if (strlen(key) >= HIST_KEY_MAX)
		BAD("key longer than %d bytes", HIST_KEY_MAX - 1);
	const cJSON *v = cJSON_GetArrayItem(value, 1);
	int64_t val = HIST_NIL, old = HIST_NIL, new = HIST_NIL;
	if (fn == HIST_CAS) {
		if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != 2 ||
		    parse_value(cJSON_GetArrayItem(v, 0), &old) ||
		    parse_value(cJSON_GetArrayItem(v, 1), &new))
			BAD("a cas value must be [key, [old, new]] with integers");
	} else if (parse_value(v, &val)) {
		BAD("the value must be an integer or null");
	}
	int proc = (int)process->valuedouble;
	/* INT64_MAX (an operation that never completed) comes back as 2^63 */
	int64_t ns = time->valuedouble < 0x1p63 ? (int64_t)time->valuedouble : INT64_MAX;
	long *slot = open_slot(o, proc, t == HIST_PENDING);
	if (!slot && t == HIST_PENDING)
		BAD("out of memory");
	if (!slot || (t != HIST_PENDING && *slot < 0))
		BAD("a completion of process %d, which has no open operation", proc);
	if (t == HIST_PENDING) {
		if (*slot >= 0)
			BAD("process %d invokes again before its operation %ld completed", proc, *slot);
		long id = hist_invoke(h, proc, (enum hist_f)fn, key, val, old, new,
		                      cJSON_IsString(node) ? node->valuestring : "", ns);
		if (id < 0)
			BAD("out of memory");
		*slot = id;
		return 0;
	}
	struct hist_op *op = &h->ops[*slot];
	if (op->f != (enum hist_f)fn || strcmp(op->key, key) != 0)
		BAD("the completion of process %d does not match its invocation (%s %s)", proc,
		    f_names[op->f], op->key);
	if (ns < op->invoke_ns)
		BAD("process %d completes before it invoked", proc);
	hist_complete(h, *slot, (enum hist_result)t, val,
	              cJSON_IsString(error) ? error->valuestring : NULL, ns);
	*slot = -1;
	return 0;
#undef BAD
}

int hist_parse_json(struct history *h, const char *text, const char *name, char *err,
                    size_t errlen)
{
	const char *end = NULL;
	cJSON *root = cJSON_ParseWithOpts(text, &end, 0);
	if (!root) {
		/* where the parser stopped: line and the event being read */
		size_t line = 1, events = 0;
		int depth = 0;
		bool in_str = false;
		for (const char *c = text; end && c < end && *c; c++) {
			if (in_str) {
				if (*c == '\\' && c[1])
					c++;
				else if (*c == '"')
					in_str = false;
				continue;
			}
			line += *c == '\n';
			in_str = *c == '"';
			if (*c == '{' || *c == '[') {
				if (*c == '{' && depth == 1)
					events++;
				depth++;
			} else if (*c == '}' || *c == ']') {
				depth--;
			}
		}
		snprintf(err, errlen, "%s: malformed JSON at line %zu (in event %zu)", name, line,
		         events ? events - 1 : 0);
		return -EINVAL;
	}
	if (!cJSON_IsArray(root)) {
		snprintf(err, errlen, "%s: not a JSON array of events", name);
		cJSON_Delete(root);
		return -EINVAL;
	}
	struct open_ops o = { 0 };
	int rc = 0;
	size_t i = 0;
	const cJSON *e;
	cJSON_ArrayForEach(e, root)
	{
		if ((rc = parse_event(h, &o, e, i++, name, err, errlen)))
			break;
	}
	/* an invocation never completed is unknown: it may take effect any time */
	for (size_t k = 0; rc == 0 && k < o.n; k++)
		if (o.op[k] >= 0)
			hist_complete(h, o.op[k], HIST_INFO, HIST_NIL, "never completed", INT64_MAX);
	free(o.process);
	free(o.op);
	cJSON_Delete(root);
	return rc;
}

int hist_read_json(struct history *h, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		int e = errno;
		snprintf(err, errlen, "%s: %s", path, strerror(e));
		return -e;
	}
	char *buf = NULL;
	size_t len = 0, cap = 0;
	for (;;) {
		if (cap - len < 65536) {
			cap = cap ? cap * 2 : 1 << 20;
			char *n = realloc(buf, cap + 1);
			if (!n) {
				free(buf);
				fclose(f);
				snprintf(err, errlen, "%s: out of memory", path);
				return -ENOMEM;
			}
			buf = n;
		}
		size_t k = fread(buf + len, 1, cap - len, f);
		len += k;
		if (k == 0)
			break;
	}
	int ioerr = ferror(f);
	fclose(f);
	if (ioerr) {
		free(buf);
		snprintf(err, errlen, "%s: read error", path);
		return -EIO;
	}
	buf[len] = 0;
	int rc = hist_parse_json(h, buf, path, err, errlen);
	free(buf);
	return rc;
}
