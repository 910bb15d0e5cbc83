/* fsm/autopilot: the autopilot configuration command (codec, CAS, indexes)
 * and its place in the fsm's log and snapshots, old snapshots included. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fsm/autopilot.h"
#include "fsm/fsm.h"

static struct autopilot_cmd sample(bool cas, uint64_t cas_index)
{
	struct autopilot_cmd c = { .cas = cas, .cas_index = cas_index };
	autopilot_config_default(&c.config);
	c.config.cleanup_dead_servers = false;
	c.config.last_contact_threshold_ns = 350 * 1000000LL;
	c.config.max_trailing_logs = 1000;
	c.config.min_quorum = 3;
	c.config.server_stabilization_time_ns = 1500 * 1000LL;   /* 1.5 ms */
	strcpy(c.config.redundancy_zone_tag, "zone");
	c.config.disable_upgrade_migration = true;
	strcpy(c.config.upgrade_version_tag, "build");
	return c;
}

/* Encodes into a malloc'd buffer; asserts it encodes. */
static uint8_t *enc(const struct autopilot_cmd *c, size_t *n)
{
	*n = autopilot_cmd_encode(c, NULL, 0);
	assert_true(*n > 0);
	uint8_t *b = malloc(*n);
	assert_non_null(b);
	assert_int_equal(autopilot_cmd_encode(c, b, *n), *n);
	return b;
}

static void assert_same_config(const struct autopilot_config *a, const struct autopilot_config *b)
{
	assert_int_equal(a->cleanup_dead_servers, b->cleanup_dead_servers);
	assert_int_equal(a->last_contact_threshold_ns, b->last_contact_threshold_ns);
	assert_int_equal(a->max_trailing_logs, b->max_trailing_logs);
	assert_int_equal(a->min_quorum, b->min_quorum);
	assert_int_equal(a->server_stabilization_time_ns, b->server_stabilization_time_ns);
	assert_string_equal(a->redundancy_zone_tag, b->redundancy_zone_tag);
	assert_int_equal(a->disable_upgrade_migration, b->disable_upgrade_migration);
	assert_string_equal(a->upgrade_version_tag, b->upgrade_version_tag);
}

static void test_defaults(void **st)
{
	(void)st;
	struct autopilot_config c;
	autopilot_config_default(&c);
	assert_true(c.cleanup_dead_servers);
	assert_int_equal(c.last_contact_threshold_ns, 200000000);
	assert_int_equal(c.max_trailing_logs, 250);
	assert_int_equal(c.min_quorum, 0);
	assert_int_equal(c.server_stabilization_time_ns, 10000000000LL);
	assert_int_equal(c.create_index, 0);
	assert_int_equal(c.modify_index, 0);
	struct fsm *f = fsm_new();
	assert_non_null(f);
	assert_same_config(&f->autopilot, &c);
	assert_int_equal(f->autopilot.modify_index, 0);
	fsm_free(f);
}

static void test_codec(void **st)
{
	(void)st;
	for (int cas = 0; cas < 2; cas++) {
		struct autopilot_cmd c = sample(cas, cas ? 77 : 0);
		size_t n;
		uint8_t *b = enc(&c, &n);
		assert_int_equal(b[0], AUTOPILOT_CMD_TAG);
		assert_true(autopilot_cmd_is(b, n));
		struct autopilot_cmd d;
		assert_int_equal(autopilot_cmd_decode(b, n, &d), 0);
		assert_int_equal(d.cas, cas);
		assert_int_equal(d.cas_index, cas ? 77 : 0);
		assert_same_config(&d.config, &c.config);
		/* canonical: decode then encode gives the same bytes */
		uint8_t again[600];
		assert_int_equal(autopilot_cmd_encode(&d, again, sizeof(again)), n);
		assert_memory_equal(again, b, n);
		assert_int_equal(fsm_cmd_check(b, n), 0);
		/* a buffer one byte short is left untouched */
		uint8_t small[600];
		memset(small, 0xAB, sizeof(small));
		assert_int_equal(autopilot_cmd_encode(&c, small, n - 1), n);
		for (size_t i = 0; i < n; i++)
			assert_int_equal(small[i], 0xAB);
		free(b);
	}
	/* tags up to AUTOPILOT_TAG_MAX - 1 bytes */
	struct autopilot_cmd c = sample(false, 0);
	memset(c.config.upgrade_version_tag, 'v', AUTOPILOT_TAG_MAX - 1);
	c.config.upgrade_version_tag[AUTOPILOT_TAG_MAX - 1] = '\0';
	size_t n;
	uint8_t *b = enc(&c, &n);
	struct autopilot_cmd d;
	assert_int_equal(autopilot_cmd_decode(b, n, &d), 0);
	assert_int_equal(strlen(d.config.upgrade_version_tag), AUTOPILOT_TAG_MAX - 1);
	free(b);
}

