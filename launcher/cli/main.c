/*
 * aic: the command-line tool. `aic plan` shows where a job's processes would
 * run; `aic topo` shows a node's GPU topology. Both are thin: the spec
 * parser, the topology model and the solver in libaic do the work.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <sys/stat.h>
#include <time.h>
#include <limits.h>
#include <sched.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "client.h"
#include "engine/engine.h"
#include "engine/jobdir.h"
#include "engine/log.h"
#include "error.h"
#include "place.h"
#include "token.h"
#include "wire.h"
#include "spec.h"
#include "topo.h"
#include "topo_json.h"
#include "metrics.h"

static void usage(FILE *f)
{
	fputs("usage: aic <command> [options]\n"
	      "\n"
	      "commands:\n"
	      "  plan SPEC [--topo XML]... [--nodes N] [--json]\n"
	      "        validate the job spec and print where each process would run\n"
	      "  topo [--topo XML] [--json | --gres-conf | --features]\n"
	      "        print this node's (or XML's) GPU, NUMA and NIC topology\n"
	      "  run SPEC [--topo XML]\n"
	      "        run the job on this machine, without SLURM (the engine in one process)\n"
	      "  submit SPEC [-N NODES] [--gpus-per-node G] [SBATCH-OPTION]...\n"
	      "        write an sbatch script that runs SPEC with aic-launch, and submit it\n"
	      "  status [--job DIR] [--json]\n"
	      "        the job's stages, processes, nodes, GPUs, states and restarts\n"
	      "  logs STAGE[/N] [--job DIR] [-f]\n"
	      "        a stage's worker logs (all replicas or ranks, or number N)\n"
	      "  metrics [--job DIR] [--json]\n"
	      "        the metrics workers reported (count, last, min, max per stage and name)\n"
	      "  stop [--job DIR]\n"
	      "        stop the job: every worker gets SIGTERM, then SIGKILL\n"
	      "  help, --help     this text\n"
	      "  version, --version\n"
	      "\n"
	      "Without --topo, the topology comes from $AIC_TOPO_XML, else from hwloc's\n"
	      "discovery of this machine. status, logs, metrics and stop find the job through\n"
	      "--job DIR, else .aic/latest in this directory. See aic(1) and aic-job(5).\n",
	      f);
}

static int load_topo(const char *xml, struct aic_topo **t)
{
	char *errors = NULL;
	int rc;

	if (!xml)
		xml = getenv("AIC_TOPO_XML");
	if (xml && !*xml)
		xml = NULL;
	rc = xml ? aic_topo_load_xml(xml, t, &errors) : aic_topo_load_live(t, &errors);
	if (rc) {
		fputs(errors ? errors : "aic: cannot load the topology\n", stderr);
		free(errors);
	}
	return rc;
}

/* --- aic topo -------------------------------------------------------- */

/* A short GPU type for gres.conf from the model name: "NVIDIA H100 80GB HBM3" -> "h100". */
static void gpu_type(const char *model, char *buf, size_t len)
{
	static const char *const skip[] = {"NVIDIA", "Tesla", "RTX", "GeForce", "Quadro", NULL};
	char tok[64];
	const char *p = model;
	size_t n, i;

	buf[0] = '\0';
	while (*p) {
		bool skipped = false;
		while (*p == ' ')
			p++;
		for (n = 0; p[n] && p[n] != ' ' && n < sizeof(tok) - 1; n++)
			tok[n] = p[n];
		tok[n] = '\0';
		p += n;
		if (!n)
			break;
		for (i = 0; skip[i]; i++)
			skipped |= !strcmp(tok, skip[i]);
		if (skipped)
			continue;
		if (!isalpha((unsigned char)tok[0]))
			return;
		for (i = 0; tok[i] && tok[i] != '-' && i < len - 1; i++)
			buf[i] = (char)tolower((unsigned char)tok[i]);
		buf[i] = '\0';
		return;
	}
}

