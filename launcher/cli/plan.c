/*
 * aic plan: validates a job spec and prints where each of its processes
 * would run, as a table or JSON. The placement is libaic's aic_place, the
 * one the engine uses at launch, over the given nodes' topologies.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "cli.h"
#include "place.h"
#include "spec.h"
#include "topo.h"

const char cmd_plan_usage[] =
	"aic plan SPEC [--topo XML]... [--nodes N] [--json]\n"
	"  --topo XML    a node's hwloc XML topology: once per node, or once with --nodes\n"
	"                (default: $AIC_TOPO_XML, else this machine)\n"
	"  --nodes N     plan for N nodes with the same topology (HOST-1, HOST-2, ...), as\n"
	"                under SLURM: cpus: reserves cores (without --nodes and with one\n"
	"                topology, as aic run: processes share cores when short, with a note)\n"
	"  --json        print JSON instead of a table\n";

/*
 * The nodes a plan is for: n of them, over the loaded topologies (one
 * topology shared by all with --nodes, else one each), named after their
 * hosts.
 */
struct plan_nodes {
	struct aic_topo **topos;
	struct aic_place_node *nodes;
	char **names;
	size_t n;
};

static void free_plan_nodes(struct plan_nodes *pn, size_t n_topos)
{
	size_t i;

	for (i = 0; pn->topos && i < n_topos; i++)
		aic_topo_free(pn->topos[i]);
	for (i = 0; pn->names && i < pn->n; i++)
		free(pn->names[i]);
	free(pn->topos);
	free(pn->nodes);
	free(pn->names);
}

static const char *link_of(const struct aic_topo *t, const struct aic_proc *p, char *buf, size_t len)
{
	enum aic_link worst = AIC_LINK_SELF;
	int nv = 1 << 30;
	size_t a, b;

	if (p->n_gpus < 2)
		return "-";
	for (a = 0; a < p->n_gpus; a++)
		for (b = a + 1; b < p->n_gpus; b++) {
			enum aic_link l = aic_topo_link(t, (size_t)p->gpus[a], (size_t)p->gpus[b]);
			int n = aic_topo_nvlinks(t, (size_t)p->gpus[a], (size_t)p->gpus[b]);
			if (l > worst)
				worst = l;
			if (l == AIC_LINK_NV && n < nv)
				nv = n;
		}
	return aic_link_name(worst, nv, buf, len);
}

/*
 * What the allocation allows stage si: the most of its processes that fit
 * while every other stage holds only its fixed count (a gang its ranks,
 * replicas their min), as many as autoscaling could ever run at once (at
 * most its max). A gang or a fixed count is what the plan has.
 */
static int stage_allows(const struct aic_spec *spec, const struct plan_nodes *pn,
			const struct aic_plan *plan, size_t si, unsigned flags)
{
	const struct aic_stage *st = &spec->stages[si];
	struct aic_proc *used = calloc(plan->n_procs + (size_t)st->replicas_max + 1, sizeof(*used));
	size_t n = 0, i;
	int k = 0;

	if (!used)
		return -1;
	for (i = 0; i < plan->n_procs; i++) {
		const struct aic_proc *p = &plan->procs[i];
		const struct aic_stage *o = &spec->stages[p->stage];
		if (o->ranks || p->index < o->replicas_min)
			used[n++] = *p;
		k += p->stage == si;
	}
	if (!st->ranks && st->replicas_min < st->replicas_max) {
		for (k = 0, i = 0; i < n; i++)
			k += used[i].stage == si;
		while (k < st->replicas_max && aic_place_more(spec, pn->nodes, pn->n, flags, used,
							      n, si, 1, &used[n], NULL) == 0) {
			n++;
			k++;
		}
	}
	free(used);
	return k;
}

