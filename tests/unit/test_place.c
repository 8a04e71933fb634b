#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aic_test.h"
#include "error.h"
#include "place.h"
#include "fixture.h"

/*
 * One line per process: "stage index node gpus cpus numa nic", e.g.
 * "train 0 n0 0,1 0,16 0 mlx5_0". Node names are n0, n1, ...
 */
static char *render(const struct aic_spec *sp, const struct aic_place_node *nodes,
		    const struct aic_plan *plan)
{
	static char buf[16384];
	size_t o = 0, i, j;
	char cpus[256];

	buf[0] = '\0';
	for (i = 0; i < plan->n_procs; i++) {
		const struct aic_proc *p = &plan->procs[i];
		const struct aic_topo *t = nodes[p->node].topo;
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s %d n%zu ", sp->stages[p->stage].name,
				      p->index, p->node);
		for (j = 0; j < p->n_gpus; j++)
			o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%d", j ? "," : "", p->gpus[j]);
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s %s %d %s\n", p->n_gpus ? "" : "-",
				      aic_cpuset_format(&p->cpus, cpus, sizeof(cpus)), p->numa,
				      p->nic >= 0 ? t->nics[p->nic].name : "-");
	}
	return buf;
}

/*
 * Places `text` on n copies of fixture `file` with AIC_PLACE_* flags and
 * compares with `want`; the plan's notes must contain `notes` (NULL: none).
 */
static void expect_plan_flags(const char *text, const char *dir, const char *file, size_t n,
			      unsigned flags, const char *want, const char *notes)
{
	struct aic_topo *t = fixture_topo(dir, file);
	struct aic_place_node nodes[8];
	struct aic_spec *sp = fixture_spec(text);
	struct aic_plan *plan = NULL, *again = NULL;
	char *errors = NULL, *got;
	size_t i;

	memset(nodes, 0, sizeof(nodes));
	for (i = 0; i < n; i++)
		nodes[i].topo = t;
	if (aic_place_flags(sp, nodes, n, flags, &plan, &errors) != 0) {
		fprintf(stderr, "%s", errors);
		fail();
	}
	got = render(sp, nodes, plan);
	if (strcmp(got, want)) {
		fprintf(stderr, "want:\n%sgot:\n%s", want, got);
		fail();
	}
	if (notes ? !plan->notes || !strstr(plan->notes, notes) : plan->notes != NULL) {
		fprintf(stderr, "want notes: %s\ngot:  %s", notes ? notes : "(none)\n",
			plan->notes ? plan->notes : "(none)\n");
		fail();
	}
	/* Deterministic: the same input gives the same plan. */
	assert_int_equal(aic_place_flags(sp, nodes, n, flags, &again, NULL), 0);
	assert_int_equal(again->n_procs, plan->n_procs);
	assert_memory_equal(again->procs, plan->procs, plan->n_procs * sizeof(*plan->procs));
	aic_plan_free(again);
	aic_plan_free(plan);
	aic_spec_free(sp);
	aic_topo_free(t);
}

static void expect_plan(const char *text, const char *dir, const char *file, size_t n,
			const char *want)
{
	expect_plan_flags(text, dir, file, n, 0, want, NULL);
}

static void expect_no_fit(const char *text, const char *dir, const char *file, size_t n,
			  const char *want)
{
	struct aic_topo *t = fixture_topo(dir, file);
	struct aic_place_node nodes[8];
	struct aic_spec *sp = fixture_spec(text);
	struct aic_plan *plan = (struct aic_plan *)1;
	char *errors = NULL;
	size_t i;

	memset(nodes, 0, sizeof(nodes));
	for (i = 0; i < n; i++)
		nodes[i].topo = t;
	assert_int_equal(aic_place(sp, nodes, n, &plan, &errors), AIC_ENOFIT);
	assert_null(plan);
	if (!errors || !strstr(errors, want)) {
		fprintf(stderr, "want: %s\ngot:  %s", want, errors ? errors : "(null)\n");
		fail();
	}
	free(errors);
	aic_spec_free(sp);
	aic_topo_free(t);
}

