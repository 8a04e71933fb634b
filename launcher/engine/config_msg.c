/*
 * The data plane's CONFIG message, built by the head once every process is
 * placed and sent to every agent before any worker starts.
 */
#include "config.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "dp_config.h"
#include "internal.h"
#include "log.h"

/*
 * The agents (ranks) with a process that uses `name` in either way, into
 * ranks[]; how many. Lost agents are left out: they produce and receive
 * nothing any more (a process that ran there and moved is counted where
 * it is now).
 */
static size_t ranks_using(const struct head *h, const char *name, enum use a, enum use b,
			  uint32_t *ranks)
{
	size_t k, n = 0;
	int r;

	for (r = 0; r < h->cfg.n_agents; r++)
		for (k = 0; k < h->n_procs && !h->agents[r].lost; k++)
			if (h->procs[k].p->node == (size_t)r && h->procs[k].state != P_IDLE &&
			    (head__proc_uses(h, k, name, a) || head__proc_uses(h, k, name, b))) {
				ranks[n++] = (uint32_t)r;
				break;
			}
	return n;
}

/*
 * Whether a stage of an earlier run has a counted checkpoint. A line's
 * tree is done once its items are acked, but a stage that keeps state
 * resumes from its checkpoint, which may predate those acks: the engine
 * cannot tell which lines that state has taken in, so such a job reads its
 * sources from the start and its workers skip what their checkpoints hold
 * (examples/grpo-toy). Only a job of stateless stages continues them.
 */
static bool has_counted_checkpoint(struct head *h)
{
	const char *stage;
	json_t *ck, *v;
	size_t i;

	json_object_foreach(json_object_get(h->journal, "checkpoints"), stage, ck)
		json_array_foreach(json_object_get(ck, "versions"), i, v)
			if (!json_is_null(v))
				return true;
	return false;
}

/*
 * Where a resumed run continues source channel c, read at `path`: the
 * journal's progress (state.c) into r; false when there is none (a fresh
 * job, or the earlier run read another file: read from its start), or no
 * memory. r->pending is malloc'd (dp_config_release frees it).
 */
static bool resume_from_journal(struct head *h, size_t c, const char *path, struct dp_resume *r)
{
	json_t *src = json_object_get(json_object_get(h->journal, "sources"),
				      h->cfg.spec->channels[c].name);
	json_t *p = json_object_get(src, "progress"), *next, *u;
	const char *was = json_string_value(json_object_get(src, "path"));
	size_t i;

	if (!json_is_object(p))
		return false;
	if (has_counted_checkpoint(h)) {
		aic_log_info("channel '%s': a stage's checkpoint counts: its source is read from its "
			     "start, and the workers skip what their checkpoints hold",
			     h->cfg.spec->channels[c].name);
		return false;
	}
	if (!was || strcmp(was, path)) {
		aic_log_info("channel '%s': its source is now '%s', was '%s': read from its start",
			     h->cfg.spec->channels[c].name, path, was ? was : "");
		return false;
	}
	if (json_is_true(json_object_get(p, "done"))) {
		r->done = true;
		return true;
	}
	next = json_object_get(p, "next");
	u = json_object_get(p, "unfinished");
	if (json_integer_value(json_array_get(next, 0)) < 0 ||
	    json_integer_value(json_array_get(next, 1)) < 1)
		return false;
	r->epoch = (uint32_t)json_integer_value(json_array_get(next, 0));
	r->next = (uint64_t)json_integer_value(json_array_get(next, 1));
	r->pending = calloc(json_array_size(u) + 1, sizeof(*r->pending));
	if (!r->pending)
		return false;
	json_array_foreach(u, i, p)
		r->pending[r->n_pending++] = (struct dp_line){
			.epoch = (uint32_t)json_integer_value(json_array_get(p, 0)),
			.line = (uint64_t)json_integer_value(json_array_get(p, 1))};
	return true;
}

/*
 * What agents need to know of the data plane (CONFIG, whose schema is
 * launcher/dataplane/dp_config.h): every agent's endpoint; per channel its
 * capacity, the agents that produce it (pulled by the others), staleness,
 * and who reads its source / writes its sink; per weight stream the agents
 * that keep its versions. NULL when out of memory.
 */
