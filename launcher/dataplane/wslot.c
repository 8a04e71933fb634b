/*
 * A weight stream's versions on this node: one copy of the newest, in an
 * arena slot when it can be (local readers map it read-only and read it in
 * place) or in the heap. A slot is busy while written, newest, held by a
 * reader (a lease, until the reader is given a newer version) or pinned by
 * a chunk under way: never rewritten under a reader.
 */
#include "config.h"

#include <stdlib.h>

#include "weights.h"

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
void slot_idle(struct wstream *ws, int k)
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
int slot_pick(struct wstream *ws, uint64_t len)
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
void weights_send(struct wstream *ws, struct aic_conn *c)
{
	uint8_t v[24];

	aic_put_u64(v, ws->version);
	if (ws->blob_slot >= 0 && dp_region_of(ws->cs, c)) {
		aic_put_u64(v + 8, ws->slot[ws->blob_slot].off);
		aic_put_u64(v + 16, ws->len);
		if (aic_conn_send_raw(c, AIC_MSG_W_DATA_SHM, v, sizeof(v), NULL, 0) == 0)
			lease(ws, c, ws->blob_slot);
		return;
	}
	aic_conn_send_raw(c, AIC_MSG_W_DATA, v, 8, ws->blob, ws->len);
}

/* The slot whose bytes buf points into, or -1 (the heap). */
int slot_of(const struct wstream *ws, const uint8_t *buf)
{
	const uint8_t *base = ws->cs->arena.base;
	int k;

	for (k = 0; base && k < WEIGHT_SLOTS; k++)
		if (buf >= base + ws->slot[k].off &&
		    buf < base + ws->slot[k].off + WEIGHT_SLOT_BYTES)
			return k;
	return -1;
}

struct wpin *slot_pin(struct wstream *ws, int k)
{
	struct wpin *p = malloc(sizeof(*p));

	if (p) {
		p->ws = ws;
		p->k = k;
		p->to = 0;
		if (k >= 0)
			ws->slot[k].pins++;
	}
	return p;
}

/* The slot a pin held may be idle now; returns the chan_set (for dp_release). */
struct chan_set *slot_unpin(struct wpin *p)
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

/*
 * Makes a version the newest, from slot k (>= 0) or the heap `blob` (taken),
 * and answers waiting readers; false (and the version is let go) if it is
 * not newer than the one kept.
 */
bool weights_keep(struct wstream *ws, uint64_t version, uint8_t *blob, int k, size_t len)
{
	struct wait *w, *next;
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
			weights_send(ws, w->c);
			wait_end(&ws->waits, w);
		}
	}
	return true;
}
