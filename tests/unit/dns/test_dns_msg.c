/* DNS messages: a query as dig sends it, round trips of every record type,
 * name compression (written and read), pointer loops and forward pointers,
 * every truncation and every single-byte change of valid messages, each
 * malformed case by name, presentation-form names and their escapes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dns/dns_msg.h"

/* ---- helpers ---- */

/* dig @... node3_211.node.consul (dig 9.18: RD, AD, EDNS0 4096 with a cookie) */
static const uint8_t DIG_QUERY[] = {
	0x5c, 0x1d, 0x01, 0x20, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x09, 'n', 'o', 'd', 'e', '3', '_', '2', '1', '1', 0x04, 'n', 'o', 'd', 'e',
	0x06, 'c', 'o', 'n', 's', 'u', 'l', 0x00, 0x00, 0x01, 0x00, 0x01,
	/* OPT: root, type 41, UDP 1232, ttl 0, rdlen 12: COOKIE option */
	0x00, 0x00, 0x29, 0x04, 0xd0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0c,
	0x00, 0x0a, 0x00, 0x08, 1, 2, 3, 4, 5, 6, 7, 8,
};

static uint8_t *encode(const struct dns_msg *m, size_t *len)
{
	uint8_t *buf = malloc(DNS_MSG_MAX);
	assert_non_null(buf);
	assert_int_equal(dns_msg_encode(m, buf, DNS_MSG_MAX, len), 0);
	return buf;
}

/* A response with one record of every type the codec knows, and more. */
static void full_message(struct dns_msg *m)
{
	memset(m, 0, sizeof(*m));
	m->h = (struct dns_header){ .id = 0xbeef, .qr = true, .aa = true, .rd = true, .rcode = 3 };
	assert_int_equal(dns_msg_add_question(m, "web.service.consul.", DNS_TYPE_SRV, 1), 0);
	struct dns_rr *rr = dns_msg_add_rr(m, DNS_ANSWER, "web.service.consul.", DNS_TYPE_SRV, 1, 0);
	rr->priority = 1;
	rr->weight = 5;
	rr->port = 8080;
	assert_int_equal(dns_rr_set_target(rr, "node1.node.dc1.consul."), 0);
	rr = dns_msg_add_rr(m, DNS_ANSWER, "WEB.service.consul.", DNS_TYPE_A, 1, 30);
	memcpy(rr->addr, (uint8_t[]){ 10, 0, 0, 1 }, 4);
	rr = dns_msg_add_rr(m, DNS_ANSWER, "web.service.consul.", DNS_TYPE_AAAA, 1, 0);
	rr->addr[15] = 1;
	rr = dns_msg_add_rr(m, DNS_ANSWER, "alias.consul.", DNS_TYPE_CNAME, 1, 0);
	assert_int_equal(dns_rr_set_target(rr, "web.service.consul."), 0);
	rr = dns_msg_add_rr(m, DNS_ANSWER, "1.0.0.10.in-addr.arpa.", DNS_TYPE_PTR, 1, 0);
	assert_int_equal(dns_rr_set_target(rr, "node1.node.dc1.consul."), 0);
	rr = dns_msg_add_rr(m, DNS_ANSWER, "node1.node.dc1.consul.", DNS_TYPE_TXT, 1, 0);
	const char *txt[] = { "env=prod", "" };
	assert_int_equal(dns_rr_set_txt(rr, txt, 2), 0);
	rr = dns_msg_add_rr(m, DNS_AUTHORITY, "consul.", DNS_TYPE_SOA, 1, 0);
	assert_int_equal(dns_rr_set_target(rr, "ns.consul."), 0);
	assert_int_equal(dns_rr_set_rname(rr, "hostmaster.consul."), 0);
	rr->serial = 1700000000;
	rr->refresh = 3600;
	rr->retry = 600;
	rr->expire = 86400;
	rr->minimum = 0;
	rr = dns_msg_add_rr(m, DNS_AUTHORITY, "consul.", DNS_TYPE_NS, 1, 0);
	assert_int_equal(dns_rr_set_target(rr, "node1.node.dc1.consul."), 0);
	rr = dns_msg_add_rr(m, DNS_ADDITIONAL, "node1.node.dc1.consul.", DNS_TYPE_A, 1, 0);
	memcpy(rr->addr, (uint8_t[]){ 10, 0, 0, 2 }, 4);
	rr = dns_msg_add_rr(m, DNS_ADDITIONAL, "x.consul.", 99, 1, 0);   /* unknown type: raw */
	assert_int_equal(dns_rr_set_rdata(rr, "\x01\x02\x03", 3), 0);
	rr = dns_msg_add_rr(m, DNS_ADDITIONAL, ".", DNS_TYPE_OPT, 4096, 0);
	assert_int_equal(dns_rr_set_rdata(rr, NULL, 0), 0);
}

