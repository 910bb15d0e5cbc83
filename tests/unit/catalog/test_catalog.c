/* The catalog state machine: Consul's register/deregister rules, table and
 * service indexes, the command codec (round trips, canonical bytes, every
 * truncation and byte mutation of valid commands), snapshots (round trip,
 * corruption), and the fsm that puts KV and catalog on one log. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "catalog/catalog.h"
#include "fsm/fsm.h"

/* ---- helpers ---- */

static const struct catalog_pair TAGGED[] = { { "lan", "10.0.0.1" }, { "wan", "1.2.3.4" } };
static const struct catalog_pair META[] = { { "env", "prod" } };
static const char *const TAGS[] = { "v1", "Primary" };

static struct catalog_service web(uint32_t port)
{
	return (struct catalog_service){ .id = "web1", .service = "web", .address = "",
		                         .tags = TAGS, .ntags = 2, .meta = META, .nmeta = 1,
		                         .port = port, .weight_passing = 1, .weight_warning = 1 };
}

static struct catalog_check check(const char *id, const char *sid, enum catalog_status st)
{
	return (struct catalog_check){ .check_id = id, .name = id, .notes = "", .output = "out",
		                       .service_id = sid, .type = "", .status = st };
}

static struct catalog_cmd reg(const char *node, const struct catalog_service *s,
                              const struct catalog_check *k, size_t nk)
{
	return (struct catalog_cmd){ .op = CATALOG_OP_REGISTER,
		                     .node = { .id = "", .node = node, .address = "10.0.0.1",
		                               .datacenter = "dc1", .tagged = TAGGED, .ntagged = 2,
		                               .meta = META, .nmeta = 1 },
		                     .service = s, .checks = k, .nchecks = nk };
}

static struct catalog_cmd dereg(const char *node, const char *sid, const char *cid)
{
	return (struct catalog_cmd){ .op = CATALOG_OP_DEREGISTER, .node = { .node = node },
		                     .dereg_service_id = sid, .dereg_check_id = cid };
}

static size_t encode(const struct catalog_cmd *c, uint8_t **out)
{
	size_t n = catalog_cmd_encode(c, NULL, 0);
	assert_true(n > 0);
	*out = malloc(n);
	assert_non_null(*out);
	assert_int_equal(catalog_cmd_encode(c, *out, n), n);
	return n;
}

/* Applies cmd at index; returns the refusal text ("" when accepted). */
static const char *apply(struct catalog *c, uint64_t index, const struct catalog_cmd *cmd)
{
	static char err[256];
	uint8_t *b;
	size_t n = encode(cmd, &b);
	assert_int_equal(catalog_apply(c, index, b, n, err, sizeof(err)), 0);
	assert_int_equal(catalog_applied(c), index);
	free(b);
	return err;
}

static const struct catalog_check *find_check(const struct catalog *c, const char *node,
                                              const char *id)
{
	long p = catalog_node_find(c, node);
	for (size_t i = 0; p >= 0 && i < catalog_check_count(c, (size_t)p); i++)
		if (strcmp(catalog_check_at(c, (size_t)p, i)->check_id, id) == 0)
			return catalog_check_at(c, (size_t)p, i);
	return NULL;
}

/* ---- register ---- */

