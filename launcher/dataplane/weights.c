/*
 * Weight streams at a node agent (see internal.h and doc/design/data-plane.md):
 * their frames, from the writer's worker (W_PUBLISH inline, or W_SLOT,
 * W_FILLED and W_COMMIT through the arena), from local readers (W_RECV) and
 * from the previous agent of a chain (W_PEER chunks, chain.c). The node
 * keeps one copy of the newest version (wslot.c).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weights.h"
#include "error.h"
#include "log.h"

uint64_t weights_version(struct chan_set *cs, int stream, bool *have)
{
	struct wstream *ws = stream >= 0 ? weights_find(cs, (uint32_t)stream) : NULL;

	*have = ws && ws->have;
	return ws ? ws->version : 0;
}

static void wait_expired(uv_timer_t *t)
{
	struct wait *w = t->data;
	struct wstream *ws = w->on;

	aic_conn_send_error(w->c, AIC_MSG_ERROR, -ETIMEDOUT, NULL);
	wait_end(&ws->waits, w);
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
		if (!dp_region_of(ws->cs, c) || f->length != 20) {
			aic_conn_send_error(c, AIC_MSG_ERROR, -EINVAL, NULL);
			return;
		}
		if (!(ws->have && version <= ws->version)) {
			if ((k = slot_pick(ws, len)) < 0) {
				aic_conn_send_error(c, AIC_MSG_ERROR, -EBUSY, NULL);
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
			aic_conn_send_error(c, AIC_MSG_ERROR, -EINVAL, NULL);
			return;
		}
		at = ws->cs->arena.base + off;
		/* Passed on already as it was written (W_FILLED), whole-length: it goes on from
		 * there. */
		started = ws->fwd_buf == at && ws->fwd_version == version && ws->fwd_total == len;
		if (f->type == AIC_MSG_W_FILLED) {
			/* Bytes [0, len) are written (len < the whole): the chain may start on
			 * them. */
			if (len < ws->slot[k].len && !(ws->have && version <= ws->version)) {
				if (ws->fwd_buf != at || ws->fwd_version != version) {
					chain_start(ws, at, version, ws->cs->rank, ws->slot[k].len,
						    len);
				} else if (len > ws->fwd_have) {
					ws->fwd_have = len;
					chain_forward(ws);
				}
			}
			return; /* no answer: the writer goes on writing */
		}
		ws->slot[k].writer = NULL;
		if (ws->fwd_buf == at && !started)
			ws->fwd_buf = NULL; /* given up, or shorter than announced: not sent on as
					       it was */
		if (len == 0) {
			slot_idle(ws, k); /* the writer could not fill it: given up */
		} else {
			ws->slot[k].len = (size_t)len;
			if (!weights_keep(ws, version, NULL, k, (size_t)len)) {
				if (started)
					ws->fwd_buf =
						NULL; /* not newer after all: its slot is let go */
			} else if (started) {
				ws->fwd_have = len;
				chain_forward(ws);
			} else {
				chain_start(ws, ws->blob, version, ws->cs->rank, ws->len, ws->len);
			}
		}
	}
	aic_put_u64(v, ws->version);
	aic_conn_send_raw(c, AIC_MSG_W_OK, v, sizeof(v), NULL, 0);
}

