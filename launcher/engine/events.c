/*
 * The job's events, for `aic timeline` and `aic dashboard`: events.jsonl in
 * the job directory, one JSON object a line, each with "t" (seconds of the
 * real-time clock) and "ev" (what happened; doc/design/observe.md lists
 * them).
 *
 * The head writes its own as they happen (placement, each process's start,
 * exit and restart, a lost node, the job's end): a few per process, not per
 * item. An agent samples its data plane every EVENTS_SAMPLE_MS into a ring
 * of EVENTS_RING fixed records (channel counters when they changed, weight
 * versions when they changed, the sampled items' spans) and sends the ring
 * to the head in an EVENTS message every EVENTS_FLUSH_MS and at its end; a
 * ring that fills before it is sent loses its oldest records, counted. So
 * the cost is bounded: memory is fixed, and the work per second does not
 * grow with the items passed (one item in 64 is followed, trace.c).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent.h"
#include "dataplane.h"
#include "internal.h"
#include "jobdir.h"
#include "log.h"
#include "nvml.h"
#include "topo.h"
#include "wire.h"

#define EVENTS_SAMPLE_MS 200
#define EVENTS_FLUSH_MS	 1000

/* The agent's ring (see the top of this file). */
#define EVENTS_RING  2048
#define EVENTS_CHANS 256 /* channels and streams whose last sample is kept (more: always sent) */

struct ev_rec {
	uint8_t kind;
	uint32_t what; /* a channel's or weight stream's id */
	uint64_t t_us;
	uint64_t v[6];
};

struct agent_events {
	struct aic_conn **head;	 /* the agent's link to the head (NULL: none now) */
	struct chan_set **chans; /* the agent's data plane (NULL: none now) */
	uv_timer_t timer;
	unsigned ticks;
	struct ev_rec ring[EVENTS_RING];
	uint32_t first, n;
	uint64_t dropped, dropped_sent;
	uint64_t spans_dropped, spans_dropped_sent;
	struct chan_set_sample last[EVENTS_CHANS];
	bool sampled[EVENTS_CHANS];
	uint64_t versions[EVENTS_CHANS]; /* version + 1 last sent, 0: none */
	bool off;			 /* AIC_OBSERVE=0 */
	/* GPU use through NVML (lib/nvml.h), sampled every second when it loads. */
	const struct agent_config *cfg;
	struct aic_nvml *nvml;
	bool nvml_tried;
	uint64_t gpu_last[AIC_PLACE_MAX_GPUS][3]; /* util, used, total last sent (used + 1: sent) */
};

enum { REC_CHAN = 1, REC_WEIGHTS, REC_SPAN, REC_GPU };

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

bool engine__observe_off(void)
{
	const char *v = getenv("AIC_OBSERVE");

	return v && !strcmp(v, "0");
}

/* --- the agent's side ------------------------------------------------------- */

static struct ev_rec *ring_push(struct agent_events *k)
{
	struct ev_rec *r;

	if (k->n == EVENTS_RING) {
		/* Full: the oldest record goes, counted. */
		k->first = (k->first + 1) % EVENTS_RING;
		k->n--;
		k->dropped++;
	}
	r = &k->ring[(k->first + k->n) % EVENTS_RING];
	k->n++;
	memset(r, 0, sizeof(*r));
	return r;
}

