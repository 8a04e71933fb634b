/*
 * The per-process environment (see procenv.h for the rules).
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "procenv.h"
#include "strbuf.h"

/* Entry k of a comma-separated list into buf; false when the list is shorter. */
static bool list_entry(const char *list, size_t k, char *buf, size_t len)
{
	const char *p = list;
	size_t n;

	for (; k > 0 && p; k--) {
		p = strchr(p, ',');
		if (p)
			p++;
	}
	if (!p || !*p)
		return false;
	n = strcspn(p, ",");
	if (n >= len)
		return false;
	memcpy(buf, p, n);
	buf[n] = '\0';
	return true;
}

/* How CUDA_VISIBLE_DEVICES names GPU g: the entry at g's place among the node's GPUs, else g. */
static void cuda_entry(const struct aic_procenv_in *in, int g, char *buf, size_t len)
{
	size_t k;

	if (in->visible && in->node_gpus)
		for (k = 0; k < in->n_node_gpus; k++)
			if (in->node_gpus[k] == g) {
				if (list_entry(in->visible, k, buf, len))
					return;
				break;
			}
	snprintf(buf, len, "%d", g);
}

/* GPU g's CUDA ordinal for a process that sees the node's CUDA_VISIBLE_DEVICES, or -1. */
static int cuda_ordinal(const struct aic_procenv_in *in, int g)
{
	char mine[64], other[64];
	size_t k;

	if (!in->visible)
		return g;
	cuda_entry(in, g, mine, sizeof(mine));
	for (k = 0; list_entry(in->visible, k, other, sizeof(other)); k++)
		if (!strcmp(mine, other))
			return (int)k;
	return -1;
}

static bool valid_gpu(const struct aic_topo *t, int g)
{
	return g >= 0 && (size_t)g < t->n_gpus;
}

/* Whether NIC j is an InfiniBand NIC at GPU g's nearest path class. */
static bool near_ib(const struct aic_topo *t, int g, size_t j)
{
	int best;

	if (!valid_gpu(t, g) || t->nics[j].kind != AIC_NIC_IB)
		return false;
	best = t->gpus[g].nic;
	return best >= 0 && t->gpu_nic[(size_t)g * t->n_nics + j] ==
				    t->gpu_nic[(size_t)g * t->n_nics + (size_t)best];
}

static void nccl_ib_hca(const struct aic_topo *t, const struct aic_proc *p, struct aic_strbuf *sb)
{
	size_t i, j, k;

	for (i = 0; i < p->n_gpus; i++)
		for (j = 0; j < t->n_nics; j++) {
			bool seen = false;
			if (!near_ib(t, p->gpus[i], j))
				continue;
			for (k = 0; k < i && !seen; k++)
				seen = near_ib(t, p->gpus[k], j);
			if (!seen)
				aic_strbuf_printf(sb, "%s%s", sb->len ? "," : "=", t->nics[j].name);
		}
}

/* The node's GPUs other than p's with an NVLink to one of p's. */
static void nvlink_peers(const struct aic_procenv_in *in, struct aic_strbuf *sb)
{
	const struct aic_topo *t = in->topo;
	const struct aic_proc *p = in->proc;
	size_t n = in->node_gpus ? in->n_node_gpus : t->n_gpus, i, j;

	for (j = 0; j < n; j++) {
		int o = in->node_gpus ? in->node_gpus[j] : (int)j;
		bool mine = false, linked = false;
		if (!valid_gpu(t, o))
			continue;
		for (i = 0; i < p->n_gpus; i++) {
			mine |= p->gpus[i] == o;
			linked |= valid_gpu(t, p->gpus[i]) &&
				  aic_topo_link(t, (size_t)p->gpus[i], (size_t)o) == AIC_LINK_NV;
		}
		if (!mine && linked)
			aic_strbuf_printf(sb, "%s%d", sb->len ? "," : "", o);
	}
}

