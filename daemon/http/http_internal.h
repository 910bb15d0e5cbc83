/* Shared between the http module's files; not part of its contract. */
#ifndef CC_HTTP_INTERNAL_H
#define CC_HTTP_INTERNAL_H

#include <http_parser.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/http.h"

#define MAX_CONNS 1024
#define IDLE_TIMEOUT_MS (60 * 1000)  /* no request, or a request that stalls */
#define DRAIN_TIMEOUT_MS (2 * 1000)  /* reading what a client still sends after our last answer */
#define SWEEP_MS 1000
#define MAX_PENDING_INPUT (64 * 1024) /* pipelined bytes kept while a request is answered */

enum cstate {
	C_READING,   /* reading a request (or idle between requests) */
	C_DEFERRED,  /* the handler answers later (cc_http_finish) */
	C_STREAMING, /* a streaming answer (cc_http_stream_*) */
	C_DRAINING,  /* answered and shut down; reading until the client closes */
};

struct cc_http {
	uv_loop_t *loop;
	uv_tcp_t listener;
	uv_timer_t sweep;
	uv_timer_t kick;           /* runs connections whose input waits, closes dead ones */
	struct cc_http_conn *conns;
	struct cc_http_conn *deferred; /* connections owed an answer (closed ones too) */
	unsigned nconns;
	int open_handles;
	bool stopped;
	const struct cc_http_route *routes;
	size_t nroutes;
	void *ud;
	char rbuf[64 * 1024];
};

struct cc_http_stream {
	struct cc_http_conn *c;
	const char *content_type;
	char *buf;                 /* waiting bytes */
	size_t len, cap, max;
	bool ending, writing, chunked;
	void (*on_closed)(void *ud);
	void *ud;
};

struct cc_http_conn {
	uv_tcp_t tcp;
	struct cc_http *h;
	struct cc_http_conn *prev, *next;
	enum cstate state;
	http_parser parser;
	/* input received and not parsed yet */
	char *in;
	size_t in_off, in_len, in_cap;
	bool reading, read_eof, dead, kicked, closing, gone;
	int writes;                /* uv_write requests in flight */
	bool close_after_write;
	uint64_t active_ms;        /* last time something happened */
	/* the request being read: url, then "name\0value\0" header pairs */
	char *url;
	size_t url_len;
	char *hdr;
	size_t hdr_len, hdr_cap;
	unsigned nhdr;
	bool in_value;             /* the last header callback was a value */
	char *body;
	size_t body_len;
	bool too_big, keep_alive, head;
	/* the request being answered */
	char method[16];
	char *qpairs;
	unsigned nq;
	/* a deferred answer: the connection is its handle, and its memory stays
	 * until the answer is given, even when the client went away */
	bool owed;
	struct cc_http_conn *dnext;
	unsigned seq;              /* requests answered: tells a handler that answered itself */
	struct cc_http_stream *stream;
	uint64_t start_ns;
	char metric[128];
};

struct wreq {
	uv_write_t w;
	struct cc_http_conn *c;
	char *head, *body, *tail;
};

/* http.c: connections */
uint64_t http_now_ms(struct cc_http *h);
void http_record(struct cc_http_conn *c);         /* the request's timing metric */
void http_kick(struct cc_http_conn *c);           /* run it again from the loop */
void http_conn_close(struct cc_http_conn *c);
void http_begin_close(struct cc_http_conn *c);    /* shut down, drain, close */

/* http_answer.c: writing answers */
/* Queues head + body + tail (each malloc'd or NULL; taken over). */
void http_conn_write(struct cc_http_conn *c, char *head, size_t hlen, char *body, size_t blen,
                     char *tail, size_t tlen);
/* The status line and headers; extra is added before the blank line. */
char *http_head_text(struct cc_http_conn *c, int status, const char *content_type,
                     const struct cc_http_resp *r, const char *extra, size_t *len);
void http_send_resp(struct cc_http_conn *c, struct cc_http_resp *r);
void http_request_done(struct cc_http_conn *c);
void http_stream_flush(struct cc_http_stream *s);

/* Decodes %XX escapes in place (and '+' as a space when plus is true, as in a
 * query); a '%' not followed by two hex digits is kept as it is. Returns the
 * new length; the result is NUL-terminated. */
size_t cc_http_unescape(char *s, size_t len, bool plus);

/* Splits a raw query ("a=1&b&c=x%20y") into decoded "key\0value\0" pairs
 * written to out (which needs len + 2 bytes per pair at most: 2 * len + 2 is
 * always enough). A bare key gets the value "". Returns the number of pairs. */
unsigned cc_http_parse_query(const char *q, size_t len, char *out);

/* The value of key among n pairs from cc_http_parse_query (the first one), or
 * NULL. */
const char *cc_http_query_find(const char *pairs, unsigned n, const char *key);

#endif
