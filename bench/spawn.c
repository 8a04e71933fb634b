/*
 * Worker spawn rate: aic_spawn (fork, own process group, PDEATHSIG, CPU
 * affinity, log redirection, exec) plus a pidfd wait, against a bare
 * posix_spawn + waitpid of the same program, in alternating order.
 *
 *   bench/spawn [N [REPS]]   REPS pairs of N processes each way (default
 *                            500, 5); the bare posix_spawn first in odd
 *                            pairs, aic_spawn first in even ones. Prints one
 *                            JSON line per sample (what, rep, per_s).
 *   bench/spawn worker LOG CMD...  one aic_spawn of CMD (stdout and stderr
 *                            to LOG), waited for; CMD writes a line with
 *                            "ready_at": WALL-CLOCK when it is ready (bench/
 *                            busy.py with AIC_BENCH_START_ONLY=1). Prints
 *                            the milliseconds from the spawn call to then:
 *                            the baseline of a restart, a worker started
 *                            afresh without an engine.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "process.h"

extern char **environ;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One aic_spawn of argv, waited for on its pidfd. Returns 0 or -1. */
static int spawn_wait(char **argv, const char *log, const struct aic_cpuset *cpus, int *status)
{
	struct aic_spawn_opts o = {.argv = argv, .envp = environ, .log_path = log, .cpus = cpus};
	struct aic_child c;
	struct pollfd p;

	if (aic_spawn(&o, &c) != 0)
		return -1;
	p.fd = c.pidfd;
	p.events = POLLIN;
	poll(&p, 1, -1);
	while (aic_child_wait(&c, status) == 0)
		;
	return 0;
}

static double rate_posix(int n, char **args)
{
	double t0 = now();
	int i, status;

	for (i = 0; i < n; i++) {
		pid_t pid;
		if (posix_spawn(&pid, args[0], NULL, NULL, args, environ) != 0)
			return -1;
		waitpid(pid, &status, 0);
	}
	return n / (now() - t0);
}

static double rate_aic(int n, char **args)
{
	struct aic_cpuset cpus;
	double t0 = now();
	int i, status;

	aic_cpuset_zero(&cpus);
	aic_cpuset_set(&cpus, 0);
	for (i = 0; i < n; i++)
		if (spawn_wait(args, "/dev/null", &cpus, &status))
			return -1;
	return n / (now() - t0);
}

static int worker(const char *log, char **argv)
{
	char line[4096], *at;
	double t0 = wall(), ready = 0;
	int status;
	FILE *f;

	if (truncate(log, 0) && errno != ENOENT)
		return 1;
	if (spawn_wait(argv, log, NULL, &status) || !(f = fopen(log, "r")))
		return 1;
	while (fgets(line, sizeof(line), f))
		if ((at = strstr(line, "\"ready_at\":")))
			ready = strtod(at + strlen("\"ready_at\":"), NULL);
	fclose(f);
	if (ready <= 0) {
		fprintf(stderr, "spawn: '%s' wrote no \"ready_at\" to '%s'\n", argv[0], log);
		return 1;
	}
	printf("{\"what\": \"spawn worker\", \"ms\": %.1f}\n", (ready - t0) * 1e3);
	return 0;
}

int main(int argc, char **argv)
{
	char *args[] = {"/bin/true", NULL};
	int n, reps, r;

	if (argc >= 4 && !strcmp(argv[1], "worker"))
		return worker(argv[2], argv + 3);
	n = argc > 1 ? atoi(argv[1]) : 500;
	reps = argc > 2 ? atoi(argv[2]) : 5;
	if (n < 1 || reps < 1) {
		fprintf(stderr, "usage: spawn [N [REPS]] | spawn worker LOG CMD...\n");
		return 2;
	}
	for (r = 1; r <= reps; r++) {
		int k;
		for (k = 0; k < 2; k++) {
			int ours = (k == 0) == (r % 2 == 0);
			double v = ours ? rate_aic(n, args) : rate_posix(n, args);
			if (v < 0)
				return 1;
			printf("{\"what\": \"%s\", \"rep\": %d, \"n\": %d, \"per_s\": %.0f}\n",
			       ours ? "aic_spawn" : "posix_spawn", r, n, v);
		}
	}
	return 0;
}
