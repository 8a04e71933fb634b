/*
 * The per-node plan for a step's tasks: which of the step's GPUs and CPUs
 * each local task gets, and the environment that tells the task. A pure
 * function over the node's topology and the step's allocation (no SLURM
 * calls), so it is unit-tested directly; slurmstepd.c feeds it.
 *
 * The tasks form a gang on this node and are placed by the placement solver
 * (lib/place/): each task gets an equal share of the step's GPUs, chosen
 * best-linked (NVLink first) and within one NUMA node where possible, and
 * an equal share of the step's cores, local to its GPUs. With fewer GPUs
 * than tasks, every task sees all of the step's GPUs; with fewer cores than
 * tasks, every task may use all of the step's CPUs.
 */
#ifndef AIC_SPANK_TASK_PLAN_H
#define AIC_SPANK_TASK_PLAN_H

#include <stdbool.h>
#include <stddef.h>

#include "cpuset.h"
#include "place.h"
#include "topo.h"

struct aic_task_plan_input {
	const struct aic_topo *topo;
	const int *step_gpus; /* topology GPU indices of the step, in SLURM's order */
	size_t n_step_gpus;
	struct aic_cpuset step_cpus; /* the step's PUs on this node */
	int n_tasks;		     /* local tasks */
};

struct aic_task {
	size_t n_gpus;
	int gpus[AIC_PLACE_MAX_GPUS]; /* topology indices */
	struct aic_cpuset cpus;	      /* where closest binding puts the task */
	int numa;		      /* -1 when mixed or unknown */
	int nic;		      /* topology NIC index or -1 */
};

struct aic_task_plan {
	int n_tasks;
	struct aic_task *tasks;
};

/*
 * Computes the plan. Returns 0 and *out (free with aic_task_plan_free), or
 * a negative code with *errors set to a malloc'ed message (a GPU index not
 * in the topology: -EINVAL; placement impossible: AIC_ENOFIT).
 */
int aic_task_plan_new(const struct aic_task_plan_input *in, struct aic_task_plan **out,
		      char **errors);
void aic_task_plan_free(struct aic_task_plan *plan);

/*
 * The AIC_* environment of local task `task`: AIC_LOCAL_RANK and
 * AIC_LOCAL_SIZE, then what lib/procenv.h derives for every launcher, by
 * its rules, for a process that sees all of the step's GPUs. A malloc'ed
 * NULL-terminated array of malloc'ed "NAME=VALUE" strings (free with
 * aic_task_env_free), or NULL when out of memory. `cvd` is the task's
 * CUDA_VISIBLE_DEVICES (NULL when unset), from which AIC_CUDA_DEVICES (the
 * CUDA ordinals of the task's GPUs) is computed. With `nccl`, the
 * InfiniBand NICs nearest the task's GPUs become NCCL_IB_HCA.
 */
char **aic_task_env(const struct aic_task_plan_input *in, const struct aic_task_plan *plan,
		    int task, const char *cvd, bool nccl);
void aic_task_env_free(char **env);

#endif
