/* Consul's DNS answers from the catalog (reference §6). */
#include "dns/dns_answer.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "catalog/catalog.h"

/* A name made of joined labels: at most 255 bytes on the wire. */
#define JOINED_MAX 256

enum kind { K_OUTSIDE, K_INVALID, K_OTHER_DC, K_NODE, K_SERVICE, K_ADDR, K_SOA, K_NS, K_AXFR };

struct qinfo {
	enum kind kind;
	uint16_t qtype;
	char lname[DNS_NAME_TEXT_MAX];    /* the question's name in lower case */
	char name[JOINED_MAX], tag[JOINED_MAX];
	char dc[DNS_LABEL_MAX + 1];       /* asked for, else this agent's */
	bool dc_given;
	uint8_t addr[16];
	size_t addrlen;
};

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static void join(const struct dns_labels *l, size_t from, size_t to, char *out)
{
	size_t o = 0;
	for (size_t i = from; i < to; i++) {
		if (i > from)
			out[o++] = '.';
		memcpy(out + o, l->label[i], l->len[i]);
		o += l->len[i];
	}
	out[o] = 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* The part before "service" (c labels): RFC 2782 or [TAG.]NAME. */
static enum kind parse_service(const struct dns_labels *l, size_t c, struct qinfo *q)
{
	if (c == 0)
		return K_INVALID;
	if (c == 2 && l->label[0][0] == '_' && l->label[1][0] == '_') {
		snprintf(q->name, sizeof(q->name), "%s", l->label[0] + 1);
		snprintf(q->tag, sizeof(q->tag), "%s", strcmp(l->label[1], "_tcp") ? l->label[1] + 1 : "");
		return K_SERVICE;
	}
	snprintf(q->name, sizeof(q->name), "%s", l->label[c - 1]);
	join(l, 0, c - 1, q->tag);
	return K_SERVICE;
}

static enum kind parse_addr(const struct dns_labels *l, size_t c, struct qinfo *q)
{
	if (c != 1 || (l->len[0] != 8 && l->len[0] != 32))
		return K_INVALID;
	q->addrlen = l->len[0] / 2;
	for (size_t i = 0; i < q->addrlen; i++) {
		int hi = hexval(l->label[0][2 * i]), lo = hexval(l->label[0][2 * i + 1]);
		if (hi < 0 || lo < 0)
			return K_INVALID;
		q->addr[i] = (uint8_t)(hi << 4 | lo);
	}
	return K_ADDR;
}

/* Consul's grammar: the last label names the kind, or else is the
 * datacenter (once) in front of it. */
static enum kind parse_labels(struct dns_labels *l, size_t n, struct qinfo *q)
{
	for (size_t i = 0; i < n; i++)
		if (memchr(l->label[i], 0, l->len[i]))
			return K_INVALID;   /* no catalog name holds a NUL */
	for (;;) {
		if (n == 0)
			return K_INVALID;
		const char *last = l->label[n - 1];
		if (q->qtype == DNS_TYPE_SRV && last[0] == '_')
			return parse_service(l, n, q);   /* "service" may be left out */
		if (strcmp(last, "service") == 0)
			return parse_service(l, n - 1, q);
		if (strcmp(last, "node") == 0) {
			if (n == 1)
				return K_INVALID;
			join(l, 0, n - 1, q->name);
			return K_NODE;
		}
		if (strcmp(last, "addr") == 0)
			return parse_addr(l, n - 1, q);
		if (q->dc_given)
			return K_INVALID;
		q->dc_given = true;
		snprintf(q->dc, sizeof(q->dc), "%s", last);
		n--;
	}
}

static void classify(const struct dns_msg *m, const struct dns_answer_config *cfg,
                     struct qinfo *q)
{
	struct dns_labels l, d;
	memset(q, 0, sizeof(*q));
	q->qtype = m->qd[0].type;
	size_t i;
	for (i = 0; m->qd[0].name[i] && i + 1 < sizeof(q->lname); i++)
		q->lname[i] = lower(m->qd[0].name[i]);
	q->lname[i] = 0;
	snprintf(q->dc, sizeof(q->dc), "%s", cfg->datacenter);
	q->kind = K_OUTSIDE;
	if (dns_name_split(q->lname, &l) || dns_name_split(cfg->domain, &d) || l.n < d.n)
		return;
	size_t n = l.n - d.n;
	for (i = 0; i < d.n; i++) {
		if (l.len[n + i] != d.len[i])
			return;
		for (size_t k = 0; k < d.len[i]; k++)
			if (l.label[n + i][k] != lower(d.label[i][k]))
				return;
	}
	if (q->qtype == DNS_TYPE_AXFR || q->qtype == DNS_TYPE_SOA || q->qtype == DNS_TYPE_NS) {
		q->kind = q->qtype == DNS_TYPE_AXFR ? K_AXFR : q->qtype == DNS_TYPE_SOA ? K_SOA : K_NS;
		return;
	}
	q->kind = parse_labels(&l, n, q);
	if ((q->kind == K_NODE || q->kind == K_SERVICE) && q->dc_given &&
	    strcasecmp(q->dc, cfg->datacenter) != 0)
		q->kind = K_OTHER_DC;
}

static bool acceptable(const struct dns_msg *m)
{
	return m->h.opcode == DNS_OPCODE_QUERY && m->nqd == 1;
}

enum dns_need dns_answer_need(const struct dns_msg *m, const struct dns_answer_config *cfg)
{
	if (m->h.qr)
		return DNS_NEED_DROP;
	if (!acceptable(m))
		return DNS_NEED_NONE;
	struct qinfo *q = malloc(sizeof(*q));
	if (!q)
		return DNS_NEED_NONE;   /* the build will say out of memory */
	classify(m, cfg, q);
	enum kind k = q->kind;
	free(q);
	return k == K_NODE || k == K_SERVICE || k == K_SOA || k == K_NS ? DNS_NEED_CATALOG
	                                                                 : DNS_NEED_NONE;
}

/* ---- building ---- */

struct ctx {
	const struct dns_answer_config *cfg;
	const struct catalog *cat;
	const struct qinfo *q;
	const char *owner;    /* the question's name as asked */
	struct dns_msg *r;
	int err;
};

static void logv(const struct ctx *c, enum dns_log_level lvl, const char *msg, const char *key,
                 const char *value)
{
	if (c->cfg->log)
		c->cfg->log(c->cfg->log_ud, lvl, msg, key, value);
}

static struct dns_rr *add(struct ctx *c, enum dns_section s, const char *name, uint16_t type)
{
	if (c->err)
		return NULL;
	struct dns_rr *rr = dns_msg_add_rr(c->r, s, name, type, DNS_CLASS_IN, 0);
	if (!rr)
		c->err = DNS_E_NOMEM;
	return rr;
}

static void check(struct ctx *c, int rc)
{
	if (rc && !c->err)
		c->err = rc;
}

static void add_soa(struct ctx *c, enum dns_section s)
{
	char ns[DNS_NAME_TEXT_MAX], mbox[DNS_NAME_TEXT_MAX];
	snprintf(ns, sizeof(ns), "ns.%s", c->cfg->domain);
	snprintf(mbox, sizeof(mbox), "hostmaster.%s", c->cfg->domain);
	struct dns_rr *rr = add(c, s, c->cfg->domain, DNS_TYPE_SOA);
	if (!rr)
		return;
	check(c, dns_rr_set_target(rr, ns));
	check(c, dns_rr_set_rname(rr, mbox));
	rr->serial = c->cfg->now;
	rr->refresh = DNS_SOA_REFRESH;
	rr->retry = DNS_SOA_RETRY;
	rr->expire = DNS_SOA_EXPIRE;
	rr->minimum = DNS_SOA_MINTTL;
}

/* A presentation-form name from a raw one ("a.b" stays two labels), or
 * false when it cannot be one (a label over 63 bytes, too long). */
static bool raw_to_name(const char *raw, const char *suffix, char *out, size_t cap)
{
	size_t o = 0, len = strlen(raw);
	if (len && raw[len - 1] == '.')
		len--;   /* already absolute */
	for (size_t i = 0, start = 0; i <= len; i++) {
		if (i < len && raw[i] != '.')
			continue;
		o += dns_label_escape(raw + start, i - start, out + o, o < cap ? cap - o : 0);
		if (o + 1 < cap)
			out[o] = '.';
		o++;
		start = i + 1;
	}
	if (o + strlen(suffix) + 1 > cap)
		return false;
	snprintf(out + o, cap - o, "%s", suffix);
	struct dns_labels l;
	return dns_name_split(out, &l) == 0;
}

/* NODE.node.DC.DOMAIN */
static bool node_target(const struct ctx *c, const char *node, char *out, size_t cap)
{
	char suffix[DNS_NAME_TEXT_MAX];
	snprintf(suffix, sizeof(suffix), "node.%s.%s", c->q->dc, c->cfg->domain);
	return raw_to_name(node, suffix, out, cap);
}

/* The record of an address under owner, as qtype wants it: A, AAAA, or for
 * a host name a CNAME. Returns the type added, 0 for none. */
static uint16_t add_addr(struct ctx *c, enum dns_section s, const char *owner, const char *addr,
                         uint16_t qtype)
{
	uint8_t ip[16];
	bool any = qtype == DNS_TYPE_ANY;
	struct dns_rr *rr;
	if (inet_pton(AF_INET, addr, ip) == 1) {
		if (!(any || qtype == DNS_TYPE_A) || !(rr = add(c, s, owner, DNS_TYPE_A)))
			return 0;
		memcpy(rr->addr, ip, 4);
		return DNS_TYPE_A;
	}
	if (inet_pton(AF_INET6, addr, ip) == 1) {
		if (!(any || qtype == DNS_TYPE_AAAA) || !(rr = add(c, s, owner, DNS_TYPE_AAAA)))
			return 0;
		memcpy(rr->addr, ip, 16);
		return DNS_TYPE_AAAA;
	}
	char target[DNS_NAME_TEXT_MAX];
	if (!addr[0] || !(any || qtype == DNS_TYPE_A || qtype == DNS_TYPE_AAAA ||
	                  qtype == DNS_TYPE_CNAME) ||
	    !raw_to_name(addr, "", target, sizeof(target)) || !(rr = add(c, s, owner, DNS_TYPE_CNAME)))
		return 0;
	check(c, dns_rr_set_target(rr, target));
	return DNS_TYPE_CNAME;
}

/* RFC 1464 "key=value" as Consul writes it; a key starting with rfc1035-
 * gives the value alone. malloc'd. */
static char *meta_txt(const struct catalog_pair *p)
{
	if (strncasecmp(p->key, "rfc1035-", 8) == 0)
		return strdup(p->value);
	size_t kl = strlen(p->key), vl = strlen(p->value);
	char *s = malloc(2 * kl + 2 * vl + 2);
	if (!s)
		return NULL;
	size_t lead = strspn(p->key, " "), trail = 0, o = 0;
	while (trail < kl - lead && p->key[kl - 1 - trail] == ' ')
		trail++;
	for (size_t i = 0; i < kl; i++) {
		char ch = p->key[i];
		if (ch == '`' || ch == '=' || i < lead || i >= kl - trail)
			s[o++] = '`';
		s[o++] = ch;
	}
	s[o++] = '=';
	for (size_t i = 0; i < vl; i++) {
		if (p->value[i] == '`')
			s[o++] = '`';
		s[o++] = p->value[i];
	}
	s[o] = 0;
	return s;
}

static void add_meta(struct ctx *c, enum dns_section s, const char *owner,
                     const struct catalog_node *n)
{
	for (size_t i = 0; i < n->nmeta && !c->err; i++) {
		char *txt = meta_txt(&n->meta[i]);
		struct dns_rr *rr = txt ? add(c, s, owner, DNS_TYPE_TXT) : NULL;
		if (!txt)
			c->err = DNS_E_NOMEM;
		if (rr)
			check(c, dns_rr_set_txt(rr, (const char *const *)&txt, 1));
		free(txt);
	}
}

/* The catalog position of a node, case-insensitively; -1 when unknown. */
static long find_node(const struct catalog *cat, const char *name)
{
	long pos = catalog_node_find(cat, name);
	for (size_t i = 0; pos < 0 && i < catalog_node_count(cat); i++)
		if (strcasecmp(catalog_node_at(cat, i)->node, name) == 0)
			pos = (long)i;
	return pos;
}

static void node_lookup(struct ctx *c)
{
	long pos = find_node(c->cat, c->q->name);
	if (pos < 0) {
		add_soa(c, DNS_AUTHORITY);
		c->r->h.rcode = DNS_RCODE_NXDOMAIN;
		return;
	}
	const struct catalog_node *n = catalog_node_at(c->cat, (size_t)pos);
	uint16_t t = c->q->qtype;
	add_addr(c, DNS_ANSWER, c->owner, n->address, t);
	bool in_answer = t == DNS_TYPE_ANY || t == DNS_TYPE_TXT;
	add_meta(c, in_answer ? DNS_ANSWER : DNS_ADDITIONAL, c->owner, n);
}

/* ---- services ---- */

struct inst {
	size_t node;
	const struct catalog_service *s;
	uint16_t weight;
};

static bool has_tag(const struct catalog_service *s, const char *tag)
{
	for (size_t i = 0; i < s->ntags; i++)
		if (strcasecmp(s->tags[i], tag) == 0)
			return true;
	return false;
}

/* The healthy instances of name (and tag), shuffled; *n gets their number.
 * NULL with *n 0 when there is none (or no memory: c->err). */
static struct inst *instances(struct ctx *c, const char *name, const char *tag, size_t *n)
{
	const struct catalog *cat = c->cat;
	struct inst *v = NULL;
	size_t cap = 0;
	*n = 0;
	for (size_t i = 0; i < catalog_node_count(cat); i++) {
		for (size_t j = 0; j < catalog_service_count(cat, i); j++) {
			const struct catalog_service *s = catalog_service_at(cat, i, j);
			if (strcasecmp(s->service, name) != 0 || (tag[0] && !has_tag(s, tag)))
				continue;
			bool critical = false, warning = false;
			for (size_t k = 0; k < catalog_check_count(cat, i); k++) {
				const struct catalog_check *x = catalog_check_at(cat, i, k);
				if (x->service_id[0] && strcmp(x->service_id, s->id) != 0)
					continue;
				critical |= x->status == CATALOG_CRITICAL;
				warning |= x->status == CATALOG_WARNING;
			}
			if (critical)
				continue;
			if (*n == cap) {
				cap = cap ? cap * 2 : 8;
				struct inst *nv = realloc(v, cap * sizeof(*v));
				if (!nv) {
					free(v);
					*n = 0;
					c->err = DNS_E_NOMEM;
					return NULL;
				}
				v = nv;
			}
			uint32_t w = warning ? s->weight_warning : s->weight_passing;
			v[(*n)++] = (struct inst){ i, s, (uint16_t)(w > 0xFFFF ? 0xFFFF : w) };
		}
	}
	for (size_t i = *n; c->cfg->rand && i > 1; i--) {
		size_t j = c->cfg->rand(c->cfg->rand_ud) % i;
		struct inst t = v[i - 1];
		v[i - 1] = v[j];
		v[j] = t;
	}
	return v;
}

static const char *inst_addr(const struct ctx *c, const struct inst *in)
{
	return in->s->address[0] ? in->s->address : catalog_node_at(c->cat, in->node)->address;
}

static void service_a(struct ctx *c, const struct inst *v, size_t n)
{
	size_t first_cname = (size_t)-1;
	for (size_t i = 0; i < n && !c->err; i++) {
		const char *addr = inst_addr(c, &v[i]);
		bool seen = false;
		for (size_t k = 0; k < i && !seen; k++)
			seen = strcmp(inst_addr(c, &v[k]), addr) == 0;
		if (seen)
			continue;
		uint8_t ip[16];
		bool is_ip = inet_pton(AF_INET, addr, ip) == 1 || inet_pton(AF_INET6, addr, ip) == 1;
		if (is_ip)
			add_addr(c, DNS_ANSWER, c->owner, addr, c->q->qtype);
		else if (first_cname == (size_t)-1)
			first_cname = i;
	}
	/* a host name only when no instance has an address (one CNAME per name) */
	if (c->r->nrr[DNS_ANSWER] == 0 && first_cname != (size_t)-1)
		add_addr(c, DNS_ANSWER, c->owner, inst_addr(c, &v[first_cname]), c->q->qtype);
}

static void service_srv(struct ctx *c, const struct inst *v, size_t n)
{
	for (size_t i = 0; i < n && !c->err; i++) {
		const struct catalog_node *node = catalog_node_at(c->cat, v[i].node);
		const char *addr = inst_addr(c, &v[i]);
		char target[DNS_NAME_TEXT_MAX];
		uint8_t ip[16];
		bool v4 = inet_pton(AF_INET, addr, ip) == 1;
		bool ipaddr = v4 || inet_pton(AF_INET6, addr, ip) == 1;
		bool ok;
		if (v[i].s->address[0] && ipaddr) {
			/* the service's own IP: HEX.addr.DC.DOMAIN */
			size_t o = 0;
			for (size_t k = 0; k < (v4 ? 4u : 16u); k++)
				o += (size_t)snprintf(target + o, sizeof(target) - o, "%02x", ip[k]);
			snprintf(target + o, sizeof(target) - o, ".addr.%s.%s", c->q->dc, c->cfg->domain);
			ok = true;
		} else if (v[i].s->address[0]) {
			ok = raw_to_name(addr, "", target, sizeof(target));
		} else {
			ok = node_target(c, node->node, target, sizeof(target));
		}
		struct dns_rr *rr = ok ? add(c, DNS_ANSWER, c->owner, DNS_TYPE_SRV) : NULL;
		if (!rr)
			continue;
		rr->priority = 1;
		rr->weight = v[i].weight;
		rr->port = (uint16_t)v[i].s->port;
		check(c, dns_rr_set_target(rr, target));
		bool dup = false;
		for (size_t k = 0; k < c->r->nrr[DNS_ADDITIONAL] && !dup; k++)
			dup = strcasecmp(c->r->rr[DNS_ADDITIONAL][k].name, target) == 0;
		if (ipaddr && !dup)
			add_addr(c, DNS_ADDITIONAL, target, addr, DNS_TYPE_ANY);
	}
}

static void service_lookup(struct ctx *c)
{
	size_t n;
	struct inst *v = instances(c, c->q->name, c->q->tag, &n);
	if (n == 0) {
		if (!c->err) {
			add_soa(c, DNS_AUTHORITY);
			c->r->h.rcode = DNS_RCODE_NXDOMAIN;
		}
		free(v);
		return;
	}
	if (c->q->qtype == DNS_TYPE_SRV)
		service_srv(c, v, n);
	else
		service_a(c, v, n);
	free(v);
}

/* Node names Consul puts in NS records: letters, digits, '-' (and '\'),
 * 1 to 63 bytes. */
static bool dns_safe(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > DNS_LABEL_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (!(ch >= 'a' && ch <= 'z') && !(ch >= 'A' && ch <= 'Z') && !(ch >= '0' && ch <= '9') &&
		    ch != '-' && ch != '\\')
			return false;
	}
	return true;
}

