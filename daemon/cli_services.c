/* `conclave services register|deregister`: the local agent's services
 * through PUT /v1/agent/service/register and /v1/agent/service/deregister/ID,
 * from flags or from service definition files, with `consul services`'
 * messages and exit codes. A file is read the way the agent reads its config
 * (`service` or `services`, snake_case keys, the same checks and errors) and
 * sent in the API's form (ID, Name, Tags, Address, Port, Meta, Checks, ...). */
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

static const char services_usage[] =
	"Usage: conclave services <subcommand> [options] [args]\n"
	"\n"
	"  This command has subcommands for interacting with services. The\n"
	"  subcommands default to working with services registered with the local\n"
	"  agent.\n"
	"\n"
	"  Register a service from a file or from flags:\n"
	"\n"
	"      $ conclave services register web.json\n"
	"      $ conclave services register -name=web -port=8080 -tag=v1\n"
	"\n"
	"  Deregister it:\n"
	"\n"
	"      $ conclave services deregister -id=web\n"
	"\n"
	"Subcommands:\n"
	"    deregister    Deregister services with the local agent\n"
	"    register      Register services with the local agent\n";

static const char register_usage[] =
	"Usage: conclave services register [options] [FILE...]\n"
	"\n"
	"  Register one or more services using the local agent API. Services can\n"
	"  be registered from service definition files (JSON, with \"service\" or\n"
	"  \"services\" as in the agent's config) or using flags; flags fill in what\n"
	"  a file leaves out (tags and meta are added). The caller must remember to\n"
	"  call \"conclave services deregister\" when the service is gone.\n"
	"\n"
	"      $ conclave services register web.json\n"
	"\n" HTTP_OPTIONS
	"\n"
	"Command Options\n"
	"\n"
	"  -address=<string>\n"
	"     Address of the service to register for arg-based registration.\n"
	"\n"
	"  -id=<string>\n"
	"     ID of the service to register for arg-based registration. If this\n"
	"     isn't set, it will default to the -name value.\n"
	"\n"
	"  -meta=<key=value>\n"
	"     Metadata to set on the service, formatted as key=value. This flag\n"
	"     may be specified multiple times to set multiple meta fields.\n"
	"\n"
	"  -name=<string>\n"
	"     Name of the service to register for arg-based registration.\n"
	"\n"
	"  -port=<int>\n"
	"     Port of the service to register for arg-based registration.\n"
	"\n"
	"  -tag=<value>\n"
	"     Tag to add to the service. This flag can be specified multiple\n"
	"     times to set multiple tags.\n";

static const char deregister_usage[] =
	"Usage: conclave services deregister [options] [FILE...]\n"
	"\n"
	"  Deregister one or more services that were previously registered with\n"
	"  the local agent.\n"
	"\n"
	"      $ conclave services deregister web.json db.json\n"
	"\n"
	"  The -id flag may be used to deregister a single service by ID:\n"
	"\n"
	"      $ conclave services deregister -id=web\n"
	"\n"
	"  Services are deregistered from the local agent catalog. This command must\n"
	"  be run against the same agent where the service was registered.\n"
	"\n" HTTP_OPTIONS
	"\n"
	"Command Options\n"
	"\n"
	"  -id=<string>\n"
	"     ID to delete. This must not be set if arguments are given.\n";

