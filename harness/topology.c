/* Loads a topology file: YAML read with libyaml's document API (so every node
 * knows its line and column), checked against the format in docs/topology.md
 * and turned into a struct topology. The whole file is refused at the first
 * problem, with the place, the node and the key it is about; nothing outside
 * the returned structure is touched. This file is the format; the YAML values
 * under it (scalar types, tags, conversion to JSON) are topology_yaml.c's. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yaml.h>

#include "topology.h"
#include "topology_internal.h"

#define TOPO_MAX_FILE_BYTES (4u << 20)
#define TOPO_NAME_LEN 20           /* a topology's name prefixes namespace names */
#define TOPO_NET_NAME_LEN 12       /* "br-" + 12 = 15, the longest interface name */

/* What defaults: gives every node. */
struct defaults {
	enum topo_kind kind;
	cJSON *config;          /* NULL when there is none */
	size_t config_values;
	char **command;         /* NULL-terminated; NULL when there is none */
	size_t ncommand;
};

struct field {
	const char *key;
	yaml_node_t *k, *v;     /* NULL when the key is absent */
};

static const char *const kind_names[] = {
	[TOPO_KIND_CONCLAVE] = "conclave",
	[TOPO_KIND_SERF] = "serf",
	[TOPO_KIND_ETCD] = "etcd",
	[TOPO_KIND_COMMAND] = "command",
};
#define NKINDS (sizeof(kind_names) / sizeof(kind_names[0]))

/* ---- messages ---------------------------------------------------------- */

int topo__fail(struct ld *l, const yaml_node_t *at, const char *fmt, ...)
{
	char msg[TOPO_ERR_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!l->err || !l->errlen)
		return -1;
	if (at)
		snprintf(l->err, l->errlen, "%s:%zu:%zu: %s%s", l->file, at->start_mark.line + 1,
		         at->start_mark.column + 1, l->where, msg);
	else
		snprintf(l->err, l->errlen, "%s: %s%s", l->file, l->where, msg);
	return -1;
}

int topo__oom(struct ld *l)
{
	return topo__fail(l, NULL, "out of memory");
}

/* "a, b, c and d" */
static void list_words(const char *const *w, size_t n, char *out, size_t cap)
{
	size_t len = 0;
	out[0] = '\0';
	for (size_t i = 0; i < n && len < cap; i++) {
		const char *sep = i == 0 ? "" : i + 1 == n ? " and " : ", ";
		int k = snprintf(out + len, cap - len, "%s%s", sep, w[i]);
		if (k < 0)
			break;
		len += (size_t)k;
	}
}

static size_t edit_distance(const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b);
	size_t row[33];
	if (na > 32 || nb > 32)
		return (size_t)-1;
	for (size_t j = 0; j <= nb; j++)
		row[j] = j;
	for (size_t i = 1; i <= na; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= nb; j++) {
			size_t up = row[j];
			size_t best = diag + (a[i - 1] != b[j - 1]);
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[nb];
}

/* The closest word within two edits, as " (did you mean \"x\"?)", or "". */
static void suggest(const char *word, const char *const *w, size_t n, char *out, size_t cap)
{
	size_t best = 3;
	const char *pick = NULL;
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		size_t d = edit_distance(word, w[i]);
		if (d < best && d < strlen(w[i])) {
			best = d;
			pick = w[i];
		}
	}
	if (pick)
		snprintf(out, cap, " (did you mean \"%s\"?)", pick);
}

static int type_error(struct ld *l, const yaml_node_t *n, const char *what, const char *expected)
{
	char got[96];
	topo__describe(l, n, got, sizeof(got));
	return topo__fail(l, n, "%s: expected %s, got %s", what, expected, got);
}

/* An item of networks or nodes that is not a mapping. */
static int not_a_mapping(struct ld *l, const yaml_node_t *n, const char *keys)
{
	char got[96];
	topo__describe(l, n, got, sizeof(got));
	return topo__fail(l, n, "expected a mapping with %s, got %s", keys, got);
}

