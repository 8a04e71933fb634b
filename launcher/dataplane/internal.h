/*
 * What the files of launcher/dataplane/ share: the data plane's state and
 * the functions one file offers the others. Private to this folder: the
 * agent uses dataplane.h.
 *
 * The files, each calling only the ones listed after it:
 *   chan_set.c    the set's lifecycle, and dispatch of every frame
 *   chan.c        a channel's puts, gets, acks and pulls from peers
 *   deliver.c     items to a worker or a peer (zero copy, zstd), EOF; which
 *                 waiting gets are answered (a get's least)
 *   source_sink.c a channel's JSONL source and sink files
 *   weights.c     weight streams: frames from local writers and readers
 *   chain.c       a weight version down the chain of agents
 *   wslot.c       a stream's versions on this node: arena slots, leases
 *                 (weights.c, chain.c and wslot.c share weights.h too)
 *   zstd.c        compressed ITEMS frames (the only code that knows zstd)
 *   queue.c       items, queues and waits
 *   load.c        the node's load for the head's autoscaler, and workers
 *                 draining (called from chan.c, chan_set.c, peer.c, queue.c)
 *   acker.c       the xor trees of source items (Storm's acker, at rank 0),
 *                 the XOR updates other agents batch to it, replays
 *   xtree.c       the acker's table of unfinished trees (pure)
 *   peer.c        other agents and the links to them, arena regions,
 *                 sends and reads under way (pending); it calls back up
 *                 only through struct dp_upcalls, set by chan_set.c
 *   dp_config.c   the CONFIG message
 *   trace.c       what the timeline samples: counters, sampled item spans
 */
#ifndef AIC_DATAPLANE_INTERNAL_H
#define AIC_DATAPLANE_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <uv.h>

#include "arena.h"
#include "conn.h"
#include "dataplane.h"
#include "dp_config.h"
#include "wire.h"

#define MAX_PEERS 64

/*
 * The node's arena (arena.h): region 0 holds items pulled from other nodes,
 * regions 1.. belong to local processes, one each (a restarted process gets
 * its predecessor's). Virtual size only: pages exist once written.
 */
#define ARENA_REGIONS	   32
#define ARENA_REGION_BYTES (16u << 20)

#define PULL_WINDOW 2 /* pulls in flight to one peer */

/* Another agent of the job, and this agent's connection to it (made when first needed). */
struct peer {
	uint32_t rank;
	char addr[64];
	int port;
	struct aic_conn *conn;
	bool lost; /* its node is lost (NODE_LOST): never connected to again */
};

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
	uint64_t shm; /* the payload's arena offset, or 0: the payload is data[] */
	struct frame_blk
		*blk;	/* the block that holds the payload at shm, or NULL: shm is a block */
	uint16_t sends; /* zero-copy sends of the payload not yet done */
	bool dead;	/* freed while sends were not done: freed by the last */
	uint32_t len;
	/*
	 * The acker's view (acker.c): its random id in the trees of its roots
	 * (0: it joins none), where it comes from, and its roots.
	 */
	uint64_t edge;
	struct aic_origin origin;
	bool origin_given; /* an item its holder put took its origin */
	bool rooted;	   /* a source line's (acker_root): its tree is its own */
	uint32_t n_roots;
	uint64_t roots[AIC_ITEM_ROOTS_MAX];
	uint8_t data[];
};

/* The header an item travels with (its length: `len`, which may carry AIC_ITEM_SHM). */
static inline void item_hdr(const struct item *it, uint32_t len, struct aic_item_hdr *h)
{
	uint32_t k;

	h->producer = it->producer;
	h->id = it->id;
	h->version = it->version;
	h->len = len;
	h->edge = it->edge;
	h->origin = it->origin;
	h->n_roots = it->n_roots;
	for (k = 0; k < it->n_roots; k++)
		h->roots[k] = it->roots[k];
}

/* The bytes an item's header takes on the wire. */
static inline size_t item_hdr_size(const struct item *it)
{
	return AIC_ITEM_HEADER + 8u * it->n_roots;
}

struct queue {
	struct item *head, *tail;
	uint32_t n;
};

/*
 * A worker or peer waiting, with its timer: in PUT (item), GET or a peer's
 * PULL (max) on a channel, or in W_RECV (min) on a weight stream.
 */
