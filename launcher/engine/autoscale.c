/*
 * Autoscaling inside the allocation (internal.h): the replicas of a stage
 * that aic_stage_autoscales() follow its load while the job runs.
 *
 * Such a stage has a slot (an hproc) for each replica it may ever run, up
 * to its max (at most AUTOSCALE_MAX_SLOTS); it starts with min of them,
 * the others idle (P_IDLE: holding no GPU or core, counted as finished).
 * Every AUTOSCALE_TICK_MS the head asks each agent for its load (LOAD):
 * the items queued in each channel there, and how long each worker has
 * waited in GET. A replica's busy fraction is the share of the time
 * between two answers it did not spend waiting for items.
 *
 * Policy, per stage (its autoscale: keys): when its inputs have a backlog
 * and its replicas are at least target_busy (or it has none) for
 * up_after_s, an idle slot is placed where the solver finds room now
 * (aic_place_more, as a lost node's replicas are: what runs keeps its
 * GPUs and cores), agents learn the new producer (MEMBERS), and it is
 * spawned. When no room is left, a stage with replicas to spare (above
 * its min, no backlog, below its target) gives one up for it at once:
 * freed GPUs go to the stage short of them. When a stage's inputs have no
 * backlog and its replicas are below target_busy for down_after_s, one
 * replica, its newest, drains (SCALE_DOWN): its agent answers its GETs
 * EOF, it finishes what it holds and exits, and its slot is idle again.
 * Items are neither lost nor delivered twice by scaling: a draining
 * replica takes nothing new and acks what it took (dataplane.h).
 *
 * Every event (up, down, drained) goes to the log, status.json and the
 * summary (head__autoscale_json), and `aic status` prints them.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "log.h"
#include "wire.h"

#define AUTOSCALE_MAX_SLOTS 256

#define AUTOSCALE_TICK_MS 1000
/* A draining replica that has not exited after this long is stopped (SIGTERM). */
#define DRAIN_TIMEOUT_MS 60000

struct as_stage {
	uint64_t up_since, down_since; /* when its condition to grow, or shrink, began; 0: not */
	json_int_t backlog;	       /* its inputs' items queued, over every agent */
	double busy;		       /* its running replicas' mean busy fraction, < 0: unknown */
	int ups, downs;
};

struct as_proc {
	bool seen; /* its worker answered in a LOAD since it last started */
	bool draining;
	uint64_t drain_ms; /* when SCALE_DOWN went */
	int drain_moves;   /* the process's moves then (a move after it: the drain is sent again) */
	uint64_t waited_ms; /* the waits the last LOAD said */
	uint64_t at_ms;	    /* when */
	double busy;	    /* < 0: not known yet */
};

struct autoscale {
	uv_timer_t timer;
	struct as_stage *stages;
	struct as_proc *procs; /* by hproc id */
	json_int_t *backlog;   /* [agent * n_channels + channel], from the last LOAD */
	bool *wrote;	       /* [agent * n_channels + channel]: a scaled replica wrote it there */
	bool *idle;	       /* by plan entry, at the start: a slot that waits */
	json_t *events;
	uint64_t load_ms; /* when the last LOAD answer came */
};

/* --- the plan: slots ------------------------------------------------------ */