static void test_register(void **st)
{
	(void)st;
	struct catalog *c = catalog_new();
	struct catalog_service s = web(80);
	struct catalog_check k[2] = { check("web-ok", "web1", CATALOG_PASSING),
		                      check("disk", "", CATALOG_WARNING) };
	struct catalog_cmd r = reg("n1", &s, k, 2);
	assert_string_equal(apply(c, 5, &r), "");
	assert_int_equal(catalog_node_count(c), 1);
	const struct catalog_node *n = catalog_node_at(c, 0);
	assert_string_equal(n->node, "n1");
	assert_int_equal(n->create_index, 5);
	assert_int_equal(n->ntagged, 2);
	assert_string_equal(n->tagged[1].value, "1.2.3.4");
	assert_int_equal(catalog_service_count(c, 0), 1);
	assert_int_equal(catalog_service_at(c, 0, 0)->port, 80);
	/* checks sorted by ID; the service check gets the service's name and tags */
	assert_int_equal(catalog_check_count(c, 0), 2);
	assert_string_equal(catalog_check_at(c, 0, 0)->check_id, "disk");
	const struct catalog_check *wk = find_check(c, "n1", "web-ok");
	assert_string_equal(wk->service_name, "web");
	assert_int_equal(wk->nservice_tags, 2);
	assert_string_equal(wk->service_tags[1], "Primary");
	assert_string_equal(wk->node, "n1");
	assert_int_equal(catalog_nodes_index(c), 5);
	assert_int_equal(catalog_services_index(c), 5);
	assert_int_equal(catalog_checks_index(c), 5);
	assert_int_equal(catalog_service_index(c, "web"), 5);

	/* the same registration again changes nothing */
	assert_string_equal(apply(c, 6, &r), "");
	assert_int_equal(catalog_index(c), 5);
	assert_int_equal(catalog_node_at(c, 0)->modify_index, 5);

	/* a changed service keeps CreateIndex; node and checks untouched */
	s.port = 81;
	assert_string_equal(apply(c, 7, &r), "");
	assert_int_equal(catalog_service_at(c, 0, 0)->create_index, 5);
	assert_int_equal(catalog_service_at(c, 0, 0)->modify_index, 7);
	assert_int_equal(catalog_nodes_index(c), 5);
	assert_int_equal(catalog_services_index(c), 7);
	assert_int_equal(catalog_checks_index(c), 5);
	assert_int_equal(catalog_service_index(c, "web"), 7);

	/* a node check's change moves the index of the node's services */
	k[1].status = CATALOG_CRITICAL;
	struct catalog_cmd only = reg("n1", NULL, &k[1], 1);
	assert_string_equal(apply(c, 8, &only), "");
	assert_int_equal(find_check(c, "n1", "disk")->modify_index, 8);
	assert_int_equal(find_check(c, "n1", "disk")->create_index, 5);
	assert_int_equal(catalog_service_index(c, "web"), 8);
	assert_int_equal(catalog_nodes_index(c), 5);
	catalog_free(c);
}

static void test_register_refused(void **st)
{
	(void)st;
	struct catalog *c = catalog_new();
	struct catalog_check k = check("c", "nosuch", CATALOG_PASSING);
	struct catalog_cmd r = reg("n1", NULL, &k, 1);
	assert_string_equal(apply(c, 3, &r), "Missing service registration");
	assert_int_equal(catalog_node_count(c), 0);
	assert_int_equal(catalog_index(c), 0);

	/* an ID used by another node name */
	struct catalog_cmd a = reg("a", NULL, NULL, 0);
	a.node.id = "11111111-2222-3333-4444-555555555555";
	assert_string_equal(apply(c, 4, &a), "");
	a.node.node = "b";
	assert_string_equal(apply(c, 5, &a),
	                    "Node name b is reserved by node 11111111-2222-3333-4444-555555555555 "
	                    "with name a");
	assert_int_equal(catalog_node_count(c), 1);
	assert_int_equal(catalog_applied(c), 5);
	assert_int_equal(catalog_index(c), 4);

	/* index order and undecodable commands */
	uint8_t junk[] = { CATALOG_CMD_TAG, 1, 9 };
	assert_int_equal(catalog_apply(c, 5, junk, sizeof(junk), NULL, 0), -ERANGE);
	assert_int_equal(catalog_apply(c, 6, junk, sizeof(junk), NULL, 0), -EINVAL);
	assert_int_equal(catalog_applied(c), 6);
	assert_int_equal(catalog_index(c), 4);
	catalog_free(c);
}

/* Re-registering a node while the node array grows (a fuzzer find: the
 * record pointer must be taken after the array is grown). */
static void test_register_growth(void **st)
{
	(void)st;
	struct catalog *c = catalog_new();
	struct catalog_service s = web(1);
	struct catalog_check k = check("web-ok", "web1", CATALOG_PASSING);
	char name[16];
	uint64_t idx = 1;
	for (uint32_t i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "n%02u", i);
		struct catalog_cmd r = reg(name, NULL, NULL, 0);
		assert_string_equal(apply(c, idx++, &r), "");
		s.port = i + 2;
		r = reg("n00", &s, &k, 1);
		r.node.address = i % 2 ? "10.0.0.1" : "10.0.0.2";
		assert_string_equal(apply(c, idx++, &r), "");
		assert_int_equal(catalog_service_at(c, 0, 0)->port, i + 2);
	}
	assert_int_equal(catalog_node_count(c), 40);
	assert_int_equal(catalog_service_index(c, "web"), idx - 1);
	catalog_free(c);
}

/* ---- deregister ---- */

