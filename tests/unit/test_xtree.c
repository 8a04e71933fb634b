/*
 * launcher/dataplane/xtree.c: the acker's table of unfinished trees. A
 * tree is done exactly when every id xored in was xored in twice, whatever
 * the order; roots are found after the table grows and after deletions
 * shift entries back; the nodes a tree touched are kept.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "aic_test.h"
#include "internal.h"

/* A tree of a source item and its children, acked in an order unlike the one they were made in. */
static void done_when_all_acked(void **state)
{
	struct xtree t = {0};
	struct xroot r = {.id = 42, .value = 0x1111, .line = 7, .chan = 1, .epoch = 2}, done = {0};
	uint64_t kids[3] = {0x2222, 0x4444, 0x8888};
	int k;

	(void)state;
	assert_int_equal(xtree_add(&t, &r), 0);
	assert_int_equal(xtree_add(&t, &r), -EEXIST);
	/* A worker holding the source item puts three items, then acks it. */
	for (k = 0; k < 3; k++)
		assert_int_equal(xtree_update(&t, 42, kids[k], 1u << 2, &done), 0);
	assert_int_equal(xtree_update(&t, 42, 0x1111, 1u << 2, &done), 0);
	/* Acked out of order, one of them seen at another node. */
	assert_int_equal(xtree_update(&t, 42, kids[2], 0, &done), 0);
	assert_int_equal(xtree_update(&t, 42, 0, 1u << 3, &done), 0);
	assert_int_equal(xtree_update(&t, 42, kids[0], 1, &done), 0);
	assert_non_null(xtree_find(&t, 42));
	assert_int_equal(xtree_update(&t, 42, kids[1], 1, &done), 1);
	/* Done: gone from the table, with what it was. */
	assert_null(xtree_find(&t, 42));
	assert_int_equal(t.n, 0);
	assert_true(done.id == 42 && done.line == 7 && done.chan == 1 && done.epoch == 2);
	assert_true(done.nodes == (1u | 1u << 2 | 1u << 3));
	/* A late update for it (a replayed or finished tree) is told apart. */
	assert_int_equal(xtree_update(&t, 42, 5, 1, NULL), -ENOENT);
	assert_int_equal(xtree_add(&t, &(struct xroot){.id = 0, .value = 1}), -EINVAL);
	xtree_release(&t);
}

/*
 * Many roots: the table grows, and deleting every other root (by
 * finishing its tree) leaves the rest findable with their values: what
 * the backward shift moves, it moves right.
 */
static void many_roots(void **state)
{
	enum { N = 5000 };
	struct xtree t = {0};
	uint64_t i;

	(void)state;
	for (i = 1; i <= N; i++) {
		/* Ids that collide in their low bits too. */
		struct xroot r = {.id = i << 20, .value = i * 3 + 1, .line = i};
		assert_int_equal(xtree_add(&t, &r), 0);
	}
	assert_int_equal(t.n, N);
	for (i = 2; i <= N; i += 2)
		assert_int_equal(xtree_update(&t, i << 20, i * 3 + 1, 0, NULL), 1);
	assert_int_equal(t.n, N / 2);
	for (i = 1; i <= N; i++) {
		struct xroot *r = xtree_find(&t, i << 20);
		if (i % 2 == 0) {
			assert_null(r);
			continue;
		}
		assert_non_null(r);
		assert_true(r->value == i * 3 + 1 && r->line == i);
	}
	for (i = 1; i <= N; i += 2)
		xtree_del(&t, xtree_find(&t, i << 20));
	assert_int_equal(t.n, 0);
	for (i = 0; i < t.cap; i++)
		assert_true(t.slots[i].id == 0);
	xtree_release(&t);
	assert_null(t.slots);
}

/* Random ids and values: a tree is done at its last ack and not before, in any order. */
static void random_trees(void **state)
{
	enum { TREES = 300, ITEMS = 20 };
	struct xtree t = {0};
	static uint64_t edges[TREES][ITEMS];
	int order[TREES * ITEMS], n = 0, i, done = 0;
	uint64_t seed = 12345;

	(void)state;
	for (i = 0; i < TREES; i++) {
		struct xroot r = {.id = (uint64_t)i + 1000};
		int k;
		for (k = 0; k < ITEMS; k++) {
			seed = seed * 6364136223846793005u + 1442695040888963407u;
			edges[i][k] = seed | 1;
			r.value ^= edges[i][k]; /* made */
			order[n++] = i * ITEMS + k;
		}
		assert_int_equal(xtree_add(&t, &r), 0);
	}
	for (i = n - 1; i > 0; i--) {
		int j, tmp;
		seed = seed * 6364136223846793005u + 1442695040888963407u;
		j = (int)((seed >> 33) % (uint64_t)(i + 1));
		tmp = order[i];
		order[i] = order[j];
		order[j] = tmp;
	}
	{
		int left[TREES];
		for (i = 0; i < TREES; i++)
			left[i] = ITEMS;
		for (i = 0; i < n; i++) {
			int tr = order[i] / ITEMS, rc;
			rc = xtree_update(&t, (uint64_t)tr + 1000, edges[tr][order[i] % ITEMS], 0,
					  NULL);
			assert_int_equal(rc, --left[tr] == 0 ? 1 : 0);
			done += rc;
		}
	}
	assert_int_equal(done, TREES);
	assert_int_equal(t.n, 0);
	xtree_release(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(done_when_all_acked),
		cmocka_unit_test(many_roots),
		cmocka_unit_test(random_trees),
	};

	return aic_test_run(tests);
}
