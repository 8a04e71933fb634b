/*
 * Phases (aic.h): a stage that shares its GPUs in turns with another
 * (colocate_with: {stage, mode: alternate}) takes them with
 * aic_phase_begin and gives them back with aic_phase_end; each is one
 * round trip to the node's agent, which arbitrates (or asks the head, for
 * a pair with a gang in it: launcher/engine/phase.c). The end reports the
 * weight versions this worker published during its phase, and the grant
 * brings those the other stage published in its turn: the worker's next
 * receive on such a stream waits for at least that version, so a rollout
 * that wakes after a training step sees that step's weights.
 */
#include "config.h"

#include "internal.h"

void aic__phase_published(struct aic_worker *w, uint32_t stream, uint64_t version)
{
	int i;

	for (i = 0; i < w->n_phase_pub; i++)
		if (w->phase_pub[i].stream == stream) {
			if (version > w->phase_pub[i].version)
				w->phase_pub[i].version = version;
			return;
		}
	/* More streams than a frame carries: the rest are not waited for. */
	if (w->n_phase_pub < AIC_PHASE_VERSIONS_MAX)
		w->phase_pub[w->n_phase_pub++] = (struct aic_phase_version){stream, version};
}

uint64_t aic__phase_min_version(const struct aic_worker *w, uint32_t stream, uint64_t min_version)
{
	int i;

	for (i = 0; i < w->n_phase_min; i++)
		if (w->phase_min[i].stream == stream && w->phase_min[i].version > min_version)
			return w->phase_min[i].version;
	return min_version;
}

/* PHASE_STATE's flags from the frame just read, or a negative code. */
static int phase_state(struct aic_worker *w)
{
	if (w->frame.type != AIC_MSG_PHASE_STATE || w->frame.length < 4)
		return aic__frame_error(w);
	return (int)(aic_get_u32(w->frame.payload) & AIC_PHASE_YIELD);
}

int aic_phase_begin(struct aic_worker *w)
{
	uint32_t n, i;
	int rc;

	if (w->in_phase)
		return -EALREADY;
	rc = aic__send_frame(w, AIC_MSG_PHASE_BEGIN, NULL, 0, NULL, 0);
	if (!rc)
		rc = aic__recv_answer(w);
	if (rc)
		return rc;
	if (w->frame.type != AIC_MSG_PHASE_GRANT || w->frame.length < 4)
		return aic__frame_error(w);
	n = aic_get_u32(w->frame.payload);
	if (n > AIC_PHASE_VERSIONS_MAX || w->frame.length < 4 + (size_t)n * AIC_PHASE_VERSION_ENTRY)
		return AIC_EPROTO;
	/* Versions the other stage published: newer ones raise what receives wait for. */
	for (i = 0; i < n; i++) {
		struct aic_phase_version v;
		int k;
		aic_phase_version_decode(w->frame.payload + 4 + i * AIC_PHASE_VERSION_ENTRY,
					 &v.stream, &v.version);
		for (k = 0; k < w->n_phase_min && w->phase_min[k].stream != v.stream; k++)
			;
		if (k == w->n_phase_min) {
			if (k == AIC_PHASE_VERSIONS_MAX)
				continue;
			w->phase_min[w->n_phase_min++] = v;
		} else if (v.version > w->phase_min[k].version) {
			w->phase_min[k].version = v.version;
		}
	}
	w->in_phase = true;
	w->n_phase_pub = 0;
	return 0;
}

int aic_phase_end(struct aic_worker *w)
{
	uint8_t buf[4 + AIC_PHASE_VERSIONS_MAX * AIC_PHASE_VERSION_ENTRY];
	int i, rc;

	if (!w->in_phase)
		return -EINVAL;
	aic_put_u32(buf, (uint32_t)w->n_phase_pub);
	for (i = 0; i < w->n_phase_pub; i++)
		aic_phase_version_encode(buf + 4 + i * AIC_PHASE_VERSION_ENTRY,
					 w->phase_pub[i].stream, w->phase_pub[i].version);
	/* Out of the phase whatever follows: a failed end is a lost connection, which yields too.
	 */
	w->in_phase = false;
	w->n_phase_pub = 0;
	rc = aic__send_frame(w, AIC_MSG_PHASE_END, buf, 4 + (size_t)i * AIC_PHASE_VERSION_ENTRY,
			     NULL, 0);
	if (!rc)
		rc = aic__recv_answer(w);
	if (rc)
		return rc;
	rc = phase_state(w);
	return rc < 0 ? rc : 0;
}

int aic_phase_should_yield(struct aic_worker *w)
{
	int rc = aic__send_frame(w, AIC_MSG_PHASE_POLL, NULL, 0, NULL, 0);

	if (!rc)
		rc = aic__recv_answer(w);
	return rc ? rc : phase_state(w);
}
