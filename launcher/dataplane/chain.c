/*
 * A weight version down the chain of agents: the receivers in the head's
 * order, without the publisher's agent (the origin), which sends to the
 * first; each agent forwards every chunk to the next as soon as it has it,
 * so N nodes cost about one transfer plus a chunk per hop, not N transfers
 * from the origin. On many nodes, a version small beside chunk size times
 * nodes goes down a pipelined binary tree instead (tree_pick: the origin
 * chooses, and the chunks carry the choice). Chunks go from the slot they are in (writev, the slot
 * pinned) and are read straight into the receiving slot.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "weights.h"
#include "log.h"

#define WEIGHT_CHUNK (1u << 20)
/*
 * Chunks handed to the next agent's connection at a time: enough to keep
 * the link busy, few enough that a newer version overtakes an older one
 * after at most this much more of the older.
 */
#define WEIGHT_WINDOW 8

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

/*
 * AIC_WEIGHTS_TREE: "always" or "never" force the origin's choice (tests),
 * "auto" (or unset) chooses by the model below. Read once per process.
 */
static int tree_env(void)
{
	static int mode = -1; /* -1: not read yet, 0 auto, 1 always, 2 never */
	const char *e;

	if (mode >= 0)
		return mode;
	e = getenv("AIC_WEIGHTS_TREE");
	mode = 0;
	if (e && !strcmp(e, "always"))
		mode = 1;
	else if (e && !strcmp(e, "never"))
		mode = 2;
	else if (e && *e && strcmp(e, "auto"))
		aic_log_error("AIC_WEIGHTS_TREE=\"%s\" is not always, never or auto: choosing by "
			      "node count",
			      e);
	return mode;
}

/*
 * Whether the origin sends a version of `total` bytes down a tree. Over N
 * nodes (the origin and the receivers) with chunks of c bytes at a link
 * rate R, the chain takes (S + (N - 2) c) / R and a pipelined binary tree,
 * whose inner nodes send every chunk twice, (2 S + 2 c log2 N) / R
 * (doc/BENCHMARKS.md, bench/chain_sim): the tree wins iff
 * S < c (N - 2 - 2 log2 N), which never holds for N <= 8 nodes.
 */
static bool tree_pick(const struct wstream *ws, uint64_t total)
{
	int64_t n = 1, lg = 0, room;
	uint32_t r;
	int mode = tree_env();

	if (mode != 0)
		return mode == 1;
	for (r = 0; r < ws->n_receivers; r++)
		n += ws->receivers[r] != ws->cs->rank;
	while (((int64_t)1 << lg) < n)
		lg++; /* log2 N, rounded up */
	room = n - 2 - 2 * lg;
	return room > 0 && total < (uint64_t)room * WEIGHT_CHUNK;
}

/*
 * The agents this one passes the version from `origin` (the chunks' field,
 * with WEIGHT_TREE) on to. A chain: the next one. A tree: the receivers
 * without the origin, in the head's order, form a binary heap; the origin
 * sends to the first, the i-th to the (2i+1)-th and the (2i+2)-th.
 */
static void fwd_targets(const struct wstream *ws, uint32_t origin, int to[2])
{
	uint32_t r, m = 0, self = UINT32_MAX, o = origin & ~WEIGHT_TREE;
	int heap[MAX_PEERS];

	to[0] = to[1] = -1;
	if (!(origin & WEIGHT_TREE)) {
		to[0] = chain_next(ws, o);
		return;
	}
	for (r = 0; r < ws->n_receivers; r++) {
		if (ws->receivers[r] == o)
			continue;
		if (ws->receivers[r] == ws->cs->rank)
			self = m;
		heap[m++] = (int)ws->receivers[r];
	}
	if (ws->cs->rank == o) {
		if (m > 0)
			to[0] = heap[0];
	} else if (self != UINT32_MAX) {
		if (2 * (uint64_t)self + 1 < m)
			to[0] = heap[2 * self + 1];
		if (2 * (uint64_t)self + 2 < m)
			to[1] = heap[2 * self + 2];
	}
}

