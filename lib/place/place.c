/*
 * The placement solver (see place.h).
 *
 * Contract. Input: a validated spec and, per node, a topology with the GPUs
 * and CPUs the job may use. Output: for every process, its node, GPUs, CPUs,
 * NUMA node and NIC; or AIC_ENOFIT and why. Nothing is oversubscribed: a GPU
 * serves one process (a colocated stage shares its host stage's GPUs, by
 * design, and nothing else), a core serves one process (a stage with cpus: 0
 * takes no core and may run anywhere on its node). The one exception is
 * AIC_PLACE_SOFT_CPUS (aic run, where nothing reserves cores): a fixed count
 * that finds no free cores starts a new round over the node's cores.
 *
 * Objective, in priority order:
 *   1. Every stage gets its fixed count (gang ranks, replicas, or the min of
 *      {min, max}); then elastic stages grow toward max, one replica per
 *      stage in turn, while GPUs and cores last.
 *   2. A gang (ranks) spans the fewest nodes; on each node its GPUs are the
 *      best-linked set (NVLink before PCIe), then within one NUMA node; ranks
 *      are numbered node by node, so local ranks are contiguous (torchrun).
 *   3. A replica with gpus: k lands on the best-linked k free GPUs of any
 *      node: the set whose weakest pair is best (NV# > PIX > PXB > PHB > NODE
 *      > SYS), then the largest sum of pair scores, then one NUMA node, then
 *      the set whose GPUs are worst linked to the GPUs left free (so strong
 *      pairs stay whole for later replicas), then the node with the fewest
 *      free GPUs (best fit), then the lowest GPU and node indices.
 *      With placement: spread (a replica stage's default), among nodes whose
 *      best sets are as well linked (the same weakest pair, sum of pairs and
 *      NUMA), the node with the fewest processes of the stage comes first:
 *      replicas never talk to each other, so they use every node's CPUs,
 *      memory bandwidth and NICs, and a node loss takes fewer of them;
 *      spreading never costs a replica its links.
 *   4. Each process's cores are free cores local to its GPUs (their NUMA
 *      node), lowest first; other free cores of the node only when the local
 *      ones run out. CPU-only processes go to the node with the most free
 *      cores (spread: with the fewest of the stage's processes, then the
 *      most free cores) and prefer cores local to no GPU.
 *   5. A process's NIC is the one nearest its first GPU (topo.h); for a
 *      CPU-only process, an InfiniBand NIC on its NUMA node.
 * Placement order: gangs (largest first), then GPU replica stages (most GPUs
 * per replica first), then CPU-only stages, each in file order on ties; then
 * elastic growth; then colocated stages on their host's GPUs. The search is
 * exhaustive over GPU subsets while that is cheap (at most 20000 subsets per
 * node and decision), greedy from the best pair beyond.
 *
 * aic_place_more() places a lost node's processes again by the same rules,
 * one stage at a time, on the nodes left: the processes still running hold
 * their GPUs and cores first (hold), then the stage's replicas or its gang
 * are placed as above.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "internal.h"

static int record(struct solver *s, size_t stage, size_t node, uint64_t gpus,
		  const struct aic_cpuset *cpus, const char *why)
{
	struct aic_proc *p;
	struct node *n = &s->nodes[node];
	int g;

	if (s->n_procs == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		struct aic_proc *a = realloc(s->procs, cap * sizeof(*a));
		if (!a)
			return -ENOMEM;
		s->procs = a;
		s->cap = cap;
	}
	p = &s->procs[s->n_procs++];
	memset(p, 0, sizeof(*p));
	p->stage = stage;
	p->index = s->placed[stage]++;
	p->node = node;
	for (g = 0; g < AIC_PLACE_MAX_GPUS; g++)
		if (gpus >> g & 1)
			p->gpus[p->n_gpus++] = g;
	p->cpus = *cpus;
	p->numa = aic__place_numa_of(n, gpus, cpus);
	p->nic = aic__place_nic_of(n, gpus, p->numa);
	p->why = why;
	return 0;
}

/* --- messages -------------------------------------------------------- */

