#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "procenv.h"
#include "strbuf.h"
#include "task_plan.h"

void aic_task_plan_free(struct aic_task_plan *plan)
{
	if (!plan)
		return;
	free(plan->tasks);
	free(plan);
}

int aic_task_plan_new(const struct aic_task_plan_input *in, struct aic_task_plan **out,
		      char **errors)
{
	struct aic_stage stage;
	struct aic_spec spec;
	struct aic_place_node node;
	struct aic_plan *placed = NULL;
	struct aic_task_plan *p;
	int cores = 0, rc, i;
	size_t c, g;

	*out = NULL;
	if (errors)
		*errors = NULL;
	for (g = 0; g < in->n_step_gpus; g++)
		if (in->step_gpus[g] < 0 || (size_t)in->step_gpus[g] >= in->topo->n_gpus) {
			struct aic_strbuf sb;
			aic_strbuf_init(&sb);
			aic_strbuf_printf(&sb,
					  "aic: the step has GPU %d, but the topology of '%s' has %zu "
					  "GPUs: is topo_xml= right for this node?\n",
					  in->step_gpus[g], in->topo->host, in->topo->n_gpus);
			if (errors)
				*errors = aic_strbuf_detach(&sb);
			aic_strbuf_release(&sb);
			return -EINVAL;
		}
	for (c = 0; c < in->topo->n_cores; c++) {
		struct aic_cpuset x;
		aic_cpuset_and(&x, &in->topo->cores[c].pus, &in->step_cpus);
		cores += !aic_cpuset_empty(&x);
	}

	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->n_tasks = in->n_tasks;
	p->tasks = calloc((size_t)in->n_tasks + 1, sizeof(*p->tasks));
	if (!p->tasks) {
		aic_task_plan_free(p);
		return -ENOMEM;
	}

	/* The local tasks as one gang on this node. */
	memset(&stage, 0, sizeof(stage));
	memset(&spec, 0, sizeof(spec));
	stage.name = "tasks";
	stage.ranks = in->n_tasks;
	stage.replicas_min = stage.replicas_max = 1;
	stage.gpus = (int)(in->n_step_gpus / (size_t)in->n_tasks);
	stage.cpus = cores / in->n_tasks;
	spec.path = "(step)";
	spec.stages = &stage;
	spec.n_stages = 1;
	memset(&node, 0, sizeof(node));
	node.topo = in->topo;
	node.gpus = in->step_gpus;
	node.n_gpus = in->n_step_gpus;
	node.cpus = &in->step_cpus;
	rc = aic_place(&spec, &node, 1, &placed, errors);
	if (rc) {
		aic_task_plan_free(p);
		return rc;
	}
	for (i = 0; i < in->n_tasks; i++) {
		const struct aic_proc *proc = &placed->procs[i];
		struct aic_task *t = &p->tasks[i];
		if (stage.gpus == 0) {
			/* Fewer GPUs than tasks: every task sees them all. */
			for (g = 0; g < in->n_step_gpus; g++)
				t->gpus[t->n_gpus++] = in->step_gpus[g];
		} else {
			t->n_gpus = proc->n_gpus;
			memcpy(t->gpus, proc->gpus, proc->n_gpus * sizeof(int));
		}
		t->cpus = proc->cpus;
		t->numa = proc->numa;
		t->nic = proc->nic;
		if (stage.gpus == 0 && in->n_step_gpus) {
			t->numa = in->topo->gpus[t->gpus[0]].numa;
			t->nic = in->topo->gpus[t->gpus[0]].nic;
		}
	}
	aic_plan_free(placed);
	*out = p;
	return 0;
}

void aic_task_env_free(char **env)
{
	aic_strv_free(env);
}

char **aic_task_env(const struct aic_task_plan_input *in, const struct aic_task_plan *plan,
		    int task, const char *cvd, bool nccl)
{
	const struct aic_task *t = &plan->tasks[task];
	struct aic_proc proc;
	struct aic_procenv_in pe = {
		.topo = in->topo,
		.proc = &proc,
		.node_gpus = in->step_gpus,
		.n_node_gpus = in->n_step_gpus,
		.visible = cvd,
		/* Tasks keep SLURM's CUDA_VISIBLE_DEVICES: NCCL needs to see peer GPUs. */
		.what = AIC_PROCENV_PLACE | AIC_PROCENV_TOPO | AIC_PROCENV_CUDA_ORDINALS |
			(nccl ? AIC_PROCENV_NCCL : 0u),
	};
	char **placed = NULL, **env;
	size_t n = 0, i;
	struct aic_strbuf rank, size;

	memset(&proc, 0, sizeof(proc));
	proc.n_gpus = t->n_gpus;
	memcpy(proc.gpus, t->gpus, t->n_gpus * sizeof(int));
	proc.cpus = t->cpus;
	proc.numa = t->numa;
	proc.nic = t->nic;
	if (aic_procenv(&pe, &placed) != 0)
		return NULL;
	while (placed[n])
		n++;
	env = calloc(n + 3, sizeof(*env));
	aic_strbuf_init(&rank);
	aic_strbuf_init(&size);
	aic_strbuf_printf(&rank, "AIC_LOCAL_RANK=%d", task);
	aic_strbuf_printf(&size, "AIC_LOCAL_SIZE=%d", plan->n_tasks);
	if (!env || rank.oom || size.oom) {
		free(env);
		aic_strbuf_release(&rank);
		aic_strbuf_release(&size);
		aic_strv_free(placed);
		return NULL;
	}
	env[0] = aic_strbuf_detach(&rank);
	env[1] = aic_strbuf_detach(&size);
	for (i = 0; i < n; i++)
		env[2 + i] = placed[i];
	free(placed); /* its strings are env's now */
	return env;
}
