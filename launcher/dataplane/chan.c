/*
 * Channels at a node agent (see dataplane.h and doc/design/data-plane.md).
 *
 * Each channel has two queues here: `own`, the items this node's workers
 * produced (bounded by the channel's capacity, counting those in flight:
 * that is the producers' backpressure), and `pulled`, items fetched from
 * other agents because local consumers asked for them (bounded by their
 * demand). A local GET takes pulled items first, then own ones; a peer's
 * PULL only ever takes own items, so an item crosses the network at most
 * once. Items in flight remember who holds them: a worker, or a peer agent.
 * An ack from a worker frees the item, and when it came from a peer the ack
 * is forwarded there. A holder that goes away puts its items back.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "internal.h"
#include "log.h"

#define PULL_WAIT_MS 500 /* a peer's long poll: answered empty after this */
/* Pumps the channels whose pump was put off (pump_soon). */
static void pump_due(void *arg)
{
	struct chan_set *cs = arg;
	uint32_t i;

	for (i = 0; i < cs->n; i++)
		if (cs->chans[i].pump_soon) {
			cs->chans[i].pump_soon = false;
			chan_pump(&cs->chans[i]);
		}
}

/*
 * A put let in: the pump waits until the rest of the read's frames are
 * handled, so that a consumer waiting in GET gets the whole batch of puts
 * in one ITEMS, not the first alone and the rest a round trip later.
 */
static void pump_soon(struct chan *ch)
{
	if (ch->pump_soon)
		return;
	if (aic_conn_after_frames(pump_due, ch->cs))
		ch->pump_soon = true;
	else
		chan_pump(ch);
}

/* An error answering a PUT (PUT_ERR: puts are pipelined). */
static void put_error(struct aic_conn *c, int code)
{
	aic_conn_send_error(c, AIC_MSG_PUT_ERR, code, NULL);
}

static void put_ok(struct aic_conn *c, uint64_t id)
{
	uint8_t b[8];

	aic_put_u64(b, id);
	aic_conn_send_raw(c, AIC_MSG_PUT_OK, b, sizeof(b), NULL, 0);
}

/*
 * The puts waiting for room: a producer may have hundreds in its window, so
 * they are appended after the tail the channel remembers (puts_tail), not
 * after a walk of the list. Ending the tail's wait forgets it.
 */
static void puts_end(struct chan *ch, struct wait *w)
{
	if (ch->puts_tail == w)
		ch->puts_tail = NULL;
	wait_end(&ch->puts, w);
}

static void puts_start(struct chan *ch, struct wait *w, uint32_t timeout_ms, uv_timer_cb expired)
{
	wait_start(ch->puts_tail ? &ch->puts_tail->next : &ch->puts, w, timeout_ms, expired);
	ch->puts_tail = w;
}

bool remote_drained(const struct chan *ch)
{
	uint32_t r;

	for (r = 0; r < ch->n_remote; r++)
		if (!ch->drained[r])
			return false;
	return true;
}

/* --- the pump --------------------------------------------------------------- */

/*
 * Whether every item in flight (only this agent's own ones, for `own_only`)
 * is held by c; false if another holder has some.
 */
static bool held_only_by(const struct chan *ch, const struct aic_conn *c, bool own_only)
{
	const struct item *it;

	for (it = ch->inflight; it; it = it->next)
		if (it->holder != c && (!own_only || it->producer == ch->cs->rank))
			return false;
	return true;
}

/* Whether this agent asks peers for the channel's items: for readers here, or its sink. */
bool chan_wants_pull(const struct chan *ch)
{
	return ch->gets || ch->snk || ch->readers;
}

