/* The web UI: GET / redirects to /ui/, and /ui/ serves the assets embedded
 * in the binary (daemon/ui/), when the config has "ui": true.
 *
 * As Consul's agent: with the UI on, / and /ui answer 301 with
 * Location: /ui/; with it off, / answers 200 with a one-line text saying
 * what this server is, and everything under /ui answers 404.
 */
#include <stdlib.h>
#include <string.h>

#include "agent/agent_internal.h"
#include "ui/ui.h"

/* The assets only ever fetch from the agent that served them. */
#define UI_CSP "default-src 'self'; img-src 'self' data:"

/* A static body, copied (the server frees what it sends). */
static void set_body(struct cc_http_resp *resp, const char *type, const void *data, size_t len)
{
	resp->body = malloc(len ? len : 1);
	if (!resp->body) {
		cc_http_error(resp, 500, "out of memory");
		return;
	}
	memcpy(resp->body, data, len);
	resp->body_len = len;
	resp->content_type = type;
}

static void redirect_to_ui(struct cc_http_resp *resp)
{
	static const char body[] = "<a href=\"/ui/\">Moved Permanently</a>.\n";
	resp->status = 301;
	set_body(resp, "text/html; charset=utf-8", body, sizeof(body) - 1);
	cc_http_header(resp, "Location", "/ui/");
}

/* GET /: what Consul's agent answers, so a probe of / sees the same. */
void agent_h_ui_root(void *ud, const struct cc_http_req *req, struct cc_http_resp *resp)
{
	const struct cc_agent *a = ud;
	(void)req;
	if (a->cfg->ui)
		redirect_to_ui(resp);
	else
		set_body(resp, "text/plain; charset=utf-8", "Consul Agent", strlen("Consul Agent"));
}

/* GET /ui and /ui/<asset> (the route is the prefix "/ui"). */
void agent_h_ui(void *ud, const struct cc_http_req *req, struct cc_http_resp *resp)
{
	const struct cc_agent *a = ud;
	if (!a->cfg->ui) {
		resp->status = 404;
		return;
	}
	const char *suffix = req->suffix;
	if (!suffix[0]) { /* /ui: the page lives at /ui/ */
		redirect_to_ui(resp);
		return;
	}
	if (suffix[0] != '/') { /* /uiX: not ours */
		resp->status = 404;
		return;
	}
	const struct cc_ui_asset *as = cc_ui_find(suffix + 1);
	if (!as) {
		cc_http_error(resp, 404, "no UI asset at %s", req->path);
		return;
	}
	set_body(resp, cc_ui_content_type(as->name), as->data, as->len);
	if (resp->status != 200)
		return;
	cc_http_header(resp, "Content-Security-Policy", UI_CSP);
	cc_http_header(resp, "X-Content-Type-Options", "nosniff");
	cc_http_header(resp, "Cache-Control", "no-cache");
}
