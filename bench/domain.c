/*
 * The select plugin's domain chooser (lib/domain.c) at cluster size: 1,024
 * nodes in D NVLink domains (aic_nvl:<id>, D = 64 or 128, consecutive
 * nodes) and 32 leaf switches (interleaved across the NVLink domains), a
 * busy pattern like a running cluster's (jobs of 1 to 16 nodes packed into
 * domains until a target fraction of the nodes is busy, plus a few nodes
 * down), and the decision per job: aic_domains_rank for a job of k nodes,
 * placed now (free nodes) and ever (usable nodes).
 *
 *   build/bench/domain [REPS]
 *
 * Prints one JSON line per (domains, busy fraction, job size):
 *   {"bench": "domain", "nodes": 1024, "domains": D, "busy": f, "job_nodes": k,
 *    "when": "now"|"ever", "us_per_decision": median, "min": ..., "max": ...,
 *    "fits": domains that fit}
 * The median of REPS (default 5) runs of 2,000 decisions each.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "domain.h"

#define NODES 1024
#define SWITCHES 32
#define DECISIONS 2000

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/*
 * Busy nodes as a scheduler leaves them: jobs of 1..16 nodes, each packed
 * into one NVLink domain where it fits (best fit, as the chooser does), until
 * `busy` of the nodes are taken; 1% of the nodes are down (not usable).
 */
static void busy_pattern(struct aic_domain_node *nodes, const struct aic_domains *d, double busy,
			 unsigned seed)
{
	size_t taken = 0, i, order[256];

	srand(seed);
	for (i = 0; i < NODES; i++)
		nodes[i] = (struct aic_domain_node){.usable = rand() % 100 != 0, .free = true};
	while ((double)taken < busy * NODES) {
		uint32_t k = 1u << (rand() % 5);
		int n = aic_domains_rank(d, nodes, k, AIC_DOMAIN_NOW, order, 256), got = 0;
		const struct aic_domain *dom;
		size_t j;
		if (n <= 0)
			break;
		/* Among the domains that fit, a random one: not every job went through this chooser. */
		dom = &d->domains[order[rand() % n]];
		for (j = 0; j < dom->n_nodes && got < (int)k; j++) {
			struct aic_domain_node *x = &nodes[dom->nodes[j]];
			if (x->usable && x->free) {
				x->free = false;
				got++;
				taken++;
			}
		}
	}
}

int main(int argc, char **argv)
{
	static const size_t n_domains[] = {64, 128};
	static const double busy[] = {0.5, 0.8, 0.95};
	static const uint32_t sizes[] = {1, 4, 8, 16};
	int reps = argc > 1 ? atoi(argv[1]) : 5;
	struct aic_domain_node *nodes = calloc(NODES, sizeof(*nodes));
	size_t order[256], a, b, c, w;
	double *t = calloc((size_t)(reps > 0 ? reps : 1), sizeof(*t));

	if (reps < 1 || !nodes || !t) {
		fprintf(stderr, "usage: domain [REPS]\n");
		return 2;
	}
	for (a = 0; a < sizeof(n_domains) / sizeof(*n_domains); a++) {
		struct aic_domains d;
		uint32_t i;
		char name[64];
		aic_domains_init(&d, NODES);
		for (i = 0; i < NODES; i++) {
			snprintf(name, sizeof(name), "nvl:%zu", i / (NODES / n_domains[a]));
			snprintf(name + 32, sizeof(name) - 32, "switch:%u", i % SWITCHES);
			if (aic_domains_add(&d, name, i) != 0 || aic_domains_add(&d, name + 32, i) != 0) {
				fprintf(stderr, "domain: cannot build the domains\n");
				return 1;
			}
		}
		for (b = 0; b < sizeof(busy) / sizeof(*busy); b++) {
			busy_pattern(nodes, &d, busy[b], 1 + (unsigned)b);
			for (c = 0; c < sizeof(sizes) / sizeof(*sizes); c++)
				for (w = 0; w < 2; w++) {
					enum aic_domain_when when = w ? AIC_DOMAIN_EVER : AIC_DOMAIN_NOW;
					int r, k, fits = 0;
					for (r = 0; r < reps; r++) {
						double t0 = now_us();
						for (k = 0; k < DECISIONS; k++)
							fits = aic_domains_rank(&d, nodes, sizes[c], when,
										order, 256);
						t[r] = (now_us() - t0) / DECISIONS;
					}
					qsort(t, (size_t)reps, sizeof(*t), cmp_double);
					printf("{\"bench\": \"domain\", \"nodes\": %d, \"domains\": %zu, "
					       "\"switches\": %d, \"busy\": %.2f, \"job_nodes\": %u, "
					       "\"when\": \"%s\", \"us_per_decision\": %.3f, \"min\": %.3f, "
					       "\"max\": %.3f, \"fits\": %d}\n",
					       NODES, n_domains[a], SWITCHES, busy[b], sizes[c],
					       w ? "ever" : "now", t[reps / 2], t[0], t[reps - 1], fits);
				}
		}
		aic_domains_release(&d);
	}
	free(t);
	free(nodes);
	return 0;
}
