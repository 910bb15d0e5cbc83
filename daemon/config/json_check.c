/* A strict JSON (RFC 8259) syntax checker whose only job is a good diagnosis:
 * where the text stops being JSON and what the parser expected there. cJSON
 * builds the tree; this says what is wrong when a file is not JSON. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "config/config_internal.h"

struct jc {
	const unsigned char *s;
	size_t len, i;
	int max_depth;
	struct json_diag *d;
	bool failed;
};

static void locate(struct jc *j, size_t at)
{
	int line = 1, col = 1;
	for (size_t k = 0; k < at && k < j->len; k++) {
		if (j->s[k] == '\n') {
			line++;
			col = 1;
		} else if ((j->s[k] & 0xC0) != 0x80) {
			col++; /* count characters, not UTF-8 continuation bytes */
		}
	}
	j->d->line = line;
	j->d->col = col;
}

static void describe(struct jc *j, char *out, size_t cap)
{
	if (j->i >= j->len) {
		snprintf(out, cap, "end of file");
		return;
	}
	unsigned char c = j->s[j->i];
	if (c == '\n')
		snprintf(out, cap, "a newline");
	else if (c >= 0x20 && c < 0x7f)
		snprintf(out, cap, "'%c'", c);
	else
		snprintf(out, cap, "byte 0x%02X", c);
}

__attribute__((format(printf, 2, 3))) static int fail(struct jc *j, const char *fmt, ...)
{
	if (j->failed)
		return -1;
	j->failed = true;
	locate(j, j->i);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(j->d->msg, sizeof(j->d->msg), fmt, ap);
	va_end(ap);
	return -1;
}

static int fail_expected(struct jc *j, const char *what)
{
	char found[32];
	describe(j, found, sizeof(found));
	return fail(j, "expected %s, found %s", what, found);
}

