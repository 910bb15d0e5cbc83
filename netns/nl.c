/* Batched rtnetlink through libnl-3: requests go out at once, acknowledgements
 * are collected by netns_nl_flush, errors carry the kernel's extended ack. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>

#include "netns_internal.h"

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif
#ifndef NLM_F_CAPPED
#define NLM_F_CAPPED 0x100
#endif
#ifndef NLM_F_ACK_TLVS
#define NLM_F_ACK_TLVS 0x200
#endif

struct pending {
	uint32_t seq;
	char label[120];
};

struct netns_nl {
	struct nl_sock *sk;
	struct nl_cb *cb;
	ino_t ns_ino;
	struct pending *p;
	size_t np, cap;
	/* while flushing */
	bool ignore_missing;
	size_t missing;
	int first_err;
	struct netns_err *err_out;
	uint32_t group;
};

static int nle_to_errno(int nle)
{
	switch (nle < 0 ? -nle : nle) {
	case NLE_NOMEM: return -ENOMEM;
	case NLE_EXIST: return -EEXIST;
	case NLE_OBJ_NOTFOUND: return -ENODEV;
	case NLE_NODEV: return -ENODEV;
	case NLE_PERM: return -EPERM;
	case NLE_INVAL: return -EINVAL;
	case NLE_BUSY: return -EBUSY;
	case NLE_AGAIN: return -EAGAIN;
	default: return -EIO;
	}
}

int netns_nl_open(int nsfd, struct netns_nl **out, struct netns_err *e)
{
	struct netns_nl *nl = calloc(1, sizeof(*nl));
	if (!nl)
		return netns__fail(e, -ENOMEM, "out of memory");
	int self = -1, rc = 0;
	if (nsfd >= 0) {
		self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
		if (self < 0 || setns(nsfd, CLONE_NEWNET)) {
			rc = netns__fail(e, -errno, "cannot enter namespace: %s", strerror(errno));
			goto fail;
		}
	}
	nl->sk = nl_socket_alloc();
	if (!nl->sk) {
		rc = netns__fail(e, -ENOMEM, "out of memory");
	} else if ((rc = nl_connect(nl->sk, NETLINK_ROUTE)) < 0) {
		rc = netns__fail(e, nle_to_errno(rc), "netlink socket: %s", nl_geterror(rc));
	}
	struct stat st;
	if (rc == 0 && stat("/proc/thread-self/ns/net", &st) == 0)
		nl->ns_ino = st.st_ino;
	if (self >= 0 && setns(self, CLONE_NEWNET) && rc == 0)
		rc = netns__fail(e, -errno, "cannot return to own namespace: %s", strerror(errno));
	if (rc)
		goto fail;
	if (self >= 0)
		close(self);
	self = -1;
	int one = 1;
	setsockopt(nl_socket_get_fd(nl->sk), SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	nl_socket_set_buffer_size(nl->sk, 4 << 20, 4 << 20);
	nl_socket_disable_seq_check(nl->sk);
	*out = nl;
	return 0;
fail:
	if (self >= 0)
		close(self);
	if (nl->sk)
		nl_socket_free(nl->sk);
	free(nl);
	return rc;
}

void netns_nl_close(struct netns_nl *nl)
{
	if (!nl)
		return;
	if (nl->cb)
		nl_cb_put(nl->cb);
	nl_socket_free(nl->sk);
	free(nl->p);
	free(nl);
}

/* Sends msg (freed here) and remembers it until its acknowledgement arrives. */
static int send_msg(struct netns_nl *nl, struct nl_msg *msg, const char *label,
                    struct netns_err *e)
{
	if (!msg)
		return netns__fail(e, -ENOMEM, "%s: out of memory", label);
	if (nl->np == nl->cap) {
		size_t cap = nl->cap ? nl->cap * 2 : 64;
		struct pending *p = realloc(nl->p, cap * sizeof(*p));
		if (!p) {
			nlmsg_free(msg);
			return netns__fail(e, -ENOMEM, "%s: out of memory", label);
		}
		nl->p = p;
		nl->cap = cap;
	}
	int rc = nl_send_auto(nl->sk, msg);
	uint32_t seq = nlmsg_hdr(msg)->nlmsg_seq;
	nlmsg_free(msg);
	if (rc < 0)
		return netns__fail(e, nle_to_errno(rc), "%s: %s", label, nl_geterror(rc));
	nl->p[nl->np].seq = seq;
	snprintf(nl->p[nl->np].label, sizeof(nl->p[0].label), "%s", label);
	nl->np++;
	return 0;
}

static struct nl_msg *link_msg(int type, int flags, int ifindex, unsigned ifi_flags,
                               unsigned ifi_change)
{
	struct nl_msg *msg = nlmsg_alloc_simple(type, flags);
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = ifindex,
		                 .ifi_flags = ifi_flags, .ifi_change = ifi_change };
	if (msg && nlmsg_append(msg, &ifi, sizeof(ifi), NLMSG_ALIGNTO) < 0) {
		nlmsg_free(msg);
		return NULL;
	}
	return msg;
}

