/* `conclave operator autopilot get-config|set-config|state`: the autopilot
 * configuration and the leader's health view through the HTTP API, with
 * `consul operator autopilot`'s output, messages and exit codes (reference
 * §8.2, §5.6). set-config reads the configuration, changes what its flags
 * name and writes it back with check-and-set, as Consul's does. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "config/config.h"

#define HTTP_OPTIONS \
	"HTTP API Options\n" \
	"\n" \
	"  -http-addr=<address>\n" \
	"     The address and port of the Conclave HTTP agent. Can also be\n" \
	"     specified via CONCLAVE_HTTP_ADDR or CONSUL_HTTP_ADDR. The default is\n" \
	"     127.0.0.1:8500.\n"

#define CONFIG_PATH "/v1/operator/autopilot/configuration"

static const char autopilot_usage[] =
	"Usage: conclave operator autopilot <subcommand> [options]\n"
	"\n"
	"  The Autopilot operator command is used to interact with Conclave's\n"
	"  Autopilot subsystem. The command can be used to view or modify the current\n"
	"  configuration, or to see the health of the servers as the leader sees it.\n"
	"\n"
	"Subcommands:\n"
	"    get-config    Display the current Autopilot configuration\n"
	"    set-config    Modify the current Autopilot configuration\n"
	"    state         Display the health of the servers as the leader sees it\n";

static const char get_usage[] =
	"Usage: conclave operator autopilot get-config [options]\n"
	"\n"
	"  Displays the current Autopilot configuration.\n"
	"\n" HTTP_OPTIONS
	"\n"
	"  -stale\n"
	"     Permit any server (non-leader) to respond to this request. The\n"
	"     default value is false.\n";

static const char set_usage[] =
	"Usage: conclave operator autopilot set-config [options]\n"
	"\n"
	"  Modifies the current Autopilot configuration: only what a flag names\n"
	"  changes. The configuration is replicated through Raft. The health view\n"
	"  (\"state\", /v1/operator/autopilot/health) uses -last-contact-threshold\n"
	"  and -max-trailing-logs; the other values are stored and shown, while\n"
	"  Conclave's dead-server cleanup and promotion of new servers keep their\n"
	"  own rules (see the README).\n"
	"\n" HTTP_OPTIONS
	"\n"
	"Command Options\n"
	"\n"
	"  -cleanup-dead-servers=<true|false>\n"
	"     Whether dead servers are removed automatically when new ones are\n"
	"     added.\n"
	"\n"
	"  -disable-upgrade-migration=<true|false>\n"
	"     (Enterprise-only in Consul) Stored and shown only.\n"
	"\n"
	"  -last-contact-threshold=<duration>\n"
	"     How long a server may go without contact from the leader before it\n"
	"     is considered unhealthy, such as 200ms.\n"
	"\n"
	"  -max-trailing-logs=<uint>\n"
	"     How many log entries a server may trail the leader by before it is\n"
	"     considered unhealthy.\n"
	"\n"
	"  -min-quorum=<uint>\n"
	"     The minimum number of servers before dead servers may be pruned.\n"
	"\n"
	"  -redundancy-zone-tag=<string>\n"
	"     (Enterprise-only in Consul) Stored and shown only.\n"
	"\n"
	"  -server-stabilization-time=<duration>\n"
	"     How long a new server must be healthy before it is promoted to voter,\n"
	"     such as 10s.\n"
	"\n"
	"  -upgrade-version-tag=<string>\n"
	"     (Enterprise-only in Consul) Stored and shown only.\n";

static const char state_usage[] =
	"Usage: conclave operator autopilot state [options]\n"
	"\n"
	"  Displays the health of every Raft server as the leader sees it (the\n"
	"  answer of /v1/operator/autopilot/health): whether the cluster is healthy,\n"
	"  how many servers it can lose and keep a quorum, and per server its gossip\n"
	"  status, last contact with the leader and how far its log is.\n"
	"\n" HTTP_OPTIONS;

static int is_help(const char *a)
{
	return strcmp(a, "-h") == 0 || strcmp(a, "-help") == 0 || strcmp(a, "--help") == 0;
}

static const char *str_of(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItem(o, key);
	return cJSON_IsString(v) ? v->valuestring : "";
}

static double num_of(const cJSON *o, const char *key)
{
	double d = cJSON_GetNumberValue(cJSON_GetObjectItem(o, key));
	return d == d ? d : 0; /* NaN when missing */
}

