/* `conclave validate FILE|DIR...`: load and validate like the agent, start nothing. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "config/config.h"

static const char usage[] =
	"Usage: conclave validate [options] FILE_OR_DIRECTORY...\n"
	"\n"
	"  Performs a thorough sanity test on Conclave configuration files. For each\n"
	"  file or directory given, the configuration is loaded and validated exactly as\n"
	"  `conclave agent` would, without starting anything.\n"
	"\n"
	"  Returns 0 if the configuration is valid, 1 if there are problems.\n"
	"\n"
	"Options:\n"
	"  -quiet    When given, a successful run produces no output.\n";

int cc_cli_validate(int argc, char **argv)
{
	int quiet = 0, nfiles = 0;
	struct cc_config *c = cc_config_new();
	struct cc_config_err err;
	if (!c) {
		fprintf(stderr, "Config validation failed: out of memory\n");
		return 1;
	}
	int rc = 0;
	for (int i = 0; i < argc && rc == 0; i++) {
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "-help") == 0 ||
		    strcmp(argv[i], "--help") == 0) {
			fputs(usage, stdout);
			cc_config_free(c);
			return 0;
		}
		if (strcmp(argv[i], "-quiet") == 0 || strcmp(argv[i], "--quiet") == 0) {
			quiet = 1;
			continue;
		}
		nfiles++;
		rc = cc_config_load_file(c, argv[i], &err);
	}
	if (rc == 0 && nfiles == 0) {
		fprintf(stderr, "Must specify at least one config file or directory\n\n%s", usage);
		cc_config_free(c);
		return 1;
	}
	if (rc == 0)
		rc = cc_config_finalize(c, &err);
	for (size_t i = 0; i < c->warnings.n; i++)
		fprintf(stderr, "%s\n", c->warnings.v[i]);
	if (rc) {
		fprintf(stderr, "Config validation failed: %s\n", err.msg);
		cc_config_free(c);
		return 1;
	}
	const char *dns = cc_config_node_name_dns_warning(c->node_name);
	if (dns)
		fprintf(stderr, "%s: node_name=%s\n", dns, c->node_name);
	if (!quiet)
		printf("Configuration is valid!\n");
	cc_config_free(c);
	return 0;
}