static void assert_parse_fails(const uint8_t *b, size_t n, int want)
{
	struct dns_msg m;
	assert_int_equal(dns_msg_parse(b, n, &m), want);
	dns_msg_free(&m);
}

/* ---- tests ---- */

static void test_dig_query(void **st)
{
	(void)st;
	struct dns_msg m;
	assert_int_equal(dns_msg_parse(DIG_QUERY, sizeof(DIG_QUERY), &m), 0);
	assert_int_equal(m.h.id, 0x5c1d);
	assert_false(m.h.qr);
	assert_true(m.h.rd);
	assert_true(m.h.ad);
	assert_int_equal(m.h.opcode, 0);
	assert_int_equal(m.nqd, 1);
	assert_string_equal(m.qd[0].name, "node3_211.node.consul.");
	assert_int_equal(m.qd[0].type, DNS_TYPE_A);
	assert_int_equal(m.qd[0].qclass, DNS_CLASS_IN);
	const struct dns_rr *opt = dns_msg_opt(&m);
	assert_non_null(opt);
	assert_string_equal(opt->name, ".");
	assert_int_equal(opt->rclass, 1232);
	assert_int_equal(opt->rdlen, 12);
	/* encoding gives back the very same bytes (nothing to compress) */
	size_t n;
	uint8_t *b = encode(&m, &n);
	assert_int_equal(n, sizeof(DIG_QUERY));
	assert_memory_equal(b, DIG_QUERY, n);
	free(b);
	dns_msg_free(&m);
}

static void test_roundtrip(void **st)
{
	(void)st;
	struct dns_msg m, back;
	full_message(&m);
	size_t n;
	uint8_t *b = encode(&m, &n);
	assert_int_equal(dns_msg_parse(b, n, &back), 0);
	assert_true(dns_msg_same(&m, &back));
	assert_int_equal(back.h.ancount, 6);
	assert_int_equal(back.h.nscount, 2);
	assert_int_equal(back.h.arcount, 3);
	assert_int_equal(back.rr[DNS_ANSWER][0].port, 8080);
	assert_string_equal(back.rr[DNS_ANSWER][1].name, "WEB.service.consul.");  /* case kept */
	assert_int_equal(back.rr[DNS_ANSWER][1].ttl, 30);
	assert_memory_equal(back.rr[DNS_ANSWER][5].rdata, "\x08" "env=prod" "\x00", 10);
	assert_int_equal(back.rr[DNS_AUTHORITY][0].serial, 1700000000);
	assert_int_equal(back.rr[DNS_AUTHORITY][0].expire, 86400);
	assert_string_equal(back.rr[DNS_AUTHORITY][0].rname, "hostmaster.consul.");
	/* and again: the second encoding is byte for byte the first */
	size_t n2;
	uint8_t *b2 = encode(&back, &n2);
	assert_int_equal(n, n2);
	assert_memory_equal(b, b2, n);
	free(b);
	free(b2);
	dns_msg_free(&m);
	dns_msg_free(&back);
}

