/* libFuzzer target: bytes from anywhere, read as an autopilot configuration
 * command (fsm/autopilot.h) and as its snapshot section (once as is, once
 * with its checksum made right so the structure checks are reached), must
 * give a result or -EINVAL, never a crash or a leak. Whatever is accepted
 * must be canonical (re-encoding gives back the same bytes), and a refused
 * restore leaves the configuration as it was. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "fsm/autopilot.h"
#include "fsm/fsm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void try_restore(const uint8_t *data, size_t size)
{
	struct autopilot_config c, before;
	autopilot_config_default(&c);
	c.modify_index = c.create_index = 7;
	memcpy(&before, &c, sizeof(c));
	if (autopilot_restore(&c, data, size) == 0) {
		uint8_t *again;
		size_t n;
		if (autopilot_snapshot(&c, &again, &n) != 0 || n != size || memcmp(again, data, n))
			abort();
		free(again);
	} else if (memcmp(&c, &before, sizeof(c)) != 0) {
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct autopilot_cmd cmd;
	int rc = autopilot_cmd_decode(data, size, &cmd);
	if (rc != 0 && rc != -EINVAL)
		abort();
	if (autopilot_cmd_is(data, size) && fsm_cmd_check(data, size) != rc)
		abort();
	if (rc == 0) {
		uint8_t *again = malloc(size);
		if (!again || autopilot_cmd_encode(&cmd, again, size) != size ||
		    memcmp(again, data, size))
			abort();
		free(again);
		struct fsm *f = fsm_new();
		bool result = false;
		char err[64];
		if (f && (fsm_apply(f, 3, data, size, &result, err, sizeof(err)) != 0 ||
		          result != (!cmd.cas || cmd.cas_index == 0) ||
		          f->autopilot.modify_index != (result ? 3u : 0u)))
			abort();
		fsm_free(f);
	}
	try_restore(data, size);
	if (size >= 4) {
		uint8_t *fixed = malloc(size);
		if (fixed) {
			memcpy(fixed, data, size);
			uint32_t crc = (uint32_t)crc32(0, fixed, (uInt)(size - 4));
			for (int i = 0; i < 4; i++)
				fixed[size - 4 + (size_t)i] = (uint8_t)(crc >> (8 * i));
			try_restore(fixed, size);
			free(fixed);
		}
	}
	return 0;
}
