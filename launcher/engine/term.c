/*
 * The agent's side of SIGTERM as a notice (drain.c, head_term_notice).
 *
 * SLURM signals every process of a step at once: on preemption within its
 * GraceTime, a requeue or a cancel, this agent gets the SIGTERM its head
 * gets. In a job that checkpoints on SIGTERM (its workers start with
 * AIC_TERM_NOTICE, the head's term_grace_s), the agent does not stop its
 * workers then: the head is asking them for a checkpoint, and its
 * SHUTDOWN follows once they have saved one or term_grace_s has passed.
 * If none comes within term_grace_s plus TERM_MARGIN_S (the head is gone
 * or late), or a second SIGTERM comes, the agent stops its workers as on
 * any SIGTERM (agent_terminate).
 */
#include "config.h"

#include <signal.h>
#include <stdlib.h>

#include "agent.h"
#include "internal.h"
#include "log.h"

/* What the head's SHUTDOWN may take beyond term_grace_s: the state saved, the message sent. */
#define TERM_MARGIN_S 5

void agent__term_spawned(struct agent_term *k, const json_t *env)
{
	const char *v = json_string_value(json_object_get(env, "AIC_TERM_NOTICE"));
	long s = v ? strtol(v, NULL, 10) : 0;

	if (s > 0 && s <= 86400)
		k->grace_s = (int)s;
}

static void overdue(uv_timer_t *t)
{
	aic_log_warn("no word from the head within checkpoint.term_grace_s after SIGTERM");
	agent_terminate(t->data, SIGTERM);
}

bool agent__term_defer(struct agent_term *k, uv_loop_t *loop, struct agent *a)
{
	if (k->grace_s <= 0 || k->noticed)
		return false;
	k->noticed = true;
	aic_log_info("SIGTERM: the workers checkpoint; waiting up to %d s for the head before "
		     "stopping them",
		     k->grace_s + TERM_MARGIN_S);
	/* Closed with the loop's other handles when the engine ends (engine.c). */
	uv_timer_init(loop, &k->timer);
	k->timer.data = a;
	uv_timer_start(&k->timer, overdue, (uint64_t)(k->grace_s + TERM_MARGIN_S) * 1000, 0);
	return true;
}
