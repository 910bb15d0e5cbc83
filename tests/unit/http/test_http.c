/* The HTTP server against a raw client socket on 127.0.0.1: what curl, Go's
 * net/http and the npm client rely on (keep-alive, pipelining, chunked bodies,
 * Expect: 100-continue, limits, deferred and streamed answers). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http/http.h"
#include "http/http_internal.h"

static uv_loop_t loop;
static struct cc_http *srv;
static int port;
static struct cc_http_pending *pending;
static struct cc_http_stream *stream;
static int stream_closed;

static void h_echo(void *ud, const struct cc_http_req *req, struct cc_http_resp *resp)
{
	(void)ud;
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "method", req->method);
	cJSON_AddStringToObject(j, "path", req->path);
	cJSON_AddStringToObject(j, "suffix", req->suffix);
	cJSON_AddStringToObject(j, "body", req->body);
	const char *a = cc_http_query(req, "a"), *b = cc_http_query(req, "b");
	const char *t = cc_http_req_header(req, "x-t"), *e = cc_http_req_header(req, "X-Empty");
	cJSON_AddStringToObject(j, "a", a ? a : "(none)");
	cJSON_AddStringToObject(j, "b", b ? b : "(none)");
	cJSON_AddStringToObject(j, "t", t ? t : "(none)");
	cJSON_AddStringToObject(j, "e", e ? e : "(none)");
	cc_http_json(req, resp, j);
	cJSON_Delete(j);
}

static void h_defer(void *ud, const struct cc_http_req *req, struct cc_http_resp *resp)
{
	(void)ud;
	(void)resp;
	pending = cc_http_defer(req);
}

static void h_self(void *ud, const struct cc_http_req *req, struct cc_http_resp *resp)
{
	(void)ud;
	(void)resp;
	struct cc_http_pending *p = cc_http_defer(req);
	struct cc_http_resp r = { .status = 200 };
	cc_http_error(&r, 500, "No known Consul servers");
	cc_http_finish(p, &r);
}

static void on_stream_closed(void *ud)
{
	(void)ud;
	stream_closed++;
	stream = NULL;
}

static void h_stream(void *ud, const struct cc_http_req *req, struct cc_http_resp *resp)
{
	(void)ud;
	(void)resp;
	stream = cc_http_stream_start(req, "text/plain", 16, on_stream_closed, NULL);
	assert_non_null(stream);
	assert_int_equal(cc_http_stream_write(stream, "hello", 5), 0);
}

static const struct cc_http_route routes[] = {
	{ "/echo", false, "GET PUT", h_echo },
	{ "/p/", true, "GET", h_echo },
	{ "/defer", false, "GET", h_defer },
	{ "/self", false, "GET", h_self },
	{ "/stream", false, "GET", h_stream },
};

static void pump(int ms)
{
	for (int i = 0; i < ms; i++) {
		uv_run(&loop, UV_RUN_NOWAIT);
		usleep(1000);
	}
}

static int dial(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	pump(5); /* accepted */
	return fd;
}

static void say(int fd, const char *s, size_t n)
{
	size_t off = 0;
	while (off < n) {
		ssize_t w = send(fd, s + off, n - off, MSG_NOSIGNAL);
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			pump(1);
			continue;
		}
		assert_true(w > 0);
		off += (size_t)w;
	}
}

static void sayz(int fd, const char *s)
{
	say(fd, s, strlen(s));
}

/* Reads while running the loop until `until` has appeared `times` times
 * (NULL: until the server closes) or ms pass; *eof says whether it closed. */
static char got[1 << 20];
static size_t gotn;

static int count(const char *s, const char *what)
{
	int n = 0;
	for (const char *p = s; (p = strstr(p, what)); p += strlen(what))
		n++;
	return n;
}

