/*
 * plan — what a topology turns into, computed without touching the system:
 * namespace names, bridges, veth pairs with their interface indexes on both
 * sides, addresses, each node's daemon config JSON and command line. The
 * harness applies a plan; tests check plans without root.
 *
 * Naming: the fabric namespace is "<topology>-fabric" and holds one bridge per
 * network ("br-<network>"); node N lives in "<topology>-<N>" with "lo" and
 * eth0, eth1, ... (one per address, in file order). A node's fabric-side veth
 * end is named after the node ("<node>" with one network, "<node>.<i>" with
 * several, cut to 15 bytes). Interface indexes are fixed by the plan: in a node
 * lo=1 and ethI=2+I; in the fabric bridges come first from 2, then veth ends.
 */
#ifndef CC_PLAN_H
#define CC_PLAN_H

#include "topology.h"

#define PLAN_NS_MAX 64
/* The link group of every bridge and veth end in a fabric namespace, so that
 * `down` deletes them all with one request. */
#define PLAN_LINK_GROUP 0x63630001u

struct plan_bridge {
	char name[TOPO_IFNAME_MAX];
	int ifindex;
};

struct plan_veth {
	size_t node, iface;              /* indexes into the topology */
	char fabric_if[TOPO_IFNAME_MAX]; /* end in the fabric namespace */
	int fabric_ifindex;
	int master_ifindex;              /* its bridge */
	char node_if[TOPO_IFNAME_MAX];   /* end in the node's namespace */
	int node_ifindex;
};

struct plan {
	char fabric_ns[PLAN_NS_MAX];
	char (*node_ns)[PLAN_NS_MAX];    /* one per topology node */
	struct plan_bridge *bridges;     /* one per network */
	size_t nbridges;
	struct plan_veth *veths;
	size_t nveths;
};

/* Computes the plan. Returns 0, or -1 with err (a name that cannot be made). */
int plan_build(const struct topology *t, struct plan *p, char *err, size_t errlen);
void plan_free(struct plan *p);

/* The veths of one node (fills idx with up to cap indexes into p->veths). */
size_t plan_node_veths(const struct plan *p, size_t node, size_t *idx, size_t cap);

/* The daemon config of a conclave node, in the seed's key order: the merged
 * config plus node_name, bind/client/advertise addresses (the node's first
 * address) and data_dir. Returns a malloc'd JSON text, or NULL. */
char *plan_node_config(const struct topology *t, const struct topo_node *n,
                       const char *data_dir);

/* The daemon's argv for a node: conclave/serf/etcd from their settings, or the
 * node's command with ${name}, ${address} and ${config} substituted.
 * config_path is the node's config file. Returns a NULL-terminated malloc'd
 * array of malloc'd strings (free with plan_argv_free), or NULL. */
char **plan_node_argv(const struct topology *t, const struct topo_node *n,
                      const char *config_path, const char *data_dir);
void plan_argv_free(char **argv);

/* The HTTP port a node's daemon answers on (for conclave: ports.http), or -1. */
int plan_node_http_port(const struct topo_node *n);

#endif
