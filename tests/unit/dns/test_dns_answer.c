/* Consul's DNS answers from a small catalog: node A (+TXT from node meta),
 * service A and SRV with health filtering and weights, tags, RFC 2782 names,
 * NXDOMAIN + SOA, SERVFAIL outside the domain and for other datacenters,
 * the UDP answer limit and the size limit, the shuffle, case-insensitive
 * names, names with '_', addr names, SOA/NS, EDNS0, FORMERR and NOTIMP. */
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
#include "dns/dns_answer.h"

/* ---- the catalog ---- */

static uint64_t next_index = 1;

static void apply(struct catalog *c, const struct catalog_cmd *cmd)
{
	size_t n = catalog_cmd_encode(cmd, NULL, 0);
	assert_true(n > 0);
	uint8_t *b = malloc(n);
	assert_int_equal(catalog_cmd_encode(cmd, b, n), n);
	char err[256];
	assert_int_equal(catalog_apply(c, next_index++, b, n, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	free(b);
}

/* Registers node (address addr, optional meta) with one service and its
 * check (status 0: no check). */
static void reg(struct catalog *c, const char *node, const char *addr,
                const struct catalog_pair *meta, size_t nmeta, const char *sid, const char *svc,
                const char *svc_addr, uint32_t port, const char *const *tags, size_t ntags,
                enum catalog_status st)
{
	struct catalog_service s = { .id = sid, .service = svc, .address = svc_addr, .tags = tags,
		                     .ntags = ntags, .port = port, .weight_passing = 10,
		                     .weight_warning = 3 };
	struct catalog_check k = { .check_id = "svc-check", .name = "svc", .notes = "", .output = "",
		                   .service_id = sid, .type = "", .status = st };
	struct catalog_cmd cmd = { .op = CATALOG_OP_REGISTER,
		                   .node = { .id = "", .node = node, .address = addr,
		                             .datacenter = "dc1", .meta = meta, .nmeta = nmeta },
		                   .service = sid ? &s : NULL, .checks = &k, .nchecks = st ? 1 : 0 };
	apply(c, &cmd);
}

/* A node-level check (no service). */
static void node_check(struct catalog *c, const char *node, const char *addr,
                       enum catalog_status st)
{
	struct catalog_check k = { .check_id = "serfHealth", .name = "Serf Health Status",
		                   .notes = "", .output = "", .service_id = "", .type = "",
		                   .status = st };
	struct catalog_cmd cmd = { .op = CATALOG_OP_REGISTER,
		                   .node = { .id = "", .node = node, .address = addr,
		                             .datacenter = "dc1" },
		                   .checks = &k, .nchecks = 1 };
	apply(c, &cmd);
}

static const struct catalog_pair META[] = {
	{ " sp=ce", "a`b" }, { "env", "prod" }, { "rfc1035-raw", "just the value" },
};
static const char *const V1[] = { "v1", "Primary" };
static const char *const V2[] = { "v2" };

static struct catalog *cat;

static int setup(void **st)
{
	(void)st;
	cat = catalog_new();
	assert_non_null(cat);
	/* the seed's servers; node2_201's name is not DNS-safe */
	reg(cat, "node2_201", "51.6.196.201", META, 3, "consul", "consul", "", 8300, NULL, 0, 0);
	reg(cat, "node3_211", "51.6.196.211", NULL, 0, "consul", "consul", "", 8300, NULL, 0, 0);
	/* web: passing on node2_201, critical on node3_211 */
	reg(cat, "node2_201", "51.6.196.201", META, 3, "web", "web", "", 80, V1, 2, CATALOG_PASSING);
	reg(cat, "node3_211", "51.6.196.211", NULL, 0, "web", "web", "", 8080, V2, 1,
	    CATALOG_CRITICAL);
	/* api: five healthy instances, one warning, one on a node whose serfHealth
	 * is critical (dropped) */
	char name[32], addr[32];
	for (int i = 1; i <= 6; i++) {
		snprintf(name, sizeof(name), "api-%d", i);
		snprintf(addr, sizeof(addr), "10.0.1.%d", i);
		reg(cat, name, addr, NULL, 0, "api", "api", "", 9000 + (uint32_t)i, NULL, 0,
		    i == 2 ? CATALOG_WARNING : CATALOG_PASSING);
	}
	node_check(cat, "api-6", "10.0.1.6", CATALOG_CRITICAL);
	/* a mixed-case node; a service with its own IP; one with a host name */
	reg(cat, "Web-Host", "10.0.0.5", NULL, 0, "cache", "Cache", "10.9.9.9", 6379, NULL, 0, 0);
	reg(cat, "ext", "10.0.0.6", NULL, 0, "db", "db", "db.example.com", 5432, NULL, 0, 0);
	reg(cat, "v6", "2001:db8::1", NULL, 0, NULL, NULL, NULL, 0, NULL, 0, 0);
	return 0;
}

static int teardown(void **st)
{
	(void)st;
	catalog_free(cat);
	return 0;
}

/* ---- asking ---- */

struct logged {
	char lines[8][256];
	int n;
};
static struct logged logs;

static void on_log(void *ud, enum dns_log_level lvl, const char *msg, const char *key,
                   const char *value)
{
	(void)ud;
	if (logs.n < 8)
		snprintf(logs.lines[logs.n++], sizeof(logs.lines[0]), "%s %s%s%s%s%s",
		         lvl == DNS_LOG_ERROR ? "ERROR" : lvl == DNS_LOG_WARN ? "WARN" : "DEBUG", msg,
		         key ? ": " : "", key ? key : "", key ? "=" : "", key ? value : "");
}

static uint64_t seed = 1;
static uint32_t rnd(void *ud)
{
	(void)ud;
	seed = seed * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(seed >> 33);
}

static struct dns_answer_config config(bool udp)
{
	return (struct dns_answer_config){ .domain = DNS_DOMAIN_DEFAULT, .datacenter = "dc1",
		                           .now = 1700000000, .udp = udp,
		                           .udp_answer_limit = DNS_UDP_ANSWER_LIMIT, .rand = rnd,
		                           .log = on_log };
}

/* The query as a client sends it: encoded, then parsed as the server would. */
static void make_query(struct dns_msg *q, const char *name, uint16_t type, uint16_t edns)
{
	struct dns_msg m = { .h = { .id = 4242, .rd = true } };
	assert_int_equal(dns_msg_add_question(&m, name, type, DNS_CLASS_IN), 0);
	if (edns)
		assert_non_null(dns_msg_add_rr(&m, DNS_ADDITIONAL, ".", DNS_TYPE_OPT, edns, 0));
	uint8_t buf[512];
	size_t n;
	assert_int_equal(dns_msg_encode(&m, buf, sizeof(buf), &n), 0);
	dns_msg_free(&m);
	assert_int_equal(dns_msg_parse(buf, n, q), 0);
}

/* Builds the answer, packs it within the query's limit and parses it back:
 * what the client gets. */
static void ask_cfg(struct dns_msg *r, const char *name, uint16_t type,
                    const struct dns_answer_config *cfg, uint16_t edns)
{
	struct dns_msg q, resp;
	make_query(&q, name, type, edns);
	logs.n = 0;
	assert_int_equal(dns_answer_build(&q, cat, cfg, &resp), 0);
	size_t limit = dns_answer_size_limit(&q, cfg->udp), n;
	uint8_t *buf = malloc(limit);
	assert_int_equal(dns_answer_pack(&resp, limit, buf, limit, &n), 0);
	assert_true(n <= limit);
	assert_int_equal(dns_msg_parse(buf, n, r), 0);
	assert_true(dns_msg_same(&resp, r));
	free(buf);
	dns_msg_free(&resp);
	dns_msg_free(&q);
	/* a reply: same id, question echoed, RD kept */
	assert_int_equal(r->h.id, 4242);
	assert_true(r->h.qr);
	assert_true(r->h.rd);
	assert_false(r->h.ra);
	assert_int_equal(r->nqd, 1);
	assert_string_equal(r->qd[0].name, name);
}

static void ask(struct dns_msg *r, const char *name, uint16_t type)
{
	struct dns_answer_config cfg = config(true);
	ask_cfg(r, name, type, &cfg, 0);
}

static const struct dns_rr *an(const struct dns_msg *r, size_t i)
{
	assert_true(i < r->nrr[DNS_ANSWER]);
	return &r->rr[DNS_ANSWER][i];
}

static void assert_a(const struct dns_rr *rr, const char *owner, const char *ip)
{
	char got[32];
	assert_int_equal(rr->type, DNS_TYPE_A);
	assert_int_equal(rr->rclass, DNS_CLASS_IN);
	assert_int_equal(rr->ttl, 0);
	snprintf(got, sizeof(got), "%u.%u.%u.%u", rr->addr[0], rr->addr[1], rr->addr[2], rr->addr[3]);
	assert_string_equal(got, ip);
	assert_string_equal(rr->name, owner);
}

static void assert_nxdomain_soa(const struct dns_msg *r)
{
	assert_int_equal(r->h.rcode, DNS_RCODE_NXDOMAIN);
	assert_true(r->h.aa);
	assert_int_equal(r->nrr[DNS_ANSWER], 0);
	assert_int_equal(r->nrr[DNS_AUTHORITY], 1);
	const struct dns_rr *soa = &r->rr[DNS_AUTHORITY][0];
	assert_int_equal(soa->type, DNS_TYPE_SOA);
	assert_string_equal(soa->name, "consul.");
	assert_string_equal(soa->target, "ns.consul.");
	assert_string_equal(soa->rname, "hostmaster.consul.");
	assert_int_equal(soa->serial, 1700000000);
	assert_int_equal(soa->refresh, 3600);
	assert_int_equal(soa->retry, 600);
	assert_int_equal(soa->expire, 86400);
	assert_int_equal(soa->minimum, 0);
	assert_int_equal(soa->ttl, 0);
}

/* TXT RDATA holding exactly one character string s. */
static void assert_txt(const struct dns_rr *rr, const char *s)
{
	assert_int_equal(rr->type, DNS_TYPE_TXT);
	assert_int_equal(rr->rdlen, strlen(s) + 1);
	assert_int_equal(rr->rdata[0], strlen(s));
	assert_memory_equal(rr->rdata + 1, s, strlen(s));
}

/* ---- nodes ---- */

static void test_node_a(void **st)
{
	(void)st;
	struct dns_msg r;
	ask(&r, "node3_211.node.consul.", DNS_TYPE_A);
	assert_int_equal(r.h.rcode, DNS_RCODE_NOERROR);
	assert_true(r.h.aa);
	assert_int_equal(r.nrr[DNS_ANSWER], 1);
	assert_a(an(&r, 0), "node3_211.node.consul.", "51.6.196.211");
	assert_int_equal(r.nrr[DNS_ADDITIONAL], 0);   /* no meta */
	dns_msg_free(&r);
	/* the datacenter may be named; '_' in the name is fine */
	ask(&r, "node2_201.node.dc1.consul.", DNS_TYPE_A);
	assert_a(an(&r, 0), "node2_201.node.dc1.consul.", "51.6.196.201");
	dns_msg_free(&r);
}

static void test_node_meta_txt(void **st)
{
	(void)st;
	struct dns_msg r;
	/* A: the meta goes to the additional section, RFC 1464 encoded */
	ask(&r, "node2_201.node.consul.", DNS_TYPE_A);
	assert_int_equal(r.nrr[DNS_ANSWER], 1);
	assert_int_equal(r.nrr[DNS_ADDITIONAL], 3);
	assert_txt(&r.rr[DNS_ADDITIONAL][0], "` sp`=ce=a``b");
	assert_txt(&r.rr[DNS_ADDITIONAL][1], "env=prod");
	assert_txt(&r.rr[DNS_ADDITIONAL][2], "just the value");   /* rfc1035- key */
	assert_string_equal(r.rr[DNS_ADDITIONAL][1].name, "node2_201.node.consul.");
	dns_msg_free(&r);
	/* TXT: in the answer, without the address */
	ask(&r, "node2_201.node.consul.", DNS_TYPE_TXT);
	assert_int_equal(r.nrr[DNS_ANSWER], 3);
	assert_txt(an(&r, 1), "env=prod");
	dns_msg_free(&r);
	/* ANY over TCP (no answer limit): both */
	struct dns_answer_config tcp = config(false);
	ask_cfg(&r, "node2_201.node.consul.", DNS_TYPE_ANY, &tcp, 0);
	assert_int_equal(r.nrr[DNS_ANSWER], 4);
	assert_a(an(&r, 0), "node2_201.node.consul.", "51.6.196.201");
	dns_msg_free(&r);
}

static void test_node_unknown(void **st)
{
	(void)st;
	struct dns_msg r;
	ask(&r, "node9.node.consul.", DNS_TYPE_A);
	assert_nxdomain_soa(&r);
	assert_int_equal(logs.n, 0);
	dns_msg_free(&r);
}

static void test_case_insensitive(void **st)
{
	(void)st;
	struct dns_msg r;
	ask(&r, "NODE3_211.Node.CONSUL.", DNS_TYPE_A);
	assert_int_equal(r.h.rcode, DNS_RCODE_NOERROR);
	assert_a(an(&r, 0), "NODE3_211.Node.CONSUL.", "51.6.196.211");   /* the name as asked */
	dns_msg_free(&r);
	/* a catalog name with capitals, asked in lower case */
	ask(&r, "web-host.node.consul.", DNS_TYPE_A);
	assert_a(an(&r, 0), "web-host.node.consul.", "10.0.0.5");
	dns_msg_free(&r);
	/* service names and tags too */
	ask(&r, "CACHE.service.consul.", DNS_TYPE_A);
	assert_int_equal(r.nrr[DNS_ANSWER], 1);
	dns_msg_free(&r);
	ask(&r, "primary.web.service.consul.", DNS_TYPE_A);
	assert_int_equal(r.nrr[DNS_ANSWER], 1);
	dns_msg_free(&r);
}

static void test_node_ipv6_and_nodata(void **st)
{
	(void)st;
	struct dns_msg r;
	ask(&r, "v6.node.consul.", DNS_TYPE_AAAA);
	assert_int_equal(r.nrr[DNS_ANSWER], 1);
	assert_int_equal(an(&r, 0)->type, DNS_TYPE_AAAA);
	assert_int_equal(an(&r, 0)->addr[0], 0x20);
	assert_int_equal(an(&r, 0)->addr[15], 1);
	dns_msg_free(&r);
	/* A of an IPv6-only node: NOERROR without answers, SOA for the negative TTL */
	ask(&r, "v6.node.consul.", DNS_TYPE_A);
	assert_int_equal(r.h.rcode, DNS_RCODE_NOERROR);
	assert_int_equal(r.nrr[DNS_ANSWER], 0);
	assert_int_equal(r.nrr[DNS_AUTHORITY], 1);
	assert_int_equal(r.rr[DNS_AUTHORITY][0].type, DNS_TYPE_SOA);
	dns_msg_free(&r);
}

/* ---- services ---- */

static void test_service_a_health(void **st)
{
	(void)st;
	struct dns_msg r;
	/* node3_211's instance is critical: only node2_201 */
	ask(&r, "web.service.consul.", DNS_TYPE_A);
	assert_int_equal(r.h.rcode, DNS_RCODE_NOERROR);
	assert_true(r.h.aa);
	assert_int_equal(r.nrr[DNS_ANSWER], 1);
	assert_a(an(&r, 0), "web.service.consul.", "51.6.196.201");
	dns_msg_free(&r);
	/* the instance on the node whose serfHealth is critical never shows */
	struct dns_answer_config tcp = config(false);
	ask_cfg(&r, "api.service.consul.", DNS_TYPE_A, &tcp, 0);
	assert_int_equal(r.nrr[DNS_ANSWER], 5);
	for (size_t i = 0; i < 5; i++)
		assert_int_not_equal(an(&r, i)->addr[3], 6);
	dns_msg_free(&r);
	/* the critical one becomes passing: both; then the passing one critical:
	 * only node3_211; then both critical: NXDOMAIN */
	reg(cat, "node3_211", "51.6.196.211", NULL, 0, "web", "web", "", 8080, V2, 1,
	    CATALOG_PASSING);
	ask(&r, "web.service.consul.", DNS_TYPE_A);
	assert_int_equal(r.nrr[DNS_ANSWER], 2);
	dns_msg_free(&r);
	reg(cat, "node2_201", "51.6.196.201", META, 3, "web", "web", "", 80, V1, 2,
	    CATALOG_CRITICAL);
	ask(&r, "web.service.consul.", DNS_TYPE_A);
	assert_int_equal(r.nrr[DNS_ANSWER], 1);
	assert_a(an(&r, 0), "web.service.consul.", "51.6.196.211");
	dns_msg_free(&r);
	reg(cat, "node3_211", "51.6.196.211", NULL, 0, "web", "web", "", 8080, V2, 1,
	    CATALOG_CRITICAL);
	ask(&r, "web.service.consul.", DNS_TYPE_A);
	assert_nxdomain_soa(&r);
	dns_msg_free(&r);
	/* back as setup made it */
	reg(cat, "node2_201", "51.6.196.201", META, 3, "web", "web", "", 80, V1, 2,
	    CATALOG_PASSING);
}

static void test_service_srv(void **st)
{
	(void)st;
	struct dns_msg r;
	ask(&r, "web.service.consul.", DNS_TYPE_SRV);
	assert_int_equal(r.nrr[DNS_ANSWER], 1);
	const struct dns_rr *srv = an(&r, 0);
	assert_int_equal(srv->type, DNS_TYPE_SRV);
	assert_string_equal(srv->name, "web.service.consul.");
	assert_int_equal(srv->priority, 1);
	assert_int_equal(srv->weight, 10);
	assert_int_equal(srv->port, 80);
	assert_string_equal(srv->target, "node2_201.node.dc1.consul.");
	assert_int_equal(r.nrr[DNS_ADDITIONAL], 1);
	assert_a(&r.rr[DNS_ADDITIONAL][0], "node2_201.node.dc1.consul.", "51.6.196.201");
	dns_msg_free(&r);
	/* a warning check: the warning weight */
	struct dns_answer_config tcp = config(false);
	ask_cfg(&r, "api.service.consul.", DNS_TYPE_SRV, &tcp, 0);
	assert_int_equal(r.nrr[DNS_ANSWER], 5);
	assert_int_equal(r.nrr[DNS_ADDITIONAL], 5);
	for (size_t i = 0; i < 5; i++) {
		const struct dns_rr *x = an(&r, i);
		assert_int_equal(x->weight, x->port == 9002 ? 3 : 10);
		char want[64];
		snprintf(want, sizeof(want), "api-%u.node.dc1.consul.", x->port - 9000u);
		assert_string_equal(x->target, want);
	}
	dns_msg_free(&r);
	/* a service with its own IP: the target is HEX.addr.DC.consul. */
	ask(&r, "cache.service.consul.", DNS_TYPE_SRV);
	assert_string_equal(an(&r, 0)->target, "0a090909.addr.dc1.consul.");
	assert_a(&r.rr[DNS_ADDITIONAL][0], "0a090909.addr.dc1.consul.", "10.9.9.9");
	dns_msg_free(&r);
	/* and its A record is that IP, not the node's */
	ask(&r, "cache.service.consul.", DNS_TYPE_A);
	assert_a(an(&r, 0), "cache.service.consul.", "10.9.9.9");
	dns_msg_free(&r);
	/* a host name: CNAME for A, the name itself as SRV target */
	ask(&r, "db.service.consul.", DNS_TYPE_A);
	assert_int_equal(an(&r, 0)->type, DNS_TYPE_CNAME);
	assert_string_equal(an(&r, 0)->target, "db.example.com.");
	dns_msg_free(&r);
	ask(&r, "db.service.consul.", DNS_TYPE_SRV);
	assert_string_equal(an(&r, 0)->target, "db.example.com.");
	assert_int_equal(an(&r, 0)->port, 5432);
	dns_msg_free(&r);
}

static void test_tags(void **st)
{
	(void)st;
	struct dns_msg r;
	ask(&r, "v1.web.service.consul.", DNS_TYPE_A);
	assert_int_equal(r.nrr[DNS_ANSWER], 1);
	assert_a(an(&r, 0), "v1.web.service.consul.", "51.6.196.201");
	dns_msg_free(&r);
	/* v2 is only on the critical instance */
	ask(&r, "v2.web.service.consul.", DNS_TYPE_A);
	assert_nxdomain_soa(&r);
	dns_msg_free(&r);
	ask(&r, "nope.web.service.consul.", DNS_TYPE_A);
	assert_nxdomain_soa(&r);
	dns_msg_free(&r);
	ask(&r, "v1.web.service.dc1.consul.", DNS_TYPE_SRV);
	assert_int_equal(an(&r, 0)->port, 80);
	dns_msg_free(&r);
}

static void test_rfc2782(void **st)
{
	(void)st;
	struct dns_msg r;
	/* _tcp: no tag filter */
	ask(&r, "_web._tcp.service.consul.", DNS_TYPE_SRV);
	assert_int_equal(r.nrr[DNS_ANSWER], 1);
	assert_int_equal(an(&r, 0)->port, 80);
	dns_msg_free(&r);
	ask(&r, "_web._v1.service.consul.", DNS_TYPE_SRV);
	assert_int_equal(r.nrr[DNS_ANSWER], 1);
	dns_msg_free(&r);
	ask(&r, "_web._v2.service.consul.", DNS_TYPE_SRV);
	assert_nxdomain_soa(&r);
	dns_msg_free(&r);
	/* for SRV queries "service" may be left out, with or without a DC */
	ask(&r, "_web._tcp.consul.", DNS_TYPE_SRV);
	assert_int_equal(r.nrr[DNS_ANSWER], 1);
	dns_msg_free(&r);
	ask(&r, "_web._tcp.dc1.consul.", DNS_TYPE_SRV);
	assert_int_equal(r.nrr[DNS_ANSWER], 1);
	assert_string_equal(an(&r, 0)->target, "node2_201.node.dc1.consul.");
	dns_msg_free(&r);
	/* but not for A queries: that is not a name of the grammar */
	ask(&r, "_web._tcp.consul.", DNS_TYPE_A);
	assert_nxdomain_soa(&r);
	assert_int_equal(logs.n, 1);
	dns_msg_free(&r);
}

static void test_udp_limit_and_shuffle(void **st)
{
	(void)st;
	struct dns_msg r;
	/* UDP: 3 of the 5 healthy api instances, SRV targets' A records with them */
	ask(&r, "api.service.consul.", DNS_TYPE_SRV);
	assert_int_equal(r.nrr[DNS_ANSWER], 3);
	assert_int_equal(r.nrr[DNS_ADDITIONAL], 3);
	for (size_t i = 0; i < 3; i++)
		assert_string_equal(r.rr[DNS_ADDITIONAL][i].name, an(&r, i)->target);
	dns_msg_free(&r);
	ask(&r, "api.service.consul.", DNS_TYPE_A);
	assert_int_equal(r.nrr[DNS_ANSWER], 3);
	dns_msg_free(&r);
	/* the limit can be lifted */
	struct dns_answer_config cfg = config(true);
	cfg.udp_answer_limit = 0;
	ask_cfg(&r, "api.service.consul.", DNS_TYPE_A, &cfg, 0);
	assert_int_equal(r.nrr[DNS_ANSWER], 5);
	dns_msg_free(&r);
	/* the order follows the random source: without one, catalog order; with
	 * it, over 60 asks, more than one order and every instance first once */
	cfg.rand = NULL;
	ask_cfg(&r, "api.service.consul.", DNS_TYPE_A, &cfg, 0);
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(an(&r, i)->addr[3], i + 1);
	dns_msg_free(&r);
	cfg.rand = rnd;
	unsigned first_seen = 0;
	for (int k = 0; k < 60; k++) {
		ask_cfg(&r, "api.service.consul.", DNS_TYPE_A, &cfg, 0);
		first_seen |= 1u << an(&r, 0)->addr[3];
		unsigned all = 0;
		for (size_t i = 0; i < 5; i++)
			all |= 1u << an(&r, i)->addr[3];
		assert_int_equal(all, 0x3e);   /* a permutation of .1 to .5 */
		dns_msg_free(&r);
	}
	assert_int_equal(first_seen, 0x3e);
	/* the same seed gives the same order */
	uint8_t order[2][5];
	for (int k = 0; k < 2; k++) {
		seed = 77;
		ask_cfg(&r, "api.service.consul.", DNS_TYPE_A, &cfg, 0);
		for (size_t i = 0; i < 5; i++)
			order[k][i] = an(&r, i)->addr[3];
		dns_msg_free(&r);
	}
	assert_memory_equal(order[0], order[1], 5);
}

static void test_size_limit(void **st)
{
	(void)st;
	/* 40 healthy instances with long node names: over TCP all 40, over UDP
	 * without an answer limit as many as fit in 512 bytes, and with EDNS0
	 * 4096 more of them; every SRV keeps its A record */
	struct catalog *saved = cat;
	cat = catalog_new();
	for (int i = 0; i < 40; i++) {
		char node[64], addr[32];
		snprintf(node, sizeof(node), "a-rather-long-node-name-for-the-size-test-%02d", i);
		snprintf(addr, sizeof(addr), "10.1.0.%d", i + 1);
		reg(cat, node, addr, NULL, 0, "big", "big", "", 1000, NULL, 0, CATALOG_PASSING);
	}
	struct dns_msg r;
	struct dns_answer_config cfg = config(false);
	ask_cfg(&r, "big.service.consul.", DNS_TYPE_SRV, &cfg, 0);
	assert_int_equal(r.nrr[DNS_ANSWER], 40);
	dns_msg_free(&r);
	cfg = config(true);
	cfg.udp_answer_limit = 0;
	ask_cfg(&r, "big.service.consul.", DNS_TYPE_SRV, &cfg, 0);
	size_t small = r.nrr[DNS_ANSWER];
	assert_true(small >= 1 && small < 40);
	assert_int_equal(r.nrr[DNS_ADDITIONAL], small);
	for (size_t i = 0; i < small; i++)
		assert_string_equal(r.rr[DNS_ADDITIONAL][i].name, an(&r, i)->target);
	assert_false(r.h.tc);   /* as Consul (enable_truncate off) */
	dns_msg_free(&r);
	ask_cfg(&r, "big.service.consul.", DNS_TYPE_SRV, &cfg, 4096);
	size_t edns = r.nrr[DNS_ANSWER];
	assert_true(edns > small && edns <= 40);
	assert_int_equal(r.nrr[DNS_ADDITIONAL], edns + 1);   /* + OPT */
	dns_msg_free(&r);
	catalog_free(cat);
	cat = saved;
}

/* ---- rcodes ---- */

static void test_outside_and_invalid(void **st)
{
	(void)st;
	struct dns_msg r;
	/* outside the domain: SERVFAIL, not authoritative, nothing logged */
	ask(&r, "example.com.", DNS_TYPE_A);
	assert_int_equal(r.h.rcode, DNS_RCODE_SERVFAIL);
	assert_false(r.h.aa);
	assert_int_equal(r.nrr[DNS_ANSWER] + r.nrr[DNS_AUTHORITY] + r.nrr[DNS_ADDITIONAL], 0);
	assert_int_equal(logs.n, 0);
	dns_msg_free(&r);
	ask(&r, "notconsul.", DNS_TYPE_A);
	assert_int_equal(r.h.rcode, DNS_RCODE_SERVFAIL);
	dns_msg_free(&r);
	/* names in the domain outside the grammar: NXDOMAIN + SOA, WARN */
	static const char *const bad[] = { "foo.consul.", "consul.", "node.consul.",
		                           "service.consul.", "x.y.node.dc1.extra.consul.",
		                           "zz.addr.consul." };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ask(&r, bad[i], DNS_TYPE_A);
		assert_nxdomain_soa(&r);
		assert_int_equal(logs.n, 1);
		char want[128];
		snprintf(want, sizeof(want), "WARN QName invalid: qname=%s", bad[i]);
		assert_string_equal(logs.lines[0], want);
		dns_msg_free(&r);
	}
	ask(&r, "Foo.CONSUL.", DNS_TYPE_A);
	assert_string_equal(logs.lines[0], "WARN QName invalid: qname=foo.consul.");
	dns_msg_free(&r);
	/* another datacenter: SERVFAIL and Consul's rpc error */
	ask(&r, "node3_211.node.dc2.consul.", DNS_TYPE_A);
	assert_int_equal(r.h.rcode, DNS_RCODE_SERVFAIL);
	assert_string_equal(logs.lines[0], "ERROR rpc error: error=No path to datacenter");
	dns_msg_free(&r);
	/* AXFR: not implemented */
	ask(&r, "consul.", DNS_TYPE_AXFR);
	assert_int_equal(r.h.rcode, DNS_RCODE_NOTIMP);
	dns_msg_free(&r);
}

static void test_addr(void **st)
{
	(void)st;
	struct dns_msg r;
	ask(&r, "0a000001.addr.dc1.consul.", DNS_TYPE_A);
	assert_a(an(&r, 0), "0a000001.addr.dc1.consul.", "10.0.0.1");
	dns_msg_free(&r);
	ask(&r, "20010db8000000000000000000000001.addr.consul.", DNS_TYPE_AAAA);
	assert_int_equal(an(&r, 0)->type, DNS_TYPE_AAAA);
	assert_int_equal(an(&r, 0)->addr[1], 0x01);
	dns_msg_free(&r);
	ask(&r, "0a00000g.addr.consul.", DNS_TYPE_A);
	assert_nxdomain_soa(&r);
	dns_msg_free(&r);
}

static void test_soa_ns(void **st)
{
	(void)st;
	struct dns_msg r;
	/* SOA: the record, then NS for the servers with DNS-safe names only */
	ask(&r, "consul.", DNS_TYPE_SOA);
	assert_int_equal(r.h.rcode, DNS_RCODE_NOERROR);
	assert_int_equal(r.nrr[DNS_ANSWER], 1);
	assert_int_equal(an(&r, 0)->type, DNS_TYPE_SOA);
	assert_int_equal(r.nrr[DNS_AUTHORITY], 0);   /* node2_201 and node3_211: both skipped */
	assert_int_equal(logs.n, 2);
	assert_true(strcmp(logs.lines[0], "WARN Skipping invalid node for NS records: node=node2_201") == 0 ||
	            strcmp(logs.lines[1], "WARN Skipping invalid node for NS records: node=node2_201") == 0);
	dns_msg_free(&r);
	/* a server with a good name is listed, with its address as glue */
	reg(cat, "server-1", "10.0.2.1", NULL, 0, "consul", "consul", "", 8300, NULL, 0, 0);
	ask(&r, "consul.", DNS_TYPE_NS);
	assert_int_equal(r.nrr[DNS_ANSWER], 1);
	assert_int_equal(an(&r, 0)->type, DNS_TYPE_NS);
	assert_string_equal(an(&r, 0)->name, "consul.");
	assert_string_equal(an(&r, 0)->target, "server-1.node.dc1.consul.");
	assert_a(&r.rr[DNS_ADDITIONAL][0], "server-1.node.dc1.consul.", "10.0.2.1");
	dns_msg_free(&r);
	struct catalog_cmd del = { .op = CATALOG_OP_DEREGISTER, .node = { .node = "server-1" } };
	apply(cat, &del);
}

static void test_edns(void **st)
{
	(void)st;
	struct dns_msg r;
	struct dns_answer_config cfg = config(true);
	ask_cfg(&r, "node3_211.node.consul.", DNS_TYPE_A, &cfg, 4096);
	const struct dns_rr *opt = dns_msg_opt(&r);
	assert_non_null(opt);
	assert_int_equal(opt->rclass, 4096);
	dns_msg_free(&r);
	ask_cfg(&r, "node9.node.consul.", DNS_TYPE_A, &cfg, 100);   /* below 512: 512 */
	assert_int_equal(dns_msg_opt(&r)->rclass, 512);
	dns_msg_free(&r);
	struct dns_msg q;
	make_query(&q, "x.consul.", DNS_TYPE_A, 4096);
	assert_int_equal(dns_answer_size_limit(&q, true), 4096);
	assert_int_equal(dns_answer_size_limit(&q, false), 65535);
	dns_msg_free(&q);
	make_query(&q, "x.consul.", DNS_TYPE_A, 0);
	assert_int_equal(dns_answer_size_limit(&q, true), 512);
	dns_msg_free(&q);
}

static void test_bad_queries(void **st)
{
	(void)st;
	struct dns_answer_config cfg = config(true);
	struct dns_msg q = { .h = { .id = 7, .rd = true } }, r;
	/* no question: FORMERR */
	assert_int_equal(dns_answer_build(&q, cat, &cfg, &r), 0);
	assert_int_equal(r.h.rcode, DNS_RCODE_FORMERR);
	assert_int_equal(r.h.id, 7);
	assert_int_equal(r.nqd, 0);
	dns_msg_free(&r);
	/* two questions: FORMERR */
	dns_msg_add_question(&q, "a.node.consul.", DNS_TYPE_A, 1);
	dns_msg_add_question(&q, "b.node.consul.", DNS_TYPE_A, 1);
	assert_int_equal(dns_answer_build(&q, cat, &cfg, &r), 0);
	assert_int_equal(r.h.rcode, DNS_RCODE_FORMERR);
	dns_msg_free(&r);
	dns_msg_free(&q);
	/* an opcode other than QUERY: NOTIMP */
	make_query(&q, "node3_211.node.consul.", DNS_TYPE_A, 0);
	q.h.opcode = 2;
	assert_int_equal(dns_answer_need(&q, &cfg), DNS_NEED_NONE);
	assert_int_equal(dns_answer_build(&q, cat, &cfg, &r), 0);
	assert_int_equal(r.h.rcode, DNS_RCODE_NOTIMP);
	assert_int_equal(r.h.opcode, 2);
	dns_msg_free(&r);
	/* a response is never answered */
	q.h.opcode = 0;
	q.h.qr = true;
	assert_int_equal(dns_answer_need(&q, &cfg), DNS_NEED_DROP);
	q.h.qr = false;
	/* what each needs */
	assert_int_equal(dns_answer_need(&q, &cfg), DNS_NEED_CATALOG);
	dns_msg_free(&q);
	static const struct {
		const char *name;
		uint16_t type;
		enum dns_need need;
	} needs[] = {
		{ "web.service.consul.", DNS_TYPE_SRV, DNS_NEED_CATALOG },
		{ "consul.", DNS_TYPE_SOA, DNS_NEED_CATALOG },
		{ "example.com.", DNS_TYPE_A, DNS_NEED_NONE },
		{ "foo.consul.", DNS_TYPE_A, DNS_NEED_NONE },
		{ "x.node.dc2.consul.", DNS_TYPE_A, DNS_NEED_NONE },
		{ "0a000001.addr.consul.", DNS_TYPE_A, DNS_NEED_NONE },
	};
	for (size_t i = 0; i < sizeof(needs) / sizeof(needs[0]); i++) {
		make_query(&q, needs[i].name, needs[i].type, 0);
		assert_int_equal(dns_answer_need(&q, &cfg), needs[i].need);
		dns_msg_free(&q);
	}
	/* no catalog where one is needed: SERVFAIL */
	make_query(&q, "web.service.consul.", DNS_TYPE_A, 0);
	assert_int_equal(dns_answer_build(&q, NULL, &cfg, &r), 0);
	assert_int_equal(r.h.rcode, DNS_RCODE_SERVFAIL);
	dns_msg_free(&r);
	/* the error answer keeps the question */
	assert_int_equal(dns_answer_error(&q.h, &q.qd[0], DNS_RCODE_SERVFAIL, &r), 0);
	assert_int_equal(r.nqd, 1);
	assert_true(r.h.qr);
	assert_false(r.h.aa);
	dns_msg_free(&r);
	dns_msg_free(&q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_node_a),
		cmocka_unit_test(test_node_meta_txt),
		cmocka_unit_test(test_node_unknown),
		cmocka_unit_test(test_case_insensitive),
		cmocka_unit_test(test_node_ipv6_and_nodata),
		cmocka_unit_test(test_service_a_health),
		cmocka_unit_test(test_service_srv),
		cmocka_unit_test(test_tags),
		cmocka_unit_test(test_rfc2782),
		cmocka_unit_test(test_udp_limit_and_shuffle),
		cmocka_unit_test(test_size_limit),
		cmocka_unit_test(test_outside_and_invalid),
		cmocka_unit_test(test_addr),
		cmocka_unit_test(test_soa_ns),
		cmocka_unit_test(test_edns),
		cmocka_unit_test(test_bad_queries),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