/* Copies s for a message, its first 40 bytes, control characters as \xNN. */
static void show(const char *s, char *out, size_t cap)
{
	size_t o = 0, i;
	for (i = 0; s[i] && i < 40 && o + 5 < cap; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			o += (size_t)snprintf(out + o, cap - o, "\\x%02X", c);
		else
			out[o++] = (char)c;
	}
	snprintf(out + o, cap - o, "%s", s[i] ? "..." : "");
}

/* ---- mappings of the format -------------------------------------------- */

/* A string-valued key of the format: any scalar but null, taken as written. */
static int get_string(struct ld *l, const yaml_node_t *n, const char *what, const char **out)
{
	if (n->type != YAML_SCALAR_NODE || topo__plain_null(l, n))
		return type_error(l, n, what, "a string");
	if (strlen(text(n)) != n->data.scalar.length)
		return topo__fail(l, n, "%s: a NUL character (\\0) is not allowed", what);
	*out = text(n);
	return 0;
}

/* Reads a mapping of the format into fields: unknown and repeated keys are
 * errors. what prefixes messages ("top level", "defaults", or "" in a node). */
static int read_fields(struct ld *l, yaml_node_t *map, const char *what, struct field *f,
                       size_t nf)
{
	const char *names[8];
	for (size_t i = 0; i < nf && i < 8; i++)
		names[i] = f[i].key;
	const char *sep = *what ? ": " : "";
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = nd(l, p->key), *v = nd(l, p->value);
		if (k->type != YAML_SCALAR_NODE) {
			char got[96];
			topo__describe(l, k, got, sizeof(got));
			return topo__fail(l, k, "%s%skeys must be scalars, got %s", what, sep, got);
		}
		if (strlen(text(k)) != k->data.scalar.length)
			return topo__fail(l, k, "%s%sa NUL character (\\0) is not allowed in a key", what, sep);
		size_t i = 0;
		while (i < nf && strcmp(f[i].key, text(k)) != 0)
			i++;
		if (i == nf) {
			char allowed[128], hint[64];
			list_words(names, nf, allowed, sizeof(allowed));
			suggest(text(k), names, nf, hint, sizeof(hint));
			return topo__fail(l, k, "%s%sunknown key \"%.64s\"%s; allowed keys are %s", what, sep,
			                  text(k), hint, allowed);
		}
		if (f[i].k)
			return topo__fail(l, k, "%s%sduplicate key \"%s\" (first at %zu:%zu)", what, sep,
			                  f[i].key, f[i].k->start_mark.line + 1, f[i].k->start_mark.column + 1);
		f[i].k = k;
		f[i].v = v;
	}
	return 0;
}

/* The value of key in a mapping, or NULL; for labels, before it is checked. */
static yaml_node_t *peek(struct ld *l, yaml_node_t *map, const char *key)
{
	if (map->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = nd(l, p->key);
		if (k->type == YAML_SCALAR_NODE && strcmp(text(k), key) == 0)
			return nd(l, p->value);
	}
	return NULL;
}

/* ---- config: YAML to JSON ---------------------------------------------- */

/* What each node's copy of defaults.config takes from the value budget. */
static size_t json_count(const cJSON *j)
{
	size_t n = 1;
	for (const cJSON *c = j->child; c; c = c->next)
		n += json_count(c);
	return n;
}

/* A config: mapping as a JSON object. what is "config" or "defaults.config". */
static cJSON *read_config(struct ld *l, yaml_node_t *n, const char *what)
{
	if (n->type != YAML_MAPPING_NODE) {
		type_error(l, n, what, "a mapping");
		return NULL;
	}
	return topo__to_json(l, n, what);
}

/* ---- the parts of the format ------------------------------------------- */

static void free_argv(char **argv)
{
	if (!argv)
		return;
	for (char **a = argv; *a; a++)
		free(*a);
	free(argv);
}

static char **copy_argv(char *const *argv, size_t n)
{
	char **out = calloc(n + 1, sizeof(*out));
	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (!(out[i] = strdup(argv[i]))) {
			free_argv(out);
			return NULL;
		}
	}
	return out;
}

