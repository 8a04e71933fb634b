/*
 * A growing, NUL-terminated string buffer for building messages and text
 * output. Allocation failures are sticky: after one, every call is a no-op
 * returning -ENOMEM and `oom` stays set, so a caller may build a whole text
 * and check once.
 */
#ifndef AIC_STRBUF_H
#define AIC_STRBUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

struct aic_strbuf {
	char *buf; /* NULL until something is appended */
	size_t len;
	size_t cap;
	bool oom;
};

void aic_strbuf_init(struct aic_strbuf *sb);
/* Frees the text; the buffer may be used again. */
void aic_strbuf_release(struct aic_strbuf *sb);
/* Returns 0 or -ENOMEM. */
int aic_strbuf_append(struct aic_strbuf *sb, const char *s, size_t n);
int aic_strbuf_printf(struct aic_strbuf *sb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int aic_strbuf_vprintf(struct aic_strbuf *sb, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
/*
 * Hands the text to the caller, who frees it, and empties the buffer.
 * Returns NULL when nothing was appended or an allocation failed.
 */
char *aic_strbuf_detach(struct aic_strbuf *sb);

/* Frees a NULL-terminated array of strings and the strings (NULL: no-op). */
void aic_strv_free(char **v);

#endif
