/*
 * raft/wire — the bytes on the server port (8300), pure and bounds-checked.
 *
 * A connection opens with one byte that selects what it carries, as Consul
 * multiplexes its server port: RAFT_WIRE_RAFT (0x01) for Raft messages,
 * RAFT_WIRE_RPC (0x00) for server RPC (requests and their responses). After it,
 * frames: a 4-byte big-endian length, then that many bytes of msgpack (via
 * msgpack-c). A Raft frame is one struct raft_msg; an RPC frame is a request
 * {Seq, Method, Body} or a response {Seq, Error, Body}, Body being bytes the
 * server layer defines per method.
 *
 * A Raft frame is a map with short keys, only those of its type: "T" type,
 * "F" from, "FA" from_addr, "To", "Tm" term; RequestVote "LI"/"LT" last
 * index/term, "PV" prevote, "TR" transfer; its response "G" granted, "PV";
 * AppendEntries "PI"/"PT" prev index/term, "C" commit, "S" seq, "E" entries
 * [[index, term, type, bin data], ...]; its response "S", "OK" success, "I"
 * index; InstallSnapshot "SI"/"ST" index/term, "SC" configuration
 * [[id, addr, voter], ...], "D" bin data; its response "OK", "I".
 *
 * Nothing here trusts the peer: a frame longer than the limit, truncated
 * msgpack, a wrong type, an unknown message type, an oversized string or too
 * many entries all return -EINVAL (or -E2BIG for the length) with a message
 * naming the field, and the connection is then closed by the caller.
 */
#ifndef CC_RAFT_WIRE_H
#define CC_RAFT_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "raft/raft.h"

#define RAFT_WIRE_RPC 0x00
#define RAFT_WIRE_RAFT 0x01

#define RAFT_WIRE_FRAME_MAX (64u * 1024u * 1024u)  /* snapshots included */
#define RAFT_WIRE_RPC_FRAME_MAX (2u * 1024u * 1024u)
#define RAFT_WIRE_ENTRIES_MAX 4096                 /* entries in one AppendEntries */

/* Splits a frame off the front of buf. Returns 1 with *payload and *plen set
 * and *consumed = 4 + plen; 0 when more bytes are needed; -E2BIG (with err
 * naming the length and the limit) as soon as the length prefix exceeds max,
 * before the body has arrived. A zero-length frame is returned as such (its
 * decode then fails). max: RAFT_WIRE_FRAME_MAX or RAFT_WIRE_RPC_FRAME_MAX. */
int raft_wire_frame(const uint8_t *buf, size_t len, size_t max, const uint8_t **payload,
                    size_t *plen, size_t *consumed, char *err, size_t errlen);

/* Encodes msg as one frame (length prefix included) into a malloc'd buffer
 * (free() it). Only the fields of msg->type are written, and the optional ones
 * (from_addr, prevote, transfer, entries) only when set, so heartbeats stay
 * small. Returns 0, -ENOMEM, -EINVAL when msg is one the decoder would refuse
 * (type out of range, empty from, bad entry type, entries not contiguous from
 * prev_index + 1, more than RAFT_WIRE_ENTRIES_MAX entries, a bad snapshot
 * configuration), or -E2BIG when the frame would exceed RAFT_WIRE_FRAME_MAX. */
int raft_wire_encode_msg(const struct raft_msg *msg, uint8_t **frame, size_t *len);

/* A decoded message. Strings are copied into msg; entry data and snapshot
 * data point into the payload (keep it alive while msg is used; empty data is
 * NULL); the entries array and the snapshot configuration are owned by the
 * struct (msg.entries and msg.snap_conf point at them, so do not copy the
 * struct by value). msg.snap_conf is set for InstallSnapshot only.
 *
 * decode overwrites *out (release a previous decode first); on failure *out is
 * left released. Keys may come in any order; unknown keys, and known keys that
 * do not belong to the message's type, are skipped (forward compatibility);
 * a key given twice, a missing field of the type, a wrong msgpack type, a
 * string too long or holding a NUL, and the semantic checks listed for the
 * encoder give -EINVAL. The payload is scanned before msgpack-c unpacks it, so
 * a decode allocates at most about 16 bytes per object present (about 1 MiB
 * at most), never what a length header merely claims. Returns 0, -EINVAL or
 * -ENOMEM, with err set on failure. release is safe on a zeroed struct. */
struct raft_wire_msg {
	struct raft_msg msg;
	struct raft_entry *entries;
	struct raft_configuration conf;
};
int raft_wire_decode_msg(const uint8_t *payload, size_t len, struct raft_wire_msg *out,
                         char *err, size_t errlen);
void raft_wire_msg_release(struct raft_wire_msg *m);

/* Server RPC. Method names are short strings ("Status.Peers", "KVS.Apply", ...),
 * at most 63 bytes; Error is "" on success.
 *
 * encode_request returns -EINVAL for a NULL, empty or over-long method;
 * encode_response takes NULL as "" and cuts an error longer than 255 bytes at
 * a UTF-8 boundary (the reply matters more than the end of its message). Both
 * return -E2BIG when the frame would exceed RAFT_WIRE_RPC_FRAME_MAX, -ENOMEM,
 * or 0 with a malloc'd frame. The decoders need all three keys, skip unknown
 * ones and return 0, -EINVAL or -ENOMEM; body is NULL when empty. */
struct raft_wire_rpc {
	uint64_t seq;
	char method[64];          /* requests */
	char error[256];          /* responses */
	const uint8_t *body;      /* points into the payload after decode */
	size_t body_len;
};
int raft_wire_encode_request(uint64_t seq, const char *method, const uint8_t *body,
                             size_t len, uint8_t **frame, size_t *flen);
int raft_wire_encode_response(uint64_t seq, const char *error, const uint8_t *body,
                              size_t len, uint8_t **frame, size_t *flen);
int raft_wire_decode_request(const uint8_t *payload, size_t len, struct raft_wire_rpc *out,
                             char *err, size_t errlen);
int raft_wire_decode_response(const uint8_t *payload, size_t len, struct raft_wire_rpc *out,
                              char *err, size_t errlen);

#endif
