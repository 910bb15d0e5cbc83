#include "ui/ui.h"

#include <string.h>

const struct cc_ui_asset *cc_ui_find(const char *name)
{
	if (!name[0])
		name = "index.html";
	for (size_t i = 0; i < cc_ui_nassets; i++)
		if (strcmp(cc_ui_assets[i].name, name) == 0)
			return &cc_ui_assets[i];
	return NULL;
}

const char *cc_ui_content_type(const char *name)
{
	static const struct {
		const char *ext, *type;
	} types[] = {
		{ ".html", "text/html; charset=utf-8" },
		{ ".js", "text/javascript; charset=utf-8" },
		{ ".css", "text/css; charset=utf-8" },
		{ ".svg", "image/svg+xml" },
		{ ".png", "image/png" },
		{ ".ico", "image/x-icon" },
		{ ".json", "application/json" },
	};
	const char *dot = strrchr(name, '.');
	if (dot && !strchr(dot, '/'))
		for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
			if (strcmp(dot, types[i].ext) == 0)
				return types[i].type;
	return "application/octet-stream";
}
