/*
 * The engine's loop spins a while before it sleeps after it answered a
 * worker's control request (lib/spin.h says why and when): the worker's
 * next request of its loop is near, and a spin meets it without a
 * wake-up. aic_spin_expect marks the request; after that poll an idle
 * handle makes the loop poll with a zero timeout, yielding between polls,
 * for AIC_SPIN_US microseconds, while a core is free for it. Data frames
 * never start a spin, and an idle agent sleeps after at most AIC_SPIN_US.
 */
#include "config.h"

#include <stdint.h>

#include "internal.h"
#include "log.h"
#include "spin.h"

/* Control requests answered since the last check (aic_spin_expect). */
static uint64_t activity;

static struct {
	uv_check_t check;
	uv_idle_t idle;
	uint64_t budget_ns, until_ns, seen;
	bool on;
} spin;

void aic_spin_expect(void)
{
	activity++;
}

/* While the idle handle is active the loop polls with a zero timeout. */
static void on_idle(uv_idle_t *h)
{
	if (uv_hrtime() >= spin.until_ns || !aic_spin_yield())
		uv_idle_stop(h);
}

/* After each poll: a request answered since the last one starts (or extends) a spin. */
static void on_check(uv_check_t *h)
{
	(void)h;
	if (activity == spin.seen)
		return;
	spin.seen = activity;
	spin.until_ns = uv_hrtime() + spin.budget_ns;
	if (!uv_is_active((uv_handle_t *)&spin.idle) && aic_spin_worth())
		uv_idle_start(&spin.idle, on_idle);
}

void aic_spin_start(uv_loop_t *loop)
{
	const char *bad;

	spin.budget_ns = aic_spin_ns(&bad);
	if (bad)
		aic_log_warn("AIC_SPIN_US=\"%s\" is not a number of microseconds from 0 to %d: "
			     "the default, %d, is used",
			     bad, AIC_SPIN_US_MAX, AIC_SPIN_US_DEFAULT);
	if (!spin.budget_ns || spin.on)
		return;
	spin.on = true;
	uv_check_init(loop, &spin.check);
	uv_idle_init(loop, &spin.idle);
	uv_check_start(&spin.check, on_check);
	/* Neither keeps the loop alive. */
	uv_unref((uv_handle_t *)&spin.check);
	uv_unref((uv_handle_t *)&spin.idle);
}