static int read_kind(struct ld *l, yaml_node_t *n, const char *what, enum topo_kind *out)
{
	const char *s = NULL;
	if (get_string(l, n, what, &s))
		return -1;
	for (size_t i = 0; i < NKINDS; i++) {
		if (strcmp(s, kind_names[i]) == 0) {
			*out = (enum topo_kind)i;
			return 0;
		}
	}
	char hint[64];
	suggest(s, kind_names, NKINDS, hint, sizeof(hint));
	return topo__fail(l, n, "%s: unknown kind \"%.40s\"%s; kinds are conclave, serf, etcd and "
	                        "command", what, s, hint);
}

static int read_command(struct ld *l, yaml_node_t *n, const char *what, char ***argv, size_t *argc)
{
	if (n->type != YAML_SEQUENCE_NODE)
		return type_error(l, n, what, "a sequence of strings such as [sleep, infinity]");
	size_t len = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	if (len == 0)
		return topo__fail(l, n, "%s: must not be empty: it is the program and its arguments", what);
	if (topo__spend(l, n, len))
		return -1;
	char **a = calloc(len + 1, sizeof(*a));
	if (!a)
		return topo__oom(l);
	for (size_t i = 0; i < len; i++) {
		yaml_node_t *w = nd(l, n->data.sequence.items.start[i]);
		char item[64];
		snprintf(item, sizeof(item), "%s: item #%zu", what, i + 1);
		const char *s = NULL;
		if (get_string(l, w, item, &s)) {
			free_argv(a);
			return -1;
		}
		if (i == 0 && !*s) {
			free_argv(a);
			return topo__fail(l, w, "%s: the program (item #1) must not be empty", what);
		}
		if (!(a[i] = strdup(s))) {
			free_argv(a);
			return topo__oom(l);
		}
	}
	*argv = a;
	*argc = len;
	return 0;
}

/* Four decimal octets, no leading zeros. Returns the end, or NULL. */
static const char *parse_ipv4(const char *s, uint32_t *out)
{
	uint32_t a = 0;
	for (int i = 0; i < 4; i++) {
		if (i && *s++ != '.')
			return NULL;
		if (!(*s >= '0' && *s <= '9'))
			return NULL;
		unsigned v = 0;
		int digits = 0;
		while (*s >= '0' && *s <= '9' && digits < 4) {
			v = v * 10 + (unsigned)(*s++ - '0');
			digits++;
		}
		if (digits > 3 || v > 255 || (digits > 1 && s[-digits] == '0'))
			return NULL;
		a = a << 8 | v;
	}
	*out = a;
	return s;
}

static uint32_t prefix_mask(int prefix)
{
	return prefix ? ~(uint32_t)0 << (32 - prefix) : 0;
}

