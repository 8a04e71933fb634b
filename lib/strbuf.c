#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"

void aic_strbuf_init(struct aic_strbuf *sb)
{
	memset(sb, 0, sizeof(*sb));
}

void aic_strbuf_release(struct aic_strbuf *sb)
{
	free(sb->buf);
	aic_strbuf_init(sb);
}

static int grow(struct aic_strbuf *sb, size_t extra)
{
	size_t cap;
	char *b;

	if (sb->oom)
		return -ENOMEM;
	/* len + extra + 1 must not wrap round, or a huge append would skip the growth. */
	if (extra > (size_t)-1 - sb->len - 1)
		goto out_oom;
	if (sb->len + extra + 1 <= sb->cap)
		return 0;
	cap = sb->cap ? sb->cap : 64;
	while (cap < sb->len + extra + 1) {
		if (cap > ((size_t)-1) / 2)
			goto out_oom;
		cap *= 2;
	}
	b = realloc(sb->buf, cap);
	if (!b)
		goto out_oom;
	sb->buf = b;
	sb->cap = cap;
	return 0;
out_oom:
	sb->oom = true;
	return -ENOMEM;
}

int aic_strbuf_append(struct aic_strbuf *sb, const char *s, size_t n)
{
	if (grow(sb, n) < 0)
		return -ENOMEM;
	memcpy(sb->buf + sb->len, s, n);
	sb->len += n;
	sb->buf[sb->len] = '\0';
	return 0;
}

int aic_strbuf_vprintf(struct aic_strbuf *sb, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return -EINVAL;
	if (grow(sb, (size_t)n) < 0)
		return -ENOMEM;
	vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
	sb->len += (size_t)n;
	return 0;
}

int aic_strbuf_printf(struct aic_strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = aic_strbuf_vprintf(sb, fmt, ap);
	va_end(ap);
	return rc;
}

void aic_strv_free(char **v)
{
	char **p;

	for (p = v; p && *p; p++)
		free(*p);
	free(v);
}

char *aic_strbuf_detach(struct aic_strbuf *sb)
{
	char *s = sb->oom ? NULL : sb->buf;

	if (sb->oom)
		free(sb->buf);
	aic_strbuf_init(sb);
	return s;
}
