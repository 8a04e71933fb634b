/*
 * The head: one per job, in rank 0's aic-launch (or in `aic run`). It waits
 * for every node's agent to register with its topology, places the job's
 * processes with the solver, tells each agent what to spawn, and applies
 * the restart policy as workers exit: a replica restarts alone, a gang
 * restarts all its ranks together, each with doubling backoff up to the
 * stage's maximum. When every process has finished the job succeeds; when a
 * stage runs out of restarts, an agent disappears, or the job is stopped or
 * signalled, the head tells every agent to shut down and the job ends.
 *
 * Liveness (the spec's failure_timeout, T; launcher/net/conn.h): the links
 * to agents carry heartbeats, and an agent silent for T is lost
 * (recover.c). Every agent must register within T of the head's first
 * turn of its loop (after bootstrap), or the job ends naming the rank and
 * node of each missing one. At the end the head waits for the agents to go
 * at most T plus their kill grace period, then finishes without the ones
 * that did not answer, naming them.
 *
 * The head only decides: it never carries channel data.
 *
 * State is written to the job directory: plan.json once, status.json on
 * every change, summary.json at the end (see jobdir.h).
 */
#ifndef AIC_ENGINE_HEAD_H
#define AIC_ENGINE_HEAD_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "conn.h"
#include "spec.h"

struct head;

struct head_config {
	const struct aic_spec *spec; /* borrowed for the head's life */
	const char *jobdir;
	const char *token;
	const char *listen_addr; /* NULL: all addresses */
	int n_agents;		 /* agents to wait for */
	/* aic run, no SLURM: cpus: is a wish (AIC_PLACE_SOFT_CPUS); else GPUs come from SLURM */
	bool local;
	int grace_ms; /* the agents' SIGTERM-to-SIGKILL grace: part of the wait for them at the end */
	/*
	 * The node of rank `rank` as bootstrap knows it, into buf (0), for an
	 * agent that never registered; NULL or nonzero: not known.
	 */
	int (*node_name)(int rank, char *buf, size_t len, void *arg);
	void *node_name_arg;
	/*
	 * Which lines of source channel `chan` are done, as the agent that
	 * feeds it (rank 0's, in the head's process) knows it: a new
	 * reference in chan_set_source_progress's form (dataplane.h), or NULL
	 * while it is not known (no data plane yet, or it has ended). The
	 * head journals it (state.json) for a resumed run. NULL: never known.
	 */
	json_t *(*source_progress)(size_t chan, void *arg);
	void *source_progress_arg;
	/* Where the Prometheus text is rewritten for node_exporter, over the spec's; NULL: the spec's. */
	const char *metrics_textfile;
};

/* Starts listening; the port is head_port(). Returns NULL after logging why. */
struct head *head_start(uv_loop_t *loop, const struct head_config *cfg);
int head_port(const struct head *h);
/* Stops the job as scancel would (SIGTERM to aic-launch). */
void head_terminate(struct head *h, const char *why);
/* Fails the job with `why` (copied), as a stage out of restarts would; nothing if it is ending. */
void head_fail(struct head *h, const char *why);
/* True once the job is ending (every agent told to stop), or has ended. */
bool head_ending(const struct head *h);
/*
 * Notice of the job's end (SIGUSR1 before a time limit or preemption, aic
 * stop --checkpoint): sources stop, every stage is asked to checkpoint,
 * and after at most the spec's checkpoint.grace_s the state is recorded
 * and the job ends "checkpointed", exit code 75 (drain.c).
 */
void head_drain(struct head *h, const char *why);
/*
 * SIGTERM as a notice: in a placed job whose spec writes checkpoint with
 * term_grace_s > 0, drains as head_drain within term_grace_s and returns
 * true; false (the caller cancels) otherwise, and on the second SIGTERM.
 */
bool head_term_notice(struct head *h);
/* True once the job has ended and every agent was told. */
bool head_done(const struct head *h);
/* The job's exit status: 0 when every process finished successfully. */
int head_exit_code(const struct head *h);
/* Connections refused for a bad token so far. */
unsigned head_rejected(const struct head *h);
void head_free(struct head *h);

#endif
