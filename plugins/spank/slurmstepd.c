/*
 * The plugin inside slurmstepd (S_CTX_REMOTE): user_init computes this
 * node's plan for the step's tasks once; task_init applies each task's
 * share just before it execs: the AIC_* environment, CUDA_DEVICE_ORDER,
 * NCCL hints and CPU binding. Device visibility is never narrowed (NCCL
 * needs to see peer GPUs).
 *
 * user_init runs with the user's privileges; its errors are kept and
 * raised in task_init, because SLURM does not report user_init failures to
 * srun. Everything allocated here is freed in exit: slurmstepd lives for
 * one step, but nothing may leak even so.
 */
#include "config.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "error.h"
#include "plugstack.h"
#include "slurmstepd.h"
#include "strbuf.h"
#include "task_plan.h"
#include "topo_file.h"

static struct {
	char *error; /* deferred to task_init */
	struct aic_topo *topo;
	int *gpus;
	struct aic_task_plan_input in;
	struct aic_task_plan *plan;
	uint32_t nodeid, nnodes;
	bool ready;
} stepd;

static void defer(const char *fmt, const char *a, const char *b)
{
	struct aic_strbuf sb;

	if (stepd.error)
		return;
	aic_strbuf_init(&sb);
	aic_strbuf_printf(&sb, fmt, a, b);
	stepd.error = aic_strbuf_detach(&sb);
}

/*
 * topo_xml= for this node, "%n" replaced by slurmstepd's own node name
 * (topo_file.c says why not the job's SLURMD_NODENAME). Returns 0, or -1
 * with the error deferred.
 */
static int topo_path(const char *pattern, char *buf, size_t len)
{
	char node[256], *errors = NULL;
	int rc = aic_spank_node_name(node, sizeof(node));

	if (rc) {
		defer("aic: cannot tell this node's name: %s%s", aic_strerror(rc), "");
		return -1;
	}
	if (aic_spank_topo_path(pattern, node, buf, len, &errors) != 0) {
		defer("%s%s", errors ? errors : "aic: bad topology path\n", "");
		free(errors);
		return -1;
	}
	return 0;
}

/* The step's GPUs: SLURM_STEP_GPUS (gres.conf order), else CUDA_VISIBLE_DEVICES. */
static int step_gpus(spank_t sp)
{
	char list[4096];
	const char *p;
	size_t n = 0;

	if (spank_getenv(sp, "SLURM_STEP_GPUS", list, sizeof(list)) != ESPANK_SUCCESS &&
	    spank_getenv(sp, "CUDA_VISIBLE_DEVICES", list, sizeof(list)) != ESPANK_SUCCESS)
		return 0;
	stepd.gpus = calloc(AIC_PLACE_MAX_GPUS, sizeof(int));
	if (!stepd.gpus)
		return -ENOMEM;
	for (p = list; *p && n < AIC_PLACE_MAX_GPUS;) {
		char *end;
		long g = strtol(p, &end, 10);
		if (end == p || g < 0) {
			defer("aic: cannot read the step's GPU list '%s'%s", list, "");
			return -EINVAL;
		}
		stepd.gpus[n++] = (int)g;
		p = *end == ',' ? end + 1 : end;
		if (*end && *end != ',')
			break;
	}
	stepd.in.step_gpus = stepd.gpus;
	stepd.in.n_step_gpus = n;
	return 0;
}

/* The step's cores on this node (SLURM's core indices) as PUs of the topology. */
static void step_cpus(spank_t sp)
{
	const struct aic_topo *t = stepd.topo;
	char *cores = NULL;
	struct aic_cpuset ids;
	size_t c;

	aic_cpuset_zero(&stepd.in.step_cpus);
	if (spank_get_item(sp, S_STEP_ALLOC_CORES, &cores) != ESPANK_SUCCESS || !cores ||
	    aic_cpuset_parse(&ids, cores) != 0) {
		stepd.in.step_cpus = t->cpus;
		return;
	}
	for (c = 0; c < t->n_cores; c++)
		if (aic_cpuset_isset(&ids, (int)c))
			aic_cpuset_or(&stepd.in.step_cpus, &stepd.in.step_cpus, &t->cores[c].pus);
	if (aic_cpuset_empty(&stepd.in.step_cpus))
		stepd.in.step_cpus = t->cpus;
}

int aic_spank_stepd_user_init(spank_t sp, const struct aic_spank_config *cfg)
{
	char xml[PATH_MAX], *errors = NULL;
	uint32_t ntasks = 0;
	int rc;

	if (!aic_spank_args.job[0])
		return 0;
	if (spank_get_item(sp, S_JOB_NODEID, &stepd.nodeid) != ESPANK_SUCCESS ||
	    spank_get_item(sp, S_JOB_NNODES, &stepd.nnodes) != ESPANK_SUCCESS ||
	    spank_get_item(sp, S_JOB_LOCAL_TASK_COUNT, &ntasks) != ESPANK_SUCCESS || ntasks == 0) {
		defer("aic: cannot read the step's node and task counts%s%s", "", "");
		return 0;
	}
	if (stepd.nnodes == 0) {
		/* The batch step reports no node count; its job's is in the environment. */
		char n[32];
		if (spank_getenv(sp, "SLURM_JOB_NUM_NODES", n, sizeof(n)) == ESPANK_SUCCESS)
			stepd.nnodes = (uint32_t)strtoul(n, NULL, 10);
	}
	if (cfg->topo_xml[0]) {
		if (topo_path(cfg->topo_xml, xml, sizeof(xml)) != 0)
			return 0;
		rc = aic_spank_topo_load(xml, AIC_SPANK_TOPO_MAX, &stepd.topo, &errors);
	} else {
		rc = aic_topo_load_live(&stepd.topo, &errors);
	}
	if (rc) {
		defer("%s%s", errors ? errors : "aic: cannot load the node topology\n", "");
		free(errors);
		return 0;
	}
	stepd.in.topo = stepd.topo;
	stepd.in.n_tasks = (int)ntasks;
	if (step_gpus(sp))
		return 0;
	step_cpus(sp);
	rc = aic_task_plan_new(&stepd.in, &stepd.plan, &errors);
	if (rc) {
		defer("%s%s", errors ? errors : "aic: cannot plan the step's tasks\n", "");
		free(errors);
		return 0;
	}
	stepd.ready = true;
	return 0;
}

