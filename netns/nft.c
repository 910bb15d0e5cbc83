/* Our nftables table (libnftnl over libmnl) and tbf qdiscs (libnl-route). */
#include "nft.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/xt_NFQUEUE.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/qdisc/tbf.h>
#include <netlink/route/tc.h>

#include "netns_internal.h"

#define NFT_FAMILY NFPROTO_IPV4
#define TYPE_IPADDR 7 /* nft's ipv4_addr datatype */

/* Runs with the calling thread inside nsfd, then moves it back. */
static int ns_switch(int nsfd, int *self, struct netns_err *e, const char *label)
{
	*self = -1;
	if (nsfd < 0)
		return 0;
	*self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (*self < 0 || setns(nsfd, CLONE_NEWNET)) {
		int rc = -errno;
		if (*self >= 0)
			close(*self);
		*self = -1;
		return netns__fail(e, rc, "%s: cannot enter the namespace: %s", label, strerror(-rc));
	}
	return 0;
}

static void ns_back(int self)
{
	if (self >= 0) {
		if (setns(self, CLONE_NEWNET))
			abort(); /* staying in a node's namespace would be worse than dying */
		close(self);
	}
}

/* ---- the batch ---- */

#define BATCH_MAX 64

struct batch {
	struct mnl_nlmsg_batch *b;
	char *buf;
	size_t cap;
	uint32_t seq, first;
	char labels[BATCH_MAX][96]; /* what message seq-first is about, for errors */
	size_t n;
	int rc;
};

static struct nlmsghdr *batch_msg(struct batch *b, uint16_t type, uint16_t flags,
                                  const char *label)
{
	if (mnl_nlmsg_batch_size(b->b) + 8192 > b->cap) {
		b->rc = -E2BIG;
		return NULL;
	}
	uint32_t seq = b->seq++;
	size_t k = seq - b->first;
	if (k < BATCH_MAX)
		snprintf(b->labels[k], sizeof(b->labels[k]), "%s", label);
	b->n++;
	return nftnl_nlmsg_build_hdr(mnl_nlmsg_batch_current(b->b), type, NFT_FAMILY,
	                             flags | NLM_F_ACK, seq);
}

static void batch_next(struct batch *b)
{
	mnl_nlmsg_batch_next(b->b);
}

static int batch_init(struct batch *b, size_t cap)
{
	memset(b, 0, sizeof(*b));
	b->cap = cap;
	b->buf = malloc(cap);
	if (!b->buf)
		return -ENOMEM;
	b->b = mnl_nlmsg_batch_start(b->buf, cap);
	b->seq = (uint32_t)time(NULL);
	nftnl_batch_begin(mnl_nlmsg_batch_current(b->b), b->seq++);
	mnl_nlmsg_batch_next(b->b);
	b->first = b->seq;
	return 0;
}

static void batch_free(struct batch *b)
{
	if (b->b)
		mnl_nlmsg_batch_stop(b->b);
	free(b->buf);
}

/* Sends the batch from inside the namespace and collects every answer. The
 * kernel handles a whole batch inside sendmsg, so all answers are queued when
 * it returns. ignore_enoent: a missing object is no failure (deletes). */
static int batch_send(struct batch *b, int nsfd, const char *ns_label, bool ignore_enoent,
                      struct netns_err *e)
{
	nftnl_batch_end(mnl_nlmsg_batch_current(b->b), b->seq++);
	mnl_nlmsg_batch_next(b->b);
	int self, rc = ns_switch(nsfd, &self, e, ns_label);
	if (rc)
		return rc;
	struct mnl_socket *nl = mnl_socket_open(NETLINK_NETFILTER);
	if (nl && mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		mnl_socket_close(nl);
		nl = NULL;
	}
	int err = errno;
	ns_back(self);
	if (!nl)
		return netns__fail(e, -err, "%s: cannot open a netfilter socket: %s", ns_label,
		                   strerror(err));
	if (mnl_socket_sendto(nl, mnl_nlmsg_batch_head(b->b), mnl_nlmsg_batch_size(b->b)) < 0) {
		err = errno;
		mnl_socket_close(nl);
		return netns__fail(e, -err, "%s: nftables batch: %s", ns_label, strerror(err));
	}
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct pollfd p = { .fd = mnl_socket_get_fd(nl), .events = POLLIN };
	size_t answers = 0;
	while (answers < b->n && poll(&p, 1, answers ? 100 : 2000) > 0) {
		ssize_t len = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (len <= 0)
			break;
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; mnl_nlmsg_ok(h, (int)len);
		     h = mnl_nlmsg_next(h, (int *)&len)) {
			if (h->nlmsg_type != NLMSG_ERROR)
				continue;
			answers++;
			const struct nlmsgerr *er = mnl_nlmsg_get_payload(h);
			if (er->error == 0 || (ignore_enoent && er->error == -ENOENT) || rc)
				continue;
			size_t k = h->nlmsg_seq - b->first;
			rc = netns__fail(e, er->error, "%s: %s: %s", ns_label,
			                 k < BATCH_MAX ? b->labels[k] : "nftables", strerror(-er->error));
		}
	}
	mnl_socket_close(nl);
	if (rc == 0 && answers < b->n)
		rc = netns__fail(e, -ETIMEDOUT, "%s: nftables answered %zu of %zu requests", ns_label,
		                 answers, b->n);
	return rc;
}