static const char grpo[] = "name: grpo\n"
			   "stages:\n"
			   "  rollout: {command: r, replicas: {min: 1, max: 8}, gpus: 2,"
			   " inputs: [p], outputs: [s], weights_from: w}\n"
			   "  reward: {command: x, replicas: 2, inputs: [s], outputs: [sc]}\n"
			   "  train: {command: t, ranks: 4, gpus: 1, inputs: [sc], weights_to: w}\n"
			   "channels: {p: {source: p.jsonl}}\n";

/* Two HGX nodes: the gang packs into one NUMA node of one node, rollout
 * pairs fill the rest, reward takes cores local to no more GPUs than any. */
static void grpo_on_two_hgx(void **state)
{
	(void)state;
	expect_plan(grpo, "topo", "hgx-h100-8gpu.xml", 2,
		    "rollout 0 n0 4,5 8,24 1 mlx5_4\n"
		    "rollout 1 n1 0,1 1,17 0 mlx5_0\n"
		    "rollout 2 n0 6,7 9,25 1 mlx5_6\n"
		    "rollout 3 n1 2,3 2,18 0 mlx5_2\n"
		    "rollout 4 n1 4,5 8,24 1 mlx5_4\n"
		    "rollout 5 n1 6,7 9,25 1 mlx5_6\n"
		    "reward 0 n1 - 0,16 0 mlx5_0\n"
		    "reward 1 n0 - 4,20 0 mlx5_0\n"
		    "train 0 n0 0 0,16 0 mlx5_0\n"
		    "train 1 n0 1 1,17 0 mlx5_1\n"
		    "train 2 n0 2 2,18 0 mlx5_2\n"
		    "train 3 n0 3 3,19 0 mlx5_3\n");
}

/* Tensor-parallel pairs take the NVLink bridges, not the PCIe neighbours. */
static void tp_pairs_follow_nvlink(void **state)
{
	(void)state;
	expect_plan("stages:\n  gen: {command: g, replicas: 2, gpus: 2}\n", "topo",
		    "pcie-4gpu-nvlink-pairs.xml", 1,
		    "gen 0 n0 0,2 0,16 0 mlx5_0\n"
		    "gen 1 n0 1,3 1,17 0 mlx5_0\n");
}

/* One GPU at a time: the first replica takes a GPU whose partner stays free. */
static void single_gpus_keep_pairs_whole(void **state)
{
	(void)state;
	expect_plan("stages:\n"
		    "  small: {command: s, replicas: 1, gpus: 1}\n"
		    "  big: {command: b, replicas: 1, gpus: 2}\n",
		    "topo", "pcie-4gpu-nvlink-pairs.xml", 1,
		    "small 0 n0 1 1,17 0 mlx5_0\n"
		    "big 0 n0 0,2 0,16 0 mlx5_0\n");
}

/*
 * PCI order interleaves sockets: a 4-rank gang stays on one socket (GPUs
 * 0, 1, 4, 5), and ranks 0-1 and 2-3 sit on PCIe switch pairs.
 */
static void gang_stays_on_one_socket(void **state)
{
	(void)state;
	expect_plan("stages:\n  train: {command: t, ranks: 4, gpus: 1, cpus: 2}\n", "topo",
		    "pcie-8gpu-2socket.xml", 1,
		    "train 0 n0 0 8-9,24-25 1 eno1\n"
		    "train 1 n0 1 10-11,26-27 1 eno1\n"
		    "train 2 n0 4 12-13,28-29 1 eno1\n"
		    "train 3 n0 5 14-15,30-31 1 eno1\n");
}

/* A gang larger than a node spans the fewest nodes, ranks node by node. */
static void gang_spans_fewest_nodes(void **state)
{
	(void)state;
	expect_plan("stages:\n  train: {command: t, ranks: 6, gpus: 1}\n", "topo",
		    "pcie-4gpu-nvlink-pairs.xml", 3,
		    "train 0 n0 0 0,16 0 mlx5_0\n"
		    "train 1 n0 2 1,17 0 mlx5_0\n"
		    "train 2 n0 1 2,18 0 mlx5_0\n"
		    "train 3 n0 3 3,19 0 mlx5_0\n"
		    "train 4 n1 0 0,16 0 mlx5_0\n"
		    "train 5 n1 2 1,17 0 mlx5_0\n");
}

