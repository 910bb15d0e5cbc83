/* util/fileio — writing a small file so that a crash leaves the old or the
 * new content, never a torn one: the data goes to PATH.tmp (mode 0600), is
 * fsynced, renamed over PATH, and the directory is fsynced. Used for the
 * node ID, the agent's API registrations and the gossip keyring. */
#ifndef CC_UTIL_FILEIO_H
#define CC_UTIL_FILEIO_H

#include <stddef.h>

/* 0, or a negative errno with err set ("Failed to write PATH: reason"). */
int cc_write_file_atomic(const char *path, const void *data, size_t len, char *err,
                         size_t errlen);

#endif