static void print_stages(const struct aic_spec *spec, const struct plan_nodes *pn,
			 const struct aic_plan *plan, unsigned flags)
{
	size_t i, j;

	printf("%-12s %-8s %-5s %-5s %-7s %-7s %-14s %s\n", "stage", "kind", "min", "max", "placed",
	       "allows", "placement", "autoscale");
	for (i = 0; i < spec->n_stages; i++) {
		const struct aic_stage *st = &spec->stages[i];
		char as[96] = "-";
		int placed = 0;
		for (j = 0; j < plan->n_procs; j++)
			placed += plan->procs[j].stage == i;
		/* An autoscaled stage starts with its min and grows to what it allows. */
		if (aic_stage_autoscales(st))
			snprintf(as, sizeof(as), "starts %d, busy %.2f, up %d s, down %d s",
				 st->replicas_min, st->autoscale.target_busy,
				 st->autoscale.up_after_s, st->autoscale.down_after_s);
		printf("%-12s %-8s %-5d %-5d %-7d %-7d %-14s %s\n", st->name,
		       st->ranks ? "gang" : "replicas",
		       st->ranks ? (st->ranks_min > 0 ? st->ranks_min : st->ranks)
				 : st->replicas_min,
		       st->ranks ? st->ranks : st->replicas_max, placed,
		       stage_allows(spec, pn, plan, i, flags),
		       st->ranks			     ? "pack (a gang)"
		       : st->placement == AIC_PLACEMENT_PACK ? "pack"
							     : "spread",
		       as);
	}
	printf("\n");
}

static void print_plan_table(const struct aic_spec *spec, const struct plan_nodes *pn,
			     const struct aic_plan *plan, unsigned flags)
{
	size_t i, j, used = 0, total = 0;
	char gpus[256], bus[1024], cpus[256], l[24], numa[16];

	for (i = 0; i < plan->n_procs; i++)
		used += spec->stages[plan->procs[i].stage].colocate_with ? 0 : plan->procs[i].n_gpus;
	for (i = 0; i < pn->n; i++)
		total += pn->nodes[i].topo->n_gpus;
	printf("plan for '%s': %zu process%s on %zu node%s, %zu of %zu GPUs\n\n",
	       spec->name ? spec->name : spec->path, plan->n_procs, plan->n_procs == 1 ? "" : "es",
	       pn->n, pn->n == 1 ? "" : "s", used, total);
	print_stages(spec, pn, plan, flags);
	printf("%-12s %-12s %-10s %-10s %-5s %-14s %-4s %-8s %-14s %s\n", "stage", "process",
	       "node", "gpus", "link", "cpus", "numa", "nic", "gpu bus ids", "why");
	for (i = 0; i < plan->n_procs; i++) {
		const struct aic_proc *p = &plan->procs[i];
		const struct aic_stage *st = &spec->stages[p->stage];
		const struct aic_topo *t = pn->nodes[p->node].topo;
		char proc[32];
		size_t o = 0, ob = 0;

		gpus[0] = bus[0] = '\0';
		for (j = 0; j < p->n_gpus; j++) {
			o += (size_t)snprintf(gpus + o, sizeof(gpus) - o, "%s%d", j ? "," : "", p->gpus[j]);
			ob += (size_t)snprintf(bus + ob, sizeof(bus) - ob, "%s%s", j ? "," : "",
					       t->gpus[p->gpus[j]].busid);
			if (o >= sizeof(gpus) || ob >= sizeof(bus))
				break;
		}
		snprintf(proc, sizeof(proc), "%s %d", st->ranks ? "rank" : "replica", p->index);
		if (p->numa >= 0)
			snprintf(numa, sizeof(numa), "%d", p->numa);
		else
			snprintf(numa, sizeof(numa), "-");
		printf("%-12s %-12s %-10s %-10s %-5s %-14s %-4s %-8s %-14s %s\n", st->name, proc,
		       pn->nodes[p->node].name, p->n_gpus ? gpus : "-", link_of(t, p, l, sizeof(l)),
		       aic_cpuset_format(&p->cpus, cpus, sizeof(cpus)), numa,
		       p->nic >= 0 ? t->nics[p->nic].name : "-", p->n_gpus ? bus : "-",
		       p->why ? p->why : "-");
	}
	if (plan->notes)
		printf("\n%s", plan->notes);
}

