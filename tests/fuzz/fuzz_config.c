/* libFuzzer target: config bytes from anywhere must give a config or an error,
 * never a crash, a hang or a leak. Also a differential check: whatever our JSON
 * checker accepts, cJSON must parse. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cc_config *c = cc_config_new();
	if (!c)
		return 0;
	struct cc_config_err err;
	if (cc_config_load_buffer(c, "fuzz.json", (const char *)data, size, &err) == 0)
		(void)cc_config_finalize(c, &err);
	else if (strncmp(err.msg, "fuzz.json: cannot parse JSON", 28) == 0)
		abort(); /* json_check and cJSON disagree about what JSON is */
	cc_config_free(c);
	return 0;
}