/* NS records for up to 3 servers (the "consul" service) and their glue. */
static void nameservers(struct ctx *c, enum dns_section s)
{
	size_t n;
	struct inst *v = instances(c, "consul", "", &n);
	if (n == 0 && !c->err)
		logv(c, DNS_LOG_WARN, "no servers found", NULL, NULL);
	size_t added = 0;
	for (size_t i = 0; i < n && added < DNS_NS_MAX && !c->err; i++) {
		const struct catalog_node *node = catalog_node_at(c->cat, v[i].node);
		char target[DNS_NAME_TEXT_MAX];
		if (!dns_safe(node->node) || !node_target(c, node->node, target, sizeof(target))) {
			logv(c, DNS_LOG_WARN, "Skipping invalid node for NS records", "node", node->node);
			continue;
		}
		struct dns_rr *rr = add(c, s, c->cfg->domain, DNS_TYPE_NS);
		if (rr)
			check(c, dns_rr_set_target(rr, target));
		add_addr(c, DNS_ADDITIONAL, target, node->address, DNS_TYPE_ANY);
		added++;
	}
	free(v);
}

static void reply_header(const struct dns_header *h, struct dns_msg *r, uint8_t rcode)
{
	r->h = (struct dns_header){ .id = h->id, .qr = true, .opcode = h->opcode, .rcode = rcode };
	if (h->opcode == DNS_OPCODE_QUERY) {
		r->h.rd = h->rd;
		r->h.cd = h->cd;
	}
}