json_t *head__data_plane_config(struct head *h)
{
	const struct aic_spec *spec = h->cfg.spec;
	size_t n_agents = (size_t)h->cfg.n_agents, c, i, si, wi;
	struct dp_config cfg = {0};
	/* A channel's sink and source paths, borrowed by cfg until it is encoded. */
	char(*paths)[PATH_MAX] = calloc(2 * spec->n_channels + 1, sizeof(*paths));
	json_t *msg = NULL;

	if (!h->feeders)
		h->feeders = calloc(spec->n_channels + 1, sizeof(*h->feeders));
	if (!h->sinkers)
		h->sinkers = calloc(spec->n_channels + 1, sizeof(*h->sinkers));
	cfg.channels = calloc(spec->n_channels + 1, sizeof(*cfg.channels));
	cfg.agents = calloc(n_agents + 1, sizeof(*cfg.agents));
	cfg.weights = calloc(spec->n_weights + 1, sizeof(*cfg.weights));
	if (!paths || !h->feeders || !h->sinkers || !cfg.channels || !cfg.agents || !cfg.weights)
		goto out_release;
	cfg.n_channels = spec->n_channels;
	cfg.n_agents = n_agents;
	cfg.n_weights = spec->n_weights;
	for (c = 0; c < spec->n_channels; c++) {
		const struct aic_channel *ch = &spec->channels[c];
		struct dp_channel *e = &cfg.channels[c];
		/* Every agent at most once, and a source's feeder (rank 0). */
		e->producers = calloc(n_agents + 1, sizeof(*e->producers));
		if (!e->producers)
			goto out_release;
		e->n_producers = ranks_using(h, ch->name, WRITES, WRITES, e->producers);
		h->chan_closed[c] = head__chan_producers_done(h, ch->name);
		e->name = ch->name;
		e->capacity = (uint32_t)ch->capacity;
		e->capacity_bytes = ch->capacity_mb << 20;
		e->closed = h->chan_closed[c];
		e->compress = ch->compress;
		/* Items written by a stage that reads weights W carry W's version. */
		for (si = 0; si < spec->n_stages; si++) {
			const struct aic_stage *st = &spec->stages[si];
			if (!head__stage_uses(st, ch->name, WRITES) || !st->weights_from)
				continue;
			for (wi = 0; wi < spec->n_weights; wi++)
				if (!strcmp(spec->weights[wi].name, st->weights_from)) {
					e->has_stale = true;
					e->stale.stream = (uint32_t)wi;
					e->stale.k = (uint64_t)spec->weights[wi].max_staleness;
				}
			break;
		}
		/*
		 * Sources and sinks are rank 0's, on the head's node, whose loss
		 * the job does not survive: its agent keeps the trees of the
		 * source lines (launcher/dataplane/acker.c), reads them again
		 * when another node is lost, and acks what the sinks wrote.
		 */
		if (ch->sink) {
			head__spec_relative(h, ch->sink, paths[2 * c], sizeof(paths[0]));
			e->sink = paths[2 * c];
			e->sink_agent = 0;
			if (h->sinkers)
				h->sinkers[c] = (int)e->sink_agent; /* recover.c: lost with it? */
		}
		if (ch->source) {
			head__spec_relative(h, ch->source, paths[2 * c + 1], sizeof(paths[0]));
			e->source = paths[2 * c + 1];
			e->epochs = (uint32_t)ch->epochs;
			e->feeder = 0;
			/* A resumed run skips the lines the earlier runs finished. */
			e->has_resume = resume_from_journal(h, c, e->source, &e->resume);
			for (i = 0; i < e->n_producers && e->producers[i] != e->feeder; i++)
				;
			if (i == e->n_producers)
				e->producers[e->n_producers++] = e->feeder;
			if (h->feeders)
				h->feeders[c] =
					(int)e->feeder; /* for MEMBERS, should readers move */
		}
	}
	for (i = 0; i < n_agents; i++)
		cfg.agents[i] = (struct dp_agent){.rank = (uint32_t)i, .addr = h->agents[i].addr,
						  .port = (uint32_t)h->agents[i].data_port};
	/* Readers' agents get every version; writers' keep them too (staleness is judged there). */
	for (wi = 0; wi < spec->n_weights; wi++) {
		struct dp_weights *w = &cfg.weights[wi];
		w->name = spec->weights[wi].name;
		w->receivers = calloc(n_agents + 1, sizeof(*w->receivers));
		if (!w->receivers)
			goto out_release;
		w->n_receivers = ranks_using(h, w->name, WEIGHTS_FROM, WEIGHTS_TO, w->receivers);
	}
	cfg.failure_timeout_ms = spec->failure_timeout_ms;
	msg = dp_config_to_json(&cfg);
out_release:
	dp_config_release(&cfg);
	free(paths);
	return msg;
}

/* A rank list as JSON. */
static json_t *ranks_json(const uint32_t *ranks, size_t n)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; a && i < n; i++)
		json_array_append_new(a, json_integer(ranks[i]));
	return a;
}

json_t *head__data_plane_members(struct head *h)
{
	const struct aic_spec *spec = h->cfg.spec;
	uint32_t *ranks = calloc((size_t)h->cfg.n_agents + 2, sizeof(*ranks));
	json_t *producers = json_array(), *receivers = json_array();
	size_t c, n;

	if (!ranks || !producers || !receivers)
		goto out_free;
	for (c = 0; c < spec->n_channels; c++) {
		n = ranks_using(h, spec->channels[c].name, WRITES, WRITES, ranks);
		n = head__autoscale_producers(h, c, ranks, n);
		/* The source's feeder, as CONFIG named it, unless it is lost. */
		if (spec->channels[c].source && h->feeders && !h->agents[h->feeders[c]].lost)
			ranks[n++] = (uint32_t)h->feeders[c];
		json_array_append_new(producers, ranks_json(ranks, n));
	}
	for (c = 0; c < spec->n_weights; c++) {
		n = ranks_using(h, spec->weights[c].name, WEIGHTS_FROM, WEIGHTS_TO, ranks);
		json_array_append_new(receivers, ranks_json(ranks, n));
	}
	free(ranks);
	return json_pack("{s:o,s:o}", "producers", producers, "receivers", receivers);
out_free:
	free(ranks);
	json_decref(producers);
	json_decref(receivers);
	return NULL;
}
