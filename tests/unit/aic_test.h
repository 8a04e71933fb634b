/*
 * Shared setup for aic's cmocka unit tests: TAP output for automake's TAP
 * driver, and one place to run a group.
 */
#ifndef AIC_TEST_H
#define AIC_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/* Exit status that makes automake count the whole binary as skipped. */
#define AIC_TEST_SKIP 77

#define aic_test_run(tests)                                                                        \
	(cmocka_set_message_output(CM_OUTPUT_TAP), cmocka_run_group_tests(tests, NULL, NULL))

#endif
