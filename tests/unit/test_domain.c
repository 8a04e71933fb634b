/*
 * The domain choice of the select plugin (lib/domain.c) over synthetic
 * clusters: no SLURM involved.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aic_test.h"
#include "domain.h"

#define MAX_NODES 64

/*
 * A synthetic cluster from a picture, one character per node:
 *   '.' free   'x' busy (usable, not free)   '-' not usable   'R' required and free
 *   'r' required and busy
 */
static void nodes_from(const char *pic, struct aic_domain_node *n)
{
	size_t i;

	memset(n, 0, sizeof(*n) * MAX_NODES);
	for (i = 0; pic[i]; i++) {
		n[i].usable = pic[i] != '-';
		n[i].free = pic[i] == '.' || pic[i] == 'R';
		n[i].required = pic[i] == 'R' || pic[i] == 'r';
	}
}

/* Domains "NAME:i,j,k NAME:..." over n nodes. */
static void domains_from(struct aic_domains *d, size_t n, const char *spec)
{
	char buf[512], *tok, *save = NULL, *ids, *id, *save2 = NULL;

	aic_domains_init(d, n);
	snprintf(buf, sizeof(buf), "%s", spec);
	for (tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		ids = strchr(tok, ':');
		assert_non_null(ids);
		*ids++ = '\0';
		for (id = strtok_r(ids, ",", &save2); id; id = strtok_r(NULL, ",", &save2))
			assert_int_equal(aic_domains_add(d, tok, (uint32_t)atoi(id)), 0);
	}
}

/* The ranking as "name name ...", or "" when no domain fits. */
static const char *rank(const struct aic_domains *d, const char *pic, uint32_t min_nodes,
			enum aic_domain_when when, size_t max)
{
	static char out[256];
	struct aic_domain_node nodes[MAX_NODES];
	size_t order[16], o = 0;
	int n, i;

	nodes_from(pic, nodes);
	assert_true(max <= 16);
	n = aic_domains_rank(d, nodes, min_nodes, when, order, max);
	assert_true(n >= 0);
	out[0] = '\0';
	for (i = 0; i < n; i++)
		o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%s", i ? " " : "",
				      d->domains[order[i]].name);
	return out;
}

/* Two interleaved NVLink domains over six nodes, n1 (index 0) busy. */
static void test_interleaved_best_fit(void **state)
{
	struct aic_domains d;

	(void)state;
	domains_from(&d, 6, "a:0,2,4 b:1,3,5");
	/* a has 2 free nodes, b has 3: a is the tighter fit for 2 nodes. */
	assert_string_equal(rank(&d, "x.....", 2, AIC_DOMAIN_NOW, 4), "a b");
	/* Three nodes fit only in b now... */
	assert_string_equal(rank(&d, "x.....", 3, AIC_DOMAIN_NOW, 4), "b");
	/* ...but either domain could hold them once a's busy node frees. */
	assert_string_equal(rank(&d, "x.....", 3, AIC_DOMAIN_EVER, 4), "a b");
	/* Four nodes never fit in one domain. */
	assert_string_equal(rank(&d, "......", 4, AIC_DOMAIN_EVER, 4), "");
	/* 0 nodes counts as 1. */
	assert_string_equal(rank(&d, "......", 0, AIC_DOMAIN_NOW, 4), "a b");
	aic_domains_release(&d);
}

static void test_ties_and_sizes(void **state)
{
	struct aic_domains d;

	(void)state;
	/* Equal free counts: the smaller domain wins, then the older one. */
	domains_from(&d, 8, "big:0,1,2,3,4,5 small:6,7 twin:4,5");
	assert_string_equal(rank(&d, "xxxx....", 2, AIC_DOMAIN_NOW, 4), "small twin big");
	assert_string_equal(rank(&d, "........", 2, AIC_DOMAIN_NOW, 4), "small twin big");
	/* Unusable nodes do not count toward the size: all three have 2, the oldest wins. */
	assert_string_equal(rank(&d, "----....", 2, AIC_DOMAIN_EVER, 4), "big small twin");
	aic_domains_release(&d);
}

static void test_required_nodes(void **state)
{
	struct aic_domains d;

	(void)state;
	domains_from(&d, 6, "a:0,2,4 b:1,3,5");
	/* Node 3 (in b) is required: only b qualifies, though a fits better. */
	assert_string_equal(rank(&d, "x..R..", 2, AIC_DOMAIN_NOW, 4), "b");
	/* Required nodes in two domains: no single domain holds them. */
	assert_string_equal(rank(&d, "R..R..", 2, AIC_DOMAIN_NOW, 4), "");
	/* A required busy node still counts when asking about ever. */
	assert_string_equal(rank(&d, "r.....", 3, AIC_DOMAIN_EVER, 4), "a");
	aic_domains_release(&d);
}

static void test_cap(void **state)
{
	struct aic_domains d;

	(void)state;
	domains_from(&d, 8, "a:0,1 b:2,3 c:4,5 d:6,7");
	/* Fewer free nodes first; a cap keeps only the best. */
	assert_string_equal(rank(&d, "...x.x..", 1, AIC_DOMAIN_NOW, 16), "b c a d");
	assert_string_equal(rank(&d, "...x.x..", 1, AIC_DOMAIN_NOW, 2), "b c");
	assert_string_equal(rank(&d, "...x.x..", 1, AIC_DOMAIN_NOW, 1), "b");
	assert_string_equal(rank(&d, "x......x", 1, AIC_DOMAIN_NOW, 3), "a d b");
	aic_domains_release(&d);
}

