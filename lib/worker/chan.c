/*
 * Channels (aic.h): puts, zero-copy put buffers, gets and acks.
 *
 * A large item goes through this worker's ring in the node's arena
 * (arena.h): written once, only its place travels to the agent. Smaller
 * items, and any item when the ring stays full, travel inline in the frame.
 */
#include "config.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "internal.h"

/*
 * Puts in flight before aic_put waits for the agent to accept one: more for
 * small items, whose puts are written together (batch.c) and which a
 * waiting agent holds in its heap (at most 512 x 4 KiB per producer).
 */
#define PUT_WINDOW	 64
#define PUT_WINDOW_SMALL 512
#define PUT_SMALL	 4096
/* How long a put waits for room in a full ring before it sends the item inline. */
#define RING_WAIT_MS 200

/* --- exit ------------------------------------------------------------------- */

static pthread_mutex_t exit_lock = PTHREAD_MUTEX_INITIALIZER;
static struct aic_worker *exit_list; /* connected, not closed */
static bool exit_hooked;
/* How long exit waits for the agent to read what a worker wrote last. */
#define EXIT_DRAIN_S 10

/*
 * A process that exits without closing its worker (Python at interpreter
 * exit, a C main that returns) closes the socket with answers unread: the
 * kernel then resets the connection and drops what it had not yet sent,
 * the last pipelined puts among it. Shutting the socket for writing and
 * reading to the agent's end instead lets every frame through (the agent
 * keeps puts still waiting for room: their producer is gone, not they).
 */