/* A chunk is written (or the next agent is gone: status < 0, it will not get this version). */
static void chunk_sent(void *arg, int status)
{
	struct wstream *ws = ((struct wpin *)arg)->ws;
	struct chan_set *cs;

	ws->fwd[((struct wpin *)arg)->to].queued--;
	if (status == 0 && !ws->cs->freeing)
		chain_forward(ws); /* the next ones */
	cs = slot_unpin(arg);
	dp_release(cs);
}

/* What target t of the version has not been sent yet goes (chain_forward). */
static void forward_to(struct wstream *ws, int t)
{
	struct chan_set *cs = ws->cs;
	struct wfwd *to = &ws->fwd[t];
	struct peer *p;
	int k = ws->fwd_buf ? slot_of(ws, ws->fwd_buf) : -1;

	if (!ws->fwd_buf || to->rank < 0 || to->off >= ws->fwd_have)
		return;
	p = peer_find(cs, (uint32_t)to->rank);
	if (!p || !peer_conn(cs, p) || !p->conn->authed)
		return; /* connecting: its WELCOME forwards again */
	while (to->off < ws->fwd_have && to->queued < WEIGHT_WINDOW) {
		size_t n = ws->fwd_have - to->off;
		uint8_t *head, *h;
		struct wpin *pn;
		int rc;
		if (n > WEIGHT_CHUNK)
			n = WEIGHT_CHUNK;
		head = malloc(AIC_WIRE_HEADER + 32 + (k >= 0 ? 0 : n));
		if (!head || !(pn = slot_pin(ws, k))) {
			free(head);
			return;
		}
		pn->to = t;
		h = head + AIC_WIRE_HEADER;
		aic_wire_header(head, AIC_MSG_W_PEER, (uint32_t)(32 + n));
		aic_put_u32(h, ws->id);
		aic_put_u64(h + 4, ws->fwd_version);
		aic_put_u32(h + 12, ws->fwd_origin);
		aic_put_u64(h + 16, ws->fwd_total);
		aic_put_u64(h + 24, to->off);
		{
			uv_buf_t b[2] = {uv_buf_init((char *)head, AIC_WIRE_HEADER + 32),
					 uv_buf_init((char *)ws->fwd_buf + to->off, (unsigned)n)};
			if (k <
			    0) { /* the heap copy may go before the write: copied with the header */
				memcpy(h + 32, ws->fwd_buf + to->off, n);
				b[0].len += (unsigned)n;
			}
			dp_hold(cs);
			to->queued++;
			rc = aic_conn_sendv(p->conn, head, b, k < 0 ? 1 : 2, chunk_sent, pn);
		}
		if (rc != 0)
			return;
		to->off += n;
	}
}

/*
 * Sends down the chain what this agent has of the version and has not sent
 * yet, WEIGHT_WINDOW chunks at a time to each target: from a slot, the
 * chunks go from where they are (the slot is pinned until the kernel has
 * them, once per target); from the heap, copied.
 */
void chain_forward(struct wstream *ws)
{
	int t;

	for (t = 0; t < 2; t++)
		forward_to(ws, t);
}

/* Starts passing version `version` (of `total` bytes, `have` of them in buf) down the chain. */
void chain_start(struct wstream *ws, const uint8_t *buf, uint64_t version, uint32_t origin,
		 size_t total, size_t have)
{
	int to[2], t;

	if (origin == ws->cs->rank && tree_pick(ws, total)) {
		origin |= WEIGHT_TREE; /* told to every agent in each chunk */
		aic_log_debug("weights '%s': version %llu (%zu bytes) down a tree", ws->name,
			      (unsigned long long)version, total);
	}
	fwd_targets(ws, origin, to);
	ws->fwd_buf = buf;
	ws->fwd_version = version;
	ws->fwd_origin = origin;
	for (t = 0; t < 2; t++) {
		ws->fwd[t].rank = to[t];
		ws->fwd[t].off = 0;
	}
	ws->fwd_total = total;
	ws->fwd_have = have;
	chain_forward(ws);
}

/*
 * The chain changed (an agent lost, or a new one receiving): the version
 * this agent passes on goes to its next agent now, from its first byte
 * when that agent is a different one. A new last agent thus gets the
 * newest version from the agent before it at once, and the agent after a
 * lost one gets the version it was getting from the start again (its
 * receiver starts over: rx_accept). A tree re-forms the same way, over the
 * same heap of the receivers left, each child on its own.
 */