/* Builds an RTM_NEWLINK (create, exclusive) for link and queues it. The caller
 * still owns link. */
static int send_new_link(struct netns_nl *nl, struct rtnl_link *link, const char *label,
                         struct netns_err *e)
{
	struct nl_msg *msg = NULL;
	int rc = rtnl_link_build_add_request(link, NLM_F_CREATE | NLM_F_EXCL, &msg);
	if (rc < 0)
		return netns__fail(e, nle_to_errno(rc), "%s: %s", label, nl_geterror(rc));
	return send_msg(nl, msg, label, e);
}

int netns_bridge_add(struct netns_nl *nl, const char *name, int ifindex, const char *label,
                     struct netns_err *e)
{
	struct rtnl_link *link = rtnl_link_alloc();
	if (!link)
		return netns__fail(e, -ENOMEM, "%s: out of memory", label);
	rtnl_link_set_name(link, name);
	rtnl_link_set_ifindex(link, ifindex);
	rtnl_link_set_flags(link, IFF_UP);
	if (nl->group)
		rtnl_link_set_group(link, nl->group);
	int rc = rtnl_link_set_type(link, "bridge");
	if (rc < 0)
		rc = netns__fail(e, nle_to_errno(rc), "%s: %s", label, nl_geterror(rc));
	else
		rc = send_new_link(nl, link, label, e);
	rtnl_link_put(link);
	return rc;
}

int netns_veth_add(struct netns_nl *nl, const char *name, int ifindex, int master_ifindex,
                   const char *peer_name, int peer_ifindex, int peer_nsfd, const char *label,
                   struct netns_err *e)
{
	struct rtnl_link *link = rtnl_link_veth_alloc();
	if (!link)
		return netns__fail(e, -ENOMEM, "%s: out of memory", label);
	rtnl_link_set_name(link, name);
	rtnl_link_set_ifindex(link, ifindex);
	if (master_ifindex > 0)
		rtnl_link_set_master(link, master_ifindex);
	rtnl_link_set_flags(link, IFF_UP);
	if (nl->group)
		rtnl_link_set_group(link, nl->group);
	struct rtnl_link *peer = rtnl_link_veth_get_peer(link);
	rtnl_link_set_name(peer, peer_name);
	rtnl_link_set_ifindex(peer, peer_ifindex);
	/* Not IFF_UP: the kernel would open the peer before the pair is joined
	 * (ENOTCONN). The caller sets it up through its own namespace's socket. */
	if (peer_nsfd >= 0)
		rtnl_link_set_ns_fd(peer, peer_nsfd);
	rtnl_link_put(peer);
	int rc = send_new_link(nl, link, label, e);
	rtnl_link_veth_release(link);
	return rc;
}

int netns_link_set_up(struct netns_nl *nl, int ifindex, bool up, const char *label,
                      struct netns_err *e)
{
	return send_msg(nl, link_msg(RTM_NEWLINK, 0, ifindex, up ? IFF_UP : 0, IFF_UP), label, e);
}

int netns_link_set_mtu(struct netns_nl *nl, int ifindex, unsigned mtu, const char *label,
                       struct netns_err *e)
{
	struct nl_msg *msg = link_msg(RTM_NEWLINK, 0, ifindex, 0, 0);
	if (msg && nla_put_u32(msg, IFLA_MTU, mtu) < 0) {
		nlmsg_free(msg);
		msg = NULL;
	}
	return send_msg(nl, msg, label, e);
}