/* Appends NAME=VALUE to the array; failures are sticky through *ok. */
static void push(char ***env, size_t *n, bool *ok, const char *name, const char *value)
{
	struct aic_strbuf sb;
	char **e, *s;

	if (!*ok)
		return;
	aic_strbuf_init(&sb);
	aic_strbuf_printf(&sb, "%s=%s", name, value);
	s = aic_strbuf_detach(&sb);
	e = s ? realloc(*env, (*n + 2) * sizeof(*e)) : NULL;
	if (!e) {
		free(s);
		*ok = false;
		return;
	}
	e[(*n)++] = s;
	e[*n] = NULL;
	*env = e;
}

int aic_procenv(const struct aic_procenv_in *in, char ***out)
{
	const struct aic_topo *t = in->topo;
	const struct aic_proc *p = in->proc;
	struct aic_strbuf gpus, bus, vis, ord, peers, hca;
	char **env = NULL, buf[64], cpus[1024];
	size_t n = 0, i;
	bool ok = true;

	aic_strbuf_init(&gpus);
	aic_strbuf_init(&bus);
	aic_strbuf_init(&vis);
	aic_strbuf_init(&ord);
	aic_strbuf_init(&peers);
	aic_strbuf_init(&hca);
	for (i = 0; i < p->n_gpus; i++) {
		int g = p->gpus[i], ordinal = cuda_ordinal(in, g);
		aic_strbuf_printf(&gpus, "%s%d", i ? "," : "", g);
		if (valid_gpu(t, g))
			aic_strbuf_printf(&bus, "%s%s", i ? "," : "", t->gpus[g].busid);
		cuda_entry(in, g, buf, sizeof(buf));
		aic_strbuf_printf(&vis, "%s%s", i ? "," : "", buf);
		if (ordinal >= 0)
			aic_strbuf_printf(&ord, "%s%d", ord.len ? "," : "", ordinal);
	}
	nvlink_peers(in, &peers);
	nccl_ib_hca(t, p, &hca);
	ok = !gpus.oom && !bus.oom && !vis.oom && !ord.oom && !peers.oom && !hca.oom;

	if (in->what & AIC_PROCENV_PLACE)
		push(&env, &n, &ok, "AIC_GPUS", gpus.buf ? gpus.buf : "");
	if (in->what & AIC_PROCENV_TOPO)
		push(&env, &n, &ok, "AIC_GPU_BUSIDS", bus.buf ? bus.buf : "");
	if (in->what & AIC_PROCENV_CUDA_VISIBLE)
		push(&env, &n, &ok, "CUDA_VISIBLE_DEVICES", vis.buf ? vis.buf : "");
	if (in->what & AIC_PROCENV_CUDA_ORDINALS)
		push(&env, &n, &ok, "AIC_CUDA_DEVICES", ord.buf ? ord.buf : "");
	if (in->what & AIC_PROCENV_TOPO)
		push(&env, &n, &ok, "AIC_NVLINK_PEERS", peers.buf ? peers.buf : "");
	if (in->what & AIC_PROCENV_PLACE) {
		snprintf(buf, sizeof(buf), "%d", p->numa);
		push(&env, &n, &ok, "AIC_NUMA_NODE", buf);
		push(&env, &n, &ok, "AIC_NIC",
		     p->nic >= 0 && (size_t)p->nic < t->n_nics ? t->nics[p->nic].name : "");
		push(&env, &n, &ok, "AIC_CPUS", aic_cpuset_format(&p->cpus, cpus, sizeof(cpus)));
	}
	if (in->what & (AIC_PROCENV_CUDA_ORDINALS | AIC_PROCENV_CUDA_VISIBLE))
		push(&env, &n, &ok, "CUDA_DEVICE_ORDER", "PCI_BUS_ID");
	if ((in->what & AIC_PROCENV_NCCL) && hca.len)
		push(&env, &n, &ok, "NCCL_IB_HCA", hca.buf);

	aic_strbuf_release(&gpus);
	aic_strbuf_release(&bus);
	aic_strbuf_release(&vis);
	aic_strbuf_release(&ord);
	aic_strbuf_release(&peers);
	aic_strbuf_release(&hca);
	if (!ok) {
		aic_strv_free(env);
		env = NULL;
	} else if (!env) {
		/* Nothing asked for: still an empty array, so NULL always means out of memory. */
		env = calloc(1, sizeof(*env));
		ok = env != NULL;
	}
	*out = env;
	return ok ? 0 : -ENOMEM;
}
