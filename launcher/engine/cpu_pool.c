/*
 * The node's shared cores: where the agent and the stages that reserve no
 * cores (`cpus: 0`) run.
 *
 * A stage's `cpus:` are its own. The agent's loop (the data plane of every
 * channel on the node) and the processes of stages without cores go on the
 * cores no running process reserved (the pool), as Kubernetes' static CPU
 * manager keeps its shared pool off exclusive cores: a core that a
 * stage asked for is not taken from it by work it did not ask for. When
 * every core the agent may use is reserved, the pool is all of them (the
 * work has to run somewhere), as it was before any was reserved.
 *
 * On two cores with a producer that reserves one (bench/channels.sh), the
 * producer alone on its core and the agent with the consumer on the other
 * moved 64 B items at 2.4 M/s and 27 us p50 at half that rate, where the
 * kernel's own placement gave 1.0 M/s and 105-135 us whenever it put the
 * producer beside the agent or the consumer (doc/BENCHMARKS.md).
 *
 * The pool changes when a process that reserves cores starts or exits:
 * the agent's threads and every thread of the shared processes (their
 * process groups: what they started goes with them) are bound to it anew.
 */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cpu_pool.h"
#include "log.h"

void agent__pool_init(struct agent_pool *pl)
{
	pl->known = aic_cpuset_get_affinity(&pl->base) == 0 && !aic_cpuset_empty(&pl->base);
	pl->pool = pl->base;
}

const struct aic_cpuset *agent__pool_for(const struct agent_pool *pl, const struct aic_cpuset *cpus,
					 struct aic_cpuset *buf)
{
	if (!pl->known)
		return cpus;
	if (aic_cpuset_empty(cpus)) {
		*buf = pl->pool;
		return buf;
	}
	aic_cpuset_and(buf, cpus, &pl->pool);
	return aic_cpuset_empty(buf) ? cpus : buf;
}

/* Binds every thread of process `pid` to s. */
static void bind_process(pid_t pid, const struct aic_cpuset *s)
{
	char path[64];
	struct dirent *e;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	if (!(d = opendir(path)))
		return;
	while ((e = readdir(d)))
		if (isdigit((unsigned char)e->d_name[0]))
			aic_cpuset_set_affinity_of((pid_t)atoi(e->d_name), s);
	closedir(d);
}

/* The process group of `pid` (/proc/PID/stat's fifth field), or -1. */
static pid_t pgrp_of(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	size_t len;
	int pgrp = -1;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (!(f = fopen(path, "re")))
		return -1;
	len = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[len] = '\0';
	/* pid (comm) state ppid pgrp: comm may hold spaces and parentheses. */
	if (!(p = strrchr(buf, ')')) || sscanf(p + 1, " %*c %*d %d", &pgrp) != 1)
		return -1;
	return (pid_t)pgrp;
}

void agent__pool_update(struct agent_pool *pl, const struct aic_cpuset *reserved,
			const pid_t *groups, size_t n_groups)
{
	struct aic_cpuset pool;
	struct dirent *e;
	char text[256];
	DIR *d;
	size_t i;

	if (!pl->known)
		return;
	aic_cpuset_andnot(&pool, &pl->base, reserved);
	if (aic_cpuset_empty(&pool))
		pool = pl->base;
	if (aic_cpuset_equal(&pool, &pl->pool))
		return;
	pl->pool = pool;
	aic_log_debug("shared cores now %s", aic_cpuset_format(&pool, text, sizeof(text)));
	bind_process(getpid(), &pool);
	if (!n_groups || !(d = opendir("/proc")))
		return;
	while ((e = readdir(d))) {
		pid_t pid, g;
		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		pid = (pid_t)atoi(e->d_name);
		if ((g = pgrp_of(pid)) <= 0)
			continue;
		for (i = 0; i < n_groups; i++)
			if (groups[i] == g) {
				bind_process(pid, &pool);
				break;
			}
	}
	closedir(d);
}