static void sample(struct agent_events *k)
{
	struct chan_set *cs = *k->chans;
	struct chan_set_sample s;
	struct chan_set_span sp[64];
	uint64_t t = now_us(), v, dropped = 0;
	uint32_t i;
	size_t n, j;
	bool have;

	if (!cs)
		return;
	for (i = 0; chan_set_sample(cs, i, &s); i++) {
		struct ev_rec *r;
		if (i < EVENTS_CHANS && k->sampled[i] && !memcmp(&k->last[i], &s, sizeof(s)))
			continue;
		if (i < EVENTS_CHANS) {
			k->last[i] = s;
			k->sampled[i] = true;
		}
		r = ring_push(k);
		r->kind = REC_CHAN;
		r->what = i;
		r->t_us = t;
		r->v[0] = s.queued;
		r->v[1] = s.inflight;
		r->v[2] = s.items;
		r->v[3] = s.acked;
		r->v[4] = s.bytes;
		r->v[5] = s.stale;
	}
	for (i = 0; i < EVENTS_CHANS && chan_set_weight_version(cs, i, &have, &v); i++) {
		struct ev_rec *r;
		if (!have || k->versions[i] == v + 1)
			continue;
		k->versions[i] = v + 1;
		r = ring_push(k);
		r->kind = REC_WEIGHTS;
		r->what = i;
		r->t_us = t;
		r->v[0] = v;
	}
	while ((n = chan_set_spans(cs, sp, sizeof(sp) / sizeof(*sp), &dropped)) > 0)
		for (j = 0; j < n; j++) {
			struct ev_rec *r = ring_push(k);
			r->kind = REC_SPAN;
			r->what = sp[j].chan;
			r->t_us = sp[j].put_us;
			r->v[0] = sp[j].id;
			r->v[1] = sp[j].put_us;
			r->v[2] = sp[j].get_us;
			r->v[3] = sp[j].ack_us;
		}
	k->spans_dropped = dropped;
}

/* The GPUs' use, where NVML loads (a GPU node; AIC_NVML_LIBRARY names another library). */
static void sample_gpus(struct agent_events *k)
{
	const struct aic_topo *t = k->cfg->topo;
	const char *lib = getenv("AIC_NVML_LIBRARY");
	size_t i, n = k->cfg->gpus ? k->cfg->n_gpus : t ? t->n_gpus : 0;
	uint64_t now = now_us();

	if (!k->nvml_tried && t && n) {
		k->nvml_tried = true;
		k->nvml = aic__nvml_open(lib && *lib ? lib : NULL);
	}
	for (i = 0; k->nvml && i < n && i < AIC_PLACE_MAX_GPUS; i++) {
		int g = k->cfg->gpus ? k->cfg->gpus[i] : (int)i;
		unsigned util;
		unsigned long long used, total;
		struct ev_rec *r;
		if (g < 0 || (size_t)g >= t->n_gpus ||
		    aic__nvml_usage(k->nvml, t->gpus[g].busid, &util, &used, &total) != 0)
			continue;
		if (k->gpu_last[i][0] == util && k->gpu_last[i][1] == used + 1 &&
		    k->gpu_last[i][2] == total)
			continue;
		k->gpu_last[i][0] = util;
		k->gpu_last[i][1] = used + 1;
		k->gpu_last[i][2] = total;
		r = ring_push(k);
		r->kind = REC_GPU;
		r->what = (uint32_t)g;
		r->t_us = now;
		r->v[0] = util;
		r->v[1] = used;
		r->v[2] = total;
	}
}

/* The ring as an EVENTS message: [kind, t_us, what, v...] each, emptied. */
static void send_ring(struct agent_events *k)
{
	struct aic_conn *head = *k->head;
	json_t *evs, *m;

	if (!k->n && k->dropped == k->dropped_sent && k->spans_dropped == k->spans_dropped_sent)
		return;
	if (!head || head->closing)
		return; /* kept for later, or lost with the link */
	evs = json_array();
	for (; evs && k->n; k->first = (k->first + 1) % EVENTS_RING, k->n--) {
		const struct ev_rec *r = &k->ring[k->first];
		json_t *e = json_pack("[i,I,i]", r->kind, (json_int_t)r->t_us, (int)r->what);
		size_t j, nv = r->kind == REC_CHAN   ? 6
			       : r->kind == REC_SPAN ? 4
			       : r->kind == REC_GPU  ? 3
						     : 1;
		for (j = 0; e && j < nv; j++)
			json_array_append_new(e, json_integer((json_int_t)r->v[j]));
		if (e)
			json_array_append_new(evs, e);
	}
	/* What was lost since the last message: the head writes it as a "dropped" event. */
	m = json_pack("{s:o*,s:I,s:I}", "events", evs, "dropped",
		      (json_int_t)(k->dropped - k->dropped_sent), "spans_dropped",
		      (json_int_t)(k->spans_dropped - k->spans_dropped_sent));
	if (m)
		aic_conn_send(head, AIC_MSG_EVENTS, m);
	json_decref(m);
	k->dropped_sent = k->dropped;
	k->spans_dropped_sent = k->spans_dropped;
}

