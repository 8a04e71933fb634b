/*
 * aic_place_more(): a lost node's processes placed again on the nodes
 * left, given what the processes still running hold.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aic_test.h"
#include "error.h"
#include "place.h"
#include "fixture.h"

/* "node:gpu,gpu" of a process, e.g. "1:0,1". */
static const char *where(const struct aic_proc *p)
{
	static char buf[64];
	size_t o, g;

	o = (size_t)snprintf(buf, sizeof(buf), "%zu:", p->node);
	for (g = 0; g < p->n_gpus; g++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%d", g ? "," : "", p->gpus[g]);
	return buf;
}

/* The plan's processes of stages other than `skip` and off node `down`. */
static size_t survivors(const struct aic_plan *plan, size_t down, size_t skip,
			struct aic_proc *used)
{
	size_t i, n = 0;

	for (i = 0; i < plan->n_procs; i++)
		if (plan->procs[i].node != down && plan->procs[i].stage != skip)
			used[n++] = plan->procs[i];
	return n;
}

/*
 * Three nodes of four GPUs, all taken by a trainer and five replicas of two
 * GPUs each: node 1 goes, and its replica finds no pair free until the
 * trainer ends, then takes the trainer's pair.
 */
static void replica_waits_for_room(void **state)
{
	struct aic_topo *t = fixture_topo("topo", "pcie-4gpu-nvlink-pairs.xml");
	struct aic_spec *sp = fixture_spec("stages:\n"
					   "  train: {command: t, gpus: 2, cpus: 0}\n"
					   "  gen: {command: g, replicas: 5, gpus: 2, cpus: 0}\n");
	struct aic_place_node nodes[3] = {
		{.name = "n0", .topo = t}, {.name = "n1", .topo = t}, {.name = "n2", .topo = t}};
	struct aic_plan *plan = NULL;
	struct aic_proc used[16], out[2];
	char *errors = NULL;
	size_t n, i, lost = 0;

	(void)state;
	assert_int_equal(aic_place(sp, nodes, 3, &plan, NULL), 0);
	assert_int_equal(plan->n_procs, 6);
	for (i = 0; i < plan->n_procs; i++)
		lost += plan->procs[i].node == 1;
	assert_int_equal(lost, 2);
	nodes[1].down = true;
	n = survivors(plan, 1, 99, used);
	assert_int_equal(n, 4);
	assert_int_equal(aic_place_more(sp, nodes, 3, 0, used, n, 1, 1, out, &errors), AIC_ENOFIT);
	assert_non_null(strstr(errors, "aic: stage 'gen' does not fit: it needs 1 replica of 2 "
				       "GPUs, 0 fit; free: n0 0 GPUs"));
	assert_non_null(strstr(errors, "n1 0 GPUs 0 cores"));
	free(errors);
	/* The trainer ended: its pair is free. */
	n = survivors(plan, 1, 0, used);
	assert_int_equal(aic_place_more(sp, nodes, 3, 0, used, n, 1, 1, out, NULL), 0);
	assert_int_not_equal(out[0].node, 1);
	assert_int_equal(out[0].stage, 1);
	assert_int_equal(out[0].n_gpus, 2);
	/* Never on the lost node, even when it is the only one with room. */
	n = survivors(plan, 99, 0, used);
	for (i = 0; i < n; i++)
		if (used[i].node == 1)
			used[i] = used[--n];
	nodes[0].down = nodes[2].down = true;
	nodes[1].down = false;
	assert_int_equal(aic_place_more(sp, nodes, 3, 0, used, n, 1, 1, out, NULL), 0);
	assert_int_equal(out[0].node, 1);
	assert_int_equal(out[0].n_gpus, 2);
	nodes[1].down = true;
	assert_int_equal(aic_place_more(sp, nodes, 3, 0, NULL, 0, 1, 1, out, NULL), AIC_ENOFIT);
	aic_plan_free(plan);
	aic_spec_free(sp);
	aic_topo_free(t);
}

/* A gang of {min: 2, max: 3} with a node each: 3 ranks on 3 nodes, 2 once one goes. */
static void gang_shrinks(void **state)
{
	struct aic_topo *t = fixture_topo("topo", "pcie-4gpu-nvlink-pairs.xml");
	struct aic_spec *sp =
		fixture_spec("stages:\n  train: {command: t, ranks: {min: 2, max: 3}, gpus: 4}\n");
	struct aic_place_node nodes[3] = {
		{.name = "n0", .topo = t}, {.name = "n1", .topo = t}, {.name = "n2", .topo = t}};
	struct aic_plan *plan = NULL;
	struct aic_proc out[3];
	char *errors = NULL;

	(void)state;
	assert_int_equal(aic_place(sp, nodes, 3, &plan, NULL), 0);
	assert_int_equal(plan->n_procs, 3);
	aic_plan_free(plan);
	/* With two nodes the gang starts with two ranks, its min. */
	assert_int_equal(aic_place(sp, nodes, 2, &plan, NULL), 0);
	assert_int_equal(plan->n_procs, 2);
	aic_plan_free(plan);
	assert_int_equal(aic_place(sp, nodes, 1, &plan, &errors), AIC_ENOFIT);
	assert_non_null(strstr(errors, "stage 'train' does not fit: it needs 2 ranks of 4 GPUs"));
	free(errors);

	nodes[1].down = true;
	assert_int_equal(aic_place_more(sp, nodes, 3, 0, NULL, 0, 0, 3, out, &errors), AIC_ENOFIT);
	assert_non_null(
		strstr(errors, "it needs 3 ranks of 4 GPUs and 1 core (a gang: all or none)"));
	free(errors);
	assert_int_equal(aic_place_more(sp, nodes, 3, 0, NULL, 0, 0, 2, out, NULL), 0);
	assert_string_equal(where(&out[0]), "0:0,1,2,3");
	assert_string_equal(where(&out[1]), "2:0,1,2,3");
	assert_int_equal(out[0].index, 0);
	assert_int_equal(out[1].index, 1);
	assert_int_equal(out[0].local_rank, 0);
	assert_int_equal(out[1].local_rank, 0);
	aic_spec_free(sp);
	aic_topo_free(t);
}

/* A gang built without a min (the SPANK plugin's tasks) is all or nothing, as before. */
static void gang_without_min_is_whole(void **state)
{
	struct aic_topo *t = fixture_topo("topo", "pcie-4gpu-nvlink-pairs.xml");
	struct aic_stage stage = {
		.name = "tasks", .ranks = 5, .gpus = 1, .replicas_min = 1, .replicas_max = 1};
	struct aic_spec sp = {.path = "(step)", .stages = &stage, .n_stages = 1};
	struct aic_place_node node = {.name = "n0", .topo = t};
	struct aic_plan *plan = NULL;
	char *errors = NULL;

	(void)state;
	assert_int_equal(aic_place(&sp, &node, 1, &plan, &errors), AIC_ENOFIT);
	assert_null(plan);
	assert_non_null(strstr(errors, "it needs 5 ranks of 1 GPU"));
	free(errors);
	aic_topo_free(t);
}

/* A colocated replica goes back onto its host's GPUs, not onto free ones. */
static void colocated_follows_host(void **state)
{
	struct aic_topo *t = fixture_topo("topo", "pcie-4gpu-nvlink-pairs.xml");
	struct aic_spec *sp = fixture_spec("stages:\n"
					   "  gen: {command: g, replicas: 2, gpus: 2, cpus: 0}\n"
					   "  train: {command: t, replicas: 2, gpus: 2, cpus: 0, "
					   "colocate_with: gen}\n");
	struct aic_place_node nodes[2] = {{.name = "n0", .topo = t}, {.name = "n1", .topo = t}};
	struct aic_plan *plan = NULL;
	struct aic_proc used[8], out[1];
	size_t i, n = 0, gen_node = 9;

	(void)state;
	assert_int_equal(aic_place(sp, nodes, 2, &plan, NULL), 0);
	assert_int_equal(plan->n_procs, 4);
	/* Both gen replicas on one node; the other is all free. Train 1 is lost. */
	for (i = 0; i < plan->n_procs; i++)
		if (plan->procs[i].stage == 0)
			gen_node = plan->procs[i].node;
	for (i = 0; i < plan->n_procs; i++)
		if (!(plan->procs[i].stage == 1 && plan->procs[i].index == 1))
			used[n++] = plan->procs[i];
	assert_int_equal(aic_place_more(sp, nodes, 2, 0, used, n, 1, 1, out, NULL), 0);
	assert_int_equal(out[0].node, gen_node);
	assert_string_equal(where(&out[0]), where(&plan->procs[3]));
	aic_plan_free(plan);
	aic_spec_free(sp);
	aic_topo_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(replica_waits_for_room),
		cmocka_unit_test(gang_shrinks),
		cmocka_unit_test(gang_without_min_is_whole),
		cmocka_unit_test(colocated_follows_host),
	};
	return aic_test_run(tests);
}
