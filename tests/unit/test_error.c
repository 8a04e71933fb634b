#include "config.h"

#include <errno.h>
#include <string.h>

#include "aic_test.h"
#include "error.h"

static void strerror_success(void **state)
{
	(void)state;
	assert_string_equal(aic_strerror(0), "success");
}

static void strerror_errno(void **state)
{
	(void)state;
	assert_string_equal(aic_strerror(-ENOENT), "No such file or directory");
	assert_string_equal(aic_strerror(-EINVAL), "Invalid argument");
}

/* Every AIC_E* code has its own text, distinct from the others. */
static void strerror_aic_codes_distinct(void **state)
{
	int a, b;

	(void)state;
	for (a = -1000; a >= AIC_ERROR_MIN; a--) {
		const char *sa = aic_strerror(a);
		assert_non_null(sa);
		assert_string_not_equal(sa, "unknown error");
		for (b = a - 1; b >= AIC_ERROR_MIN; b--)
			assert_string_not_equal(sa, aic_strerror(b));
	}
}

static void strerror_unknown(void **state)
{
	(void)state;
	assert_string_equal(aic_strerror(AIC_ERROR_MIN - 1), "unknown error");
	assert_string_equal(aic_strerror(-999999), "unknown error");
	assert_string_equal(aic_strerror(1), "unknown error");
	assert_string_equal(aic_strerror(-4000), "unknown error");
}

/* Bindings list the codes by name (aic.h): each AIC_E* code has its own, nothing else has one. */
static void error_name(void **state)
{
	int a;

	(void)state;
	assert_string_equal(aic_error_name(AIC_ESPEC), "AIC_ESPEC");
	assert_string_equal(aic_error_name(AIC_ECLOSED), "AIC_ECLOSED");
	assert_string_equal(aic_error_name(AIC_ERROR_MIN), "AIC_ENCCL");
	for (a = -1000; a >= AIC_ERROR_MIN; a--)
		assert_true(!strncmp(aic_error_name(a), "AIC_E", 5));
	assert_null(aic_error_name(0));
	assert_null(aic_error_name(-ENOENT));
	assert_null(aic_error_name(AIC_ERROR_MIN - 1));
	assert_null(aic_error_name(1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(strerror_success),
		cmocka_unit_test(strerror_errno),
		cmocka_unit_test(strerror_aic_codes_distinct),
		cmocka_unit_test(strerror_unknown),
		cmocka_unit_test(error_name),
	};
	return aic_test_run(tests);
}
