/* The `conclave` command's subcommands, shared between main.c and their files. */
#ifndef CC_CLI_H
#define CC_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>

int cc_cli_validate(int argc, char **argv);
/* Clients of the agent's HTTP API (-http-addr, CONCLAVE_HTTP_ADDR, CONSUL_HTTP_ADDR). */
int cc_cli_members(int argc, char **argv);
int cc_cli_join(int argc, char **argv);
int cc_cli_leave(int argc, char **argv);
int cc_cli_force_leave(int argc, char **argv);
int cc_cli_kv(int argc, char **argv);       /* kv get|put|delete */
int cc_cli_operator(int argc, char **argv); /* operator raft list-peers|remove-peer */
int cc_cli_autopilot(int argc, char **argv); /* operator autopilot get-config|set-config|state */
int cc_cli_services(int argc, char **argv); /* services register|deregister */
/* cli_kv_export.c: kv export|import (cc_cli_kv dispatches) */
int cc_cli_kv_export(int argc, char **argv);
int cc_cli_kv_import(int argc, char **argv);
/* cli_kv.c: standard base64 with padding, as Go's StdEncoding. Returns the
 * length written to out (room for strlen(in) / 4 * 3 bytes), or -1 with *bad
 * set to the offending input byte. */
long cc_cli_b64_decode(const char *in, unsigned char *out, size_t *bad);
/* A command's data argument, as `consul kv put` takes it: the text itself,
 * stdin for "-", a file for "@path". The bytes (malloc'd, NUL-terminated
 * after len) in *out; 0, or -1 after printing Consul's error on stderr. */
int cc_cli_read_arg(const char *arg, char **out, size_t *len);
int cc_cli_info(int argc, char **argv);
int cc_cli_monitor(int argc, char **argv);  /* streams the agent's log */
int cc_cli_catalog(int argc, char **argv);  /* catalog nodes|services */
int cc_cli_keyring(int argc, char **argv);  /* keyring -list|-install|-use|-remove */
int cc_cli_keygen(int argc, char **argv);   /* a new gossip key (cli_keyring.c) */
int cc_cli_event(int argc, char **argv);    /* fires a Consul user event */

/* ---- cli_http.c: what the HTTP-API commands share ---- */

struct cc_cli_body {
	char *p; /* NUL-terminated, may hold NULs before n; NULL when empty */
	size_t n;
};

/* The agent's base URL: flag, else CONCLAVE_HTTP_ADDR, else CONSUL_HTTP_ADDR,
 * else 127.0.0.1:8500; "http://" is added when no scheme is given. */
const char *cc_cli_http_addr(const char *flag, char *buf, size_t cap);

/* Removes -http-addr[=]ADDR from anywhere in argv (members, join, ...). */
const char *cc_cli_take_http_addr(int *argc, char **argv);

/* One request with an optional body (data may hold NULs). Returns the HTTP
 * status, or -1 with err in Go's wording ("Get http://...: ..."). The caller
 * frees out->p. */
int cc_cli_call(const char *method, const char *base, const char *path, const void *data,
                size_t len, struct cc_cli_body *out, char *err, size_t errlen);

/* A streaming GET (HTTP/1.0: the agent's body runs until it closes). Once
 * the status line and headers are in (within the call timeout), a 200's body
 * goes to on_data as it arrives, for as long as the agent sends, until *stop
 * becomes nonzero (set it from a signal handler; checked every 250 ms) or
 * on_data returns nonzero; another status's body is collected into out (the
 * caller frees out->p). Returns the status, or -1 with err in Go's wording. */
typedef int (*cc_cli_data_fn)(void *ud, const char *p, size_t n);
int cc_cli_stream(const char *base, const char *path, cc_cli_data_fn on_data, void *ud,
                  volatile sig_atomic_t *stop, struct cc_cli_body *out, char *err, size_t errlen);

/* The error of a failed call as Consul's API client words it: the transport
 * error, or "Unexpected response code: 500 (No cluster leader)". */
const char *cc_cli_error(int status, const struct cc_cli_body *b, const char *err, char *buf,
                         size_t cap);

/* Percent-encodes s for a URL path (keep_slash) or a query value; the
 * caller frees the result (NULL when out of memory). */
char *cc_cli_escape(const char *s, bool keep_slash);

/* Prints a table like Consul's columnize: columns padded to their widest
 * cell and glued with two spaces, the last column unpadded. cell holds
 * nrows x ncols strings, row by row. */
void cc_cli_columns(FILE *f, const char *const *cell, size_t nrows, size_t ncols);

/* Flags parsed like Go's flag package: -name, --name, -name=value, -name
 * value (not for bools); parsing stops at the first non-flag argument, at "-"
 * and after "--". */
enum cc_cli_flag_type { CC_CLI_BOOL, CC_CLI_STR, CC_CLI_U64, CC_CLI_LIST, CC_CLI_OPTBOOL };
struct cc_cli_flag {
	const char *name;
	enum cc_cli_flag_type type;
	void *dst; /* bool *, const char **, uint64_t *, struct cc_cli_list * or int * */
};
/* CC_CLI_LIST: a repeatable flag, every value appended (the caller frees v;
 * the strings are argv's). CC_CLI_OPTBOOL: a boolean flag into an int the
 * caller sets to -1, so that it can tell "not given" from 0 and 1. */
struct cc_cli_list {
	const char **v;
	size_t n;
};

/* Returns the number of arguments consumed (the rest are positional); -2
 * after printing usage on stdout for -h/-help anywhere before "--"; -1 after
 * printing the error and usage on stderr. */
int cc_cli_parse(int argc, char **argv, const struct cc_cli_flag *flags, size_t nflags,
                 const char *usage);

#endif