static json_t *plan_json(const struct aic_spec *spec, const struct plan_nodes *pn,
			 const struct aic_plan *plan, unsigned flags)
{
	json_t *o = json_object(), *nodes = json_array(), *procs = json_array();
	json_t *stages = json_array();
	size_t i, j;
	char buf[256];

	json_object_set_new(o, "job", spec->name ? json_string(spec->name) : json_null());
	for (i = 0; i < pn->n; i++)
		json_array_append_new(nodes, json_pack("{s:s,s:s,s:i}", "name", pn->nodes[i].name,
						       "host", pn->nodes[i].topo->host, "gpus",
						       (int)pn->nodes[i].topo->n_gpus));
	json_object_set_new(o, "nodes", nodes);
	for (i = 0; i < spec->n_stages; i++) {
		const struct aic_stage *st = &spec->stages[i];
		int placed = 0;
		for (j = 0; j < plan->n_procs; j++)
			placed += plan->procs[j].stage == i;
		json_array_append_new(
			stages,
			json_pack("{s:s,s:s,s:i,s:i,s:i,s:i,s:s}", "name", st->name, "kind",
				  st->ranks ? "gang" : "replicas", "min",
				  st->ranks ? (st->ranks_min > 0 ? st->ranks_min : st->ranks)
					    : st->replicas_min,
				  "max", st->ranks ? st->ranks : st->replicas_max, "placed", placed,
				  "allows", stage_allows(spec, pn, plan, i, flags), "placement",
				  st->ranks || st->placement == AIC_PLACEMENT_PACK ? "pack"
										   : "spread"));
		if (aic_stage_autoscales(st))
			json_object_set_new(json_array_get(stages, i), "autoscale",
					    json_pack("{s:i,s:f,s:i,s:i}", "starts",
						      st->replicas_min, "target_busy",
						      st->autoscale.target_busy, "up_after_s",
						      st->autoscale.up_after_s, "down_after_s",
						      st->autoscale.down_after_s));
	}
	json_object_set_new(o, "stages", stages);
	for (i = 0; i < plan->n_procs; i++) {
		const struct aic_proc *p = &plan->procs[i];
		const struct aic_stage *st = &spec->stages[p->stage];
		const struct aic_topo *t = pn->nodes[p->node].topo;
		json_t *g = json_array();
		for (j = 0; j < p->n_gpus; j++)
			json_array_append_new(g, json_pack("{s:i,s:s}", "index", p->gpus[j], "busid",
							   t->gpus[p->gpus[j]].busid));
		json_array_append_new(
			procs,
			json_pack("{s:s,s:s,s:i,s:s,s:i,s:o,s:s,s:i,s:o,s:s}", "stage", st->name,
				  "kind", st->ranks ? "rank" : "replica", "index", p->index, "node",
				  pn->nodes[p->node].name, "local_rank", p->local_rank, "gpus", g,
				  "cpus", aic_cpuset_format(&p->cpus, buf, sizeof(buf)), "numa",
				  p->numa, "nic",
				  p->nic >= 0 ? json_string(t->nics[p->nic].name) : json_null(),
				  "why", p->why ? p->why : "-"));
	}
	json_object_set_new(o, "procs", procs);
	if (plan->notes) {
		json_t *notes = json_array();
		char *copy = strdup(plan->notes), *line, *save = NULL;
		for (line = copy ? strtok_r(copy, "\n", &save) : NULL; line;
		     line = strtok_r(NULL, "\n", &save))
			json_array_append_new(notes, json_string(line));
		free(copy);
		json_object_set_new(o, "notes", notes);
	}
	return o;
}

