/*
 * The agent's side of checkpoints: the head's newest request (CHECKPOINT),
 * which of its workers have answered it, and their frames (CKPT_POLL,
 * CKPT_DONE), each answered with CKPT_STATE. A worker is asked while the
 * request is newer than its last CKPT_DONE; a CKPT_DONE goes on to the
 * head as CHECKPOINTED, which counts it (drain.c). A worker that restarts
 * keeps its process id, so one that answered is not asked again.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "internal.h"
#include "wire.h"

void agent__ckpt_request(struct agent_ckpt *k, const json_t *m)
{
	json_int_t r = json_integer_value(json_object_get(m, "request"));

	if (r > 0 && (uint64_t)r > k->request)
		k->request = (uint64_t)r;
}

/* The request a process last answered, growing the table for a new id (false: no memory). */
static bool answered_slot(struct agent_ckpt *k, long proc)
{
	uint64_t *na;
	size_t n;

	if ((size_t)proc < k->n)
		return true;
	n = (size_t)proc + 16;
	na = realloc(k->answered, n * sizeof(*na));
	if (!na)
		return false;
	memset(na + k->n, 0, (n - k->n) * sizeof(*na));
	k->answered = na;
	k->n = n;
	return true;
}

json_t *agent__ckpt_frame(struct agent_ckpt *k, struct aic_conn *c, long proc,
			  const struct aic_frame *f)
{
	uint8_t state[8];
	uint64_t version;
	json_t *done = NULL;

	/* A connection that is none of this agent's runs has nothing to checkpoint. */
	if (proc < 0 || proc > 1000000 || !answered_slot(k, proc)) {
		aic_conn_send_error(c, AIC_MSG_ERROR, proc < 0 ? -EPERM : -ENOMEM,
				    proc < 0 ? "not a worker run by this agent" : NULL);
		return NULL;
	}
	if (f->type == AIC_MSG_CKPT_DONE) {
		if (f->length < 8) {
			aic_conn_send_error(c, AIC_MSG_ERROR, AIC_EPROTO, "CKPT_DONE without a version");
			return NULL;
		}
		version = aic_get_u64(f->payload);
		k->answered[proc] = k->request;
		done = json_pack("{s:I,s:I,s:I}", "id", (json_int_t)proc, "request",
				 (json_int_t)k->request, "version", (json_int_t)version);
	} else if (f->type != AIC_MSG_CKPT_POLL) {
		aic_conn_send_error(c, AIC_MSG_ERROR, AIC_EPROTO, NULL);
		return NULL;
	}
	aic_put_u64(state, k->answered[proc] < k->request ? k->request : 0);
	aic_conn_send_raw(c, AIC_MSG_CKPT_STATE, state, sizeof(state), NULL, 0);
	return done;
}

void agent__ckpt_release(struct agent_ckpt *k)
{
	free(k->answered);
	k->answered = NULL;
	k->n = 0;
}