static void tick(uv_timer_t *t)
{
	struct agent_events *k = t->data;

	sample(k);
	if (++k->ticks * EVENTS_SAMPLE_MS >= EVENTS_FLUSH_MS) {
		k->ticks = 0;
		sample_gpus(k);
		send_ring(k);
	}
}

struct agent_events *agent__events_new(uv_loop_t *loop, struct aic_conn **head,
				       struct chan_set **chans, const struct agent_config *cfg)
{
	struct agent_events *k = calloc(1, sizeof(*k));

	if (!k)
		return NULL;
	k->head = head;
	k->chans = chans;
	k->cfg = cfg;
	k->off = engine__observe_off();
	uv_timer_init(loop, &k->timer);
	k->timer.data = k;
	if (!k->off)
		uv_timer_start(&k->timer, tick, EVENTS_SAMPLE_MS, EVENTS_SAMPLE_MS);
	return k;
}

void agent__events_end(struct agent_events *k)
{
	if (!k)
		return;
	uv_timer_stop(&k->timer);
	if (k->off)
		return;
	sample(k);
	sample_gpus(k);
	send_ring(k);
	aic__nvml_close(k->nvml);
	k->nvml = NULL;
}

void agent__events_free(struct agent_events *k)
{
	if (k)
		aic__nvml_close(k->nvml);
	free(k);
}

/* --- the head's side: events.jsonl ----------------------------------------------- */

/* Writes ev (taken) as a line of events.jsonl, at time t (seconds; < 0: now). */
static void write_event(struct head *h, json_t *ev, double t)
{
	char *line;

	if (!ev)
		return;
	if (!h->events_file && !h->events_failed && engine__observe_off())
		h->events_failed = true; /* AIC_OBSERVE=0: none written */
	if (!h->events_file && !h->events_failed) {
		h->events_file = jobdir_append(h->cfg.jobdir, "events.jsonl");
		/* Said once: the job runs on without its timeline. */
		h->events_failed = !h->events_file;
	}
	if (h->events_file) {
		json_object_set_new(ev, "t", json_real(t >= 0 ? t : (double)now_us() / 1e6));
		line = json_dumps(ev, JSON_COMPACT);
		if (line) {
			fprintf(h->events_file, "%s\n", line);
			free(line);
		}
	}
	json_decref(ev);
}

static json_t *int_array(const int *v, size_t n)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; a && i < n; i++)
		json_array_append_new(a, json_integer(v[i]));
	return a;
}

/* What every event of a process says: which it is and where. */
static json_t *proc_event(const struct head *h, const struct hproc *hp, const char *what)
{
	const struct aic_stage *st = &h->cfg.spec->stages[hp->p->stage];

	return json_pack("{s:s,s:I,s:s,s:s,s:i,s:s,s:o}", "ev", what, "proc", (json_int_t)hp->id,
			 "stage", st->name, "kind", st->ranks ? "rank" : "replica", "index",
			 hp->p->index, "node", h->agents[hp->p->node].node, "gpus",
			 int_array(hp->p->gpus, hp->p->n_gpus));
}

