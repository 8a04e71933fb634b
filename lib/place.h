/*
 * The placement solver: where every process of a job runs.
 *
 * aic_place() is a pure, deterministic function of a validated spec and the
 * topologies of the allocation's nodes (with the GPUs and CPUs the job may
 * use on each). Same input, same plan: the launcher's head and `aic plan`
 * call it for a whole job and agree; the SPANK plugin calls it in slurmstepd
 * for the tasks of a step on its node. (The select plugin places no
 * processes: it picks nodes with domain.h.) The objective, in order of
 * priority, is documented at the top of lib/place/place.c.
 */
#ifndef AIC_PLACE_H
#define AIC_PLACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpuset.h"
#include "spec.h"
#include "topo.h"

/* The solver tracks GPUs per node in a 64-bit mask. */
#define AIC_PLACE_MAX_GPUS 64

/* One node of the allocation, as the caller sees it. The solver copies nothing:
 * everything pointed to must outlive the call. */
struct aic_place_node {
	const char *name;	     /* node name; NULL: the topology's host */
	const struct aic_topo *topo; /* required */
	const int *gpus;	     /* GPU indices the job may use; NULL: all */
	size_t n_gpus;
	const struct aic_cpuset *cpus; /* PUs the job may use; NULL: all */
	bool down;		       /* the node was lost: nothing is placed on it */
};

/* One process: a replica of a stage, or a rank of a gang. */
struct aic_proc {
	size_t stage;	   /* index in spec->stages */
	int index;	   /* replica number, or rank in the gang */
	size_t node;	   /* index in the nodes given to aic_place() */
	int local_rank;	   /* position among the stage's processes on that node */
	size_t n_gpus;
	int gpus[AIC_PLACE_MAX_GPUS]; /* topology GPU indices, ascending */
	struct aic_cpuset cpus;	      /* PUs to bind to (whole node when cpus: 0) */
	int numa;		      /* NUMA node of its GPUs (or CPUs), -1 when mixed */
	int nic;		      /* topology NIC index nearest its GPUs, or -1 */
	const char *why;	      /* why this node and these GPUs (a static string) */
};

struct aic_plan {
	size_t n_procs;
	struct aic_proc *procs; /* in spec stage order, then by index */
	/*
	 * NULL, or lines ("aic: note: ...\n") the user should read with the
	 * plan: with AIC_PLACE_SOFT_CPUS, the nodes whose cores are shared.
	 */
	char *notes;
};

/*
 * aic_place_flags() flags. AIC_PLACE_SOFT_CPUS: `cpus:` is a wish, not a
 * reservation (aic run: no SLURM reserves anything): a stage's fixed count
 * that has no free cores left shares the node's cores (a new round over
 * them, lowest first) instead of failing, and the plan's notes say so.
 * Elastic growth still stops when cores run out. Without it (under SLURM),
 * a core serves one process.
 */
#define AIC_PLACE_SOFT_CPUS 1u

/*
 * Places every process of `spec` on `nodes`. On success returns 0 and a new
 * plan in *out (free with aic_plan_free). When the job does not fit returns
 * AIC_ENOFIT and, when errors is not NULL, a malloc'ed text saying which
 * stage could not be placed and what was free; a stage that needs more GPUs
 * per process than any node has is reported at its spec position. A gang
 * with ranks {min, max} gets the most ranks from max down to min that fit. Returns
 * -EINVAL for bad arguments (no nodes; a node with no topology, with more
 * than AIC_PLACE_MAX_GPUS GPUs, or given a GPU its topology does not have:
 * then errors names the node, the GPUs it was given and what its topology
 * shows) and -ENOMEM.
 */
int aic_place(const struct aic_spec *spec, const struct aic_place_node *nodes, size_t n_nodes,
	      struct aic_plan **out, char **errors);

/* aic_place() with AIC_PLACE_* flags (aic_place() is this with 0). */
int aic_place_flags(const struct aic_spec *spec, const struct aic_place_node *nodes,
		    size_t n_nodes, unsigned flags, struct aic_plan **out, char **errors);

/*
 * Places `count` more processes of stage `stage` while the n_used processes
 * of `used` (a plan's entries, on the same nodes) hold their GPUs and
 * cores: the replicas or the gang of a node that was lost, placed again on
 * the nodes left (those with .down set take nothing). Replicas are placed
 * one by one as aic_place() would; a gang of `count` ranks is all or none,
 * and a colocated stage goes on its host's GPUs (its host's processes must
 * be in `used`). On success returns 0 and fills out[0..count) (a gang's
 * ranks 0..count-1 in `index`, local ranks among them; a replica's `index`
 * is the caller's to set). Returns AIC_ENOFIT when they do not fit now,
 * with the reason in *errors when errors is not NULL (malloc'ed), and
 * -EINVAL or -ENOMEM as aic_place(). Calling it with no process in use
 * says whether they could ever fit on the nodes left.
 */
int aic_place_more(const struct aic_spec *spec, const struct aic_place_node *nodes, size_t n_nodes,
		   unsigned flags, const struct aic_proc *used, size_t n_used, size_t stage,
		   int count, struct aic_proc *out, char **errors);

/* Frees a plan; NULL is a no-op. */
void aic_plan_free(struct aic_plan *plan);

#endif
