/* fsm — KV and catalog behind one log and one snapshot (contract in fsm.h). */
#include "fsm/fsm.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SNAP_MAGIC "CCSM"
#define KV_MAGIC "CCKV"

struct fsm *fsm_new(void)
{
	struct fsm *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->kv = kv_new();
	f->catalog = catalog_new();
	if (!f->kv || !f->catalog) {
		fsm_free(f);
		return NULL;
	}
	return f;
}

void fsm_free(struct fsm *f)
{
	if (!f)
		return;
	kv_free(f->kv);
	catalog_free(f->catalog);
	free(f);
}

int fsm_apply(struct fsm *f, uint64_t index, const uint8_t *cmd, size_t len, bool *result,
              char *err, size_t errlen)
{
	if (err && errlen)
		err[0] = 0;
	if (!catalog_cmd_is(cmd, len))
		return kv_apply(f->kv, index, cmd, len, result);
	if (result)
		*result = false;
	int rc = catalog_apply(f->catalog, index, cmd, len, err, errlen);
	if (rc == 0 && result)
		*result = !(err && errlen && err[0]);
	return rc;
}

int fsm_cmd_check(const uint8_t *cmd, size_t len)
{
	if (!catalog_cmd_is(cmd, len)) {
		struct kv_cmd c;
		return kv_cmd_decode(cmd, len, &c);
	}
	struct catalog_decoded d;
	int rc = catalog_cmd_decode(cmd, len, &d);
	catalog_cmd_free(&d);
	return rc;
}

static void put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_u64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

int fsm_snapshot(const struct fsm *f, uint8_t **data, size_t *len)
{
	uint8_t *k = NULL, *c = NULL;
	size_t kn = 0, cn = 0;
	int rc = kv_snapshot(f->kv, &k, &kn);
	if (rc == 0)
		rc = catalog_snapshot(f->catalog, &c, &cn);
	uint8_t *buf = rc ? NULL : malloc(5 + 8 + kn + 8 + cn);
	if (!buf) {
		free(k);
		free(c);
		return rc ? rc : -ENOMEM;
	}
	memcpy(buf, SNAP_MAGIC, 4);
	buf[4] = FSM_SNAP_VERSION;
	put_u64(buf + 5, kn);
	memcpy(buf + 13, k, kn);
	put_u64(buf + 13 + kn, cn);
	memcpy(buf + 21 + kn, c, cn);
	free(k);
	free(c);
	*data = buf;
	*len = 21 + kn + cn;
	return 0;
}

int fsm_restore(struct fsm *f, const uint8_t *data, size_t len)
{
	if (!data || len < 5)
		return -EINVAL;
	struct kv *kv = kv_new();
	struct catalog *cat = catalog_new();
	int rc = kv && cat ? 0 : -ENOMEM;
	if (rc == 0 && memcmp(data, KV_MAGIC, 4) == 0) {
		rc = kv_restore(kv, data, len);   /* version 1: KV only */
	} else if (rc == 0) {
		uint64_t kn = 0, cn = 0;
		if (memcmp(data, SNAP_MAGIC, 4) != 0 || data[4] != FSM_SNAP_VERSION || len < 13 ||
		    (kn = get_u64(data + 5)) > len - 13 || len - 13 - kn < 8 ||
		    (cn = get_u64(data + 13 + kn)) != len - 21 - kn)
			rc = -EINVAL;
		if (rc == 0)
			rc = kv_restore(kv, data + 13, (size_t)kn);
		if (rc == 0)
			rc = catalog_restore(cat, data + 21 + kn, (size_t)cn);
	}
	if (rc) {
		kv_free(kv);
		catalog_free(cat);
		return rc;
	}
	kv_free(f->kv);
	catalog_free(f->catalog);
	f->kv = kv;
	f->catalog = cat;
	return 0;
}
