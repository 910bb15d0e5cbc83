/* The YAML values under a topology file, apart from its format: how a scalar
 * is typed (the YAML 1.2 core schema, or its explicit tag), which scalars
 * carry a tag, a mapping's keys, values turned into cJSON and their deep
 * merge. Conversion is bounded (nesting depth, and a value budget that argv
 * words share) so that an alias cannot blow a small file up. Errors go through
 * topo__fail, so they read like the format's own. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "topology_internal.h"

#define TOPO_MAX_DEPTH 64          /* nesting inside a config mapping */
#define YAML_TAG_PREFIX "tag:yaml.org,2002:"

enum sv { SV_NULL, SV_BOOL, SV_NUMBER, SV_STRING };

struct scalar {
	enum sv type;
	bool b;
	double d;
	char why[160];          /* set when the scalar cannot become a JSON value */
};

/* ---- tags -------------------------------------------------------------- */

/* A scalar with an explicit tag, or a collection with a tag other than its
 * own, is read by its tag rather than by the core schema. */
static bool has_tag(struct ld *l, const yaml_node_t *n)
{
	size_t i = (size_t)(n - l->doc->nodes.start);
	if (n->type == YAML_SCALAR_NODE)
		return strcmp((const char *)n->tag, YAML_STR_TAG) != 0 ||
		       (i < l->nnodes && l->tagged[i]);
	if (n->type == YAML_SEQUENCE_NODE)
		return strcmp((const char *)n->tag, YAML_SEQ_TAG) != 0;
	return strcmp((const char *)n->tag, YAML_MAP_TAG) != 0;
}

/* "!!int" for the standard tags, the full tag otherwise. */
static void short_tag(const yaml_node_t *n, char *out, size_t cap)
{
	const char *tag = (const char *)n->tag;
	size_t pl = strlen(YAML_TAG_PREFIX);
	if (strncmp(tag, YAML_TAG_PREFIX, pl) == 0)
		snprintf(out, cap, "!!%.60s", tag + pl);
	else
		snprintf(out, cap, "%.60s", tag);
}

/* ---- scalars ----------------------------------------------------------- */

static bool core_null(const char *s)
{
	return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
	       !strcmp(s, "NULL");
}

/* 1 true, 0 false, -1 not a boolean */
static int core_bool(const char *s)
{
	if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
		return 1;
	if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
		return 0;
	return -1;
}

static int digit_value(char c, int base)
{
	int v = c >= '0' && c <= '9' ? c - '0'
	      : c >= 'a' && c <= 'f' ? c - 'a' + 10
	      : c >= 'A' && c <= 'F' ? c - 'A' + 10
	                             : 99;
	return v < base ? v : -1;
}

/* Core-schema integers: [-+]?[0-9]+, 0o[0-7]+, 0x[0-9a-fA-F]+. 1 with *d,
 * 0 when s is not an integer, -1 (why set) when it is one JSON cannot hold. */
static int core_int(const char *s, double *d, struct scalar *v)
{
	const char *p = s;
	int base = 10;
	bool neg = false;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'o')) {
		base = p[1] == 'x' ? 16 : 8;
		p += 2;
	} else if (*p == '-' || *p == '+') {
		neg = *p == '-';
		p++;
	}
	if (!*p)
		return 0;
	const unsigned long long limit = 1ull << 53;
	unsigned long long n = 0;
	bool big = false;
	for (; *p; p++) {
		int k = digit_value(*p, base);
		if (k < 0)
			return 0;
		if (n > (limit - (unsigned)k) / (unsigned)base)
			big = true;
		else
			n = n * (unsigned)base + (unsigned)k;
	}
	if (big) {
		snprintf(v->why, sizeof(v->why),
		         "%.40s is too large to be exact in JSON (more than 2^53); quote it to make "
		         "it a string", s);
		return -1;
	}
	*d = neg ? -(double)n : (double)n;
	return 1;
}

/* Core-schema floats: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?, and
 * the infinities and NaN, which JSON has no way to write. Returns as core_int. */
static int core_float(const char *s, double *d, struct scalar *v)
{
	const char *p = s + (*s == '-' || *s == '+');
	if (!strcmp(p, ".inf") || !strcmp(p, ".Inf") || !strcmp(p, ".INF") ||
	    (p == s && (!strcmp(s, ".nan") || !strcmp(s, ".NaN") || !strcmp(s, ".NAN")))) {
		snprintf(v->why, sizeof(v->why),
		         "%s is not a number JSON can hold; quote it to make it a string", s);
		return -1;
	}
	size_t ndig = 0;
	while (*p >= '0' && *p <= '9')
		p++, ndig++;
	if (*p == '.') {
		size_t frac = 0;
		p++;
		while (*p >= '0' && *p <= '9')
			p++, frac++;
		if (!ndig && !frac)
			return 0;
	} else if (!ndig) {
		return 0;
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '-' || *p == '+')
			p++;
		if (!(*p >= '0' && *p <= '9'))
			return 0;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p)
		return 0;
	errno = 0;
	*d = strtod(s, NULL);
	if (!isfinite(*d)) {
		snprintf(v->why, sizeof(v->why),
		         "%.40s is out of range for a JSON number; quote it to make it a string", s);
		return -1;
	}
	return 1;
}