void weights_frame(struct chan_set *cs, struct aic_conn *c, const struct aic_frame *f)
{
	const uint8_t *p = f->payload;
	struct wstream *ws = f->length >= 12 ? weights_find(cs, aic_get_u32(p)) : NULL;

	if (!ws) {
		aic_conn_send_error(c, AIC_MSG_ERROR, -ENOENT, NULL);
		return;
	}
	if (f->type == AIC_MSG_W_PEER) {
		if (f->body && f->head != 32)
			return;
		chain_on_chunk(ws, p, f->length, f->body);
		return;
	}
	if (f->type == AIC_MSG_W_PUBLISH) {
		uint64_t version = aic_get_u64(p + 4);
		size_t n = f->length - 12;
		uint8_t v[8], *blob = malloc(n ? n : 1);
		if (!blob) {
			aic_conn_send_error(c, AIC_MSG_ERROR, -ENOMEM, NULL);
			return;
		}
		memcpy(blob, p + 12, n);
		/* This agent is the origin: the chain starts here, from the kept copy. */
		if (weights_keep(ws, version, blob, -1, n))
			chain_start(ws, ws->blob, version, cs->rank, n, n);
		aic_put_u64(v, ws->version);
		aic_conn_send_raw(c, AIC_MSG_W_OK, v, sizeof(v), NULL, 0);
		return;
	}
	if (f->type == AIC_MSG_W_SLOT || f->type == AIC_MSG_W_COMMIT ||
	    f->type == AIC_MSG_W_FILLED) {
		on_weight_slot(ws, c, f);
		return;
	}
	/* W_RECV: u32 stream, u64 min_version, u32 timeout_ms */
	if (f->length < 16) {
		aic_conn_send_error(c, AIC_MSG_ERROR, -EINVAL, NULL);
		return;
	}
	if (ws->have && ws->version >= aic_get_u64(p + 4)) {
		weights_send(ws, c);
	} else {
		struct wait *w = wait_new(cs, ws, c);
		if (!w) {
			aic_conn_send_error(c, AIC_MSG_ERROR, -ENOMEM, NULL);
			return;
		}
		w->min = aic_get_u64(p + 4);
		wait_start(&ws->waits, w, aic_get_u32(p + 12), wait_expired);
	}
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

int weights_init(struct chan_set *cs, const struct dp_config *cfg)
{
	size_t i, k;

	cs->streams = calloc(cfg->n_weights + 1, sizeof(*cs->streams));
	if (!cs->streams)
		return -ENOMEM;
	cs->n_streams = cfg->n_weights;
	for (i = 0; i < cfg->n_weights; i++) {
		const struct dp_weights *wc = &cfg->weights[i];
		struct wstream *ws = &cs->streams[i];
		ws->cs = cs;
		ws->id = (uint32_t)i;
		ws->blob_slot = ws->rx_slot = -1;
		for (k = 0; k < WEIGHT_SLOTS; k++)
			ws->slot[k].off = (uint64_t)ARENA_REGIONS * ARENA_REGION_BYTES +
					  ((uint64_t)i * WEIGHT_SLOTS + k) * WEIGHT_SLOT_BYTES;
		snprintf(ws->name, sizeof(ws->name), "%s", wc->name);
		for (k = 0; k < wc->n_receivers && ws->n_receivers < MAX_PEERS; k++)
			ws->receivers[ws->n_receivers++] = wc->receivers[k];
	}
	return 0;
}

void weights_forget(struct chan_set *cs, struct aic_conn *c)
{
	size_t i;

	for (i = 0; cs && i < cs->n_streams; i++) {
		struct wstream *ws = &cs->streams[i];
		int s;
		wait_end_all(&ws->waits, c);
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

void weights_node_lost(struct chan_set *cs, uint32_t rank)
{
	size_t i;
	uint32_t r, k;

	for (i = 0; cs && i < cs->n_streams; i++) {
		struct wstream *ws = &cs->streams[i];
		for (r = k = 0; r < ws->n_receivers; r++)
			if (ws->receivers[r] != rank)
				ws->receivers[k++] = ws->receivers[r];
		ws->n_receivers = k;
		chain_reform(ws);
	}
}

void weights_members(struct chan_set *cs, uint32_t stream, const uint32_t *ranks, size_t n)
{
	struct wstream *ws = weights_find(cs, stream);
	size_t k;

	if (!ws)
		return;
	ws->n_receivers = 0;
	for (k = 0; k < n && k < MAX_PEERS; k++)
		ws->receivers[ws->n_receivers++] = ranks[k];
	chain_reform(ws);
}

void weights_free(struct chan_set *cs)
{
	size_t i;

	for (i = 0; i < cs->n_streams; i++) {
		while (cs->streams[i].waits)
			wait_end(&cs->streams[i].waits, cs->streams[i].waits);
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
