/* DNS messages as bytes and back (RFC 1035 4.1, name compression 4.1.4). */
#include "dns/dns_msg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *dns_strerror(int err)
{
	switch (err) {
	case 0:
		return "no error";
	case DNS_E_SHORT:
		return "message shorter than a DNS header";
	case DNS_E_TRUNCATED:
		return "truncated message";
	case DNS_E_LABEL:
		return "unknown label type";
	case DNS_E_POINTER:
		return "compression pointer that does not point backwards";
	case DNS_E_NAME_LONG:
		return "name longer than 255 bytes";
	case DNS_E_RDATA:
		return "malformed record data";
	case DNS_E_TRAILING:
		return "bytes after the last record";
	case DNS_E_NAME_TEXT:
		return "invalid name";
	case DNS_E_SPACE:
		return "message too large";
	case DNS_E_NOMEM:
		return "out of memory";
	default:
		return "unknown error";
	}
}

/* ---- names ---- */

size_t dns_label_escape(const char *label, size_t len, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)label[i];
		char tmp[5];
		size_t n;
		if (c == '.' || c == '\\') {
			tmp[0] = '\\';
			tmp[1] = (char)c;
			n = 2;
		} else if (c < 0x21 || c > 0x7e) {
			snprintf(tmp, sizeof(tmp), "\\%03u", c);
			n = 4;
		} else {
			tmp[0] = (char)c;
			n = 1;
		}
		for (size_t k = 0; k < n; k++, o++)
			if (o + 1 < cap)
				out[o] = tmp[k];
	}
	if (cap)
		out[o < cap ? o : cap - 1] = 0;
	return o;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

