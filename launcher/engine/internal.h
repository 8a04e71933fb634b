/*
 * Private declarations shared by the engine's files (as libuv's
 * src/unix/internal.h): the head's state, and what each of the head's
 * files offers the others. Nothing outside launcher/engine/ includes this.
 *
 *   head.c       registration, placement, messages from agents, life
 *   procs.c      the processes: spawning, exits, the restart policy
 *                (backoff, gang settle), channel closing, the job's end
 *   report.c     status.json, summary.json, metrics.jsonl
 *   recover.c    a lost node: what becomes of its processes and the job
 *   drain.c      checkpoints: the notice, requests to stages, what counts
 *   autoscale.c  replicas that follow their stage's load while the job runs
 *   satellite.c  satellite allocations: sbatch when the allocation is full,
 *                their agents' joins, release when idle, scancel at the end;
 *                slurm_cmd.c runs those commands for it
 *   state.c      state.json, the engine's journal a later run resumes from
 *   config_msg.c  the data plane's CONFIG message
 *   worker_env.c  the agent's: its workers' environment, free ports
 *   events.c     events.jsonl (the timeline's events): the head's own, and
 *                the agents' data-plane samples (their side is there too)
 *   prom.c       the Prometheus metrics: /metrics and the textfile
 *   sandbox_head.c  sandboxed stages: AIC_SANDBOX for procs.c
 *   service_head.c  services: their ports, probes and endpoints; head.c,
 *                 procs.c and recover.c call it, it calls procs.c's helpers
 *
 * Calls go one way: head.c calls the others; recover.c calls procs.c's
 * helpers, config_msg.c (MEMBERS) and phase_head.c, config_msg.c calls
 * procs.c's helpers, procs.c calls report.c, report.c calls only
 * phase_head.c (its JSON), which calls phase.c's lock.
 * drain.c calls procs.c and state.c; state.c calls none of them.
 *
 * The agent's side: agent.c (its state, struct agent; the head's messages,
 * its workers' runs and exits, its shutdown) and agent_endpoint.c (its
 * endpoint, AIC_AGENT: who may connect, where workers' and peers' frames
 * go). They call checkpoint.c (its workers' checkpoint frames),
 * agent_metrics.c (their metric points, batched for the head),
 * agent_load.c (its load for the head's autoscaler, and drains), term.c
 * (SIGTERM as a notice), service.c, events.c's agent side and
 * worker_env.c, all below them.
 *
 *   phase.c       phases of stages sharing GPUs in turns: the lock that
 *                 sequences them (the agent's and the head's) and the
 *                 agent's side; agent.c calls it
 *   phase_head.c  the head's side: PHASES, the pairs with a gang in them,
 *                 and the turns' accounting; head.c, recover.c and
 *                 report.c call it, it calls phase.c's lock
 *
 * engine.c (the loop that runs a head, an agent or both: aic-launch and
 * aic run) and jobdir.c (the job directory and its trust checks, also used
 * by the CLI) are called from outside this folder: their declarations are
 * in engine.h and jobdir.h, not here; agent.h is the agent's entry point
 * (its struct agent_config is used here).
 */
#ifndef AIC_ENGINE_INTERNAL_H
#define AIC_ENGINE_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <uv.h>

#include "agent.h"
#include "conn.h"
#include "cpu_pool.h"
#include "cpuset.h"
#include "dataplane.h"
#include "head.h"
#include "place.h"
#include "spec.h"
#include "topo.h"
#include "wire.h"

/* --- the head -------------------------------------------------------- */

enum pstate {
	P_PENDING,  /* not started yet, or waiting to restart */
	P_STARTING, /* SPAWN sent */
	P_RUNNING,
	P_STOPPING, /* KILL sent (gang restart or shutdown) */
	P_DONE,	    /* exited 0 */
	P_FAILED,   /* exited otherwise, not to be restarted */
	P_LOST,	    /* its node was lost and it runs nowhere now (not placed again) */
	P_WAITING,  /* its node was lost: waits for room on the nodes left */
	P_IDLE,	    /* an autoscaled stage's slot that runs nothing now (autoscale.c) */
};

struct head;

