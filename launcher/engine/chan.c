/*
 * Channels at a node agent (see chan.h).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chan.h"
#include "error.h"
#include "log.h"

struct item {
	struct item *next;
	struct aic_conn *holder; /* the consumer it is in flight to */
	uint32_t producer;
	uint64_t id, version;
	uint32_t len;
	uint8_t data[];
};

/* A worker blocked in PUT or GET, with its timer. */
struct wait {
	struct wait *next;
	struct chan *ch;
	struct aic_conn *c;
	struct item *item; /* PUT: the item waiting for a slot */
	uint32_t max;	   /* GET: how many it wants */
	uv_timer_t timer;
	bool timed;
};

struct chan {
	uint32_t id;
	char name[64];
	uint32_t capacity;
	struct item *head, *tail; /* queued, in order */
	uint32_t queued;
	struct item *inflight; /* delivered, not acked */
	uint32_t n_inflight;
	struct wait *puts, *gets; /* FIFO */
	bool closed;
	uint64_t next_id;
	uint64_t delivered, acked, redelivered;
};

struct chan_set {
	uv_loop_t *loop;
	uint32_t producer;
	struct chan *chans;
	size_t n;
};

static void send_error(struct aic_conn *c, int code)
{
	json_t *m = json_pack("{s:i,s:s}", "code", code, "error", aic_strerror(code));

	aic_conn_send(c, AIC_MSG_ERROR, m);
	json_decref(m);
}

static void free_wait(uv_handle_t *h)
{
	free(h->data);
}