static void flush_at_exit(void)
{
	struct timeval tv = {.tv_sec = EXIT_DRAIN_S};
	struct aic_worker *w;
	char buf[4096];

	pthread_mutex_lock(&exit_lock);
	for (w = exit_list; w; w = w->exit_next) {
		if (w->fd < 0 || w->pid != getpid())
			continue; /* a fork's child shares the socket: it is not the child's */
		setsockopt(w->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		aic__batch_flush_at_exit(w); /* puts still in the batch */
		if (shutdown(w->fd, SHUT_WR) == 0)
			while (read(w->fd, buf, sizeof(buf)) > 0)
				;
	}
	pthread_mutex_unlock(&exit_lock);
}

void aic__exit_track(struct aic_worker *w)
{
	w->pid = getpid();
	pthread_mutex_lock(&exit_lock);
	if (!exit_hooked)
		exit_hooked = atexit(flush_at_exit) == 0;
	w->exit_next = exit_list;
	exit_list = w;
	pthread_mutex_unlock(&exit_lock);
}

void aic__exit_untrack(struct aic_worker *w)
{
	struct aic_worker **pp;

	pthread_mutex_lock(&exit_lock);
	for (pp = &exit_list; *pp; pp = &(*pp)->exit_next)
		if (*pp == w) {
			*pp = w->exit_next;
			break;
		}
	pthread_mutex_unlock(&exit_lock);
}

/* A channel's id, from the agent's WELCOME; -ENOENT for a name the job has no channel of. */
static int chan_id(const struct aic_worker *w, const char *name, uint32_t *id)
{
	json_t *v = json_object_get(w->channels, name);

	if (!json_is_integer(v))
		return -ENOENT;
	*id = (uint32_t)json_integer_value(v);
	return 0;
}

/*
 * A block of len bytes in this worker's ring, or 0. A full ring means items
 * are still queued or in flight: while puts of this worker wait for the
 * channel, their answers come as consumers ack, which frees room, so wait
 * for one rather than go inline.
 */
static int ring_block(struct aic_worker *w, size_t len, uint64_t *off)
{
	int rc;

	*off = 0;
	while (len >= AIC_ARENA_MIN_BYTES && len < AIC_ITEM_SHM && w->arena.base) {
		uint32_t seen = aic_ring_frees(&w->arena, w->region);
		if ((*off = aic_ring_alloc(&w->arena, w->region, len)))
			break;
		if (w->puts_out > 0) {
			rc = aic__settle_puts(w, w->puts_out - 1);
			if (rc)
				return rc;
			continue;
		}
		/*
		 * Every put was accepted: the ring is full of items queued or held
		 * by consumers, and the agent gives blocks back as they are acked.
		 * Wait for one, unless the last wait went by with none given back
		 * (consumers holding every item while they wait for more): then go
		 * inline at once rather than stall each put.
		 */
		if ((w->stalled && seen == w->stalled_at) ||
		    !aic_ring_wait(&w->arena, w->region, seen, RING_WAIT_MS)) {
			w->stalled = true;
			w->stalled_at = seen;
			break;
		}
	}
	return 0;
}

/* Whether buf is in this worker's own ring: a block of aic_put_buffer's. */
static bool in_own_ring(const struct aic_worker *w, const void *buf)
{
	const uint8_t *b = buf;

	return w->arena.base && b > w->arena.base + w->region &&
	       b < w->arena.base + w->region + w->arena.region_size;
}

/*
 * The put itself, once the channel's id is known: settles earlier puts as
 * the window requires, then sends the item, from the ring block at `off`
 * (PUT_SHM: only its place travels) or inline from data, and waits for its
 * answer when the caller wants the id or a timeout. A ring block is the
 * agent's once sent; on an error before that it is given back.
 */
static int put_item(struct aic_worker *w, uint32_t c, uint64_t off, const void *data, size_t len,
		    uint64_t version, int timeout_ms, uint64_t *id)
{
	uint8_t head[28];
	bool wait = id || timeout_ms >= 0;
	int rc, window;

	/*
	 * Puts are pipelined: up to PUT_WINDOW in flight, so items stream without
	 * a round trip each; the agent still accepts them only as the channel's
	 * capacity allows, so a full channel stops the producer here. A caller
	 * that wants the id or a timeout waits for this put's own answer.
	 */
	window = off || len > PUT_SMALL ? PUT_WINDOW : PUT_WINDOW_SMALL;
	rc = aic__settle_puts(w, wait ? 0 : window - 1);
	if (!rc && w->put_error) {
		rc = w->put_error;
		w->put_error = 0;
	}
	if (rc) {
		aic_ring_free(&w->arena, off);
		return rc;
	}
	aic_put_u32(head, c);
	aic_put_u64(head + 4, version);
	aic_put_u32(head + 12, aic__wire_timeout(timeout_ms));
	if (off) {
		aic_put_u64(head + 16, off);
		aic_put_u32(head + 24, (uint32_t)len);
		rc = wait ? aic__send_frame(w, AIC_MSG_PUT_SHM, head, 28, NULL, 0)
			  : aic__send_batched(w, AIC_MSG_PUT_SHM, head, 28, NULL, 0);
	} else {
		rc = wait ? aic__send_frame(w, AIC_MSG_PUT, head, 16, data, len)
			  : aic__send_batched(w, AIC_MSG_PUT, head, 16, data, len);
	}
	if (rc)
		return rc;
	w->puts_out++;
	if (!wait)
		return 0;
	rc = aic__recv_frame(w);
	if (rc)
		return rc;
	w->puts_out--;
	if (w->frame.type == AIC_MSG_PUT_ERR)
		return aic__json_code(&w->frame);
	if (w->frame.type != AIC_MSG_PUT_OK || w->frame.length < 8)
		return AIC_EPROTO;
	if (id)
		*id = aic_get_u64(w->frame.payload);
	return 0;
}

int aic_put(struct aic_worker *w, const char *chan, const void *data, size_t len, uint64_t version,
	    int timeout_ms, uint64_t *id)
{
	uint64_t off = 0;
	uint32_t c;
	int rc = chan_id(w, chan, &c);

	if (!rc && len > AIC_ITEM_MAX_BYTES)
		rc = -EMSGSIZE;
	/* A large item is written once, into this worker's arena region; only its place travels. */
	if (!rc)
		rc = ring_block(w, len, &off);
	if (rc)
		return rc;
	if (off)
		memcpy(w->arena.base + off, data, len);
	return put_item(w, c, off, data, len, version, timeout_ms, id);
}

int aic_put_buffer(struct aic_worker *w, size_t len, void **buf)
{
	uint64_t off;
	int rc;

	*buf = NULL;
	if (len > AIC_ITEM_MAX_BYTES)
		return -EMSGSIZE;
	rc = ring_block(w, len, &off);
	if (rc)
		return rc;
	if (off) {
		*buf = w->arena.base + off;
		return 0;
	}
	return aic__heap_buffer(len, buf);
}

int aic_put_commit(struct aic_worker *w, const char *chan, void *buf, size_t len,
		   uint64_t version, int timeout_ms, uint64_t *id)
{
	uint32_t c;
	int rc;

	if (!buf)
		return -EINVAL;
	rc = chan_id(w, chan, &c);
	if (!rc && len > AIC_ITEM_MAX_BYTES)
		rc = -EMSGSIZE;
	if (rc) {
		aic_put_discard(w, buf);
		return rc;
	}
	if (in_own_ring(w, buf)) {
		uint64_t off = (uint64_t)((uint8_t *)buf - w->arena.base);
		if (!aic_ring_valid(&w->arena, w->region, off, len)) {
			aic_ring_free(&w->arena, off);
			return -EINVAL; /* longer than the buffer */
		}
		return put_item(w, c, off, NULL, len, version, timeout_ms, id);
	}
	if (len > aic__heap_len(buf)) {
		aic__heap_free(buf);
		return -EINVAL;
	}
	rc = put_item(w, c, 0, buf, len, version, timeout_ms, id);
	aic__heap_free(buf);
	return rc;
}

void aic_put_discard(struct aic_worker *w, void *buf)
{
	if (in_own_ring(w, buf))
		aic_ring_free(&w->arena, (uint64_t)((uint8_t *)buf - w->arena.base));
	else
		aic__heap_free(buf);
}

int aic_get(struct aic_worker *w, const char *chan, struct aic_item *items, size_t max, size_t *n,
	    int timeout_ms)
{
	return aic_get_min(w, chan, items, max, 1, n, timeout_ms);
}

int aic_get_min(struct aic_worker *w, const char *chan, struct aic_item *items, size_t max,
		size_t min, size_t *n, int timeout_ms)
{
	uint8_t req[16];
	const uint8_t *p, *data;
	struct aic_items walk;
	struct aic_item_hdr h;
	uint32_t c, count, flags, i;
	int rc = chan_id(w, chan, &c);

	*n = 0;
	if (rc)
		return rc;
	if (max == 0 || max > 1u << 20 || min > max)
		return -EINVAL;
	aic_put_u32(req, c);
	aic_put_u32(req + 4, (uint32_t)max);
	aic_put_u32(req + 8, aic__wire_timeout(timeout_ms));
	aic_put_u32(req + 12, (uint32_t)min);
	/* The least goes only when it says something: a GET of 12 bytes is one of 1. */
	rc = aic__send_frame(w, AIC_MSG_GET, req, min > 1 ? 16 : 12, NULL, 0);
	if (!rc)
		rc = aic__recv_reply(w);
	if (rc)
		return rc;
	if (w->frame.type != AIC_MSG_ITEMS || w->frame.length < 8)
		return aic__frame_error(w);
	p = w->frame.payload;
	count = aic_get_u32(p);
	flags = aic_get_u32(p + 4);
	aic_items_init(&walk, p + 8, w->frame.length - 8, count < max ? count : (uint32_t)max, true);
	for (i = 0; (rc = aic_items_next(&walk, &h, &data)) == 1; i++) {
		items[i].producer = h.producer;
		items[i].id = h.id;
		items[i].version = h.version;
		items[i].len = h.len & ~AIC_ITEM_SHM;
		items[i].origin_chan = h.origin.chan;
		items[i].origin_epoch = h.origin.epoch;
		items[i].origin_line = h.origin.line;
		if (h.len & AIC_ITEM_SHM) {
			/* In the arena: read where the producer (or this node's agent) wrote it. */
			uint64_t at = aic_get_u64(data);
			if (!w->arena.base || !at || at > w->arena.size ||
			    items[i].len > w->arena.size - at)
				return AIC_EPROTO;
			items[i].data = w->arena.base + at;
			continue;
		}
		items[i].data = data;
	}
	if (rc < 0)
		return rc;
	*n = i;
	if (i == 0 && (flags & AIC_ITEMS_EOF))
		return AIC_ECLOSED;
	return 0;
}

int aic_item_origin(const struct aic_worker *w, const struct aic_item *item, const char **source,
		    uint64_t *line, uint32_t *epoch)
{
	const char *name = NULL, *k;
	json_t *v;

	if (!w || !item || item->origin_chan == AIC_ORIGIN_NONE)
		return -ENOENT;
	json_object_foreach(w->channels, k, v)
		if (json_is_integer(v) && json_integer_value(v) == (json_int_t)item->origin_chan)
			name = k;
	if (!name)
		return -ENOENT;
	if (source)
		*source = name;
	if (line)
		*line = item->origin_line;
	if (epoch)
		*epoch = item->origin_epoch;
	return 0;
}

int aic_ack(struct aic_worker *w, const char *chan, const struct aic_item *items, size_t n)
{
	uint8_t *buf;
	uint32_t c;
	size_t i;
	int rc = chan_id(w, chan, &c);

	if (rc)
		return rc;
	if (n == 0)
		return 0;
	buf = malloc(8 + n * AIC_ACK_ENTRY);
	if (!buf)
		return -ENOMEM;
	aic_put_u32(buf, c);
	aic_put_u32(buf + 4, (uint32_t)n);
	for (i = 0; i < n; i++)
		aic_ack_encode(buf + 8 + i * AIC_ACK_ENTRY, items[i].producer, items[i].id);
	rc = aic__send_batched(w, AIC_MSG_ACK, buf, 8 + n * AIC_ACK_ENTRY, NULL, 0);
	free(buf);
	return rc;
}
