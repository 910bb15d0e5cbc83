/*
 * gossip/wire — the HashiCorp memberlist + Serf wire format, as spoken by
 * serf 0.9.4 and Consul's serf_lan (spec: shared/research/gossip-wire.md).
 *
 * Pure and bounds-checked: no sockets, no clock, no global state. Every byte
 * comes from the network, so every decoder returns an error instead of trusting
 * a length, and every decoder has a fuzz target.
 *
 * Layers, outermost first:
 *   UDP packet   [encrypted?] [hasCrc 12?] message
 *   TCP stream   [encrypt 10 + u32 len]? then message (possibly compress 9)
 *   message      [type byte][msgpack map] | compound 7 | compress 9 | user 8 | pushPull 6
 *
 * Encoding follows go-msgpack 0.5 exactly (sorted struct keys, str family for
 * strings and bytes, smallest integers, nil for absent slices). Decoding is
 * tolerant the way Go's is (any key order, unknown keys skipped, str8/bin
 * accepted, 4- or 16-byte IPs).
 *
 * Return convention: encoders return the number of bytes written (> 0) or a
 * negative error; decoders return 0 or a negative error. Errors are -errno
 * values or the GW_E* codes below (negated); gw_strerror() names them.
 */
#ifndef CC_GOSSIP_WIRE_H
#define CC_GOSSIP_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- limits ---- */
#define GW_NAME_MAX 256          /* node names, including NUL (longer: GW_EBADMSG) */
#define GW_META_MAX 512          /* memberlist MetaMaxSize */
#define GW_PAYLOAD_MAX 1024      /* ack payloads, user event / query payloads kept */
#define GW_UDP_BUDGET 1400       /* memberlist UDPBufferSize */
#define GW_UDP_MAX 65536         /* largest datagram read */
#define GW_STREAM_MAX (4u << 20) /* largest TCP stream message accepted */
#define GW_COMPOUND_MAX_PARTS 127
#define GW_ENCRYPT_OVERHEAD 29   /* version byte + 12-byte nonce + 16-byte tag */
#define GW_MAX_KEYS 8

/* ---- errors (negated on return) ---- */
enum {
	GW_ETRUNC = 4096,  /* the input ends early: on a stream, read more and retry */
	GW_EBADMSG,        /* malformed: wrong type, bad length, missing field, ... */
	GW_ETOOBIG,        /* exceeds a limit above */
	GW_ECRC,           /* hasCrc checksum mismatch */
	GW_EDECRYPT,       /* no key of the keyring opens it */
	GW_EUNSUPPORTED,   /* valid but not something we speak (e.g. compress Algo != 0) */
};
const char *gw_strerror(int err);

/* ---- memberlist message types (first byte) ---- */
enum gw_type {
	GW_PING = 0,
	GW_INDIRECT_PING = 1,
	GW_ACK = 2,
	GW_SUSPECT = 3,
	GW_ALIVE = 4,
	GW_DEAD = 5,
	GW_PUSH_PULL = 6,
	GW_COMPOUND = 7,
	GW_USER = 8,
	GW_COMPRESS = 9,
	GW_ENCRYPT = 10,
	GW_NACK = 11,
	GW_HAS_CRC = 12,
	GW_ERR = 13,
};

/* An IP as carried on the wire: 4 bytes, or 16 (IPv6 or IPv4-mapped). */
struct gw_ip {
	uint8_t b[16];
	uint8_t len;             /* 0 (absent), 4 or 16 */
};

/* IPv4 in host byte order when ip is IPv4 or IPv4-mapped; false otherwise. */
bool gw_ip_v4(const struct gw_ip *ip, uint32_t *out);
void gw_ip_from_v4(struct gw_ip *ip, uint32_t host_order);

/* ---- memberlist messages ---- */

struct gw_ping {
	uint32_t seq;
	char node[GW_NAME_MAX];          /* intended recipient ("" = anyone) */
	struct gw_ip source_addr;        /* omitted when len == 0 */
	char source_node[GW_NAME_MAX];   /* omitted when "" */
	uint16_t source_port;            /* omitted when 0 */
};

struct gw_indirect_ping {
	uint32_t seq;
	struct gw_ip target;
	uint16_t port;
	char node[GW_NAME_MAX];
	bool nack;
	struct gw_ip source_addr;
	char source_node[GW_NAME_MAX];
	uint16_t source_port;
};

