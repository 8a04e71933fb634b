/*
 * Placement domains and the best-fit choice among them (domain.h).
 *
 * This file depends on libc alone: the select plugin compiles it in
 * directly, inside slurmctld and every SLURM client, where libaic's other
 * dependencies must not be loaded.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain.h"

void aic_domains_init(struct aic_domains *d, size_t n_nodes)
{
	d->n_nodes = n_nodes;
	d->domains = NULL;
	d->n_domains = 0;
}

void aic_domains_release(struct aic_domains *d)
{
	size_t i;

	if (!d)
		return;
	for (i = 0; i < d->n_domains; i++)
		free(d->domains[i].nodes);
	free(d->domains);
	d->domains = NULL;
	d->n_domains = 0;
}

static struct aic_domain *find_or_add(struct aic_domains *d, const char *name)
{
	struct aic_domain *p;
	size_t i;

	for (i = 0; i < d->n_domains; i++)
		if (!strcmp(d->domains[i].name, name))
			return &d->domains[i];
	p = realloc(d->domains, (d->n_domains + 1) * sizeof(*p));
	if (!p)
		return NULL;
	d->domains = p;
	p = &d->domains[d->n_domains++];
	memset(p, 0, sizeof(*p));
	memcpy(p->name, name, strlen(name) + 1);
	return p;
}

/* Inserts node into the ascending array, unless it is there already. */
static int insert_node(struct aic_domain *dom, uint32_t node)
{
	size_t lo = 0, hi = dom->n_nodes, mid;
	uint32_t *p;

	/* Callers usually add nodes in ascending order: append without searching. */
	if (dom->n_nodes && dom->nodes[dom->n_nodes - 1] < node) {
		lo = dom->n_nodes;
	} else {
		while (lo < hi) {
			mid = lo + (hi - lo) / 2;
			if (dom->nodes[mid] < node)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo < dom->n_nodes && dom->nodes[lo] == node)
			return 0;
	}
	p = realloc(dom->nodes, (dom->n_nodes + 1) * sizeof(*p));
	if (!p)
		return -ENOMEM;
	dom->nodes = p;
	memmove(&p[lo + 1], &p[lo], (dom->n_nodes - lo) * sizeof(*p));
	p[lo] = node;
	dom->n_nodes++;
	return 0;
}

int aic_domains_add(struct aic_domains *d, const char *name, uint32_t node)
{
	struct aic_domain *dom;

	if (!name || !name[0] || strlen(name) >= AIC_DOMAIN_NAME_MAX || node >= d->n_nodes)
		return -EINVAL;
	dom = find_or_add(d, name);
	if (!dom)
		return -ENOMEM;
	return insert_node(dom, node);
}

int aic_domains_add_features(struct aic_domains *d, uint32_t node, const char *features)
{
	const size_t plen = strlen(AIC_DOMAIN_NVL_FEATURE);
	const char *p = features, *end;
	char name[AIC_DOMAIN_NAME_MAX];
	int rc;

	while (p && *p) {
		size_t len;
		end = strchr(p, ',');
		len = end ? (size_t)(end - p) : strlen(p);
		if (len >= plen && !strncmp(p, AIC_DOMAIN_NVL_FEATURE, plen)) {
			size_t id_len = len - plen;
			/* "nvl:" + id must fit with its NUL. */
			if (id_len == 0 || id_len + 4 >= sizeof(name))
				return -EINVAL;
			snprintf(name, sizeof(name), "nvl:%.*s", (int)id_len, p + plen);
			rc = aic_domains_add(d, name, node);
			if (rc)
				return rc;
		}
		p = end ? end + 1 : NULL;
	}
	return 0;
}

/* One domain's figures for one job. */
struct fit {
	size_t index;
	size_t count;  /* free (now) or usable (ever) nodes */
	size_t usable; /* usable nodes: the domain's size for this job */
};

/* Whether a ranks before b: fewer nodes left over, then smaller, then older. */
static int fit_before(const struct fit *a, const struct fit *b)
{
	if (a->count != b->count)
		return a->count < b->count;
	if (a->usable != b->usable)
		return a->usable < b->usable;
	return a->index < b->index;
}

int aic_domains_rank(const struct aic_domains *d, const struct aic_domain_node *nodes,
		     uint32_t min_nodes, enum aic_domain_when when, size_t *order, size_t max_order)
{
	struct fit *best;
	size_t i, j, n_best = 0, n_required = 0;
	int rc;

	if (!d || (!nodes && d->n_nodes) || (!order && max_order))
		return -EINVAL;
	if (!max_order || !d->n_domains)
		return 0;
	if (min_nodes == 0)
		min_nodes = 1;
	for (i = 0; i < d->n_nodes; i++)
		if (nodes[i].required)
			n_required++;
	best = calloc(max_order, sizeof(*best));
	if (!best)
		return -ENOMEM;

	for (i = 0; i < d->n_domains; i++) {
		const struct aic_domain *dom = &d->domains[i];
		struct fit f = {.index = i};
		size_t required = 0;

		for (j = 0; j < dom->n_nodes; j++) {
			const struct aic_domain_node *n = &nodes[dom->nodes[j]];
			if (n->required)
				required++;
			if (!n->usable)
				continue;
			f.usable++;
			if (when == AIC_DOMAIN_EVER || n->free)
				f.count++;
		}
		if (required < n_required || f.count < min_nodes)
			continue;
		/* Keep the best max_order, sorted: insertion into a short array. */
		if (n_best == max_order && !fit_before(&f, &best[n_best - 1]))
			continue;
		j = n_best < max_order ? n_best : max_order - 1;
		for (; j > 0 && fit_before(&f, &best[j - 1]); j--)
			best[j] = best[j - 1];
		best[j] = f;
		if (n_best < max_order)
			n_best++;
	}
	for (i = 0; i < n_best; i++)
		order[i] = best[i].index;
	rc = (int)n_best;
	free(best);
	return rc;
}

static const char *const topology_names[] = {
	[AIC_TOPOLOGY_PREFER] = "prefer",
	[AIC_TOPOLOGY_STRICT] = "strict",
	[AIC_TOPOLOGY_OFF] = "off",
};

const char *aic_topology_name(enum aic_topology t)
{
	if ((unsigned)t < sizeof(topology_names) / sizeof(topology_names[0]))
		return topology_names[t];
	return "unknown";
}

int aic_topology_parse(const char *s, enum aic_topology *out)
{
	size_t i;

	for (i = 0; s && i < sizeof(topology_names) / sizeof(topology_names[0]); i++)
		if (!strcmp(s, topology_names[i])) {
			*out = (enum aic_topology)i;
			return 0;
		}
	return -EINVAL;
}

int aic_topology_from_job(const char *aic_job, enum aic_topology *out)
{
	const char *p = aic_job, *end;
	char value[16];
	size_t len;

	*out = aic_job ? AIC_TOPOLOGY_PREFER : AIC_TOPOLOGY_OFF;
	while (p && *p) {
		end = strchr(p, ';');
		len = end ? (size_t)(end - p) : strlen(p);
		if (len >= 9 && !strncmp(p, "topology=", 9)) {
			if (len - 9 >= sizeof(value))
				return -EINVAL;
			memcpy(value, p + 9, len - 9);
			value[len - 9] = '\0';
			return aic_topology_parse(value, out);
		}
		p = end ? end + 1 : NULL;
	}
	return 0;
}
