/* The gossip keyring: Serf's keyring queries (what `serf keys` and `consul
 * keyring` ask every member) and Consul's keyring file in data_dir. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "gossip/keyring.h"

#define K1 "pUqJrVyVRj5jsiYEkM/tFQYfWyJIv4s3XkvDwy7Cu5s="
#define K2 "Ubw9a6Zh0BDv8cB4WBgp3g4BhCqMwqgEyyLEyS0tmXE="
#define K3 "5K9OtfP7efFrNKe5WCQvXvnaXJ5cWP0SvXiwe0kkjM4="

/* Runs query name (with key b64 as its keyRequest, when given) and decodes
 * the answer. Returns *changed. */
static bool run(struct gw_keyring *kr, const char *name, const char *b64,
                struct gw_serf_key_response *r)
{
	uint8_t req[128], resp[1024];
	size_t rlen = 0;
	if (b64) {
		struct gw_keyring one = { .n = 0 };
		assert_int_equal(gw_keyring_add_base64(&one, b64), 0);
		int n = gw_encode_serf_key_request(one.keys[0], one.lens[0], req, sizeof(req));
		assert_true(n > 0);
		rlen = (size_t)n;
	}
	bool changed = true;
	int n = keyring_query(kr, name, req, rlen, resp, sizeof(resp), &changed);
	assert_true(n > 1);
	assert_int_equal(resp[0], GW_SERF_KEY_RESPONSE);
	assert_int_equal(gw_decode_serf_key_response(resp + 1, (size_t)n - 1, r), 0);
	return changed;
}

static void test_list_install_use_remove(void **state)
{
	struct gw_keyring kr = { .n = 0 };
	struct gw_serf_key_response r;
	assert_int_equal(gw_keyring_add_base64(&kr, K1), 0);

	assert_false(run(&kr, "_serf_list-keys", NULL, &r));
	assert_true(r.result);
	assert_int_equal(r.nkeys, 1);
	assert_string_equal(r.keys[0], K1);
	assert_string_equal(r.primary, K1);

	assert_true(run(&kr, "_serf_install-key", K2, &r));
	assert_true(r.result);
	assert_int_equal(kr.n, 2);
	assert_false(run(&kr, "_serf_install-key", K2, &r));   /* already there */
	assert_true(r.result);
	assert_int_equal(kr.n, 2);

	/* the primary cannot go; an unknown key cannot become primary */
	assert_false(run(&kr, "_serf_remove-key", K1, &r));
	assert_false(r.result);
	assert_string_equal(r.message, "Removing the primary key is not allowed");
	assert_false(run(&kr, "_serf_use-key", K3, &r));
	assert_false(r.result);
	assert_string_equal(r.message, "Requested key is not in the keyring");

	assert_true(run(&kr, "_serf_use-key", K2, &r));
	assert_true(r.result);
	run(&kr, "_serf_list-keys", NULL, &r);
	assert_string_equal(r.primary, K2);
	assert_string_equal(r.keys[0], K2);
	assert_string_equal(r.keys[1], K1);

	assert_true(run(&kr, "_serf_remove-key", K1, &r));
	assert_true(r.result);
	run(&kr, "_serf_list-keys", NULL, &r);
	assert_int_equal(r.nkeys, 1);
	assert_string_equal(r.keys[0], K2);
}

static void test_without_encryption(void **state)
{
	struct gw_keyring kr = { .n = 0 };
	struct gw_serf_key_response r;
	assert_false(run(&kr, "_serf_list-keys", NULL, &r));
	assert_false(r.result);
	assert_string_equal(r.message, "Keyring is empty (encryption not enabled)");
	assert_false(run(&kr, "_serf_install-key", K1, &r));
	assert_false(r.result);
	assert_string_equal(r.message, "No keyring to modify (encryption not enabled)");
	assert_int_equal(kr.n, 0);
}

static void test_bad_requests(void **state)
{
	struct gw_keyring kr = { .n = 0 };
	uint8_t resp[1024];
	bool changed;
	assert_int_equal(gw_keyring_add_base64(&kr, K1), 0);
	/* not a keyring query */
	assert_int_equal(keyring_query(&kr, "deploy", NULL, 0, resp, sizeof(resp), &changed),
	                 -ENOENT);
	assert_int_equal(keyring_query(&kr, "_serf_ping", NULL, 0, resp, sizeof(resp), &changed),
	                 -ENOENT);
	/* a key of 5 bytes, and garbage */
	static const uint8_t five[] = { GW_SERF_KEY_REQUEST, 0x81, 0xa3, 'K', 'e', 'y',
		                        0xa5, 1, 2, 3, 4, 5 };
	static const uint8_t junk[] = { GW_SERF_KEY_REQUEST, 0xc1 };
	struct gw_serf_key_response r;
	const uint8_t *bad[] = { five, junk };
	size_t lens[] = { sizeof(five), sizeof(junk) };
	for (int i = 0; i < 2; i++) {
		int n = keyring_query(&kr, "_serf_install-key", bad[i], lens[i], resp, sizeof(resp),
		                      &changed);
		assert_true(n > 1);
		assert_false(changed);
		assert_int_equal(gw_decode_serf_key_response(resp + 1, (size_t)n - 1, &r), 0);
		assert_false(r.result);
		assert_string_equal(r.message, "Failed to decode key request");
	}
	assert_int_equal(kr.n, 1);
}

static void test_file(void **state)
{
	char dir[] = "/tmp/cc-keyring-XXXXXX", path[128], err[256];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/local.keyring", dir);
	struct gw_keyring kr;
	bool ignored;
	/* first start: encrypt becomes the keyring and is written down */
	assert_int_equal(keyring_init(&kr, path, K1, &ignored, err, sizeof(err)), 0);
	assert_false(ignored);
	assert_int_equal(kr.n, 1);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* the keyring changes (install + use), is saved; a restart with the
	 * old encrypt value gets the file's keyring */
	struct gw_serf_key_response r;
	run(&kr, "_serf_install-key", K2, &r);
	run(&kr, "_serf_use-key", K2, &r);
	assert_int_equal(keyring_save(&kr, path, err, sizeof(err)), 0);
	struct gw_keyring again;
	assert_int_equal(keyring_init(&again, path, K1, &ignored, err, sizeof(err)), 0);
	assert_true(ignored);
	assert_int_equal(again.n, 2);
	char b64[64];
	keyring_key_base64(&again, 0, b64);
	assert_string_equal(b64, K2);
	/* no encrypt, no file: no keyring */
	unlink(path);
	assert_int_equal(keyring_init(&again, path, NULL, &ignored, err, sizeof(err)), 0);
	assert_int_equal(again.n, 0);
	/* a broken file is an error that names it */
	FILE *f = fopen(path, "w");
	fputs("[\"not base64!\"]", f);
	fclose(f);
	assert_int_equal(keyring_init(&again, path, K1, &ignored, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "key 1"));
	f = fopen(path, "w");
	fputs("{}", f);
	fclose(f);
	assert_int_equal(keyring_load(&again, path, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not a JSON array"));
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_list_install_use_remove),
		cmocka_unit_test(test_without_encryption),
		cmocka_unit_test(test_bad_requests),
		cmocka_unit_test(test_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
