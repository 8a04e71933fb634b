/*
 * select/cons_tres_aic: SLURM's cons_tres with topology-aware placement of
 * aic jobs (doc/select_cons_tres_aic.8).
 *
 * A thin wrapper. Every select_p_* call is forwarded to select/cons_tres,
 * loaded through SLURM's own plugin loader on first use (the pattern of
 * SLURM's select/cray_aries over select/other); the wrapper keeps no
 * node or job data of its own, so everything SLURM packs and sends is
 * cons_tres's, under this plugin's id. Only select_p_job_test adds logic:
 * for a job whose SPANK job environment carries AIC_JOB (spank_aic.so's
 * --aic-job), it asks cons_tres to place the job inside one domain (an
 * NVLink domain from node features aic_nvl:<id>, or a leaf switch of
 * topology.conf), trying the best-fitting domains first (lib/domain.c
 * decides; this file only adapts SLURM's structures to it).
 *
 * Every SLURM client (sinfo, squeue, srun, ...) loads every select plugin
 * it finds, so loading this one does nothing: cons_tres is loaded on the
 * first call that needs it, domains on the first job test.
 *
 * It uses SLURM internals (slurmctld.h, select.h), so it must be built
 * against the source of exactly the installed SLURM release: SLURM's
 * loader refuses a select plugin of another major.minor.micro.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

/* SLURM's internal headers declare some functions without prototypes. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#include "slurm/slurm.h"
#include "slurm/slurm_errno.h"
/*
 * Maps error() and friends to libslurm's slurm_error(), ...: without it the
 * linker binds error() to glibc's error(3), which exits the process.
 */
#include "src/common/slurm_xlator.h"

#include "src/common/bitstring.h"
#include "src/common/list.h"
#include "src/common/log.h"
#include "src/common/node_conf.h"
#include "src/common/plugin.h"
#include "src/common/select.h"
#include "src/common/slurm_topology.h"
#include "src/common/xmalloc.h"
#include "src/slurmctld/slurmctld.h"
#pragma GCC diagnostic pop

#include "domain.h"

/*
 * This plugin's id. SLURM packs it with node and job select data, and
 * every client looks the plugin up by it, so it must be unique among the
 * installed select plugins (SLURM's own use 101-110) and must never
 * change: 190 is aic's.
 */
#define AIC_SELECT_PLUGIN_ID 190

const char plugin_name[] = "aic topology-aware cons_tres (NVLink domains, leaf switches)";
const char plugin_type[] = "select/cons_tres_aic";
const uint32_t plugin_id = AIC_SELECT_PLUGIN_ID;
const uint32_t plugin_version = SLURM_VERSION_NUMBER;

/* Domains tried per job test: backfill's WILL_RUN tests come often, so fewer. */
#define AIC_TRY_NOW 8
#define AIC_TRY_WILL_RUN 3

/* The delegate: select/cons_tres through SLURM's loader. */
static const char *aic_select_syms[] = {
	"plugin_id",
	"select_p_state_save",
	"select_p_state_restore",
	"select_p_job_init",
	"select_p_node_init",
	"select_p_job_test",
	"select_p_job_begin",
	"select_p_job_ready",
	"select_p_job_expand",
	"select_p_job_resized",
	"select_p_job_signal",
	"select_p_job_fini",
	"select_p_job_suspend",
	"select_p_job_resume",
	"select_p_step_pick_nodes",
	"select_p_step_start",
	"select_p_step_finish",
	"select_p_select_nodeinfo_pack",
	"select_p_select_nodeinfo_unpack",
	"select_p_select_nodeinfo_alloc",
	"select_p_select_nodeinfo_free",
	"select_p_select_nodeinfo_set_all",
	"select_p_select_nodeinfo_set",
	"select_p_select_nodeinfo_get",
	"select_p_select_jobinfo_alloc",
	"select_p_select_jobinfo_free",
	"select_p_select_jobinfo_set",
	"select_p_select_jobinfo_get",
	"select_p_select_jobinfo_copy",
	"select_p_select_jobinfo_pack",
	"select_p_select_jobinfo_unpack",
	"select_p_select_jobinfo_sprint",
	"select_p_select_jobinfo_xstrdup",
	"select_p_get_info_from_plugin",
	"select_p_update_node_config",
	"select_p_reconfigure",
	"select_p_resv_test",
};