void chain_reform(struct wstream *ws)
{
	int to[2], t;
	bool moved = false;

	if (!ws->fwd_buf)
		return;
	fwd_targets(ws, ws->fwd_origin, to);
	for (t = 0; t < 2; t++) {
		if (to[t] == ws->fwd[t].rank)
			continue;
		ws->fwd[t].rank = to[t];
		ws->fwd[t].off = 0;
		moved = true;
	}
	if (moved)
		chain_forward(ws);
}

/* Peers just let this agent in: what waited for them goes now. */
void weights_flush(struct chan_set *cs)
{
	size_t i;

	for (i = 0; i < cs->n_streams; i++)
		chain_forward(&cs->streams[i]);
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
 * Whether a chunk of n bytes at off of `version` (total bytes, from origin)
 * is the next one of the version being assembled here; its first chunk
 * starts assembling it (in a slot when it can) and passing it on.
 */
static bool rx_accept(struct wstream *ws, uint64_t version, uint32_t origin, uint64_t total,
		      uint64_t off, size_t n)
{
	if ((ws->have && version <= ws->version) || total > SIZE_MAX || off > total ||
	    n > total - off)
		return false;
	/* A version's first byte again: sent anew after the chain re-formed (chain_reform). */
	if (!ws->rx || ws->rx_version != version || ws->rx_origin != origin ||
	    (off == 0 && ws->rx_have > 0)) {
		if (off != 0 || (ws->rx && ws->rx_version > version))
			return false; /* the middle of a version this agent did not see begin, or an
					 older one */
		rx_drop(ws);
		ws->rx_slot = slot_pick(ws, total);
		if (ws->rx_slot >= 0) {
			ws->slot[ws->rx_slot].assembling = true;
			ws->rx = ws->cs->arena.base + ws->slot[ws->rx_slot].off;
		} else {
			ws->rx = malloc(total ? (size_t)total : 1);
		}
		if (!ws->rx)
			return false;
		ws->rx_version = version;
		ws->rx_origin = origin;
		ws->rx_total = (size_t)total;
		ws->rx_have = 0;
		chain_start(ws, ws->rx, version, origin, ws->rx_total, 0);
	}
	if (off != ws->rx_have) {
		aic_log_error(
			"weights '%s': version %llu arrived out of order; waiting for the next",
			ws->name, (unsigned long long)version);
		rx_drop(ws);
		return false;
	}
	return true;
}

/*
 * A chunk from the previous agent of the chain: u32 stream, u64 version,
 * u32 origin, u64 total, u64 offset, then the bytes (p + 32, or `body` when
 * they were read in place: see weights_direct_begin). Chunks of a version
 * come in order on one connection; each is passed on before the version is
 * whole.
 */
void chain_on_chunk(struct wstream *ws, const uint8_t *p, size_t len, const uint8_t *body)
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
	if (!rx_accept(ws, version, origin, total, off, n))
		return;
	if (!body)
		memcpy(ws->rx + off, p + 32, n);
	else if (body != ws->rx + off)
		return; /* read into a version dropped meanwhile (its slot was held till now) */
	ws->rx_have += n;
	if (ws->fwd_buf == ws->rx) {
		ws->fwd_have = ws->rx_have;
		chain_forward(ws);
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
			ws->fwd_buf =
				sending ? ws->blob : ws->fwd_buf; /* the same bytes, now kept */
		else if (sending)
			ws->fwd_buf = NULL; /* not newer after all: freed */
	}
}

uint8_t *weights_direct_begin(struct chan_set *cs, uint32_t length, const uint8_t *head,
			      uint32_t have, uint32_t *skip, void **arg)
{
	struct wstream *ws = have >= 32 ? weights_find(cs, aic_get_u32(head)) : NULL;
	uint64_t off = have >= 32 ? aic_get_u64(head + 24) : 0;
	struct wpin *pn;

	if (!ws ||
	    !rx_accept(ws, aic_get_u64(head + 4), aic_get_u32(head + 12), aic_get_u64(head + 16),
		       off, length - 32) ||
	    ws->rx_slot < 0 || !(pn = slot_pin(ws, ws->rx_slot)))
		return NULL;
	*skip = 32;
	*arg = pn;
	return ws->rx + off;
}

struct chan_set *weights_direct_end(void *arg)
{
	return slot_unpin(arg);
}
