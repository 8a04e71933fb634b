#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static char prefix[128] = "aic";

void aic_log_set_name(const char *prog, const char *node)
{
	if (node && *node)
		snprintf(prefix, sizeof(prefix), "%s[%s]", prog, node);
	else
		snprintf(prefix, sizeof(prefix), "%s", prog);
}

static void vlog(const char *level, const char *fmt, va_list ap)
{
	char line[4096];
	int n = snprintf(line, sizeof(line), "%s: %s", prefix, level);

	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	fprintf(stderr, "%s\n", line);
}

#define DEFINE_LOG(name, level)                                                                    \
	void aic_log_##name(const char *fmt, ...)                                                  \
	{                                                                                          \
		va_list ap;                                                                        \
		va_start(ap, fmt);                                                                 \
		vlog(level, fmt, ap);                                                              \
		va_end(ap);                                                                        \
	}

DEFINE_LOG(info, "")
DEFINE_LOG(warn, "warning: ")
DEFINE_LOG(error, "error: ")

void aic_log_debug(const char *fmt, ...)
{
	const char *lvl = getenv("AIC_LOG");
	va_list ap;

	if (!lvl || strcmp(lvl, "debug"))
		return;
	va_start(ap, fmt);
	vlog("debug: ", fmt, ap);
	va_end(ap);
}