/* 0 when name can name a network; 1 empty, 2 too long, 3 bad characters. */
static int net_name_problem(const char *name)
{
	size_t len = strlen(name);
	if (!len)
		return 1;
	if (len > TOPO_NET_NAME_LEN)
		return 2;
	if (name[0] == '_' || name[0] == '-' ||
	    strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_-") != len)
		return 3;
	return 0;
}

static int read_network(struct ld *l, yaml_node_t *n, size_t idx)
{
	struct topology *t = l->t;
	struct topo_network *net = &t->networks[idx];
	char buf[16], buf2[16];

	yaml_node_t *pn = peek(l, n, "name");
	if (pn && pn->type == YAML_SCALAR_NODE && !net_name_problem(text(pn)))
		snprintf(l->where, sizeof(l->where), "network \"%s\": ", text(pn));
	else
		snprintf(l->where, sizeof(l->where), "network #%zu: ", idx + 1);

	if (n->type != YAML_MAPPING_NODE)
		return not_a_mapping(l, n, "name and subnet");
	struct field f[] = { { "name", NULL, NULL }, { "subnet", NULL, NULL } };
	if (read_fields(l, n, "", f, 2))
		return -1;

	const char *name = NULL;
	if (!f[0].v)
		return topo__fail(l, n, "\"name\" is required (such as name: lan)");
	if (get_string(l, f[0].v, "name", &name))
		return -1;
	size_t len = strlen(name);
	int bad = net_name_problem(name);
	if (bad == 1)
		return topo__fail(l, f[0].v, "name must not be empty");
	if (bad == 2)
		return topo__fail(l, f[0].v, "name \"%.40s\" is %zu characters, more than %d: the bridge "
		                             "\"br-<name>\" must fit in 15", name, len, TOPO_NET_NAME_LEN);
	if (bad)
		return topo__fail(l, f[0].v, "name \"%s\" must match ^[a-z0-9][a-z0-9_-]*$ (lower-case "
		                             "letters, digits, '_' and '-')", name);
	for (size_t i = 0; i < idx; i++)
		if (strcmp(t->networks[i].name, name) == 0)
			return topo__fail(l, f[0].v, "name \"%s\" is already the name of network #%zu (line "
			                             "%d)", name, i + 1, l->net_line[i]);
	memcpy(net->name, name, len + 1);
	snprintf(net->bridge, sizeof(net->bridge), "br-%s", name);

	const char *sub = NULL;
	if (!f[1].v)
		return topo__fail(l, n, "\"subnet\" is required (an IPv4 subnet such as 51.6.196.0/24)");
	if (get_string(l, f[1].v, "subnet", &sub))
		return -1;
	uint32_t a;
	const char *e = parse_ipv4(sub, &a);
	int prefix = -1;
	if (e && e[0] == '/' && e[1] >= '0' && e[1] <= '9' && !(e[1] == '0' && e[2])) {
		char *end;
		long p = strtol(e + 1, &end, 10);
		if (!*end && end - (e + 1) <= 2)
			prefix = (int)p;
	}
	if (prefix < 0)
		return topo__fail(l, f[1].v, "subnet: \"%.40s\" is not an IPv4 subnet in CIDR form such as "
		                             "51.6.196.0/24", sub);
	if (prefix < 8 || prefix > 30)
		return topo__fail(l, f[1].v, "subnet: prefix /%d is out of range: use /8 to /30 (a network "
		                             "needs room for two hosts)", prefix);
	uint32_t mask = prefix_mask(prefix);
	if (a & ~mask)
		return topo__fail(l, f[1].v, "subnet: %s has host bits set; the network is %s/%d", sub,
		                  topo_ip_str(a & mask, buf), prefix);
	net->subnet = a;
	net->prefix = prefix;
	l->net_line[idx] = (int)n->start_mark.line + 1;
	for (size_t i = 0; i < idx; i++) {
		const struct topo_network *o = &t->networks[i];
		uint32_t m = prefix_mask(o->prefix < prefix ? o->prefix : prefix);
		if ((o->subnet & m) == (a & m))
			return topo__fail(l, f[1].v, "subnet: %s/%d overlaps network \"%s\" (%s/%d, line %d)",
			                  topo_ip_str(a, buf), prefix, o->name, topo_ip_str(o->subnet, buf2),
			                  o->prefix, l->net_line[i]);
	}
	l->where[0] = '\0';
	return 0;
}

static int read_networks(struct ld *l, yaml_node_t *n)
{
	if (n->type != YAML_SEQUENCE_NODE)
		return type_error(l, n, "networks", "a sequence of networks such as "
		                                    "[{ name: lan, subnet: 51.6.196.0/24 }]");
	size_t len = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	if (len == 0)
		return topo__fail(l, n, "networks: must list at least one network");
	if (len > TOPO_MAX_NETWORKS)
		return topo__fail(l, n, "networks: %zu networks, more than the %d a topology may have", len,
		                  TOPO_MAX_NETWORKS);
	if (!(l->t->networks = calloc(len, sizeof(*l->t->networks))))
		return topo__oom(l);
	for (size_t i = 0; i < len; i++) {
		if (read_network(l, nd(l, n->data.sequence.items.start[i]), i))
			return -1;
		l->t->nnetworks++;
	}
	return 0;
}

static int read_defaults(struct ld *l, yaml_node_t *n, struct defaults *d)
{
	if (n->type != YAML_MAPPING_NODE)
		return type_error(l, n, "defaults", "a mapping with kind, config or command");
	struct field f[] = { { "kind", NULL, NULL }, { "config", NULL, NULL },
		             { "command", NULL, NULL } };
	if (read_fields(l, n, "defaults", f, 3))
		return -1;
	if (f[0].v && read_kind(l, f[0].v, "defaults: kind", &d->kind))
		return -1;
	if (f[1].v) {
		if (!(d->config = read_config(l, f[1].v, "defaults.config")))
			return -1;
		d->config_values = json_count(d->config);
	}
	if (f[2].v && read_command(l, f[2].v, "defaults: command", &d->command, &d->ncommand))
		return -1;
	return 0;
}

/* Why name cannot be a Linux interface name (dev_valid_name), or NULL. */
static const char *ifname_problem(const char *name)
{
	size_t len = strlen(name);
	if (!len)
		return "must not be empty";
	if (len >= TOPO_IFNAME_MAX)
		return "is longer than the 15 bytes of a Linux interface name";
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return "cannot be a Linux interface name";
	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		if (*p == '/')
			return "cannot be a Linux interface name: it contains '/'";
		if (*p == ':')
			return "cannot be a Linux interface name: it contains ':'";
		if (*p == ' ' || (*p >= '\t' && *p <= '\r'))
			return "cannot be a Linux interface name: it contains whitespace";
		if (*p < 0x20 || *p == 0x7f)
			return "cannot be a Linux interface name: it contains a control character";
	}
	return NULL;
}

