/*
 * A lost node (internal.h): the agents left forget it (NODE_LOST), and its
 * processes are placed again on the nodes left, or the job ends.
 *
 * Per stage with unfinished processes there (its on_node_failure,
 * aic-job(5)); processes that had finished stay finished:
 *  - `fail`: the job ends, naming the node and the stage;
 *  - a replica waits for room (P_WAITING) and is placed on the nodes left
 *    as soon as the solver finds it some (aic_place_more: what runs keeps
 *    its GPUs and cores), now or when a process ends; one that could not
 *    fit even on the nodes left emptied fails the job at once;
 *  - a gang stops its ranks on the nodes left (moving), and once they have
 *    all stopped restarts whole where it fits now, or with fewer ranks down
 *    to its min; when not even min ranks could ever fit the job fails.
 * Moving a process does not use its restart budget; it is counted apart
 * (moves). Before a moved process starts, every agent learns who produces
 * each channel and receives each weight stream now (MEMBERS), so that
 * readers pull from the new producer, a channel's end no longer waits for
 * the lost agent, and the chain of a weight stream re-forms.
 *
 * A channel's source or sink that the lost agent had not finished ends the
 * job (files_left): its place in the file was there.
 *
 * A replica still waiting when every other replica of its stage has
 * finished is not placed: they finished because the stage's inputs ended,
 * so it would have nothing to do, and waiting for it would keep its output
 * channels open for ever.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "internal.h"
#include "log.h"
#include "wire.h"

/* Whether process hp still had work to do when its node went. */
static bool unfinished(const struct hproc *hp)
{
	return hp->state != P_DONE && hp->state != P_FAILED && hp->state != P_LOST;
}

/* Whether hp holds GPUs and cores now, or will when its restart's backoff ends. */
static bool holds_room(const struct head *h, const struct hproc *hp)
{
	return !h->agents[hp->p->node].lost && (hp->state == P_PENDING || hp->state == P_STARTING ||
						hp->state == P_RUNNING || hp->state == P_STOPPING);
}

/*
 * Places `count` processes of `stage` (a gang's ranks, or replicas) into
 * out: on what is free now (`now`), or on the nodes left with nothing
 * running but the stage's host (could they ever fit?). 0, AIC_ENOFIT with
 * the solver's reason in *errors (when not NULL), or another error.
 */
static int try_place(struct head *h, size_t stage, int count, bool now, struct aic_proc *out,
		     char **errors)
{
	const struct aic_spec *spec = h->cfg.spec;
	const struct aic_stage *host =
		spec->stages[stage].colocate_with
			? aic_spec_stage(spec, spec->stages[stage].colocate_with)
			: NULL;
	struct aic_proc *used = calloc(h->n_procs + 1, sizeof(*used));
	size_t n = 0, i;
	int rc;

	if (errors)
		*errors = NULL;
	if (!used)
		return -ENOMEM;
	/* Satellites host only autoscaled replicas (autoscale.c), never what recovers. */
	for (i = 0; i < (size_t)h->cfg.n_agents; i++)
		h->nodes[i].down = h->agents[i].lost || (int)i >= h->n_main;
	for (i = 0; i < h->n_procs; i++)
		if (holds_room(h, &h->procs[i]) &&
		    (now || (host && h->procs[i].p->stage == (size_t)(host - spec->stages))))
			used[n++] = *h->procs[i].p;
	rc = aic_place_more(spec, h->nodes, (size_t)h->cfg.n_agents,
			    h->cfg.local ? AIC_PLACE_SOFT_CPUS : 0, used, n, stage, count, out,
			    errors);
	free(used);
	return rc;
}

/* The job fails: what was lost, and what no longer fits (the solver's first line). */
static void fail_no_fit(struct head *h, const struct hagent *a, const char *what, char *errors)
{
	char why[1024], *nl = errors ? strchr(errors, '\n') : NULL;

	if (nl)
		*nl = '\0';
	snprintf(why, sizeof(why),
		 "node '%s' was lost (%s) and %s no longer fits on the nodes left%s%s", a->node,
		 a->lost_why, what, errors ? ": " : "",
		 errors ? (strncmp(errors, "aic: ", 5) ? errors : errors + 5) : "");
	head__end(h, 1, "failed", why);
}

