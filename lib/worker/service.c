/*
 * Services' endpoints (aic.h, aic_endpoints): one round trip to the agent
 * on the same node, which holds the list the head last sent it; no call
 * reaches the head or the service itself.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "internal.h"

int aic_endpoints(struct aic_worker *w, const char *stage, struct aic_endpoint *out, size_t max)
{
	uint32_t count, i;
	int rc;

	if (!w || !stage || !*stage || strlen(stage) > 64 || (max && !out))
		return -EINVAL;
	rc = aic__send_frame(w, AIC_MSG_EP_GET, stage, strlen(stage), NULL, 0);
	if (!rc)
		rc = aic__recv_answer(w);
	if (rc)
		return rc;
	if (w->frame.type != AIC_MSG_EP_LIST || w->frame.length < 8)
		return aic__frame_error(w);
	count = aic_get_u32(w->frame.payload + 4);
	if (count > (w->frame.length - 8) / AIC_ENDPOINT_ENTRY || count > INT32_MAX)
		return AIC_EPROTO;
	for (i = 0; i < count && i < max; i++) {
		const uint8_t *e = w->frame.payload + 8 + (size_t)i * AIC_ENDPOINT_ENTRY;
		uint32_t replica;
		bool ready;

		aic_endpoint_decode(e, &replica, &ready, out[i].addr);
		out[i].replica = (int)replica;
		out[i].ready = ready;
	}
	return (int)count;
}
