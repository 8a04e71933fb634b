/*
 * The node's shared cores (cpu_pool.c): where the agent and the stages
 * that reserve no cores (`cpus: 0`) run. Nothing outside launcher/engine/
 * includes this.
 */
#ifndef AIC_ENGINE_CPU_POOL_H
#define AIC_ENGINE_CPU_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "cpuset.h"

struct agent_pool {
	bool known;		/* the agent's own affinity could be read */
	struct aic_cpuset base; /* the cores the agent was started on */
	struct aic_cpuset pool; /* base less the cores running processes reserve (base when none left) */
};

void agent__pool_init(struct agent_pool *pl);
/*
 * The cores a process placed on `cpus` runs on: the pool when `cpus` is
 * empty (it reserves none), else `cpus` as the pool narrows it (into
 * *buf), or `cpus` itself when they share none.
 */
const struct aic_cpuset *agent__pool_for(const struct agent_pool *pl,
					 const struct aic_cpuset *cpus, struct aic_cpuset *buf);
/*
 * The running processes now reserve `reserved`: when that changes the pool,
 * binds the agent's threads and every process of the process groups
 * `groups` (the shared workers') to the new pool.
 */
void agent__pool_update(struct agent_pool *pl, const struct aic_cpuset *reserved,
			const pid_t *groups, size_t n_groups);

#endif