/* The gang of `stage` lost a rank: it stops on the nodes left, to be placed again. */
static bool lose_gang(struct head *h, const struct hagent *a, size_t stage)
{
	const struct aic_stage *st = &h->cfg.spec->stages[stage];
	struct hstage *hs = &h->stages[stage];
	struct aic_proc *out = calloc((size_t)st->ranks + 1, sizeof(*out));
	char *errors = NULL, what[256];
	int n, rc = AIC_ENOFIT;
	size_t i;

	if (!out) {
		head__end(h, 1, "failed", "out of memory");
		return false;
	}
	for (n = head__gang_world(h, stage); n >= st->ranks_min && n > 0 && rc == AIC_ENOFIT; n--) {
		free(errors);
		rc = try_place(h, stage, n, false, out, &errors);
	}
	free(out);
	if (rc) {
		n = head__gang_world(h, stage);
		snprintf(what, sizeof(what), "stage '%s' (a gang of %d rank%s, at least %d)",
			 st->name, n, n == 1 ? "" : "s", st->ranks_min);
		fail_no_fit(h, a, what, errors);
		free(errors);
		return false;
	}
	aic_log_info("stage '%s' lost a rank with node '%s': stopping its other ranks to start it "
		     "again on the nodes left",
		     st->name, a->node);
	uv_timer_stop(&hs->timer);
	hs->moving = true;
	hs->restarting = true; /* their exits are no failures */
	for (i = 0; i < h->n_procs; i++) {
		struct hproc *hp = &h->procs[i];
		if (hp->p->stage != stage || hp->state == P_LOST)
			continue;
		if ((hp->state == P_RUNNING || hp->state == P_STARTING) &&
		    !h->agents[hp->p->node].lost) {
			hp->state = P_STOPPING;
			head__kill(hp, SIGTERM);
		} else if (hp->state != P_STOPPING || h->agents[hp->p->node].lost) {
			hp->state = P_WAITING;
			hp->pid = 0;
		}
	}
	return true;
}

/* A replica of the lost node waits to be placed again, unless it never could be. */
static bool lose_replica(struct head *h, const struct hagent *a, struct hproc *hp)
{
	const struct aic_stage *st = &h->cfg.spec->stages[hp->p->stage];
	struct aic_proc out;
	char *errors = NULL, what[256];
	int rc;

	uv_timer_stop(&hp->timer);
	hp->state = P_WAITING;
	hp->pid = 0;
	rc = try_place(h, hp->p->stage, 1, false, &out, &errors);
	if (rc) {
		snprintf(what, sizeof(what), "stage '%s' replica %d", st->name, hp->p->index);
		fail_no_fit(h, a, what, errors);
		free(errors);
		return false;
	}
	return true;
}

/*
 * A channel's source or sink file that the lost agent was reading or
 * writing, not done yet: nothing else has its place in the file, so the
 * job ends naming the channel rather than waiting for it for ever.
 */
static bool files_left(struct head *h, const struct hagent *a)
{
	const struct aic_spec *spec = h->cfg.spec;
	char why[768];
	size_t c;

	for (c = 0; c < spec->n_channels; c++) {
		const struct aic_channel *ch = &spec->channels[c];
		bool source = ch->source && h->feeders && h->feeders[c] == a->rank &&
			      h->source_done && !h->source_done[c];
		bool sink = ch->sink && h->sinkers && h->sinkers[c] == a->rank && h->sink_done &&
			    !h->sink_done[c];
		if (!source && !sink)
			continue;
		snprintf(why, sizeof(why),
			 "node '%s' was lost (%s) while it %s channel '%s''s %s '%s', which no "
			 "other "
			 "node can take over",
			 a->node, a->lost_why, source ? "read" : "wrote", ch->name,
			 source ? "source" : "sink", source ? ch->source : ch->sink);
		head__end(h, 1, "failed", why);
		return false;
	}
	return true;
}

/* Decides for each stage with unfinished processes on a's node; false when the job ended. */
static bool recover_stages(struct head *h, const struct hagent *a)
{
	const struct aic_spec *spec = h->cfg.spec;
	size_t s, i, node = (size_t)a->rank;
	char why[768];

	for (s = 0; s < spec->n_stages; s++) {
		const struct aic_stage *st = &spec->stages[s];
		int lost = 0;
		for (i = 0; i < h->n_procs; i++)
			lost += h->procs[i].p->stage == s && h->procs[i].p->node == node &&
				unfinished(&h->procs[i]);
		if (!lost)
			continue;
		if (st->on_node_failure == AIC_NODE_FAILURE_FAIL) {
			snprintf(why, sizeof(why),
				 "node '%s' was lost (%s) and stage '%s' has on_node_failure: fail",
				 a->node, a->lost_why, st->name);
			head__end(h, 1, "failed", why);
			return false;
		}
		if (st->ranks) {
			if (!lose_gang(h, a, s))
				return false;
			continue;
		}
		for (i = 0; i < h->n_procs; i++)
			if (h->procs[i].p->stage == s && h->procs[i].p->node == node &&
			    unfinished(&h->procs[i]) && !lose_replica(h, a, &h->procs[i]))
				return false;
	}
	return true;
}