/* A gang over several nodes takes the nodes with the most room first (1, 4 and 2 GPUs free). */
static void gang_takes_roomiest_nodes(void **state)
{
	struct aic_topo *t = fixture_topo("topo", "pcie-4gpu-nvlink-pairs.xml");
	struct aic_spec *sp = fixture_spec("stages:\n  train: {command: t, ranks: 5, gpus: 1}\n");
	static const int g0[] = {0}, g1[] = {0, 1, 2, 3}, g2[] = {0, 1};
	struct aic_place_node nodes[3] = {{.name = "a", .topo = t, .gpus = g0, .n_gpus = 1},
					  {.name = "b", .topo = t, .gpus = g1, .n_gpus = 4},
					  {.name = "c", .topo = t, .gpus = g2, .n_gpus = 2}};
	struct aic_plan *plan = NULL;
	size_t i, on[3] = {0};

	(void)state;
	assert_int_equal(aic_place(sp, nodes, 3, &plan, NULL), 0);
	assert_int_equal(plan->n_procs, 5);
	for (i = 0; i < plan->n_procs; i++)
		on[plan->procs[i].node]++;
	assert_int_equal(on[0], 0);
	assert_int_equal(on[1], 4);
	assert_int_equal(on[2], 1);
	aic_plan_free(plan);
	aic_spec_free(sp);
	aic_topo_free(t);
}

/* NVSwitch DGX-2: 8-GPU replicas each fill one NUMA node's baseboard. */
static void dgx2_halves(void **state)
{
	(void)state;
	expect_plan("stages:\n  big: {command: b, replicas: 2, gpus: 8, cpus: 1}\n", "hwloc",
		    "nvidiaDGX2.xml", 1,
		    "big 0 n0 0,1,2,3,4,5,6,7 0 0 -\n"
		    "big 1 n0 8,9,10,11,12,13,14,15 24 1 -\n");
}

static void power8_nvlink_pairs(void **state)
{
	(void)state;
	expect_plan("stages:\n  gen: {command: g, replicas: 2, gpus: 2}\n", "hwloc",
		    "power8gpudistances.xml", 1,
		    "gen 0 n0 0,1 0-1 0 -\n"
		    "gen 1 n0 2,3 80-81 1 -\n");
}

static void cpu_only_node(void **state)
{
	(void)state;
	expect_plan("stages:\n"
		    "  work: {command: w, replicas: 3, cpus: 1}\n"
		    "  any: {command: a, cpus: 0}\n",
		    "topo", "cpu-only.xml", 1,
		    "work 0 n0 - 0,4 0 eno1\n"
		    "work 1 n0 - 1,5 0 eno1\n"
		    "work 2 n0 - 2,6 0 eno1\n"
		    "any 0 n0 - 0-7 0 eno1\n");
	expect_no_fit("stages:\n  work: {command: w, replicas: 5}\n", "topo", "cpu-only.xml", 1,
		      "aic: stage 'work' does not fit: it needs 5 replicas of 1 core, 4 fit; "
		      "free: cpu1 0 GPUs 0 cores");
}

/*
 * Without SLURM (aic run), cpus: is a wish: 6 one-core replicas on 4 cores
 * share them round by round instead of failing, a process asking for more
 * cores than the node has gets them all, a gang shares too, and the plan
 * says so. Elastic growth still stops at the free cores, and a job that
 * fits is placed as without the flag, with no note.
 */
static void soft_cpus_share_cores(void **state)
{
	(void)state;
	expect_plan_flags("stages:\n"
			  "  work: {command: w, replicas: 6, cpus: 1}\n"
			  "  big: {command: b, cpus: 6}\n",
			  "topo", "cpu-only.xml", 1, AIC_PLACE_SOFT_CPUS,
			  "work 0 n0 - 0,4 0 eno1\n"
			  "work 1 n0 - 1,5 0 eno1\n"
			  "work 2 n0 - 2,6 0 eno1\n"
			  "work 3 n0 - 3,7 0 eno1\n"
			  "work 4 n0 - 0,4 0 eno1\n"
			  "work 5 n0 - 1,5 0 eno1\n"
			  "big 0 n0 - 0-7 0 eno1\n",
			  "aic: note: node 'cpu1' has 4 cores for processes that ask for 12 (cpus:)");
	expect_no_fit("stages:\n  work: {command: w, replicas: 6, cpus: 1}\n", "topo",
		      "cpu-only.xml", 1, "it needs 6 replicas of 1 core, 4 fit");
	expect_plan_flags("stages:\n  g: {command: g, ranks: 5, cpus: 1}\n", "topo", "cpu-only.xml",
			  1, AIC_PLACE_SOFT_CPUS,
			  "g 0 n0 - 0,4 0 eno1\n"
			  "g 1 n0 - 1,5 0 eno1\n"
			  "g 2 n0 - 2,6 0 eno1\n"
			  "g 3 n0 - 3,7 0 eno1\n"
			  "g 4 n0 - 0,4 0 eno1\n",
			  "has 4 cores for processes that ask for 5");
	expect_plan_flags("stages:\n  e: {command: e, replicas: {min: 1, max: 9}, cpus: 1}\n",
			  "topo", "cpu-only.xml", 1, AIC_PLACE_SOFT_CPUS,
			  "e 0 n0 - 0,4 0 eno1\n"
			  "e 1 n0 - 1,5 0 eno1\n"
			  "e 2 n0 - 2,6 0 eno1\n"
			  "e 3 n0 - 3,7 0 eno1\n",
			  NULL);
}