int dns_name_split(const char *name, struct dns_labels *out)
{
	out->n = 0;
	if (!name)
		return DNS_E_NAME_TEXT;
	const char *p = name;
	if (strcmp(p, ".") == 0)
		p++;
	size_t wire = 1;
	while (*p) {
		if (out->n == DNS_LABELS_MAX)
			return DNS_E_NAME_TEXT;
		char *lab = out->label[out->n];
		size_t l = 0;
		while (*p && *p != '.') {
			unsigned c;
			if (*p == '\\') {
				p++;
				if (is_digit(p[0])) {
					if (!is_digit(p[1]) || !is_digit(p[2]))
						return DNS_E_NAME_TEXT;
					c = (unsigned)(p[0] - '0') * 100 + (unsigned)(p[1] - '0') * 10 +
					    (unsigned)(p[2] - '0');
					if (c > 255)
						return DNS_E_NAME_TEXT;
					p += 3;
				} else if (*p) {
					c = (unsigned char)*p++;
				} else {
					return DNS_E_NAME_TEXT;
				}
			} else {
				c = (unsigned char)*p++;
			}
			if (l == DNS_LABEL_MAX)
				return DNS_E_NAME_TEXT;
			lab[l++] = (char)c;
		}
		if (l == 0)
			return DNS_E_NAME_TEXT;
		lab[l] = 0;
		out->len[out->n++] = (uint8_t)l;
		wire += 1 + l;
		if (wire > DNS_NAME_WIRE_MAX)
			return DNS_E_NAME_TEXT;
		if (*p == '.')
			p++;
	}
	return 0;
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

bool dns_name_equal(const char *a, const char *b)
{
	struct dns_labels x, y;
	if (dns_name_split(a, &x) || dns_name_split(b, &y) || x.n != y.n)
		return false;
	for (size_t i = 0; i < x.n; i++) {
		if (x.len[i] != y.len[i])
			return false;
		for (size_t k = 0; k < x.len[i]; k++)
			if (lower(x.label[i][k]) != lower(y.label[i][k]))
				return false;
	}
	return true;
}

/* ---- decoding ---- */

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Reads the name at *off (bytes up to len only) as text into out (at least
 * DNS_NAME_TEXT_MAX bytes) and moves *off past it. Every pointer must point
 * before the run of labels it ends, which strictly shrinks at each jump: no
 * loop is possible and the walk ends within len steps. */
static int read_name(const uint8_t *buf, size_t len, size_t *off, char *out)
{
	size_t pos = *off, end = 0, run = *off, wire = 1, o = 0;
	bool jumped = false;
	for (;;) {
		if (pos >= len)
			return DNS_E_TRUNCATED;
		uint8_t c = buf[pos];
		if ((c & 0xC0) == 0xC0) {
			if (pos + 1 >= len)
				return DNS_E_TRUNCATED;
			size_t target = (size_t)(c & 0x3F) << 8 | buf[pos + 1];
			if (!jumped)
				end = pos + 2;
			jumped = true;
			if (target >= run)
				return DNS_E_POINTER;
			run = pos = target;
			continue;
		}
		if (c & 0xC0)
			return DNS_E_LABEL;
		if (c == 0) {
			if (!jumped)
				end = pos + 1;
			break;
		}
		if (len - pos - 1 < c)
			return DNS_E_TRUNCATED;
		wire += 1u + c;
		if (wire > DNS_NAME_WIRE_MAX)
			return DNS_E_NAME_LONG;
		o += dns_label_escape((const char *)buf + pos + 1, c, out + o, DNS_NAME_TEXT_MAX - o);
		out[o++] = '.';
		pos += 1u + c;
	}
	if (o == 0)
		out[o++] = '.';
	out[o] = 0;
	*off = end;
	return 0;
}

static int dup_name(const uint8_t *buf, size_t len, size_t *off, char **out)
{
	char text[DNS_NAME_TEXT_MAX];
	int rc = read_name(buf, len, off, text);
	if (rc)
		return rc;
	*out = strdup(text);
	return *out ? 0 : DNS_E_NOMEM;
}

int dns_header_parse(const uint8_t *b, size_t len, struct dns_header *h)
{
	memset(h, 0, sizeof(*h));
	if (len < DNS_HEADER_LEN)
		return DNS_E_SHORT;
	h->id = rd16(b);
	h->qr = b[2] & 0x80;
	h->opcode = (uint8_t)(b[2] >> 3 & 0x0F);
	h->aa = b[2] & 0x04;
	h->tc = b[2] & 0x02;
	h->rd = b[2] & 0x01;
	h->ra = b[3] & 0x80;
	h->ad = b[3] & 0x20;
	h->cd = b[3] & 0x10;
	h->rcode = b[3] & 0x0F;
	h->qdcount = rd16(b + 4);
	h->ancount = rd16(b + 6);
	h->nscount = rd16(b + 8);
	h->arcount = rd16(b + 10);
	return 0;
}

static int check_txt(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i += 1u + p[i])
		if (n - i - 1 < p[i])
			return DNS_E_RDATA;
	return 0;
}

