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

#include "arena.h"
#include "chan.h"
#include "error.h"
#include "log.h"

/* Items between agents are compressed (when the channel says so) above this size. */
#define ZSTD_MIN_BYTES 512
#define ZSTD_LEVEL 1

#define PULL_WAIT_MS 500 /* a peer's long poll: answered empty after this */
#define PULL_WINDOW 2	 /* pulls in flight to one peer */
#define PEER_FRAME_BYTES (1u << 20)
/*
 * Items pulled ahead for local readers: at most this many, and at most a
 * quarter of the channel's capacity, so that one node's readers do not
 * hoard what readers elsewhere wait for (work goes to whoever asks).
 */
#define PREFETCH 64
#define MAX_PEERS 64

/*
 * The node's arena (arena.h): region 0 holds items pulled from other nodes,
 * regions 1.. belong to local processes, one each (a restarted process gets
 * its predecessor's). Virtual size only: pages exist once written.
 */
#define ARENA_REGIONS 32
#define ARENA_REGION_BYTES (16u << 20)
#define ARENA_MIN_BYTES 4096 /* smaller pulled items stay in the agent's heap */

struct item {
	struct item *next;
	struct aic_conn *holder; /* in flight to this worker or peer */
	uint32_t producer;	 /* agent rank that made it */
	uint64_t id, version;
	uint64_t shm; /* the payload's arena offset, or 0: the payload is data[] */
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

struct peer {
	uint32_t rank;
	char addr[64];
	int port;
	struct aic_conn *conn;
};

/* A reader of a weight stream waiting for a newer version. */
struct wwait {
	struct wwait *next;
	struct wstream *ws;
	struct aic_conn *c;
	uint64_t min;
	uv_timer_t timer;
};

/*
 * A weight version's place in the node's arena, after the item regions:
 * WEIGHT_SLOTS per stream, WEIGHT_SLOT_BYTES each (virtual: pages exist
 * only while a version is in them). The writer's worker fills a slot
 * itself, chains assemble into one, and local readers map the newest
 * version read-only instead of receiving it through a socket. A slot is
 * busy while written, newest, or held by a reader (a lease, until the
 * reader is given a newer version): never rewritten under a reader.
 */
#define WEIGHT_SLOTS 4
#define WEIGHT_SLOT_BYTES ((size_t)4 << 30)

struct wslot {
	uint64_t off;		 /* in the arena */
	size_t len;		 /* bytes in use */
	struct aic_conn *writer; /* the worker filling it, until it commits */
	bool assembling;	 /* a version arriving from the chain */
	uint32_t leases;	 /* local readers holding it */
};

/* A local reader's hold on the slot of the version it was last given. */
struct wlease {
	struct wlease *next;
	struct aic_conn *c;
	struct wstream *ws;
	int slot;
};

/*
 * A weight stream: the newest version this node has, one copy, and the
 * version on its way through here. Versions travel down a chain: the
 * receivers in the head's order, without the publisher's agent (the
 * origin), which sends to the first; each agent forwards every chunk to the
 * next as soon as it has it, so N nodes cost about one transfer plus a
 * chunk per hop, not N transfers from the origin.
 */
struct wstream {
	struct chan_set *cs;
	uint32_t id;
	char name[64];
	bool have;
	uint64_t version;
	uint8_t *blob;
	size_t len;
	uint32_t n_receivers;
	uint32_t receivers[MAX_PEERS]; /* agents with readers or the writer */
	struct wwait *waits;
	/* Where versions live when they can: slots in the arena, read in place. */
	struct wslot slot[WEIGHT_SLOTS];
	int blob_slot; /* the slot blob is in, or -1: blob is in the heap */
	int rx_slot;   /* the slot rx is in, or -1 */
	/* The version arriving (rx: NULL when none), assembled in order. */
	uint8_t *rx;
	uint64_t rx_version;
	uint32_t rx_origin;
	size_t rx_total, rx_have;
	/* What goes on down the chain: bytes [fwd_off, fwd_have) of fwd_buf still to send. */
	const uint8_t *fwd_buf;
	uint64_t fwd_version;
	uint32_t fwd_origin;
	int fwd_next; /* the next agent's rank, -1: this is the chain's end */
	size_t fwd_total, fwd_have, fwd_off;
};

#define WEIGHT_CHUNK (1u << 20)

struct chan_set {
	struct wstream *streams;
	size_t n_streams;
	uv_loop_t *loop;
	uint32_t rank;
	const char *token;
	struct chan *chans;
	size_t n;
	struct peer peers[MAX_PEERS];
	size_t n_peers;
	void (*source_done)(void *arg, uint32_t chan, int err);
	void *source_arg;
	void (*sink_done)(void *arg, uint32_t chan, int err);
	void *sink_arg;
	struct aic_arena arena; /* base NULL: none (items travel inline) */
	struct wlease *leases;
	long region_proc[ARENA_REGIONS];		/* the process (id + 1) a region is for */
	struct aic_conn *region_owner[ARENA_REGIONS]; /* its connection, once it said hello */
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
static void send_error(struct aic_conn *c, int code)
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

static struct peer *peer_of(struct chan_set *cs, uint32_t rank)
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

