/*
 * The plugin's user options and their values in the current process:
 *
 *   --aic-job=SPEC                   the job spec (YAML)
 *   --aic-bind=closest|slurm|none    CPU binding (default: plugstack default_bind=)
 *   --aic-nccl=auto|off              NCCL hints for tasks (default auto)
 *
 * SLURM loads the plugin once per process (srun, sbatch, salloc,
 * slurmstepd), so the values live in one static struct.
 *
 * Repeats. The same value twice is fine (SLURM itself calls back twice in
 * places). In srun, sbatch and salloc a different second value is an error,
 * except that a value inherited from the environment (an srun inside an
 * sbatch --aic-job job, or SLURM_SPANK__SLURM_SPANK_OPTION_aic_* set by
 * the user) is overridden by the command line: the flag the user typed for
 * this step wins. In slurmstepd the last value wins: it is the one srun
 * validated.
 */
#ifndef AIC_SPANK_ARGS_H
#define AIC_SPANK_ARGS_H

#include <limits.h>
#include <stdbool.h>

#include <slurm/spank.h>

#include "plugstack.h"

struct aic_spank_args {
	char job[PATH_MAX]; /* --aic-job, "" when not given */
	bool job_inherited; /* the value came from the environment */
	enum aic_bind bind; /* AIC_BIND_UNSET when not given */
	bool bind_inherited;
	int nccl; /* -1 not given, 1 auto, 0 off */
	bool nccl_inherited;
};

extern struct aic_spank_args aic_spank_args;

/* Forgets every value (for tests; SLURM starts each process fresh). */
void aic_spank_args_reset(void);

/*
 * Registers every option with SLURM. Call from slurm_spank_init only.
 * Returns 0, or -1 after logging the reason with slurm_error().
 */
int aic_spank_args_register(spank_t sp);

/* The option callbacks, exported for unit tests. */
int aic_spank_job_cb(int val, const char *optarg, int remote);
int aic_spank_bind_cb(int val, const char *optarg, int remote);
int aic_spank_nccl_cb(int val, const char *optarg, int remote);

#endif
