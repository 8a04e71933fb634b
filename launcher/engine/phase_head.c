/*
 * The head's side of phases (phase.c has the contract): at placement it
 * tells every agent the alternating pairs (PHASES) and which it
 * arbitrates itself, those with a gang in them, so a gang's ranks on
 * several nodes go in and out together. For those it keeps the lock,
 * fed by the agents' PHASE_ASK and PHASE_DONE and answered with
 * PHASE_TURN to the agent of the process whose turn it is.
 *
 * It also counts every pair's turns, whoever arbitrates them: per stage
 * how many and how long, per pair how many switches from one stage to the
 * other and how long each took where the lock is (from the last holder's
 * end to the next one's grant: the lock's own share of a handoff; bench/
 * measures one end to end), and a timeline of begins and ends per node
 * (node null: a turn on every node of a head-arbitrated pair).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "log.h"
#include "wire.h"

/* Timeline events kept per pair; later ones are counted, not kept. */
#define TIMELINE_MAX 20000
/* Of which status.json shows the newest. */
#define TIMELINE_STATUS 64

struct hgroup {
	size_t stage[2]; /* spec indices: the host, its guest */
	bool via_head;
	struct phase_lock lock; /* via_head */
	int yield_side;		/* what the agents were last told */
	json_int_t turns[2];
	double busy_ms[2];
	json_int_t switches;
	double switch_us_sum, switch_us_max, switch_us_last;
	json_t *holding; /* {node: stage or null}; node "*" for a head-arbitrated pair */
	json_t *timeline;
	json_int_t dropped;
};

struct head_phase {
	struct head *h;
	struct hgroup *g;
	size_t n;
};

/* A turn began or ended on `node` (NULL: every node of the pair). */
static void record(struct head_phase *p, struct hgroup *g, const char *node, const char *stage,
		   int side, bool begin, double t, double us)
{
	json_t *ev;

	head__event_phase(p->h, (size_t)(g - p->g), node, stage, begin, t, us);
	if (begin) {
		g->turns[side]++;
		if (us >= 0) {
			g->switches++;
			g->switch_us_sum += us;
			g->switch_us_last = us;
			if (us > g->switch_us_max)
				g->switch_us_max = us;
		}
	} else if (us >= 0) {
		g->busy_ms[side] += us / 1000.0;
	}
	json_object_set_new(g->holding, node ? node : "*",
			    begin ? json_string(stage) : json_null());
	if (json_array_size(g->timeline) >= TIMELINE_MAX) {
		g->dropped++;
		return;
	}
	ev = json_pack("{s:f,s:s?,s:s,s:s}", "t", t, "node", node, "stage", stage, "event",
		       begin ? "begin" : "end");
	if (ev && us >= 0 && begin)
		json_object_set_new(ev, "switch_us", json_real(us));
	json_array_append_new(g->timeline, ev);
}

static void head_event(void *arg, struct phase_lock *l, int side, bool begin, double t, int64_t us)
{
	struct head_phase *p = arg;
	struct hgroup *g = &p->g[l->group];

	record(p, g, NULL, p->h->cfg.spec->stages[g->stage[side]].name, side, begin, t,
	       (double)us);
}

static void head_grant(void *arg, struct phase_lock *l, const struct phase_who *who)
{
	struct head_phase *p = arg;
	struct head *h = p->h;
	struct aic_conn *c;
	json_t *m, *a = json_array();
	size_t i;

	if (who->proc < 0 || (size_t)who->proc >= h->n_procs)
		return;
	c = h->agents[h->procs[who->proc].p->node].conn;
	for (i = 0; a && i < l->ncarry; i++)
		json_array_append_new(a, json_pack("[I,I]", (json_int_t)l->carry[i].stream,
						   (json_int_t)l->carry[i].version));
	m = json_pack("{s:I,s:I,s:o}", "id", (json_int_t)who->proc, "group", (json_int_t)l->group,
		      "versions", a ? a : json_array());
	if (c && m)
		aic_conn_send(c, AIC_MSG_PHASE_TURN, m);
	json_decref(m);
}

