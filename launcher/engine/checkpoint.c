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
 *
 * A trainer asks every step, and nearly always hears "no": a CKPT_POLL
 * that asks for it (u8 1) and finds no request puts its connection on the
 * watch list, and its CKPT_STATE says so; the next request sends each
 * connection on the list a CKPT_NOTICE and empties it. Until the notice
 * the worker knows the answer and makes no round trip
 * (lib/worker/checkpoint.c); after it, its next CKPT_POLL is a real one,
 * which finds the request and marks the checkpoint as above. The list
 * holds its connections (aic_conn_hold) and drops closed ones as it goes.
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

/* Lets go of the watch list's connections, telling the open ones of a request if `tell`. */
static void unwatch(struct agent_ckpt *k, bool tell)
{
	size_t i;

	for (i = 0; i < k->n_watch; i++) {
		if (tell && !k->watch[i]->closing)
			aic_conn_send_raw(k->watch[i], AIC_MSG_CKPT_NOTICE, NULL, 0, NULL, 0);
		aic_conn_release(k->watch[i]);
	}
	k->n_watch = 0;
}

/* Puts c on the watch list (false: it cannot be, no memory). */
static bool watch(struct agent_ckpt *k, struct aic_conn *c)
{
	struct aic_conn **nw;
	size_t i, j = 0;
	bool listed = false;

	/* Closed ones go, whether or not c is on the list already. */
	for (i = 0; i < k->n_watch; i++) {
		if (k->watch[i] == c)
			listed = true;
		if (k->watch[i]->closing && k->watch[i] != c)
			aic_conn_release(k->watch[i]);
		else
			k->watch[j++] = k->watch[i];
	}
	k->n_watch = j;
	if (listed)
		return true;
	if (!(k->n_watch & (k->n_watch + 1)) || !k->watch) {
		/* Grown at 0, 1, 3, 7, ...: to the next power of two. */
		nw = realloc(k->watch, 2 * (k->n_watch + 1) * sizeof(*nw));
		if (!nw)
			return false;
		k->watch = nw;
	}
	aic_conn_hold(c);
	k->watch[k->n_watch++] = c;
	return true;
}

void agent__ckpt_request(struct agent_ckpt *k, const json_t *m)
{
	json_int_t r = json_integer_value(json_object_get(m, "request"));

	if (r > 0 && (uint64_t)r > k->request) {
		k->request = (uint64_t)r;
		unwatch(k, true);
	}
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
	uint8_t state[9] = {0};
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
	/* Asked to, it will tell this connection of the next request itself. */
	if (f->type == AIC_MSG_CKPT_POLL && !asked && f->length >= 1 && f->payload[0] == 1)
		state[8] = watch(k, c);
	aic_conn_send_raw(c, AIC_MSG_CKPT_STATE, state, state[8] ? 9 : 8, NULL, 0);
}

void agent__ckpt_release(struct agent_ckpt *k)
{
	unwatch(k, false);
	free(k->watch);
	k->watch = NULL;
	free(k->procs);
	k->procs = NULL;
	k->n = 0;
}
