#include "plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int plan_build(const struct topology *t, struct plan *p, char *err, size_t errlen)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->fabric_ns, sizeof(p->fabric_ns), "%s-fabric", t->name);
	p->node_ns = calloc(t->nnodes ? t->nnodes : 1, sizeof(*p->node_ns));
	p->bridges = calloc(t->nnetworks ? t->nnetworks : 1, sizeof(*p->bridges));
	size_t nveths = 0;
	for (size_t i = 0; i < t->nnodes; i++)
		nveths += t->nodes[i].nifaces;
	p->veths = calloc(nveths ? nveths : 1, sizeof(*p->veths));
	if (!p->node_ns || !p->bridges || !p->veths) {
		plan_free(p);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	int next = 2;
	for (size_t i = 0; i < t->nnetworks; i++) {
		snprintf(p->bridges[i].name, sizeof(p->bridges[i].name), "%s", t->networks[i].bridge);
		p->bridges[i].ifindex = next++;
	}
	p->nbridges = t->nnetworks;
	for (size_t i = 0; i < t->nnodes; i++) {
		const struct topo_node *n = &t->nodes[i];
		snprintf(p->node_ns[i], sizeof(p->node_ns[i]), "%s-%s", t->name, n->name);
		for (size_t k = 0; k < n->nifaces; k++) {
			struct plan_veth *v = &p->veths[p->nveths++];
			v->node = i;
			v->iface = k;
			if (n->nifaces == 1)
				snprintf(v->fabric_if, sizeof(v->fabric_if), "%s", n->name);
			else
				snprintf(v->fabric_if, sizeof(v->fabric_if), "%.12s.%zu", n->name, k);
			v->fabric_ifindex = next++;
			v->master_ifindex = p->bridges[n->ifaces[k].network].ifindex;
			snprintf(v->node_if, sizeof(v->node_if), "%s", n->ifaces[k].ifname);
			v->node_ifindex = 2 + (int)k;
		}
	}
	/* Cut names may collide; a plan with two equal interface names cannot work. */
	for (size_t a = 0; a < p->nveths; a++) {
		for (size_t b = a + 1; b < p->nveths; b++) {
			if (strcmp(p->veths[a].fabric_if, p->veths[b].fabric_if) == 0) {
				snprintf(err, errlen, "nodes \"%s\" and \"%s\" both need fabric interface "
				                      "\"%s\": shorten one name", t->nodes[p->veths[a].node].name,
				         t->nodes[p->veths[b].node].name, p->veths[a].fabric_if);
				plan_free(p);
				return -1;
			}
		}
		for (size_t b = 0; b < p->nbridges; b++) {
			if (strcmp(p->veths[a].fabric_if, p->bridges[b].name) == 0) {
				snprintf(err, errlen, "node \"%s\" is named like bridge \"%s\": rename it",
				         t->nodes[p->veths[a].node].name, p->bridges[b].name);
				plan_free(p);
				return -1;
			}
		}
	}
	return 0;
}

void plan_free(struct plan *p)
{
	free(p->node_ns);
	free(p->bridges);
	free(p->veths);
	memset(p, 0, sizeof(*p));
}

size_t plan_node_veths(const struct plan *p, size_t node, size_t *idx, size_t cap)
{
	size_t n = 0;
	for (size_t i = 0; i < p->nveths && n < cap; i++)
		if (p->veths[i].node == node)
			idx[n++] = i;
	return n;
}

char *plan_node_config(const struct topology *t, const struct topo_node *n,
                       const char *data_dir)
{
	/* The seed's key order; keys the topology does not set are left out. */
	static const char *const order[] = {
		"bootstrap_expect", "datacenter", "data_dir", "log_level", "server", "node_name", "ui",
		"bind_addr", "client_addr", "advertise_addr", "enable_script_checks", "retry_join",
		"retry_interval", "ports",
	};
	char ip[16];
	topo_ip_str(n->nifaces ? n->ifaces[0].addr : 0, ip);
	cJSON *merged = n->config ? cJSON_Duplicate(n->config, 1) : cJSON_CreateObject();
	if (!merged)
		return NULL;
	const char *set[][2] = { { "data_dir", data_dir }, { "node_name", n->name },
		                 { "bind_addr", ip },      { "client_addr", ip },
		                 { "advertise_addr", ip } };
	for (size_t i = 0; i < sizeof(set) / sizeof(set[0]); i++) {
		cJSON_DeleteItemFromObjectCaseSensitive(merged, set[i][0]);
		cJSON_AddStringToObject(merged, set[i][0], set[i][1]);
	}
	cJSON *out = cJSON_CreateObject();
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		cJSON *v = cJSON_DetachItemFromObjectCaseSensitive(merged, order[i]);
		if (v)
			cJSON_AddItemToObject(out, order[i], v);
	}
	while (merged->child) {
		cJSON *v = merged->child;
		char *key = strdup(v->string);
		cJSON_DetachItemViaPointer(merged, v);
		cJSON_AddItemToObject(out, key, v);
		free(key);
	}
	cJSON_Delete(merged);
	char *text = cJSON_Print(out);
	cJSON_Delete(out);
	return text;
}

static int push(char ***argv, size_t *n, const char *s)
{
	char **a = realloc(*argv, (*n + 2) * sizeof(*a));
	if (!a)
		return -1;
	*argv = a;
	if (!(a[*n] = strdup(s)))
		return -1;
	a[++*n] = NULL;
	return 0;
}

static int pushf(char ***argv, size_t *n, const char *fmt, const char *a, const char *b)
{
	char buf[1024];
	snprintf(buf, sizeof(buf), fmt, a, b);
	return push(argv, n, buf);
}

