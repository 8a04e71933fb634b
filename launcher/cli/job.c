/*
 * The commands that act on one job through its job directory: aic status
 * (asks the head, else reads the last status.json), aic logs (the workers'
 * log files), aic metrics (metrics.jsonl) and aic stop (asks the head).
 * They find the job through --job DIR, else .aic/latest in this directory.
 */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jansson.h>

#include "cli.h"
#include "engine/jobdir.h"
#include "metrics.h"
#include "wire.h"

/*
 * Parses a job command's arguments: --job DIR, --json when json is not NULL,
 * -f/--follow when follow is not NULL, and one operand when operand is not
 * NULL; getopt reports any other option. Finds the job directory into dir.
 * Returns 0; -1 after printing the command's help; 2 for a usage error; 1
 * when there is no job directory.
 */
static int job_dir_arg(int argc, char **argv, char *dir, size_t len, int *json, int *follow,
		       const char **operand)
{
	struct option opts[5] = {
		{"job", required_argument, NULL, 'J'},
		{"help", no_argument, NULL, 'h'},
	};
	size_t n = 2;
	const char *given = NULL;
	char err[512];
	int c;

	if (json)
		opts[n++] = (struct option){"json", no_argument, NULL, 'j'};
	if (follow)
		opts[n++] = (struct option){"follow", no_argument, NULL, 'f'};
	while ((c = getopt_long(argc, argv, follow ? "fh" : "h", opts, NULL)) != -1) {
		switch (c) {
		case 'J':
			given = optarg;
			break;
		case 'j':
			*json = 1;
			break;
		case 'f':
			*follow = 1;
			break;
		case 'h':
			cli_help(stdout, argv[0]);
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

/*
 * The job's earlier runs, from its journal (state.json): a requeued or
 * resumed job's history. NULL for a job of one run.
 */
static json_t *job_runs(const char *dir)
{
	json_t *s, *runs = NULL;
	int rc;
	FILE *f = jobdir_open(dir, "state.json", &rc);

	if (!f)
		return NULL;
	s = json_loadf(f, 0, NULL);
	fclose(f);
	if (json_array_size(json_object_get(s, "runs")) > 1)
		runs = json_incref(json_object_get(s, "runs"));
	json_decref(s);
	return runs;
}

const char cmd_status_usage[] =
	"aic status [--job DIR] [--json]\n"
	"  --job DIR     the job directory (default: .aic/latest in this directory)\n"
	"  --json        print JSON instead of a table\n";

int cmd_status(int argc, char **argv)
{
	char dir[PATH_MAX];
	int json = 0, rc = job_dir_arg(argc, argv, dir, sizeof(dir), &json, NULL, NULL);
	json_t *st, *p, *runs;
	bool live;
	size_t i, g;

	if (rc)
		return rc < 0 ? 0 : rc;
	st = job_status(dir, &live);
	if (!st)
		return 1;
	runs = job_runs(dir);
	if (runs)
		json_object_set_new(st, "runs", runs);
	if (json)
		return cli_print_json(st);
	printf("job '%s' %s%s, %lld node%s, up %.1f s%s%s\n",
	       json_string_value(json_object_get(st, "job")) ?: "",
	       json_string_value(json_object_get(st, "state")) ?: "?", live ? "" : " (ended)",
	       (long long)json_integer_value(json_object_get(st, "nodes")),
	       json_integer_value(json_object_get(st, "nodes")) == 1 ? "" : "s",
	       json_number_value(json_object_get(st, "uptime_s")),
	       json_object_get(st, "reason") ? ": " : "",
	       json_string_value(json_object_get(st, "reason")) ?: "");
	json_array_foreach(json_object_get(st, "lost_nodes"), i, p)
		printf("node '%s' lost at %.1f s: %s\n",
		       json_string_value(json_object_get(p, "node")) ?: "?",
		       json_number_value(json_object_get(p, "lost_s")),
		       json_string_value(json_object_get(p, "why")) ?: "");
	/* A job that ran in several allocations: each run, the newest last. */
	json_array_foreach(json_object_get(st, "runs"), i, p) {
		json_t *id = json_object_get(p, "slurm_job_id");
		printf("run %lld%s%s: %s%s%s\n", (long long)json_integer_value(json_object_get(p, "run")),
		       json_is_string(id) ? " job " : "", json_is_string(id) ? json_string_value(id) : "",
		       json_string_value(json_object_get(p, "state")) ?: "?",
		       *(json_string_value(json_object_get(p, "reason")) ?: "") ? ": " : "",
		       json_string_value(json_object_get(p, "reason")) ?: "");
	}
	/* Autoscaling: every scale event, with its reason. */
	json_array_foreach(json_object_get(json_object_get(st, "autoscale"), "events"), i, p)
		printf("autoscale: %s %s replica %lld on %s at %.1f s (%lld running): %s\n",
		       json_string_value(json_object_get(p, "stage")) ?: "?",
		       json_string_value(json_object_get(p, "action")) ?: "?",
		       (long long)json_integer_value(json_object_get(p, "index")),
		       json_string_value(json_object_get(p, "node")) ?: "?",
		       json_number_value(json_object_get(p, "t")),
		       (long long)json_integer_value(json_object_get(p, "replicas")),
		       json_string_value(json_object_get(p, "reason")) ?: "");
	/* Services: each replica's endpoint, as the engine last sent it to the agents. */
	{
		const char *name;
		json_t *eps;

		json_object_foreach(json_object_get(st, "services"), name, eps)
			json_array_foreach(eps, i, p)
				printf("service %s: replica %lld at %s %s\n", name,
				       (long long)json_integer_value(json_object_get(p, "replica")),
				       json_string_value(json_object_get(p, "addr")) ?: "?",
				       json_is_true(json_object_get(p, "ready")) ? "ready"
										 : "not ready");
	}
	/* Satellite allocations: each one's state now, then every event with its reason. */
	json_array_foreach(json_object_get(json_object_get(st, "satellites"), "satellites"), i, p)
		printf("satellite rank %lld: job %s %s%s%s%s%s\n",
		       (long long)json_integer_value(json_object_get(p, "rank")),
		       json_string_value(json_object_get(p, "job")) ?: "?",
		       json_string_value(json_object_get(p, "state")) ?: "?",
		       *(json_string_value(json_object_get(p, "node")) ?: "") ? " on " : "",
		       json_string_value(json_object_get(p, "node")) ?: "",
		       *(json_string_value(json_object_get(p, "why")) ?: "") ? ": " : "",
		       json_string_value(json_object_get(p, "why")) ?: "");
	json_array_foreach(json_object_get(json_object_get(st, "satellites"), "events"), i, p)
		printf("satellite rank %lld %s at %.1f s: %s\n",
		       (long long)json_integer_value(json_object_get(p, "rank")),
		       json_string_value(json_object_get(p, "action")) ?: "?",
		       json_number_value(json_object_get(p, "t")),
		       json_string_value(json_object_get(p, "reason")) ?: "");
	printf("%-12s %-12s %-10s %-8s %-9s %-8s %-8s %-6s %s\n", "stage", "process", "node",
	       "gpus", "state", "pid", "restarts", "moves", "uptime_s");
	json_array_foreach(json_object_get(st, "procs"), i, p) {
		char gpus[128] = "-", proc[32];
		size_t o = 0;
		json_t *v;
		json_array_foreach(json_object_get(p, "gpus"), g, v)
			o += (size_t)snprintf(gpus + o, sizeof(gpus) - o, "%s%lld", g ? "," : "",
					      (long long)json_integer_value(v));
		snprintf(proc, sizeof(proc), "%s %lld", json_string_value(json_object_get(p, "kind")) ?: "",
			 (long long)json_integer_value(json_object_get(p, "index")));
		printf("%-12s %-12s %-10s %-8s %-9s %-8lld %-8lld %-6lld %.1f\n",
		       json_string_value(json_object_get(p, "stage")) ?: "", proc,
		       json_string_value(json_object_get(p, "node")) ?: "", gpus,
		       json_string_value(json_object_get(p, "state")) ?: "",
		       (long long)json_integer_value(json_object_get(p, "pid")),
		       (long long)json_integer_value(json_object_get(p, "restarts")),
		       (long long)json_integer_value(json_object_get(p, "moves")),
		       json_number_value(json_object_get(p, "uptime_s")));
	}
	json_decref(st);
	return 0;
}

const char cmd_stop_usage[] =
	"aic stop [--job DIR] [--checkpoint]\n"
	"  --job DIR     the job directory (default: .aic/latest in this directory)\n"
	"  --checkpoint  checkpoint every stage and record the state first (the job\n"
	"                ends \"checkpointed\", exit code 75, and a later run resumes)\n";

int cmd_stop(int argc, char **argv)
{
	char dir[PATH_MAX], err[512];
	bool checkpoint = false;
	int rc, i, n = 0;

	/* --checkpoint is stop's own; the rest are every job command's. */
	for (i = 0; i < argc; i++) {
		if (i > 0 && !strcmp(argv[i], "--checkpoint"))
			checkpoint = true;
		else
			argv[n++] = argv[i];
	}
	rc = job_dir_arg(n, argv, dir, sizeof(dir), NULL, NULL, NULL);
	if (rc)
		return rc < 0 ? 0 : rc;
	rc = client_request(dir, checkpoint ? AIC_MSG_DRAIN : AIC_MSG_STOP, NULL, 0, NULL, err,
			    sizeof(err));
	if (rc) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	printf("aic: %s sent to the job in %s\n", checkpoint ? "checkpoint and stop" : "stop", dir);
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

const char cmd_logs_usage[] =
	"aic logs STAGE[/N] [--job DIR] [-f]\n"
	"  --job DIR     the job directory (default: .aic/latest in this directory)\n"
	"  -f, --follow  keep printing new lines until the job ends\n";

/* A stage has at most this many processes (MAX_COUNT in lib/spec/keys.c). */
#define LOGS_MAX 100000

static int cmp_int(const void *a, const void *b)
{
	return (*(const int *)a > *(const int *)b) - (*(const int *)a < *(const int *)b);
}

/*
 * The process indices N of the files logs/STAGE.N.log, sorted, into idx
 * (LOGS_MAX of them at most). Returns how many.
 */
static size_t stage_logs(const char *dir, const char *stage, int *idx)
{
	char path[PATH_MAX + 16];
	size_t n = 0, len = strlen(stage);
	struct dirent *e;
	DIR *d;

	snprintf(path, sizeof(path), "%s/logs", dir);
	d = opendir(path);
	if (!d)
		return 0;
	while ((e = readdir(d)) && n < LOGS_MAX) {
		char *end;
		long i;

		if (strncmp(e->d_name, stage, len) || e->d_name[len] != '.' ||
		    !isdigit((unsigned char)e->d_name[len + 1]))
			continue;
		i = strtol(e->d_name + len + 1, &end, 10);
		if (i < LOGS_MAX && !strcmp(end, ".log"))
			idx[n++] = (int)i;
	}
	closedir(d);
	qsort(idx, n, sizeof(*idx), cmp_int);
	return n;
}

int cmd_logs(int argc, char **argv)
{
	char dir[PATH_MAX], path[PATH_MAX + 512], stage[256], prefix[300], *slash;
	const char *what = NULL;
	int follow = 0, rc = job_dir_arg(argc, argv, dir, sizeof(dir), NULL, &follow, &what);
	long *offs = NULL;
	int *idx = NULL, one = 0, found = 0;
	struct stat st;

	if (rc)
		return rc < 0 ? 0 : rc;
	snprintf(stage, sizeof(stage), "%s", what);
	slash = strchr(stage, '/');
	if (slash) {
		const char *n = slash + 1;
		char *end;
		long i;

		*slash = '\0';
		errno = 0;
		i = strtol(n, &end, 10);
		if (!isdigit((unsigned char)*n) || *end || errno || i >= LOGS_MAX) {
			fprintf(stderr,
				"aic logs: invalid process index '%s' in '%s': expected STAGE/N "
				"with N from 0 to %d\n",
				n, what, LOGS_MAX - 1);
			return 2;
		}
		one = (int)i;
	}
	offs = calloc(LOGS_MAX, sizeof(*offs));
	idx = calloc(LOGS_MAX, sizeof(*idx));
	if (!offs || !idx) {
		fprintf(stderr, "aic logs: out of memory\n");
		rc = 1;
		goto out_free;
	}
	for (;;) {
		size_t n = slash ? 1 : stage_logs(dir, stage, idx), k;
		bool ended;
		long got = 0;

		if (slash)
			idx[0] = one;
		for (k = 0; k < n; k++) {
			int i = idx[k];

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
		rc = 1;
	}
out_free:
	free(offs);
	free(idx);
	return rc;
}

const char cmd_metrics_usage[] =
	"aic metrics [--job DIR] [--json]\n"
	"  --job DIR     the job directory (default: .aic/latest in this directory)\n"
	"  --json        print JSON instead of a table\n";

/*
 * What the workers reported so far (metrics.jsonl, a line per point), as a
 * table or JSON: count, last value and step, min and max per stage and name.
 */
int cmd_metrics(int argc, char **argv)
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
		return cli_print_json(sum);
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
