/*
 * Metrics (aic.h): one METRIC frame per point, never answered, so a worker
 * reporting a loss each step does not wait on the agent.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "internal.h"

int aic_metric(struct aic_worker *w, const char *name, double value, int64_t step)
{
	size_t n = name ? strlen(name) : 0, i;
	uint8_t head[16];
	uint64_t bits;

	if (n == 0 || n > AIC_METRIC_NAME_MAX)
		return -EINVAL;
	for (i = 0; i < n; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			return -EINVAL;
	memcpy(&bits, &value, sizeof(bits));
	aic_put_u64(head, bits);
	aic_put_u64(head + 8, (uint64_t)step);
	return aic__send_frame(w, AIC_MSG_METRIC, head, sizeof(head), name, n);
}