/* One process of the plan, as the head follows it. */
struct hproc {
	struct head *h;
	size_t id;
	const struct aic_proc *p;
	enum pstate state;
	long pid;
	int restarts;	 /* this replica's, or its gang's */
	int last_status; /* exit code, or -signal */
	bool exited;	 /* has exited at least once */
	int moves;	 /* times placed again after its node was lost */
	uint64_t started_ms, ended_ms;
	uv_timer_t timer; /* restart backoff (replicas) */
	/* Checkpoints (drain.c): its newest report, and the one that counts. */
	bool reported;		  /* has reported a checkpoint in this run */
	uint64_t reported_version;
	uint64_t answered;	  /* the request its last report answered */
	bool counted;		  /* has a checkpoint to resume from (AIC_RESUME) */
	bool counted_none;	  /* said it keeps no state (AIC_CHECKPOINT_NONE): none */
	uint64_t counted_version;
	/*
	 * The sources' progress that goes with each ({channel: progress}, as
	 * of the worker's mark: launcher/dataplane/acker.c), or NULL: none.
	 */
	json_t *reported_progress, *counted_progress;
};

/* Per stage: a gang's restarts and rendezvous port. */
struct hstage {
	int restarts;	 /* gang restarts */
	bool restarting; /* gang: ranks are being stopped for a restart */
	int master_port;
	bool moving; /* gang: stopping on the nodes left, to be placed again (recover.c) */
	uv_timer_t timer;
};

/*
 * Rendezvous ports (MASTER_PORT) an agent finds free at REGISTER: one per gang
 * whose rank 0 it hosts, so at most this many such gangs per node.
 */
#define GANG_PORTS 64

/* A node's agent: its connection from HELLO on, where it is and what it has from REGISTER. */
struct hagent {
	struct aic_conn *conn;
	bool registered, gone;
	bool lost;	    /* lost while the job ran: nothing is placed there again */
	bool released;	    /* a satellite given back empty (lost too, but not a failure) */
	uint64_t lost_ms;   /* when */
	char lost_why[256]; /* why, as the log said it */
	int rank;
	char node[64];
	char addr[64];
	int data_port; /* the agent's endpoint for workers and peers */
	struct aic_topo *topo;
	int gpus[AIC_PLACE_MAX_GPUS];
	size_t n_gpus;
	struct aic_cpuset cpus;
	int ports[GANG_PORTS];
	size_t n_ports, next_port;
};

/* A channel's data-plane counters (summary.json's "channels"). */
struct chan_stats {
	json_int_t stale_dropped; /* items too old for their readers */
	json_int_t zstd_in, zstd_out; /* bytes sent compressed between agents, before and after */
	json_int_t arena_items;	      /* items whose payload crossed processes in shared memory */
	json_int_t redelivered;	      /* items queued again when their holder was lost */
	json_int_t items, acked, bytes; /* as struct chan_set_sample's, summed */
};

