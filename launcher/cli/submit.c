/*
 * aic submit: writes an sbatch script that runs a job spec with aic-launch
 * on enough nodes for every stage at its minimum, and runs sbatch on it.
 * Options it does not know go to sbatch as they are.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "engine/jobdir.h"
#include "spec.h"

const char cmd_submit_usage[] =
	"aic submit SPEC [-N NODES] [--gpus-per-node G] [--resume DIR] [--chain N] "
	"[SBATCH-OPTION]...\n"
	"  -N NODES      the number of nodes (default: enough for the GPUs every stage\n"
	"                needs at its minimum)\n"
	"  --gpus-per-node G\n"
	"                the GPUs of a node (default 8)\n"
	"  --resume DIR  continue the job whose directory is DIR (.aic/JOBID.0) from its\n"
	"                checkpoints and state\n"
	"  --chain N     submit N allocations, each starting when the one before ends\n"
	"                (--dependency=afterany) and continuing the first one's job\n"
	"  SBATCH-OPTION any other option, passed to sbatch (--signal, --time, ...)\n";

/*
 * The notice of the job's end: SIGUSR1 to the batch shell this many seconds
 * more than the spec's checkpoint.grace_s before the time limit (SLURM looks
 * every 30 s or so), which the script passes to aic-launch (drain.c).
 */
#define NOTICE_MARGIN_S 60

static void shell_quote(FILE *f, const char *s);

/*
 * Runs sbatch with args (--parsable among them) and reads the job id it
 * prints into id. Returns sbatch's exit status, or 1.
 */