/* One name per member of slurm_select_ops_t, or the loader fills it wrongly. */
_Static_assert(sizeof(aic_select_syms) / sizeof(aic_select_syms[0]) ==
		       sizeof(slurm_select_ops_t) / sizeof(void *),
	       "aic_select_syms does not match slurm_select_ops_t of this SLURM release");

static slurm_select_ops_t cons;
static plugin_context_t *cons_context;
static pthread_mutex_t cons_lock = PTHREAD_MUTEX_INITIALIZER;

/* Loads cons_tres once. Returns SLURM_SUCCESS or SLURM_ERROR (logged). */
static int cons_load(void)
{
	int rc = SLURM_SUCCESS;

	slurm_mutex_lock(&cons_lock);
	if (!cons_context) {
		cons_context = plugin_context_create("select", "select/cons_tres", (void **)&cons,
						     aic_select_syms, sizeof(aic_select_syms));
		if (!cons_context) {
			error("%s: cannot load select/cons_tres, which this plugin wraps", plugin_type);
			rc = SLURM_ERROR;
		}
	}
	slurm_mutex_unlock(&cons_lock);
	return rc;
}

/*
 * The domains, built on the first job test and again whenever the node
 * table, its features or the switch table may have changed. Guarded by
 * domains_lock (slurmctld may test jobs from several threads).
 */
static pthread_mutex_t domains_lock = PTHREAD_MUTEX_INITIALIZER;
static struct aic_domains domains;
static bitstr_t **domain_bitmaps; /* one per domain, node_record_count bits */
static size_t n_domain_bitmaps;
static bool domains_valid;
static time_t domains_node_update;
static int domains_node_count = -1;
static switch_record_t *domains_switch_table;
static int domains_switch_count = -1;

static void domains_clear(void)
{
	size_t i;

	for (i = 0; i < n_domain_bitmaps; i++)
		FREE_NULL_BITMAP(domain_bitmaps[i]);
	xfree(domain_bitmaps);
	n_domain_bitmaps = 0;
	aic_domains_release(&domains);
	domains_valid = false;
}

static int domains_build(void)
{
	node_record_t *node;
	size_t i, j;
	int n, rc = 0;
	char name[AIC_DOMAIN_NAME_MAX];

	domains_clear();
	aic_domains_init(&domains, (size_t)node_record_count);
	for (n = 0; (node = next_node(&n)); n++) {
		const char *f = node->features_act ? node->features_act : node->features;
		rc = aic_domains_add_features(&domains, node->index, f);
		if (rc == -EINVAL) {
			/* A bad feature must not stop the other nodes' domains. */
			error("%s: node '%s': ignoring an invalid %s<id> feature in '%s'", plugin_type,
			      node->name, AIC_DOMAIN_NVL_FEATURE, f);
			rc = 0;
		}
		if (rc)
			goto out;
	}
	for (n = 0; n < switch_record_cnt && switch_record_table; n++) {
		const switch_record_t *sw = &switch_record_table[n];
		bitoff_t b, size;
		if (sw->level != 0 || !sw->node_bitmap || !sw->name)
			continue;
		if (snprintf(name, sizeof(name), "switch:%s", sw->name) >= (int)sizeof(name)) {
			error("%s: ignoring switch '%s': name too long", plugin_type, sw->name);
			continue;
		}
		size = bit_size(sw->node_bitmap);
		for (b = 0; b < size && b < node_record_count; b++)
			if (bit_test(sw->node_bitmap, b) &&
			    (rc = aic_domains_add(&domains, name, (uint32_t)b)))
				goto out;
	}
	domain_bitmaps = xcalloc(domains.n_domains ? domains.n_domains : 1, sizeof(bitstr_t *));
	n_domain_bitmaps = domains.n_domains;
	for (i = 0; i < domains.n_domains; i++) {
		domain_bitmaps[i] = bit_alloc(node_record_count);
		for (j = 0; j < domains.domains[i].n_nodes; j++)
			bit_set(domain_bitmaps[i], domains.domains[i].nodes[j]);
	}
	domains_valid = true;
	domains_node_update = last_node_update;
	domains_node_count = node_record_count;
	domains_switch_table = switch_record_table;
	domains_switch_count = switch_record_cnt;
	verbose("%s: %zu placement domains over %d nodes", plugin_type, domains.n_domains,
		node_record_count);
out:
	if (rc) {
		error("%s: cannot build placement domains: %s", plugin_type, strerror(-rc));
		domains_clear();
	}
	return rc;
}

