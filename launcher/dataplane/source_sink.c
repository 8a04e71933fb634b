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
#include "jsonl.h"
#include "log.h"

void source_finished(struct chan *ch, int err)
{
	if (ch->src)
		fclose(ch->src);
	ch->src = NULL;
	if (ch->again)
		fclose(ch->again);
	ch->again = NULL;
	free(ch->source);
	ch->source = NULL;
	ch->n_replay = 0;
	if (ch->cs->source_done)
		ch->cs->source_done(ch->cs->source_arg, ch->id, err);
}

/* Whether line (e, l) comes before line (e2, l2) in the order the source is read. */
static bool line_before(uint32_t e, uint64_t l, uint32_t e2, uint64_t l2)
{
	return e < e2 || (e == e2 && l < l2);
}

int source_resume(struct chan *ch, const struct dp_resume *r)
{
	size_t i;

	ch->resuming = !r->done;
	ch->src_eof = r->done;
	ch->resume_at = (struct replay){.epoch = r->epoch, .line = r->next};
	if (!r->n_pending)
		return 0;
	ch->keep = calloc(r->n_pending, sizeof(*ch->keep));
	if (!ch->keep)
		return -ENOMEM;
	/* Sorted, and only what comes before the resume point (the rest is read anyway). */
	for (i = 0; i < r->n_pending; i++)
		if (line_before(r->pending[i].epoch, r->pending[i].line, r->epoch, r->next) &&
		    (!ch->n_keep || line_before(ch->keep[ch->n_keep - 1].epoch,
						ch->keep[ch->n_keep - 1].line, r->pending[i].epoch,
						r->pending[i].line)))
			ch->keep[ch->n_keep++] = (struct replay){.epoch = r->pending[i].epoch,
								 .line = r->pending[i].line};
	return 0;
}

/*
 * A resumed source: whether the file's line (epoch, line) was done in an
 * earlier run, and is skipped. Lines come in order, so the lines to keep
 * are walked once; from the resume point on, every line is read.
 */
static bool resume_skips(struct chan *ch, uint32_t epoch, uint64_t line)
{
	if (!ch->resuming)
		return false;
	if (!line_before(epoch, line, ch->resume_at.epoch, ch->resume_at.line)) {
		ch->resuming = false;
		free(ch->keep);
		ch->keep = NULL;
		ch->n_keep = ch->keep_at = 0;
		return false;
	}
	while (ch->keep_at < ch->n_keep &&
	       line_before(ch->keep[ch->keep_at].epoch, ch->keep[ch->keep_at].line, epoch, line))
		ch->keep_at++;
	if (ch->keep_at < ch->n_keep && ch->keep[ch->keep_at].epoch == epoch &&
	    ch->keep[ch->keep_at].line == line) {
		ch->keep_at++;
		return false;
	}
	return true;
}

int source_open(struct chan *ch)
{
	int err;

	if (ch->src_eof && !ch->resuming) {
		/* Resumed after every line was done: nothing to read. */
		source_finished(ch, 0);
		return -ENOENT;
	}
	/* "e": close-on-exec, or every worker this agent starts inherits the file. */
	ch->src = fopen(ch->source, "re");
	if (ch->src)
		ch->again = fopen(ch->source, "re"); /* lines read again: see acker.c */
	if (ch->src && ch->again) {
		ch->src_line = 0;
		ch->src_off = 0;
		if (ch->resuming) {
			/* Whole passes before the first line to read are not read at all. */
			uint32_t e = ch->n_keep && ch->keep[0].epoch < ch->resume_at.epoch
					     ? ch->keep[0].epoch
					     : ch->resume_at.epoch;
			if (ch->epochs_left > 1 && e > (uint32_t)(ch->epochs_left - 1))
				e = (uint32_t)(ch->epochs_left - 1);
			else if (ch->epochs_left <= 1)
				e = 0;
			ch->src_epoch = e;
			ch->epochs_left -= (int)e;
		}
		return 0;
	}
	err = -errno ? -errno : -EIO;
	aic_log_error("channel '%s': cannot read source '%s': %s", ch->name, ch->source,
		      aic_strerror(err));
	source_finished(ch, err);
	return err;
}

/*
 * The next line to put: one to read again (a lost node's), else the file's
 * next. Returns its length (the line in ch->line, its end of line cut), 0
 * for a blank line, -1 at the end of the file, or -errno (the source fails).
 */
static ssize_t next_line(struct chan *ch, uint64_t *line, uint32_t *epoch, uint64_t *offset)
{
	ssize_t n;

	if (ch->n_replay) {
		const struct replay *r = &ch->replay[--ch->n_replay];
		*line = r->line;
		*epoch = r->epoch;
		*offset = r->offset;
		if (fseeko(ch->again, (off_t)r->offset, SEEK_SET) != 0)
			return -errno;
		n = getline(&ch->line, &ch->line_cap, ch->again);
		if (n < 0)
			return ferror(ch->again) ? -EIO : -ESPIPE; /* the file was cut since */
	} else {
		do {
			if (!ch->src)
				return -1;
			*line = ++ch->src_line;
			*epoch = ch->src_epoch;
			*offset = ch->src_off;
			n = getline(&ch->line, &ch->line_cap, ch->src);
			if (n < 0)
				return ferror(ch->src) ? -EIO : -1;
			ch->src_off += (uint64_t)n;
		} while (resume_skips(ch, *epoch, *line));
	}
	while (n > 0 && (ch->line[n - 1] == '\n' || ch->line[n - 1] == '\r'))
		n--;
	return n;
}