static void free_summary(struct solver *s)
{
	size_t i;

	aic_strbuf_printf(&s->err, "; free%s%s%s:", s->after ? " after placing '" : "",
			  s->after ? s->after : "", s->after ? "'" : "");
	for (i = 0; i < s->n_nodes && i < 8; i++)
		aic_strbuf_printf(&s->err, "%s %s %d GPU%s %d core%s", i ? "," : "", s->nodes[i].name,
				  popcount(s->nodes[i].free), popcount(s->nodes[i].free) == 1 ? "" : "s",
				  s->nodes[i].n_free_cores, s->nodes[i].n_free_cores == 1 ? "" : "s");
	if (s->n_nodes > 8)
		aic_strbuf_printf(&s->err, ", and %zu more nodes", s->n_nodes - 8);
	aic_strbuf_append(&s->err, "\n", 1);
}

static int no_fit(struct solver *s, const struct aic_stage *st, int want, int got)
{
	const char *unit = st->ranks ? "rank" : "replica";

	aic_strbuf_printf(&s->err, "aic: stage '%s' does not fit: it needs %d %s%s", st->name, want,
			  unit, want == 1 ? "" : "s");
	if (st->gpus)
		aic_strbuf_printf(&s->err, " of %d GPU%s", st->gpus, st->gpus == 1 ? "" : "s");
	if (st->cpus)
		aic_strbuf_printf(&s->err, "%s%d core%s", st->gpus ? " and " : " of ", st->cpus,
				  st->cpus == 1 ? "" : "s");
	if (st->ranks)
		aic_strbuf_printf(&s->err, " (a gang: all or none)");
	else
		aic_strbuf_printf(&s->err, ", %d fit%s", got, got == 1 ? "s" : "");
	if (st->colocate_with)
		aic_strbuf_printf(&s->err, " on the GPUs of stage '%s'", st->colocate_with);
	free_summary(s);
	return AIC_ENOFIT;
}

/* --- stages ---------------------------------------------------------- */

/* Why a process went where it did, for those not placed by pick_node. */
static const char *const WHY_COLOCATED = "on its host stage's GPUs (colocate_with)";
static const char *const WHY_GANG = "gang: fewest nodes, best-linked GPUs";

/*
 * Places one replica of stage si; returns 0, AIC_ENOFIT (nothing taken) or
 * -ENOMEM. With `soft`, a replica no node has the free cores for goes
 * where its GPUs fit, sharing cores.
 */
static int place_replica(struct solver *s, size_t si, bool soft)
{
	const struct aic_stage *st = &s->spec->stages[si];
	struct aic_cpuset cpus;
	const char *why = NULL;
	uint64_t mask;
	int best = aic__place_pick_node(s, si, false, &mask, &why);

	if (best < 0 && soft)
		best = aic__place_pick_node(s, si, true, &mask, &why);
	if (best < 0)
		return AIC_ENOFIT;
	if (s->host[si] != si)
		why = WHY_COLOCATED;
	aic__place_take_cores(&s->nodes[best], mask, st->cpus, soft, &cpus);
	s->nodes[best].free &= ~mask;
	return record(s, si, (size_t)best, mask, &cpus, why);
}

/* How many ranks of stage st node n can take (by GPUs alone when cores are shared). */
static int capacity(const struct node *n, const struct aic_stage *st, bool share)
{
	int by_gpus = st->gpus ? popcount(n->free) / st->gpus : 1 << 20;
	int by_cores = st->cpus && (!share || !n->n_cores) ? n->n_free_cores / st->cpus : 1 << 20;

	if (n->down)
		return 0;
	return by_gpus < by_cores ? by_gpus : by_cores;
}

struct node_cap {
	int cap;
	size_t node;
};

static int cmp_cap(const void *pa, const void *pb)
{
	const struct node_cap *a = pa, *b = pb;

	if (a->cap != b->cap)
		return a->cap > b->cap ? -1 : 1;
	return a->node < b->node ? -1 : a->node > b->node;
}