static void print_topo_table(const struct aic_topo *t)
{
	size_t a, b;
	char l[24], cpus[256];

	printf("%s: %zu package%s, %zu NUMA node%s, %zu cores, %d CPUs, %zu GPU%s, %zu NIC%s\n\n",
	       t->host, t->n_packages, t->n_packages == 1 ? "" : "s", t->n_numa,
	       t->n_numa == 1 ? "" : "s", t->n_cores, aic_cpuset_count(&t->cpus), t->n_gpus,
	       t->n_gpus == 1 ? "" : "s", t->n_nics, t->n_nics == 1 ? "" : "s");
	if (t->n_gpus) {
		printf("%-7s", "");
		for (b = 0; b < t->n_gpus; b++)
			printf(" GPU%-2zu", b);
		for (b = 0; b < t->n_nics; b++)
			printf(" NIC%-2zu", b);
		printf(" %-16s %-5s %s\n", "CPU affinity", "NUMA", "bus id / model");
		for (a = 0; a < t->n_gpus; a++) {
			printf("GPU%-4zu", a);
			for (b = 0; b < t->n_gpus; b++)
				printf(" %-5s", aic_link_name(aic_topo_link(t, a, b),
							      aic_topo_nvlinks(t, a, b), l, sizeof(l)));
			for (b = 0; b < t->n_nics; b++)
				printf(" %-5s", aic_link_name(t->gpu_nic[a * t->n_nics + b], 0, l,
							      sizeof(l)));
			aic_cpuset_format(&t->gpus[a].cpus, cpus, sizeof(cpus));
			if (t->gpus[a].numa >= 0)
				snprintf(l, sizeof(l), "%d", t->gpus[a].numa);
			else
				snprintf(l, sizeof(l), "N/A");
			printf(" %-16s %-5s %s %s\n", cpus[0] ? cpus : "N/A", l, t->gpus[a].busid,
			       t->gpus[a].model);
		}
		printf("\n");
	}
	for (a = 0; a < t->n_nics; a++) {
		printf("NIC%zu: %s (%s%s%s, %s, NUMA ", a, t->nics[a].name,
		       t->nics[a].kind == AIC_NIC_IB ? "InfiniBand/RoCE" : "Ethernet",
		       t->nics[a].ifname[0] && strcmp(t->nics[a].ifname, t->nics[a].name) ? ", " : "",
		       t->nics[a].ifname[0] && strcmp(t->nics[a].ifname, t->nics[a].name)
			       ? t->nics[a].ifname
			       : "",
		       t->nics[a].busid);
		if (t->nics[a].numa >= 0)
			printf("%d)\n", t->nics[a].numa);
		else
			printf("N/A)\n");
	}
	for (a = 0; a < t->n_numa; a++)
		printf("NUMA %d: CPUs %s\n", t->numa[a].os_index,
		       aic_cpuset_format(&t->numa[a].cpus, cpus, sizeof(cpus)));
	if (t->n_gpus)
		printf("\nLegend: X self, NV# NVLink (# links), PIX one PCIe switch, PXB several PCIe\n"
		       "switches, PHB a PCIe host bridge, NODE host bridges in one NUMA node, SYS\n"
		       "across NUMA nodes.\n");
}

/* gres.conf lines: Cores= are SLURM's core indices (0..n-1, socket-major). */
static void print_gres_conf(const struct aic_topo *t)
{
	size_t a, b, c;
	char type[32];

	printf("# %s: %zu GPU%s (written by aic topo --gres-conf)\n", t->host, t->n_gpus,
	       t->n_gpus == 1 ? "" : "s");
	for (a = 0; a < t->n_gpus; a++) {
		bool any = false;
		gpu_type(t->gpus[a].model, type, sizeof(type));
		printf("NodeName=%s Name=gpu", t->host);
		if (type[0])
			printf(" Type=%s", type);
		printf(" File=/dev/nvidia%zu", a);
		for (c = 0; c < t->n_cores; c++) {
			struct aic_cpuset x;
			aic_cpuset_and(&x, &t->cores[c].pus, &t->gpus[a].cpus);
			if (aic_cpuset_empty(&x))
				continue;
			/* Contiguous ranges of core indices. */
			size_t end = c;
			while (end + 1 < t->n_cores) {
				aic_cpuset_and(&x, &t->cores[end + 1].pus, &t->gpus[a].cpus);
				if (aic_cpuset_empty(&x))
					break;
				end++;
			}
			printf("%s", any ? "," : " Cores=");
			if (end == c)
				printf("%zu", c);
			else
				printf("%zu-%zu", c, end);
			any = true;
			c = end;
		}
		printf(" Links=");
		for (b = 0; b < t->n_gpus; b++)
			printf("%s%d", b ? "," : "",
			       a == b ? -1 : aic_topo_link(t, a, b) == AIC_LINK_NV ? aic_topo_nvlinks(t, a, b) : 0);
		printf("\n");
	}
}