/*
 * Elastic replicas grow to max while GPUs last, one per stage in turn: a
 * has its min of 1 (GPU 0), then a and b take one each (a takes 2, whose
 * NVLink partner is gone, keeping the 1-3 pair whole), then a the last.
 */
static void elastic_growth(void **state)
{
	(void)state;
	expect_plan("stages:\n"
		    "  a: {command: a, replicas: {min: 1, max: 8}, gpus: 1, cpus: 0}\n"
		    "  b: {command: b, replicas: {min: 0, max: 8}, gpus: 1, cpus: 0}\n",
		    "topo", "pcie-4gpu-nvlink-pairs.xml", 1,
		    "a 0 n0 0 0-31 0 mlx5_0\n"
		    "a 1 n0 2 0-31 0 mlx5_0\n"
		    "a 2 n0 3 0-31 0 mlx5_0\n"
		    "b 0 n0 1 0-31 0 mlx5_0\n");
}

/*
 * A colocated stage runs on its host's GPUs and takes no others. The second
 * gen pair goes to socket 1 with the first, leaving socket 0's four GPUs
 * whole (they are worse linked to the GPUs left free).
 */
static void colocation(void **state)
{
	(void)state;
	expect_plan("stages:\n"
		    "  gen: {command: g, replicas: 2, gpus: 2, inputs: [p], outputs: [s], weights_from: w}\n"
		    "  train: {command: t, ranks: 4, gpus: 1, inputs: [s], weights_to: w,"
		    " colocate_with: gen}\n"
		    "channels: {p: {source: p.jsonl}}\n",
		    "topo", "pcie-8gpu-2socket.xml", 1,
		    "gen 0 n0 0,1 8,24 1 eno1\n"
		    "gen 1 n0 4,5 9,25 1 eno1\n"
		    "train 0 n0 0 10,26 1 eno1\n"
		    "train 1 n0 1 11,27 1 eno1\n"
		    "train 2 n0 4 12,28 1 eno1\n"
		    "train 3 n0 5 13,29 1 eno1\n");
	expect_no_fit("stages:\n"
		      "  gen: {command: g, gpus: 1, inputs: [p], outputs: [s], weights_from: w}\n"
		      "  train: {command: t, ranks: 2, gpus: 1, inputs: [s], weights_to: w,"
		      " colocate_with: gen}\n"
		      "channels: {p: {source: p.jsonl}}\n",
		      "topo", "pcie-8gpu-2socket.xml", 1,
		      "aic: stage 'train' does not fit: it needs 2 ranks of 1 GPU and 1 core "
		      "(a gang: all or none) on the GPUs of stage 'gen'");
}

