#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
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

static bool push(char ***env, size_t *n, const char *name, const char *value)
{
	struct aic_strbuf sb;
	char **e, *s;

	aic_strbuf_init(&sb);
	aic_strbuf_printf(&sb, "%s=%s", name, value);
	s = aic_strbuf_detach(&sb);
	if (!s)
		return false;
	e = realloc(*env, (*n + 2) * sizeof(*e));
	if (!e) {
		free(s);
		return false;
	}
	e[(*n)++] = s;
	e[*n] = NULL;
	*env = e;
	return true;
}

void aic_task_env_free(char **env)
{
	char **p;

	for (p = env; p && *p; p++)
		free(*p);
	free(env);
}

char **aic_task_env(const struct aic_task_plan_input *in, const struct aic_task_plan *plan,
		    int task, const char *cvd, bool nccl)
{
	const struct aic_topo *topo = in->topo;
	const struct aic_task *t = &plan->tasks[task];
	struct aic_strbuf gpus, bus, ord, peers, hca;
	char **env = NULL, buf[64], cpus[1024];
	size_t n = 0, i, j;
	bool ok = true;

	aic_strbuf_init(&gpus);
	aic_strbuf_init(&bus);
	aic_strbuf_init(&ord);
	aic_strbuf_init(&peers);
	aic_strbuf_init(&hca);
	for (i = 0; i < t->n_gpus; i++) {
		int g = t->gpus[i], ordinal = g;
		aic_strbuf_printf(&gpus, "%s%d", i ? "," : "", g);
		aic_strbuf_printf(&bus, "%s%s", i ? "," : "", topo->gpus[g].busid);
		if (cvd) {
			/* The CUDA ordinal is the GPU's position in CUDA_VISIBLE_DEVICES. */
			const char *p = cvd;
			int pos = 0;
			ordinal = -1;
			while (*p) {
				if (atoi(p) == g) {
					ordinal = pos;
					break;
				}
				p = strchr(p, ',');
				if (!p)
					break;
				p++;
				pos++;
			}
		}
		if (ordinal >= 0)
			aic_strbuf_printf(&ord, "%s%d", ord.len ? "," : "", ordinal);
	}
	/* The step's other GPUs that share an NVLink with one of the task's. */
	for (j = 0; j < in->n_step_gpus; j++) {
		int p = in->step_gpus[j];
		bool mine = false, linked = false;
		for (i = 0; i < t->n_gpus; i++) {
			mine |= t->gpus[i] == p;
			linked |= aic_topo_link(topo, (size_t)t->gpus[i], (size_t)p) == AIC_LINK_NV;
		}
		if (!mine && linked)
			aic_strbuf_printf(&peers, "%s%d", peers.len ? "," : "", p);
	}
	/* InfiniBand NICs nearest the task's GPUs, for NCCL_IB_HCA ("=" is exact names). */
	for (i = 0; i < t->n_gpus; i++) {
		int nic = topo->gpus[t->gpus[i]].nic;
		bool seen = false;
		for (j = 0; j < i; j++)
			seen |= topo->gpus[t->gpus[j]].nic == nic;
		if (nic >= 0 && !seen && topo->nics[nic].kind == AIC_NIC_IB)
			aic_strbuf_printf(&hca, "%s%s", hca.len ? "," : "=", topo->nics[nic].name);
	}
	if (gpus.oom || bus.oom || ord.oom || peers.oom || hca.oom)
		ok = false;

	snprintf(buf, sizeof(buf), "%d", task);
	ok = ok && push(&env, &n, "AIC_LOCAL_RANK", buf);
	snprintf(buf, sizeof(buf), "%d", plan->n_tasks);
	ok = ok && push(&env, &n, "AIC_LOCAL_SIZE", buf);
	ok = ok && push(&env, &n, "AIC_GPUS", gpus.buf ? gpus.buf : "");
	ok = ok && push(&env, &n, "AIC_GPU_BUSIDS", bus.buf ? bus.buf : "");
	ok = ok && push(&env, &n, "AIC_CUDA_DEVICES", ord.buf ? ord.buf : "");
	ok = ok && push(&env, &n, "AIC_NVLINK_PEERS", peers.buf ? peers.buf : "");
	snprintf(buf, sizeof(buf), "%d", t->numa);
	ok = ok && push(&env, &n, "AIC_NUMA_NODE", buf);
	ok = ok && push(&env, &n, "AIC_NIC", t->nic >= 0 ? topo->nics[t->nic].name : "");
	ok = ok && push(&env, &n, "AIC_CPUS", aic_cpuset_format(&t->cpus, cpus, sizeof(cpus)));
	/* CUDA numbers GPUs as nvidia-smi, SLURM and aic do. */
	ok = ok && push(&env, &n, "CUDA_DEVICE_ORDER", "PCI_BUS_ID");
	if (nccl && hca.len)
		ok = ok && push(&env, &n, "NCCL_IB_HCA", hca.buf);
	aic_strbuf_release(&gpus);
	aic_strbuf_release(&bus);
	aic_strbuf_release(&ord);
	aic_strbuf_release(&peers);
	aic_strbuf_release(&hca);
	if (!ok) {
		aic_task_env_free(env);
		return NULL;
	}
	return env;
}