static void test_codec_rejects(void **st)
{
	(void)st;
	struct autopilot_cmd c = sample(true, 5), d;
	size_t n;
	uint8_t *b = enc(&c, &n);
	/* every truncation and one trailing byte */
	for (size_t i = 0; i < n; i++)
		assert_int_equal(autopilot_cmd_decode(b, i, &d), -EINVAL);
	uint8_t *longer = malloc(n + 1);
	memcpy(longer, b, n);
	longer[n] = 0;
	assert_int_equal(autopilot_cmd_decode(longer, n + 1, &d), -EINVAL);
	assert_int_equal(fsm_cmd_check(longer, n + 1), -EINVAL);
	free(longer);
	/* header, flags, a negative duration, a NUL inside a tag */
	struct { size_t off; uint8_t val; } bad[] = {
		{ 0, 0x42 },           /* not our tag */
		{ 1, 2 },              /* unknown version */
		{ 2, 0x08 | 0x01 },    /* unknown flag bit */
		{ 11 + 7, 0x80 },      /* last_contact_threshold's sign bit */
		{ 35 + 7, 0x80 },      /* server_stabilization_time's sign bit */
		{ 45, 0 },             /* a NUL in "zone" */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t *x = malloc(n);
		memcpy(x, b, n);
		x[bad[i].off] = bad[i].val;
		assert_int_equal(autopilot_cmd_decode(x, n, &d), -EINVAL);
		assert_int_equal(d.cas_index, 0);   /* zeroed on error */
		free(x);
	}
	/* a CAS index without the CAS flag */
	struct autopilot_cmd plain = sample(false, 0);
	uint8_t *p = enc(&plain, &n);
	p[3] = 9;
	assert_int_equal(autopilot_cmd_decode(p, n, &d), -EINVAL);
	free(p);
	/* what cannot be encoded */
	c.config.last_contact_threshold_ns = -1;
	assert_int_equal(autopilot_cmd_encode(&c, NULL, 0), 0);
	c = sample(false, 0);
	memset(c.config.redundancy_zone_tag, 'z', AUTOPILOT_TAG_MAX);   /* no NUL */
	assert_int_equal(autopilot_cmd_encode(&c, NULL, 0), 0);
	assert_int_equal(autopilot_cmd_decode(NULL, 0, &d), -EINVAL);
	free(b);
}

static void apply(struct fsm *f, uint64_t index, const struct autopilot_cmd *c, bool want)
{
	size_t n;
	uint8_t *b = enc(c, &n);
	bool result = !want;
	char err[64];
	assert_int_equal(fsm_apply(f, index, b, n, &result, err, sizeof(err)), 0);
	assert_int_equal(result, want);
	assert_string_equal(err, "");
	free(b);
}

static void test_apply_cas(void **st)
{
	(void)st;
	struct fsm *f = fsm_new();
	/* CAS 0 matches a configuration never written (the CLI's first set-config) */
	struct autopilot_cmd c = sample(true, 0);
	apply(f, 5, &c, true);
	assert_same_config(&f->autopilot, &c.config);
	assert_int_equal(f->autopilot.create_index, 5);
	assert_int_equal(f->autopilot.modify_index, 5);
	/* a stale CAS changes nothing */
	struct autopilot_cmd stale = sample(true, 4);
	stale.config.max_trailing_logs = 1;
	apply(f, 6, &stale, false);
	assert_int_equal(f->autopilot.max_trailing_logs, 1000);
	assert_int_equal(f->autopilot.modify_index, 5);
	struct autopilot_cmd zero = sample(true, 0);
	apply(f, 7, &zero, false);
	/* the current index wins; the create index stays */
	struct autopilot_cmd cur = sample(true, 5);
	cur.config.max_trailing_logs = 42;
	apply(f, 8, &cur, true);
	assert_int_equal(f->autopilot.max_trailing_logs, 42);
	assert_int_equal(f->autopilot.create_index, 5);
	assert_int_equal(f->autopilot.modify_index, 8);
	/* an unconditional write */
	struct autopilot_cmd set = sample(false, 0);
	set.config.min_quorum = 5;
	apply(f, 9, &set, true);
	assert_int_equal(f->autopilot.min_quorum, 5);
	assert_int_equal(f->autopilot.modify_index, 9);
	/* KV commands do not touch it, and it does not touch the KV store */
	struct kv_cmd kc = { .op = KV_OP_SET, .key = "k", .key_len = 1,
		             .value = (const uint8_t *)"v", .value_len = 1 };
	uint8_t kb[64];
	size_t kn = kv_cmd_encode(&kc, kb, sizeof(kb));
	bool result;
	char err[64];
	assert_int_equal(fsm_apply(f, 10, kb, kn, &result, err, sizeof(err)), 0);
	assert_int_equal(kv_count(f->kv), 1);
	assert_int_equal(f->autopilot.modify_index, 9);
	/* a malformed autopilot command is skipped, as a bad KV one is */
	uint8_t junk[3] = { AUTOPILOT_CMD_TAG, 1, 0 };
	assert_int_equal(fsm_apply(f, 11, junk, sizeof(junk), &result, err, sizeof(err)), -EINVAL);
	assert_false(result);
	assert_int_equal(f->autopilot.modify_index, 9);
	fsm_free(f);
}

