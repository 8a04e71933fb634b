#include "config.h"

#include <stdbool.h>
#include <string.h>

#include "error.h"

/* Each AIC_E* code's name and text, at index -code - 1000 (aic.h: consecutive from -1000). */
#define AIC_ERROR(code, text) [-(code) - 1000] = {#code, text}
static const struct {
	const char *name, *text;
} aic_errors[] = {
	AIC_ERROR(AIC_ESPEC, "invalid job spec"),
	AIC_ERROR(AIC_ETOPO, "invalid or unreadable topology"),
	AIC_ERROR(AIC_ENOFIT, "no placement fits the job"),
	AIC_ERROR(AIC_EPROTO, "protocol error"),
	AIC_ERROR(AIC_EAUTH, "authentication failed"),
	AIC_ERROR(AIC_ENOLIB, "run-time library not available"),
	AIC_ERROR(AIC_ECLOSED, "closed"),
	AIC_ERROR(AIC_ENOSUPPORT, "not supported by this build"),
	AIC_ERROR(AIC_ENCCL, "an NCCL or CUDA call failed"),
};
_Static_assert(sizeof(aic_errors) / sizeof(aic_errors[0]) == (size_t)(-AIC_ERROR_MIN - 999),
	       "every AIC_E* code down to AIC_ERROR_MIN has a row in aic_errors");

static bool is_aic_code(int err)
{
	return err <= -1000 && err >= AIC_ERROR_MIN;
}

const char *aic_strerror(int err)
{
	const char *s;

	if (err == 0)
		return "success";
	if (is_aic_code(err))
		return aic_errors[-err - 1000].text;
	if (err < 0 && err > -1000) {
		/* strerrordesc_np, unlike strerror, never writes a shared buffer. */
		s = strerrordesc_np(-err);
		if (s)
			return s;
	}
	return "unknown error";
}

const char *aic_error_name(int err)
{
	return is_aic_code(err) ? aic_errors[-err - 1000].name : NULL;
}
