/* Derived defaults and validation of the merged config, with Consul's texts
 * (agent/config/builder.go Validate) where Consul has them. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config_internal.h"

static const char deployment_table[] =
	"See https://www.consul.io/docs/internals/consensus.html#deployment-table";

static int is_ip(const char *s)
{
	unsigned char buf[sizeof(struct in6_addr)];
	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

static int is_any(const char *s)
{
	return strcmp(s, "0.0.0.0") == 0 || strcmp(s, "::") == 0 || strcmp(s, "[::]") == 0;
}

static int check_ip(const char *name, const char *s, struct cc_config_err *err)
{
	if (strstr(s, "{{"))
		return cc_config_fail(err, "%s: go-sockaddr templates are not supported: %s", name, s);
	if (!is_ip(s))
		return cc_config_fail(err, "%s: invalid ip address: %s", name, s);
	return 0;
}

/* Splits a space-separated address list (Consul's client_addr) into l. */
static int split_addrs(const char *name, const char *raw, struct cc_strlist *l,
                       struct cc_config_err *err)
{
	cc_strlist_clear(l);
	const char *p = raw;
	while (*p) {
		while (*p == ' ' || *p == '\t')
			p++;
		size_t n = strcspn(p, " \t");
		if (n == 0)
			break;
		char a[128];
		snprintf(a, sizeof(a), "%.*s", (int)n, p);
		if (check_ip(name, a, err))
			return -1;
		if (cc_strlist_push(l, a))
			return cc_config_fail(err, "out of memory");
		p += n;
	}
	if (l->n == 0)
		return cc_config_fail(err, "%s cannot be empty", name);
	return 0;
}

static int is_private_v4(uint32_t a)
{
	return (a >> 24) == 10 || (a >> 20) == (172u << 4 | 1) || (a >> 16) == (192u << 8 | 168) ||
	       (a >> 22) == (100u << 2 | 1); /* 100.64.0.0/10, shared address space */
}

/* Consul's advertise default when binding to 0.0.0.0: the one private IPv4. */
static int pick_private_ip(char *out, size_t cap, struct cc_config_err *err)
{
	struct ifaddrs *ifs;
	if (getifaddrs(&ifs))
		return cc_config_fail(err, "Failed to get private IP address: %s", strerror(errno));
	int found = 0;
	for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET)
			continue;
		const struct sockaddr_in *sin = (const struct sockaddr_in *)i->ifa_addr;
		char buf[INET_ADDRSTRLEN];
		if (!is_private_v4(ntohl(sin->sin_addr.s_addr)))
			continue;
		inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof(buf));
		if (found && strcmp(buf, out) != 0) {
			freeifaddrs(ifs);
			return cc_config_fail(err, "Multiple private IPv4 addresses found. Please configure "
			                           "one with 'bind' and/or 'advertise'.");
		}
		snprintf(out, cap, "%s", buf);
		found = 1;
	}
	freeifaddrs(ifs);
	if (!found)
		return cc_config_fail(err, "No private IPv4 address found: set 'bind_addr' or "
		                           "'advertise_addr' to the address other nodes reach this one at");
	return 0;
}

static int b64_value(int ch)
{
	if (ch >= 'A' && ch <= 'Z') return ch - 'A';
	if (ch >= 'a' && ch <= 'z') return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9') return ch - '0' + 52;
	if (ch == '+') return 62;
	if (ch == '/') return 63;
	return -1;
}

/* Standard base64 with padding, as Go's base64.StdEncoding. */
/* Conclave's rule (Consul takes any text): the prefix starts every metric
 * name, so it is a non-empty run of letters, digits, '_', '-' and inner dots. */
static int check_metrics_prefix(const char *s, struct cc_config_err *err)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0)
		return cc_config_fail(err, "telemetry.metrics_prefix cannot be empty");
	bool ok = s[0] != '.' && s[n - 1] != '.';
	for (size_t i = 0; ok && i < n; i++)
		ok = isalnum((unsigned char)s[i]) || strchr("_-.", s[i]) != NULL;
	if (!ok)
		return cc_config_fail(err, "telemetry.metrics_prefix cannot be \"%s\". Please use only "
		                           "[a-zA-Z0-9_-] and inner dots", s);
	return 0;
}

