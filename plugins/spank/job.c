#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "error.h"
#include "job.h"
#include "strbuf.h"

static void put_escaped(struct aic_strbuf *sb, const char *s)
{
	for (; s && *s; s++) {
		if (*s == '%')
			aic_strbuf_append(sb, "%25", 3);
		else if (*s == ';')
			aic_strbuf_append(sb, "%3B", 3);
		else
			aic_strbuf_append(sb, s, 1);
	}
}

int aic_spank_job_value(const struct aic_spec *spec, const char *abs, char *buf, size_t len)
{
	struct aic_strbuf sb;
	long procs = 0, gpus = 0;
	int max_gpus = 0, rc = 0;
	size_t i;

	for (i = 0; i < spec->n_stages; i++) {
		const struct aic_stage *st = &spec->stages[i];
		long n = aic_stage_procs(st);
		procs += n;
		if (!st->colocate_with)
			gpus += n * st->gpus;
		if (st->gpus > max_gpus)
			max_gpus = st->gpus;
	}
	aic_strbuf_init(&sb);
	aic_strbuf_printf(&sb, "v=1;spec=");
	put_escaped(&sb, abs);
	aic_strbuf_printf(&sb, ";name=");
	put_escaped(&sb, spec->name ? spec->name : "");
	aic_strbuf_printf(&sb, ";stages=%zu;procs=%ld;gpus=%ld;max_gpus=%d;topology=%s",
			  spec->n_stages, procs, gpus, max_gpus, aic_topology_name(spec->topology));
	if (sb.oom)
		rc = -ENOMEM;
	else if (sb.len >= len)
		rc = -ENAMETOOLONG;
	else
		memcpy(buf, sb.buf, sb.len + 1);
	aic_strbuf_release(&sb);
	return rc;
}

int aic_spank_job_submit(spank_t sp, const char *who)
{
	const char *path = aic_spank_args.job;
	struct aic_spec *spec = NULL;
	char abs[PATH_MAX], value[PATH_MAX + 256], *errors = NULL, *line, *save = NULL;
	spank_err_t err;
	int rc;

	if (!path[0])
		return 0;
	if (!realpath(path, abs)) {
		slurm_error("aic: %s --aic-job: cannot read '%s': %s", who, path, aic_strerror(-errno));
		return -1;
	}
	/* Messages name the spec as the user wrote it. */
	rc = aic_spec_load(path, &spec, &errors);
	if (rc) {
		for (line = strtok_r(errors, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
			slurm_error("%s%s", strncmp(line, "aic: ", 5) ? "aic: " : "", line);
		if (!errors)
			slurm_error("aic: cannot load '%s': %s", path, aic_strerror(rc));
		free(errors);
		return -1;
	}
	rc = aic_spank_job_value(spec, abs, value, sizeof(value));
	aic_spec_free(spec);
	if (rc) {
		slurm_error("aic: cannot describe job spec '%s': %s", path, aic_strerror(rc));
		return -1;
	}
	err = spank_job_control_setenv(sp, "AIC_JOB", value, 1);
	if (err != ESPANK_SUCCESS) {
		slurm_error("aic: cannot publish AIC_JOB: %s", spank_strerror(err));
		return -1;
	}
	/* The tasks (and an sbatch script) inherit the process environment. */
	if (setenv("AIC_JOB", value, 1) != 0 || setenv("AIC_JOB_SPEC", abs, 1) != 0) {
		slurm_error("aic: cannot set AIC_JOB: %s", aic_strerror(-errno));
		return -1;
	}
	return 0;
}
