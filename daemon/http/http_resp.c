/* http_resp — filling responses: extra headers, JSON bodies in Go's shape,
 * plain-text errors (the part of http.h that needs no connection). */
#include "http/http.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cc_http_header(struct cc_http_resp *resp, const char *name, const char *value)
{
	if (resp->nheaders == 4)
		return;
	snprintf(resp->headers[resp->nheaders][0], sizeof(resp->headers[0][0]), "%s", name);
	snprintf(resp->headers[resp->nheaders][1], sizeof(resp->headers[0][1]), "%s", value);
	resp->nheaders++;
}

/* cJSON indents with tabs and writes ":\t" between key and value; Consul (Go's
 * json.MarshalIndent) uses four spaces and ": ". Literal tabs only ever appear
 * as formatting, because cJSON escapes them inside strings. */
static char *go_indent(const char *s, size_t *len)
{
	size_t tabs = 0;
	for (const char *p = s; *p; p++)
		tabs += *p == '\t';
	char *out = malloc(strlen(s) + tabs * 3 + 2);
	if (!out)
		return NULL;
	char *o = out;
	for (const char *p = s; *p; p++) {
		/* cJSON prints an empty object as "{\n\t...}", Go as "{}"; a literal
		 * newline is always formatting (cJSON escapes them in strings) */
		if (*p == '{' && p[1] == '\n') {
			size_t t = strspn(p + 2, "\t");
			if (p[2 + t] == '}') {
				memcpy(o, "{}", 2);
				o += 2;
				p += 2 + t;
				continue;
			}
		}
		if (*p != '\t') {
			*o++ = *p;
		} else if (p > s && p[-1] == ':') {
			*o++ = ' ';
		} else {
			memcpy(o, "    ", 4);
			o += 4;
		}
	}
	*o++ = '\n';
	*o = '\0';
	*len = (size_t)(o - out);
	return out;
}

void cc_http_json_body(struct cc_http_resp *resp, const cJSON *j, bool pretty)
{
	char *s = pretty ? cJSON_Print(j) : cJSON_PrintUnformatted(j);
	free(resp->body);
	resp->body = NULL;
	resp->body_len = 0;
	resp->content_type = "application/json";
	if (!s) {
		cc_http_error(resp, 500, "out of memory");
		return;
	}
	if (pretty) {
		resp->body = go_indent(s, &resp->body_len);
		cJSON_free(s);
		if (!resp->body)
			cc_http_error(resp, 500, "out of memory");
		return;
	}
	resp->body_len = strlen(s);
	resp->body = malloc(resp->body_len + 1);
	if (resp->body)
		memcpy(resp->body, s, resp->body_len + 1);
	else
		cc_http_error(resp, 500, "out of memory");
	cJSON_free(s);
}

void cc_http_json(const struct cc_http_req *req, struct cc_http_resp *resp, const cJSON *j)
{
	cc_http_json_body(resp, j, cc_http_query(req, "pretty") != NULL);
}

void cc_http_error(struct cc_http_resp *resp, int status, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(buf))
		n = sizeof(buf) - 1;
	free(resp->body);
	resp->status = status;
	resp->content_type = "text/plain; charset=utf-8";
	resp->body = malloc((size_t)n + 1);
	resp->body_len = resp->body ? (size_t)n : 0;
	if (resp->body)
		memcpy(resp->body, buf, (size_t)n + 1);
}