static int sbatch_id(char **args, char *id, size_t len)
{
	int fds[2], status = 1;
	ssize_t n;
	size_t got = 0;
	pid_t pid;

	if (pipe(fds) != 0)
		return 1;
	pid = fork();
	if (pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		execvp("sbatch", args);
		perror("aic submit: sbatch");
		_exit(127);
	}
	close(fds[1]);
	while (pid > 0 && got + 1 < len && (n = read(fds[0], id + got, len - got - 1)) > 0)
		got += (size_t)n;
	id[got] = '\0';
	id[strcspn(id, ";\n")] = '\0';
	close(fds[0]);
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return 1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

/*
 * aic submit --chain N: N sbatch calls, each allocation after the one
 * before (afterany: whatever its end), all continuing the first one's job
 * directory (AIC_RESUME_DIR, which sbatch passes on in the environment).
 */
static int submit_chain(char **extra, int n_extra, const char *script, long chain)
{
	char **args = calloc((size_t)n_extra + 5, sizeof(char *));
	char id[64], prev[64] = "", dep[96], dir[PATH_MAX + 96], cwd[PATH_MAX];
	long k;
	int i, n, rc = 0;

	if (!args || !getcwd(cwd, sizeof(cwd))) {
		free(args);
		return 1;
	}
	for (k = 0; k < chain && rc == 0; k++) {
		n = 0;
		args[n++] = "sbatch";
		args[n++] = "--parsable";
		if (k) {
			snprintf(dep, sizeof(dep), "--dependency=afterany:%s", prev);
			args[n++] = dep;
		}
		for (i = 0; i < n_extra; i++)
			args[n++] = extra[i];
		args[n++] = (char *)script;
		args[n] = NULL;
		rc = sbatch_id(args, id, sizeof(id));
		if (rc == 0 && !id[0])
			rc = 1;
		if (rc)
			break;
		printf("Submitted batch job %s%s\n", id, k ? " (continues the chain)" : "");
		fflush(stdout);
		if (k == 0 && !getenv("AIC_RESUME_DIR")) {
			snprintf(dir, sizeof(dir), "%s/.aic/%s.0", cwd, id);
			setenv("AIC_RESUME_DIR", dir, 1);
		}
		snprintf(prev, sizeof(prev), "%s", id);
	}
	free(args);
	return rc ? 1 : 0;
}

/*
 * The spec path goes into the script twice, and a path may hold anything
 * but NUL: to the shell it is one single-quoted word ('\'' for a quote),
 * so $(...), `...` and "..." stay text.
 */
static void shell_quote(FILE *f, const char *s)
{
	fputc('\'', f);
	for (; *s; s++) {
		if (*s == '\'')
			fputs("'\\''", f);
		else
			fputc(*s, f);
	}
	fputc('\'', f);
}

/*
 * sbatch reads #SBATCH lines with its own rules (get_argument() in
 * src/sbatch/opt.c): outside quotes, whitespace ends a word (even after a
 * backslash) and '#' starts a comment; inside quotes, only a backslash and
 * the closing quote are special, a backslash making the next character
 * plain. A path with any character outside a safe set goes in double
 * quotes, with '\\' before '"' and '\\'.
 */
static void sbatch_quote(FILE *f, const char *s)
{
	const char *c;

	for (c = s; *c; c++)
		if (!isalnum((unsigned char)*c) && !strchr("/._-+,=:@%", *c))
			break;
	if (!*c) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (c = s; *c; c++) {
		if (*c == '"' || *c == '\\')
			fputc('\\', f);
		fputc(*c, f);
	}
	fputc('"', f);
}

/*
 * Opens a new .aic/submit-TIME.sbatch in this directory's trusted .aic
 * (jobdir_dot), never through a link and never over an existing file: a
 * script someone else could change would run as this user. Fills path.
 */
static FILE *script_open(const char *spec, char *path, size_t len)
{
	char dot[PATH_MAX], err[PATH_MAX + 256], name[64];
	time_t now = time(NULL);
	const char *c;
	int dirfd, fd = -1, n;
	FILE *f;

	/* No #SBATCH line and no comment can hold a line break. */
	for (c = spec; *c; c++)
		if (iscntrl((unsigned char)*c)) {
			fprintf(stderr,
				"aic submit: the spec path '%s' holds a control character (a line "
				"break?); rename it\n",
				spec);
			return NULL;
		}
	dirfd = jobdir_dot(".", dot, sizeof(dot), err, sizeof(err));
	if (dirfd < 0) {
		fprintf(stderr, "%s\n", err);
		return NULL;
	}
	/* submit-TIME.sbatch, or submit-TIME-N.sbatch after others in the same second. */
	for (n = 0; n < 100; n++) {
		if (n)
			snprintf(name, sizeof(name), "submit-%ld-%d.sbatch", (long)now, n);
		else
			snprintf(name, sizeof(name), "submit-%ld.sbatch", (long)now);
		fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			    0700);
		if (fd >= 0 || errno != EEXIST)
			break;
	}
	snprintf(path, len, ".aic/%s", name);
	close(dirfd);
	if (fd < 0 || !(f = fdopen(fd, "w"))) {
		fprintf(stderr, "aic submit: cannot write '%s': %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	return f;
}

/*
 * The script's body: what makes a node failure cost the job nothing it can
 * avoid, and SLURM never run again a job that succeeded
 * (../shared/notes/slurm-failures.md has SLURM 22.05's side, observed).
 *
 * - --no-kill on sbatch and on srun: a lost node is cut out of the job and
 *   of the step, which keep running on the nodes left, where aic carries
 *   on; without it SLURM cancels the job, or requeues it and reruns the
 *   work. sbatch's -k does not pass on to srun: each needs its own.
 * - The job's outcome is the head's (status.json), not srun's exit code:
 *   the task of an agent killed by a signal makes srun exit 128+n though
 *   the job succeeded on the nodes left, and SLURM would record it FAILED.
 * - The head signals the script (SIGUSR2, to AIC_BATCH_PID on
 *   AIC_BATCH_NODE: aic-launch.c) once it has ended, and the script ends
 *   the job then: srun waits for every node's task, and a lost node's
 *   never reports until SLURM declares the node down (SlurmdTimeout, 300 s
 *   by default), holding the whole allocation that long.
 * - A requeued run (SLURM_RESTART_COUNT > 0: a lost single node, a
 *   preemption, scontrol requeue) of a job that had already succeeded
 *   exits 0 at once instead of running the work again.
 * - srun runs in the background so that the shell can pass the signals it
 *   gets (--signal=B:USR1, the notice; scancel -b) on to srun, which
 *   passes them to every aic-launch; on status 75 (checkpointed on notice,
 *   drain.c) the job is requeued, unless a chained allocation continues it
 *   or the notice was SIGTERM: scancel means stop, and SLURM requeues what
 *   it preempts with PreemptMode=REQUEUE or is told to (scontrol requeue).
 */
static void script_run(FILE *f, const char *spec, bool chained)
{
	fputs("#SBATCH --no-kill\n"
	      "d=\"${AIC_RESUME_DIR:-${SLURM_SUBMIT_DIR:-.}/.aic/$SLURM_JOB_ID.0}\"\n"
	      "# The job's state, from status.json's top level (aic(1)).\n"
	      "state() {\n"
	      "\tsed -n 's/^  \"state\": \"\\([a-z]*\\)\",\\{0,1\\}$/\\1/p' \"$d/status.json\" "
	      "2>/dev/null\n"
	      "}\n"
	      "if [ \"${SLURM_RESTART_COUNT:-0}\" -gt 0 ] && [ \"$(state)\" = succeeded ]; then\n"
	      "\techo \"aic: job $SLURM_JOB_ID succeeded before SLURM requeued it "
	      "('$d/status.json'): not running it again\" >&2\n"
	      "\texit 0\n"
	      "fi\n"
	      "ended=\n"
	      "trap 'ended=1' USR2\n"
	      "export AIC_BATCH_PID=$$ AIC_BATCH_NODE=\"$SLURMD_NODENAME\"\n"
	      "srun --no-kill --ntasks-per-node=1 --mpi=pmix aic-launch ",
	      f);
	shell_quote(f, spec);
	fputs(" &\n"
	      "pid=$!\n"
	      "for sig in INT USR1; do\n"
	      "\ttrap \"kill -s $sig $pid 2>/dev/null\" $sig\n"
	      "done\n"
	      "# After SIGTERM (scancel, a time limit, preemption, a requeue) a job\n"
	      "# checkpointed is not requeued here: SLURM requeues what it means to.\n"
	      "termed=\n"
	      "trap \"termed=1; kill -s TERM $pid 2>/dev/null\" TERM\n"
	      "# wait returns early when a trapped signal arrives: wait again until srun is\n"
	      "# gone, or the head has ended.\n"
	      "while [ -z \"$ended\" ]; do\n"
	      "\twait $pid\n"
	      "\trc=$?\n"
	      "\tkill -0 $pid 2>/dev/null || break\n"
	      "done\n"
	      "# The head's outcome, also when srun's differs (aic-launch(1), EXIT STATUS).\n"
	      "case \"$(state)\" in\n"
	      "succeeded | stopped) rc=0 ;;\n"
	      "checkpointed) rc=75 ;;\n"
	      "*) [ -z \"$ended\" ] || rc=1 ;;\n"
	      "esac\n",
	      f);
	/* Exit status 75: checkpointed on notice (drain.c); a chained allocation continues it. */
	if (!chained)
		fputs("if [ $rc -eq 75 ] && [ -z \"$termed\" ]; then\n"
		      "\tscontrol requeue \"$SLURM_JOB_ID\"\nfi\n",
		      f);
	fputs("exit $rc\n", f);
}

int cmd_submit(int argc, char **argv)
{
	struct aic_spec *spec = NULL;
	char *errors = NULL, abs[PATH_MAX], script[PATH_MAX + 64];
	long gpus = 0, nodes = 0, per_node = 8, chain = 1;
	const char *resume = NULL;
	bool has_signal = false;
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
		else if (!strcmp(argv[i], "--resume") && i + 1 < argc)
			resume = argv[++i];
		else if (!strcmp(argv[i], "--chain") && i + 1 < argc)
			chain = atol(argv[++i]);
		else if ((has_signal = has_signal || !strncmp(argv[i], "--signal", 8)), 1)
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
		int n = st->ranks ? st->ranks_min : st->replicas_min > 0 ? st->replicas_min : 1;
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
	if (chain < 1 || chain > 1000) {
		fprintf(stderr, "aic submit: --chain %ld: expected 1 to 1000 allocations\n", chain);
		free(extra);
		aic_spec_free(spec);
		return 2;
	}
	if (resume) {
		char dir[PATH_MAX];
		/* The job's later runs resume there (aic-launch, jobdir_resume). */
		if (!realpath(resume, dir)) {
			fprintf(stderr, "aic submit: no job directory '%s' to resume: %s\n", resume,
				strerror(errno));
			free(extra);
			aic_spec_free(spec);
			return 1;
		}
		setenv("AIC_RESUME_DIR", dir, 1);
	}
	/* Enough nodes for every stage at its minimum, when -N is not given. */
	if (nodes <= 0)
		nodes = gpus ? (gpus + per_node - 1) / per_node : 1;
	f = script_open(abs, script, sizeof(script));
	if (!f) {
		free(extra);
		aic_spec_free(spec);
		return 1;
	}
	fprintf(f, "#!/bin/sh\n# written by aic submit for %s\n", abs);
	fprintf(f, "#SBATCH --job-name=%s\n", spec->name ? spec->name : "aic");
	fprintf(f, "#SBATCH --nodes=%ld\n#SBATCH --ntasks-per-node=1\n#SBATCH --exclusive\n", nodes);
	if (gpus)
		fprintf(f, "#SBATCH --gres=gpu:%ld\n", per_node);
	fputs("#SBATCH --aic-job=", f);
	sbatch_quote(f, abs);
	fputc('\n', f);
	/* The notice before a time limit, an output that outlives a requeue, and the requeue. */
	if (!has_signal)
		fprintf(f, "#SBATCH --signal=B:USR1@%d\n", spec->checkpoint.grace_s + NOTICE_MARGIN_S);
	fputs("#SBATCH --open-mode=append\n#SBATCH --requeue\n", f);
	script_run(f, abs, chain > 1);
	if (fclose(f) != 0) {
		fprintf(stderr, "aic submit: cannot write '%s': %s\n", script, strerror(errno));
		free(extra);
		aic_spec_free(spec);
		return 1;
	}
	aic_spec_free(spec);
	printf("aic submit: %s (%ld node%s)\n", script, nodes, nodes == 1 ? "" : "s");
	fflush(stdout);
	if (chain > 1) {
		int rc = submit_chain(extra, n_extra, script, chain);
		free(extra);
		return rc;
	}
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