/* Unlinks w from its list and frees it (after its timer closes). */
static void drop_wait(struct wait **list, struct wait *w)
{
	struct wait **pp;

	for (pp = list; *pp; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	free(w->item);
	w->item = NULL;
	uv_close((uv_handle_t *)&w->timer, free_wait);
}

static void append_wait(struct wait **list, struct wait *w)
{
	struct wait **pp = list;

	while (*pp)
		pp = &(*pp)->next;
	w->next = NULL;
	*pp = w;
}

static void enqueue(struct chan *ch, struct item *it, bool front)
{
	it->holder = NULL;
	if (front) {
		it->next = ch->head;
		ch->head = it;
		if (!ch->tail)
			ch->tail = it;
	} else {
		it->next = NULL;
		if (ch->tail)
			ch->tail->next = it;
		else
			ch->head = it;
		ch->tail = it;
	}
	ch->queued++;
}

static void put_ok(struct aic_conn *c, uint64_t id)
{
	uint8_t b[8];

	aic_put_u64(b, id);
	aic_conn_send_raw(c, AIC_MSG_PUT_OK, b, sizeof(b), NULL, 0);
}

/* Delivers up to max queued items to consumer c (or EOF, or nothing). */
static bool deliver(struct chan *ch, struct aic_conn *c, uint32_t max)
{
	uint8_t head[8], *buf, *p;
	size_t bytes = 0;
	uint32_t n = 0;
	struct item *it;

	if (ch->queued == 0) {
		if (!(ch->closed && ch->n_inflight == 0))
			return false;
		aic_put_u32(head, 0);
		aic_put_u32(head + 4, AIC_ITEMS_EOF);
		aic_conn_send_raw(c, AIC_MSG_ITEMS, head, sizeof(head), NULL, 0);
		return true;
	}
	for (it = ch->head; it && n < max; it = it->next, n++)
		bytes += AIC_ITEM_HEADER + it->len;
	buf = malloc(8 + bytes);
	if (!buf)
		return false;
	aic_put_u32(buf, n);
	aic_put_u32(buf + 4, 0);
	p = buf + 8;
	while (n-- > 0) {
		it = ch->head;
		ch->head = it->next;
		if (!ch->head)
			ch->tail = NULL;
		ch->queued--;
		aic_put_u32(p, it->producer);
		aic_put_u64(p + 4, it->id);
		aic_put_u64(p + 12, it->version);
		aic_put_u32(p + 20, it->len);
		memcpy(p + AIC_ITEM_HEADER, it->data, it->len);
		p += AIC_ITEM_HEADER + it->len;
		it->holder = c;
		it->next = ch->inflight;
		ch->inflight = it;
		ch->n_inflight++;
		ch->delivered++;
	}
	aic_conn_send_raw(c, AIC_MSG_ITEMS, buf, (size_t)(p - buf), NULL, 0);
	free(buf);
	return true;
}

/* Moves waiting producers into free slots, then feeds waiting consumers. */
static void pump(struct chan *ch)
{
	while (ch->puts && ch->queued + ch->n_inflight < ch->capacity) {
		struct wait *w = ch->puts;
		struct item *it = w->item;
		w->item = NULL;
		enqueue(ch, it, false);
		put_ok(w->c, it->id);
		drop_wait(&ch->puts, w);
	}
	while (ch->gets && deliver(ch, ch->gets->c, ch->gets->max))
		drop_wait(&ch->gets, ch->gets);
}

static void wait_expired(uv_timer_t *t)
{
	struct wait *w = t->data;
	struct chan *ch = w->ch;

	send_error(w->c, -ETIMEDOUT);
	drop_wait(w->item ? &ch->puts : &ch->gets, w);
}

static struct wait *new_wait(struct chan_set *cs, struct chan *ch, struct aic_conn *c,
			     uint32_t timeout_ms)
{
	struct wait *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->ch = ch;
	w->c = c;
	uv_timer_init(cs->loop, &w->timer);
	w->timer.data = w;
	if (timeout_ms != AIC_WIRE_FOREVER) {
		uv_timer_start(&w->timer, wait_expired, timeout_ms, 0);
		w->timed = true;
	}
	return w;
}

static struct chan *find(struct chan_set *cs, uint32_t id)
{
	return id < cs->n ? &cs->chans[id] : NULL;
}

static void on_put(struct chan_set *cs, struct aic_conn *c, const uint8_t *p, uint32_t len)
{
	struct chan *ch = len >= 16 ? find(cs, aic_get_u32(p)) : NULL;
	struct item *it;
	struct wait *w;

	if (!ch) {
		send_error(c, -ENOENT);
		return;
	}
	it = malloc(sizeof(*it) + (len - 16));
	if (!it) {
		send_error(c, -ENOMEM);
		return;
	}
	it->producer = cs->producer;
	it->id = ch->next_id++;
	it->version = aic_get_u64(p + 4);
	it->len = len - 16;
	memcpy(it->data, p + 16, it->len);
	if (ch->queued + ch->n_inflight < ch->capacity && !ch->puts) {
		enqueue(ch, it, false);
		put_ok(c, it->id);
		pump(ch);
		return;
	}
	/* Full: the producer waits for an ack to free a slot (backpressure). */
	w = new_wait(cs, ch, c, aic_get_u32(p + 12));
	if (!w) {
		free(it);
		send_error(c, -ENOMEM);
		return;
	}
	w->item = it;
	append_wait(&ch->puts, w);
}

static void on_get(struct chan_set *cs, struct aic_conn *c, const uint8_t *p, uint32_t len)
{
	struct chan *ch = len >= 12 ? find(cs, aic_get_u32(p)) : NULL;
	uint32_t max = len >= 12 ? aic_get_u32(p + 4) : 0;
	struct wait *w;

	if (!ch || max == 0) {
		send_error(c, ch ? -EINVAL : -ENOENT);
		return;
	}
	if (!ch->gets && deliver(ch, c, max))
		return;
	w = new_wait(cs, ch, c, aic_get_u32(p + 8));
	if (!w) {
		send_error(c, -ENOMEM);
		return;
	}
	w->max = max;
	append_wait(&ch->gets, w);
}

static void on_ack(struct chan_set *cs, struct aic_conn *c, const uint8_t *p, uint32_t len)
{
	struct chan *ch = len >= 8 ? find(cs, aic_get_u32(p)) : NULL;
	uint32_t n, i;

	if (!ch)
		return;
	n = aic_get_u32(p + 4);
	if ((uint64_t)n * 12 > len - 8)
		return;
	for (i = 0; i < n; i++) {
		uint32_t producer = aic_get_u32(p + 8 + i * 12);
		uint64_t id = aic_get_u64(p + 12 + i * 12);
		struct item **pp;
		for (pp = &ch->inflight; *pp; pp = &(*pp)->next) {
			struct item *it = *pp;
			if (it->holder == c && it->id == id && it->producer == producer) {
				*pp = it->next;
				free(it);
				ch->n_inflight--;
				ch->acked++;
				break;
			}
		}
	}
	pump(ch);
}

void chan_set_frame(struct chan_set *cs, struct aic_conn *c, const struct aic_frame *f)
{
	switch (f->type) {
	case AIC_MSG_PUT:
		on_put(cs, c, f->payload, f->length);
		break;
	case AIC_MSG_GET:
		on_get(cs, c, f->payload, f->length);
		break;
	case AIC_MSG_ACK:
		on_ack(cs, c, f->payload, f->length);
		break;
	default:
		send_error(c, AIC_EPROTO);
	}
}

void chan_set_forget(struct chan_set *cs, struct aic_conn *c)
{
	size_t i;

	for (i = 0; cs && i < cs->n; i++) {
		struct chan *ch = &cs->chans[i];
		struct item **pp = &ch->inflight, *back = NULL, *it;
		struct wait *w, *next;
		uint32_t n = 0;
		/* Its un-acked items go back to the head of the queue, in order. */
		while ((it = *pp)) {
			if (it->holder == c) {
				*pp = it->next;
				it->next = back;
				back = it;
				ch->n_inflight--;
				n++;
			} else {
				pp = &it->next;
			}
		}
		while (back) {
			it = back;
			back = it->next;
			enqueue(ch, it, true);
			ch->redelivered++;
		}
		if (n)
			aic_log_info("channel '%s': %u un-acked item%s of a lost consumer will be "
				     "delivered again",
				     ch->name, n, n == 1 ? "" : "s");
		for (w = ch->puts; w; w = next) {
			next = w->next;
			if (w->c == c)
				drop_wait(&ch->puts, w);
		}
		for (w = ch->gets; w; w = next) {
			next = w->next;
			if (w->c == c)
				drop_wait(&ch->gets, w);
		}
		pump(ch);
	}
}

void chan_set_close(struct chan_set *cs, uint32_t id)
{
	struct chan *ch = cs ? find(cs, id) : NULL;

	if (!ch || ch->closed)
		return;
	ch->closed = true;
	pump(ch);
}

struct chan_set *chan_set_new(uv_loop_t *loop, const json_t *config, uint32_t producer)
{
	struct chan_set *cs = calloc(1, sizeof(*cs));
	const json_t *list = json_object_get(config, "channels"), *v;
	size_t i;

	if (!cs)
		return NULL;
	cs->loop = loop;
	cs->producer = producer;
	cs->n = json_array_size(list);
	cs->chans = calloc(cs->n + 1, sizeof(*cs->chans));
	if (!cs->chans) {
		free(cs);
		return NULL;
	}
	json_array_foreach(list, i, v) {
		struct chan *ch = &cs->chans[i];
		ch->id = (uint32_t)i;
		snprintf(ch->name, sizeof(ch->name), "%s", json_string_value(json_object_get(v, "name")) ?: "");
		ch->capacity = (uint32_t)json_integer_value(json_object_get(v, "capacity"));
		if (ch->capacity == 0)
			ch->capacity = 1;
		ch->closed = json_is_true(json_object_get(v, "closed"));
	}
	return cs;
}

json_t *chan_set_names(const struct chan_set *cs)
{
	json_t *o = json_object();
	size_t i;

	for (i = 0; cs && i < cs->n; i++)
		json_object_set_new(o, cs->chans[i].name, json_integer((json_int_t)i));
	return o;
}

static void free_items(struct item *it)
{
	while (it) {
		struct item *next = it->next;
		free(it);
		it = next;
	}
}

void chan_set_free(struct chan_set *cs)
{
	size_t i;

	if (!cs)
		return;
	for (i = 0; i < cs->n; i++) {
		struct chan *ch = &cs->chans[i];
		while (ch->puts)
			drop_wait(&ch->puts, ch->puts);
		while (ch->gets)
			drop_wait(&ch->gets, ch->gets);
		free_items(ch->head);
		free_items(ch->inflight);
	}
	free(cs->chans);
	free(cs);
}