static int read_name(struct ld *l, yaml_node_t *v, size_t idx)
{
	struct topology *t = l->t;
	const char *name = NULL;
	if (get_string(l, v, "name", &name))
		return -1;
	if (!*name)
		return topo__fail(l, v, "name must not be empty");
	const char *why = ifname_problem(name);
	if (why) {
		char shown[TOPO_IFNAME_MAX * 4 + 8];
		show(name, shown, sizeof(shown));
		return topo__fail(l, v, "name \"%s\" %s", shown, why);
	}
	if (!strcmp(name, "fabric"))
		return topo__fail(l, v, "name \"fabric\" is reserved: the harness's namespace that holds "
		                        "the bridges has it");
	if (!strcmp(name, "lo"))
		return topo__fail(l, v, "name \"lo\" is reserved: it is the fabric namespace's loopback "
		                        "interface");
	for (size_t i = 0; i < t->nnetworks; i++)
		if (!strcmp(name, t->networks[i].bridge))
			return topo__fail(l, v, "name \"%s\" is the bridge of network \"%s\" in the fabric "
			                        "namespace; pick another", name, t->networks[i].name);
	for (size_t i = 0; i < idx; i++)
		if (!strcmp(name, t->nodes[i].name))
			return topo__fail(l, v, "name \"%s\" is already the name of the node at line %d", name,
			                  t->nodes[i].line);
	memcpy(t->nodes[idx].name, name, strlen(name) + 1);
	return 0;
}