/* Places a gang of `ranks` ranks of stage si, all or none (AIC_ENOFIT: nothing taken). */
static int place_gang(struct solver *s, size_t si, int ranks, bool soft)
{
	const struct aic_stage *st = &s->spec->stages[si];
	struct node_cap *caps;
	size_t *order, i, m = 0;
	int *take, left = ranks, total, rc = 0;
	bool share;

	order = calloc(s->n_nodes, sizeof(*order));
	take = calloc(s->n_nodes, sizeof(*take));
	if (!order || !take) {
		rc = -ENOMEM;
		goto out_free;
	}
	/* With soft CPUs, cores are shared only when the gang does not fit without. */
	for (share = false;; share = true) {
		for (i = 0, total = 0; i < s->n_nodes; i++)
			total += capacity(&s->nodes[i], st, share);
		if (total >= ranks || share || !soft)
			break;
	}
	/*
	 * Nodes by capacity, largest first, lower index first on ties: sorted
	 * as (capacity, index) pairs, not by insertion (quadratic in nodes).
	 */
	caps = calloc(s->n_nodes + 1, sizeof(*caps));
	if (!caps) {
		rc = -ENOMEM;
		goto out_free;
	}
	for (i = 0; i < s->n_nodes; i++)
		caps[i] = (struct node_cap){.cap = capacity(&s->nodes[i], st, share), .node = i};
	qsort(caps, s->n_nodes, sizeof(*caps), cmp_cap);
	for (i = 0; i < s->n_nodes; i++)
		order[i] = caps[i].node;
	free(caps);
	if (total < ranks) {
		rc = AIC_ENOFIT;
		goto out_free;
	}
	if (capacity(&s->nodes[order[0]], st, share) >= ranks) {
		/* One node suffices: the best-linked set, then the best fit. */
		struct quality bq = {0};
		int best = -1;
		for (i = 0; i < s->n_nodes; i++) {
			struct node *n = &s->nodes[i];
			struct quality q;
			uint64_t g;
			int c;
			if (capacity(n, st, share) < ranks)
				continue;
			aic__place_best_group(n->t, n->free, ranks * st->gpus, &g, &q);
			c = best < 0 ? 1 : aic__place_cmp_quality(&q, &bq);
			if (c > 0 ||
			    (c == 0 && capacity(n, st, share) < capacity(&s->nodes[best], st, share))) {
				best = (int)i;
				bq = q;
			}
		}
		take[best] = ranks;
	} else {
		for (m = 0; m < s->n_nodes && left > 0; m++) {
			int c = capacity(&s->nodes[order[m]], st, share);
			take[order[m]] = c < left ? c : left;
			left -= take[order[m]];
		}
	}
	/* Ranks node by node, in node order, so local ranks are contiguous. */
	for (i = 0; i < s->n_nodes && rc == 0; i++) {
		struct node *n = &s->nodes[i];
		struct quality q;
		uint64_t set, g;
		int r;
		if (!take[i])
			continue;
		aic__place_best_group(n->t, n->free, take[i] * st->gpus, &set, &q);
		for (r = 0; r < take[i] && rc == 0; r++) {
			struct aic_cpuset cpus;
			aic__place_best_group(n->t, set, st->gpus, &g, &q);
			set &= ~g;
			n->free &= ~g;
			aic__place_take_cores(n, g, st->cpus, share, &cpus);
			rc = record(s, si, i, g, &cpus,
				    s->host[si] != si ? WHY_COLOCATED : WHY_GANG);
		}
	}
out_free:
	free(order);
	free(take);
	return rc;
}

/* Places `count` processes of stage si (a whole gang, or replicas). */
static int place_stage(struct solver *s, size_t si, int count, bool elastic_ok)
{
	const struct aic_stage *st = &s->spec->stages[si];
	int i, rc;

	if (st->ranks) {
		/*
		 * A gang {min, max} starts with the most ranks that fit, at least
		 * min; no min (a stage not from the parser: the SPANK plugin's
		 * tasks) is all of them.
		 */
		int n = st->ranks, min = st->ranks_min > 0 ? st->ranks_min : st->ranks;
		do
			rc = place_gang(s, si, n, s->soft_cpus);
		while (rc == AIC_ENOFIT && --n >= min);
		if (rc == AIC_ENOFIT)
			return no_fit(s, st, min, 0);
		s->after = st->name;
		return rc;
	}
	for (i = 0; i < count; i++) {
		rc = place_replica(s, si, s->soft_cpus && !elastic_ok);
		if (rc == AIC_ENOFIT && elastic_ok)
			return rc;
		if (rc == AIC_ENOFIT)
			return no_fit(s, st, count, i);
		if (rc < 0)
			return rc;
	}
	if (count)
		s->after = st->name;
	return 0;
}

/*
 * A colocated stage sees only its host's GPUs: swap each node's free mask
 * for the host's GPUs there that this stage has not used yet.
 */
