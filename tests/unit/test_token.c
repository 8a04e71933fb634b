/*
 * lib/token.c: the job token every connection must present. New tokens are
 * 64 hex digits and differ; only an exact, whole token compares equal; the
 * token file is private (0600), never overwritten, and a short one is
 * refused as a wrong token.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aic_test.h"
#include "error.h"
#include "token.h"

static void new_is_hex_and_fresh(void **state)
{
	char a[AIC_TOKEN_LEN + 1], b[AIC_TOKEN_LEN + 1];

	(void)state;
	memset(a, 'z', sizeof(a));
	assert_int_equal(aic_token_new(a), 0);
	assert_int_equal(strlen(a), AIC_TOKEN_LEN);
	assert_int_equal(strspn(a, "0123456789abcdef"), AIC_TOKEN_LEN);
	assert_int_equal(aic_token_new(b), 0);
	assert_string_not_equal(a, b);
}

static void equal_only_whole(void **state)
{
	char a[AIC_TOKEN_LEN + 1], b[AIC_TOKEN_LEN + 2];

	(void)state;
	assert_int_equal(aic_token_new(a), 0);
	memcpy(b, a, sizeof(a));
	assert_true(aic_token_equal(a, b));
	b[AIC_TOKEN_LEN - 1] ^= 1; /* the last digit */
	assert_false(aic_token_equal(a, b));
	memcpy(b, a, sizeof(a));
	b[0] ^= 1;
	assert_false(aic_token_equal(a, b));
	memcpy(b, a, sizeof(a));
	b[AIC_TOKEN_LEN - 1] = '\0'; /* a prefix */
	assert_false(aic_token_equal(a, b));
	assert_false(aic_token_equal(b, a));
	memcpy(b, a, sizeof(a));
	b[AIC_TOKEN_LEN] = '0'; /* one digit more */
	b[AIC_TOKEN_LEN + 1] = '\0';
	assert_false(aic_token_equal(a, b));
	assert_false(aic_token_equal("", ""));
	assert_false(aic_token_equal("bad", "bad"));
}

static void file_round_trip(void **state)
{
	char dir[] = "/tmp/aic-test-token.XXXXXX", path[64], tok[AIC_TOKEN_LEN + 1];
	char got[AIC_TOKEN_LEN + 1], other[AIC_TOKEN_LEN + 1];
	struct stat st;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/token", dir);
	assert_int_equal(aic_token_new(tok), 0);
	assert_int_equal(aic_token_write(path, tok), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, AIC_TOKEN_LEN);
	assert_int_equal(aic_token_read(path, got), 0);
	assert_string_equal(got, tok);
	/* An existing token file is never replaced. */
	assert_int_equal(aic_token_new(other), 0);
	assert_int_equal(aic_token_write(path, other), -EEXIST);
	assert_int_equal(aic_token_read(path, got), 0);
	assert_string_equal(got, tok);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(aic_token_read(path, got), -ENOENT);
	/* A short file is a wrong token, not an I/O error. */
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("0123456789", f);
	fclose(f);
	assert_int_equal(aic_token_read(path, got), AIC_EAUTH);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(new_is_hex_and_fresh),
		cmocka_unit_test(equal_only_whole),
		cmocka_unit_test(file_round_trip),
	};
	return aic_test_run(tests);
}
