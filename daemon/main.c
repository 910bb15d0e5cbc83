/* `conclave`: the agent and its command-line front door. */
#include <malloc.h>
#include <stdio.h>
#include <string.h>

#include "agent/agent.h"
#include "cli.h"
#include "config/config.h"

static const char usage[] =
	"Usage: conclave [--version] [--help] <command> [<args>]\n"
	"\n"
	"Available commands are:\n"
	"    agent        Runs a Conclave agent\n"
	"    catalog      Interact with the catalog\n"
	"    event        Fire a new event\n"
	"    force-leave  Forces a member of the cluster to enter the \"left\" state\n"
	"    info         Provides debugging information for operators.\n"
	"    join         Tell Conclave agent to join cluster\n"
	"    keygen       Generates a new encryption key\n"
	"    keyring      Manages gossip layer encryption keys\n"
	"    kv           Interact with the key-value store\n"
	"    leave        Gracefully leaves the cluster and shuts down\n"
	"    members      Lists the members of a Conclave cluster\n"
	"    monitor      Stream logs from a Conclave agent\n"
	"    operator     Provides cluster-level tools for Conclave operators\n"
	"    services     Interact with services\n"
	"    validate     Validate config files/directories\n"
	"    version      Prints the Conclave version\n"
	"\n"
	"All commands but agent, validate and version talk to the agent's HTTP API:\n"
	"-http-addr=ADDR, else $CONCLAVE_HTTP_ADDR, else $CONSUL_HTTP_ADDR, else\n"
	"127.0.0.1:8500.\n";

static const char agent_usage_head[] =
	"Usage: conclave agent [options]\n"
	"\n"
	"  Starts the Conclave agent and runs until an interrupt is received. The\n"
	"  agent represents a single node in a cluster. Configuration comes from JSON\n"
	"  files (-config-file, -config-dir, applied in the order given) and then from\n"
	"  the flags below, which override the files.\n"
	"\n"
	"Options:\n"
	"\n";

static int is_help(const char *a)
{
	return strcmp(a, "-h") == 0 || strcmp(a, "-help") == 0 || strcmp(a, "--help") == 0;
}

static int cmd_version(void)
{
	printf("Conclave v%s\nRevision %s\n", CONCLAVE_VERSION, CONCLAVE_REVISION);
	return 0;
}

static int cmd_agent(int argc, char **argv)
{
	for (int i = 0; i < argc; i++) {
		if (is_help(argv[i])) {
			printf("%s%s", agent_usage_head, cc_config_flags_help());
			return 0;
		}
	}
	/* Pin glibc's mmap threshold at its 128 KiB default. Left dynamic, the
	 * first large block freed (the config reader's 4 MiB buffer) raises it
	 * to that block's size and the trim threshold to twice that, so every
	 * later big allocation (gossip and server state, LMDB's lists, transient
	 * request and reconcile buffers) is carved from the brk heap instead:
	 * calloc then has to zero recycled pages and nothing is given back to
	 * the kernel. Fixed, big blocks come as fresh zero pages, only the ones
	 * touched are resident, and free() returns them at once. */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	struct cc_config *c = cc_config_new();
	if (!c) {
		fprintf(stderr, "==> out of memory\n");
		return 1;
	}
	struct cc_config_err err;
	int rc = cc_config_apply_flags(c, argc, argv, &err);
	if (rc == 0)
		rc = cc_config_finalize(c, &err);
	/* Consul prints config warnings unprefixed on stderr, before the banner. */
	for (size_t i = 0; i < c->warnings.n; i++)
		fprintf(stderr, "%s\n", c->warnings.v[i]);
	if (rc) {
		fprintf(stderr, "==> %s\n", err.msg);
		cc_config_free(c);
		return 1;
	}
	rc = cc_agent_run(c, argc, argv);
	cc_config_free(c);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc < 2 || is_help(argv[1]) || strcmp(argv[1], "help") == 0) {
		fputs(usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? 127 : 0;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0 ||
	    strcmp(cmd, "-v") == 0 || strcmp(cmd, "-version") == 0)
		return cmd_version();
	if (strcmp(cmd, "agent") == 0)
		return cmd_agent(argc - 2, argv + 2);
	if (strcmp(cmd, "validate") == 0)
		return cc_cli_validate(argc - 2, argv + 2);
	if (strcmp(cmd, "members") == 0)
		return cc_cli_members(argc - 2, argv + 2);
	if (strcmp(cmd, "join") == 0)
		return cc_cli_join(argc - 2, argv + 2);
	if (strcmp(cmd, "leave") == 0)
		return cc_cli_leave(argc - 2, argv + 2);
	if (strcmp(cmd, "force-leave") == 0)
		return cc_cli_force_leave(argc - 2, argv + 2);
	if (strcmp(cmd, "catalog") == 0)
		return cc_cli_catalog(argc - 2, argv + 2);
	if (strcmp(cmd, "kv") == 0)
		return cc_cli_kv(argc - 2, argv + 2);
	if (strcmp(cmd, "keyring") == 0)
		return cc_cli_keyring(argc - 2, argv + 2);
	if (strcmp(cmd, "keygen") == 0)
		return cc_cli_keygen(argc - 2, argv + 2);
	if (strcmp(cmd, "event") == 0)
		return cc_cli_event(argc - 2, argv + 2);
	if (strcmp(cmd, "operator") == 0)
		return cc_cli_operator(argc - 2, argv + 2);
	if (strcmp(cmd, "info") == 0)
		return cc_cli_info(argc - 2, argv + 2);
	if (strcmp(cmd, "monitor") == 0)
		return cc_cli_monitor(argc - 2, argv + 2);
	if (strcmp(cmd, "services") == 0)
		return cc_cli_services(argc - 2, argv + 2);
	fprintf(stderr, "conclave: unknown command \"%s\"\n\n%s", cmd, usage);
	return 127;
}