struct gw_ack {
	uint32_t seq;
	uint8_t payload[GW_PAYLOAD_MAX]; /* encoded as nil when payload_len == 0 */
	size_t payload_len;
};

struct gw_nack {
	uint32_t seq;
};

/* suspect (3) and dead (5); dead with from == node is a voluntary leave */
struct gw_suspect {
	uint32_t incarnation;
	char node[GW_NAME_MAX];
	char from[GW_NAME_MAX];
};

struct gw_alive {
	uint32_t incarnation;
	char node[GW_NAME_MAX];
	struct gw_ip addr;
	uint16_t port;
	uint8_t meta[GW_META_MAX];
	size_t meta_len;
	uint8_t vsn[6];                  /* pmin pmax pcur dmin dmax dcur; always 6 on the wire */
	bool has_vsn;                    /* decode: Vsn was present and 6 bytes long */
};

struct gw_err {
	char error[GW_PAYLOAD_MAX];
};

/* One entry of a push/pull's node list. state: 0 alive, 1 suspect, 2 dead, 3 left. */
struct gw_node_state {
	char name[GW_NAME_MAX];
	struct gw_ip addr;
	uint16_t port;
	uint32_t incarnation;
	uint8_t meta[GW_META_MAX];
	size_t meta_len;
	uint8_t vsn[6];
	bool has_vsn;
	int state;
};

/* A push/pull: header, node states (malloc'd by the decoder: free with
 * gw_push_pull_free), and the raw Serf user state (points into the decoded
 * buffer; valid as long as it is). */
struct gw_push_pull {
	bool join;
	struct gw_node_state *nodes;
	size_t nnodes;
	const uint8_t *user_state;
	size_t user_state_len;
};
void gw_push_pull_free(struct gw_push_pull *pp);

/* Encoders write [type][msgpack]. */
int gw_encode_ping(const struct gw_ping *m, uint8_t *buf, size_t cap);
int gw_encode_indirect_ping(const struct gw_indirect_ping *m, uint8_t *buf, size_t cap);
int gw_encode_ack(const struct gw_ack *m, uint8_t *buf, size_t cap);
int gw_encode_nack(const struct gw_nack *m, uint8_t *buf, size_t cap);
int gw_encode_suspect(const struct gw_suspect *m, uint8_t *buf, size_t cap);
int gw_encode_dead(const struct gw_suspect *m, uint8_t *buf, size_t cap);
int gw_encode_alive(const struct gw_alive *m, uint8_t *buf, size_t cap);
int gw_encode_err(const struct gw_err *m, uint8_t *buf, size_t cap);
/* [6][header][node states][user state]; pp->user_state may be NULL when len 0 */
int gw_encode_push_pull(const struct gw_push_pull *pp, uint8_t *buf, size_t cap);
/* [8][payload]: a user (Serf) message as sent by UDP or inside a compound */
int gw_encode_user(const uint8_t *payload, size_t len, uint8_t *buf, size_t cap);

/* Decoders take the body after the type byte (body[0] is the msgpack map). */
int gw_decode_ping(const uint8_t *body, size_t len, struct gw_ping *m);
int gw_decode_indirect_ping(const uint8_t *body, size_t len, struct gw_indirect_ping *m);
int gw_decode_ack(const uint8_t *body, size_t len, struct gw_ack *m);
int gw_decode_nack(const uint8_t *body, size_t len, struct gw_nack *m);
int gw_decode_suspect(const uint8_t *body, size_t len, struct gw_suspect *m); /* also dead */
int gw_decode_alive(const uint8_t *body, size_t len, struct gw_alive *m);
int gw_decode_err(const uint8_t *body, size_t len, struct gw_err *m);
/* *used is set to the bytes consumed (header, states and user state) */
int gw_decode_push_pull(const uint8_t *body, size_t len, struct gw_push_pull *pp, size_t *used);

/* ---- compound (7) ---- */

/* Builds [7][n][lengths][parts] from n complete messages (n <= 127). */
int gw_compound(const uint8_t *const *parts, const size_t *lens, size_t n, uint8_t *buf,
                size_t cap);

/* ---- compression (9): Go compress/lzw, LSB order, 8-bit literals ---- */

/* LZW-compresses in into out. Returns bytes written or -GW_ETOOBIG. */
int gw_lzw_encode(const uint8_t *in, size_t len, uint8_t *out, size_t cap);
/* Decompresses; the stream must end with the EOF code. Returns bytes written,
 * -GW_EBADMSG for a corrupt stream, -GW_ETOOBIG if the output exceeds cap. */
