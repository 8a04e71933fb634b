/*
 * aic topo: a node's GPU, NUMA and NIC topology, as a matrix like
 * `nvidia-smi topo -m`, as JSON, as gres.conf lines or as node features.
 */
#include "config.h"

#include <ctype.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "topo.h"
#include "topo_json.h"

const char cmd_topo_usage[] =
	"aic topo [--topo XML] [--json | --gres-conf | --features]\n"
	"  --topo XML    the hwloc XML topology to print (default: $AIC_TOPO_XML, else\n"
	"                this machine)\n"
	"  --json        print JSON instead of a table\n"
	"  --gres-conf   print gres.conf lines for the node's GPUs (Type=, Cores=, Links=)\n"
	"  --features    print node features for node_features/helpers, one per line\n";
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

int cmd_topo(int argc, char **argv)
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
			return cli_help(stdout, argv[0]);
		default:
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "aic topo: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (cli_load_topo(xml, &t))
		return 1;
	switch (mode) {
	case 'j':
		rc = cli_print_json(aic_topo_to_json(t));
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
