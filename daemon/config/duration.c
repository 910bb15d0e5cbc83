/* Go's time.ParseDuration grammar: [-+]? ( number unit )+ , or "0". */
#include <stdio.h>
#include <string.h>

#include "config/config.h"

static const struct {
	const char *name;
	int64_t ns;
} units[] = {
	{ "ns", 1 },
	{ "us", 1000 },
	{ "\xc2\xb5s", 1000 }, /* µs, U+00B5 */
	{ "\xce\xbcs", 1000 }, /* μs, U+03BC */
	{ "ms", 1000000 },
	{ "s", 1000000000LL },
	{ "m", 60LL * 1000000000LL },
	{ "h", 3600LL * 1000000000LL },
};

int cc_duration_parse(const char *s, int64_t *out, const char **why)
{
	const char *p = s;
	int neg = 0;
	if (*p == '-' || *p == '+')
		neg = *p++ == '-';
	if (strcmp(p, "0") == 0) {
		*out = 0;
		return 0;
	}
	if (*p == '\0') {
		*why = "empty duration";
		return -1;
	}
	/* Accumulate in long double for the fraction, checking the int64 range. */
	long double total = 0;
	while (*p) {
		long double v = 0, scale = 1;
		int digits = 0;
		while (*p >= '0' && *p <= '9') {
			v = v * 10 + (*p++ - '0');
			digits++;
		}
		if (*p == '.') {
			p++;
			while (*p >= '0' && *p <= '9') {
				scale /= 10;
				v += (*p++ - '0') * scale;
				digits++;
			}
		}
		if (digits == 0) {
			*why = "expected a number before the unit";
			return -1;
		}
		size_t best = 0;
		int64_t mult = 0;
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			size_t n = strlen(units[i].name);
			if (strncmp(p, units[i].name, n) == 0 && n > best) {
				best = n;
				mult = units[i].ns;
			}
		}
		if (best == 0) {
			*why = *p ? "unknown unit (use ns, us, ms, s, m or h)"
			          : "missing unit (use ns, us, ms, s, m or h)";
			return -1;
		}
		p += best;
		total += v * (long double)mult;
		if (total > 9223372036854775807.0L) {
			*why = "duration out of range";
			return -1;
		}
	}
	*out = (int64_t)(neg ? -total : total);
	return 0;
}

char *cc_duration_format(uint64_t ms, char *buf, size_t cap)
{
	if (ms == 0) {
		snprintf(buf, cap, "0s");
	} else if (ms < 1000) {
		snprintf(buf, cap, "%llums", (unsigned long long)ms);
	} else {
		unsigned long long h = ms / 3600000, m = (ms / 60000) % 60, s = (ms / 1000) % 60,
		                   frac = ms % 1000;
		char sec[32];
		if (frac == 0)
			snprintf(sec, sizeof(sec), "%llus", s);
		else {
			snprintf(sec, sizeof(sec), "%llu.%03llu", s, frac);
			size_t n = strlen(sec);
			while (sec[n - 1] == '0')
				sec[--n] = '\0';
			snprintf(sec + n, sizeof(sec) - n, "s");
		}
		if (h)
			snprintf(buf, cap, "%lluh%llum%s", h, m, sec);
		else if (m)
			snprintf(buf, cap, "%llum%s", m, sec);
		else
			snprintf(buf, cap, "%s", sec);
	}
	return buf;
}