void chan_pump(struct chan *ch)
{
	uint32_t admitted;
	bool eof;

	source_refill(ch);
	sink_drain(ch);
	/*
	 * Stale items go before producers are let in: the room they leave is
	 * theirs (else a channel full of stale items and a producer waiting
	 * for room wait on each other), and what comes in may be stale too.
	 */
	do {
		admitted = 0;
		drop_stale(ch);
		for (; ch->puts && chan_room(ch, ch->puts->item->len); admitted++) {
			struct wait *w = ch->puts;
			struct item *it = w->item;
			w->item = NULL;
			own_enter(ch, it);
			queue_push(&ch->own, it, false);
			if (w->c) /* NULL: its producer has gone (chan_forget) */
				put_ok(w->c, it->id);
			puts_end(ch, w);
		}
	} while (admitted && ch->puts);
	serve_gets(ch);
	load_pump(ch);
	while (ch->pulls && deliver(ch, ch->pulls->c, ch->pulls->max, true, ch->pulls->rank))
		wait_end(&ch->pulls, ch->pulls);
	/*
	 * Closed: peers learn that this node's part is drained; workers, that all
	 * is. Items in flight to the asker itself do not hold its end back: it
	 * has them, and nothing else can come to it unless it goes away (a
	 * consumer that gathers a batch before acking still sees the end).
	 */
	if (ch->closed && ch->own.n == 0 && !ch->puts) {
		struct wait *w, *next;
		for (w = ch->pulls; w; w = next) {
			next = w->next;
			if (!held_only_by(ch, w->c, true))
				continue;
			deliver_eof(ch, w->c, true);
			wait_end(&ch->pulls, w);
		}
	}
	eof = ch->closed && !ch->own.n && !ch->puts && !ch->pulled.n && remote_drained(ch);
	if (eof) {
		struct wait *w, *next;
		for (w = ch->gets; w; w = next) {
			next = w->next;
			if (!held_only_by(ch, w->c, false))
				continue;
			deliver_eof(ch, w->c, false);
			wait_end(&ch->gets, w);
		}
	}
	eof = eof && !ch->inflight && !ch->sinking.n;
	if (eof && ch->snk)
		sink_finish(ch, 0);
	if (chan_wants_pull(ch))
		chan_pull(ch);
}

/* --- pulls from peers -------------------------------------------------------- */

/*
 * A peer's ITEMS frame of `length` bytes is read straight into a block of
 * the agent's arena region, unless compressed (it is decompressed from the
 * buffer) or the ring has no room for it now.
 */
uint8_t *chan_items_direct_begin(struct chan_set *cs, uint32_t length, const uint8_t *head,
				 void **arg)
{
	struct frame_blk *b;
	uint64_t off;

	if (!cs->arena.base || (aic_get_u32(head + 8) & AIC_ITEMS_ZSTD) ||
	    !chan_find(cs, aic_get_u32(head)))
		return NULL;
	off = aic_ring_alloc(&cs->arena, 0, length);
	b = off ? malloc(sizeof(*b)) : NULL;
	if (!b) {
		aic_ring_free(&cs->arena, off);
		return NULL;
	}
	b->cs = cs;
	b->off = off;
	b->refs = 1;
	*arg = b;
	return cs->arena.base + off;
}

/*
 * Asks the peers that produce the channel for what local consumers wait for,
 * plus the channel's prefetch (CONFIG's, dp_config.h) once local workers
 * read it, so that the network works while they compute.
 * Every peer without a pull in flight is asked (they answer with what they
 * have, at most what was asked).
 */
void chan_pull(struct chan *ch)
{
	struct chan_set *cs = ch->cs;
	uint32_t want = 0, tries, per_pull;
	struct wait *w;

	for (w = ch->gets; w; w = w->next)
		want += w->max;
	if (ch->snk)
		want += 64;
	if (ch->readers)
		want += ch->prefetch;
	/* Each pull asks a share, so that a second one is in flight as the first is answered. */
	per_pull = want / PULL_WINDOW > 0 ? want / PULL_WINDOW : 1;
	for (tries = 0; tries < ch->n_remote * PULL_WINDOW && want > ch->pulled.n + ch->asked;
	     tries++) {
		uint32_t r = ch->next_remote++ % ch->n_remote, n;
		struct peer *p;
		uint8_t req[16];
		if (ch->drained[r] || ch->pulls_out[r] >= PULL_WINDOW)
			continue;
		p = peer_find(cs, ch->remote[r]);
		if (!p || !peer_conn(cs, p))
			continue;
		if (!p->conn->authed)
			continue; /* connecting: its WELCOME pulls again */
		n = want - ch->pulled.n - ch->asked;
		n = n > per_pull ? per_pull : n;
		aic_put_u32(req, ch->id);
		aic_put_u32(req + 4, n);
		aic_put_u32(req + 8, PULL_WAIT_MS);
		aic_put_u32(req + 12, cs->rank);
		if (aic_conn_send_raw(p->conn, AIC_MSG_PULL, req, sizeof(req), NULL, 0) != 0)
			continue;
		ch->ask[r][ch->pulls_out[r]++] = n;
		ch->asked += n;
	}
}

