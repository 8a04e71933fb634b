/*
 * lib/strbuf.c: text built piece by piece stays NUL-terminated as it grows,
 * is handed over once, and an allocation failure is sticky so that callers
 * check once at the end; aic_strv_free frees what it is given.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aic_test.h"
#include "strbuf.h"

static void append_and_printf(void **state)
{
	struct aic_strbuf sb;
	char *s;

	(void)state;
	aic_strbuf_init(&sb);
	assert_null(sb.buf);
	assert_int_equal(aic_strbuf_append(&sb, "abcdef", 3), 0);
	assert_int_equal(aic_strbuf_printf(&sb, "%s=%d", "x", 42), 0);
	assert_int_equal(sb.len, 7);
	assert_string_equal(sb.buf, "abcx=42");
	s = aic_strbuf_detach(&sb);
	assert_string_equal(s, "abcx=42");
	free(s);
	/* Detaching empties the buffer. */
	assert_null(sb.buf);
	assert_int_equal(sb.len, 0);
	assert_null(aic_strbuf_detach(&sb));
}

/* Growing past the first allocation, many times, keeps every byte. */
static void grows(void **state)
{
	struct aic_strbuf sb;
	char want[5001];
	int i;

	(void)state;
	aic_strbuf_init(&sb);
	for (i = 0; i < 5000; i++) {
		want[i] = (char)('a' + i % 26);
		if (i % 2)
			assert_int_equal(aic_strbuf_append(&sb, &want[i], 1), 0);
		else
			assert_int_equal(aic_strbuf_printf(&sb, "%c", want[i]), 0);
		assert_int_equal(sb.len, (size_t)i + 1);
		assert_int_equal(sb.buf[sb.len], '\0');
		assert_true(sb.cap > sb.len);
	}
	want[5000] = '\0';
	assert_string_equal(sb.buf, want);
	aic_strbuf_release(&sb);
	assert_null(sb.buf);
	assert_int_equal(sb.len, 0);
	/* Released, the buffer can be used again. */
	assert_int_equal(aic_strbuf_printf(&sb, "%05d", 42), 0);
	assert_string_equal(sb.buf, "00042");
	aic_strbuf_release(&sb);
}

static void append_nothing_keeps_text(void **state)
{
	struct aic_strbuf sb;

	(void)state;
	aic_strbuf_init(&sb);
	assert_int_equal(aic_strbuf_append(&sb, "ab", 2), 0);
	assert_int_equal(aic_strbuf_append(&sb, "", 0), 0);
	assert_int_equal(aic_strbuf_printf(&sb, "%s", ""), 0);
	assert_string_equal(sb.buf, "ab");
	assert_int_equal(sb.len, 2);
	aic_strbuf_release(&sb);
}

static int vprintf_helper(struct aic_strbuf *sb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int vprintf_helper(struct aic_strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = aic_strbuf_vprintf(sb, fmt, ap);
	va_end(ap);
	return rc;
}

static void vprintf_appends(void **state)
{
	struct aic_strbuf sb;

	(void)state;
	aic_strbuf_init(&sb);
	assert_int_equal(vprintf_helper(&sb, "%d-%s", 7, "up"), 0);
	assert_int_equal(vprintf_helper(&sb, "/%x", 255), 0);
	assert_string_equal(sb.buf, "7-up/ff");
	aic_strbuf_release(&sb);
}

/*
 * A size no allocation can satisfy fails with -ENOMEM, and every later call
 * fails too, so the text is never handed over half built.
 */
static void out_of_memory_is_sticky(void **state)
{
	struct aic_strbuf sb;

	(void)state;
	aic_strbuf_init(&sb);
	assert_int_equal(aic_strbuf_append(&sb, "half ", 5), 0);
	assert_int_equal(aic_strbuf_append(&sb, "x", SIZE_MAX / 2), -ENOMEM);
	assert_true(sb.oom);
	assert_int_equal(aic_strbuf_append(&sb, "ok", 2), -ENOMEM);
	assert_int_equal(aic_strbuf_printf(&sb, "%s", "ok"), -ENOMEM);
	assert_null(aic_strbuf_detach(&sb));
	/* Detaching resets it: the buffer works again. */
	assert_false(sb.oom);
	assert_int_equal(aic_strbuf_append(&sb, "ok", 2), 0);
	assert_string_equal(sb.buf, "ok");
	aic_strbuf_release(&sb);
}

/*
 * An append whose length would wrap len + n + 1 round to a small number is
 * refused: without the guard it would skip the growth and copy past the end.
 */
static void wrapping_length_refused(void **state)
{
	struct aic_strbuf sb;

	(void)state;
	aic_strbuf_init(&sb);
	assert_int_equal(aic_strbuf_append(&sb, "half ", 5), 0);
	assert_int_equal(aic_strbuf_append(&sb, "x", SIZE_MAX - 2), -ENOMEM);
	assert_true(sb.oom);
	aic_strbuf_release(&sb);
}

static void strv_free(void **state)
{
	char **v = calloc(4, sizeof(*v));

	(void)state;
	assert_non_null(v);
	v[0] = strdup("a");
	v[1] = strdup("bc");
	v[2] = strdup("");
	aic_strv_free(v); /* the leak check of the sanitizer build sees the rest */
	aic_strv_free(NULL);
	v = calloc(1, sizeof(*v));
	aic_strv_free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(append_and_printf),
		cmocka_unit_test(grows),
		cmocka_unit_test(append_nothing_keeps_text),
		cmocka_unit_test(vprintf_appends),
		cmocka_unit_test(out_of_memory_is_sticky),
		cmocka_unit_test(wrapping_length_refused),
		cmocka_unit_test(strv_free),
	};
	return aic_test_run(tests);
}
