/*
 * topology — loads a topology file (topologies/NAME.yaml, format in
 * docs/topology.md) into a validated, immutable description. Pure: reads the
 * file, touches nothing else. Every error names the file, line and column, and
 * the node and key it is about.
 *
 *   name: dc1
 *   defaults:
 *     kind: conclave
 *     config: { bootstrap_expect: 2, server: true, ... }   # merged into every node's JSON
 *   networks:
 *     - { name: lan, subnet: 51.6.196.0/24 }
 *   nodes:
 *     - { name: node2_201, addresses: { lan: 51.6.196.201 } }
 *     - { name: node3_211, addresses: { lan: 51.6.196.211 }, config: { ... } }
 */
#ifndef CC_TOPOLOGY_H
#define CC_TOPOLOGY_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#define TOPO_ERR_MAX 512
#define TOPO_NAME_MAX 32     /* topology and network names, including NUL */
#define TOPO_IFNAME_MAX 16   /* Linux IFNAMSIZ, including NUL */
#define TOPO_MAX_NODES 1000
#define TOPO_MAX_NETWORKS 8

enum topo_kind {
	TOPO_KIND_CONCLAVE = 0, /* conclave agent -config-file=<node json> */
	TOPO_KIND_SERF,         /* Debian's `serf agent` */
	TOPO_KIND_ETCD,         /* Debian's `etcd` (etcd-server) */
	TOPO_KIND_COMMAND,      /* any argv, from `command:` */
};

struct topo_network {
	char name[TOPO_NAME_MAX];
	uint32_t subnet;        /* network address, host byte order */
	int prefix;             /* 0..32 */
	char bridge[TOPO_IFNAME_MAX]; /* "br-<name>", inside the fabric namespace */
};

struct topo_iface {
	size_t network;         /* index into topology.networks */
	uint32_t addr;          /* host byte order */
	char ifname[TOPO_IFNAME_MAX]; /* inside the node: "eth0", "eth1", ... in file order */
};

struct topo_node {
	char name[TOPO_IFNAME_MAX]; /* also the fabric-side interface name */
	enum topo_kind kind;
	struct topo_iface *ifaces;
	size_t nifaces;
	cJSON *config;          /* defaults.config deep-merged with the node's config
	                           (objects merge key by key, anything else replaces);
	                           an empty object when neither has one */
	char **command;         /* kind command: argv from `command:`; NULL otherwise */
	size_t ncommand;
	int line;               /* where the node is defined */
};

struct topology {
	char *name;
	char *path;             /* the file it came from */
	struct topo_network *networks;
	size_t nnetworks;
	struct topo_node *nodes;
	size_t nnodes;
};

/* Loads and validates a topology file. Returns 0 and *out (free with
 * topology_free), or -1 with a message in err ("FILE:LINE:COL: ..."). */
int topology_load_file(const char *path, struct topology **out, char *err, size_t errlen);

/* Same, from memory; name stands for the file in messages. */
int topology_load_buffer(const char *name, const char *buf, size_t len, struct topology **out,
                         char *err, size_t errlen);

void topology_free(struct topology *t);

const char *topo_kind_name(enum topo_kind k);

/* Finds a node by name; NULL when there is none. */
const struct topo_node *topology_node(const struct topology *t, const char *name);

/* Formats a host-order IPv4 address. Returns buf. */
char *topo_ip_str(uint32_t addr, char buf[16]);

#endif
