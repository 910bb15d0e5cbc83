/* `conclave event`: Consul's event command over PUT /v1/event/fire/NAME
 * (-name, -node, -service, -tag filters, an optional payload); prints the
 * event's ID as Consul does. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char usage[] =
	"Usage: conclave event [options] [payload]\n"
	"\n"
	"  Dispatches a custom user event across a datacenter. An event must provide\n"
	"  a name, but a payload is optional. Events support filtering using\n"
	"  regular expressions on node name, service, and tag definitions.\n"
	"\n"
	"Options:\n"
	"\n"
	"  -http-addr=<address>  The agent's HTTP API (default: CONCLAVE_HTTP_ADDR,\n"
	"                        CONSUL_HTTP_ADDR, 127.0.0.1:8500).\n"
	"  -name=<name>          Name of the event.\n"
	"  -node=<regex>         Regular expression to filter on node names.\n"
	"  -service=<regex>      Regular expression to filter on service instances.\n"
	"  -tag=<regex>          Regular expression to filter on service tags. Must be\n"
	"                        used with -service.\n";

/* Appends "&key=escaped value" to q when value is set. */
static int add_param(char *q, size_t cap, const char *key, const char *value)
{
	if (!value || !value[0])
		return 0;
	char *e = cc_cli_escape(value, false);
	if (!e)
		return -1;
	size_t o = strlen(q);
	int n = snprintf(q + o, cap - o, "%c%s=%s", o ? '&' : '?', key, e);
	free(e);
	return n < 0 || (size_t)n >= cap - o ? -1 : 0;
}

int cc_cli_event(int argc, char **argv)
{
	const char *name = NULL, *node = NULL, *service = NULL, *tag = NULL, *addr = NULL;
	const struct cc_cli_flag flags[] = {
		{ "http-addr", CC_CLI_STR, &addr }, { "name", CC_CLI_STR, &name },
		{ "node", CC_CLI_STR, &node },      { "service", CC_CLI_STR, &service },
		{ "tag", CC_CLI_STR, &tag },
	};
	int used = cc_cli_parse(argc, argv, flags, sizeof(flags) / sizeof(flags[0]), usage);
	if (used < 0)
		return used == -2 ? 0 : 1;
	if (!name || !name[0]) {
		fprintf(stderr, "Event name must be specified\n");
		return 1;
	}
	if (tag && tag[0] && (!service || !service[0])) {
		fprintf(stderr, "Cannot provide tag filter without service filter.\n");
		return 1;
	}
	if (argc - used > 1) {
		fprintf(stderr, "Too many command line arguments.\n");
		return 1;
	}
	const char *payload = argc - used == 1 ? argv[used] : "";
	char query[2048] = "", path[2400], base[512], err[1024];
	char *ename = cc_cli_escape(name, false);
	if (!ename || add_param(query, sizeof(query), "node", node) ||
	    add_param(query, sizeof(query), "service", service) ||
	    add_param(query, sizeof(query), "tag", tag)) {
		free(ename);
		fprintf(stderr, "Error firing event: the filters are too long\n");
		return 1;
	}
	snprintf(path, sizeof(path), "/v1/event/fire/%s%s", ename, query);
	free(ename);
	struct cc_cli_body b = { 0 };
	int st = cc_cli_call("PUT", cc_cli_http_addr(addr, base, sizeof(base)), path, payload,
	                     strlen(payload), &b, err, sizeof(err));
	int rc = 1;
	cJSON *j = st == 200 && b.p ? cJSON_Parse(b.p) : NULL;
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "ID");
	if (cJSON_IsString(id)) {
		printf("Event ID: %s\n", id->valuestring);
		rc = 0;
	} else {
		char msg[2048];
		fprintf(stderr, "Error firing event: %s\n",
		        st == 200 ? "the agent's answer has no event ID"
		                  : cc_cli_error(st, &b, err, msg, sizeof(msg)));
	}
	cJSON_Delete(j);
	free(b.p);
	return rc;
}