/* The head's state, owned by head.c (head_start, head_free). */
struct head {
	uv_loop_t *loop;
	struct head_config cfg;
	struct aic_server srv;
	struct hagent *agents;
	int n_registered;
	struct aic_place_node *nodes;
	struct aic_plan *plan;
	struct hproc *procs;
	size_t n_procs;
	struct hstage *stages;
	bool placed, ending, done;
	bool *chan_closed; /* per spec channel: CLOSE sent */
	bool *source_done; /* per spec channel: its source is exhausted (or it has none) */
	bool *sink_done;   /* per spec channel: its sink has written all (or it has none) */
	struct chan_stats *chan_stats; /* per spec channel, summed over agents */
	int *feeders;		       /* per spec channel: the agent CONFIG made read its source */
	int *sinkers;		       /* per spec channel: the agent CONFIG made write its sink */
	json_int_t agent_maxrss_kib;   /* the largest agent's peak RSS, from their STATS */
	/* Workers' metrics: every point to metrics.jsonl, a summary per stage and name. */
	FILE *metrics_file;
	json_t *metrics; /* {stage: {name: {n, last, min, max, last_step}}} */
	size_t n_metric_names;
	uint64_t registered_ms; /* when the last agent registered */
	uv_timer_t wait_timer;	/* the registration deadline, then the wait for agents at the end */
	uv_timer_t status_timer;
	uint64_t status_cost_ns; /* the last status.json write's (report.c) */
	int exit_code;
	const char *final_state;
	char name[128];
	char reason[512];
	uint64_t start_ms;
	/* Checkpoints and the journal (drain.c, state.c). */
	json_t *journal;    /* state.json as an earlier run left it, or NULL */
	int run;	    /* this run's number, 0 for the job's first */
	uint64_t request;   /* the newest checkpoint request, 0: none */
	bool draining;	    /* notice taken: sources stopped, checkpoints asked */
	uv_timer_t grace;   /* the spec's checkpoint.grace_s after a notice */
	uv_timer_t progress_timer; /* the sources' progress journalled (state.c) */
	bool progress_timer_on;
	char drain_why[256];
	FILE *events_file;	/* events.jsonl (events.c), NULL: not open */
	struct head_prom *prom; /* prom.c's, NULL: none */
	bool events_failed;	/* it could not be opened: said once */
	int drain_grace_s; /* the drain's bound: checkpoint.grace_s, or term_grace_s */
	bool drain_term;   /* a SIGTERM was taken as the notice (head_term_notice) */
	struct head_phase *phase; /* phase_head.c; NULL: no stages alternate */
	struct head_service *svc; /* service_head.c; NULL: no service has run */
	/* {channel: progress}: where this run's sources started (config_msg.c), or NULL. */
	json_t *start_progress;
	struct autoscale *as; /* autoscale.c's, NULL: no stage autoscales */
	struct satellites *sat; /* satellite.c's, NULL: none submitted */
	int n_main; /* the allocation's agents; cfg.n_agents adds satellites' ranks */
};

/*
 * The exit code of a job that saved its state on notice (checkpointed): the
 * batch script aic submit writes requeues the job on it (EX_TEMPFAIL).
 */
#define HEAD_EXIT_REQUEUE 75

/* How a stage uses a channel or a weight stream. */
enum use { WRITES, READS, WEIGHTS_FROM, WEIGHTS_TO };

/* procs.c: the processes and the job's end. */
bool head__stage_uses(const struct aic_stage *st, const char *name, enum use u);
/* Whether process k's stage uses `name` so. */
bool head__proc_uses(const struct head *h, size_t k, const char *name, enum use u);
/* Whether a process counts as finished: done, or lost and not to be placed again. */
bool head__proc_finished(const struct hproc *hp);
/* A gang's ranks now: the spec's, or fewer after a node loss (those not P_LOST). */
int head__gang_world(const struct head *h, size_t stage);
/* Sends KILL for a process to its agent (none when its node is lost). */
void head__kill(struct hproc *hp, int sig);
/* A channel is closed once its source is done and every process writing it is. */
bool head__chan_producers_done(struct head *h, const char *chan);
/* A path as the spec wrote it, relative to the spec's directory, into buf. */
void head__spec_relative(struct head *h, const char *source, char *buf, size_t len);
/* Sends SPAWN for a process to its agent. */
void head__spawn(struct hproc *hp);
/* Sends a message to every connected agent (m borrowed). */
void head__broadcast(struct head *h, uint16_t type, json_t *m);
/* Sends CLOSE for channels whose producers have all finished. */
void head__close_channels(struct head *h);
/* Ends the job with success once every process and sink is done. */
void head__check_finished(struct head *h);
/* EXITED from an agent: applies the restart policy. */
void head__on_exited(struct head *h, json_t *m);
/* Ends the job (once): every agent is told to shut down. */
void head__end(struct head *h, int code, const char *state, const char *reason);
/* Every agent has gone: writes the final summary and status, stops listening. */
void head__finish(struct head *h);

/* report.c: what the head writes to the job directory. */
json_t *head__status_json(struct head *h);
void head__write_status(struct head *h);
/* status.json soon (at most every few tens of ms), or now once the job is done. */
void head__save_status(struct head *h);
void head__write_summary(struct head *h);
/* METRICS from an agent: to metrics.jsonl and the summary. */
void head__on_metrics(struct head *h, json_t *m);
/* STATS from an agent at its end: its peak RSS and channel counters. */
void head__on_stats(struct head *h, json_t *m);

/*
 * recover.c: agent `a` is gone while the job runs (its connection closed or
 * it stopped answering; `why` says which). The agents left are told
 * (NODE_LOST), and the node's processes are recovered or the job ends.
 */
