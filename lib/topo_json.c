#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "topo_json.h"

static json_t *cpus_json(const struct aic_cpuset *s)
{
	char buf[4096];

	return json_string(aic_cpuset_format(s, buf, sizeof(buf)));
}

json_t *aic_topo_to_json(const struct aic_topo *t)
{
	json_t *o = json_object(), *a;
	size_t i, j;
	char l[24];

	if (!o)
		return NULL;
	json_object_set_new(o, "host", json_string(t->host));
	json_object_set_new(o, "packages", json_integer((json_int_t)t->n_packages));
	json_object_set_new(o, "cpus", cpus_json(&t->cpus));
	a = json_array();
	for (i = 0; i < t->n_numa; i++)
		json_array_append_new(a, json_pack("{s:i,s:o}", "os_index", t->numa[i].os_index, "cpus",
						   cpus_json(&t->numa[i].cpus)));
	json_object_set_new(o, "numa", a);
	a = json_array();
	for (i = 0; i < t->n_cores; i++)
		json_array_append_new(a, json_pack("{s:i,s:i,s:o}", "os_index", t->cores[i].os_index,
						   "numa", t->cores[i].numa, "pus",
						   cpus_json(&t->cores[i].pus)));
	json_object_set_new(o, "cores", a);
	a = json_array();
	for (i = 0; i < t->n_gpus; i++) {
		const struct aic_gpu *g = &t->gpus[i];
		json_t *links = json_array(), *nics = json_array();
		for (j = 0; j < t->n_gpus; j++)
			json_array_append_new(links, json_string(aic_link_name(aic_topo_link(t, i, j),
									      aic_topo_nvlinks(t, i, j), l,
									      sizeof(l))));
		for (j = 0; j < t->n_nics; j++)
			json_array_append_new(nics, json_string(aic_link_name(t->gpu_nic[i * t->n_nics + j],
									     0, l, sizeof(l))));
		json_array_append_new(a, json_pack("{s:i,s:s,s:s,s:i,s:o,s:b,s:o,s:o,s:o}", "index",
						   g->index, "busid", g->busid, "model", g->model, "numa",
						   g->numa, "cpus", cpus_json(&g->cpus), "nvswitch",
						   g->nvswitch, "nic",
						   g->nic >= 0 ? json_string(t->nics[g->nic].name) : json_null(),
						   "links", links, "nic_links", nics));
	}
	json_object_set_new(o, "gpus", a);
	a = json_array();
	for (i = 0; i < t->n_nics; i++)
		json_array_append_new(a, json_pack("{s:s,s:s,s:s,s:s,s:i}", "name", t->nics[i].name,
						   "ifname", t->nics[i].ifname, "busid", t->nics[i].busid,
						   "kind", t->nics[i].kind == AIC_NIC_IB ? "ib" : "eth",
						   "numa", t->nics[i].numa));
	json_object_set_new(o, "nics", a);
	return o;
}

static int parse_link(const char *s, enum aic_link *l, int *nv)
{
	static const char *const names[] = {"X", "NV", "PIX", "PXB", "PHB", "NODE", "SYS"};
	int i;

	*nv = 0;
	if (!s)
		return -1;
	if (!strncmp(s, "NV", 2) && s[2] >= '0' && s[2] <= '9') {
		/* Only a count aic_link_name writes back the same ("NV18"), not one that overflows. */
		char *end;
		long n;

		errno = 0;
		n = strtol(s + 2, &end, 10);
		if (*end || errno || n > INT_MAX)
			return -1;
		*l = AIC_LINK_NV;
		*nv = (int)n;
		return 0;
	}
	for (i = 0; i < 7; i++)
		if (!strcmp(s, names[i])) {
			*l = (enum aic_link)i;
			return 0;
		}
	return -1;
}

static int copy_str(char *dst, size_t len, const json_t *v)
{
	const char *s = json_string_value(v);

	if (!s || strlen(s) >= len)
		return -1;
	memcpy(dst, s, strlen(s) + 1);
	return 0;
}

