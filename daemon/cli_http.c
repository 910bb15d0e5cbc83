/* What the HTTP-API subcommands (members, kv, operator, info, ...) share: the
 * agent's address, one libcurl request, Consul's error wording, columnize-style
 * tables and Go flag-package parsing. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "cli.h"

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct cc_cli_body *b = ud;
	size_t len = size * nmemb;
	char *n = realloc(b->p, b->n + len + 1);
	if (!n)
		return 0;
	b->p = n;
	memcpy(b->p + b->n, ptr, len);
	b->n += len;
	b->p[b->n] = '\0';
	return len;
}

const char *cc_cli_http_addr(const char *flag, char *buf, size_t cap)
{
	const char *a = flag;
	if (!a || !a[0])
		a = getenv("CONCLAVE_HTTP_ADDR");
	if (!a || !a[0])
		a = getenv("CONSUL_HTTP_ADDR");
	if (!a || !a[0])
		a = "127.0.0.1:8500";
	snprintf(buf, cap, "%s%s", strstr(a, "://") ? "" : "http://", a);
	size_t n = strlen(buf);
	while (n && buf[n - 1] == '/')
		buf[--n] = '\0';
	return buf;
}

const char *cc_cli_take_http_addr(int *argc, char **argv)
{
	const char *addr = NULL;
	int w = 0;
	for (int i = 0; i < *argc; i++) {
		const char *a = argv[i];
		if (strncmp(a, "-http-addr=", 11) == 0 || strncmp(a, "--http-addr=", 12) == 0)
			addr = strchr(a, '=') + 1;
		else if ((strcmp(a, "-http-addr") == 0 || strcmp(a, "--http-addr") == 0) &&
		         i + 1 < *argc)
			addr = argv[++i];
		else
			argv[w++] = argv[i];
	}
	*argc = w;
	return addr;
}

int cc_cli_call(const char *method, const char *base, const char *path, const void *data,
                size_t len, struct cc_cli_body *out, char *err, size_t errlen)
{
	size_t ulen = strlen(base) + strlen(path) + 1;
	char *url = malloc(ulen);
	CURL *c = url ? curl_easy_init() : NULL;
	if (!c) {
		snprintf(err, errlen, "cannot initialise libcurl");
		free(url);
		return -1;
	}
	snprintf(url, ulen, "%s%s", base, path);
	char cerr[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdr = NULL;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (strcmp(method, "PUT") == 0 || len) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, data ? data : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
		/* a raw body, as Go's client sends it: no form type, no 100-continue wait */
		hdr = curl_slist_append(hdr, "Content-Type:");
		hdr = curl_slist_append(hdr, "Expect:");
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	}
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	CURLcode rc = curl_easy_perform(c);
	long status = 0, oserr = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &oserr);
	curl_easy_cleanup(c);
	curl_slist_free_all(hdr);
	if (rc != CURLE_OK) {
		/* Go's url.Error names the method as "Get", "Put", "Delete" */
		char m[16], why[CURL_ERROR_SIZE + 300];
		snprintf(m, sizeof(m), "%s", method);
		for (char *p = m + 1; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		snprintf(why, sizeof(why), "%s", cerr[0] ? cerr : curl_easy_strerror(rc));
		if (rc == CURLE_COULDNT_CONNECT && oserr) {
			/* as Go's dialer: "dial tcp 127.0.0.1:8500: connect: connection refused" */
			const char *host = strstr(url, "://") + 3;
			size_t hl = strcspn(host, "/?");
			char e[128];
			snprintf(e, sizeof(e), "%s", strerror((int)oserr));
			e[0] = (char)tolower((unsigned char)e[0]);
			snprintf(why, sizeof(why), "dial tcp %.*s%s: connect: %s", (int)hl, host,
			         memchr(host, ':', hl) ? "" : strncmp(url, "https", 5) ? ":80" : ":443", e);
		}
		snprintf(err, errlen, "%s %s: %s", m, url, why);
		free(url);
		return -1;
	}
	free(url);
	return (int)status;
}

const char *cc_cli_error(int status, const struct cc_cli_body *b, const char *err, char *buf,
                         size_t cap)
{
	if (status < 0)
		snprintf(buf, cap, "%s", err);
	else
		snprintf(buf, cap, "Unexpected response code: %d (%s)", status, b->p ? b->p : "");
	return buf;
}

char *cc_cli_escape(const char *s, bool keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = malloc(3 * strlen(s) + 1);
	size_t o = 0;
	for (const unsigned char *p = (const unsigned char *)s; out && *p; p++) {
		if (isalnum(*p) || strchr("-._~", *p) || (keep_slash && *p == '/')) {
			out[o++] = (char)*p;
		} else {
			out[o++] = '%';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 15];
		}
	}
	if (out)
		out[o] = '\0';
	return out;
}