int netns_link_del(struct netns_nl *nl, const char *name, const char *label,
                   struct netns_err *e)
{
	struct nl_msg *msg = link_msg(RTM_DELLINK, 0, 0, 0, 0);
	if (msg && nla_put_string(msg, IFLA_IFNAME, name) < 0) {
		nlmsg_free(msg);
		msg = NULL;
	}
	return send_msg(nl, msg, label, e);
}

void netns_nl_set_group(struct netns_nl *nl, uint32_t group)
{
	nl->group = group;
}

int netns_link_del_group(struct netns_nl *nl, uint32_t group, const char *label,
                         struct netns_err *e)
{
	struct nl_msg *msg = link_msg(RTM_DELLINK, 0, 0, 0, 0);
	if (msg && nla_put_u32(msg, IFLA_GROUP, group) < 0) {
		nlmsg_free(msg);
		msg = NULL;
	}
	return send_msg(nl, msg, label, e);
}

static int refuse_protected(struct netns_nl *nl, const char *what, uint32_t addr, int prefix,
                            struct netns_err *e)
{
	if (!netns__is_protected(nl->ns_ino))
		return 0;
	struct in_addr a = { htonl(addr) };
	char ip[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &a, ip, sizeof(ip));
	return netns__fail(e, -EPERM, "refusing to add %s %s/%d outside a harness namespace: "
	                              "topology addresses live only in namespaces the harness "
	                              "created", what, ip, prefix);
}

