/*
 * Checkpoints (aic.h): whether the engine asks this worker for one, and
 * telling it that one is saved. Each is one round trip to the agent on the
 * same node, but for the common answer: a trainer asks every step and is
 * nearly always told no. A CKPT_POLL asks the agent to say when that
 * changes; when its answer is no and the agent agreed (launcher/engine/
 * checkpoint.c), the worker answers no itself, with no round trip, until
 * the agent's CKPT_NOTICE has come or may have (anything from the agent
 * not read yet: conn.c reads the notice wherever it is). A round trip is
 * also a point in the stream of the worker's acks, which is how the
 * engine tells which source lines a checkpoint holds (aic.h,
 * aic_checkpoint_begin); a poll that says no marks nothing, so answering
 * it here changes nothing there. Where a worker saves, and which
 * checkpoint it loads after a restart, are the environment's
 * (AIC_CHECKPOINT_DIR, AIC_RESUME): no round trip at all.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Sends `type` (with the version for DONE) and reads the agent's CKPT_STATE. */
static int ckpt_call(struct aic_worker *w, uint16_t type, uint64_t version, uint64_t *request)
{
	uint8_t req[8] = {1}; /* a POLL's: tell me of the next request */
	int rc;

	if (type == AIC_MSG_CKPT_DONE)
		aic_put_u64(req, version);
	w->ckpt_watched = false;
	rc = aic__send_frame(w, type, req, type == AIC_MSG_CKPT_DONE ? 8 : type == AIC_MSG_CKPT_POLL,
			     NULL, 0);
	if (!rc)
		rc = aic__recv_answer(w);
	if (rc)
		return rc;
	if (w->frame.type != AIC_MSG_CKPT_STATE || w->frame.length < 8)
		return aic__frame_error(w);
	*request = aic_get_u64(w->frame.payload);
	/* A notice read before this answer is about a request the answer already says. */
	if (type == AIC_MSG_CKPT_POLL) {
		w->ckpt_notice = false;
		w->ckpt_watched = w->frame.length >= 9 && w->frame.payload[8] == 1;
	}
	return 0;
}

int aic_checkpoint_requested(struct aic_worker *w)
{
	uint64_t request = 0;
	int rc;

	/* The agent said it would tell, and nothing has come from it since. */
	if (w->ckpt_watched && !w->ckpt_notice && !aic__input_waiting(w))
		return 0;
	rc = ckpt_call(w, AIC_MSG_CKPT_POLL, 0, &request);
	return rc ? rc : request != 0;
}

int aic_checkpoint_begin(struct aic_worker *w)
{
	uint64_t request;

	return ckpt_call(w, AIC_MSG_CKPT_BEGIN, 0, &request);
}

int aic_checkpoint_done(struct aic_worker *w, uint64_t version)
{
	uint64_t request;

	return ckpt_call(w, AIC_MSG_CKPT_DONE, version, &request);
}

int aic_checkpoint(struct aic_worker *w, aic_checkpoint_fn save, void *arg)
{
	uint64_t version = 0;
	const char *dir = aic_checkpoint_dir();
	int rc;

	if (!save)
		return -EINVAL;
	rc = aic_checkpoint_requested(w);
	if (rc <= 0)
		return rc;
	if (!dir)
		return -ENOENT;
	/* A save that fails reports nothing: the previous checkpoint stays the one to resume from. */
	rc = save(w, dir, &version, arg);
	if (rc < 0)
		return rc;
	rc = aic_checkpoint_done(w, version);
	return rc ? rc : 1;
}

const char *aic_checkpoint_dir(void)
{
	const char *d = getenv("AIC_CHECKPOINT_DIR");

	return d && *d ? d : NULL;
}

int aic_checkpoint_resume(uint64_t *version)
{
	const char *v = getenv("AIC_RESUME");
	char *end;
	unsigned long long n;

	if (!v || !*v)
		return 0;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (*end || errno || *v == '-')
		return -EINVAL;
	if (version)
		*version = (uint64_t)n;
	return 1;
}
