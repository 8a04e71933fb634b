/*
 * spank_aic.so: where SLURM and aic meet.
 *
 * This file holds the only SPANK_PLUGIN declaration and routes each SPANK
 * callback by context, pyxis style: job.c for srun, sbatch and salloc (the
 * user's side: validate the spec, publish AIC_JOB), slurmstepd.c for the
 * compute nodes (per-task GPUs, binding and environment). Code here runs
 * inside srun, sbatch, salloc, slurmd and slurmstepd: it never exits or
 * aborts, frees what it allocates, and for jobs without --aic-job does
 * nothing at all.
 */
#include "config.h"

#include <slurm/spank.h>

#include "args.h"
#include "job.h"
#include "plugstack.h"
#include "slurmstepd.h"

SPANK_PLUGIN(aic, 1);

static struct aic_spank_config config;

int slurm_spank_init(spank_t sp, int ac, char **av)
{
	/* Every context checks plugstack.conf, so a typo fails closed everywhere. */
	if (aic_spank_config_parse(&config, ac, av) != 0)
		return -1;
	switch (spank_context()) {
	case S_CTX_LOCAL:
	case S_CTX_ALLOCATOR:
	case S_CTX_REMOTE:
		return aic_spank_args_register(sp);
	default:
		return 0;
	}
}

int slurm_spank_init_post_opt(spank_t sp, int ac, char **av)
{
	(void)ac;
	(void)av;
	switch (spank_context()) {
	case S_CTX_LOCAL:
		return aic_spank_job_submit(sp, "srun");
	case S_CTX_ALLOCATOR:
		return aic_spank_job_submit(sp, "sbatch/salloc");
	default:
		return 0;
	}
}

int slurm_spank_user_init(spank_t sp, int ac, char **av)
{
	(void)ac;
	(void)av;
	if (spank_context() != S_CTX_REMOTE)
		return 0;
	return aic_spank_stepd_user_init(sp, &config);
}

int slurm_spank_task_init(spank_t sp, int ac, char **av)
{
	(void)ac;
	(void)av;
	if (spank_context() != S_CTX_REMOTE)
		return 0;
	return aic_spank_stepd_task_init(sp, &config);
}

int slurm_spank_exit(spank_t sp, int ac, char **av)
{
	(void)sp;
	(void)ac;
	(void)av;
	if (spank_context() == S_CTX_REMOTE)
		aic_spank_stepd_exit();
	return 0;
}