int aic_topo_from_json(const json_t *j, struct aic_topo **out)
{
	struct aic_topo *t;
	const json_t *a, *v;
	size_t i, k, n;
	int bad = 0;

	*out = NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	bad |= copy_str(t->host, sizeof(t->host), json_object_get(j, "host"));
	t->n_packages = (size_t)json_integer_value(json_object_get(j, "packages"));
	bad |= aic_cpuset_parse(&t->cpus, json_string_value(json_object_get(j, "cpus")) ?: "x");

	a = json_object_get(j, "numa");
	n = json_array_size(a);
	t->numa = calloc(n + 1, sizeof(*t->numa));
	if (!t->numa)
		goto out_nomem;
	json_array_foreach(a, i, v) {
		t->numa[i].os_index = (int)json_integer_value(json_object_get(v, "os_index"));
		bad |= aic_cpuset_parse(&t->numa[i].cpus,
					json_string_value(json_object_get(v, "cpus")) ?: "x");
	}
	t->n_numa = n;

	a = json_object_get(j, "cores");
	n = json_array_size(a);
	t->cores = calloc(n + 1, sizeof(*t->cores));
	if (!t->cores)
		goto out_nomem;
	json_array_foreach(a, i, v) {
		t->cores[i].os_index = (int)json_integer_value(json_object_get(v, "os_index"));
		t->cores[i].numa = (int)json_integer_value(json_object_get(v, "numa"));
		bad |= aic_cpuset_parse(&t->cores[i].pus,
					json_string_value(json_object_get(v, "pus")) ?: "x");
	}
	t->n_cores = n;

	a = json_object_get(j, "nics");
	n = json_array_size(a);
	t->nics = calloc(n + 1, sizeof(*t->nics));
	if (!t->nics)
		goto out_nomem;
	json_array_foreach(a, i, v) {
		bad |= copy_str(t->nics[i].name, sizeof(t->nics[i].name), json_object_get(v, "name"));
		bad |= copy_str(t->nics[i].ifname, sizeof(t->nics[i].ifname),
				json_object_get(v, "ifname"));
		bad |= copy_str(t->nics[i].busid, sizeof(t->nics[i].busid), json_object_get(v, "busid"));
		t->nics[i].kind = !strcmp(json_string_value(json_object_get(v, "kind")) ?: "", "ib")
					  ? AIC_NIC_IB
					  : AIC_NIC_ETH;
		t->nics[i].numa = (int)json_integer_value(json_object_get(v, "numa"));
	}
	t->n_nics = n;

	a = json_object_get(j, "gpus");
	n = json_array_size(a);
	t->gpus = calloc(n + 1, sizeof(*t->gpus));
	t->link = calloc(n * n + 1, sizeof(*t->link));
	t->nvlinks = calloc(n * n + 1, sizeof(*t->nvlinks));
	t->gpu_nic = calloc(n * t->n_nics + 1, sizeof(*t->gpu_nic));
	if (!t->gpus || !t->link || !t->nvlinks || !t->gpu_nic)
		goto out_nomem;
	json_array_foreach(a, i, v) {
		struct aic_gpu *g = &t->gpus[i];
		const json_t *links = json_object_get(v, "links"), *nl = json_object_get(v, "nic_links");
		const char *nic = json_string_value(json_object_get(v, "nic"));
		g->index = (int)i;
		bad |= copy_str(g->busid, sizeof(g->busid), json_object_get(v, "busid"));
		bad |= copy_str(g->model, sizeof(g->model), json_object_get(v, "model"));
		g->numa = (int)json_integer_value(json_object_get(v, "numa"));
		bad |= aic_cpuset_parse(&g->cpus, json_string_value(json_object_get(v, "cpus")) ?: "x");
		g->nvswitch = json_is_true(json_object_get(v, "nvswitch"));
		g->nic = -1;
		for (k = 0; nic && k < t->n_nics; k++)
			if (!strcmp(t->nics[k].name, nic))
				g->nic = (int)k;
		if (json_array_size(links) != n || json_array_size(nl) != t->n_nics) {
			bad = 1;
			continue;
		}
		for (k = 0; k < n; k++)
			bad |= parse_link(json_string_value(json_array_get(links, k)), &t->link[i * n + k],
					  &t->nvlinks[i * n + k]);
		for (k = 0; k < t->n_nics; k++) {
			int nv;
			bad |= parse_link(json_string_value(json_array_get(nl, k)),
					  &t->gpu_nic[i * t->n_nics + k], &nv);
		}
	}
	t->n_gpus = n;
	if (bad) {
		aic_topo_free(t);
		return AIC_ETOPO;
	}
	*out = t;
	return 0;

out_nomem:
	aic_topo_free(t);
	return -ENOMEM;
}
