/*
 * fault — process and network faults on a running topology (struct run from
 * harness.h), for the harness CLI and the chaos runner.
 *
 * A library: it never prints and never exits. Every function returns 0 or a
 * negative errno and, on failure, writes into err (errlen bytes, always
 * NUL-terminated) a message naming the node or object and the reason. Node
 * arguments are indexes into r->t->nodes; out-of-range ones give -EINVAL.
 *
 * Every fault applied or cleared is appended to the run's events.log
 * (rundir_event: "<ISO time> <text>") with one of these stable texts:
 *   kill|stop|pause|resume NODE        start NODE pid PID (from node_start)
 *   link down|up NODE
 *   partition A B | C D [| ...]        (nodes talking to everyone are not listed)
 *   block FROM TO                      heal
 *   loss NODE 20% [to PEER]            delay NODE 50ms 20ms [to PEER]
 *   reorder NODE 10% [to PEER]         dup NODE 5% [to PEER]
 *   rate NODE 1000000bit | rate NODE off
 *   clear NODE                         clear          (everything)
 *
 * Network faults are declarative. The wanted state of the whole topology is
 * kept in <run dir>/faults (a small text file, guarded by an flock so the CLI
 * and a chaos runner can both use it); every call changes that state and then
 * makes each node's namespace match it:
 *
 * - Drops (partitions, blocks, loss) happen at the *receiving* node, in the
 *   input chain of table `ip conclave_harness` (netns/nft.h), so that senders
 *   see a silent wire, as with a real partition, not a local EPERM. Matching
 *   is on addresses (every address of the peer node), never ports: UDP, TCP
 *   and ICMP alike.
 * - Loss is stateless: `numgen random mod 100 < PCT drop`.
 * - Duplication is nft `dup to ip daddr device <oif>` in the sender's output
 *   chain for PCT% of its packets (the copy takes the same path once more).
 * - Delay, jitter and reorder: the sender's output chain queues its packets to
 *   the xtables NFQUEUE target (nft compat expression, bypass flag) and a
 *   harness-delayer process inside the node's namespace holds them (see
 *   harness/delayer.c). The delayer is journaled as "aux NODE PID STARTTIME"
 *   before it runs, and `harness down` kills it by that PID. With no delayer
 *   running, the bypass flag lets packets through undelayed.
 * - Rate: a tbf qdisc at the root of each of the node's interfaces (egress).
 *
 * Packet faults belong to the sending node, towards all its peers or towards
 * one peer (an override for that peer). All of them act on packets between
 * topology addresses only; loopback traffic is never touched.
 */
#ifndef CC_FAULT_H
#define CC_FAULT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "harness.h"

#define FAULT_ALL (-1)   /* group: talks to everyone; node/peer: all of them */
#define FAULT_KEEP (-1)  /* struct fault_packet field: leave as it is */

/* ---- processes and links ---- */

/* verb: "kill" (SIGKILL, waits up to 5 s), "stop" (SIGTERM, SIGKILL after
 * 15 s), "start", "restart" (stop if running, then start), "pause" (SIGSTOP),
 * "resume" (SIGCONT). Unknown verb: -EINVAL. A node that is not running (kill,
 * stop, pause, resume) or already running (start): -ESRCH / -EEXIST. */
int fault_process(struct run *r, size_t node, const char *verb, char *err, size_t errlen);

/* Sets the fabric-side end of each of the node's veths down (the node loses
 * carrier) or up. */
int fault_link(struct run *r, size_t node, bool up, char *err, size_t errlen);

/* ---- partitions ---- */

/* group has r->t->nnodes entries. Nodes with different groups >= 0 can no
 * longer exchange packets (both directions are dropped); a node with group
 * FAULT_ALL talks to everyone (Jepsen's "bridge": {0, 0, FAULT_ALL, 1, 1}).
 * Replaces every earlier partition and block (a new grudge); packet faults
 * stay. At least two distinct groups >= 0 are needed (-EINVAL otherwise). */
int fault_partition(struct run *r, const int *group, char *err, size_t errlen);

/* Drops packets from node `from` to node `to` only (added to the current
 * partition/blocks). from == to: -EINVAL. */
int fault_block(struct run *r, size_t from, size_t to, char *err, size_t errlen);

/* Removes every partition and block; packet faults stay. */
int fault_heal(struct run *r, char *err, size_t errlen);

/* ---- packet faults ---- */

struct fault_packet {
	int loss_pct;       /* 0..100 */
	int delay_ms;       /* 0..60000 */
	int jitter_ms;      /* 0..delay_ms+60000: uniform in [-jitter, +jitter] */
	int reorder_pct;    /* 0..100: that share of packets skips the delay (with no
	                       delay, the others are held 10 ms) */
	int dup_pct;        /* 0..100 */
	long long rate_bps; /* bits/s, 0: no limit; the node as a whole (peer must be
	                       FAULT_ALL) */
};

/* Every field FAULT_KEEP. */
void fault_packet_keep(struct fault_packet *p);

/* Sets the packet faults of packets sent by `node`, to every peer (peer ==
 * FAULT_ALL) or only to `peer`. Fields equal to FAULT_KEEP are left as they
 * are; a peer override's unset fields follow the node-wide values. Waits (up
 * to 3 s) until the node's delayer runs the new settings. Values out of range:
 * -EINVAL naming the field. */
int fault_packet_set(struct run *r, size_t node, ssize_t peer, const struct fault_packet *p,
                     char *err, size_t errlen);

/* Removes the packet faults (and rate limit) of a node, node-wide and per
 * peer, and stops its delayer; node == FAULT_ALL: of every node. Partitions
 * stay. */
int fault_packet_clear(struct run *r, ssize_t node, char *err, size_t errlen);

/* Removes every fault of the topology: partitions, blocks, packet faults, rate
 * limits; stops the delayers and deletes our nftables tables. Links set down
 * and paused processes are left alone. */
int fault_clear_all(struct run *r, char *err, size_t errlen);

/* For `harness down` (which may run after a crash, with the run half gone):
 * clears every fault when the run can be opened, and in any case kills every
 * journaled aux process that is still the one we started. Returns how many
 * processes it killed. */
int fault_down(const char *topo);

/* ---- parsing and inspection ---- */

/* "1mbit", "500kbit", "2gbit", "100000" (bits/s), "10mbps" (bytes/s, ×8).
 * Returns 0 or -EINVAL. */
int fault_parse_rate(const char *s, long long *bps);

/* A human description of the active faults, one per line ("" when none), in
 * buf (always NUL-terminated). Returns the number of faults. Reads the state
 * file only. */
int fault_describe(struct run *r, char *buf, size_t cap);

#endif