void head__event_placed(struct head *h)
{
	json_t *nodes = json_array(), *procs = json_array(), *chans = json_array(),
	       *weights = json_array();
	size_t i;

	for (i = 0; i < (size_t)h->cfg.n_agents; i++) {
		const struct hagent *a = &h->agents[i];
		json_t *info;
		size_t g;
		if (!a->registered)
			continue; /* a satellite's rank, reserved (satellite.c) */
		info = json_array();
		/* What the dashboard draws of each GPU: its NUMA node, NVSwitch fabric, model. */
		for (g = 0; a->topo && g < a->n_gpus; g++) {
			const struct aic_gpu *gp =
				a->gpus[g] >= 0 && (size_t)a->gpus[g] < a->topo->n_gpus
					? &a->topo->gpus[a->gpus[g]]
					: NULL;
			json_array_append_new(
				info, json_pack("{s:i,s:i,s:b,s:s}", "gpu", a->gpus[g], "numa",
						gp ? gp->numa : -1, "nvswitch", gp && gp->nvswitch,
						"model", gp ? gp->model : "?"));
		}
		json_array_append_new(
			nodes, json_pack("{s:i,s:s,s:o,s:o}", "rank", (int)i, "node", a->node,
					 "gpus", int_array(a->gpus, a->n_gpus), "gpu_info", info));
	}
	for (i = 0; i < h->n_procs; i++) {
		json_t *p = proc_event(h, &h->procs[i], "placed");
		json_object_del(p, "ev");
		json_array_append_new(procs, p);
	}
	for (i = 0; i < h->cfg.spec->n_channels; i++)
		json_array_append_new(chans, json_string(h->cfg.spec->channels[i].name));
	for (i = 0; i < h->cfg.spec->n_weights; i++)
		json_array_append_new(weights, json_string(h->cfg.spec->weights[i].name));
	write_event(h,
		    json_pack("{s:s,s:s,s:i,s:o,s:o,s:o,s:o}", "ev", "placed", "job", h->name,
			      "run", h->run, "nodes", nodes, "procs", procs, "channels", chans,
			      "weights", weights),
		    -1);
	if (h->events_file)
		fflush(h->events_file);
}

void head__event_proc(struct head *h, const struct hproc *hp, const char *what)
{
	json_t *ev = proc_event(h, hp, what);

	if (ev && !strcmp(what, "start"))
		json_object_set_new(ev, "pid", json_integer((json_int_t)hp->pid));
	if (ev && !strcmp(what, "exit")) {
		json_object_set_new(ev, "status", json_integer(hp->last_status));
		head__prom_exited(h, hp);
	}
	if (ev && !strcmp(what, "restart")) {
		json_object_set_new(ev, "restarts",
				    json_integer(h->cfg.spec->stages[hp->p->stage].ranks
							 ? h->stages[hp->p->stage].restarts
							 : hp->restarts));
		json_object_set_new(ev, "moves", json_integer(hp->moves));
	}
	write_event(h, ev, -1);
	if (h->events_file)
		fflush(h->events_file);
}

void head__event_node_lost(struct head *h, const struct hagent *a)
{
	write_event(h,
		    json_pack("{s:s,s:i,s:s,s:s}", "ev", "node_lost", "rank", a->rank, "node",
			      a->node, "why", a->lost_why),
		    -1);
	if (h->events_file)
		fflush(h->events_file);
}

void head__event(struct head *h, json_t *ev)
{
	write_event(h, ev, -1);
	if (h->events_file)
		fflush(h->events_file);
}

void head__event_phase(struct head *h, size_t group, const char *node, const char *stage,
		       bool begin, double t, double us)
{
	json_t *ev = json_pack("{s:s,s:I,s:s?,s:s,s:s}", "ev", "phase", "group", (json_int_t)group,
			       "node", node, "stage", stage, "event", begin ? "begin" : "end");

	if (ev && us >= 0)
		json_object_set_new(ev, begin ? "switch_us" : "turn_us", json_real(us));
	/* Not flushed: turns may come fast; the next batch of samples or the end flushes. */
	write_event(h, ev, t > 0 ? t : -1);
}