static int read_addresses(struct ld *l, yaml_node_t *n, size_t idx)
{
	struct topology *t = l->t;
	struct topo_node *node = &t->nodes[idx];
	char buf[16], buf2[16];
	if (n->type != YAML_MAPPING_NODE)
		return type_error(l, n, "addresses", "a mapping of network to IPv4 address such as "
		                                     "{ lan: 51.6.196.10 }");
	size_t len = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
	if (len == 0)
		return topo__fail(l, n, "addresses: must give an address on at least one network, such as "
		                        "{ lan: 51.6.196.10 }");
	if (topo__check_keys(l, n, "addresses"))
		return -1;
	if (!(node->ifaces = calloc(len, sizeof(*node->ifaces))))
		return topo__oom(l);
	for (size_t j = 0; j < len; j++) {
		yaml_node_pair_t *p = &n->data.mapping.pairs.start[j];
		yaml_node_t *k = nd(l, p->key), *v = nd(l, p->value);
		size_t net = 0;
		while (net < t->nnetworks && strcmp(t->networks[net].name, text(k)) != 0)
			net++;
		if (net == t->nnetworks) {
			const char *names[TOPO_MAX_NETWORKS];
			char list[160], hint[64];
			for (size_t i = 0; i < t->nnetworks; i++)
				names[i] = t->networks[i].name;
			list_words(names, t->nnetworks, list, sizeof(list));
			suggest(text(k), names, t->nnetworks, hint, sizeof(hint));
			return topo__fail(l, k, "addresses: \"%.40s\" is not a network of this topology%s; "
			                        "its networks are %s", text(k), hint, list);
		}
		const struct topo_network *nw = &t->networks[net];
		const char *s = NULL;
		uint32_t a;
		if (get_string(l, v, "addresses", &s))
			return -1;
		const char *e = parse_ipv4(s, &a);
		if (!e || *e)
			return topo__fail(l, v, "addresses: \"%.40s\" is not an IPv4 address%s", s,
			                  e && *e == '/' ? " (give the address alone: the prefix is the "
			                                   "network's)" : "");
		uint32_t mask = prefix_mask(nw->prefix);
		if ((a & mask) != nw->subnet)
			return topo__fail(l, v, "addresses: %s is outside network \"%s\" (%s/%d)", s, nw->name,
			                  topo_ip_str(nw->subnet, buf), nw->prefix);
		if (a == nw->subnet)
			return topo__fail(l, v, "addresses: %s is the network address of network \"%s\" "
			                        "(%s/%d), not a host address", s, nw->name,
			                  topo_ip_str(nw->subnet, buf), nw->prefix);
		if (a == (nw->subnet | ~mask))
			return topo__fail(l, v, "addresses: %s is the broadcast address of network \"%s\" "
			                        "(%s/%d), not a host address", s, nw->name,
			                  topo_ip_str(nw->subnet, buf), nw->prefix);
		for (size_t i = 0; i <= idx; i++) {
			const struct topo_node *o = &t->nodes[i];
			size_t m = i == idx ? j : o->nifaces;
			for (size_t q = 0; q < m; q++)
				if (o->ifaces[q].addr == a)
					return topo__fail(l, v, "addresses: %s is already the address of node \"%s\" "
					                        "(line %d)", topo_ip_str(a, buf2), o->name, o->line);
		}
		node->ifaces[j].network = net;
		node->ifaces[j].addr = a;
		/* j < TOPO_MAX_NETWORKS: a network at most once, and only known ones */
		snprintf(node->ifaces[j].ifname, sizeof(node->ifaces[j].ifname), "eth%u",
		         (unsigned char)j);
	}
	node->nifaces = len;
	return 0;
}

static int read_node(struct ld *l, yaml_node_t *n, size_t idx, const struct defaults *d)
{
	struct topo_node *node = &l->t->nodes[idx];
	yaml_node_t *pn = peek(l, n, "name");
	if (pn && pn->type == YAML_SCALAR_NODE && !ifname_problem(text(pn)))
		snprintf(l->where, sizeof(l->where), "node \"%s\": ", text(pn));
	else
		snprintf(l->where, sizeof(l->where), "node #%zu: ", idx + 1);

	if (n->type != YAML_MAPPING_NODE)
		return not_a_mapping(l, n, "name and addresses");
	struct field f[] = { { "name", NULL, NULL },   { "kind", NULL, NULL },
		             { "addresses", NULL, NULL }, { "config", NULL, NULL },
		             { "command", NULL, NULL } };
	if (read_fields(l, n, "", f, 5))
		return -1;
	node->line = (int)n->start_mark.line + 1;
	if (!f[0].v)
		return topo__fail(l, n, "\"name\" is required (such as name: node1)");
	if (read_name(l, f[0].v, idx))
		return -1;

	node->kind = d->kind;
	if (f[1].v && read_kind(l, f[1].v, "kind", &node->kind))
		return -1;
	if (f[4].v) {
		if (node->kind != TOPO_KIND_COMMAND)
			return topo__fail(l, f[4].v, "command: only nodes of kind command take a command (this "
			                             "node is kind %s)", kind_names[node->kind]);
		if (read_command(l, f[4].v, "command", &node->command, &node->ncommand))
			return -1;
	} else if (node->kind == TOPO_KIND_COMMAND) {
		if (!d->command)
			return topo__fail(l, f[1].v ? f[1].v : n, "kind command needs a command (a "
			                                          "sequence such as [sleep, infinity]), on "
			                                          "the node or in defaults");
		if (topo__spend(l, n, d->ncommand))
			return -1;
		if (!(node->command = copy_argv(d->command, d->ncommand)))
			return topo__oom(l);
		node->ncommand = d->ncommand;
	}

	if (!f[2].v)
		return topo__fail(l, n, "\"addresses\" is required (a mapping of network to IPv4 address, "
		                        "such as addresses: { lan: 51.6.196.10 })");
	if (read_addresses(l, f[2].v, idx))
		return -1;

	cJSON *own = NULL;
	if (f[3].v && !(own = read_config(l, f[3].v, "config")))
		return -1;
	if (d->config) {
		if (topo__spend(l, n, d->config_values)) {
			cJSON_Delete(own);
			return -1;
		}
		node->config = cJSON_Duplicate(d->config, 1);
	} else {
		node->config = cJSON_CreateObject();
	}
	if (!node->config) {
		cJSON_Delete(own);
		return topo__oom(l);
	}
	if (own && topo__merge(node->config, own))
		return topo__oom(l);
	l->where[0] = '\0';
	return 0;
}

