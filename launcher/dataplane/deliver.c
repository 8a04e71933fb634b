/*
 * Delivery: a channel's queued items to a worker that waits in GET (ITEMS)
 * or to a peer that pulls (PEER_ITEMS), which then hold them until acked.
 *
 * A worker that maps the arena gets offsets of arena items, not their
 * bytes. A peer gets large payloads by reference (writev from where they
 * are, each pinned until the kernel has it: struct zsend), unless the
 * channel's items go compressed (zstd.c) as one frame.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define PEER_FRAME_BYTES (1u << 20)
/*
 * A worker's ITEMS frame: at most this many bytes of items (a get of many
 * large items is answered with fewer), so the frame with its count and
 * flags stays within AIC_WIRE_MAX_PAYLOAD; one item alone always fits
 * (AIC_ITEM_MAX_BYTES).
 */
#define WORKER_FRAME_BYTES (AIC_WIRE_MAX_PAYLOAD - 8u)
/* Payloads from this size on go to peers by reference (writev), not copied into the frame. */
#define ZERO_COPY_MIN_BYTES 4096

/* EOF to a worker (ITEMS) or, with the channel's id first, to a peer (PEER_ITEMS). */
void deliver_eof(struct chan *ch, struct aic_conn *c, bool peer)
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

uint32_t drop_stale(struct chan *ch)
{
	struct queue *qs[2] = {&ch->pulled, &ch->own};
	uint64_t newest, before = ch->stale_dropped;
	bool have = false;
	int q;

	if (ch->stale_stream < 0)
		return 0;
	newest = weights_version(ch->cs, ch->stale_stream, &have);
	if (!have || newest <= ch->stale_k)
		return 0;
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
				peer_forward_ack(ch->cs, ch->id, it->producer, it->id);
			else
				own_leave(ch, it);
			acker_acked(ch->cs, it);
			item_free(ch->cs, it);
			ch->stale_dropped++;
		}
		qs[q]->tail = last;
	}
	return (uint32_t)(ch->stale_dropped - before);
}

/*
 * To a peer, an answer goes as frames of about PEER_FRAME_BYTES, all but the
 * last flagged AIC_ITEMS_MORE: the peer works on the first items while the
 * rest are on the wire, and asks again before the answer is complete.
 */
static uint32_t deliver_frame(struct chan *ch, struct aic_conn *c, uint32_t max, bool peer,
			      int rank, bool *more);

uint32_t deliver(struct chan *ch, struct aic_conn *c, uint32_t max, bool peer, int rank)
{
	uint32_t sent = 0, n;
	bool more = true;

	while (more && sent < max && (n = deliver_frame(ch, c, max - sent, peer, rank, &more)) > 0)
		sent += n;
	return sent;
}

/* it goes to c: it is in flight until c acks it (a peer's node joins its trees). */
static void hold(struct chan *ch, struct item *it, struct aic_conn *c, int rank)
{
	it->holder = c;
	it->next = ch->inflight;
	ch->inflight = it;
	if (it->producer == ch->cs->rank)
		ch->n_own_inflight++;
	if (it->producer == ch->cs->rank && trace_sampled(it))
		trace_get(ch, it);
	if (rank >= 0)
		acker_sent(ch->cs, it, (uint32_t)rank);
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

	(void)status; /* a failed send: the items come back when the peer's connection is forgotten
		       */
	for (k = 0; k < z->n; k++)
		if (--z->items[k]->sends == 0 && z->items[k]->dead)
			item_release(z->cs, z->items[k]);
	dp_release(z->cs);
	free(z);
}

/*
 * The first n own items to a peer as one ITEMS frame of `bytes` item bytes
 * (headers included): the frame's headers and small payloads are built in
 * one buffer, large payloads are sent from the arena or the item itself
 * (writev), each held until the kernel has it. Returns n, or 0 (no memory).
 */
static uint32_t send_to_peer(struct chan *ch, struct aic_conn *c, uint32_t n, size_t bytes,
			     uint32_t flags, int rank)
{
	struct aic_item_hdr h;
	struct chan_set *cs = ch->cs;
	size_t hb = AIC_WIRE_HEADER + 12;
	uint32_t k, nz = 0, nb = 0;
	uint8_t *head, *p, *seg;
	struct item *it;
	struct zsend *z;
	uv_buf_t *bufs;

	for (k = 0, it = ch->own.head; k < n; k++, it = it->next) {
		hb += item_hdr_size(it);
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
		it = queue_pop(&ch->own);
		item_hdr(it, it->len, &h);
		aic_item_hdr_encode(p, &h);
		p += item_hdr_size(it);
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
		hold(ch, it, c, rank);
	}
	if (p > seg)
		bufs[nb++] = uv_buf_init((char *)seg, (unsigned)(p - seg));
	dp_hold(cs);
	aic_conn_sendv(c, head, bufs, nb, zsend_done, z);
	free(bufs);
	return n;
}

