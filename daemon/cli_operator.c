/* `conclave operator raft list-peers|remove-peer` and `conclave info`: the
 * Raft configuration and the agent's stats through the HTTP API, printed as
 * `consul operator raft` and `consul info` print them (reference §8.2, §5.6). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"

#define HTTP_OPTIONS \
	"HTTP API Options\n" \
	"\n" \
	"  -http-addr=<address>\n" \
	"     The address and port of the Conclave HTTP agent. Can also be\n" \
	"     specified via CONCLAVE_HTTP_ADDR or CONSUL_HTTP_ADDR. The default is\n" \
	"     127.0.0.1:8500.\n"

static const char operator_usage[] =
	"Usage: conclave operator <subcommand> [options]\n"
	"\n"
	"  Provides cluster-level tools for operators, such as interacting with the\n"
	"  Raft subsystem.\n"
	"\n"
	"Subcommands:\n"
	"    autopilot    Provides tools for modifying Autopilot configuration\n"
	"    raft         Provides cluster-level tools for Conclave operators\n";

static const char raft_usage[] =
	"Usage: conclave operator raft <subcommand> [options]\n"
	"\n"
	"  The Raft operator command is used to interact with the Raft subsystem. The\n"
	"  command can be used to verify Raft peers or in rare cases to recover quorum\n"
	"  by removing invalid peers.\n"
	"\n"
	"Subcommands:\n"
	"    list-peers     Display the current Raft peer configuration\n"
	"    remove-peer    Remove a Conclave server from the Raft configuration\n";

static const char list_usage[] =
	"Usage: conclave operator raft list-peers [options]\n"
	"\n"
	"  Displays the current Raft peer configuration.\n"
	"\n" HTTP_OPTIONS
	"\n"
	"  -stale\n"
	"     Permit any server (non-leader) to respond to this request. This\n"
	"     allows for lower latency and higher throughput, but can result in\n"
	"     stale data. The default value is false.\n";

static const char remove_usage[] =
	"Usage: conclave operator raft remove-peer [options]\n"
	"\n"
	"  Remove the server with given -address or -id from the Raft configuration.\n"
	"\n"
	"  There are rare cases where a peer may be left behind in the Raft quorum even\n"
	"  though the server is no longer present and known to the cluster. This\n"
	"  command can be used to remove the failed server so that it no longer\n"
	"  affects the Raft quorum. If the server still shows in the output of the\n"
	"  \"conclave members\" command, it is preferable to clean up by simply running\n"
	"  \"conclave force-leave\" instead of this command.\n"
	"\n" HTTP_OPTIONS
	"\n"
	"Command Options\n"
	"\n"
	"  -address=<value>\n"
	"     The address to remove from the Raft configuration.\n"
	"\n"
	"  -id=<value>\n"
	"     The ID to remove from the Raft configuration.\n";

static const char info_usage[] =
	"Usage: conclave info [options]\n"
	"\n"
	"  Provides debugging information for operators: the agent's stats, one\n"
	"  section per subsystem.\n"
	"\n" HTTP_OPTIONS;

static int is_help(const char *a)
{
	return strcmp(a, "-h") == 0 || strcmp(a, "-help") == 0 || strcmp(a, "--help") == 0;
}

/* mitchellh/cli: a command group run bare prints its help and exits 1. */
static int group_usage(int argc, char **argv, const char *usage)
{
	bool help = argc > 0 && is_help(argv[0]);
	fputs(usage, help ? stdout : stderr);
	return help ? 0 : 1;
}

static const char *str_of(const cJSON *o, const char *key, const char *dflt)
{
	const cJSON *v = cJSON_GetObjectItem(o, key);
	return cJSON_IsString(v) ? v->valuestring : dflt;
}

