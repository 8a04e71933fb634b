/*
 * Channels at a node agent (see chan.h and doc/design/data-plane.md).
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef HAVE_ZSTD
#include <zstd.h>
#endif

#include "chan_set.h"
#include "error.h"
#include "log.h"

/* Items between agents are compressed (when the channel says so) above this size. */
#define ZSTD_MIN_BYTES 512
#define ZSTD_LEVEL 1

#define PULL_WAIT_MS 500 /* a peer's long poll: answered empty after this */
#define PULL_WINDOW 2	 /* pulls in flight to one peer */
#define PEER_FRAME_BYTES (1u << 20)
/* Payloads from this size on go to peers by reference (writev), not copied into the frame. */
#define ZERO_COPY_MIN_BYTES 4096
/*
 * Items pulled ahead for local readers: at most this many, and at most a
 * quarter of the channel's capacity, so that one node's readers do not
 * hoard what readers elsewhere wait for (work goes to whoever asks).
 */
#define PREFETCH 64
/*
 * A peer's ITEMS frame read straight into the agent's arena region (see
 * aic_direct_begin_cb in conn.h): its items are read where they landed, and
 * the block goes back to the ring when the last of them is freed.
 */
struct frame_blk {
	struct chan_set *cs;
	uint64_t off;
	uint32_t refs; /* its items, plus one while the frame is read */
};

struct item {
	struct item *next;
	struct aic_conn *holder; /* in flight to this worker or peer */
	uint32_t producer;	 /* agent rank that made it */
	uint64_t id, version;
	uint64_t shm;		/* the payload's arena offset, or 0: the payload is data[] */
	struct frame_blk *blk;	/* the block that holds the payload at shm, or NULL: shm is a block */
	uint16_t sends;		/* zero-copy sends of the payload not yet done */
	bool dead;		/* freed while sends were not done: freed by the last */
	uint32_t len;
	uint8_t data[];
};

struct queue {
	struct item *head, *tail;
	uint32_t n;
};

struct chan;

/* A worker blocked in PUT or GET, or a peer's PULL, with its timer. */
struct wait {
	struct wait *next;
	struct chan *ch;
	struct aic_conn *c;
	struct item *item; /* PUT: the item waiting for a slot */
	uint32_t max;	   /* GET/PULL: how many it wants */
	bool pull;
	uv_timer_t timer;
};

struct chan {
	struct chan_set *cs;
	uint32_t id;
	char name[64];
	uint32_t capacity;
	bool compress;		    /* zstd between agents */
	bool readers;		    /* local workers have asked for items: prefetch for them */
	uint64_t zstd_in, zstd_out; /* bytes before and after, sent from here */
	uint64_t arena_items;	    /* put or pulled into the arena here */
	struct queue own, pulled;
	struct item *inflight; /* delivered, not acked */
	uint32_t n_own_inflight;
	struct wait *puts, *gets, *pulls; /* FIFO each */
	bool closed;			  /* every producer has finished */
	uint64_t next_id;
	/* Peers that produce this channel. */
	uint32_t n_remote;
	uint32_t remote[MAX_PEERS];
	bool drained[MAX_PEERS]; /* said EOF */
	/* Pulls in flight to each peer, oldest first: items asked, items got of the oldest. */
	uint8_t pulls_out[MAX_PEERS];
	uint32_t ask[MAX_PEERS][PULL_WINDOW];
	uint32_t got[MAX_PEERS];
	uint32_t asked; /* items asked of all peers and not come yet */
	uint32_t next_remote;
	/* The channel's source file, when this agent feeds it. */
	char *source;
	FILE *src;
	int epochs_left;
	char *line;
	size_t line_cap;
	/* Staleness: items older than stream's newest version - k are dropped. */
	int stale_stream; /* -1: none */
	uint64_t stale_k;
	uint64_t stale_dropped;
	/* The channel's sink file, when this agent writes it. */
	char *sink;
	FILE *snk;
	bool sink_finished;
};

static void pull(struct chan_set *cs, struct chan *ch);
static void item_free(struct chan_set *cs, struct item *it);

/* --- small helpers ----------------------------------------------------- */

static void send_error_as(struct aic_conn *c, uint16_t type, int code)
{
	json_t *m = json_pack("{s:i,s:s}", "code", code, "error", aic_strerror(code));

	aic_conn_send(c, type, m);
	json_decref(m);
}

/* An error answering a GET (ERROR) or a PUT (PUT_ERR: puts are pipelined). */
void chan_send_error(struct aic_conn *c, int code)
{
	send_error_as(c, AIC_MSG_ERROR, code);
}

static void put_error(struct aic_conn *c, int code)
{
	send_error_as(c, AIC_MSG_PUT_ERR, code);
}

static void push(struct queue *q, struct item *it, bool front)
{
	it->holder = NULL;
	if (front) {
		it->next = q->head;
		q->head = it;
		if (!q->tail)
			q->tail = it;
	} else {
		it->next = NULL;
		if (q->tail)
			q->tail->next = it;
		else
			q->head = it;
		q->tail = it;
	}
	q->n++;
}

static struct item *pop(struct queue *q)
{
	struct item *it = q->head;

	if (!it)
		return NULL;
	q->head = it->next;
	if (!q->head)
		q->tail = NULL;
	q->n--;
	it->next = NULL;
	return it;
}

static void free_wait(uv_handle_t *h)
{
	free(h->data);
}

