/* The embedded web UI: every asset is byte-for-byte the file in daemon/ui/,
 * lookups find exactly those names, content types follow the extension, and
 * the page loads nothing from outside the agent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ui/ui.h"

static char *slurp(const char *name, size_t *len)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", TEST_UI_DIR, name);
	FILE *f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s", path);
	char *buf = NULL;
	size_t cap = 0, n = 0;
	for (;;) {
		if (n == cap) {
			cap = cap ? cap * 2 : 4096;
			buf = realloc(buf, cap + 1);
			assert_non_null(buf);
		}
		size_t r = fread(buf + n, 1, cap - n, f);
		if (r == 0)
			break;
		n += r;
	}
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

static bool contains(const struct cc_ui_asset *a, const char *needle)
{
	size_t k = strlen(needle);
	for (size_t i = 0; i + k <= a->len; i++)
		if (memcmp(a->data + i, needle, k) == 0)
			return true;
	return false;
}

static void test_assets_match_sources(void **state)
{
	(void)state;
	assert_int_equal(cc_ui_nassets, 3);
	for (size_t i = 0; i < cc_ui_nassets; i++) {
		size_t len;
		char *src = slurp(cc_ui_assets[i].name, &len);
		assert_int_equal(cc_ui_assets[i].len, len);
		assert_memory_equal(cc_ui_assets[i].data, src, len);
		assert_true(len > 100); /* not an empty or truncated file */
		free(src);
	}
}

static void test_find(void **state)
{
	(void)state;
	const struct cc_ui_asset *idx = cc_ui_find("");
	assert_non_null(idx);
	assert_string_equal(idx->name, "index.html");
	assert_ptr_equal(cc_ui_find("index.html"), idx);
	assert_string_equal(cc_ui_find("app.js")->name, "app.js");
	assert_string_equal(cc_ui_find("style.css")->name, "style.css");
	const char *absent[] = { "nope.js", "../ui.h", "/app.js", "app.js/", "ui.c", "embed.cmake",
		                 "APP.JS", "app.js%00", "./app.js", "index.htm" };
	for (size_t i = 0; i < sizeof(absent) / sizeof(absent[0]); i++)
		assert_null(cc_ui_find(absent[i]));
}

static void test_content_types(void **state)
{
	(void)state;
	assert_string_equal(cc_ui_content_type("index.html"), "text/html; charset=utf-8");
	assert_string_equal(cc_ui_content_type("app.js"), "text/javascript; charset=utf-8");
	assert_string_equal(cc_ui_content_type("style.css"), "text/css; charset=utf-8");
	assert_string_equal(cc_ui_content_type("logo.svg"), "image/svg+xml");
	assert_string_equal(cc_ui_content_type("x.png"), "image/png");
	assert_string_equal(cc_ui_content_type("README"), "application/octet-stream");
	assert_string_equal(cc_ui_content_type("a.js/b"), "application/octet-stream");
	assert_string_equal(cc_ui_content_type("x.jsx"), "application/octet-stream");
}

/* No CDN, no web font, no absolute URL: everything comes from the agent. */
static void test_nothing_external(void **state)
{
	(void)state;
	const char *bad[] = { "http:", "https:", "@import", "@font-face", "url(", "//cdn", "src=\"//",
		              "href=\"//" };
	for (size_t i = 0; i < cc_ui_nassets; i++)
		for (size_t j = 0; j < sizeof(bad) / sizeof(bad[0]); j++)
			if (contains(&cc_ui_assets[i], bad[j]))
				fail_msg("%s contains '%s'", cc_ui_assets[i].name, bad[j]);
	/* what the page loads is embedded */
	const struct cc_ui_asset *idx = cc_ui_find("");
	assert_true(contains(idx, "<script src=\"app.js\">"));
	assert_true(contains(idx, "<link rel=\"stylesheet\" href=\"style.css\">"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_assets_match_sources),
		cmocka_unit_test(test_find),
		cmocka_unit_test(test_content_types),
		cmocka_unit_test(test_nothing_external),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