static int list_peers(int argc, char **argv)
{
	bool stale = false;
	const char *addr = NULL;
	const struct cc_cli_flag fl[] = {
		{ "stale", CC_CLI_BOOL, &stale },
		{ "http-addr", CC_CLI_STR, &addr },
	};
	int n = cc_cli_parse(argc, argv, fl, sizeof(fl) / sizeof(fl[0]), list_usage);
	if (n < 0)
		return n == -2 ? 0 : 1;
	char base[512], err[1024], msg[1200];
	struct cc_cli_body b = { 0 };
	int st = cc_cli_call("GET", cc_cli_http_addr(addr, base, sizeof(base)),
	                     stale ? "/v1/operator/raft/configuration?stale="
	                           : "/v1/operator/raft/configuration",
	                     NULL, 0, &b, err, sizeof(err));
	if (st != 200) {
		fprintf(stderr, "Error getting peers: Failed to retrieve raft configuration: %s\n",
		        cc_cli_error(st, &b, err, msg, sizeof(msg)));
		free(b.p);
		return 1;
	}
	cJSON *root = cJSON_Parse(b.p ? b.p : "");
	free(b.p);
	const cJSON *servers = cJSON_GetObjectItem(root, "Servers");
	int ns = cJSON_IsArray(servers) ? cJSON_GetArraySize(servers) : 0;
	if (!cJSON_IsObject(root)) {
		fprintf(stderr, "Error getting peers: Failed to retrieve raft configuration: "
		                "invalid JSON in the answer\n");
		cJSON_Delete(root);
		return 1;
	}
	enum { NCOL = 6 };
	const char **cell = calloc((size_t)(ns + 1) * NCOL, sizeof(*cell));
	if (!cell) {
		cJSON_Delete(root);
		fprintf(stderr, "Error getting peers: out of memory\n");
		return 1;
	}
	static const char *const hdr[NCOL] = { "Node", "ID", "Address", "State", "Voter",
		                               "RaftProtocol" };
	memcpy(cell, hdr, sizeof(hdr));
	int r = 1;
	for (const cJSON *s = servers ? servers->child : NULL; s; s = s->next, r++) {
		const char **row = cell + r * NCOL;
		const char *proto = str_of(s, "ProtocolVersion", "");
		row[0] = str_of(s, "Node", "");
		row[1] = str_of(s, "ID", "");
		row[2] = str_of(s, "Address", "");
		row[3] = cJSON_IsTrue(cJSON_GetObjectItem(s, "Leader")) ? "leader" : "follower";
		row[4] = cJSON_IsTrue(cJSON_GetObjectItem(s, "Voter")) ? "true" : "false";
		row[5] = proto[0] ? proto : "<=1";
	}
	cc_cli_columns(stdout, cell, (size_t)r, NCOL);
	free(cell);
	cJSON_Delete(root);
	return 0;
}