/* Types a scalar: quoted scalars are strings, plain ones resolve by the YAML
 * 1.2 core schema, explicitly tagged ones by their tag. -1 with v->why when
 * the scalar cannot be a JSON value. */
static int resolve(struct ld *l, const yaml_node_t *n, struct scalar *v)
{
	const char *s = text(n);
	v->why[0] = '\0';
	v->type = SV_STRING;
	if (strlen(s) != n->data.scalar.length) {
		snprintf(v->why, sizeof(v->why), "a NUL character (\\0) is not allowed");
		return -1;
	}
	if (!has_tag(l, n)) {
		if (!is_plain(n))
			return 0;
		if (core_null(s)) {
			v->type = SV_NULL;
			return 0;
		}
		int b = core_bool(s);
		if (b >= 0) {
			v->type = SV_BOOL;
			v->b = b;
			return 0;
		}
		int r = core_int(s, &v->d, v);
		if (r == 0)
			r = core_float(s, &v->d, v);
		if (r < 0)
			return -1;
		if (r > 0)
			v->type = SV_NUMBER;
		return 0;
	}
	const char *tag = (const char *)n->tag;
	char st[72];
	short_tag(n, st, sizeof(st));
	if (!strcmp(tag, YAML_STR_TAG))
		return 0;
	if (!strcmp(tag, YAML_NULL_TAG)) {
		v->type = SV_NULL;
		if (core_null(s))
			return 0;
	} else if (!strcmp(tag, YAML_BOOL_TAG)) {
		int b = core_bool(s);
		v->type = SV_BOOL;
		v->b = b;
		if (b >= 0)
			return 0;
	} else if (!strcmp(tag, YAML_INT_TAG) || !strcmp(tag, YAML_FLOAT_TAG)) {
		v->type = SV_NUMBER;
		int r = core_int(s, &v->d, v);
		if (r == 0 && !strcmp(tag, YAML_FLOAT_TAG))
			r = core_float(s, &v->d, v);
		if (r > 0)
			return 0;
		if (r < 0)
			return -1;
	} else {
		snprintf(v->why, sizeof(v->why),
		         "tag %s is not supported (only !!str, !!int, !!float, !!bool, !!null, !!seq "
		         "and !!map are)", st);
		return -1;
	}
	snprintf(v->why, sizeof(v->why), "\"%.40s\" is not a valid %s", s, st);
	return -1;
}

/* What the format's string keys refuse: a null written as one. A tagged
 * scalar, even !!null, is taken as written there. */
bool topo__plain_null(struct ld *l, const yaml_node_t *n)
{
	return is_plain(n) && !has_tag(l, n) && core_null(text(n));
}

/* "a mapping", "a string (\"x\")", "a number (5)", ... for type errors. */
void topo__describe(struct ld *l, const yaml_node_t *n, char *out, size_t cap)
{
	if (n->type == YAML_MAPPING_NODE) {
		snprintf(out, cap, "a mapping");
		return;
	}
	if (n->type == YAML_SEQUENCE_NODE) {
		snprintf(out, cap, "a sequence");
		return;
	}
	const char *s = text(n);
	const char *more = strlen(s) > 40 ? "..." : "";
	struct scalar v;
	if (resolve(l, n, &v))
		snprintf(out, cap, "a scalar (\"%.40s%s\")", s, more);
	else if (v.type == SV_NULL)
		snprintf(out, cap, "null");
	else if (v.type == SV_BOOL)
		snprintf(out, cap, "a boolean (%s)", s);
	else if (v.type == SV_NUMBER)
		snprintf(out, cap, "a number (%.40s)", s);
	else
		snprintf(out, cap, "a string (\"%.40s%s\")", s, more);
}

/* ---- mappings ---------------------------------------------------------- */

/* Sorts a mapping's pairs by key to find a repeated one in O(n log n). */
struct keyref {
	const yaml_node_t *k;
	size_t order;
};