void source_refill(struct chan *ch)
{
	while ((ch->src || ch->n_replay) && ch->source && !ch->cs->sources_paused &&
	       chan_room(ch, 0)) {
		uint64_t line, offset;
		uint32_t epoch;
		ssize_t n = next_line(ch, &line, &epoch, &offset);
		struct item *it;
		if (n == -1) {
			/* The end of a pass: the next one, or the end (once every tree is done). */
			if (--ch->epochs_left > 0) {
				rewind(ch->src);
				ch->src_epoch++;
				ch->src_line = 0;
				ch->src_off = 0;
			} else {
				fclose(ch->src);
				ch->src = NULL;
				ch->src_eof = true;
			}
			continue;
		}
		if (n < 0) {
			aic_log_error("channel '%s': cannot read source '%s' (line %llu): %s",
				      ch->name, ch->source, (unsigned long long)line,
				      aic_strerror((int)n));
			source_finished(ch, (int)n);
			return;
		}
		if (n == 0)
			continue;
		if ((size_t)n > AIC_ITEM_MAX_BYTES) {
			aic_log_error("channel '%s': a line of '%s' is %zd bytes, over the %u of an item",
				      ch->name, ch->source, n, AIC_ITEM_MAX_BYTES);
			source_finished(ch, -EMSGSIZE);
			return;
		}
		it = item_new((size_t)n);
		if (!it)
			return;
		it->producer = ch->cs->rank;
		it->id = ch->next_id++;
		it->version = 0;
		it->len = (uint32_t)n;
		memcpy(it->data, ch->line, (size_t)n);
		acker_root(ch, it, line, epoch, offset);
		own_enter(ch, it);
		queue_push(&ch->own, it, false);
	}
	acker_source_check(ch);
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
	char part[48];
	off_t cut;
	int err;

	/* Cut back to its last whole line first: see lib/jsonl.h. */
	ch->snk = aic_jsonl_append(ch->sink, &cut, part, sizeof(part));
	if (ch->snk) {
		if (cut)
			aic_log_warn("channel '%s': sink '%s' ended in %lld bytes of a line cut short "
				     "(\"%s\", a run killed while writing it): cut back to its last "
				     "whole line; that line's item was never acknowledged, so a resumed "
				     "run writes it again",
				     ch->name, ch->sink, (long long)cut, part);
		return 0;
	}
	err = -errno;
	if (err == -EINVAL)
		aic_log_error("channel '%s': sink '%s' has no line end in its last %lld bytes: not a "
			      "file of aic's lines, to append to (move it away)",
			      ch->name, ch->sink, (long long)AIC_JSONL_LINE_MAX);
	else
		aic_log_error("channel '%s': cannot write its sink '%s': %s", ch->name, ch->sink,
			      aic_strerror(err));
	sink_finish(ch, err);
	return err;
}

/* An item leaves the channel for good: its slot is free, its producer's agent is told. */
static void sink_acked(struct chan *ch, struct item *it)
{
	acker_acked(ch->cs, it);
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
	while ((it = queue_pop(&ch->sinking))) {
		sink_acked(ch, it);
		ch->sink_lines_acked++;
	}
	/* What a test can hold the sink to: at least this many whole lines are in the file. */
	aic_log_debug("channel '%s': %llu lines of sink '%s' written and acked", ch->name,
		      (unsigned long long)ch->sink_lines_acked, ch->sink);
}

static void sink_timer_expired(uv_timer_t *t)
{
	struct chan *ch = t->data;

	if (ch->snk && ch->sinking.n) {
		sink_sync(ch);
		chan_pump(ch);
	}
}

/* Writes c escaped for a JSON string: channel names are plain, but the line stays valid. */
static void json_str(FILE *f, const char *c)
{
	for (; *c; c++)
		if (*c == '"' || *c == '\\')
			fprintf(f, "\\%c", *c);
		else if ((unsigned char)*c < 0x20)
			fprintf(f, "\\u%04x", *c);
		else
			fputc(*c, f);
}

/*
 * One item as a sink line: its bytes, and, for an item from a source line
 * that is a JSON object, its origin as the object's first member,
 * "_aic_origin": {"source", "epoch", "line"} (doc/aic-job.5): the item's
 * own bytes stay as they are, around it. 0 or EOF (errno says why).
 */
static int sink_write(struct chan *ch, const struct item *it)
{
	const uint8_t *b = item_data(ch->cs, it);
	const struct chan *src = chan_find(ch->cs, it->origin.chan);
	uint32_t at = 0, k;

	while (at < it->len && (b[at] == ' ' || b[at] == '\t'))
		at++;
	if (src && at < it->len && b[at] == '{') {
		at++;
		if (fwrite(b, 1, at, ch->snk) != at)
			return EOF;
		fputs("\"_aic_origin\": {\"source\": \"", ch->snk);
		json_str(ch->snk, src->name);
		fprintf(ch->snk, "\", \"epoch\": %u, \"line\": %llu}", it->origin.epoch,
			(unsigned long long)it->origin.line);
		for (k = at; k < it->len && (b[k] == ' ' || b[k] == '\t'); k++)
			;
		if (k < it->len && b[k] != '}' && fputs(", ", ch->snk) == EOF)
			return EOF;
	}
	if (fwrite(b + at, 1, it->len - at, ch->snk) != it->len - at || fputc('\n', ch->snk) == EOF)
		return EOF;
	return 0;
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
			if (sink_write(ch, it) != 0) {
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
