/* fsm/autopilot — the replicated autopilot configuration (contract in
 * autopilot.h). */
#include "fsm/autopilot.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#define CMD_VERSION 1
#define SNAP_MAGIC "CCAP"
#define SNAP_VERSION 1
#define F_CAS 1u
#define F_CLEANUP 2u
#define F_NO_MIGRATION 4u

void autopilot_config_default(struct autopilot_config *c)
{
	memset(c, 0, sizeof(*c));
	c->cleanup_dead_servers = true;
	c->last_contact_threshold_ns = 200 * 1000000LL;
	c->max_trailing_logs = 250;
	c->server_stabilization_time_ns = 10 * 1000000000LL;
}

/* A bounded writer: counts what it would write past cap. */
struct wr {
	uint8_t *p;
	size_t n, cap;
};

static void wr_bytes(struct wr *w, const void *src, size_t n)
{
	if (w->p && w->n + n <= w->cap)
		memcpy(w->p + w->n, src, n);
	w->n += n;
}

static void wr_u64(struct wr *w, uint64_t v)
{
	uint8_t b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	wr_bytes(w, b, 8);
}

static void wr_tag(struct wr *w, const char *t)
{
	size_t n = strlen(t);
	uint8_t b[2] = { (uint8_t)n, (uint8_t)(n >> 8) };
	wr_bytes(w, b, 2);
	wr_bytes(w, t, n);
}

static bool tag_ok(const char *t)
{
	return memchr(t, '\0', AUTOPILOT_TAG_MAX) != NULL;
}

/* The flags byte: extra (F_CAS or 0) and the config's two booleans. */
static void wr_flags(struct wr *w, uint8_t flags, const struct autopilot_config *c)
{
	if (c->cleanup_dead_servers)
		flags |= F_CLEANUP;
	if (c->disable_upgrade_migration)
		flags |= F_NO_MIGRATION;
	wr_bytes(w, &flags, 1);
}

static void wr_values(struct wr *w, const struct autopilot_config *c)
{
	wr_u64(w, (uint64_t)c->last_contact_threshold_ns);
	wr_u64(w, c->max_trailing_logs);
	wr_u64(w, c->min_quorum);
	wr_u64(w, (uint64_t)c->server_stabilization_time_ns);
	wr_tag(w, c->redundancy_zone_tag);
	wr_tag(w, c->upgrade_version_tag);
}

static bool config_ok(const struct autopilot_config *c)
{
	return c->last_contact_threshold_ns >= 0 && c->server_stabilization_time_ns >= 0 &&
	       tag_ok(c->redundancy_zone_tag) && tag_ok(c->upgrade_version_tag);
}

size_t autopilot_cmd_encode(const struct autopilot_cmd *cmd, uint8_t *buf, size_t cap)
{
	if (!config_ok(&cmd->config))
		return 0;
	struct wr w = { 0 };
	for (int pass = 0; pass < 2; pass++) {
		uint8_t head[2] = { AUTOPILOT_CMD_TAG, CMD_VERSION };
		wr_bytes(&w, head, 2);
		wr_flags(&w, cmd->cas ? F_CAS : 0, &cmd->config);
		wr_u64(&w, cmd->cas ? cmd->cas_index : 0);
		wr_values(&w, &cmd->config);
		if (pass == 1 || !buf || w.n > cap)
			break;
		w = (struct wr){ .p = buf, .cap = cap };   /* it fits: write it */
	}
	return w.n;
}

/* A bounds-checked reader. */
struct rd {
	const uint8_t *p;
	size_t n, off;
	bool bad;
};

static const uint8_t *rd_take(struct rd *r, size_t n)
{
	if (r->bad || r->n - r->off < n) {
		r->bad = true;
		return NULL;
	}
	const uint8_t *p = r->p + r->off;
	r->off += n;
	return p;
}

