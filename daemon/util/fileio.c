/* Atomic, durable small-file writes (contract: fileio.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util/fileio.h"

int cc_write_file_atomic(const char *path, const void *data, size_t len, char *err,
                         size_t errlen)
{
	char tmp[4200], dir[4200];
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		snprintf(err, errlen, "Failed to write %s: path too long", path);
		return -ENAMETOOLONG;
	}
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int rc = 0;
	if (fd < 0) {
		rc = -errno;
	} else {
		errno = 0;
		if (write(fd, data, len) != (ssize_t)len || fsync(fd) != 0)
			rc = errno ? -errno : -EIO;
		if (close(fd) != 0 && rc == 0)
			rc = -errno;
		if (rc == 0 && rename(tmp, path) != 0)
			rc = -errno;
	}
	if (rc) {
		snprintf(err, errlen, "Failed to write %s: %s", path, strerror(-rc));
		unlink(tmp);
		return rc;
	}
	/* the rename itself is durable once the directory is */
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash)
		*(slash == dir ? slash + 1 : slash) = '\0';
	int dfd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}
