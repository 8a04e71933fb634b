/*
 * A channel's files: its source (JSONL read by the agent the CONFIG names
 * its "feeder", one item per non-empty line, "epochs" passes, as fast as
 * the channel's capacity lets it) and its sink (every item the agent
 * "sink_agent" can take appended as one line, and acked at once).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	while (ch->src && ch->own.n + ch->n_own_inflight < ch->capacity) {
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
		it = item_new((size_t)n);
		if (!it)
			return;
		it->producer = ch->cs->rank;
		it->id = ch->next_id++;
		it->version = 0;
		it->len = (uint32_t)n;
		memcpy(it->data, ch->line, (size_t)n);
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

void sink_drain(struct chan *ch)
{
	struct queue *qs[2] = {&ch->pulled, &ch->own};
	struct item *it;
	int q;

	for (q = 0; q < 2 && ch->snk; q++)
		while (ch->snk && (it = queue_pop(qs[q]))) {
			if (fwrite(item_data(ch->cs, it), 1, it->len, ch->snk) != it->len ||
			    fputc('\n', ch->snk) == EOF) {
				aic_log_error("channel '%s': cannot write its sink '%s'", ch->name,
					      ch->sink);
				sink_finish(ch, -EIO);
			}
			if (it->producer != ch->cs->rank)
				peer_forward_ack(ch->cs, ch->id, it->producer, it->id);
			item_free(ch->cs, it);
		}
	if (ch->snk)
		fflush(ch->snk);
}
