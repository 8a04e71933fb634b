/*
 * A node's load, for the head's autoscaler (launcher/engine/autoscale.c),
 * and the draining of a worker it scales down (dataplane.h).
 *
 * Load: each channel's backlog here (items queued: own ones not yet
 * taken, and those pulled from peers for this node's readers), and how
 * long each worker has waited, over its life: for items (a GET) or for
 * room in a full channel it puts to (a PUT held back), the time with at
 * least one such wait under way, up to now. The head turns the growth of
 * a worker's waits into its busy fraction: a replica held back by a slow
 * stage after it is not busy, and does not make its stage grow.
 *
 * Draining: a worker the head scales down takes no new items. Its GETs
 * are answered EOF, as if its inputs had ended, so that it finishes and
 * acks what it holds, then leaves its loop and exits; items it held and
 * did not ack still go back to the queue if it dies (chan_forget). The
 * one exception keeps items from being stranded here: items already
 * pulled from peers for this node's readers, when no other reader here
 * takes them, go to the draining worker, and its GET waits for the pulls
 * under way; this node asks peers for nothing more on its behalf. So a
 * drain neither loses an item nor delivers one twice.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "log.h"

static struct dp_worker *find(const struct chan_set *cs, const struct aic_conn *c)
{
	struct dp_worker *w;

	for (w = cs ? cs->workers : NULL; w; w = w->next)
		if (w->c == c)
			return w;
	return NULL;
}

void load_hello(struct chan_set *cs, struct aic_conn *c, const json_t *hello)
{
	struct dp_worker *w;

	if (!cs || find(cs, c) || !(w = calloc(1, sizeof(*w))))
		return;
	w->c = c;
	snprintf(w->stage, sizeof(w->stage), "%s",
		 json_string_value(json_object_get(hello, "stage")) ?: "?");
	w->index = (int)json_integer_value(json_object_get(hello, "index"));
	w->hello_ms = aic_now_ms();
	w->next = cs->workers;
	cs->workers = w;
}

void load_forget(struct chan_set *cs, const struct aic_conn *c)
{
	struct dp_worker **pp, *w;

	for (pp = cs ? &cs->workers : NULL; pp && (w = *pp); pp = &w->next)
		if (w->c == c) {
			*pp = w->next;
			free(w);
			return;
		}
}

void load_release(struct chan_set *cs)
{
	struct dp_worker *w;

	while ((w = cs->workers)) {
		cs->workers = w->next;
		free(w);
	}
}

void load_wait_begin(struct wait *w)
{
	struct dp_worker *k = find(w->cs, w->c);

	if (!k)
		return;
	w->counted = true;
	if (k->waits++ == 0)
		k->waits_since = aic_now_ms();
}

void load_waited(struct wait *w)
{
	struct dp_worker *k = w->counted ? find(w->cs, w->c) : NULL;

	w->counted = false;
	if (k && k->waits && --k->waits == 0)
		k->waited_ms += aic_now_ms() - k->waits_since;
}

/* Whether a worker here other than c, not draining, reads channel ch. */
static bool other_readers(const struct chan *ch, const struct aic_conn *c)
{
	const struct dp_worker *w;

	for (w = ch->cs->workers; w; w = w->next)
		if (w->c != c && !w->draining && (w->reads & load_chan_bit(ch->id)))
			return true;
	return false;
}

/* A draining worker's GET: pulled items no other reader here takes, else EOF (true: answered). */
static bool drain_answer(struct chan *ch, struct aic_conn *c, uint32_t max)
{
	if (other_readers(ch, c)) {
		deliver_eof(ch, c, false);
		return true;
	}
	if (ch->pulled.n)
		return deliver(ch, c, max < ch->pulled.n ? max : ch->pulled.n, false, -1) > 0;
	if (ch->asked)
		return false; /* pulls under way bring items here: it takes them */
	deliver_eof(ch, c, false);
	return true;
}