	if (it)
		it->shm = 0;
	return it;
}

static void item_free(struct chan_set *cs, struct item *it)
{
	if (it && it->shm)
		aic_ring_free(&cs->arena, it->shm);
	free(it);
}

/* The arena region a worker connection owns, or 0 for none. */
static size_t region_of(const struct chan_set *cs, const struct aic_conn *c)
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
static uint64_t stream_version(struct chan_set *cs, int stream, bool *have);

/* Drops queued items made with weights older than the newest version - k (they are acked). */
static void drop_stale(struct chan *ch)
{
	struct queue *qs[2] = {&ch->pulled, &ch->own};
	uint64_t newest;
	bool have = false;
	int q;

	if (ch->stale_stream < 0)
		return;
	newest = stream_version(ch->cs, ch->stale_stream, &have);
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
	bool in_place = !peer && region_of(ch->cs, c) != 0;

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
		aic_put_u32(p, it->producer);
		aic_put_u64(p + 4, it->id);
		aic_put_u64(p + 12, it->version);
		if (in_place && it->shm) {
			aic_put_u32(p + 20, it->len | AIC_ITEM_SHM);
			aic_put_u64(p + AIC_ITEM_HEADER, it->shm);
			p += AIC_ITEM_HEADER + 8;
		} else {
			aic_put_u32(p + 20, it->len);
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

static struct aic_conn *peer_conn(struct chan_set *cs, struct peer *p)
{
	json_t *hello;

	if (p->conn)
		return p->conn;
	hello = json_pack("{s:s,s:i}", "role", "agent", "rank", (int)cs->rank);
	p->conn = aic_conn_connect(cs->loop, p->addr, p->port, cs->token, hello, peer_frame,
				   peer_closed, cs);
	if (p->conn)
		p->conn->data = p;
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
		p = peer_of(cs, ch->remote[r]);
		if (!p || !peer_conn(cs, p))
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
	uint64_t off = len >= ARENA_MIN_BYTES ? aic_ring_alloc(&cs->arena, 0, len) : 0;
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
static void on_items(struct chan_set *cs, struct peer *p, const uint8_t *b, uint32_t len)
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
		on_items(cs, p, plain, 12 + raw);
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
		uint32_t l = aic_get_u32(q + 20);
		struct item *it;
		if ((size_t)(end - q - AIC_ITEM_HEADER) < l)
			break;
		it = pulled_item(cs, q + AIC_ITEM_HEADER, l);
		if (!it)
			break;
		if (it->shm)
			ch->arena_items++;
		it->producer = aic_get_u32(q);
		it->id = aic_get_u64(q + 4);
		it->version = aic_get_u64(q + 12);
		it->len = l;
		push(&ch->pulled, it, false);
		q += AIC_ITEM_HEADER + l;
	}
	pump(ch);
}

static void weights_flush(struct chan_set *cs);

static void peer_frame(struct aic_conn *c, uint16_t type, json_t *m, const struct aic_frame *f)
{
	struct chan_set *cs = c->owner;

	(void)m;
	if (type == AIC_MSG_PEER_ITEMS && c->data) {
		on_items(cs, c->data, f->payload, f->length);
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
		send_error(w->c, -ETIMEDOUT);
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
		off = len == 28 ? aic_get_u64(p + 16) : 0;
		n = len == 28 ? aic_get_u32(p + 24) : 0;
		if (!off || !aic_ring_valid(&cs->arena, region_of(cs, c), off, n)) {
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
		send_error(c, ch ? -EINVAL : -ENOENT);
		return;
	}
	w = new_wait(ch, c);
	if (!w) {
		send_error(c, -ENOMEM);
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
	struct peer *pr = peer_of(ch->cs, producer);
	uint8_t b[20];

	aic_put_u32(b, ch->id);
	aic_put_u32(b + 4, 1);
	aic_put_u32(b + 8, producer);
	aic_put_u64(b + 12, id);
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
	if ((uint64_t)n * 12 > len - 8)
		return;
	for (i = 0; i < n; i++) {
		uint32_t producer = aic_get_u32(p + 8 + i * 12);
		uint64_t id = aic_get_u64(p + 12 + i * 12);
		struct item **pp;
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

/* --- weight streams ------------------------------------------------------ */

static void free_wwait(uv_handle_t *h)
{
	free(h->data);
}

static void unlink_wwait(struct wstream *ws, struct wwait *w)
{
	struct wwait **pp;

	for (pp = &ws->waits; *pp; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	uv_close((uv_handle_t *)&w->timer, free_wwait);
}

static bool slot_unused(const struct wstream *ws, int k)
{
	const struct wslot *sl = &ws->slot[k];

	return !sl->writer && !sl->assembling && !sl->leases && k != ws->blob_slot;
}

/* A slot nobody uses gives its pages back. */
static void slot_idle(struct wstream *ws, int k)
{
	if (k < 0 || !slot_unused(ws, k) || !ws->slot[k].len)
		return;
	aic_arena_discard(&ws->cs->arena, ws->slot[k].off, ws->slot[k].len);
	ws->slot[k].len = 0;
}

/* A free slot for a version of len bytes, or -1 (the version then lives in the heap). */
static int slot_pick(struct wstream *ws, uint64_t len)
{
	int k;

	if (!ws->cs->arena.base || len > WEIGHT_SLOT_BYTES || len == 0)
		return -1;
	for (k = 0; k < WEIGHT_SLOTS; k++)
		if (slot_unused(ws, k)) {
			ws->slot[k].len = (size_t)len;
			return k;
		}
	return -1;
}

/* Reader c now holds slot k of ws (and no longer the one it held before). */
static void lease(struct wstream *ws, struct aic_conn *c, int k)
{
	struct chan_set *cs = ws->cs;
	struct wlease *l;
	int old;

	for (l = cs->leases; l && !(l->c == c && l->ws == ws); l = l->next)
		;
	if (!l) {
		l = calloc(1, sizeof(*l));
		if (!l)
			return; /* the send still went; the slot is only not held for it */
		l->c = c;
		l->ws = ws;
		l->slot = -1;
		l->next = cs->leases;
		cs->leases = l;
	}
	old = l->slot;
	l->slot = k;
	ws->slot[k].leases++;
	if (old >= 0) {
		ws->slot[old].leases--;
		slot_idle(ws, old);
	}
}

/* The newest version to a local reader: in place when both are in the arena. */
static void send_weights(struct wstream *ws, struct aic_conn *c)
{
	uint8_t v[24];

	aic_put_u64(v, ws->version);
	if (ws->blob_slot >= 0 && region_of(ws->cs, c)) {
		aic_put_u64(v + 8, ws->slot[ws->blob_slot].off);
		aic_put_u64(v + 16, ws->len);
		if (aic_conn_send_raw(c, AIC_MSG_W_DATA_SHM, v, sizeof(v), NULL, 0) == 0)
			lease(ws, c, ws->blob_slot);
		return;
	}
	aic_conn_send_raw(c, AIC_MSG_W_DATA, v, 8, ws->blob, ws->len);
}

/* The agent after this one in the chain of versions from `origin`, or -1. */
static int chain_next(const struct wstream *ws, uint32_t origin)
{
	bool after = ws->cs->rank == origin; /* the origin sends to the first */
	uint32_t r;

	for (r = 0; r < ws->n_receivers; r++) {
		if (ws->receivers[r] == origin)
			continue;
		if (after)
			return (int)ws->receivers[r];
		after = ws->receivers[r] == ws->cs->rank;
	}
	return -1;
}

/* Sends down the chain what this agent has of the version and has not sent yet. */
static void forward_chunks(struct wstream *ws)
{
	struct chan_set *cs = ws->cs;
	struct peer *p;
	uint8_t head[32];

	if (!ws->fwd_buf || ws->fwd_next < 0 || ws->fwd_off >= ws->fwd_have)
		return;
	p = peer_of(cs, (uint32_t)ws->fwd_next);
	if (!p || !peer_conn(cs, p) || !p->conn->authed)
		return; /* connecting: its WELCOME forwards again */
	while (ws->fwd_off < ws->fwd_have) {
		size_t n = ws->fwd_have - ws->fwd_off;
		if (n > WEIGHT_CHUNK)
			n = WEIGHT_CHUNK;
		aic_put_u32(head, ws->id);
		aic_put_u64(head + 4, ws->fwd_version);
		aic_put_u32(head + 12, ws->fwd_origin);
		aic_put_u64(head + 16, ws->fwd_total);
		aic_put_u64(head + 24, ws->fwd_off);
		if (aic_conn_send_raw(p->conn, AIC_MSG_W_PEER, head, sizeof(head),
				      ws->fwd_buf + ws->fwd_off, n) != 0)
			return;
		ws->fwd_off += n;
	}
}

/* Starts passing version `version` (of `total` bytes, `have` of them in buf) down the chain. */
static void forward_start(struct wstream *ws, const uint8_t *buf, uint64_t version, uint32_t origin,
			  size_t total, size_t have)
{
	ws->fwd_buf = buf;
	ws->fwd_version = version;
	ws->fwd_origin = origin;
	ws->fwd_next = chain_next(ws, origin);
	ws->fwd_total = total;
	ws->fwd_have = have;
	ws->fwd_off = 0;
	forward_chunks(ws);
}

/* Peers just let this agent in: what waited for them goes now. */
static void weights_flush(struct chan_set *cs)
{
	size_t i;

	for (i = 0; i < cs->n_streams; i++)
		forward_chunks(&cs->streams[i]);
}

/*
 * Makes a version the newest, from slot k (>= 0) or the heap `blob` (taken),
 * and answers waiting readers; false (and the version is let go) if it is
 * not newer than the one kept.
 */
static bool weights_keep(struct wstream *ws, uint64_t version, uint8_t *blob, int k, size_t len)
{
	struct wwait *w, *next;
	int old = ws->blob_slot;

	if (ws->have && version <= ws->version) {
		free(blob);
		slot_idle(ws, k);
		return false;
	}
	if (ws->fwd_buf == ws->blob)
		ws->fwd_buf = NULL; /* an older version's sending ends here */
	if (old < 0)
		free(ws->blob);
	ws->blob_slot = k;
	ws->blob = k >= 0 ? ws->cs->arena.base + ws->slot[k].off : blob;
	slot_idle(ws, old);
	ws->len = len;
	ws->version = version;
	ws->have = true;
	for (w = ws->waits; w; w = next) {
		next = w->next;
		if (version >= w->min) {
			send_weights(ws, w->c);
			unlink_wwait(ws, w);
		}
	}
	return true;
}

/* Drops the version being assembled (a newer one started, or a chunk went missing). */
static void rx_drop(struct wstream *ws)
{
	int k = ws->rx_slot;

	if (ws->fwd_buf && ws->fwd_buf == ws->rx)
		ws->fwd_buf = NULL;
	if (k >= 0) {
		ws->slot[k].assembling = false;
		slot_idle(ws, k);
	} else {
		free(ws->rx);
	}
	ws->rx = NULL;
	ws->rx_slot = -1;
}

/*
 * A chunk from the previous agent of the chain: u32 stream, u64 version,
 * u32 origin, u64 total, u64 offset, bytes. Chunks of a version come in
 * order on one connection; each is passed on before the version is whole.
 */
static void on_weight_chunk(struct wstream *ws, const uint8_t *p, size_t len)
{
	uint64_t version, total, off;
	uint32_t origin;
	size_t n;

	if (len < 32)
		return;
	version = aic_get_u64(p + 4);
	origin = aic_get_u32(p + 12);
	total = aic_get_u64(p + 16);
	off = aic_get_u64(p + 24);
	n = len - 32;
	if ((ws->have && version <= ws->version) || total > SIZE_MAX || off > total ||
	    n > total - off)
		return;
	if (!ws->rx || ws->rx_version != version || ws->rx_origin != origin) {
		if (off != 0 || (ws->rx && ws->rx_version > version))
			return; /* the middle of a version this agent did not see begin, or an older one */
		rx_drop(ws);
		ws->rx_slot = slot_pick(ws, total);
		if (ws->rx_slot >= 0) {
			ws->slot[ws->rx_slot].assembling = true;
			ws->rx = ws->cs->arena.base + ws->slot[ws->rx_slot].off;
		} else {
			ws->rx = malloc(total ? (size_t)total : 1);
		}
		if (!ws->rx)
			return;
		ws->rx_version = version;
		ws->rx_origin = origin;
		ws->rx_total = (size_t)total;
		ws->rx_have = 0;
		forward_start(ws, ws->rx, version, origin, ws->rx_total, 0);
	}
	if (off != ws->rx_have) {
		aic_log_error("weights '%s': version %llu arrived out of order; waiting for the next",
			      ws->name, (unsigned long long)version);
		rx_drop(ws);
		return;
	}
	memcpy(ws->rx + off, p + 32, n);
	ws->rx_have += n;
	if (ws->fwd_buf == ws->rx) {
		ws->fwd_have = ws->rx_have;
		forward_chunks(ws);
	}
	if (ws->rx_have == ws->rx_total) {
		uint8_t *blob = ws->rx;
		bool sending = ws->fwd_buf == ws->rx;
		int k = ws->rx_slot;
		ws->rx = NULL;
		ws->rx_slot = -1;
		if (k >= 0)
			ws->slot[k].assembling = false;
		if (weights_keep(ws, version, k >= 0 ? NULL : blob, k, ws->rx_total))
			ws->fwd_buf = sending ? ws->blob : ws->fwd_buf; /* the same bytes, now kept */
		else if (sending)
			ws->fwd_buf = NULL; /* not newer after all: freed */
	}
}

static struct wstream *find_stream(struct chan_set *cs, uint32_t id)
{
	return cs && id < cs->n_streams ? &cs->streams[id] : NULL;
}

static uint64_t stream_version(struct chan_set *cs, int stream, bool *have)
{
	struct wstream *ws = stream >= 0 ? find_stream(cs, (uint32_t)stream) : NULL;

	*have = ws && ws->have;
	return ws ? ws->version : 0;
}

static void wwait_expired(uv_timer_t *t)
{
	struct wwait *w = t->data;

	send_error(w->c, -ETIMEDOUT);
	unlink_wwait(w->ws, w);
}

/*
 * A writer publishing through the arena. W_SLOT (u32 stream, u64 version,
 * u64 length) asks for a slot: W_SLOT_OK (u64 offset), W_OK (the version is
 * not newer: nothing to write) or ERROR (no slot now: publish inline).
 * W_COMMIT (u32 stream, u64 version, u64 offset, u64 length) once written:
 * the version is kept and sent on, W_OK.
 */
static void on_weight_slot(struct wstream *ws, struct aic_conn *c, const struct aic_frame *f)
{
	const uint8_t *p = f->payload;
	uint64_t version = f->length >= 20 ? aic_get_u64(p + 4) : 0, len;
	uint8_t v[8];
	int k;

	if (f->type == AIC_MSG_W_SLOT) {
		len = f->length == 20 ? aic_get_u64(p + 12) : 0;
		if (!region_of(ws->cs, c) || f->length != 20) {
			send_error(c, -EINVAL);
			return;
		}
		if (!(ws->have && version <= ws->version)) {
			if ((k = slot_pick(ws, len)) < 0) {
				send_error(c, -EBUSY);
				return;
			}
			ws->slot[k].writer = c;
			aic_put_u64(v, ws->slot[k].off);
			aic_conn_send_raw(c, AIC_MSG_W_SLOT_OK, v, sizeof(v), NULL, 0);
			return;
		}
	} else {
		uint64_t off = f->length == 28 ? aic_get_u64(p + 12) : 0;
		len = f->length == 28 ? aic_get_u64(p + 20) : 0;
		for (k = 0; k < WEIGHT_SLOTS; k++)
			if (ws->slot[k].writer == c && ws->slot[k].off == off)
				break;
		if (k == WEIGHT_SLOTS || len > ws->slot[k].len) {
			send_error(c, -EINVAL);
			return;
		}
		ws->slot[k].writer = NULL;
		if (len == 0) {
			slot_idle(ws, k); /* the writer could not fill it: given up */
		} else {
			ws->slot[k].len = (size_t)len;
			if (weights_keep(ws, version, NULL, k, (size_t)len))
				forward_start(ws, ws->blob, version, ws->cs->rank, ws->len, ws->len);
		}
	}
	aic_put_u64(v, ws->version);
	aic_conn_send_raw(c, AIC_MSG_W_OK, v, sizeof(v), NULL, 0);
}

static void on_weights(struct chan_set *cs, struct aic_conn *c, const struct aic_frame *f)
{
	const uint8_t *p = f->payload;
	struct wstream *ws = f->length >= 12 ? find_stream(cs, aic_get_u32(p)) : NULL;

	if (!ws) {
		send_error(c, -ENOENT);
		return;
	}
	if (f->type == AIC_MSG_W_PEER) {
		on_weight_chunk(ws, p, f->length);
		return;
	}
	if (f->type == AIC_MSG_W_PUBLISH) {
		uint64_t version = aic_get_u64(p + 4);
		size_t n = f->length - 12;
		uint8_t v[8], *blob = malloc(n ? n : 1);
		if (!blob) {
			send_error(c, -ENOMEM);
			return;
		}
		memcpy(blob, p + 12, n);
		/* This agent is the origin: the chain starts here, from the kept copy. */
		if (weights_keep(ws, version, blob, -1, n))
			forward_start(ws, ws->blob, version, cs->rank, n, n);
		aic_put_u64(v, ws->version);
		aic_conn_send_raw(c, AIC_MSG_W_OK, v, sizeof(v), NULL, 0);
		return;
	}
	if (f->type == AIC_MSG_W_SLOT || f->type == AIC_MSG_W_COMMIT) {
		on_weight_slot(ws, c, f);
		return;
	}
	/* W_RECV: u32 stream, u64 min_version, u32 timeout_ms */
	if (f->length < 16) {
		send_error(c, -EINVAL);
		return;
	}
	if (ws->have && ws->version >= aic_get_u64(p + 4)) {
		send_weights(ws, c);
	} else {
		struct wwait *w = calloc(1, sizeof(*w));
		uint32_t t = aic_get_u32(p + 12);
		if (!w) {
			send_error(c, -ENOMEM);
			return;
		}
		w->ws = ws;
		w->c = c;
		w->min = aic_get_u64(p + 4);
		uv_timer_init(cs->loop, &w->timer);
		w->timer.data = w;
		if (t != AIC_WIRE_FOREVER)
			uv_timer_start(&w->timer, wwait_expired, t, 0);
		w->next = ws->waits;
		ws->waits = w;
	}
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

json_t *chan_set_weight_names(const struct chan_set *cs)
{
	json_t *o = json_object();
	size_t i;

	for (i = 0; cs && i < cs->n_streams; i++)
		json_object_set_new(o, cs->streams[i].name, json_integer((json_int_t)i));
	return o;
}

void chan_set_frame(struct chan_set *cs, struct aic_conn *c, const struct aic_frame *f)
{
	if ((f->type >= AIC_MSG_W_PUBLISH && f->type <= AIC_MSG_W_PEER) ||
	    f->type == AIC_MSG_W_SLOT || f->type == AIC_MSG_W_COMMIT) {
		on_weights(cs, c, f);
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
		send_error(c, AIC_EPROTO);
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

	for (i = 0; cs && i < cs->n_streams; i++) {
		struct wstream *ws = &cs->streams[i];
		struct wwait *w, *next;
		int s;
		for (w = ws->waits; w; w = next) {
			next = w->next;
			if (w->c == c)
				unlink_wwait(ws, w);
		}
		for (s = 0; s < WEIGHT_SLOTS; s++)
			if (ws->slot[s].writer == c) {
				ws->slot[s].writer = NULL; /* it went before committing */
				slot_idle(ws, s);
			}
	}
	while (cs) {
		struct wlease **pp = &cs->leases, *l;
		while ((l = *pp) && l->c != c)
			pp = &l->next;
		if (!l)
			break;
		*pp = l->next;
		l->ws->slot[l->slot].leases--;
		slot_idle(l->ws, l->slot);
		free(l);
	}
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
	size_t i, k, n_streams;

	if (!cs)
		return NULL;
	cs->loop = loop;
	cs->rank = rank;
	cs->token = token;
	n_streams = json_array_size(json_object_get(config, "weights"));
	if (aic_arena_create(&cs->arena, ARENA_REGIONS, ARENA_REGION_BYTES,
			     n_streams * WEIGHT_SLOTS * WEIGHT_SLOT_BYTES) != 0)
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
	cs->n_streams = json_array_size(json_object_get(config, "weights"));
	cs->streams = calloc(cs->n_streams + 1, sizeof(*cs->streams));
	if (!cs->chans || !cs->streams) {
		free(cs->chans);
		free(cs->streams);
		free(cs);
		return NULL;
	}
	json_array_foreach(json_object_get(config, "weights"), i, v) {
		struct wstream *ws = &cs->streams[i];
		ws->cs = cs;
		ws->id = (uint32_t)i;
		ws->blob_slot = ws->rx_slot = -1;
		for (k = 0; k < WEIGHT_SLOTS; k++)
			ws->slot[k].off = (uint64_t)ARENA_REGIONS * ARENA_REGION_BYTES +
					  ((uint64_t)i * WEIGHT_SLOTS + k) * WEIGHT_SLOT_BYTES;
		snprintf(ws->name, sizeof(ws->name), "%s", json_string_value(json_object_get(v, "name")) ?: "");
		json_array_foreach(json_object_get(v, "receivers"), k, r)
			if (ws->n_receivers < MAX_PEERS)
				ws->receivers[ws->n_receivers++] = (uint32_t)json_integer_value(r);
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
	for (i = 0; i < cs->n_streams; i++) {
		while (cs->streams[i].waits)
			unlink_wwait(&cs->streams[i], cs->streams[i].waits);
		if (cs->streams[i].blob_slot < 0)
			free(cs->streams[i].blob);
		if (cs->streams[i].rx_slot < 0)
			free(cs->streams[i].rx);
	}
	free(cs->streams);
	while (cs->leases) {
		struct wlease *l = cs->leases;
		cs->leases = l->next;
		free(l);
	}
	for (i = 0; i < cs->n_peers; i++)
		if (cs->peers[i].conn) {
			cs->peers[i].conn->data = NULL;
			aic_conn_close(cs->peers[i].conn);
		}
	free(cs->chans);
	aic_arena_detach(&cs->arena);
	free(cs);
}
