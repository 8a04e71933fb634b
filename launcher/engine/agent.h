/*
 * A node agent: one per node (in aic-launch; in-process with the head for
 * `aic run`). It proves the token to the head, then registers (REGISTER:
 * node, address, topology, the GPUs and CPUs the step gave it, free ports
 * for gang rendezvous),
 * spawns the workers the head asks for (lib/process.h: own process group,
 * killed with the agent, bound to their CPUs, logs to the job directory),
 * sees each exit at once through its pidfd and reports it. Workers find
 * their agent at AIC_AGENT_UNIX (a Unix domain socket) or AIC_AGENT
 * (host:port; over either, a worker proves AIC_TOKEN, its
 * stage's credential, other agents the job token: launcher/net/conn.h):
 * the endpoint the data plane's channels use.
 *
 * Shutdown (the head says so, the head is lost, or SIGTERM/SIGINT):
 * SIGTERM to every worker's process group, SIGKILL to what is left after
 * the grace period, then the agent is done. No worker outlives it.
 */
#ifndef AIC_ENGINE_AGENT_H
#define AIC_ENGINE_AGENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "cpuset.h"
#include "topo.h"

struct agent;

struct agent_config {
	const char *token;
	const char *head_host;
	int head_port;
	int rank;
	const char *node;
	const char *addr;	/* this node's address, for MASTER_ADDR */
	const struct aic_topo *topo;
	const int *gpus;	/* the step's GPUs here (topology indices); NULL: all */
	size_t n_gpus;
	const char *cvd;	/* this process's CUDA_VISIBLE_DEVICES, or NULL */
	const struct aic_cpuset *cpus; /* CPUs the workers may use; NULL: all */
	int grace_ms;		/* SIGTERM to SIGKILL */
};

struct agent *agent_start(uv_loop_t *loop, const struct agent_config *cfg);
/* Shuts down as on SIGTERM: the exit code becomes 128 + sig. */
void agent_terminate(struct agent *a, int sig);
bool agent_done(const struct agent *a);
int agent_exit_code(const struct agent *a);
/*
 * Why the agent ended without the head telling it to (the head refused it,
 * could not be reached, or was lost), or "" (borrowed, for its life).
 */
const char *agent_error(const struct agent *a);
/* Shuts down as on a lost head, with `why` (copied) as agent_error(): its head has ended. */
void agent_stop(struct agent *a, const char *why);
/*
 * The progress of source channel `chan` this agent feeds
 * (chan_set_source_progress, dataplane.h: a new reference), or NULL when it
 * has no data plane (not configured yet, or ended) or does not feed it.
 */
json_t *agent_source_progress(const struct agent *a, size_t chan);
void agent_free(struct agent *a);

#endif