int cmd_plan(int argc, char **argv)
{
	static const struct option opts[] = {
		{"topo", required_argument, NULL, 't'}, {"nodes", required_argument, NULL, 'n'},
		{"json", no_argument, NULL, 'j'},	{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char **xmls = NULL;
	size_t n_xml = 0, n_topos, i;
	long nodes = 0;
	bool json = false;
	struct aic_spec *spec = NULL;
	struct aic_plan *plan = NULL;
	struct plan_nodes pn = {0};
	char *errors = NULL, *end;
	unsigned flags;
	int c, rc = 1;

	while ((c = getopt_long(argc, argv, "t:n:h", opts, NULL)) != -1) {
		switch (c) {
		case 't': {
			const char **x = realloc(xmls, (n_xml + 1) * sizeof(*x));
			if (!x)
				goto out_free;
			xmls = x;
			xmls[n_xml++] = optarg;
			break;
		}
		case 'n':
			errno = 0;
			nodes = strtol(optarg, &end, 10);
			if (errno || *end || nodes < 1 || nodes > 100000) {
				fprintf(stderr, "aic plan: invalid --nodes '%s': expected a count from 1\n", optarg);
				rc = 2;
				goto out_free;
			}
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			rc = cli_help(stdout, argv[0]);
			goto out_free;
		default:
			rc = 2;
			goto out_free;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "aic plan: expected one job spec (see 'aic --help')\n");
		rc = 2;
		goto out_free;
	}
	if (n_xml > 1 && nodes && (size_t)nodes != n_xml) {
		fprintf(stderr, "aic plan: --nodes %ld with %zu --topo files: give one --topo per node, or one --topo for all\n",
			nodes, n_xml);
		rc = 2;
		goto out_free;
	}
	rc = aic_spec_load(argv[optind], &spec, &errors);
	if (rc) {
		fputs(errors, stderr);
		rc = 1;
		goto out_free;
	}

	rc = 1;
	n_topos = n_xml ? n_xml : 1;
	pn.n = nodes ? (size_t)nodes : n_topos;
	pn.topos = calloc(n_topos, sizeof(*pn.topos));
	pn.nodes = calloc(pn.n, sizeof(*pn.nodes));
	pn.names = calloc(pn.n, sizeof(*pn.names));
	if (!pn.topos || !pn.nodes || !pn.names)
		goto out_free_nodes;
	for (i = 0; i < n_topos; i++)
		if (cli_load_topo(n_xml ? xmls[i] : NULL, &pn.topos[i]))
			goto out_free_nodes;
	for (i = 0; i < pn.n; i++) {
		const struct aic_topo *t = pn.topos[n_topos == 1 ? 0 : i];
		size_t j, same = 0;
		char name[96];
		for (j = 0; j < pn.n; j++)
			same += pn.topos[n_topos == 1 ? 0 : j] == t ||
				!strcmp(pn.topos[n_topos == 1 ? 0 : j]->host, t->host);
		/* Nodes from the same file or host name are told apart by number. */
		if (same > 1)
			snprintf(name, sizeof(name), "%s-%zu", t->host, i + 1);
		else
			snprintf(name, sizeof(name), "%s", t->host);
		pn.names[i] = strdup(name);
		if (!pn.names[i])
			goto out_free_nodes;
		pn.nodes[i].name = pn.names[i];
		pn.nodes[i].topo = t;
	}
	/* One node and no --nodes is this machine under aic run, where cpus: is a wish. */
	flags = !nodes && n_xml <= 1 ? AIC_PLACE_SOFT_CPUS : 0;
	rc = aic_place_flags(spec, pn.nodes, pn.n, flags, &plan, &errors);
	if (rc) {
		fputs(errors ? errors : "aic: placement failed\n", stderr);
		rc = 1;
		goto out_free_nodes;
	}
	if (json) {
		rc = cli_print_json(plan_json(spec, &pn, plan, flags));
	} else {
		print_plan_table(spec, &pn, plan, flags);
		rc = 0;
	}

out_free_nodes:
	free_plan_nodes(&pn, n_xml ? n_xml : 1);
out_free:
	aic_plan_free(plan);
	aic_spec_free(spec);
	free(errors);
	free(xmls);
	return rc;
}