/* Go's %q for the plain strings a service name is made of. */
static void go_quote(const char *s, char *out, size_t cap)
{
	size_t o = 0;
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

static void add_str(cJSON *o, const char *key, const char *v)
{
	if (v && v[0])   /* the API client omits empty fields */
		cJSON_AddStringToObject(o, key, v);
}

struct reg_flags {
	const char *id, *name, *address;
	uint64_t port;
	struct cc_cli_list tags, meta;
};

/* A service in the API's AgentServiceRegistration form: the definition's
 * fields (def may be NULL), what the flags add (Consul's CombineArgs: a flag
 * fills a field the file leaves empty; tags and meta are added). */
static cJSON *service_json(const struct cc_service_def *def, const struct reg_flags *f)
{
	cJSON *o = cJSON_CreateObject();
	add_str(o, "ID", def && def->id ? def->id : f->id);
	add_str(o, "Name", def && def->name ? def->name : f->name);
	cJSON *tags = cJSON_CreateArray();
	for (size_t i = 0; def && i < def->tags.n; i++)
		cJSON_AddItemToArray(tags, cJSON_CreateString(def->tags.v[i]));
	for (size_t i = 0; i < f->tags.n; i++)
		cJSON_AddItemToArray(tags, cJSON_CreateString(f->tags.v[i]));
	if (tags->child)
		cJSON_AddItemToObject(o, "Tags", tags);
	else
		cJSON_Delete(tags);
	add_str(o, "Address", def && def->address ? def->address : f->address);
	uint64_t port = def && def->port ? (uint64_t)def->port : f->port;
	if (port)
		cJSON_AddNumberToObject(o, "Port", (double)port);
	cJSON *meta = cJSON_CreateObject();
	for (size_t i = 0; def && i < def->nmeta; i++) {
		cJSON_DeleteItemFromObjectCaseSensitive(meta, def->meta[i].key);
		cJSON_AddStringToObject(meta, def->meta[i].key, def->meta[i].value);
	}
	for (size_t i = 0; i < f->meta.n; i++) {
		const char *kv = f->meta.v[i], *eq = strchr(kv, '=');
		char *key = strndup(kv, (size_t)(eq - kv));
		if (key) {
			cJSON_DeleteItemFromObjectCaseSensitive(meta, key);
			cJSON_AddStringToObject(meta, key, eq + 1);
		}
		free(key);
	}
	if (meta->child)
		cJSON_AddItemToObject(o, "Meta", meta);
	else
		cJSON_Delete(meta);
	if (def && def->enable_tag_override)
		cJSON_AddTrueToObject(o, "EnableTagOverride");
	if (def && def->nchecks) {
		cJSON *checks = cJSON_AddArrayToObject(o, "Checks");
		for (size_t i = 0; i < def->nchecks; i++)
			cJSON_AddItemToArray(checks, cc_check_def_json(&def->checks[i]));
	}
	return o;
}

/* Loads the service definitions of files into one config (the caller frees
 * it); NULL after printing the error. */
static struct cc_config *load_files(int n, char **files)
{
	struct cc_config *c = cc_config_new();
	if (!c) {
		fprintf(stderr, "Error: out of memory\n");
		return NULL;
	}
	for (int i = 0; i < n; i++) {
		struct cc_config_err err;
		size_t before = c->nservices;
		if (cc_config_load_file(c, files[i], &err)) {
			fprintf(stderr, "Error: %s\n", err.msg);
			cc_config_free(c);
			return NULL;
		}
		if (c->nservices == before) {
			fprintf(stderr, "Error: %s: no service definition (%s)\n", files[i],
			        "\"service\" or \"services\"");
			cc_config_free(c);
			return NULL;
		}
	}
	for (size_t i = 0; i < c->warnings.n; i++)   /* unknown keys, as the agent warns */
		fprintf(stderr, "%s\n", c->warnings.v[i]);
	return c;
}

/* One PUT; 0, or -1 with msg set in Consul's API client wording. */
static int put(const char *base, const char *path, const char *body, char *msg, size_t cap)
{
	char err[1024];
	struct cc_cli_body b = { 0 };
	int st = cc_cli_call("PUT", base, path, body, body ? strlen(body) : 0, &b, err, sizeof(err));
	if (st != 200)
		cc_cli_error(st, &b, err, msg, cap);
	free(b.p);
	return st == 200 ? 0 : -1;
}

static int register_cmd(int argc, char **argv)
{
	struct reg_flags f = { .id = "", .name = "", .address = "" };
	const char *addr = NULL;
	const struct cc_cli_flag fl[] = {
		{ "id", CC_CLI_STR, &f.id },           { "name", CC_CLI_STR, &f.name },
		{ "address", CC_CLI_STR, &f.address }, { "port", CC_CLI_U64, &f.port },
		{ "tag", CC_CLI_LIST, &f.tags },       { "meta", CC_CLI_LIST, &f.meta },
		{ "http-addr", CC_CLI_STR, &addr },
	};
	int n = cc_cli_parse(argc, argv, fl, sizeof(fl) / sizeof(fl[0]), register_usage);
	int rc = n < 0 ? (n == -2 ? 0 : 1) : -1;
	for (size_t i = 0; rc < 0 && i < f.meta.n; i++) {
		if (!strchr(f.meta.v[i], '=')) {
			fprintf(stderr, "invalid value \"%s\" for flag -meta: Missing \"=\" value in "
			                "argument: %s\n\n%s", f.meta.v[i], f.meta.v[i], register_usage);
			rc = 1;
		}
	}
	if (rc < 0 && f.port > 65535) {
		fprintf(stderr, "invalid value \"%" PRIu64 "\" for flag -port: out of range\n\n%s",
		        f.port, register_usage);
		rc = 1;
	}
	if (rc < 0 && n == argc && !f.name[0]) {
		fprintf(stderr, "Service registration requires at least one argument or flags.\n");
		rc = 1;
	}
	struct cc_config *c = rc < 0 && n < argc ? load_files(argc - n, argv + n) : NULL;
	if (rc < 0 && n < argc && !c)
		rc = 1;
	char base[512];
	cc_cli_http_addr(addr, base, sizeof(base));
	size_t count = c ? c->nservices : 1;
	for (size_t i = 0; rc < 0 && i < count; i++) {
		const struct cc_service_def *def = c ? &c->services[i] : NULL;
		cJSON *o = service_json(def, &f);
		char *body = cJSON_PrintUnformatted(o);
		const cJSON *nm = cJSON_GetObjectItem(o, "Name");
		char name[300], msg[1200];
		go_quote(cJSON_IsString(nm) ? nm->valuestring : "", name, sizeof(name));
		if (!body) {
			snprintf(msg, sizeof(msg), "out of memory");
		}
		if (!body || put(base, "/v1/agent/service/register", body, msg, sizeof(msg))) {
			fprintf(stderr, "Error registering service %s: %s\n", name, msg);
			rc = 1;
		} else {
			printf("Registered service: %s\n", cJSON_IsString(nm) ? nm->valuestring : "");
		}
		free(body);
		cJSON_Delete(o);
	}
	cc_config_free(c);
	free(f.tags.v);
	free(f.meta.v);
	return rc < 0 ? 0 : rc;
}

static int deregister_cmd(int argc, char **argv)
{
	const char *id = "", *addr = NULL;
	const struct cc_cli_flag fl[] = {
		{ "id", CC_CLI_STR, &id },
		{ "http-addr", CC_CLI_STR, &addr },
	};
	int n = cc_cli_parse(argc, argv, fl, sizeof(fl) / sizeof(fl[0]), deregister_usage);
	if (n < 0)
		return n == -2 ? 0 : 1;
	if (n == argc && !id[0]) {
		fprintf(stderr, "Service deregistration requires at least one argument or -id.\n");
		return 1;
	}
	if (n < argc && id[0]) {
		fprintf(stderr, "Service deregistration requires arguments or -id, not both.\n");
		return 1;
	}
	struct cc_config *c = n < argc ? load_files(argc - n, argv + n) : NULL;
	if (n < argc && !c)
		return 1;
	char base[512];
	cc_cli_http_addr(addr, base, sizeof(base));
	size_t count = c ? c->nservices : 1;
	int rc = 0;
	for (size_t i = 0; !rc && i < count; i++) {
		const struct cc_service_def *def = c ? &c->services[i] : NULL;
		const char *sid = def ? (def->id ? def->id : def->name) : id;
		if (!sid || !sid[0])
			continue;
		char *esc = cc_cli_escape(sid, false);
		size_t plen = (esc ? strlen(esc) : 0) + 40;
		char *path = esc ? malloc(plen) : NULL;
		char msg[1200], q[300];
		if (path)
			snprintf(path, plen, "/v1/agent/service/deregister/%s", esc);
		else
			snprintf(msg, sizeof(msg), "out of memory");
		if (!path || put(base, path, NULL, msg, sizeof(msg))) {
			go_quote(sid, q, sizeof(q));
			fprintf(stderr, "Error deregistering service %s: %s\n", q, msg);
			rc = 1;
		} else {
			printf("Deregistered service: %s\n", sid);
		}
		free(esc);
		free(path);
	}
	cc_config_free(c);
	return rc;
}

int cc_cli_services(int argc, char **argv)
{
	if (argc > 0 && strcmp(argv[0], "register") == 0)
		return register_cmd(argc - 1, argv + 1);
	if (argc > 0 && strcmp(argv[0], "deregister") == 0)
		return deregister_cmd(argc - 1, argv + 1);
	bool help = argc > 0 && (strcmp(argv[0], "-h") == 0 || strcmp(argv[0], "-help") == 0 ||
	                         strcmp(argv[0], "--help") == 0);
	/* mitchellh/cli: a command group run bare prints its help and exits 1 */
	fputs(services_usage, help ? stdout : stderr);
	return help ? 0 : 1;
}
