/*
 * The user-side half of the plugin, in srun, sbatch and salloc (the user's
 * own processes, never root's on the user's behalf): read and validate the
 * job spec before anything is queued, and publish the job's canonical
 * description for slurmctld, the select plugin and prolog/epilog.
 *
 * AIC_JOB, set with spank_job_control_setenv (SPANK_AIC_JOB in prolog and
 * epilog, SLURM_SPANK_AIC_JOB in the batch environment) and in the process
 * environment (so every task inherits it), is a ';'-separated list of
 * key=value pairs:
 *
 *   v=1;spec=/abs/path/job.yaml;name=NAME;stages=N;procs=P;gpus=G;max_gpus=M;topology=T
 *
 * procs and gpus count every process at its largest (replicas at max; a
 * colocated stage adds processes but no GPUs), max_gpus is the most GPUs one
 * process needs, topology the spec's placement policy (prefer, strict or
 * off), which select/cons_tres_aic reads. '%' and ';' in values are written
 * %25 and %3B.
 */
#ifndef AIC_SPANK_JOB_H
#define AIC_SPANK_JOB_H

#include <stddef.h>

#include <slurm/spank.h>

#include "spec.h"

/*
 * Validates --aic-job's spec and publishes AIC_JOB and AIC_JOB_SPEC.
 * `who` is "srun", "sbatch" or "salloc" for messages. Returns 0 (also when
 * --aic-job was not given), or -1 after logging every problem.
 */
int aic_spank_job_submit(spank_t sp, const char *who);

/* The canonical AIC_JOB value for spec at absolute path abs, into buf. */
int aic_spank_job_value(const struct aic_spec *spec, const char *abs, char *buf, size_t len);

#endif
