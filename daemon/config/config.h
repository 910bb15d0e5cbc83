/*
 * config — the agent's configuration: JSON files and directories plus command
 * flags, merged and validated with Consul's rules and texts.
 *
 * Sources are applied in the order given: every -config-file and -config-dir as
 * they appear on the command line (a directory's *.json files in lexical order),
 * then all other command flags. A later scalar overrides an earlier one; lists
 * (retry_join, start_join, services) append; objects (ports, addresses,
 * performance) merge key by key.
 *
 * Lifecycle:
 *   struct cc_config *c = cc_config_new();          defaults
 *   cc_config_load_file(c, path, &err) ...          any number of sources
 *   cc_config_finalize(c, &err);                    derived values + validation
 *   ... read fields, c->warnings ...
 *   cc_config_free(c);
 *
 * Every error names the file (or flag), and where it can the line and column or
 * the key and the expected type. Nothing here exits or prints; the caller decides.
 */
#ifndef CC_CONFIG_H
#define CC_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "log/log.h"

#define CC_CONFIG_ERR_MAX 1024
/* A config file larger than this is refused (Consul has no limit; we do not read
 * unbounded files into memory). */
#define CC_CONFIG_MAX_FILE_BYTES (4u << 20)
/* JSON nesting deeper than this is refused. */
#define CC_CONFIG_MAX_DEPTH 64

struct cc_config_err {
	char msg[CC_CONFIG_ERR_MAX];
};

struct cc_strlist {
	char **v;
	size_t n;
};

struct cc_kv {
	char *key;
	char *value;
};

/* A check definition (Consul's `check` / `checks` entries). Exactly one kind:
 * script (args), http, tcp or ttl. Durations are in milliseconds, 0 = unset. */
struct cc_check_def {
	char *id, *name, *notes, *status, *service_id;
	struct cc_strlist args;
	char *http, *method, *tcp;
	uint64_t interval_ms, timeout_ms, ttl_ms, deregister_after_ms;
	bool tls_skip_verify;
};

/* A service definition (Consul's `service` / `services` entries). */
struct cc_service_def {
	char *id, *name, *address;
	int port;                  /* 0 when unset */
	struct cc_strlist tags;
	struct cc_kv *meta;
	size_t nmeta;
	bool enable_tag_override;
	struct cc_check_def *checks;
	size_t nchecks;
};

/* The telemetry block (Consul's names). */
struct cc_telemetry {
	uint64_t prometheus_retention_ms; /* > 0 enables ?format=prometheus; default 0 */
	bool disable_hostname;            /* no host name in gauge names */
	char *metrics_prefix;             /* default "consul" */
};

/* Ports: -1 disables a listener where Consul allows it (http, https, grpc, dns). */
struct cc_ports {
	int http, https, grpc, dns, server, serf_lan, serf_wan;
};

struct cc_config {
	char *datacenter;          /* default "dc1" */
	char *node_name;           /* default: the host name */
	char *node_id;             /* NULL: read or create data_dir/node-id */
	char *data_dir;
	enum cc_log_level log_level; /* default INFO */
	char *log_file;
	bool server;
	bool bootstrap;
	int bootstrap_expect;
	bool ui;
	bool enable_script_checks;
	char *bind_addr;           /* default "0.0.0.0" */
	char *advertise_addr;      /* default: bind_addr, or the one private IPv4 */
	char *advertise_addr_wan;  /* default: advertise_addr */
	struct cc_strlist client_addrs; /* from client_addr (space-separated); default 127.0.0.1 */
	struct cc_strlist http_addrs;   /* addresses.http, else client_addrs */
	struct cc_strlist dns_addrs;    /* addresses.dns, else client_addrs */
	struct cc_ports ports;
	struct cc_strlist retry_join, retry_join_wan, start_join;
	uint64_t retry_interval_ms;     /* default 30s */
	int retry_max;                  /* 0 = forever */
	char *encrypt;                  /* base64 gossip key, 16/24/32 bytes */
	bool leave_on_terminate;        /* default: !server */
	bool skip_leave_on_interrupt;   /* default: server */
	bool rejoin_after_leave;
	int raft_multiplier;            /* performance.raft_multiplier, 1..10, default 5 */
	int raft_snapshot_threshold;    /* entries between snapshots; 0: Conclave's 8192 */
	int raft_trailing_logs;         /* entries kept after a snapshot; 0: Conclave's 1024 */
	struct cc_service_def *services;
	size_t nservices;
	struct cc_telemetry telemetry;

	/* Messages to show the user (config warnings, unknown keys), in order. */
	struct cc_strlist warnings;

	/* Internal bookkeeping; see config_internal.h. */
	struct cc_config_priv *priv;
};

/* Returns a config holding Consul's defaults, or NULL when out of memory.
 * Free with cc_config_free. */
struct cc_config *cc_config_new(void);
void cc_config_free(struct cc_config *c);

/* Applies one JSON file. Returns 0 or -1 with err filled. */
int cc_config_load_file(struct cc_config *c, const char *path, struct cc_config_err *err);

/* Applies every *.json file in dir, in lexical order (not recursive). An *.hcl
 * file is an error: Conclave reads JSON only. */
int cc_config_load_dir(struct cc_config *c, const char *dir, struct cc_config_err *err);

/* Applies JSON held in memory; name is used in messages. */
int cc_config_load_buffer(struct cc_config *c, const char *name, const char *data, size_t len,
                          struct cc_config_err *err);

/* Parses `conclave agent` style flags (argv[0] is the first flag, not the
 * program). -config-file and -config-dir are loaded as they are met; every other
 * flag is applied after all files, so flags override files. Stray positional
 * arguments are an error. Returns 0 or -1 with err filled. */
int cc_config_apply_flags(struct cc_config *c, int argc, char **argv, struct cc_config_err *err);

/* One line per flag, for help texts. */
const char *cc_config_flags_help(void);

/* Fills in derived defaults and validates the merged result (Consul's rules:
 * bootstrap/bootstrap_expect, data_dir, datacenter, addresses, ports, ...).
 * Appends warnings to c->warnings. A data_dir that exists but is not a
 * directory is an error; one that does not exist yet is fine (the agent creates
 * it). Returns 0 or -1 with err filled. */
int cc_config_finalize(struct cc_config *c, struct cc_config_err *err);

/* Parses a Go-style duration ("5s", "1m30s", "250ms", "1.5h", "100us").
 * Returns 0 and the value in nanoseconds, or -1 with a reason in why. Negative
 * durations are accepted here; callers decide. */
int cc_duration_parse(const char *s, int64_t *ns, const char **why);

/* A check definition in the agent API's form (CheckID, Name, Args, HTTP,
 * Interval as a Go duration, ...; empty fields left out): what `conclave
 * services register` sends and how the agent loads config-file checks. */
cJSON *cc_check_def_json(const struct cc_check_def *k);

/* Formats a duration in milliseconds the way Go prints it ("5s", "1m30s",
 * "250ms"). Returns buf. */
char *cc_duration_format(uint64_t ms, char *buf, size_t cap);

/* The node-name DNS problem Consul warns about at start, or NULL when the name
 * is a valid DNS label. */
const char *cc_config_node_name_dns_warning(const char *node_name);

#endif
