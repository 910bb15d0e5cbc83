/*
 * dns_msg — DNS messages (RFC 1035) as bytes and back; pure: no I/O, no clock.
 *
 * A message is a header, its questions and three sections of resource
 * records. Names are kept in presentation form: labels joined by '.', always
 * ending in '.' (the root is "."), with '.' and '\' inside a label written
 * "\." and "\\" and any byte outside 0x21..0x7e written "\DDD" (three decimal
 * digits). Case is kept as sent.
 *
 * Decoding trusts nothing: every length is checked against the bytes that
 * are there, compression pointers must point strictly before the run of
 * labels they continue (so they cannot loop) and a name is at most 255 bytes
 * on the wire. The RDATA of A, AAAA, NS, CNAME, PTR, SOA and SRV is decoded
 * (names decompressed); TXT is checked to be a run of character strings and
 * kept raw like every other type (OPT included). Anything that does not fit
 * is an error; a message with bytes after its last record too.
 *
 * Encoding compresses owner names and the names inside NS, CNAME, PTR and
 * SOA against every name written before it (byte-exact, so a decode gives
 * back the same text), never SRV targets (RFC 2782). The header's counts come
 * from the sections, not from struct dns_header.
 *
 * Errors are the negative DNS_E_* values below; dns_strerror names them.
 */
#ifndef CC_DNS_MSG_H
#define CC_DNS_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNS_HEADER_LEN 12
#define DNS_LABEL_MAX 63
#define DNS_NAME_WIRE_MAX 255
/* A name in presentation form, escapes and NUL included, always fits. */
#define DNS_NAME_TEXT_MAX 1024
#define DNS_MSG_MAX 65535
#define DNS_UDP_MIN 512   /* the UDP size every client takes (RFC 1035 4.2.1) */

enum dns_type {
	DNS_TYPE_A = 1,
	DNS_TYPE_NS = 2,
	DNS_TYPE_CNAME = 5,
	DNS_TYPE_SOA = 6,
	DNS_TYPE_PTR = 12,
	DNS_TYPE_TXT = 16,
	DNS_TYPE_AAAA = 28,
	DNS_TYPE_SRV = 33,
	DNS_TYPE_OPT = 41,
	DNS_TYPE_AXFR = 252,
	DNS_TYPE_ANY = 255,
};
#define DNS_CLASS_IN 1

enum dns_rcode {
	DNS_RCODE_NOERROR = 0,
	DNS_RCODE_FORMERR = 1,
	DNS_RCODE_SERVFAIL = 2,
	DNS_RCODE_NXDOMAIN = 3,
	DNS_RCODE_NOTIMP = 4,
	DNS_RCODE_REFUSED = 5,
};
#define DNS_OPCODE_QUERY 0

enum dns_error {
	DNS_E_SHORT = -1,      /* fewer than 12 bytes: no header */
	DNS_E_TRUNCATED = -2,  /* a count or a length runs past the end */
	DNS_E_LABEL = -3,      /* a label type other than 0 or a pointer (0x40, 0x80) */
	DNS_E_POINTER = -4,    /* a pointer that does not point strictly backwards */
	DNS_E_NAME_LONG = -5,  /* a name over 255 bytes on the wire */
	DNS_E_RDATA = -6,      /* RDATA that does not match its type's layout */
	DNS_E_TRAILING = -7,   /* bytes after the last record */
	DNS_E_NAME_TEXT = -8,  /* (encoding) a name that is not valid presentation form */
	DNS_E_SPACE = -9,      /* (encoding) the buffer or 65535 bytes are too small */
	DNS_E_NOMEM = -10,
};
/* A short English description ("truncated message", ...). */
const char *dns_strerror(int err);

enum dns_section { DNS_ANSWER = 0, DNS_AUTHORITY = 1, DNS_ADDITIONAL = 2 };
#define DNS_NSECTIONS 3

struct dns_header {
	uint16_t id;
	bool qr, aa, tc, rd, ra, ad, cd;
	uint8_t opcode;   /* 0..15 */
	uint8_t rcode;    /* 0..15 */
	/* as decoded; the encoder writes the sections' real counts instead */
	uint16_t qdcount, ancount, nscount, arcount;
};

struct dns_question {
	char *name;
	uint16_t type, qclass;
};

