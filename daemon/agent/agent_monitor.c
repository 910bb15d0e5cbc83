/* GET /v1/agent/monitor?loglevel=LEVEL[&logjson]: the agent's log lines, as
 * they are written from the moment of the request, streamed until the client
 * goes away (Consul's AgentMonitor, logging/monitor).
 *
 * Each stream is a log sink at its own level (it may be more verbose than the
 * agent's log_level, as Consul's is). A line is formatted and handed to the
 * HTTP stream, which buffers at most MONITOR_BUFFER bytes per client: a client
 * that reads too slowly loses lines, never the agent's time, and is told so
 * with Consul's note "Monitor dropped N logs during monitor request" once
 * there is room again. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent_internal.h"
#include "log/log.h"

#define MONITOR_BUFFER (256u * 1024u)
#define MONITOR_FLUSH_MS 1000
#define LINE_BYTES 8192

struct monitor {
	struct monitor *next;
	struct cc_agent *a;
	struct cc_http_stream *s;
	int sink;
	bool json;
	uint64_t dropped;
};

/* Writes the drop note if lines were lost; false when there is still no room.
 * Once lines were lost, nothing more is written until the client has read
 * half of its buffer, so that the note does not come between every line. */
static bool flush_dropped(struct monitor *m)
{
	if (!m->dropped)
		return true;
	if (cc_http_stream_buffered(m->s) > MONITOR_BUFFER / 2)
		return false;
	char note[96];
	int n = snprintf(note, sizeof(note), "Monitor dropped %" PRIu64 " logs during monitor request\n",
	                 m->dropped);
	if (cc_http_stream_write(m->s, note, (size_t)n) != 0)
		return false;
	m->dropped = 0;
	return true;
}

static void on_line(void *ud, const struct timespec *ts, long utc_offset, enum cc_log_level lvl,
                    const char *module, const char *msg, const char *const *kv, size_t nkv)
{
	struct monitor *m = ud;
	char line[LINE_BYTES];
	size_t n = m->json ? cc_log_format_json(line, sizeof(line), ts, utc_offset, lvl, module, msg,
	                                        kv, nkv)
	                   : cc_log_format(line, sizeof(line), ts, utc_offset, lvl, module, msg, kv,
	                                   nkv);
	if (n >= sizeof(line))
		n = sizeof(line) - 1; /* a cut line still ends in '\n' */
	if (!flush_dropped(m) || cc_http_stream_write(m->s, line, n) == -ENOBUFS)
		m->dropped++;
}

static void on_flush_dropped(uv_timer_t *t)
{
	struct cc_agent *a = t->data;
	for (struct monitor *m = a->monitors; m; m = m->next)
		flush_dropped(m);
}

static void on_closed(void *ud)
{
	struct monitor *m = ud;
	struct cc_agent *a = m->a;
	cc_log_sink_remove(m->sink);
	for (struct monitor **pp = &a->monitors; *pp; pp = &(*pp)->next) {
		if (*pp == m) {
			*pp = m->next;
			break;
		}
	}
	if (!a->monitors && a->have_monitor_timer)
		uv_timer_stop(&a->monitor_timer);
	free(m);
}

void agent_h_monitor(void *ud, const struct cc_http_req *req, struct cc_http_resp *resp)
{
	struct cc_agent *a = ud;
	const char *level = cc_http_query(req, "loglevel");
	if (!level || !level[0])
		level = "INFO";
	enum cc_log_level lvl;
	if (cc_log_level_parse(level, &lvl)) {
		cc_http_error(resp, 400, "Unknown log level: %s", level);
		return;
	}
	struct monitor *m = calloc(1, sizeof(*m));
	if (!m) {
		cc_http_error(resp, 500, "out of memory");
		return;
	}
	m->a = a;
	m->json = cc_http_query(req, "logjson") != NULL;
	m->sink = cc_log_sink_add(lvl, on_line, m);
	if (m->sink < 0) {
		free(m);
		cc_http_error(resp, 500, "too many monitors (at most %d)", CC_LOG_MAX_SINKS);
		return;
	}
	m->s = cc_http_stream_start(req, "text/plain; charset=utf-8", MONITOR_BUFFER, on_closed, m);
	if (!m->s) {
		cc_log_sink_remove(m->sink);
		free(m);
		cc_http_error(resp, 500, "out of memory");
		return;
	}
	m->next = a->monitors;
	a->monitors = m;
	if (!a->have_monitor_timer) {
		uv_timer_init(&a->loop, &a->monitor_timer);
		a->monitor_timer.data = a;
		a->have_monitor_timer = true;
	}
	if (!uv_is_active((uv_handle_t *)&a->monitor_timer))
		uv_timer_start(&a->monitor_timer, on_flush_dropped, MONITOR_FLUSH_MS, MONITOR_FLUSH_MS);
}

void agent_monitor_stop(struct cc_agent *a)
{
	/* the HTTP servers are stopped first, which closes every stream; anything
	 * left (a server that never started) is ended here */
	while (a->monitors) {
		struct monitor *m = a->monitors;
		a->monitors = m->next;
		cc_log_sink_remove(m->sink);
		m->next = NULL;
		free(m);
	}
	if (a->have_monitor_timer) {
		a->have_monitor_timer = false;
		uv_timer_stop(&a->monitor_timer);
		uv_close((uv_handle_t *)&a->monitor_timer, NULL);
	}
}
