/*
 * The SPANK plugin's user options (--aic-job and friends) and their values
 * for the current process. SLURM loads the plugin once per process (srun,
 * sbatch, salloc, slurmstepd), so the values live in one static struct.
 */
#ifndef AIC_SPANK_ARGS_H
#define AIC_SPANK_ARGS_H

#include <slurm/spank.h>

struct aic_spank_args {
	char job[4096]; /* --aic-job=SPEC, "" when not given */
};

/* The values seen so far in this process. */
extern struct aic_spank_args aic_spank_args;

/*
 * Registers every option with SLURM. Call from slurm_spank_init only.
 * Returns 0, or -1 after logging the reason with slurm_error().
 */
int aic_spank_args_register(spank_t sp);

#endif
