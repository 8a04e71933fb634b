/*
 * Private declarations shared by the files of the placement solver
 * (lib/place/); nothing outside this folder includes it. The public
 * contract is lib/place.h, the algorithm's at the top of place.c.
 *
 *   gpus.c   the best set of k GPUs on one node (exhaustive, or greedy when
 *            the search would be large);
 *   nodes.c  the nodes' state: reading the input, cores (taken, or shared
 *            round by round with soft CPUs), the node a replica goes to
 *            (pack or spread), a process's NUMA node and NIC, and the
 *            per-node messages and notes;
 *   place.c  the stages, in passes, and the entry points; it calls the two
 *            files above (nodes.c calls gpus.c), which call nothing here.
 */
#ifndef AIC_PLACE_INTERNAL_H
#define AIC_PLACE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "place.h"
#include "strbuf.h"

/* How good a set of GPUs is, compared field by field (aic__place_cmp_quality). */
struct quality {
	int min_score;
	int sum_score;
	int same_numa;
	int spare; /* minus the links the chosen GPUs have to those left free */
};

/* One node as the solver sees it: what the job may use there, and what is still free. */
struct node {
	const struct aic_topo *t;
	const char *name;
	bool down;		/* lost: takes nothing (aic_place_node.down) */
	struct aic_cpuset cpus; /* allowed PUs */
	uint64_t allowed;	/* allowed GPUs */
	uint64_t free;		/* allowed and not held */
	bool *core_free;	/* per core, allowed and not held (in this round) */
	int n_free_cores;
	int n_cores;	 /* allowed cores */
	int cores_asked; /* by the processes placed here (more than n_cores: shared) */
	int *core_gpus;	 /* per core: how many GPUs it is local to */
	/*
	 * pick_node's last answer for this node (nodes.c), kept while all it
	 * depends on is unchanged: a stage's replicas then cost one GPU search
	 * on the node just taken, not one on every node.
	 */
	struct {
		const struct aic_stage *st;
		uint64_t free, g;
		int n_free_cores;
		bool share, down, ok;
		struct quality q;
	} memo;
};

/* A candidate node's place in pick_node's order (nodes.c). */
struct pick_key {
	struct quality q;
	int on;	 /* the stage's processes on the node */
	int pop; /* free GPUs */
	int cores; /* free cores */
};

/* One aic_place_flags() call: its input, the processes placed so far, its messages. */
struct solver {
	const struct aic_spec *spec;
	struct node *nodes;
	size_t n_nodes;
	struct aic_proc *procs;
	size_t n_procs, cap;
	int *placed;	   /* per stage: processes placed so far */
	size_t *host;	   /* per stage: the stage whose GPUs it uses (itself if none) */
	const char *after; /* the last stage placed, for messages */
	bool soft_cpus;	   /* AIC_PLACE_SOFT_CPUS */
	struct aic_strbuf err;
	/*
	 * Spread's count of stage on_stage's processes per node (nodes.c),
	 * kept up to date with procs[0 .. on_upto): processes are only ever
	 * appended, so each pick counts the new ones only. NULL: not yet made.
	 */
	int *on;
	size_t on_stage, on_upto;
	/*
	 * pick_node's candidates (nodes.c): the nodes that can take a replica
	 * of stage pick.si, in a heap, best first, kept from one pick to the
	 * next while all that changed is the node the last pick returned (it
	 * took the replica: one more process, of that stage, on that node).
	 * Anything else that changes the nodes (place_colocated's swap of the
	 * free masks) bumps `epoch`, which drops them. So a stage of R
	 * replicas on N nodes costs O(N + R log N), not O(R N).
	 */
	struct {
		size_t *heap; /* node indices */
		struct pick_key *key; /* per node */
		int *hist;	      /* per count of the stage on a node: heap members */
		size_t n, n_hist, si, n_procs;
		int best;
		unsigned epoch;
		bool share, valid;
	} pick;
	unsigned epoch;
	/* The last best GPU group found (nodes.c's best_group): of k GPUs in avail on t. */
	struct {
		const struct aic_topo *t;
		uint64_t avail, g;
		int k;
		struct quality q;
		bool ok, valid;
	} group;
	bool scan; /* AIC_PLACE_SCAN=1: every pick scans every node (the tests' reference) */
};

static inline int popcount(uint64_t m)
{
	return __builtin_popcountll(m);
}

/* --- gpus.c ------------------------------------------------------------ */

/* >0 when a is the better GPU set, <0 when b is, 0 on a tie. */
int aic__place_cmp_quality(const struct quality *a, const struct quality *b);

/* The best k GPUs among avail into *out, and their quality; false when fewer are free. */
bool aic__place_best_group(const struct aic_topo *t, uint64_t avail, int k, uint64_t *out,
			   struct quality *q);

/* --- nodes.c ----------------------------------------------------------- */

/*
 * Fills s->nodes from the caller's nodes. Returns 0, or -EINVAL with a
 * message in s->err naming the node, its GPUs and its topology, or -ENOMEM.
 */
int aic__place_init_nodes(struct solver *s, const struct aic_place_node *in);

/* AIC_ENOFIT, with messages at the spec, when a process needs more GPUs than any node has. */
int aic__place_check_sizes(struct solver *s);

/*
 * Takes `want` free cores on node n for a process holding GPUs `gpus`,
 * into *cpus; false (nothing taken) when too few are free, unless `soft`.
 */
bool aic__place_take_cores(struct node *n, uint64_t gpus, int want, bool soft,
			   struct aic_cpuset *cpus);

/*
 * The node for one replica of stage si (place.c's objective, point 3) and,
 * in *mask, its GPUs there, and in *why the reason (a static string); -1
 * when none has them free (or the free cores too, unless `share`).
 */
int aic__place_pick_node(struct solver *s, size_t si, bool share, uint64_t *mask,
			 const char **why);

/* The NUMA node of a process's GPUs (or CPUs), -1 when mixed; and its NIC, or -1. */
int aic__place_numa_of(const struct node *n, uint64_t gpus, const struct aic_cpuset *cpus);
int aic__place_nic_of(const struct node *n, uint64_t gpus, int numa);

/* The plan's notes (malloc'ed), or NULL when there are none. */
char *aic__place_shared_cores_notes(const struct solver *s);

#endif