static void test_deregister(void **st)
{
	(void)st;
	struct catalog *c = catalog_new();
	struct catalog_service s = web(80), s2 = web(90);
	s2.id = "web2";
	struct catalog_check k[3] = { check("web-ok", "web1", CATALOG_PASSING),
		                      check("web2-ok", "web2", CATALOG_PASSING),
		                      check("serfHealth", "", CATALOG_PASSING) };
	struct catalog_cmd r1 = reg("n1", &s, k, 1), r2 = reg("n1", &s2, &k[1], 2);
	apply(c, 2, &r1);
	apply(c, 3, &r2);
	struct catalog_cmd other = reg("n2", &s, NULL, 0);
	apply(c, 4, &other);
	assert_int_equal(catalog_service_index(c, "web"), 4);

	/* absent targets: no-ops */
	struct catalog_cmd d = dereg("zz", "", "");
	apply(c, 5, &d);
	d = dereg("n1", "nosvc", "");
	apply(c, 6, &d);
	d = dereg("n1", "", "nochk");
	apply(c, 7, &d);
	assert_int_equal(catalog_index(c), 4);

	/* one check */
	d = dereg("n1", "", "serfHealth");
	apply(c, 8, &d);
	assert_null(find_check(c, "n1", "serfHealth"));
	assert_int_equal(catalog_checks_index(c), 8);
	assert_int_equal(catalog_service_index(c, "web"), 8);

	/* one service takes its checks along */
	d = dereg("n1", "web1", "");
	apply(c, 9, &d);
	assert_null(find_check(c, "n1", "web-ok"));
	assert_non_null(find_check(c, "n1", "web2-ok"));
	assert_int_equal(catalog_service_count(c, 0), 1);
	assert_int_equal(catalog_services_index(c), 9);

	/* a node takes everything; the name survives while n2 has it */
	d = dereg("n1", "", "");
	apply(c, 10, &d);
	assert_int_equal(catalog_node_count(c), 1);
	assert_int_equal(catalog_nodes_index(c), 10);
	assert_int_equal(catalog_service_index(c, "web"), 10);
	/* the last instance: the name's index becomes the extinction index,
	 * which never goes backwards */
	d = dereg("n2", "web1", "");
	apply(c, 11, &d);
	assert_int_equal(catalog_service_index(c, "web"), 11);
	assert_int_equal(catalog_service_index(c, "never"), 11);
	assert_int_equal(catalog_service_count(c, 0), 0);
	catalog_free(c);
}

/* ---- codec ---- */

static size_t sample(uint8_t **out)
{
	static struct catalog_service s;
	static struct catalog_check k[2];
	s = web(8080);
	k[0] = check("web-ok", "web1", CATALOG_WARNING);
	k[1] = check("serfHealth", "", CATALOG_CRITICAL);
	struct catalog_cmd r = reg("node-a", &s, k, 2);
	r.node.id = "11111111-2222-3333-4444-555555555555";
	return encode(&r, out);
}

static void test_codec_roundtrip(void **st)
{
	(void)st;
	uint8_t *b;
	size_t n = sample(&b);
	assert_int_equal(b[0], CATALOG_CMD_TAG);
	struct catalog_decoded d;
	assert_int_equal(catalog_cmd_decode(b, n, &d), 0);
	assert_string_equal(d.cmd.node.node, "node-a");
	assert_int_equal(d.cmd.service->port, 8080);
	assert_int_equal(d.cmd.nchecks, 2);
	assert_int_equal(d.cmd.checks[0].status, CATALOG_WARNING);
	uint8_t *b2;
	size_t n2 = encode(&d.cmd, &b2);
	assert_int_equal(n2, n);
	assert_memory_equal(b, b2, n);
	catalog_cmd_free(&d);
	free(b2);

	struct catalog_cmd dr = dereg("x", "svc", "");
	n2 = encode(&dr, &b2);
	assert_int_equal(catalog_cmd_decode(b2, n2, &d), 0);
	assert_string_equal(d.cmd.dereg_service_id, "svc");
	catalog_cmd_free(&d);
	free(b2);
	free(b);
}

