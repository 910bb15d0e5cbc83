/* fsm — KV, catalog and the autopilot configuration behind one log and one
 * snapshot (contract in fsm.h). */
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
	autopilot_config_default(&f->autopilot);
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
	if (autopilot_cmd_is(cmd, len)) {
		struct autopilot_cmd a;
		int rc = autopilot_cmd_decode(cmd, len, &a);
		if (result)
			*result = false;
		if (rc == 0)
			autopilot_apply(&f->autopilot, index, &a, result);
		return rc;
	}
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
	if (autopilot_cmd_is(cmd, len)) {
		struct autopilot_cmd a;
		return autopilot_cmd_decode(cmd, len, &a);
	}
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

enum { SEC_KV, SEC_CATALOG, SEC_AUTOPILOT, NSEC };

int fsm_snapshot(const struct fsm *f, uint8_t **data, size_t *len)
{
	uint8_t *sec[NSEC] = { NULL };
	size_t n[NSEC] = { 0 };
	int rc = kv_snapshot(f->kv, &sec[SEC_KV], &n[SEC_KV]);
	if (rc == 0)
		rc = catalog_snapshot(f->catalog, &sec[SEC_CATALOG], &n[SEC_CATALOG]);
	if (rc == 0)
		rc = autopilot_snapshot(&f->autopilot, &sec[SEC_AUTOPILOT], &n[SEC_AUTOPILOT]);
	size_t total = 5;
	for (int i = 0; i < NSEC; i++)
		total += 8 + n[i];
	uint8_t *buf = rc ? NULL : malloc(total);
	if (buf) {
		memcpy(buf, SNAP_MAGIC, 4);
		buf[4] = FSM_SNAP_VERSION;
		size_t o = 5;
		for (int i = 0; i < NSEC; i++) {
			put_u64(buf + o, n[i]);
			memcpy(buf + o + 8, sec[i], n[i]);
			o += 8 + n[i];
		}
		*data = buf;
		*len = total;
	}
	for (int i = 0; i < NSEC; i++)
		free(sec[i]);
	return buf ? 0 : rc ? rc : -ENOMEM;
}

/* The sections of a version 2 (KV, catalog) or 3 (and autopilot) snapshot:
 * each u64 LE length and bytes, exactly filling data. 0 or -EINVAL. */
static int split(const uint8_t *data, size_t len, const uint8_t **sec, size_t *n, int nsec)
{
	size_t o = 5;
	for (int i = 0; i < nsec; i++) {
		if (len - o < 8)
			return -EINVAL;
		uint64_t m = get_u64(data + o);
		o += 8;
		if (m > len - o)
			return -EINVAL;
		sec[i] = data + o;
		n[i] = (size_t)m;
		o += (size_t)m;
	}
	return o == len ? 0 : -EINVAL;
}

int fsm_restore(struct fsm *f, const uint8_t *data, size_t len)
{
	if (!data || len < 5)
		return -EINVAL;
	struct kv *kv = kv_new();
	struct catalog *cat = catalog_new();
	struct autopilot_config ap;
	autopilot_config_default(&ap);
	int rc = kv && cat ? 0 : -ENOMEM;
	if (rc == 0 && memcmp(data, KV_MAGIC, 4) == 0) {
		rc = kv_restore(kv, data, len);   /* version 1: KV only */
	} else if (rc == 0) {
		const uint8_t *sec[NSEC];
		size_t n[NSEC];
		int nsec = data[4] == 2 ? 2 : NSEC;   /* version 2: no autopilot section */
		if (memcmp(data, SNAP_MAGIC, 4) != 0 || (data[4] != 2 && data[4] != FSM_SNAP_VERSION))
			rc = -EINVAL;
		if (rc == 0)
			rc = split(data, len, sec, n, nsec);
		if (rc == 0)
			rc = kv_restore(kv, sec[SEC_KV], n[SEC_KV]);
		if (rc == 0)
			rc = catalog_restore(cat, sec[SEC_CATALOG], n[SEC_CATALOG]);
		if (rc == 0 && nsec > SEC_AUTOPILOT)
			rc = autopilot_restore(&ap, sec[SEC_AUTOPILOT], n[SEC_AUTOPILOT]);
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
	f->autopilot = ap;
	return 0;
}
