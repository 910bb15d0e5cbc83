/*
 * agent — wires the modules into the running `conclave agent`: data_dir and
 * node ID, logging, the banner, the HTTP API, signals and shutdown.
 *
 * Today the agent serves its HTTP API (`/v1/agent/self`, `/v1/status/leader`);
 * gossip, Raft and the rest of the API are added by later modules.
 */
#ifndef CC_AGENT_H
#define CC_AGENT_H

#include "config/config.h"

/* Runs the agent with a finalized config until SIGINT or SIGTERM. Prints the
 * banner and "==> Conclave agent running!" on stdout, logs on stdout (and to
 * log_file), startup errors on stderr as "==> Error starting agent: ...".
 * Returns the process exit code: 0 after a clean shutdown, 1 when it could not
 * start. Does not take ownership of cfg. */
int cc_agent_run(const struct cc_config *cfg);

/* Reads the node ID from data_dir/node-id, or creates that file (mode 0600,
 * fsync'd) holding a new random UUID. A configured node_id wins. Creates
 * data_dir (mode 0700) if needed. Returns 0 or a negative errno with err set. */
int cc_agent_node_id(const struct cc_config *cfg, char out[37], char *err, size_t errlen);

#endif