static int parse_rdata(const uint8_t *buf, size_t rdstart, size_t rdend, struct dns_rr *rr)
{
	size_t off = rdstart, n = rdend - rdstart;
	int rc = 0;
	switch (rr->type) {
	case DNS_TYPE_A:
	case DNS_TYPE_AAAA: {
		size_t want = rr->type == DNS_TYPE_A ? 4 : 16;
		if (n != want)
			return DNS_E_RDATA;
		memcpy(rr->addr, buf + off, want);
		return 0;
	}
	case DNS_TYPE_NS:
	case DNS_TYPE_CNAME:
	case DNS_TYPE_PTR:
		rc = dup_name(buf, rdend, &off, &rr->target);
		break;
	case DNS_TYPE_SOA:
		rc = dup_name(buf, rdend, &off, &rr->target);
		if (!rc)
			rc = dup_name(buf, rdend, &off, &rr->rname);
		if (!rc && rdend - off != 20)
			return DNS_E_RDATA;
		if (!rc) {
			const uint8_t *p = buf + off;
			rr->serial = rd32(p);
			rr->refresh = rd32(p + 4);
			rr->retry = rd32(p + 8);
			rr->expire = rd32(p + 12);
			rr->minimum = rd32(p + 16);
			off += 20;
		}
		break;
	case DNS_TYPE_SRV:
		if (n < 7)
			return DNS_E_RDATA;
		rr->priority = rd16(buf + off);
		rr->weight = rd16(buf + off + 2);
		rr->port = rd16(buf + off + 4);
		off += 6;
		rc = dup_name(buf, rdend, &off, &rr->target);
		break;
	default:
		if (rr->type == DNS_TYPE_TXT && check_txt(buf + off, n))
			return DNS_E_RDATA;
		rr->rdata = malloc(n ? n : 1);
		if (!rr->rdata)
			return DNS_E_NOMEM;
		memcpy(rr->rdata, buf + off, n);
		rr->rdlen = n;
		return 0;
	}
	if (rc == DNS_E_TRUNCATED || rc == DNS_E_NAME_LONG)
		return DNS_E_RDATA;   /* the name does not fit its RDATA */
	if (rc)
		return rc;
	return off == rdend ? 0 : DNS_E_RDATA;
}

int dns_msg_parse(const uint8_t *buf, size_t len, struct dns_msg *m)
{
	memset(m, 0, sizeof(*m));
	int rc = dns_header_parse(buf, len, &m->h);
	if (rc)
		return rc;
	size_t off = DNS_HEADER_LEN;
	/* a question takes at least 5 bytes and a record 11: counts beyond what
	 * the bytes can hold are refused before anything is allocated */
	size_t need = (size_t)m->h.qdcount * 5 +
	              ((size_t)m->h.ancount + m->h.nscount + m->h.arcount) * 11;
	if (need > len - off)
		return DNS_E_TRUNCATED;
	if (m->h.qdcount) {
		m->qd = calloc(m->h.qdcount, sizeof(*m->qd));
		if (!m->qd)
			return DNS_E_NOMEM;
		m->capqd = m->h.qdcount;
	}
	for (size_t i = 0; i < m->h.qdcount; i++) {
		struct dns_question *q = &m->qd[i];
		if ((rc = dup_name(buf, len, &off, &q->name)))
			return rc;
		m->nqd++;
		if (len - off < 4)
			return DNS_E_TRUNCATED;
		q->type = rd16(buf + off);
		q->qclass = rd16(buf + off + 2);
		off += 4;
	}
	const uint16_t counts[DNS_NSECTIONS] = { m->h.ancount, m->h.nscount, m->h.arcount };
	for (int s = 0; s < DNS_NSECTIONS; s++) {
		if (counts[s]) {
			m->rr[s] = calloc(counts[s], sizeof(*m->rr[s]));
			if (!m->rr[s])
				return DNS_E_NOMEM;
			m->caprr[s] = counts[s];
		}
		for (size_t i = 0; i < counts[s]; i++) {
			struct dns_rr *rr = &m->rr[s][i];
			if ((rc = dup_name(buf, len, &off, &rr->name)))
				return rc;
			m->nrr[s]++;
			if (len - off < 10)
				return DNS_E_TRUNCATED;
			rr->type = rd16(buf + off);
			rr->rclass = rd16(buf + off + 2);
			rr->ttl = rd32(buf + off + 4);
			size_t rdlen = rd16(buf + off + 8);
			off += 10;
			if (len - off < rdlen)
				return DNS_E_TRUNCATED;
			if ((rc = parse_rdata(buf, off, off + rdlen, rr)))
				return rc;
			off += rdlen;
		}
	}
	return off == len ? 0 : DNS_E_TRAILING;
}

/* ---- encoding ---- */

#define KNOWN_MAX 256

