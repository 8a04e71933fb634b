/*
 * Running the engine on this node: the agent, and the head too on the
 * first node, on one libuv loop until the job ends. Shared by aic-launch
 * (one per node, bootstrapped over PMIx) and `aic run` (this machine only).
 */
#ifndef AIC_ENGINE_ENGINE_H
#define AIC_ENGINE_ENGINE_H

#include <stdbool.h>
#include <stddef.h>

#include "cpuset.h"
#include "spec.h"
#include "topo.h"

struct engine_opts {
	bool is_head;
	const struct aic_spec *spec; /* head only */
	bool local;		     /* head only: aic run, no SLURM (head_config.local) */
	const char *jobdir;	     /* head only: made by the caller */
	int n_nodes;		     /* head only */
	const char *listen_addr;     /* head only: NULL for all */
	const char *metrics_textfile; /* head only: head_config's */
	const char *token;
	int rank;
	const char *node;
	const char *addr; /* this node's address */
	const struct aic_topo *topo;
	const int *gpus; /* NULL: all of topo's */
	size_t n_gpus;
	const char *cvd;
	const struct aic_cpuset *cpus;
	/* Head: called once listening, with the port, before agents connect
	 * (aic-launch publishes it over PMIx here); returns 0 to go on. */
	int (*publish)(int port, void *arg);
	void *publish_arg;
	/* Head: the node of a rank as bootstrap knows it (head_config.node_name), with publish_arg. */
	int (*node_name)(int rank, char *buf, size_t len, void *arg);
	/* Agents that are not the head: where the head listens. */
	const char *head_host;
	int head_port;
};

/* Runs until the job ends; returns the process's exit code. */
int engine_run(const struct engine_opts *o);

/*
 * This node's IPv4 address as the other nodes reach it: AIC_NODE_ADDR when
 * set; else the local end of the route to srun's node
 * (SLURM_LAUNCH_NODE_IPADDR); else the hostname's unless loopback; else
 * the default route's; else the first non-loopback interface's.
 */
void engine_node_addr(char *buf, size_t len);

/* The GPUs SLURM gave this step (SLURM_STEP_GPUS, else SLURM_JOB_GPUS), or 0 when unknown. */
size_t engine_step_gpus(int *gpus, size_t max);

#endif