struct wait {
	struct wait *next;
	struct chan_set *cs;
	void *on; /* the struct chan or struct wstream */
	struct aic_conn *c; /* NULL: a PUT whose producer has gone (its item still waits) */
	struct item *item;  /* PUT: the item waiting for a slot */
	uint32_t max;	   /* GET/PULL: how many it wants */
	uint32_t least;	   /* GET: answered once this many can go (deliver.c serve_gets), >= 1 */
	uint64_t min;	   /* W_RECV: the oldest version that will do */
	bool pull;
	int rank; /* PULL: the asking agent's rank (-1: not said) */
	bool counted; /* a worker's GET, or PUT waiting for room: its time counts as waiting (load.c) */
	uv_timer_t timer;
};

/* A source line to read again (acker.c): where it is and what it was. */
struct replay {
	uint64_t offset, line;
	uint32_t epoch;
};

/*
 * The acker's table (xtree.c): a source item whose processing is not done
 * (a root) by its random id, with the xor of the ids of its tree's items
 * made and not acked (`value`), the agents the tree went through (`nodes`:
 * bit r for rank r, bit 63 for 63 and above) and where its line is.
 */
struct xroot {
	uint64_t id; /* 0: a free slot */
	uint64_t value;
	uint64_t nodes;
	uint64_t line, offset;
	uint32_t chan, epoch;
};

struct xtree {
	struct xroot *slots;
	size_t cap, n; /* cap: a power of two */
};

static inline uint64_t node_bit(uint32_t rank)
{
	return rank < 63 ? UINT64_C(1) << rank : UINT64_C(1) << 63;
}

struct chan {
	struct chan_set *cs;
	uint32_t id;
	char name[64];
	uint32_t capacity;	 /* own items queued or in flight, at most */
	uint32_t prefetch;	 /* pulled ahead of local gets (CONFIG's) */
	uint64_t capacity_bytes; /* and their bytes (one item always fits) */
	uint64_t own_bytes;	 /* the bytes of those items now */
	bool compress;		    /* zstd between agents */
	bool readers;		    /* local workers have asked for items: prefetch for them */
	uint64_t zstd_in, zstd_out; /* bytes before and after, sent from here */
	uint64_t arena_items;	    /* put or pulled into the arena here */
	uint64_t redelivered;	    /* queued again when their holder was lost */
	/* Own items that came in (put or read from the source), left acked, and their bytes. */
	uint64_t items_in, items_out, bytes_in;
	struct queue own, pulled;
	struct item *inflight; /* delivered, not acked */
	uint32_t n_own_inflight;
	struct wait *puts, *gets, *pulls; /* FIFO each */
	struct wait *puts_tail;		  /* the last of puts, or NULL: not known (chan.c) */
	struct wait *drains;		  /* GETs of draining workers (load.c) */
	bool closed, pump_soon;		  /* every producer has finished; a pump is due (chan.c) */
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
	/*
	 * Where the source is (the next line: its number, 1-based, its pass,
	 * 0-based, and its offset), and what the acker keeps of it: the trees
	 * not done (roots_open), the lines to read again because their trees
	 * touched a lost node (replay, read through `again`), and whether the
	 * file is read to its end (src_eof: SOURCE_DONE waits for the trees).
	 */
	uint64_t src_line, src_off;
	uint32_t src_epoch;
	uint64_t roots_open;
	struct replay *replay;
	size_t n_replay, replay_cap;
	FILE *again;
	bool src_eof;
	/* A resumed source (source_resume): lines before `resume_at` skipped but keep[keep_at..]. */
	bool resuming;
	struct replay resume_at, *keep;
	size_t n_keep, keep_at;
	/* Staleness: items older than stream's newest version - k are dropped. */
	int stale_stream; /* -1: none */
	uint64_t stale_k;
	uint64_t stale_dropped;
	/* The channel's sink file, when this agent writes it. */
	char *sink;
	FILE *snk;
	bool sink_finished;
	/*
	 * Items written to the sink but not yet synced to disk: they are acked
	 * (and own ones free their slot) only once fsync says they are there.
	 * A timer syncs them in a batch, after whatever else this turn of the
	 * loop brings.
	 */
	struct queue sinking;
	uv_timer_t *sink_timer;
	int64_t sink_synced; /* the file's size when last synced, -1: unknown (not a file) */
	bool sink_sized;     /* sink_synced was read once */
	uint64_t sink_lines_acked; /* lines synced and acked so far (the debug log says) */
};