/* With domains_lock held: fresh domains, or false (then no domain logic). */
static bool domains_fresh(void)
{
	if (!domains_valid || domains_node_update != last_node_update ||
	    domains_node_count != node_record_count || domains_switch_table != switch_record_table ||
	    domains_switch_count != switch_record_cnt)
		domains_build();
	return domains_valid;
}

/* The job's AIC_JOB value from its SPANK job environment, or NULL. */
static const char *job_aic_value(const job_record_t *job)
{
	uint32_t i;

	for (i = 0; job->spank_job_env && i < job->spank_job_env_size; i++) {
		const char *e = job->spank_job_env[i];
		if (e && !strncmp(e, "AIC_JOB=", 8))
			return e + 8;
	}
	return NULL;
}

/* Whether a node in the candidate set has room for part of this job now (an estimate). */
static bool node_free_for(const node_record_t *node, const job_record_t *job)
{
	const struct job_details *d = job->details;
	bool whole = d->whole_node == WHOLE_NODE_REQUIRED || d->share_res == 0;

	if (IS_NODE_COMPLETING(node))
		return false;
	if (IS_NODE_IDLE(node))
		return true;
	return !whole && IS_NODE_MIXED(node);
}

/* Attempt: cons_tres on bitmap narrowed to one domain, with its own preemptee list. */
static int try_domain(job_record_t *job, bitstr_t *bitmap, size_t dom, uint32_t min_nodes,
		      uint32_t max_nodes, uint32_t req_nodes, uint16_t mode, List candidates,
		      List *preemptees, bitstr_t *exc_core_bitmap, bitstr_t **out)
{
	bitstr_t *narrow = bit_copy(bitmap);
	int rc;

	bit_and(narrow, domain_bitmaps[dom]);
	*preemptees = NULL;
	rc = (*cons.job_test)(job, narrow, min_nodes, max_nodes, req_nodes, mode, candidates,
			      preemptees, exc_core_bitmap);
	if (rc != SLURM_SUCCESS) {
		FREE_NULL_BITMAP(narrow);
		FREE_NULL_LIST(*preemptees);
	}
	*out = narrow;
	return rc;
}

/*
 * The domain logic of select_p_job_test. Returns SLURM_SUCCESS with bitmap
 * narrowed to the chosen nodes; SLURM_ERROR when the job must wait (strict);
 * or ESLURM_NOT_SUPPORTED when plain cons_tres should decide.
 */
static int job_test_domains(job_record_t *job, bitstr_t *bitmap, uint32_t min_nodes,
			    uint32_t max_nodes, uint32_t req_nodes, uint16_t mode, List candidates,
			    List *preemptee_job_list, bitstr_t *exc_core_bitmap,
			    enum aic_topology policy)
{
	const uint16_t base = mode & SELECT_MODE_BASE;
	struct aic_domain_node *nodes = NULL;
	enum aic_domain_when when = AIC_DOMAIN_EVER;
	size_t order[AIC_TRY_NOW], max_try = AIC_TRY_NOW, i;
	bitstr_t *best = NULL;
	List best_preemptees = NULL;
	time_t best_start = 0;
	size_t best_dom = 0;
	node_record_t *node;
	int n, ranked, rc = ESLURM_NOT_SUPPORTED;