static int keyref_cmp(const void *a, const void *b)
{
	const struct keyref *x = a, *y = b;
	int c = strcmp(text(x->k), text(y->k));
	if (c)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* Every key a scalar, none twice. */
int topo__check_keys(struct ld *l, yaml_node_t *map, const char *what)
{
	size_t n = (size_t)(map->data.mapping.pairs.top - map->data.mapping.pairs.start);
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *k = nd(l, map->data.mapping.pairs.start[i].key);
		if (k->type != YAML_SCALAR_NODE) {
			char got[96];
			topo__describe(l, k, got, sizeof(got));
			return topo__fail(l, k, "%s: keys must be scalars, got %s", what, got);
		}
		if (strlen(text(k)) != k->data.scalar.length)
			return topo__fail(l, k, "%s: a NUL character (\\0) is not allowed in a key", what);
	}
	if (n < 2)
		return 0;
	struct keyref *r = malloc(n * sizeof(*r));
	if (!r)
		return topo__oom(l);
	for (size_t i = 0; i < n; i++) {
		r[i].k = nd(l, map->data.mapping.pairs.start[i].key);
		r[i].order = i;
	}
	qsort(r, n, sizeof(*r), keyref_cmp);
	/* equal keys sort in file order: name the earliest repeat, and its first */
	const struct keyref *first = NULL, *dup = NULL;
	for (size_t i = 1; i < n; i++) {
		if (strcmp(text(r[i - 1].k), text(r[i].k)) == 0 && (!dup || r[i].order < dup->order)) {
			first = &r[i - 1];
			dup = &r[i];
		}
	}
	int rc = 0;
	if (dup)
		rc = topo__fail(l, dup->k, "%s: duplicate key \"%.64s\" (first at %zu:%zu)", what,
		                text(dup->k), first->k->start_mark.line + 1,
		                first->k->start_mark.column + 1);
	free(r);
	return rc;
}

/* ---- YAML to JSON ------------------------------------------------------ */

int topo__spend(struct ld *l, const yaml_node_t *at, size_t n)
{
	if (n > l->budget)
		return topo__fail(l, at, "the configs and commands of all nodes add up to more than %u "
		                         "values (an alias used too often?)", TOPO_MAX_VALUES);
	l->budget -= n;
	return 0;
}

static cJSON *to_json(struct ld *l, yaml_node_t *n, char *path, size_t plen, int depth);

static cJSON *seq_to_json(struct ld *l, yaml_node_t *n, char *path, size_t plen, int depth)
{
	cJSON *arr = cJSON_CreateArray();
	if (!arr) {
		topo__oom(l);
		return NULL;
	}
	size_t i = 0;
	for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
	     it++, i++) {
		snprintf(path + plen, 256 - plen, "[%zu]", i);
		cJSON *c = to_json(l, nd(l, *it), path, strlen(path), depth + 1);
		path[plen] = '\0';
		if (!c || !cJSON_AddItemToArray(arr, c)) {
			if (c)
				topo__oom(l);
			cJSON_Delete(c);
			cJSON_Delete(arr);
			return NULL;
		}
	}
	return arr;
}

static cJSON *map_to_json(struct ld *l, yaml_node_t *n, char *path, size_t plen, int depth)
{
	if (topo__check_keys(l, n, path))
		return NULL;
	cJSON *obj = cJSON_CreateObject();
	if (!obj) {
		topo__oom(l);
		return NULL;
	}
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *k = nd(l, p->key);
		if (is_plain(k) && !has_tag(l, k) && strcmp(text(k), "<<") == 0) {
			topo__fail(l, k, "%s: merge keys (<<) are not supported; put settings every node "
			                 "shares in defaults.config", path);
			cJSON_Delete(obj);
			return NULL;
		}
		snprintf(path + plen, 256 - plen, ".%s", text(k));
		cJSON *c = to_json(l, nd(l, p->value), path, strlen(path), depth + 1);
		path[plen] = '\0';
		if (!c || !cJSON_AddItemToObject(obj, text(k), c)) {
			if (c)
				topo__oom(l);
			cJSON_Delete(c);
			cJSON_Delete(obj);
			return NULL;
		}
	}
	return obj;
}

/* path (a 256-byte buffer) names the value in messages: "config.ports.http". */
static cJSON *to_json(struct ld *l, yaml_node_t *n, char *path, size_t plen, int depth)
{
	if (depth > TOPO_MAX_DEPTH) {
		size_t cut = plen; /* the path is long by now: its start is enough */
		if (cut > 40)
			for (cut = 40; cut && path[cut] != '.' && path[cut] != '['; cut--)
				;
		topo__fail(l, n, "%.*s%s: nested deeper than %d levels (an alias that contains itself?)",
		           (int)cut, path, cut < plen ? "..." : "", TOPO_MAX_DEPTH);
		return NULL;
	}
	if (topo__spend(l, n, 1))
		return NULL;
	if (n->type != YAML_SCALAR_NODE && has_tag(l, n)) {
		char st[72];
		short_tag(n, st, sizeof(st));
		topo__fail(l, n, "%s: tag %s is not supported (only !!str, !!int, !!float, !!bool, !!null, "
		                 "!!seq and !!map are)", path, st);
		return NULL;
	}
	if (n->type == YAML_SEQUENCE_NODE)
		return seq_to_json(l, n, path, plen, depth);
	if (n->type == YAML_MAPPING_NODE)
		return map_to_json(l, n, path, plen, depth);
	struct scalar v;
	if (resolve(l, n, &v)) {
		topo__fail(l, n, "%s: %s", path, v.why);
		return NULL;
	}
	cJSON *j = v.type == SV_NULL     ? cJSON_CreateNull()
	         : v.type == SV_BOOL     ? cJSON_CreateBool(v.b)
	         : v.type == SV_NUMBER   ? cJSON_CreateNumber(v.d)
	                                 : cJSON_CreateString(text(n));
	if (!j)
		topo__oom(l);
	return j;
}

