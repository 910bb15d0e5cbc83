#include "log/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define LINE_MAX_BYTES 8192
#define KV_MAX 32

static struct {
	enum cc_log_level level;
	int console_fd;
	const char *console_prefix;
	int file_fd;
} g_log = { CC_LOG_INFO, 2, "    ", -1 };

static struct {
	cc_log_sink_fn fn;
	void *ud;
	enum cc_log_level level;
} g_sinks[CC_LOG_MAX_SINKS];
/* The lowest level anything wants: the logger's, or a sink's below it. */
static enum cc_log_level g_min_level = CC_LOG_INFO;

static const char *const level_names[] = { "TRACE", "DEBUG", "INFO", "WARN", "ERROR" };
/* hclog pads every level token to 7 characters. */
static const char *const level_tokens[] = { "[TRACE]", "[DEBUG]", "[INFO] ", "[WARN] ", "[ERROR]" };

int cc_log_level_parse(const char *s, enum cc_log_level *out)
{
	static const struct { const char *name; enum cc_log_level lvl; } names[] = {
		{ "trace", CC_LOG_TRACE }, { "debug", CC_LOG_DEBUG }, { "info", CC_LOG_INFO },
		{ "warn", CC_LOG_WARN },   { "warning", CC_LOG_WARN }, { "err", CC_LOG_ERROR },
		{ "error", CC_LOG_ERROR },
	};
	for (size_t i = 0; s && i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcasecmp(s, names[i].name) == 0) {
			*out = names[i].lvl;
			return 0;
		}
	}
	return -EINVAL;
}

const char *cc_log_level_name(enum cc_log_level lvl)
{
	return lvl < CC_LOG_OFF ? level_names[lvl] : "OFF";
}

static void update_min_level(void)
{
	g_min_level = g_log.level;
	for (int i = 0; i < CC_LOG_MAX_SINKS; i++)
		if (g_sinks[i].fn && g_sinks[i].level < g_min_level)
			g_min_level = g_sinks[i].level;
}

int cc_log_sink_add(enum cc_log_level level, cc_log_sink_fn fn, void *ud)
{
	for (int i = 0; i < CC_LOG_MAX_SINKS; i++) {
		if (!g_sinks[i].fn) {
			g_sinks[i].fn = fn;
			g_sinks[i].ud = ud;
			g_sinks[i].level = level;
			update_min_level();
			return i;
		}
	}
	return -ENOSPC;
}

void cc_log_sink_remove(int id)
{
	if (id < 0 || id >= CC_LOG_MAX_SINKS)
		return;
	g_sinks[id].fn = NULL;
	g_sinks[id].ud = NULL;
	update_min_level();
}

int cc_log_setup(const struct cc_log_options *opt, char *err, size_t errlen)
{
	cc_log_teardown();
	g_log.level = opt->level;
	update_min_level();
	g_log.console_fd = opt->console_fd;
	g_log.console_prefix = opt->console_prefix ? opt->console_prefix : "    ";
	if (opt->file_path && opt->file_path[0]) {
		char path[4096];
		size_t n = strlen(opt->file_path);
		int w = snprintf(path, sizeof(path), "%s%s", opt->file_path,
		                 opt->file_path[n - 1] == '/' ? "conclave.log" : "");
		if (w < 0 || (size_t)w >= sizeof(path)) {
			snprintf(err, errlen, "log_file: path is too long");
			return -ENAMETOOLONG;
		}
		int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
		if (fd < 0) {
			int e = errno;
			snprintf(err, errlen, "log_file: cannot open %s: %s", path, strerror(e));
			return -e;
		}
		g_log.file_fd = fd;
	}
	return 0;
}

void cc_log_teardown(void)
{
	if (g_log.file_fd >= 0)
		close(g_log.file_fd);
	g_log.file_fd = -1;
}

void cc_log_set_level(enum cc_log_level lvl)
{
	g_log.level = lvl;
	update_min_level();
}
enum cc_log_level cc_log_get_level(void) { return g_log.level; }

/* Appends with bounds: pos may run past cap, in which case nothing more is stored
 * but the length keeps counting (snprintf semantics). */
struct out {
	char *buf;
	size_t cap, pos;
};

static void put_mem(struct out *o, const char *s, size_t n)
{
	if (o->pos < o->cap) {
		size_t room = o->cap - o->pos;
		memcpy(o->buf + o->pos, s, n < room ? n : room);
	}
	o->pos += n;
}

static void put_str(struct out *o, const char *s) { put_mem(o, s, strlen(s)); }

static void put_ch(struct out *o, char c) { put_mem(o, &c, 1); }

static bool needs_quotes(const char *v)
{
	return v[0] != CC_LOG_RAW[0] && strpbrk(v, " \t\r\n") != NULL;
}