	/* prefer only shapes placement now; planning and admission stay cons_tres's. */
	if (policy == AIC_TOPOLOGY_PREFER && base != SELECT_MODE_RUN_NOW)
		return ESLURM_NOT_SUPPORTED;
	if (base == SELECT_MODE_RUN_NOW && !(candidates && list_count(candidates)))
		when = AIC_DOMAIN_NOW; /* with preemption, cons_tres knows what can be freed */
	if (base == SELECT_MODE_WILL_RUN)
		max_try = AIC_TRY_WILL_RUN;

	slurm_mutex_lock(&domains_lock);
	if (!domains_fresh() || !domains.n_domains)
		goto out; /* no domains: nothing to be strict about */
	nodes = xcalloc(domains.n_nodes ? domains.n_nodes : 1, sizeof(*nodes));
	for (n = 0; (node = next_node(&n)); n++) {
		struct aic_domain_node *dn;
		if (node->index >= domains.n_nodes)
			continue;
		dn = &nodes[node->index];
		dn->usable = bit_test(bitmap, node->index);
		dn->free = dn->usable && node_free_for(node, job);
		dn->required = job->details->req_node_bitmap &&
			       bit_test(job->details->req_node_bitmap, node->index);
	}
	ranked = aic_domains_rank(&domains, nodes, min_nodes, when, order, max_try);
	if (ranked < 0) {
		error("%s: %pJ: cannot rank domains: %s", plugin_type, job, strerror(-ranked));
		goto out;
	}
	for (i = 0; i < (size_t)ranked; i++) {
		bitstr_t *narrow = NULL;
		List preemptees = NULL;
		if (try_domain(job, bitmap, order[i], min_nodes, max_nodes, req_nodes, mode,
			       candidates, &preemptees, exc_core_bitmap, &narrow) != SLURM_SUCCESS)
			continue;
		/* WILL_RUN: the earliest start among the domains tried; else the first fit. */
		if (!best || job->start_time < best_start) {
			FREE_NULL_BITMAP(best);
			FREE_NULL_LIST(best_preemptees);
			best = narrow;
			best_preemptees = preemptees;
			best_start = job->start_time;
			best_dom = order[i];
		} else {
			FREE_NULL_BITMAP(narrow);
			FREE_NULL_LIST(preemptees);
		}
		if (base != SELECT_MODE_WILL_RUN)
			break;
	}
	if (best) {
		bit_copybits(bitmap, best);
		if (base == SELECT_MODE_WILL_RUN)
			job->start_time = best_start;
		if (best_preemptees && preemptee_job_list) {
			if (!*preemptee_job_list) {
				*preemptee_job_list = best_preemptees;
				best_preemptees = NULL;
			} else {
				list_transfer(*preemptee_job_list, best_preemptees);
			}
		}
		if (base == SELECT_MODE_RUN_NOW)
			info("%s: %pJ topology=%s placed inside domain %s", plugin_type, job,
			     aic_topology_name(policy), domains.domains[best_dom].name);
		else
			log_flag(SELECT_TYPE, "%s: %pJ mode %u fits inside domain %s", plugin_type,
				 job, base, domains.domains[best_dom].name);
		rc = SLURM_SUCCESS;
	} else if (policy == AIC_TOPOLOGY_STRICT) {
		log_flag(SELECT_TYPE, "%s: %pJ topology=strict: no domain fits (mode %u)",
			 plugin_type, job, base);
		rc = SLURM_ERROR;
	}
out:
	slurm_mutex_unlock(&domains_lock);
	FREE_NULL_BITMAP(best);
	FREE_NULL_LIST(best_preemptees);
	xfree(nodes);
	return rc;
}

extern int init(void);
extern int fini(void);

extern int init(void)
{
	/* Loaded by every client: nothing here but a line in the log. */
	debug("%s loaded (id %u)", plugin_type, plugin_id);
	return SLURM_SUCCESS;
}