void head__node_lost(struct head *h, struct hagent *a, const char *why);
/*
 * Places what waits for room since its node was lost (P_WAITING replicas, a
 * moving gang whose ranks have all stopped), tells the agents who produces
 * and receives what now, and spawns them; called again when a process ends.
 */
void head__place_waiting(struct head *h);

/*
 * drain.c: checkpoints. head__ckpt_start at placement (each stage's
 * checkpoint directory; what an earlier run counted); head__ckpt_env adds
 * AIC_CHECKPOINT_DIR and AIC_RESUME to a process's environment;
 * head__on_checkpointed counts a report (CHECKPOINTED); head__ckpt_close
 * closes the grace timer (head_free).
 */
int head__ckpt_start(struct head *h);
void head__ckpt_env(struct head *h, const struct hproc *hp, json_t *env);
void head__on_checkpointed(struct head *h, json_t *m);
void head__ckpt_close(struct head *h);
/* A process exited while draining: the drain ends once every running one has answered. */
void head__drain_check(struct head *h);

/*
 * state.c: the journal. head__state_load reads an earlier run's state.json
 * (none: a fresh job) and refuses a spec changed incompatibly since, with
 * why in err; head__state_save writes it durably (a temporary file,
 * fsync, rename, the directory fsynced), so a crash keeps the previous one.
 */
int head__state_load(struct head *h, char *err, size_t errlen);
void head__state_save(struct head *h);
/*
 * Journals the sources' progress now if it changed since the last save;
 * it is also checked every second from the first save to the last, so a
 * run killed without notice loses at most that much.
 */
void head__state_progress(struct head *h);

/*
 * autoscale.c: head__autoscale_plan turns the solver's plan into slots
 * (an autoscaled stage keeps its min, the rest wait idle), before the
 * processes are made; false when the job ended (out of memory).
 * head__autoscale_start marks the idle ones and starts asking agents for
 * their load. head__autoscale_on_load takes an agent's LOAD answer.
 * head__autoscale_exited: a drained replica's exit (its slot is idle
 * again); false when hp was not draining (the exit is handled as usual).
 * head__autoscale_producers adds to ranks[0..n) the agents where scaled
 * replicas wrote channel `chan` (their items may still be queued there);
 * the new count. head__autoscale_json: {"stages", "events"} for
 * status.json and the summary (new reference), NULL when nothing scales.
 */
bool head__autoscale_plan(struct head *h);
void head__autoscale_start(struct head *h);
void head__autoscale_on_load(struct head *h, const struct hagent *a, json_t *m);
bool head__autoscale_exited(struct head *h, struct hproc *hp, int status);
size_t head__autoscale_producers(const struct head *h, size_t chan, uint32_t *ranks, size_t n);
json_t *head__autoscale_json(const struct head *h);
void head__autoscale_free(struct head *h);
/* Items queued at agent `rank`, as its last LOAD said. */
json_int_t head__autoscale_backlog_at(const struct head *h, int rank);

/*
 * satellite.c: _slots (head_start) sets n_main, the ranks to reserve past
 * it. _want: autoscale.c found stage backlogged with no room. A join: a
 * HELLO past n_main if _expected, REGISTER if _check (else why), _joined.
 * _left: its link closed (true: released, no lost node). _end (head__end)
 * cancels them all; head_done waits while _busy. _json: status.json's
 * (NULL: none asked for); _state: state.json's (jobs not ended), whose
 * _leftovers (head_start) an earlier run could not cancel.
 */
int head__satellite_slots(struct head *h);
void head__satellite_want(struct head *h, size_t stage);
bool head__satellite_expected(const struct head *h, int rank);
bool head__satellite_check(struct head *h, const struct hagent *a, const json_t *m, char *why,
			   size_t len);
void head__satellite_joined(struct head *h, struct hagent *a);
bool head__satellite_left(struct head *h, struct hagent *a);
void head__satellite_end(struct head *h);
bool head__satellite_busy(const struct head *h);
json_t *head__satellite_json(const struct head *h);
json_t *head__satellite_state(const struct head *h);
void head__satellite_leftovers(struct head *h);
void head__satellite_free(struct head *h);
/* slurm_cmd.c: runs argv (*live counts it until closed); squeue's %L in seconds (-1: none). */
typedef void (*head_cmd_done)(struct head *h, int slot, int64_t status, char *out);
int head__slurm_cmd(struct head *h, char *const argv[], int *live, int slot, head_cmd_done done);
long head__slurm_time_left(const char *t);