static void put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void test_snapshots(void **st)
{
	(void)st;
	struct fsm *f = fsm_new();
	struct autopilot_cmd c = sample(false, 0);
	apply(f, 3, &c, true);
	struct kv_cmd kc = { .op = KV_OP_SET, .key = "k", .key_len = 1,
		             .value = (const uint8_t *)"v", .value_len = 1 };
	uint8_t kb[64];
	size_t kn = kv_cmd_encode(&kc, kb, sizeof(kb));
	bool result;
	char err[64];
	assert_int_equal(fsm_apply(f, 4, kb, kn, &result, err, sizeof(err)), 0);

	/* version 3 round trip */
	uint8_t *snap;
	size_t sn;
	assert_int_equal(fsm_snapshot(f, &snap, &sn), 0);
	assert_memory_equal(snap, "CCSM", 4);
	assert_int_equal(snap[4], 3);
	struct fsm *g = fsm_new();
	assert_int_equal(fsm_restore(g, snap, sn), 0);
	assert_same_config(&g->autopilot, &c.config);
	assert_int_equal(g->autopilot.create_index, 3);
	assert_int_equal(g->autopilot.modify_index, 3);
	assert_int_equal(kv_count(g->kv), 1);
	/* a flipped bit in any byte of the autopilot section, or a cut, is refused
	 * and leaves the machine as it was */
	struct fsm *h = fsm_new();
	uint8_t *ap;
	size_t an;
	assert_int_equal(autopilot_snapshot(&f->autopilot, &ap, &an), 0);
	assert_memory_equal(snap + sn - an, ap, an);
	for (size_t i = sn - an; i < sn; i++) {
		snap[i] ^= 0x10;
		assert_int_equal(fsm_restore(h, snap, sn), -EINVAL);
		snap[i] ^= 0x10;
	}
	assert_int_equal(fsm_restore(h, snap, sn - 1), -EINVAL);
	assert_int_equal(h->autopilot.modify_index, 0);
	assert_int_equal(kv_count(h->kv), 0);
	struct autopilot_config out;
	assert_int_equal(autopilot_restore(&out, ap, an), 0);
	assert_same_config(&out, &c.config);
	assert_int_equal(autopilot_restore(&out, ap, an - 1), -EINVAL);
	free(ap);

	/* a version 2 snapshot (KV and catalog, written before autopilot
	 * existed) restores with the default configuration */
	uint8_t *k, *cat;
	size_t kln, cln;
	assert_int_equal(kv_snapshot(f->kv, &k, &kln), 0);
	assert_int_equal(catalog_snapshot(f->catalog, &cat, &cln), 0);
	size_t v2n = 5 + 8 + kln + 8 + cln;
	uint8_t *v2 = malloc(v2n);
	memcpy(v2, "CCSM", 4);
	v2[4] = 2;
	put_u64(v2 + 5, kln);
	memcpy(v2 + 13, k, kln);
	put_u64(v2 + 13 + kln, cln);
	memcpy(v2 + 21 + kln, cat, cln);
	assert_int_equal(fsm_restore(g, v2, v2n), 0);
	assert_int_equal(kv_count(g->kv), 1);
	assert_true(g->autopilot.cleanup_dead_servers);
	assert_int_equal(g->autopilot.max_trailing_logs, 250);
	assert_int_equal(g->autopilot.modify_index, 0);
	/* but a version 2 header on three sections is not */
	snap[4] = 2;
	assert_int_equal(fsm_restore(h, snap, sn), -EINVAL);
	snap[4] = 4;
	assert_int_equal(fsm_restore(h, snap, sn), -EINVAL);
	snap[4] = 3;
	/* and a version 1 (bare KV) snapshot too */
	apply(g, 20, &c, true);
	assert_int_equal(fsm_restore(g, k, kln), 0);
	assert_int_equal(kv_count(g->kv), 1);
	assert_int_equal(g->autopilot.modify_index, 0);
	free(v2);
	free(k);
	free(cat);
	free(snap);
	fsm_free(h);
	fsm_free(g);
	fsm_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_codec),
		cmocka_unit_test(test_codec_rejects),
		cmocka_unit_test(test_apply_cas),
		cmocka_unit_test(test_snapshots),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