int gw_lzw_decode(const uint8_t *in, size_t len, uint8_t *out, size_t cap);

/* [9][msgpack compress{Algo:0, Buf:lzw(msg)}] */
int gw_encode_compress(const uint8_t *msg, size_t len, uint8_t *buf, size_t cap);

/* ---- CRC (12) and encryption ---- */

uint32_t gw_crc32(const uint8_t *p, size_t len); /* IEEE, as Go's crc32.ChecksumIEEE */

/* A keyring: keys of 16, 24 or 32 bytes; keys[0] is the primary. */
struct gw_keyring {
	uint8_t keys[GW_MAX_KEYS][32];
	uint8_t lens[GW_MAX_KEYS];
	size_t n;
};
/* Standard base64 with padding (Go's StdEncoding) of n bytes into out, which
 * holds 4 * ((n + 2) / 3) + 1 bytes; NUL-terminated. */
void gw_base64_encode(char *out, const uint8_t *in, size_t n);

/* Adds a base64 key (as `serf keygen` / Consul's `encrypt`). Returns 0 or -EINVAL. */
int gw_keyring_add_base64(struct gw_keyring *kr, const char *b64);

/* ---- UDP packets ---- */

/* Wraps a message for sending: optional hasCrc (crc), then, when kr has keys,
 * AES-GCM with the primary key (version 1, random nonce, empty AAD). */
int gw_packet_seal(const struct gw_keyring *kr, bool crc, const uint8_t *msg, size_t len,
                   uint8_t *buf, size_t cap);

/* Called once per leaf message found in a packet or stream message: type and
 * the body after the type byte. A non-zero return stops the walk and is
 * returned by the walker. */
typedef int (*gw_msg_cb)(void *ud, enum gw_type type, const uint8_t *body, size_t len);

/* Opens a received UDP packet: decrypts (when kr has keys; a plaintext packet is
 * then refused), checks an outermost hasCrc, and walks compound and compress
 * layers (nested in any order, depth-limited), calling cb for each leaf
 * message. scratch (>= GW_UDP_MAX * 2 bytes) holds decrypted/decompressed
 * bytes; bodies passed to cb point into pkt or scratch. */
int gw_packet_open(const struct gw_keyring *kr, uint8_t *pkt, size_t len, uint8_t *scratch,
                   size_t scratch_len, gw_msg_cb cb, void *ud);

/* ---- TCP streams ---- */

/* Frames one stream message for sending: optional compression, then, when kr
 * has keys, [10][u32 len][1][nonce][ciphertext][tag] with the 5 header bytes as
 * AAD. */
int gw_stream_seal(const struct gw_keyring *kr, bool compress, const uint8_t *msg, size_t len,
                   uint8_t *buf, size_t cap);

/* Parses the stream bytes received so far. Returns -GW_ETRUNC while more bytes
 * are needed; 0 when one complete message is there, with *type, *body and *blen
 * (the body after the type byte, possibly in out after decryption and
 * decompression) and *used = stream bytes consumed. out must hold
 * GW_STREAM_MAX bytes. With a keyring, a stream not starting with 10 is
 * refused. */
int gw_stream_open(const struct gw_keyring *kr, const uint8_t *in, size_t len, uint8_t *out,
                   size_t out_cap, enum gw_type *type, const uint8_t **body, size_t *blen,
                   size_t *used);

/* ---- Serf payloads (inside user messages and push/pull user state) ---- */

enum gw_serf_type {
	GW_SERF_LEAVE = 0,
	GW_SERF_JOIN = 1,
	GW_SERF_PUSH_PULL = 2,
	GW_SERF_USER_EVENT = 3,
	GW_SERF_QUERY = 4,
	GW_SERF_QUERY_RESPONSE = 5,
	GW_SERF_RELAY = 9,
};

struct gw_serf_join {       /* messageJoin */
	uint64_t ltime;
	char node[GW_NAME_MAX];
};

struct gw_serf_leave {      /* messageLeave */
	uint64_t ltime;
	char node[GW_NAME_MAX];
	bool prune;
};

struct gw_serf_status_ltime {
	char node[GW_NAME_MAX];
	uint64_t ltime;
};

