#include "config.h"

#include <string.h>

#include "error.h"

static const char *const aic_messages[] = {
	[-AIC_ESPEC - 1000] = "invalid job spec",
	[-AIC_ETOPO - 1000] = "invalid or unreadable topology",
	[-AIC_ENOFIT - 1000] = "no placement fits the job",
	[-AIC_EPROTO - 1000] = "protocol error",
	[-AIC_EAUTH - 1000] = "authentication failed",
	[-AIC_ENOLIB - 1000] = "run-time library not available",
	[-AIC_ECLOSED - 1000] = "closed",
	[-AIC_ENOSUPPORT - 1000] = "not supported by this build",
	[-AIC_ENCCL - 1000] = "an NCCL or CUDA call failed",
};

const char *aic_strerror(int err)
{
	const char *s;

	if (err == 0)
		return "success";
	if (err <= -1000 && err >= AIC_ERROR_MIN)
		return aic_messages[-err - 1000];
	if (err < 0 && err > -1000) {
		/* strerrordesc_np, unlike strerror, never writes a shared buffer. */
		s = strerrordesc_np(-err);
		if (s)
			return s;
	}
	return "unknown error";
}
