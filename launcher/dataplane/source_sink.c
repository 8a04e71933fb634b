/*
 * A channel's files: its source (JSONL read by the agent the CONFIG names
 * its "feeder", one item per non-empty line, "epochs" passes, as fast as
 * the channel's capacity lets it) and its sink (every item the agent
 * "sink_agent" can take appended as one line, and acked once a batched
 * fsync says it is on disk).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "internal.h"
#include "log.h"

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

int source_open(struct chan *ch)
{
	int err;

	/* "e": close-on-exec, or every worker this agent starts inherits the file. */
	ch->src = fopen(ch->source, "re");
	if (ch->src)
		return 0;
	err = -errno ? -errno : -EIO;
	aic_log_error("channel '%s': cannot read source '%s': %s", ch->name, ch->source,
		      aic_strerror(err));
	source_finished(ch, err);
	return err;
}

void source_refill(struct chan *ch)
{
	while (ch->src && !ch->cs->sources_paused && chan_room(ch, 0)) {
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
		if ((size_t)n > AIC_ITEM_MAX_BYTES) {
			aic_log_error("channel '%s': a line of '%s' is %zd bytes, over the %u of an item",
				      ch->name, ch->source, n, AIC_ITEM_MAX_BYTES);
			source_finished(ch, -EMSGSIZE);
			continue;
		}
		it = item_new((size_t)n);
		if (!it)
			return;
		it->producer = ch->cs->rank;
		it->id = ch->next_id++;
		it->version = 0;
		it->len = (uint32_t)n;
		memcpy(it->data, ch->line, (size_t)n);
		own_enter(ch, it);
		queue_push(&ch->own, it, false);
	}
}

void sink_finish(struct chan *ch, int err)
{
	if (ch->snk && fclose(ch->snk) != 0 && !err)
		err = -errno;
	ch->snk = NULL;
	ch->sink_finished = true;
	if (ch->cs->sink_done)
		ch->cs->sink_done(ch->cs->sink_arg, ch->id, err);
}

int sink_open(struct chan *ch)
{
	int err;

	ch->snk = fopen(ch->sink, "ae");
	if (ch->snk)
		return 0;
	err = -errno;
	aic_log_error("channel '%s': cannot write its sink '%s': %s", ch->name, ch->sink,
		      aic_strerror(err));
	sink_finish(ch, err);
	return err;
}

/* An item leaves the channel for good: its slot is free, its producer's agent is told. */
static void sink_acked(struct chan *ch, struct item *it)
{
	if (it->producer == ch->cs->rank) {
		ch->n_own_inflight--;
		own_leave(ch, it);
	} else {
		peer_forward_ack(ch->cs, ch->id, it->producer, it->id);
	}
	item_free(ch->cs, it);
}

/*
 * The sink cannot be written: whatever is past the last sync (possibly a
 * part of a line) is cut off, and the items not synced go back to the head
 * of their queues, in order, un-acked: the job fails, but nothing it was
 * told is written is missing, and no line is torn.
 */
static void sink_fail(struct chan *ch, int err)
{
	struct chan_set *cs = ch->cs;
	struct queue back = {0};
	struct item *it;
	int fd = dup(fileno(ch->snk));

	aic_log_error("channel '%s': cannot write its sink '%s': %s", ch->name, ch->sink,
		      aic_strerror(err));
	/* fclose writes what stdio still buffers: the cut comes after it. */
	fclose(ch->snk);
	ch->snk = NULL;
	if (fd >= 0) {
		if (ch->sink_synced >= 0 && ftruncate(fd, (off_t)ch->sink_synced) != 0)
			aic_log_error("channel '%s': cannot cut its sink '%s' back to %lld bytes: %s",
				      ch->name, ch->sink, (long long)ch->sink_synced,
				      aic_strerror(-errno));
		close(fd);
	}
	while ((it = queue_pop(&ch->sinking))) {
		if (it->producer == cs->rank)
			ch->n_own_inflight--;
		queue_push(&back, it, true);
	}
	while ((it = queue_pop(&back)))
		queue_push(it->producer == cs->rank ? &ch->own : &ch->pulled, it, true);
	sink_finish(ch, err);
}

/* The batch written since the last sync is on disk: ack it. */
static void sink_sync(struct chan *ch)
{
	int fd = fileno(ch->snk);
	struct item *it;
	off_t end;

	/* A FIFO or a terminal cannot be synced (EINVAL): written is all there is. */
	if (fflush(ch->snk) != 0 || (fsync(fd) != 0 && errno != EINVAL)) {
		sink_fail(ch, errno ? -errno : -EIO);
		return;
	}
	end = lseek(fd, 0, SEEK_CUR);
	ch->sink_synced = end < 0 ? -1 : (int64_t)end;
	while ((it = queue_pop(&ch->sinking)))
		sink_acked(ch, it);
}

static void sink_timer_expired(uv_timer_t *t)
{
	struct chan *ch = t->data;

	if (ch->snk && ch->sinking.n) {
		sink_sync(ch);
		chan_pump(ch);
	}
}

void sink_drain(struct chan *ch)
{
	struct queue *qs[2] = {&ch->pulled, &ch->own};
	struct item *it;
	int q;

	if (!ch->snk)
		return;
	if (!ch->sink_sized) {
		off_t end = lseek(fileno(ch->snk), 0, SEEK_END);
		ch->sink_synced = end < 0 ? -1 : (int64_t)end;
		ch->sink_sized = true;
	}
	for (q = 0; q < 2; q++)
		while ((it = queue_pop(qs[q]))) {
			errno = 0;
			if (it->producer == ch->cs->rank)
				ch->n_own_inflight++;
			queue_push(&ch->sinking, it, false);
			if (fwrite(item_data(ch->cs, it), 1, it->len, ch->snk) != it->len ||
			    fputc('\n', ch->snk) == EOF) {
				sink_fail(ch, errno ? -errno : -EIO);
				return;
			}
		}
	if (!ch->sinking.n)
		return;
	if (!ch->sink_timer) {
		ch->sink_timer = malloc(sizeof(*ch->sink_timer));
		if (!ch->sink_timer) {
			sink_sync(ch); /* no batching, then */
			return;
		}
		uv_timer_init(ch->cs->loop, ch->sink_timer);
		ch->sink_timer->data = ch;
	}
	/* After this turn of the loop: what else it brings joins the batch. */
	if (!uv_is_active((uv_handle_t *)ch->sink_timer))
		uv_timer_start(ch->sink_timer, sink_timer_expired, 0, 0);
}

static void free_handle(uv_handle_t *h)
{
	free(h);
}

void sink_release(struct chan *ch)
{
	struct item *it;

	while ((it = queue_pop(&ch->sinking)))
		item_free(ch->cs, it);
	if (ch->sink_timer)
		uv_close((uv_handle_t *)ch->sink_timer, free_handle);
	ch->sink_timer = NULL;
}