static uint64_t rd_u64(struct rd *r)
{
	const uint8_t *p = rd_take(r, 8);
	uint64_t v = 0;
	for (int i = 0; p && i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static void rd_tag(struct rd *r, char *out)
{
	const uint8_t *h = rd_take(r, 2);
	size_t n = h ? (size_t)h[0] | (size_t)h[1] << 8 : 0;
	const uint8_t *p = n < AUTOPILOT_TAG_MAX ? rd_take(r, n) : NULL;
	if (!p || memchr(p, '\0', n)) {
		r->bad = true;
		return;
	}
	memcpy(out, p, n);
	out[n] = '\0';
}

/* flags byte then the values, into c (indexes untouched). */
static uint8_t rd_config(struct rd *r, struct autopilot_config *c, uint8_t allowed)
{
	const uint8_t *f = rd_take(r, 1);
	uint8_t flags = f ? *f : 0;
	if (flags & ~(allowed | F_CLEANUP | F_NO_MIGRATION))
		r->bad = true;
	c->cleanup_dead_servers = flags & F_CLEANUP;
	c->disable_upgrade_migration = flags & F_NO_MIGRATION;
	return flags;
}

static void rd_values(struct rd *r, struct autopilot_config *c)
{
	uint64_t lct = rd_u64(r);
	c->max_trailing_logs = rd_u64(r);
	c->min_quorum = rd_u64(r);
	uint64_t sst = rd_u64(r);
	if (lct > INT64_MAX || sst > INT64_MAX)
		r->bad = true;
	c->last_contact_threshold_ns = (int64_t)(lct & INT64_MAX);
	c->server_stabilization_time_ns = (int64_t)(sst & INT64_MAX);
	rd_tag(r, c->redundancy_zone_tag);
	rd_tag(r, c->upgrade_version_tag);
}

int autopilot_cmd_decode(const uint8_t *buf, size_t len, struct autopilot_cmd *out)
{
	memset(out, 0, sizeof(*out));
	struct rd r = { .p = buf, .n = buf ? len : 0 };
	const uint8_t *h = rd_take(&r, 2);
	if (!h || h[0] != AUTOPILOT_CMD_TAG || h[1] != CMD_VERSION)
		return -EINVAL;
	uint8_t flags = rd_config(&r, &out->config, F_CAS);
	out->cas = flags & F_CAS;
	out->cas_index = rd_u64(&r);
	rd_values(&r, &out->config);
	if (r.bad || r.off != r.n || (!out->cas && out->cas_index)) {
		memset(out, 0, sizeof(*out));
		return -EINVAL;
	}
	return 0;
}

bool autopilot_cmd_is(const uint8_t *buf, size_t len)
{
	return buf && len > 0 && buf[0] == AUTOPILOT_CMD_TAG;
}

void autopilot_apply(struct autopilot_config *cur, uint64_t index, const struct autopilot_cmd *cmd,
                     bool *result)
{
	if (cmd->cas && cmd->cas_index != cur->modify_index) {
		if (result)
			*result = false;
		return;
	}
	uint64_t created = cur->modify_index ? cur->create_index : index;
	*cur = cmd->config;
	cur->create_index = created;
	cur->modify_index = index;
	if (result)
		*result = true;
}

static void wr_snap(struct wr *w, const struct autopilot_config *c)
{
	wr_bytes(w, SNAP_MAGIC, 4);
	uint8_t v = SNAP_VERSION;
	wr_bytes(w, &v, 1);
	wr_flags(w, 0, c);
	wr_values(w, c);
	wr_u64(w, c->create_index);
	wr_u64(w, c->modify_index);
}

int autopilot_snapshot(const struct autopilot_config *c, uint8_t **data, size_t *len)
{
	if (!config_ok(c))
		return -EINVAL;
	struct wr w = { 0 };
	wr_snap(&w, c);
	uint8_t *buf = malloc(w.n + 4);
	if (!buf)
		return -ENOMEM;
	w = (struct wr){ .p = buf, .cap = w.n };
	wr_snap(&w, c);
	uint32_t crc = (uint32_t)crc32(0, buf, (uInt)w.n);
	for (int i = 0; i < 4; i++)
		buf[w.n + (size_t)i] = (uint8_t)(crc >> (8 * i));
	*data = buf;
	*len = w.n + 4;
	return 0;
}

int autopilot_restore(struct autopilot_config *out, const uint8_t *data, size_t len)
{
	if (!data || len < 9 || memcmp(data, SNAP_MAGIC, 4) != 0 || data[4] != SNAP_VERSION)
		return -EINVAL;
	uint32_t crc = 0;
	for (int i = 0; i < 4; i++)
		crc |= (uint32_t)data[len - 4 + (size_t)i] << (8 * i);
	if (crc != (uint32_t)crc32(0, data, (uInt)(len - 4)))
		return -EINVAL;
	struct autopilot_config c;
	memset(&c, 0, sizeof(c));
	struct rd r = { .p = data, .n = len - 4, .off = 5 };
	rd_config(&r, &c, 0);
	rd_values(&r, &c);
	c.create_index = rd_u64(&r);
	c.modify_index = rd_u64(&r);
	if (r.bad || r.off != r.n || c.create_index > c.modify_index ||
	    (c.modify_index && !c.create_index))
		return -EINVAL;
	*out = c;
	return 0;
}
