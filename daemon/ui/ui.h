/*
 * ui — the web UI's static assets (index.html, app.js, style.css), embedded in
 * the binary at build time by embed.cmake from the files in this folder.
 * Pure data and lookups: serving them is the agent's job (agent_ui.c).
 */
#ifndef CC_UI_H
#define CC_UI_H

#include <stddef.h>

struct cc_ui_asset {
	const char *name;           /* file name, e.g. "app.js" */
	const unsigned char *data;  /* the file's bytes (static, not NUL-terminated) */
	size_t len;
};

/* Every embedded asset, in the order embed.cmake was given them. */
extern const struct cc_ui_asset cc_ui_assets[];
extern const size_t cc_ui_nassets;

/* The asset for a path under /ui/ ("" and "index.html" give the page), or
 * NULL for anything else: unknown names, sub-folders, "..". */
const struct cc_ui_asset *cc_ui_find(const char *name);

/* The Content-Type to serve a name with, from its extension (".html",
 * ".js", ".css", ".svg", ".png", ".ico", ".json"; otherwise
 * "application/octet-stream"). */
const char *cc_ui_content_type(const char *name);

#endif