int dns_answer_error(const struct dns_header *h, const struct dns_question *q, uint8_t rcode,
                     struct dns_msg *r)
{
	memset(r, 0, sizeof(*r));
	reply_header(h, r, rcode);
	return q ? dns_msg_add_question(r, q->name, q->type, q->qclass) : 0;
}

static void trim_answers(struct dns_msg *r, size_t keep);

int dns_answer_build(const struct dns_msg *m, const struct catalog *cat,
                     const struct dns_answer_config *cfg, struct dns_msg *r)
{
	if (m->h.opcode != DNS_OPCODE_QUERY)
		return dns_answer_error(&m->h, m->nqd ? &m->qd[0] : NULL, DNS_RCODE_NOTIMP, r);
	if (m->nqd != 1)
		return dns_answer_error(&m->h, NULL, DNS_RCODE_FORMERR, r);
	struct qinfo *q = malloc(sizeof(*q));
	if (!q || dns_answer_error(&m->h, &m->qd[0], DNS_RCODE_NOERROR, r)) {
		free(q);
		return DNS_E_NOMEM;
	}
	classify(m, cfg, q);
	struct ctx c = { .cfg = cfg, .cat = cat, .q = q, .owner = m->qd[0].name, .r = r };
	if (q->kind == K_OUTSIDE) {
		r->h.rcode = DNS_RCODE_SERVFAIL;
		free(q);
		return 0;
	}
	r->h.aa = true;
	bool needs = q->kind == K_NODE || q->kind == K_SERVICE || q->kind == K_SOA || q->kind == K_NS;
	if (needs && !cat) {
		r->h.rcode = DNS_RCODE_SERVFAIL;
	} else {
		switch (q->kind) {
		case K_INVALID:
			logv(&c, DNS_LOG_WARN, "QName invalid", "qname", q->lname);
			add_soa(&c, DNS_AUTHORITY);
			r->h.rcode = DNS_RCODE_NXDOMAIN;
			break;
		case K_OTHER_DC:
			logv(&c, DNS_LOG_ERROR, "rpc error", "error", "No path to datacenter");
			r->h.rcode = DNS_RCODE_SERVFAIL;
			break;
		case K_AXFR:
			r->h.rcode = DNS_RCODE_NOTIMP;
			break;
		case K_SOA:
			add_soa(&c, DNS_ANSWER);
			nameservers(&c, DNS_AUTHORITY);
			break;
		case K_NS:
			nameservers(&c, DNS_ANSWER);
			break;
		case K_NODE:
			node_lookup(&c);
			break;
		case K_SERVICE:
			service_lookup(&c);
			break;
		case K_ADDR: {
			struct dns_rr *rr = add(&c, DNS_ANSWER, c.owner,
			                        q->addrlen == 4 ? DNS_TYPE_A : DNS_TYPE_AAAA);
			if (rr)
				memcpy(rr->addr, q->addr, q->addrlen);
			break;
		}
		case K_OUTSIDE:
			break;
		}
	}
	if (!c.err && cfg->udp && cfg->udp_answer_limit && r->nrr[DNS_ANSWER] > cfg->udp_answer_limit)
		trim_answers(r, cfg->udp_answer_limit);
	if (!c.err && r->h.rcode == DNS_RCODE_NOERROR && r->nrr[DNS_ANSWER] == 0 &&
	    r->nrr[DNS_AUTHORITY] == 0)
		add_soa(&c, DNS_AUTHORITY);   /* NODATA (RFC 2308) */
	const struct dns_rr *opt = dns_msg_opt(m);
	if (opt && !c.err) {
		struct dns_rr *rr = add(&c, DNS_ADDITIONAL, ".", DNS_TYPE_OPT);
		if (rr) {
			rr->rclass = opt->rclass < DNS_UDP_MIN ? DNS_UDP_MIN : opt->rclass;
			check(&c, dns_rr_set_rdata(rr, NULL, 0));
		}
	}
	free(q);
	return c.err;
}