static void test_codec_rejects(void **st)
{
	(void)st;
	/* commands that break the rules do not encode */
	struct catalog_cmd r = reg("", NULL, NULL, 0);
	assert_int_equal(catalog_cmd_encode(&r, NULL, 0), 0);
	r = reg("n", NULL, NULL, 0);
	r.node.address = "";
	assert_int_equal(catalog_cmd_encode(&r, NULL, 0), 0);
	static const struct catalog_pair unsorted[] = { { "b", "1" }, { "a", "2" } };
	r = reg("n", NULL, NULL, 0);
	r.node.meta = unsorted;
	r.node.nmeta = 2;
	assert_int_equal(catalog_cmd_encode(&r, NULL, 0), 0);
	struct catalog_cmd d = dereg("n", "s", "c");
	assert_int_equal(catalog_cmd_encode(&d, NULL, 0), 0);
	struct catalog_service s = web(70000);
	r = reg("n", &s, NULL, 0);
	assert_int_equal(catalog_cmd_encode(&r, NULL, 0), 0);

	uint8_t *b;
	size_t n = sample(&b);
	struct catalog_decoded dec;
	/* every truncation, and trailing bytes */
	for (size_t i = 0; i < n; i++)
		assert_int_equal(catalog_cmd_decode(b, i, &dec), -EINVAL);
	uint8_t *longer = malloc(n + 1);
	memcpy(longer, b, n);
	longer[n] = 0;
	assert_int_equal(catalog_cmd_decode(longer, n + 1, &dec), -EINVAL);
	free(longer);
	/* every byte mutated to a few values: an error, or a command whose
	 * encoding is exactly the mutated bytes (canonical) */
	static const uint8_t vals[] = { 0x00, 0x01, 0x02, 0x04, 0x43, 0x7f, 0x80, 0xff };
	size_t accepted = 0;
	for (size_t i = 0; i < n; i++) {
		for (size_t v = 0; v < sizeof(vals); v++) {
			uint8_t save = b[i];
			if (vals[v] == save)
				continue;
			b[i] = vals[v];
			int rc = catalog_cmd_decode(b, n, &dec);
			if (rc == 0) {
				accepted++;
				uint8_t *again;
				size_t m = encode(&dec.cmd, &again);
				assert_int_equal(m, n);
				assert_memory_equal(again, b, n);
				free(again);
				catalog_cmd_free(&dec);
			} else {
				assert_int_equal(rc, -EINVAL);
			}
			b[i] = save;
		}
	}
	assert_true(accepted > 0);   /* e.g. changed letters in strings */
	/* specific bad bytes: version, op, status, bool, non-minimal varint */
	uint8_t bad1[] = { CATALOG_CMD_TAG, 2, 2, 1, 'n', 0, 0 };
	assert_int_equal(catalog_cmd_decode(bad1, sizeof(bad1), &dec), -EINVAL);
	uint8_t bad2[] = { CATALOG_CMD_TAG, 1, 3, 1, 'n', 0, 0 };
	assert_int_equal(catalog_cmd_decode(bad2, sizeof(bad2), &dec), -EINVAL);
	uint8_t good[] = { CATALOG_CMD_TAG, 1, 2, 1, 'n', 0, 0 };
	assert_int_equal(catalog_cmd_decode(good, sizeof(good), &dec), 0);
	catalog_cmd_free(&dec);
	uint8_t nonmin[] = { CATALOG_CMD_TAG, 1, 2, 0x81, 0x00, 'n', 0, 0 };
	assert_int_equal(catalog_cmd_decode(nonmin, sizeof(nonmin), &dec), -EINVAL);
	uint8_t nul[] = { CATALOG_CMD_TAG, 1, 2, 1, 0, 0, 0 };
	assert_int_equal(catalog_cmd_decode(nul, sizeof(nul), &dec), -EINVAL);
	free(b);
}

/* ---- snapshots ---- */

static struct catalog *populated(void)
{
	struct catalog *c = catalog_new();
	struct catalog_service s = web(80);
	struct catalog_check k[2] = { check("web-ok", "web1", CATALOG_PASSING),
		                      check("serfHealth", "", CATALOG_CRITICAL) };
	char name[16];
	uint64_t idx = 1;
	for (int i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "node%02d", i);
		struct catalog_cmd r = reg(name, i % 3 ? &s : NULL, i % 3 ? k : &k[1], i % 3 ? 2 : 1);
		apply(c, idx++, &r);
	}
	struct catalog_cmd d = dereg("node05", "", "");
	apply(c, idx++, &d);
	return c;
}