/*
 * What the files below chan_set.c call back up into, set by chan_set.c:
 * the frames and in-place reads of the connections peer.c opens, and the
 * rest of chan_set_free once the last send or read under way is done.
 */
struct dp_upcalls {
	aic_frame_cb peer_frame;
	aic_close_cb peer_closed;
	aic_direct_begin_cb direct_begin;
	aic_direct_end_cb direct_end;
	void (*finish)(struct chan_set *cs);
};

/*
 * Sampled items (trace.c): one own item in TRACE_EVERY, by id, is followed
 * from put to its first hand-over (get) to its ack, in `open` (at most
 * TRACE_OPEN: when full, the oldest is given up); done ones wait in `done`
 * for chan_set_spans (at most TRACE_DONE: more are counted, not kept).
 * Memory is fixed whatever the number of items.
 */
#define TRACE_EVERY 64
#define TRACE_OPEN  64
#define TRACE_DONE  512

struct dp_trace {
	struct chan_set_span open[TRACE_OPEN]; /* put_us 0: a free slot */
	struct chan_set_span done[TRACE_DONE];
	uint32_t n_done;
	uint64_t dropped; /* spans given up or not kept */
};

struct wstream;
struct wlease;

struct chan_set {
	const struct dp_upcalls *up;
	struct wstream *streams; /* weights.c's */
	size_t n_streams;
	uv_loop_t *loop;
	uint32_t rank;
	const char *token;
	uint64_t failure_timeout_ms; /* CONFIG's: the liveness timeout of links to peers */
	struct chan *chans;
	size_t n;
	struct peer peers[MAX_PEERS];
	size_t n_peers;
	void (*source_done)(void *arg, uint32_t chan, int err);
	void *source_arg;
	void (*sink_done)(void *arg, uint32_t chan, int err);
	void *sink_arg;
	struct aic_arena arena;		 /* base NULL: none (items travel inline) */
	struct wlease *leases;		 /* wslot.c's: local readers' holds on weight slots */
	long region_proc[ARENA_REGIONS]; /* the process (id + 1) a region is for */
	struct aic_conn *region_owner[ARENA_REGIONS]; /* its connection, once it said hello */
	/*
	 * Zero-copy sends and in-place reads under way (they use the arena and
	 * the streams' slots): chan_set_free leaves the rest to the last of them.
	 */
	uint32_t pending;
	bool freeing;
	/*
	 * The acker (acker.c): at rank 0, the table of unfinished trees; at the
	 * others, XOR entries waiting to go to it, sent after this turn of the
	 * loop. `tracked`: the job has a source, so puts join trees.
	 */
	bool tracked;
	struct xtree trees;
	uint8_t *xbuf;
	uint32_t xn, xcap;
	uv_timer_t *xtimer;
	uint64_t rng;
	/* Each peer's connection here (its HELLO and PULLs say its rank), or NULL. */
	struct aic_conn *peer_in[MAX_PEERS];
	bool sources_paused; /* chan_set_pause_sources: no more source lines */
	struct dp_trace trace; /* trace.c's sampled items */
	/*
	 * Checkpoints at the acker (acker.c): by process id, the sources'
	 * progress as of its newest mark (NULL: none), and who hears of a
	 * checkpoint saved (chan_set_on_checkpoint).
	 */
	json_t **marks;
	size_t n_marks;
	struct ckpt_mark *pending_marks; /* marks waiting for other agents' updates (marks.c) */
	uint32_t mark_round;
	uv_timer_t *mark_timer;
	uint64_t acker_batch_ms; /* AIC_ACKER_BATCH_MS: how long updates wait to go to the acker */
	void (*ckpt_done)(void *arg, long proc, uint64_t request, uint64_t version,
			  json_t *progress);
	void *ckpt_arg;
	struct dp_worker *workers; /* load.c's: the workers connected here */
};

/* --- load.c --------------------------------------------------------------- */

/* A worker's connection here, from its HELLO: who it is, its waits, whether it drains. */
struct dp_worker {
	struct dp_worker *next;
	struct aic_conn *c;
	char stage[64];
	int index;
	uint64_t waited_ms; /* with a GET or a full channel's PUT waiting, until waits_since */
	uint32_t waits;	    /* such waits under way */
	uint64_t waits_since; /* when the first of them began */
	uint64_t hello_ms;    /* when it connected */
	uint64_t reads;	    /* channels it has asked items of (load_chan_bit) */
	bool draining;
};

