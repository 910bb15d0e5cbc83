/*
 * catalog — the replicated service catalog (Consul's nodes, services and
 * checks tables), pure: no I/O, no clock.
 *
 * Raft commits commands (bytes made by catalog_cmd_encode); every server
 * applies them in log order with catalog_apply, beside the KV store (both
 * share one log: the first byte tells them apart, see CATALOG_CMD_TAG).
 * Indexes are Raft log indexes, as in kv.h.
 *
 * The rules are those of Consul's state store (agent/consul/state/catalog.go,
 * EnsureRegistration, DeleteNode/DeleteService/DeleteCheck):
 * - register upserts the node, then the service (if any), then each check;
 *   an entry identical to the stored one keeps its indexes (no change); a
 *   changed one keeps CreateIndex and gets ModifyIndex = the command's index;
 * - a check naming a ServiceID needs that service on the node ("Missing
 *   service registration"); its ServiceName and ServiceTags are copied from
 *   the service; a node ID used by another node name is refused;
 * - deregister removes a node with all its services and checks, or one
 *   service with its checks, or one check; an absent target is a no-op.
 * A refused command changes nothing but the applied index.
 *
 * Strings are NUL-free, at most CATALOG_STR_MAX bytes (Notes and Output:
 * CATALOG_TEXT_MAX); maps (Meta, TaggedAddresses) have unique keys, at most
 * CATALOG_MAP_MAX pairs. Errors are negative errno values.
 */
#ifndef CC_CATALOG_H
#define CC_CATALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* First byte of every catalog command. KV commands start with their version
 * byte (1), so the two never collide and old KV logs decode as before. */
#define CATALOG_CMD_TAG 0x43

#define CATALOG_STR_MAX 512
#define CATALOG_TEXT_MAX 65536
#define CATALOG_MAP_MAX 64
#define CATALOG_TAGS_MAX 256
#define CATALOG_CHECKS_MAX 64

/* The check Consul's leader keeps on every LAN member (reference §3.5). */
#define CATALOG_SERF_CHECK_ID "serfHealth"
#define CATALOG_SERF_CHECK_NAME "Serf Health Status"
#define CATALOG_SERF_ALIVE "Agent alive and reachable"
#define CATALOG_SERF_FAILED "Agent not live or unreachable"

enum catalog_status {
	CATALOG_PASSING = 1,
	CATALOG_WARNING = 2,
	CATALOG_CRITICAL = 3,
};
/* "passing", "warning", "critical"; and back (0 when unknown). */
const char *catalog_status_name(enum catalog_status s);
enum catalog_status catalog_status_parse(const char *s);

/* NUL-terminated strings throughout. */
struct catalog_pair {
	const char *key, *value;
};

struct catalog_node {
	const char *id;             /* "" or a UUID */
	const char *node, *address, *datacenter;
	const struct catalog_pair *tagged;  /* sorted by key */
	size_t ntagged;
	const struct catalog_pair *meta;    /* sorted by key */
	size_t nmeta;
	uint64_t create_index, modify_index;
};

struct catalog_service {
	const char *id, *service, *address;
	const char *const *tags;    /* in the registration's order */
	size_t ntags;
	const struct catalog_pair *meta;
	size_t nmeta;
	uint32_t port;              /* 0..65535 */
	uint32_t weight_passing;    /* >= 1 */
	uint32_t weight_warning;
	bool enable_tag_override;
	uint64_t create_index, modify_index;
};

struct catalog_check {
	const char *node, *check_id, *name, *notes, *output, *service_id, *service_name, *type;
	const char *const *service_tags;
	size_t nservice_tags;
	enum catalog_status status;
	uint64_t create_index, modify_index;
};

enum catalog_op {
	CATALOG_OP_REGISTER = 1,
	CATALOG_OP_DEREGISTER = 2,
};

/* A command. Indexes in it are ignored (not encoded). REGISTER: node (node
 * and address non-empty), optionally service (id and service non-empty),
 * checks (check_id non-empty; their node, service_name and service_tags are
 * ignored: they come from the registration). DEREGISTER: node.node, and at
 * most one of dereg_service_id / dereg_check_id non-empty (NULL = ""). */