/* n items came from peer r; `last`: its oldest pull is answered (what it lacked will not come). */
static void pull_answered(struct chan *ch, uint32_t r, uint32_t n, bool last)
{
	uint32_t k;

	if (!ch->pulls_out[r])
		return;
	ch->got[r] += n;
	ch->asked -= n < ch->asked ? n : ch->asked;
	if (!last)
		return;
	if (ch->ask[r][0] > ch->got[r]) {
		uint32_t lack = ch->ask[r][0] - ch->got[r];
		ch->asked -= lack < ch->asked ? lack : ch->asked;
	}
	for (k = 1; k < ch->pulls_out[r]; k++)
		ch->ask[r][k - 1] = ch->ask[r][k];
	ch->pulls_out[r]--;
	ch->got[r] = 0;
}

void chan_peer_lost(struct chan *ch, uint32_t rank)
{
	uint32_t r;

	/* Its outstanding pulls are void; what it had sent us stays ours. */
	for (r = 0; r < ch->n_remote; r++)
		if (ch->remote[r] == rank)
			while (ch->pulls_out[r])
				pull_answered(ch, r, 0, true);
}

void chan_producers(struct chan *ch, const uint32_t *ranks, size_t n)
{
	uint32_t r;
	size_t k;

	for (k = 0; k < n; k++) {
		if (ranks[k] == ch->cs->rank)
			continue;
		for (r = 0; r < ch->n_remote && ch->remote[r] != ranks[k]; r++)
			;
		if (r < ch->n_remote || ch->n_remote >= MAX_PEERS)
			continue;
		ch->remote[r] = ranks[k];
		ch->drained[r] = false;
		ch->pulls_out[r] = 0;
		ch->got[r] = 0;
		ch->n_remote++;
	}
	for (r = 0; r < ch->n_remote; r++) {
		for (k = 0; k < n && ranks[k] != ch->remote[r]; k++)
			;
		if (k < n || ch->drained[r])
			continue;
		chan_peer_lost(ch, ch->remote[r]);
		ch->drained[r] = true;
	}
	chan_pump(ch);
}

/*
 * A copy of a pulled item's payload: in the agent's arena region when it is
 * large and there is room (local consumers then read it in place), else in
 * the heap.
 */
static struct item *pulled_item(struct chan_set *cs, const uint8_t *data, uint32_t len)
{
	uint64_t off = len >= AIC_ARENA_MIN_BYTES ? aic_ring_alloc(&cs->arena, 0, len) : 0;
	struct item *it = item_new(off ? 0 : len);

	if (!it) {
		aic_ring_free(&cs->arena, off);
		return NULL;
	}
	if (off) {
		it->shm = off;
		memcpy(cs->arena.base + off, data, len);
	} else {
		memcpy(it->data, data, len);
	}
	return it;
}

/* A peer answered a PULL: its items join the pulled queue. */
void chan_on_items(struct chan_set *cs, struct peer *p, const uint8_t *b, uint32_t len,
		   struct frame_blk *blk)
{
	uint32_t ci, n, flags, r;
	struct chan *ch;
	struct aic_items walk;
	struct aic_item_hdr h;
	const uint8_t *data;

