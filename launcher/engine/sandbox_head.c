/*
 * Sandboxed stages (doc/aic-job.5, SANDBOXES): the head tells each replica
 * of one how its tasks are to be sandboxed, in AIC_SANDBOX; the worker
 * library builds the sandbox from it (python/aic/sandbox.py), so the
 * engine itself runs nothing untrusted.
 */
#include "config.h"

#include <limits.h>
#include <stdlib.h>

#include "internal.h"

void head__sandbox_env(struct head *h, const struct hproc *hp, json_t *env)
{
	const struct aic_stage *st = &h->cfg.spec->stages[hp->p->stage];
	char rootfs[PATH_MAX], *text;
	json_t *o;

	if (!st->sandbox)
		return;
	if (st->sbx.rootfs)
		head__spec_relative(h, st->sbx.rootfs, rootfs, sizeof(rootfs));
	o = json_pack("{s:o,s:s,s:i,s:i}", "rootfs",
		      st->sbx.rootfs ? json_string(rootfs) : json_null(), "network",
		      st->sbx.network == AIC_SANDBOX_NET_JOB ? "job" : "none", "tmpfs_mb",
		      st->sbx.tmpfs_mb, "timeout_s", st->sbx.timeout_s);
	text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	if (text)
		json_object_set_new(env, "AIC_SANDBOX", json_string(text));
	free(text);
	json_decref(o);
}