/* Node features for node_features/helpers: one per line. */
static void print_features(const struct aic_topo *t)
{
	size_t a, b;
	bool nvlink = false, nvswitch = false, ib = false;
	char type[32];

	if (t->n_gpus) {
		gpu_type(t->gpus[0].model, type, sizeof(type));
		if (type[0])
			printf("gpu_%s\n", type);
		printf("gpus_%zu\n", t->n_gpus);
	}
	for (a = 0; a < t->n_gpus; a++) {
		nvswitch |= t->gpus[a].nvswitch;
		for (b = 0; b < t->n_gpus; b++)
			nvlink |= aic_topo_link(t, a, b) == AIC_LINK_NV;
	}
	for (a = 0; a < t->n_nics; a++)
		ib |= t->nics[a].kind == AIC_NIC_IB;
	if (nvswitch)
		printf("nvswitch\n");
	if (nvlink)
		printf("nvlink\n");
	if (ib)
		printf("ib\n");
	printf("numa_%zu\n", t->n_numa);
}

static int print_json(json_t *o)
{
	int rc;

	if (!o) {
		fprintf(stderr, "aic: out of memory\n");
		return 1;
	}
	rc = json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) == 0 ? 0 : 1;
	printf("\n");
	json_decref(o);
	return rc;
}