/* ---- size ---- */

size_t dns_answer_size_limit(const struct dns_msg *m, bool udp)
{
	if (!udp)
		return DNS_MSG_MAX;
	const struct dns_rr *opt = dns_msg_opt(m);
	return opt && opt->rclass > DNS_UDP_MIN ? opt->rclass : DNS_UDP_MIN;
}

/* The first answer (an SRV) whose target an additional record is for;
 * SIZE_MAX for records of nobody (glue, node meta, OPT). */
static size_t owner_of(const struct dns_msg *r, const struct dns_rr *x)
{
	for (size_t i = 0; i < r->nrr[DNS_ANSWER]; i++) {
		const struct dns_rr *a = &r->rr[DNS_ANSWER][i];
		if (a->type == DNS_TYPE_SRV && a->target && strcasecmp(a->target, x->name) == 0)
			return i;
	}
	return SIZE_MAX;
}

/* Keeps the first keep answers and the additional records they need. */
static void trim_answers(struct dns_msg *r, size_t keep)
{
	for (size_t i = r->nrr[DNS_ADDITIONAL]; i-- > 0;) {
		size_t o = owner_of(r, &r->rr[DNS_ADDITIONAL][i]);
		if (o != SIZE_MAX && o >= keep)
			dns_msg_remove_rr(r, DNS_ADDITIONAL, i);
	}
	while (r->nrr[DNS_ANSWER] > keep)
		dns_msg_remove_rr(r, DNS_ANSWER, r->nrr[DNS_ANSWER] - 1);
}