static void test_compression_written(void **st)
{
	(void)st;
	struct dns_msg m = { 0 };
	assert_int_equal(dns_msg_add_question(&m, "web.service.consul.", DNS_TYPE_SRV, 1), 0);
	struct dns_rr *rr = dns_msg_add_rr(&m, DNS_ANSWER, "web.service.consul.", DNS_TYPE_SRV, 1, 0);
	assert_int_equal(dns_rr_set_target(rr, "n1.node.dc1.consul."), 0);
	rr = dns_msg_add_rr(&m, DNS_ADDITIONAL, "n1.node.dc1.consul.", DNS_TYPE_A, 1, 0);
	size_t n;
	uint8_t *b = encode(&m, &n);
	/* question name at 12; the answer's owner is a pointer to it */
	size_t q_end = 12 + 20 + 4;
	assert_int_equal(b[q_end], 0xC0);
	assert_int_equal(b[q_end + 1], 12);
	/* the SRV target is written in full (RFC 2782: no compression) */
	size_t target = q_end + 2 + 10 + 6;
	assert_memory_equal(b + target, "\x02" "n1" "\x04" "node" "\x03" "dc1" "\x06" "consul" "\x00", 20);
	/* the additional record's owner points at the SRV target */
	size_t add = target + 20;
	assert_int_equal(b[add], 0xC0);
	assert_int_equal(b[add + 1], target);
	assert_int_equal(n, add + 2 + 10 + 4);
	struct dns_msg back;
	assert_int_equal(dns_msg_parse(b, n, &back), 0);
	assert_true(dns_msg_same(&m, &back));
	free(b);
	dns_msg_free(&m);
	dns_msg_free(&back);
}

static void test_compression_read(void **st)
{
	(void)st;
	/* question "a.b." at 12; answer owner "c" + pointer to "b." (offset 14);
	 * a CNAME whose target is a bare pointer to the question */
	const uint8_t msg[] = {
		0, 1, 0x84, 0, 0, 1, 0, 2, 0, 0, 0, 0,
		1, 'a', 1, 'b', 0, 0, 1, 0, 1,
		1, 'c', 0xC0, 14, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 1, 2, 3, 4,
		0xC0, 21, 0, 5, 0, 1, 0, 0, 0, 0, 0, 2, 0xC0, 12,
	};
	struct dns_msg m;
	assert_int_equal(dns_msg_parse(msg, sizeof(msg), &m), 0);
	assert_string_equal(m.qd[0].name, "a.b.");
	assert_string_equal(m.rr[DNS_ANSWER][0].name, "c.b.");
	assert_string_equal(m.rr[DNS_ANSWER][1].name, "c.b.");
	assert_string_equal(m.rr[DNS_ANSWER][1].target, "a.b.");
	dns_msg_free(&m);
}

static void test_pointer_loops(void **st)
{
	(void)st;
	/* a pointer to itself */
	const uint8_t self[] = { 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 12, 0, 1, 0, 1 };
	assert_parse_fails(self, sizeof(self), DNS_E_POINTER);
	/* a pointer forwards */
	const uint8_t fwd[] = { 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 14, 0, 0, 1, 0, 1 };
	assert_parse_fails(fwd, sizeof(fwd), DNS_E_POINTER);
	/* two names pointing at each other: the second points back at the
	 * first, whose pointer points at the second */
	const uint8_t pair[] = {
		0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0,
		1, 'a', 0xC0, 20, 0, 1, 0, 1,
		1, 'b', 0xC0, 12, 0, 1, 0, 1,
	};
	assert_parse_fails(pair, sizeof(pair), DNS_E_POINTER);
	/* a label run that reads into its own pointer: "x" then a pointer back to
	 * the start of the same name */
	const uint8_t run[] = { 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 'x', 0xC0, 12, 0, 1, 0, 1 };
	assert_parse_fails(run, sizeof(run), DNS_E_POINTER);
	/* the longest legal chain: each name points at the one before */
	uint8_t chain[12 + 3 + 4 + 200 * 8];
	size_t o = 12;
	memset(chain, 0, 12);
	chain[5] = 201;
	chain[o++] = 1;
	chain[o++] = 'z';
	chain[o++] = 0;
	o += 4;
	size_t prev = 12;
	for (int i = 0; i < 200; i++) {
		size_t here = o;
		chain[o++] = 0xC0 | (uint8_t)(prev >> 8);
		chain[o++] = (uint8_t)prev;
		memset(chain + o, 0, 4);
		o += 4;
		prev = here;
	}
	struct dns_msg m;
	assert_int_equal(dns_msg_parse(chain, 12 + 3 + 4 + 200 * 6, &m), 0);
	assert_int_equal(m.nqd, 201);
	assert_string_equal(m.qd[200].name, "z.");
	dns_msg_free(&m);
}

