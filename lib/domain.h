/*
 * Placement domains: groups of nodes that talk faster among themselves than
 * with the rest of the cluster (one NVLink domain, one leaf switch), and the
 * choice of the domain an aic job should run in.
 *
 * This is what the select plugin (plugins/select/) decides, written as pure
 * functions over plain arrays: no SLURM headers, no globals, no I/O. Nodes
 * are numbered 0..n_nodes-1 (the plugin uses SLURM's node index); a domain
 * is a named set of node numbers, and one node may belong to several
 * domains (its NVLink domain and its leaf switch).
 *
 * The choice is best fit: among the domains that hold every node the job
 * requires and enough nodes for it, the one with the fewest nodes left
 * over (free ones when placing now, usable ones when asking whether the
 * job could ever run), then the smaller domain, then the one added first.
 * Filling the fullest domain that still fits keeps whole domains free for
 * the jobs that need them.
 */
#ifndef AIC_DOMAIN_H
#define AIC_DOMAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Node feature that puts a node in an NVLink domain: aic_nvl:<id>. */
#define AIC_DOMAIN_NVL_FEATURE "aic_nvl:"
/* Longest domain name kept (longer ids are refused). */
#define AIC_DOMAIN_NAME_MAX 64

struct aic_domain {
	char name[AIC_DOMAIN_NAME_MAX]; /* "nvl:<id>" or "switch:<name>" */
	uint32_t *nodes;		/* ascending, without repeats */
	size_t n_nodes;
};

/* A set of domains over n_nodes nodes. */
struct aic_domains {
	size_t n_nodes;
	struct aic_domain *domains; /* in the order they were first named */
	size_t n_domains;
};

/* What the caller knows about one node for one job. */
struct aic_domain_node {
	bool usable;   /* the job may run on it at all (partition, state, constraints) */
	bool free;     /* it has room for the job now (meaningless unless usable) */
	bool required; /* the job asked for it by name */
};

enum aic_domain_when {
	AIC_DOMAIN_NOW,	 /* place the job now: count free nodes */
	AIC_DOMAIN_EVER, /* could it ever run (or when): count usable nodes */
};

/*
 * The job's topology policy, from its spec's top-level `topology:`.
 *   prefer  run inside one domain when one fits now, anywhere otherwise
 *   strict  run inside one domain only; wait for one
 *   off     no domain logic at all
 */
enum aic_topology {
	AIC_TOPOLOGY_PREFER = 0,
	AIC_TOPOLOGY_STRICT,
	AIC_TOPOLOGY_OFF,
};

/* Initialises an empty set over n_nodes nodes; release with aic_domains_release(). */
void aic_domains_init(struct aic_domains *d, size_t n_nodes);

/* Frees what the set owns and leaves it empty (n_nodes kept); NULL is a no-op. */
void aic_domains_release(struct aic_domains *d);

/*
 * Puts node `node` in the domain called `name`, creating the domain on
 * first use. Adding a node twice is harmless. Returns 0, -EINVAL (node out
 * of range, or an empty or too long name) or -ENOMEM.
 */
int aic_domains_add(struct aic_domains *d, const char *name, uint32_t node);

/*
 * Reads a node's comma-separated feature list (SLURM's Features= value)
 * and puts the node in domain "nvl:<id>" for each feature aic_nvl:<id>.
 * Other features are ignored; NULL or "" adds nothing. Returns 0, or
 * what aic_domains_add() returns (an empty or too long id is -EINVAL).
 */
int aic_domains_add_features(struct aic_domains *d, uint32_t node, const char *features);

/*
 * Ranks the domains a job needing at least min_nodes nodes (0 counts as 1)
 * could run in, best first (see the top of this file). nodes[] has
 * d->n_nodes entries. Writes at most max_order domain indices into order[]
 * and returns how many it wrote (0: no domain fits), or -EINVAL.
 */
int aic_domains_rank(const struct aic_domains *d, const struct aic_domain_node *nodes,
		     uint32_t min_nodes, enum aic_domain_when when, size_t *order, size_t max_order);

/*
 * The topology policy in an AIC_JOB value ("v=1;...;topology=strict"; see
 * plugins/spank/job.h). NULL (not an aic job) gives AIC_TOPOLOGY_OFF; a
 * value without topology= gives AIC_TOPOLOGY_PREFER. Returns 0, or
 * -EINVAL for an unknown policy (and then *out is AIC_TOPOLOGY_PREFER).
 */
int aic_topology_from_job(const char *aic_job, enum aic_topology *out);

/* "prefer", "strict" or "off". */
const char *aic_topology_name(enum aic_topology t);

/* Parses "prefer", "strict" or "off". Returns 0, or -EINVAL. */
int aic_topology_parse(const char *s, enum aic_topology *out);

#endif
