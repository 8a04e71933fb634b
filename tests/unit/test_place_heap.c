/*
 * The placement solver picks a replica's node from a heap of the usable
 * nodes, kept from one pick to the next, and keeps the last best GPU group
 * it found for nodes alike (lib/place/nodes.c): it must give exactly the
 * plan that scanning every node for every replica, and searching every
 * node's GPUs, gives (AIC_PLACE_SCAN=1), on nodes of every degree of busy
 * and on nodes all alike, for each kind of stage (spread and pack, with GPUs and CPU-only, colocated), with cores
 * shared or not, and when aic_place_more places a lost node's processes.
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aic_test.h"
#include "place.h"
#include "fixture.h"

#define NODES 24

static const char spec_text[] =
	"stages:\n"
	"  train: {command: t, ranks: 12, gpus: 1, cpus: 2}\n"
	"  cpu0: {command: c, replicas: 5, cpus: 1}\n"
	"  roll: {command: r, replicas: 40, gpus: 1, cpus: 1}\n"
	"  pair: {command: p, replicas: 10, gpus: 2, cpus: 1, placement: pack}\n"
	"  judge: {command: j, replicas: 6, gpus: 1, cpus: 0, colocate_with: roll}\n"
	"  cpu: {command: c, replicas: 30, cpus: 2}\n"
	"  cpk: {command: k, replicas: 20, cpus: 1, placement: pack}\n";

/* Free GPUs per node: a busy cluster's leftovers, from none to all 8. */
static const int n_free[NODES] = {0, 8, 3, 5, 1, 7, 0, 2, 6, 4, 8, 8, 1, 1, 3, 0, 5, 7, 2, 2, 6, 4, 0, 3};
static int allowed[NODES][8];
static struct aic_cpuset cpus[NODES];

/* Uneven: each node with its own free GPUs and cores; else all alike and all free. */
static void make_nodes(struct aic_place_node *nodes, const struct aic_topo *t, bool uneven)
{
	char text[64];
	size_t i, g;

	memset(nodes, 0, NODES * sizeof(*nodes));
	for (i = 0; i < NODES; i++) {
		nodes[i].topo = t;
		if (!uneven)
			continue;
		/*
		 * The free GPUs are a different subset on each node, not always
		 * the first ones ((3g + i) mod 8: distinct for g = 0..7).
		 */
		for (g = 0; g < (size_t)n_free[i]; g++)
			allowed[i][g] = (int)((g * 3 + i) % 8);
		nodes[i].gpus = allowed[i];
		nodes[i].n_gpus = (size_t)n_free[i];
		snprintf(text, sizeof(text), "0-%zu", 8 + (i * 5) % 40);
		aic_cpuset_parse(&cpus[i], text);
		nodes[i].cpus = &cpus[i];
	}
}

static struct aic_plan *place(const struct aic_spec *sp, const struct aic_place_node *nodes,
			      unsigned flags, const char *scan)
{
	struct aic_plan *plan = NULL;
	char *errors = NULL;

	setenv("AIC_PLACE_SCAN", scan, 1);
	if (aic_place_flags(sp, nodes, NODES, flags, &plan, &errors) != 0) {
		fprintf(stderr, "%s", errors ? errors : "(no message)\n");
		fail();
	}
	return plan;
}

static void same_plan(const struct aic_proc *a, const struct aic_proc *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (memcmp(&a[i], &b[i], sizeof(*a))) {
			fprintf(stderr, "process %zu (stage %zu, %d): node %zu (%s) by the heap, "
				"%zu (%s) by the scan\n", i, a[i].stage, a[i].index, a[i].node,
				a[i].why, b[i].node, b[i].why);
			fail();
		}
}

static void heap_matches_scan(void **state)
{
	struct aic_topo *t = fixture_topo("topo", "hgx-h100-8gpu.xml");
	struct aic_spec *sp = fixture_spec(spec_text);
	struct aic_place_node nodes[NODES];
	unsigned flags[2] = {0, AIC_PLACE_SOFT_CPUS};
	size_t f, i;

	(void)state;
	for (f = 0; f < 4; f++) {
		make_nodes(nodes, t, f < 2);
		struct aic_plan *heap = place(sp, nodes, flags[f % 2], "0");
		struct aic_plan *scan = place(sp, nodes, flags[f % 2], "1");
		assert_int_equal(heap->n_procs, scan->n_procs);
		assert_true(heap->n_procs > 100);
		same_plan(heap->procs, scan->procs, heap->n_procs);
		aic_plan_free(scan);

		/* Node 3 is lost: its replicas of each stage go elsewhere, both ways alike. */
		for (i = 1; i < sp->n_stages; i++) {
			struct aic_proc used[256], got[2][64];
			size_t n = 0, lost = 0, k;
			for (k = 0; k < heap->n_procs; k++) {
				if (heap->procs[k].node != 3)
					used[n++] = heap->procs[k];
				else
					lost += heap->procs[k].stage == i;
			}
			if (!lost)
				continue;
			nodes[3].down = true;
			for (k = 0; k < 2; k++) {
				setenv("AIC_PLACE_SCAN", k ? "1" : "0", 1);
				assert_int_equal(aic_place_more(sp, nodes, NODES, flags[f % 2], used, n, i,
								(int)lost, got[k], NULL),
						 0);
			}
			nodes[3].down = false;
			same_plan(got[0], got[1], lost);
		}
		aic_plan_free(heap);
	}
	unsetenv("AIC_PLACE_SCAN");
	aic_spec_free(sp);
	aic_topo_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(heap_matches_scan),
	};
	return aic_test_run(tests);
}
