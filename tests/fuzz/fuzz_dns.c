/* libFuzzer target: bytes from the network, read as a DNS message, must
 * decode or give a DNS_E_* error, never a crash or a leak. Whatever decodes
 * must encode and decode to the same message; its answer from a fixed small
 * catalog (over UDP or TCP, by the input's length) must pack within the
 * query's size limit and decode as a reply to it. A message that does not
 * decode but has a header gets a FORMERR that must decode too. The bytes as
 * a presentation-form name must split into labels that fit the limits. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "dns/dns_answer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct catalog *cat;
static uint64_t rng = 1;

static uint32_t next_rand(void *ud)
{
	(void)ud;
	rng = rng * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(rng >> 33);
}

static void reg(const char *node, const char *addr, const char *svc, const char *svc_addr,
                enum catalog_status st)
{
	static const struct catalog_pair meta[] = { { "env", "prod" }, { "rfc1035-x", "y" } };
	static const char *const tags[] = { "v1", "primary" };
	struct catalog_service s = { .id = svc, .service = svc, .address = svc_addr, .tags = tags,
		                     .ntags = 2, .port = 80, .weight_passing = 1, .weight_warning = 1 };
	struct catalog_check k = { .check_id = "c", .name = "c", .notes = "", .output = "",
		                   .service_id = svc, .type = "", .status = st };
	struct catalog_cmd cmd = { .op = CATALOG_OP_REGISTER,
		                   .node = { .id = "", .node = node, .address = addr,
		                             .datacenter = "dc1", .meta = meta, .nmeta = 2 },
		                   .service = &s, .checks = &k, .nchecks = 1 };
	uint8_t buf[1024];
	size_t n = catalog_cmd_encode(&cmd, buf, sizeof(buf));
	static uint64_t index = 1;
	if (n == 0 || n > sizeof(buf) || catalog_apply(cat, index++, buf, n, NULL, 0) != 0)
		abort();
}

static void setup(void)
{
	cat = catalog_new();
	if (!cat)
		abort();
	reg("node2_201", "51.6.196.201", "consul", "", CATALOG_PASSING);
	reg("node3_211", "51.6.196.211", "web", "", CATALOG_PASSING);
	reg("server-1", "10.0.0.1", "consul", "", CATALOG_PASSING);
	reg("w1", "10.0.0.2", "web", "10.0.9.9", CATALOG_WARNING);
	reg("w2", "2001:db8::2", "web", "", CATALOG_PASSING);
	reg("w3", "10.0.0.4", "web", "web.example.com", CATALOG_PASSING);
	reg("w4", "10.0.0.5", "web", "", CATALOG_CRITICAL);
}

/* The answer packed within the query's limit decodes as a reply to it. */
static void check_reply(const struct dns_msg *q, struct dns_msg *resp, size_t limit)
{
	static uint8_t buf[DNS_MSG_MAX];
	size_t n = 0;
	if (dns_answer_pack(resp, limit, buf, sizeof(buf), &n) != 0 || n > limit)
		abort();
	struct dns_msg back;
	if (dns_msg_parse(buf, n, &back) != 0 || !back.h.qr || back.h.id != q->h.id ||
	    !dns_msg_same(resp, &back))
		abort();
	dns_msg_free(&back);
}

static void roundtrip(const struct dns_msg *m)
{
	static uint8_t buf[DNS_MSG_MAX];
	size_t n = 0;
	int rc = dns_msg_encode(m, buf, sizeof(buf), &n);
	if (rc == DNS_E_SPACE)
		return;   /* decompressed names can outgrow 64 KiB */
	struct dns_msg back;
	if (rc != 0 || dns_msg_parse(buf, n, &back) != 0 || !dns_msg_same(m, &back))
		abort();
	dns_msg_free(&back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!cat)
		setup();
	struct dns_msg m;
	int rc = dns_msg_parse(data, size, &m);
	bool udp = size % 2 == 0;
	struct dns_answer_config cfg = { .domain = DNS_DOMAIN_DEFAULT, .datacenter = "dc1",
		                         .now = 1700000000, .udp = udp,
		                         .udp_answer_limit = DNS_UDP_ANSWER_LIMIT, .rand = next_rand };
	if (rc == 0) {
		roundtrip(&m);
		enum dns_need need = dns_answer_need(&m, &cfg);
		if (need != DNS_NEED_DROP) {
			struct dns_msg resp;
			if (dns_answer_build(&m, need == DNS_NEED_NONE && size % 3 ? NULL : cat, &cfg,
			                     &resp) == 0)
				check_reply(&m, &resp, dns_answer_size_limit(&m, udp));
			dns_msg_free(&resp);
		}
	} else if (rc < DNS_E_NOMEM || rc > DNS_E_SHORT) {
		abort();
	} else if (rc != DNS_E_SHORT) {
		struct dns_msg resp;
		if (dns_answer_error(&m.h, NULL, DNS_RCODE_FORMERR, &resp) == 0)
			check_reply(&m, &resp, DNS_UDP_MIN);
		dns_msg_free(&resp);
	}
	dns_msg_free(&m);

	/* the bytes as a name */
	char *text = malloc(size + 1);
	if (text) {
		memcpy(text, data, size);
		text[size] = 0;
		struct dns_labels l;
		if (dns_name_split(text, &l) == 0) {
			size_t wire = 1;
			for (size_t i = 0; i < l.n; i++) {
				if (l.len[i] == 0 || l.len[i] > DNS_LABEL_MAX)
					abort();
				wire += 1u + l.len[i];
			}
			if (wire > DNS_NAME_WIRE_MAX)
				abort();
		}
		free(text);
	}
	return 0;
}
