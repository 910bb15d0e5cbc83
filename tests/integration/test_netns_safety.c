/* The network-safety rule in code: the netns library refuses to put a topology
 * address or route into the namespace the process runs in, and accepts them in
 * a namespace it created. Needs root (exit 77 = skipped otherwise). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "netns.h"

#define SEED_ADDR 0x3306C4C9u /* 51.6.196.201 */

int main(void)
{
	if (geteuid() != 0) {
		printf("SKIP: needs root\n");
		return 77;
	}
	struct netns_err e;
	struct netns_nl *nl;
	int failures = 0;

	/* The namespace we run in: refused before anything reaches the kernel. */
	if (netns_nl_open(-1, &nl, &e)) {
		printf("SKIP: no netlink here: %s\n", e.msg);
		return 77;
	}
	int rc = netns_addr_add(nl, 1, SEED_ADDR, 24, "address on lo", &e);
	if (rc != -EPERM || !strstr(e.msg, "outside a harness namespace")) {
		printf("FAIL: address in own namespace: rc=%d %s\n", rc, e.msg);
		failures++;
	}
	rc = netns_route_add(nl, 0x33060000u, 16, 1, "route via lo", &e);
	if (rc != -EPERM) {
		printf("FAIL: route in own namespace: rc=%d\n", rc);
		failures++;
	}
	netns_nl_close(nl);

	/* A namespace of our own: accepted, and the address really is there. */
	char name[64];
	snprintf(name, sizeof(name), "ccsafety%d", (int)getpid());
	int fd;
	if (netns_create(name, &e) || netns_open(name, &fd, &e) || netns_nl_open(fd, &nl, &e)) {
		printf("FAIL: cannot make a namespace: %s\n", e.msg);
		netns_delete(name, &e);
		return 1;
	}
	rc = netns_link_set_up(nl, 1, true, "lo", &e);
	if (rc == 0)
		rc = netns_addr_add(nl, 1, SEED_ADDR, 24, "address on lo", &e);
	if (rc == 0)
		rc = netns_nl_flush(nl, false, NULL, &e);
	if (rc) {
		printf("FAIL: address in a harness namespace: %s\n", e.msg);
		failures++;
	}
	bool up = false;
	if (netns_link_get(nl, "lo", NULL, &up, NULL, &e) || !up) {
		printf("FAIL: lo is not up in %s\n", name);
		failures++;
	}
	/* A failing request names its object and carries the kernel's text. */
	rc = netns_addr_add(nl, 77, SEED_ADDR, 24, "address on ifindex 77", &e);
	if (rc == 0)
		rc = netns_nl_flush(nl, false, NULL, &e);
	if (rc == 0 || !strstr(e.msg, "address on ifindex 77")) {
		printf("FAIL: error on a missing link: rc=%d %s\n", rc, e.msg);
		failures++;
	}
	netns_nl_close(nl);
	close(fd);
	if (netns_delete(name, &e)) {
		printf("FAIL: delete: %s\n", e.msg);
		failures++;
	}
	if (netns_exists(name)) {
		printf("FAIL: %s still exists\n", name);
		failures++;
	}
	printf("%s\n", failures ? "FAILED" : "all checks passed");
	return failures ? 1 : 0;
}
