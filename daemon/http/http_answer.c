/* http_answer — writing answers: whole ones (with Content-Length), deferred
 * ones (cc_http_defer/cc_http_finish) and streams (chunked for HTTP/1.1). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/http_internal.h"

static const char *reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Request Entity Too Large";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	default: return status < 300 ? "OK" : status < 500 ? "Client Error" : "Server Error";
	}
}

static void on_written(uv_write_t *w, int status)
{
	struct wreq *wr = (struct wreq *)w;
	struct cc_http_conn *c = wr->c;
	free(wr->head);
	free(wr->body);
	free(wr->tail);
	free(wr);
	c->writes--;
	if (status < 0) {
		http_conn_close(c);
		return;
	}
	if (c->stream)
		c->stream->writing = false;
	if (c->closing)
		return;
	if (c->stream)
		http_stream_flush(c->stream);
	else if (c->close_after_write && !c->writes)
		http_begin_close(c);
}

void http_conn_write(struct cc_http_conn *c, char *head, size_t hlen, char *body, size_t blen,
                     char *tail, size_t tlen)
{
	struct wreq *wr = calloc(1, sizeof(*wr));
	if (!wr || c->closing || c->dead) {
		free(head);
		free(body);
		free(tail);
		free(wr);
		c->dead = true;
		return;
	}
	wr->c = c;
	wr->head = head;
	wr->body = body;
	wr->tail = tail;
	uv_buf_t b[3];
	unsigned n = 0;
	if (hlen)
		b[n++] = uv_buf_init(head, (unsigned)hlen);
	if (blen)
		b[n++] = uv_buf_init(body, (unsigned)blen);
	if (tlen)
		b[n++] = uv_buf_init(tail, (unsigned)tlen);
	if (uv_write(&wr->w, (uv_stream_t *)&c->tcp, b, n, on_written) < 0) {
		free(head);
		free(body);
		free(tail);
		free(wr);
		/* closed from the loop, not under the caller's feet */
		c->dead = true;
		http_kick(c);
		return;
	}
	c->writes++;
}

