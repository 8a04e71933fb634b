/*
 * The best set of k GPUs on one node (see the objective's point 3 in
 * place.c): exhaustive over subsets while that is cheap, greedy beyond.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "internal.h"

#define MAX_SUBSETS 20000

int aic__place_cmp_quality(const struct quality *a, const struct quality *b)
{
	if (a->min_score != b->min_score)
		return a->min_score > b->min_score ? 1 : -1;
	if (a->sum_score != b->sum_score)
		return a->sum_score > b->sum_score ? 1 : -1;
	if (a->same_numa != b->same_numa)
		return a->same_numa > b->same_numa ? 1 : -1;
	if (a->spare != b->spare)
		return a->spare > b->spare ? 1 : -1;
	return 0;
}

static void quality_of(const struct aic_topo *t, uint64_t group, uint64_t avail, struct quality *q)
{
	int idx[AIC_PLACE_MAX_GPUS], n = 0, i, j, numa;
	uint64_t rest = avail & ~group;

	for (i = 0; i < AIC_PLACE_MAX_GPUS; i++)
		if (group >> i & 1)
			idx[n++] = i;
	q->min_score = n > 1 ? 1 << 30 : 0;
	q->sum_score = 0;
	q->spare = 0;
	numa = n ? t->gpus[idx[0]].numa : -1;
	q->same_numa = numa >= 0;
	for (i = 0; i < n; i++) {
		int best = 0;
		if (t->gpus[idx[i]].numa != numa)
			q->same_numa = 0;
		for (j = i + 1; j < n; j++) {
			int s = aic_topo_link_score(t, (size_t)idx[i], (size_t)idx[j]);
			q->sum_score += s;
			if (s < q->min_score)
				q->min_score = s;
		}
		for (j = 0; j < AIC_PLACE_MAX_GPUS; j++)
			if (rest >> j & 1) {
				int s = aic_topo_link_score(t, (size_t)idx[i], (size_t)j);
				if (s > best)
					best = s;
			}
		q->spare -= best;
	}
}

static double choose(int n, int k)
{
	double r = 1;
	int i;

	for (i = 1; i <= k; i++)
		r = r * (n - k + i) / i;
	return r;
}

struct search {
	const struct aic_topo *t;
	uint64_t avail;
	int idx[AIC_PLACE_MAX_GPUS], n, k;
	uint64_t best;
	struct quality bq;
	bool found;
};

/* Visits subsets in lexicographic order; the first of equal quality wins. */
static void enumerate(struct search *s, int from, int left, uint64_t group)
{
	int i;

	if (left == 0) {
		struct quality q;
		quality_of(s->t, group, s->avail, &q);
		if (!s->found || aic__place_cmp_quality(&q, &s->bq) > 0) {
			s->best = group;
			s->bq = q;
			s->found = true;
		}
		return;
	}
	for (i = from; i <= s->n - left; i++)
		enumerate(s, i + 1, left - 1, group | UINT64_C(1) << s->idx[i]);
}

/* Greedy for large searches: grow from the lowest GPU by the best link. */
static uint64_t greedy(const struct aic_topo *t, uint64_t avail, int k)
{
	uint64_t group = 0;
	int n;

	for (n = 0; n < k; n++) {
		int i, best = -1, best_min = -1, best_sum = -1;
		for (i = 0; i < AIC_PLACE_MAX_GPUS; i++) {
			int j, mn = 1 << 30, sum = 0;
			if (!(avail >> i & 1) || group >> i & 1)
				continue;
			for (j = 0; j < AIC_PLACE_MAX_GPUS; j++)
				if (group >> j & 1) {
					int sc = aic_topo_link_score(t, (size_t)i, (size_t)j);
					sum += sc;
					if (sc < mn)
						mn = sc;
				}
			if (mn > best_min || (mn == best_min && sum > best_sum)) {
				best = i;
				best_min = mn;
				best_sum = sum;
			}
		}
		group |= UINT64_C(1) << best;
	}
	return group;
}

/* The best k GPUs among avail; false when fewer than k are available. */
bool aic__place_best_group(const struct aic_topo *t, uint64_t avail, int k, uint64_t *out,
			   struct quality *q)
{
	struct search s = {.t = t, .avail = avail, .k = k};
	int i;

	if (k == 0) {
		*out = 0;
		memset(q, 0, sizeof(*q));
		return true;
	}
	if (popcount(avail) < k)
		return false;
	for (i = 0; i < AIC_PLACE_MAX_GPUS; i++)
		if (avail >> i & 1)
			s.idx[s.n++] = i;
	if (choose(s.n, k) > MAX_SUBSETS) {
		*out = greedy(t, avail, k);
		quality_of(t, *out, avail, q);
		return true;
	}
	enumerate(&s, 0, k, 0);
	*out = s.best;
	*q = s.bq;
	return true;
}