/* messagePushPull (the push/pull user state). Arrays are malloc'd by the
 * decoder: free with gw_serf_push_pull_free. Events are not kept (we send an
 * empty list; received events are skipped). */
struct gw_serf_push_pull {
	uint64_t ltime, event_ltime, query_ltime;
	struct gw_serf_status_ltime *status;
	size_t nstatus;
	char (*left)[GW_NAME_MAX];
	size_t nleft;
};
void gw_serf_push_pull_free(struct gw_serf_push_pull *m);

struct gw_serf_user_event { /* messageUserEvent */
	uint64_t ltime;
	char name[GW_NAME_MAX];
	uint8_t payload[GW_PAYLOAD_MAX];
	size_t payload_len;
	bool cc;
};

/* messageQuery. Flags: GW_QUERY_ACK asks every node that processes it for an
 * ack; GW_QUERY_NO_BROADCAST says not to re-gossip it. Filters are kept as
 * sent ([filter type][msgpack]), filter i at filters + filter_off[i], length
 * filter_off[i + 1] - filter_off[i]; more than GW_QUERY_FILTERS_MAX filters, or
 * more than GW_PAYLOAD_MAX bytes of them, is -GW_ETOOBIG. */
#define GW_QUERY_ACK 1u
#define GW_QUERY_NO_BROADCAST 2u
#define GW_QUERY_FILTERS_MAX 16
struct gw_serf_query {
	uint64_t ltime;
	uint32_t id;
	struct gw_ip addr;
	uint16_t port;
	char source_node[GW_NAME_MAX];
	char name[GW_NAME_MAX];
	uint8_t payload[GW_PAYLOAD_MAX];
	size_t payload_len;
	uint32_t flags;
	uint8_t relay_factor;
	int64_t timeout_ns;
	size_t n_filters;
	uint8_t filters[GW_PAYLOAD_MAX];
	uint16_t filter_off[GW_QUERY_FILTERS_MAX + 1];
};

/* Query filter types (the first byte of a filter). */
enum { GW_FILTER_NODE = 0, GW_FILTER_TAG = 1 };
/* A node filter (whole filter, type byte first): 1 when name is listed, 0
 * when not, a negative error when it is not a well-formed node filter. */
int gw_serf_filter_node(const uint8_t *f, size_t len, const char *name);
/* A tag filter: its tag name and expression (Go regexp syntax). 0 or a
 * negative error (not a tag filter, malformed, or a field longer than its
 * buffer). */
int gw_serf_filter_tag(const uint8_t *f, size_t len, char *tag, size_t tag_cap, char *expr,
                       size_t expr_cap);
/* Whether a regular expression from the network (a tag filter, a Consul
 * event filter) is one we agree to compile: at most 512 bytes, no back
 * references, and bounded repetitions ({m,n}) whose bounds multiply to at
 * most 1000 — glibc's regcomp takes seconds for nested ones such as
 * ((a{1,100}){1,100}){1,100}, which would stall the agent's loop. */
bool gw_regex_bounded(const char *expr);
/* Whether s matches expr (POSIX extended, unanchored, as Go's
 * regexp.MatchString searches); false for an expression that is not
 * bounded or does not compile. */
bool gw_regex_search(const char *expr, const char *s);

/* Builds filters for gw_encode_serf_query (tests, and any sender of queries):
 * a node filter naming n nodes, or a tag filter. Return the length. */
int gw_serf_make_node_filter(const char *const *names, size_t n, uint8_t *buf, size_t cap);
int gw_serf_make_tag_filter(const char *tag, const char *expr, uint8_t *buf, size_t cap);

struct gw_serf_query_response {
	uint64_t ltime;
	uint32_t id;
	char from[GW_NAME_MAX];
	uint32_t flags;
	uint8_t payload[GW_PAYLOAD_MAX];
	size_t payload_len;
};

/* The member a _serf_conflict response describes (serf's Member). */
struct gw_serf_member {
	const char *name;
	struct gw_ip addr;
	uint16_t port;
	const uint8_t *meta;     /* encoded tags, sent as the Tags map */
	size_t meta_len;
	uint8_t vsn[6];          /* protocol min/max/cur, delegate min/max/cur */
	int status;              /* serf's MemberStatus: 1 alive .. 4 failed */
};

/* relayHeader: where the relaying node sends the inner message. */
struct gw_serf_relay {
	struct gw_ip ip;
	uint16_t port;
	char dest_name[GW_NAME_MAX];
};