static inline uint64_t load_chan_bit(uint32_t id)
{
	return id < 63 ? UINT64_C(1) << id : UINT64_C(1) << 63;
}

/* A worker's HELLO (c joins the list) and its connection's end (c leaves it). */
void load_hello(struct chan_set *cs, struct aic_conn *c, const json_t *hello);
void load_forget(struct chan_set *cs, const struct aic_conn *c);
void load_release(struct chan_set *cs);
/*
 * A worker's GET, or its PUT to a full channel, begins waiting, and ends:
 * the time it has at least one such wait counts as waiting, not busy.
 */
void load_wait_begin(struct wait *w);
void load_waited(struct wait *w);
/* A worker's GET: true when load.c answered it (the worker drains). */
bool load_get(struct chan *ch, struct aic_conn *c, uint32_t max, uint32_t timeout_ms);
/* Answers draining workers' GETs that can be now (from chan_pump). */
void load_pump(struct chan *ch);

/* --- xtree.c -------------------------------------------------------------- */

/* Adds a root (id not 0, not there yet): 0, -EEXIST, -EINVAL or -ENOMEM. */
int xtree_add(struct xtree *t, const struct xroot *r);
/* The root of that id, or NULL; valid until the next add or delete. */
struct xroot *xtree_find(struct xtree *t, uint64_t id);
void xtree_del(struct xtree *t, struct xroot *r);
/*
 * Xors x into root id's value and adds `nodes`: 1 when the value comes to
 * 0 (the root is then deleted, and copied to *done unless NULL), 0 when
 * not, -ENOENT for an id not in the table (done, or replayed).
 */
int xtree_update(struct xtree *t, uint64_t id, uint64_t x, uint64_t nodes, struct xroot *done);
/* Frees the table; it is empty after. */
void xtree_release(struct xtree *t);

#include "acker.h"

/* --- peer.c --------------------------------------------------------------- */

/* The peers of CONFIG's "agents" (all but this agent). */
void peers_init(struct chan_set *cs, const struct dp_config *cfg);
/* Closes the connections to peers (their sends and reads end: see pending). */
void peers_close(struct chan_set *cs);
struct peer *peer_find(struct chan_set *cs, uint32_t rank);
/* The connection to a peer, opened (token HELLO) on first use; NULL if it cannot be. */
struct aic_conn *peer_conn(struct chan_set *cs, struct peer *p);
/* Tells the producing agent that one of its items was acked here. */
void peer_forward_ack(struct chan_set *cs, uint32_t chan, uint32_t producer, uint64_t id);
/* The rank of the peer that pulls through connection c (its PULLs said it), or -1. */
int dp_peer_rank_of(const struct chan_set *cs, const struct aic_conn *c);
/* The arena region a worker connection owns, or 0 for none. */
size_t dp_region_of(const struct chan_set *cs, const struct aic_conn *c);

/* One more send or in-place read under way (see pending); dp_release: one fewer. */
static inline void dp_hold(struct chan_set *cs)
{
	cs->pending++;
}
void dp_release(struct chan_set *cs);

/* --- queue.c -------------------------------------------------------------- */

/* An item with its payload inline (len bytes of data[]), or NULL. */
struct item *item_new(size_t len);
/* An item leaves the channel: its memory goes once no send uses it. */
void item_free(struct chan_set *cs, struct item *it);
/* Frees it now (its last send is done). */
void item_release(struct chan_set *cs, struct item *it);
void frame_blk_unref(struct frame_blk *b);

static inline const uint8_t *item_data(const struct chan_set *cs, const struct item *it)
{
	return it->shm ? cs->arena.base + it->shm : it->data;
}

static inline void queue_push(struct queue *q, struct item *it, bool front)
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

static inline struct item *queue_pop(struct queue *q)
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

/* A wait of c on `on` (a channel or a stream), not in a list yet; NULL: no memory. */
struct wait *wait_new(struct chan_set *cs, void *on, struct aic_conn *c);
/* Appends w to a FIFO list and starts its timer (AIC_WIRE_FOREVER: none): `expired` then. */
void wait_start(struct wait **list, struct wait *w, uint32_t timeout_ms, uv_timer_cb expired);
/* Takes w out of its list and frees it (and the item of a PUT still waiting). */
void wait_end(struct wait **list, struct wait *w);
/* Ends every wait of c in the list. */
void wait_end_all(struct wait **list, const struct aic_conn *c);

/* --- chan.c --------------------------------------------------------------- */