/* ---- objects ---- */

static void put_table(struct batch *b, uint16_t type, const char *name)
{
	char label[96];
	snprintf(label, sizeof(label), "%s table ip %s", type == NFT_MSG_DELTABLE ? "delete" : "add",
	         name);
	struct nftnl_table *t = nftnl_table_alloc();
	struct nlmsghdr *h = t ? batch_msg(b, type, type == NFT_MSG_NEWTABLE ? NLM_F_CREATE : 0,
	                                   label)
	                       : NULL;
	if (!t && !b->rc)
		b->rc = -ENOMEM;
	if (h) {
		nftnl_table_set_str(t, NFTNL_TABLE_NAME, name);
		nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, NFT_FAMILY);
		nftnl_table_nlmsg_build_payload(h, t);
		batch_next(b);
	}
	if (t)
		nftnl_table_free(t);
}

static void put_chain(struct batch *b, const char *table, const char *name, int hook)
{
	char label[96];
	snprintf(label, sizeof(label), "add chain %s", name);
	struct nftnl_chain *c = nftnl_chain_alloc();
	struct nlmsghdr *h = c ? batch_msg(b, NFT_MSG_NEWCHAIN, NLM_F_CREATE, label) : NULL;
	if (!c && !b->rc)
		b->rc = -ENOMEM;
	if (h) {
		nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, table);
		nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name);
		nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, NFT_FAMILY);
		nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, "filter");
		nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, (uint32_t)hook);
		nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, 0);
		nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
		nftnl_chain_nlmsg_build_payload(h, c);
		batch_next(b);
	}
	if (c)
		nftnl_chain_free(c);
}

/* Deletes every rule of the chain (DELRULE without a handle). */
static void flush_chain(struct batch *b, const char *table, const char *chain)
{
	char label[96];
	snprintf(label, sizeof(label), "flush chain %s", chain);
	struct nftnl_rule *r = nftnl_rule_alloc();
	struct nlmsghdr *h = r ? batch_msg(b, NFT_MSG_DELRULE, 0, label) : NULL;
	if (!r && !b->rc)
		b->rc = -ENOMEM;
	if (h) {
		nftnl_rule_set_str(r, NFTNL_RULE_TABLE, table);
		nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
		nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFT_FAMILY);
		nftnl_rule_nlmsg_build_payload(h, r);
		batch_next(b);
	}
	if (r)
		nftnl_rule_free(r);
}

