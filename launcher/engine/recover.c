/*
 * A lost node (internal.h): the agents left forget it (NODE_LOST), and its
 * processes are recovered on the nodes left, or the job ends.
 *
 * What was lost, per stage (its on_node_failure, aic-job(5)): processes
 * that had finished stay finished; with `fail` the job ends naming the
 * node and the stage; a replica whose stage still has others running goes
 * on without it (their channels give them its work).
 */
#include "config.h"

#include <stdio.h>

#include "internal.h"
#include "log.h"
#include "wire.h"

/* Whether process hp still had work to do when its node went. */
static bool unfinished(const struct hproc *hp)
{
	return hp->state != P_DONE && hp->state != P_FAILED && hp->state != P_LOST;
}

/* Whether stage `stage` has a process elsewhere than `node` that runs or will. */
static bool stage_lives_elsewhere(struct head *h, size_t stage, size_t node)
{
	size_t i;

	for (i = 0; i < h->n_procs; i++)
		if (h->procs[i].p->stage == stage && h->procs[i].p->node != node &&
		    (unfinished(&h->procs[i]) || h->procs[i].state == P_DONE))
			return true;
	return false;
}

/* Decides for each stage with unfinished processes on node `node`; false when the job ended. */
static bool recover_stages(struct head *h, struct hagent *a)
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
		if (st->ranks || !stage_lives_elsewhere(h, s, node)) {
			snprintf(why, sizeof(why),
				 "node '%s' was lost (%s) with %d %s%s of stage '%s', which cannot go "
				 "on without %s",
				 a->node, a->lost_why, lost, st->ranks ? "rank" : "replica",
				 lost == 1 ? "" : "s", st->name, lost == 1 ? "it" : "them");
			head__end(h, 1, "failed", why);
			return false;
		}
		for (i = 0; i < h->n_procs; i++) {
			struct hproc *hp = &h->procs[i];
			if (hp->p->stage != s || hp->p->node != node || !unfinished(hp))
				continue;
			uv_timer_stop(&hp->timer);
			hp->state = P_LOST;
			hp->pid = 0;
			hp->ended_ms = aic_now_ms();
			aic_log_info("stage '%s' replica %d was on node '%s': the stage goes on "
				     "without it",
				     st->name, hp->p->index, a->node);
		}
	}
	return true;
}

void head__node_lost(struct head *h, struct hagent *a, const char *why)
{
	json_t *m;

	a->lost = true;
	a->lost_ms = aic_now_ms();
	snprintf(a->lost_why, sizeof(a->lost_why), "%s", why);
	aic_log_error("node '%s' lost: %s", a->node, why);
	m = json_pack("{s:i,s:s}", "rank", a->rank, "node", a->node);
	if (m) {
		head__broadcast(h, AIC_MSG_NODE_LOST, m);
		json_decref(m);
	}
	if (!h->placed) {
		/* Nothing runs yet: the job cannot start without the node. */
		head__end(h, 1, "failed", why);
		return;
	}
	if (!recover_stages(h, a))
		return;
	head__save_status(h);
	head__check_finished(h);
}