	/* ITEMS from a peer carry the channel first (it may answer several). */
	if (len < 12 || !(ch = chan_find(cs, (ci = aic_get_u32(b)))))
		return;
	n = aic_get_u32(b + 4);
	flags = aic_get_u32(b + 8);
	if (flags & AIC_ITEMS_ZSTD) {
		uint32_t plain_len;
		const char *why;
		uint8_t *plain = zstd_unpack(b, len, &plain_len, &why);
		if (!plain) {
			aic_log_error("channel '%s': a peer's compressed items are %s", ch->name,
				      why);
			return;
		}
		chan_on_items(cs, p, plain, plain_len, NULL);
		free(plain);
		return;
	}
	for (r = 0; r < ch->n_remote; r++)
		if (ch->remote[r] == p->rank) {
			pull_answered(ch, r, n, !(flags & AIC_ITEMS_MORE));
			if (flags & AIC_ITEMS_EOF)
				ch->drained[r] = true;
		}
	/* A peer's items are all on the wire; a truncated frame keeps the whole items before the cut. */
	/* (Their headers carry their trees: acker.c.) */
	aic_items_init(&walk, b + 12, len - 12, n, false);
	while (aic_items_next(&walk, &h, &data) == 1) {
		struct item *it;
		if (blk && (it = item_new(0))) {
			it->shm = (uint64_t)(data - cs->arena.base);
			it->blk = blk;
			blk->refs++;
		} else {
			it = pulled_item(cs, data, h.len);
		}
		if (!it)
			break;
		if (it->shm)
			ch->arena_items++;
		it->producer = h.producer;
		it->id = h.id;
		it->version = h.version;
		it->len = h.len;
		it->edge = h.edge;
		it->origin = h.origin;
		it->n_roots = h.n_roots;
		memcpy(it->roots, h.roots, h.n_roots * sizeof(h.roots[0]));
		queue_push(&ch->pulled, it, false);
	}
	chan_pump(ch);
}

/* --- frames from workers and from peers that pull -------------------------- */

/* --- frames from workers and from peers that pull -------------------------- */

static void wait_expired(uv_timer_t *t)
{
	struct wait *w = t->data;
	struct chan *ch = w->on;

	if (w->pull) {
		/* A long poll that found nothing: an empty answer, with the channel. */
		uint8_t head[12];
		aic_put_u32(head, ch->id);
		aic_put_u32(head + 4, 0);
		aic_put_u32(head + 8, 0);
		aic_conn_send_raw(w->c, AIC_MSG_PEER_ITEMS, head, sizeof(head), NULL, 0);
		wait_end(&ch->pulls, w);
		return;
	}
	if (w->item) {
		/* The item will not be made after all: its trees forget it. */
		acker_acked(w->cs, w->item);
		put_error(w->c, -ETIMEDOUT);
		puts_end(ch, w);
	} else {
		/* One that waited for a least takes what there is; nothing: it timed out. */
		if (!deliver(ch, w->c, w->max, false, -1))
			aic_conn_send_error(w->c, AIC_MSG_ERROR, -ETIMEDOUT, NULL);
		wait_end(&ch->gets, w);
	}
	chan_pump(ch); /* the waits behind it may go on, and peers are asked for less */
}

/*
 * PUT (the payload follows the header) or PUT_SHM (it is in the producer's
 * arena region: only its offset and length follow, checked to name a live
 * block of that region before the agent believes them).
 */
void chan_on_put(struct chan_set *cs, struct aic_conn *c, const uint8_t *p, uint32_t len, bool shm)
{
	struct chan *ch = len >= 16 ? chan_find(cs, aic_get_u32(p)) : NULL;
	uint64_t off = 0;
	uint32_t n = len >= 16 ? len - 16 : 0;
	struct item *it;
	struct wait *w;

	if (shm) {
		size_t region = dp_region_of(cs, c);
		off = len == 28 ? aic_get_u64(p + 16) : 0;
		n = len == 28 ? aic_get_u32(p + 24) : 0;
		/* Only in the sender's own region (0 is "none": the agent's own is never a
		 * worker's). */
		if (!off || !region || !aic_ring_valid(&cs->arena, region, off, n)) {
			put_error(c, -EINVAL);
			return;
		}
	}
	if (!ch || n > AIC_ITEM_MAX_BYTES) {
		aic_ring_free(&cs->arena, off);
		put_error(c, ch ? -EMSGSIZE : -ENOENT);
		return;
	}
	it = item_new(shm ? 0 : n);
	if (!it) {
		aic_ring_free(&cs->arena, off);
		put_error(c, -ENOMEM);
		return;
	}
	it->producer = cs->rank;
	it->id = ch->next_id++;
	it->version = aic_get_u64(p + 4);
	it->len = n;
	it->shm = off;
	if (shm)
		ch->arena_items++;
	else
		memcpy(it->data, p + 16, n);
	acker_anchor(cs, c, it);
	if (chan_room(ch, it->len) && !ch->puts) {
		own_enter(ch, it);
		queue_push(&ch->own, it, false);
		put_ok(c, it->id);
		pump_soon(ch);
		return;
	}
	/* Full: the producer waits for an ack to free a slot (backpressure). */
	w = wait_new(cs, ch, c);
	if (!w) {
		item_free(cs, it);
		put_error(c, -ENOMEM);
		return;
	}
	w->item = it;
	load_wait_begin(w);
	puts_start(ch, w, aic_get_u32(p + 12), wait_expired);
	chan_pump(ch); /* stale items may leave room for it */
}