struct writer {
	uint8_t *buf;
	size_t cap, len;
	int err;
	/* where names written so far start a suffix: offset and label count */
	struct {
		uint16_t off;
		uint8_t nlabels;
	} known[KNOWN_MAX];
	size_t nknown;
};

static void put(struct writer *w, const void *p, size_t n)
{
	if (w->err)
		return;
	if (w->cap - w->len < n) {
		w->err = DNS_E_SPACE;
		return;
	}
	memcpy(w->buf + w->len, p, n);
	w->len += n;
}

static void put16(struct writer *w, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };
	put(w, b, 2);
}

static void put32(struct writer *w, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
	put(w, b, 4);
}

/* True when the name written at off is exactly labels l->label[i..]. */
static bool written_is(const struct writer *w, size_t off, const struct dns_labels *l, size_t i)
{
	for (int hops = 0; hops < DNS_LABELS_MAX * 2; hops++) {
		uint8_t c = w->buf[off];
		if ((c & 0xC0) == 0xC0) {
			off = (size_t)(c & 0x3F) << 8 | w->buf[off + 1];
			continue;
		}
		if (i == l->n)
			return c == 0;
		if (c != l->len[i] || memcmp(w->buf + off + 1, l->label[i], c) != 0)
			return false;
		off += 1u + c;
		i++;
	}
	return false;
}

static void put_name(struct writer *w, const char *name, bool compress)
{
	struct dns_labels l;
	if (w->err)
		return;
	if (dns_name_split(name, &l)) {
		w->err = DNS_E_NAME_TEXT;
		return;
	}
	for (size_t i = 0; i < l.n; i++) {
		if (compress) {
			for (size_t k = 0; k < w->nknown; k++) {
				if (w->known[k].nlabels == l.n - i && written_is(w, w->known[k].off, &l, i)) {
					put16(w, (uint16_t)(0xC000 | w->known[k].off));
					return;
				}
			}
		}
		if (w->len < 0x4000 && w->nknown < KNOWN_MAX) {
			w->known[w->nknown].off = (uint16_t)w->len;
			w->known[w->nknown].nlabels = (uint8_t)(l.n - i);
			w->nknown++;
		}
		uint8_t n = l.len[i];
		put(w, &n, 1);
		put(w, l.label[i], n);
	}
	uint8_t zero = 0;
	put(w, &zero, 1);
}

static void put_rr(struct writer *w, const struct dns_rr *rr)
{
	put_name(w, rr->name, true);
	put16(w, rr->type);
	put16(w, rr->rclass);
	put32(w, rr->ttl);
	size_t at = w->len;
	put16(w, 0);
	switch (rr->type) {
	case DNS_TYPE_A:
		put(w, rr->addr, 4);
		break;
	case DNS_TYPE_AAAA:
		put(w, rr->addr, 16);
		break;
	case DNS_TYPE_NS:
	case DNS_TYPE_CNAME:
	case DNS_TYPE_PTR:
		put_name(w, rr->target, true);
		break;
	case DNS_TYPE_SOA:
		put_name(w, rr->target, true);
		put_name(w, rr->rname, true);
		put32(w, rr->serial);
		put32(w, rr->refresh);
		put32(w, rr->retry);
		put32(w, rr->expire);
		put32(w, rr->minimum);
		break;
	case DNS_TYPE_SRV:
		put16(w, rr->priority);
		put16(w, rr->weight);
		put16(w, rr->port);
		put_name(w, rr->target, false);
		break;
	default:
		if (rr->rdlen > 0xFFFF && !w->err)
			w->err = DNS_E_RDATA;
		if (rr->rdlen)
			put(w, rr->rdata, rr->rdlen);
	}
	if (!w->err) {
		size_t n = w->len - at - 2;
		w->buf[at] = (uint8_t)(n >> 8);
		w->buf[at + 1] = (uint8_t)n;
	}
}

