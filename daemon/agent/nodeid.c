/* data_dir and the node ID persisted in data_dir/node-id, as Consul keeps it. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/agent.h"
#include "util/fileio.h"

static int mkdir_p(const char *path, char *err, size_t errlen)
{
	char buf[4096];
	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf)) {
		snprintf(err, errlen, "data_dir %s: path too long", path);
		return -ENAMETOOLONG;
	}
	for (char *p = buf + 1;; p++) {
		if (*p == '/' || *p == '\0') {
			char saved = *p;
			*p = '\0';
			if (mkdir(buf, 0700) != 0 && errno != EEXIST) {
				int e = errno;
				snprintf(err, errlen, "Failed to create data_dir %s: %s", buf, strerror(e));
				return -e;
			}
			*p = saved;
			if (saved == '\0')
				break;
		}
	}
	return 0;
}

static int valid_uuid(const char *s)
{
	if (strlen(s) != 36)
		return 0;
	for (int i = 0; i < 36; i++) {
		int dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
			return 0;
	}
	return 1;
}

int cc_agent_random_uuid(char out[37])
{
	unsigned char r[16];
	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		return -1;
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
	         r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12],
	         r[13], r[14], r[15]);
	return 0;
}

int cc_agent_node_id(const struct cc_config *cfg, char out[37], char *err, size_t errlen)
{
	int rc = mkdir_p(cfg->data_dir, err, errlen);
	if (rc)
		return rc;
	if (cfg->node_id) {
		snprintf(out, 37, "%s", cfg->node_id);
		for (char *p = out; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		return 0;
	}
	char path[4200];
	snprintf(path, sizeof(path), "%s/node-id", cfg->data_dir);
	FILE *f = fopen(path, "re");
	if (f) {
		char buf[128] = "";
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n] = '\0';
		char *s = buf;
		while (isspace((unsigned char)*s))
			s++;
		n = strlen(s);
		while (n && isspace((unsigned char)s[n - 1]))
			s[--n] = '\0';
		if (!valid_uuid(s)) {
			snprintf(err, errlen, "%s holds an invalid node ID \"%.40s\": expected a UUID; "
			                      "remove the file to get a new one", path, s);
			return -EINVAL;
		}
		snprintf(out, 37, "%s", s);
		for (char *p = out; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		return 0;
	}
	if (errno != ENOENT) {
		int e = errno;
		snprintf(err, errlen, "Failed to read %s: %s", path, strerror(e));
		return -e;
	}
	if (cc_agent_random_uuid(out)) {
		int e = errno;
		snprintf(err, errlen, "Failed to generate node ID: %s", strerror(e));
		return -e;
	}
	return cc_write_file_atomic(path, out, strlen(out), err, errlen);
}
