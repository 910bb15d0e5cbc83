/* `conclave members|join|leave|force-leave`: clients of the local agent's HTTP
 * API, with Consul's output and exit codes (reference §8.2). */
#include <regex.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"

static const char *tag_of(const cJSON *m, const char *key)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItem(m, "Tags"), key);
	return cJSON_IsString(t) ? t->valuestring : "";
}

static const char *status_name(int s)
{
	static const char *const n[] = { "none", "alive", "leaving", "left", "failed" };
	return s >= 0 && s <= 4 ? n[s] : "unknown";
}

static int by_name(const void *a, const void *b)
{
	const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
	return strcmp(cJSON_GetObjectItem(x, "Name")->valuestring,
	              cJSON_GetObjectItem(y, "Name")->valuestring);
}

static int tag_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int cc_cli_members(int argc, char **argv)
{
	char base[512], err[1024];
	const char *addr = cc_cli_take_http_addr(&argc, argv);
	int detailed = 0, wan = 0;
	const char *status_re = NULL;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "-detailed") == 0)
			detailed = 1;
		else if (strcmp(argv[i], "-wan") == 0)
			wan = 1;
		else if (strncmp(argv[i], "-status=", 8) == 0)
			status_re = argv[i] + 8;
		else {
			fprintf(stderr, "Usage: conclave members [-detailed] [-wan] [-status=REGEX] "
			                "[-http-addr=ADDR]\n");
			return 1;
		}
	}
	regex_t re;
	if (status_re && regcomp(&re, status_re, REG_EXTENDED | REG_NOSUB)) {
		fprintf(stderr, "Failed to compile status regexp %s\n", status_re);
		return 1;
	}
	struct cc_cli_body b = { 0 };
	int st = cc_cli_call("GET", cc_cli_http_addr(addr, base, sizeof(base)),
	                     wan ? "/v1/agent/members?wan=1" : "/v1/agent/members", NULL, 0, &b, err,
	                     sizeof(err));
	if (st != 200) {
		if (st < 0)
			fprintf(stderr, "Error retrieving members: %s\n", err);
		else
			fprintf(stderr, "Error retrieving members: Unexpected response code: %d (%s)\n", st,
			        b.p ? b.p : "");
		free(b.p);
		if (status_re)
			regfree(&re);
		return 1;
	}
	cJSON *arr = cJSON_Parse(b.p ? b.p : "");
	free(b.p);
	int n = cJSON_GetArraySize(arr);
	const cJSON **m = calloc((size_t)(n > 0 ? n : 1), sizeof(*m));
	int k = 0;
	for (const cJSON *e = arr ? arr->child : NULL; e; e = e->next) {
		const cJSON *s = cJSON_GetObjectItem(e, "Status");
		if (!cJSON_IsString(cJSON_GetObjectItem(e, "Name")) || !cJSON_IsNumber(s))
			continue;
		if (status_re && regexec(&re, status_name((int)s->valuedouble), 0, NULL, 0))
			continue;
		m[k++] = e;
	}
	qsort(m, (size_t)k, sizeof(*m), by_name);
	/* column widths: Consul aligns with two spaces */
	const char *hdr_full[] = { "Node", "Address", "Status", "Type", "Build", "Protocol", "DC",
		                   "Segment" };
	const char *hdr_det[] = { "Node", "Address", "Status", "Tags" };
	int ncol = detailed ? 4 : 8;
	char (*cell)[8][512] = calloc((size_t)k + 1, sizeof(*cell));
	if (!cell) {
		fprintf(stderr, "Error retrieving members: out of memory\n");
		free(m);
		cJSON_Delete(arr);
		if (status_re)
			regfree(&re);
		return 1;
	}
	for (int c = 0; c < ncol; c++)
		snprintf(cell[0][c], sizeof(cell[0][c]), "%s", detailed ? hdr_det[c] : hdr_full[c]);
	for (int i = 0; i < k; i++) {
		const cJSON *e = m[i];
		char (*row)[512] = cell[i + 1];
		snprintf(row[0], 512, "%s", cJSON_GetObjectItem(e, "Name")->valuestring);
		const cJSON *a = cJSON_GetObjectItem(e, "Addr"), *p = cJSON_GetObjectItem(e, "Port");
		snprintf(row[1], 512, "%s:%d", cJSON_IsString(a) ? a->valuestring : "",
		         cJSON_IsNumber(p) ? (int)p->valuedouble : 0);
		snprintf(row[2], 512, "%s",
		         status_name((int)cJSON_GetObjectItem(e, "Status")->valuedouble));
		if (detailed) {
			const char *keys[64];
			int nk = 0;
			const cJSON *tags = cJSON_GetObjectItem(e, "Tags");
			for (const cJSON *t = tags ? tags->child : NULL; t && nk < 64; t = t->next)
				keys[nk++] = t->string;
			qsort(keys, (size_t)nk, sizeof(keys[0]), tag_cmp);
			size_t o = 0;
			for (int t = 0; t < nk && o < 512; t++)
				o += (size_t)snprintf(row[3] + o, 512 - o, "%s%s=%s", t ? "," : "", keys[t],
				                      tag_of(e, keys[t]));
			continue;
		}
		bool server = strcmp(tag_of(e, "role"), "consul") == 0;
		snprintf(row[3], 512, "%s", server ? "server" : "client");
		char build[128];
		snprintf(build, sizeof(build), "%s", tag_of(e, "build"));
		char *colon = strchr(build, ':');
		if (colon)
			*colon = '\0';
		snprintf(row[4], 512, "%s", build);
		snprintf(row[5], 512, "%s", tag_of(e, "vsn"));
		snprintf(row[6], 512, "%s", tag_of(e, "dc"));
		snprintf(row[7], 512, "%s", server ? "<all>" : "<default>");
	}
	const char **flat = calloc(((size_t)k + 1) * (size_t)ncol, sizeof(*flat));
	for (int i = 0; flat && i <= k; i++)
		for (int c = 0; c < ncol; c++)
			flat[i * ncol + c] = cell[i][c];
	if (flat)
		cc_cli_columns(stdout, flat, (size_t)k + 1, (size_t)ncol);
	free(flat);
	free(cell);
	free(m);
	cJSON_Delete(arr);
	if (status_re)
		regfree(&re);
	return k == 0 ? 2 : 0; /* Consul: no member matched -> 2 */
}

