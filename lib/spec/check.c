/*
 * The cross-checks of a job spec, once every section is read: what stages
 * inherit from the top level, the channels and weights streams that stages
 * name without declaring, and the rules of doc/aic-job.5 that involve
 * several sections (every channel has a writer and a reader, every weights
 * stream one writer, colocation is between two stages with GPUs, every
 * stage can start), and the rules of a stage's service and sandbox
 * sections (called as each stage is read). Each problem is reported at
 * the position of the entry it concerns.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/*
 * A service is replicas, each with one readiness check: an HTTP path
 * answered with 2xx, or a TCP connection (the default).
 */
void aic__spec_service_check(struct spec_ctx *c, struct aic_stage *st, yaml_node_t *v)
{
	yaml_node_t *key = NULL, *svc = aic__spec_value(c, v, "service", &key), *ready;
	struct aic_service_ready *r = &st->svc.ready;

	if (!svc || svc->type != YAML_MAPPING_NODE)
		return;
	st->service = true;
	if (st->ranks)
		aic__spec_err(c, key,
			      "stage '%s': a service has replicas, not 'ranks' (a gang answers "
			      "through its own rank 0)",
			      st->name);
	ready = aic__spec_value(c, svc, "ready", &key);
	if (r->http && r->tcp)
		aic__spec_err(c, key, "stages.%s.service.ready: choose one of 'http' and 'tcp'",
			      st->name);
	else if (r->http && r->http[0] != '/')
		aic__spec_err(c, aic__spec_value(c, ready, "http", NULL),
			      "stages.%s.service.ready.http: expected a path starting with '/', "
			      "got '%s'",
			      st->name, r->http);
	else if (ready && ready->type == YAML_MAPPING_NODE && !r->http && !r->tcp)
		aic__spec_err(c, key,
			      "stages.%s.service.ready: expected {http: PATH} or {tcp: true}",
			      st->name);
	if (!r->http)
		r->tcp = true;
}

void aic__spec_sandbox_check(struct spec_ctx *c, struct aic_stage *st, yaml_node_t *v)
{
	yaml_node_t *key = NULL, *sbx = aic__spec_value(c, v, "sandbox", &key);
	const struct aic_sandbox_spec *s = &st->sbx;

	st->sandbox = sbx && sbx->type == YAML_MAPPING_NODE;
	if (!st->sandbox)
		return;
	if (s->rootfs && s->image)
		aic__spec_err(c, key,
			      "stage '%s': sandbox has both 'rootfs' and 'image': a rootfs is a "
			      "directory image; choose one",
			      st->name);
	else if (!s->image && s->runtime != AIC_SANDBOX_RT_AUTO &&
		 s->runtime != AIC_SANDBOX_RT_BWRAP)
		aic__spec_err(c, key, "stage '%s': sandbox runtime '%s' needs an 'image'", st->name,
			      aic__spec_sandbox_runtime(s->runtime));
}

static const struct aic_stage *find_stage(const struct aic_spec *spec, const char *name)
{
	return aic__spec_find(spec, &aic__spec_stages, name);
}

static const struct aic_channel *find_channel(const struct aic_spec *spec, const char *name)
{
	return aic__spec_find(spec, &aic__spec_channels, name);
}

static bool in_list(char *const *list, const char *s)
{
	for (; list && *list; list++)
		if (!strcmp(*list, s))
			return true;
	return false;
}

/* Channels and weights that stages name without declaring them exist implicitly. */
static void add_implicit(struct spec_ctx *c)
{
	struct aic_spec *spec = c->spec;
	size_t i;
	char **p;

	for (i = 0; i < spec->n_stages; i++) {
		struct aic_stage *st = &spec->stages[i];
		char **lists[2] = {st->outputs, st->inputs};
		int l;
		for (l = 0; l < 2; l++)
			for (p = lists[l]; p && *p; p++)
				if (!find_channel(spec, *p))
					aic__spec_add(c, &aic__spec_channels, *p, st->mark);
		if (st->weights_to && !aic__spec_find(spec, &aic__spec_weights, st->weights_to))
			aic__spec_add(c, &aic__spec_weights, st->weights_to, st->mark);
		if (st->weights_from && !aic__spec_find(spec, &aic__spec_weights, st->weights_from))
			aic__spec_add(c, &aic__spec_weights, st->weights_from, st->mark);
	}
}