static void skip_ws(struct jc *j)
{
	while (j->i < j->len) {
		unsigned char c = j->s[j->i];
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		j->i++;
	}
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0 if invalid. */
static size_t utf8_len(const unsigned char *p, size_t avail)
{
	unsigned char c = p[0];
	size_t n;
	unsigned cp;
	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF) {
		n = 2;
		cp = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		n = 3;
		cp = c & 0x0F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (avail < n)
		return 0;
	for (size_t k = 1; k < n; k++) {
		if ((p[k] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[k] & 0x3F);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
		return 0;
	return n;
}

static int check_string(struct jc *j)
{
	size_t start = j->i;
	j->i++; /* opening quote */
	while (j->i < j->len) {
		unsigned char c = j->s[j->i];
		if (c == '"') {
			j->i++;
			return 0;
		}
		if (c == '\\') {
			j->i++;
			if (j->i >= j->len)
				break;
			c = j->s[j->i];
			if (c == 'u') {
				for (int k = 1; k <= 4; k++) {
					if (j->i + (size_t)k >= j->len ||
					    !strchr("0123456789abcdefABCDEF", j->s[j->i + k]) ||
					    j->s[j->i + k] == 0) {
						j->i += (size_t)k;
						return fail(j, "invalid \\u escape in string: expected 4 hex digits");
					}
				}
				j->i += 5;
				continue;
			}
			if (!strchr("\"\\/bfnrt", c) || c == 0) {
				j->i--;
				if (c >= 0x20 && c < 0x7f)
					return fail(j, "invalid escape '\\%c' in string", c);
				return fail(j, "invalid escape in string");
			}
			j->i++;
			continue;
		}
		if (c < 0x20) {
			if (c == '\n')
				return fail(j, "newline inside a string: expected '\"' to close the string "
				               "or '\\n' for a newline");
			return fail(j, "control character 0x%02X inside a string: escape it", c);
		}
		size_t n = utf8_len(j->s + j->i, j->len - j->i);
		if (n == 0)
			return fail(j, "invalid UTF-8 byte 0x%02X in string", c);
		j->i += n;
	}
	j->i = start;
	return fail(j, "unterminated string: expected '\"' before the end of the file");
}

static int check_number(struct jc *j)
{
	size_t start = j->i;
	if (j->s[j->i] == '-')
		j->i++;
	if (j->i >= j->len || j->s[j->i] < '0' || j->s[j->i] > '9')
		return fail_expected(j, "a digit in number");
	if (j->s[j->i] == '0') {
		j->i++;
		if (j->i < j->len && j->s[j->i] >= '0' && j->s[j->i] <= '9') {
			j->i = start;
			return fail(j, "invalid number: leading zeros are not allowed");
		}
	} else {
		while (j->i < j->len && j->s[j->i] >= '0' && j->s[j->i] <= '9')
			j->i++;
	}
	if (j->i < j->len && j->s[j->i] == '.') {
		j->i++;
		if (j->i >= j->len || j->s[j->i] < '0' || j->s[j->i] > '9')
			return fail_expected(j, "a digit after the decimal point");
		while (j->i < j->len && j->s[j->i] >= '0' && j->s[j->i] <= '9')
			j->i++;
	}
	if (j->i < j->len && (j->s[j->i] == 'e' || j->s[j->i] == 'E')) {
		j->i++;
		if (j->i < j->len && (j->s[j->i] == '+' || j->s[j->i] == '-'))
			j->i++;
		if (j->i >= j->len || j->s[j->i] < '0' || j->s[j->i] > '9')
			return fail_expected(j, "a digit in the exponent");
		while (j->i < j->len && j->s[j->i] >= '0' && j->s[j->i] <= '9')
			j->i++;
	}
	return 0;
}

static int check_value(struct jc *j, int depth);

static int check_object(struct jc *j, int depth)
{
	j->i++; /* '{' */
	skip_ws(j);
	if (j->i < j->len && j->s[j->i] == '}') {
		j->i++;
		return 0;
	}
	for (;;) {
		if (j->i >= j->len || j->s[j->i] != '"')
			return fail_expected(j, "a string key (in double quotes) or '}'");
		if (check_string(j))
			return -1;
		skip_ws(j);
		if (j->i >= j->len || j->s[j->i] != ':')
			return fail_expected(j, "':' after the object key");
		j->i++;
		skip_ws(j);
		if (check_value(j, depth + 1))
			return -1;
		skip_ws(j);
		if (j->i < j->len && j->s[j->i] == '}') {
			j->i++;
			return 0;
		}
		if (j->i >= j->len || j->s[j->i] != ',')
			return fail_expected(j, "',' or '}' after an object member");
		j->i++;
		skip_ws(j);
		if (j->i < j->len && j->s[j->i] == '}')
			return fail(j, "expected a string key after ',', found '}' "
			               "(trailing commas are not allowed in JSON)");
	}
}

static int check_array(struct jc *j, int depth)
{
	j->i++; /* '[' */
	skip_ws(j);
	if (j->i < j->len && j->s[j->i] == ']') {
		j->i++;
		return 0;
	}
	for (;;) {
		if (check_value(j, depth + 1))
			return -1;
		skip_ws(j);
		if (j->i < j->len && j->s[j->i] == ']') {
			j->i++;
			return 0;
		}
		if (j->i >= j->len || j->s[j->i] != ',')
			return fail_expected(j, "',' or ']' after an array element");
		j->i++;
		skip_ws(j);
		if (j->i < j->len && j->s[j->i] == ']')
			return fail(j, "expected a value after ',', found ']' "
			               "(trailing commas are not allowed in JSON)");
	}
}

static int check_literal(struct jc *j, const char *word)
{
	size_t n = strlen(word);
	if (j->len - j->i < n || memcmp(j->s + j->i, word, n) != 0)
		return fail_expected(j, "a value (object, array, string, number, true, false or null)");
	j->i += n;
	return 0;
}

static int check_value(struct jc *j, int depth)
{
	if (depth > j->max_depth)
		return fail(j, "nesting deeper than %d levels", j->max_depth);
	if (j->i >= j->len)
		return fail_expected(j, "a value");
	switch (j->s[j->i]) {
	case '{': return check_object(j, depth);
	case '[': return check_array(j, depth);
	case '"': return check_string(j);
	case 't': return check_literal(j, "true");
	case 'f': return check_literal(j, "false");
	case 'n': return check_literal(j, "null");
	case '\'': return fail(j, "expected a value, found \"'\" (JSON strings use double quotes)");
	default:
		if (j->s[j->i] == '-' || (j->s[j->i] >= '0' && j->s[j->i] <= '9'))
			return check_number(j);
		return fail_expected(j, "a value (object, array, string, number, true, false or null)");
	}
}

int json_check(const char *buf, size_t len, int max_depth, struct json_diag *d)
{
	struct jc j = { (const unsigned char *)buf, len, 0, max_depth, d, false };
	memset(d, 0, sizeof(*d));
	/* Invalid UTF-8 outside strings is caught here so the message is precise. */
	for (size_t k = 0; k < len;) {
		size_t n = utf8_len(j.s + k, len - k);
		if (n == 0) {
			j.i = k;
			return fail(&j, "invalid UTF-8: byte 0x%02X does not start a valid character",
			            j.s[k]);
		}
		k += n;
	}
	skip_ws(&j);
	if (j.i >= len)
		return fail(&j, "the file is empty: expected a JSON object");
	if (check_value(&j, 1))
		return -1;
	skip_ws(&j);
	if (j.i < len)
		return fail_expected(&j, "end of file after the top-level value");
	return 0;
}
