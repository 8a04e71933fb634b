/*
 * lib/cpuset.c: CPU lists as SLURM and the kernel write them ("0-3,8"),
 * parsed and formatted back, the set operations the placement uses, across
 * the 64-bit words, and the calling thread's affinity.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "aic_test.h"
#include "cpuset.h"

static void parse_format_round_trip(void **state)
{
	static const char *const lists[] = {"", "0", "5", "0-3,8,10-11", "1,3,5,7", "62-65",
					    "0-1023", "1023"};
	struct aic_cpuset s;
	char buf[4096];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		assert_int_equal(aic_cpuset_parse(&s, lists[i]), 0);
		assert_string_equal(aic_cpuset_format(&s, buf, sizeof(buf)), lists[i]);
	}
	/* Written the long way, read as the set it is. */
	assert_int_equal(aic_cpuset_parse(&s, "3,0,1,2,2-2,8"), 0);
	assert_string_equal(aic_cpuset_format(&s, buf, sizeof(buf)), "0-3,8");
	assert_int_equal(aic_cpuset_count(&s), 5);
}

static void parse_refuses(void **state)
{
	static const char *const bad[] = {"x", "3-1", "1024", "0-1024", "1,", ",1", "1-", "-1",
					  "1 2", "1,,2", "0x3", "1-2-3"};
	struct aic_cpuset s;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		print_message("parsing '%s'\n", bad[i]);
		assert_int_equal(aic_cpuset_parse(&s, bad[i]), -EINVAL);
	}
}

static void bounds(void **state)
{
	struct aic_cpuset s;

	(void)state;
	aic_cpuset_zero(&s);
	assert_true(aic_cpuset_empty(&s));
	assert_false(aic_cpuset_set(&s, -1));
	assert_false(aic_cpuset_set(&s, AIC_CPUSET_MAX));
	assert_true(aic_cpuset_empty(&s));
	assert_false(aic_cpuset_isset(&s, -1));
	assert_false(aic_cpuset_isset(&s, AIC_CPUSET_MAX));
	assert_true(aic_cpuset_set(&s, AIC_CPUSET_MAX - 1));
	assert_true(aic_cpuset_isset(&s, AIC_CPUSET_MAX - 1));
	assert_false(aic_cpuset_isset(&s, AIC_CPUSET_MAX - 2));
	assert_int_equal(aic_cpuset_first(&s), AIC_CPUSET_MAX - 1);
	assert_int_equal(aic_cpuset_next(&s, AIC_CPUSET_MAX - 1), -1);
}

/* Walking a set crosses the words of its bitmap without skipping or repeating. */
static void walk_across_words(void **state)
{
	static const int cpus[] = {0, 63, 64, 127, 128, 500, 1023};
	struct aic_cpuset s;
	size_t i;
	int c;

	(void)state;
	aic_cpuset_zero(&s);
	assert_int_equal(aic_cpuset_first(&s), -1);
	for (i = 0; i < sizeof(cpus) / sizeof(cpus[0]); i++)
		assert_true(aic_cpuset_set(&s, cpus[i]));
	assert_int_equal(aic_cpuset_count(&s), 7);
	assert_false(aic_cpuset_empty(&s));
	for (i = 0, c = aic_cpuset_first(&s); c >= 0; c = aic_cpuset_next(&s, c), i++) {
		assert_true(i < sizeof(cpus) / sizeof(cpus[0]));
		assert_int_equal(c, cpus[i]);
	}
	assert_int_equal(i, 7);
	assert_int_equal(aic_cpuset_next(&s, 1), 63);
	assert_int_equal(aic_cpuset_next(&s, -5), 0);
}

static void set_operations(void **state)
{
	struct aic_cpuset a, b, d;
	char buf[256];

	(void)state;
	assert_int_equal(aic_cpuset_parse(&a, "0-7,64-71"), 0);
	assert_int_equal(aic_cpuset_parse(&b, "4-11,70"), 0);
	aic_cpuset_and(&d, &a, &b);
	assert_string_equal(aic_cpuset_format(&d, buf, sizeof(buf)), "4-7,70");
	aic_cpuset_or(&d, &a, &b);
	assert_string_equal(aic_cpuset_format(&d, buf, sizeof(buf)), "0-11,64-71");
	aic_cpuset_andnot(&d, &a, &b);
	assert_string_equal(aic_cpuset_format(&d, buf, sizeof(buf)), "0-3,64-69,71");
	/* The destination may be an operand. */
	aic_cpuset_andnot(&a, &a, &b);
	assert_true(aic_cpuset_equal(&a, &d));
	aic_cpuset_or(&b, &a, &b);
	assert_string_equal(aic_cpuset_format(&b, buf, sizeof(buf)), "0-11,64-71");
	assert_false(aic_cpuset_equal(&a, &b));
}

/* A buffer too short ends the text at a whole entry, terminated. */
static void format_truncates(void **state)
{
	struct aic_cpuset s;
	char buf[8];

	(void)state;
	assert_int_equal(aic_cpuset_parse(&s, "0,2,4-6,100"), 0);
	memset(buf, 'z', sizeof(buf));
	assert_string_equal(aic_cpuset_format(&s, buf, 4), "0,2");
	assert_int_equal(buf[4], 'z');
	/* Room for "0,2,4" but not "0,2,4-6": no half entry that reads as another set. */
	assert_string_equal(aic_cpuset_format(&s, buf, 6), "0,2");
	assert_string_equal(aic_cpuset_format(&s, buf, 1), "");
	memset(buf, 'z', sizeof(buf));
	assert_ptr_equal(aic_cpuset_format(&s, buf, 0), buf);
	assert_int_equal(buf[0], 'z');
	assert_string_equal(aic_cpuset_format(&s, buf, sizeof(buf)), "0,2,4-6");
}

static void affinity(void **state)
{
	struct aic_cpuset mine, one, now;

	(void)state;
	assert_int_equal(aic_cpuset_get_affinity(&mine), 0);
	assert_false(aic_cpuset_empty(&mine));
	aic_cpuset_zero(&one);
	aic_cpuset_set(&one, aic_cpuset_first(&mine));
	assert_int_equal(aic_cpuset_set_affinity(&one), 0);
	assert_int_equal(aic_cpuset_get_affinity(&now), 0);
	assert_true(aic_cpuset_equal(&now, &one));
	assert_int_equal(aic_cpuset_set_affinity(&mine), 0);
	assert_int_equal(aic_cpuset_get_affinity(&now), 0);
	assert_true(aic_cpuset_equal(&now, &mine));
	/* No CPU at all is refused by the kernel, and said so. */
	aic_cpuset_zero(&one);
	assert_int_equal(aic_cpuset_set_affinity(&one), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse_format_round_trip),
		cmocka_unit_test(parse_refuses),
		cmocka_unit_test(bounds),
		cmocka_unit_test(walk_across_words),
		cmocka_unit_test(set_operations),
		cmocka_unit_test(format_truncates),
		cmocka_unit_test(affinity),
	};
	return aic_test_run(tests);
}