/* --- placing again ------------------------------------------------------ */

static void moved(struct head *h, struct hproc *hp, const struct aic_proc *to)
{
	const struct aic_stage *st = &h->cfg.spec->stages[hp->p->stage];
	int index = hp->p->index;

	h->plan->procs[hp->id] = *to;
	h->plan->procs[hp->id].index = index;
	hp->moves++;
	hp->state = P_PENDING;
	aic_log_info("stage '%s' %s %d placed again on node '%s'", st->name,
		     st->ranks ? "rank" : "replica", index, h->agents[to->node].node);
}

/*
 * The replicas of stage si waiting for room: as many as fit placed (in
 * their order, marked in spawn[]), the others wait on; how many were
 * placed. Replicas of one stage are alike, so the first m placed by one
 * solver call are where m calls of one each would put them: the most that
 * fit is found in O(log W) calls, not one per replica waiting (W, 8 per
 * node lost), each of which costs O(processes).
 */
static int place_replicas_again(struct head *h, size_t si, bool *spawn)
{
	struct aic_proc *out;
	size_t *wait, i, w = 0, unfinished = 0, exited = 0;
	int lo, hi, m;

	for (i = 0; i < h->n_procs; i++)
		if (h->procs[i].p->stage == si) {
			unfinished += !head__proc_finished(&h->procs[i]);
			w += h->procs[i].state == P_WAITING;
			exited += h->procs[i].state == P_DONE;
		}
	if (!w)
		return 0;
	/*
	 * The one left of a stage whose other replicas have ended well (a
	 * replica that reads a channel exits 0 at its end): its inputs have
	 * ended. A lone replica, or one whose others were lost, is placed
	 * again: nothing else would do its work.
	 */
	if (w == 1 && unfinished == 1 && exited && h->cfg.spec->stages[si].inputs) {
		for (i = 0; h->procs[i].p->stage != si || h->procs[i].state != P_WAITING; i++)
			;
		aic_log_info("stage '%s' replica %d is not placed again: the other replicas have "
			     "finished its work",
			     h->cfg.spec->stages[si].name, h->procs[i].p->index);
		h->procs[i].state = P_LOST;
		return 0;
	}
	wait = calloc(w, sizeof(*wait));
	out = calloc(w, sizeof(*out));
	if (!wait || !out) {
		free(wait);
		free(out);
		return 0; /* they wait on */
	}
	for (i = 0, w = 0; i < h->n_procs; i++)
		if (h->procs[i].p->stage == si && h->procs[i].state == P_WAITING)
			wait[w++] = i;
	/* All of them (room enough), or none (no room for one), or the most that fit. */
	if (try_place(h, si, (int)w, true, out, NULL) == 0) {
		m = (int)w;
	} else if (w == 1 || try_place(h, si, 1, true, out, NULL) != 0) {
		m = 0;
	} else {
		for (lo = 1, hi = (int)w - 1; lo < hi;) {
			int mid = (lo + hi + 1) / 2;
			if (try_place(h, si, mid, true, out, NULL) == 0)
				lo = mid;
			else
				hi = mid - 1;
		}
		m = lo;
		if (try_place(h, si, m, true, out, NULL) != 0)
			m = 0;
	}
	for (lo = 0; lo < m; lo++) {
		moved(h, &h->procs[wait[lo]], &out[lo]);
		spawn[wait[lo]] = true;
	}
	free(wait);
	free(out);
	return m;
}