static int place_colocated(struct solver *s, size_t si)
{
	const struct aic_stage *st = &s->spec->stages[si];
	uint64_t *saved;
	size_t i, n;
	int rc = 0, grown = 0;

	saved = calloc(s->n_nodes, sizeof(*saved));
	if (!saved)
		return -ENOMEM;
	s->epoch++; /* pick_node's heap was of other masks */
	for (i = 0; i < s->n_nodes; i++) {
		saved[i] = s->nodes[i].free;
		s->nodes[i].free = 0;
	}
	for (n = 0; n < s->n_procs; n++) {
		const struct aic_proc *p = &s->procs[n];
		size_t g;
		if (p->stage != s->host[si])
			continue;
		for (g = 0; g < p->n_gpus; g++)
			s->nodes[p->node].free |= UINT64_C(1) << p->gpus[g];
	}
	rc = place_stage(s, si, st->ranks ? 1 : st->replicas_min, false);
	while (rc == 0 && !st->ranks && st->replicas_min + grown < st->replicas_max) {
		rc = place_replica(s, si, false);
		grown++;
	}
	if (rc == AIC_ENOFIT && grown)
		rc = 0;
	for (i = 0; i < s->n_nodes; i++)
		s->nodes[i].free = saved[i];
	s->epoch++;
	free(saved);
	return rc;
}

static int cmp_proc(const void *pa, const void *pb)
{
	const struct aic_proc *a = pa, *b = pb;

	if (a->stage != b->stage)
		return a->stage < b->stage ? -1 : 1;
	return a->index < b->index ? -1 : a->index > b->index;
}

/* Stage indices in placement order for pass 1 (see the contract). */
static int stage_rank(const struct aic_stage *st)
{
	if (st->ranks)
		return 0;
	return st->gpus ? 1 : 2;
}

static void sort_stages(const struct aic_spec *spec, size_t *order)
{
	size_t i, j;

	for (i = 0; i < spec->n_stages; i++)
		order[i] = i;
	for (i = 1; i < spec->n_stages; i++)
		for (j = i; j > 0; j--) {
			const struct aic_stage *a = &spec->stages[order[j - 1]];
			const struct aic_stage *b = &spec->stages[order[j]];
			int ra = stage_rank(a), rb = stage_rank(b);
			long ta = (long)a->gpus * (a->ranks ? a->ranks : 1);
			long tb = (long)b->gpus * (b->ranks ? b->ranks : 1);
			bool swap = rb < ra || (rb == ra && ra == 0 && tb > ta) ||
				    (rb == ra && ra == 1 && b->gpus > a->gpus);
			if (!swap)
				break;
			size_t x = order[j];
			order[j] = order[j - 1];
			order[j - 1] = x;
		}
}

/* Each stage's host: the end of its colocate_with chain. */
static int find_hosts(struct solver *s)
{
	const struct aic_spec *spec = s->spec;
	size_t i;

	for (i = 0; i < spec->n_stages; i++) {
		size_t cur = i, steps = 0;
		while (spec->stages[cur].colocate_with) {
			const struct aic_stage *h = aic_spec_stage(spec, spec->stages[cur].colocate_with);
			if (!h || ++steps > spec->n_stages) {
				const struct aic_stage *st = &spec->stages[i];
				aic_strbuf_printf(&s->err,
						  "%s:%u:%u: stage '%s': colocate_with forms a cycle or names no stage\n",
						  spec->path, st->colocate_mark.line,
						  st->colocate_mark.col, st->name);
				return AIC_ENOFIT;
			}
			cur = (size_t)(h - spec->stages);
		}
		s->host[i] = cur;
	}
	return 0;
}

int aic_place(const struct aic_spec *spec, const struct aic_place_node *nodes, size_t n_nodes,
	      struct aic_plan **out, char **errors)
{
	return aic_place_flags(spec, nodes, n_nodes, 0, out, errors);
}

