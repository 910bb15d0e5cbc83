/* http_url — percent-decoding of request paths and query strings (pure). */
#include "http/http_internal.h"

#include <string.h>

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

size_t cc_http_unescape(char *s, size_t len, bool plus)
{
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		int hi, lo;
		if (s[i] == '%' && i + 2 < len && (hi = hexval(s[i + 1])) >= 0 && (lo = hexval(s[i + 2])) >= 0) {
			s[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else {
			s[o++] = plus && s[i] == '+' ? ' ' : s[i];
		}
	}
	s[o] = '\0';
	return o;
}

unsigned cc_http_parse_query(const char *q, size_t len, char *out)
{
	unsigned n = 0;
	size_t i = 0;
	while (i < len) {
		size_t end = i;
		while (end < len && q[end] != '&')
			end++;
		if (end > i) {
			size_t eq = i;
			while (eq < end && q[eq] != '=')
				eq++;
			size_t klen = eq - i;
			memcpy(out, q + i, klen);
			out += cc_http_unescape(out, klen, true) + 1;
			size_t vlen = eq < end ? end - eq - 1 : 0;
			memcpy(out, q + eq + (eq < end), vlen);
			out += cc_http_unescape(out, vlen, true) + 1;
			n++;
		}
		i = end + 1;
	}
	return n;
}

const char *cc_http_query_find(const char *pairs, unsigned n, const char *key)
{
	const char *p = pairs;
	for (unsigned i = 0; i < n; i++) {
		const char *v = p + strlen(p) + 1;
		if (strcmp(p, key) == 0)
			return v;
		p = v + strlen(v) + 1;
	}
	return NULL;
}
