/*
 * log — hclog-style log lines, as Consul prints them.
 *
 *   2020-12-14T10:55:09.721-0500 [INFO]  agent: Started HTTP server: address=51.6.196.201:8500 network=tcp
 *
 * Line shape: local time with milliseconds and a numeric zone offset (`Z` in UTC),
 * a 7-character level token and a space, the dot-joined module name, `: `, the
 * message, then — when there are key/value pairs — `:` and ` key=value` per pair.
 * Values holding a space, tab, CR or newline are double-quoted with Go-style
 * escapes; an empty value prints as nothing (`leader=`).
 *
 * The process has one logger (this is a single-threaded daemon). Console lines go
 * to stdout prefixed with four spaces, exactly as Consul 1.7 prints them under its
 * banner; lines in `log_file` have no prefix. Every line is written with a single
 * write(2) per sink, so lines from one process never interleave.
 */
#ifndef CC_LOG_H
#define CC_LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <time.h>

enum cc_log_level {
	CC_LOG_TRACE = 0,
	CC_LOG_DEBUG,
	CC_LOG_INFO,
	CC_LOG_WARN,
	CC_LOG_ERROR,
	CC_LOG_OFF,
};

/* Parses a level name as Consul accepts it: trace, debug, info, warn, warning,
 * err, error — any case. Returns 0, or -EINVAL for anything else. */
int cc_log_level_parse(const char *s, enum cc_log_level *out);

/* The canonical upper-case name: "TRACE", "DEBUG", "INFO", "WARN", "ERROR". */
const char *cc_log_level_name(enum cc_log_level lvl);

struct cc_log_options {
	enum cc_log_level level;  /* lines below this level are dropped */
	int console_fd;           /* -1: no console output */
	const char *console_prefix; /* NULL: "    " (Consul 1.7's indent) */
	const char *file_path;    /* NULL: no log file; a path ending in '/' is a
	                             directory that gets "conclave.log" */
};

/* Sets up the process logger. Opens file_path for appending (created 0640).
 * Returns 0, or a negative errno with a message naming the file in err. */
int cc_log_setup(const struct cc_log_options *opt, char *err, size_t errlen);

/* Closes the log file, if any; the console keeps working with the same level. */
void cc_log_teardown(void);

/* Changes the level filter. */
void cc_log_set_level(enum cc_log_level lvl);
enum cc_log_level cc_log_get_level(void);

/* Logs one line. The variadic part is key/value pairs of C strings ending with
 * NULL: cc_log(CC_LOG_INFO, "agent", "Started HTTP server",
 *              "address", "127.0.0.1:8500", "network", "tcp", NULL);
 * A NULL value prints as empty. Use the macros below, which add the NULL. */
void cc_log(enum cc_log_level lvl, const char *module, const char *msg, ...);
void cc_logv(enum cc_log_level lvl, const char *module, const char *msg, va_list kv);

/* Same, with a printf-formatted message and no key/value pairs. */
void cc_logf(enum cc_log_level lvl, const char *module, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define CC_TRACE(mod, ...) cc_log(CC_LOG_TRACE, (mod), __VA_ARGS__, (const char *)NULL)
#define CC_DEBUG(mod, ...) cc_log(CC_LOG_DEBUG, (mod), __VA_ARGS__, (const char *)NULL)
#define CC_INFO(mod, ...)  cc_log(CC_LOG_INFO, (mod), __VA_ARGS__, (const char *)NULL)
#define CC_WARN(mod, ...)  cc_log(CC_LOG_WARN, (mod), __VA_ARGS__, (const char *)NULL)
#define CC_ERROR(mod, ...) cc_log(CC_LOG_ERROR, (mod), __VA_ARGS__, (const char *)NULL)

/* Formats one line (without console prefix, with the trailing newline) into buf
 * for the given wall-clock time and UTC offset in seconds, NUL-terminated. kv
 * holds nkv strings (key, value, key, value, ...). Returns the line's length; if
 * that is >= cap the line was cut (and still ends in '\n'). Pure: used by cc_log
 * and by tests. */
size_t cc_log_format(char *buf, size_t cap, const struct timespec *ts, long utc_offset,
                     enum cc_log_level lvl, const char *module, const char *msg,
                     const char *const *kv, size_t nkv);

/* The same line as hclog's JSON format writes it (log_json, monitor
 * ?logjson): one object with sorted keys — "@level" (lower case),
 * "@message", "@module", "@timestamp" (2006-01-02T15:04:05.000000Z07:00),
 * then the key/value pairs in key order — and a newline. Same contract as
 * cc_log_format. */
size_t cc_log_format_json(char *buf, size_t cap, const struct timespec *ts, long utc_offset,
                          enum cc_log_level lvl, const char *module, const char *msg,
                          const char *const *kv, size_t nkv);

/* Extra receivers of log lines (the /v1/agent/monitor streams). A sink gets
 * every line at or above its own level, even below the logger's level (as
 * Consul's monitor can be more verbose than the agent). It is called from
 * inside cc_log: it must not log, and must not add or remove sinks. */
typedef void (*cc_log_sink_fn)(void *ud, const struct timespec *ts, long utc_offset,
                               enum cc_log_level lvl, const char *module, const char *msg,
                               const char *const *kv, size_t nkv);
#define CC_LOG_MAX_SINKS 64
/* Returns a sink id (>= 0), or -ENOSPC when CC_LOG_MAX_SINKS are in use. */
int cc_log_sink_add(enum cc_log_level level, cc_log_sink_fn fn, void *ud);
void cc_log_sink_remove(int id);

/* A value that starts with this byte is printed as is, never quoted: hclog
 * prints Go slices unquoted even when they hold spaces. */
#define CC_LOG_RAW "\x01"

/* Formats a list the way hclog prints a Go slice, "[a, b, c]", marked with
 * CC_LOG_RAW so that it is printed unquoted. Returns the length that the full
 * text needs (snprintf semantics). */
size_t cc_log_list(char *buf, size_t cap, const char *const *items, size_t n);

#endif
