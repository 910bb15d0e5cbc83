/*
 * server/transport — the server port (8300) on the libuv loop: Raft messages
 * and server RPC over TCP, in raft/wire's frames.
 *
 * Raft messages always leave on this server's own outgoing connection to the
 * target address (one per address, opened on demand, reconnected with a
 * back-off of 50 ms doubling to 250 ms; frames for an address that is backing off
 * or whose queue is full are dropped — Raft retries). Incoming connections
 * carry the other side's messages to us. RPC calls use a separate outgoing
 * connection per address and are answered on the connection they came in on.
 *
 * Untrusted input: a bad first byte, an oversized or undecodable frame closes
 * that connection with a warning naming the peer; nothing else is affected.
 *
 * When a connection we know belongs to a server (it sent us a Raft message, or
 * we opened it to that server's address) is closed by the other side — EOF or
 * a reset, which the peer's kernel sends when its process dies — peer_closed
 * reports it (the fast-failover hint of raft_peer_lost). Silence reports
 * nothing.
 */
#ifndef CC_SERVER_TRANSPORT_H
#define CC_SERVER_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "raft/raft.h"

struct transport;
struct tr_call;

struct transport_handlers {
	/* A decoded Raft message; valid during the call only. */
	void (*raft_msg)(void *ud, const struct raft_msg *m);
	/* A connection with a server closed by the other side: by id when known
	 * (incoming), else by address (outgoing, id ""). */
	void (*peer_closed)(void *ud, const char *id, const char *addr);
	/* An RPC request: answer it (now or later) with transport_rpc_reply. */
	void (*rpc_request)(void *ud, struct tr_call *call, const char *method, const uint8_t *body,
	                    size_t len);
	void *ud;
	const char *log_module;  /* "agent.server.raft" */
};

/* Listens on bind_ip:port (bind_ip NULL: no listener, for a client agent that
 * only makes RPC calls). Returns 0, or a negative errno with err set. */
int transport_start(struct transport **out, uv_loop_t *loop, const char *bind_ip, uint16_t port,
                    const struct transport_handlers *h, char *err, size_t errlen);

/* Closes everything; pending RPC callbacks run with "rpc error: shutting down".
 * The memory goes once the handles have closed. */
void transport_stop(struct transport *t);

/* Sends an already encoded Raft frame (raft_wire_encode_msg) to addr; takes
 * frame over. */
void transport_send_frame(struct transport *t, const char *addr, uint8_t *frame, size_t len);

/* Calls method on the server at addr. done runs exactly once: err NULL and
 * the response body, or an error text (remote error, connect failure,
 * timeout). An error starting with TRANSPORT_ERR_NOT_SENT means the request
 * never left this process (the connection was refused or never opened), so
 * trying another server cannot apply it twice. A nonzero return (nothing
 * sent either, done not called) means addr is unreachable right now. */
#define TRANSPORT_ERR_NOT_SENT "rpc error getting client: failed to get conn"
/* The connection broke after the request was sent: it may have been applied. */
#define TRANSPORT_ERR_CLOSED "rpc error: connection closed"
typedef void (*transport_rpc_cb)(void *ud, const char *err, const uint8_t *body, size_t len);
int transport_rpc(struct transport *t, const char *addr, const char *method, const uint8_t *body,
                  size_t len, uint32_t timeout_ms, transport_rpc_cb done, void *ud);

/* Answers a request (err NULL on success) and frees call. If the connection
 * it came on is gone, the answer is dropped. */
void transport_rpc_reply(struct tr_call *call, const char *err, const uint8_t *body, size_t len);

#endif
