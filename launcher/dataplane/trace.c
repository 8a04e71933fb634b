/*
 * What the timeline samples of the data plane (see dataplane.h): the
 * channels' counters, the weight streams' versions, and one own item in
 * TRACE_EVERY followed from put to ack. Sampling is by id, so an item
 * costs a mask test when it is not followed, and the tables are fixed
 * (internal.h's struct dp_trace): memory does not grow with the items.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static struct chan_set_span *open_span(struct dp_trace *t, uint32_t chan, uint64_t id)
{
	size_t k;

	for (k = 0; k < TRACE_OPEN; k++)
		if (t->open[k].put_us && t->open[k].chan == chan && t->open[k].id == id)
			return &t->open[k];
	return NULL;
}

/* AIC_OBSERVE=0 (launcher/engine/events.c): no item is followed. Read once. */
static bool trace_off(void)
{
	static int off = -1;

	if (off < 0)
		off = getenv("AIC_OBSERVE") && !strcmp(getenv("AIC_OBSERVE"), "0");
	return off;
}

void trace_put(struct chan *ch, const struct item *it)
{
	struct dp_trace *t = &ch->cs->trace;
	struct chan_set_span *s = NULL;
	size_t k;

	if (trace_off())
		return;
	/* A free slot, else the oldest: an item that never leaves must not hold one for good. */
	for (k = 0; k < TRACE_OPEN; k++) {
		if (!t->open[k].put_us) {
			s = &t->open[k];
			break;
		}
		if (!s || t->open[k].put_us < s->put_us)
			s = &t->open[k];
	}
	if (s->put_us)
		t->dropped++;
	s->chan = ch->id;
	s->id = it->id;
	s->put_us = now_us();
	s->get_us = s->ack_us = 0;
}

void trace_get(struct chan *ch, const struct item *it)
{
	struct chan_set_span *s = open_span(&ch->cs->trace, ch->id, it->id);

	/* Its first hand-over: one that went back after its holder was lost keeps it. */
	if (s && !s->get_us)
		s->get_us = now_us();
}

void trace_ack(struct chan *ch, const struct item *it)
{
	struct dp_trace *t = &ch->cs->trace;
	struct chan_set_span *s = open_span(t, ch->id, it->id);

	if (!s)
		return;
	s->ack_us = now_us();
	if (t->n_done < TRACE_DONE)
		t->done[t->n_done++] = *s;
	else
		t->dropped++;
	s->put_us = 0;
}

size_t chan_set_spans(struct chan_set *cs, struct chan_set_span *out, size_t max, uint64_t *dropped)
{
	struct dp_trace *t;
	size_t n;

	if (!cs)
		return 0;
	t = &cs->trace;
	n = t->n_done < max ? t->n_done : max;
	memcpy(out, t->done, n * sizeof(*out));
	memmove(t->done, t->done + n, (t->n_done - n) * sizeof(*t->done));
	t->n_done -= (uint32_t)n;
	if (dropped)
		*dropped = t->dropped;
	return n;
}

bool chan_set_sample(const struct chan_set *cs, uint32_t id, struct chan_set_sample *s)
{
	const struct chan *ch;
	const struct item *it;

	if (!cs || id >= cs->n)
		return false;
	ch = &cs->chans[id];
	memset(s, 0, sizeof(*s));
	s->queued = ch->own.n + ch->pulled.n;
	for (it = ch->inflight; it; it = it->next)
		s->inflight++;
	s->items = ch->items_in;
	s->acked = ch->items_out;
	s->bytes = ch->bytes_in;
	s->stale = ch->stale_dropped;
	return true;
}

bool chan_set_weight_version(const struct chan_set *cs, uint32_t id, bool *have, uint64_t *version)
{
	if (!cs || id >= cs->n_streams)
		return false;
	*version = weights_version((struct chan_set *)cs, (int)id, have);
	return true;
}
