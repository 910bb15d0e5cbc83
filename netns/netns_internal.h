/* Private to the netns library. */
#ifndef CC_NETNS_INTERNAL_H
#define CC_NETNS_INTERNAL_H

#include <sys/types.h>

#include "netns.h"

/* Fills e (when non-NULL) and returns err as a negative errno. */
int netns__fail(struct netns_err *e, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* True for the namespace this process started in and for init's. */
bool netns__is_protected(ino_t ns_ino);

#endif
