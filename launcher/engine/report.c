/*
 * What the head writes to the job directory (see jobdir.h): status.json on
 * every change, summary.json at the end, metrics.jsonl as workers report.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "internal.h"
#include "jobdir.h"
#include "log.h"
#include "metrics.h"
#include "strbuf.h"

#define STATUS_EVERY_MS 50
/* status.json's writes take at most 1/STATUS_SHARE of the head's time (head__save_status). */
#define STATUS_SHARE 10

static const char *const pstate_names[] = {"pending", "starting", "running", "stopping",
					   "done",    "failed",	  "lost",    "waiting", "idle"};

/* [{"node", "rank", "lost_s" (since the job started), "why"}] of the nodes lost so far. */
static json_t *lost_nodes(const struct head *h)
{
	json_t *a = json_array();
	int i;

	for (i = 0; i < h->cfg.n_agents; i++) {
		const struct hagent *g = &h->agents[i];
		if (g->lost && !g->released)
			json_array_append_new(
				a, json_pack("{s:s,s:i,s:f,s:s}", "node", g->node, "rank", g->rank,
					     "lost_s", (double)(g->lost_ms - h->start_ms) / 1000.0,
					     "why", g->lost_why));
	}
	return a;
}

json_t *head__status_json(struct head *h)
{
	json_t *o = json_object(), *procs = json_array();
	uint64_t now = aic_now_ms();
	size_t i, g;

	json_object_set_new(o, "job", json_string(h->name));
	json_object_set_new(o, "state", json_string(h->final_state ? h->final_state
						    : h->placed    ? "running"
								   : "starting"));
	if (h->reason[0])
		json_object_set_new(o, "reason", json_string(h->reason));
	json_object_set_new(o, "uptime_s", json_real((double)(now - h->start_ms) / 1000.0));
	json_object_set_new(o, "nodes", json_integer(h->n_main));
	json_object_set_new(o, "lost_nodes", lost_nodes(h));
	for (i = 0; i < h->n_procs; i++) {
		struct hproc *hp = &h->procs[i];
		const struct aic_stage *st = &h->cfg.spec->stages[hp->p->stage];
		json_t *gpus = json_array();
		for (g = 0; hp->state != P_IDLE && g < hp->p->n_gpus; g++)
			json_array_append_new(gpus, json_integer(hp->p->gpus[g]));
		json_array_append_new(
			procs,
			json_pack("{s:s,s:s,s:i,s:s,s:o,s:s,s:I,s:i,s:i,s:o,s:f}", "stage",
				  st->name, "kind", st->ranks ? "rank" : "replica", "index",
				  hp->p->index, "node",
				  hp->state == P_IDLE ? "-" : h->agents[hp->p->node].node, "gpus", gpus,
				  "state", pstate_names[hp->state], "pid", (json_int_t)hp->pid,
				  "restarts",
				  st->ranks ? h->stages[hp->p->stage].restarts : hp->restarts,
				  "moves", hp->moves, "exit",
				  hp->exited ? json_integer(hp->last_status) : json_null(),
				  "uptime_s",
				  hp->state == P_RUNNING ? (double)(now - hp->started_ms) / 1000.0
							 : 0.0));
	}
	json_object_set_new(o, "procs", procs);
	if (h->phase)
		json_object_set_new(o, "phases", head__phase_json(h, false));
	if (h->as)
		json_object_set_new(o, "autoscale", head__autoscale_json(h));
	if (h->svc)
		json_object_set_new(o, "services", head__service_json(h) ?: json_object());
	if (h->cfg.spec->satellites.max_nodes > 0)
		json_object_set_new(o, "satellites", head__satellite_json(h));
	return o;
}

void head__write_status(struct head *h)
{
	uint64_t t0 = uv_hrtime();
	json_t *s = head__status_json(h);

	jobdir_write_json(h->cfg.jobdir, "status.json", s);
	json_decref(s);
	h->status_cost_ns = uv_hrtime() - t0;
}

static void status_timer(uv_timer_t *t)
{
	head__write_status(t->data);
}

