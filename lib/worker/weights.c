/*
 * Weight streams (aic.h): publishing a version (from a blob, or in place
 * into a buffer) and receiving the newest one.
 *
 * With the node's arena, a version is written once into a slot the agent
 * gives (W_SLOT), announced piece by piece as it is written (W_FILLED) so
 * the agent can send it on while the rest is copied, and committed
 * (W_COMMIT); readers on the node then read it in place. Without an arena,
 * with no slot free, or when it is small (INLINE_MAX), it travels inline
 * (W_PUBLISH).
 */
#include "config.h"

#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* A version is copied into its slot in pieces of this size, the agent told after each. */
#define FILL_PIECE ((size_t)4 << 20)
/*
 * A version this small goes inline (W_PUBLISH), one round trip: a slot
 * costs two (W_SLOT, W_COMMIT) and two mprotect calls, more than copying
 * a few pages through the socket does.
 */
#define INLINE_MAX ((size_t)64 << 10)

/* A weight stream's id, from the agent's WELCOME; -ENOENT for a name the job has no stream of. */
static int stream_id(const struct aic_worker *w, const char *name, uint32_t *id)
{
	json_t *v = json_object_get(w->weights, name);

	if (!json_is_integer(v))
		return -ENOENT;
	*id = (uint32_t)json_integer_value(v);
	return 0;
}

/*
 * Asks the agent for an arena slot to write version `version` (len bytes)
 * of stream s into: 0 and *off (still read-only in this process), 1 when
 * the version is not newer than the agent's (nothing to write), 2 when
 * there is no slot now (publish inline), or a negative error.
 */
static int slot_request(struct aic_worker *w, uint32_t s, size_t len, uint64_t version,
			uint64_t *off)
{
	uint8_t req[20];
	int rc;

	aic_put_u32(req, s);
	aic_put_u64(req + 4, version);
	aic_put_u64(req + 12, len);
	rc = aic__send_frame(w, AIC_MSG_W_SLOT, req, 20, NULL, 0);
	if (!rc)
		rc = aic__recv_reply(w);
	if (rc)
		return rc;
	if (w->frame.type == AIC_MSG_W_OK)
		return 1;
	if (w->frame.type != AIC_MSG_W_SLOT_OK || w->frame.length < 8)
		return aic__frame_error(w) == -EBUSY ? 2 : aic__frame_error(w);
	*off = aic_get_u64(w->frame.payload);
	return 0;
}

/*
 * The slot at off is written (len bytes; 0: it could not be, and the agent
 * lets it go): the version is the agent's, and the slot read-only again
 * when it was made writable in the arena's mapping (`writable`).
 */
static int slot_commit(struct aic_worker *w, uint32_t s, uint64_t off, size_t len, uint64_t version,
		       bool writable)
{
	uint8_t req[28];
	int rc;

	aic_put_u32(req, s);
	aic_put_u64(req + 4, version);
	aic_put_u64(req + 12, off);
	aic_put_u64(req + 20, len);
	rc = aic__send_frame(w, AIC_MSG_W_COMMIT, req, 28, NULL, 0);
	/*
	 * Made read-only while the agent already sends the version on (for 48
	 * MiB the mprotect takes about a millisecond): nothing writes the slot
	 * in between, since this call has not returned. Should it fail, the
	 * version is published all the same; only this process's own mapping
	 * of the slot stays writable.
	 */
	if (len && writable)
		aic_arena_protect(&w->arena, off, len, false);
	if (!rc)
		rc = aic__recv_reply(w);
	if (rc)
		return rc;
	if (w->frame.type != AIC_MSG_W_OK)
		return aic__frame_error(w);
	if (len)
		aic__phase_published(w, s, version);
	return 0;
}

/* Bytes [0, done) of the slot at off are written: the agent may send them on (no answer). */
static int slot_filled(struct aic_worker *w, uint32_t s, uint64_t off, size_t done, uint64_t version)
{
	uint8_t req[28];

	aic_put_u32(req, s);
	aic_put_u64(req + 4, version);
	aic_put_u64(req + 12, off);
	aic_put_u64(req + 20, done);
	return aic__send_frame(w, AIC_MSG_W_FILLED, req, 28, NULL, 0);
}

/* A version sent in the frame itself (no arena, or no slot free). */
static int publish_inline(struct aic_worker *w, uint32_t s, const void *blob, size_t len,
			  uint64_t version)
{
	uint8_t head[12];
	int rc;

	aic_put_u32(head, s);
	aic_put_u64(head + 4, version);
	rc = aic__send_frame(w, AIC_MSG_W_PUBLISH, head, sizeof(head), blob, len);
	if (!rc)
		rc = aic__recv_reply(w);
	if (rc)
		return rc;
	if (w->frame.type != AIC_MSG_W_OK)
		return aic__frame_error(w);
	aic__phase_published(w, s, version);
	return 0;
}