/* ${name}, ${address}, ${config}, ${data_dir} in a command word. */
static int substitute(char ***argv, size_t *n, const char *word, const struct topo_node *node,
                      const char *ip, const char *config_path, const char *data_dir)
{
	char buf[2048];
	size_t o = 0;
	for (const char *p = word; *p && o < sizeof(buf) - 1;) {
		const char *val = NULL;
		size_t skip = 0;
		if (strncmp(p, "${name}", 7) == 0)
			val = node->name, skip = 7;
		else if (strncmp(p, "${address}", 10) == 0)
			val = ip, skip = 10;
		else if (strncmp(p, "${config}", 9) == 0)
			val = config_path, skip = 9;
		else if (strncmp(p, "${data_dir}", 11) == 0)
			val = data_dir, skip = 11;
		if (val) {
			o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s", val);
			if (o >= sizeof(buf))
				o = sizeof(buf) - 1;
			p += skip;
		} else {
			buf[o++] = *p++;
		}
	}
	buf[o] = '\0';
	return push(argv, n, buf);
}

char **plan_node_argv(const struct topology *t, const struct topo_node *n,
                      const char *config_path, const char *data_dir)
{
	char **argv = NULL;
	size_t argc = 0;
	char ip[16];
	topo_ip_str(n->nifaces ? n->ifaces[0].addr : 0, ip);
	int rc = 0;
	const cJSON *joins = cJSON_GetObjectItemCaseSensitive(n->config, "retry_join");
	switch (n->kind) {
	case TOPO_KIND_CONCLAVE:
		rc |= push(&argv, &argc, "conclave");
		rc |= push(&argv, &argc, "agent");
		rc |= pushf(&argv, &argc, "-config-file=%s%s", config_path, "");
		break;
	case TOPO_KIND_SERF: {
		rc |= push(&argv, &argc, "serf");
		rc |= push(&argv, &argc, "agent");
		rc |= pushf(&argv, &argc, "-node=%s%s", n->name, "");
		rc |= pushf(&argv, &argc, "-bind=%s:%s", ip, "7946");
		rc |= pushf(&argv, &argc, "-rpc-addr=%s:%s", ip, "7373");
		const cJSON *j;
		cJSON_ArrayForEach(j, joins)
			if (cJSON_IsString(j))
				rc |= pushf(&argv, &argc, "-retry-join=%s%s", j->valuestring,
				            strchr(j->valuestring, ':') ? "" : ":7946");
		const cJSON *ri = cJSON_GetObjectItemCaseSensitive(n->config, "retry_interval");
		if (cJSON_IsString(ri))
			rc |= pushf(&argv, &argc, "-retry-interval=%s%s", ri->valuestring, "");
		const cJSON *key = cJSON_GetObjectItemCaseSensitive(n->config, "encrypt");
		if (cJSON_IsString(key))
			rc |= pushf(&argv, &argc, "-encrypt=%s%s", key->valuestring, "");
		break;
	}
	case TOPO_KIND_ETCD: {
		char cluster[8192] = "";
		size_t o = 0;
		for (size_t i = 0; i < t->nnodes; i++) {
			if (t->nodes[i].kind != TOPO_KIND_ETCD || !t->nodes[i].nifaces)
				continue;
			char pip[16];
			topo_ip_str(t->nodes[i].ifaces[0].addr, pip);
			o += (size_t)snprintf(cluster + o, sizeof(cluster) - o, "%s%s=http://%s:2380",
			                      o ? "," : "", t->nodes[i].name, pip);
			if (o >= sizeof(cluster))
				break;
		}
		rc |= push(&argv, &argc, "etcd");
		rc |= pushf(&argv, &argc, "--name=%s%s", n->name, "");
		rc |= pushf(&argv, &argc, "--data-dir=%s%s", data_dir, "");
		rc |= pushf(&argv, &argc, "--listen-peer-urls=http://%s:%s", ip, "2380");
		rc |= pushf(&argv, &argc, "--initial-advertise-peer-urls=http://%s:%s", ip, "2380");
		rc |= pushf(&argv, &argc, "--listen-client-urls=http://%s:%s", ip, "2379");
		rc |= pushf(&argv, &argc, "--advertise-client-urls=http://%s:%s", ip, "2379");
		rc |= pushf(&argv, &argc, "--initial-cluster=%s%s", cluster, "");
		rc |= push(&argv, &argc, "--initial-cluster-state=new");
		rc |= pushf(&argv, &argc, "--initial-cluster-token=%s%s", t->name, "");
		break;
	}
	case TOPO_KIND_COMMAND:
		for (size_t i = 0; i < n->ncommand; i++)
			rc |= substitute(&argv, &argc, n->command[i], n, ip, config_path, data_dir);
		break;
	}
	if (rc || !argv) {
		plan_argv_free(argv);
		return NULL;
	}
	return argv;
}

void plan_argv_free(char **argv)
{
	for (size_t i = 0; argv && argv[i]; i++)
		free(argv[i]);
	free(argv);
}

int plan_node_http_port(const struct topo_node *n)
{
	if (n->kind == TOPO_KIND_ETCD)
		return 2379;
	if (n->kind != TOPO_KIND_CONCLAVE)
		return -1;
	const cJSON *ports = cJSON_GetObjectItemCaseSensitive(n->config, "ports");
	const cJSON *http = cJSON_GetObjectItemCaseSensitive(ports, "http");
	return cJSON_IsNumber(http) ? (int)http->valuedouble : 8500;
}