static bool hear(int fd, const char *until, int times, int ms)
{
	gotn = 0;
	got[0] = '\0';
	for (int i = 0; i < ms; i++) {
		uv_run(&loop, UV_RUN_NOWAIT);
		ssize_t r;
		while ((r = recv(fd, got + gotn, sizeof(got) - 1 - gotn, 0)) > 0) {
			gotn += (size_t)r;
			got[gotn] = '\0';
		}
		if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
			return true;
		if (until && count(got, until) >= times)
			return false;
		usleep(1000);
	}
	return false;
}

static int setup(void **state)
{
	(void)state;
	uv_loop_init(&loop);
	char err[256];
	for (int i = 0; i < 50; i++) {
		port = 20000 + (int)((getpid() * 7 + i * 131) % 30000);
		if (cc_http_start(&srv, &loop, "127.0.0.1", port, routes,
		                  sizeof(routes) / sizeof(routes[0]), NULL, err, sizeof(err)) == 0)
			return 0;
	}
	return -1;
}

static int teardown(void **state)
{
	(void)state;
	cc_http_stop(srv);
	pump(20);
	assert_int_equal(uv_loop_close(&loop), 0);
	return 0;
}

static void test_keepalive_pipelined(void **state)
{
	(void)state;
	int fd = dial();
	sayz(fd, "GET /echo?a=x%20y+z&b HTTP/1.1\r\nHost: h\r\nX-T: v\r\nX-Empty:\r\n\r\n"
	         "PUT /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc");
	assert_false(hear(fd, "HTTP/1.1 200 OK", 2, 2000));
	assert_int_equal(count(got, "HTTP/1.1 200 OK"), 2);
	char *second = strstr(got + 1, "HTTP/1.1 200 OK");
	assert_non_null(strstr(got, "\"a\":\"x y z\",\"b\":\"\",\"t\":\"v\",\"e\":\"\""));
	assert_true(strstr(got, "\"method\":\"GET\"") < second);
	assert_non_null(strstr(second, "\"method\":\"PUT\""));
	assert_non_null(strstr(second, "\"body\":\"abc\""));
	assert_null(strstr(got, "Connection: close"));
	/* and the connection stays for a third */
	sayz(fd, "GET /echo HTTP/1.1\r\nHost: h\r\n\r\n");
	assert_false(hear(fd, "\"method\":\"GET\"", 1, 2000));
	close(fd);
}

