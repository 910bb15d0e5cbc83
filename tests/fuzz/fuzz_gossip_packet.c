/* libFuzzer target: UDP packets from anywhere must be walked and decoded, or
 * refused, never crash, hang or leak. Each input is also
 *  - checked leaf by leaf: what a decoder accepts re-encodes to something that
 *    decodes to the same struct;
 *  - sealed (CRC, then CRC + AES-GCM) and opened again, which must deliver the
 *    same leaves with the same result as the plain packet. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gossip/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t scratch[2 * GW_UDP_MAX];
static uint8_t pkt[GW_UDP_MAX + 64];
static uint8_t enc[GW_UDP_MAX + 64];

struct tally {
	size_t leaves;
	uint32_t sum; /* of the leaves' types and lengths, to compare two walks */
};

#define ROUND_TRIP(T, dec, encode, body, len)                                     \
	do {                                                                      \
		static T a_, b_;                                                  \
		static uint8_t buf_[8192];                                        \
		if (dec((body), (len), &a_) == 0) {                               \
			int n_ = encode(&a_, buf_, sizeof(buf_));                 \
			if (n_ <= 1 || dec(buf_ + 1, (size_t)n_ - 1, &b_) != 0 || \
			    memcmp(&a_, &b_, sizeof(a_)) != 0)                    \
				abort();                                          \
		}                                                                 \
	} while (0)

static void serf_leaf(const uint8_t *p, size_t len)
{
	const uint8_t *b = p + 1;
	size_t n = len - 1;
	switch (p[0]) {
	case GW_SERF_JOIN:
		ROUND_TRIP(struct gw_serf_join, gw_decode_serf_join, gw_encode_serf_join, b, n);
		break;
	case GW_SERF_LEAVE:
		ROUND_TRIP(struct gw_serf_leave, gw_decode_serf_leave, gw_encode_serf_leave, b, n);
		break;
	case GW_SERF_USER_EVENT:
		ROUND_TRIP(struct gw_serf_user_event, gw_decode_serf_user_event,
		           gw_encode_serf_user_event, b, n);
		break;
	case GW_SERF_QUERY: {
		ROUND_TRIP(struct gw_serf_query, gw_decode_serf_query, gw_encode_serf_query, b, n);
		static struct gw_serf_query q;
		if (gw_decode_serf_query(b, n, &q) == 0) {
			/* the filters as the core reads them */
			char tag[GW_NAME_MAX], expr[GW_PAYLOAD_MAX];
			for (size_t i = 0; i < q.n_filters; i++) {
				const uint8_t *f = q.filters + q.filter_off[i];
				size_t fl = (size_t)(q.filter_off[i + 1] - q.filter_off[i]);
				(void)gw_serf_filter_node(f, fl, "n1");
				(void)gw_serf_filter_tag(f, fl, tag, sizeof(tag), expr, sizeof(expr));
			}
		}
		break;
	}
	case GW_SERF_RELAY: {
		struct gw_serf_relay h;
		size_t off;
		if (gw_decode_serf_relay(b, n, &h, &off) == 0 && off >= n)
			abort();
		break;
	}
	case GW_SERF_CONFLICT_RESPONSE: {
		bool present;
		char name[GW_NAME_MAX];
		struct gw_ip addr;
		uint16_t port;
		int status;
		(void)gw_decode_serf_conflict_response(b, n, &present, name, &addr, &port, &status);
		break;
	}
	case GW_SERF_KEY_REQUEST: {
		uint8_t key[32];
		size_t klen;
		if (gw_decode_serf_key_request(b, n, key, &klen) == 0 && klen != 16 && klen != 24 &&
		    klen != 32)
			abort();
		break;
	}
	case GW_SERF_KEY_RESPONSE:
		ROUND_TRIP(struct gw_serf_key_response, gw_decode_serf_key_response,
		           gw_encode_serf_key_response, b, n);
		break;
	case GW_SERF_QUERY_RESPONSE:
		ROUND_TRIP(struct gw_serf_query_response, gw_decode_serf_query_response,
		           gw_encode_serf_query_response, b, n);
		break;
	case GW_SERF_PUSH_PULL: {
		struct gw_serf_push_pull m;
		if (gw_decode_serf_push_pull(b, n, &m) == 0)
			gw_serf_push_pull_free(&m);
		break;
	}
	default:
		break;
	}
}

static int leaf(void *ud, enum gw_type type, const uint8_t *body, size_t len)
{
	struct tally *t = ud;
	if (len == 0)
		abort(); /* the walker promises a body */
	t->leaves++;
	t->sum = t->sum * 31 + (uint32_t)type * 7 + (uint32_t)len + body[0] + body[len - 1];
	switch (type) {
	case GW_PING:
		ROUND_TRIP(struct gw_ping, gw_decode_ping, gw_encode_ping, body, len);
		break;
	case GW_INDIRECT_PING:
		ROUND_TRIP(struct gw_indirect_ping, gw_decode_indirect_ping,
		           gw_encode_indirect_ping, body, len);
		break;
	case GW_ACK:
		ROUND_TRIP(struct gw_ack, gw_decode_ack, gw_encode_ack, body, len);
		break;
	case GW_NACK:
		ROUND_TRIP(struct gw_nack, gw_decode_nack, gw_encode_nack, body, len);
		break;
	case GW_SUSPECT:
		ROUND_TRIP(struct gw_suspect, gw_decode_suspect, gw_encode_suspect, body, len);
		break;
	case GW_DEAD:
		ROUND_TRIP(struct gw_suspect, gw_decode_suspect, gw_encode_dead, body, len);
		break;
	case GW_ALIVE: {
		static struct gw_alive a;
		static struct gw_tag tags[64];
		if (gw_decode_alive(body, len, &a) == 0)
			(void)gw_decode_tags(a.meta, a.meta_len, tags, 64);
		break;
	}
	case GW_USER:
		serf_leaf(body, len);
		break;
	default:
		abort(); /* nothing else is a leaf */
	}
	return 0;
}

static int open_copy(const struct gw_keyring *kr, const uint8_t *p, size_t n, struct tally *t)
{
	memcpy(pkt, p, n);
	memset(t, 0, sizeof(*t));
	return gw_packet_open(kr, pkt, n, scratch, sizeof(scratch), leaf, t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct gw_keyring kr;
	struct tally plain, sealed;
	if (!kr.n)
		(void)gw_keyring_add_base64(&kr, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");
	if (size > GW_UDP_MAX - 64)
		return 0;

	int rc = open_copy(NULL, data, size, &plain);
	if (size == 0 || data[0] == GW_HAS_CRC)
		return 0;
	for (int keyed = 0; keyed < 2; keyed++) {
		const struct gw_keyring *k = keyed ? &kr : NULL;
		int n = gw_packet_seal(k, true, data, size, enc, sizeof(enc));
		if (n < 0)
			return 0;
		if (open_copy(k, enc, (size_t)n, &sealed) != rc || sealed.leaves != plain.leaves ||
		    sealed.sum != plain.sum)
			abort();
	}
	return 0;
}