static void check_channels(struct spec_ctx *c)
{
	struct aic_spec *spec = c->spec;
	size_t i, j;

	for (i = 0; i < spec->n_channels; i++) {
		struct aic_channel *ch = &spec->channels[i];
		const char *writer = NULL, *reader = NULL;
		for (j = 0; j < spec->n_stages; j++) {
			if (!writer && in_list(spec->stages[j].outputs, ch->name))
				writer = spec->stages[j].name;
			if (!reader && in_list(spec->stages[j].inputs, ch->name))
				reader = spec->stages[j].name;
		}
		if (!writer && !ch->source) {
			if (reader)
				aic__spec_err_at(c, ch->mark,
						 "channel '%s' is read by stage '%s' but written "
						 "by no stage "
						 "and has no source",
						 ch->name, reader);
			else
				aic__spec_err_at(c, ch->mark,
						 "channel '%s' is neither written nor read: give "
						 "it a source "
						 "and a reader, or remove it",
						 ch->name);
			continue;
		}
		if (!reader && !ch->sink) {
			if (writer)
				aic__spec_err_at(c, ch->mark,
						 "channel '%s' is written by stage '%s' but read "
						 "by no stage "
						 "and has no sink",
						 ch->name, writer);
			else
				aic__spec_err_at(
					c, ch->mark,
					"channel '%s' has a source but is read by no stage and has "
					"no sink",
					ch->name);
		}
	}
}

static void check_weights(struct spec_ctx *c)
{
	struct aic_spec *spec = c->spec;
	size_t i, j;

	for (i = 0; i < spec->n_weights; i++) {
		struct aic_weights *w = &spec->weights[i];
		const struct aic_stage *writer = NULL, *reader = NULL;
		for (j = 0; j < spec->n_stages; j++) {
			const struct aic_stage *st = &spec->stages[j];
			if (st->weights_to && !strcmp(st->weights_to, w->name)) {
				if (writer)
					aic__spec_err_at(
						c, st->mark,
						"weights '%s' are published by both stage '%s' and "
						"stage '%s': a weights stream has one writer",
						w->name, writer->name, st->name);
				else
					writer = st;
			}
			if (!reader && st->weights_from && !strcmp(st->weights_from, w->name))
				reader = st;
		}
		if (!writer)
			aic__spec_err_at(
				c, w->mark,
				"weights '%s' have no writer: no stage has 'weights_to: %s'",
				w->name, w->name);
		else if (!reader)
			aic__spec_err_at(
				c, w->mark,
				"weights '%s' are published by stage '%s' but no stage has "
				"'weights_from: %s'",
				w->name, writer->name, w->name);
	}
}

/*
 * An alternating pair is one phase group: the engine hands the GPUs from
 * one stage to the other, so a stage alternates with one other stage at
 * most, and neither of the two takes part in another alternating pair.
 */
static void check_alternate(struct spec_ctx *c, const struct aic_stage *st,
			    const struct aic_stage *peer)
{
	const struct aic_spec *spec = c->spec;
	size_t j;

	for (j = 0; j < spec->n_stages; j++) {
		const struct aic_stage *o = &spec->stages[j];
		if (o == st || !o->colocate_with || o->colocate_mode != AIC_COLOCATE_ALTERNATE)
			continue;
		if (!strcmp(o->colocate_with, peer->name) || !strcmp(o->colocate_with, st->name) ||
		    !strcmp(o->name, peer->name)) {
			aic__spec_err_at(c, st->colocate_mark,
					 "stage '%s': alternates with '%s', but stage '%s' "
					 "alternates with '%s' already (one pair per set of GPUs)",
					 st->name, peer->name, o->name, o->colocate_with);
			return;
		}
	}
}

static void check_colocation(struct spec_ctx *c)
{
	struct aic_spec *spec = c->spec;
	size_t i;

	for (i = 0; i < spec->n_stages; i++) {
		struct aic_stage *st = &spec->stages[i];
		const struct aic_stage *peer;
		if (!st->colocate_with)
			continue;
		peer = find_stage(spec, st->colocate_with);
		if (!peer)
			aic__spec_err_at(c, st->colocate_mark,
					 "stage '%s': colocate_with names '%s', which is no stage",
					 st->name, st->colocate_with);
		else if (peer == st)
			aic__spec_err_at(c, st->colocate_mark,
					 "stage '%s': colocate_with names the stage itself",
					 st->name);
		else if (st->gpus == 0 || peer->gpus == 0)
			aic__spec_err_at(c, st->colocate_mark,
					 "stage '%s': colocate_with '%s' shares GPUs, but stage "
					 "'%s' uses none",
					 st->name, peer->name,
					 st->gpus == 0 ? st->name : peer->name);
		else if (st->colocate_mode == AIC_COLOCATE_ALTERNATE)
			check_alternate(c, st, peer);
	}
}