/* config_msg.c: the CONFIG message (new reference). */
json_t *head__data_plane_config(struct head *h);
/*
 * MEMBERS (new reference, NULL: no memory): who produces each channel and
 * receives each weight stream now that processes have moved (wire.h).
 */
json_t *head__data_plane_members(struct head *h);

/*
 * events.c, the head's side: events.jsonl in the job directory. Placement
 * (every node, process, channel and weight stream), a process's "start",
 * "exit" or "restart", a lost node, the job's end (which closes the file),
 * and the EVENTS of agent a (wire.h), named after the spec.
 */
/* AIC_OBSERVE=0 in the environment: no events and no metrics (to measure what they cost). */
bool engine__observe_off(void);
void head__event_placed(struct head *h);
void head__event_proc(struct head *h, const struct hproc *hp, const char *what);
void head__event_node_lost(struct head *h, const struct hagent *a);
/*
 * A phase turn of pair `group` began or ended on `node` (NULL: every node
 * of a head-arbitrated pair), at t (real-time seconds); us: the switch's
 * latency at a begin, the turn's length at an end (< 0: not known).
 */
void head__event_phase(struct head *h, size_t group, const char *node, const char *stage,
		       bool begin, double t, double us);
void head__event_end(struct head *h);
/* Any other event of the head's (ev taken, with its "ev"), flushed. */
void head__event(struct head *h, json_t *ev);
void head__on_events(struct head *h, const struct hagent *a, json_t *m);
void head__events_close(struct head *h);

/*
 * prom.c: the Prometheus metrics (/metrics, the textfile), started with
 * the head (head_start) and stopped with it (head_free). events.c gives it
 * each agent's samples and each process's ended run; head__prom_update
 * makes the text now (the job's end).
 */
struct head_prom;
void head__prom_start(struct head *h);
void head__prom_stop(struct head *h);
void head__prom_update(struct head *h);
void head__prom_sample(struct head *h, const struct hagent *a, uint32_t chan,
		       const struct chan_set_sample *s);
void head__prom_version(struct head *h, const struct hagent *a, uint32_t stream, uint64_t v);
void head__prom_exited(struct head *h, const struct hproc *hp);
/* GPU gpu of agent a (a topology index): utilisation in percent, memory used and total in bytes. */
void head__prom_gpu(struct head *h, const struct hagent *a, uint32_t gpu, uint64_t util,
		    uint64_t used, uint64_t total);
/* --- phase.c: the lock, shared by the agent and the head --------------- */

/* A process of a pair: its connection (on the agent) or its process id (on the head). */
struct phase_who {
	struct aic_conn *conn;
	long proc;
};

struct phase_version {
	uint32_t stream;
	uint64_t version;
};

struct phase_lock;

struct phase_lock_ops {
	/* who holds the GPUs now: tell it (with l->carry, what it waits for). */
	void (*grant)(void *arg, struct phase_lock *l, const struct phase_who *who);
	/*
	 * A turn of `side` began (us: the switch's latency, -1 when the same
	 * side had the turn before) or ended (us: its length); t: wall-clock s.
	 */
	void (*event)(void *arg, struct phase_lock *l, int side, bool begin, double t, int64_t us);
};

/* One pair's turns (phase.c's contract). Embedded; phase__lock_release frees its lists. */
struct phase_lock {
	size_t group;
	int owner;   /* the side whose turn it is or was last: 0 host, 1 guest; -1: none yet */
	int last;    /* the side of the last turn begun, -1: none */
	bool turn;   /* a turn is on (some of owner's processes were let in) */
	int need[2]; /* a gang side's ranks, all asking before it goes in; 0: replicas */
	struct phase_who *q[2], *held;
	size_t nq[2], nheld;
	/* Versions the owner's side published, and those the side holding now waits for. */
	struct phase_version pub[AIC_PHASE_VERSIONS_MAX], carry[AIC_PHASE_VERSIONS_MAX];
	size_t npub, ncarry;
	uint64_t turn_us, idle_us; /* monotonic: when the turn began, when the last one ended */
	const struct phase_lock_ops *ops;
	void *arg;
};