/* Appends to a header block of cap bytes, never past its end. */
static void add(char *s, size_t cap, size_t *n, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void add(char *s, size_t cap, size_t *n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf(s + *n, cap - *n, fmt, ap);
	va_end(ap);
	if (k > 0)
		*n = *n + (size_t)k < cap ? *n + (size_t)k : cap - 1;
}

char *http_head_text(struct cc_http_conn *c, int status, const char *content_type,
                     const struct cc_http_resp *r, const char *extra, size_t *len)
{
	char date[64];
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	size_t cap = 1024 + (r ? sizeof(r->headers) + sizeof(r->allow) : 0), n = 0;
	char *s = malloc(cap);
	if (!s)
		return NULL;
	add(s, cap, &n, "HTTP/1.1 %d %s\r\nDate: %s\r\n", status, reason(status), date);
	if (content_type)
		add(s, cap, &n, "Content-Type: %.200s\r\n", content_type);
	if (r && r->allow[0])
		add(s, cap, &n, "Allow: %s\r\n", r->allow);
	for (unsigned i = 0; r && i < r->nheaders; i++)
		add(s, cap, &n, "%s: %s\r\n", r->headers[i][0], r->headers[i][1]);
	if (!c->keep_alive)
		add(s, cap, &n, "Connection: close\r\n");
	else if (c->parser.http_minor == 0)
		add(s, cap, &n, "Connection: keep-alive\r\n");
	add(s, cap, &n, "%.200s\r\n", extra);
	*len = n;
	return s;
}

/* The request is over: clear it and go on with the next one (if the client
 * stays), or close once the answer is out. */
void http_request_done(struct cc_http_conn *c)
{
	free(c->url);
	free(c->body);
	free(c->qpairs);
	c->url = c->body = c->qpairs = NULL;
	c->url_len = c->body_len = c->hdr_len = 0;
	c->nhdr = c->nq = 0;
	c->in_value = false;
	c->too_big = false;
	c->stream = NULL;
	c->seq++;
	c->active_ms = http_now_ms(c->h);
	if (!c->keep_alive || c->read_eof) {
		c->state = C_DRAINING;
		c->close_after_write = true;
		if (!c->writes)
			http_begin_close(c);
		return;
	}
	c->state = C_READING;
	if (c->in_len > c->in_off)
		http_kick(c);
}

void http_send_resp(struct cc_http_conn *c, struct cc_http_resp *r)
{
	for (char *p = r->allow; *p; p++)
		if (*p == ' ')
			*p = ',';
	char extra[48];
	snprintf(extra, sizeof(extra), "Content-Length: %zu\r\n", r->body_len);
	size_t hlen;
	const char *ct = r->content_type;
	if (!ct && r->body_len)
		ct = "text/plain; charset=utf-8";
	char *head = http_head_text(c, r->status, ct, r, extra, &hlen);
	if (!head) {
		free(r->body);
		r->body = NULL;
		c->keep_alive = false;
		http_request_done(c);
		return;
	}
	http_record(c);
	size_t blen = c->head ? 0 : r->body_len;
	http_conn_write(c, head, hlen, blen ? r->body : NULL, blen, NULL, 0);
	if (!blen)
		free(r->body);
	r->body = NULL;
	http_request_done(c);
}

void http_stream_flush(struct cc_http_stream *s)
{
	struct cc_http_conn *c = s->c;
	if (s->writing || c->closing || c->dead)
		return;
	if (s->len) {
		char *head = NULL, *tail = NULL;
		size_t hlen = 0, tlen = 0;
		if (s->chunked) {
			head = malloc(24);
			tail = malloc(2);
			if (!head || !tail) {
				free(head);
				free(tail);
				return;
			}
			hlen = (size_t)snprintf(head, 24, "%zx\r\n", s->len);
			memcpy(tail, "\r\n", 2);
			tlen = 2;
		}
		char *body = s->buf;
		size_t blen = s->len;
		s->buf = NULL;
		s->len = s->cap = 0;
		s->writing = true;
		http_conn_write(c, head, hlen, body, blen, tail, tlen);
		return;
	}
	if (!s->ending)
		return;
	/* all sent: end the body */
	if (s->chunked) {
		char *end = malloc(5);
		if (end) {
			memcpy(end, "0\r\n\r\n", 5);
			http_conn_write(c, end, 5, NULL, 0, NULL, 0);
		}
	} else {
		c->keep_alive = false;
	}
	c->stream = NULL;
	if (s->on_closed)
		s->on_closed(s->ud);
	free(s);
	http_request_done(c);
}

struct cc_http_stream *cc_http_stream_start(const struct cc_http_req *req,
                                            const char *content_type, size_t max_buffer,
                                            void (*on_closed)(void *ud), void *ud)
{
	struct cc_http_conn *c = req->conn;
	struct cc_http_stream *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->c = c;
	s->content_type = content_type;
	s->max = max_buffer;
	s->on_closed = on_closed;
	s->ud = ud;
	s->chunked = c->parser.http_minor >= 1;
	c->stream = s;
	return s;
}

int cc_http_stream_write(struct cc_http_stream *s, const char *data, size_t len)
{
	if (s->ending || s->c->closing || s->c->dead)
		return -EPIPE;
	if (s->len + len > s->max)
		return -ENOBUFS;
	if (s->len + len > s->cap) {
		size_t cap = s->cap ? s->cap : 4096;
		while (cap < s->len + len)
			cap *= 2;
		if (cap > s->max)
			cap = s->max;
		char *b = realloc(s->buf, cap);
		if (!b)
			return -ENOMEM;
		s->buf = b;
		s->cap = cap;
	}
	memcpy(s->buf + s->len, data, len);
	s->len += len;
	if (s->c->state == C_STREAMING)
		http_stream_flush(s);
	return 0;
}

size_t cc_http_stream_buffered(const struct cc_http_stream *s)
{
	return s->len;
}

void cc_http_stream_end(struct cc_http_stream *s)
{
	s->ending = true;
	if (s->c->state == C_STREAMING)
		http_kick(s->c); /* the end is written from the loop, not under the caller */
}

struct cc_http_pending *cc_http_defer(const struct cc_http_req *req)
{
	struct cc_http_conn *c = req->conn;
	c->owed = true;
	c->dnext = c->h->deferred;
	c->h->deferred = c;
	return (struct cc_http_pending *)c;
}

void cc_http_finish(struct cc_http_pending *p, struct cc_http_resp *resp)
{
	struct cc_http_conn *c = (struct cc_http_conn *)p;
	for (struct cc_http_conn **l = &c->h->deferred; *l; l = &(*l)->dnext) {
		if (*l == c) {
			*l = c->dnext;
			break;
		}
	}
	c->owed = false;
	if (c->closing) { /* the client went away meanwhile */
		free(resp->body);
		resp->body = NULL;
		if (c->gone)
			free(c);
		return;
	}
	http_send_resp(c, resp);
}