static int read_nodes(struct ld *l, yaml_node_t *n, const struct defaults *d)
{
	if (n->type != YAML_SEQUENCE_NODE)
		return type_error(l, n, "nodes", "a sequence of nodes such as "
		                                 "[{ name: node1, addresses: { lan: 51.6.196.10 } }]");
	size_t len = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	if (len == 0)
		return topo__fail(l, n, "nodes: must list at least one node");
	if (len > TOPO_MAX_NODES)
		return topo__fail(l, n, "nodes: %zu nodes, more than the %d a topology may have", len,
		                  TOPO_MAX_NODES);
	if (!(l->t->nodes = calloc(len, sizeof(*l->t->nodes))))
		return topo__oom(l);
	for (size_t i = 0; i < len; i++) {
		l->t->nnodes++; /* so topology_free sees what the node holds, even half read */
		if (read_node(l, nd(l, n->data.sequence.items.start[i]), i, d))
			return -1;
	}
	return 0;
}

static int read_topology(struct ld *l, yaml_node_t *root)
{
	struct topology *t = l->t;
	if (root->type != YAML_MAPPING_NODE)
		return type_error(l, root, "top level", "a mapping with name, networks and nodes");
	struct field f[] = { { "name", NULL, NULL },     { "defaults", NULL, NULL },
		             { "networks", NULL, NULL }, { "nodes", NULL, NULL } };
	if (read_fields(l, root, "top level", f, 4))
		return -1;

	const char *name = NULL;
	if (!f[0].v)
		return topo__fail(l, root, "top level: \"name\" is required (the topology's name, such as "
		                           "name: dc1)");
	if (get_string(l, f[0].v, "name", &name))
		return -1;
	size_t len = strlen(name);
	if (!len)
		return topo__fail(l, f[0].v, "name must not be empty");
	if (len > TOPO_NAME_LEN)
		return topo__fail(l, f[0].v, "name \"%.40s\" is %zu characters, more than %d: it "
		                             "prefixes the names of the network namespaces", name, len,
		                  TOPO_NAME_LEN);
	if (strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") < 1 ||
	    strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") != len)
		return topo__fail(l, f[0].v, "name \"%s\" must match ^[A-Za-z0-9][A-Za-z0-9_.-]*$ "
		                             "(letters, digits, '_', '.' and '-')", name);
	if (!(t->name = strdup(name)))
		return topo__oom(l);

	if (!f[2].v)
		return topo__fail(l, root, "top level: \"networks\" is required (such as networks: "
		                           "[{ name: lan, subnet: 51.6.196.0/24 }])");
	if (read_networks(l, f[2].v))
		return -1;

	struct defaults d = { TOPO_KIND_CONCLAVE, NULL, 0, NULL, 0 };
	int rc = 0;
	if (f[1].v)
		rc = read_defaults(l, f[1].v, &d);
	if (!rc && !f[3].v)
		rc = topo__fail(l, root, "top level: \"nodes\" is required (such as nodes: "
		                         "[{ name: node1, addresses: { lan: 51.6.196.10 } }])");
	if (!rc)
		rc = read_nodes(l, f[3].v, &d);
	cJSON_Delete(d.config);
	free_argv(d.command);
	return rc;
}

/* ---- the public functions ---------------------------------------------- */

int topology_load_buffer(const char *name, const char *buf, size_t len, struct topology **out,
                         char *err, size_t errlen)
{
	struct ld l = { .file = name, .err = err, .errlen = errlen, .budget = TOPO_MAX_VALUES };
	char scratch[1];
	if (!err || !errlen) {
		l.err = scratch;
		l.errlen = sizeof(scratch);
	}
	l.err[0] = '\0';
	*out = NULL;
	if (len > TOPO_MAX_FILE_BYTES)
		return topo__fail(&l, NULL, "the file is %zu bytes, more than the %u MiB a topology "
		                            "file may have", len, TOPO_MAX_FILE_BYTES >> 20);

	yaml_parser_t p;
	yaml_document_t doc, extra;
	if (!yaml_parser_initialize(&p))
		return topo__oom(&l);
	yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&p, &doc)) {
		topo__yaml_error(&l, &p, buf, len);
		yaml_parser_delete(&p);
		return -1;
	}
	l.doc = &doc;
	int rc = 0;
	yaml_node_t *root = yaml_document_get_root_node(&doc);
	if (!root) {
		rc = topo__fail(&l, NULL, "the file is empty: a topology needs name, networks and nodes");
	} else if (!yaml_parser_load(&p, &extra)) {
		rc = topo__yaml_error(&l, &p, buf, len);
	} else {
		yaml_node_t *r2 = yaml_document_get_root_node(&extra);
		if (r2)
			rc = topo__fail(&l, r2, "a second YAML document: a topology file holds exactly one");
		yaml_document_delete(&extra);
	}
	yaml_parser_delete(&p);

	if (!rc) {
		l.nnodes = (size_t)(doc.nodes.top - doc.nodes.start);
		rc = topo__find_tags(&l, buf, len);
	}
	if (!rc) {
		if (!(l.t = calloc(1, sizeof(*l.t))) || !(l.t->path = strdup(name)))
			rc = topo__oom(&l);
		else
			rc = read_topology(&l, root);
	}
	free(l.tagged);
	yaml_document_delete(&doc);
	if (rc) {
		topology_free(l.t);
		return -1;
	}
	*out = l.t;
	return 0;
}

