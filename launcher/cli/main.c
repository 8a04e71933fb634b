/*
 * aic: the command-line tool. main.c is its command table and dispatch; each
 * command lives in its own file with its usage beside it (see cli.h). The
 * commands are thin: the spec parser, the topology model and the solver in
 * libaic, and the engine in launcher/engine/, do the work.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "cli.h"
#include "topo.h"

/*
 * Every command, in the order `aic --help` lists them. The usage (the
 * synopsis and the options) is beside the command's code; the summary is
 * the one line that the overview and the command's help print under the
 * synopsis.
 */
static const struct cli_command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *usage;
	const char *summary;
} commands[] = {
	{"plan", cmd_plan, cmd_plan_usage,
	 "validate the job spec and print where each process would run"},
	{"topo", cmd_topo, cmd_topo_usage,
	 "print this node's (or XML's) GPU, NUMA and NIC topology"},
	{"run", cmd_run, cmd_run_usage,
	 "run the job on this machine, without SLURM (the engine in one process)"},
	{"submit", cmd_submit, cmd_submit_usage,
	 "write an sbatch script that runs SPEC with aic-launch, and submit it"},
	{"status", cmd_status, cmd_status_usage,
	 "the job's stages, processes, nodes, GPUs, states and restarts"},
	{"logs", cmd_logs, cmd_logs_usage,
	 "a stage's worker logs (all replicas or ranks, or number N)"},
	{"metrics", cmd_metrics, cmd_metrics_usage,
	 "the metrics workers reported (count, last, min, max per stage and name)"},
	{"stop", cmd_stop, cmd_stop_usage,
	 "stop the job: every worker gets SIGTERM, then SIGKILL"},
	{"timeline", cmd_timeline, cmd_timeline_usage,
	 "the job's events as a Perfetto (Chrome trace-event JSON) timeline"},
	{"dashboard", cmd_dashboard, cmd_dashboard_usage,
	 "serve a live page of the job: nodes, GPUs, stages, channels, metrics, events"},
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static const struct cli_command *find_command(const char *name)
{
	size_t i;

	for (i = 0; i < N_COMMANDS; i++)
		if (!strcmp(name, commands[i].name))
			return &commands[i];
	return NULL;
}

/* The usage's first line, the synopsis, is this long. */
static int synopsis_len(const char *usage)
{
	return (int)strcspn(usage, "\n");
}

static void usage(FILE *f)
{
	size_t i;

	fputs("usage: aic <command> [options]\n"
	      "\n"
	      "commands:\n",
	      f);
	/* The list is of aic's commands: their synopses go without "aic ". */
	for (i = 0; i < N_COMMANDS; i++) {
		const char *u = commands[i].usage + strlen("aic ");
		fprintf(f, "  %.*s\n        %s\n", synopsis_len(u), u, commands[i].summary);
	}
	fputs("  help [COMMAND], --help\n"
	      "        this text, or a command's usage and options (as 'aic COMMAND --help')\n"
	      "  version, --version\n"
	      "\n"
	      "Without --topo, the topology comes from $AIC_TOPO_XML, else from hwloc's\n"
	      "discovery of this machine. status, logs, metrics, stop, timeline and dashboard\n"
	      "find the job through --job DIR, else .aic/latest in this directory. See aic(1)\n"
	      "and aic-job(5).\n",
	      f);
}

int cli_help(FILE *f, const char *name)
{
	const struct cli_command *c = find_command(name);
	int n;

	if (!c) {
		fprintf(stderr, "aic: '%s' is not an aic command (see 'aic --help')\n", name);
		return 2;
	}
	n = synopsis_len(c->usage);
	fprintf(f, "usage: %.*s\n        %s\n", n, c->usage, c->summary);
	if (c->usage[n] && c->usage[n + 1])
		fprintf(f, "\n%s", c->usage + n + 1);
	return 0;
}

int cli_load_topo(const char *xml, struct aic_topo **t)
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

int cli_print_json(json_t *o)
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

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;
	const struct cli_command *c;

	if (!cmd) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(cmd, "help") && argc > 2) {
		if (argc > 3) {
			fprintf(stderr, "aic help: unexpected argument '%s'\n", argv[3]);
			return 2;
		}
		return cli_help(stdout, argv[2]);
	}
	if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
		printf("aic %s\n", PACKAGE_VERSION);
		return 0;
	}
	c = find_command(cmd);
	if (!c) {
		fprintf(stderr, "aic: '%s' is not an aic command (see 'aic --help')\n", cmd);
		return 2;
	}
	return c->fn(argc - 1, argv + 1);
}