static void test_truncations(void **st)
{
	(void)st;
	struct dns_msg m;
	full_message(&m);
	size_t n;
	uint8_t *b = encode(&m, &n);
	for (size_t i = 0; i < n; i++) {
		struct dns_msg t;
		int rc = dns_msg_parse(b, i, &t);
		assert_true(rc < 0);
		if (i < DNS_HEADER_LEN) {
			assert_int_equal(rc, DNS_E_SHORT);
		} else {
			assert_int_equal(t.h.id, 0xbeef);   /* the header, for FORMERR */
			assert_true(t.h.qr);
		}
		dns_msg_free(&t);
	}
	free(b);
	dns_msg_free(&m);
}

/* Every byte of a valid message set to a few values: a result or an error,
 * and whatever decodes encodes and decodes to the same message. */
static void test_mutations(void **st)
{
	(void)st;
	struct dns_msg m;
	full_message(&m);
	size_t n;
	uint8_t *b = encode(&m, &n);
	static const uint8_t vals[] = { 0x00, 0x01, 0x3f, 0x40, 0x80, 0xC0, 0xff };
	size_t ok = 0, bad = 0;
	for (size_t i = 0; i < n; i++) {
		for (size_t v = 0; v < sizeof(vals); v++) {
			uint8_t *c = malloc(n);
			memcpy(c, b, n);
			c[i] = vals[v];
			struct dns_msg t;
			int rc = dns_msg_parse(c, n, &t);
			if (rc == 0) {
				ok++;
				size_t n2;
				uint8_t *b2 = encode(&t, &n2);
				struct dns_msg t2;
				assert_int_equal(dns_msg_parse(b2, n2, &t2), 0);
				assert_true(dns_msg_same(&t, &t2));
				dns_msg_free(&t2);
				free(b2);
			} else {
				bad++;
				assert_true(rc >= DNS_E_NOMEM && rc <= DNS_E_SHORT);
			}
			dns_msg_free(&t);
			free(c);
		}
	}
	assert_true(ok > 0 && bad > 0);
	free(b);
	dns_msg_free(&m);
}