/* Applies the binding mode; returns the mode in effect ("closest", ...). */
static const char *apply_binding(spank_t sp, enum aic_bind mode, const struct aic_task *t)
{
	struct aic_cpuset cur, extra;
	int rc = 0;

	aic_cpuset_get_affinity(&cur);
	switch (mode) {
	case AIC_BIND_CLOSEST:
		/* SLURM bound the task (its CPUs are fewer than the step's): leave it. */
		aic_cpuset_andnot(&extra, &stepd.in.step_cpus, &cur);
		if (!aic_cpuset_empty(&extra) && aic_cpuset_count(&cur) > 0)
			return "slurm";
		if (!aic_cpuset_empty(&t->cpus))
			rc = aic_cpuset_set_affinity(&t->cpus);
		break;
	case AIC_BIND_NONE:
		rc = aic_cpuset_set_affinity(&stepd.in.step_cpus);
		break;
	default:
		return "slurm";
	}
	if (rc) {
		slurm_error("aic: cannot bind task to CPUs: %s", aic_strerror(rc));
		(void)sp;
	}
	return aic_spank_bind_name(mode);
}

int aic_spank_stepd_task_init(spank_t sp, const struct aic_spank_config *cfg)
{
	struct aic_spank_args *a = &aic_spank_args;
	enum aic_bind mode = a->bind != AIC_BIND_UNSET ? a->bind : cfg->default_bind;
	char cvd[4096], buf[64], have[8], cpus[1024], *line, *save = NULL;
	bool has_cvd, nccl = cfg->nccl_hints && a->nccl != 0;
	struct aic_cpuset now;
	const char *bound;
	char **env, **e;
	int task = -1;

	if (!a->job[0])
		return 0;
	if (stepd.error) {
		for (line = strtok_r(stepd.error, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
			slurm_error("%s", line);
		return -1;
	}
	if (!stepd.ready || spank_get_item(sp, S_TASK_ID, &task) != ESPANK_SUCCESS || task < 0 ||
	    task >= stepd.plan->n_tasks) {
		slurm_error("aic: no plan for this task");
		return -1;
	}
	has_cvd = spank_getenv(sp, "CUDA_VISIBLE_DEVICES", cvd, sizeof(cvd)) == ESPANK_SUCCESS;
	/* A user's own NCCL_IB_HCA wins over the hint. */
	if (spank_getenv(sp, "NCCL_IB_HCA", have, sizeof(have)) != ESPANK_ENV_NOEXIST)
		nccl = false;
	env = aic_task_env(&stepd.in, stepd.plan, task, has_cvd ? cvd : NULL, nccl);
	if (!env) {
		slurm_error("aic: out of memory");
		return -1;
	}
	bound = apply_binding(sp, mode, &stepd.plan->tasks[task]);
	for (e = env; *e; e++) {
		char *eq = strchr(*e, '=');
		*eq = '\0';
		/* AIC_CPUS is what the task may really use, after binding. */
		if (!strcmp(*e, "AIC_CPUS")) {
			aic_cpuset_get_affinity(&now);
			spank_setenv(sp, *e, aic_cpuset_format(&now, cpus, sizeof(cpus)), 1);
			continue;
		}
		spank_setenv(sp, *e, eq + 1, 1);
	}
	aic_task_env_free(env);
	spank_setenv(sp, "AIC_BIND", bound, 1);
	snprintf(buf, sizeof(buf), "%u", stepd.nodeid);
	spank_setenv(sp, "AIC_NODE_RANK", buf, 1);
	snprintf(buf, sizeof(buf), "%u", stepd.nnodes);
	spank_setenv(sp, "AIC_NODE_COUNT", buf, 1);
	/* srun exported AIC_JOB_SPEC (absolute); --export=NONE jobs get the option's value. */
	spank_setenv(sp, "AIC_JOB_SPEC", a->job, 0);
	/*
	 * aic-launch and aic topo on this node see the topology the plugin
	 * used. Overwritten: an srun inside an sbatch job has the batch
	 * host's value in its environment, which is the wrong node's.
	 */
	if (cfg->topo_xml[0]) {
		char xml[PATH_MAX];
		if (topo_path(cfg->topo_xml, xml, sizeof(xml)) == 0)
			spank_setenv(sp, "AIC_TOPO_XML", xml, 1);
	}
	return 0;
}

void aic_spank_stepd_exit(void)
{
	aic_task_plan_free(stepd.plan);
	aic_topo_free(stepd.topo);
	free(stepd.gpus);
	free(stepd.error);
	memset(&stepd, 0, sizeof(stepd));
}
