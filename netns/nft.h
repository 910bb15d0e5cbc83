/*
 * nft — the netfilter and traffic-control side of network faults, inside one
 * namespace: one nftables table of our own (family ip) and a tbf qdisc.
 *
 * A library: never prints, never exits. Calls return 0 or a negative errno and,
 * on failure, fill a struct netns_err naming the table/chain/rule or link and
 * the kernel's reason.
 *
 * The table is described declaratively and replaced in one nftables
 * transaction (libnftnl over libmnl): the table, its two base chains and its
 * sets are created when missing, then the chains' rules and the sets'
 * elements are flushed and re-added. Base chains stay registered across
 * updates, so packets a userspace delayer holds (NFQUEUE) are not dropped when
 * the rules change. Nothing outside our table is ever touched: no ruleset
 * flush, no other table.
 *
 * Chains: "input" (hook input, priority 0) and "output" (hook output,
 * priority 0), policy accept.
 *
 * Queueing uses the xtables NFQUEUE target (revision 3, bypass flag) through
 * nft's compat expression, as iptables-nft does: this kernel has no native nft
 * `queue` statement. With bypass, packets are accepted while no process
 * listens on the queue.
 */
#ifndef CC_NETNS_NFT_H
#define CC_NETNS_NFT_H

#include <stddef.h>
#include <stdint.h>

#include "netns.h"

enum netns_nft_match {
	NETNS_NFT_ANY = 0,     /* every IPv4 packet */
	NETNS_NFT_SADDR,       /* ip saddr == addr */
	NETNS_NFT_DADDR,       /* ip daddr == addr */
	NETNS_NFT_SADDR_IN,    /* ip saddr @set */
	NETNS_NFT_DADDR_IN,    /* ip daddr @set */
};

enum netns_nft_action {
	NETNS_NFT_DROP = 0,    /* drop */
	NETNS_NFT_DUP,         /* dup to ip daddr device <meta oif> (output chain only) */
	NETNS_NFT_QUEUE,       /* NFQUEUE num `queue` bypass (must be the last rule a
	                          packet can reach in its chain: an accepted packet
	                          leaves the chain) */
};

struct netns_nft_rule {
	enum netns_nft_match match;
	uint32_t addr;          /* host byte order, for SADDR/DADDR */
	const char *set;        /* for SADDR_IN/DADDR_IN: a set of the table */
	int pct;                /* 1..99: only that share of packets (numgen random
	                           mod 100 < pct); >= 100: every matching packet */
	enum netns_nft_action action;
	uint16_t queue;         /* for QUEUE */
};

struct netns_nft_set {
	const char *name;       /* type ipv4_addr */
	const uint32_t *addrs;  /* host byte order */
	size_t naddrs;
};

struct netns_nft_table {
	const struct netns_nft_set *sets;
	size_t nsets;
	const struct netns_nft_rule *input, *output;
	size_t ninput, noutput;
};

/* Makes table `name` (family ip) in namespace nsfd (-1: the current one) hold
 * exactly t, atomically. ns_label names the namespace in messages. */
int netns_nft_apply(int nsfd, const char *ns_label, const char *name,
                    const struct netns_nft_table *t, struct netns_err *e);

/* Deletes table `name` (family ip) in the namespace; 0 when there is none. */
int netns_nft_delete(int nsfd, const char *ns_label, const char *name, struct netns_err *e);

/* Limits the egress of link ifindex to rate_bps bits per second with a tbf
 * qdisc at its root (burst: 10 ms of traffic, at least 3200 bytes; queue:
 * 50 ms), replacing any root qdisc; rate_bps == 0 deletes our tbf (0 when
 * there is none). */
int netns_tbf_set(int nsfd, const char *ns_label, int ifindex, uint64_t rate_bps,
                  struct netns_err *e);

#endif