int cc_cli_join(int argc, char **argv)
{
	char base[512], err[1024];
	const char *addr = cc_cli_take_http_addr(&argc, argv);
	int wan = 0, w = 0;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "-wan") == 0)
			wan = 1;
		else
			argv[w++] = argv[i];
	}
	if (w == 0) {
		fprintf(stderr, "At least one address to join must be specified.\n");
		return 1;
	}
	int joined = 0;
	for (int i = 0; i < w; i++) {
		char path[512];
		snprintf(path, sizeof(path), "/v1/agent/join/%s%s", argv[i], wan ? "?wan=1" : "");
		struct cc_cli_body b = { 0 };
		int st = cc_cli_call("PUT", cc_cli_http_addr(addr, base, sizeof(base)), path, NULL, 0,
		                     &b, err, sizeof(err));
		if (st == 200)
			joined++;
		else
			fprintf(stderr, "Error joining address '%s': %s\n", argv[i],
			        st < 0 ? err : (b.p ? b.p : "unexpected response"));
		free(b.p);
	}
	if (joined == 0) {
		fprintf(stderr, "Failed to join any nodes.\n");
		return 1;
	}
	printf("Successfully joined cluster by contacting %d nodes.\n", joined);
	return 0;
}

int cc_cli_leave(int argc, char **argv)
{
	char base[512], err[1024];
	const char *addr = cc_cli_take_http_addr(&argc, argv);
	struct cc_cli_body b = { 0 };
	int st = cc_cli_call("PUT", cc_cli_http_addr(addr, base, sizeof(base)), "/v1/agent/leave",
	                     NULL, 0, &b, err, sizeof(err));
	if (st != 200) {
		fprintf(stderr, "Error leaving: %s\n", st < 0 ? err : (b.p ? b.p : "unexpected response"));
		free(b.p);
		return 1;
	}
	free(b.p);
	printf("Graceful leave complete\n");
	return 0;
}

int cc_cli_force_leave(int argc, char **argv)
{
	char base[512], err[1024];
	const char *addr = cc_cli_take_http_addr(&argc, argv);
	if (argc != 1) {
		fprintf(stderr, "A node name must be specified to force leave.\n");
		return 1;
	}
	char path[512];
	snprintf(path, sizeof(path), "/v1/agent/force-leave/%s", argv[0]);
	struct cc_cli_body b = { 0 };
	int st = cc_cli_call("PUT", cc_cli_http_addr(addr, base, sizeof(base)), path, NULL, 0, &b, err,
	                     sizeof(err));
	if (st != 200) {
		fprintf(stderr, "Error force leaving: %s\n",
		        st < 0 ? err : (b.p ? b.p : "unexpected response"));
		free(b.p);
		return 1;
	}
	free(b.p);
	return 0;
}
