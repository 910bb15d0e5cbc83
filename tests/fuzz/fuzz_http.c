/* fuzz_http: arbitrary bytes from a client to the HTTP server, over a real
 * loopback connection: the request parser, header and body limits, routing,
 * pipelining, deferred and streamed answers. The server must answer or close,
 * never crash or leak, and every connection must be gone after each input. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/http.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uv_loop_t loop;
static struct cc_http *srv;
static int port;
static struct cc_http_pending *pending[64];
static unsigned npending;
static struct cc_http_stream *stream;

static void h_echo(void *ud, const struct cc_http_req *req, struct cc_http_resp *resp)
{
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "path", req->path);
	cJSON_AddStringToObject(j, "suffix", req->suffix);
	cJSON_AddNumberToObject(j, "len", (double)req->body_len);
	const char *q = cc_http_query(req, "q"), *h = cc_http_req_header(req, "X-H");
	cJSON_AddStringToObject(j, "q", q ? q : "");
	cJSON_AddStringToObject(j, "h", h ? h : "");
	cc_http_json(req, resp, j);
	cJSON_Delete(j);
	cc_http_header(resp, "X-Consul-Index", "7");
}

static void h_defer(void *ud, const struct cc_http_req *req, struct cc_http_resp *resp)
{
	if (npending < sizeof(pending) / sizeof(pending[0]))
		pending[npending++] = cc_http_defer(req);
	else
		cc_http_error(resp, 429, "too many");
}

static void on_stream_closed(void *ud)
{
	stream = NULL;
}

static void h_stream(void *ud, const struct cc_http_req *req, struct cc_http_resp *resp)
{
	if (stream) {
		cc_http_error(resp, 409, "busy");
		return;
	}
	stream = cc_http_stream_start(req, "text/plain", 64, on_stream_closed, NULL);
	if (stream)
		cc_http_stream_write(stream, "line\n", 5);
}

static const struct cc_http_route routes[] = {
	{ "/v1/echo", false, "GET PUT POST", h_echo },
	{ "/v1/p/", true, "GET PUT DELETE", h_echo },
	{ "/v1/defer", false, "GET", h_defer },
	{ "/v1/stream", false, "GET", h_stream },
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	uv_loop_init(&loop);
	char err[256];
	for (int i = 0; i < 100; i++) {
		port = 20000 + (int)((getpid() * 13 + i * 97) % 30000);
		if (cc_http_start(&srv, &loop, "127.0.0.1", port, routes,
		                  sizeof(routes) / sizeof(routes[0]), NULL, err, sizeof(err)) == 0)
			return 0;
	}
	fprintf(stderr, "fuzz_http: no free port: %s\n", err);
	abort();
}

static void finish_pending(void)
{
	for (unsigned i = 0; i < npending; i++) {
		struct cc_http_resp r = { .status = 200 };
		cc_http_error(&r, 200, "late answer");
		cc_http_finish(pending[i], &r);
	}
	npending = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		abort();
	fcntl(fd, F_SETFL, O_NONBLOCK);
	char sink[65536];
	size_t off = 0;
	bool closed = false;
	for (int i = 0; i < 20000 && !closed; i++) {
		if (off < size) {
			ssize_t w = send(fd, data + off, size - off, MSG_NOSIGNAL);
			if (w > 0)
				off += (size_t)w;
			else if (w < 0 && errno != EAGAIN)
				off = size;
			if (off == size)
				shutdown(fd, SHUT_WR);
		} else if (size == 0 && i == 0) {
			shutdown(fd, SHUT_WR);
		}
		uv_run(&loop, UV_RUN_NOWAIT);
		if (stream && i % 3 == 0)
			cc_http_stream_write(stream, "more\n", 5);
		if (stream && i == 50)
			cc_http_stream_end(stream);
		if (npending && i % 7 == 6)
			finish_pending();
		ssize_t r;
		while ((r = recv(fd, sink, sizeof(sink), 0)) > 0)
			;
		closed = r == 0 || (r < 0 && errno != EAGAIN);
	}
	close(fd);
	finish_pending();
	if (stream)
		cc_http_stream_end(stream);
	/* the server lets go of the connection */
	for (int i = 0; i < 100; i++)
		uv_run(&loop, UV_RUN_NOWAIT);
	return 0;
}