static void test_malformed(void **st)
{
	(void)st;
	/* header only, one question announced */
	const uint8_t noq[] = { 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0 };
	assert_parse_fails(noq, sizeof(noq), DNS_E_TRUNCATED);
	/* counts far beyond the bytes: refused before any allocation */
	const uint8_t huge[] = { 0, 1, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0 };
	assert_parse_fails(huge, sizeof(huge), DNS_E_TRUNCATED);
	/* label types 0x40 and 0x80 */
	const uint8_t l40[] = { 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x41, 0, 0, 1, 0, 1 };
	assert_parse_fails(l40, sizeof(l40), DNS_E_LABEL);
	const uint8_t l80[] = { 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x81, 0, 0, 1, 0, 1 };
	assert_parse_fails(l80, sizeof(l80), DNS_E_LABEL);
	/* a label longer than the message */
	const uint8_t llong[] = { 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 10, 'a', 'b' };
	assert_parse_fails(llong, sizeof(llong), DNS_E_TRUNCATED);
	/* a name of 257 bytes on the wire: four 63-byte labels */
	uint8_t big[12 + 4 * 64 + 1 + 4];
	memset(big, 0, sizeof(big));
	big[5] = 1;
	size_t o = 12;
	for (int i = 0; i < 4; i++) {
		big[o++] = 63;
		memset(big + o, 'a', 63);
		o += 63;
	}
	big[o++] = 0;
	assert_parse_fails(big, o + 4, DNS_E_NAME_LONG);
	/* the last label 61 bytes long: 255 bytes, the most there may be */
	big[12 + 3 * 64] = 61;
	big[12 + 3 * 64 + 62] = 0;
	assert_parse_fails(big, 12 + 3 * 64 + 62 + 1 + 4, 0);
	/* A record with 5 bytes of RDATA; AAAA with 4 */
	uint8_t a5[] = { 0, 1, 0x80, 0, 0, 0, 0, 1, 0, 0, 0, 0,
		         0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 5, 1, 2, 3, 4, 5 };
	assert_parse_fails(a5, sizeof(a5), DNS_E_RDATA);
	a5[14] = DNS_TYPE_AAAA;
	a5[22] = 4;
	assert_parse_fails(a5, sizeof(a5) - 1, DNS_E_RDATA);
	/* RDATA longer than the message */
	uint8_t rdl[] = { 0, 1, 0x80, 0, 0, 0, 0, 1, 0, 0, 0, 0,
		          0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 9, 1, 2, 3, 4 };
	assert_parse_fails(rdl, sizeof(rdl), DNS_E_TRUNCATED);
	/* SOA with a byte too many; with 19 */
	uint8_t soa[12 + 11 + 2 + 20 + 1] = { 0, 1, 0x80, 0, 0, 0, 0, 1, 0, 0, 0, 0,
		                              0, 0, 6, 0, 1, 0, 0, 0, 0, 0, 23 };
	assert_parse_fails(soa, sizeof(soa), DNS_E_RDATA);
	soa[22] = 21;
	assert_parse_fails(soa, sizeof(soa) - 2, DNS_E_RDATA);
	soa[22] = 22;
	assert_parse_fails(soa, sizeof(soa) - 1, 0);
	/* SRV shorter than its fixed part; with a target running past RDATA */
	uint8_t srv[] = { 0, 1, 0x80, 0, 0, 0, 0, 1, 0, 0, 0, 0,
		          0, 0, 33, 0, 1, 0, 0, 0, 0, 0, 6, 0, 1, 0, 1, 0, 80 };
	assert_parse_fails(srv, sizeof(srv), DNS_E_RDATA);
	uint8_t srv2[] = { 0, 1, 0x80, 0, 0, 0, 0, 1, 0, 0, 0, 0,
		           0, 0, 33, 0, 1, 0, 0, 0, 0, 0, 8, 0, 1, 0, 1, 0, 80, 1, 'x', 0 };
	assert_parse_fails(srv2, sizeof(srv2), DNS_E_RDATA);
	srv2[22] = 9;
	assert_parse_fails(srv2, sizeof(srv2), 0);
	/* TXT whose character string runs past its RDATA */
	uint8_t txt[] = { 0, 1, 0x80, 0, 0, 0, 0, 1, 0, 0, 0, 0,
		          0, 0, 16, 0, 1, 0, 0, 0, 0, 0, 3, 5, 'a', 'b' };
	assert_parse_fails(txt, sizeof(txt), DNS_E_RDATA);
	/* a byte after the last record */
	uint8_t trail[sizeof(DIG_QUERY) + 1];
	memcpy(trail, DIG_QUERY, sizeof(DIG_QUERY));
	trail[sizeof(DIG_QUERY)] = 0;
	assert_parse_fails(trail, sizeof(trail), DNS_E_TRAILING);
	/* nothing at all, and a few bytes */
	assert_parse_fails(DIG_QUERY, 0, DNS_E_SHORT);
	assert_parse_fails(DIG_QUERY, 11, DNS_E_SHORT);
	assert_string_equal(dns_strerror(DNS_E_POINTER),
	                    "compression pointer that does not point backwards");
}

