/* Private to the topology loader: what topology.c (the format) and
 * topology_yaml.c (YAML values: how scalars are typed, tags, YAML to JSON)
 * share. Not part of the public contract (that is topology.h). */
#ifndef CC_TOPOLOGY_INTERNAL_H
#define CC_TOPOLOGY_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <yaml.h>

#include "topology.h"

#define TOPO_MAX_VALUES (1u << 20) /* JSON values and argv words, all nodes together */

/* One load in progress: the document, where messages go, what is built. */
struct ld {
	const char *file;
	yaml_document_t *doc;
	unsigned char *tagged;  /* by node index: the scalar had an explicit tag */
	size_t nnodes;
	char *err;
	size_t errlen;
	char where[64];         /* "node \"x\": " while a node or network is read */
	int net_line[TOPO_MAX_NETWORKS]; /* where each network is defined */
	size_t budget;          /* JSON values and argv words still allowed */
	struct topology *t;
};

/* Short names for what libyaml spells out; text and is_plain take scalars. */
static inline yaml_node_t *nd(struct ld *l, int i)
{
	return yaml_document_get_node(l->doc, i);
}

static inline const char *text(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

static inline bool is_plain(const yaml_node_t *n)
{
	return n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

/* ---- topology.c -------------------------------------------------------- */

/* Puts "FILE:LINE:COL: <where>message" (at's place; no place when at is NULL)
 * in the caller's buffer. Returns -1. */
__attribute__((format(printf, 3, 4))) int topo__fail(struct ld *l, const yaml_node_t *at,
                                                     const char *fmt, ...);
int topo__oom(struct ld *l);

/* ---- topology_yaml.c --------------------------------------------------- */

/* Takes n values from the budget of all configs and commands (l->budget); -1,
 * reported at at, when it would run out. */
int topo__spend(struct ld *l, const yaml_node_t *at, size_t n);

/* Reports a libyaml parser error at its place. Returns -1. */
int topo__yaml_error(struct ld *l, const yaml_parser_t *p, const char *buf, size_t len);

/* Fills l->tagged (l->nnodes entries) from a second pass over buf. */
int topo__find_tags(struct ld *l, const char *buf, size_t len);

/* A scalar written as a plain, untagged null: "", ~, null, Null or NULL. */
bool topo__plain_null(struct ld *l, const yaml_node_t *n);

/* "a mapping", "a string (\"x\")", "a number (5)", ... for type errors. */
void topo__describe(struct ld *l, const yaml_node_t *n, char *out, size_t cap);

/* Every key of the mapping a scalar, none twice; what prefixes messages. */
int topo__check_keys(struct ld *l, yaml_node_t *map, const char *what);

/* n (a node of any kind) as a JSON value, or NULL with the error reported;
 * what names it in messages ("config", then "config.ports.http"). */
cJSON *topo__to_json(struct ld *l, yaml_node_t *n, const char *what);

/* Objects merge key by key; anything else from src replaces. Takes src. */
int topo__merge(cJSON *dst, cJSON *src);

#endif