void head__event_end(struct head *h)
{
	head__prom_update(h); /* the final counters, in the textfile too */
	write_event(h,
		    json_pack("{s:s,s:s,s:s,s:i}", "ev", "end", "state", h->final_state ?: "?",
			      "reason", h->reason, "exit_code", h->exit_code),
		    -1);
	head__events_close(h);
}

void head__events_close(struct head *h)
{
	if (h->events_file)
		fclose(h->events_file);
	h->events_file = NULL;
}

static const char *chan_name(const struct head *h, json_int_t id)
{
	return id >= 0 && (size_t)id < h->cfg.spec->n_channels ? h->cfg.spec->channels[id].name
							       : NULL;
}

/* EVENTS from agent a: its records, named, to events.jsonl. */
void head__on_events(struct head *h, const struct hagent *a, json_t *m)
{
	json_t *r;
	size_t i;

	if (!a)
		return;
	json_array_foreach(json_object_get(m, "events"), i, r) {
		json_int_t kind = json_integer_value(json_array_get(r, 0));
		double t = (double)json_integer_value(json_array_get(r, 1)) / 1e6;
		json_int_t what = json_integer_value(json_array_get(r, 2));
		json_int_t v[6];
		const char *name;
		size_t j;

		for (j = 0; j < 6; j++)
			v[j] = json_integer_value(json_array_get(r, j + 3));
		if (kind == REC_CHAN && (name = chan_name(h, what))) {
			struct chan_set_sample s = {(uint64_t)v[0], (uint64_t)v[1], (uint64_t)v[2],
						    (uint64_t)v[3], (uint64_t)v[4], (uint64_t)v[5]};
			head__prom_sample(h, a, (uint32_t)what, &s);
			write_event(h,
				    json_pack("{s:s,s:i,s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I}", "ev",
					      "chan", "rank", a->rank, "node", a->node, "chan",
					      name, "queued", v[0], "inflight", v[1], "items", v[2],
					      "acked", v[3], "bytes", v[4], "stale", v[5]),
				    t);
		} else if (kind == REC_SPAN && (name = chan_name(h, what)))
			write_event(h,
				    json_pack("{s:s,s:i,s:s,s:s,s:I,s:f,s:f,s:f}", "ev", "span",
					      "rank", a->rank, "node", a->node, "chan", name, "id",
					      v[0], "put", (double)v[1] / 1e6, "get",
					      (double)v[2] / 1e6, "ack", (double)v[3] / 1e6),
				    t);
		else if (kind == REC_GPU && what >= 0 && what < AIC_PLACE_MAX_GPUS) {
			head__prom_gpu(h, a, (uint32_t)what, (uint64_t)v[0], (uint64_t)v[1],
				       (uint64_t)v[2]);
			write_event(h,
				    json_pack("{s:s,s:i,s:s,s:i,s:I,s:I,s:I}", "ev", "gpu", "rank",
					      a->rank, "node", a->node, "gpu", (int)what, "util",
					      v[0], "mem_used", v[1], "mem_total", v[2]),
				    t);
		} else if (kind == REC_WEIGHTS && what >= 0 &&
			   (size_t)what < h->cfg.spec->n_weights) {
			head__prom_version(h, a, (uint32_t)what, (uint64_t)v[0]);
			write_event(h,
				    json_pack("{s:s,s:i,s:s,s:s,s:I}", "ev", "weights", "rank",
					      a->rank, "node", a->node, "stream",
					      h->cfg.spec->weights[what].name, "version", v[0]),
				    t);
		}
	}
	if (json_integer_value(json_object_get(m, "dropped")) ||
	    json_integer_value(json_object_get(m, "spans_dropped")))
		write_event(h,
			    json_pack("{s:s,s:i,s:s,s:I,s:I}", "ev", "dropped", "rank", a->rank,
				      "node", a->node, "records",
				      json_integer_value(json_object_get(m, "dropped")), "spans",
				      json_integer_value(json_object_get(m, "spans_dropped"))),
			    -1);
	if (h->events_file)
		fflush(h->events_file);
}
