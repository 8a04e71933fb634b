#include "config.h"

#include <stdio.h>
#include <string.h>

#include "args.h"

struct aic_spank_args aic_spank_args;

/*
 * SLURM calls an option callback once per occurrence, and in slurmstepd it
 * calls it again for options inherited through the environment (an srun
 * inside an sbatch job sees the batch value, then its own). The same value
 * twice is therefore fine. In srun, sbatch and salloc a different second
 * value is the user contradicting themselves and is an error; in slurmstepd
 * the value srun sent last is the one srun validated, so it wins.
 */
static int job_cb(int val, const char *optarg, int remote)
{
	(void)val;
	if (!optarg || !*optarg) {
		slurm_error("aic: --aic-job needs a job spec path");
		return -1;
	}
	if (strlen(optarg) >= sizeof(aic_spank_args.job)) {
		slurm_error("aic: --aic-job path is longer than %zu bytes",
			    sizeof(aic_spank_args.job) - 1);
		return -1;
	}
	if (!remote && aic_spank_args.job[0] && strcmp(aic_spank_args.job, optarg) != 0) {
		slurm_error("aic: --aic-job given twice: '%s' and '%s'", aic_spank_args.job,
			    optarg);
		return -1;
	}
	snprintf(aic_spank_args.job, sizeof(aic_spank_args.job), "%s", optarg);
	return 0;
}

/* Not named spank_options: registering by hand is what makes sbatch see it. */
static struct spank_option aic_options[] = {
	{
		.name = "aic-job",
		.arginfo = "SPEC",
		.usage = "run the aic job described by the YAML file SPEC",
		.has_arg = 1,
		.val = 0,
		.cb = job_cb,
	},
};

int aic_spank_args_register(spank_t sp)
{
	size_t i;
	spank_err_t rc;

	for (i = 0; i < sizeof(aic_options) / sizeof(aic_options[0]); i++) {
		rc = spank_option_register(sp, &aic_options[i]);
		if (rc != ESPANK_SUCCESS) {
			slurm_error("aic: cannot register option '--%s': %s", aic_options[i].name,
				    spank_strerror(rc));
			return -1;
		}
	}
	return 0;
}