struct dns_rr {
	char *name;
	uint16_t type, rclass;   /* OPT: rclass is the sender's UDP payload size */
	uint32_t ttl;            /* OPT: extended rcode, version, flags */
	/* by type; the rest stays zero/NULL */
	uint8_t addr[16];        /* A: the first 4 bytes; AAAA: 16 */
	char *target;            /* NS, CNAME, PTR, SRV: the name; SOA: MNAME */
	char *rname;             /* SOA */
	uint16_t priority, weight, port;                   /* SRV */
	uint32_t serial, refresh, retry, expire, minimum;  /* SOA */
	uint8_t *rdata;          /* every other type (TXT, OPT, ...): the raw RDATA */
	size_t rdlen;
};

/* A message owns every string and array in it; dns_msg_free releases them.
 * A zeroed struct is an empty message. */
struct dns_msg {
	struct dns_header h;
	struct dns_question *qd;
	size_t nqd, capqd;
	struct dns_rr *rr[DNS_NSECTIONS];
	size_t nrr[DNS_NSECTIONS], caprr[DNS_NSECTIONS];
};

/* Decodes the 12-byte header; DNS_E_SHORT when len < 12. */
int dns_header_parse(const uint8_t *buf, size_t len, struct dns_header *h);

/* Decodes a whole message into out (which must not hold one; free it with
 * dns_msg_free even on error). Returns 0 or a DNS_E_* value; whenever len >=
 * 12, out->h holds the header even on error (so a server can answer
 * FORMERR). */
int dns_msg_parse(const uint8_t *buf, size_t len, struct dns_msg *out);

/* Encodes m into buf (at most cap bytes, and never more than 65535); *len
 * gets the length. Returns 0, DNS_E_SPACE, DNS_E_NAME_TEXT for a name that
 * is not valid presentation form (or a TXT/raw RDATA over 65535 bytes:
 * DNS_E_RDATA), or DNS_E_NOMEM. */
int dns_msg_encode(const struct dns_msg *m, uint8_t *buf, size_t cap, size_t *len);

void dns_msg_free(struct dns_msg *m);

/* ---- building a message; strings are copied ---- */

/* Returns 0 or DNS_E_NOMEM. */
int dns_msg_add_question(struct dns_msg *m, const char *name, uint16_t type, uint16_t qclass);
/* Appends a record to a section; NULL when out of memory. Fill in the fields
 * by type with the setters below (or directly for numbers and addresses). */
struct dns_rr *dns_msg_add_rr(struct dns_msg *m, enum dns_section s, const char *name,
                              uint16_t type, uint16_t rclass, uint32_t ttl);
/* Removes the i-th record of a section (the ones after it move up). */
void dns_msg_remove_rr(struct dns_msg *m, enum dns_section s, size_t i);
/* Setters: 0 or DNS_E_NOMEM. */
int dns_rr_set_target(struct dns_rr *rr, const char *name);
int dns_rr_set_rname(struct dns_rr *rr, const char *name);
int dns_rr_set_rdata(struct dns_rr *rr, const void *data, size_t len);
/* TXT RDATA from strings: each becomes one or more character strings of at
 * most 255 bytes (an empty string one empty character string). */
int dns_rr_set_txt(struct dns_rr *rr, const char *const *strings, size_t n);

/* Deep equality (names compared byte for byte); for tests and fuzzing. */
bool dns_msg_same(const struct dns_msg *a, const struct dns_msg *b);

/* ---- names ---- */

/* A name split into its labels (unescaped bytes; a label may hold '.' or a
 * NUL, hence the lengths). The root has no label. */
#define DNS_LABELS_MAX 128
struct dns_labels {
	size_t n;
	uint8_t len[DNS_LABELS_MAX];
	char label[DNS_LABELS_MAX][DNS_LABEL_MAX + 1];   /* NUL-terminated too */
};
/* Splits a presentation-form name (the final '.' may be left out). Returns
 * 0, or DNS_E_NAME_TEXT for empty labels, labels over 63 bytes, bad escapes
 * or a name over 255 bytes on the wire. */
int dns_name_split(const char *name, struct dns_labels *out);

/* Writes a label's bytes in presentation form (escaping '.', '\' and bytes
 * outside 0x21..0x7e) at out; returns the length the text needs without its
 * NUL (snprintf semantics; out is NUL-terminated when cap > 0). */
size_t dns_label_escape(const char *label, size_t len, char *out, size_t cap);

/* Case-insensitive (ASCII) comparison of two presentation-form names, final
 * '.' optional; false when either is not valid. */
bool dns_name_equal(const char *a, const char *b);

/* The EDNS0 OPT record of a message's additional section, or NULL. */
const struct dns_rr *dns_msg_opt(const struct dns_msg *m);

#endif
