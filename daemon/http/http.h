/*
 * http — an HTTP/1.1 server on the agent's libuv loop (connections are libuv
 * streams, requests are parsed by http-parser; no extra threads). Keep-alive,
 * pipelining (one request answered at a time, in order), chunked request
 * bodies and `Expect: 100-continue` are supported. Limits: 1024 connections,
 * 80 KiB of request line and headers (431), CC_HTTP_MAX_BODY of body (413,
 * then the connection closes), 60 s without a complete request. Malformed
 * requests get 400 with http-parser's reason, then the connection closes.
 * Paths are percent-decoded; query values also turn '+' into a space.
 *
 * Routing is a table of (path, prefix?, allowed methods, handler). A request
 * that matches a path but not its methods gets Consul's 405 (`method GET not
 * allowed`, with an `Allow:` header); no match gets 404. Handlers fill a
 * response: a status, a body (owned by the response) and a content type.
 */
#ifndef CC_HTTP_H
#define CC_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include <cjson/cJSON.h>

/* Request bodies above this size are refused with 413. */
#define CC_HTTP_MAX_BODY (512u * 1024u)

struct cc_http;
struct cc_http_conn; /* opaque: the connection a request came on */

struct cc_http_req {
	const char *method;       /* "GET", "PUT", ... */
	const char *path;         /* URL path, without the query */
	const char *suffix;       /* for prefix routes: the part after the prefix */
	const char *body;         /* request body (NUL-terminated), may be empty */
	size_t body_len;
	struct cc_http_conn *conn;
};

struct cc_http_resp {
	int status;               /* default 200 */
	char *body;               /* malloc'd, freed by the server; NULL = empty */
	size_t body_len;
	const char *content_type; /* default "application/json" when body is JSON */
	char allow[64];           /* set by the server for 405 */
	/* extra headers (X-Consul-Index, ...): set with cc_http_header */
	char headers[4][2][64];
	unsigned nheaders;
};

/* Adds a response header (at most 4; name and value up to 63 bytes). */
void cc_http_header(struct cc_http_resp *resp, const char *name, const char *value);

typedef void (*cc_http_handler)(void *ud, const struct cc_http_req *req,
                                struct cc_http_resp *resp);

struct cc_http_route {
	const char *path;         /* exact path, or prefix when prefix is true */
	bool prefix;
	const char *methods;      /* space-separated, e.g. "GET" or "GET PUT" */
	cc_http_handler handler;
};

/* Listens on ip:port and serves routes (the array must outlive the server).
 * Returns 0, or a negative errno with a message in err in Go's shape, e.g.
 * "listen tcp 127.0.0.1:8500: bind: address already in use". */
int cc_http_start(struct cc_http **out, uv_loop_t *loop, const char *ip, int port,
                  const struct cc_http_route *routes, size_t nroutes, void *ud, char *err,
                  size_t errlen);

/* Stops listening, closes connections and frees the server. The loop must run
 * once more for libuv handles to close. */
void cc_http_stop(struct cc_http *h);

/* Query parameters of the request being handled. Returns the value ("" for a
 * bare `?pretty`), or NULL when absent. */
const char *cc_http_query(const struct cc_http_req *req, const char *key);

/* Sets a JSON body from a cJSON tree (compact, or indented with 4 spaces when
 * the request has ?pretty, as Consul does). Does not take ownership of j. */
void cc_http_json(const struct cc_http_req *req, struct cc_http_resp *resp, const cJSON *j);
/* The same for a deferred answer, when the request is gone: pretty says
 * whether it had ?pretty. */
void cc_http_json_body(struct cc_http_resp *resp, const cJSON *j, bool pretty);

/* A handler that cannot answer at once calls cc_http_defer(req) and returns
 * (leaving resp untouched); later, from the loop, it answers exactly once with
 * cc_http_finish. A server stopped before that answers 503 itself. */
struct cc_http_pending;
struct cc_http_pending *cc_http_defer(const struct cc_http_req *req);
void cc_http_finish(struct cc_http_pending *p, struct cc_http_resp *resp);

/* A request header's value (case-insensitive name), or NULL. */
const char *cc_http_req_header(const struct cc_http_req *req, const char *name);

/* Streaming answers (GET /v1/agent/monitor): instead of filling resp, a
 * handler calls cc_http_stream_start and returns; the server sends status 200
 * with content_type and then whatever is written, as it is written, until the
 * stream is ended or the client goes away (chunked for HTTP/1.1 clients; for
 * HTTP/1.0 the body runs until the connection closes).
 *
 * Writes never block: bytes wait in a buffer of at most max_buffer bytes (bytes
 * handed to the socket no longer count), and a write that does not fit is
 * refused whole (-ENOBUFS) so the caller can count what it dropped. A client
 * that went away is noticed as soon as its connection reports it.
 *
 * on_closed(ud) runs exactly once when the stream is over — client gone,
 * cc_http_stream_end, or the server stopping — and the stream must not be
 * used after it. Returns NULL (and resp untouched) when out of memory. */
struct cc_http_stream;
struct cc_http_stream *cc_http_stream_start(const struct cc_http_req *req,
                                            const char *content_type, size_t max_buffer,
                                            void (*on_closed)(void *ud), void *ud);
int cc_http_stream_write(struct cc_http_stream *s, const char *data, size_t len);
/* Bytes waiting in the buffer. */
size_t cc_http_stream_buffered(const struct cc_http_stream *s);
/* Sends what is buffered, then ends the body. */
void cc_http_stream_end(struct cc_http_stream *s);

/* Sets a plain-text error body and status. */
void cc_http_error(struct cc_http_resp *resp, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