struct catalog_cmd {
	enum catalog_op op;
	struct catalog_node node;
	const struct catalog_service *service;   /* NULL: none */
	const struct catalog_check *checks;
	size_t nchecks;
	const char *dereg_service_id, *dereg_check_id;
};

/* Encodes cmd; returns the length written, or the length needed when it is
 * larger than cap (buf untouched; buf may be NULL with cap 0). 0 for a cmd
 * that breaks the rules above (map keys must be sorted and unique). The
 * encoding is canonical: decode then encode gives back the same bytes. */
size_t catalog_cmd_encode(const struct catalog_cmd *cmd, uint8_t *buf, size_t cap);

/* A decoded command owns its strings; free with catalog_cmd_free. */
struct catalog_decoded {
	struct catalog_cmd cmd;
	void *mem;
};
/* -EINVAL for anything malformed (wrong tag, version or op, truncated,
 * trailing bytes, non-minimal varints, oversized or NUL-holding strings,
 * unsorted maps, bad status or bool bytes, missing required fields); -ENOMEM.
 * out is zeroed on error. */
int catalog_cmd_decode(const uint8_t *buf, size_t len, struct catalog_decoded *out);
void catalog_cmd_free(struct catalog_decoded *d);
/* True when buf starts like a catalog command (its first byte). */
bool catalog_cmd_is(const uint8_t *buf, size_t len);

/* Equality as Consul's IsSame: every field but the indexes (NULL == ""). */
bool catalog_node_same(const struct catalog_node *a, const struct catalog_node *b);
bool catalog_service_same(const struct catalog_service *a, const struct catalog_service *b);
bool catalog_check_same(const struct catalog_check *a, const struct catalog_check *b);

struct catalog;

struct catalog *catalog_new(void);
void catalog_free(struct catalog *c);

/* Applies a committed command at index (strictly increasing). Returns 0 when
 * applied; a command the state store refuses is applied as a no-op and its
 * message (Consul's wording) goes to err (err[0] != 0 only then; err may be
 * NULL). -EINVAL for a command that does not decode (skipped; only the
 * applied index moves), -ERANGE for index <= catalog_applied (nothing
 * changes), -ENOMEM (nothing changes, not even the applied index). */
int catalog_apply(struct catalog *c, uint64_t index, const uint8_t *cmd, size_t len, char *err,
                  size_t errlen);

/* ---- reads; pointers stay valid until the next apply or restore ---- */

/* Nodes in name order (byte order). */
size_t catalog_node_count(const struct catalog *c);
const struct catalog_node *catalog_node_at(const struct catalog *c, size_t i);
/* The node's position, or -1. */
long catalog_node_find(const struct catalog *c, const char *name);
/* A node's services (by ID) and checks (by CheckID). */
size_t catalog_service_count(const struct catalog *c, size_t node);
const struct catalog_service *catalog_service_at(const struct catalog *c, size_t node, size_t i);
size_t catalog_check_count(const struct catalog *c, size_t node);
const struct catalog_check *catalog_check_at(const struct catalog *c, size_t node, size_t i);

/* Table indexes (Consul's "nodes", "services", "checks": the last command
 * that changed the table) and their maximum. */
uint64_t catalog_nodes_index(const struct catalog *c);
uint64_t catalog_services_index(const struct catalog *c);
uint64_t catalog_checks_index(const struct catalog *c);
uint64_t catalog_index(const struct catalog *c);
/* The index of one service name: the last change to any instance of it, to
 * their checks or nodes (node checks included); once no instance is left,
 * the index of the last removal of any service name (Consul's
 * service_last_extinction). Never goes backwards for a name. */
uint64_t catalog_service_index(const struct catalog *c, const char *name);
uint64_t catalog_applied(const struct catalog *c);

/* The whole catalog as versioned, checksummed bytes (malloc'd; -ENOMEM) and
 * back. restore replaces the contents, or leaves them unchanged on -EINVAL
 * (bad bytes of any kind) or -ENOMEM. */
int catalog_snapshot(const struct catalog *c, uint8_t **data, size_t *len);
int catalog_restore(struct catalog *c, const uint8_t *data, size_t len);

#endif