void chan_on_get(struct chan_set *cs, struct aic_conn *c, const uint8_t *p, uint32_t len,
		 bool is_pull)
{
	struct chan *ch = len >= 12 ? chan_find(cs, aic_get_u32(p)) : NULL;
	uint32_t max = len >= 12 ? aic_get_u32(p + 4) : 0;
	/* A GET may say the least it waits for (a trailing u32); a PULL's is its rank. */
	uint32_t least = !is_pull && len >= 16 ? aic_get_u32(p + 12) : 1;
	struct wait *w;

	if (!ch || max == 0) {
		aic_conn_send_error(c, AIC_MSG_ERROR, ch ? -EINVAL : -ENOENT, NULL);
		return;
	}
	if (!is_pull && load_get(ch, c, max, aic_get_u32(p + 8)))
		return; /* a draining worker's */
	w = wait_new(cs, ch, c);
	if (!w) {
		aic_conn_send_error(c, AIC_MSG_ERROR, -ENOMEM, NULL);
		return;
	}
	w->max = max;
	w->least = least < 1 ? 1 : least > max ? max : least;
	w->pull = is_pull;
	w->rank = is_pull && len >= 16 ? (int)aic_get_u32(p + 12) : -1;
	/* The connection a peer pulls through, by its rank: what NODE_LOST closes. */
	if (w->rank >= 0 && w->rank < MAX_PEERS)
		cs->peer_in[w->rank] = c;
	if (!is_pull) {
		ch->readers = true;
		load_wait_begin(w);
	}
	wait_start(is_pull ? &ch->pulls : &ch->gets, w, aic_get_u32(p + 8), wait_expired);
	chan_pump(ch);
}

/* Frees acked items; forwards acks of pulled items to their producers. */
void chan_on_ack(struct chan_set *cs, struct aic_conn *c, const uint8_t *p, uint32_t len)
{
	struct chan *ch = len >= 8 ? chan_find(cs, aic_get_u32(p)) : NULL;
	uint32_t n, i;
	bool from_peer;

	if (!ch)
		return;
	n = aic_get_u32(p + 4);
	if ((uint64_t)n * AIC_ACK_ENTRY > len - 8)
		return;
	/* A peer's ack of an item it pulled: its agent told the acker already. */
	from_peer = dp_peer_rank_of(cs, c) >= 0;
	/*
	 * Last entry first: a consumer acks a batch in the order it got it, and
	 * the last delivered is the first in flight, so each is found at once.
	 */
	for (i = n; i-- > 0;) {
		uint32_t producer;
		uint64_t id;
		struct item **pp;
		aic_ack_decode(p + 8 + i * AIC_ACK_ENTRY, &producer, &id);
		for (pp = &ch->inflight; *pp; pp = &(*pp)->next) {
			struct item *it = *pp;
			if (it->holder != c || it->id != id || it->producer != producer)
				continue;
			*pp = it->next;
			if (!from_peer)
				acker_acked(cs, it);
			if (producer == cs->rank) {
				ch->n_own_inflight--;
				own_leave(ch, it);
			} else {
				peer_forward_ack(cs, ch->id, producer, id);
			}
			item_free(cs, it);
			break;
		}
	}
	chan_pump(ch);
}