bool head__autoscale_plan(struct head *h)
{
	const struct aic_spec *spec = h->cfg.spec;
	struct aic_plan *plan = h->plan;
	struct aic_proc *procs;
	struct autoscale *as;
	size_t s, i, n = 0, cap = plan->n_procs + 1;
	bool any = false;

	for (s = 0; s < spec->n_stages; s++)
		if (aic_stage_autoscales(&spec->stages[s])) {
			any = true;
			cap += AUTOSCALE_MAX_SLOTS;
		}
	if (!any)
		return true;
	as = calloc(1, sizeof(*as));
	procs = calloc(cap, sizeof(*procs));
	if (as) {
		as->idle = calloc(cap, sizeof(*as->idle));
		as->stages = calloc(spec->n_stages, sizeof(*as->stages));
		as->events = json_array();
	}
	if (!as || !procs || !as->idle || !as->stages || !as->events) {
		free(procs);
		h->as = as;
		head__end(h, 1, "failed", "out of memory");
		return false;
	}
	h->as = as;
	/* Stage by stage, as the plan is sorted: a scaled stage keeps its min, the rest wait. */
	for (s = 0; s < spec->n_stages; s++) {
		const struct aic_stage *st = &spec->stages[s];
		bool scaled = aic_stage_autoscales(st);
		int k, slots = st->replicas_max < AUTOSCALE_MAX_SLOTS ? st->replicas_max
								      : AUTOSCALE_MAX_SLOTS;
		for (i = 0; i < plan->n_procs; i++)
			if (plan->procs[i].stage == s &&
			    (!scaled || plan->procs[i].index < st->replicas_min))
				procs[n++] = plan->procs[i];
		for (k = scaled ? st->replicas_min : slots; k < slots; k++) {
			struct aic_proc *p = &procs[n];
			memset(p, 0, sizeof(*p));
			p->stage = s;
			p->index = k;
			p->numa = p->nic = -1;
			p->why = "room to grow (autoscale)";
			as->idle[n++] = true;
		}
		as->stages[s].busy = -1;
	}
	free(plan->procs);
	plan->procs = procs;
	plan->n_procs = n;
	return true;
}

static void tick(uv_timer_t *t);

void head__autoscale_start(struct head *h)
{
	struct autoscale *as = h->as;
	size_t i, cells = (size_t)h->cfg.n_agents * h->cfg.spec->n_channels + 1;

	if (!as)
		return;
	as->procs = calloc(h->n_procs + 1, sizeof(*as->procs));
	as->backlog = calloc(cells, sizeof(*as->backlog));
	as->wrote = calloc(cells, sizeof(*as->wrote));
	if (!as->procs || !as->backlog || !as->wrote) {
		head__end(h, 1, "failed", "out of memory");
		return;
	}
	for (i = 0; i < h->n_procs; i++) {
		as->procs[i].busy = -1;
		if (as->idle[i])
			h->procs[i].state = P_IDLE;
	}
	uv_timer_init(h->loop, &as->timer);
	as->timer.data = h;
	uv_timer_start(&as->timer, tick, AUTOSCALE_TICK_MS, AUTOSCALE_TICK_MS);
}

void head__autoscale_free(struct head *h)
{
	struct autoscale *as = h->as;

	if (!as)
		return;
	free(as->stages);
	free(as->procs);
	free(as->backlog);
	free(as->wrote);
	free(as->idle);
	json_decref(as->events);
	free(as);
	h->as = NULL;
}

json_int_t head__autoscale_backlog_at(const struct head *h, int rank)
{
	json_int_t n = 0;
	size_t c;

	for (c = 0; h->as && h->as->backlog && c < h->cfg.spec->n_channels; c++)
		n += h->as->backlog[(size_t)rank * h->cfg.spec->n_channels + c];
	return n;
}

size_t head__autoscale_producers(const struct head *h, size_t chan, uint32_t *ranks, size_t n)
{
	size_t r, k, m = n;

	for (r = 0; h->as && h->as->wrote && r < (size_t)h->cfg.n_agents; r++) {
		bool have = h->agents[r].lost || !h->as->wrote[r * h->cfg.spec->n_channels + chan];
		for (k = 0; k < n && !have; k++)
			have = ranks[k] == r;
		if (!have)
			ranks[m++] = (uint32_t)r;
	}
	return m;
}

/* --- events ------------------------------------------------------------------ */

