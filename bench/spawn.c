/*
 * Worker spawn rate: aic_spawn (fork, own process group, PDEATHSIG, CPU
 * affinity, log redirection, exec) plus a pidfd wait, against a bare
 * posix_spawn + waitpid of the same program in the same run.
 *
 *   bench/spawn [N]      (N processes each way, default 500)
 *
 * Prints one JSON line per figure (name, value, unit, baseline, ratio).
 */
#include "config.h"

#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
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

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 500, i, status;
	char *args[] = {"/bin/true", NULL};
	struct aic_cpuset cpus;
	struct rusage ru;
	double t0, base, ours;

	aic_cpuset_zero(&cpus);
	aic_cpuset_set(&cpus, 0);
	t0 = now();
	for (i = 0; i < n; i++) {
		pid_t pid;
		if (posix_spawn(&pid, args[0], NULL, NULL, args, environ) != 0)
			return 1;
		waitpid(pid, &status, 0);
	}
	base = n / (now() - t0);

	t0 = now();
	for (i = 0; i < n; i++) {
		struct aic_spawn_opts o = {.argv = args, .envp = environ, .log_path = "/dev/null",
					   .cpus = &cpus};
		struct aic_child c;
		struct pollfd p;
		if (aic_spawn(&o, &c) != 0)
			return 1;
		p.fd = c.pidfd;
		p.events = POLLIN;
		poll(&p, 1, -1);
		while (aic_child_wait(&c, &status) == 0)
			;
	}
	ours = n / (now() - t0);
	getrusage(RUSAGE_SELF, &ru);
	printf("{\"name\": \"spawn\", \"metric\": \"processes/s\", \"value\": %.0f, \"unit\": \"1/s\", "
	       "\"baseline\": \"posix_spawn+waitpid\", \"baseline_value\": %.0f, \"ratio\": %.2f, \"n\": %d, "
	       "\"maxrss_kib\": %ld}\n",
	       ours, base, ours / base, n, ru.ru_maxrss);
	return 0;
}
