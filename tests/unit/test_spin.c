/*
 * lib/spin.c: AIC_SPIN_US's parsing, and aic_spin_worth() saying no while
 * another thread wants the only core this process may run on (so that a
 * spinner never takes the core from the thread it waits for), also once
 * it has watched that core long enough to let a thread that has its core
 * to itself spin.
 */
#define _GNU_SOURCE
#include "config.h"

#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "aic_test.h"
#include "spin.h"

static void spin_us_values(void **state)
{
	const char *bad;

	(void)state;
	unsetenv("AIC_SPIN_US");
	assert_int_equal(aic_spin_ns(&bad), AIC_SPIN_US_DEFAULT * 1000);
	assert_null(bad);
	/* Control round trips spin unless asked not to (tests/python/spin.sh: only they). */
	assert_true(aic_spin_ns(NULL) > 0);
	setenv("AIC_SPIN_US", "0", 1);
	assert_int_equal(aic_spin_ns(&bad), 0);
	assert_null(bad);
	setenv("AIC_SPIN_US", "10000", 1);
	assert_int_equal(aic_spin_ns(&bad), 10000000);
	assert_null(bad);
	setenv("AIC_SPIN_US", "", 1);
	assert_int_equal(aic_spin_ns(&bad), AIC_SPIN_US_DEFAULT * 1000);
	assert_null(bad);
	/* Refused: the default, and the value to quote. */
	const char *refused[] = {"10001", "-1", "abc", "50us", "99999999999999999999"};
	for (size_t i = 0; i < sizeof(refused) / sizeof(*refused); i++) {
		setenv("AIC_SPIN_US", refused[i], 1);
		assert_int_equal(aic_spin_ns(&bad), AIC_SPIN_US_DEFAULT * 1000);
		assert_non_null(bad);
		assert_string_equal(bad, refused[i]);
	}
	assert_int_equal(aic_spin_ns(NULL), AIC_SPIN_US_DEFAULT * 1000);
	unsetenv("AIC_SPIN_US");
}

static void no_spin_on_a_wanted_core(void **state)
{
	cpu_set_t one, old;
	pid_t busy;
	int status, cpu = 0;
	bool worth = false;

	(void)state;
	assert_int_equal(sched_getaffinity(0, sizeof(old), &old), 0);
	while (!CPU_ISSET(cpu, &old))
		cpu++;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	assert_int_equal(sched_setaffinity(0, sizeof(one), &one), 0);
	/* A thread that always wants the core: this one and it make two runnable on one core. */
	busy = fork();
	assert_true(busy >= 0);
	if (busy == 0) {
		/* Dies with the test, whatever becomes of it, and holds none of its output. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		alarm(60);
		close(1);
		close(2);
		for (;;)
			;
	}
	/*
	 * Whatever else runs on the machine can only add to the count. For
	 * 150 ms, three times the 50 ms a core must be left to this thread
	 * before more runnable threads than its one core may still let it
	 * spin (the machine has others): the busy one switches it out.
	 */
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		worth |= aic_spin_worth();
		clock_gettime(CLOCK_MONOTONIC, &t1);
	} while ((t1.tv_sec - t0.tv_sec) * 1000000000L + (t1.tv_nsec - t0.tv_nsec) < 150000000L);
	kill(busy, SIGKILL);
	assert_int_equal(waitpid(busy, &status, 0), busy);
	assert_int_equal(sched_setaffinity(0, sizeof(old), &old), 0);
	assert_false(worth);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(spin_us_values),
		cmocka_unit_test(no_spin_on_a_wanted_core),
	};
	return aic_test_run(tests);
}
