/*
 * spank_aic.so: where SLURM and aic meet.
 *
 * This file holds the only SPANK_PLUGIN declaration and routes each SPANK
 * callback by context (srun, sbatch/salloc, slurmstepd), pyxis style. Code
 * here runs inside srun, sbatch, salloc and slurmstepd: it never exits or
 * aborts, and for jobs without --aic-job it does nothing at all.
 */
#include "config.h"

#include <slurm/spank.h>

#include "args.h"

SPANK_PLUGIN(aic, 1);

int slurm_spank_init(spank_t sp, int ac, char **av)
{
	(void)ac;
	(void)av;
	switch (spank_context()) {
	case S_CTX_LOCAL:
	case S_CTX_ALLOCATOR:
	case S_CTX_REMOTE:
		return aic_spank_args_register(sp);
	default:
		return 0;
	}
}

/*
 * In slurmstepd, just before the task's execve: hand the job spec path to
 * the task (and so to aic-launch).
 */
int slurm_spank_task_init(spank_t sp, int ac, char **av)
{
	spank_err_t rc;

	(void)ac;
	(void)av;
	if (!spank_remote(sp) || !aic_spank_args.job[0])
		return 0;
	rc = spank_setenv(sp, "AIC_JOB_SPEC", aic_spank_args.job, 1);
	if (rc != ESPANK_SUCCESS) {
		slurm_error("aic: cannot set AIC_JOB_SPEC for the task: %s", spank_strerror(rc));
		return -1;
	}
	return 0;
}