/* Go's strconv.Quote for the bytes hclog quotes; valid UTF-8 above ASCII passes. */
static void put_quoted(struct out *o, const char *v)
{
	put_ch(o, '"');
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		char esc[8];
		switch (*p) {
		case '"': put_str(o, "\\\""); break;
		case '\\': put_str(o, "\\\\"); break;
		case '\n': put_str(o, "\\n"); break;
		case '\t': put_str(o, "\\t"); break;
		case '\r': put_str(o, "\\r"); break;
		default:
			if (*p < 0x20 || *p == 0x7f) {
				snprintf(esc, sizeof(esc), "\\x%02x", *p);
				put_str(o, esc);
			} else {
				put_ch(o, (char)*p);
			}
		}
	}
	put_ch(o, '"');
}

static void put_timestamp(struct out *o, const struct timespec *ts, long utc_offset)
{
	time_t local = ts->tv_sec + utc_offset;
	struct tm tm;
	gmtime_r(&local, &tm);
	char tbuf[64];
	int n = snprintf(tbuf, sizeof(tbuf), "%04d-%02d-%02dT%02d:%02d:%02d.%03ld", tm.tm_year + 1900,
	                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	                 ts->tv_nsec / 1000000);
	put_mem(o, tbuf, (size_t)n);
	if (utc_offset == 0) {
		put_ch(o, 'Z');
	} else {
		long a = utc_offset < 0 ? -utc_offset : utc_offset;
		n = snprintf(tbuf, sizeof(tbuf), "%c%02ld%02ld", utc_offset < 0 ? '-' : '+', a / 3600,
		             (a % 3600) / 60);
		put_mem(o, tbuf, (size_t)n);
	}
}

size_t cc_log_format(char *buf, size_t cap, const struct timespec *ts, long utc_offset,
                     enum cc_log_level lvl, const char *module, const char *msg,
                     const char *const *kv, size_t nkv)
{
	struct out o = { buf, cap, 0 };
	if (lvl >= CC_LOG_OFF)
		lvl = CC_LOG_ERROR;
	put_timestamp(&o, ts, utc_offset);
	put_ch(&o, ' ');
	put_str(&o, level_tokens[lvl]);
	put_ch(&o, ' ');
	if (module && module[0]) {
		put_str(&o, module);
		put_str(&o, ": ");
	}
	put_str(&o, msg ? msg : "");
	if (nkv >= 2)
		put_ch(&o, ':');
	for (size_t i = 0; i + 1 < nkv; i += 2) {
		put_ch(&o, ' ');
		put_str(&o, kv[i] ? kv[i] : "");
		put_ch(&o, '=');
		const char *v = kv[i + 1] ? kv[i + 1] : "";
		if (v[0] == CC_LOG_RAW[0])
			put_str(&o, v + 1);
		else if (needs_quotes(v))
			put_quoted(&o, v);
		else
			put_str(&o, v);
	}
	put_ch(&o, '\n');
	if (o.pos < cap) {
		buf[o.pos] = '\0';
	} else if (cap >= 2) { /* a cut line still ends its line */
		buf[cap - 2] = '\n';
		buf[cap - 1] = '\0';
	} else if (cap == 1) {
		buf[0] = '\0';
	}
	return o.pos;
}

/* A JSON string as Go's encoding/json writes it (HTML-safe by default, as
 * hclog's encoder is). */
static void put_json_str(struct out *o, const char *v)
{
	put_ch(o, '"');
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		char esc[8];
		switch (*p) {
		case '"': put_str(o, "\\\""); break;
		case '\\': put_str(o, "\\\\"); break;
		case '\n': put_str(o, "\\n"); break;
		case '\r': put_str(o, "\\r"); break;
		case '\t': put_str(o, "\\t"); break;
		default:
			if (*p < 0x20 || *p == '<' || *p == '>' || *p == '&') {
				snprintf(esc, sizeof(esc), "\\u%04x", *p);
				put_str(o, esc);
			} else {
				put_ch(o, (char)*p);
			}
		}
	}
	put_ch(o, '"');
}