/*
 * status.json follows every change, but is written at most every
 * STATUS_EVERY_MS: a job starting thousands of processes would otherwise
 * rewrite it thousands of times (quadratic in the job's size). A write
 * costs time linear in the processes, and a large job changes for as long
 * as its processes start, which is longer the larger it is: so also at
 * most one write per STATUS_SHARE times the last one's cost (at 1,024
 * nodes of 8 processes, about every 400 ms), or the writes alone would
 * grow as the square of the job.
 */
void head__save_status(struct head *h)
{
	uint64_t ms = h->status_cost_ns / 1000000 * STATUS_SHARE;

	if (h->done) {
		head__write_status(h);
		return;
	}
	if (!uv_is_active((uv_handle_t *)&h->status_timer))
		uv_timer_start(&h->status_timer, status_timer,
			       ms > STATUS_EVERY_MS ? ms : STATUS_EVERY_MS, 0);
}

void head__write_summary(struct head *h)
{
	json_t *o = json_object(), *stages = json_array();
	size_t s, i;

	printf("aic: job '%s' %s: %s\n", h->name, h->final_state, h->reason);
	for (s = 0; s < (size_t)h->cfg.n_agents; s++)
		if (h->agents[s].lost && !h->agents[s].released)
			printf("aic: node '%s' was lost at %.1f s: %s\n", h->agents[s].node,
			       (double)(h->agents[s].lost_ms - h->start_ms) / 1000.0,
			       h->agents[s].lost_why);
	printf("%-14s %-10s %-9s %-8s %s\n", "stage", "processes", "restarts", "wall_s", "exit codes");
	for (s = 0; s < h->cfg.spec->n_stages; s++) {
		const struct aic_stage *st = &h->cfg.spec->stages[s];
		json_t *codes = json_array();
		int n = 0, restarts = st->ranks ? h->stages[s].restarts : 0;
		double wall = 0;
		struct aic_strbuf cs;
		aic_strbuf_init(&cs);
		for (i = 0; i < h->n_procs; i++) {
			struct hproc *hp = &h->procs[i];
			double w;
			/* An autoscaled stage's slot that never ran is no process of it. */
			if (hp->p->stage != s || (hp->state == P_IDLE && !hp->exited))
				continue;
			n++;
			if (!st->ranks)
				restarts += hp->restarts;
			/* An end before its start is an earlier run's: it has run since (restarted). */
			w = hp->started_ms ? (double)((hp->ended_ms >= hp->started_ms ? hp->ended_ms
										: aic_now_ms()) -
						      hp->started_ms) / 1000.0
					   : 0;
			if (w > wall)
				wall = w;
			json_array_append_new(codes, hp->exited ? json_integer(hp->last_status) : json_null());
			if (hp->exited)
				aic_strbuf_printf(&cs, "%s%d", cs.len ? "," : "", hp->last_status);
			else
				aic_strbuf_printf(&cs, "%s-", cs.len ? "," : "");
		}
		printf("%-14s %-10d %-9d %-8.2f %s\n", st->name, n, restarts, wall, cs.buf ? cs.buf : "");
		aic_strbuf_release(&cs);
		json_array_append_new(stages, json_pack("{s:s,s:i,s:i,s:f,s:o}", "stage", st->name,
							"processes", n, "restarts", restarts, "wall_s",
							wall, "exit_codes", codes));
	}
	fflush(stdout);
	json_object_set_new(o, "job", json_string(h->name));
	json_object_set_new(o, "state", json_string(h->final_state));
	json_object_set_new(o, "reason", json_string(h->reason));
	json_object_set_new(o, "exit_code", json_integer(h->exit_code));
	json_object_set_new(o, "wall_s", json_real((double)(aic_now_ms() - h->start_ms) / 1000.0));
	{
		/*
		 * The engine's own memory and CPU time, user and system (this process:
		 * the head and its node's agent; not the workers, its children).
		 */
		struct rusage ru;
		if (getrusage(RUSAGE_SELF, &ru) == 0) {
			json_object_set_new(o, "engine_maxrss_kib", json_integer(ru.ru_maxrss));
			json_object_set_new(o, "engine_cpu_s",
					    json_real((double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
						      (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6));
		}
		/* Shared arena pages an agent touched count too: channel data, not overhead. */
		json_object_set_new(o, "agent_maxrss_kib", json_integer(h->agent_maxrss_kib));
	}
	json_object_set_new(o, "registered_s", h->registered_ms ? json_real((double)(h->registered_ms - h->start_ms) / 1000.0) : json_null());
	json_object_set_new(o, "stages", stages);
	if (h->as)
		json_object_set_new(o, "autoscale", head__autoscale_json(h));
	if (h->cfg.spec->satellites.max_nodes > 0)
		json_object_set_new(o, "satellites", head__satellite_json(h));
	json_object_set_new(o, "lost_nodes", lost_nodes(h));
	{
		json_t *chans = json_object();
		size_t c;
		for (c = 0; h->chan_stats && c < h->cfg.spec->n_channels; c++)
			json_object_set_new(chans, h->cfg.spec->channels[c].name,
					    json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "stale_dropped",
						      h->chan_stats[c].stale_dropped,
						      "zstd_in_bytes", h->chan_stats[c].zstd_in,
						      "zstd_out_bytes", h->chan_stats[c].zstd_out,
						      "arena_items", h->chan_stats[c].arena_items,
						      "redelivered", h->chan_stats[c].redelivered,
						      "items", h->chan_stats[c].items, "acked",
						      h->chan_stats[c].acked, "bytes",
						      h->chan_stats[c].bytes));
		json_object_set_new(o, "channels", chans);
	}
	json_object_set_new(o, "metrics", h->metrics ? json_incref(h->metrics) : json_object());
	if (h->phase)
		json_object_set_new(o, "phases", head__phase_json(h, true));
	jobdir_write_json(h->cfg.jobdir, "summary.json", o);
	json_decref(o);
}

/*
 * Metric points from an agent ({"points": [...]}, made by the agent from its
 * workers' METRIC frames): each becomes a line of metrics.jsonl, and the
 * summary keeps count, last, min and max per stage and name (for at most
 * MAX_METRIC_NAMES names; points of more still reach the file).
 */
#define MAX_METRIC_NAMES 1024
void head__on_metrics(struct head *h, json_t *m)
{
	size_t i;
	json_t *p;

	if (!h->metrics_file) {
		h->metrics_file = jobdir_append(h->cfg.jobdir, "metrics.jsonl");
		if (!h->metrics_file)
			return;
	}
	if (!h->metrics)
		h->metrics = json_object();
	json_array_foreach(json_object_get(m, "points"), i, p) {
		char *line = json_dumps(p, JSON_COMPACT | JSON_PRESERVE_ORDER);
		if (line) {
			fprintf(h->metrics_file, "%s\n", line);
			free(line);
		}
		aic_metrics_add(h->metrics, p, MAX_METRIC_NAMES, &h->n_metric_names);
	}
	fflush(h->metrics_file);
}

/* An agent's counters at its end: {"maxrss_kib": n, "channels": {name: {counter: n}}}. */
void head__on_stats(struct head *h, json_t *m)
{
	const char *name;
	json_t *v;

	if (json_integer_value(json_object_get(m, "maxrss_kib")) > h->agent_maxrss_kib)
		h->agent_maxrss_kib = json_integer_value(json_object_get(m, "maxrss_kib"));
	json_object_foreach(json_object_get(m, "channels"), name, v) {
		const struct aic_channel *ch = aic_spec_channel(h->cfg.spec, name);
		struct chan_stats *st = ch && h->chan_stats ? &h->chan_stats[ch - h->cfg.spec->channels] : NULL;
		if (!st)
			continue;
		st->stale_dropped += json_integer_value(json_object_get(v, "stale_dropped"));
		st->zstd_in += json_integer_value(json_object_get(v, "zstd_in_bytes"));
		st->zstd_out += json_integer_value(json_object_get(v, "zstd_out_bytes"));
		st->arena_items += json_integer_value(json_object_get(v, "arena_items"));
		st->redelivered += json_integer_value(json_object_get(v, "redelivered"));
		st->items += json_integer_value(json_object_get(v, "items"));
		st->acked += json_integer_value(json_object_get(v, "acked"));
		st->bytes += json_integer_value(json_object_get(v, "bytes"));
	}
}