/* The solver for one call: its nodes, and every stage's host; 0, or as aic_place_flags(). */
static int solver_init(struct solver *s, const struct aic_spec *spec,
		       const struct aic_place_node *nodes, size_t n_nodes, unsigned flags)
{
	int rc;

	memset(s, 0, sizeof(*s));
	s->spec = spec;
	s->n_nodes = n_nodes;
	s->soft_cpus = flags & AIC_PLACE_SOFT_CPUS;
	s->scan = getenv("AIC_PLACE_SCAN") && !strcmp(getenv("AIC_PLACE_SCAN"), "1");
	aic_strbuf_init(&s->err);
	s->nodes = calloc(n_nodes, sizeof(*s->nodes));
	s->placed = calloc(spec->n_stages + 1, sizeof(*s->placed));
	s->host = calloc(spec->n_stages + 1, sizeof(*s->host));
	if (!s->nodes || !s->placed || !s->host)
		return -ENOMEM;
	rc = aic__place_init_nodes(s, nodes);
	if (rc == 0)
		rc = aic__place_check_sizes(s);
	if (rc == 0)
		rc = find_hosts(s);
	return rc;
}

/* Frees what solver_init and the placing took; the messages go to *errors when rc fails. */
static void solver_release(struct solver *s, int rc, char **errors)
{
	size_t i;

	if (rc == -ENOMEM) {
		aic_strbuf_release(&s->err);
		aic_strbuf_printf(&s->err, "aic: out of memory\n");
	} else if (rc == -EINVAL && !s->err.len) {
		aic_strbuf_printf(&s->err, "aic: invalid placement input\n");
	}
	if (errors && rc)
		*errors = aic_strbuf_detach(&s->err);
	aic_strbuf_release(&s->err);
	for (i = 0; s->nodes && i < s->n_nodes; i++) {
		free(s->nodes[i].core_free);
		free(s->nodes[i].core_gpus);
	}
	free(s->nodes);
	free(s->placed);
	free(s->host);
	free(s->procs);
	free(s->on);
	free(s->pick.heap);
	free(s->pick.key);
	free(s->pick.hist);
}

int aic_place_flags(const struct aic_spec *spec, const struct aic_place_node *nodes,
		    size_t n_nodes, unsigned flags, struct aic_plan **out, char **errors)
{
	struct solver s;
	size_t *order = NULL, i;
	int rc;
	bool grew;

	*out = NULL;
	if (errors)
		*errors = NULL;
	if (!spec || !nodes || n_nodes == 0)
		return -EINVAL;
	rc = solver_init(&s, spec, nodes, n_nodes, flags);
	order = calloc(spec->n_stages + 1, sizeof(*order));
	if (rc == 0 && !order)
		rc = -ENOMEM;
	if (rc)
		goto out_free;

	/* Pass 1: every host stage's fixed count. */
	sort_stages(spec, order);
	for (i = 0; i < spec->n_stages && rc == 0; i++) {
		const struct aic_stage *st = &spec->stages[order[i]];
		if (s.host[order[i]] != order[i])
			continue;
		rc = place_stage(&s, order[i], st->ranks ? 1 : st->replicas_min, false);
	}
	/* Pass 2: elastic host stages grow one replica each in turn. */
	grew = rc == 0;
	while (grew) {
		grew = false;
		for (i = 0; i < spec->n_stages && rc == 0; i++) {
			const struct aic_stage *st = &spec->stages[order[i]];
			if (s.host[order[i]] != order[i] || st->ranks ||
			    s.placed[order[i]] >= st->replicas_max)
				continue;
			rc = place_replica(&s, order[i], false);
			if (rc == AIC_ENOFIT) {
				rc = 0;
				continue;
			}
			grew = rc == 0;
		}
	}
	/* Pass 3: colocated stages on their hosts' GPUs, in file order. */
	for (i = 0; i < spec->n_stages && rc == 0; i++)
		if (s.host[i] != i)
			rc = place_colocated(&s, i);
	if (rc)
		goto out_free;

	qsort(s.procs, s.n_procs, sizeof(*s.procs), cmp_proc);
	/*
	 * A local rank counts the stage's earlier processes on the same node:
	 * one count per node, cleared at each stage (the processes are in
	 * stage order), so linear in the processes, not quadratic.
	 */
	{
		int *seen = calloc(s.n_nodes + 1, sizeof(*seen));
		if (!seen) {
			rc = -ENOMEM;
			goto out_free;
		}
		for (i = 0; i < s.n_procs; i++) {
			if (i && s.procs[i].stage != s.procs[i - 1].stage)
				memset(seen, 0, s.n_nodes * sizeof(*seen));
			s.procs[i].local_rank = seen[s.procs[i].node]++;
		}
		free(seen);
	}
	*out = calloc(1, sizeof(**out));
	if (!*out) {
		rc = -ENOMEM;
		goto out_free;
	}
	(*out)->procs = s.procs;
	(*out)->n_procs = s.n_procs;
	(*out)->notes = aic__place_shared_cores_notes(&s);
	s.procs = NULL;

out_free:
	solver_release(&s, rc, errors);
	free(order);
	return rc;
}

