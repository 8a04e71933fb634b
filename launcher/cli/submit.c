/*
 * aic submit: writes an sbatch script that runs a job spec with aic-launch
 * on enough nodes for every stage at its minimum, and runs sbatch on it.
 * Options it does not know go to sbatch as they are.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "spec.h"

const char cmd_submit_usage[] =
	"aic submit SPEC [-N NODES] [--gpus-per-node G] [SBATCH-OPTION]...\n"
	"  -N NODES      the number of nodes (default: enough for the GPUs every stage\n"
	"                needs at its minimum)\n"
	"  --gpus-per-node G\n"
	"                the GPUs of a node (default 8)\n"
	"  SBATCH-OPTION any other option, passed to sbatch\n";

int cmd_submit(int argc, char **argv)
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
	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		free(extra);
		return cli_help(stdout, argv[0]);
	}
	if (argc < 2 || argv[1][0] == '-') {
		fprintf(stderr, "usage: %.*s\n", (int)strcspn(cmd_submit_usage, "\n"), cmd_submit_usage);
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