/* Go's %q for a tag (printable ASCII kept, the rest escaped). */
static void print_quoted(const char *name, const char *s)
{
	printf("%s = \"", name);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20 || *p >= 0x7f)
			printf("\\x%02x", *p);
		else
			putchar(*p);
	}
	printf("\"\n");
}

/* GET the configuration; NULL after printing the error. */
static cJSON *get_config(const char *addr, bool stale)
{
	char base[512], err[1024], msg[1200];
	struct cc_cli_body b = { 0 };
	int st = cc_cli_call("GET", cc_cli_http_addr(addr, base, sizeof(base)),
	                     stale ? CONFIG_PATH "?stale=" : CONFIG_PATH, NULL, 0, &b, err,
	                     sizeof(err));
	cJSON *j = st == 200 ? cJSON_Parse(b.p ? b.p : "") : NULL;
	if (st == 200 && !cJSON_IsObject(j))
		snprintf(msg, sizeof(msg), "invalid JSON in the answer");
	else if (st != 200)
		cc_cli_error(st, &b, err, msg, sizeof(msg));
	free(b.p);
	if (!cJSON_IsObject(j)) {
		fprintf(stderr, "Error querying Autopilot configuration: %s\n", msg);
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}

static int get_cmd(int argc, char **argv)
{
	bool stale = false;
	const char *addr = NULL;
	const struct cc_cli_flag fl[] = {
		{ "stale", CC_CLI_BOOL, &stale },
		{ "http-addr", CC_CLI_STR, &addr },
	};
	int n = cc_cli_parse(argc, argv, fl, sizeof(fl) / sizeof(fl[0]), get_usage);
	if (n < 0)
		return n == -2 ? 0 : 1;
	cJSON *j = get_config(addr, stale);
	if (!j)
		return 1;
	printf("CleanupDeadServers = %s\n",
	       cJSON_IsTrue(cJSON_GetObjectItem(j, "CleanupDeadServers")) ? "true" : "false");
	printf("LastContactThreshold = %s\n", str_of(j, "LastContactThreshold"));
	printf("MaxTrailingLogs = %.0f\n", num_of(j, "MaxTrailingLogs"));
	printf("MinQuorum = %.0f\n", num_of(j, "MinQuorum"));
	printf("ServerStabilizationTime = %s\n", str_of(j, "ServerStabilizationTime"));
	print_quoted("RedundancyZoneTag", str_of(j, "RedundancyZoneTag"));
	printf("DisableUpgradeMigration = %s\n",
	       cJSON_IsTrue(cJSON_GetObjectItem(j, "DisableUpgradeMigration")) ? "true" : "false");
	print_quoted("UpgradeVersionTag", str_of(j, "UpgradeVersionTag"));
	cJSON_Delete(j);
	return 0;
}

/* Replaces (or adds) key in o. */
static void set_item(cJSON *o, const char *key, cJSON *v)
{
	if (cJSON_GetObjectItem(o, key))
		cJSON_ReplaceItemInObject(o, key, v);
	else
		cJSON_AddItemToObject(o, key, v);
}

/* A duration flag's value checked with Go's grammar: 0, or -1 after printing
 * the error (as Go's flag package words a bad value) and the usage. */
static int check_duration(const char *flag, const char *v)
{
	int64_t ns;
	const char *why;
	if (!v || (cc_duration_parse(v, &ns, &why) == 0 && ns >= 0))
		return 0;
	fprintf(stderr, "invalid value \"%s\" for flag -%s: %s\n\n%s", v, flag,
	        cc_duration_parse(v, &ns, &why) == 0 ? "must not be negative" : why, set_usage);
	return -1;
}

static int set_cmd(int argc, char **argv)
{
	int cleanup = -1, no_migration = -1;
	uint64_t trailing = UINT64_MAX, quorum = UINT64_MAX;   /* UINT64_MAX: not given */
	const char *lct = NULL, *sst = NULL, *zone = NULL, *upgrade = NULL, *addr = NULL;
	const struct cc_cli_flag fl[] = {
		{ "cleanup-dead-servers", CC_CLI_OPTBOOL, &cleanup },
		{ "disable-upgrade-migration", CC_CLI_OPTBOOL, &no_migration },
		{ "last-contact-threshold", CC_CLI_STR, &lct },
		{ "max-trailing-logs", CC_CLI_U64, &trailing },
		{ "min-quorum", CC_CLI_U64, &quorum },
		{ "redundancy-zone-tag", CC_CLI_STR, &zone },
		{ "server-stabilization-time", CC_CLI_STR, &sst },
		{ "upgrade-version-tag", CC_CLI_STR, &upgrade },
		{ "http-addr", CC_CLI_STR, &addr },
	};
	int n = cc_cli_parse(argc, argv, fl, sizeof(fl) / sizeof(fl[0]), set_usage);
	if (n < 0)
		return n == -2 ? 0 : 1;
	if (n < argc) {
		fprintf(stderr, "Too many arguments (expected 0, got %d)\n", argc - n);
		return 1;
	}
	if (check_duration("last-contact-threshold", lct) ||
	    check_duration("server-stabilization-time", sst))
		return 1;
	cJSON *j = get_config(addr, false);
	if (!j)
		return 1;
	if (cleanup >= 0)
		set_item(j, "CleanupDeadServers", cJSON_CreateBool(cleanup));
	if (no_migration >= 0)
		set_item(j, "DisableUpgradeMigration", cJSON_CreateBool(no_migration));
	if (lct)
		set_item(j, "LastContactThreshold", cJSON_CreateString(lct));
	if (sst)
		set_item(j, "ServerStabilizationTime", cJSON_CreateString(sst));
	if (trailing != UINT64_MAX)
		set_item(j, "MaxTrailingLogs", cJSON_CreateNumber((double)trailing));
	if (quorum != UINT64_MAX)
		set_item(j, "MinQuorum", cJSON_CreateNumber((double)quorum));
	if (zone)
		set_item(j, "RedundancyZoneTag", cJSON_CreateString(zone));
	if (upgrade)
		set_item(j, "UpgradeVersionTag", cJSON_CreateString(upgrade));
	char path[96], base[512], err[1024], msg[1200];
	snprintf(path, sizeof(path), CONFIG_PATH "?cas=%.0f", num_of(j, "ModifyIndex"));
	char *body = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	struct cc_cli_body b = { 0 };
	int st = body ? cc_cli_call("PUT", cc_cli_http_addr(addr, base, sizeof(base)), path, body,
	                            strlen(body), &b, err, sizeof(err))
	              : -1;
	if (!body)
		snprintf(err, sizeof(err), "out of memory");
	free(body);
	int rc = 0;
	if (st != 200) {
		fprintf(stderr, "Error setting Autopilot configuration: %s\n",
		        cc_cli_error(st, &b, err, msg, sizeof(msg)));
		rc = 1;
	} else if (b.p && strncmp(b.p, "true", 4) == 0) {
		printf("Configuration updated!\n");
	} else {
		printf("Configuration could not be atomically updated, please try again\n");
		rc = 1;
	}
	free(b.p);
	return rc;
}

static int state_cmd(int argc, char **argv)
{
	const char *addr = NULL;
	const struct cc_cli_flag fl[] = { { "http-addr", CC_CLI_STR, &addr } };
	int n = cc_cli_parse(argc, argv, fl, 1, state_usage);
	if (n < 0)
		return n == -2 ? 0 : 1;
	char base[512], err[1024], msg[1200];
	struct cc_cli_body b = { 0 };
	int st = cc_cli_call("GET", cc_cli_http_addr(addr, base, sizeof(base)),
	                     "/v1/operator/autopilot/health", NULL, 0, &b, err, sizeof(err));
	/* 429 carries the same answer: the cluster is not healthy */
	cJSON *j = st == 200 || st == 429 ? cJSON_Parse(b.p ? b.p : "") : NULL;
	const cJSON *servers = cJSON_GetObjectItem(j, "Servers");
	if (!cJSON_IsArray(servers)) {
		fprintf(stderr, "Error querying Autopilot state: %s\n",
		        st == 200 || st == 429 ? "invalid JSON in the answer"
		                               : cc_cli_error(st, &b, err, msg, sizeof(msg)));
		free(b.p);
		cJSON_Delete(j);
		return 1;
	}
	free(b.p);
	printf("Healthy: %s\n", cJSON_IsTrue(cJSON_GetObjectItem(j, "Healthy")) ? "true" : "false");
	printf("Failure tolerance: %.0f\n\n", num_of(j, "FailureTolerance"));
	enum { NCOL = 11 };
	int ns = cJSON_GetArraySize(servers);
	const char **cell = calloc((size_t)(ns + 1) * NCOL, sizeof(*cell));
	char (*nums)[3][24] = calloc((size_t)ns + 1, sizeof(*nums));
	if (!cell || !nums) {
		free(cell);
		free(nums);
		cJSON_Delete(j);
		fprintf(stderr, "Error querying Autopilot state: out of memory\n");
		return 1;
	}
	static const char *const hdr[NCOL] = { "Node", "ID", "Address", "State", "Voter",
		                               "Healthy", "SerfStatus", "LastContact", "LastTerm",
		                               "LastIndex", "StableSince" };
	memcpy(cell, hdr, sizeof(hdr));
	int r = 1;
	for (const cJSON *s = servers->child; s; s = s->next, r++) {
		const char **row = cell + r * NCOL;
		snprintf(nums[r][0], sizeof(nums[r][0]), "%.0f", num_of(s, "LastTerm"));
		snprintf(nums[r][1], sizeof(nums[r][1]), "%.0f", num_of(s, "LastIndex"));
		row[0] = str_of(s, "Name")[0] ? str_of(s, "Name") : "(unknown)";
		row[1] = str_of(s, "ID");
		row[2] = str_of(s, "Address");
		row[3] = cJSON_IsTrue(cJSON_GetObjectItem(s, "Leader")) ? "leader" : "follower";
		row[4] = cJSON_IsTrue(cJSON_GetObjectItem(s, "Voter")) ? "true" : "false";
		row[5] = cJSON_IsTrue(cJSON_GetObjectItem(s, "Healthy")) ? "true" : "false";
		row[6] = str_of(s, "SerfStatus");
		row[7] = str_of(s, "LastContact");
		row[8] = nums[r][0];
		row[9] = nums[r][1];
		row[10] = str_of(s, "StableSince");
	}
	cc_cli_columns(stdout, cell, (size_t)r, NCOL);
	free(cell);
	free(nums);
	cJSON_Delete(j);
	return 0;
}

int cc_cli_autopilot(int argc, char **argv)
{
	if (argc > 0 && strcmp(argv[0], "get-config") == 0)
		return get_cmd(argc - 1, argv + 1);
	if (argc > 0 && strcmp(argv[0], "set-config") == 0)
		return set_cmd(argc - 1, argv + 1);
	if (argc > 0 && strcmp(argv[0], "state") == 0)
		return state_cmd(argc - 1, argv + 1);
	/* mitchellh/cli: a command group run bare prints its help and exits 1 */
	bool help = argc > 0 && is_help(argv[0]);
	fputs(autopilot_usage, help ? stdout : stderr);
	return help ? 0 : 1;
}