/*
 * A stage can start when every one of its inputs can receive data: a
 * channel is live when it has a source or a live stage writes it. Stages
 * that never become live wait on each other in a cycle with no way in.
 */
static void check_startable(struct spec_ctx *c)
{
	struct aic_spec *spec = c->spec;
	bool *live_st, *live_ch, changed = true;
	size_t i, j;
	char **p;

	live_st = calloc(spec->n_stages + 1, sizeof(bool));
	live_ch = calloc(spec->n_channels + 1, sizeof(bool));
	if (!live_st || !live_ch) {
		c->oom = true;
		goto out_free;
	}
	for (j = 0; j < spec->n_channels; j++)
		live_ch[j] = spec->channels[j].source != NULL;
	while (changed) {
		changed = false;
		for (i = 0; i < spec->n_stages; i++) {
			bool ok = true;
			if (live_st[i])
				continue;
			for (p = spec->stages[i].inputs; p && *p && ok; p++) {
				const struct aic_channel *ch = find_channel(spec, *p);
				ok = ch && live_ch[ch - spec->channels];
			}
			if (!ok)
				continue;
			live_st[i] = changed = true;
			for (p = spec->stages[i].outputs; p && *p; p++) {
				const struct aic_channel *ch = find_channel(spec, *p);
				if (ch)
					live_ch[ch - spec->channels] = true;
			}
		}
	}
	for (i = 0; i < spec->n_stages; i++) {
		if (live_st[i])
			continue;
		for (p = spec->stages[i].inputs; p && *p; p++) {
			const struct aic_channel *ch = find_channel(spec, *p);
			bool written = false;
			if (!ch || live_ch[ch - spec->channels])
				continue;
			for (j = 0; j < spec->n_stages; j++)
				written |= in_list(spec->stages[j].outputs, ch->name);
			if (written)
				aic__spec_err_at(c, spec->stages[i].mark,
						 "stage '%s' can never start: its input '%s' is "
						 "written only by "
						 "stages that wait on it (a cycle with no source)",
						 spec->stages[i].name, ch->name);
			break;
		}
	}
out_free:
	free(live_st);
	free(live_ch);
}

/*
 * The top-level autoscale: satellites grow only autoscaled stages, and the
 * partition is a SLURM partition name (or a comma-separated list of them),
 * passed to sbatch as it is.
 */
static void check_satellites(struct spec_ctx *c)
{
	const struct aic_satellites *sat = &c->spec->satellites;
	const char *p = sat->partition;
	size_t i;
	bool any = false;

	for (i = 0; p && p[i]; i++)
		if (!isalnum((unsigned char)p[i]) && !strchr("_-.,", p[i])) {
			aic__spec_err_at(c, sat->partition_mark,
					 "autoscale.partition: '%s' is not a SLURM partition name "
					 "(letters, digits, '_', '-', '.', ',' between names)",
					 p);
			return;
		}
	for (i = 0; i < c->spec->n_stages; i++)
		any |= aic_stage_autoscales(&c->spec->stages[i]);
	if (sat->max_nodes > 0 && !any)
		aic__spec_err_at(c, sat->mark,
				 "autoscale: max_nodes %d, but no stage autoscales (a stage needs "
				 "replicas {min, max} with min below max and inputs to grow onto "
				 "satellite nodes)",
				 sat->max_nodes);
}

void aic__spec_check(struct spec_ctx *c, yaml_node_t *stages)
{
	struct aic_spec *spec = c->spec;
	size_t i;

	if (!stages) {
		aic__spec_err_at(c, (struct aic_mark){1, 1},
				 "the spec has no 'stages': a job needs at least one stage");
		return;
	}
	if (spec->n_stages == 0) {
		if (c->n_errs == 0)
			aic__spec_err(c, stages, "stages: a job needs at least one stage");
		return;
	}
	for (i = 0; i < spec->n_stages; i++) {
		struct aic_restart *r = &spec->stages[i].restart;
		if (r->max < 0)
			r->max = spec->restart.max;
		if (r->backoff_ms < 0)
			r->backoff_ms = spec->restart.backoff_ms;
	}
	add_implicit(c);
	check_channels(c);
	check_weights(c);
	check_colocation(c);
	check_startable(c);
	check_satellites(c);
}