static void event(struct head *h, const struct hproc *hp, const char *action, const char *why)
{
	const struct aic_stage *st = &h->cfg.spec->stages[hp->p->stage];
	int running = 0;
	size_t i;

	for (i = 0; i < h->n_procs; i++)
		running += h->procs[i].p->stage == hp->p->stage && h->procs[i].state != P_IDLE &&
			   !head__proc_finished(&h->procs[i]) && !h->as->procs[i].draining;
	aic_log_info("autoscale: stage '%s' %s: replica %d on node '%s', %d running: %s", st->name,
		     action, hp->p->index, h->agents[hp->p->node].node, running, why);
	json_array_append_new(h->as->events,
			      json_pack("{s:f,s:s,s:s,s:i,s:s,s:i,s:s}", "t",
					(double)(aic_now_ms() - h->start_ms) / 1000.0, "stage",
					st->name, "action", action, "index", hp->p->index, "node",
					h->agents[hp->p->node].node, "replicas", running, "reason",
					why));
	head__save_status(h);
}

json_t *head__autoscale_json(const struct head *h)
{
	const struct aic_spec *spec = h->cfg.spec;
	json_t *stages;
	size_t s, i;

	if (!h->as || !h->as->stages || !h->as->events)
		return NULL; /* the job ended before the slots were made (out of memory) */
	stages = json_object();
	for (s = 0; s < spec->n_stages; s++) {
		const struct aic_stage *st = &spec->stages[s];
		const struct as_stage *a = &h->as->stages[s];
		int running = 0;
		if (!aic_stage_autoscales(st))
			continue;
		for (i = 0; i < h->n_procs; i++)
			running += h->procs[i].p->stage == s && h->procs[i].state != P_IDLE &&
				   !head__proc_finished(&h->procs[i]);
		json_object_set_new(stages, st->name,
				    json_pack("{s:i,s:i,s:i,s:I,s:o,s:i,s:i}", "min",
					      st->replicas_min, "max", st->replicas_max, "replicas",
					      running, "backlog", a->backlog, "busy",
					      a->busy < 0 ? json_null() : json_real(a->busy), "ups",
					      a->ups, "downs", a->downs));
	}
	return json_pack("{s:o,s:O}", "stages", stages, "events", h->as->events);
}

/* --- placing and draining ------------------------------------------------------ */

/* Whether hp holds GPUs and cores now, or will soon (as recover.c's holds_room). */
static bool holds_room(const struct head *h, const struct hproc *hp)
{
	return !h->agents[hp->p->node].lost && (hp->state == P_PENDING || hp->state == P_STARTING ||
						hp->state == P_RUNNING || hp->state == P_STOPPING);
}

/* A replica more for stage s on the room free now: true when one started. */
static bool scale_up(struct head *h, size_t s, const char *why)
{
	const struct aic_spec *spec = h->cfg.spec;
	struct aic_proc *used, out;
	struct hproc *hp = NULL;
	size_t i, c, n = 0;
	json_t *m;
	int rc;

	for (i = 0; i < h->n_procs && !hp; i++)
		if (h->procs[i].p->stage == s && h->procs[i].state == P_IDLE)
			hp = &h->procs[i];
	used = hp ? calloc(h->n_procs + 1, sizeof(*used)) : NULL;
	if (!used)
		return false;
	/* A satellite's rank is a node once its agent has joined (satellite.c). */
	for (i = 0; i < (size_t)h->cfg.n_agents; i++)
		h->nodes[i].down = h->agents[i].lost || !h->agents[i].registered;
	for (i = 0; i < h->n_procs; i++)
		if (holds_room(h, &h->procs[i]))
			used[n++] = *h->procs[i].p;
	rc = aic_place_more(spec, h->nodes, (size_t)h->cfg.n_agents,
			    h->cfg.local ? AIC_PLACE_SOFT_CPUS : 0, used, n, s, 1, &out, NULL);
	free(used);
	if (rc)
		return false;
	out.index = hp->p->index;
	h->plan->procs[hp->id] = out;
	hp->state = P_PENDING;
	h->as->procs[hp->id] = (struct as_proc){.busy = -1};
	h->as->stages[s].ups++;
	/* Its node produces the stage's outputs from now on, and after it drains too. */
	for (c = 0; c < spec->n_channels; c++)
		if (head__stage_uses(&spec->stages[s], spec->channels[c].name, WRITES))
			h->as->wrote[out.node * spec->n_channels + c] = true;
	m = head__data_plane_members(h);
	if (m) {
		head__broadcast(h, AIC_MSG_MEMBERS, m);
		json_decref(m);
	}
	head__spawn(hp);
	event(h, hp, "up", why);
	return true;
}