size_t cc_log_format_json(char *buf, size_t cap, const struct timespec *ts, long utc_offset,
                          enum cc_log_level lvl, const char *module, const char *msg,
                          const char *const *kv, size_t nkv)
{
	static const char *const lower[] = { "trace", "debug", "info", "warn", "error" };
	if (lvl >= CC_LOG_OFF)
		lvl = CC_LOG_ERROR;
	/* "2006-01-02T15:04:05.000000Z07:00" in the same local time */
	char tbuf[64];
	time_t local = ts->tv_sec + utc_offset;
	struct tm tm;
	gmtime_r(&local, &tm);
	int tn = snprintf(tbuf, sizeof(tbuf), "%04d-%02d-%02dT%02d:%02d:%02d.%06ld",
	                  tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	                  tm.tm_sec, ts->tv_nsec / 1000);
	long a = utc_offset < 0 ? -utc_offset : utc_offset;
	if (utc_offset == 0)
		snprintf(tbuf + tn, sizeof(tbuf) - (size_t)tn, "Z");
	else
		snprintf(tbuf + tn, sizeof(tbuf) - (size_t)tn, "%c%02ld:%02ld",
		         utc_offset < 0 ? '-' : '+', a / 3600, (a % 3600) / 60);

	/* the keys Go's map encoding sorts; a later duplicate wins, as in a map */
	const char *k[KV_MAX + 4], *v[KV_MAX + 4];
	size_t n = 0;
	k[n] = "@level", v[n++] = lower[lvl];
	k[n] = "@message", v[n++] = msg ? msg : "";
	if (module && module[0])
		k[n] = "@module", v[n++] = module;
	k[n] = "@timestamp", v[n++] = tbuf;
	for (size_t i = 0; i + 1 < nkv && n < KV_MAX + 4; i += 2) {
		const char *key = kv[i] ? kv[i] : "", *val = kv[i + 1] ? kv[i + 1] : "";
		if (val[0] == CC_LOG_RAW[0])
			val++;
		size_t j = 0;
		while (j < n && strcmp(k[j], key) != 0)
			j++;
		if (j < n) {
			v[j] = val;
			continue;
		}
		for (j = n; j > 0 && strcmp(k[j - 1], key) > 0; j--) {
			k[j] = k[j - 1];
			v[j] = v[j - 1];
		}
		k[j] = key;
		v[j] = val;
		n++;
	}
	struct out o = { buf, cap, 0 };
	put_ch(&o, '{');
	for (size_t i = 0; i < n; i++) {
		if (i)
			put_ch(&o, ',');
		put_json_str(&o, k[i]);
		put_ch(&o, ':');
		put_json_str(&o, v[i]);
	}
	put_str(&o, "}\n");
	if (o.pos < cap) {
		buf[o.pos] = '\0';
	} else if (cap >= 2) {
		buf[cap - 2] = '\n';
		buf[cap - 1] = '\0';
	} else if (cap == 1) {
		buf[0] = '\0';
	}
	return o.pos;
}

size_t cc_log_list(char *buf, size_t cap, const char *const *items, size_t n)
{
	struct out o = { buf, cap, 0 };
	put_str(&o, CC_LOG_RAW);
	put_ch(&o, '[');
	for (size_t i = 0; i < n; i++) {
		if (i)
			put_str(&o, ", ");
		put_str(&o, items[i]);
	}
	put_ch(&o, ']');
	if (cap > 0)
		buf[o.pos < cap ? o.pos : cap - 1] = '\0';
	return o.pos;
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return; /* a log sink that fails must not take the agent down */
		}
		p += w;
		n -= (size_t)w;
	}
}

static void emit(enum cc_log_level lvl, const char *module, const char *msg,
                 const char *const *kv, size_t nkv)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	localtime_r(&ts.tv_sec, &tm);

	char line[LINE_MAX_BYTES + 8];
	size_t plen = strlen(g_log.console_prefix);
	if (plen > 8)
		plen = 8;
	memcpy(line, g_log.console_prefix, plen);
	size_t n = cc_log_format(line + plen, LINE_MAX_BYTES, &ts, tm.tm_gmtoff, lvl, module, msg,
	                         kv, nkv);
	if (n >= LINE_MAX_BYTES)
		n = LINE_MAX_BYTES - 1;
	if (lvl >= g_log.level && g_log.console_fd >= 0)
		write_all(g_log.console_fd, line, plen + n);
	if (lvl >= g_log.level && g_log.file_fd >= 0)
		write_all(g_log.file_fd, line + plen, n);
	for (int i = 0; i < CC_LOG_MAX_SINKS; i++)
		if (g_sinks[i].fn && lvl >= g_sinks[i].level)
			g_sinks[i].fn(g_sinks[i].ud, &ts, tm.tm_gmtoff, lvl, module, msg, kv, nkv);
}

void cc_logv(enum cc_log_level lvl, const char *module, const char *msg, va_list ap)
{
	if (lvl < g_min_level || lvl >= CC_LOG_OFF)
		return;
	const char *kv[KV_MAX * 2];
	size_t nkv = 0;
	for (;;) {
		const char *k = va_arg(ap, const char *);
		if (!k)
			break;
		const char *v = va_arg(ap, const char *);
		if (nkv < KV_MAX * 2) {
			kv[nkv++] = k;
			kv[nkv++] = v;
		}
	}
	emit(lvl, module, msg, kv, nkv);
}

void cc_log(enum cc_log_level lvl, const char *module, const char *msg, ...)
{
	va_list ap;
	va_start(ap, msg);
	cc_logv(lvl, module, msg, ap);
	va_end(ap);
}

void cc_logf(enum cc_log_level lvl, const char *module, const char *fmt, ...)
{
	if (lvl < g_min_level || lvl >= CC_LOG_OFF)
		return;
	char msg[LINE_MAX_BYTES];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	emit(lvl, module, msg, NULL, 0);
}