static void unlink_wait(struct wait **list, struct wait *w)
{
	struct wait **pp;

	for (pp = list; *pp; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	item_free(w->ch->cs, w->item);
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

static struct chan *find(struct chan_set *cs, uint32_t id)
{
	return cs && id < cs->n ? &cs->chans[id] : NULL;
}

struct peer *chan_peer_of(struct chan_set *cs, uint32_t rank)
{
	size_t i;

	for (i = 0; i < cs->n_peers; i++)
		if (cs->peers[i].rank == rank)
			return &cs->peers[i];
	return NULL;
}

static void put_ok(struct aic_conn *c, uint64_t id)
{
	uint8_t b[8];

	aic_put_u64(b, id);
	aic_conn_send_raw(c, AIC_MSG_PUT_OK, b, sizeof(b), NULL, 0);
}

static const uint8_t *item_data(const struct chan_set *cs, const struct item *it)
{
	return it->shm ? cs->arena.base + it->shm : it->data;
}

/* An item with its payload inline (len bytes of data[]), or NULL. */
static struct item *item_new(size_t len)
{
	struct item *it = malloc(sizeof(*it) + len);

	if (it) {
		it->shm = 0;
		it->blk = NULL;
		it->sends = 0;
		it->dead = false;
	}
	return it;
}

static void blk_unref(struct frame_blk *b)
{
	if (--b->refs == 0) {
		aic_ring_free(&b->cs->arena, b->off);
		free(b);
	}
}

static void item_release(struct chan_set *cs, struct item *it)
{
	if (it->blk)
		blk_unref(it->blk);
	else if (it->shm)
		aic_ring_free(&cs->arena, it->shm);
	free(it);
}

/* An item leaves the channel: its memory goes once no send uses it. */
static void item_free(struct chan_set *cs, struct item *it)
{
	if (!it)
		return;
	if (it->sends)
		it->dead = true;
	else
		item_release(cs, it);
}

/* The arena region a worker connection owns, or 0 for none. */
size_t chan_region_of(const struct chan_set *cs, const struct aic_conn *c)
{
	size_t k;

	for (k = 1; cs->arena.base && k < ARENA_REGIONS; k++)
		if (cs->region_owner[k] == c)
			return k * cs->arena.region_size;
	return 0;
}

static bool remote_drained(const struct chan *ch)
{
	uint32_t r;

	for (r = 0; r < ch->n_remote; r++)
		if (!ch->drained[r])
			return false;
	return true;
}

/* --- delivery ------------------------------------------------------------ */

/* EOF to a worker (ITEMS) or, with the channel's id first, to a peer (PEER_ITEMS). */
static void send_eof(struct chan *ch, struct aic_conn *c, bool peer)
{
	uint8_t head[12];

	aic_put_u32(head, ch->id);
	aic_put_u32(head + 4, 0);
	aic_put_u32(head + 8, AIC_ITEMS_EOF);
	if (peer)
		aic_conn_send_raw(c, AIC_MSG_PEER_ITEMS, head, 12, NULL, 0);
	else
		aic_conn_send_raw(c, AIC_MSG_ITEMS, head + 4, 8, NULL, 0);
}

static void forward_ack(struct chan *ch, uint32_t producer, uint64_t id);

/* Drops queued items made with weights older than the newest version - k (they are acked). */
static void drop_stale(struct chan *ch)
{
	struct queue *qs[2] = {&ch->pulled, &ch->own};
	uint64_t newest;
	bool have = false;
	int q;

	if (ch->stale_stream < 0)
		return;
	newest = weights_version(ch->cs, ch->stale_stream, &have);
	if (!have || newest <= ch->stale_k)
		return;
	for (q = 0; q < 2; q++) {
		struct item **pp = &qs[q]->head, *it, *last = NULL;
		while ((it = *pp)) {
			if (it->version + ch->stale_k >= newest) {
				last = it;
				pp = &it->next;
				continue;
			}
			*pp = it->next;
			qs[q]->n--;
			if (it->producer != ch->cs->rank)
				forward_ack(ch, it->producer, it->id);
			item_free(ch->cs, it);
			ch->stale_dropped++;
		}
		qs[q]->tail = last;
	}
}

/*
 * Sends up to max items from the queues to c, which then holds them: to a
 * worker (ITEMS, pulled items first) or to a peer that pulls (PEER_ITEMS with
 * the channel's id first, own items only). Returns how many were sent.
 *
 * To a peer, an answer goes as frames of about PEER_FRAME_BYTES, all but the
 * last flagged AIC_ITEMS_MORE: the peer works on the first items while the
 * rest are on the wire, and asks again before the answer is complete.
 */
static uint32_t deliver_frame(struct chan *ch, struct aic_conn *c, uint32_t max, bool peer,
			      bool *more);

static uint32_t deliver(struct chan *ch, struct aic_conn *c, uint32_t max, bool peer)
{
	uint32_t sent = 0, n;
	bool more = true;

	while (more && sent < max && (n = deliver_frame(ch, c, max - sent, peer, &more)) > 0)
		sent += n;
	return sent;
}

/* A frame of items on its way to a peer: their payloads are sent from where they are. */
struct zsend {
	struct chan_set *cs;
	uint32_t n;
	struct item *items[];
};

static void zsend_done(void *arg, int status)
{
	struct zsend *z = arg;
	uint32_t k;

	(void)status; /* a failed send: the items come back when the peer's connection is forgotten */
	for (k = 0; k < z->n; k++)
		if (--z->items[k]->sends == 0 && z->items[k]->dead)
			item_release(z->cs, z->items[k]);
	chan_set_release(z->cs);
	free(z);
}

/*
 * The first n own items to a peer as one ITEMS frame of `bytes` item bytes
 * (headers included): the frame's headers and small payloads are built in
 * one buffer, large payloads are sent from the arena or the item itself
 * (writev), each held until the kernel has it. Returns n, or 0 (no memory).
 */
static uint32_t send_to_peer(struct chan *ch, struct aic_conn *c, uint32_t n, size_t bytes,
			     uint32_t flags)
{
	struct chan_set *cs = ch->cs;
	size_t hb = AIC_WIRE_HEADER + 12;
	uint32_t k, nz = 0, nb = 0;
	uint8_t *head, *p, *seg;
	struct item *it;
	struct zsend *z;
	uv_buf_t *bufs;

	for (k = 0, it = ch->own.head; k < n; k++, it = it->next) {
		hb += AIC_ITEM_HEADER;
		if (it->len >= ZERO_COPY_MIN_BYTES)
			nz++;
		else
			hb += it->len;
	}
	head = malloc(hb);
	bufs = malloc((2 * nz + 1) * sizeof(*bufs));
	z = malloc(sizeof(*z) + nz * sizeof(z->items[0]));
	if (!head || !bufs || !z) {
		free(head);
		free(bufs);
		free(z);
		return 0;
	}
	z->cs = cs;
	z->n = 0;
	aic_wire_header(head, AIC_MSG_PEER_ITEMS, (uint32_t)(12 + bytes));
	aic_put_u32(head + AIC_WIRE_HEADER, ch->id);
	aic_put_u32(head + AIC_WIRE_HEADER + 4, n);
	aic_put_u32(head + AIC_WIRE_HEADER + 8, flags);
	seg = head;
	p = head + AIC_WIRE_HEADER + 12;
	for (k = 0; k < n; k++) {
		it = pop(&ch->own);
		aic_item_hdr_encode(p, it->producer, it->id, it->version, it->len);
		p += AIC_ITEM_HEADER;
		if (it->len >= ZERO_COPY_MIN_BYTES) {
			bufs[nb++] = uv_buf_init((char *)seg, (unsigned)(p - seg));
			bufs[nb++] = uv_buf_init((char *)item_data(cs, it), it->len);
			seg = p;
			it->sends++;
			z->items[z->n++] = it;
		} else {
			memcpy(p, item_data(cs, it), it->len);
			p += it->len;
		}
		it->holder = c;
		it->next = ch->inflight;
		ch->inflight = it;
		if (it->producer == cs->rank)
			ch->n_own_inflight++;
	}
	if (p > seg)
		bufs[nb++] = uv_buf_init((char *)seg, (unsigned)(p - seg));
	cs->pending++;
	aic_conn_sendv(c, head, bufs, nb, zsend_done, z);
	free(bufs);
	return n;
}

/* Whether items to peers go as one zstd frame (compress: true, in a build with zstd). */
static bool zstd_frames(const struct chan *ch)
{
#ifdef HAVE_ZSTD
	return ch->compress;
#else
	(void)ch;
	return false;
#endif
}

static uint32_t deliver_frame(struct chan *ch, struct aic_conn *c, uint32_t max, bool peer,
			      bool *more)
{
	struct queue *qs[2] = {peer ? NULL : &ch->pulled, &ch->own};
	uint8_t *buf, *p, *start;
	size_t bytes = 0;
	uint32_t n = 0, k, flags = 0;
	struct item *it;
	int q;
	/* A worker that maps the arena reads arena items in place: only offsets travel. */
	bool in_place = !peer && chan_region_of(ch->cs, c) != 0;

	*more = false;
	if (!peer)
		drop_stale(ch);
	for (q = 0; q < 2; q++)
		for (it = qs[q] ? qs[q]->head : NULL; it && n < max; it = it->next, n++) {
			if (peer && n > 0 && bytes + it->len > PEER_FRAME_BYTES) {
				*more = true; /* the rest in the next frame of this answer */
				flags = AIC_ITEMS_MORE;
				break;
			}
			bytes += AIC_ITEM_HEADER + (in_place && it->shm ? 8 : it->len);
		}
	if (n == 0)
		return 0;
	/* To a peer, unless compressed as a whole below: large payloads by reference. */
	if (peer && !zstd_frames(ch))
		return send_to_peer(ch, c, n, bytes, flags);
	/*
	 * One buffer holds the frame: header, then the channel id (peers only),
	 * count, flags and the items; it is handed to the connection as it is.
	 */
	buf = malloc(AIC_WIRE_HEADER + 12 + bytes);
	if (!buf)
		return 0;
	start = buf + AIC_WIRE_HEADER;
	aic_put_u32(start, ch->id);
	aic_put_u32(start + 4, n);
	aic_put_u32(start + 8, flags);
	p = start + 12;
	for (k = 0, q = 0; k < n; k++) {
		while (!(it = qs[q] ? pop(qs[q]) : NULL))
			q++;
		if (in_place && it->shm) {
			aic_item_hdr_encode(p, it->producer, it->id, it->version,
					    it->len | AIC_ITEM_SHM);
			aic_put_u64(p + AIC_ITEM_HEADER, it->shm);
			p += AIC_ITEM_HEADER + 8;
		} else {
			aic_item_hdr_encode(p, it->producer, it->id, it->version, it->len);
			memcpy(p + AIC_ITEM_HEADER, item_data(ch->cs, it), it->len);
			p += AIC_ITEM_HEADER + it->len;
		}
		it->holder = c;
		it->next = ch->inflight;
		ch->inflight = it;
		if (it->producer == ch->cs->rank)
			ch->n_own_inflight++;
	}
#ifdef HAVE_ZSTD
	/* Between nodes, a compressible channel's items travel as one zstd frame. */
	if (peer && ch->compress && (size_t)(p - start - 12) >= ZSTD_MIN_BYTES) {
		size_t raw = (size_t)(p - start - 12), bound = ZSTD_compressBound(raw), z;
		uint8_t *zbuf = malloc(AIC_WIRE_HEADER + 16 + bound);
		if (zbuf) {
			z = ZSTD_compress(zbuf + AIC_WIRE_HEADER + 16, bound, start + 12, raw, ZSTD_LEVEL);
			if (!ZSTD_isError(z) && z < raw) {
				ch->zstd_in += raw;
				ch->zstd_out += z;
				memcpy(zbuf + AIC_WIRE_HEADER, start, 12);
				aic_put_u32(zbuf + AIC_WIRE_HEADER + 8, flags | AIC_ITEMS_ZSTD);
				aic_put_u32(zbuf + AIC_WIRE_HEADER + 12, (uint32_t)raw);
				aic_wire_header(zbuf, AIC_MSG_PEER_ITEMS, (uint32_t)(16 + z));
				free(buf);
				aic_conn_send_owned(c, zbuf, zbuf, AIC_WIRE_HEADER + 16 + z);
				return n;
			}
			free(zbuf);
		}
	}
#endif
	/* A worker's ITEMS has no channel id: its header goes 4 bytes later. */
	if (!peer)
		start += 4;
	aic_wire_header(start - AIC_WIRE_HEADER, peer ? AIC_MSG_PEER_ITEMS : AIC_MSG_ITEMS,
			(uint32_t)(p - start));
	aic_conn_send_owned(c, buf, start - AIC_WIRE_HEADER, (size_t)(p - start) + AIC_WIRE_HEADER);
	return n;
}

static void source_finished(struct chan *ch, int err)
{
	if (ch->src)
		fclose(ch->src);
	ch->src = NULL;
	free(ch->source);
	ch->source = NULL;
	if (ch->cs->source_done)
		ch->cs->source_done(ch->cs->source_arg, ch->id, err);
}

/* Reads source lines into free slots; at the end of the file, the next epoch. */
static void refill(struct chan *ch)
{
	while (ch->src && ch->own.n + ch->n_own_inflight < ch->capacity) {
		ssize_t n = getline(&ch->line, &ch->line_cap, ch->src);
		struct item *it;
		if (n < 0) {
			if (ferror(ch->src)) {
				source_finished(ch, -EIO);
			} else if (--ch->epochs_left > 0) {
				rewind(ch->src);
			} else {
				source_finished(ch, 0);
			}
			continue;
		}
		while (n > 0 && (ch->line[n - 1] == '\n' || ch->line[n - 1] == '\r'))
			n--;
		if (n == 0)
			continue;
		it = item_new((size_t)n);
		if (!it)
			return;
		it->producer = ch->cs->rank;
		it->id = ch->next_id++;
		it->version = 0;
		it->len = (uint32_t)n;
		memcpy(it->data, ch->line, (size_t)n);
		push(&ch->own, it, false);
	}
}

static void forward_ack(struct chan *ch, uint32_t producer, uint64_t id);

static void sink_finished(struct chan *ch, int err)
{
	if (ch->snk && fclose(ch->snk) != 0 && !err)
		err = -errno;
	ch->snk = NULL;
	ch->sink_finished = true;
	if (ch->cs->sink_done)
		ch->cs->sink_done(ch->cs->sink_arg, ch->id, err);
}

/* The sink takes whatever is queued: one line per item, acked at once. */
static void drain_to_sink(struct chan *ch)
{
	struct queue *qs[2] = {&ch->pulled, &ch->own};
	struct item *it;
	int q;

	for (q = 0; q < 2 && ch->snk; q++)
		while ((it = pop(qs[q]))) {
			if (fwrite(item_data(ch->cs, it), 1, it->len, ch->snk) != it->len ||
			    fputc('\n', ch->snk) == EOF) {
				aic_log_error("channel '%s': cannot write its sink '%s'", ch->name, ch->sink);
				sink_finished(ch, -EIO);
			}
			if (it->producer != ch->cs->rank)
				forward_ack(ch, it->producer, it->id);
			item_free(ch->cs, it);
		}
	if (ch->snk)
		fflush(ch->snk);
}

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
static bool wants_pull(const struct chan *ch)
{
	return ch->gets || ch->snk || ch->readers;
}

/* Moves waiting producers into free slots, then feeds waiting consumers and peers. */
static void pump(struct chan *ch)
{
	bool eof;

	refill(ch);
	drain_to_sink(ch);
	while (ch->puts && ch->own.n + ch->n_own_inflight < ch->capacity) {
		struct wait *w = ch->puts;
		struct item *it = w->item;
		w->item = NULL;
		push(&ch->own, it, false);
		put_ok(w->c, it->id);
		unlink_wait(&ch->puts, w);
	}
	while (ch->gets && deliver(ch, ch->gets->c, ch->gets->max, false))
		unlink_wait(&ch->gets, ch->gets);
	while (ch->pulls && deliver(ch, ch->pulls->c, ch->pulls->max, true))
		unlink_wait(&ch->pulls, ch->pulls);
	/*
	 * Closed: peers learn that this node's part is drained; workers, that all
	 * is. Items in flight to the asker itself do not hold its end back: it
	 * has them, and nothing else can come to it unless it goes away (a
	 * consumer that gathers a batch before acking still sees the end).
	 */
	if (ch->closed && ch->own.n == 0) {
		struct wait *w, *next;
		for (w = ch->pulls; w; w = next) {
			next = w->next;
			if (!held_only_by(ch, w->c, true))
				continue;
			send_eof(ch, w->c, true);
			unlink_wait(&ch->pulls, w);
		}
	}
	eof = ch->closed && !ch->own.n && !ch->pulled.n && remote_drained(ch);
	if (eof) {
		struct wait *w, *next;
		for (w = ch->gets; w; w = next) {
			next = w->next;
			if (!held_only_by(ch, w->c, false))
				continue;
			send_eof(ch, w->c, false);
			unlink_wait(&ch->gets, w);
		}
	}
	eof = eof && !ch->inflight;
	if (eof && ch->snk)
		sink_finished(ch, 0);
	if (wants_pull(ch))
		pull(ch->cs, ch);
}

/* --- peers ---------------------------------------------------------------- */

static void peer_frame(struct aic_conn *c, uint16_t type, json_t *m, const struct aic_frame *f);
static void peer_closed(struct aic_conn *c);

/*
 * A peer's ITEMS frame of `length` bytes is read straight into a block of
 * the agent's arena region, unless compressed (it is decompressed from the
 * buffer) or the ring has no room for it now.
 */
static uint8_t *items_direct_begin(struct chan_set *cs, uint32_t length, const uint8_t *head,
				   void **arg)
{
	struct frame_blk *b;
	uint64_t off;

	if (!cs->arena.base || (aic_get_u32(head + 8) & AIC_ITEMS_ZSTD) || !find(cs, aic_get_u32(head)))
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

uint8_t *chan_set_direct_begin(struct chan_set *cs, struct aic_conn *c, uint16_t type,
			       uint32_t length, const uint8_t *head, uint32_t have, uint32_t *skip,
			       void **arg)
{
	uint8_t *dest = NULL;

	if (!cs || cs->freeing)
		return NULL;
	if (type == AIC_MSG_PEER_ITEMS && c->owner == cs && c->data) {
		*skip = 0;
		dest = items_direct_begin(cs, length, head, arg);
	} else if (type == AIC_MSG_W_PEER) {
		dest = weights_direct_begin(cs, length, head, have, skip, arg);
	}
	if (dest)
		cs->pending++;
	return dest;
}

void chan_set_direct_end(struct aic_conn *c, uint16_t type, uint8_t *dest, void *arg, bool whole)
{
	struct chan_set *cs;

	(void)c;
	(void)dest;
	(void)whole; /* what the frame's handler did not take is given back either way */
	if (type == AIC_MSG_W_PEER) {
		cs = weights_direct_end(arg);
	} else {
		cs = ((struct frame_blk *)arg)->cs;
		blk_unref(arg);
	}
	chan_set_release(cs);
}

/* The peer connections this agent opens read items in place. */
static uint8_t *peer_direct_begin(struct aic_conn *c, uint16_t type, uint32_t length,
				  const uint8_t *head, uint32_t have, uint32_t *skip, void **arg)
{
	return chan_set_direct_begin(c->owner, c, type, length, head, have, skip, arg);
}

struct aic_conn *chan_peer_conn(struct chan_set *cs, struct peer *p)
{
	json_t *hello;

	if (p->conn)
		return p->conn;
	hello = json_pack("{s:s,s:i}", "role", "agent", "rank", (int)cs->rank);
	p->conn = aic_conn_connect(cs->loop, p->addr, p->port, cs->token, hello, peer_frame,
				   peer_closed, cs);
	if (p->conn) {
		p->conn->data = p;
		p->conn->direct_begin = peer_direct_begin;
		p->conn->direct_end = chan_set_direct_end;
	}
	return p->conn;
}

/*
 * Asks the peers that produce the channel for what local consumers wait for,
 * plus a prefetch (see PREFETCH) once local workers read the channel, so
 * that the network works while they compute.
 * Every peer without a pull in flight is asked (they answer with what they
 * have, at most what was asked).
 */
static void pull(struct chan_set *cs, struct chan *ch)
{
	uint32_t want = 0, tries, per_pull;
	struct wait *w;

	for (w = ch->gets; w; w = w->next)
		want += w->max;
	if (ch->snk)
		want += 64;
	if (ch->readers) {
		uint32_t ahead = ch->capacity / 4;
		want += ahead < 1 ? 1 : ahead > PREFETCH ? PREFETCH : ahead;
	}
	/* Each pull asks a share, so that a second one is in flight as the first is answered. */
	per_pull = want / PULL_WINDOW > 0 ? want / PULL_WINDOW : 1;
	for (tries = 0; tries < ch->n_remote * PULL_WINDOW && want > ch->pulled.n + ch->asked; tries++) {
		uint32_t r = ch->next_remote++ % ch->n_remote, n;
		struct peer *p;
		uint8_t req[12];
		if (ch->drained[r] || ch->pulls_out[r] >= PULL_WINDOW)
			continue;
		p = chan_peer_of(cs, ch->remote[r]);
		if (!p || !chan_peer_conn(cs, p))
			continue;
		if (!p->conn->authed)
			continue; /* connecting: its WELCOME pulls again */
		n = want - ch->pulled.n - ch->asked;
		n = n > per_pull ? per_pull : n;
		aic_put_u32(req, ch->id);
		aic_put_u32(req + 4, n);
		aic_put_u32(req + 8, PULL_WAIT_MS);
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

/* Peer r went away: its pulls in flight will not be answered. */
static void pulls_lost(struct chan *ch, uint32_t r)
{
	while (ch->pulls_out[r])
		pull_answered(ch, r, 0, true);
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

/*
 * A peer answered a PULL: its items join the pulled queue. They are copied,
 * unless the frame was read into a block of the arena (blk): then they
 * stay where they are.
 */
static void on_items(struct chan_set *cs, struct peer *p, const uint8_t *b, uint32_t len,
		     struct frame_blk *blk)
{
	uint32_t ci, n, flags, i, r;
	struct chan *ch;
	const uint8_t *q, *end = b + len;

	/* ITEMS from a peer carry the channel first (it may answer several). */
	if (len < 12 || !(ch = find(cs, (ci = aic_get_u32(b)))))
		return;
	n = aic_get_u32(b + 4);
	flags = aic_get_u32(b + 8);
	if (flags & AIC_ITEMS_ZSTD) {
#ifdef HAVE_ZSTD
		uint32_t raw = len >= 16 ? aic_get_u32(b + 12) : 0;
		uint8_t *plain = raw && raw <= AIC_WIRE_MAX_PAYLOAD ? malloc(12 + (size_t)raw) : NULL;
		size_t got;
		if (!plain) {
			aic_log_error("channel '%s': a peer's compressed items are too large", ch->name);
			return;
		}
		got = ZSTD_decompress(plain + 12, raw, b + 16, len - 16);
		if (ZSTD_isError(got) || got != raw) {
			aic_log_error("channel '%s': a peer's compressed items are corrupt", ch->name);
			free(plain);
			return;
		}
		memcpy(plain, b, 12);
		aic_put_u32(plain + 8, flags & ~AIC_ITEMS_ZSTD);
		on_items(cs, p, plain, 12 + raw, NULL);
		free(plain);
		return;
#else
		aic_log_error("channel '%s': a peer sent zstd items and this build has no zstd", ch->name);
		return;
#endif
	}
	for (r = 0; r < ch->n_remote; r++)
		if (ch->remote[r] == p->rank) {
			pull_answered(ch, r, n, !(flags & AIC_ITEMS_MORE));
			if (flags & AIC_ITEMS_EOF)
				ch->drained[r] = true;
		}
	q = b + 12;
	for (i = 0; i < n && end - q >= AIC_ITEM_HEADER; i++) {
		struct aic_item_hdr h;
		uint32_t l;
		struct item *it;
		aic_item_hdr_decode(q, &h);
		l = h.len;
		if ((size_t)(end - q - AIC_ITEM_HEADER) < l)
			break;
		if (blk && (it = item_new(0))) {
			it->shm = (uint64_t)(q + AIC_ITEM_HEADER - cs->arena.base);
			it->blk = blk;
			blk->refs++;
		} else {
			it = pulled_item(cs, q + AIC_ITEM_HEADER, l);
		}
		if (!it)
			break;
		if (it->shm)
			ch->arena_items++;
		it->producer = h.producer;
		it->id = h.id;
		it->version = h.version;
		it->len = l;
		push(&ch->pulled, it, false);
		q += AIC_ITEM_HEADER + l;
	}
	pump(ch);
}


static void peer_frame(struct aic_conn *c, uint16_t type, json_t *m, const struct aic_frame *f)
{
	struct chan_set *cs = c->owner;

	(void)m;
	if (type == AIC_MSG_PEER_ITEMS && c->data) {
		/* Read in place (items_direct_begin): the whole payload is in the block. */
		on_items(cs, c->data, f->body ? f->body : f->payload, f->length,
			 f->body ? c->direct_arg : NULL);
	} else if (type == AIC_MSG_WELCOME) {
		/*
		 * Now that the peer has let us in, ask it for what readers and sinks
		 * here wait for: pulls tried while it was connecting were not sent,
		 * and nothing else may come along to try them again.
		 */
		size_t i;
		for (i = 0; i < cs->n; i++)
			if (wants_pull(&cs->chans[i]))
				pull(cs, &cs->chans[i]);
		weights_flush(cs);
	} else if (type == AIC_MSG_REJECT) {
		aic_log_error("a peer agent refused this agent");
	}
}

static void peer_closed(struct aic_conn *c)
{
	struct peer *p = c->data;
	struct chan_set *cs = c->owner;
	size_t i;
	uint32_t r;

	if (!p)
		return;
	p->conn = NULL;
	/* Its outstanding pulls are void; what it had sent us stays ours. */
	for (i = 0; i < cs->n; i++)
		for (r = 0; r < cs->chans[i].n_remote; r++)
			if (cs->chans[i].remote[r] == p->rank)
				pulls_lost(&cs->chans[i], r);
}

/* --- frames from workers and from peers that pull -------------------------- */

static struct wait *new_wait(struct chan *ch, struct aic_conn *c)
{
	struct wait *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->ch = ch;
	w->c = c;
	uv_timer_init(ch->cs->loop, &w->timer);
	w->timer.data = w;
	return w;
}

static void wait_expired(uv_timer_t *t)
{
	struct wait *w = t->data;
	struct chan *ch = w->ch;

	if (w->pull) {
		/* A long poll that found nothing: an empty answer, with the channel. */
		uint8_t head[12];
		aic_put_u32(head, ch->id);
		aic_put_u32(head + 4, 0);
		aic_put_u32(head + 8, 0);
		aic_conn_send_raw(w->c, AIC_MSG_PEER_ITEMS, head, sizeof(head), NULL, 0);
		unlink_wait(&ch->pulls, w);
		return;
	}
	if (w->item) {
		put_error(w->c, -ETIMEDOUT);
		unlink_wait(&ch->puts, w);
	} else {
		chan_send_error(w->c, -ETIMEDOUT);
		unlink_wait(&ch->gets, w);
	}
}

static void start_timer(struct wait *w, uint32_t timeout_ms)
{
	if (timeout_ms != AIC_WIRE_FOREVER)
		uv_timer_start(&w->timer, wait_expired, timeout_ms, 0);
}

/*
 * PUT (the payload follows the header) or PUT_SHM (it is in the producer's
 * arena region: only its offset and length follow, checked to name a live
 * block of that region before the agent believes them).
 */
static void on_put(struct chan_set *cs, struct aic_conn *c, const uint8_t *p, uint32_t len,
		   bool shm)
{
	struct chan *ch = len >= 16 ? find(cs, aic_get_u32(p)) : NULL;
	uint64_t off = 0;
	uint32_t n = len >= 16 ? len - 16 : 0;
	struct item *it;
	struct wait *w;

	if (shm) {
		size_t region = chan_region_of(cs, c);
		off = len == 28 ? aic_get_u64(p + 16) : 0;
		n = len == 28 ? aic_get_u32(p + 24) : 0;
		/* Only in the sender's own region (0 is "none": the agent's own is never a worker's). */
		if (!off || !region || !aic_ring_valid(&cs->arena, region, off, n)) {
			put_error(c, -EINVAL);
			return;
		}
	}
	if (!ch) {
		aic_ring_free(&cs->arena, off);
		put_error(c, -ENOENT);
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
	if (ch->own.n + ch->n_own_inflight < ch->capacity && !ch->puts) {
		push(&ch->own, it, false);
		put_ok(c, it->id);
		pump(ch);
		return;
	}
	/* Full: the producer waits for an ack to free a slot (backpressure). */
	w = new_wait(ch, c);
	if (!w) {
		item_free(cs, it);
		put_error(c, -ENOMEM);
		return;
	}
	w->item = it;
	append_wait(&ch->puts, w);
	start_timer(w, aic_get_u32(p + 12));
}

static void on_get(struct chan_set *cs, struct aic_conn *c, const uint8_t *p, uint32_t len,
		   bool is_pull)
{
	struct chan *ch = len >= 12 ? find(cs, aic_get_u32(p)) : NULL;
	uint32_t max = len >= 12 ? aic_get_u32(p + 4) : 0;
	struct wait *w;

	if (!ch || max == 0) {
		chan_send_error(c, ch ? -EINVAL : -ENOENT);
		return;
	}
	w = new_wait(ch, c);
	if (!w) {
		chan_send_error(c, -ENOMEM);
		return;
	}
	w->max = max;
	w->pull = is_pull;
	if (!is_pull)
		ch->readers = true;
	append_wait(is_pull ? &ch->pulls : &ch->gets, w);
	start_timer(w, aic_get_u32(p + 8));
	pump(ch);
}

/* Tells the producing agent that one of its items was acked here. */
static void forward_ack(struct chan *ch, uint32_t producer, uint64_t id)
{
	struct peer *pr = chan_peer_of(ch->cs, producer);
	uint8_t b[8 + AIC_ACK_ENTRY];

	aic_put_u32(b, ch->id);
	aic_put_u32(b + 4, 1);
	aic_ack_encode(b + 8, producer, id);
	if (pr && pr->conn)
		aic_conn_send_raw(pr->conn, AIC_MSG_ACK, b, sizeof(b), NULL, 0);
}

/* Frees acked items; forwards acks of pulled items to their producers. */
static void on_ack(struct chan_set *cs, struct aic_conn *c, const uint8_t *p, uint32_t len)
{
	struct chan *ch = len >= 8 ? find(cs, aic_get_u32(p)) : NULL;
	uint32_t n, i;

	if (!ch)
		return;
	n = aic_get_u32(p + 4);
	if ((uint64_t)n * AIC_ACK_ENTRY > len - 8)
		return;
	for (i = 0; i < n; i++) {
		uint32_t producer;
		uint64_t id;
		struct item **pp;
		aic_ack_decode(p + 8 + i * AIC_ACK_ENTRY, &producer, &id);
		for (pp = &ch->inflight; *pp; pp = &(*pp)->next) {
			struct item *it = *pp;
			if (it->holder != c || it->id != id || it->producer != producer)
				continue;
			*pp = it->next;
			if (producer == cs->rank)
				ch->n_own_inflight--;
			else
				forward_ack(ch, producer, id);
			item_free(cs, it);
			break;
		}
	}
	pump(ch);
}

json_t *chan_set_stats(const struct chan_set *cs)
{
	json_t *o = json_object();
	size_t i;

	for (i = 0; cs && i < cs->n; i++) {
		const struct chan *ch = &cs->chans[i];
		json_object_set_new(o, ch->name,
				    json_pack("{s:I,s:I,s:I,s:I}", "stale_dropped",
					      (json_int_t)ch->stale_dropped, "zstd_in_bytes",
					      (json_int_t)ch->zstd_in, "zstd_out_bytes",
					      (json_int_t)ch->zstd_out, "arena_items",
					      (json_int_t)ch->arena_items));
	}
	return json_pack("{s:o}", "channels", o);
}

void chan_set_frame(struct chan_set *cs, struct aic_conn *c, const struct aic_frame *f)
{
	if (weights_frame_type(f->type)) {
		weights_frame(cs, c, f);
		return;
	}
	switch (f->type) {
	case AIC_MSG_PUT:
	case AIC_MSG_PUT_SHM:
		on_put(cs, c, f->payload, f->length, f->type == AIC_MSG_PUT_SHM);
		break;
	case AIC_MSG_GET:
		on_get(cs, c, f->payload, f->length, false);
		break;
	case AIC_MSG_PULL:
		on_get(cs, c, f->payload, f->length, true);
		break;
	case AIC_MSG_ACK:
		on_ack(cs, c, f->payload, f->length);
		break;
	default:
		chan_send_error(c, AIC_EPROTO);
	}
}

int chan_set_arena_env(struct chan_set *cs, long proc, char *buf, size_t size)
{
	size_t k, free_k = 0;

	if (!cs || !cs->arena.base)
		return -1;
	for (k = 1; k < ARENA_REGIONS; k++) {
		if (cs->region_proc[k] == proc + 1)
			break;
		if (!cs->region_proc[k] && !free_k)
			free_k = k;
	}
	if (k == ARENA_REGIONS) {
		if (!free_k)
			return -1; /* more processes than regions: the rest go inline */
		k = free_k;
		cs->region_proc[k] = proc + 1;
	}
	snprintf(buf, size, "%d:%zu:%zu", cs->arena.fd, k * cs->arena.region_size,
		 cs->arena.region_size);
	return cs->arena.fd;
}

bool chan_set_hello(struct chan_set *cs, struct aic_conn *c, const json_t *hello)
{
	const json_t *v = json_object_get(hello, "arena");
	json_int_t off = json_is_integer(v) ? json_integer_value(v) : -1;
	size_t k;

	if (!cs || !cs->arena.base || off <= 0 || (size_t)off % cs->arena.region_size)
		return false;
	k = (size_t)off / cs->arena.region_size;
	/* One process writes a region: a second connection (a forked child, say) goes inline. */
	if (k >= ARENA_REGIONS || !cs->region_proc[k] || cs->region_owner[k])
		return false;
	cs->region_owner[k] = c;
	return true;
}

/* Whether an item still names the block at off (the sweep of an owner-less region). */
static bool block_in_use(uint64_t off, void *arg)
{
	struct chan_set *cs = arg;
	const struct item *it;
	const struct wait *w;
	size_t i;
	int q;

	for (i = 0; i < cs->n; i++) {
		const struct chan *ch = &cs->chans[i];
		const struct queue *qs[2] = {&ch->own, &ch->pulled};
		for (q = 0; q < 2; q++)
			for (it = qs[q]->head; it; it = it->next)
				if (it->shm == off)
					return true;
		for (it = ch->inflight; it; it = it->next)
			if (it->shm == off)
				return true;
		for (w = ch->puts; w; w = w->next)
			if (w->item && w->item->shm == off)
				return true;
	}
	return false;
}

void chan_set_forget(struct chan_set *cs, struct aic_conn *c)
{
	size_t i, k;

	/*
	 * A writer that went away may have died between allocating a block and
	 * putting it: blocks no item names are given back, so its successor's
	 * ring does not stall on them.
	 */
	for (k = 1; cs && k < ARENA_REGIONS; k++)
		if (cs->region_owner[k] == c) {
			cs->region_owner[k] = NULL;
			aic_ring_sweep(&cs->arena, k * cs->arena.region_size, block_in_use, cs);
		}
	weights_forget(cs, c);
	for (i = 0; cs && i < cs->n; i++) {
		struct chan *ch = &cs->chans[i];
		struct item **pp = &ch->inflight, *it;
		struct queue back = {0};
		struct wait *w, *next;
		/* Its un-acked items go back to the head of their queue, in order. */
		while ((it = *pp)) {
			if (it->holder != c) {
				pp = &it->next;
				continue;
			}
			*pp = it->next;
			if (it->producer == cs->rank)
				ch->n_own_inflight--;
			push(&back, it, true);
		}
		if (back.n)
			aic_log_info("channel '%s': %u un-acked item%s of a lost consumer will be "
				     "delivered again",
				     ch->name, back.n, back.n == 1 ? "" : "s");
		while ((it = pop(&back)))
			push(it->producer == cs->rank ? &ch->own : &ch->pulled, it, true);
		for (w = ch->puts; w; w = next) {
			next = w->next;
			if (w->c == c)
				unlink_wait(&ch->puts, w);
		}
		for (w = ch->gets; w; w = next) {
			next = w->next;
			if (w->c == c)
				unlink_wait(&ch->gets, w);
		}
		for (w = ch->pulls; w; w = next) {
			next = w->next;
			if (w->c == c)
				unlink_wait(&ch->pulls, w);
		}
		pump(ch);
	}
}

void chan_set_close(struct chan_set *cs, uint32_t id)
{
	struct chan *ch = find(cs, id);

	if (!ch || ch->closed)
		return;
	ch->closed = true;
	pump(ch);
}

struct chan_set *chan_set_new(uv_loop_t *loop, const json_t *config, uint32_t rank,
			      const char *token)
{
	struct chan_set *cs = calloc(1, sizeof(*cs));
	const json_t *list = json_object_get(config, "channels"), *v, *r;
	size_t i, k;

	if (!cs)
		return NULL;
	cs->loop = loop;
	cs->rank = rank;
	cs->token = token;
	if (aic_arena_create(&cs->arena, ARENA_REGIONS, ARENA_REGION_BYTES,
			     weights_arena_bytes(json_array_size(json_object_get(config, "weights")))) != 0)
		aic_log_info("no shared-memory arena on this node: items and weights travel inline");
	json_array_foreach(json_object_get(config, "agents"), i, v) {
		struct peer *p;
		if (cs->n_peers >= MAX_PEERS || (uint32_t)json_integer_value(json_object_get(v, "rank")) == rank)
			continue;
		p = &cs->peers[cs->n_peers++];
		p->rank = (uint32_t)json_integer_value(json_object_get(v, "rank"));
		snprintf(p->addr, sizeof(p->addr), "%s", json_string_value(json_object_get(v, "addr")) ?: "");
		p->port = (int)json_integer_value(json_object_get(v, "port"));
	}
	cs->n = json_array_size(list);
	cs->chans = calloc(cs->n + 1, sizeof(*cs->chans));
	if (!cs->chans || weights_init(cs, config) != 0) {
		free(cs->chans);
		aic_arena_detach(&cs->arena);
		free(cs);
		return NULL;
	}
	json_array_foreach(list, i, v) {
		struct chan *ch = &cs->chans[i];
		ch->cs = cs;
		ch->id = (uint32_t)i;
		snprintf(ch->name, sizeof(ch->name), "%s", json_string_value(json_object_get(v, "name")) ?: "");
		ch->capacity = (uint32_t)json_integer_value(json_object_get(v, "capacity"));
		if (ch->capacity == 0)
			ch->capacity = 1;
		ch->closed = json_is_true(json_object_get(v, "closed"));
		ch->compress = json_is_true(json_object_get(v, "compress"));
		ch->stale_stream = -1;
		if (json_is_object(json_object_get(v, "stale"))) {
			ch->stale_stream = (int)json_integer_value(json_object_get(json_object_get(v, "stale"), "stream"));
			ch->stale_k = (uint64_t)json_integer_value(json_object_get(json_object_get(v, "stale"), "k"));
		}
		json_array_foreach(json_object_get(v, "producers"), k, r) {
			uint32_t pr = (uint32_t)json_integer_value(r);
			if (pr != rank && ch->n_remote < MAX_PEERS)
				ch->remote[ch->n_remote++] = pr;
		}
		if (json_is_string(json_object_get(v, "sink")) &&
		    json_integer_value(json_object_get(v, "sink_agent")) == (json_int_t)rank)
			ch->sink = strdup(json_string_value(json_object_get(v, "sink")));
		if (json_is_string(json_object_get(v, "source")) &&
		    json_integer_value(json_object_get(v, "feeder")) == (json_int_t)rank) {
			ch->source = strdup(json_string_value(json_object_get(v, "source")));
			ch->epochs_left = (int)json_integer_value(json_object_get(v, "epochs"));
			if (ch->epochs_left < 1)
				ch->epochs_left = 1;
		}
	}
	return cs;
}

void chan_set_on_sink_done(struct chan_set *cs, void (*done)(void *arg, uint32_t chan, int err),
			   void *arg)
{
	size_t i;

	if (!cs)
		return;
	cs->sink_done = done;
	cs->sink_arg = arg;
	for (i = 0; i < cs->n; i++) {
		struct chan *ch = &cs->chans[i];
		if (!ch->sink)
			continue;
		ch->snk = fopen(ch->sink, "a");
		if (!ch->snk) {
			int err = -errno;
			aic_log_error("channel '%s': cannot write its sink '%s': %s", ch->name, ch->sink,
				      aic_strerror(err));
			sink_finished(ch, err);
			continue;
		}
		pump(ch);
	}
}

void chan_set_on_source_done(struct chan_set *cs, void (*done)(void *arg, uint32_t chan, int err),
			     void *arg)
{
	size_t i;

	if (!cs)
		return;
	cs->source_done = done;
	cs->source_arg = arg;
	/* Open the sources this agent feeds (as the user), and fill their queues. */
	for (i = 0; i < cs->n; i++) {
		struct chan *ch = &cs->chans[i];
		if (!ch->source)
			continue;
		ch->src = fopen(ch->source, "r");
		if (!ch->src) {
			aic_log_error("channel '%s': cannot read source '%s': %s", ch->name, ch->source,
				      aic_strerror(-errno));
			source_finished(ch, -errno ? -errno : -EIO);
			continue;
		}
		pump(ch);
	}
}

json_t *chan_set_names(const struct chan_set *cs)
{
	json_t *o = json_object();
	size_t i;

	for (i = 0; cs && i < cs->n; i++)
		json_object_set_new(o, cs->chans[i].name, json_integer((json_int_t)i));
	return o;
}

static void free_queue(struct chan_set *cs, struct queue *q)
{
	struct item *it;

	while ((it = pop(q)))
		item_free(cs, it);
}

/* The rest of chan_set_free, once no send or in-place read uses the arena or a stream. */
static void chan_set_finish(struct chan_set *cs)
{
	weights_free(cs);
	free(cs->chans);
	aic_arena_detach(&cs->arena);
	free(cs);
}

void chan_set_release(struct chan_set *cs)
{
	if (--cs->pending == 0 && cs->freeing)
		chan_set_finish(cs);
}

void chan_set_free(struct chan_set *cs)
{
	size_t i;

	if (!cs)
		return;
	for (i = 0; i < cs->n; i++) {
		struct chan *ch = &cs->chans[i];
		struct item *it;
		while (ch->puts)
			unlink_wait(&ch->puts, ch->puts);
		while (ch->gets)
			unlink_wait(&ch->gets, ch->gets);
		while (ch->pulls)
			unlink_wait(&ch->pulls, ch->pulls);
		free_queue(cs, &ch->own);
		free_queue(cs, &ch->pulled);
		if (ch->src)
			fclose(ch->src);
		if (ch->snk)
			fclose(ch->snk);
		free(ch->source);
		free(ch->sink);
		free(ch->line);
		while ((it = ch->inflight)) {
			ch->inflight = it->next;
			item_free(cs, it);
		}
	}
	/*
	 * Closing a connection ends its sends and reads (conn.h): the last of
	 * those still going finishes the job; items they hold were freed above
	 * (they go when their sends are done).
	 */
	for (i = 0; i < cs->n_peers; i++)
		if (cs->peers[i].conn) {
			cs->peers[i].conn->data = NULL;
			aic_conn_close(cs->peers[i].conn);
		}
	cs->freeing = true;
	if (cs->pending == 0)
		chan_set_finish(cs);
}