static void test_names(void **st)
{
	(void)st;
	/* a label with a dot, a space, a backslash and a high byte */
	const uint8_t msg[] = { 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0,
		                6, 'a', '.', ' ', '\\', 0xff, 'Z', 1, '_', 0, 0, 1, 0, 1 };
	struct dns_msg m;
	assert_int_equal(dns_msg_parse(msg, sizeof(msg), &m), 0);
	assert_string_equal(m.qd[0].name, "a\\.\\032\\\\\\255Z._.");
	size_t n;
	uint8_t *b = encode(&m, &n);
	assert_int_equal(n, sizeof(msg));
	assert_memory_equal(b, msg, n);
	free(b);
	struct dns_labels l;
	assert_int_equal(dns_name_split(m.qd[0].name, &l), 0);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.len[0], 6);
	assert_memory_equal(l.label[0], "a. \\\xffZ", 6);
	dns_msg_free(&m);

	assert_int_equal(dns_name_split(".", &l), 0);
	assert_int_equal(l.n, 0);
	assert_int_equal(dns_name_split("node2_201.node.consul", &l), 0);   /* final dot optional */
	assert_int_equal(l.n, 3);
	assert_string_equal(l.label[0], "node2_201");
	static const char *const bad[] = { "a..b.", ".a.", "a\\", "a\\25.", "a\\256.", "..", NULL };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(dns_name_split(bad[i], &l), DNS_E_NAME_TEXT);
	char long_label[80];
	memset(long_label, 'x', 64);
	strcpy(long_label + 64, ".");
	assert_int_equal(dns_name_split(long_label, &l), DNS_E_NAME_TEXT);
	long_label[63] = '.';
	long_label[64] = 0;
	assert_int_equal(dns_name_split(long_label, &l), 0);
	char long_name[300] = "";
	for (int i = 0; i < 64; i++)
		strcat(long_name, "abc.");   /* 64 * 4 + 1 = 257 bytes on the wire */
	assert_int_equal(dns_name_split(long_name, &l), DNS_E_NAME_TEXT);

	assert_true(dns_name_equal("Node2_201.NODE.consul.", "node2_201.node.consul"));
	assert_false(dns_name_equal("node2_201.node.consul.", "node2_202.node.consul."));
	assert_false(dns_name_equal("a.b.", "a.b.c."));
	assert_false(dns_name_equal("a..", "a."));

	char out[16];
	assert_int_equal(dns_label_escape("a.b c", 5, out, sizeof(out)), 9);
	assert_string_equal(out, "a\\.b\\032c");
	assert_int_equal(dns_label_escape("abcdef", 6, out, 4), 6);   /* cut, terminated */
	assert_string_equal(out, "abc");
}

static void test_encode_limits(void **st)
{
	(void)st;
	struct dns_msg m;
	full_message(&m);
	size_t n;
	uint8_t *b = encode(&m, &n);
	size_t n2;
	uint8_t *small = malloc(n);
	assert_int_equal(dns_msg_encode(&m, small, n - 1, &n2), DNS_E_SPACE);
	assert_int_equal(dns_msg_encode(&m, small, n, &n2), 0);
	assert_int_equal(n2, n);
	/* a bad name is refused, not sent */
	assert_int_equal(dns_rr_set_target(&m.rr[DNS_ANSWER][0], "a..b."), 0);
	assert_int_equal(dns_msg_encode(&m, small, n, &n2), DNS_E_NAME_TEXT);
	/* a TXT string over 255 bytes becomes several character strings */
	struct dns_rr rr = { 0 };
	char s[600];
	memset(s, 'q', 599);
	s[599] = 0;
	const char *one[] = { s };
	assert_int_equal(dns_rr_set_txt(&rr, one, 1), 0);
	assert_int_equal(rr.rdlen, 599 + 3);
	assert_int_equal(rr.rdata[0], 255);
	assert_int_equal(rr.rdata[256], 255);
	assert_int_equal(rr.rdata[512], 89);
	free(rr.rdata);
	/* removing records */
	size_t before = m.nrr[DNS_ANSWER];
	dns_msg_remove_rr(&m, DNS_ANSWER, 0);
	dns_msg_remove_rr(&m, DNS_ANSWER, 99);
	assert_int_equal(m.nrr[DNS_ANSWER], before - 1);
	assert_int_equal(m.rr[DNS_ANSWER][0].type, DNS_TYPE_A);
	free(b);
	free(small);
	dns_msg_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dig_query),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_compression_written),
		cmocka_unit_test(test_compression_read),
		cmocka_unit_test(test_pointer_loops),
		cmocka_unit_test(test_truncations),
		cmocka_unit_test(test_mutations),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_encode_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