/* Encodes a view of r with its first k answers; 0 when it fits. */
static int try_encode(const struct dns_msg *r, const size_t *owner, size_t k, struct dns_rr *extra,
                      uint8_t *buf, size_t cap, size_t *len)
{
	struct dns_msg v = *r;
	size_t ne = 0;
	for (size_t i = 0; i < r->nrr[DNS_ADDITIONAL]; i++)
		if (owner[i] == SIZE_MAX || owner[i] < k)
			extra[ne++] = r->rr[DNS_ADDITIONAL][i];
	v.nrr[DNS_ANSWER] = k;
	v.rr[DNS_ADDITIONAL] = extra;
	v.nrr[DNS_ADDITIONAL] = ne;
	return dns_msg_encode(&v, buf, cap, len);
}

int dns_answer_pack(struct dns_msg *r, size_t limit, uint8_t *buf, size_t cap, size_t *len)
{
	if (cap > limit)
		cap = limit;
	int rc = dns_msg_encode(r, buf, cap, len);
	if (rc != DNS_E_SPACE)
		return rc;
	size_t na = r->nrr[DNS_ANSWER], nx = r->nrr[DNS_ADDITIONAL];
	size_t *owner = malloc((nx ? nx : 1) * sizeof(*owner));
	struct dns_rr *extra = malloc((nx ? nx : 1) * sizeof(*extra));
	if (!owner || !extra) {
		free(owner);
		free(extra);
		return DNS_E_NOMEM;
	}
	for (size_t i = 0; i < nx; i++)
		owner[i] = owner_of(r, &r->rr[DNS_ADDITIONAL][i]);
	/* the most answers that fit: fits(lo) holds, fits(hi) does not */
	size_t lo = 0, hi = na;
	rc = try_encode(r, owner, 0, extra, buf, cap, len);
	if (rc == 0) {
		while (hi - lo > 1) {
			size_t mid = lo + (hi - lo) / 2;
			if (try_encode(r, owner, mid, extra, buf, cap, len) == 0)
				lo = mid;
			else
				hi = mid;
		}
	}
	free(owner);
	free(extra);
	if (rc == 0) {
		trim_answers(r, lo);
		return dns_msg_encode(r, buf, cap, len);
	}
	if (rc != DNS_E_SPACE)
		return rc;
	/* not even without answers: only the OPT record stays */
	trim_answers(r, 0);
	for (size_t i = r->nrr[DNS_ADDITIONAL]; i-- > 0;)
		if (r->rr[DNS_ADDITIONAL][i].type != DNS_TYPE_OPT)
			dns_msg_remove_rr(r, DNS_ADDITIONAL, i);
	while (r->nrr[DNS_AUTHORITY])
		dns_msg_remove_rr(r, DNS_AUTHORITY, r->nrr[DNS_AUTHORITY] - 1);
	return dns_msg_encode(r, buf, cap, len);
}