/* SLURM gave the job GPUs 1 and 3 and CPUs 4-7 only. */
static void allocation_subset(void **state)
{
	struct aic_topo *t = fixture_topo("topo", "pcie-4gpu-nvlink-pairs.xml");
	struct aic_spec *sp = fixture_spec("stages:\n  g: {command: g, gpus: 2, cpus: 2}\n");
	static const int gpus[] = {1, 3};
	struct aic_cpuset cpus;
	struct aic_place_node node = {.name = "n1", .topo = t, .gpus = gpus, .n_gpus = 2, .cpus = &cpus};
	struct aic_plan *plan = NULL;
	char *errors = NULL;

	(void)state;
	aic_cpuset_parse(&cpus, "4-7");
	assert_int_equal(aic_place(sp, &node, 1, &plan, NULL), 0);
	assert_string_equal(render(sp, &node, plan), "g 0 n0 1,3 4-5 0 mlx5_0\n");
	aic_plan_free(plan);
	aic_spec_free(sp);

	/* Two GPUs were allocated: a third cannot be found. */
	sp = fixture_spec("stages:\n  g: {command: g, gpus: 3}\n");
	assert_int_equal(aic_place(sp, &node, 1, &plan, &errors), AIC_ENOFIT);
	assert_non_null(strstr(errors, "job.yaml:2:25: stage 'g' needs 3 GPUs per replica; the "
					 "largest node, 'n1', has 2"));
	free(errors);
	aic_spec_free(sp);
	aic_topo_free(t);
}

/*
 * Replicas never talk to each other: 3 of 1 GPU on 3 nodes take one node
 * each, unless the stage asks to pack; a gang packs on one node all the
 * same; CPU-only replicas spread too.
 */
static void replicas_spread(void **state)
{
	(void)state;
	expect_plan("stages:\n  m: {command: m, replicas: 3, gpus: 1, cpus: 0}\n", "topo",
		    "pcie-4gpu-nvlink-pairs.xml", 3,
		    "m 0 n0 0 0-31 0 mlx5_0\n"
		    "m 1 n1 0 0-31 0 mlx5_0\n"
		    "m 2 n2 0 0-31 0 mlx5_0\n");
	expect_plan("stages:\n  m: {command: m, replicas: 3, gpus: 1, cpus: 0, placement: pack}\n",
		    "topo", "pcie-4gpu-nvlink-pairs.xml", 3,
		    "m 0 n0 0 0-31 0 mlx5_0\n"
		    "m 1 n0 2 0-31 0 mlx5_0\n"
		    "m 2 n0 1 0-31 0 mlx5_0\n");
	expect_plan("stages:\n  g: {command: g, ranks: 3, gpus: 1, cpus: 0}\n", "topo",
		    "pcie-4gpu-nvlink-pairs.xml", 3,
		    "g 0 n0 1 0-31 0 mlx5_0\n"
		    "g 1 n0 0 0-31 0 mlx5_0\n"
		    "g 2 n0 2 0-31 0 mlx5_0\n");
	expect_plan("stages:\n  w: {command: w, replicas: 3, cpus: 0}\n", "topo",
		    "pcie-4gpu-nvlink-pairs.xml", 3,
		    "w 0 n0 - 0-31 0 mlx5_0\n"
		    "w 1 n1 - 0-31 0 mlx5_0\n"
		    "w 2 n2 - 0-31 0 mlx5_0\n");
}

/*
 * Spreading never costs a replica its links: with an NVLink pair free on
 * n0 and only a PCIe pair on n1, both 2-GPU replicas take n0's pairs, and
 * each process says why it went there.
 */
static void spread_keeps_links(void **state)
{
	struct aic_topo *t = fixture_topo("topo", "pcie-4gpu-nvlink-pairs.xml");
	struct aic_spec *sp = fixture_spec("stages:\n  g: {command: g, replicas: 2, gpus: 2, cpus: 0}\n");
	static const int pcie[] = {0, 1};
	struct aic_place_node nodes[2] = {
		{.name = "n0", .topo = t},
		{.name = "n1", .topo = t, .gpus = pcie, .n_gpus = 2},
	};
	struct aic_plan *plan = NULL;

	(void)state;
	assert_int_equal(aic_place(sp, nodes, 2, &plan, NULL), 0);
	assert_string_equal(render(sp, nodes, plan), "g 0 n0 0,2 0-31 0 mlx5_0\n"
						     "g 1 n0 1,3 0-31 0 mlx5_0\n");
	assert_string_equal(plan->procs[0].why,
			    "spread: fewest of its stage here, GPUs as well linked");
	assert_string_equal(plan->procs[1].why,
			    "best-linked free GPUs (spreading would cost links)");
	aic_plan_free(plan);
	aic_spec_free(sp);
	aic_topo_free(t);
}