static const struct phase_lock_ops head_ops = {.grant = head_grant, .event = head_event};

void head__phase_start(struct head *h)
{
	const struct aic_spec *spec = h->cfg.spec;
	struct head_phase *p;
	json_t *groups, *m;
	size_t i, n = 0;

	for (i = 0; i < spec->n_stages; i++)
		n += spec->stages[i].colocate_with &&
		     spec->stages[i].colocate_mode == AIC_COLOCATE_ALTERNATE;
	if (n == 0 || h->phase)
		return;
	p = calloc(1, sizeof(*p));
	groups = json_array();
	if (!p || !groups || !(p->g = calloc(n, sizeof(*p->g)))) {
		free(p);
		json_decref(groups);
		aic_log_error("phases: out of memory: stages that alternate run at once");
		return;
	}
	p->h = h;
	for (i = 0; i < spec->n_stages; i++) {
		const struct aic_stage *st = &spec->stages[i], *host;
		struct hgroup *g;
		if (!st->colocate_with || st->colocate_mode != AIC_COLOCATE_ALTERNATE)
			continue;
		host = aic_spec_stage(spec, st->colocate_with);
		g = &p->g[p->n];
		g->stage[0] = (size_t)(host - spec->stages);
		g->stage[1] = i;
		g->via_head = host->ranks > 0 || st->ranks > 0;
		g->yield_side = -1;
		g->holding = json_object();
		g->timeline = json_array();
		phase__lock_init(&g->lock, p->n, &head_ops, p);
		json_array_append_new(groups, json_pack("{s:[s,s],s:b}", "stages", host->name,
							st->name, "via_head", g->via_head));
		p->n++;
	}
	h->phase = p;
	m = json_pack("{s:o}", "groups", groups);
	if (m)
		head__broadcast(h, AIC_MSG_PHASES, m);
	json_decref(m);
}

/* Tells the agents which side of a head-arbitrated pair should yield, when that changed. */
static void tell_yield(struct head *h, struct hgroup *g, size_t gi)
{
	int side = phase__lock_yield_side(&g->lock);
	json_t *m;

	if (side == g->yield_side)
		return;
	g->yield_side = side;
	m = json_pack("{s:I,s:i}", "group", (json_int_t)gi, "side", side);
	if (m)
		head__broadcast(h, AIC_MSG_PHASE_YIELD, m);
	json_decref(m);
}

void head__phase_msg(struct head *h, struct hagent *a, uint16_t type, const json_t *m)
{
	struct head_phase *p = h->phase;
	json_int_t gi = json_integer_value(json_object_get(m, "group"));
	json_int_t id = json_integer_value(json_object_get(m, "id"));
	struct phase_version v[AIC_PHASE_VERSIONS_MAX];
	struct phase_who who = {NULL, (long)id};
	struct hgroup *g;
	int side;

	if (!p || gi < 0 || (size_t)gi >= p->n)
		return;
	g = &p->g[gi];
	if (type == AIC_MSG_PHASE_EVENT) {
		const char *stage = json_string_value(json_object_get(m, "stage"));
		const char *ev = json_string_value(json_object_get(m, "event"));
		side = stage && !strcmp(stage, h->cfg.spec->stages[g->stage[1]].name);
		if (!stage || !ev || g->via_head)
			return;
		record(p, g, a->node, h->cfg.spec->stages[g->stage[side]].name, side,
		       !strcmp(ev, "begin"), json_number_value(json_object_get(m, "t")),
		       (double)json_integer_value(json_object_get(m, "us")));
		head__save_status(h);
		return;
	}
	if (!g->via_head || id < 0 || (size_t)id >= h->n_procs)
		return;
	if (type == AIC_MSG_PHASE_ASK) {
		size_t st = h->procs[id].p->stage;
		side = (int)json_integer_value(json_object_get(m, "side"));
		if ((side != 0 && side != 1) || g->stage[side] != st)
			return;
		/* A gang goes in whole: as many ranks as it has now. */
		g->lock.need[side] = h->cfg.spec->stages[st].ranks ? head__gang_world(h, st) : 0;
		if (phase__lock_ask(&g->lock, side, &who) != 0)
			aic_log_error("phases: out of memory");
	} else if (type == AIC_MSG_PHASE_DONE) {
		phase__lock_done(&g->lock, &who, v,
				 phase__versions_from_json(json_object_get(m, "versions"), v),
				 json_is_true(json_object_get(m, "gone")));
	}
	tell_yield(h, g, (size_t)gi);
	head__save_status(h);
}