/* nodeKeyResponse, the answer to the keyring queries (_serf_list-keys, ...). */
struct gw_serf_key_response {
	bool result;
	char message[256];
	char primary[64];          /* base64 */
	char keys[GW_MAX_KEYS][64];
	size_t nkeys;
};

/* Serf's message types inside query payloads */
enum { GW_SERF_CONFLICT_RESPONSE = 6, GW_SERF_KEY_REQUEST = 7, GW_SERF_KEY_RESPONSE = 8 };

/* Encoders write [serf type][msgpack] (wrap in gw_encode_user to send). */
int gw_encode_serf_join(const struct gw_serf_join *m, uint8_t *buf, size_t cap);
int gw_encode_serf_leave(const struct gw_serf_leave *m, uint8_t *buf, size_t cap);
int gw_encode_serf_push_pull(const struct gw_serf_push_pull *m, uint8_t *buf, size_t cap);
int gw_encode_serf_user_event(const struct gw_serf_user_event *m, uint8_t *buf, size_t cap);
int gw_encode_serf_query_response(const struct gw_serf_query_response *m, uint8_t *buf,
                                  size_t cap);
int gw_encode_serf_query(const struct gw_serf_query *m, uint8_t *buf, size_t cap);
/* [6][Member], or [6][nil] when m is NULL: a _serf_conflict response payload. */
int gw_encode_serf_conflict_response(const struct gw_serf_member *m, uint8_t *buf, size_t cap);
/* [9][relayHeader][inner]: inner is [type][msgpack] of the relayed message. */
int gw_encode_serf_relay(const struct gw_serf_relay *h, const uint8_t *inner, size_t inner_len,
                         uint8_t *buf, size_t cap);
/* [7][keyRequest{Key}] and [8][nodeKeyResponse]. */
int gw_encode_serf_key_request(const uint8_t *key, size_t klen, uint8_t *buf, size_t cap);
int gw_encode_serf_key_response(const struct gw_serf_key_response *m, uint8_t *buf, size_t cap);

/* Decoders take the body after the serf type byte. */
int gw_decode_serf_join(const uint8_t *body, size_t len, struct gw_serf_join *m);
int gw_decode_serf_leave(const uint8_t *body, size_t len, struct gw_serf_leave *m);
int gw_decode_serf_push_pull(const uint8_t *body, size_t len, struct gw_serf_push_pull *m);
int gw_decode_serf_user_event(const uint8_t *body, size_t len, struct gw_serf_user_event *m);
int gw_decode_serf_query(const uint8_t *body, size_t len, struct gw_serf_query *m);
int gw_decode_serf_query_response(const uint8_t *body, size_t len,
                                  struct gw_serf_query_response *m);
/* The body after the 9: the header, and *inner_off = where the inner message
 * ([type][msgpack]) starts in body. */
int gw_decode_serf_relay(const uint8_t *body, size_t len, struct gw_serf_relay *h,
                         size_t *inner_off);
/* The body after the 7: the key (16, 24 or 32 bytes, else -GW_EBADMSG). */
int gw_decode_serf_key_request(const uint8_t *body, size_t len, uint8_t key[32], size_t *klen);
int gw_decode_serf_key_response(const uint8_t *body, size_t len, struct gw_serf_key_response *m);
/* The body after the 6: *present is false for nil; name, addr, port, status
 * filled (meta points into body). */
int gw_decode_serf_conflict_response(const uint8_t *body, size_t len, bool *present,
                                     char name[GW_NAME_MAX], struct gw_ip *addr, uint16_t *port,
                                     int *status);

/* ---- Serf tags in memberlist Meta: 0xff + msgpack map string->string ---- */

struct gw_tag {
	char key[64];
	char value[GW_META_MAX];
};

/* Encodes tags (sorted by key for determinism) as Meta. Returns the length, or
 * -GW_ETOOBIG beyond GW_META_MAX. */
int gw_encode_tags(const struct gw_tag *tags, size_t n, uint8_t *meta, size_t cap);
/* Decodes Meta into at most cap tags (a Meta not starting with 0xff is one tag
 * "role", Serf protocol 2). Returns the count or a negative error. */
int gw_decode_tags(const uint8_t *meta, size_t len, struct gw_tag *tags, size_t cap);
/* The value of key among n decoded tags, or NULL. */
const char *gw_tag_find(const struct gw_tag *tags, size_t n, const char *key);

#endif