static void too_many_gpus_per_process(void **state)
{
	(void)state;
	expect_no_fit("stages:\n  train: {command: t, ranks: 2,\n    gpus: 16}\n", "topo",
		      "hgx-h100-8gpu.xml", 4,
		      "job.yaml:3:11: stage 'train' needs 16 GPUs per rank; the largest node, "
		      "'hgx1', has 8");
}

static void gang_does_not_fit(void **state)
{
	(void)state;
	expect_no_fit("stages:\n  train: {command: t, ranks: 9, gpus: 1}\n", "topo",
		      "pcie-4gpu-nvlink-pairs.xml", 2,
		      "aic: stage 'train' does not fit: it needs 9 ranks of 1 GPU and 1 core "
		      "(a gang: all or none); free: pcie4 4 GPUs 16 cores, pcie4 4 GPUs 16 cores");
	expect_no_fit("stages:\n  train: {command: t, ranks: 1, cpus: 17}\n", "topo",
		      "pcie-4gpu-nvlink-pairs.xml", 1, "it needs 1 rank of 17 cores");
}

/* A colocate_with cycle (which the spec's checks leave to the solver) is reported at the value. */
static void colocation_cycle(void **state)
{
	(void)state;
	expect_no_fit("stages:\n"
		      "  a: {command: a, gpus: 1, colocate_with: b}\n"
		      "  b: {command: b, gpus: 1, colocate_with: a}\n",
		      "topo", "pcie-4gpu-nvlink-pairs.xml", 1,
		      "job.yaml:2:43: stage 'a': colocate_with forms a cycle or names no stage");
}

static void bad_arguments(void **state)
{
	struct aic_topo *t = fixture_topo("topo", "pcie-4gpu-nvlink-pairs.xml");
	struct aic_topo *cpu = fixture_topo("topo", "cpu-only.xml");
	struct aic_spec *sp = fixture_spec("stages:\n  g: {command: g}\n");
	static const int gpus[] = {7};
	struct aic_place_node node = {.topo = t, .gpus = gpus, .n_gpus = 1};
	struct aic_plan *plan = NULL;
	char *errors = NULL;

	(void)state;
	assert_int_equal(aic_place(sp, &node, 0, &plan, NULL), -EINVAL);
	assert_int_equal(aic_place(sp, &node, 1, &plan, &errors), -EINVAL);
	/* Which node, which GPUs it was given, and what its topology shows. */
	assert_string_equal(errors, "aic: node 'pcie4' was given GPU 7, but its topology "
				    "(host 'pcie4') shows 4 GPUs (indices 0 to 3)\n");
	free(errors);
	node.name = "n2";
	node.gpus = (const int[]){0, 1};
	node.n_gpus = 2;
	node.topo = cpu;
	assert_int_equal(aic_place(sp, &node, 1, &plan, &errors), -EINVAL);
	assert_string_equal(errors, "aic: node 'n2' was given GPUs 0,1, but its topology "
				    "(host 'cpu1') shows no GPUs\n");
	free(errors);
	node.topo = NULL;
	assert_int_equal(aic_place(sp, &node, 1, &plan, &errors), -EINVAL);
	assert_string_equal(errors, "aic: node 'n2' has no topology\n");
	free(errors);
	aic_topo_free(cpu);
	aic_plan_free(NULL);
	aic_spec_free(sp);
	aic_topo_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(grpo_on_two_hgx),
		cmocka_unit_test(tp_pairs_follow_nvlink),
		cmocka_unit_test(single_gpus_keep_pairs_whole),
		cmocka_unit_test(gang_stays_on_one_socket),
		cmocka_unit_test(gang_spans_fewest_nodes),
		cmocka_unit_test(gang_takes_roomiest_nodes),
		cmocka_unit_test(dgx2_halves),
		cmocka_unit_test(power8_nvlink_pairs),
		cmocka_unit_test(cpu_only_node),
		cmocka_unit_test(soft_cpus_share_cores),
		cmocka_unit_test(elastic_growth),
		cmocka_unit_test(colocation),
		cmocka_unit_test(allocation_subset),
		cmocka_unit_test(replicas_spread),
		cmocka_unit_test(spread_keeps_links),
		cmocka_unit_test(too_many_gpus_per_process),
		cmocka_unit_test(gang_does_not_fit),
		cmocka_unit_test(colocation_cycle),
		cmocka_unit_test(bad_arguments),
	};
	return aic_test_run(tests);
}