extern int fini(void)
{
	int rc = SLURM_SUCCESS;

	slurm_mutex_lock(&domains_lock);
	domains_clear();
	slurm_mutex_unlock(&domains_lock);
	slurm_mutex_lock(&cons_lock);
	if (cons_context) {
		rc = plugin_context_destroy(cons_context);
		cons_context = NULL;
	}
	slurm_mutex_unlock(&cons_lock);
	return rc;
}

/* The 36 select_p_* calls (declared here: SLURM has no header for them). */
extern int select_p_state_save(char *dir_name);
extern int select_p_state_restore(char *dir_name);
extern int select_p_job_init(List job_list);
extern int select_p_node_init(void);
extern int select_p_job_test(job_record_t *job_ptr, bitstr_t *bitmap, uint32_t min_nodes,
			     uint32_t max_nodes, uint32_t req_nodes, uint16_t mode,
			     List preemptee_candidates, List *preemptee_job_list,
			     bitstr_t *exc_core_bitmap);
extern int select_p_job_begin(job_record_t *job_ptr);
extern int select_p_job_ready(job_record_t *job_ptr);
extern int select_p_job_expand(job_record_t *from_job_ptr, job_record_t *to_job_ptr);
extern int select_p_job_resized(job_record_t *job_ptr, node_record_t *node_ptr);
extern int select_p_job_signal(job_record_t *job_ptr, int signal);
extern int select_p_job_fini(job_record_t *job_ptr);
extern int select_p_job_suspend(job_record_t *job_ptr, bool indf_susp);
extern int select_p_job_resume(job_record_t *job_ptr, bool indf_susp);
extern bitstr_t *select_p_step_pick_nodes(job_record_t *job_ptr, select_jobinfo_t *jobinfo,
					  uint32_t node_count, bitstr_t **avail_nodes);
extern int select_p_step_start(step_record_t *step_ptr);
extern int select_p_step_finish(step_record_t *step_ptr, bool killing_step);
extern int select_p_select_nodeinfo_pack(select_nodeinfo_t *nodeinfo, buf_t *buffer,
					 uint16_t protocol_version);
extern int select_p_select_nodeinfo_unpack(select_nodeinfo_t **nodeinfo, buf_t *buffer,
					   uint16_t protocol_version);
extern select_nodeinfo_t *select_p_select_nodeinfo_alloc(void);
extern int select_p_select_nodeinfo_free(select_nodeinfo_t *nodeinfo);
extern int select_p_select_nodeinfo_set_all(void);
extern int select_p_select_nodeinfo_set(job_record_t *job_ptr);
extern int select_p_select_nodeinfo_get(select_nodeinfo_t *nodeinfo,
					enum select_nodedata_type dinfo, enum node_states state,
					void *data);
extern select_jobinfo_t *select_p_select_jobinfo_alloc(void);
extern int select_p_select_jobinfo_free(select_jobinfo_t *jobinfo);
extern int select_p_select_jobinfo_set(select_jobinfo_t *jobinfo,
				       enum select_jobdata_type data_type, void *data);
extern int select_p_select_jobinfo_get(select_jobinfo_t *jobinfo,
				       enum select_jobdata_type data_type, void *data);
extern select_jobinfo_t *select_p_select_jobinfo_copy(select_jobinfo_t *jobinfo);
extern int select_p_select_jobinfo_pack(select_jobinfo_t *jobinfo, buf_t *buffer,
					uint16_t protocol_version);
extern int select_p_select_jobinfo_unpack(select_jobinfo_t **jobinfo, buf_t *buffer,
					  uint16_t protocol_version);
extern char *select_p_select_jobinfo_sprint(select_jobinfo_t *jobinfo, char *buf, size_t size,
					    int mode);
extern char *select_p_select_jobinfo_xstrdup(select_jobinfo_t *jobinfo, int mode);
extern int select_p_get_info_from_plugin(enum select_plugindata_info dinfo, job_record_t *job_ptr,
					 void *data);
extern int select_p_update_node_config(int index);
extern int select_p_reconfigure(void);
extern bitstr_t *select_p_resv_test(resv_desc_msg_t *resv_desc_ptr, uint32_t node_cnt,
				    bitstr_t *avail_bitmap, bitstr_t **core_bitmap);

