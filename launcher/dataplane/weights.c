/*
 * Weight streams at a node agent (see chan_set.h and doc/design/data-plane.md).
 *
 * One copy of the newest version per node, in an arena slot when it can be
 * (read in place by local readers) or in the heap; versions arrive from the
 * writer's worker (W_PUBLISH inline, or W_SLOT/W_COMMIT through the arena)
 * or from the previous agent of a chain (W_PEER chunks), and go on down the
 * chain chunk by chunk.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chan_set.h"
#include "error.h"
#include "log.h"

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
	size_t resident;	 /* bytes whose pages may exist (given back: 0) */
	struct aic_conn *writer; /* the worker filling it, until it commits */
	bool assembling;	 /* a version arriving from the chain */
	uint32_t leases;	 /* local readers holding it */
	uint32_t pins;		 /* chunks sent from it or read into it, not yet done */
};

/* A chunk sent from slot k of ws (-1: from the heap, copied), or read into it, while it is under way. */
struct wpin {
	struct wstream *ws;
	int k;
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
	uint32_t fwd_queued; /* chunks handed to the connection, not yet written */
};

#define WEIGHT_CHUNK (1u << 20)
/*
 * Chunks handed to the next agent's connection at a time: enough to keep
 * the link busy, few enough that a newer version overtakes an older one
 * after at most this much more of the older.
 */
#define WEIGHT_WINDOW 8

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

	return !sl->writer && !sl->assembling && !sl->leases && !sl->pins && k != ws->blob_slot;
}

/*
 * A slot nobody uses any more: it stays resident for the next version (a
 * fresh slot costs a page fault per 4 KiB on both sides), and any other
 * unused slot gives its pages back, so a stream holds at most one version
 * more than it uses.
 */
static void slot_idle(struct wstream *ws, int k)
{
	int j;

	if (k < 0 || !slot_unused(ws, k))
		return;
	for (j = 0; j < WEIGHT_SLOTS; j++)
		if (j != k && slot_unused(ws, j) && ws->slot[j].resident) {
			aic_arena_discard(&ws->cs->arena, ws->slot[j].off, ws->slot[j].resident);
			ws->slot[j].resident = 0;
		}
}

