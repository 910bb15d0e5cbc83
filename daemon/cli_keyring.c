/* `conclave keyring`: Consul's keyring command over /v1/operator/keyring
 * (-list, -list-primary, -install KEY, -use KEY, -remove KEY), with its
 * output: one block per pool, "  KEY [installed/nodes]". */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/random.h>

#include "cli.h"
#include "gossip/wire.h"

static const char usage[] =
	"Usage: conclave keyring [options]\n"
	"\n"
	"  Manages encryption keys used for gossip messages. Gossip encryption is\n"
	"  optional. When enabled, this command may be used to examine active encryption\n"
	"  keys in the cluster, add new keys, and remove old ones. When combined, this\n"
	"  functionality provides the ability to perform key rotation cluster-wide,\n"
	"  without disrupting the cluster.\n"
	"\n"
	"  All operations performed by this command can only be run against server nodes.\n"
	"\n"
	"Options:\n"
	"\n"
	"  -http-addr=<address>  The agent's HTTP API (default: CONCLAVE_HTTP_ADDR,\n"
	"                        CONSUL_HTTP_ADDR, 127.0.0.1:8500).\n"
	"  -install=<key>        Install a new encryption key.\n"
	"  -list                 List all keys currently in use within the cluster.\n"
	"  -list-primary         List all primary keys currently in use within the cluster.\n"
	"  -local-only           Only query the local datacenter's servers (-list only).\n"
	"  -relay-factor=<n>     Relay each answer through n other nodes (0-5).\n"
	"  -remove=<key>         Remove the given key from the cluster.\n"
	"  -use=<key>            Change the primary encryption key.\n";

static void print_pools(const cJSON *arr, bool primary)
{
	const cJSON *r;
	cJSON_ArrayForEach(r, arr) {
		const cJSON *wan = cJSON_GetObjectItemCaseSensitive(r, "WAN");
		const cJSON *dc = cJSON_GetObjectItemCaseSensitive(r, "Datacenter");
		const cJSON *n = cJSON_GetObjectItemCaseSensitive(r, "NumNodes");
		const cJSON *keys = cJSON_GetObjectItemCaseSensitive(r, primary ? "PrimaryKeys" : "Keys");
		const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(r, "Messages");
		if (cJSON_IsTrue(wan))
			printf("\nWAN:\n");
		else
			printf("\n%s (LAN):\n", cJSON_IsString(dc) ? dc->valuestring : "");
		const cJSON *e;
		cJSON_ArrayForEach(e, msgs) {
			if (cJSON_IsString(e))
				printf("  %s: %s\n", e->string, e->valuestring);
		}
		cJSON_ArrayForEach(e, keys) {
			printf("  %s [%d/%d]\n", e->string, (int)cJSON_GetNumberValue(e),
			       (int)cJSON_GetNumberValue(n));
		}
	}
}

int cc_cli_keyring(int argc, char **argv)
{
	bool list = false, list_primary = false, local_only = false;
	const char *install = NULL, *use = NULL, *remove = NULL, *addr = NULL;
	uint64_t relay = 0;
	const struct cc_cli_flag flags[] = {
		{ "http-addr", CC_CLI_STR, &addr },
		{ "install", CC_CLI_STR, &install },
		{ "list", CC_CLI_BOOL, &list },
		{ "list-primary", CC_CLI_BOOL, &list_primary },
		{ "local-only", CC_CLI_BOOL, &local_only },
		{ "relay-factor", CC_CLI_U64, &relay },
		{ "remove", CC_CLI_STR, &remove },
		{ "use", CC_CLI_STR, &use },
	};
	int used = cc_cli_parse(argc, argv, flags, sizeof(flags) / sizeof(flags[0]), usage);
	if (used < 0)
		return used == -2 ? 0 : 1;
	int ops = list + list_primary + (install != NULL) + (use != NULL) + (remove != NULL);
	if (ops != 1) {
		fprintf(stderr, "Only a single action is allowed\n");
		return 1;
	}
	if (relay > 5) {
		fprintf(stderr, "Error parsing relay factor: Relay factor must be in range: [0, 5]\n");
		return 1;
	}
	if (local_only && !list && !list_primary) {
		fprintf(stderr, "Cannot use -local-only with other options\n");
		return 1;
	}
	const char *method = "GET", *key = NULL, *banner;
	if (install) {
		method = "POST", key = install, banner = "==> Installing new gossip encryption key...";
	} else if (use) {
		method = "PUT", key = use, banner = "==> Changing primary gossip encryption key...";
	} else if (remove) {
		method = "DELETE", key = remove, banner = "==> Removing gossip encryption key...";
	} else {
		banner = list ? "==> Gathering installed encryption keys..."
		              : "==> Gathering installed primary encryption keys...";
	}
	char path[96], base[512], err[1024], body[256] = "";
	snprintf(path, sizeof(path), "/v1/operator/keyring?relay-factor=%u%s", (unsigned)relay,
	         local_only ? "&local-only=1" : "");
	if (key) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "Key", key);
		char *t = cJSON_PrintUnformatted(o);
		snprintf(body, sizeof(body), "%s", t ? t : "");
		free(t);
		cJSON_Delete(o);
	}
	printf("%s\n", banner);
	fflush(stdout);
	struct cc_cli_body b = { 0 };
	int st = cc_cli_call(method, cc_cli_http_addr(addr, base, sizeof(base)), path, body,
	                     strlen(body), &b, err, sizeof(err));
	int rc = 0;
	if (st != 200) {
		char msg[2048];
		fprintf(stderr, "error: %s\n", cc_cli_error(st, &b, err, msg, sizeof(msg)));
		rc = 1;
	} else if (!key) {
		cJSON *arr = cJSON_Parse(b.p ? b.p : "");
		if (!cJSON_IsArray(arr)) {
			fprintf(stderr, "error: the agent's answer is not a JSON array\n");
			rc = 1;
		} else {
			print_pools(arr, list_primary);
		}
		cJSON_Delete(arr);
	}
	free(b.p);
	return rc;
}

/* `conclave keygen`: a new gossip key, as `consul keygen` prints it (32
 * random bytes in base64, for `encrypt` or `keyring -install`). */
int cc_cli_keygen(int argc, char **argv)
{
	if (argc > 0) {
		fprintf(stderr, "This command takes no arguments.\n\nUsage: conclave keygen\n\n"
		                "  Generates a new encryption key that can be used to configure the\n"
		                "  agent to encrypt traffic. The output of this command is already\n"
		                "  in the proper format that the agent expects.\n");
		return argc == 1 && (strcmp(argv[0], "-h") == 0 || strcmp(argv[0], "-help") == 0 ||
		                     strcmp(argv[0], "--help") == 0)
		               ? 0
		               : 1;
	}
	uint8_t key[32];
	size_t got = 0;
	while (got < sizeof(key)) {
		ssize_t n = getrandom(key + got, sizeof(key) - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "Error reading random data: %s\n", strerror(errno));
			return 1;
		}
		got += (size_t)n;
	}
	char b64[48];
	gw_base64_encode(b64, key, sizeof(key));
	printf("%s\n", b64);
	return 0;
}