/* Sends SCALE_DOWN for hp to its agent: true when it went. */
static bool send_drain(struct head *h, struct hproc *hp)
{
	struct aic_conn *c = h->agents[hp->p->node].conn;
	json_t *m;
	int rc;

	if (!c)
		return false;
	m = json_pack("{s:s,s:i}", "stage", h->cfg.spec->stages[hp->p->stage].name, "index",
		      hp->p->index);
	rc = m ? aic_conn_send(c, AIC_MSG_SCALE_DOWN, m) : -1;
	json_decref(m);
	if (rc)
		return false;
	h->as->procs[hp->id].drain_ms = aic_now_ms();
	h->as->procs[hp->id].drain_moves = hp->moves;
	return true;
}

/* Drains one replica of stage s, its newest that runs and has been seen: true when one was. */
static bool scale_down(struct head *h, size_t s, const char *why)
{
	struct hproc *hp = NULL;
	size_t i;

	for (i = 0; i < h->n_procs; i++)
		if (h->procs[i].p->stage == s && h->procs[i].state == P_RUNNING &&
		    h->as->procs[i].seen && !h->as->procs[i].draining &&
		    (!hp || h->procs[i].p->index > hp->p->index))
			hp = &h->procs[i];
	if (!hp || !send_drain(h, hp))
		return false;
	h->as->procs[hp->id].draining = true;
	h->as->stages[s].downs++;
	event(h, hp, "down", why);
	return true;
}

bool head__autoscale_exited(struct head *h, struct hproc *hp, int status)
{
	struct as_proc *ap = h->as && h->as->procs ? &h->as->procs[hp->id] : NULL;
	char why[128];

	if (!ap || !ap->draining || h->ending)
		return false;
	ap->draining = false;
	ap->seen = false;
	hp->state = P_IDLE;
	snprintf(why, sizeof(why), "it exited with %s %d after draining",
		 status < 0 ? "signal" : "status", status < 0 ? -status : status);
	event(h, hp, "drained", why);
	head__check_finished(h);
	return true;
}

/* --- load ---------------------------------------------------------------------- */

/* The process of stage `stage` replica `index` that runs now, or NULL. */
static struct hproc *running_proc(struct head *h, const char *stage, int index)
{
	size_t i;

	for (i = 0; i < h->n_procs; i++) {
		struct hproc *hp = &h->procs[i];
		if (hp->p->index == index && hp->state == P_RUNNING &&
		    !strcmp(h->cfg.spec->stages[hp->p->stage].name, stage))
			return hp;
	}
	return NULL;
}

/* Field `key` of a LOAD's workers that are replica `index` of `stage`, summed; the longest age. */
static uint64_t worker_sum(const json_t *workers, const char *stage, int index, const char *key,
			   uint64_t *age)
{
	uint64_t sum = 0, a;
	json_t *x;
	size_t j;

	*age = 0;
	for (j = 0; j < json_array_size(workers); j++) {
		x = json_array_get(workers, j);
		if ((int)json_integer_value(json_object_get(x, "index")) != index ||
		    strcmp(json_string_value(json_object_get(x, "stage")) ?: "", stage))
			continue;
		sum += (uint64_t)json_integer_value(json_object_get(x, key));
		a = (uint64_t)json_integer_value(json_object_get(x, "age_ms"));
		*age = a > *age ? a : *age;
	}
	return sum;
}

