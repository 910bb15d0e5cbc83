/* `conclave monitor [-log-level=info] [-log-json]`: the agent's log lines as
 * they are written (GET /v1/agent/monitor), until interrupted (exit 0) or
 * until the agent goes away (Consul's message, exit 1). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const char usage[] =
	"Usage: conclave monitor [options]\n"
	"\n"
	"  Shows recent log messages of a Conclave agent, and attaches to the agent,\n"
	"  outputting log messages as they occur in real time. The monitor lets you\n"
	"  listen for log levels that may be filtered out of the Conclave agent. For\n"
	"  example your agent may only be logging at INFO level, but with the monitor\n"
	"  you can see the DEBUG level logs.\n"
	"\n"
	"HTTP API Options:\n"
	"\n"
	"  -http-addr=<address>\n"
	"     The address of the Conclave agent (default $CONCLAVE_HTTP_ADDR, else\n"
	"     $CONSUL_HTTP_ADDR, else 127.0.0.1:8500).\n"
	"\n"
	"Command Options:\n"
	"\n"
	"  -log-level=<string>\n"
	"     Log level of the agent. Defaults to \"info\".\n"
	"\n"
	"  -log-json\n"
	"     Output logs in JSON format.\n";

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

static int print_data(void *ud, const char *p, size_t n)
{
	(void)ud;
	if (fwrite(p, 1, n, stdout) != n || fflush(stdout) != 0)
		return 1; /* stdout is gone (a closed pipe): stop */
	return 0;
}

int cc_cli_monitor(int argc, char **argv)
{
	const char *addr = NULL, *level = "info";
	bool json = false;
	const struct cc_cli_flag fl[] = {
		{ "http-addr", CC_CLI_STR, &addr },
		{ "log-level", CC_CLI_STR, &level },
		{ "log-json", CC_CLI_BOOL, &json },
	};
	int n = cc_cli_parse(argc, argv, fl, sizeof(fl) / sizeof(fl[0]), usage);
	if (n < 0)
		return n == -2 ? 0 : 1;
	if (n < argc) {
		fprintf(stderr, "This command takes no arguments\n\n%s", usage);
		return 1;
	}
	char *lvl = cc_cli_escape(level, false);
	if (!lvl) {
		fprintf(stderr, "out of memory\n");
		return 1;
	}
	char path[256];
	snprintf(path, sizeof(path), "/v1/agent/monitor?loglevel=%s%s", lvl, json ? "&logjson" : "");
	free(lvl);

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal; /* no SA_RESTART: poll wakes up */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	char base[512], err[1024], msg[1200];
	struct cc_cli_body b = { 0 };
	int st = cc_cli_stream(cc_cli_http_addr(addr, base, sizeof(base)), path, print_data, NULL,
	                       &interrupted, &b, err, sizeof(err));
	if (interrupted) {
		free(b.p);
		return 0;
	}
	if (st != 200) {
		fprintf(stderr, "Error starting monitor: %s\n", cc_cli_error(st, &b, err, msg,
		                                                             sizeof(msg)));
		free(b.p);
		return 1;
	}
	free(b.p);
	if (ferror(stdout))
		return 1;
	fprintf(stderr, "Remote side ended the monitor! This usually means that the\n"
	                "remote side has exited or crashed.\n");
	return 1;
}