/* The entry to to_json: the path starts as what, in a buffer it can grow in. */
cJSON *topo__to_json(struct ld *l, yaml_node_t *n, const char *what)
{
	char path[256];
	snprintf(path, sizeof(path), "%s", what);
	return to_json(l, n, path, strlen(path), 1);
}

/* Objects merge key by key; anything else from src replaces. Takes src. */
int topo__merge(cJSON *dst, cJSON *src)
{
	int rc = 0;
	while (!rc && src->child) {
		cJSON *it = cJSON_DetachItemViaPointer(src, src->child);
		cJSON *cur = cJSON_GetObjectItemCaseSensitive(dst, it->string);
		if (cur && cJSON_IsObject(cur) && cJSON_IsObject(it)) {
			rc = topo__merge(cur, it);
			continue;
		}
		bool ok;
		if (cur) {
			ok = cJSON_ReplaceItemViaPointer(dst, cur, it);
		} else {
			/* the key is copied: cJSON frees the item's own when it adds it */
			char *key = strdup(it->string);
			ok = key && cJSON_AddItemToObject(dst, key, it);
			free(key);
		}
		if (!ok) {
			cJSON_Delete(it);
			rc = -1;
		}
	}
	cJSON_Delete(src);
	return rc;
}

/* ---- the parser -------------------------------------------------------- */

int topo__yaml_error(struct ld *l, const yaml_parser_t *p, const char *buf, size_t len)
{
	if (p->error == YAML_MEMORY_ERROR)
		return topo__fail(l, NULL, "out of memory reading YAML");
	const char *problem = p->problem ? p->problem : "unknown error";
	if (p->error == YAML_READER_ERROR) {
		/* the reader gives a byte offset, not a mark */
		size_t line = 1, col = 1;
		for (size_t i = 0; i < p->problem_offset && i < len; i++) {
			if (buf[i] == '\n') {
				line++;
				col = 1;
			} else if (((unsigned char)buf[i] & 0xC0) != 0x80) {
				col++;
			}
		}
		char val[32] = "";
		if (p->problem_value != -1)
			snprintf(val, sizeof(val), " (0x%02X)", (unsigned)p->problem_value);
		snprintf(l->err, l->errlen, "%s:%zu:%zu: invalid YAML: %s%s", l->file, line, col,
		         problem, val);
		return -1;
	}
	char ctx[128] = "";
	if (p->context)
		snprintf(ctx, sizeof(ctx), " (%s started at %zu:%zu)", p->context,
		         p->context_mark.line + 1, p->context_mark.column + 1);
	snprintf(l->err, l->errlen, "%s:%zu:%zu: invalid YAML: %s%s", l->file,
	         p->problem_mark.line + 1, p->problem_mark.column + 1, problem, ctx);
	return -1;
}

/* Which scalars carry an explicit tag: the document API gives "!!str 5" and a
 * plain 5 the same tag, so the events are read once more to tell them apart.
 * Nodes are numbered in the order of their events, aliases aside. */
int topo__find_tags(struct ld *l, const char *buf, size_t len)
{
	if (!(l->tagged = calloc(l->nnodes ? l->nnodes : 1, 1)))
		return topo__oom(l);
	yaml_parser_t p;
	if (!yaml_parser_initialize(&p))
		return topo__oom(l);
	yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
	size_t i = 0;
	int rc = 0;
	for (;;) {
		yaml_event_t e;
		if (!yaml_parser_parse(&p, &e)) {
			rc = topo__yaml_error(l, &p, buf, len);
			break;
		}
		yaml_event_type_t type = e.type;
		if (type == YAML_SCALAR_EVENT || type == YAML_SEQUENCE_START_EVENT ||
		    type == YAML_MAPPING_START_EVENT) {
			if (type == YAML_SCALAR_EVENT && e.data.scalar.tag && i < l->nnodes)
				l->tagged[i] = 1;
			i++;
		}
		yaml_event_delete(&e);
		if (type == YAML_DOCUMENT_END_EVENT || type == YAML_STREAM_END_EVENT)
			break;
	}
	yaml_parser_delete(&p);
	return rc;
}