static void put_set(struct batch *b, const char *table, const struct netns_nft_set *s,
                    uint32_t id)
{
	char label[96];
	struct nftnl_set *ns = nftnl_set_alloc();
	if (!ns) {
		b->rc = b->rc ? b->rc : -ENOMEM;
		return;
	}
	nftnl_set_set_str(ns, NFTNL_SET_TABLE, table);
	nftnl_set_set_str(ns, NFTNL_SET_NAME, s->name);
	nftnl_set_set_u32(ns, NFTNL_SET_FAMILY, NFT_FAMILY);
	nftnl_set_set_u32(ns, NFTNL_SET_KEY_LEN, 4);
	nftnl_set_set_u32(ns, NFTNL_SET_KEY_TYPE, TYPE_IPADDR);
	nftnl_set_set_u32(ns, NFTNL_SET_ID, id);
	snprintf(label, sizeof(label), "add set %s", s->name);
	struct nlmsghdr *h = batch_msg(b, NFT_MSG_NEWSET, NLM_F_CREATE, label);
	if (h) {
		nftnl_set_nlmsg_build_payload(h, ns);
		batch_next(b);
	}
	/* flush: DELSETELEM naming only the set */
	snprintf(label, sizeof(label), "flush set %s", s->name);
	h = batch_msg(b, NFT_MSG_DELSETELEM, 0, label);
	if (h) {
		mnl_attr_put_strz(h, NFTA_SET_ELEM_LIST_TABLE, table);
		mnl_attr_put_strz(h, NFTA_SET_ELEM_LIST_SET, s->name);
		batch_next(b);
	}
	for (size_t i = 0; i < s->naddrs; i++) {
		struct nftnl_set_elem *el = nftnl_set_elem_alloc();
		if (!el) {
			b->rc = b->rc ? b->rc : -ENOMEM;
			break;
		}
		uint32_t be = htonl(s->addrs[i]);
		nftnl_set_elem_set(el, NFTNL_SET_ELEM_KEY, &be, sizeof(be));
		nftnl_set_elem_add(ns, el);
	}
	if (s->naddrs) {
		snprintf(label, sizeof(label), "add elements to set %s", s->name);
		h = batch_msg(b, NFT_MSG_NEWSETELEM, NLM_F_CREATE, label);
		if (h) {
			nftnl_set_elems_nlmsg_build_payload(h, ns);
			batch_next(b);
		}
	}
	nftnl_set_free(ns);
}

static int add_expr(struct nftnl_rule *r, struct nftnl_expr *x)
{
	if (!x)
		return -ENOMEM;
	nftnl_rule_add_expr(r, x);
	return 0;
}