void head__autoscale_on_load(struct head *h, const struct hagent *a, json_t *m)
{
	const struct aic_spec *spec = h->cfg.spec;
	const json_t *workers = json_object_get(m, "workers");
	struct autoscale *as = h->as;
	uint64_t now = aic_now_ms();
	const char *name;
	json_t *v;
	size_t i;

	if (!as || !as->procs || !a)
		return;
	as->load_ms = now;
	json_object_foreach(json_object_get(m, "channels"), name, v) {
		const struct aic_channel *ch = aic_spec_channel(spec, name);
		if (ch)
			as->backlog[(size_t)a->rank * spec->n_channels + (size_t)(ch - spec->channels)] =
				json_integer_value(v);
	}
	/* A replica's waits, summed over its connections here. */
	for (i = 0; i < json_array_size(workers); i++) {
		const json_t *w = json_array_get(workers, i);
		struct hproc *hp = running_proc(h, json_string_value(json_object_get(w, "stage")) ?: "",
						(int)json_integer_value(json_object_get(w, "index")));
		uint64_t waited, age, dt, dw;
		struct as_proc *ap;
		double busy;
		if (!hp || h->agents[hp->p->node].rank != a->rank)
			continue;
		ap = &as->procs[hp->id];
		if (ap->seen && ap->at_ms == now)
			continue; /* summed already */
		waited = worker_sum(workers, spec->stages[hp->p->stage].name, hp->p->index,
				    "waited_ms", &age);
		/* Since the last answer; the first one, since it connected. */
		dt = ap->seen ? now - ap->at_ms : age;
		dw = ap->seen ? waited - ap->waited_ms : waited;
		if (dt > 0 && (!ap->seen || waited >= ap->waited_ms)) {
			busy = 1.0 - (double)dw / (double)dt;
			busy = busy < 0 ? 0 : busy > 1 ? 1 : busy;
			/* Smoothed over a few answers: one slow item does not scale a stage. */
			ap->busy = ap->busy < 0 ? busy : 0.5 * ap->busy + 0.5 * busy;
		}
		ap->seen = true;
		ap->waited_ms = waited;
		ap->at_ms = now;
	}
}

/* --- the policy ---------------------------------------------------------------- */

/* The backlog of stage s's inputs, and its running replicas' mean busy fraction (< 0: unknown). */
static void measure(struct head *h, size_t s, int *running)
{
	const struct aic_spec *spec = h->cfg.spec;
	struct as_stage *a = &h->as->stages[s];
	double sum = 0;
	size_t i, c;
	int r, known = 0;

	a->backlog = 0;
	for (c = 0; c < spec->n_channels; c++)
		if (head__stage_uses(&spec->stages[s], spec->channels[c].name, READS))
			for (r = 0; r < h->cfg.n_agents; r++)
				if (!h->agents[r].lost)
					a->backlog +=
						h->as->backlog[(size_t)r * spec->n_channels + c];
	*running = 0;
	for (i = 0; i < h->n_procs; i++) {
		const struct hproc *hp = &h->procs[i];
		const struct as_proc *ap = &h->as->procs[i];
		if (hp->p->stage != s || hp->state == P_IDLE || head__proc_finished(hp) ||
		    ap->draining)
			continue;
		(*running)++;
		if (ap->busy >= 0) {
			sum += ap->busy;
			known++;
		}
	}
	a->busy = known ? sum / known : -1;
}

/* A stage other than s with a replica to spare: above its min, no backlog, below its target. */
static bool give_up_one(struct head *h, size_t s)
{
	const struct aic_spec *spec = h->cfg.spec;
	char why[256];
	size_t o;
	int running;

	for (o = 0; o < spec->n_stages; o++) {
		const struct aic_stage *st = &spec->stages[o];
		if (o == s || !aic_stage_autoscales(st))
			continue;
		measure(h, o, &running);
		if (running <= st->replicas_min || h->as->stages[o].backlog > 0 ||
		    h->as->stages[o].busy < 0 || h->as->stages[o].busy >= st->autoscale.target_busy)
			continue;
		snprintf(why, sizeof(why),
			 "stage '%s' is short of room and this one is idle (busy %.2f)",
			 spec->stages[s].name, h->as->stages[o].busy);
		if (scale_down(h, o, why))
			return true;
	}
	return false;
}

