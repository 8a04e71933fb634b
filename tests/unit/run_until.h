/*
 * For unit tests that drive a real libuv loop (connections, timers):
 * RUN_UNTIL(loop, guard, cond) runs the loop a turn at a time until cond
 * holds, and fails the test if it does not within 10 s. guard is a
 * uv_timer_t of the test's, initialised on loop.
 */
#ifndef AIC_RUN_UNTIL_H
#define AIC_RUN_UNTIL_H

#include <stdbool.h>

#include <uv.h>

static bool run_until_timed_out;

static void run_until_give_up(uv_timer_t *g)
{
	(void)g;
	run_until_timed_out = true;
}

#define RUN_UNTIL(loop, guard, cond)                                                               \
	do {                                                                                       \
		run_until_timed_out = false;                                                       \
		uv_timer_start(guard, run_until_give_up, 10000, 0);                                \
		while (!(cond) && !run_until_timed_out)                                            \
			uv_run(loop, UV_RUN_ONCE);                                                 \
		uv_timer_stop(guard);                                                              \
		assert_true(cond);                                                                 \
	} while (0)

#endif