int dns_msg_encode(const struct dns_msg *m, uint8_t *buf, size_t cap, size_t *len)
{
	struct writer *w = calloc(1, sizeof(*w));
	if (!w)
		return DNS_E_NOMEM;
	w->buf = buf;
	w->cap = cap < DNS_MSG_MAX ? cap : DNS_MSG_MAX;
	if (m->nqd > 0xFFFF || m->nrr[0] > 0xFFFF || m->nrr[1] > 0xFFFF || m->nrr[2] > 0xFFFF)
		w->err = DNS_E_SPACE;
	const struct dns_header *h = &m->h;
	put16(w, h->id);
	uint8_t f[2] = {
		(uint8_t)((h->qr ? 0x80 : 0) | (h->opcode & 0x0F) << 3 | (h->aa ? 0x04 : 0) |
		          (h->tc ? 0x02 : 0) | (h->rd ? 0x01 : 0)),
		(uint8_t)((h->ra ? 0x80 : 0) | (h->ad ? 0x20 : 0) | (h->cd ? 0x10 : 0) |
		          (h->rcode & 0x0F)),
	};
	put(w, f, 2);
	put16(w, (uint16_t)m->nqd);
	for (int s = 0; s < DNS_NSECTIONS; s++)
		put16(w, (uint16_t)m->nrr[s]);
	for (size_t i = 0; i < m->nqd; i++) {
		put_name(w, m->qd[i].name, true);
		put16(w, m->qd[i].type);
		put16(w, m->qd[i].qclass);
	}
	for (int s = 0; s < DNS_NSECTIONS; s++)
		for (size_t i = 0; i < m->nrr[s]; i++)
			put_rr(w, &m->rr[s][i]);
	int rc = w->err;
	if (!rc)
		*len = w->len;
	free(w);
	return rc;
}

/* ---- building ---- */

static void rr_clear(struct dns_rr *rr)
{
	free(rr->name);
	free(rr->target);
	free(rr->rname);
	free(rr->rdata);
}

void dns_msg_free(struct dns_msg *m)
{
	for (size_t i = 0; i < m->nqd; i++)
		free(m->qd[i].name);
	free(m->qd);
	for (int s = 0; s < DNS_NSECTIONS; s++) {
		for (size_t i = 0; i < m->nrr[s]; i++)
			rr_clear(&m->rr[s][i]);
		free(m->rr[s]);
	}
	memset(m, 0, sizeof(*m));
}

static int grow(void **arr, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return 0;
	size_t c = *cap ? *cap * 2 : 4;
	void *p = realloc(*arr, c * size);
	if (!p)
		return DNS_E_NOMEM;
	*arr = p;
	*cap = c;
	return 0;
}

int dns_msg_add_question(struct dns_msg *m, const char *name, uint16_t type, uint16_t qclass)
{
	char *n = strdup(name);
	if (!n || grow((void **)&m->qd, &m->capqd, m->nqd, sizeof(*m->qd))) {
		free(n);
		return DNS_E_NOMEM;
	}
	m->qd[m->nqd++] = (struct dns_question){ .name = n, .type = type, .qclass = qclass };
	return 0;
}

struct dns_rr *dns_msg_add_rr(struct dns_msg *m, enum dns_section s, const char *name,
                              uint16_t type, uint16_t rclass, uint32_t ttl)
{
	char *n = strdup(name);
	if (!n || grow((void **)&m->rr[s], &m->caprr[s], m->nrr[s], sizeof(*m->rr[s]))) {
		free(n);
		return NULL;
	}
	struct dns_rr *rr = &m->rr[s][m->nrr[s]++];
	*rr = (struct dns_rr){ .name = n, .type = type, .rclass = rclass, .ttl = ttl };
	return rr;
}

void dns_msg_remove_rr(struct dns_msg *m, enum dns_section s, size_t i)
{
	if (i >= m->nrr[s])
		return;
	rr_clear(&m->rr[s][i]);
	memmove(&m->rr[s][i], &m->rr[s][i + 1], (m->nrr[s] - i - 1) * sizeof(*m->rr[s]));
	m->nrr[s]--;
}

