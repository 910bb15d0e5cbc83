/*
 * query — asks a node's daemon, from inside its namespace, who it thinks the
 * leader is and how many members it sees. Each kind answers its own way:
 * conclave and etcd over HTTP, serf through `serf members`.
 */
#ifndef CC_QUERY_H
#define CC_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include "topology.h"

/* One HTTP/1.0 request to ip:port made from inside the namespace nsfd.
 * Returns the status code (> 0) with the body in out (NUL-terminated, cut to
 * cap), or a negative errno. Bounded by timeout_ms. */
int query_http(int nsfd, uint32_t ip, int port, const char *method, const char *path,
               const char *body, char *out, size_t cap, int timeout_ms);

struct node_view {
	int answered;          /* the daemon answered at all */
	char leader[64];       /* what it reports as leader ("" = none known) */
	int members;           /* alive members it sees; -1 = cannot tell */
};

/* Fills v for node n (its namespace nsfd), within timeout_ms. */
void query_node(const struct topology *t, const struct topo_node *n, int nsfd,
                struct node_view *v, int timeout_ms);

#endif