void phase__lock_init(struct phase_lock *l, size_t group, const struct phase_lock_ops *ops,
		      void *arg);
void phase__lock_release(struct phase_lock *l);
/* who of `side` asks for its phase; granted now or later (ops->grant). 0, -EINVAL, -ENOMEM. */
int phase__lock_ask(struct phase_lock *l, int side, const struct phase_who *who);
/* who ends its phase having published v[0..n); gone: its asks are dropped too. */
void phase__lock_done(struct phase_lock *l, const struct phase_who *who,
		      const struct phase_version *v, size_t n, bool gone);
/* The side whose holders are asked to yield (the other is ready), or -1. */
int phase__lock_yield_side(const struct phase_lock *l);
/* [[stream, version]...] into v[AIC_PHASE_VERSIONS_MAX]; returns how many. */
size_t phase__versions_from_json(const json_t *a, struct phase_version *v);

/* --- phase_head.c: the head's side ---------------------------------------- */

/* PHASES to every agent before any SPAWN, and the head's locks (none when no stage alternates). */
void head__phase_start(struct head *h);
/* PHASE_ASK, PHASE_DONE or PHASE_EVENT from agent a. */
void head__phase_msg(struct head *h, struct hagent *a, uint16_t type, const json_t *m);
/*
 * Node a is lost (recover.c, before its processes are placed again): what
 * they held or asked for in a head-sequenced pair is given up, as a
 * crash's closed connection would.
 */
void head__phase_node_lost(struct head *h, const struct hagent *a);
/* The pairs, their turns' counts and latencies, and (summary) their timeline; NULL: none. */
json_t *head__phase_json(struct head *h, bool summary);
void head__phase_free(struct head *h);

/* --- checkpoint.c, agent_metrics.c and worker_env.c (for agent.c) --------------------------- */

/* The agent's checkpoint requests and which of its workers answered (checkpoint.c). */
struct agent_ckpt {
	uint64_t request; /* the head's newest request, 0: none */
	struct ckpt_proc {
		uint64_t answered; /* the request its last CKPT_DONE answered */
		uint8_t marked;	   /* its mark since then (checkpoint.c's MARK_*) */
	} *procs;		   /* by process id */
	size_t n;
	struct aic_conn **head; /* the agent's link to the head (agent__ckpt_attach) */
	struct aic_conn **watch; size_t n_watch; /* told of the next request (checkpoint.c) */
};

struct chan_set;
/* CHECKPOINT from the head: its request, asked of every worker here. */
void agent__ckpt_request(struct agent_ckpt *k, const json_t *m);
/*
 * The data plane is set up (CONFIG): at rank 0's agent, the acker reports
 * the checkpoints of every agent's workers (launcher/dataplane/acker.c).
 */
void agent__ckpt_attach(struct agent_ckpt *k, struct chan_set *cs, struct aic_conn **head);
/*
 * Process `proc` connects with no other connection open: a new start of
 * it, whose checkpoints hold nothing its earlier start marked.
 */
void agent__ckpt_connected(struct agent_ckpt *k, struct chan_set *cs, long proc);
/* Whether a worker's frame is one of checkpoint.c's. */
#define AGENT_CKPT_FRAME(type) ((type) >= AIC_MSG_CKPT_POLL && (type) <= AIC_MSG_CKPT_BEGIN)
/*
 * A worker's CKPT_POLL, CKPT_BEGIN or CKPT_DONE on connection c (proc: its
 * process id, < 0 for none of this agent's), answered with CKPT_STATE or
 * ERROR. A CKPT_DONE goes on to the head as CHECKPOINTED: through the
 * acker when the job has a source (with the sources' progress that goes
 * with it), else from here.
 */
void agent__ckpt_frame(struct agent_ckpt *k, struct chan_set *cs, struct aic_conn *c, long proc,
		       const struct aic_frame *f);
void agent__ckpt_release(struct agent_ckpt *k);

/* Worker metric points on their way to the head in batches (agent_metrics.c). */
struct agent_metrics {
	json_t *points; /* not sent yet, NULL: none */
	uv_timer_t timer;
	void (*send)(void *arg, json_t *m); /* a METRICS message for the head; takes m */
	void *arg;
};