int topology_load_file(const char *path, struct topology **out, char *err, size_t errlen)
{
	struct ld l = { .file = path, .err = err, .errlen = errlen };
	*out = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return topo__fail(&l, NULL, "cannot read topology file: %s", strerror(errno));
	struct stat st;
	if (fstat(fd, &st) == 0 && !S_ISREG(st.st_mode)) {
		close(fd);
		return topo__fail(&l, NULL, "cannot read topology file: %s", S_ISDIR(st.st_mode)
		                                                             ? "it is a directory"
		                                                             : "it is not a regular file");
	}
	size_t cap = TOPO_MAX_FILE_BYTES + 1, len = 0;
	char *buf = malloc(cap);
	if (!buf) {
		close(fd);
		return topo__oom(&l);
	}
	for (;;) {
		ssize_t n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			free(buf);
			close(fd);
			return topo__fail(&l, NULL, "cannot read topology file: %s", strerror(e));
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == cap)
			break; /* one byte over the limit is enough to refuse it */
	}
	close(fd);
	int rc = topology_load_buffer(path, buf, len, out, err, errlen);
	free(buf);
	return rc;
}

void topology_free(struct topology *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nnodes; i++) {
		free(t->nodes[i].ifaces);
		cJSON_Delete(t->nodes[i].config);
		free_argv(t->nodes[i].command);
	}
	free(t->nodes);
	free(t->networks);
	free(t->name);
	free(t->path);
	free(t);
}

const char *topo_kind_name(enum topo_kind k)
{
	return (size_t)k < NKINDS ? kind_names[k] : "unknown";
}

const struct topo_node *topology_node(const struct topology *t, const char *name)
{
	for (size_t i = 0; t && name && i < t->nnodes; i++)
		if (strcmp(t->nodes[i].name, name) == 0)
			return &t->nodes[i];
	return NULL;
}

char *topo_ip_str(uint32_t addr, char buf[16])
{
	snprintf(buf, 16, "%u.%u.%u.%u", addr >> 24, (addr >> 16) & 0xff, (addr >> 8) & 0xff,
	         addr & 0xff);
	return buf;
}