/* A process placed before holds its GPUs and, when its stage asks for cores, its cores. */
static int hold(struct solver *s, const struct aic_proc *p)
{
	struct node *n = &s->nodes[p->node];
	size_t g, c;
	int rc;

	for (g = 0; g < p->n_gpus; g++)
		n->free &= ~(UINT64_C(1) << p->gpus[g]);
	for (c = 0; s->spec->stages[p->stage].cpus && c < n->t->n_cores; c++) {
		struct aic_cpuset x;
		aic_cpuset_and(&x, &n->t->cores[c].pus, &p->cpus);
		if (n->core_free[c] && !aic_cpuset_empty(&x)) {
			n->core_free[c] = false;
			n->n_free_cores--;
		}
	}
	/* Kept in the list (not counted as placed): colocated stages look for their hosts there. */
	rc = record(s, p->stage, p->node, 0, &p->cpus, p->why);
	if (rc == 0) {
		s->procs[s->n_procs - 1] = *p;
		s->placed[p->stage]--;
	}
	return rc;
}

int aic_place_more(const struct aic_spec *spec, const struct aic_place_node *nodes, size_t n_nodes,
		   unsigned flags, const struct aic_proc *used, size_t n_used, size_t stage,
		   int count, struct aic_proc *out, char **errors)
{
	const struct aic_stage *st;
	struct solver s;
	uint64_t *saved = NULL;
	size_t i, j, first;
	int k = 0, rc;

	if (errors)
		*errors = NULL;
	if (!spec || !nodes || n_nodes == 0 || stage >= spec->n_stages || count < 1 || !out)
		return -EINVAL;
	st = &spec->stages[stage];
	rc = solver_init(&s, spec, nodes, n_nodes, flags);
	for (i = 0; rc == 0 && i < n_used; i++)
		rc = used[i].node < n_nodes && used[i].stage < spec->n_stages ? hold(&s, &used[i])
									      : -EINVAL;
	if (rc)
		goto out_free;
	first = s.n_procs;
	if (s.host[stage] != stage) {
		/* As place_colocated: the host's GPUs, less those this stage holds already. */
		saved = calloc(n_nodes, sizeof(*saved));
		if (!saved) {
			rc = -ENOMEM;
			goto out_free;
		}
		s.epoch++;
		for (i = 0; i < n_nodes; i++) {
			saved[i] = s.nodes[i].free;
			s.nodes[i].free = 0;
		}
		for (i = 0; i < first; i++)
			for (j = 0; s.procs[i].stage == s.host[stage] && j < s.procs[i].n_gpus; j++)
				s.nodes[s.procs[i].node].free |= UINT64_C(1) << s.procs[i].gpus[j];
		for (i = 0; i < first; i++)
			for (j = 0; s.procs[i].stage == stage && j < s.procs[i].n_gpus; j++)
				s.nodes[s.procs[i].node].free &=
					~(UINT64_C(1) << s.procs[i].gpus[j]);
		for (i = 0; i < n_nodes; i++)
			if (s.nodes[i].down)
				s.nodes[i].free = 0;
	}
	if (st->ranks) {
		rc = place_gang(&s, stage, count, s.soft_cpus);
	} else {
		for (k = 0; k < count && rc == 0; k++)
			rc = place_replica(&s, stage, s.soft_cpus);
	}
	if (rc == AIC_ENOFIT)
		no_fit(&s, st, count, st->ranks ? 0 : k - 1);
	if (rc)
		goto out_free;
	for (i = first; i < s.n_procs; i++) {
		struct aic_proc *p = &out[i - first];
		*p = s.procs[i];
		p->local_rank = 0;
		for (j = first; j < i; j++)
			p->local_rank += s.procs[j].node == p->node;
	}

out_free:
	free(saved);
	solver_release(&s, rc, errors);
	return rc;
}

void aic_plan_free(struct aic_plan *plan)
{
	if (!plan)
		return;
	free(plan->procs);
	free(plan->notes);
	free(plan);
}
