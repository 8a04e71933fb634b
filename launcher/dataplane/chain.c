/*
 * A weight version down the chain of agents: the receivers in the head's
 * order, without the publisher's agent (the origin), which sends to the
 * first; each agent forwards every chunk to the next as soon as it has it,
 * so N nodes cost about one transfer plus a chunk per hop, not N transfers
 * from the origin. Chunks go from the slot they are in (writev, the slot
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

/* A chunk is written (or the next agent is gone: status < 0, it will not get this version). */
static void chunk_sent(void *arg, int status)
{
	struct wstream *ws = ((struct wpin *)arg)->ws;
	struct chan_set *cs;

	ws->fwd_queued--;
	if (status == 0 && !ws->cs->freeing)
		chain_forward(ws); /* the next ones */
	cs = slot_unpin(arg);
	dp_release(cs);
}

/*
 * Sends down the chain what this agent has of the version and has not sent
 * yet, WEIGHT_WINDOW chunks at a time: from a slot, the chunks go from
 * where they are (the slot is pinned until the kernel has them); from the
 * heap, copied.
 */
void chain_forward(struct wstream *ws)
{
	struct chan_set *cs = ws->cs;
	struct peer *p;
	int k = ws->fwd_buf ? slot_of(ws, ws->fwd_buf) : -1;

	if (!ws->fwd_buf || ws->fwd_next < 0 || ws->fwd_off >= ws->fwd_have)
		return;
	p = peer_find(cs, (uint32_t)ws->fwd_next);
	if (!p || !peer_conn(cs, p) || !p->conn->authed)
		return; /* connecting: its WELCOME forwards again */
	while (ws->fwd_off < ws->fwd_have && ws->fwd_queued < WEIGHT_WINDOW) {
		size_t n = ws->fwd_have - ws->fwd_off;
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
		h = head + AIC_WIRE_HEADER;
		aic_wire_header(head, AIC_MSG_W_PEER, (uint32_t)(32 + n));
		aic_put_u32(h, ws->id);
		aic_put_u64(h + 4, ws->fwd_version);
		aic_put_u32(h + 12, ws->fwd_origin);
		aic_put_u64(h + 16, ws->fwd_total);
		aic_put_u64(h + 24, ws->fwd_off);
		{
			uv_buf_t b[2] = {
				uv_buf_init((char *)head, AIC_WIRE_HEADER + 32),
				uv_buf_init((char *)ws->fwd_buf + ws->fwd_off, (unsigned)n)};
			if (k <
			    0) { /* the heap copy may go before the write: copied with the header */
				memcpy(h + 32, ws->fwd_buf + ws->fwd_off, n);
				b[0].len += (unsigned)n;
			}
			dp_hold(cs);
			ws->fwd_queued++;
			rc = aic_conn_sendv(p->conn, head, b, k < 0 ? 1 : 2, chunk_sent, pn);
		}
		if (rc != 0)
			return;
		ws->fwd_off += n;
	}
}

/* Starts passing version `version` (of `total` bytes, `have` of them in buf) down the chain. */
void chain_start(struct wstream *ws, const uint8_t *buf, uint64_t version, uint32_t origin,
		 size_t total, size_t have)
{
	ws->fwd_buf = buf;
	ws->fwd_version = version;
	ws->fwd_origin = origin;
	ws->fwd_next = chain_next(ws, origin);
	ws->fwd_total = total;
	ws->fwd_have = have;
	ws->fwd_off = 0;
	chain_forward(ws);
}

/*
 * The chain changed (an agent lost, or a new one receiving): the version
 * this agent passes on goes to its next agent now, from its first byte
 * when that agent is a different one. A new last agent thus gets the
 * newest version from the agent before it at once, and the agent after a
 * lost one gets the version it was getting from the start again (its
 * receiver starts over: rx_accept).
 */
void chain_reform(struct wstream *ws)
{
	int next;

	if (!ws->fwd_buf)
		return;
	next = chain_next(ws, ws->fwd_origin);
	if (next == ws->fwd_next)
		return;
	ws->fwd_next = next;
	ws->fwd_off = 0;
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