/* Whether a replica of stage s drains now, or one more starts. */
static void decide(struct head *h, size_t s, uint64_t now)
{
	const struct aic_stage *st = &h->cfg.spec->stages[s];
	struct as_stage *a = &h->as->stages[s];
	double target = st->autoscale.target_busy;
	char why[256];
	int running, slots = 0;
	bool up, down, ended = false;
	size_t i;

	measure(h, s, &running);
	/*
	 * A replica that finished (its inputs ended) means the stage winds
	 * down: a new one would only see the end (and the backlog may be a
	 * tick old).
	 */
	for (i = 0; i < h->n_procs; i++) {
		slots += h->procs[i].p->stage == s && h->procs[i].state == P_IDLE;
		ended |= h->procs[i].p->stage == s && h->procs[i].state == P_DONE;
	}
	up = !ended && slots > 0 && a->backlog > 0 && (running == 0 || a->busy >= target);
	down = running > st->replicas_min && a->backlog == 0 && a->busy >= 0 && a->busy < target;
	/* A condition holds since the answers that showed it (a tick before this one, at most). */
	a->up_since = up ? (a->up_since ? a->up_since : h->as->load_ms) : 0;
	a->down_since = down ? (a->down_since ? a->down_since : h->as->load_ms) : 0;
	if (up && now - a->up_since >= (uint64_t)st->autoscale.up_after_s * 1000) {
		snprintf(why, sizeof(why), "backlog %lld item%s, busy %.2f (target %.2f) for %d s",
			 (long long)a->backlog, a->backlog == 1 ? "" : "s",
			 a->busy < 0 ? 0 : a->busy, target, st->autoscale.up_after_s);
		/* Each step waits up_after_s again: the new replica's effect shows first. */
		if (scale_up(h, s, why) || give_up_one(h, s))
			a->up_since = now;
		else
			head__satellite_want(h, s); /* no room here: a satellite allocation */
	}
	if (down && now - a->down_since >= (uint64_t)st->autoscale.down_after_s * 1000) {
		snprintf(why, sizeof(why), "no backlog, busy %.2f (target %.2f) for %d s", a->busy,
			 target, st->autoscale.down_after_s);
		if (scale_down(h, s, why))
			a->down_since = now;
	}
}

static void tick(uv_timer_t *t)
{
	struct head *h = t->data;
	uint64_t now = aic_now_ms();
	json_t *ask;
	size_t s, i;

	if (h->ending || h->draining) {
		uv_timer_stop(t);
		return;
	}
	for (s = 0; s < h->cfg.spec->n_stages; s++)
		if (aic_stage_autoscales(&h->cfg.spec->stages[s]))
			decide(h, s, now);
	for (i = 0; i < h->n_procs; i++) {
		struct as_proc *ap = &h->as->procs[i];
		if (!ap->draining || h->procs[i].state != P_RUNNING)
			continue;
		if (h->procs[i].moves != ap->drain_moves) {
			/*
			 * Its node was lost while it drained and it runs elsewhere now:
			 * drained there once its worker is connected there (a LOAD
			 * answer since it started names it), as a drain finds only
			 * connected workers.
			 */
			if (ap->at_ms >= h->procs[i].started_ms)
				send_drain(h, &h->procs[i]);
		} else if (now > ap->drain_ms + DRAIN_TIMEOUT_MS) {
			/* A replica that does not leave when drained (it reads no channel now):
			 * stopped. */
			h->procs[i].state = P_STOPPING;
			head__kill(&h->procs[i], SIGTERM);
		}
	}
	/* The next decision uses the answers to this. */
	ask = json_object();
	if (ask)
		head__broadcast(h, AIC_MSG_LOAD, ask);
	json_decref(ask);
}