static uint32_t deliver_frame(struct chan *ch, struct aic_conn *c, uint32_t max, bool peer,
			      int rank, bool *more)
{
	struct aic_item_hdr h;
	struct queue *qs[2] = {peer ? NULL : &ch->pulled, &ch->own};
	uint8_t *buf, *p, *start;
	size_t bytes = 0;
	uint32_t n = 0, k, flags = 0;
	struct item *it;
	bool full = false;
	int q;
	/* A worker that maps the arena reads arena items in place: only offsets travel. */
	bool in_place = !peer && dp_region_of(ch->cs, c) != 0;

	*more = false;
	if (!peer)
		drop_stale(ch);
	for (q = 0; q < 2 && !full; q++)
		for (it = qs[q] ? qs[q]->head : NULL; it && n < max; it = it->next, n++) {
			size_t size = item_hdr_size(it) + (in_place && it->shm ? 8 : it->len);
			if (peer && n > 0 && bytes + size > PEER_FRAME_BYTES) {
				*more = true; /* the rest in the next frame of this answer */
				flags = AIC_ITEMS_MORE;
				full = true;
				break;
			}
			if (!peer && n > 0 && bytes + size > WORKER_FRAME_BYTES) {
				full = true; /* the rest for its next get */
				break;
			}
			bytes += size;
		}
	if (n == 0)
		return 0;
	/* To a peer, unless compressed as a whole below: large payloads by reference. */
	if (peer && !zstd_frames(ch, c))
		return send_to_peer(ch, c, n, bytes, flags, rank);
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
		while (!(it = qs[q] ? queue_pop(qs[q]) : NULL))
			q++;
		if (in_place && it->shm) {
			item_hdr(it, it->len | AIC_ITEM_SHM, &h);
			aic_item_hdr_encode(p, &h);
			p += item_hdr_size(it);
			aic_put_u64(p, it->shm);
			p += 8;
		} else {
			item_hdr(it, it->len, &h);
			aic_item_hdr_encode(p, &h);
			p += item_hdr_size(it);
			memcpy(p, item_data(ch->cs, it), it->len);
			p += it->len;
		}
		hold(ch, it, c, peer ? rank : -1);
	}
	/* Between nodes, a compressible channel's items travel as one zstd frame. */
	if (peer) {
		size_t raw = (size_t)(p - start - 12), zlen;
		uint8_t *zbuf = zstd_pack(start, start + 12, raw, &zlen);
		if (zbuf) {
			ch->zstd_in += raw;
			ch->zstd_out += zlen - AIC_WIRE_HEADER - 16;
			free(buf);
			aic_conn_send_owned(c, zbuf, zbuf, zlen);
			return n;
		}
	}
	/* A worker's ITEMS has no channel id: its header goes 4 bytes later. */
	if (!peer)
		start += 4;
	aic_wire_header(start - AIC_WIRE_HEADER, peer ? AIC_MSG_PEER_ITEMS : AIC_MSG_ITEMS,
			(uint32_t)(p - start));
	aic_conn_send_owned(c, buf, start - AIC_WIRE_HEADER, (size_t)(p - start) + AIC_WIRE_HEADER);
	return n;
}

/*
 * Whether no more items can come for gets that wait for a least number:
 * every producer has finished, or the channel is full (its producers wait
 * for room that only acks make, and the items in flight may be the
 * waiting consumers' own). Then such a get takes what there is.
 */
static bool least_waived(const struct chan *ch)
{
	return ch->puts || !chan_room(ch, 0) || (ch->closed && remote_drained(ch));
}

/*
 * Answers the waiting gets, oldest first, that can be answered now: each
 * once its least is queued here (or it is waived). Items are never held
 * back for a get that waits for more: a younger get (or a peer's pull)
 * that can take them now does, so replicas that each wait for more than
 * there is do not starve one another; each takes what there is at its
 * deadline.
 */
void serve_gets(struct chan *ch)
{
	struct wait *w, *next;
	bool waived = false, asked = false;

	for (w = ch->gets; w && ch->own.n + ch->pulled.n > 0; w = next) {
		next = w->next;
		if (ch->own.n + ch->pulled.n < w->least) {
			if (!asked)
				waived = least_waived(ch);
			asked = true;
			if (!waived)
				continue;
		}
		if (!deliver(ch, w->c, w->max, false, -1))
			break;
		wait_end(&ch->gets, w);
	}
}