static int cmd_topo(int argc, char **argv)
{
	static const struct option opts[] = {
		{"topo", required_argument, NULL, 't'},	 {"json", no_argument, NULL, 'j'},
		{"gres-conf", no_argument, NULL, 'g'}, {"features", no_argument, NULL, 'f'},
		{"help", no_argument, NULL, 'h'},	 {NULL, 0, NULL, 0},
	};
	const char *xml = NULL;
	struct aic_topo *t;
	int c, mode = 0, rc = 0;

	while ((c = getopt_long(argc, argv, "t:h", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			xml = optarg;
			break;
		case 'j':
		case 'g':
		case 'f':
			if (mode && mode != c) {
				fprintf(stderr, "aic topo: --json, --gres-conf and --features exclude each other\n");
				return 2;
			}
			mode = c;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "aic topo: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (load_topo(xml, &t))
		return 1;
	switch (mode) {
	case 'j':
		rc = print_json(aic_topo_to_json(t));
		break;
	case 'g':
		print_gres_conf(t);
		break;
	case 'f':
		print_features(t);
		break;
	default:
		print_topo_table(t);
	}
	aic_topo_free(t);
	return rc;
}

/* --- aic plan -------------------------------------------------------- */

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

static void print_plan_table(const struct aic_spec *spec, const struct plan_nodes *pn,
			     const struct aic_plan *plan)
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
	printf("%-12s %-12s %-10s %-10s %-5s %-14s %-4s %-8s %s\n", "stage", "process", "node", "gpus",
	       "link", "cpus", "numa", "nic", "gpu bus ids");
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
		printf("%-12s %-12s %-10s %-10s %-5s %-14s %-4s %-8s %s\n", st->name, proc,
		       pn->nodes[p->node].name, p->n_gpus ? gpus : "-", link_of(t, p, l, sizeof(l)),
		       aic_cpuset_format(&p->cpus, cpus, sizeof(cpus)), numa,
		       p->nic >= 0 ? t->nics[p->nic].name : "-", p->n_gpus ? bus : "-");
	}
}

static json_t *plan_json(const struct aic_spec *spec, const struct plan_nodes *pn,
			 const struct aic_plan *plan)
{
	json_t *o = json_object(), *nodes = json_array(), *procs = json_array();
	size_t i, j;
	char buf[256];

	json_object_set_new(o, "job", spec->name ? json_string(spec->name) : json_null());
	for (i = 0; i < pn->n; i++)
		json_array_append_new(nodes, json_pack("{s:s,s:s,s:i}", "name", pn->nodes[i].name,
						       "host", pn->nodes[i].topo->host, "gpus",
						       (int)pn->nodes[i].topo->n_gpus));
	json_object_set_new(o, "nodes", nodes);
	for (i = 0; i < plan->n_procs; i++) {
		const struct aic_proc *p = &plan->procs[i];
		const struct aic_stage *st = &spec->stages[p->stage];
		const struct aic_topo *t = pn->nodes[p->node].topo;
		json_t *g = json_array();
		for (j = 0; j < p->n_gpus; j++)
			json_array_append_new(g, json_pack("{s:i,s:s}", "index", p->gpus[j], "busid",
							   t->gpus[p->gpus[j]].busid));
		json_array_append_new(
			procs, json_pack("{s:s,s:s,s:i,s:s,s:i,s:o,s:s,s:i,s:o}", "stage", st->name,
					 "kind", st->ranks ? "rank" : "replica", "index", p->index,
					 "node", pn->nodes[p->node].name, "local_rank", p->local_rank,
					 "gpus", g, "cpus",
					 aic_cpuset_format(&p->cpus, buf, sizeof(buf)), "numa", p->numa,
					 "nic", p->nic >= 0 ? json_string(t->nics[p->nic].name) : json_null()));
	}
	json_object_set_new(o, "procs", procs);
	return o;
}

static int cmd_plan(int argc, char **argv)
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
			usage(stdout);
			rc = 0;
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
		if (load_topo(n_xml ? xmls[i] : NULL, &pn.topos[i]))
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
	rc = aic_place(spec, pn.nodes, pn.n, &plan, &errors);
	if (rc) {
		fputs(errors ? errors : "aic: placement failed\n", stderr);
		rc = 1;
		goto out_free_nodes;
	}
	if (json) {
		rc = print_json(plan_json(spec, &pn, plan));
	} else {
		print_plan_table(spec, &pn, plan);
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

/* --- aic run -------------------------------------------------------- */

/* Where aic status and aic stop find the head. */
static int publish_head(int port, void *arg)
{
	char head[64];

	if (port == 0)
		return -1;
	snprintf(head, sizeof(head), "127.0.0.1:%d", port);
	return jobdir_write_text(arg, "head", head);
}

static int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{"topo", required_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *xml = NULL;
	struct aic_spec *spec = NULL;
	struct aic_topo *topo = NULL;
	struct engine_opts o = {0};
	struct aic_cpuset cpus;
	char token[AIC_TOKEN_LEN + 1], jobdir[PATH_MAX], cwd[PATH_MAX], name[64], host[256];
	char *errors = NULL;
	int c, rc = 1;

	while ((c = getopt_long(argc, argv, "t:h", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			xml = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "aic run: expected one job spec (see 'aic --help')\n");
		return 2;
	}
	if (aic_spec_load(argv[optind], &spec, &errors) != 0) {
		fputs(errors, stderr);
		free(errors);
		return 1;
	}
	if (load_topo(xml, &topo))
		goto out_free;
	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	aic_log_set_name("aic run", NULL);
	aic_cpuset_get_affinity(&cpus);
	snprintf(name, sizeof(name), "run-%d", (int)getpid());
	if (aic_token_new(token) != 0 || !getcwd(cwd, sizeof(cwd)) ||
	    jobdir_create(cwd, name, token, jobdir, sizeof(jobdir)) != 0)
		goto out_free;
	o.is_head = true;
	o.spec = spec;
	o.jobdir = jobdir;
	o.n_nodes = 1;
	o.listen_addr = "127.0.0.1";
	o.addr = "127.0.0.1";
	o.token = token;
	o.node = host;
	o.topo = topo;
	o.cpus = &cpus;
	o.cvd = getenv("CUDA_VISIBLE_DEVICES");
	o.publish = publish_head;
	o.publish_arg = jobdir;
	fprintf(stderr, "aic run: job directory %s\n", jobdir);
	rc = engine_run(&o);
out_free:
	aic_topo_free(topo);
	aic_spec_free(spec);
	return rc;
}

/* --- aic status, logs, stop ------------------------------------------- */

/* Parses --job DIR (and the given extra flags) for the job commands. */
static int job_dir_arg(int argc, char **argv, char *dir, size_t len, int *json, int *follow,
		       const char **operand)
{
	static const struct option opts[] = {
		{"job", required_argument, NULL, 'J'}, {"json", no_argument, NULL, 'j'},
		{"follow", no_argument, NULL, 'f'},    {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *given = NULL;
	char err[512];
	int c;

	while ((c = getopt_long(argc, argv, json || follow ? "fh" : "h", opts, NULL)) != -1) {
		switch (c) {
		case 'J':
			given = optarg;
			break;
		case 'j':
			if (!json)
				return 2;
			*json = 1;
			break;
		case 'f':
			if (!follow)
				return 2;
			*follow = 1;
			break;
		case 'h':
			usage(stdout);
			return -1;
		default:
			return 2;
		}
	}
	if (operand) {
		if (optind != argc - 1) {
			fprintf(stderr, "aic %s: expected one argument (see 'aic --help')\n", argv[0]);
			return 2;
		}
		*operand = argv[optind];
	} else if (optind != argc) {
		fprintf(stderr, "aic %s: unexpected argument '%s'\n", argv[0], argv[optind]);
		return 2;
	}
	if (jobdir_find(given, dir, len, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	return 0;
}

/* The live status from the head, or the last one written if the job has ended. */
static json_t *job_status(const char *dir, bool *live)
{
	char err[512], path[PATH_MAX + 32];
	json_t *st = NULL;

	*live = client_request(dir, AIC_MSG_STATUS, NULL, AIC_MSG_STATUS, &st, err, sizeof(err)) == 0;
	if (*live)
		return st;
	snprintf(path, sizeof(path), "%s/status.json", dir);
	st = json_load_file(path, 0, NULL);
	if (!st)
		fprintf(stderr, "%s\n", err);
	return st;
}

static int cmd_status(int argc, char **argv)
{
	char dir[PATH_MAX];
	int json = 0, rc = job_dir_arg(argc, argv, dir, sizeof(dir), &json, NULL, NULL);
	json_t *st, *p;
	bool live;
	size_t i, g;

	if (rc)
		return rc < 0 ? 0 : rc;
	st = job_status(dir, &live);
	if (!st)
		return 1;
	if (json)
		return print_json(st);
	printf("job '%s' %s%s, %lld node%s, up %.1f s%s%s\n",
	       json_string_value(json_object_get(st, "job")) ?: "",
	       json_string_value(json_object_get(st, "state")) ?: "?", live ? "" : " (ended)",
	       (long long)json_integer_value(json_object_get(st, "nodes")),
	       json_integer_value(json_object_get(st, "nodes")) == 1 ? "" : "s",
	       json_number_value(json_object_get(st, "uptime_s")),
	       json_object_get(st, "reason") ? ": " : "",
	       json_string_value(json_object_get(st, "reason")) ?: "");
	printf("%-12s %-12s %-10s %-8s %-9s %-8s %-8s %s\n", "stage", "process", "node", "gpus",
	       "state", "pid", "restarts", "uptime_s");
	json_array_foreach(json_object_get(st, "procs"), i, p) {
		char gpus[128] = "-", proc[32];
		size_t o = 0;
		json_t *v;
		json_array_foreach(json_object_get(p, "gpus"), g, v)
			o += (size_t)snprintf(gpus + o, sizeof(gpus) - o, "%s%lld", g ? "," : "",
					      (long long)json_integer_value(v));
		snprintf(proc, sizeof(proc), "%s %lld", json_string_value(json_object_get(p, "kind")) ?: "",
			 (long long)json_integer_value(json_object_get(p, "index")));
		printf("%-12s %-12s %-10s %-8s %-9s %-8lld %-8lld %.1f\n",
		       json_string_value(json_object_get(p, "stage")) ?: "", proc,
		       json_string_value(json_object_get(p, "node")) ?: "", gpus,
		       json_string_value(json_object_get(p, "state")) ?: "",
		       (long long)json_integer_value(json_object_get(p, "pid")),
		       (long long)json_integer_value(json_object_get(p, "restarts")),
		       json_number_value(json_object_get(p, "uptime_s")));
	}
	json_decref(st);
	return 0;
}

static int cmd_stop(int argc, char **argv)
{
	char dir[PATH_MAX], err[512];
	int rc = job_dir_arg(argc, argv, dir, sizeof(dir), NULL, NULL, NULL);

	if (rc)
		return rc < 0 ? 0 : rc;
	rc = client_request(dir, AIC_MSG_STOP, NULL, 0, NULL, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	printf("aic: stop sent to the job in %s\n", dir);
	return 0;
}

/* Copies new bytes of the file at path from *off to stdout. Returns bytes copied. */
static long copy_from(const char *path, long *off, const char *prefix)
{
	FILE *f = fopen(path, "r");
	char line[65536];
	long n = 0;

	if (!f)
		return 0;
	if (fseek(f, *off, SEEK_SET) == 0)
		while (fgets(line, sizeof(line), f)) {
			printf("%s%s", prefix, line);
			n += (long)strlen(line);
		}
	*off += n;
	fclose(f);
	fflush(stdout);
	return n;
}

static int cmd_logs(int argc, char **argv)
{
	char dir[PATH_MAX], path[PATH_MAX + 512], stage[256], prefix[300], *slash;
	const char *what = NULL;
	int follow = 0, rc = job_dir_arg(argc, argv, dir, sizeof(dir), NULL, &follow, &what);
	long offs[1024] = {0};
	int first, last, i, found = 0;
	struct stat st;

	if (rc)
		return rc < 0 ? 0 : rc;
	snprintf(stage, sizeof(stage), "%s", what);
	slash = strchr(stage, '/');
	if (slash) {
		*slash = '\0';
		first = last = atoi(slash + 1);
	} else {
		first = 0;
		last = 1023;
	}
	for (;;) {
		bool ended;
		long got = 0;
		for (i = first; i <= last; i++) {
			snprintf(path, sizeof(path), "%s/logs/%s.%d.log", dir, stage, i);
			if (stat(path, &st) != 0)
				continue;
			found = 1;
			snprintf(prefix, sizeof(prefix), "%s/%d: ", stage, i);
			got += copy_from(path, &offs[i], slash ? "" : prefix);
		}
		snprintf(path, sizeof(path), "%s/summary.json", dir);
		ended = stat(path, &st) == 0;
		if (!follow || (ended && got == 0))
			break;
		usleep(200000);
	}
	if (!found) {
		fprintf(stderr, "aic: no logs for '%s' in %s/logs\n", what, dir);
		return 1;
	}
	return 0;
}

/*
 * What the workers reported so far (metrics.jsonl, a line per point), as a
 * table or JSON: count, last value and step, min and max per stage and name.
 */
static int cmd_metrics(int argc, char **argv)
{
	char dir[PATH_MAX], path[PATH_MAX + 32], line[65536];
	int json = 0, rc = job_dir_arg(argc, argv, dir, sizeof(dir), &json, NULL, NULL);
	json_t *sum, *by, *s;
	size_t names = 0;
	const char *stage, *name;
	FILE *f;

	if (rc)
		return rc < 0 ? 0 : rc;
	snprintf(path, sizeof(path), "%s/metrics.jsonl", dir);
	f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "aic: no metrics in %s (workers report them with aic_metric, w.metric)\n",
			dir);
		return 1;
	}
	sum = json_object();
	while (fgets(line, sizeof(line), f)) {
		json_t *p = json_loads(line, 0, NULL);
		if (p)
			aic_metrics_add(sum, p, (size_t)-1, &names);
		json_decref(p);
	}
	fclose(f);
	if (json)
		return print_json(sum);
	printf("%-12s %-24s %8s %14s %10s %14s %14s\n", "stage", "name", "n", "last", "step", "min",
	       "max");
	json_object_foreach(sum, stage, by) {
		json_object_foreach(by, name, s) {
			json_t *last = json_object_get(s, "last"), *step = json_object_get(s, "last_step");
			char lv[32], st[24] = "-", lo[32] = "-", hi[32] = "-";
			if (json_is_number(last))
				snprintf(lv, sizeof(lv), "%.6g", json_number_value(last));
			else
				snprintf(lv, sizeof(lv), "%s", json_string_value(last) ?: "?");
			if (json_is_integer(step))
				snprintf(st, sizeof(st), "%lld", (long long)json_integer_value(step));
			if (json_object_get(s, "min"))
				snprintf(lo, sizeof(lo), "%.6g", json_number_value(json_object_get(s, "min")));
			if (json_object_get(s, "max"))
				snprintf(hi, sizeof(hi), "%.6g", json_number_value(json_object_get(s, "max")));
			printf("%-12s %-24s %8lld %14s %10s %14s %14s\n", stage, name,
			       (long long)json_integer_value(json_object_get(s, "n")), lv, st, lo, hi);
		}
	}
	json_decref(sum);
	return 0;
}

/* --- aic submit ------------------------------------------------------- */

static int cmd_submit(int argc, char **argv)
{
	struct aic_spec *spec = NULL;
	char *errors = NULL, abs[PATH_MAX], script[PATH_MAX + 64], cwd[PATH_MAX];
	long gpus = 0, nodes = 0, per_node = 8;
	int i, max_gpus = 0, n_extra = 0;
	char **extra = calloc((size_t)argc + 8, sizeof(char *));
	size_t s;
	FILE *f;

	if (!extra)
		return 1;
	if (argc < 2 || argv[1][0] == '-') {
		fprintf(stderr, "usage: aic submit SPEC [-N NODES] [--gpus-per-node G] [SBATCH-OPTION]...\n");
		free(extra);
		return 2;
	}
	for (i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "-N") && i + 1 < argc)
			nodes = atol(argv[++i]);
		else if (!strncmp(argv[i], "--nodes=", 8))
			nodes = atol(argv[i] + 8);
		else if (!strcmp(argv[i], "--gpus-per-node") && i + 1 < argc)
			per_node = atol(argv[++i]);
		else if (!strncmp(argv[i], "--gpus-per-node=", 16))
			per_node = atol(argv[i] + 16);
		else
			extra[n_extra++] = argv[i];
	}
	if (aic_spec_load(argv[1], &spec, &errors) != 0 || !realpath(argv[1], abs)) {
		fputs(errors ? errors : "aic: cannot read the spec\n", stderr);
		free(errors);
		free(extra);
		aic_spec_free(spec);
		return 1;
	}
	for (s = 0; s < spec->n_stages; s++) {
		const struct aic_stage *st = &spec->stages[s];
		int n = st->ranks ? st->ranks : st->replicas_min > 0 ? st->replicas_min : 1;
		if (!st->colocate_with)
			gpus += (long)n * st->gpus;
		if (st->gpus > max_gpus)
			max_gpus = st->gpus;
	}
	if (per_node < 1 || per_node < max_gpus) {
		fprintf(stderr, "aic submit: --gpus-per-node %ld is less than the %d GPUs one process needs\n",
			per_node, max_gpus);
		free(extra);
		aic_spec_free(spec);
		return 2;
	}
	/* Enough nodes for every stage at its minimum, when -N is not given. */
	if (nodes <= 0)
		nodes = gpus ? (gpus + per_node - 1) / per_node : 1;
	if (!getcwd(cwd, sizeof(cwd)) || mkdir(".aic", 0700) != 0) {
		if (errno != EEXIST) {
			perror("aic submit: .aic");
			free(extra);
			aic_spec_free(spec);
			return 1;
		}
	}
	snprintf(script, sizeof(script), ".aic/submit-%ld.sbatch", (long)time(NULL));
	f = fopen(script, "w");
	if (!f) {
		perror("aic submit");
		free(extra);
		aic_spec_free(spec);
		return 1;
	}
	fprintf(f, "#!/bin/sh\n# written by aic submit for %s\n", abs);
	fprintf(f, "#SBATCH --job-name=%s\n", spec->name ? spec->name : "aic");
	fprintf(f, "#SBATCH --nodes=%ld\n#SBATCH --ntasks-per-node=1\n#SBATCH --exclusive\n", nodes);
	if (gpus)
		fprintf(f, "#SBATCH --gres=gpu:%ld\n", per_node);
	fprintf(f, "#SBATCH --aic-job=%s\n", abs);
	fprintf(f, "exec srun --ntasks-per-node=1 --mpi=pmix aic-launch \"%s\"\n", abs);
	fclose(f);
	chmod(script, 0700);
	aic_spec_free(spec);
	printf("aic submit: %s (%ld node%s)\n", script, nodes, nodes == 1 ? "" : "s");
	fflush(stdout);
	{
		char **args = calloc((size_t)n_extra + 3, sizeof(char *));
		if (!args) {
			free(extra);
			return 1;
		}
		args[0] = "sbatch";
		for (i = 0; i < n_extra; i++)
			args[i + 1] = extra[i];
		args[n_extra + 1] = script;
		execvp("sbatch", args);
		perror("aic submit: sbatch");
		free(args);
	}
	free(extra);
	return 1;
}

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
} commands[] = {
	{"plan", cmd_plan},	{"topo", cmd_topo},	{"run", cmd_run},   {"submit", cmd_submit},
	{"status", cmd_status}, {"logs", cmd_logs}, {"metrics", cmd_metrics}, {"stop", cmd_stop},
};

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;
	size_t i;

	if (!cmd) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
		printf("aic %s\n", PACKAGE_VERSION);
		return 0;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(cmd, commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "aic: '%s' is not an aic command (see 'aic --help')\n", cmd);
	return 2;
}