int netns_addr_add(struct netns_nl *nl, int ifindex, uint32_t addr, int prefix,
                   const char *label, struct netns_err *e)
{
	int rc = refuse_protected(nl, "address", addr, prefix, e);
	if (rc)
		return rc;
	struct nl_msg *msg = nlmsg_alloc_simple(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
	struct ifaddrmsg ifa = { .ifa_family = AF_INET, .ifa_prefixlen = (unsigned char)prefix,
		                 .ifa_scope = RT_SCOPE_UNIVERSE, .ifa_index = (unsigned)ifindex };
	uint32_t be = htonl(addr);
	if (msg && (nlmsg_append(msg, &ifa, sizeof(ifa), NLMSG_ALIGNTO) < 0 ||
	            nla_put(msg, IFA_LOCAL, 4, &be) < 0 || nla_put(msg, IFA_ADDRESS, 4, &be) < 0)) {
		nlmsg_free(msg);
		msg = NULL;
	}
	return send_msg(nl, msg, label, e);
}

int netns_route_add(struct netns_nl *nl, uint32_t dst, int prefix, int ifindex,
                    const char *label, struct netns_err *e)
{
	int rc = refuse_protected(nl, "route", dst, prefix, e);
	if (rc)
		return rc;
	struct nl_msg *msg = nlmsg_alloc_simple(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
	struct rtmsg rt = { .rtm_family = AF_INET, .rtm_dst_len = (unsigned char)prefix,
		            .rtm_table = RT_TABLE_MAIN, .rtm_protocol = RTPROT_BOOT,
		            .rtm_scope = RT_SCOPE_LINK, .rtm_type = RTN_UNICAST };
	uint32_t be = htonl(dst), oif = (uint32_t)ifindex;
	if (msg && (nlmsg_append(msg, &rt, sizeof(rt), NLMSG_ALIGNTO) < 0 ||
	            nla_put(msg, RTA_DST, 4, &be) < 0 || nla_put_u32(msg, RTA_OIF, oif) < 0)) {
		nlmsg_free(msg);
		msg = NULL;
	}
	return send_msg(nl, msg, label, e);
}

/* The NLMSGERR_ATTR_MSG text of an extended ack, or NULL. */
static const char *ext_ack_text(const struct nlmsghdr *h)
{
	if (!(h->nlmsg_flags & NLM_F_ACK_TLVS))
		return NULL;
	const struct nlmsgerr *err = NLMSG_DATA(h);
	size_t off = sizeof(*err);
	if (!(h->nlmsg_flags & NLM_F_CAPPED))
		off += NLMSG_ALIGN(err->msg.nlmsg_len - NLMSG_HDRLEN);
	size_t total = h->nlmsg_len - NLMSG_HDRLEN;
	const char *base = (const char *)err;
	while (off + sizeof(struct nlattr) <= total) {
		const struct nlattr *a = (const struct nlattr *)(base + off);
		if (a->nla_len < sizeof(*a) || off + a->nla_len > total)
			break;
		if ((a->nla_type & NLA_TYPE_MASK) == 1 /* NLMSGERR_ATTR_MSG */) {
			const char *s = (const char *)a + NLA_HDRLEN;
			size_t n = a->nla_len - NLA_HDRLEN;
			if (n > 0 && s[n - 1] == '\0')
				return s;
			return NULL;
		}
		off += NLA_ALIGN(a->nla_len);
	}
	return NULL;
}

static struct pending *take(struct netns_nl *nl, uint32_t seq, struct pending *copy)
{
	for (size_t i = 0; i < nl->np; i++) {
		if (nl->p[i].seq == seq) {
			*copy = nl->p[i];
			memmove(&nl->p[i], &nl->p[i + 1], (nl->np - i - 1) * sizeof(nl->p[0]));
			nl->np--;
			return copy;
		}
	}
	return NULL;
}

static int on_ack(struct nl_msg *msg, void *arg)
{
	struct netns_nl *nl = arg;
	struct pending p;
	take(nl, nlmsg_hdr(msg)->nlmsg_seq, &p);
	return NL_OK;
}

static int on_error(struct sockaddr_nl *who, struct nlmsgerr *err, void *arg)
{
	struct netns_nl *nl = arg;
	const struct nlmsghdr *h = (const struct nlmsghdr *)((const char *)err - NLMSG_HDRLEN);
	struct pending p;
	if (!take(nl, h->nlmsg_seq, &p))
		return NL_SKIP;
	int code = err->error; /* negative errno */
	if (nl->ignore_missing && (code == -ENODEV || code == -ENOENT || code == -ESRCH)) {
		nl->missing++;
		return NL_SKIP;
	}
	if (nl->first_err == 0) {
		nl->first_err = code;
		const char *ext = ext_ack_text(h);
		netns__fail(nl->err_out, code, "%s: %s%s%s", p.label, strerror(-code),
		            ext ? ": " : "", ext ? ext : "");
	}
	return NL_SKIP;
}

int netns_nl_flush(struct netns_nl *nl, bool ignore_missing, size_t *missing,
                   struct netns_err *e)
{
	if (!nl->cb) {
		nl->cb = nl_cb_alloc(NL_CB_DEFAULT);
		if (!nl->cb)
			return netns__fail(e, -ENOMEM, "out of memory");
		nl_cb_set(nl->cb, NL_CB_ACK, NL_CB_CUSTOM, on_ack, nl);
		nl_cb_err(nl->cb, NL_CB_CUSTOM, on_error, nl);
	}
	nl->ignore_missing = ignore_missing;
	nl->missing = 0;
	nl->first_err = 0;
	nl->err_out = e;
	while (nl->np > 0) {
		int rc = nl_recvmsgs(nl->sk, nl->cb);
		if (rc < 0 && nl->first_err == 0) {
			nl->first_err = nle_to_errno(rc);
			netns__fail(e, nl->first_err, "%s: %s", nl->p[0].label, nl_geterror(rc));
			nl->np = 0;
		}
	}
	if (missing)
		*missing = nl->missing;
	return nl->first_err;
}

int netns_link_get(struct netns_nl *nl, const char *name, int *ifindex, bool *up,
                   bool *carrier, struct netns_err *e)
{
	struct rtnl_link *link = NULL;
	int rc = rtnl_link_get_kernel(nl->sk, 0, name, &link);
	if (rc < 0)
		return netns__fail(e, nle_to_errno(rc), "link %s: %s", name, nl_geterror(rc));
	if (ifindex)
		*ifindex = rtnl_link_get_ifindex(link);
	if (up)
		*up = (rtnl_link_get_flags(link) & IFF_UP) != 0;
	if (carrier)
		*carrier = rtnl_link_get_carrier(link) != 0;
	rtnl_link_put(link);
	return 0;
}