void agent__metrics_init(struct agent_metrics *k, uv_loop_t *loop,
			 void (*send)(void *arg, json_t *m), void *arg);
/* A worker's METRIC frame, from process `index` of `stage`; a bad one is dropped. */
void agent__metric_frame(struct agent_metrics *k, const char *stage, int index,
			 const struct aic_frame *f);
/* Sends what is waiting now (before STATS: the head writes the summary after them). */
void agent__metrics_flush(struct agent_metrics *k);
void agent__metrics_release(struct agent_metrics *k);

/* SIGTERM as a notice, on the agent's side (term.c). */
struct agent_term {
	int grace_s;   /* AIC_TERM_NOTICE of its workers, 0: SIGTERM stops them at once */
	bool noticed;  /* the first SIGTERM has come: the next one, or the timer, stops them */
	uv_timer_t timer;
};

/* A SPAWN's worker environment: whether the job checkpoints on SIGTERM. */
void agent__term_spawned(struct agent_term *k, const json_t *env);
struct agent;
/*
 * The agent got SIGTERM: true when its workers are left to checkpoint (the
 * first one, in a job that checkpoints on it), with a timer that calls
 * agent_terminate if the head's SHUTDOWN is late; false: stop them now.
 */
bool agent__term_defer(struct agent_term *k, uv_loop_t *loop, struct agent *a);

/* The agent's phases (phase.c): the pairs from PHASES, and its workers of head-arbitrated ones. */
struct agent_phase {
	struct agent_group *g;
	size_t n;
	struct phase_remote *rem;
	size_t nrem;
	struct aic_conn *head; /* during a call only */
};

/* PHASES, PHASE_TURN or PHASE_YIELD from the head (others, and m NULL, are ignored). */
void agent__phase_msg(struct agent_phase *k, struct aic_conn *head, uint16_t type, const json_t *m);
/*
 * A worker's frame on connection c (stage, and proc: its process id, < 0
 * for none of this agent's): false when it is no phase frame; else it is
 * answered, or will be once the worker's turn comes.
 */
bool agent__phase_frame(struct agent_phase *k, struct aic_conn *head, struct aic_conn *c,
			const char *stage, long proc, const struct aic_frame *f);
/* A worker's connection closed: what it held or asked for is given up. */
void agent__phase_closed(struct agent_phase *k, struct aic_conn *head, struct aic_conn *c);
void agent__phase_release(struct agent_phase *k);

/* --- service.c (for agent.c) and service_head.c: services ---------------- */

struct probe;
/* The agent's readiness checks and the endpoints the head last sent (service.c). */
struct agent_service {
	uv_loop_t *loop;
	struct aic_conn **head; /* the agent's link to the head */
	struct probe *probes;
	json_t *endpoints; /* ENDPOINTS' "stages", or NULL before the first */
	json_int_t version;
};

void agent__service_init(struct agent_service *s, uv_loop_t *loop, struct aic_conn **head);
/* PROBE, UNPROBE or ENDPOINTS from the head: false when type is none of them. */
bool agent__service_msg(struct agent_service *s, uint16_t type, const json_t *m);
/* A worker's EP_GET on connection c, answered with EP_LIST or ERROR; false for other frames. */
bool agent__service_frame(struct agent_service *s, struct aic_conn *c, const struct aic_frame *f);
/* After the loop has closed every handle. */
void agent__service_release(struct agent_service *s);

/*
 * The head's side (service_head.c). head__service_env, from head__spawn:
 * AIC_PORT and AIC_NODE_ADDR for a service replica (its port chosen from
 * its agent's free ports), and for every process AIC_ENDPOINTS, the list
 * the agents hold now (sent first when it changed). head__service_sync,
 * after every message from an agent and a node loss: probes the service
 * replicas that run, stops probing those that do not, and sends
 * ENDPOINTS when the list changed. head__service_health: HEALTH from an
 * agent; a dead replica is killed (its exit restarts it).
 */
void head__service_env(struct head *h, const struct hproc *hp, json_t *env);
void head__service_sync(struct head *h);
void head__service_health(struct head *h, const json_t *m);
void head__service_free(struct head *h);
/* Each service's endpoints as last sent, {NAME: [{addr, replica, ready}]}, or NULL. */
json_t *head__service_json(const struct head *h);
/* sandbox_head.c: AIC_SANDBOX, how a sandboxed stage's replica sandboxes its tasks. */
void head__sandbox_env(struct head *h, const struct hproc *hp, json_t *env);

