/*
 * Spin before sleeping: after the engine's loop handled bytes from a
 * connection, it polls without blocking (yielding the CPU to anything
 * runnable between polls) for AIC_SPIN_US microseconds before it sleeps in
 * epoll again.
 *
 * Why: a worker's control round trip and a small item's way through the
 * agent are each a wake-up of a sleeping process, and on a machine whose
 * other cores are idle that wake-up is an interrupt to another core, which
 * costs more than the work: on a 2-core VM a loopback TCP ping-pong takes
 * 57 us between cores and 12 us on one. A loop that is still polling when
 * the next frame comes takes it without being woken, as MPI libraries and
 * NCCL's proxy do. The spin only follows activity (an idle agent sleeps
 * after at most AIC_SPIN_US), and sched_yield() between polls gives the
 * core to any other runnable thread at once, so on a busy node it costs
 * the workers nothing but the polls. AIC_SPIN_US=0 turns it off.
 */
#include "config.h"

#include <sched.h>
#include <stdint.h>
#include <stdlib.h>

#include "internal.h"

/* Bytes were handled since the last check (tcp.c's reads). */
static uint64_t activity;

static struct {
	uv_check_t check;
	uv_idle_t idle;
	uint64_t budget_ns, until_ns, seen;
	bool on;
} spin;

void aic__spin_activity(void)
{
	activity++;
}

/* While the idle handle is active the loop polls with a zero timeout. */
static void on_idle(uv_idle_t *h)
{
	if (uv_hrtime() >= spin.until_ns)
		uv_idle_stop(h);
	else
		sched_yield();
}

/* After each poll: activity since the last one starts (or extends) a spin. */
static void on_check(uv_check_t *h)
{
	if (activity == spin.seen)
		return;
	spin.seen = activity;
	spin.until_ns = uv_hrtime() + spin.budget_ns;
	if (!uv_is_active((uv_handle_t *)&spin.idle))
		uv_idle_start(&spin.idle, on_idle);
	(void)h;
}

unsigned aic_spin_us(void)
{
	const char *s = getenv("AIC_SPIN_US");
	char *end;
	long v;

	if (!s || !*s)
		return AIC_SPIN_US_DEFAULT;
	v = strtol(s, &end, 10);
	if (*end || v < 0)
		return AIC_SPIN_US_DEFAULT;
	return v > 10000 ? 10000 : (unsigned)v;
}

void aic_spin_start(uv_loop_t *loop)
{
	unsigned us = aic_spin_us();

	if (!us || spin.on)
		return;
	spin.on = true;
	spin.budget_ns = (uint64_t)us * 1000;
	uv_check_init(loop, &spin.check);
	uv_idle_init(loop, &spin.idle);
	uv_check_start(&spin.check, on_check);
	/* Neither keeps the loop alive. */
	uv_unref((uv_handle_t *)&spin.check);
	uv_unref((uv_handle_t *)&spin.idle);
}