extern int select_p_job_test(job_record_t *job_ptr, bitstr_t *bitmap, uint32_t min_nodes,
			     uint32_t max_nodes, uint32_t req_nodes, uint16_t mode,
			     List preemptee_candidates, List *preemptee_job_list,
			     bitstr_t *exc_core_bitmap)
{
	enum aic_topology policy = AIC_TOPOLOGY_OFF;
	const char *aic_job;
	int rc;

	if (cons_load() != SLURM_SUCCESS)
		return SLURM_ERROR;
	if (job_ptr && job_ptr->details && (aic_job = job_aic_value(job_ptr))) {
		if (aic_topology_from_job(aic_job, &policy))
			debug("%s: %pJ: unknown topology policy in AIC_JOB, using prefer",
			      plugin_type, job_ptr);
	}
	if (policy != AIC_TOPOLOGY_OFF) {
		rc = job_test_domains(job_ptr, bitmap, min_nodes, max_nodes, req_nodes, mode,
				      preemptee_candidates, preemptee_job_list, exc_core_bitmap,
				      policy);
		if (rc != ESLURM_NOT_SUPPORTED)
			return rc;
	}
	return (*cons.job_test)(job_ptr, bitmap, min_nodes, max_nodes, req_nodes, mode,
				preemptee_candidates, preemptee_job_list, exc_core_bitmap);
}

extern int select_p_reconfigure(void)
{
	if (cons_load() != SLURM_SUCCESS)
		return SLURM_ERROR;
	slurm_mutex_lock(&domains_lock);
	domains_clear(); /* features or topology.conf may have changed */
	slurm_mutex_unlock(&domains_lock);
	return (*cons.reconfigure)();
}

/* Everything else goes to cons_tres unchanged. */
#define FORWARD_AS(ret, fail, name, member, params, args)                                          \
	extern ret select_p_##name params                                                          \
	{                                                                                          \
		if (cons_load() != SLURM_SUCCESS)                                                  \
			return fail;                                                               \
		return (*cons.member)args;                                                         \
	}
#define FORWARD(ret, fail, name, params, args) FORWARD_AS(ret, fail, name, name, params, args)

FORWARD(int, SLURM_ERROR, state_save, (char *dir_name), (dir_name))
FORWARD(int, SLURM_ERROR, state_restore, (char *dir_name), (dir_name))
FORWARD(int, SLURM_ERROR, job_init, (List job_list), (job_list))
FORWARD(int, SLURM_ERROR, node_init, (void), ())
FORWARD(int, SLURM_ERROR, job_begin, (job_record_t * job_ptr), (job_ptr))
FORWARD(int, SLURM_ERROR, job_ready, (job_record_t * job_ptr), (job_ptr))
FORWARD(int, SLURM_ERROR, job_expand, (job_record_t * from_job_ptr, job_record_t *to_job_ptr),
	(from_job_ptr, to_job_ptr))
FORWARD(int, SLURM_ERROR, job_resized, (job_record_t * job_ptr, node_record_t *node_ptr),
	(job_ptr, node_ptr))
FORWARD(int, SLURM_ERROR, job_signal, (job_record_t * job_ptr, int signal), (job_ptr, signal))
FORWARD(int, SLURM_ERROR, job_fini, (job_record_t * job_ptr), (job_ptr))
FORWARD(int, SLURM_ERROR, job_suspend, (job_record_t * job_ptr, bool indf_susp),
	(job_ptr, indf_susp))
FORWARD(int, SLURM_ERROR, job_resume, (job_record_t * job_ptr, bool indf_susp),
	(job_ptr, indf_susp))
FORWARD(bitstr_t *, NULL, step_pick_nodes,
	(job_record_t * job_ptr, select_jobinfo_t *jobinfo, uint32_t node_count,
	 bitstr_t **avail_nodes),
	(job_ptr, jobinfo, node_count, avail_nodes))
