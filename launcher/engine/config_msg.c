/*
 * The data plane's CONFIG message, built by the head once every process is
 * placed and sent to every agent before any worker starts.
 */
#include "config.h"

#include <limits.h>
#include <stdint.h>
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

	/*
	 * One pass over the processes, marking their agents in ranks[] (it
	 * has room for every agent), then the marked ones moved to its front:
	 * O(agents + processes), not one pass over the processes per agent.
	 */
	memset(ranks, 0, (size_t)h->cfg.n_agents * sizeof(*ranks));
	for (k = 0; k < h->n_procs; k++)
		if (h->procs[k].state != P_IDLE && h->procs[k].p->node < (size_t)h->cfg.n_agents &&
		    (head__proc_uses(h, k, name, a) || head__proc_uses(h, k, name, b)))
			ranks[h->procs[k].p->node] = 1;
	for (r = 0; r < h->cfg.n_agents; r++)
		if (ranks[r] && !h->agents[r].lost)
			ranks[n++] = (uint32_t)r;
	return n;
}

/* Line (e, l) of progress p's "next" or of an "unfinished" entry; false when it is none. */
static bool pos_of(const json_t *a, uint64_t pos[2])
{
	json_int_t e = json_integer_value(json_array_get(a, 0));
	json_int_t l = json_integer_value(json_array_get(a, 1));

	if (json_array_size(a) != 2 || e < 0 || e > UINT32_MAX || l < 1)
		return false;
	pos[0] = (uint64_t)e;
	pos[1] = (uint64_t)l;
	return true;
}

static bool pos_before(const uint64_t a[2], const uint64_t b[2])
{
	return a[0] < b[0] || (a[0] == b[0] && a[1] < b[1]);
}

static int pos_cmp(const void *a, const void *b)
{
	return pos_before(a, b) ? -1 : pos_before(b, a);
}

/*
 * The lines done in both a and b, two progresses in state.c's form (a new
 * reference; NULL: either is malformed, or no memory). A line is done in
 * a progress when it comes before its `next` and is not `unfinished`; so
 * in both: before the earlier `next`, and unfinished in neither.
 */
static json_t *progress_both(const json_t *a, const json_t *b)
{
	json_t *ua = json_object_get(a, "unfinished"), *ub = json_object_get(b, "unfinished");
	json_t *v, *o;
	uint64_t na[2], nb[2], *next, (*pos)[2];
	size_t n = 0, i, k;

	if (json_is_true(json_object_get(a, "done")))
		return json_is_object(b) ? json_incref((json_t *)b) : NULL;
	if (json_is_true(json_object_get(b, "done")))
		return json_is_object(a) ? json_incref((json_t *)a) : NULL;
	if (!pos_of(json_object_get(a, "next"), na) || !pos_of(json_object_get(b, "next"), nb) ||
	    !json_is_array(ua) || !json_is_array(ub))
		return NULL;
	next = pos_before(na, nb) ? na : nb;
	pos = calloc(json_array_size(ua) + json_array_size(ub) + 1, sizeof(*pos));
	if (!pos)
		return NULL;
	json_array_foreach(ua, i, v)
		if (pos_of(v, pos[n]) && pos_before(pos[n], next))
			n++;
	json_array_foreach(ub, i, v)
		if (pos_of(v, pos[n]) && pos_before(pos[n], next))
			n++;
	qsort(pos, n, sizeof(*pos), pos_cmp);
	o = json_pack("{s:b,s:[I,I],s:[]}", "done", 0, "next", (json_int_t)next[0],
		      (json_int_t)next[1], "unfinished");
	for (i = 0, k = 0; o && i < n; i++)
		if (!i || pos_cmp(pos[i], pos[k]) != 0) {
			k = i;
			json_array_append_new(
				json_object_get(o, "unfinished"),
				json_pack("[I,I]", (json_int_t)pos[i][0], (json_int_t)pos[i][1]));
		}
	free(pos);
	return o;
}

/*
 * Where a resumed run continues source channel c: the lines done in the
 * earlier run (the journal's progress, state.c) and in the progress that
 * goes with every checkpoint that counts (drain.c). A stage resumes from
 * its checkpoint, which holds the lines done at the worker's mark, not
 * those done after it (launcher/dataplane/acker.c, "Checkpoints"): those
 * are read again, so none is lost, and a line may be done twice. NULL
 * (read the source from its start) when the journal has no progress, or a
 * counted checkpoint has none (a journal of an older aic).
 */