int aic_weights_publish(struct aic_worker *w, const char *name, const void *blob, size_t len,
			uint64_t version)
{
	uint64_t off = 0;
	uint32_t s;
	int rc = stream_id(w, name, &s);

	if (rc)
		return rc;
	if (w->arena.base && len > INLINE_MAX) {
		rc = slot_request(w, s, len, version, &off);
		if (rc == 0) {
			/*
			 * Copied through a writable view of the slot, so that the
			 * arena's own mapping of it is never made writable: where
			 * there is no view, through that mapping made writable.
			 */
			uint8_t *dst = aic_arena_view(&w->arena, off, len);
			bool writable = !dst;
			size_t done = 0;
			if (writable) {
				dst = w->arena.base + off;
				rc = aic_arena_protect(&w->arena, off, len, true);
			}
			/*
			 * Piece by piece, each announced (W_FILLED, no answer): the
			 * agent sends what is written down the chain while the rest
			 * is copied.
			 */
			while (!rc && len - done > FILL_PIECE) {
				memcpy(dst + done, (const uint8_t *)blob + done, FILL_PIECE);
				done += FILL_PIECE;
				slot_filled(w, s, off, done, version);
			}
			if (!rc) {
				memcpy(dst + done, (const uint8_t *)blob + done, len - done);
				return slot_commit(w, s, off, len, version, writable);
			}
		}
		if (rc < 0 && off)
			slot_commit(w, s, off, 0, version, false); /* the agent lets the slot go */
		if (rc != 2)
			return rc < 0 ? rc : 0;
	}
	return publish_inline(w, s, blob, len, version);
}

int aic_weights_buffer(struct aic_worker *w, const char *name, size_t len, uint64_t version,
		       void **buf)
{
	uint64_t off = 0;
	uint32_t s;
	int rc = stream_id(w, name, &s);

	*buf = NULL;
	if (rc)
		return rc;
	if (w->wbuf.buf)
		return -EBUSY; /* one at a time */
	if (w->arena.base && len > INLINE_MAX) {
		rc = slot_request(w, s, len, version, &off);
		/* The caller writes the slot itself: the arena's mapping of it is made writable. */
		if (rc == 0)
			rc = aic_arena_protect(&w->arena, off, len, true);
		if (rc < 0 && off)
			slot_commit(w, s, off, 0, version, false);
		if (rc < 0)
			return rc;
	} else {
		rc = 2;
	}
	w->wbuf.stream = s;
	w->wbuf.version = version;
	w->wbuf.len = len;
	w->wbuf.written = 0;
	w->wbuf.skip = rc == 1;
	if (rc == 0) {
		w->wbuf.off = off;
		w->wbuf.buf = w->arena.base + off;
	} else {
		w->wbuf.off = 0;
		rc = aic__heap_buffer(len, &w->wbuf.buf);
		if (rc)
			return rc;
	}
	*buf = w->wbuf.buf;
	return 0;
}

int aic_weights_written(struct aic_worker *w, const char *name, void *buf, size_t bytes)
{
	uint32_t s;
	int rc = stream_id(w, name, &s);

	if (!buf || buf != w->wbuf.buf || rc || s != w->wbuf.stream)
		return rc ? rc : -EINVAL;
	/* The whole is announced by the commit; a heap buffer goes whole, inline. */
	if (!w->wbuf.off || bytes >= w->wbuf.len || bytes <= w->wbuf.written)
		return 0;
	w->wbuf.written = bytes;
	return slot_filled(w, s, w->wbuf.off, bytes, w->wbuf.version);
}

void aic_weights_discard(struct aic_worker *w, void *buf)
{
	if (!buf || buf != w->wbuf.buf)
		return;
	w->wbuf.buf = NULL;
	if (w->wbuf.off)
		slot_commit(w, w->wbuf.stream, w->wbuf.off, 0, w->wbuf.version, true); /* let go */
	else
		aic__heap_free(buf);
}

int aic_weights_commit(struct aic_worker *w, const char *name, void *buf, size_t len)
{
	uint32_t s;
	int rc = stream_id(w, name, &s);

	if (!buf || buf != w->wbuf.buf || rc || s != w->wbuf.stream || len > w->wbuf.len)
		return rc ? rc : -EINVAL;
	w->wbuf.buf = NULL;
	if (w->wbuf.off)
		return slot_commit(w, s, w->wbuf.off, len, w->wbuf.version, true);
	rc = w->wbuf.skip ? 0 : publish_inline(w, s, buf, len, w->wbuf.version);
	aic__heap_free(buf);
	return rc;
}

int aic_weights_receive(struct aic_worker *w, const char *name, uint64_t min_version,
			int timeout_ms, const void **blob, size_t *len, uint64_t *version)
{
	uint8_t req[16];
	uint32_t s;
	int rc = stream_id(w, name, &s);

	if (rc)
		return rc;
	aic_put_u32(req, s);
	/* A phase that began after the other stage published waits for that version. */
	aic_put_u64(req + 4, aic__phase_min_version(w, s, min_version));
	aic_put_u32(req + 12, aic__wire_timeout(timeout_ms));
	rc = aic__send_frame(w, AIC_MSG_W_RECV, req, sizeof(req), NULL, 0);
	if (!rc)
		rc = aic__recv_reply(w);
	if (rc)
		return rc;
	if (w->frame.type == AIC_MSG_W_DATA_SHM && w->frame.length == 24) {
		/* The newest version in the node's arena: read in place, no copy. */
		uint64_t off = aic_get_u64(w->frame.payload + 8), n = aic_get_u64(w->frame.payload + 16);
		if (!w->arena.base || off > w->arena.size || n > w->arena.size - off)
			return AIC_EPROTO;
		*version = aic_get_u64(w->frame.payload);
		*blob = w->arena.base + off;
		*len = (size_t)n;
		return 0;
	}
	if (w->frame.type != AIC_MSG_W_DATA || w->frame.length < 8)
		return aic__frame_error(w);
	*version = aic_get_u64(w->frame.payload);
	*blob = w->frame.payload + 8;
	*len = w->frame.length - 8;
	return 0;
}