static int check_encrypt_key(const char *s, struct cc_config_err *err)
{
	size_t n = strlen(s), out = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '=' && i + 2 >= n && (i == n - 1 || s[n - 1] == '='))
			continue;
		if (b64_value((unsigned char)s[i]) < 0)
			return cc_config_fail(err, "encrypt has invalid key: illegal base64 data at input "
			                           "byte %zu", i);
	}
	if (n % 4 != 0)
		return cc_config_fail(err, "encrypt has invalid key: illegal base64 data at input "
		                           "byte %zu", n - n % 4);
	out = n / 4 * 3 - (n && s[n - 1] == '=') - (n > 1 && s[n - 2] == '=');
	if (out != 16 && out != 24 && out != 32)
		return cc_config_fail(err, "encrypt has invalid key: key size must be 16, 24 or 32 "
		                           "bytes, got %zu", out);
	return 0;
}

static int is_uuid(const char *s)
{
	if (strlen(s) != 36)
		return 0;
	for (int i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (!isxdigit((unsigned char)s[i])) {
			return 0;
		}
	}
	return 1;
}

/* Consul's addrUnique: the same network:ip:port claimed by two listeners. */
struct inuse {
	char key[8][96];
	const char *owner[8];
	int n;
};

static int claim(struct inuse *u, const char *name, const char *net, const char *ip, int port,
                 struct cc_config_err *err)
{
	if (port <= 0)
		return 0;
	char key[96], shown[80];
	if (strchr(ip, ':'))
		snprintf(shown, sizeof(shown), "[%s]:%d", ip, port);
	else
		snprintf(shown, sizeof(shown), "%s:%d", ip, port);
	snprintf(key, sizeof(key), "%s:%s", net, shown);
	for (int i = 0; i < u->n; i++)
		if (strcmp(u->key[i], key) == 0)
			return cc_config_fail(err, "%s address %s already configured for %s", name, shown,
			                      u->owner[i]);
	if (u->n < 8) {
		snprintf(u->key[u->n], sizeof(u->key[0]), "%s", key);
		u->owner[u->n++] = name;
	}
	return 0;
}

static int check_ports(const struct cc_config *c, struct cc_config_err *err)
{
	const struct { const char *name; int port; int may_disable; } ps[] = {
		{ "http", c->ports.http, 1 },     { "https", c->ports.https, 1 },
		{ "grpc", c->ports.grpc, 1 },     { "dns", c->ports.dns, 1 },
		{ "server", c->ports.server, 0 }, { "serf_lan", c->ports.serf_lan, 0 },
		{ "serf_wan", c->ports.serf_wan, 0 },
	};
	for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++) {
		if (ps[i].port == 0 || (ps[i].port < 0 && !ps[i].may_disable))
			return cc_config_fail(err, "ports.%s cannot be %d. Must be between 1 and 65535%s",
			                      ps[i].name, ps[i].port,
			                      ps[i].may_disable ? " (or -1 to disable)" : "");
	}
	struct inuse u = { .n = 0 };
	for (size_t i = 0; i < c->dns_addrs.n; i++)
		if (claim(&u, "DNS", "udp", c->dns_addrs.v[i], c->ports.dns, err) ||
		    claim(&u, "DNS", "tcp", c->dns_addrs.v[i], c->ports.dns, err))
			return -1;
	for (size_t i = 0; i < c->http_addrs.n; i++)
		if (claim(&u, "HTTP", "tcp", c->http_addrs.v[i], c->ports.http, err) ||
		    claim(&u, "HTTPS", "tcp", c->http_addrs.v[i], c->ports.https, err))
			return -1;
	if (claim(&u, "RPC Advertise", "tcp", c->advertise_addr, c->ports.server, err) ||
	    claim(&u, "Serf Advertise LAN", "tcp", c->advertise_addr, c->ports.serf_lan, err))
		return -1;
	if (c->server &&
	    claim(&u, "Serf Advertise WAN", "tcp", c->advertise_addr_wan, c->ports.serf_wan, err))
		return -1;
	return 0;
}