static json_t *resume_progress(struct head *h, const char *chan)
{
	json_t *p = json_object_get(json_object_get(json_object_get(h->journal, "sources"), chan),
				    "progress");
	json_t *cut, *ck, *v, *q;
	const char *stage;
	size_t i;

	if (!json_is_object(p))
		return NULL;
	cut = json_incref(p);
	json_object_foreach(json_object_get(h->journal, "checkpoints"), stage, ck)
		json_array_foreach(json_object_get(ck, "versions"), i, v) {
			if (json_is_null(v) || !cut)
				continue;
			p = json_object_get(json_array_get(json_object_get(ck, "sources"), i), chan);
			q = json_is_object(p) ? progress_both(cut, p) : NULL;
			if (!q)
				aic_log_info("channel '%s': the checkpoint of stage '%s' %zu does not "
					     "say which lines it holds: its source is read from its start",
					     chan, stage, i);
			json_decref(cut);
			cut = q;
		}
	return cut;
}

/*
 * Where a resumed run continues source channel c, read at `path`, into r
 * (dp_config.h), also as JSON into *start (a new reference: where this
 * run starts, from the start of the file when nothing is resumed). False
 * when nothing is (a fresh job, the earlier run read another file, or no
 * memory). r->pending is malloc'd (dp_config_release frees it).
 */
static bool resume_from_journal(struct head *h, size_t c, const char *path, struct dp_resume *r,
				json_t **start)
{
	json_t *src = json_object_get(json_object_get(h->journal, "sources"),
				      h->cfg.spec->channels[c].name);
	const char *was = json_string_value(json_object_get(src, "path"));
	json_t *p = NULL, *next, *u, *l;
	size_t i;

	*start = json_pack("{s:b,s:[i,i],s:[]}", "done", 0, "next", 0, 1, "unfinished");
	if (!json_is_object(json_object_get(src, "progress")))
		return false;
	if (!was || strcmp(was, path)) {
		aic_log_info("channel '%s': its source is now '%s', was '%s': read from its start",
			     h->cfg.spec->channels[c].name, path, was ? was : "");
		return false;
	}
	p = resume_progress(h, h->cfg.spec->channels[c].name);
	if (!p)
		return false;
	if (json_is_true(json_object_get(p, "done"))) {
		r->done = true;
		goto out_start;
	}
	next = json_object_get(p, "next");
	u = json_object_get(p, "unfinished");
	if (json_integer_value(json_array_get(next, 0)) < 0 ||
	    json_integer_value(json_array_get(next, 1)) < 1)
		goto out_free;
	r->epoch = (uint32_t)json_integer_value(json_array_get(next, 0));
	r->next = (uint64_t)json_integer_value(json_array_get(next, 1));
	r->pending = calloc(json_array_size(u) + 1, sizeof(*r->pending));
	if (!r->pending)
		goto out_free;
	json_array_foreach(u, i, l)
		r->pending[r->n_pending++] = (struct dp_line){
			.epoch = (uint32_t)json_integer_value(json_array_get(l, 0)),
			.line = (uint64_t)json_integer_value(json_array_get(l, 1))};
out_start:
	json_decref(*start);
	*start = p;
	return true;
out_free:
	json_decref(p);
	return false;
}

/* Channel ch's prefetch (dp_config.h, DP_PREFETCH_MAX): the spec's, else by how many read it. */
static uint32_t prefetch(const struct aic_spec *spec, const struct aic_channel *ch)
{
	int readers = 0, ahead = ch->capacity / 4;
	size_t i;

	if (ch->prefetch >= 0)
		return (uint32_t)ch->prefetch;
	for (i = 0; i < spec->n_stages; i++)
		if (head__stage_uses(&spec->stages[i], ch->name, READS))
			readers += aic_stage_procs(&spec->stages[i]);
	if (readers > 1)
		return 0;
	return ahead < 1 ? 1 : ahead > DP_PREFETCH_MAX ? DP_PREFETCH_MAX : (uint32_t)ahead;
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
	json_t *starts = json_object(), *start;
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
		e->prefetch = prefetch(spec, ch);
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
			e->has_resume = resume_from_journal(h, c, e->source, &e->resume, &start);
			if (start && !h->start_progress)
				json_object_set_new(starts, ch->name, start);
			else
				json_decref(start);
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
	/* A checkpoint reported without a mark holds what this run started from (drain.c). */
	if (msg && !h->start_progress) {
		h->start_progress = starts;
		starts = NULL;
	}
out_release:
	json_decref(starts);
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
