/*
 * netns — network namespaces, links, addresses and processes for the harness.
 *
 * A library: it never prints and never exits. Every call returns 0 or a
 * negative errno and, on failure, fills a struct netns_err whose message names
 * the object (namespace, link, address) and carries the kernel's extended-ack
 * text when there is one.
 *
 * Namespaces are named the iproute2 way (bind mounts under /run/netns/NAME), so
 * `ip netns exec NAME ...` works on them too.
 *
 * Netlink work is batched: a struct netns_nl is one rtnetlink socket opened
 * inside one namespace; operations on it are sent at once without waiting, and
 * netns_nl_flush() collects every acknowledgement. No `ip` subprocesses.
 *
 * Network safety: netns_addr_add() and netns_route_add() refuse to work on the
 * namespace the process started in and on init's namespace: topology addresses
 * exist only inside namespaces that the harness created.
 */
#ifndef CC_NETNS_H
#define CC_NETNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define NETNS_RUN_DIR "/run/netns"

struct netns_err {
	char msg[512];
};

/* ---- namespaces ---- */

/* Creates the named namespace (/run/netns/NAME). -EEXIST if it exists. */
int netns_create(const char *name, struct netns_err *e);

/* Opens the named namespace; *fd is O_CLOEXEC, the caller closes it. */
int netns_open(const char *name, int *fd, struct netns_err *e);

/* Deletes the named namespace: unmounts and removes /run/netns/NAME. The kernel
 * frees the namespace when its last process and descriptor are gone.
 * -ENOENT if there is no such namespace. */
int netns_delete(const char *name, struct netns_err *e);

bool netns_exists(const char *name);

/* Moves the calling thread into the namespace (setns). */
int netns_enter(int fd, struct netns_err *e);

/* The kernel's IPv4 neighbour (ARP) table is one table for all namespaces,
 * sized by net.ipv4.neigh.default.gc_thresh1..3 of the initial namespace
 * (128/512/1024 by default). N nodes on one segment need about N*N entries;
 * beyond gc_thresh3 the kernel drops packets ("neighbor table overflow").
 * Raises the thresholds (never lowers them) so that `entries` fit; *raised_to
 * is the new gc_thresh3, or 0 when nothing had to change. */
int netns_neigh_capacity(unsigned entries, unsigned *raised_to, struct netns_err *e);

/* ---- batched rtnetlink, one socket per namespace ---- */

struct netns_nl;

/* Opens a route socket inside the namespace nsfd (-1: the current one). Free
 * with netns_nl_close. */
int netns_nl_open(int nsfd, struct netns_nl **out, struct netns_err *e);
void netns_nl_close(struct netns_nl *nl);

/* Queued operations. ifindex values are requested explicitly, so a whole
 * topology can be planned without reading anything back. label names the
 * object in error messages ("link br-lan in dc1-fabric"). */
int netns_bridge_add(struct netns_nl *nl, const char *name, int ifindex, const char *label,
                     struct netns_err *e);

/* A veth pair: `name` (ifindex) in this socket's namespace, enslaved to
 * master_ifindex when > 0 and set up; its peer `peer_name` (peer_ifindex) is
 * created directly in peer_nsfd, down (set it up with netns_link_set_up on a
 * socket of that namespace). No end is ever moved. */
int netns_veth_add(struct netns_nl *nl, const char *name, int ifindex, int master_ifindex,
                   const char *peer_name, int peer_ifindex, int peer_nsfd, const char *label,
                   struct netns_err *e);

int netns_link_set_up(struct netns_nl *nl, int ifindex, bool up, const char *label,
                      struct netns_err *e);
int netns_link_set_mtu(struct netns_nl *nl, int ifindex, unsigned mtu, const char *label,
                       struct netns_err *e);
int netns_link_del(struct netns_nl *nl, const char *name, const char *label,
                   struct netns_err *e);

/* Links created through this socket from now on join link group `group`
 * (0: the default group). */
void netns_nl_set_group(struct netns_nl *nl, uint32_t group);

/* Deletes every link of a group in this namespace with one request: the
 * kernel then unregisters them as one batch, with one RCU grace period,
 * instead of ~20 ms per link. veth peers in other namespaces go too. */
int netns_link_del_group(struct netns_nl *nl, uint32_t group, const char *label,
                         struct netns_err *e);

/* addr and dst are IPv4 in host byte order. */
int netns_addr_add(struct netns_nl *nl, int ifindex, uint32_t addr, int prefix,
                   const char *label, struct netns_err *e);
int netns_route_add(struct netns_nl *nl, uint32_t dst, int prefix, int ifindex,
                    const char *label, struct netns_err *e);

/* Waits for the acknowledgement of every queued operation. Returns 0, or the
 * first failure (all acknowledgements are still collected). With
 * ignore_missing, ENODEV/ENOENT/ESRCH failures count as success (teardown) and,
 * when missing is not NULL, are counted there. */
int netns_nl_flush(struct netns_nl *nl, bool ignore_missing, size_t *missing,
                   struct netns_err *e);

/* Looks a link up by name: its ifindex, whether it is administratively up and
 * whether it has carrier. -ENODEV when absent. Synchronous. */
int netns_link_get(struct netns_nl *nl, const char *name, int *ifindex, bool *up,
                   bool *carrier, struct netns_err *e);

/* ---- processes ---- */

struct netns_spawn {
	int nsfd;              /* namespace to run in; -1: the current one */
	char *const *argv;     /* argv[0] is looked up in PATH */
	int stdout_fd;         /* -1: /dev/null; stderr goes to the same place */
	const char *cwd;       /* NULL: keep */
	bool detach;           /* new session (setsid), so it outlives the caller */
};

/* Forks a child that enters the namespace and execs argv. The child waits until
 * netns_spawn_release() before it execs, so the caller can record the pid
 * first; if the caller dies before that, the child exits without running argv.
 * *gate is that handshake's descriptor. Returns 0 with *pid and *gate. */
int netns_spawn(const struct netns_spawn *s, pid_t *pid, int *gate, struct netns_err *e);

/* Lets the spawned child exec (or, with run == false, exit). Closes gate. */
void netns_spawn_release(int gate, bool run);

/* The kernel's start time of a process (field 22 of /proc/PID/stat), used to
 * tell a process from a later one with the same PID. 0 when it does not exist. */
unsigned long long netns_proc_starttime(pid_t pid);

/* The state letter of a process from /proc/PID/stat ('R', 'S', 'T', 'Z', ...),
 * or 0 when it does not exist. */
char netns_proc_state(pid_t pid);

/* True while the process with this PID and start time exists and is not a
 * zombie: the process we started, and not a later one that reuses its PID. */
bool netns_proc_running(pid_t pid, unsigned long long starttime);

#endif