/* A free slot for a version of len bytes, or -1 (the version then lives in the heap). */
static int slot_pick(struct wstream *ws, uint64_t len)
{
	int k;

	if (!ws->cs->arena.base || len > WEIGHT_SLOT_BYTES || len == 0)
		return -1;
	/* A resident slot first: its pages are there already. */
	for (k = 0; k < WEIGHT_SLOTS; k++)
		if (slot_unused(ws, k) && ws->slot[k].resident)
			break;
	if (k == WEIGHT_SLOTS)
		for (k = 0; k < WEIGHT_SLOTS && !slot_unused(ws, k); k++)
			;
	if (k == WEIGHT_SLOTS)
		return -1;
	ws->slot[k].len = (size_t)len;
	if (ws->slot[k].resident < len)
		ws->slot[k].resident = (size_t)len;
	return k;
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
	if (ws->blob_slot >= 0 && chan_region_of(ws->cs, c)) {
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

/* The slot whose bytes buf points into, or -1 (the heap). */
static int slot_of(const struct wstream *ws, const uint8_t *buf)
{
	const uint8_t *base = ws->cs->arena.base;
	int k;

	for (k = 0; base && k < WEIGHT_SLOTS; k++)
		if (buf >= base + ws->slot[k].off && buf < base + ws->slot[k].off + WEIGHT_SLOT_BYTES)
			return k;
	return -1;
}

static struct wpin *pin(struct wstream *ws, int k)
{
	struct wpin *p = malloc(sizeof(*p));

	if (p) {
		p->ws = ws;
		p->k = k;
		if (k >= 0)
			ws->slot[k].pins++;
	}
	return p;
}

/* The slot a pin held may be idle now; returns the chan_set (see chan_set_release). */
static struct chan_set *unpin(struct wpin *p)
{
	struct wstream *ws = p->ws;

	if (p->k >= 0) {
		ws->slot[p->k].pins--;
		if (!ws->cs->freeing)
			slot_idle(ws, p->k);
	}
	free(p);
	return ws->cs;
}

static void forward_chunks(struct wstream *ws);

/* A chunk is written (or the next agent is gone: status < 0, it will not get this version). */
static void chunk_sent(void *arg, int status)
{
	struct wstream *ws = ((struct wpin *)arg)->ws;
	struct chan_set *cs;

	ws->fwd_queued--;
	if (status == 0 && !ws->cs->freeing)
		forward_chunks(ws); /* the next ones */
	cs = unpin(arg);
	chan_set_release(cs);
}

/*
 * Sends down the chain what this agent has of the version and has not sent
 * yet, WEIGHT_WINDOW chunks at a time: from a slot, the chunks go from
 * where they are (the slot is pinned until the kernel has them); from the
 * heap, copied.
 */
static void forward_chunks(struct wstream *ws)
{
	struct chan_set *cs = ws->cs;
	struct peer *p;
	int k = ws->fwd_buf ? slot_of(ws, ws->fwd_buf) : -1;

	if (!ws->fwd_buf || ws->fwd_next < 0 || ws->fwd_off >= ws->fwd_have)
		return;
	p = chan_peer_of(cs, (uint32_t)ws->fwd_next);
	if (!p || !chan_peer_conn(cs, p) || !p->conn->authed)
		return; /* connecting: its WELCOME forwards again */
	while (ws->fwd_off < ws->fwd_have && ws->fwd_queued < WEIGHT_WINDOW) {
		size_t n = ws->fwd_have - ws->fwd_off;
		uint8_t *head, *h;
		struct wpin *pn;
		int rc;
		if (n > WEIGHT_CHUNK)
			n = WEIGHT_CHUNK;
		head = malloc(AIC_WIRE_HEADER + 32 + (k >= 0 ? 0 : n));
		if (!head || !(pn = pin(ws, k))) {
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
			uv_buf_t b[2] = {uv_buf_init((char *)head, AIC_WIRE_HEADER + 32),
					 uv_buf_init((char *)ws->fwd_buf + ws->fwd_off, (unsigned)n)};
			if (k < 0) { /* the heap copy may go before the write: copied with the header */
				memcpy(h + 32, ws->fwd_buf + ws->fwd_off, n);
				b[0].len += (unsigned)n;
			}
			cs->pending++;
			ws->fwd_queued++;
			rc = aic_conn_sendv(p->conn, head, b, k < 0 ? 1 : 2, chunk_sent, pn);
		}
		if (rc != 0)
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
void weights_flush(struct chan_set *cs)
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
	if (!ws->rx || ws->rx_version != version || ws->rx_origin != origin) {
		if (off != 0 || (ws->rx && ws->rx_version > version))
			return false; /* the middle of a version this agent did not see begin, or an older one */
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
		forward_start(ws, ws->rx, version, origin, ws->rx_total, 0);
	}
	if (off != ws->rx_have) {
		aic_log_error("weights '%s': version %llu arrived out of order; waiting for the next",
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
static void on_weight_chunk(struct wstream *ws, const uint8_t *p, size_t len, const uint8_t *body)
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

uint64_t weights_version(struct chan_set *cs, int stream, bool *have)
{
	struct wstream *ws = stream >= 0 ? find_stream(cs, (uint32_t)stream) : NULL;

	*have = ws && ws->have;
	return ws ? ws->version : 0;
}

static void wwait_expired(uv_timer_t *t)
{
	struct wwait *w = t->data;

	chan_send_error(w->c, -ETIMEDOUT);
	unlink_wwait(w->ws, w);
}

/*
 * A writer publishing through the arena. W_SLOT (u32 stream, u64 version,
 * u64 length) asks for a slot: W_SLOT_OK (u64 offset), W_OK (the version is
 * not newer: nothing to write) or ERROR (no slot now: publish inline).
 * W_COMMIT (u32 stream, u64 version, u64 offset, u64 length) once written:
 * the version is kept and sent on, W_OK. Before that, W_FILLED (the same
 * fields, length = bytes written so far, less than the whole; no answer)
 * lets the chain start on what is written while the rest is.
 */
static void on_weight_slot(struct wstream *ws, struct aic_conn *c, const struct aic_frame *f)
{
	const uint8_t *p = f->payload;
	uint64_t version = f->length >= 20 ? aic_get_u64(p + 4) : 0, len;
	uint8_t v[8];
	int k;

	if (f->type == AIC_MSG_W_SLOT) {
		len = f->length == 20 ? aic_get_u64(p + 12) : 0;
		if (!chan_region_of(ws->cs, c) || f->length != 20) {
			chan_send_error(c, -EINVAL);
			return;
		}
		if (!(ws->have && version <= ws->version)) {
			if ((k = slot_pick(ws, len)) < 0) {
				chan_send_error(c, -EBUSY);
				return;
			}
			ws->slot[k].writer = c;
			aic_put_u64(v, ws->slot[k].off);
			aic_conn_send_raw(c, AIC_MSG_W_SLOT_OK, v, sizeof(v), NULL, 0);
			return;
		}
	} else {
		uint64_t off = f->length == 28 ? aic_get_u64(p + 12) : 0;
		const uint8_t *at;
		bool started;
		len = f->length == 28 ? aic_get_u64(p + 20) : 0;
		for (k = 0; k < WEIGHT_SLOTS; k++)
			if (ws->slot[k].writer == c && ws->slot[k].off == off)
				break;
		if (k == WEIGHT_SLOTS || len > ws->slot[k].len) {
			chan_send_error(c, -EINVAL);
			return;
		}
		at = ws->cs->arena.base + off;
		/* Passed on already as it was written (W_FILLED), whole-length: it goes on from there. */
		started = ws->fwd_buf == at && ws->fwd_version == version && ws->fwd_total == len;
		if (f->type == AIC_MSG_W_FILLED) {
			/* Bytes [0, len) are written (len < the whole): the chain may start on them. */
			if (len < ws->slot[k].len && !(ws->have && version <= ws->version)) {
				if (ws->fwd_buf != at || ws->fwd_version != version) {
					forward_start(ws, at, version, ws->cs->rank, ws->slot[k].len, len);
				} else if (len > ws->fwd_have) {
					ws->fwd_have = len;
					forward_chunks(ws);
				}
			}
			return; /* no answer: the writer goes on writing */
		}
		ws->slot[k].writer = NULL;
		if (ws->fwd_buf == at && !started)
			ws->fwd_buf = NULL; /* given up, or shorter than announced: not sent on as it was */
		if (len == 0) {
			slot_idle(ws, k); /* the writer could not fill it: given up */
		} else {
			ws->slot[k].len = (size_t)len;
			if (!weights_keep(ws, version, NULL, k, (size_t)len)) {
				if (started)
					ws->fwd_buf = NULL; /* not newer after all: its slot is let go */
			} else if (started) {
				ws->fwd_have = len;
				forward_chunks(ws);
			} else {
				forward_start(ws, ws->blob, version, ws->cs->rank, ws->len, ws->len);
			}
		}
	}
	aic_put_u64(v, ws->version);
	aic_conn_send_raw(c, AIC_MSG_W_OK, v, sizeof(v), NULL, 0);
}

void weights_frame(struct chan_set *cs, struct aic_conn *c, const struct aic_frame *f)
{
	const uint8_t *p = f->payload;
	struct wstream *ws = f->length >= 12 ? find_stream(cs, aic_get_u32(p)) : NULL;

	if (!ws) {
		chan_send_error(c, -ENOENT);
		return;
	}
	if (f->type == AIC_MSG_W_PEER) {
		if (f->body && f->head != 32)
			return;
		on_weight_chunk(ws, p, f->length, f->body);
		return;
	}
	if (f->type == AIC_MSG_W_PUBLISH) {
		uint64_t version = aic_get_u64(p + 4);
		size_t n = f->length - 12;
		uint8_t v[8], *blob = malloc(n ? n : 1);
		if (!blob) {
			chan_send_error(c, -ENOMEM);
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
	if (f->type == AIC_MSG_W_SLOT || f->type == AIC_MSG_W_COMMIT || f->type == AIC_MSG_W_FILLED) {
		on_weight_slot(ws, c, f);
		return;
	}
	/* W_RECV: u32 stream, u64 min_version, u32 timeout_ms */
	if (f->length < 16) {
		chan_send_error(c, -EINVAL);
		return;
	}
	if (ws->have && ws->version >= aic_get_u64(p + 4)) {
		send_weights(ws, c);
	} else {
		struct wwait *w = calloc(1, sizeof(*w));
		uint32_t t = aic_get_u32(p + 12);
		if (!w) {
			chan_send_error(c, -ENOMEM);
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

uint8_t *weights_direct_begin(struct chan_set *cs, uint32_t length, const uint8_t *head,
			      uint32_t have, uint32_t *skip, void **arg)
{
	struct wstream *ws = have >= 32 ? find_stream(cs, aic_get_u32(head)) : NULL;
	uint64_t off = have >= 32 ? aic_get_u64(head + 24) : 0;
	struct wpin *pn;

	if (!ws || !rx_accept(ws, aic_get_u64(head + 4), aic_get_u32(head + 12),
			      aic_get_u64(head + 16), off, length - 32) ||
	    ws->rx_slot < 0 || !(pn = pin(ws, ws->rx_slot)))
		return NULL;
	*skip = 32;
	*arg = pn;
	return ws->rx + off;
}

struct chan_set *weights_direct_end(void *arg)
{
	return unpin(arg);
}

json_t *chan_set_weight_names(const struct chan_set *cs)
{
	json_t *o = json_object();
	size_t i;

	for (i = 0; cs && i < cs->n_streams; i++)
		json_object_set_new(o, cs->streams[i].name, json_integer((json_int_t)i));
	return o;
}

size_t weights_arena_bytes(size_t n_streams)
{
	return n_streams * WEIGHT_SLOTS * WEIGHT_SLOT_BYTES;
}

bool weights_frame_type(uint16_t type)
{
	return (type >= AIC_MSG_W_PUBLISH && type <= AIC_MSG_W_PEER) || type == AIC_MSG_W_SLOT ||
	       type == AIC_MSG_W_COMMIT || type == AIC_MSG_W_FILLED;
}

int weights_init(struct chan_set *cs, const json_t *config)
{
	const json_t *v, *r;
	size_t i, k;

	cs->n_streams = json_array_size(json_object_get(config, "weights"));
	cs->streams = calloc(cs->n_streams + 1, sizeof(*cs->streams));
	if (!cs->streams)
		return -ENOMEM;
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
	return 0;
}

void weights_forget(struct chan_set *cs, struct aic_conn *c)
{
	size_t i;

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
				if (ws->fwd_buf && slot_of(ws, ws->fwd_buf) == s)
					ws->fwd_buf = NULL; /* what it had written stops here */
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
}

void weights_free(struct chan_set *cs)
{
	size_t i;

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
}