/* Go's %q for the plain strings a peer id or address is made of. */
static void go_quote(const char *s, char *out, size_t cap)
{
	size_t o = 0;
	if (cap < 3)
		return;
	out[o++] = '"';
	for (const unsigned char *p = (const unsigned char *)s; *p && o + 6 < cap; p++) {
		if (*p == '"' || *p == '\\')
			o += (size_t)snprintf(out + o, cap - o, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			o += (size_t)snprintf(out + o, cap - o, "\\x%02x", *p);
		else
			out[o++] = (char)*p;
	}
	out[o++] = '"';
	out[o] = '\0';
}

static int remove_peer(int argc, char **argv)
{
	const char *addr = NULL, *id = "", *peer = "";
	const struct cc_cli_flag fl[] = {
		{ "address", CC_CLI_STR, &peer },
		{ "id", CC_CLI_STR, &id },
		{ "http-addr", CC_CLI_STR, &addr },
	};
	int n = cc_cli_parse(argc, argv, fl, sizeof(fl) / sizeof(fl[0]), remove_usage);
	if (n < 0)
		return n == -2 ? 0 : 1;
	if (!peer[0] && !id[0]) {
		fprintf(stderr, "Error removing peer: an address or id is required for the peer to "
		                "remove\n");
		return 1;
	}
	if (peer[0] && id[0]) {
		fprintf(stderr, "Error removing peer: cannot give both an address and id\n");
		return 1;
	}
	char path[800], base[512], err[1024], msg[1200];
	char *esc = cc_cli_escape(peer[0] ? peer : id, false);
	if (!esc || strlen(esc) > 700) { /* a peer id or address is short */
		free(esc);
		fprintf(stderr, "Error removing peer: invalid %s\n", peer[0] ? "address" : "id");
		return 1;
	}
	snprintf(path, sizeof(path), "/v1/operator/raft/peer?%s=%s", peer[0] ? "address" : "id", esc);
	free(esc);
	struct cc_cli_body b = { 0 };
	int st = cc_cli_call("DELETE", cc_cli_http_addr(addr, base, sizeof(base)), path, NULL, 0, &b,
	                     err, sizeof(err));
	if (st != 200) {
		fprintf(stderr, "Error removing peer: %s\n",
		        cc_cli_error(st, &b, err, msg, sizeof(msg)));
		free(b.p);
		return 1;
	}
	free(b.p);
	char q[600];
	go_quote(peer[0] ? peer : id, q, sizeof(q));
	printf("Removed peer with %s %s\n", peer[0] ? "address" : "id", q);
	return 0;
}

int cc_cli_operator(int argc, char **argv)
{
	if (argc > 0 && strcmp(argv[0], "autopilot") == 0)
		return cc_cli_autopilot(argc - 1, argv + 1);
	if (argc == 0 || strcmp(argv[0], "raft") != 0)
		return group_usage(argc, argv, operator_usage);
	if (argc > 1 && strcmp(argv[1], "list-peers") == 0)
		return list_peers(argc - 2, argv + 2);
	if (argc > 1 && strcmp(argv[1], "remove-peer") == 0)
		return remove_peer(argc - 2, argv + 2);
	return group_usage(argc - 1, argv + 1, raft_usage);
}

static int by_key(const void *a, const void *b)
{
	return strcmp((*(const cJSON *const *)a)->string, (*(const cJSON *const *)b)->string);
}

/* The members of a JSON object, sorted by name (Go ranges over sorted keys). */
static const cJSON **sorted(const cJSON *o, int *n)
{
	*n = cJSON_GetArraySize(o);
	const cJSON **v = calloc((size_t)(*n > 0 ? *n : 1), sizeof(*v));
	int k = 0;
	for (const cJSON *e = o->child; v && e; e = e->next)
		if (e->string)
			v[k++] = e;
	*n = k;
	if (v)
		qsort(v, (size_t)k, sizeof(*v), by_key);
	return v;
}

int cc_cli_info(int argc, char **argv)
{
	const char *addr = NULL;
	const struct cc_cli_flag fl[] = { { "http-addr", CC_CLI_STR, &addr } };
	int n = cc_cli_parse(argc, argv, fl, 1, info_usage);
	if (n < 0)
		return n == -2 ? 0 : 1;
	char base[512], err[1024], msg[1200];
	struct cc_cli_body b = { 0 };
	int st = cc_cli_call("GET", cc_cli_http_addr(addr, base, sizeof(base)), "/v1/agent/self",
	                     NULL, 0, &b, err, sizeof(err));
	if (st != 200) {
		fprintf(stderr, "Error querying agent: %s\n", cc_cli_error(st, &b, err, msg, sizeof(msg)));
		free(b.p);
		return 1;
	}
	cJSON *self = cJSON_Parse(b.p ? b.p : "");
	free(b.p);
	const cJSON *stats = cJSON_GetObjectItem(self, "Stats");
	if (!cJSON_IsObject(stats)) {
		fprintf(stderr, "Agent response did not contain 'Stats' key\n");
		cJSON_Delete(self);
		return 1;
	}
	int ns;
	const cJSON **sec = sorted(stats, &ns);
	for (int i = 0; sec && i < ns; i++) {
		printf("%s:\n", sec[i]->string);
		int nk;
		const cJSON **kv = cJSON_IsObject(sec[i]) ? sorted(sec[i], &nk) : NULL;
		for (int k = 0; kv && k < nk; k++) {
			if (cJSON_IsString(kv[k])) {
				printf("\t%s = %s\n", kv[k]->string, kv[k]->valuestring);
			} else {
				char *j = cJSON_PrintUnformatted(kv[k]);
				printf("\t%s = %s\n", kv[k]->string, j ? j : "");
				free(j);
			}
		}
		free(kv);
	}
	free(sec);
	cJSON_Delete(self);
	return 0;
}