static void test_chunked_and_continue(void **state)
{
	(void)state;
	int fd = dial();
	sayz(fd, "PUT /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
	         "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
	hear(fd, "}", 1, 2000);
	assert_non_null(strstr(got, "\"body\":\"abcde\""));
	/* curl's Expect: the body is sent only after the interim answer */
	sayz(fd, "PUT /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n");
	hear(fd, "\r\n\r\n", 1, 2000);
	assert_string_equal(got, "HTTP/1.1 100 Continue\r\n\r\n");
	sayz(fd, "xy");
	hear(fd, "}", 1, 2000);
	assert_non_null(strstr(got, "HTTP/1.1 200 OK"));
	assert_non_null(strstr(got, "\"body\":\"xy\""));
	close(fd);
}

static void test_too_big(void **state)
{
	(void)state;
	int fd = dial();
	sayz(fd, "PUT /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 999999999\r\n\r\nabc");
	assert_true(hear(fd, NULL, 0, 3000));
	assert_non_null(strstr(got, "HTTP/1.1 413 "));
	assert_non_null(strstr(got, "Request body too large: the limit is 524288 bytes"));
	assert_non_null(strstr(got, "Connection: close"));
	close(fd);

	/* a chunked body that grows past the limit */
	fd = dial();
	sayz(fd, "PUT /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n");
	static char chunk[70000];
	memset(chunk, 'x', sizeof(chunk));
	bool closed = false;
	for (int i = 0; i < 10 && !closed; i++) {
		char sz[32];
		snprintf(sz, sizeof(sz), "%zx\r\n", sizeof(chunk));
		if (send(fd, sz, strlen(sz), MSG_NOSIGNAL) < 0 ||
		    send(fd, chunk, sizeof(chunk), MSG_NOSIGNAL) < 0 ||
		    send(fd, "\r\n", 2, MSG_NOSIGNAL) < 0)
			closed = true;
		pump(5);
	}
	hear(fd, NULL, 0, 3000);
	assert_non_null(strstr(got, "HTTP/1.1 413 "));
	close(fd);
}

static void test_bad_requests(void **state)
{
	(void)state;
	int fd = dial();
	sayz(fd, "GARBAGE\r\n\r\n");
	assert_true(hear(fd, NULL, 0, 2000));
	assert_non_null(strstr(got, "HTTP/1.1 400 Bad Request"));
	assert_non_null(strstr(got, "Bad request: invalid HTTP method"));
	close(fd);

	fd = dial();
	static char big[100000];
	memset(big, 'a', sizeof(big));
	sayz(fd, "GET /echo HTTP/1.1\r\nX-Big: ");
	say(fd, big, sizeof(big));
	assert_true(hear(fd, NULL, 0, 2000));
	assert_non_null(strstr(got, "HTTP/1.1 431 "));
	close(fd);
}

static void test_routing(void **state)
{
	(void)state;
	int fd = dial();
	sayz(fd, "GET /p/a%2Fb%20c+d?a=1&a=2 HTTP/1.1\r\n\r\n");
	hear(fd, "}", 1, 2000);
	/* the path is percent-decoded ('+' stays), the first of two values wins */
	assert_non_null(strstr(got, "\"path\":\"/p/a/b c+d\",\"suffix\":\"a/b c+d\""));
	assert_non_null(strstr(got, "\"a\":\"1\""));
	sayz(fd, "DELETE /echo HTTP/1.1\r\n\r\n");
	hear(fd, "not allowed", 1, 2000);
	assert_non_null(strstr(got, "HTTP/1.1 405 Method Not Allowed"));
	assert_non_null(strstr(got, "Allow: OPTIONS,GET,PUT\r\n"));
	assert_non_null(strstr(got, "method DELETE not allowed"));
	sayz(fd, "GET /nothing HTTP/1.1\r\n\r\n");
	hear(fd, "\r\n\r\n", 1, 2000);
	assert_non_null(strstr(got, "HTTP/1.1 404 Not Found"));
	assert_non_null(strstr(got, "Content-Length: 0\r\n"));
	/* HEAD: the headers of a 405, no body */
	sayz(fd, "HEAD /echo HTTP/1.1\r\n\r\n");
	hear(fd, "\r\n\r\n", 1, 2000);
	pump(20);
	assert_non_null(strstr(got, "HTTP/1.1 405 "));
	assert_null(strstr(got, "not allowed"));
	close(fd);

	/* HTTP/1.0 without keep-alive: one answer, then the server closes */
	fd = dial();
	sayz(fd, "GET /echo HTTP/1.0\r\n\r\n");
	assert_true(hear(fd, NULL, 0, 2000));
	assert_non_null(strstr(got, "HTTP/1.1 200 OK"));
	assert_non_null(strstr(got, "Connection: close"));
	close(fd);
}

static void test_deferred(void **state)
{
	(void)state;
	int fd = dial();
	pending = NULL;
	sayz(fd, "GET /defer HTTP/1.1\r\n\r\nGET /echo?a=after HTTP/1.1\r\n\r\n");
	hear(fd, "HTTP", 1, 100);
	assert_int_equal(gotn, 0); /* nothing yet, and the pipelined request waits */
	assert_non_null(pending);
	struct cc_http_resp r = { .status = 200 };
	cc_http_error(&r, 200, "late");
	cc_http_finish(pending, &r);
	hear(fd, "\"a\":\"after\"", 1, 2000);
	assert_true(strstr(got, "late") < strstr(got, "\"a\":\"after\""));
	assert_non_null(strstr(got, "late"));

	/* answered from inside its own handler: one answer, not two */
	sayz(fd, "GET /self HTTP/1.1\r\n\r\nGET /echo HTTP/1.1\r\n\r\n");
	hear(fd, "\"method\"", 1, 2000);
	pump(20);
	assert_int_equal(count(got, "HTTP/1.1 "), 2);
	assert_non_null(strstr(got, "HTTP/1.1 500 Internal Server Error"));
	close(fd);

	/* the client leaves before the answer: finishing later is harmless */
	fd = dial();
	pending = NULL;
	sayz(fd, "GET /defer HTTP/1.1\r\n\r\n");
	pump(20);
	assert_non_null(pending);
	close(fd);
	pump(20);
	struct cc_http_resp r2 = { .status = 200 };
	cc_http_error(&r2, 200, "too late");
	cc_http_finish(pending, &r2);
	pump(10);
}

static void test_stream(void **state)
{
	(void)state;
	stream_closed = 0;
	int fd = dial();
	sayz(fd, "GET /stream HTTP/1.1\r\n\r\n");
	hear(fd, "hello\r\n", 1, 2000);
	assert_non_null(strstr(got, "Transfer-Encoding: chunked\r\n"));
	assert_non_null(strstr(got, "\r\n\r\n5\r\nhello\r\n"));
	assert_non_null(stream);
	assert_int_equal(cc_http_stream_write(stream, "more", 4), 0);
	assert_int_equal(cc_http_stream_write(stream, "0123456789abcdefg", 17), -ENOBUFS);
	hear(fd, "more\r\n", 1, 2000);
	assert_string_equal(got, "4\r\nmore\r\n");
	cc_http_stream_end(stream);
	hear(fd, "0\r\n\r\n", 1, 2000);
	assert_string_equal(got, "0\r\n\r\n");
	assert_int_equal(stream_closed, 1);
	/* the connection goes on after the stream */
	sayz(fd, "GET /echo HTTP/1.1\r\n\r\n");
	hear(fd, "}", 1, 2000);
	assert_non_null(strstr(got, "HTTP/1.1 200 OK"));
	close(fd);

	/* the client goes away: the stream is over, once */
	fd = dial();
	sayz(fd, "GET /stream HTTP/1.1\r\n\r\n");
	hear(fd, "hello\r\n", 1, 2000);
	close(fd);
	pump(50);
	assert_int_equal(stream_closed, 2);
	assert_null(stream);
}

static void test_stop_answers_pending(void **state)
{
	(void)state;
	int fd = dial();
	pending = NULL;
	sayz(fd, "GET /defer HTTP/1.1\r\n\r\n");
	pump(20);
	assert_non_null(pending);
	cc_http_stop(srv);
	assert_true(hear(fd, NULL, 0, 2000));
	assert_non_null(strstr(got, "HTTP/1.1 503 "));
	assert_non_null(strstr(got, "agent is shutting down"));
	close(fd);
	srv = NULL;
}

static void test_url_decoding(void **state)
{
	(void)state;
	char s[64] = "a%2fb%2Xc%4";
	assert_int_equal(cc_http_unescape(s, strlen(s), false), 9);
	assert_string_equal(s, "a/b%2Xc%4");
	const char *q = "x=1+2&&flag&=v&k=%41";
	char out[64];
	unsigned n = cc_http_parse_query(q, strlen(q), out);
	assert_int_equal(n, 4);
	assert_string_equal(cc_http_query_find(out, n, "x"), "1 2");
	assert_string_equal(cc_http_query_find(out, n, "flag"), "");
	assert_string_equal(cc_http_query_find(out, n, ""), "v");
	assert_string_equal(cc_http_query_find(out, n, "k"), "A");
	assert_null(cc_http_query_find(out, n, "missing"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url_decoding),
		cmocka_unit_test_setup_teardown(test_keepalive_pipelined, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chunked_and_continue, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_big, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_requests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_routing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deferred, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_answers_pending, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
