/* `conclave catalog nodes|services`: the catalog through the local agent's
 * HTTP API, printed as Consul's `consul catalog` commands print it (command/
 * catalog/list/nodes: columnize, IDs cut at the first dash unless -detailed;
 * command/catalog/list/services: names, or a tabwriter with -tags). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"

static const char catalog_usage[] =
	"Usage: conclave catalog <subcommand> [options] [args]\n"
	"\n"
	"  This command has subcommands for interacting with Conclave's catalog. The\n"
	"  catalog should not be confused with the agent, although the APIs and\n"
	"  responses may be similar.\n"
	"\n"
	"Subcommands:\n"
	"    nodes       List all nodes in the catalog\n"
	"    services    List all registered services in a datacenter\n";

static const char nodes_usage[] =
	"Usage: conclave catalog nodes [options]\n"
	"\n"
	"  Retrieves the list of nodes registered in a given datacenter.\n"
	"\n"
	"  -detailed   Output detailed information about the nodes including their\n"
	"              addresses and metadata.\n"
	"  -http-addr  The agent's HTTP address.\n"
	"  -stale      Permit any Conclave server to respond.\n";

static const char services_usage[] =
	"Usage: conclave catalog services [options]\n"
	"\n"
	"  Retrieves the list of services registered in a given datacenter.\n"
	"\n"
	"  -tags       Display each service's tags as a comma-separated list.\n"
	"  -http-addr  The agent's HTTP address.\n"
	"  -stale      Permit any Conclave server to respond.\n";

/* GET path; the parsed answer, or NULL after printing "Error listing WHAT". */
static cJSON *get_json(const char *addr, const char *path, const char *what)
{
	char base[512], err[1024], ebuf[1200];
	struct cc_cli_body b = { 0 };
	int st = cc_cli_call("GET", cc_cli_http_addr(addr, base, sizeof(base)), path, NULL, 0, &b,
	                     err, sizeof(err));
	cJSON *j = st == 200 ? cJSON_Parse(b.p ? b.p : "") : NULL;
	if (st != 200)
		fprintf(stderr, "Error listing %s: %s\n", what, cc_cli_error(st, &b, err, ebuf, sizeof(ebuf)));
	else if (!j)
		fprintf(stderr, "Error listing %s: the agent's answer is not JSON\n", what);
	free(b.p);
	return j;
}

/* Consul's mapToKV: "k=v" pairs sorted by key, joined with ", " (cJSON keeps
 * the order the agent sent, which is sorted). */
static char *map_kv(const cJSON *m)
{
	size_t n = 1;
	for (const cJSON *e = m ? m->child : NULL; e; e = e->next)
		n += strlen(e->string) + (cJSON_IsString(e) ? strlen(e->valuestring) : 0) + 3;
	char *s = calloc(1, n);
	for (const cJSON *e = m ? m->child : NULL; s && e; e = e->next) {
		if (s[0])
			strcat(s, ", ");
		strcat(s, e->string);
		strcat(s, "=");
		strcat(s, cJSON_IsString(e) ? e->valuestring : "");
	}
	return s;
}

static const char *str_of(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsString(v) ? v->valuestring : "";
}

