/*
 * dns_answer — the answers of Consul's DNS interface, built from the catalog;
 * pure: no I/O, and the clock and the randomness come from the caller.
 *
 * Names under the domain (cfg->domain, "consul."), matched without regard to
 * case (the question's name is lowercased; catalog names are compared
 * case-insensitively, and any byte a DNS client can send, '_' included, is a
 * name byte):
 *   NODE.node[.DC].consul               A/AAAA of the node's address (a CNAME
 *                                       when it is a host name); node meta as
 *                                       TXT, in the answer for TXT and ANY
 *                                       queries, else in the additional section
 *   [TAG.]NAME.service[.DC].consul      A/AAAA per instance (service address,
 *                                       else node address; duplicates once)
 *   _NAME._TAG.service[.DC].consul      RFC 2782 (_tcp: no tag filter); SRV
 *   _NAME._TAG[.DC].consul              queries may leave out "service"
 *   HEX.addr[.DC].consul                the IPv4 (8 hex digits) or IPv6 (32)
 * Service lookups keep only instances without a critical check (their own or
 * their node's) and shuffle them with cfg->rand. An SRV answer is
 * "1 WEIGHT PORT NODE.node.DC.consul." (the warning weight when a check
 * warns; the target is HEX.addr.DC.consul. when the service has an IP
 * address of its own) with the target's A/AAAA in the additional section.
 * SOA queries for any name under the domain get the SOA, with up to 3
 * servers (instances of the "consul" service whose node names are valid DNS
 * labels) as NS records in the authority section; NS queries get those NS.
 *
 * Rcodes: an unknown node, a service without a healthy instance and a name
 * outside this grammar are NXDOMAIN with the SOA in the authority section
 * (the last also logs WARN "QName invalid"); a name of another datacenter is
 * SERVFAIL (ERROR "rpc error": there is no WAN federation); a name outside
 * the domain is SERVFAIL without AA (Consul without recursors); AXFR is
 * NOTIMP; an opcode other than QUERY is NOTIMP and a message without exactly
 * one question FORMERR. Every other answer is authoritative (AA), TTL 0. An
 * empty NOERROR answer carries the SOA too. When the query has an EDNS0 OPT
 * record, so has the answer, with the client's UDP size (at least 512).
 */
#ifndef CC_DNS_ANSWER_H
#define CC_DNS_ANSWER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns/dns_msg.h"

struct catalog;

#define DNS_DOMAIN_DEFAULT "consul."
#define DNS_UDP_ANSWER_LIMIT 3   /* Consul's dns_config.udp_answer_limit */
#define DNS_NS_MAX 3
/* SOA timers (Consul's dns_config.soa defaults). */
#define DNS_SOA_REFRESH 3600
#define DNS_SOA_RETRY 600
#define DNS_SOA_EXPIRE 86400
#define DNS_SOA_MINTTL 0

enum dns_log_level { DNS_LOG_DEBUG = 0, DNS_LOG_WARN, DNS_LOG_ERROR };

struct dns_answer_config {
	const char *domain;         /* lower case, ending in '.': "consul." */
	const char *datacenter;     /* this agent's: "dc1" */
	uint32_t now;               /* the SOA serial: Unix time */
	bool udp;                   /* the query came over UDP */
	size_t udp_answer_limit;    /* answers over UDP (0: no limit) */
	/* the shuffle of service instances; NULL keeps catalog order */
	uint32_t (*rand)(void *ud);
	void *rand_ud;
	/* log lines in Consul's words (message, one key/value pair or key NULL);
	 * NULL: none */
	void (*log)(void *ud, enum dns_log_level lvl, const char *msg, const char *key,
	            const char *value);
	void *log_ud;
};

enum dns_need {
	DNS_NEED_NONE = 0,   /* dns_answer_build can answer with cat NULL */
	DNS_NEED_CATALOG,    /* the answer reads the catalog */
	DNS_NEED_DROP,       /* a response (QR set): never answered */
};
/* What answering a parsed query takes. Does not log. */
enum dns_need dns_answer_need(const struct dns_msg *query, const struct dns_answer_config *cfg);

/* Builds the answer to a parsed query into resp (zeroed first; free it with
 * dns_msg_free, also on error). cat may be NULL when dns_answer_need said
 * DNS_NEED_NONE; NULL where the catalog is needed answers SERVFAIL. Returns 0
 * or DNS_E_NOMEM. */
int dns_answer_build(const struct dns_msg *query, const struct catalog *cat,
                     const struct dns_answer_config *cfg, struct dns_msg *resp);

/* An answer that is only an rcode: id, opcode, RD and CD from h, the
 * question q when not NULL (FORMERR for a message that did not parse has
 * none). AA is not set. 0 or DNS_E_NOMEM. */
int dns_answer_error(const struct dns_header *h, const struct dns_question *q, uint8_t rcode,
                     struct dns_msg *resp);

/* The largest answer a query may get: over UDP its EDNS0 size (at least 512)
 * or 512, over TCP 65535. */
size_t dns_answer_size_limit(const struct dns_msg *query, bool udp);

/* Encodes resp into buf in at most limit bytes: when it does not fit, the
 * most answers that do are kept (with the additional records of the SRV
 * targets that stay; TC is not set, as in Consul), then the additional and
 * authority records go. Records left out are removed from resp. Returns 0
 * with *len set, or a DNS_E_* value. */
int dns_answer_pack(struct dns_msg *resp, size_t limit, uint8_t *buf, size_t cap, size_t *len);

#endif
