/*
 * Liveness of a connection (see "Liveness" in conn.h): a timer per
 * connection with a timeout, which sends PING on a link with nothing else
 * to send and closes a link that has been silent for the timeout, or whose
 * handshake has not finished within it. conn.c notes when bytes come and
 * go (rx_ms, tx_ms); this file only reads those times.
 *
 * The timer ticks every T/4. A tick that comes much later than that means
 * the loop itself was held up (a long synchronous step, a stopped or
 * overloaded process): what arrived meanwhile is still unread in the
 * kernel, since libuv runs timers before it polls, so such a tick judges
 * nothing and the next one, after the loop has read, does.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>

#include "internal.h"
#include "log.h"
#include "wire.h"

static uint64_t beat_every(const struct aic_conn *c)
{
	return c->timeout_ms / 4 ? c->timeout_ms / 4 : 1;
}

/* "10 s", "1.5 s", "250 ms": a duration in messages. */
static void show_ms(uint64_t ms, char *buf, size_t len)
{
	if (ms < 1000)
		snprintf(buf, len, "%llu ms", (unsigned long long)ms);
	else if (ms % 1000)
		snprintf(buf, len, "%.1f s", (double)ms / 1000);
	else
		snprintf(buf, len, "%llu s", (unsigned long long)(ms / 1000));
}

/* Closes c because it passed its deadline: logged with the peer's name, and kept in c->why. */
static void expire(struct aic_conn *c, const char *what, uint64_t ms)
{
	char d[32];

	show_ms(ms, d, sizeof(d));
	snprintf(c->why, sizeof(c->why), "%s %s", what, d);
	if (c->name[0])
		aic_log_error("%s (%s): %s: closing the connection", c->name, c->peer, c->why);
	else
		aic_log_error("%s: %s: closing the connection", c->peer, c->why);
	aic_conn_close(c);
}

static void tick(uv_timer_t *t)
{
	struct aic_conn *c = t->data;
	uint64_t now = uv_now(c->loop), every = beat_every(c), late = now - c->tick_ms;

	c->tick_ms = now;
	if (c->closing)
		return;
	if (!c->authed) {
		/* The server's own sweep bounds its side of the handshake (conn.h). */
		if (!c->server_side && now - c->since_ms >= c->timeout_ms)
			expire(c, "no handshake within", c->timeout_ms);
		return;
	}
	if (late > 2 * every)
		return; /* the loop was held up: judge once it has read what came */
	if (now - c->rx_ms >= c->timeout_ms) {
		expire(c, "no frame for", now - c->rx_ms);
		return;
	}
	/*
	 * A large frame read in steps (aic_link_ops.lowat) over a slow link: the
	 * kernel may hold its bytes until a step is whole. Quiet for a tick, the
	 * link reports what it has, which counts as life before the timeout.
	 */
	if (now - c->rx_ms >= every)
		aic__conn_lowat_any(c);
	if (now - c->tx_ms >= every)
		aic_conn_send(c, AIC_MSG_PING, NULL);
}

static void beat_closed(uv_handle_t *h)
{
	aic__conn_unref(h->data);
}

int aic_conn_set_timeout(struct aic_conn *c, uint64_t timeout_ms)
{
	uint64_t now;

	if (c->closing)
		return -EPIPE;
	c->timeout_ms = timeout_ms;
	if (!timeout_ms) {
		if (c->beating)
			uv_timer_stop(&c->beat);
		return 0;
	}
	if (!c->beating) {
		uv_timer_init(c->loop, &c->beat);
		c->beat.data = c;
		c->beating = true;
		c->refs++;
	}
	/* Counted from now, on the loop's clock, which may be stale after a long step. */
	uv_update_time(c->loop);
	now = uv_now(c->loop);
	c->rx_ms = c->tick_ms = now;
	if (!c->authed && !c->server_side)
		c->since_ms = now;
	uv_timer_start(&c->beat, tick, beat_every(c), beat_every(c));
	return 0;
}

void aic__conn_stop_beat(struct aic_conn *c)
{
	if (c->beating && !uv_is_closing((uv_handle_t *)&c->beat))
		uv_close((uv_handle_t *)&c->beat, beat_closed);
}