static void test_add(void **state)
{
	struct aic_domains d;

	(void)state;
	aic_domains_init(&d, 4);
	assert_int_equal(aic_domains_add(&d, "a", 3), 0);
	assert_int_equal(aic_domains_add(&d, "a", 1), 0);
	assert_int_equal(aic_domains_add(&d, "a", 3), 0);
	assert_int_equal(aic_domains_add(&d, "a", 2), 0);
	assert_int_equal(d.n_domains, 1);
	assert_int_equal(d.domains[0].n_nodes, 3);
	assert_int_equal(d.domains[0].nodes[0], 1);
	assert_int_equal(d.domains[0].nodes[1], 2);
	assert_int_equal(d.domains[0].nodes[2], 3);
	assert_int_equal(aic_domains_add(&d, "a", 4), -EINVAL);
	assert_int_equal(aic_domains_add(&d, "", 0), -EINVAL);
	assert_int_equal(aic_domains_add(&d, NULL, 0), -EINVAL);
	assert_int_equal(aic_domains_add(&d,
					 "0123456789012345678901234567890123456789"
					 "0123456789012345678901234567890123456789",
					 0),
			 -EINVAL);
	aic_domains_release(&d);
	assert_int_equal(d.n_domains, 0);
	aic_domains_release(&d);
	aic_domains_release(NULL);
}

static void test_features(void **state)
{
	struct aic_domains d;

	(void)state;
	aic_domains_init(&d, 3);
	assert_int_equal(aic_domains_add_features(&d, 0, "gpu,aic_nvl:7,fast"), 0);
	assert_int_equal(aic_domains_add_features(&d, 1, "aic_nvl:7"), 0);
	assert_int_equal(aic_domains_add_features(&d, 2, "aic_nvl:8,aic_nvl:7"), 0);
	assert_int_equal(aic_domains_add_features(&d, 2, NULL), 0);
	assert_int_equal(aic_domains_add_features(&d, 2, ""), 0);
	assert_int_equal(aic_domains_add_features(&d, 2, "aic_nvl,nvl:3,xaic_nvl:1"), 0);
	assert_int_equal(d.n_domains, 2);
	assert_string_equal(d.domains[0].name, "nvl:7");
	assert_int_equal(d.domains[0].n_nodes, 3);
	assert_string_equal(d.domains[1].name, "nvl:8");
	assert_int_equal(d.domains[1].n_nodes, 1);
	assert_int_equal(aic_domains_add_features(&d, 0, "aic_nvl:"), -EINVAL);
	assert_int_equal(aic_domains_add_features(&d, 0,
						  "aic_nvl:0123456789012345678901234567890123456789"
						  "0123456789012345678901234567890123456789"),
			 -EINVAL);
	aic_domains_release(&d);
}

static void test_topology_policy(void **state)
{
	enum aic_topology t;

	(void)state;
	assert_int_equal(aic_topology_from_job(NULL, &t), 0);
	assert_int_equal(t, AIC_TOPOLOGY_OFF);
	assert_int_equal(aic_topology_from_job("v=1;spec=/a;name=x;stages=1", &t), 0);
	assert_int_equal(t, AIC_TOPOLOGY_PREFER);
	assert_int_equal(aic_topology_from_job("v=1;topology=strict;gpus=2", &t), 0);
	assert_int_equal(t, AIC_TOPOLOGY_STRICT);
	assert_int_equal(aic_topology_from_job("v=1;max_gpus=2;topology=off", &t), 0);
	assert_int_equal(t, AIC_TOPOLOGY_OFF);
	assert_int_equal(aic_topology_from_job("v=1;topology=sometimes", &t), -EINVAL);
	assert_int_equal(t, AIC_TOPOLOGY_PREFER);
	assert_int_equal(aic_topology_from_job("v=1;topology=", &t), -EINVAL);
	assert_int_equal(aic_topology_from_job("v=1;topology=strictly-not-a-policy", &t), -EINVAL);
	/* A spec path that merely contains the word is not the key. */
	assert_int_equal(aic_topology_from_job("spec=/x/topology=strict.yaml", &t), 0);
	assert_int_equal(t, AIC_TOPOLOGY_PREFER);
	assert_string_equal(aic_topology_name(AIC_TOPOLOGY_STRICT), "strict");
	assert_int_equal(aic_topology_parse("off", &t), 0);
	assert_int_equal(t, AIC_TOPOLOGY_OFF);
	assert_int_equal(aic_topology_parse("Off", &t), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_interleaved_best_fit),
		cmocka_unit_test(test_ties_and_sizes),
		cmocka_unit_test(test_required_nodes),
		cmocka_unit_test(test_cap),
		cmocka_unit_test(test_add),
		cmocka_unit_test(test_features),
		cmocka_unit_test(test_topology_policy),
	};
	return aic_test_run(tests);
}