static void drain_expired(uv_timer_t *t)
{
	struct wait *w = t->data;
	struct chan *ch = w->on;

	/* No item came in time: the answer any GET gets at its timeout. */
	aic_conn_send_error(w->c, AIC_MSG_ERROR, -ETIMEDOUT, NULL);
	wait_end(&ch->drains, w);
}

bool load_get(struct chan *ch, struct aic_conn *c, uint32_t max, uint32_t timeout_ms)
{
	struct dp_worker *k = find(ch->cs, c);
	struct wait *w;

	if (k)
		k->reads |= load_chan_bit(ch->id);
	if (!k || !k->draining)
		return false;
	if (drain_answer(ch, c, max))
		return true;
	w = wait_new(ch->cs, ch, c);
	if (!w) {
		aic_conn_send_error(c, AIC_MSG_ERROR, -ENOMEM, NULL);
		return true;
	}
	w->max = max;
	load_wait_begin(w);
	wait_start(&ch->drains, w, timeout_ms, drain_expired);
	return true;
}

void load_pump(struct chan *ch)
{
	struct wait *w, *next;

	for (w = ch->drains; w; w = next) {
		next = w->next;
		if (drain_answer(ch, w->c, w->max))
			wait_end(&ch->drains, w);
	}
}

/*
 * A GET of a draining worker that was waiting before the drain: answered
 * now if it can be, else it moves among the drains (without its timeout:
 * the pulls it waits for are answered within their long poll).
 */
static void drain_waiting_get(struct chan *ch, struct wait *g)
{
	struct wait **pp;

	if (drain_answer(ch, g->c, g->max)) {
		wait_end(&ch->gets, g);
		return;
	}
	for (pp = &ch->gets; *pp && *pp != g; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = g->next;
	uv_timer_stop(&g->timer);
	wait_start(&ch->drains, g, AIC_WIRE_FOREVER, NULL);
}

int chan_set_drain(struct chan_set *cs, const char *stage, int index)
{
	struct dp_worker *w;
	size_t i;
	int n = 0;

	for (w = cs ? cs->workers : NULL; w; w = w->next)
		if (!w->draining && w->index == index && !strcmp(w->stage, stage)) {
			w->draining = true;
			n++;
		}
	if (!n)
		return 0;
	aic_log_info("stage '%s' replica %d drains: it takes no new items", stage, index);
	for (i = 0; i < cs->n; i++) {
		struct chan *ch = &cs->chans[i];
		struct wait *g, *next;
		/* Prefetch only for readers that stay; waits of the draining one are answered
		 * again. */
		ch->readers = ch->readers && other_readers(ch, NULL);
		for (g = ch->gets; g; g = next) {
			struct dp_worker *k = find(cs, g->c);
			next = g->next;
			if (k && k->draining)
				drain_waiting_get(ch, g);
		}
		chan_pump(ch);
	}
	return n;
}

json_t *chan_set_load(const struct chan_set *cs)
{
	json_t *chans = json_object(), *workers = json_array();
	const struct dp_worker *w;
	uint64_t now = aic_now_ms();
	size_t i;

	for (i = 0; cs && i < cs->n; i++)
		json_object_set_new(chans, cs->chans[i].name,
				    json_integer(cs->chans[i].own.n + cs->chans[i].pulled.n));
	for (w = cs ? cs->workers : NULL; w; w = w->next) {
		/* Waits under way count up to now. */
		uint64_t waited = w->waited_ms + (w->waits ? now - w->waits_since : 0);
		json_array_append_new(workers,
				      json_pack("{s:s,s:i,s:I,s:I,s:b}", "stage", w->stage, "index",
						w->index, "waited_ms", (json_int_t)waited, "age_ms",
						(json_int_t)(now - w->hello_ms), "draining",
						w->draining));
	}
	return json_pack("{s:o,s:o}", "channels", chans, "workers", workers);
}