FORWARD(int, SLURM_ERROR, step_start, (step_record_t * step_ptr), (step_ptr))
FORWARD(int, SLURM_ERROR, step_finish, (step_record_t * step_ptr, bool killing_step),
	(step_ptr, killing_step))
FORWARD_AS(int, SLURM_ERROR, select_nodeinfo_pack, nodeinfo_pack,
	(select_nodeinfo_t * nodeinfo, buf_t *buffer, uint16_t protocol_version),
	(nodeinfo, buffer, protocol_version))
FORWARD_AS(int, SLURM_ERROR, select_nodeinfo_unpack, nodeinfo_unpack,
	(select_nodeinfo_t * *nodeinfo, buf_t *buffer, uint16_t protocol_version),
	(nodeinfo, buffer, protocol_version))
FORWARD_AS(select_nodeinfo_t *, NULL, select_nodeinfo_alloc, nodeinfo_alloc, (void), ())
FORWARD_AS(int, SLURM_ERROR, select_nodeinfo_free, nodeinfo_free, (select_nodeinfo_t * nodeinfo), (nodeinfo))
FORWARD_AS(int, SLURM_ERROR, select_nodeinfo_set_all, nodeinfo_set_all, (void), ())
FORWARD_AS(int, SLURM_ERROR, select_nodeinfo_set, nodeinfo_set, (job_record_t * job_ptr), (job_ptr))
FORWARD_AS(int, SLURM_ERROR, select_nodeinfo_get, nodeinfo_get,
	(select_nodeinfo_t * nodeinfo, enum select_nodedata_type dinfo, enum node_states state,
	 void *data),
	(nodeinfo, dinfo, state, data))
FORWARD_AS(select_jobinfo_t *, NULL, select_jobinfo_alloc, jobinfo_alloc, (void), ())
FORWARD_AS(int, SLURM_ERROR, select_jobinfo_free, jobinfo_free, (select_jobinfo_t * jobinfo), (jobinfo))
FORWARD_AS(int, SLURM_ERROR, select_jobinfo_set, jobinfo_set,
	(select_jobinfo_t * jobinfo, enum select_jobdata_type data_type, void *data),
	(jobinfo, data_type, data))
FORWARD_AS(int, SLURM_ERROR, select_jobinfo_get, jobinfo_get,
	(select_jobinfo_t * jobinfo, enum select_jobdata_type data_type, void *data),
	(jobinfo, data_type, data))
FORWARD_AS(select_jobinfo_t *, NULL, select_jobinfo_copy, jobinfo_copy, (select_jobinfo_t * jobinfo), (jobinfo))
FORWARD_AS(int, SLURM_ERROR, select_jobinfo_pack, jobinfo_pack,
	(select_jobinfo_t * jobinfo, buf_t *buffer, uint16_t protocol_version),
	(jobinfo, buffer, protocol_version))
FORWARD_AS(int, SLURM_ERROR, select_jobinfo_unpack, jobinfo_unpack,
	(select_jobinfo_t * *jobinfo, buf_t *buffer, uint16_t protocol_version),
	(jobinfo, buffer, protocol_version))
FORWARD_AS(char *, NULL, select_jobinfo_sprint, jobinfo_sprint,
	(select_jobinfo_t * jobinfo, char *buf, size_t size, int mode), (jobinfo, buf, size, mode))
FORWARD_AS(char *, NULL, select_jobinfo_xstrdup, jobinfo_xstrdup, (select_jobinfo_t * jobinfo, int mode),
	(jobinfo, mode))
FORWARD(int, SLURM_ERROR, get_info_from_plugin,
	(enum select_plugindata_info dinfo, job_record_t *job_ptr, void *data),
	(dinfo, job_ptr, data))
FORWARD(int, SLURM_ERROR, update_node_config, (int index), (index))
FORWARD(bitstr_t *, NULL, resv_test,
	(resv_desc_msg_t * resv_desc_ptr, uint32_t node_cnt, bitstr_t *avail_bitmap,
	 bitstr_t **core_bitmap),
	(resv_desc_ptr, node_cnt, avail_bitmap, core_bitmap))
