/*
 * Sandboxed stages (doc/aic-job.5, SANDBOXES): the head tells each replica
 * of one how its tasks are to be sandboxed, in AIC_SANDBOX; the worker
 * library builds the sandbox from it (python/aic/sandbox.py), so the
 * engine itself runs nothing untrusted.
 */
#include "config.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void head__sandbox_env(struct head *h, const struct hproc *hp, json_t *env)
{
	static const char *const runtimes[] = {
		[AIC_SANDBOX_RT_AUTO] = "auto",	    [AIC_SANDBOX_RT_BWRAP] = "bwrap",
		[AIC_SANDBOX_RT_ENROOT] = "enroot", [AIC_SANDBOX_RT_APPTAINER] = "apptainer",
		[AIC_SANDBOX_RT_PODMAN] = "podman",
	};
	const struct aic_stage *st = &h->cfg.spec->stages[hp->p->stage];
	char rootfs[PATH_MAX], image[PATH_MAX], *text;
	json_t *o;

	if (!st->sandbox)
		return;
	if (st->sbx.rootfs)
		head__spec_relative(h, st->sbx.rootfs, rootfs, sizeof(rootfs));
	/* A SCHEME:// reference goes to the runtime as it is; anything else is a path. */
	if (st->sbx.image && strstr(st->sbx.image, "://"))
		snprintf(image, sizeof(image), "%s", st->sbx.image);
	else if (st->sbx.image)
		head__spec_relative(h, st->sbx.image, image, sizeof(image));
	o = json_pack("{s:o,s:o,s:s,s:s,s:i,s:i}", "rootfs",
		      st->sbx.rootfs ? json_string(rootfs) : json_null(), "image",
		      st->sbx.image ? json_string(image) : json_null(), "runtime",
		      runtimes[st->sbx.runtime], "network",
		      st->sbx.network == AIC_SANDBOX_NET_JOB ? "job" : "none", "tmpfs_mb",
		      st->sbx.tmpfs_mb, "timeout_s", st->sbx.timeout_s);
	text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	if (text)
		json_object_set_new(env, "AIC_SANDBOX", json_string(text));
	free(text);
	json_decref(o);
}