static struct nftnl_expr *ex_payload(uint32_t offset, uint32_t reg)
{
	struct nftnl_expr *x = nftnl_expr_alloc("payload");
	if (x) {
		nftnl_expr_set_u32(x, NFTNL_EXPR_PAYLOAD_DREG, reg);
		nftnl_expr_set_u32(x, NFTNL_EXPR_PAYLOAD_BASE, NFT_PAYLOAD_NETWORK_HEADER);
		nftnl_expr_set_u32(x, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
		nftnl_expr_set_u32(x, NFTNL_EXPR_PAYLOAD_LEN, 4);
	}
	return x;
}

static struct nftnl_expr *ex_cmp(uint32_t op, uint32_t be_value)
{
	struct nftnl_expr *x = nftnl_expr_alloc("cmp");
	if (x) {
		nftnl_expr_set_u32(x, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
		nftnl_expr_set_u32(x, NFTNL_EXPR_CMP_OP, op);
		nftnl_expr_set(x, NFTNL_EXPR_CMP_DATA, &be_value, sizeof(be_value));
	}
	return x;
}

/* Builds one rule; returns 0 or -errno. */
static int build_rule(struct nftnl_rule *r, const struct netns_nft_rule *d, uint32_t set_id)
{
	int rc = 0;
	uint32_t off = (d->match == NETNS_NFT_SADDR || d->match == NETNS_NFT_SADDR_IN) ? 12 : 16;
	if (d->match == NETNS_NFT_SADDR || d->match == NETNS_NFT_DADDR) {
		rc |= add_expr(r, ex_payload(off, NFT_REG_1));
		rc |= add_expr(r, ex_cmp(NFT_CMP_EQ, htonl(d->addr)));
	} else if (d->match == NETNS_NFT_SADDR_IN || d->match == NETNS_NFT_DADDR_IN) {
		rc |= add_expr(r, ex_payload(off, NFT_REG_1));
		struct nftnl_expr *x = nftnl_expr_alloc("lookup");
		if (x) {
			nftnl_expr_set_u32(x, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
			nftnl_expr_set_str(x, NFTNL_EXPR_LOOKUP_SET, d->set);
			nftnl_expr_set_u32(x, NFTNL_EXPR_LOOKUP_SET_ID, set_id);
		}
		rc |= add_expr(r, x);
	}
	if (d->pct > 0 && d->pct < 100) {
		/* numgen random mod 100 < pct: numgen writes host order, cmp lt
		 * compares bytes, so convert first (as nft does) */
		struct nftnl_expr *x = nftnl_expr_alloc("numgen");
		if (x) {
			nftnl_expr_set_u32(x, NFTNL_EXPR_NG_DREG, NFT_REG_1);
			nftnl_expr_set_u32(x, NFTNL_EXPR_NG_MODULUS, 100);
			nftnl_expr_set_u32(x, NFTNL_EXPR_NG_TYPE, NFT_NG_RANDOM);
			nftnl_expr_set_u32(x, NFTNL_EXPR_NG_OFFSET, 0);
		}
		rc |= add_expr(r, x);
		x = nftnl_expr_alloc("byteorder");
		if (x) {
			nftnl_expr_set_u32(x, NFTNL_EXPR_BYTEORDER_SREG, NFT_REG_1);
			nftnl_expr_set_u32(x, NFTNL_EXPR_BYTEORDER_DREG, NFT_REG_1);
			nftnl_expr_set_u32(x, NFTNL_EXPR_BYTEORDER_OP, NFT_BYTEORDER_HTON);
			nftnl_expr_set_u32(x, NFTNL_EXPR_BYTEORDER_LEN, 4);
			nftnl_expr_set_u32(x, NFTNL_EXPR_BYTEORDER_SIZE, 4);
		}
		rc |= add_expr(r, x);
		rc |= add_expr(r, ex_cmp(NFT_CMP_LT, htonl((uint32_t)d->pct)));
	}
	struct nftnl_expr *x;
	switch (d->action) {
	case NETNS_NFT_DROP:
		x = nftnl_expr_alloc("immediate");
		if (x) {
			nftnl_expr_set_u32(x, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
			nftnl_expr_set_u32(x, NFTNL_EXPR_IMM_VERDICT, NF_DROP);
		}
		rc |= add_expr(r, x);
		break;
	case NETNS_NFT_DUP:
		/* dup to ip daddr device <the packet's output interface> */
		rc |= add_expr(r, ex_payload(16, NFT_REG_1));
		x = nftnl_expr_alloc("meta");
		if (x) {
			nftnl_expr_set_u32(x, NFTNL_EXPR_META_KEY, NFT_META_OIF);
			nftnl_expr_set_u32(x, NFTNL_EXPR_META_DREG, NFT_REG_2);
		}
		rc |= add_expr(r, x);
		x = nftnl_expr_alloc("dup");
		if (x) {
			nftnl_expr_set_u32(x, NFTNL_EXPR_DUP_SREG_ADDR, NFT_REG_1);
			nftnl_expr_set_u32(x, NFTNL_EXPR_DUP_SREG_DEV, NFT_REG_2);
		}
		rc |= add_expr(r, x);
		break;
	case NETNS_NFT_QUEUE: {
		/* xtables NFQUEUE target, revision 3, through nft_compat; the info
		 * is padded to XT_ALIGN like iptables-nft does */
		struct xt_NFQ_info_v3 q = { .queuenum = d->queue, .queues_total = 1,
			                    .flags = NFQ_FLAG_BYPASS };
		char *info = calloc(1, 8); /* libnftnl keeps (and frees) this buffer */
		x = info ? nftnl_expr_alloc("target") : NULL;
		if (x) {
			memcpy(info, &q, sizeof(q));
			nftnl_expr_set_str(x, NFTNL_EXPR_TG_NAME, "NFQUEUE");
			nftnl_expr_set_u32(x, NFTNL_EXPR_TG_REV, 3);
			nftnl_expr_set(x, NFTNL_EXPR_TG_INFO, info, 8);
		} else {
			free(info);
		}
		rc |= add_expr(r, x);
		break;
	}
	}
	return rc ? -ENOMEM : 0;
}

static void put_rules(struct batch *b, const char *table, const char *chain,
                      const struct netns_nft_rule *rules, size_t n,
                      const struct netns_nft_table *t)
{
	for (size_t i = 0; i < n && !b->rc; i++) {
		uint32_t set_id = 0;
		for (size_t k = 0; rules[i].set && k < t->nsets; k++)
			if (strcmp(t->sets[k].name, rules[i].set) == 0)
				set_id = (uint32_t)k + 1;
		struct nftnl_rule *r = nftnl_rule_alloc();
		if (!r) {
			b->rc = -ENOMEM;
			break;
		}
		nftnl_rule_set_str(r, NFTNL_RULE_TABLE, table);
		nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
		nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFT_FAMILY);
		int rc = build_rule(r, &rules[i], set_id);
		char label[96];
		snprintf(label, sizeof(label), "rule %zu of chain %s", i + 1, chain);
		struct nlmsghdr *h = rc ? NULL
		                        : batch_msg(b, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND,
		                                    label);
		if (rc)
			b->rc = rc;
		if (h) {
			nftnl_rule_nlmsg_build_payload(h, r);
			batch_next(b);
		}
		nftnl_rule_free(r);
	}
}

int netns_nft_apply(int nsfd, const char *ns_label, const char *name,
                    const struct netns_nft_table *t, struct netns_err *e)
{
	size_t naddrs = 0;
	for (size_t i = 0; i < t->nsets; i++)
		naddrs += t->sets[i].naddrs;
	struct batch b;
	if (batch_init(&b, 65536 + (t->ninput + t->noutput) * 512 + naddrs * 64 +
	                       t->nsets * 1024))
		return netns__fail(e, -ENOMEM, "%s: out of memory", ns_label);
	put_table(&b, NFT_MSG_NEWTABLE, name);
	put_chain(&b, name, "input", NF_INET_LOCAL_IN);
	put_chain(&b, name, "output", NF_INET_LOCAL_OUT);
	flush_chain(&b, name, "input");
	flush_chain(&b, name, "output");
	for (size_t i = 0; i < t->nsets && !b.rc; i++)
		put_set(&b, name, &t->sets[i], (uint32_t)i + 1);
	put_rules(&b, name, "input", t->input, t->ninput, t);
	put_rules(&b, name, "output", t->output, t->noutput, t);
	int rc = b.rc ? netns__fail(e, b.rc, "%s: table ip %s: cannot build the batch: %s",
	                            ns_label, name, strerror(-b.rc))
	              : batch_send(&b, nsfd, ns_label, false, e);
	batch_free(&b);
	return rc;
}

int netns_nft_delete(int nsfd, const char *ns_label, const char *name, struct netns_err *e)
{
	struct batch b;
	if (batch_init(&b, 16384))
		return netns__fail(e, -ENOMEM, "%s: out of memory", ns_label);
	put_table(&b, NFT_MSG_DELTABLE, name);
	int rc = b.rc ? netns__fail(e, b.rc, "%s: out of memory", ns_label)
	              : batch_send(&b, nsfd, ns_label, true, e);
	batch_free(&b);
	return rc;
}

/* ---- tbf ---- */

int netns_tbf_set(int nsfd, const char *ns_label, int ifindex, uint64_t rate_bps,
                  struct netns_err *e)
{
	if (rate_bps / 8 > 0x7fffffffULL)
		return netns__fail(e, -ERANGE, "%s: link %d: rate %llu bit/s is too high", ns_label,
		                   ifindex, (unsigned long long)rate_bps);
	struct nl_sock *sk = nl_socket_alloc();
	if (!sk)
		return netns__fail(e, -ENOMEM, "%s: out of memory", ns_label);
	int self, rc = ns_switch(nsfd, &self, e, ns_label);
	if (rc) {
		nl_socket_free(sk);
		return rc;
	}
	int nrc = nl_connect(sk, NETLINK_ROUTE);
	ns_back(self);
	struct rtnl_qdisc *q = nrc ? NULL : rtnl_qdisc_alloc();
	if (!q) {
		nl_socket_free(sk);
		return netns__fail(e, -EIO, "%s: cannot open a route socket: %s", ns_label,
		                   nl_geterror(nrc));
	}
	rtnl_tc_set_ifindex(TC_CAST(q), ifindex);
	rtnl_tc_set_parent(TC_CAST(q), TC_H_ROOT);
	rtnl_tc_set_handle(TC_CAST(q), (uint32_t)0xcc01 << 16);
	rtnl_tc_set_kind(TC_CAST(q), "tbf");
	if (rate_bps) {
		int rate = (int)(rate_bps / 8);
		int burst = rate / 100 > 3200 ? rate / 100 : 3200;
		rtnl_qdisc_tbf_set_rate(q, rate, burst, 0);
		rtnl_qdisc_tbf_set_limit_by_latency(q, 50000);
		nrc = rtnl_qdisc_add(sk, q, NLM_F_CREATE | NLM_F_REPLACE);
		if (nrc < 0)
			rc = netns__fail(e, -EIO, "%s: tbf qdisc (%llu bit/s) on link %d: %s", ns_label,
			                 (unsigned long long)rate_bps, ifindex, nl_geterror(nrc));
	} else {
		nrc = rtnl_qdisc_delete(sk, q);
		if (nrc < 0 && nrc != -NLE_OBJ_NOTFOUND && nrc != -NLE_INVAL && nrc != -NLE_NOATTR)
			rc = netns__fail(e, -EIO, "%s: delete tbf qdisc on link %d: %s", ns_label, ifindex,
			                 nl_geterror(nrc));
	}
	rtnl_qdisc_put(q);
	nl_socket_free(sk);
	return rc;
}
