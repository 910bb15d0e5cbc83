/* Private to the config module: shared between its .c files, not part of the
 * public contract (that is config.h). */
#ifndef CC_CONFIG_INTERNAL_H
#define CC_CONFIG_INTERNAL_H

#include <cjson/cJSON.h>

#include "config/config.h"

/* Settings whose default depends on other settings: -1 = not set by any source. */
struct cc_config_priv {
	int leave_on_terminate;
	int skip_leave_on_interrupt;
	char *client_addr_raw;    /* client_addr as written (space-separated list) */
	char *addresses_http;     /* addresses.http as written */
	char *addresses_dns;      /* addresses.dns as written */
};

/* Syntax check of a JSON text with a precise diagnosis: checks UTF-8, the JSON
 * grammar and nesting depth. Returns 0 when valid; otherwise -1 with the 1-based
 * line and column (in characters) and a message saying what was expected and
 * what was found. */
struct json_diag {
	int line, col;
	char msg[256];
};
int json_check(const char *buf, size_t len, int max_depth, struct json_diag *d);

/* Applies one parsed JSON document (the top-level object) to c. source names it
 * in messages (a file path, or "command-line flags"). */
int cc_config_apply_json(struct cc_config *c, const cJSON *root, const char *source,
                         struct cc_config_err *err);

/* Small helpers shared by the module's files. */
__attribute__((format(printf, 2, 3))) int cc_config_fail(struct cc_config_err *err,
                                                         const char *fmt, ...);
int cc_strlist_push(struct cc_strlist *l, const char *s);
void cc_strlist_clear(struct cc_strlist *l);
int cc_config_warn(struct cc_config *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cc_set_str(char **dst, const char *s);

#endif