static int catalog_nodes(int argc, char **argv)
{
	bool detailed = false, stale = false;
	const char *addr = NULL;
	const struct cc_cli_flag fl[] = { { "detailed", CC_CLI_BOOL, &detailed },
		                          { "stale", CC_CLI_BOOL, &stale },
		                          { "http-addr", CC_CLI_STR, &addr } };
	int n = cc_cli_parse(argc, argv, fl, sizeof(fl) / sizeof(fl[0]), nodes_usage);
	if (n < 0)
		return n == -2 ? 0 : 1;
	if (argc - n > 0) {
		fprintf(stderr, "Too many arguments (expected 0, got %d)\n", argc - n);
		return 1;
	}
	cJSON *arr = get_json(addr, stale ? "/v1/catalog/nodes?stale" : "/v1/catalog/nodes", "nodes");
	if (!arr)
		return 1;
	size_t rows = (size_t)cJSON_GetArraySize(arr), cols = detailed ? 6 : 4;
	if (rows == 0) {
		fprintf(stderr, "No nodes match the given query - try expanding your search.\n");
		cJSON_Delete(arr);
		return 0;
	}
	const char **cell = calloc((rows + 1) * cols, sizeof(*cell));
	char **owned = calloc(rows * 3, sizeof(*owned));
	if (!cell || !owned) {
		free(cell);
		free(owned);
		cJSON_Delete(arr);
		return 1;
	}
	static const char *const head[6] = { "Node", "ID", "Address", "DC", "TaggedAddresses", "Meta" };
	memcpy(cell, head, cols * sizeof(*cell));
	size_t r = 1;
	for (const cJSON *e = arr->child; e; e = e->next, r++) {
		const char **row = cell + r * cols;
		row[0] = str_of(e, "Node");
		const char *id = str_of(e, "ID");
		const char *dash = strchr(id, '-');
		/* non-detailed: the ID up to its first dash (Consul's "first octet") */
		owned[(r - 1) * 3] = strndup(id, !detailed && dash && dash > id ? (size_t)(dash - id)
		                                                               : strlen(id));
		row[1] = owned[(r - 1) * 3] ? owned[(r - 1) * 3] : "";
		row[2] = str_of(e, "Address");
		row[3] = str_of(e, "Datacenter");
		if (detailed) {
			owned[(r - 1) * 3 + 1] = map_kv(cJSON_GetObjectItemCaseSensitive(e, "TaggedAddresses"));
			owned[(r - 1) * 3 + 2] = map_kv(cJSON_GetObjectItemCaseSensitive(e, "Meta"));
			row[4] = owned[(r - 1) * 3 + 1] ? owned[(r - 1) * 3 + 1] : "";
			row[5] = owned[(r - 1) * 3 + 2] ? owned[(r - 1) * 3 + 2] : "";
		}
	}
	cc_cli_columns(stdout, cell, rows + 1, cols);
	for (size_t i = 0; i < rows * 3; i++)
		free(owned[i]);
	free(owned);
	free(cell);
	cJSON_Delete(arr);
	return 0;
}

static int catalog_services(int argc, char **argv)
{
	bool tags = false, stale = false;
	const char *addr = NULL;
	const struct cc_cli_flag fl[] = { { "tags", CC_CLI_BOOL, &tags },
		                          { "stale", CC_CLI_BOOL, &stale },
		                          { "http-addr", CC_CLI_STR, &addr } };
	int n = cc_cli_parse(argc, argv, fl, sizeof(fl) / sizeof(fl[0]), services_usage);
	if (n < 0)
		return n == -2 ? 0 : 1;
	if (argc - n > 0) {
		fprintf(stderr, "Too many arguments (expected 0, got %d)\n", argc - n);
		return 1;
	}
	cJSON *m = get_json(addr, stale ? "/v1/catalog/services?stale" : "/v1/catalog/services",
	                    "services");
	if (!m)
		return 1;
	if (!m->child) {
		fprintf(stderr, "No services match the given query - try expanding your search.\n");
		cJSON_Delete(m);
		return 0;
	}
	/* the agent sends names sorted and each name's tags sorted */
	size_t w = 0;
	for (const cJSON *e = m->child; e; e = e->next)
		if (strlen(e->string) > w)
			w = strlen(e->string);
	char *out = NULL;
	size_t outlen = 0;
	FILE *f = open_memstream(&out, &outlen);
	for (const cJSON *e = m->child; f && e; e = e->next) {
		if (!tags) {
			fprintf(f, "%s\n", e->string);
			continue;
		}
		/* Go's tabwriter (padding 6) */
		fprintf(f, "%-*s", (int)w + 6, e->string);
		for (const cJSON *t = e->child; t; t = t->next)
			fprintf(f, "%s%s", t == e->child ? "" : ",", cJSON_IsString(t) ? t->valuestring : "");
		fprintf(f, "\n");
	}
	if (f)
		fclose(f);
	/* Consul prints strings.TrimSpace of it all */
	while (out && outlen && (out[outlen - 1] == '\n' || out[outlen - 1] == ' '))
		out[--outlen] = 0;
	if (out)
		printf("%s\n", out);
	free(out);
	cJSON_Delete(m);
	return 0;
}

int cc_cli_catalog(int argc, char **argv)
{
	if (argc < 1 || strcmp(argv[0], "-h") == 0 || strcmp(argv[0], "-help") == 0 ||
	    strcmp(argv[0], "--help") == 0) {
		fputs(catalog_usage, argc < 1 ? stderr : stdout);
		return argc < 1 ? 1 : 0;
	}
	if (strcmp(argv[0], "nodes") == 0)
		return catalog_nodes(argc - 1, argv + 1);
	if (strcmp(argv[0], "services") == 0)
		return catalog_services(argc - 1, argv + 1);
	fputs(catalog_usage, stderr);
	return 1;
}