static inline struct chan *chan_find(struct chan_set *cs, uint32_t id)
{
	return cs && id < cs->n ? &cs->chans[id] : NULL;
}

/* --- trace.c -------------------------------------------------------------- */

/* Whether an item is one of those followed (TRACE_EVERY). */
static inline bool trace_sampled(const struct item *it)
{
	return (it->id & (TRACE_EVERY - 1)) == 0;
}

/* A sampled own item comes in, is first handed to a worker or peer, leaves acked. */
void trace_put(struct chan *ch, const struct item *it);
void trace_get(struct chan *ch, const struct item *it);
void trace_ack(struct chan *ch, const struct item *it);

/*
 * Whether an own item of len bytes may come in: the channel's capacity
 * counts items and bytes (own ones, queued or in flight), and one item
 * always fits in an empty channel, however large.
 */
static inline bool chan_room(const struct chan *ch, uint64_t len)
{
	return ch->own.n + ch->n_own_inflight < ch->capacity &&
	       (ch->own_bytes == 0 || ch->own_bytes + len <= ch->capacity_bytes);
}

/* An own item comes into the channel's capacity, or leaves it (acked, dropped). */
static inline void own_enter(struct chan *ch, const struct item *it)
{
	ch->own_bytes += it->len;
	ch->items_in++;
	ch->bytes_in += it->len;
	if (trace_sampled(it))
		trace_put(ch, it);
}

static inline void own_leave(struct chan *ch, const struct item *it)
{
	ch->own_bytes -= it->len < ch->own_bytes ? it->len : ch->own_bytes;
	ch->items_out++;
	if (trace_sampled(it))
		trace_ack(ch, it);
}

/* A channel of CONFIG (cs->rank: this agent) into ch; 0 or -ENOMEM. */
int chan_init(struct chan *ch, struct chan_set *cs, uint32_t id, const struct dp_channel *cfg);
/* Its waits, queues, files and items go (items under a send go when it is done). */
void chan_release(struct chan *ch);
void chan_on_put(struct chan_set *cs, struct aic_conn *c, const uint8_t *p, uint32_t len, bool shm);
void chan_on_get(struct chan_set *cs, struct aic_conn *c, const uint8_t *p, uint32_t len,
		 bool is_pull);
void chan_on_ack(struct chan_set *cs, struct aic_conn *c, const uint8_t *p, uint32_t len);
/*
 * A peer's PEER_ITEMS payload (b, len): copied, unless it was read into
 * the arena block blk (then its items stay where they are).
 */
void chan_on_items(struct chan_set *cs, struct peer *p, const uint8_t *b, uint32_t len,
		   struct frame_blk *blk);
/* Where a large PEER_ITEMS frame is read in place (an arena block), or NULL. */
uint8_t *chan_items_direct_begin(struct chan_set *cs, uint32_t length, const uint8_t *head,
				 void **arg);
/*
 * Worker c went away: its items back to their queue, its waits end but
 * for its puts, whose items still take a slot when one frees.
 */
void chan_forget(struct chan *ch, struct aic_conn *c);
/* Peer `rank` went away: pulls to it will not be answered. */
void chan_peer_lost(struct chan *ch, uint32_t rank);
/*
 * The agents producing the channel are now ranks[0..n) (MEMBERS): new ones
 * are pulled from too, and those no longer listed (lost) are taken as
 * drained, so that the channel's end does not wait for them.
 */
void chan_producers(struct chan *ch, const uint32_t *ranks, size_t n);
/*
 * Moves waiting producers into free slots, then feeds waiting consumers and
 * peers, and asks peers for more (the one step after any change).
 */
void chan_pump(struct chan *ch);
/* Whether this agent asks peers for the channel's items: for readers here, or its sink. */
bool chan_wants_pull(const struct chan *ch);
bool remote_drained(const struct chan *ch); /* every peer that produces it said EOF */
void chan_pull(struct chan *ch);

/* --- deliver.c ------------------------------------------------------------ */

/* Answers the waiting gets that can be answered now (a get's least: struct wait). */
void serve_gets(struct chan *ch);

/*
 * Sends up to max items from the queues to c, which then holds them: to a
 * worker (ITEMS, pulled items first) or to a peer that pulls (PEER_ITEMS
 * with the channel's id first, own items only; `rank`: the peer's, -1 when
 * unknown). Returns how many were sent.
 */