void cc_cli_columns(FILE *f, const char *const *cell, size_t nrows, size_t ncols)
{
	size_t w[16] = { 0 };
	if (ncols == 0 || ncols > 16)
		return;
	for (size_t i = 0; i < nrows; i++)
		for (size_t c = 0; c < ncols; c++)
			if (strlen(cell[i * ncols + c]) > w[c])
				w[c] = strlen(cell[i * ncols + c]);
	for (size_t i = 0; i < nrows; i++) {
		for (size_t c = 0; c + 1 < ncols; c++)
			fprintf(f, "%-*s  ", (int)w[c], cell[i * ncols + c]);
		fprintf(f, "%s\n", cell[i * ncols + ncols - 1]);
	}
}

/* strconv.ParseBool's spellings. */
static int parse_bool(const char *v, bool *out)
{
	static const char *const t[] = { "1", "t", "T", "TRUE", "true", "True" };
	static const char *const f[] = { "0", "f", "F", "FALSE", "false", "False" };
	for (size_t i = 0; i < 6; i++) {
		if (strcmp(v, t[i]) == 0 || strcmp(v, f[i]) == 0) {
			*out = strcmp(v, t[i]) == 0;
			return 0;
		}
	}
	return -1;
}

/* strconv.ParseUint(v, 0, 64): decimal, 0x.. hex, 0.. octal; no sign. */
static int parse_u64(const char *v, uint64_t *out)
{
	char *end;
	if (!isdigit((unsigned char)v[0]))
		return -1;
	errno = 0;
	unsigned long long x = strtoull(v, &end, 0);
	if (*end || errno)
		return -1;
	*out = x;
	return 0;
}

static int is_help(const char *a)
{
	return strcmp(a, "-h") == 0 || strcmp(a, "-help") == 0 || strcmp(a, "--help") == 0;
}

/* Go's FlagSet: the error, then the usage, on stderr. */
static int parse_fail(const char *usage, const char *msg)
{
	fprintf(stderr, "%s\n\n%s", msg, usage);
	return -1;
}

int cc_cli_parse(int argc, char **argv, const struct cc_cli_flag *flags, size_t nflags,
                 const char *usage)
{
	/* like mitchellh/cli: a help flag anywhere asks for help */
	for (int i = 0; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (is_help(argv[i])) {
			fputs(usage, stdout);
			return -2;
		}
	}
	int i = 0;
	while (i < argc) {
		const char *s = argv[i];
		if (s[0] != '-' || s[1] == '\0')
			break;
		if (strcmp(s, "--") == 0)
			return i + 1;
		const char *name = s + (s[1] == '-' ? 2 : 1);
		char msg[300];
		if (!name[0] || name[0] == '-' || name[0] == '=') {
			snprintf(msg, sizeof(msg), "bad flag syntax: %.200s", s);
			return parse_fail(usage, msg);
		}
		const char *eq = strchr(name, '=');
		size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
		const struct cc_cli_flag *f = NULL;
		for (size_t k = 0; k < nflags && !f; k++)
			if (strlen(flags[k].name) == nlen && strncmp(flags[k].name, name, nlen) == 0)
				f = &flags[k];
		char shown[128];
		snprintf(shown, sizeof(shown), "%.*s", (int)nlen, name);
		if (!f) {
			snprintf(msg, sizeof(msg), "flag provided but not defined: -%s", shown);
			return parse_fail(usage, msg);
		}
		i++;
		if (f->type == CC_CLI_BOOL) {
			if (eq && parse_bool(eq + 1, f->dst)) {
				snprintf(msg, sizeof(msg), "invalid boolean value \"%.100s\" for -%s: parse error",
				         eq + 1, shown);
				return parse_fail(usage, msg);
			}
			if (!eq)
				*(bool *)f->dst = true;
			continue;
		}
		const char *v = eq ? eq + 1 : NULL;
		if (!v && i < argc)
			v = argv[i++];
		if (!v) {
			snprintf(msg, sizeof(msg), "flag needs an argument: -%s", shown);
			return parse_fail(usage, msg);
		}
		if (f->type == CC_CLI_STR) {
			*(const char **)f->dst = v;
		} else if (parse_u64(v, f->dst)) {
			snprintf(msg, sizeof(msg), "invalid value \"%.100s\" for flag -%s: parse error", v,
			         shown);
			return parse_fail(usage, msg);
		}
	}
	return i;
}
