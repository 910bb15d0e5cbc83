/* The agent's lifecycle: banner, listeners, signals, shutdown. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent/agent_internal.h"
#include "agent/agent_local.h"
#include "log/log.h"
#include "metrics/metrics.h"

#define MOD "agent"

static void print_banner(const struct cc_agent *a)
{
	const struct cc_config *c = a->cfg;
	char clients[512] = "";
	size_t pos = 0;
	for (size_t i = 0; i < c->client_addrs.n && pos < sizeof(clients); i++)
		pos += (size_t)snprintf(clients + pos, sizeof(clients) - pos, "%s%s", i ? " " : "",
		                        c->client_addrs.v[i]);
	printf("==> Starting Conclave agent...\n");
	printf("%19s 'v%s'\n", "Version:", CONCLAVE_VERSION);
	printf("%19s '%s'\n", "Node ID:", a->node_id);
	printf("%19s '%s'\n", "Node name:", c->node_name);
	printf("%19s '%s' (Segment: '%s')\n", "Datacenter:", c->datacenter,
	       c->server ? "<all>" : "");
	printf("%19s %s (Bootstrap: %s)\n", "Server:", c->server ? "true" : "false",
	       c->bootstrap ? "true" : "false");
	printf("%19s [%s] (HTTP: %d, HTTPS: %d, gRPC: %d, DNS: %d)\n", "Client Addr:", clients,
	       c->ports.http, c->ports.https, c->ports.grpc, c->ports.dns);
	printf("%19s %s (LAN: %d, WAN: %d)\n", "Cluster Addr:", c->advertise_addr,
	       c->ports.serf_lan, c->ports.serf_wan);
	printf("%19s Gossip: %s, TLS-Outgoing: false, TLS-Incoming: false, "
	       "Auto-Encrypt-TLS: false\n", "Encrypt:", c->encrypt ? "true" : "false");
	printf("\n==> Log data will now stream in as it occurs:\n\n");
	fflush(stdout);
}

static void host_port(char *out, size_t cap, const char *ip, int port)
{
	snprintf(out, cap, strchr(ip, ':') ? "[%s]:%d" : "%s:%d", ip, port);
}

static void shutdown_endpoints(struct cc_agent *a)
{
	agent_dns_stop(a);   /* Consul stops DNS before HTTP */
	for (size_t i = 0; i < a->nhttp; i++) {
		CC_INFO(MOD, "Stopping server", "protocol", "HTTP", "address", a->http_names[i],
		        "network", "tcp");
		cc_http_stop(a->http[i]);
		a->http[i] = NULL;
	}
	a->nhttp = 0;
}

static void finish_shutdown(struct cc_agent *a, bool left)
{
	agent_local_stop(a);
	agent_forward_stop(a);
	agent_kv_watch_stop(a);
	agent_events_stop(a);
	if (a->server) {
		CC_INFO("agent.server", "shutting down server");
		cc_server_stop(a->server);
		a->server = NULL;
	}
	agent_gossip_stop(a, left);
	shutdown_endpoints(a);
	agent_monitor_stop(a);
	agent_metrics_stop(a);
	CC_INFO(MOD, "Waiting for endpoints to shut down");
	if (!uv_is_closing((uv_handle_t *)&a->sigint)) {
		uv_signal_stop(&a->sigint);
		uv_signal_stop(&a->sigterm);
		uv_signal_stop(&a->sighup);
		uv_close((uv_handle_t *)&a->sigint, NULL);
		uv_close((uv_handle_t *)&a->sigterm, NULL);
		uv_close((uv_handle_t *)&a->sighup, NULL);
	}
	CC_INFO(MOD, "Endpoints down");
}

static void on_left(struct cc_agent *a)
{
	CC_INFO(MOD, "Graceful exit completed");
	finish_shutdown(a, true);
}

static void (*leave_then)(struct cc_agent *a);

static void on_server_left(void *ud)
{
	struct cc_agent *a = ud;
	agent_gossip_leave(a, leave_then);
}

void agent_leave(struct cc_agent *a, void (*done)(struct cc_agent *a))
{
	if (!a->server) {
		agent_gossip_leave(a, done);
		return;
	}
	leave_then = done;
	cc_server_leave(a->server, on_server_left, a);
}

static void on_handed_off(void *ud)
{
	finish_shutdown(ud, false);
}

void agent_shutdown(struct cc_agent *a, bool leave)
{
	if (a->stopping)
		return;
	a->stopping = true;
	if (leave) {
		CC_INFO(MOD, "Gracefully shutting down agent...");
		agent_leave(a, on_left);
		return;
	}
	CC_INFO(MOD, "Requesting shutdown");
	/* a leader hands over before it goes, so the cluster does not wait
	 * for an election timeout */
	if (a->server) {
		cc_server_handoff(a->server, on_handed_off, a);
		return;
	}
	finish_shutdown(a, false);
}

void agent_shutdown_after_leave(struct cc_agent *a)
{
	a->stopping = true;
	finish_shutdown(a, true);
}

static void on_signal(uv_signal_t *s, int signum)
{
	struct cc_agent *a = s->data;
	const struct cc_config *c = a->cfg;
	CC_INFO(MOD, "Caught", "signal", signum == SIGINT ? "interrupt" : "terminated");
	if (a->stopping)
		return;
	int graceful = signum == SIGINT ? !c->skip_leave_on_interrupt : c->leave_on_terminate;
	if (!graceful)
		CC_INFO(MOD, "Graceful shutdown disabled. Exiting");
	a->exit_code = 0;
	agent_shutdown(a, graceful);
}