static int set_str(char **field, const char *s)
{
	char *d = strdup(s);
	if (!d)
		return DNS_E_NOMEM;
	free(*field);
	*field = d;
	return 0;
}

int dns_rr_set_target(struct dns_rr *rr, const char *name)
{
	return set_str(&rr->target, name);
}

int dns_rr_set_rname(struct dns_rr *rr, const char *name)
{
	return set_str(&rr->rname, name);
}

int dns_rr_set_rdata(struct dns_rr *rr, const void *data, size_t len)
{
	uint8_t *d = malloc(len ? len : 1);
	if (!d)
		return DNS_E_NOMEM;
	if (len)
		memcpy(d, data, len);
	free(rr->rdata);
	rr->rdata = d;
	rr->rdlen = len;
	return 0;
}

int dns_rr_set_txt(struct dns_rr *rr, const char *const *strings, size_t n)
{
	size_t total = 0;
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(strings[i]);
		total += l + (l ? (l + 254) / 255 : 1);
	}
	uint8_t *d = malloc(total ? total : 1);
	if (!d)
		return DNS_E_NOMEM;
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(strings[i]), done = 0;
		do {
			size_t c = l - done > 255 ? 255 : l - done;
			d[o++] = (uint8_t)c;
			memcpy(d + o, strings[i] + done, c);
			o += c;
			done += c;
		} while (done < l);
	}
	free(rr->rdata);
	rr->rdata = d;
	rr->rdlen = o;
	return 0;
}

/* ---- comparing ---- */

static bool str_same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool rr_same(const struct dns_rr *a, const struct dns_rr *b)
{
	return str_same(a->name, b->name) && a->type == b->type && a->rclass == b->rclass &&
	       a->ttl == b->ttl && memcmp(a->addr, b->addr, sizeof(a->addr)) == 0 &&
	       str_same(a->target, b->target) && str_same(a->rname, b->rname) &&
	       a->priority == b->priority && a->weight == b->weight && a->port == b->port &&
	       a->serial == b->serial && a->refresh == b->refresh && a->retry == b->retry &&
	       a->expire == b->expire && a->minimum == b->minimum && a->rdlen == b->rdlen &&
	       (a->rdlen == 0 || memcmp(a->rdata, b->rdata, a->rdlen) == 0);
}

bool dns_msg_same(const struct dns_msg *a, const struct dns_msg *b)
{
	const struct dns_header *x = &a->h, *y = &b->h;
	if (x->id != y->id || x->qr != y->qr || x->aa != y->aa || x->tc != y->tc ||
	    x->rd != y->rd || x->ra != y->ra || x->ad != y->ad || x->cd != y->cd ||
	    x->opcode != y->opcode || x->rcode != y->rcode || a->nqd != b->nqd)
		return false;
	for (size_t i = 0; i < a->nqd; i++)
		if (!str_same(a->qd[i].name, b->qd[i].name) || a->qd[i].type != b->qd[i].type ||
		    a->qd[i].qclass != b->qd[i].qclass)
			return false;
	for (int s = 0; s < DNS_NSECTIONS; s++) {
		if (a->nrr[s] != b->nrr[s])
			return false;
		for (size_t i = 0; i < a->nrr[s]; i++)
			if (!rr_same(&a->rr[s][i], &b->rr[s][i]))
				return false;
	}
	return true;
}

const struct dns_rr *dns_msg_opt(const struct dns_msg *m)
{
	for (size_t i = 0; i < m->nrr[DNS_ADDITIONAL]; i++)
		if (m->rr[DNS_ADDITIONAL][i].type == DNS_TYPE_OPT)
			return &m->rr[DNS_ADDITIONAL][i];
	return NULL;
}
