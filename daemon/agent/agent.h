/*
 * agent — wires the modules into the running `conclave agent`: data_dir and
 * node ID, logging, the banner, the HTTP API, signals and shutdown.
 *
 * The modules it runs: gossip, the server (Raft, catalog, KV), the HTTP API,
 * DNS, the agent's own services and checks with anti-entropy.
 */
#ifndef CC_AGENT_H
#define CC_AGENT_H

#include "config/config.h"

/* Runs the agent with a finalized config until SIGINT or SIGTERM. Prints the
 * banner and "==> Conclave agent running!" on stdout, logs on stdout (and to
 * log_file), startup errors on stderr as "==> Error starting agent: ...".
 * Returns the process exit code: 0 after a clean shutdown, 1 when it could not
 * start. Does not take ownership of cfg.
 *
 * argc/argv are the agent's command-line flags: a reload (SIGHUP or PUT
 * /v1/agent/reload) reads the config files they name again and applies what
 * can change while running — log_level and the services and checks from
 * config files. NULL: reloads are refused. */
int cc_agent_run(const struct cc_config *cfg, int argc, char **argv);

/* Reads the node ID from data_dir/node-id, or creates that file (mode 0600,
 * fsync'd) holding a new random UUID. A configured node_id wins. Creates
 * data_dir (mode 0700) if needed. Returns 0 or a negative errno with err set. */
int cc_agent_node_id(const struct cc_config *cfg, char out[37], char *err, size_t errlen);

/* A random (version 4 style) UUID, as Consul makes node and event IDs;
 * 0, or -1 with errno set. */
int cc_agent_random_uuid(char out[37]);

#endif
