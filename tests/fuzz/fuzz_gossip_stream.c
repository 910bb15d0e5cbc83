/* libFuzzer target: TCP stream bytes from anywhere must give a message, "read
 * more", or an error; never a crash, hang or leak. Checks on the way:
 *  - a complete message is reported with used <= size, and one byte less of
 *    it is "read more" (-GW_ETRUNC);
 *  - push/pull bodies go through gw_decode_push_pull and, when the user state
 *    is Serf's, gw_decode_serf_push_pull;
 *  - the input sealed as a stream message (AES-GCM, compressed or not) opens
 *    to the same body. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gossip/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t out[GW_STREAM_MAX], out2[GW_STREAM_MAX];
static uint8_t sealed[1 << 18];

static void decode_body(enum gw_type type, const uint8_t *body, size_t blen)
{
	switch (type) {
	case GW_PUSH_PULL: {
		struct gw_push_pull pp;
		size_t used;
		if (gw_decode_push_pull(body, blen, &pp, &used) != 0)
			break;
		if (used > blen)
			abort();
		if (pp.user_state_len && pp.user_state[0] == GW_SERF_PUSH_PULL) {
			struct gw_serf_push_pull s;
			if (gw_decode_serf_push_pull(pp.user_state + 1, pp.user_state_len - 1, &s) == 0)
				gw_serf_push_pull_free(&s);
		}
		gw_push_pull_free(&pp);
		break;
	}
	case GW_PING: {
		struct gw_ping m;
		(void)gw_decode_ping(body, blen, &m);
		break;
	}
	case GW_ACK: {
		static struct gw_ack m;
		(void)gw_decode_ack(body, blen, &m);
		break;
	}
	case GW_ERR: {
		static struct gw_err m;
		(void)gw_decode_err(body, blen, &m);
		break;
	}
	default:
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct gw_keyring kr;
	enum gw_type type, type2;
	const uint8_t *body, *body2;
	size_t blen, blen2, used, used2;
	if (!kr.n)
		(void)gw_keyring_add_base64(&kr, "ZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fH1+f4CBgoM=");

	int rc = gw_stream_open(NULL, data, size, out, sizeof(out), &type, &body, &blen, &used);
	if (rc == 0) {
		if (used == 0 || used > size || blen >= GW_STREAM_MAX)
			abort();
		if (gw_stream_open(NULL, data, used - 1, out2, sizeof(out2), &type2, &body2, &blen2,
		                   &used2) != -GW_ETRUNC)
			abort();
		decode_body(type, body, blen);
	}

	/* through encryption (and compression, every other size) and back */
	if (rc != 0 || size == 0 || size > 65536)
		return 0;
	/* (compressing an already compressed message would nest compress layers) */
	bool z = (size & 1) && data[0] != GW_COMPRESS;
	int n = gw_stream_seal(&kr, z, data, used, sealed, sizeof(sealed));
	if (n < 0)
		return 0;
	if (gw_stream_open(&kr, sealed, (size_t)n, out2, sizeof(out2), &type2, &body2, &blen2,
	                   &used2) != 0 ||
	    used2 != (size_t)n || type2 != type || blen2 != blen || memcmp(body2, body, blen) != 0)
		abort();
	return 0;
}