static void on_sighup(uv_signal_t *s, int signum)
{
	struct cc_agent *a = s->data;
	char err[512];
	CC_INFO(MOD, "Caught", "signal", "hangup");
	if (!a->stopping && agent_reload(a, err, sizeof(err)))
		CC_ERROR(MOD, "Failed to reload configs", "error", err);
}

static int start_http(struct cc_agent *a)
{
	const struct cc_config *c = a->cfg;
	if (c->ports.http < 0)
		return 0;
	for (size_t i = 0; i < c->http_addrs.n && a->nhttp < CC_AGENT_MAX_HTTP; i++) {
		char err[256];
		int rc = cc_http_start(&a->http[a->nhttp], &a->loop, c->http_addrs.v[i], c->ports.http,
		                       cc_agent_routes, cc_agent_nroutes, a, err, sizeof(err));
		if (rc) {
			fprintf(stderr, "==> Error starting agent: %s\n", err);
			return -1;
		}
		host_port(a->http_names[a->nhttp], sizeof(a->http_names[0]), c->http_addrs.v[i],
		          c->ports.http);
		CC_INFO(MOD, "Started HTTP server", "address", a->http_names[a->nhttp], "network",
		        "tcp");
		a->nhttp++;
	}
	return 0;
}

int cc_agent_run(const struct cc_config *cfg, int argc, char **argv)
{
	struct cc_agent a;
	memset(&a, 0, sizeof(a));
	a.cfg = cfg;
	a.argc = argc;
	a.argv = argv;
	a.exit_code = 1;

	char err[512] = "";
	struct cc_log_options lo = { .level = cfg->log_level, .console_fd = STDOUT_FILENO,
		                     .file_path = cfg->log_file };
	if (cc_agent_node_id(cfg, a.node_id, err, sizeof(err)) ||
	    cc_log_setup(&lo, err, sizeof(err))) {
		fprintf(stderr, "==> Error starting agent: %s\n", err);
		return 1;
	}
	if (uv_loop_init(&a.loop)) {
		fprintf(stderr, "==> Error starting agent: cannot create the event loop\n");
		return 1;
	}
	print_banner(&a);
	if (agent_metrics_start(&a, err, sizeof(err))) {
		fprintf(stderr, "==> Error starting agent: %s\n", err);
		uv_loop_close(&a.loop);
		cc_log_teardown();
		return 1;
	}

	const char *dns_warning = cc_config_node_name_dns_warning(cfg->node_name);
	if (dns_warning)
		CC_WARN(MOD, dns_warning, "node_name", cfg->node_name);

	if (cfg->server) {
		int rc = cc_server_start(&a.server, &a.loop, cfg, a.node_id, err, sizeof(err));
		if (rc) {
			fprintf(stderr, "==> Error starting agent: Failed to start Consul server: %s\n",
			        err);
			agent_metrics_stop(&a);
			uv_run(&a.loop, UV_RUN_DEFAULT);
			uv_loop_close(&a.loop);
			cc_log_teardown();
			cc_metrics_global_free();
			return 1;
		}
		cc_metric_incr("raft.state.follower", 1); /* Raft starts as a follower */
	}
	if (agent_gossip_start(&a, err, sizeof(err)) || agent_forward_start(&a, err, sizeof(err)) ||
	    agent_dns_start(&a, err, sizeof(err)) || start_http(&a)) {
		agent_forward_stop(&a);
		if (a.server)
			cc_server_stop(a.server);
		a.server = NULL;
		if (err[0] && !a.nhttp)
			fprintf(stderr, "==> Error starting agent: %s\n", err);
		agent_gossip_stop(&a, true);
		shutdown_endpoints(&a);
		agent_monitor_stop(&a);
		agent_metrics_stop(&a);
		uv_run(&a.loop, UV_RUN_DEFAULT);
		uv_loop_close(&a.loop);
		cc_log_teardown();
		cc_metrics_global_free();
		return 1;
	}
	uv_signal_init(&a.loop, &a.sigint);
	uv_signal_init(&a.loop, &a.sigterm);
	uv_signal_init(&a.loop, &a.sighup);
	a.sigint.data = a.sigterm.data = a.sighup.data = &a;
	uv_signal_start(&a.sigint, on_signal, SIGINT);
	uv_signal_start(&a.sigterm, on_signal, SIGTERM);
	uv_signal_start(&a.sighup, on_sighup, SIGHUP);
	signal(SIGPIPE, SIG_IGN);

	if (a.server)
		cc_server_set_lan(a.server, a.lan);
	agent_kv_watch_start(&a);
	if (agent_local_start(&a, err, sizeof(err))) {
		CC_ERROR(MOD, "Error starting agent", "error", err);
		a.exit_code = 1;
		agent_shutdown(&a, false);
	}
	printf("==> Conclave agent running!\n");
	fflush(stdout);
	agent_gossip_join(&a);

	uv_run(&a.loop, UV_RUN_DEFAULT);
	uv_loop_close(&a.loop);
	char code[8];
	snprintf(code, sizeof(code), "%d", a.exit_code);
	CC_INFO(MOD, "Exit code", "code", code);
	cc_log_teardown();
	cc_metrics_global_free();
	return a.exit_code;
}