/*
 * agent_load.c: the head's LOAD (answered on `head` with this node's load)
 * and SCALE_DOWN (the replica drains); other types are ignored.
 */
void agent__autoscale_frame(struct chan_set *cs, struct aic_conn *head, uint16_t type,
			    const json_t *m);

/*
 * The agent's side of events.c: its data plane sampled every 200 ms into a
 * ring of fixed records, sent to the head (EVENTS) every second and at its
 * end (memory is fixed: a full ring loses its oldest records, counted).
 * agent__events_new starts sampling *chans (once CONFIG makes it) and the
 * GPUs of cfg, and sending to *head (all the agent's); NULL: no memory (no
 * events). agent__events_end sends a last sample: the agent ends (before
 * STATS, while its data plane is there). agent__events_free, once the loop
 * has closed its timer; NULL is a no-op.
 */
struct agent_events;
struct agent_events *agent__events_new(uv_loop_t *loop, struct aic_conn **head,
				       struct chan_set **chans, const struct agent_config *cfg);
void agent__events_end(struct agent_events *k);
void agent__events_free(struct agent_events *k);

/*
 * A SPAWN's own variables, set in env over the head's: CUDA_VISIBLE_DEVICES
 * for `gpus`, AIC_ARENA, and with srv (NULL: the agent does not listen)
 * AIC_AGENT, AIC_AGENT_UNIX and the stage's AIC_TOKEN. Returns the arena's
 * descriptor the worker keeps (aic_spawn_opts.keep_fd), or -1.
 */
int agent__spawn_env(const struct agent_config *cfg, const struct aic_server *srv,
		     struct chan_set *chans, long id, const char *stage, const json_t *gpus,
		     json_t *env);
/* A worker that could not be started: said in the agent's log and the worker's own. */
void agent__spawn_failed(const char *stage, int index, const char *argv0, const char *log_path,
			 int rc);
/* The worker's environment: the agent's, with `over` on top (NULL: no memory; aic_strv_free). */
char **agent__worker_env(const json_t *over);
/*
 * REGISTER (wire.h) for the agent of cfg, whose endpoint is at `port`
 * (0: none): its rank, node, address, topology, GPUs, CPUs and free ports
 * (new reference; NULL: no memory).
 */
json_t *agent__registration(const struct agent_config *cfg, int port);

/* --- agent.c and agent_endpoint.c: the agent ------------------------------ */

/* A node's agent, owned by agent.c (agent_start, agent_free). */
struct agent {
	uv_loop_t *loop;
	struct agent_config cfg;
	struct aic_conn *head;
	json_t *registration; /* REGISTER, sent once the head's WELCOME has come */
	struct aic_server srv; /* workers' endpoint (AIC_AGENT), token-checked */
	bool listening;
	struct chan_set *chans; /* from the head's CONFIG */
	struct aproc **procs; /* by head's id */
	size_t n_procs;
	uv_timer_t grace;
	bool shutting_down, done, lost_head;
	bool terminated; /* the engine itself got SIGTERM or SIGINT */
	int exit_code;
	char why[256]; /* why it ended without the head saying so (agent_error) */
	int running;
	struct agent_metrics metrics; /* agent_metrics.c */
	struct agent_ckpt ckpt; /* checkpoint.c */
	struct agent_events *events; /* events.c's, NULL: none */
	struct agent_phase phase; /* phase.c */
	struct agent_service svc; /* service.c */
	struct agent_term term; /* term.c */
	struct agent_pool cpus; /* cpu_pool.c */
};

/* agent_endpoint.c: listens for workers and peer agents (aic_server_start's return). */
int agent__endpoint_start(struct agent *a);
/*
 * agent.c, for agent_endpoint.c: a worker of `stage` and `index` connected
 * (its running process id, -1: none of this agent's); proc's connection
 * closed (its EXITED may go now: struct aproc).
 */
long agent__proc_connected(struct agent *a, const char *stage, int index);
void agent__proc_closed(struct agent *a, long proc);

#endif
