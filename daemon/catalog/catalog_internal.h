/* Private to the catalog module: the byte codec (catalog_codec.c) shared by
 * commands and snapshots, and the stored records (catalog.c). */
#ifndef CC_CATALOG_INTERNAL_H
#define CC_CATALOG_INTERNAL_H

#include "catalog/catalog.h"

#define CMD_VERSION 1
/* An encoded command is at most this long (HTTP bodies are 512 KiB). */
#define CATALOG_CMD_MAX (4u * 1024u * 1024u)

/* A writer that only counts when p is NULL. */
struct wr {
	uint8_t *p;
	size_t n;
};

/* A bounds-checked reader; bad sticks. */
struct rd {
	const uint8_t *p;
	size_t left;
	bool bad;
};

/* Two-pass decoding: with base NULL the arena only counts what the second
 * pass (with base set, cap bytes) will place in it. */
struct arena {
	uint8_t *base;
	size_t used, cap;
};

void wr_varint(struct wr *w, uint64_t v);
void wr_u8(struct wr *w, uint8_t v);
void wr_u64(struct wr *w, uint64_t v);
void wr_str(struct wr *w, const char *s);
void wr_node(struct wr *w, const struct catalog_node *n);
void wr_service(struct wr *w, const struct catalog_service *s);
/* full: also node, service_name and service_tags (snapshots) */
void wr_check(struct wr *w, const struct catalog_check *k, bool full);

uint64_t rd_varint(struct rd *r);
uint8_t rd_u8(struct rd *r);
uint64_t rd_u64(struct rd *r);
void *ar_alloc(struct arena *a, size_t n);
const char *rd_str(struct rd *r, struct arena *a, size_t max);
/* Each validates what it read (sets r->bad); indexes are not read here. */
void rd_node(struct rd *r, struct arena *a, struct catalog_node *n);
void rd_service(struct rd *r, struct arena *a, struct catalog_service *s);
void rd_check(struct rd *r, struct arena *a, struct catalog_check *k, bool full);

/* Deep copies into one allocation (*blob; NULL on -ENOMEM). */
int node_dup(const struct catalog_node *src, struct catalog_node *dst, void **blob);
int service_dup(const struct catalog_service *src, struct catalog_service *dst, void **blob);
int check_dup(const struct catalog_check *src, struct catalog_check *dst, void **blob);

bool node_same(const struct catalog_node *a, const struct catalog_node *b);
bool service_same(const struct catalog_service *a, const struct catalog_service *b);
bool check_same(const struct catalog_check *a, const struct catalog_check *b);

/* What the rules in catalog.h require of each part. */
bool node_ok(const struct catalog_node *n);
bool service_ok(const struct catalog_service *s);
bool check_ok(const struct catalog_check *k);

/* ---- the stored records (catalog.c, catalog_snapshot.c) ---- */

struct svc_rec {
	struct catalog_service s;
	void *blob;
};

struct chk_rec {
	struct catalog_check k;
	void *blob;
};

struct node_rec {
	struct catalog_node n;
	void *blob;
	struct svc_rec *svc;
	size_t nsvc, capsvc;
	struct chk_rec *chk;
	size_t nchk, capchk;
};

struct name_rec {
	char *name;
	uint64_t idx;
	size_t count;
};

struct catalog {
	struct node_rec *nodes;
	size_t nnodes, capnodes;
	struct name_rec *names;
	size_t nnames, capnames;
	uint64_t nodes_idx, services_idx, checks_idx, extinction, applied;
};

uint64_t cat_max64(uint64_t a, uint64_t b);
/* Grows *arr to hold need elements; the contents stay. */
int cat_reserve(void **arr, size_t *cap, size_t need, size_t elem);
/* Position of a service ID in a node / of a service name, or -1 (*at: where
 * it would go; at may be NULL). */
long cat_find_svc(const struct node_rec *r, const char *id, size_t *at);
long cat_find_name(const struct catalog *c, const char *name, size_t *at);
/* Frees the contents and zeroes c. */
void cat_clear(struct catalog *c);

#endif
