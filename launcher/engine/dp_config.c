/*
 * The data plane's CONFIG message, built by the head once every process is
 * placed and sent to every agent before any worker starts.
 */
#include "config.h"

#include <limits.h>
#include <string.h>

#include "internal.h"

/* The node of the first process (in plan order) that uses `name` so, or `dflt`. */
static int first_node(const struct head *h, const char *name, enum use u, int dflt)
{
	size_t k;

	for (k = 0; k < h->n_procs; k++)
		if (head__proc_uses(h, k, name, u))
			return (int)h->procs[k].p->node;
	return dflt;
}

/* The nodes (agent ranks) with a process that uses `name` in either way, as JSON. */
static json_t *nodes_using(const struct head *h, const char *name, enum use a, enum use b)
{
	json_t *out = json_array();
	int r;
	size_t k;

	for (r = 0; r < h->cfg.n_agents; r++)
		for (k = 0; k < h->n_procs; k++)
			if (h->procs[k].p->node == (size_t)r &&
			    (head__proc_uses(h, k, name, a) || head__proc_uses(h, k, name, b))) {
				json_array_append_new(out, json_integer(r));
				break;
			}
	return out;
}

/*
 * What agents need to know of the data plane (CONFIG): every agent's
 * endpoint; per channel its capacity, the agents that produce it (pulled by
 * the others), staleness, and who reads its source / writes its sink; per
 * weight stream the agents that keep its versions.
 */
json_t *head__data_plane_config(struct head *h)
{
	const struct aic_spec *spec = h->cfg.spec;
	json_t *chans = json_array(), *agents = json_array(), *weights = json_array();
	char path[PATH_MAX];
	size_t c, i, si, wi;

	for (c = 0; c < spec->n_channels; c++) {
		const struct aic_channel *ch = &spec->channels[c];
		json_t *producers = nodes_using(h, ch->name, WRITES, WRITES), *e;
		h->chan_closed[c] = head__chan_producers_done(h, ch->name);
		e = json_pack("{s:s,s:i,s:b,s:b,s:o}", "name", ch->name, "capacity", ch->capacity,
			      "closed", h->chan_closed[c], "compress", ch->compress, "producers",
			      producers);
		/* Items written by a stage that reads weights W carry W's version. */
		for (si = 0; si < spec->n_stages; si++) {
			const struct aic_stage *st = &spec->stages[si];
			if (!head__stage_uses(st, ch->name, WRITES) || !st->weights_from)
				continue;
			for (wi = 0; wi < spec->n_weights; wi++)
				if (!strcmp(spec->weights[wi].name, st->weights_from))
					json_object_set_new(e, "stale",
							    json_pack("{s:i,s:i}", "stream", (int)wi, "k",
								      spec->weights[wi].max_staleness));
			break;
		}
		if (ch->sink) {
			/* Written by the agent of the channel's first producer. */
			head__spec_relative(h, ch->sink, path, sizeof(path));
			json_object_set_new(e, "sink", json_string(path));
			json_object_set_new(e, "sink_agent", json_integer(first_node(h, ch->name, WRITES, 0)));
		}
		if (ch->source) {
			/* Read by the agent of its first consumer: the lines start local. */
			int feeder = first_node(h, ch->name, READS, 0);
			head__spec_relative(h, ch->source, path, sizeof(path));
			json_object_set_new(e, "source", json_string(path));
			json_object_set_new(e, "epochs", json_integer(ch->epochs));
			json_object_set_new(e, "feeder", json_integer(feeder));
			json_array_append_new(producers, json_integer(feeder));
		}
		json_array_append_new(chans, e);
	}
	for (i = 0; i < (size_t)h->cfg.n_agents; i++)
		json_array_append_new(agents, json_pack("{s:i,s:s,s:i}", "rank", (int)i, "addr",
							h->agents[i].addr, "port", h->agents[i].data_port));
	/* Readers' agents get every version; writers' keep them too (staleness is judged there). */
	for (wi = 0; wi < spec->n_weights; wi++)
		json_array_append_new(weights,
				      json_pack("{s:s,s:o}", "name", spec->weights[wi].name, "receivers",
						nodes_using(h, spec->weights[wi].name, WEIGHTS_FROM,
							    WEIGHTS_TO)));
	return json_pack("{s:o,s:o,s:o}", "channels", chans, "agents", agents, "weights", weights);
}