static int finalize_service(struct cc_config *c, size_t idx, struct cc_config_err *err)
{
	struct cc_service_def *s = &c->services[idx];
	if (!s->name || !s->name[0])
		return cc_config_fail(err, "service #%zu: \"name\" is required", idx + 1);
	if (!s->id && cc_set_str(&s->id, s->name))
		return cc_config_fail(err, "out of memory");
	for (size_t k = 0; k < s->nchecks; k++) {
		struct cc_check_def *ck = &s->checks[k];
		int kinds = (ck->args.n > 0) + (ck->http != NULL) + (ck->tcp != NULL) + (ck->ttl_ms > 0);
		if (kinds == 0)
			return cc_config_fail(err, "service \"%s\": check #%zu needs one of \"args\", "
			                           "\"http\", \"tcp\" or \"ttl\"", s->name, k + 1);
		if (kinds > 1)
			return cc_config_fail(err, "service \"%s\": check #%zu has more than one of \"args\", "
			                           "\"http\", \"tcp\" and \"ttl\"", s->name, k + 1);
		if (ck->ttl_ms == 0 && ck->interval_ms == 0)
			return cc_config_fail(err, "service \"%s\": check #%zu: Interval must be > 0 for "
			                           "Script, HTTP, or TCP checks", s->name, k + 1);
		if (ck->args.n > 0 && !c->enable_script_checks)
			return cc_config_fail(err, "service \"%s\": Scripts are disabled on this agent; to "
			                           "enable, configure 'enable_script_checks' to true", s->name);
		char buf[512];
		if (!ck->id) {
			if (s->nchecks == 1)
				snprintf(buf, sizeof(buf), "service:%s", s->id);
			else
				snprintf(buf, sizeof(buf), "service:%s:%zu", s->id, k + 1);
			if (cc_set_str(&ck->id, buf))
				return cc_config_fail(err, "out of memory");
		}
		if (!ck->name) {
			snprintf(buf, sizeof(buf), "Service '%s' check", s->name);
			if (cc_set_str(&ck->name, buf))
				return cc_config_fail(err, "out of memory");
		}
	}
	return 0;
}

static int finalize_addresses(struct cc_config *c, struct cc_config_err *err)
{
	struct cc_config_priv *p = c->priv;
	if (check_ip("bind_addr", c->bind_addr, err))
		return -1;
	if (split_addrs("client_addr", p->client_addr_raw, &c->client_addrs, err) ||
	    split_addrs("addresses.http", p->addresses_http ? p->addresses_http : p->client_addr_raw,
	                &c->http_addrs, err) ||
	    split_addrs("addresses.dns", p->addresses_dns ? p->addresses_dns : p->client_addr_raw,
	                &c->dns_addrs, err))
		return -1;
	if (c->advertise_addr) {
		if (check_ip("advertise_addr", c->advertise_addr, err))
			return -1;
	} else if (!is_any(c->bind_addr)) {
		if (cc_set_str(&c->advertise_addr, c->bind_addr))
			return cc_config_fail(err, "out of memory");
	} else {
		char ip[INET_ADDRSTRLEN];
		if (pick_private_ip(ip, sizeof(ip), err) || cc_set_str(&c->advertise_addr, ip))
			return -1;
	}
	if (is_any(c->advertise_addr))
		return cc_config_fail(err, "Advertise address cannot be 0.0.0.0, :: or [::]");
	if (c->advertise_addr_wan) {
		if (check_ip("advertise_addr_wan", c->advertise_addr_wan, err))
			return -1;
		if (is_any(c->advertise_addr_wan))
			return cc_config_fail(err, "Advertise WAN address cannot be 0.0.0.0, :: or [::]");
	} else if (cc_set_str(&c->advertise_addr_wan, c->advertise_addr)) {
		return cc_config_fail(err, "out of memory");
	}
	return 0;
}

