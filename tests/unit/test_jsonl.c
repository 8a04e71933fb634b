/*
 * lib/jsonl.c: a JSONL file opened to append to is first cut back to its
 * last whole line. A missing file is created; an empty one or one that
 * ends in a newline is left as it is; one that ends in part of a line
 * loses that part (and says how many bytes, and their start, quoted
 * printably), also when the part is the whole file; what is then appended
 * follows the last whole line; a file with no newline in its last 64 MiB
 * is refused (EINVAL) and left whole.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aic_test.h"
#include "jsonl.h"

static char dir[] = "/tmp/aic-test-jsonl.XXXXXX";
static char path[sizeof(dir) + 16];

static void put(const char *text, size_t n)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

/* The file's bytes (NUL-terminated; at most 4 KiB). */
static const char *content(void)
{
	static char buf[4096];
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	fclose(f);
	return buf;
}

/* Opens path with aic_jsonl_append, appends line, closes; the bytes cut and their start. */
static off_t append(const char *line, char *part, size_t part_size)
{
	off_t cut = -1;
	FILE *f = aic_jsonl_append(path, &cut, part, part_size);

	assert_non_null(f);
	assert_true(cut >= 0);
	fputs(line, f);
	assert_int_equal(fclose(f), 0);
	return cut;
}

static void whole_files_kept(void **state)
{
	char part[48];

	(void)state;
	unlink(path);
	assert_int_equal(append("{\"a\": 1}\n", part, sizeof(part)), 0); /* created */
	assert_string_equal(content(), "{\"a\": 1}\n");
	assert_int_equal(append("{\"b\": 2}\n", part, sizeof(part)), 0);
	assert_string_equal(content(), "{\"a\": 1}\n{\"b\": 2}\n");
	assert_string_equal(part, "");
	put("", 0);
	assert_int_equal(append("{\"c\": 3}\n", NULL, 0), 0);
	assert_string_equal(content(), "{\"c\": 3}\n");
}

static void torn_line_cut(void **state)
{
	char part[12];

	(void)state;
	put("{\"a\": 1}\n{\"_aic_origin\": {\"sou", 31);
	assert_int_equal(append("{\"b\": 2}\n", part, sizeof(part)), 22);
	assert_string_equal(content(), "{\"a\": 1}\n{\"b\": 2}\n");
	/* Printable, quotes and backslashes as '?', "..." after a longer part. */
	assert_string_equal(part, "{?_aic_o...");
	/* The part is the whole file: nothing is left of it. */
	put("{\"a\": \x01\\", 8);
	assert_int_equal(append("{\"b\": 2}\n", part, sizeof(part)), 8);
	assert_string_equal(content(), "{\"b\": 2}\n");
	assert_string_equal(part, "{?a?: ??");
}

static void no_line_end_refused(void **state)
{
	size_t n = (size_t)AIC_JSONL_LINE_MAX + 1;
	char *big = malloc(n);
	off_t cut = -1;
	struct stat st;

	(void)state;
	assert_non_null(big);
	memset(big, 'x', n);
	put(big, n);
	errno = 0;
	assert_null(aic_jsonl_append(path, &cut, NULL, 0));
	assert_int_equal(errno, EINVAL);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, (off_t)n);
	/* A newline just within the last AIC_JSONL_LINE_MAX bytes: the rest after it goes. */
	big[1] = '\n';
	put(big, n);
	assert_int_equal(append("", NULL, 0), (off_t)n - 2);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 2);
	free(big);
}

static int setup(void **state)
{
	(void)state;
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/out.jsonl", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	return rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(whole_files_kept),
		cmocka_unit_test(torn_line_cut),
		cmocka_unit_test(no_line_end_refused),
	};
	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, setup, teardown);
}
