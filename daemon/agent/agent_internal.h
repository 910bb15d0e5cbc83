/* Private to the agent module. */
#ifndef CC_AGENT_INTERNAL_H
#define CC_AGENT_INTERNAL_H

#include <uv.h>

#include "agent/agent.h"
#include "http/http.h"

#define CC_AGENT_MAX_HTTP 8

struct cc_agent {
	const struct cc_config *cfg;
	char node_id[37];
	uv_loop_t loop;
	uv_signal_t sigint, sigterm;
	struct cc_http *http[CC_AGENT_MAX_HTTP];
	char http_names[CC_AGENT_MAX_HTTP][80];
	size_t nhttp;
	int exit_code;
};

/* The HTTP routes the agent serves; ud is the struct cc_agent. */
extern const struct cc_http_route cc_agent_routes[];
extern const size_t cc_agent_nroutes;

#endif
