/*
 * Items (a payload inline, in the arena, or in an arena block that a
 * peer's frame was read into), and waits: a worker or peer blocked on a
 * channel or a weight stream, with its timer (see internal.h).
 */
#include "config.h"

#include <stdlib.h>

#include "internal.h"

struct item *item_new(size_t len)
{
	struct item *it = malloc(sizeof(*it) + len);

	if (it) {
		it->shm = 0;
		it->blk = NULL;
		it->sends = 0;
		it->dead = false;
		it->edge = 0;
		it->origin = (struct aic_origin){.chan = AIC_ORIGIN_NONE};
		it->n_roots = 0;
		it->origin_given = false;
		it->rooted = false;
	}
	return it;
}

void frame_blk_unref(struct frame_blk *b)
{
	if (--b->refs == 0) {
		aic_ring_free(&b->cs->arena, b->off);
		free(b);
	}
}

void item_release(struct chan_set *cs, struct item *it)
{
	if (it->blk)
		frame_blk_unref(it->blk);
	else if (it->shm)
		aic_ring_free(&cs->arena, it->shm);
	free(it);
}

void item_free(struct chan_set *cs, struct item *it)
{
	if (!it)
		return;
	if (it->sends)
		it->dead = true;
	else
		item_release(cs, it);
}

struct wait *wait_new(struct chan_set *cs, void *on, struct aic_conn *c)
{
	struct wait *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->cs = cs;
	w->on = on;
	w->c = c;
	uv_timer_init(cs->loop, &w->timer);
	w->timer.data = w;
	return w;
}

void wait_start(struct wait **list, struct wait *w, uint32_t timeout_ms, uv_timer_cb expired)
{
	struct wait **pp = list;

	while (*pp)
		pp = &(*pp)->next;
	w->next = NULL;
	*pp = w;
	if (timeout_ms != AIC_WIRE_FOREVER)
		uv_timer_start(&w->timer, expired, timeout_ms, 0);
}

static void free_wait(uv_handle_t *h)
{
	free(h->data);
}

void wait_end(struct wait **list, struct wait *w)
{
	struct wait **pp;

	for (pp = list; *pp; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	item_free(w->cs, w->item);
	w->item = NULL;
	load_waited(w);
	uv_close((uv_handle_t *)&w->timer, free_wait);
}

void wait_end_all(struct wait **list, const struct aic_conn *c)
{
	struct wait *w, *next;

	for (w = *list; w; w = next) {
		next = w->next;
		if (w->c == c)
			wait_end(list, w);
	}
}
