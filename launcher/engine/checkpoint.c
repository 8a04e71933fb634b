/*
 * The agent's side of checkpoints: the head's newest request (CHECKPOINT),
 * which of its workers have answered it, and their frames (CKPT_POLL,
 * CKPT_BEGIN, CKPT_DONE), each answered with CKPT_STATE. A worker is asked
 * while the request is newer than its last CKPT_DONE; a CKPT_DONE goes on
 * to the head as CHECKPOINTED, which counts it (drain.c). A worker that
 * restarts keeps its process id, so one that answered is not asked again.
 *
 * The sources' progress that goes with a checkpoint: the acker snapshots
 * it at the worker's mark, which this agent puts into the XOR stream in
 * order with the worker's acks (launcher/dataplane/acker.c, "Checkpoints").
 * The mark is the worker's first CKPT_BEGIN since its last CKPT_DONE, else
 * the first CKPT_POLL since then that found a request (the worker saves
 * after it); without one, the acker goes by the last CKPT_DONE. The state
 * a worker saves is taken after its mark, and holds every item it acked
 * before, so every line done at the mark is in the checkpoint; taking the
 * mark at the report instead would count lines the worker acked between
 * taking its state and reporting it, which the checkpoint does not hold.
 * The CKPT_DONE itself travels the same way, so the acker has the mark's
 * snapshot when it hands the report on to the head (rank 0's agent). A
 * process that connects with no connection open is a new start of it
 * (after a restart it has resumed from its checkpoint): what its earlier
 * start marked is forgotten, here and at the acker.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane.h"
#include "error.h"
#include "internal.h"
#include "wire.h"

/* What a worker's next checkpoint is marked by (struct ckpt_proc's marked). */
enum { MARK_NONE, MARK_POLL, MARK_BEGIN };

void agent__ckpt_request(struct agent_ckpt *k, const json_t *m)
{
	json_int_t r = json_integer_value(json_object_get(m, "request"));

	if (r > 0 && (uint64_t)r > k->request)
		k->request = (uint64_t)r;
}

/* Sends CHECKPOINTED to the head (takes m). */
static void report(struct agent_ckpt *k, json_t *m)
{
	if (k->head && *k->head && !(*k->head)->closing)
		aic_conn_send(*k->head, AIC_MSG_CHECKPOINTED, m);
	json_decref(m);
}

/* At the acker: a worker's report, in its place among every agent's updates. */
static void acker_reported(void *arg, long proc, uint64_t request, uint64_t version,
			   json_t *progress)
{
	report(arg, json_pack("{s:I,s:I,s:I,s:o?}", "id", (json_int_t)proc, "request",
			      (json_int_t)request, "version", (json_int_t)version, "progress",
			      progress));
}

void agent__ckpt_attach(struct agent_ckpt *k, struct chan_set *cs, struct aic_conn **head)
{
	k->head = head;
	chan_set_on_checkpoint(cs, acker_reported, k);
}

/* The slot of a process, growing the table for a new id (false: no memory). */
static bool proc_slot(struct agent_ckpt *k, long proc)
{
	struct ckpt_proc *na;
	size_t n;

	if ((size_t)proc < k->n)
		return true;
	n = (size_t)proc + 16;
	na = realloc(k->procs, n * sizeof(*na));
	if (!na)
		return false;
	memset(na + k->n, 0, (n - k->n) * sizeof(*na));
	k->procs = na;
	k->n = n;
	return true;
}

/* Marks proc's next checkpoint now: a begin once, over a poll's; a poll's only first. */
static void mark(struct agent_ckpt *k, struct chan_set *cs, long proc, uint8_t how)
{
	struct ckpt_proc *p = &k->procs[proc];

	if (p->marked == MARK_BEGIN || (how == MARK_POLL && p->marked != MARK_NONE))
		return;
	p->marked = how;
	chan_set_checkpoint_mark(cs, proc);
}

void agent__ckpt_connected(struct agent_ckpt *k, struct chan_set *cs, long proc)
{
	if (proc < 0 || proc > 1000000 || !proc_slot(k, proc))
		return;
	k->procs[proc].marked = MARK_NONE;
	chan_set_checkpoint_reset(cs, proc);
}

void agent__ckpt_frame(struct agent_ckpt *k, struct chan_set *cs, struct aic_conn *c, long proc,
		       const struct aic_frame *f)
{
	struct ckpt_proc *p;
	uint8_t state[8];
	uint64_t version;
	bool asked;

	/* A connection that is none of this agent's runs has nothing to checkpoint. */
	if (proc < 0 || proc > 1000000 || !proc_slot(k, proc)) {
		aic_conn_send_error(c, AIC_MSG_ERROR, proc < 0 ? -EPERM : -ENOMEM,
				    proc < 0 ? "not a worker run by this agent" : NULL);
		return;
	}
	p = &k->procs[proc];
	if (f->type == AIC_MSG_CKPT_DONE) {
		if (f->length < 8) {
			aic_conn_send_error(c, AIC_MSG_ERROR, AIC_EPROTO, "CKPT_DONE without a version");
			return;
		}
		version = aic_get_u64(f->payload);
		p->answered = k->request;
		p->marked = MARK_NONE;
		if (chan_set_checkpoint_done(cs, proc, k->request, version) != 0)
			report(k,
			       json_pack("{s:I,s:I,s:I}", "id", (json_int_t)proc, "request",
					 (json_int_t)k->request, "version", (json_int_t)version));
	} else if (f->type == AIC_MSG_CKPT_BEGIN) {
		mark(k, cs, proc, MARK_BEGIN);
	} else if (f->type != AIC_MSG_CKPT_POLL) {
		aic_conn_send_error(c, AIC_MSG_ERROR, AIC_EPROTO, NULL);
		return;
	}
	asked = p->answered < k->request;
	if (f->type == AIC_MSG_CKPT_POLL && asked)
		mark(k, cs, proc, MARK_POLL);
	aic_put_u64(state, asked ? k->request : 0);
	aic_conn_send_raw(c, AIC_MSG_CKPT_STATE, state, sizeof(state), NULL, 0);
}

void agent__ckpt_release(struct agent_ckpt *k)
{
	free(k->procs);
	k->procs = NULL;
	k->n = 0;
}