/* Up to max processes of node `node` that hold or wait in l, into out; how many. */
static size_t on_node(const struct head *h, const struct phase_lock *l, size_t node, long *out,
		      size_t max)
{
	const struct phase_who *lists[3] = {l->held, l->q[0], l->q[1]};
	const size_t counts[3] = {l->nheld, l->nq[0], l->nq[1]};
	size_t i, j, n = 0;

	for (j = 0; j < 3; j++)
		for (i = 0; i < counts[j] && n < max; i++) {
			long id = lists[j][i].proc;
			if (id >= 0 && (size_t)id < h->n_procs && h->procs[id].p->node == node)
				out[n++] = id;
		}
	return n;
}

void head__phase_node_lost(struct head *h, const struct hagent *a)
{
	struct head_phase *p = h->phase;
	size_t node = (size_t)(a - h->agents), gi, i, n;
	long gone[64];

	for (gi = 0; p && gi < p->n; gi++) {
		/* A few at a time: each done may let others in, which changes the lists. */
		do {
			n = on_node(h, &p->g[gi].lock, node, gone, 64);
			for (i = 0; i < n; i++)
				phase__lock_done(&p->g[gi].lock, &(struct phase_who){NULL, gone[i]},
						 NULL, 0, true);
		} while (n == 64);
		if (p->g[gi].via_head)
			tell_yield(h, &p->g[gi], gi);
	}
}

json_t *head__phase_json(struct head *h, bool summary)
{
	struct head_phase *p = h->phase;
	const struct aic_spec *spec = h->cfg.spec;
	json_t *out;
	size_t i;
	int s;

	if (!p)
		return NULL;
	out = json_array();
	for (i = 0; out && i < p->n; i++) {
		struct hgroup *g = &p->g[i];
		json_t *turns = json_object(), *o, *tl;
		size_t n = json_array_size(g->timeline), k;
		for (s = 0; s < 2; s++)
			json_object_set_new(turns, spec->stages[g->stage[s]].name,
					    json_pack("{s:I,s:f}", "count", g->turns[s], "busy_ms",
						      g->busy_ms[s]));
		if (summary) {
			tl = json_incref(g->timeline);
		} else {
			tl = json_array();
			for (k = n > TIMELINE_STATUS ? n - TIMELINE_STATUS : 0; tl && k < n; k++)
				json_array_append(tl, json_array_get(g->timeline, k));
		}
		o = json_pack("{s:[s,s],s:s,s:o,s:I,s:{s:f,s:f,s:f},s:O,s:o,s:I}", "stages",
			      spec->stages[g->stage[0]].name, spec->stages[g->stage[1]].name,
			      "arbiter", g->via_head ? "head" : "agent", "turns", turns, "switches",
			      g->switches, "switch_us", "last", g->switch_us_last, "mean",
			      g->switches ? g->switch_us_sum / (double)g->switches : 0.0, "max",
			      g->switch_us_max, "holding", g->holding, "timeline",
			      tl ? tl : json_array(), "timeline_dropped", g->dropped);
		json_array_append_new(out, o);
	}
	return out;
}

void head__phase_free(struct head *h)
{
	struct head_phase *p = h->phase;
	size_t i;

	if (!p)
		return;
	for (i = 0; i < p->n; i++) {
		phase__lock_release(&p->g[i].lock);
		json_decref(p->g[i].holding);
		json_decref(p->g[i].timeline);
	}
	free(p->g);
	free(p);
	h->phase = NULL;
}