uint32_t deliver(struct chan *ch, struct aic_conn *c, uint32_t max, bool peer, int rank);
/* EOF to a worker (ITEMS) or, with the channel's id first, to a peer (PEER_ITEMS). */
void deliver_eof(struct chan *ch, struct aic_conn *c, bool peer);
/*
 * Drops queued items made with weights older than the newest version - k
 * (they are acked: own ones free their slot); returns how many.
 */
uint32_t drop_stale(struct chan *ch);

/* --- source_sink.c -------------------------------------------------------- */

/* Opens the channel's source (0) or reports it done with the error (-errno). */
int source_open(struct chan *ch);
/* Where CONFIG says a resumed run continues the source, before source_open; -ENOMEM. */
int source_resume(struct chan *ch, const struct dp_resume *r);
/*
 * Reads source lines into free slots (lines to replay first); at the end of
 * the file, the next epoch.
 */
void source_refill(struct chan *ch);
/* Reports the source done (err: -errno when it could not be read); once. */
void source_finished(struct chan *ch, int err);
int sink_open(struct chan *ch);
/*
 * The sink takes whatever is queued, one line per item, and syncs them in a
 * batch soon after; only then are they acked. A write or sync error fails
 * the sink (sink_finish with -errno): the file is cut back to the last
 * synced line, and the items not synced go back to their queues, un-acked.
 */
void sink_drain(struct chan *ch);
/* The sink is done (err: -errno when it could not be written); reported once. */
void sink_finish(struct chan *ch, int err);
/* The sink's items not yet synced and its timer go (the channel is freed). */
void sink_release(struct chan *ch);

/* --- zstd.c --------------------------------------------------------------- */

/*
 * Whether items to peers go compressed on c: the channel asks for it, the
 * link allows it (aic_link_ops.zstd) and this build has zstd.
 */
bool zstd_frames(const struct chan *ch, const struct aic_conn *c);
/*
 * A whole PEER_ITEMS frame compressed: from `head` (the payload's 12 bytes:
 * channel, count, flags) and the raw items after it. Returns the new frame
 * (malloc'ed, *len bytes: header, head with AIC_ITEMS_ZSTD, u32 raw size,
 * zstd) or NULL when compressing does not pay or cannot be done.
 */
uint8_t *zstd_pack(const uint8_t *head, const uint8_t *items, size_t raw, size_t *len);
/*
 * A compressed PEER_ITEMS payload made plain: the new payload (malloc'ed,
 * *len bytes), or NULL with the reason in *why.
 */
uint8_t *zstd_unpack(const uint8_t *b, uint32_t len, uint32_t *plain_len, const char **why);

/* --- weights.c (weight streams; their private parts: weights.h) --------- */

/* chain.c's, for chan_set.c: */
/*
 * A chunk of a version read straight into the slot it is assembled in
 * (aic_direct_begin_cb in conn.h): NULL when it cannot be. weights_direct_end
 * lets the slot go again and returns the chan_set.
 */
uint8_t *weights_direct_begin(struct chan_set *cs, uint32_t length, const uint8_t *head,
			      uint32_t have, uint32_t *skip, void **arg);
struct chan_set *weights_direct_end(void *arg);
/* Peers just let this agent in: chunks that waited for them go now. */
void weights_flush(struct chan_set *cs);

/* Arena bytes the weight slots of n streams take (after the item regions). */
size_t weights_arena_bytes(size_t n_streams);
/* The streams of CONFIG's "weights"; 0 or -ENOMEM. */
int weights_init(struct chan_set *cs, const struct dp_config *cfg);
void weights_free(struct chan_set *cs);
/* Whether a frame type is a weight stream's, and handling one. */
bool weights_frame_type(uint16_t type);
void weights_frame(struct chan_set *cs, struct aic_conn *c, const struct aic_frame *f);
/* A worker or peer connection went away: its waits, slot and leases with it. */
void weights_forget(struct chan_set *cs, struct aic_conn *c);
/* Agent `rank` is lost: it leaves every stream's chain, which re-forms without it. */
void weights_node_lost(struct chan_set *cs, uint32_t rank);
/* Stream `stream`'s receivers are now ranks[0..n) (MEMBERS, in chain order). */
void weights_members(struct chan_set *cs, uint32_t stream, const uint32_t *ranks, size_t n);
/* The newest version of stream `stream` this node has (*have: whether it has one). */
uint64_t weights_version(struct chan_set *cs, int stream, bool *have);

#endif