int cc_config_finalize(struct cc_config *c, struct cc_config_err *err)
{
	struct cc_config_priv *p = c->priv;

	if (!c->node_name) {
		char host[256] = "";
		gethostname(host, sizeof(host) - 1);
		if (cc_set_str(&c->node_name, host))
			return cc_config_fail(err, "out of memory");
	}
	c->leave_on_terminate = p->leave_on_terminate >= 0 ? p->leave_on_terminate : !c->server;
	c->skip_leave_on_interrupt =
		p->skip_leave_on_interrupt >= 0 ? p->skip_leave_on_interrupt : c->server;
	for (char *d = c->datacenter; d && *d; d++)
		*d = (char)tolower((unsigned char)*d);

	if (c->bootstrap_expect == 1) {
		c->bootstrap = true;
		c->bootstrap_expect = 0;
		if (cc_config_warn(c, "BootstrapExpect is set to 1; this is the same as Bootstrap mode."))
			return cc_config_fail(err, "out of memory");
	}

	if (!c->datacenter || !c->datacenter[0] ||
	    strspn(c->datacenter, "abcdefghijklmnopqrstuvwxyz0123456789_-") != strlen(c->datacenter))
		return cc_config_fail(err, "datacenter cannot be \"%s\". Please use only [a-z0-9-_]",
		                      c->datacenter ? c->datacenter : "");
	if (!c->data_dir || !c->data_dir[0])
		return cc_config_fail(err, "data_dir cannot be empty");
	struct stat st;
	if (stat(c->data_dir, &st) == 0 && !S_ISDIR(st.st_mode))
		return cc_config_fail(err, "data_dir \"%s\" is not a directory", c->data_dir);
	if (!c->node_name[0])
		return cc_config_fail(err, "node_name cannot be empty");
	if (c->node_id && !is_uuid(c->node_id))
		return cc_config_fail(err, "node_id cannot be \"%s\". Must be a UUID such as "
		                           "53c42a83-99bf-ebd4-708b-a26ba5eb6707", c->node_id);
	if (finalize_addresses(c, err))
		return -1;
	if (c->bootstrap && !c->server)
		return cc_config_fail(err, "'bootstrap = true' requires 'server = true'");
	if (c->bootstrap_expect < 0)
		return cc_config_fail(err, "bootstrap_expect cannot be %d. Must be greater than or "
		                           "equal to zero", c->bootstrap_expect);
	if (c->bootstrap_expect > 0 && !c->server)
		return cc_config_fail(err, "'bootstrap_expect > 0' requires 'server = true'");
	if (c->bootstrap_expect > 0 && c->bootstrap)
		return cc_config_fail(err, "'bootstrap_expect > 0' and 'bootstrap = true' are mutually "
		                           "exclusive");
	if (c->raft_multiplier < 1 || c->raft_multiplier > 10)
		return cc_config_fail(err, "performance.raft_multiplier cannot be %d. Must be between 1 "
		                           "and 10", c->raft_multiplier);
	if (c->retry_interval_ms == 0)
		return cc_config_fail(err, "retry_interval cannot be 0s. Must be positive");
	if (c->raft_snapshot_threshold < 0)
		return cc_config_fail(err, "raft_snapshot_threshold cannot be %d. Must be greater than "
		                           "or equal to zero", c->raft_snapshot_threshold);
	if (c->raft_trailing_logs < 0)
		return cc_config_fail(err, "raft_trailing_logs cannot be %d. Must be greater than or "
		                           "equal to zero", c->raft_trailing_logs);
	if (c->retry_max < 0)
		return cc_config_fail(err, "retry_max cannot be %d. Must be greater than or equal to "
		                           "zero (0 retries forever)", c->retry_max);
	if (c->encrypt && check_encrypt_key(c->encrypt, err))
		return -1;
	if (check_metrics_prefix(c->telemetry.metrics_prefix, err))
		return -1;
	for (size_t i = 0; i < c->retry_join.n; i++)
		if (!c->retry_join.v[i][0])
			return cc_config_fail(err, "retry_join[%zu] cannot be empty", i);
	if (check_ports(c, err))
		return -1;
	for (size_t i = 0; i < c->nservices; i++)
		if (finalize_service(c, i, err))
			return -1;

	int rc = 0;
	if (c->server && !c->bootstrap && c->bootstrap_expect == 2)
		rc |= cc_config_warn(c, "bootstrap_expect = 2: A cluster with 2 servers will provide no "
		                        "failure tolerance. %s", deployment_table);
	if (c->server && !c->bootstrap && c->bootstrap_expect > 2 && c->bootstrap_expect % 2 == 0)
		rc |= cc_config_warn(c, "bootstrap_expect is even number: A cluster with an even number "
		                        "of servers does not achieve optimum fault tolerance. %s",
		                     deployment_table);
	if (c->server && c->bootstrap && c->bootstrap_expect == 0)
		rc |= cc_config_warn(c, "bootstrap = true: do not enable unless necessary");
	if (c->server && !c->bootstrap && c->bootstrap_expect > 1)
		rc |= cc_config_warn(c, "bootstrap_expect > 0: expecting %d servers",
		                     c->bootstrap_expect);
	return rc ? cc_config_fail(err, "out of memory") : 0;
}

const char *cc_config_node_name_dns_warning(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > 63)
		return "Node name will not be discoverable via DNS due to it being too long. Valid "
		       "lengths are between 1 and 63 bytes.";
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)name[i];
		if (!isalnum(ch) && ch != '-' && ch != '\\')
			return "Node name will not be discoverable via DNS due to invalid characters. Valid "
			       "characters include all alpha-numerics and dashes.";
	}
	return NULL;
}