/* --- a channel's lifetime ----------------------------------------------------- */

int chan_init(struct chan *ch, struct chan_set *cs, uint32_t id, const struct dp_channel *cfg)
{
	size_t k;

	ch->cs = cs;
	ch->id = id;
	snprintf(ch->name, sizeof(ch->name), "%s", cfg->name);
	ch->capacity = cfg->capacity ? cfg->capacity : 1;
	ch->capacity_bytes = cfg->capacity_bytes;
	ch->closed = cfg->closed;
	ch->compress = cfg->compress;
	ch->prefetch = cfg->prefetch;
	ch->stale_stream = cfg->has_stale ? (int)cfg->stale.stream : -1;
	ch->stale_k = cfg->has_stale ? cfg->stale.k : 0;
	for (k = 0; k < cfg->n_producers; k++)
		if (cfg->producers[k] != cs->rank && ch->n_remote < MAX_PEERS)
			ch->remote[ch->n_remote++] = cfg->producers[k];
	if (cfg->sink && cfg->sink_agent == cs->rank && !(ch->sink = strdup(cfg->sink)))
		return -ENOMEM;
	if (cfg->source && cfg->feeder == cs->rank) {
		ch->source = strdup(cfg->source);
		if (!ch->source)
			return -ENOMEM;
		ch->epochs_left = cfg->epochs < 1 ? 1 : (int)cfg->epochs;
		if (cfg->has_resume && source_resume(ch, &cfg->resume) != 0)
			return -ENOMEM;
	}
	return 0;
}

static void free_queue(struct chan_set *cs, struct queue *q)
{
	struct item *it;

	while ((it = queue_pop(q)))
		item_free(cs, it);
}

void chan_release(struct chan *ch)
{
	struct item *it;

	while (ch->puts)
		puts_end(ch, ch->puts);
	while (ch->gets)
		wait_end(&ch->gets, ch->gets);
	while (ch->drains)
		wait_end(&ch->drains, ch->drains);
	while (ch->pulls)
		wait_end(&ch->pulls, ch->pulls);
	free_queue(ch->cs, &ch->own);
	free_queue(ch->cs, &ch->pulled);
	if (ch->src)
		fclose(ch->src);
	sink_release(ch);
	if (ch->snk)
		fclose(ch->snk);
	free(ch->source);
	free(ch->sink);
	free(ch->line);
	free(ch->keep);
	while ((it = ch->inflight)) {
		ch->inflight = it->next;
		item_free(ch->cs, it);
	}
}

void chan_forget(struct chan *ch, struct aic_conn *c)
{
	struct chan_set *cs = ch->cs;
	struct item **pp = &ch->inflight, *it;
	struct queue back = {0};
	struct wait *w;

	/* Its un-acked items go back to the head of their queue, in order, once (acker_requeue). */
	while ((it = *pp)) {
		if (it->holder != c) {
			pp = &it->next;
			continue;
		}
		*pp = it->next;
		if (it->producer == cs->rank)
			ch->n_own_inflight--;
		if (acker_requeue(ch, it))
			queue_push(&back, it, true);
	}
	ch->redelivered += back.n;
	if (back.n)
		aic_log_info("channel '%s': %u un-acked item%s of a lost consumer will be "
			     "delivered again",
			     ch->name, back.n, back.n == 1 ? "" : "s");
	while ((it = queue_pop(&back)))
		queue_push(it->producer == cs->rank ? &ch->own : &ch->pulled, it, true);
	/*
	 * Its puts still waiting for room are whole items it was told are on
	 * their way (pipelined puts): they stay, in order, and take their slot
	 * when it frees; only the answer has nobody to go to. A producer that
	 * exits right after its last put loses nothing.
	 */
	for (w = ch->puts; w; w = w->next)
		if (w->c == c) {
			w->c = NULL;
			uv_timer_stop(&w->timer);
		}
	wait_end_all(&ch->gets, c);
	wait_end_all(&ch->drains, c);
	wait_end_all(&ch->pulls, c);
	chan_pump(ch);
}