static void test_snapshot(void **st)
{
	(void)st;
	struct catalog *c = populated();
	uint8_t *snap, *snap2;
	size_t n, n2;
	assert_int_equal(catalog_snapshot(c, &snap, &n), 0);
	struct catalog *r = catalog_new();
	assert_int_equal(catalog_restore(r, snap, n), 0);
	assert_int_equal(catalog_snapshot(r, &snap2, &n2), 0);
	assert_int_equal(n2, n);
	assert_memory_equal(snap, snap2, n);
	assert_int_equal(catalog_node_count(r), 19);
	assert_int_equal(catalog_applied(r), catalog_applied(c));
	assert_int_equal(catalog_service_index(r, "web"), catalog_service_index(c, "web"));
	assert_string_equal(find_check(r, "node01", "web-ok")->service_name, "web");
	/* the restored catalog keeps applying like the original */
	struct catalog_cmd d = dereg("node01", "web1", "");
	apply(r, 100, &d);
	apply(c, 100, &d);
	free(snap2);
	assert_int_equal(catalog_snapshot(r, &snap2, &n2), 0);
	uint8_t *snap3;
	size_t n3;
	assert_int_equal(catalog_snapshot(c, &snap3, &n3), 0);
	assert_int_equal(n2, n3);
	assert_memory_equal(snap2, snap3, n2);
	free(snap2);
	free(snap3);

	/* every flipped byte and every truncation is refused, leaving r as is */
	uint64_t before = catalog_applied(r);
	for (size_t i = 0; i < n; i += 7) {
		snap[i] ^= 0x20;
		assert_int_equal(catalog_restore(r, snap, n), -EINVAL);
		snap[i] ^= 0x20;
	}
	for (size_t i = 0; i < n; i += 5)
		assert_int_equal(catalog_restore(r, snap, i), -EINVAL);
	assert_int_equal(catalog_applied(r), before);
	free(snap);
	catalog_free(r);
	catalog_free(c);
}

/* ---- fsm: one log, one snapshot ---- */

static void test_fsm(void **st)
{
	(void)st;
	struct fsm *f = fsm_new();
	struct kv_cmd kc = { .op = KV_OP_SET, .key = "a", .key_len = 1,
		             .value = (const uint8_t *)"x", .value_len = 1 };
	uint8_t kb[64];
	size_t kn = kv_cmd_encode(&kc, kb, sizeof(kb));
	bool result = false;
	char err[128];
	assert_int_equal(fsm_apply(f, 1, kb, kn, &result, err, sizeof(err)), 0);
	assert_true(result);
	uint8_t *cb;
	struct catalog_cmd r = reg("n1", NULL, NULL, 0);
	size_t cn = encode(&r, &cb);
	assert_int_equal(fsm_cmd_check(cb, cn), 0);
	assert_int_equal(fsm_cmd_check(kb, kn), 0);
	assert_int_equal(fsm_apply(f, 2, cb, cn, &result, err, sizeof(err)), 0);
	assert_true(result);
	struct catalog_check k = check("c", "nosvc", CATALOG_PASSING);
	struct catalog_cmd bad = reg("n1", NULL, &k, 1);
	uint8_t *bb;
	size_t bn = encode(&bad, &bb);
	assert_int_equal(fsm_apply(f, 3, bb, bn, &result, err, sizeof(err)), 0);
	assert_false(result);
	assert_string_equal(err, "Missing service registration");
	assert_int_equal(kv_count(f->kv), 1);
	assert_int_equal(catalog_node_count(f->catalog), 1);

	/* version 2 round trip */
	uint8_t *snap;
	size_t sn;
	assert_int_equal(fsm_snapshot(f, &snap, &sn), 0);
	assert_memory_equal(snap, "CCSM", 4);
	assert_int_equal(snap[4], FSM_SNAP_VERSION);
	struct fsm *g = fsm_new();
	assert_int_equal(fsm_restore(g, snap, sn), 0);
	assert_int_equal(kv_count(g->kv), 1);
	assert_int_equal(catalog_node_count(g->catalog), 1);
	/* bad bytes leave both machines as they were */
	snap[sn - 1] ^= 1;
	assert_int_equal(fsm_restore(g, snap, sn), -EINVAL);
	assert_int_equal(fsm_restore(g, snap, sn - 3), -EINVAL);
	assert_int_equal(catalog_node_count(g->catalog), 1);
	free(snap);

	/* an old KV-only snapshot still restores, with an empty catalog */
	uint8_t *old;
	size_t on;
	assert_int_equal(kv_snapshot(f->kv, &old, &on), 0);
	assert_int_equal(fsm_restore(g, old, on), 0);
	assert_int_equal(kv_count(g->kv), 1);
	assert_int_equal(catalog_node_count(g->catalog), 0);
	free(old);
	free(cb);
	free(bb);
	fsm_free(g);
	fsm_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_register),
		cmocka_unit_test(test_register_refused),
		cmocka_unit_test(test_register_growth),
		cmocka_unit_test(test_deregister),
		cmocka_unit_test(test_codec_roundtrip),
		cmocka_unit_test(test_codec_rejects),
		cmocka_unit_test(test_snapshot),
		cmocka_unit_test(test_fsm),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