/* A moving gang whose ranks have all stopped: placed with as many ranks as fit (true). */
static bool place_gang_again(struct head *h, size_t stage)
{
	const struct aic_stage *st = &h->cfg.spec->stages[stage];
	struct hstage *hs = &h->stages[stage];
	struct aic_proc *out;
	struct hagent *a0;
	int n, rc = AIC_ENOFIT, world = head__gang_world(h, stage);
	size_t i;

	if (!hs->moving)
		return false;
	for (i = 0; i < h->n_procs; i++)
		if (h->procs[i].p->stage == stage &&
		    (h->procs[i].state == P_STARTING || h->procs[i].state == P_RUNNING ||
		     h->procs[i].state == P_STOPPING))
			return false;
	out = calloc((size_t)st->ranks + 1, sizeof(*out));
	if (!out)
		return false;
	for (n = world; n >= st->ranks_min && n > 0 && rc == AIC_ENOFIT; n--)
		rc = try_place(h, stage, n, true, out, NULL);
	if (rc) {
		free(out);
		return false;
	}
	n++;
	for (i = 0; i < h->n_procs; i++) {
		struct hproc *hp = &h->procs[i];
		if (hp->p->stage != stage || hp->state == P_LOST)
			continue;
		if (hp->p->index < n) {
			moved(h, hp, &out[hp->p->index]);
		} else {
			hp->state = P_LOST; /* the gang goes on without this rank */
			hp->pid = 0;
		}
	}
	free(out);
	if (n < world)
		aic_log_info("stage '%s' goes on with %d of its %d ranks", st->name, n, st->ranks);
	hs->moving = false;
	hs->restarting = false;
	/* A new rendezvous port, on rank 0's node (the old one may linger in TIME_WAIT). */
	for (i = 0, a0 = NULL; i < h->n_procs && !a0; i++)
		if (h->procs[i].p->stage == stage && h->procs[i].p->index == 0)
			a0 = &h->agents[h->procs[i].p->node];
	if (a0 && a0->next_port < a0->n_ports)
		hs->master_port = a0->ports[a0->next_port++];
	else if (a0 && a0->n_ports)
		hs->master_port = a0->ports[a0->n_ports - 1];
	return true;
}

/* Whether anything waits to be placed again. */
static bool waiting(const struct head *h)
{
	size_t i;

	for (i = 0; i < h->cfg.spec->n_stages; i++)
		if (h->stages[i].moving)
			return true;
	for (i = 0; i < h->n_procs; i++)
		if (h->procs[i].state == P_WAITING)
			return true;
	return false;
}

/* As head__place_waiting; `tell`: send MEMBERS even when nothing was placed (a node was lost). */
static void place_waiting(struct head *h, bool tell)
{
	bool *spawn;
	size_t i, s;
	int n = 0;
	json_t *m;

	if (h->ending || !h->placed || (!tell && !waiting(h)))
		return;
	spawn = calloc(h->n_procs + 1, sizeof(*spawn));
	if (!spawn) {
		head__end(h, 1, "failed", "out of memory");
		return;
	}
	/* Gangs first, as the solver places them: they need the most room at once. */
	for (s = 0; s < h->cfg.spec->n_stages; s++)
		if (h->cfg.spec->stages[s].ranks && place_gang_again(h, s))
			for (i = 0; i < h->n_procs; i++)
				if (h->procs[i].p->stage == s && h->procs[i].state == P_PENDING) {
					spawn[i] = true;
					n++;
				}
	for (s = 0; s < h->cfg.spec->n_stages; s++)
		if (!h->cfg.spec->stages[s].ranks)
			n += place_replicas_again(h, s, spawn);
	if (n || tell) {
		/* Who produces and receives what now, before anything of theirs starts. */
		m = head__data_plane_members(h);
		if (m) {
			head__broadcast(h, AIC_MSG_MEMBERS, m);
			json_decref(m);
		}
	}
	for (i = 0; i < h->n_procs; i++)
		if (spawn[i])
			head__spawn(&h->procs[i]);
	free(spawn);
	head__save_status(h);
	/* Processes not placed again may have been a channel's last producers. */
	head__check_finished(h);
}

void head__place_waiting(struct head *h)
{
	place_waiting(h, false);
}

/* --- a node is lost ----------------------------------------------------- */

void head__node_lost(struct head *h, struct hagent *a, const char *why)
{
	json_t *m;

	a->lost = true;
	a->lost_ms = aic_now_ms();
	snprintf(a->lost_why, sizeof(a->lost_why), "%s", why);
	head__event_node_lost(h, a);
	aic_log_error("node '%s' lost: %s", a->node, why);
	m = json_pack("{s:i,s:s}", "rank", a->rank, "node", a->node);
	if (m) {
		head__broadcast(h, AIC_MSG_NODE_LOST, m);
		json_decref(m);
	}
	head__phase_node_lost(h, a);
	if (!h->placed) {
		/* Nothing runs yet: the job cannot start without the node. */
		head__end(h, 1, "failed", why);
		return;
	}
	if (!files_left(h, a) || !recover_stages(h, a))
		return;
	place_waiting(h, true);
	head__service_sync(h); /* its services' replicas left, or moved */
}
